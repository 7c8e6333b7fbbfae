"""The hash-chained audit trail on a real embedded store: seal, verify, edits and deletions."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soc import audit
from soc.models import AuditEntry
from soc.stores.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore.open_path(tmp_path / "store.db")


def fill(store: SQLiteStore, data_dir: Path | None = None) -> None:
    for i in range(4):
        audit.record(store, actor="an.nv", action="incident.note", subject="SC-2026-0001",
                     after={"text": f"note {i}"}, data_dir=data_dir)


def test_record_chains_each_entry_to_the_one_before(store: SQLiteStore) -> None:
    fill(store)
    trail = store.audit_trail()
    assert [e.seq for e in trail] == [1, 2, 3, 4]
    assert audit.chain_of(trail[0])[0] == audit.GENESIS
    for before, after in itertools.pairwise(trail):
        assert audit.chain_of(after)[0] == audit.chain_of(before)[1]
        assert audit.chain_of(after)[1] == audit.entry_hash(after, audit.chain_of(before)[1])
    result = audit.verify(store)
    assert result.ok and result.entries == 4
    assert result.head == audit.Head(4, audit.chain_of(trail[-1])[1])


def test_an_edit_is_named(store: SQLiteStore, tmp_path: Path) -> None:
    fill(store)
    db = sqlite3.connect(tmp_path / "store.db")
    db.execute("UPDATE audit SET doc = replace(doc, 'note 2', 'note X') WHERE id = 3")
    db.commit()
    db.close()
    (problem,) = audit.verify(store).problems
    assert problem.seq == 3
    assert problem.message.startswith("entry #3 (incident.note SC-2026-0001, ")
    assert problem.message.endswith("was edited after it was written")


def test_a_deleted_or_unchained_entry_is_named(store: SQLiteStore, tmp_path: Path) -> None:
    fill(store)
    unchained = AuditEntry(ts="2026-01-05T08:15:00.000Z", actor="x", action="alert.ack",
                           subject="a1")  # written behind soc's back: the store seals all
    db = sqlite3.connect(tmp_path / "store.db")
    db.execute("INSERT INTO audit(ts, actor, action, subject, doc) VALUES (?, ?, ?, ?, ?)",
               (unchained.ts, unchained.actor, unchained.action, unchained.subject,
                json.dumps(unchained.to_dict())))
    db.execute("DELETE FROM audit WHERE id = 2")
    db.commit()
    db.close()
    messages = [p.message for p in audit.verify(store).problems]
    assert messages[0].startswith("entry #3 ") and messages[0].endswith(
        "does not follow the entry before it: an entry was deleted, inserted or reordered")
    assert messages[1] == "entries #2 to #2 are missing"
    assert messages[2].startswith("entry #5 (alert.ack a1, ") and "has no chain" in messages[2]


def test_a_deleted_tail_is_caught_by_the_recorded_head(store: SQLiteStore,
                                                       tmp_path: Path) -> None:
    fill(store, data_dir=tmp_path)
    head = audit.read_head(tmp_path)
    assert head is not None and head.seq == 4
    assert audit.Head.parse(str(head)) == head
    db = sqlite3.connect(tmp_path / "store.db")
    db.execute("DELETE FROM audit WHERE id = 4")
    db.commit()
    db.close()
    assert audit.verify(store).ok  # a shorter chain is still a chain...
    (problem,) = audit.verify_store(store, tmp_path).problems  # ...but the head says otherwise
    assert problem.message == (f"entry #4 of the recorded head {head} is gone: the newest "
                               "entries were deleted")


def test_a_record_changed_outside_soc(store: SQLiteStore) -> None:
    doc = {"id": "SC-2026-0001", "status": "open"}
    store.put_incident("SC-2026-0001", "2026-01-05T08:15:00.000Z", "open", doc)
    audit.record(store, actor="an.nv", action="incident.open", subject="SC-2026-0001",
                 state=store.get_incident("SC-2026-0001"))
    assert audit.verify_store(store).ok
    store.put_incident("SC-2026-0001", "2026-01-05T08:15:00.000Z", "closed",
                       {**doc, "status": "closed"})
    (problem,) = audit.verify_store(store).problems
    assert problem.message == ("record SC-2026-0001 differs from its state after entry #1 "
                               "(incident.open) in status (now \"closed\"): it was changed "
                               "outside soc")


APPENDER = """
import sys, time
from pathlib import Path
from soc import audit
from soc.stores.sqlite import SQLiteStore
path, start, actor, n = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
with SQLiteStore.open_path(path) as store:
    while not start.exists():
        time.sleep(0.001)
    for i in range(n):
        audit.record(store, actor=actor, action="incident.note", subject="SC-2026-0001",
                     after=i)
"""


def test_processes_appending_at_once_never_fork_the_chain(store: SQLiteStore,
                                                          tmp_path: Path) -> None:
    fill(store)  # a trail to chain onto
    start, procs, each = tmp_path / "start", 4, 40
    appenders = [subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path / "store.db"),
                                   str(start), f"p{p}", str(each)], stderr=subprocess.PIPE,
                                  text=True) for p in range(procs)]
    time.sleep(0.5)  # every process has opened the store and waits
    start.touch()
    for proc in appenders:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    result = audit.verify(store)
    assert result.problems == ()
    assert result.entries == 4 + procs * each
    trail = store.audit_trail()
    assert [e.seq for e in trail] == list(range(1, 5 + procs * each))
    assert sorted((e.actor, e.details["after"]) for e in trail[4:]) == sorted(
        (f"p{p}", i) for p in range(procs) for i in range(each))


def test_an_append_reads_the_newest_entry_only(store: SQLiteStore) -> None:
    fill(store)
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    written = audit.record(store, actor="an.nv", action="incident.note", subject="SC-2026-0001")
    store.db.set_trace_callback(None)
    assert written.seq == 5
    assert [s.split(" (")[0] for s in statements] == [
        "BEGIN IMMEDIATE", "SELECT id, doc FROM audit ORDER BY id DESC LIMIT 1",
        "INSERT INTO audit(ts, actor, action, subject, doc) VALUES", "COMMIT"]
