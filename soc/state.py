"""Local state of the collecting host: collector checkpoints and the record of each pass.

Kept in ``<data_dir>/state.db`` (SQLite), apart from the store: checkpoints stay with the host that
reads the files, whichever store the events go to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from soc.ecs import format_ts, now_ts, parse_ts
from soc.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    source TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated TEXT NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS source_runs (
    source TEXT PRIMARY KEY, last_start TEXT, last_end TEXT, last_ok TEXT,
    last_event TEXT, last_new_data TEXT,
    events_total INTEGER NOT NULL DEFAULT 0, dead_total INTEGER NOT NULL DEFAULT 0,
    errors_total INTEGER NOT NULL DEFAULT 0, last_events INTEGER NOT NULL DEFAULT 0,
    last_dead INTEGER NOT NULL DEFAULT 0, last_error TEXT, lag TEXT
);
CREATE TABLE IF NOT EXISTS source_passes (
    source TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
    events INTEGER NOT NULL, dead INTEGER NOT NULL, error TEXT
);
CREATE INDEX IF NOT EXISTS source_passes_end ON source_passes(source, end);
"""
HISTORY = timedelta(days=400)
"""How long each pass is remembered: a report about any period of the last year (the annual
report included) judges the sources as they were at that period's end."""
HISTORY_STEP = timedelta(minutes=5)
"""Alike passes within this span share one history row: a report's judgement of a source at a
moment may be late by this much."""
_AT = """
SELECT p.source, p.start, p.end, p.events, p.dead, p.error, a.last_new_data, a.last_ok,
       a.events_total, a.dead_total, a.errors_total
FROM source_passes p JOIN (
    SELECT source, MAX(end) AS last_end,
           MAX(CASE WHEN events > 0 OR dead > 0 THEN end END) AS last_new_data,
           MAX(CASE WHEN error IS NULL THEN end END) AS last_ok,
           SUM(events) AS events_total, SUM(dead) AS dead_total,
           SUM(error IS NOT NULL) AS errors_total
    FROM source_passes WHERE end <= ? GROUP BY source
) a ON p.source = a.source AND p.end = a.last_end
"""


_HINT = "Check the data directory's free space and permissions; 'soc status' shows each source."


@contextmanager
def _state_errors(path: Path, action: str) -> Iterator[None]:
    """sqlite3 errors of the state file as StoreError (exit code 4), naming file and action:
    a full disk must read as such, never as a bug."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"cannot {action} in the collector state {path}: {exc}",
                         hint=_HINT) from exc


@contextmanager
def existing(path: Path) -> Iterator[StateStore | None]:
    """The state file at ``path``, open while in the block; None before any pass created it.
    For readers (``soc status``, reports, the console): they neither create the file nor
    leave it open."""
    if not path.exists():
        yield None
        return
    state = StateStore(path)
    try:
        yield state
    finally:
        state.close()


class StateStore:
    """Checkpoints per (source, key) and per-source pass records, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the collector state {path}: {exc}",
                             hint=_HINT) from exc

    def close(self) -> None:
        self.db.close()

    # checkpoints -------------------------------------------------------------------------------

    def get(self, source: str, key: str) -> Any:
        with _state_errors(self.path, "read a checkpoint"):
            row = self.db.execute("SELECT value FROM checkpoints WHERE source=? AND key=?",
                                  (source, key)).fetchone()
        return json.loads(row[0]) if row else None

    def all(self, source: str) -> dict[str, Any]:
        with _state_errors(self.path, "read checkpoints"):
            rows = self.db.execute("SELECT key, value FROM checkpoints WHERE source=?",
                                   (source,)).fetchall()
        return {k: json.loads(v) for k, v in rows}

    def put(self, source: str, values: Mapping[str, Any], *, remove: tuple[str, ...] = ()) -> None:
        """Write several checkpoints of one source in one transaction (all or nothing)."""
        now = now_ts()
        with _state_errors(self.path, "move checkpoints"), self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO checkpoints(source, key, value, updated) VALUES (?,?,?,?) "
                "ON CONFLICT(source, key) DO UPDATE SET value=excluded.value, "
                "updated=excluded.updated",
                [(source, k, json.dumps(v), now) for k, v in values.items()],
            )
            self.db.executemany("DELETE FROM checkpoints WHERE source=? AND key=?",
                                [(source, k) for k in remove])

    def reset(self, source: str) -> None:
        with _state_errors(self.path, "reset checkpoints"), self.db:
            self.db.execute("DELETE FROM checkpoints WHERE source=?", (source,))

    # pass records ------------------------------------------------------------------------------

    def record_run(self, source: str, *, start: str, events: int, dead: int, error: str | None,
                   last_event: str | None, lag: Mapping[str, Any] | None,
                   end: str | None = None) -> None:
        """Record a pass that ended at ``end`` (now if None): the source's running totals, and
        the pass itself in the history :meth:`runs_at` reads (kept :data:`HISTORY`)."""
        end = end or now_ts()
        with _state_errors(self.path, "record the pass"), self.db:
            self._remember(source, start, end, events, dead, error)
            self.db.execute(
                "INSERT INTO source_runs(source) VALUES (?) ON CONFLICT(source) DO NOTHING",
                (source,),
            )
            self.db.execute(
                "UPDATE source_runs SET last_start=?, last_end=?, "
                "last_ok=CASE WHEN ? IS NULL THEN ? ELSE last_ok END, "
                "last_event=COALESCE(?, last_event), "
                "last_new_data=CASE WHEN ?>0 OR ?>0 THEN ? ELSE last_new_data END, "
                "events_total=events_total+?, dead_total=dead_total+?, "
                "errors_total=errors_total+(? IS NOT NULL), last_events=?, last_dead=?, "
                "last_error=?, lag=? WHERE source=?",
                (start, end, error, end, last_event, events, dead, end, events, dead, error,
                 events, dead, error, json.dumps(dict(lag)) if lag is not None else None, source),
            )

    def _remember(self, source: str, start: str, end: str, events: int, dead: int,
                  error: str | None) -> None:
        """One history row a pass; a pass like the previous one (same error, data or none),
        within :data:`HISTORY_STEP` of that row's start, extends it instead: the daemon's
        drain passes every second would otherwise keep millions of rows."""
        prev = self.db.execute(
            "SELECT rowid, start, events + dead > 0, error FROM source_passes WHERE source=? "
            "ORDER BY end DESC LIMIT 1", (source,)).fetchone()
        same = prev is not None and prev[3] == error and bool(prev[2]) == (events + dead > 0)
        if same and prev[1] >= format_ts(parse_ts(end) - HISTORY_STEP):
            self.db.execute("UPDATE source_passes SET end=?, events=events+?, dead=dead+? "
                            "WHERE rowid=?", (end, events, dead, prev[0]))
            return
        self.db.execute("INSERT INTO source_passes VALUES (?,?,?,?,?,?)",
                        (source, start, end, events, dead, error))
        self.db.execute("DELETE FROM source_passes WHERE source=? AND end<?",
                        (source, format_ts(parse_ts(end) - HISTORY)))

    def runs_at(self, at: str) -> dict[str, dict[str, Any]]:
        """The pass records as they stood at ``at``, from the history: what a report about a
        period ending then must judge, not what is true today. A source none of whose passes
        the history keeps (older than :data:`HISTORY`, or from before it was kept) is absent."""
        out = {}
        for row in self.db.execute(_AT, (at,)):
            (source, start, end, events, dead, error, new_data, ok, total, dead_total,
             errors) = row
            out[source] = {"source": source, "last_start": start, "last_end": end,
                           "last_ok": ok, "last_event": None, "last_new_data": new_data,
                           "events_total": total, "dead_total": dead_total,
                           "errors_total": errors, "last_events": events, "last_dead": dead,
                           "last_error": error, "lag": None}
        return out

    def runs(self) -> dict[str, dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM source_runs")
        cols = [c[0] for c in cur.description]
        out = {}
        for row in cur:
            item = dict(zip(cols, row, strict=True))
            item["lag"] = json.loads(item["lag"]) if item["lag"] else None
            out[item["source"]] = item
        return out
