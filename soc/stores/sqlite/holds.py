"""Legal holds in the embedded store's retention (docs/store.md).

The held event ids go into a temporary table, once per retention run: the events linked to the
held alerts are copied from ``alert_events`` by one ``INSERT ... SELECT``, the events incidents
record themselves are added beside them. An expired partition is then counted against that
table and either dropped whole (nothing held in it, the usual case) or pruned by one ``DELETE
... WHERE id NOT IN (held)``; no event passes through Python.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from soc.stores.base import Hold

HELD = "temp.soc_held"
"""(event id, incident) pairs: one row per incident that holds the event."""
_HELD_ALERTS = "temp.soc_held_alerts"
_DDL = (
    "CREATE TEMP TABLE soc_held_alerts (alert_id TEXT NOT NULL, incident TEXT NOT NULL, "
    "PRIMARY KEY (alert_id, incident)) WITHOUT ROWID",
    "CREATE TEMP TABLE soc_held (event_id TEXT NOT NULL, incident TEXT NOT NULL, "
    "PRIMARY KEY (event_id, incident)) WITHOUT ROWID",
)


@contextmanager
def held_events(db: sqlite3.Connection, holds: Sequence[Hold]) -> Iterator[None]:
    """The temporary table :data:`HELD` filled from ``holds`` while the block runs (in the
    caller's transaction, if it has one), dropped after it."""
    with _temp_writes(db):
        _drop(db)
        for statement in _DDL:
            db.execute(statement)
        db.executemany(f"INSERT OR IGNORE INTO {_HELD_ALERTS}(alert_id, incident) VALUES (?, ?)",
                       [(a, h.incident) for h in holds for a in h.alerts])
        db.execute(f"INSERT OR IGNORE INTO {HELD}(event_id, incident) "
                   f"SELECT l.event_id, a.incident FROM {_HELD_ALERTS} AS a "
                   "JOIN alert_events AS l ON l.alert_id = a.alert_id")
        db.executemany(f"INSERT OR IGNORE INTO {HELD}(event_id, incident) VALUES (?, ?)",
                       [(e, h.incident) for h in holds for e in h.events])
    try:
        yield
    finally:
        with _temp_writes(db):
            _drop(db)


def _drop(db: sqlite3.Connection) -> None:
    for table in (HELD, _HELD_ALERTS):
        db.execute(f"DROP TABLE IF EXISTS {table}")


@contextmanager
def _temp_writes(db: sqlite3.Connection) -> Iterator[None]:
    """Let a read-only handle write its temporary tables: ``query_only`` forbids those too,
    while the file itself stays guarded by ``mode=ro``."""
    guarded = db.execute("PRAGMA query_only").fetchone()[0]
    if guarded:
        db.execute("PRAGMA query_only = OFF")
    try:
        yield
    finally:
        if guarded:
            db.execute("PRAGMA query_only = ON")


def kept(db: sqlite3.Connection, table: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    """How many events of a partition are held (distinct), and how many per incident. The
    partition's (ts, id) index covers its ids, so this reads the index, not the documents."""
    try:
        by_incident = db.execute(
            f"SELECT h.incident, count(*) FROM {table} AS e JOIN {HELD} AS h "
            "ON h.event_id = e.id GROUP BY h.incident ORDER BY h.incident").fetchall()
        if not by_incident:
            return 0, ()
        held = db.execute(f"SELECT count(*) FROM {table} "
                          f"WHERE id IN (SELECT event_id FROM {HELD})").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # dropped by retention in another process
            return 0, ()
        raise
    return int(held), tuple((str(i), int(n)) for i, n in by_incident)


def prune(db: sqlite3.Connection, table: str) -> None:
    """Delete a partition's events except the held ones and count what is left, in the
    caller's transaction."""
    db.execute(f"DELETE FROM {table} WHERE id NOT IN (SELECT event_id FROM {HELD})")
    db.execute(f"UPDATE partitions SET events = (SELECT count(*) FROM {table}) WHERE name = ?",
               (table,))
    db.execute("DELETE FROM partition_datasets WHERE partition = ?", (table,))
    db.execute("INSERT INTO partition_datasets(partition, dataset, events) "
               f"SELECT ?, coalesce(CAST(dataset AS TEXT), ''), count(*) FROM {table} "
               "GROUP BY coalesce(CAST(dataset AS TEXT), '')", (table,))
