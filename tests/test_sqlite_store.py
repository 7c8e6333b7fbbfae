"""The embedded store beyond the contract: concurrency, files, migrations, partitions, retention."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import soc.stores.sqlite.schema as sqlite_store
from soc.ecs import Event, event_id
from soc.errors import StoreError, StoreLockedError
from soc.stores.base import WriteResult
from soc.stores.sqlite import SCHEMA_VERSION, SQLiteStore


def ev(n: int, ts: str, level: Any = 3, **fields: Any) -> Event:
    event: Event = {"@timestamp": ts, "event.id": event_id("sqlite", n),
                    "event.dataset": "linux.auth", "labels.n": n, **fields}
    if level is not None:
        event["labels.security_level"] = level
    return event


def tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def pragma(path: Path, name: str) -> Any:
    db = sqlite3.connect(path)
    try:
        return db.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        db.close()


def file_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "store.db"


# --- concurrency ---------------------------------------------------------------------------------

READER = """
import json, sys, time
from pathlib import Path
from soc.stores.sqlite import SQLiteStore
path, stop = Path(sys.argv[1]), Path(sys.argv[2])
reads, errors, counts = 0, [], []
held = SQLiteStore.open_path(path, readonly=True)  # one long-lived reader as well
while not stop.exists():
    try:
        with SQLiteStore.open_path(path, readonly=True) as store:
            counts.append(store.count())
            list(store.search("user.name:root", limit=20))
            store.stats()
        counts.append(held.count("labels.security_level:3"))
        list(held.search(limit=50, order="asc"))
        reads += 1
    except Exception as exc:
        errors.append(repr(exc))
print(json.dumps({"reads": reads, "errors": errors[:3], "distinct": len(set(counts))}))
"""


@pytest.mark.slow
def test_reader_process_never_sees_locked_while_writer_writes(path: Path, tmp_path: Path) -> None:
    store = SQLiteStore.open_path(path)
    store.write_events([ev(i, "2026-11-20T00:00:00.000Z", user=None) for i in range(500)])
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(path), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    n, batches, deadline = 1000, 0, time.monotonic() + 4
    while time.monotonic() < deadline:
        day = 21 + batches % 5
        store.write_events([ev(n + i, f"2026-11-{day}T08:00:{i % 60:02d}.000Z",
                               level=3 if i % 2 else 1, **{"user.name": "root"})
                            for i in range(2000)])
        n, batches = n + 2000, batches + 1
        if batches == 5:  # drop a whole day while the reader reads
            store.retention(lambda level: 3, now=datetime(2026, 11, 24, tzinfo=UTC), apply=True)
    stop.touch()
    out, err = reader.communicate(timeout=60)
    store.close()
    assert reader.returncode == 0, err
    result = json.loads(out)
    assert result["errors"] == []
    assert result["reads"] >= 5
    assert result["distinct"] > 2  # it read while the data changed
    assert batches >= 5


def test_write_waits_then_reports_locked(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_S", 0.2)
    store = SQLiteStore.open_path(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreLockedError) as info:
            store.write_events([ev(1, "2026-11-24T08:00:00.000Z")])
        assert info.value.message == (
            f"cannot write events: {path} is locked (database is locked)")
        assert info.value.hint == (
            "Another process holds the store for too long; retry, or see 'soc status'.")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.write_events([ev(1, "2026-11-24T08:00:00.000Z")]) == WriteResult(1, 0)
    store.close()


# --- opening, read-only, migrations --------------------------------------------------------------


def test_readonly_open_of_missing_store(path: Path) -> None:
    with pytest.raises(StoreError) as info:
        SQLiteStore.open_path(path, readonly=True)
    assert info.value.message == f"no store at {path}"
    assert info.value.hint == "Create it with 'soc store init', or check data_dir in soc.yml."
    assert not path.parent.exists()


def test_readonly_store_refuses_writes(path: Path) -> None:
    SQLiteStore.open_path(path).close()
    with SQLiteStore.open_path(path, readonly=True) as store:
        with pytest.raises(StoreError, match=r"^cannot write events: the store was opened read-"):
            store.write_events([ev(1, "2026-11-24T08:00:00.000Z")])
        with pytest.raises(StoreError, match=r"^cannot apply retention: the store was opened"):
            store.retention(lambda level: 1, now=datetime.now(UTC), apply=True)
        assert store.count() == 0


def test_readonly_open_leaves_journal_mode_alone(path: Path) -> None:
    SQLiteStore.open_path(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    db.close()
    with SQLiteStore.open_path(path, readonly=True) as store:
        assert store.count() == 0
    assert pragma(path, "journal_mode") == "delete"
    SQLiteStore.open_path(path).close()  # a writer puts WAL back
    assert pragma(path, "journal_mode") == "wal"


def test_migration_from_an_empty_database(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.touch()
    with SQLiteStore.open_path(path) as store:
        assert store.stats()["schema_version"] == SCHEMA_VERSION == len(sqlite_store.MIGRATIONS)
    assert tables(path) == ["alert_events", "alerts", "audit", "dead_letters", "deliveries",
                            "incidents", "indicator_sources", "indicators", "meta", "outbox",
                            "partition_datasets", "partitions", "rule_hits", "sqlite_sequence",
                            "users"]
    assert pragma(path, "auto_vacuum") == 2  # incremental
    assert pragma(path, "journal_mode") == "wal"


def test_readonly_open_of_an_uninitialised_file(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.touch()
    with pytest.raises(StoreError) as info:
        SQLiteStore.open_path(path, readonly=True)
    assert info.value.message == f"{path} is not an initialised soc store"
    assert info.value.hint == "Create it with 'soc store init'."


def test_schema_newer_than_code(path: Path) -> None:
    SQLiteStore.open_path(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    message = (f"the store {path} has schema version 99, newer than this soc "
               f"(version {SCHEMA_VERSION})")
    for readonly in (False, True):
        with pytest.raises(StoreError) as info:
            SQLiteStore.open_path(path, readonly=readonly)
        assert info.value.message == message
        assert info.value.hint == (
            "Upgrade soc on this host (pip install -U soc) before using this store.")


def test_migrations_run_once(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SQLiteStore.open_path(path).close()
    ran: list[int] = []

    def second(db: sqlite3.Connection) -> None:
        ran.append(1)
        db.execute("CREATE TABLE extra (id TEXT PRIMARY KEY)")

    monkeypatch.setattr(sqlite_store, "MIGRATIONS", (*sqlite_store.MIGRATIONS, second))
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    SQLiteStore.open_path(path).close()
    SQLiteStore.open_path(path).close()
    assert ran == [1]
    assert "extra" in tables(path)
    with SQLiteStore.open_path(path, readonly=True) as store:
        assert store.stats()["schema_version"] == SCHEMA_VERSION + 1


def test_failed_migration_changes_nothing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SQLiteStore.open_path(path).close()

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half (id TEXT)")
        db.execute("INSERT INTO nowhere VALUES (1)")

    monkeypatch.setattr(sqlite_store, "MIGRATIONS", (*sqlite_store.MIGRATIONS, broken))
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=r"^cannot open the store: no such table: nowhere"):
        SQLiteStore.open_path(path)
    assert "half" not in tables(path)


V2_PARTITION = ("CREATE TABLE ev_20261124_l3 (id TEXT NOT NULL, ts TEXT NOT NULL, dataset TEXT, "
                "doc TEXT NOT NULL, UNIQUE (ts, id))")  # the shape of schema version 2


def version_2_store(path: Path, events: list[Event]) -> None:
    """A store as soc wrote it at schema version 2: partitions without value columns."""
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    for migration in sqlite_store.MIGRATIONS[:2]:
        migration(db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute(V2_PARTITION)
    db.executemany("INSERT INTO ev_20261124_l3 VALUES (?, ?, 'linux.auth', ?)",
                   [(e["event.id"], e["@timestamp"], json.dumps(e, ensure_ascii=False))
                    for e in events])
    db.execute("INSERT INTO partitions VALUES ('ev_20261124_l3', '2026-11-24', 3, ?)",
               (len(events),))
    db.execute("CREATE TABLE agg_cache (partition TEXT, spec TEXT, events INTEGER, rows TEXT)")
    db.close()


def test_migration_3_fills_the_value_columns_of_a_version_2_store(path: Path) -> None:
    version_2_store(path, [
        ev(1, "2026-11-24T08:00:00.000Z", **{
            "labels.system": "Cổng TTĐT", "organization.id": "sở-khcn",
            "event.action": "user_added", "event.category": ["IAM", "configuration"],
            "event.outcome": "success", "source.ip": "10.0.0.5", "host.name": "MÁY-01"}),
        ev(2, "2026-11-24T09:00:00.000Z", **{
            "labels.system": "dvc", "event.category": "network", "event.outcome": None,
            "source.ip": ["10.0.0.6"], "host.name": 42, "event.action": True}),
        ev(3, "2026-11-24T10:00:00.000Z"),
    ])
    with SQLiteStore.open_path(path) as store:
        assert store.stats()["schema_version"] == SCHEMA_VERSION
        rows = store.db.execute(
            "SELECT system, unit, typeof(action), CAST(action AS TEXT), typeof(category), "
            "CAST(category AS TEXT), outcome, typeof(source_ip), CAST(source_ip AS TEXT), host "
            "FROM ev_20261124_l3 ORDER BY ts").fetchall()
        assert rows == [
            ("Cổng TTĐT", "sở-khcn", "text", "user_added", "blob", '["IAM","configuration"]',
             "success", "text", "10.0.0.5", "MÁY-01"),
            ("dvc", None, "blob", "true", "text", "network", None, "blob", '["10.0.0.6"]', 42),
            (None, None, "null", None, "null", None, None, "null", None, None)]
        assert "agg_cache" not in tables(path)  # its entries were keyed by the old SQL
        assert [e["labels.n"] for e in store.search('labels.system:"cổng ttđt"')] == [1]
        assert [e["labels.n"] for e in store.search("event.category:(iam OR network)")] == [2, 1]
        assert [e["labels.n"] for e in store.search("event.action:true")] == [2]
        assert store.aggregate(group_by=["labels.system", "organization.id"]) == [
            {"labels.system": "Cổng TTĐT", "organization.id": "sở-khcn", "count": 1}]
        store.write_events([ev(4, "2026-11-24T11:00:00.000Z", **{"labels.system": "dvc"})])
        assert store.aggregate(group_by=["labels.system"]) == [
            {"labels.system": "dvc", "count": 2}, {"labels.system": "Cổng TTĐT", "count": 1}]


def test_new_partitions_have_the_value_columns(path: Path) -> None:
    with SQLiteStore.open_path(path) as store:
        store.write_events([ev(1, "2026-11-24T08:00:00.000Z", **{
            "event.category": ["authentication"], "source.ip": "10.0.0.5", "labels.n": 2**70})])
        columns = [r[1] for r in store.db.execute("PRAGMA table_info(ev_20261124_l3)")]
        assert columns == ["id", "ts", "dataset", "doc", "system", "unit", "action", "outcome",
                           "source_ip", "host", "category"]
        assert store.db.execute(
            "SELECT typeof(category), CAST(category AS TEXT), source_ip, system "
            "FROM ev_20261124_l3").fetchone() == ("blob", '["authentication"]', "10.0.0.5", None)


# --- partitions ----------------------------------------------------------------------------------


def test_partitions_by_day_and_security_level(path: Path) -> None:
    with SQLiteStore.open_path(path) as store:
        result = store.write_events([
            ev(1, "2026-11-24T08:00:00.000Z", level=3),
            ev(2, "2026-11-24T23:59:59.999Z", level="3"),
            ev(3, "2026-11-25T00:00:00.000Z", level=None),
            ev(4, "2026-11-25T00:00:00.000Z", level="unknown"),
            ev(5, "2026-11-25T00:00:00.000Z", level=9),
            ev(6, "2026-11-25T01:00:00.000Z", level=5),
        ])
        assert result == WriteResult(6, 0)
        assert [t for t in tables(path) if t.startswith("ev_")] == [
            "ev_20261124_l3", "ev_20261125_l0", "ev_20261125_l5"]
        stats = store.stats()
        assert stats["size_bytes"] == file_size(path)  # database and log, while open
    assert {k: stats[k] for k in ("events", "partitions", "oldest_day", "newest_day",
                                  "datasets", "dead_letters", "alerts")} == {
        "events": 6, "partitions": 3, "oldest_day": "2026-11-24", "newest_day": "2026-11-25",
        "datasets": {"linux.auth": 6}, "dead_letters": 0, "alerts": 0}


@pytest.mark.parametrize("variables", [None, 999])
def test_many_rows_per_statement_count_new_and_repeated_events(path: Path,
                                                               variables: int | None) -> None:
    """Rows go in many per INSERT (powers of two, within SQLite's variable limit: 999 before
    3.32); ids already stored, or twice in one batch, are counted as duplicates."""
    stamp = "2026-11-24T08:{:02d}:00.000Z"
    first = [ev(n, stamp.format(n % 60), **{"event.action": f"a{n}"}) for n in range(1337)]
    later = [ev(n, stamp.format(n % 60), **{"event.action": f"a{n}"}) for n in range(1300, 1400)]
    with SQLiteStore.open_path(path) as store:
        if variables is not None:
            store.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variables)
            store = SQLiteStore(store.db, path, readonly=False)
        assert store.write_events(first) == WriteResult(1337, 0)
        assert store.write_events([*later, later[-1]]) == WriteResult(63, 38)
        assert store.count() == 1400 == store.stats()["events"]
        assert store.count("event.action:a1399") == 1
        assert store.get_event(event_id("sqlite", 1024)) == first[1024]
        kinds = store.db.execute("SELECT DISTINCT typeof(system), typeof(action), "
                                 "typeof(category) FROM ev_20261124_l3").fetchall()
        assert kinds == [("null", "text", "null")]
        store.write_events([ev(9999, stamp.format(0), **{"event.category": ["session"]})])
        assert store.db.execute("SELECT typeof(category), CAST(category AS TEXT) FROM "
                                "ev_20261124_l3 WHERE category IS NOT NULL").fetchall() == [
            ("blob", '["session"]')]
        assert store.count('event.category:"session"') == 1


def test_non_canonical_timestamps_are_normalised(path: Path) -> None:
    with SQLiteStore.open_path(path) as store:
        store.write_events([ev(1, "2026-11-25T06:30:00+07:00")])
        assert [t for t in tables(path) if t.startswith("ev_")] == ["ev_20261124_l3"]
        assert store.get_event(event_id("sqlite", 1)) == ev(1, "2026-11-24T23:30:00.000Z")


def test_a_bad_event_rejects_the_whole_batch(path: Path) -> None:
    bad = ev(2, "2026-11-24T08:00:00.000Z")
    del bad["event.id"]
    with SQLiteStore.open_path(path) as store:
        with pytest.raises(StoreError) as info:
            store.write_events([ev(1, "2026-11-24T08:00:00.000Z"), bad])
        assert info.value.message == (
            "cannot store an event without a valid @timestamp and event.id "
            "(KeyError: 'event.id')")
        assert store.count() == 0


def test_get_event(path: Path) -> None:
    with SQLiteStore.open_path(path) as store:
        store.write_events([ev(1, "2026-11-23T08:00:00.000Z"), ev(2, "2026-11-24T08:00:00.000Z")])
        assert store.get_event(event_id("sqlite", 1)) == ev(1, "2026-11-23T08:00:00.000Z")
        assert store.get_event(event_id("sqlite", 2), ts="2026-11-24T08:00:00Z") == ev(
            2, "2026-11-24T08:00:00.000Z")
        assert store.get_event(event_id("sqlite", 2), ts="2026-11-24T08:00:01Z") is None
        assert store.get_event("nope") is None


def test_huge_event(path: Path) -> None:
    original = "x" * (10 * 1024 * 1024 - 12) + " needle-here"
    event = ev(1, "2026-11-24T08:00:00.000Z", **{"event.original": original})
    with SQLiteStore.open_path(path) as store:
        assert store.write_events([event, ev(2, "2026-11-24T08:00:01.000Z")]) == WriteResult(2, 0)
        assert store.get_event(event["event.id"]) == event
        assert [e["labels.n"] for e in store.search("needle-here")] == [1]
        assert store.count("event.original:NEEDLE*") == 1
        assert store.count("_exists_:event.original") == 1


# --- retention -----------------------------------------------------------------------------------


def test_retention_drops_whole_days_per_level_and_frees_space(path: Path) -> None:
    padding = "p" * 4000
    events = [ev(day * 1000 + i, f"2026-11-{day}T{i % 24:02d}:00:00.000Z",
                 level=1 if i % 2 else 3, **{"event.original": padding})
              for day in range(20, 25) for i in range(200)]
    keep = {1: 2, 3: 4}
    with SQLiteStore.open_path(path) as store:
        store.write_events(events)
        before = file_size(path)
        items = store.retention(lambda level: keep[level or 3],
                                now=datetime(2026, 11, 25, 9, tzinfo=UTC), apply=True)
        expired = sorted((i.day, i.level) for i in items if i.expired)
        # level 1 keeps 2 days (cut-off 2026-11-23), level 3 keeps 4 (cut-off 2026-11-21)
        assert expired == [("2026-11-20", 1), ("2026-11-20", 3), ("2026-11-21", 1),
                           ("2026-11-22", 1)]
        assert [t for t in tables(path) if t.startswith("ev_")] == [
            "ev_20261121_l3", "ev_20261122_l3", "ev_20261123_l1", "ev_20261123_l3",
            "ev_20261124_l1", "ev_20261124_l3"]
        assert store.count() == 600
        assert store.stats()["oldest_day"] == "2026-11-21"
    after = file_size(path)
    assert pragma(path, "freelist_count") == 0
    assert after < before * 0.7, (before, after)  # 4 of 10 equal partitions are gone


# --- doctor --------------------------------------------------------------------------------------


def test_doctor_all_ok_then_a_missing_partition(path: Path) -> None:
    with SQLiteStore.open_path(path) as store:
        store.write_events([ev(1, "2026-11-24T08:00:00.000Z")])
    with SQLiteStore.open_path(path, readonly=True) as store:
        assert store.doctor() == [
            {"check": "schema", "status": "ok",
             "detail": f"version {SCHEMA_VERSION} (this soc: {SCHEMA_VERSION})"},
            {"check": "journal mode", "status": "ok", "detail": "wal (expected wal)"},
            {"check": "auto vacuum", "status": "ok", "detail": "2 (expected 2)"},
            {"check": "integrity", "status": "ok", "detail": "integrity_check ok"},
            {"check": "partitions", "status": "ok",
             "detail": "1 partition tables, catalog consistent"},
            {"check": "readable", "status": "ok", "detail": "all 15 tables readable"},
        ]
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE ev_20261124_l3")
    with SQLiteStore.open_path(path, readonly=True) as store:
        assert store.doctor()[-2] == {
            "check": "partitions", "status": "fail",
            "detail": "in the catalog but missing: ['ev_20261124_l3']; "
                      "tables not in the catalog: []"}
        assert store.count("user.name:x") == 0  # a missing table is skipped, not an error


# --- encoding ------------------------------------------------------------------------------------

ENCODED_EVENT: Event = {"@timestamp": "2026-11-24T08:00:00.000Z", "user.name": "Nguyễn",
                        "n": 5, "x": 1.5, "ok": True, "tags": ["a", "b"], "none": None,
                        "q": 'say "hi"\n', "when": datetime(2026, 11, 24, tzinfo=UTC)}
ENCODED_JSON = ('{"@timestamp":"2026-11-24T08:00:00.000Z","user.name":"Nguyễn","n":5,"x":1.5,'
                '"ok":true,"tags":["a","b"],"none":null,"q":"say \\"hi\\"\\n",'
                '"when":"2026-11-24 00:00:00+00:00"}')


def test_stdlib_encoding_is_compact_and_keeps_non_ascii() -> None:
    assert sqlite_store._ENCODER.encode(ENCODED_EVENT) == ENCODED_JSON


def test_orjson_encoding_matches_the_stdlib_one() -> None:
    pytest.importorskip("orjson")
    encode = sqlite_store._dumps_orjson()
    assert encode is not None
    # orjson writes datetimes in RFC 3339 itself; everything else is byte for byte the same
    assert encode(ENCODED_EVENT) == ENCODED_JSON.replace(
        "2026-11-24 00:00:00+00:00", "2026-11-24T00:00:00+00:00")
    assert encode({"big": 2**70, 5: "int key"}) == '{"big":1180591620717411303424,"5":"int key"}'


def test_migration_4_versions_the_alerts_and_incidents_of_a_version_3_store(path: Path) -> None:
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    for migration in sqlite_store.MIGRATIONS[:3]:
        migration(db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    db.execute("INSERT INTO incidents(id, opened, status, doc) VALUES "
               "('INC-1', '2026-11-24T08:00:00.000Z', 'open', '{\"id\": \"INC-1\"}')")
    db.close()
    with SQLiteStore.open_path(path) as first, SQLiteStore.open_path(path) as second:
        assert first.stats()["schema_version"] == SCHEMA_VERSION == 8  # 7: users, 8: queue
        assert first.db.execute("SELECT version FROM incidents").fetchall() == [(1,)]
        assert first.get_incident("INC-1") == second.get_incident("INC-1") == {"id": "INC-1"}
        first.put_incident("INC-1", "2026-11-24T08:00:00.000Z", "closed", {"id": "INC-1", "n": 1})
        with pytest.raises(StoreError, match="the incident INC-1 was changed by someone else"):
            second.put_incident("INC-1", "2026-11-24T08:00:00.000Z", "open", {"id": "INC-1"})
        assert first.db.execute("SELECT version FROM incidents").fetchall() == [(2,)]


def test_migration_8_puts_the_queue_filters_on_columns_and_indexes(path: Path) -> None:
    """A version 7 store's alerts keep their assignee in the document only: migration 8 copies
    it to a column (the queue's assignee filter), and the queue reads its indexes."""
    from soc.models import Alert, AlertQuery, AlertStatus, Severity

    def alert(n: int, assignee: str | None, status: AlertStatus = AlertStatus.OPEN) -> Alert:
        seen = f"2026-11-24T08:00:{n:02d}.000Z"
        return Alert(id=f"{n:032x}", rule_id="r1", rule_title="R", severity=Severity.HIGH,
                     first_seen=seen, last_seen=seen, count=1, dedup=f"d{n}",
                     entity={"source.ip": "192.0.2.1"}, created=seen, updated=seen,
                     assignee=assignee, status=status)

    with SQLiteStore.open_path(path) as store:
        store.upsert_alerts([alert(1, "lan"), alert(2, None),
                             alert(3, "lan", AlertStatus.ACKNOWLEDGED), alert(4, "minh")], {})
    db = sqlite3.connect(path, isolation_level=None)  # back to version 7, as it was written
    for index in ("alerts_queue", "alerts_queue_rank", "alerts_system", "alerts_unit",
                  "alerts_assignee"):
        db.execute(f"DROP INDEX {index}")
    db.execute("ALTER TABLE alerts DROP COLUMN assignee")
    db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    db.close()
    with SQLiteStore.open_path(path) as store:
        assert store.stats()["schema_version"] == 8
        lan = store.list_alerts(AlertQuery(assignee="lan"))
        assert [a.id[-1] for a in lan] == ["3", "1"]
        assert store.count_alerts(AlertQuery(status=AlertStatus.OPEN, assignee="lan")) == 1
        assert store.db.execute("SELECT count(*) FROM alerts WHERE assignee IS NULL"
                                ).fetchone() == (1,)
        # a new assignment is written to the column too
        (second,) = store.list_alerts(AlertQuery(assignee=None, limit=None, rule="r1",
                                                 min_severity=Severity.HIGH))[2:3]
        store.update_alert(replace(second, assignee="minh"))
        assert {a.id[-1] for a in store.list_alerts(AlertQuery(assignee="minh"))} == {
            "4", second.id[-1]}
        plan = " ".join(str(row[3]) for row in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM alerts WHERE status = 'open' AND "
            "severity_rank >= 3"))
        assert "COVERING INDEX alerts_queue_rank" in plan
