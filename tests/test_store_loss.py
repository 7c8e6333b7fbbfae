"""Loss is signalled: a store file removed, replaced, truncated or full during a pass ends the
pass with exit code 4 before the checkpoints move, and the next pass with a good store collects
everything (no loss; event ids keep re-reads from doubling anything)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soc.config import load_config
from soc.errors import ExitCode, StoreError
from soc.pipeline.collect import selected_sources
from soc.pipeline.pipeline import Pipeline
from soc.state import StateStore
from soc.stores.sqlite.store import SQLiteStore
from tests.test_collect_e2e import stored, write_log

FIRST, SECOND = 6_000, 12_000  # lines before the damaged pass, and in it

# `soc` in a child process whose store is damaged right after its Nth write commits: between a
# batch's write and the check before its checkpoint moves, as a clean-up job or a full disk
# would strike.
DAMAGE = textwrap.dedent("""
    import os, sys
    from soc.stores.sqlite.store import SQLiteStore
    mode, at = sys.argv[1], int(sys.argv[2])
    calls = []
    original = SQLiteStore.write_events

    def damage(path):
        if mode == "remove":
            os.unlink(path)
        elif mode == "replace":
            os.replace(os.environ["REPLACEMENT"], path)
        elif mode == "truncate":
            os.truncate(path, os.path.getsize(path) // 2)
        elif mode == "empty":
            os.truncate(path, 0)

    def write_events(self, events):
        result = original(self, events)
        calls.append(1)
        if len(calls) == at:
            damage(self.path)
        return result

    SQLiteStore.write_events = write_events
    from soc.cli.main import main
    sys.exit(main(sys.argv[3:]))
""")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\nsources:\n  - {name: auth, paths: [logs/auth.log*]}\n",
                   encoding="utf-8")
    return cfg


def soc(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soc", "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=300)


def damaged_pass(cfg: Path, mode: str, *args: str,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", DAMAGE, mode, "1", "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def checkpoints(cfg: Path) -> dict[str, int]:
    """The read position of each file of the source (the planning before a pass may update
    what else an entry says, such as the size it saw)."""
    state = StateStore(cfg.parent / "data" / "state.db")
    try:
        return offsets(state.all("auth"))
    finally:
        state.close()


def offsets(stored: dict[str, Any]) -> dict[str, int]:
    return {fid: entry["offset"] for fid, entry in stored.items() if "offset" in entry}


def store_files(data: Path) -> list[Path]:
    return [data / f"store.db{suffix}" for suffix in ("", "-wal", "-shm")]


def restore(data: Path, backup: Path) -> None:
    """Put the good copy back, as an operator restores a backup."""
    for path in store_files(data):
        path.unlink(missing_ok=True)
    shutil.copyfile(backup, data / "store.db")


@pytest.fixture
def collected(project: Path) -> Iterator[tuple[Path, Path, dict[str, int]]]:
    """A first clean pass of FIRST lines, a backup of its store, SECOND lines more to read."""
    log = project.parent / "logs" / "auth.log"
    write_log(log, FIRST)
    first = soc(project, "collect", "--no-detect")
    assert first.returncode == 0, first.stderr
    data = project.parent / "data"
    backup = project.parent / "backup.db"
    shutil.copyfile(data / "store.db", backup)  # the pass closed the store: one file
    write_log(log, SECOND, start=FIRST)
    yield project, backup, checkpoints(project)


@pytest.mark.parametrize(("mode", "message"), [
    ("remove", "was removed during this pass; the checkpoints were not moved"),
    ("replace", "was replaced by another file during this pass; the checkpoints were not moved"),
    ("truncate", "was truncated during this pass (from "),
    ("empty", "was truncated during this pass (from "),
])
def test_damaged_store_stops_the_pass_before_the_checkpoints_move(
        collected: tuple[Path, Path, dict[str, int]], mode: str, message: str) -> None:
    project, backup, before = collected
    replacement = project.parent / "replacement.db"
    shutil.copyfile(backup, replacement)
    run = damaged_pass(project, mode, "collect", "--no-detect",
                       env={"REPLACEMENT": str(replacement)})
    assert run.returncode == ExitCode.STORE, run.stderr
    lines = run.stderr.splitlines()
    assert lines[0].startswith("Error: the store file ") and message in lines[0], run.stderr
    assert lines[1].startswith("Hint: Nothing read in this pass is lost"), run.stderr
    assert len(lines) == 2, run.stderr
    assert checkpoints(project) == before  # not moved: the next pass reads the batch again
    restore(project.parent / "data", backup)
    again = soc(project, "collect", "--no-detect")
    assert again.returncode == 0, again.stderr
    assert stored(project) == (FIRST + SECOND, FIRST + SECOND)


def test_status_and_doctor_show_a_truncated_store(
        collected: tuple[Path, Path, dict[str, int]]) -> None:
    project, _backup, _ = collected
    assert damaged_pass(project, "truncate", "collect", "--no-detect").returncode == 4
    status = soc(project, "status")
    assert "was truncated during this pass" in status.stderr, status.stderr
    doctor = soc(project, "store", "doctor", "--json")
    assert doctor.returncode == ExitCode.FINDINGS, doctor.stderr
    rows = {r["check"]: r for r in json.loads(doctor.stdout)}
    assert rows["file"]["status"] == "ok"
    assert rows["integrity"]["status"] == "fail"
    assert "restore store.db from a backup" in rows["integrity"]["detail"]
    assert rows["readable"]["status"] == "fail"
    assert re.match(r"\d+ of \d+ tables readable; unreadable: ev_", rows["readable"]["detail"])


def test_an_emptied_store_is_not_reopened_as_new(
        collected: tuple[Path, Path, dict[str, int]]) -> None:
    """SQLite opens an empty file as a new database and deletes its log: the next pass must
    refuse instead, and the doctor say what the log still holds."""
    project, backup, before = collected
    assert damaged_pass(project, "empty", "collect", "--no-detect").returncode == 4
    data = project.parent / "data"
    logged = (data / "store.db-wal").stat().st_size
    assert logged > 0
    again = soc(project, "collect", "--no-detect")
    assert again.returncode == ExitCode.STORE
    assert again.stderr.splitlines()[0] == (
        f"Error: the store file {data / 'store.db'} is empty (0 bytes) but its log "
        f"store.db-wal holds {logged} bytes: the file was truncated")
    assert (data / "store.db-wal").stat().st_size == logged  # the log is kept
    doctor = soc(project, "store", "doctor", "--json")
    assert doctor.returncode == ExitCode.FINDINGS
    [row] = json.loads(doctor.stdout)
    assert row["check"] == "file" and row["status"] == "fail"
    assert row["detail"].startswith(f"{data / 'store.db'} (0 bytes) is not a SQLite database "
                                    f"(truncated or overwritten); its log store.db-wal holds "
                                    f"{logged} bytes of recent commits - restore store.db")
    assert checkpoints(project) == before
    restore(data, backup)
    assert soc(project, "collect", "--no-detect").returncode == 0
    assert stored(project) == (FIRST + SECOND, FIRST + SECOND)


def test_doctor_reports_a_missing_store(project: Path) -> None:
    doctor = soc(project, "store", "doctor", "--json")
    assert doctor.returncode == ExitCode.FINDINGS
    assert "no store at " in doctor.stdout


# --- a full store, deterministically: PRAGMA max_page_count -----------------------------------


def _pipeline(project: Path) -> tuple[Pipeline, SQLiteStore, StateStore]:
    config = load_config(project)
    store = SQLiteStore.open(config)
    state = StateStore(config.data_dir / "state.db")
    return Pipeline(config, store, state, batch_size=2_000), store, state


def _limit(db: Any, pages: int) -> None:
    db.execute(f"PRAGMA max_page_count = {pages}").fetchall()


def test_full_store_is_a_store_error_and_the_checkpoint_stays(project: Path) -> None:
    write_log(project.parent / "logs" / "auth.log", 10_000)
    pipeline, store, state = _pipeline(project)
    try:
        _limit(store.db, store.db.execute("PRAGMA page_count").fetchone()[0] + 40)
        with pytest.raises(StoreError) as caught:
            pipeline.run(selected_sources(pipeline.config))
        assert "database or disk is full" in str(caught.value)
        assert caught.value.hint == ("Free disk space, or drop old partitions: "
                                     "'soc store retention --apply'.")
        moved = state.all("auth")
        assert (state.runs()["auth"]["last_error"] or "").startswith("cannot write events")
    finally:
        store.close()
        state.close()
    with SQLiteStore.open(load_config(project), readonly=True) as reader:
        kept = reader.count()
    assert kept % 2_000 == 0 and kept < 10_000  # whole batches only, the last one not
    log = (project.parent / "logs" / "auth.log").read_bytes()
    offset = max(offsets(moved).values(), default=0)
    assert log[:offset].count(b"\n") == kept  # the checkpoint is where the store ends
    assert soc(project, "collect", "--no-detect").returncode == 0
    assert stored(project) == (10_000, 10_000)


class _StateFailsToo:
    """A stage that makes the collector state refuse writes once the batch is read: the pass
    record, written last, fails like the store (the same full disk, in life)."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def process(self, events: Any, store: Any) -> int:
        self.state.db.execute("PRAGMA query_only = ON")
        return 0


def test_full_state_does_not_hide_the_store_error(project: Path) -> None:
    """The pass record written in a ``finally`` hit the same full disk, and its
    OperationalError replaced the StoreError: exit 1 'this is a bug' instead of 4."""
    write_log(project.parent / "logs" / "auth.log", 3_000)
    pipeline, store, state = _pipeline(project)
    pipeline.stages = [_StateFailsToo(state)]
    try:
        _limit(store.db, store.db.execute("PRAGMA page_count").fetchone()[0] + 10)
        with pytest.raises(StoreError) as caught:
            pipeline.run(selected_sources(pipeline.config))
        assert str(caught.value).startswith("cannot write events: database or disk is full")
        assert any("recording the pass failed as well" in n for n in caught.value.__notes__)
    finally:
        store.close()
        state.close()


# --- the guard itself: legitimate shrinking is not loss ---------------------------------------


def _events(day: str, n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"@timestamp": f"{day}T08:00:{i % 60:02d}.000Z", "event.id": f"{day}-{i}",
             "message": "x" * 400} for i in range(start, start + n)]


def test_retention_in_another_process_is_not_truncation(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SQLiteStore.open_path(path) as first:
        first.write_events(_events("2026-01-01", 3_000))
    pass_store = SQLiteStore.open_path(path)
    try:
        pass_store.write_events(_events("2026-11-24", 10))
        pass_store.confirm_writes()
        size = path.stat().st_size
        other = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            from datetime import datetime, UTC
            from soc.stores.sqlite.store import SQLiteStore
            with SQLiteStore.open_path(__import__('pathlib').Path({str(path)!r})) as s:
                s.retention(lambda level: 30, now=datetime(2026, 11, 25, tzinfo=UTC), apply=True)
        """)], capture_output=True, text=True, timeout=120)
        assert other.returncode == 0, other.stderr
        assert path.stat().st_size < size / 2  # the other process gave the pages back
        pass_store.write_events(_events("2026-11-24", 10, start=10))
        pass_store.confirm_writes()  # no error: the vacuum is counted in the store
        os.truncate(path, path.stat().st_size // 2)
        with pytest.raises(StoreError, match="was truncated during this pass"):
            pass_store.confirm_writes()
    finally:
        pass_store.close()


def test_a_removed_log_stops_the_pass(tmp_path: Path) -> None:
    """The same file, never shrunk, but the log the writer commits to is gone: a new process
    would start a log of its own, blind to this one's commits (and unlocked against it)."""
    path = tmp_path / "store.db"
    with SQLiteStore.open_path(path) as store:
        store.write_events(_events("2026-11-24", 10))
        store.confirm_writes()
        (tmp_path / "store.db-wal").unlink()
        store.write_events(_events("2026-11-24", 10, start=10))
        with pytest.raises(StoreError, match=r"the store's log .*store.db-wal was removed"):
            store.confirm_writes()


def test_a_store_without_its_schema_is_refused(tmp_path: Path) -> None:
    """Same file, never shrunk, but its soc schema is gone (another program changed it): a
    new connection reads the schema back and does not find it."""
    path = tmp_path / "store.db"
    with SQLiteStore.open_path(path) as store:
        store.write_events(_events("2026-11-24", 10))
        store.confirm_writes()
        other = sqlite3.connect(path)
        other.execute("DELETE FROM meta WHERE key = 'schema_version'")
        other.commit()
        other.close()
        with pytest.raises(StoreError, match=r"does not hold this pass's writes \(no soc schema"):
            store.confirm_writes()


# --- a really full disk: a small tmpfs (root only) ----------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"needs a tmpfs mount (root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_full_disk_is_exit_4_with_a_hint_and_loses_nothing(tmp_path: Path,
                                                           small_disk: Path) -> None:
    """The store, the state and the lock file on a full disk: exit 4 and the hint, not
    exit 1 'this is a bug'; once there is room again, the next pass stores every line once."""
    (tmp_path / "logs").mkdir()
    write_log(tmp_path / "logs" / "auth.log", SECOND)
    cfg = tmp_path / "soc.yml"
    cfg.write_text(f"data_dir: {small_disk / 'data'}\n"
                   "sources:\n  - {name: auth, paths: [logs/auth.log*]}\n", encoding="utf-8")
    for _ in range(2):  # the disk fills in the first pass; the second starts on a full disk
        full = soc(cfg, "collect", "--no-detect")
        assert full.returncode == ExitCode.STORE, full.stderr
        error, hint = full.stderr.splitlines()
        assert error.startswith("Error: ") and "database or disk is full" in error, error
        assert hint == ("Hint: Free disk space, or drop old partitions: "
                        "'soc store retention --apply'."), hint
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = soc(cfg, "collect", "--no-detect")
    assert again.returncode == 0, again.stderr
    assert stored(cfg) == (SECOND, SECOND)
