"""Events and dead letters on the embedded store: day and level partitions, writes, look-ups,
searches, counts and aggregations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import Any, Literal

from soc.ecs import Event, format_ts, normalize_ts
from soc.errors import StoreError
from soc.models import DeadLetter
from soc.search import MATCH_ALL, compile_query
from soc.stores.base import WriteResult, aggregate_order, bucket_seconds, utc_offset
from soc.stores.sqlite import aggs
from soc.stores.sqlite.connection import ConnectionMixin
from soc.stores.sqlite.schema import (
    VALUE_COLUMNS,
    _dumps,
    _loads,
    column_value,
    partition_name,
    security_level,
)

_COLUMNS = {"@timestamp": "ts"}  # fields whose value an events-table column holds verbatim
_SCALAR_FIELDS = tuple(VALUE_COLUMNS)[:-1]
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Row = tuple[Any, ...]  # (id, ts, dataset, doc, *value columns)
GroupKey = tuple[str, Any, Any]  # (day, raw security level, dataset)


class EventsMixin(ConnectionMixin):
    """Events and dead letters of :class:`~soc.stores.sqlite.store.SQLiteStore` (the Store
    contract)."""

    _known: set[str]  # partition tables known to exist
    _chunks: tuple[int, ...]  # rows per INSERT statement within the variable limit

    # events --------------------------------------------------------------------------------------

    def write_events(self, events: Sequence[Event]) -> WriteResult:
        """Insert events (INSERT OR IGNORE on ``event.id``) in one transaction."""
        self._writable("write events")
        if not events:
            return WriteResult(0, 0)
        groups = _group(events)
        written = 0
        with self._errors("cannot write events"), self._transaction():
            self._refresh_partitions()
            for (day, level, dataset), rows in groups.items():
                written += self._insert(day, security_level(level), dataset, rows)
        return WriteResult(written, len(events) - written)

    def _refresh_partitions(self) -> None:
        """Reload the partition cache when the schema changed (another process, a rollback)."""
        cookie = self.db.execute("PRAGMA schema_version").fetchone()[0]
        if cookie != self._cookie:
            rows = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                   "AND name LIKE 'ev\\_%' ESCAPE '\\'")
            self._known = {name for (name,) in rows}
            self._cookie = cookie

    def _insert(self, day: str, level: int, dataset: Any, rows: list[Row]) -> int:
        table = self._partition(day, level)
        written = 0
        start = 0
        # Many rows per statement: SQLite then inserts them in one call without the GIL
        # (executemany takes it back after every row, which stalls a writer thread behind the
        # parser's); statement sizes are powers of two, so each table has a few cached ones.
        for size in self._chunks:
            sql = f"INSERT OR IGNORE INTO {table}({_INSERT_COLUMNS}) VALUES {_marks(size)}"
            while len(rows) - start >= size:
                values = list(chain.from_iterable(rows[start:start + size]))
                start += size
                written += self.db.execute(sql, values).rowcount
        if written:
            self.db.execute("UPDATE partitions SET events = events + ? WHERE name = ?",
                            (written, table))
            self.db.execute(
                "INSERT INTO partition_datasets(partition, dataset, events) VALUES (?, ?, ?) "
                "ON CONFLICT(partition, dataset) DO UPDATE SET events = events + excluded.events",
                (table, "" if dataset is None else str(dataset), written))
        return written

    def _partition(self, day: str, level: int) -> str:
        """The events table of (day, level), created with its catalog row when new."""
        table = partition_name(day, level)
        if table in self._known:
            return table
        if not _DAY.match(day):
            raise StoreError(f"bad @timestamp day {day!r}: events need canonical timestamps",
                             hint="Parsers must set @timestamp with soc.ecs.format_ts.")
        # One index, UNIQUE (ts, id): time order for searches and idempotence for re-reads (a
        # record read again has the same id and timestamp). Inserts land near its end, unlike
        # a unique index on the random ids alone, which cost as much again (docs/store.md).
        # value columns have no declared type: they keep numbers, texts and BLOBs as given
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (id TEXT NOT NULL, ts TEXT NOT NULL, "
            f"dataset TEXT, doc TEXT NOT NULL, {', '.join(VALUE_COLUMNS.values())}, "
            "UNIQUE (ts, id))")
        self.db.execute("INSERT OR IGNORE INTO partitions(name, day, level) VALUES (?, ?, ?)",
                        (table, day, level))
        self._known.add(table)
        return table

    def get_event(self, event_id: str, *, ts: str | None = None) -> Event | None:
        """The event with this ``event.id``; None when absent.

        With its ``@timestamp`` (as alerts keep it) this is an index look-up; without, a scan of
        each partition's index, newest first.
        """
        # "ts >= ''" walks the (ts, id) index and tests ids there, not in the table's rows
        sql, params, day = "SELECT doc FROM {} WHERE ts >= '' AND id = ?", [event_id], None
        if ts is not None:
            ts = normalize_ts(ts)
            sql, params, day = "SELECT doc FROM {} WHERE ts = ? AND id = ?", [ts, event_id], ts[:10]
        with self._errors("cannot read events"):
            names = [n for (n,) in self.db.execute(
                "SELECT name FROM partitions WHERE ? IS NULL OR day = ? "
                "ORDER BY day DESC, level DESC", (day, day))]
            for name in names:
                row = self._fetch_one(sql.format(name), params)
                if row is not None:
                    return _loads(row[0])
        return None

    def search(
        self,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 100,
        order: Literal["asc", "desc"] = "desc",
    ) -> Iterator[Event]:
        """Events matching a Lucene query in ``[since, until)``, by ``@timestamp``."""
        where, params = _compile(query)
        window, window_params = _window(since, until)
        with self._errors("cannot search events"):
            days = self._days(since, until, descending=order == "desc")
        return self._scan(days, f"({where}){window}", [*params, *window_params], limit, order)

    def _scan(self, days: list[tuple[str, list[str]]], where: str, params: list[object],
              limit: int | None, order: str) -> Iterator[Event]:
        remaining = limit
        direction = "DESC" if order == "desc" else "ASC"
        for _day, tables in days:
            if remaining is not None and remaining <= 0:
                return
            arms = " UNION ALL ".join(
                f"SELECT ts, id, doc FROM {t} WHERE {where}" for t in tables)
            sql = f"{arms} ORDER BY ts {direction}, id {direction}"
            args = params * len(tables)
            if remaining is not None:
                sql += " LIMIT ?"
                args = [*args, remaining]
            with self._errors("cannot search events"):
                for _ts, _id, doc in self._rows(sql, args):
                    yield _loads(doc)
                    if remaining is not None:
                        remaining -= 1

    def count(self, query: str = "*", *, since: datetime | None = None,
              until: datetime | None = None) -> int:
        """How many events match a Lucene query in ``[since, until)``."""
        where, params = _compile(query)
        with self._errors("cannot count events"):
            if (where, params) == MATCH_ALL and since is None and until is None:
                return int(self.db.execute(
                    "SELECT coalesce(sum(events), 0) FROM partitions").fetchone()[0])
            window, window_params = _window(since, until)
            total = 0
            for _day, tables in self._days(since, until, descending=False):
                for table in tables:
                    row = self._fetch_one(f"SELECT count(*) FROM {table} WHERE ({where}){window}",
                                          [*params, *window_params])
                    total += row[0] if row else 0
        return total

    def aggregate(self, query: str = "*", *, since: datetime | None = None,
                  until: datetime | None = None, group_by: Sequence[str] = (),
                  interval: str | None = None, top: int | None = None,
                  timezone: str = "UTC") -> list[dict[str, Any]]:
        """Grouped counts (see :meth:`Store.aggregate`): one SQL ``GROUP BY`` over the
        partitions of the window, fields read with ``json_extract`` (``@timestamp`` and
        ``event.dataset`` from their columns)."""
        fields = list(group_by)
        keys = [_key_sql(f) for f in fields]
        step = bucket_seconds(interval) if interval is not None else None
        if aggs.usable(since, until, step, utc_offset(timezone, since)):
            return self._aggregate_hourly(query, since, until, fields, step,
                                          utc_offset(timezone, since), top)
        if interval is not None:
            step, offset = bucket_seconds(interval), utc_offset(timezone, since)
            keys.append(f"((CAST(strftime('%s', substr(ts, 1, 19)) AS INTEGER) + {offset}) "
                        f"/ {step}) * {step} - {offset}")
        names = [f"k{i}" for i in range(len(keys))]
        where, params = _compile(query)
        window, window_params = _window(since, until)
        with self._errors("cannot aggregate events"):
            tables = [t for _day, ts in self._days(since, until, descending=False) for t in ts]
            if not tables:
                return []
            select = ", ".join([*(f"{k} AS {n}" for k, n in zip(keys, names, strict=True)),
                                "1 AS one"])
            arms = " UNION ALL ".join(f"SELECT {select} FROM {t} WHERE ({where}){window}"
                                      for t in tables)
            sql, args = _grouped(arms, names, len(fields), top)
            rows = self._rows(sql, [*params, *window_params] * len(tables) + args)
            out = [_agg_row(fields, names, row, interval is not None) for row in rows]
        return sorted(out, key=lambda r: aggregate_order(r, fields))

    def _aggregate_hourly(self, query: str, since: datetime | None, until: datetime | None,
                          fields: list[str], step: int | None, offset: int,
                          top: int | None) -> list[dict[str, Any]]:
        """:meth:`aggregate` for windows and buckets on whole hours: per partition, grouped by
        the fields and the UTC hour, cached (:mod:`soc.stores.sqlite.aggs`)."""
        where, params = _compile(query)
        with self._errors("cannot aggregate events"):
            wanted = {t for _day, ts in self._days(since, until, descending=False) for t in ts}
            partitions = [(n, e) for n, e in self.db.execute(
                "SELECT name, events FROM partitions ORDER BY day, level") if n in wanted]
            counts = aggs.hourly(
                self.db, partitions, [_key_sql(f) for f in fields], where, params, since=since,
                until=until, step=step, offset=offset, top=top, writable=not self.readonly)
        out = []
        for key, count in counts.items():
            row: dict[str, Any] = dict(zip(fields, key[:-1], strict=True))
            if step is not None:
                row["@timestamp"] = format_ts(datetime.fromtimestamp(key[-1], UTC))
            row["count"] = count
            out.append(row)
        return sorted(out, key=lambda r: aggregate_order(r, fields))

    def _days(self, since: datetime | None, until: datetime | None,
              *, descending: bool) -> list[tuple[str, list[str]]]:
        """Partition tables grouped by day, for the days that can intersect [since, until)."""
        first = _utc(since).date().isoformat() if since else "0000-00-00"
        last = "9999-99-99"
        if until is not None:
            end = _utc(until) - timedelta(microseconds=1)
            last = end.date().isoformat()
        rows = self.db.execute(
            "SELECT day, name FROM partitions WHERE day >= ? AND day <= ? "
            f"ORDER BY day {'DESC' if descending else 'ASC'}, level", (first, last))
        days: dict[str, list[str]] = {}
        for day, name in rows:
            days.setdefault(day, []).append(name)
        return list(days.items())

    # dead letters --------------------------------------------------------------------------------

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep unparseable records, idempotent on their id. Returns how many were new."""
        self._writable("write dead letters")
        rows = [(d.id, d.source, d.origin, d.reason, d.parser, d.received, bytes(d.raw),
                 _dumps([list(pair) for pair in d.fields])) for d in letters]
        with self._errors("cannot write dead letters"), self._transaction():
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO dead_letters(id, source, origin, reason, parser, "
                "received, raw, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return max(cur.rowcount, 0)

    def dead_letters(self, *, source: str | None = None,
                     limit: int | None = None) -> list[DeadLetter]:
        """Dead letters, oldest first, of one source or all."""
        with self._errors("cannot read dead letters"):
            rows = self.db.execute(
                "SELECT id, source, origin, reason, raw, received, parser, fields "
                "FROM dead_letters WHERE ? IS NULL OR source = ? ORDER BY received, id LIMIT ?",
                (source, source, -1 if limit is None else limit)).fetchall()
        return [_dead_letter(row) for row in rows]

    def remove_dead_letters(self, ids: Sequence[str]) -> int:
        """Forget dead letters (after a successful replay). Returns how many were removed."""
        self._writable("remove dead letters")
        with self._errors("cannot remove dead letters"), self._transaction():
            cur = self.db.executemany("DELETE FROM dead_letters WHERE id = ?",
                                      [(i,) for i in ids])
            return max(cur.rowcount, 0)


# --- helpers -------------------------------------------------------------------------------------


_INSERT_COLUMNS = ", ".join(["id", "ts", "dataset", "doc", *VALUE_COLUMNS.values()])
_INSERT_WIDTH = 4 + len(VALUE_COLUMNS)
_INSERT_MARKS = "(" + ", ".join("?" * _INSERT_WIDTH) + ")"
_CHUNKS = (1024, 256, 64, 16, 4, 1)
"""Rows per INSERT statement, biggest first (those within the connection's variable limit)."""


@lru_cache(maxsize=len(_CHUNKS))
def _marks(rows: int) -> str:
    return ", ".join([_INSERT_MARKS] * rows)


_PLAIN = frozenset({str, type(None)})  # value types a column holds as they are
_LIST_BLOBS: dict[tuple[str, ...], object] = {}  # event.category lists and their JSON, as a
# bytearray: sqlite3 binds one as a BLOB without looking for an adapter (unlike bytes)


def _values(event: Event) -> tuple[Any, ...]:
    """The value columns of an event, ``event.category`` (a list, so JSON) last: strings, the
    common case, as they are; lists of strings through a small cache of their JSON."""
    get = event.get
    values = tuple(map(get, _SCALAR_FIELDS))
    if not _PLAIN.issuperset(map(type, values)):
        values = tuple(map(column_value, values))
    category = get("event.category")
    if type(category) is list:
        key = tuple(category)
        blob = _LIST_BLOBS.get(key)
        if blob is None:
            if len(_LIST_BLOBS) > 4096:
                _LIST_BLOBS.clear()
            blob = _LIST_BLOBS[key] = bytearray(_dumps(category).encode())
        return (*values, blob)
    return (*values, column_value(category))


def _group(events: Sequence[Event]) -> dict[GroupKey, list[Row]]:
    """Rows to insert, grouped by (day, level, dataset); the only per-event Python work."""
    groups: dict[GroupKey, list[Row]] = {}
    dumps, values = _dumps, _values
    try:
        for event in events:
            ts = event["@timestamp"]
            if len(ts) != 24 or ts[23] != "Z":
                event = {**event, "@timestamp": normalize_ts(ts)}
                ts = event["@timestamp"]
            dataset = event.get("event.dataset")
            key = (ts[:10], event.get("labels.security_level"), dataset)
            rows = groups.get(key)
            if rows is None:
                rows = groups[key] = []
            rows.append((event["event.id"], ts, dataset, dumps(event), *values(event)))
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"cannot store an event without a valid @timestamp and event.id "
                         f"({type(exc).__name__}: {exc})",
                         hint="Parsers must set the fields in soc.ecs.ALWAYS.") from exc
    return groups


def _dead_letter(row: tuple[Any, ...]) -> DeadLetter:
    id_, source, origin, reason, raw, received, parser, fields = row
    return DeadLetter(id=id_, source=source, origin=origin, reason=reason, raw=bytes(raw),
                      received=received, parser=parser,
                      fields=tuple((str(k), v) for k, v in json.loads(fields)))


def _compile(query: str) -> tuple[str, list[object]]:
    """A Lucene query as a WHERE fragment over an events partition (its columns used)."""
    return compile_query(query, columns=_COLUMNS, value_columns=VALUE_COLUMNS)


def _key_sql(field: str) -> str:
    """The SQL expression of a group-by field: a column when one holds it, else json_extract."""
    if field == "event.dataset":
        return "dataset"
    if field == "@timestamp":
        return "ts"
    column = VALUE_COLUMNS.get(field)
    if column is not None:  # the value as json_extract gives it (BLOBs hold JSON)
        return (f"CASE typeof({column}) WHEN 'blob' THEN json_extract(CAST({column} AS TEXT), "
                f"'$') ELSE {column} END")
    return "json_extract(doc, '$.\"" + field.replace("'", "''").replace('"', '\\"') + "\"')"


def _grouped(arms: str, names: list[str], fields: int, top: int | None) -> tuple[str, list[object]]:
    """The GROUP BY over the union of partitions; ``top`` keeps the biggest groups overall
    (with buckets: over all buckets)."""
    cols = ", ".join(names)
    not_null = " AND ".join(f"{n} IS NOT NULL" for n in names) or "1"
    grouped = f"SELECT {cols}, count(*) AS c FROM ({arms}) WHERE {not_null} GROUP BY {cols}"
    if not names:
        grouped = f"SELECT count(*) AS c FROM ({arms}) HAVING count(*) > 0"
    if top is None or fields == 0:
        return grouped, []
    group_cols = ", ".join(names[:fields])
    if fields == len(names):
        return f"{grouped} ORDER BY c DESC, {group_cols} LIMIT ?", [top]
    on = " AND ".join(f"g.{n} = t.{n}" for n in names[:fields])
    sql = (f"WITH g AS ({grouped}), t AS (SELECT {group_cols} FROM g GROUP BY {group_cols} "
           f"ORDER BY sum(c) DESC, {group_cols} LIMIT ?) "
           f"SELECT g.* FROM g JOIN t ON {on}")
    return sql, [top]


def _agg_row(fields: list[str], names: list[str], row: tuple[Any, ...],
             bucketed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {f: row[i] for i, f in enumerate(fields)}
    if bucketed:
        out["@timestamp"] = format_ts(datetime.fromtimestamp(row[len(fields)], UTC))
    out["count"] = int(row[-1])
    return out


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _window(since: datetime | None, until: datetime | None) -> tuple[str, list[object]]:
    """The ``AND ts >= ? AND ts < ?`` part of a query for a time window."""
    sql = ""
    params: list[object] = []
    if since is not None:
        sql += " AND ts >= ?"
        params.append(format_ts(since))
    if until is not None:
        sql += " AND ts < ?"
        params.append(format_ts(until))
    return sql, params
