"""The cron job as it really runs: separate processes, kill -9, overlapping passes, readers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from soc.config import load_config
from soc.errors import ExitCode
from soc.lock import PassLock
from soc.stores.base import open_store

LINE = ("Nov 24 08:{m:02d}:{s:02d} portal-web01 sshd[{pid}]: Failed password for user{n} from "
        "203.0.113.{ip} port {port} ssh2\n")


def write_log(path: Path, lines: int, start: int = 0) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for i in range(start, start + lines):
            fh.write(LINE.format(m=(i // 60) % 60, s=i % 60, pid=1000 + i, n=i, ip=i % 250,
                                 port=1024 + i % 60000))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    cfg = tmp_path / "soc.yml"
    cfg.write_text("sources:\n  - {name: auth, paths: [logs/auth.log*]}\n", encoding="utf-8")
    return cfg


def soc(cfg: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soc", "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def popen(cfg: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "soc", "-c", str(cfg), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored(cfg: Path) -> tuple[int, int]:
    """(events stored, distinct event ids stored)."""
    with open_store(load_config(cfg), readonly=True) as store:
        ids = [e["event.id"] for e in store.search("*", limit=None)]
    return len(ids), len(set(ids))


def test_crash_between_store_commit_and_checkpoint(project: Path) -> None:
    write_log(project.parent / "logs" / "auth.log", 12_000)
    crash = textwrap.dedent("""
        import os, signal, sys
        import collectors.file as f
        calls = []
        original = f.FileCollector.commit
        def commit(self, batch):
            calls.append(1)
            if len(calls) == 2:          # the store has committed batch 2; its checkpoint has not
                os.kill(os.getpid(), signal.SIGKILL)
            original(self, batch)
        f.FileCollector.commit = commit
        from soc.cli.main import main
        sys.exit(main(sys.argv[1:]))
    """)
    killed = subprocess.run([sys.executable, "-c", crash, "-c", str(project), "collect"],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert stored(project) == (10_000, 10_000)  # two batches in the store, one checkpoint moved
    again = soc(project, "collect", "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["events"], summary["sources"][0]["duplicates"]) == (2_000, 5_000)
    assert stored(project) == (12_000, 12_000)


def test_kill_9_at_random_points_loses_and_doubles_nothing(project: Path) -> None:
    log = project.parent / "logs" / "auth.log"
    write_log(log, 60_000)
    rnd = random.Random(42)
    for _ in range(4):
        proc = popen(project, "collect")
        time.sleep(rnd.uniform(0.3, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    final = soc(project, "collect")
    assert final.returncode == 0, final.stderr
    assert stored(project) == (60_000, 60_000)


def test_second_pass_refuses_while_one_runs(project: Path) -> None:
    write_log(project.parent / "logs" / "auth.log", 10)
    config = load_config(project)
    with PassLock(config.data_dir / "collect.lock"):
        busy = soc(project, "collect")
    assert busy.returncode == ExitCode.BUSY
    assert busy.stdout == ""
    assert busy.stderr.startswith(f"Error: another pass holds collect.lock (pid {os.getpid()}")
    assert "Hint: " in busy.stderr
    ok = soc(project, "collect")
    assert ok.returncode == 0 and ok.stderr == ""


def test_two_real_passes_one_refuses(project: Path) -> None:
    write_log(project.parent / "logs" / "auth.log", 150_000)
    first = popen(project, "collect")
    time.sleep(0.8)  # let it take the lock and start writing
    second = soc(project, "collect")
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == ExitCode.BUSY, second.stderr
    assert stored(project)[0] == 150_000


def test_readers_never_see_database_is_locked(project: Path) -> None:
    log = project.parent / "logs" / "auth.log"
    write_log(log, 150_000)
    soc(project, "store", "init")
    writer = popen(project, "collect")
    reads = 0
    while writer.poll() is None:
        r = soc(project, "search", "user.name:user1*", "--count")
        assert r.returncode == 0, r.stderr
        assert "locked" not in r.stderr
        reads += 1
    assert writer.returncode == 0, writer.communicate()[1]
    assert reads >= 2


def test_null_byte_injection_reaches_the_rules(tmp_path: Path) -> None:
    """An unescaping server logs the raw NUL of the request: the line is an event (not 'binary
    data') and the null-byte rule raises its alert."""
    log = tmp_path / "localhost_access_log.txt"
    log.write_bytes(b'203.0.113.7 - - [24/Nov/2026:09:32:26 +0700] "GET /\x00.jsp HTTP/1.1" 400 -\n'
                    b'203.0.113.8 - - [24/Nov/2026:09:32:27 +0700] "GET / HTTP/1.1" 200 512\n')
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\n", encoding="utf-8")
    done = soc(cfg, "ingest", str(log), "--json")
    assert done.returncode == ExitCode.OK, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["events"], summary["dead_letters"]) == (2, 0)
    with open_store(load_config(cfg), readonly=True) as store:
        alerts = store.list_alerts()
        paths = sorted(e["url.path"] for e in store.search("*", limit=None))
    assert paths == ["/", "/\x00.jsp"]
    assert [(a.rule_title, a.count) for a in alerts] == [("Null Byte Injection In URL", 1)]


def test_ingest_reads_a_last_line_without_newline(tmp_path: Path) -> None:
    """A file imported once is complete (exported logs often end without a newline); the cron
    job's sources still wait for the newline of a file that may grow."""
    log = tmp_path / "export.log"
    log.write_text(LINE.format(m=0, s=1, pid=1, n=1, ip=1, port=1)
                   + LINE.format(m=0, s=2, pid=2, n=2, ip=2, port=2).rstrip("\n"),
                   encoding="utf-8")
    cfg = tmp_path / "soc.yml"
    cfg.write_text(f"data_dir: data\nsources:\n  - {{name: tail, paths: ['{log}']}}\n",
                   encoding="utf-8")
    collected = soc(cfg, "collect", "--json", "--no-detect")
    assert json.loads(collected.stdout)["events"] == 1, collected.stderr
    ingested = soc(cfg, "ingest", str(log), "--json", "--no-detect")
    assert json.loads(ingested.stdout)["events"] == 1, ingested.stderr  # the first is stored
    assert stored(cfg) == (2, 2)
    detected = soc(cfg, "detect", str(log))
    assert "1 file(s), 2 event(s)" in detected.stderr


def test_collected_logs_are_readable_by_their_user_alone(project: Path) -> None:
    # the data directory was 0755 and the store 0644: every local user read the collected logs
    write_log(project.parent / "logs" / "auth.log", 50)
    usual = os.umask(0o022)  # a usual login umask, which the child inherits; soc narrows it
    try:
        done = soc(project, "collect")
    finally:
        os.umask(usual)
    assert done.returncode == 0, done.stderr
    data = project.parent / "soc-data"
    made = [data, *data.rglob("*")]
    assert {p.name for p in made} >= {"soc-data", "store.db", "state.db"}
    assert {oct(p.stat().st_mode & 0o077) for p in made} == {"0o0"}
    env = {**os.environ, "SOC_UMASK": "027"}  # a group of analysts, if the operator says so
    group = project.parent / "reports"
    report = subprocess.run([sys.executable, "-m", "soc", "-c", str(project), "report",
                             "daily", "-o", str(group / "r.md")], capture_output=True,
                            text=True, timeout=300, env=env)
    assert report.returncode == 0, report.stderr
    assert oct((group / "r.md").stat().st_mode & 0o777) == "0o640"
