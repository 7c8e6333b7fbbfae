"""Aggregations on the embedded store, one partition at a time, with a result cache.

Reading and parsing every JSON document is what an aggregation costs (several microseconds per
event), so :func:`hourly` groups each day partition by the fields and the UTC hour once, keeps
that result in ``agg_cache`` with the partition's event count, and answers later questions about
the same partition (any window on whole hours, any interval of whole hours) from it. A partition
that received events since has another count, so its cached result is not used. Merging the
per-hour groups of the partitions is a loop over groups, never over events.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

CACHE_DDL = ("CREATE TABLE IF NOT EXISTS agg_cache (partition TEXT NOT NULL, spec TEXT NOT NULL, "
             "events INTEGER NOT NULL, rows TEXT NOT NULL, PRIMARY KEY (partition, spec))")
Key = tuple[Any, ...]


def usable(since: datetime | None, until: datetime | None, step: int | None,
           offset: int) -> bool:
    """Whether the window and buckets fall on whole hours (the cache's granularity)."""
    on_hour = all(t is None or (t.minute, t.second, t.microsecond) == (0, 0, 0)
                  for t in (since, until))
    return on_hour and offset % 3600 == 0 and (step is None or step % 3600 == 0)


def _cached(db: sqlite3.Connection, table: str, spec: str, events: int) -> list[list[Any]] | None:
    try:
        row = db.execute("SELECT events, rows FROM agg_cache WHERE partition = ? AND spec = ?",
                         (table, spec)).fetchone()
    except sqlite3.OperationalError:  # no cache table yet (a store never aggregated)
        return None
    if row is None or row[0] != events:
        return None
    rows: list[list[Any]] = json.loads(row[1])
    return rows


def _compute(db: sqlite3.Connection, table: str, keys: Sequence[str], where: str,
             params: Sequence[object]) -> list[list[Any]]:
    cols = [*(f"{k} AS k{i}" for i, k in enumerate(keys)), "substr(ts, 1, 13) AS h"]
    names = [f"k{i}" for i in range(len(keys))]
    not_null = "".join(f" AND {n} IS NOT NULL" for n in names)
    sql = (f"SELECT {', '.join([*names, 'h'])}, count(*) FROM (SELECT {', '.join(cols)} "
           f"FROM {table} WHERE ({where})) WHERE 1{not_null} GROUP BY {', '.join([*names, 'h'])}")
    try:
        return [list(r) for r in db.execute(sql, list(params))]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # dropped by retention meanwhile
            return []
        raise


def _store(db: sqlite3.Connection, table: str, spec: str, events: int,
           rows: list[list[Any]]) -> None:
    try:
        db.execute(CACHE_DDL)
        db.execute("INSERT OR REPLACE INTO agg_cache(partition, spec, events, rows) "
                   "VALUES (?, ?, ?, ?)", (table, spec, events, json.dumps(rows)))
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise  # a busy writer only costs the cache, not the answer


def forget(db: sqlite3.Connection, tables: Sequence[str]) -> None:
    """Drop the cached results of partitions (in the caller's transaction, with the tables):
    a partition created again for the same day and level may reach the same event count."""
    try:
        db.executemany("DELETE FROM agg_cache WHERE partition = ?", [(t,) for t in tables])
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):  # no cache table yet: nothing to forget
            raise


def _sort_key(values: Key) -> tuple[tuple[int, Any], ...]:
    """SQLite's order: numbers before text."""
    return tuple((0, v) if isinstance(v, int | float) else (1, str(v)) for v in values)


def hourly(db: sqlite3.Connection, partitions: Sequence[tuple[str, int]], keys: Sequence[str],
           where: str, params: Sequence[object], *, since: datetime | None,
           until: datetime | None, step: int | None, offset: int, top: int | None,
           writable: bool) -> dict[Key, int]:
    """Counts by (group values..., bucket start epoch or None) over the partitions
    ((table, event count) pairs), from the cache where it is current."""
    spec = json.dumps([where, list(params), list(keys)], default=str)
    low = since.timestamp() if since else float("-inf")
    high = until.timestamp() if until else float("inf")
    counts: dict[Key, int] = {}
    hours: dict[str, float] = {}
    for table, events in partitions:
        rows = _cached(db, table, spec, events)
        if rows is None:
            rows = _compute(db, table, keys, where, params)
            if writable:
                _store(db, table, spec, events, rows)
        for *values, hour, count in rows:
            at = hours.get(hour)
            if at is None:
                at = hours[hour] = datetime.strptime(hour, "%Y-%m-%dT%H").replace(
                    tzinfo=UTC).timestamp()
            if not low <= at < high:
                continue
            bucket = None if step is None else ((int(at) + offset) // step) * step - offset
            key = (*values, bucket)
            counts[key] = counts.get(key, 0) + int(count)
    if top is not None and keys:
        totals: dict[Key, int] = {}
        for key, count in counts.items():
            totals[key[:-1]] = totals.get(key[:-1], 0) + count
        keep = set(sorted(totals, key=lambda k: (-totals[k], _sort_key(k)))[:top])
        counts = {k: c for k, c in counts.items() if k[:-1] in keep}
    return counts
