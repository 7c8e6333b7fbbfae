"""``soc listen`` serving the web console (``listen.web: true`` / ``--web``): a real daemon on
loopback whose console child answers over real HTTP, shows what the daemon received, is
restarted when it dies, stops with the daemon, and never outlives it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.listen_daemon import ListenProcess

SOC = [sys.executable, "-m", "soc"]
MESSAGE = ("<86>1 {ts} web01 sshd 4242 - - Accepted password for quantri from 203.0.113.77 "
           "port 50122 ssh2")
pytestmark = pytest.mark.real_clock  # the daemon and its children wait on real timeouts


def _config(tmp_path: Path, *, web: bool = True, host: str = "127.0.0.1") -> Path:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\ntimezone: Asia/Ho_Chi_Minh\n"
                   "listen:\n  status_interval: 100ms\n  drain_interval: 100ms\n"
                   f"  udp: 127.0.0.1:0\n  web: {str(web).lower()}\n"
                   f"web: {{host: '{host}', port: 0}}\n", encoding="utf-8")
    return cfg


def _soc(cfg: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SOC, "-c", str(cfg), *args], input=stdin, text=True,
                          capture_output=True, timeout=120, check=False)


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[ListenProcess]:
    cfg = _config(tmp_path)
    added = _soc(cfg, "users", "add", "lead1", "--role", "lead",
                 stdin="lead1: a long test passphrase\n")
    assert added.returncode == 0, added.stderr
    process = ListenProcess(cfg)
    yield process
    process.kill()


def _token(cfg: Path) -> str:
    done = _soc(cfg, "users", "token", "lead1", "--label", "listen-test")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split()[-1]


def test_listen_serves_the_console_restarts_it_and_stops_it(daemon: ListenProcess) -> None:
    token = _token(daemon.cfg)
    status = daemon.start()
    port = int(status["listeners"][0].rsplit(":", 1)[1])
    status = daemon.wait(lambda s: (s.get("console") or {}).get("state") == "running",
                         "the console to listen")
    first = status["console"]
    assert first["url"].startswith("http://127.0.0.1:") and first["restarts"] == 0
    # what the daemon receives, the console shows
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        sock.sendto(MESSAGE.format(ts=now).encode(), ("127.0.0.1", port))
    daemon.wait(lambda s: s["drain"]["events"] >= 1, "the message stored")
    found = _get(first["url"] + "api/search?q=source.ip:203.0.113.77&from=7d", token)
    assert found["total"] == 1
    assert found["events"][0]["user.name"] == "quantri"
    # a console that dies is started again; the daemon goes on receiving
    os.kill(first["pid"], signal.SIGKILL)
    status = daemon.wait(lambda s: s["console"]["restarts"] == 1
                         and s["console"]["state"] == "running", "the console restarted")
    second = status["console"]
    assert second["pid"] != first["pid"] and second["last_exit"] == -signal.SIGKILL
    assert _get(second["url"] + "api/me", token)["name"] == "lead1"
    summary = json.loads(_soc(daemon.cfg, "status", "--json").stdout)["listen"]
    assert summary["console"] == second["url"] and summary["state"] == "running"
    # SIGTERM to the daemon's group (systemd's stop): the console ignores it, the daemon
    # stops it, and exits 0
    code, err = daemon.stop()
    assert code == 0, err
    assert _gone(second["pid"])
    assert daemon.status()["console"]["state"] == "stopped"
    assert "restarting it in 1s" in err  # the death was logged, once
    assert err.count("restarting it") == 1


def test_the_console_does_not_outlive_a_killed_daemon(daemon: ListenProcess) -> None:
    daemon.start()
    console = daemon.wait(lambda s: (s.get("console") or {}).get("state") == "running",
                          "the console to listen")["console"]
    os.kill(daemon.pid, signal.SIGKILL)  # the daemon alone: its children are orphaned
    assert _gone(console["pid"]), "the console outlived its daemon"


def test_check_validates_the_console_settings(tmp_path: Path) -> None:
    cfg = _config(tmp_path, host="0.0.0.0")
    refused = _soc(cfg, "listen", "--check")
    assert refused.returncode == 3
    assert "refusing to serve the console on 0.0.0.0 without TLS" in refused.stderr
    # --no-web overrides listen.web: no console, nothing to refuse
    plain = _soc(cfg, "listen", "--check", "--no-web", "--json")
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["web"] is False
    assert json.loads(plain.stdout)["console"] is None
    # and --web turns it on where listen.web is off
    cfg = _config(tmp_path, web=False)
    on = _soc(cfg, "listen", "--check", "--web", "--json")
    assert on.returncode == 0, on.stderr
    checked = json.loads(on.stdout)
    assert checked["web"] is True and checked["console"]["host"] == "127.0.0.1"


def test_listen_web_must_be_a_boolean(tmp_path: Path) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\nlisten:\n  udp: 127.0.0.1:0\n  web: sometimes\n",
                   encoding="utf-8")
    done = _soc(cfg, "listen", "--check")
    assert done.returncode == 3
    assert "web" in done.stderr and "soc.yml" in done.stderr


def test_status_flags_a_console_that_is_restarting(tmp_path: Path) -> None:
    from soc.config import load_config
    from soc.ecs import format_ts
    from soc.listen.daemon import status_path, status_summary

    config = load_config(None, data_dir=tmp_path)
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    console = {"state": "restarting", "url": None, "pid": None, "restarts": 3, "last_exit": 1}
    status = {"pid": 1, "state": "running", "updated": format_ts(now), "listeners": [],
              "received": 0, "spooled": 0, "drain": {}, "console": console}
    status_path(config).write_text(json.dumps(status), encoding="utf-8")
    summary = status_summary(config, now)
    assert summary is not None
    assert (summary["console"], summary["problem"]) == (None, "console: exited with 1, "
                                                               "restarting")
    running = {**console, "state": "running", "url": "http://127.0.0.1:8080/", "pid": 7}
    status_path(config).write_text(json.dumps({**status, "console": running}), encoding="utf-8")
    summary = status_summary(config, now)
    assert summary is not None
    assert (summary["console"], summary["problem"]) == ("http://127.0.0.1:8080/", "")
