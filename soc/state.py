"""Local state of the collecting host: collector checkpoints and the record of each pass.

Kept in ``<data_dir>/state.db`` (SQLite), apart from the store: checkpoints stay with the host that
reads the files, whichever store the events go to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soc.ecs import now_ts
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
"""


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
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the collector state {path}: {exc}",
                             hint="Check the data directory's permissions and free space.") from exc

    def close(self) -> None:
        self.db.close()

    # checkpoints -------------------------------------------------------------------------------

    def get(self, source: str, key: str) -> Any:
        row = self.db.execute("SELECT value FROM checkpoints WHERE source=? AND key=?",
                              (source, key)).fetchone()
        return json.loads(row[0]) if row else None

    def all(self, source: str) -> dict[str, Any]:
        rows = self.db.execute("SELECT key, value FROM checkpoints WHERE source=?", (source,))
        return {k: json.loads(v) for k, v in rows}

    def put(self, source: str, values: Mapping[str, Any], *, remove: tuple[str, ...] = ()) -> None:
        """Write several checkpoints of one source in one transaction (all or nothing)."""
        now = now_ts()
        with self.db:
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
        with self.db:
            self.db.execute("DELETE FROM checkpoints WHERE source=?", (source,))

    # pass records ------------------------------------------------------------------------------

    def record_run(self, source: str, *, start: str, events: int, dead: int, error: str | None,
                   last_event: str | None, lag: Mapping[str, Any] | None) -> None:
        end = now_ts()
        with self.db:
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

    def runs(self) -> dict[str, dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM source_runs")
        cols = [c[0] for c in cur.description]
        out = {}
        for row in cur:
            item = dict(zip(cols, row, strict=True))
            item["lag"] = json.loads(item["lag"]) if item["lag"] else None
            out[item["source"]] = item
        return out
