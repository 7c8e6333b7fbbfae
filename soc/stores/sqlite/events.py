"""The embedded store: one SQLite file in WAL mode, events partitioned per UTC day and level.

Layout (docs/store.md): ``<data_dir>/store.db`` holds a ``meta`` table (schema version), a
``partitions`` catalog, one events table per (UTC day of ``@timestamp``, security level) named
``ev_YYYYMMDD_lN`` (level 0: the event matched no system), ``dead_letters``, and the starting
tables ``alerts``, ``rule_hits``, ``incidents`` and ``audit`` that later migrations extend.
Retention drops whole partition tables; ``auto_vacuum=INCREMENTAL`` gives the space back.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from soc import audit, jsonutil
from soc.ecs import Event, format_ts, normalize_ts, parse_ts
from soc.errors import NotFoundError, StoreError, StoreLockedError
from soc.models import Alert, AlertQuery, AuditEntry, DeadLetter, RuleHit
from soc.search import MATCH_ALL, compile_query, setup_connection
from soc.stores import sqlite_aggs
from soc.stores.base import (
    ALERT_HINT,
    INCIDENT_HINT,
    RetentionItem,
    Store,
    WriteResult,
    aggregate_order,
    bucket_seconds,
    conflict,
    reconcile,
    utc_offset,
)

if TYPE_CHECKING:
    from soc.config import Config

STORE_FILE = "store.db"
BUSY_TIMEOUT_S = 30.0
_COLUMNS = {"@timestamp": "ts"}  # fields whose value an events-table column holds verbatim
VALUE_COLUMNS = {  # fields reports and searches group and filter on: a column each (docs/store.md)
    "labels.system": "system", "organization.id": "unit", "event.action": "action",
    "event.outcome": "outcome", "source.ip": "source_ip", "host.name": "host",
    "event.category": "category"}  # last: _values
_SCALAR_FIELDS = tuple(VALUE_COLUMNS)[:-1]
_INT64 = 2**63  # SQLite integers are 64-bit; larger ones are kept as JSON
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WRITER_CACHE_KIB = 65536  # page cache of the writer: keeps the id indexes of a day in memory
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def _dumps_orjson() -> Callable[[Any], str] | None:
    """orjson's encoder when installed (4-8x faster); same compact, non-ASCII-escaped output."""
    try:
        import orjson
    except ImportError:
        return None
    dumps, failed, fallback = orjson.dumps, orjson.JSONEncodeError, _ENCODER.encode

    def encode(value: Any) -> str:
        try:
            text: str = dumps(value, default=str).decode()
        except failed:  # integers past 64 bits, non-string keys: the standard encoder copes
            return fallback(value)
        return text

    return encode


_dumps: Callable[[Any], str] = _dumps_orjson() or _ENCODER.encode

# Binding None (or bytes) makes the sqlite3 module look for an adapter: a failed attribute look-up
# on its protocol type, an AttributeError formatted and dropped, ~0.3 µs per value, and a value
# column row has several. An adapter registered for None (the C builtin {}.get: None → None, so
# still NULL) is found in the first dict look-up. Process-wide, and changes no stored value.
_NONE_TO_NULL: Callable[[None], None] = {}.get  # type: ignore[assignment]  # dict.get overloads
sqlite3.register_adapter(type(None), _NONE_TO_NULL)

Row = tuple[Any, ...]  # (id, ts, dataset, doc, *value columns)
GroupKey = tuple[str, Any, Any]  # (day, raw security level, dataset)


# --- schema and migrations -----------------------------------------------------------------------

_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE partitions (
        name TEXT PRIMARY KEY, day TEXT NOT NULL, level INTEGER NOT NULL,
        events INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX partitions_day ON partitions(day)",
    """CREATE TABLE partition_datasets (
        partition TEXT NOT NULL, dataset TEXT NOT NULL, events INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (partition, dataset))""",
    """CREATE TABLE dead_letters (
        id TEXT PRIMARY KEY, source TEXT NOT NULL, origin TEXT NOT NULL, reason TEXT NOT NULL,
        parser TEXT, received TEXT NOT NULL, raw BLOB NOT NULL, fields TEXT NOT NULL)""",
    "CREATE INDEX dead_letters_source ON dead_letters(source, received)",
    """CREATE TABLE alerts (
        id TEXT PRIMARY KEY, ts TEXT NOT NULL, rule_id TEXT, severity TEXT, status TEXT,
        doc TEXT NOT NULL)""",
    "CREATE INDEX alerts_ts ON alerts(ts)",
    "CREATE INDEX alerts_status ON alerts(status, ts)",
    """CREATE TABLE rule_hits (
        id TEXT PRIMARY KEY, ts TEXT NOT NULL, rule_id TEXT NOT NULL, group_key TEXT,
        event_id TEXT, doc TEXT NOT NULL)""",
    "CREATE INDEX rule_hits_rule_ts ON rule_hits(rule_id, ts)",
    """CREATE TABLE incidents (
        id TEXT PRIMARY KEY, opened TEXT NOT NULL, status TEXT, doc TEXT NOT NULL)""",
    "CREATE INDEX incidents_status ON incidents(status, opened)",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT, action TEXT, subject TEXT,
        doc TEXT NOT NULL)""",
    "CREATE INDEX audit_subject ON audit(subject, id)",
)


def _migration_1(db: sqlite3.Connection) -> None:
    """Catalog, dead letters, and the starting alerts/rule_hits/incidents/audit tables."""
    for statement in _V1:
        db.execute(statement)


_V2 = (
    *(f"ALTER TABLE alerts ADD COLUMN {c}" for c in (
        "dedup TEXT", "first_seen TEXT", "last_seen TEXT", "severity_rank INTEGER",
        "system TEXT", "unit TEXT")),
    "CREATE INDEX alerts_dedup ON alerts(dedup, last_seen)",
    "CREATE INDEX alerts_last_seen ON alerts(last_seen)",
    "CREATE INDEX alerts_rule ON alerts(rule_id, last_seen)",
    """CREATE TABLE alert_events (
        alert_id TEXT NOT NULL, event_id TEXT NOT NULL, ts TEXT NOT NULL,
        PRIMARY KEY (alert_id, event_id)) WITHOUT ROWID""",
    "ALTER TABLE rule_hits ADD COLUMN base_rule TEXT",
    "ALTER TABLE rule_hits ADD COLUMN value TEXT",
    "CREATE INDEX rule_hits_group ON rule_hits(rule_id, group_key, ts)",
)


def _migration_2(db: sqlite3.Connection) -> None:
    """Alerts: dedup key, first/last seen, severity rank, system, unit; alert_events links
    (distinct event counts); rule_hits keyed by correlation (``rule_id``) and group."""
    for statement in _V2:
        db.execute(statement)


def _backfill_sql(field: str) -> str:
    """SQL computing :func:`column_value` of a field from ``doc`` (migration 3)."""
    path = "'$.\"" + field.replace("'", "''").replace('"', '\\"') + "\"'"
    return (f"CASE json_type(doc, {path}) WHEN 'true' THEN CAST('true' AS BLOB) "
            f"WHEN 'false' THEN CAST('false' AS BLOB) "
            f"WHEN 'array' THEN CAST(json_extract(doc, {path}) AS BLOB) "
            f"WHEN 'object' THEN CAST(json_extract(doc, {path}) AS BLOB) "
            f"ELSE json_extract(doc, {path}) END")


def _migration_3(db: sqlite3.Connection) -> None:
    """Event partitions: a value column per field of ``VALUE_COLUMNS``, filled from the
    documents (one UPDATE per partition); the aggregation cache, keyed by the old SQL, goes."""
    tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name LIKE 'ev\\_%' ESCAPE '\\'")]
    assignments = ", ".join(f"{c} = {_backfill_sql(f)}" for f, c in VALUE_COLUMNS.items())
    for table in tables:
        for column in VALUE_COLUMNS.values():
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        db.execute(f"UPDATE {table} SET {assignments}")
    db.execute("DROP TABLE IF EXISTS agg_cache")


def _migration_4(db: sqlite3.Connection) -> None:
    """Optimistic concurrency: a ``version`` per alert and incident, raised by every write; a
    write names the version its handle read (:class:`~soc.stores.base.ConflictError`)."""
    for table in ("alerts", "incidents"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN version INTEGER NOT NULL DEFAULT 1")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migration_1, _migration_2, _migration_3, _migration_4)
"""Applied in order, in one transaction, when a store is opened for writing. Append only."""
SCHEMA_VERSION = len(MIGRATIONS)


def partition_name(day: str, level: int) -> str:
    """``('2026-11-24', 3)`` → ``ev_20261124_l3``."""
    return f"ev_{day.replace('-', '')}_l{level}"


def security_level(value: object) -> int:
    """The partition level of a ``labels.security_level`` value: 1-5, else 0 (no system)."""
    if value is None or isinstance(value, bool):
        return 0
    try:
        level = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    return level if 1 <= level <= 5 else 0


# --- errors and connections ----------------------------------------------------------------------


def _hint(message: str) -> str | None:
    lowered = message.lower()
    if "full" in lowered:
        return "Free disk space, or drop old partitions: 'soc store retention --apply'."
    if "readonly" in lowered or "unable to open" in lowered or "permission" in lowered:
        return "Check that the data directory exists and is writable by this user."
    if "malformed" in lowered or "not a database" in lowered:
        return "The file is damaged or not a soc store; run 'soc store doctor'."
    return None


@contextmanager
def sqlite_errors(path: Path, action: str) -> Iterator[None]:
    """Turn sqlite3 errors into StoreError / StoreLockedError naming the file and a next step."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if "locked" in message or "busy" in message:
            raise StoreLockedError(f"{action}: {path} is locked ({message})") from exc
        raise StoreError(f"{action}: {message} ({path})", hint=_hint(message)) from exc
    except sqlite3.Error as exc:
        raise StoreError(f"{action}: {exc} ({path})", hint=_hint(str(exc))) from exc


def schema_version(db: sqlite3.Connection) -> int:
    """The schema version recorded in ``meta``; 0 for a database soc never initialised."""
    has_meta = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _too_new(path: Path, version: int) -> StoreError:
    return StoreError(
        f"the store {path} has schema version {version}, newer than this soc "
        f"(version {SCHEMA_VERSION})",
        hint="Upgrade soc on this host (pip install -U soc) before using this store.")


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(db)
        if version > SCHEMA_VERSION:
            raise _too_new(path, version)
        for migration in MIGRATIONS[version:]:
            migration(db)
        if version < SCHEMA_VERSION:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                       (str(SCHEMA_VERSION),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _connect(target: str | Path, *, uri: bool = False,
             any_thread: bool = False) -> sqlite3.Connection:
    # any_thread: the pipeline writes from a worker thread, one call at a time (background_writes)
    db = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=uri,
                         check_same_thread=not any_thread)
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    setup_connection(db)
    return db


def connect_writer(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating) the store file for writing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {path.parent}: {exc.strerror}",
                         hint="Check data_dir in soc.yml and its permissions.") from exc
    with sqlite_errors(path, "cannot open the store"):
        db = _connect(path, any_thread=True)
        try:
            if db.execute("PRAGMA page_count").fetchone()[0] == 0:
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only possible before any table
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            _migrate(db, path)
        except BaseException:
            db.close()
            raise
    return db


def connect_reader(path: Path) -> sqlite3.Connection:
    """Open the store read-only: no journal-mode change, no DDL, a schema-version check."""
    if not path.is_file():
        raise StoreError(f"no store at {path}",
                         hint="Create it with 'soc store init', or check data_dir in soc.yml.")
    with sqlite_errors(path, "cannot open the store"):
        db = _connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            db.execute("PRAGMA query_only = ON")
            _check_readable(db, path)
        except BaseException:
            db.close()
            raise
    return db


def _check_readable(db: sqlite3.Connection, path: Path) -> None:
    version = schema_version(db)
    if version == 0:
        raise StoreError(f"{path} is not an initialised soc store",
                         hint="Create it with 'soc store init'.")
    if version > SCHEMA_VERSION:
        raise _too_new(path, version)
    if version < SCHEMA_VERSION:
        raise StoreError(
            f"the store {path} has schema version {version}; this soc needs {SCHEMA_VERSION}",
            hint="Open it once for writing to migrate it: 'soc store init'.")


# --- the store -----------------------------------------------------------------------------------


class SQLiteStore(Store):
    """The embedded store (default): ``<data_dir>/store.db``."""

    kind = "embedded"
    background_writes = False
    """Whether the pipeline calls :meth:`write_events` from a worker thread (never two calls at
    a time) while it parses the next batch. The writer connection allows it, but it is off: on
    the project's shared 2-core machine it cost 25 % more CPU per event (GIL hand-offs, caches
    of two cores) and was slower in wall time too (docs/store.md)."""

    def __init__(self, db: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
        self.db = db
        self.path = path
        self.readonly = readonly
        self._known: set[str] = set()  # partition tables known to exist
        self._cookie: int | None = None  # PRAGMA schema_version when _known was loaded
        self._versions: dict[tuple[str, str], int] = {}  # (table, id) -> version read/written
        limit = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # 999 before SQLite 3.32
        self._chunks = tuple(n for n in _CHUNKS if n * _INSERT_WIDTH <= limit)

    @classmethod
    def open(cls, config: Config, *, readonly: bool = False) -> Self:
        """Open ``<config.data_dir>/store.db``; for writing, create and migrate it."""
        return cls.open_path(Path(config.data_dir) / STORE_FILE, readonly=readonly)

    @classmethod
    def open_path(cls, path: Path, *, readonly: bool = False) -> Self:
        """Open the store file at ``path`` (tests and tools)."""
        db = connect_reader(path) if readonly else connect_writer(path)
        return cls(db, path, readonly=readonly)

    def close(self) -> None:
        self.db.close()

    def _errors(self, action: str) -> AbstractContextManager[None]:
        return sqlite_errors(self.path, action)

    def _writable(self, action: str) -> None:
        if self.readonly:
            raise StoreError(f"cannot {action}: the store was opened read-only")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            self._cookie = None  # tables created in the rolled-back transaction are gone
            raise

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

    def _fetch_one(self, sql: str, params: Sequence[object]) -> Any:
        try:
            return self.db.execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # dropped by retention in another process
                return None
            raise

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

    def _rows(self, sql: str, params: Sequence[object]) -> Iterator[tuple[Any, ...]]:
        try:
            yield from self.db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise

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
        if sqlite_aggs.usable(since, until, step, utc_offset(timezone, since)):
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
        the fields and the UTC hour, cached (:mod:`soc.stores.sqlite_aggs`)."""
        where, params = _compile(query)
        with self._errors("cannot aggregate events"):
            wanted = {t for _day, ts in self._days(since, until, descending=False) for t in ts}
            partitions = [(n, e) for n, e in self.db.execute(
                "SELECT name, events FROM partitions ORDER BY day, level") if n in wanted]
            counts = sqlite_aggs.hourly(
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

    # rule hits, alerts, audit ------------------------------------------------------------------

    def write_hits(self, hits: Sequence[RuleHit]) -> int:
        """Keep hits for correlation windows (``rule_id`` column: the correlation)."""
        self._writable("write rule hits")
        rows = [(h.id, h.ts, h.correlation, h.group_key, h.event_id, h.rule_id, h.value,
                 _dumps(h.to_dict())) for h in hits]
        with self._errors("cannot write rule hits"), self._transaction():
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO rule_hits(id, ts, rule_id, group_key, event_id, base_rule, "
                "value, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return max(cur.rowcount, 0)

    def hits(self, correlation: str, *, since: str, until: str,
             groups: Collection[str] | None = None) -> list[RuleHit]:
        """Hits of a correlation in ``[since, until]``, of ``groups`` if given, oldest first."""
        sql = "SELECT doc FROM rule_hits WHERE rule_id = ? AND ts >= ? AND ts <= ?"
        with self._errors("cannot read rule hits"):
            if groups is None:
                rows = self.db.execute(sql + " ORDER BY ts, id", (correlation, since, until))
                return [RuleHit.from_dict(_loads(doc)) for (doc,) in rows]
            found: list[RuleHit] = []
            keys = sorted(set(groups))
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(f"{sql} AND group_key IN ({marks})",
                                       (correlation, since, until, *chunk))
                found.extend(RuleHit.from_dict(_loads(doc)) for (doc,) in rows)
        return sorted(found, key=lambda h: (h.ts, h.id))

    def prune_hits(self, correlation: str, before: str) -> int:
        """Forget the hits of a correlation older than ``before``."""
        self._writable("prune rule hits")
        with self._errors("cannot prune rule hits"), self._transaction():
            cur = self.db.execute("DELETE FROM rule_hits WHERE rule_id = ? AND ts < ?",
                                  (correlation, before))
            return max(cur.rowcount, 0)

    def find_alert(self, dedup: str, ts: str, window: timedelta) -> Alert | None:
        """The latest alert of this dedup key whose seen range, widened by ``window``, holds ts."""
        moment = parse_ts(ts)
        low, high = format_ts(moment - window), format_ts(moment + window)
        with self._errors("cannot read alerts"):
            row = self.db.execute(
                "SELECT id, version, doc FROM alerts WHERE dedup = ? AND last_seen >= ? "
                "AND first_seen <= ? ORDER BY last_seen DESC, id LIMIT 1",
                (dedup, low, high)).fetchone()
        return self._alert(row) if row else None

    def _alert(self, row: tuple[str, int, str]) -> Alert:
        """The alert of an ``(id, version, doc)`` row, its version remembered."""
        self._versions[("alerts", row[0])] = row[1]
        return Alert.from_dict(_loads(row[2]))

    def _stored_version(self, table: str, row_id: str) -> int | None:
        row = self.db.execute(f"SELECT version FROM {table} WHERE id = ?", (row_id,)).fetchone()
        return int(row[0]) if row else None

    def upsert_alerts(self, alerts: Sequence[Alert],
                      links: Mapping[str, Sequence[tuple[str, str]]]) -> list[Alert]:
        """Write alerts and their event links; ``count`` = distinct linked events. An alert
        stored at another version than this handle read is reconciled with it (the analyst's
        status, assignee and reason kept), as on Elasticsearch."""
        self._writable("write alerts")
        stored: list[Alert] = []
        versions: dict[tuple[str, str], int] = {}
        with self._errors("cannot write alerts"), self._transaction():
            for alert in alerts:
                self.db.executemany(
                    "INSERT OR IGNORE INTO alert_events(alert_id, event_id, ts) VALUES (?, ?, ?)",
                    [(alert.id, eid, ts) for eid, ts in links.get(alert.id, ())])
                count = self._scalar_args(
                    "SELECT count(*) FROM alert_events WHERE alert_id = ?", (alert.id,))
                final, version = self._over_stored(replace(alert, count=int(count)))
                versions[("alerts", final.id)] = self._put_alert(final, version)
                stored.append(final)
        self._versions.update(versions)
        return stored

    def _over_stored(self, ours: Alert) -> tuple[Alert, int | None]:
        """``ours`` as detection may write it, and the stored version: reconciled with the
        stored alert when that is not the version this handle read (an ack since
        ``find_alert`` is never undone)."""
        row = self.db.execute("SELECT version, doc FROM alerts WHERE id = ?",
                              (ours.id,)).fetchone()
        if row is None:
            return ours, None
        if row[0] == self._versions.get(("alerts", ours.id)):
            return ours, row[0]
        return reconcile(ours, Alert.from_dict(_loads(row[1]))), row[0]

    def _put_alert(self, a: Alert, stored: int | None) -> int:
        """Insert or replace the alert's row one version past ``stored``; returns that version,
        for the caller to remember once committed (not a version a rollback undid)."""
        version = (stored or 0) + 1
        self.db.execute(
            "INSERT OR REPLACE INTO alerts(id, ts, rule_id, severity, status, doc, dedup, "
            "first_seen, last_seen, severity_rank, system, unit, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a.id, a.first_seen, a.rule_id, a.severity.value, a.status.value,
             _dumps(a.to_dict()), a.dedup, a.first_seen, a.last_seen, a.severity.rank,
             a.system, a.unit, version))
        return version

    def _scalar_args(self, sql: str, params: Sequence[object]) -> Any:
        return self.db.execute(sql, params).fetchone()[0]

    def linked_events(self, alert_id: str, event_ids: Collection[str]) -> set[str]:
        """Which of ``event_ids`` are linked to the alert already."""
        ids = list(event_ids)
        found: set[str] = set()
        with self._errors("cannot read alerts"):
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                rows = self.db.execute(
                    f"SELECT event_id FROM alert_events WHERE alert_id = ? AND event_id IN "
                    f"({','.join('?' * len(chunk))})", (alert_id, *chunk))
                found.update(eid for (eid,) in rows)
        return found

    def list_alerts(self, query: AlertQuery | None = None) -> list[Alert]:
        """Alerts matching the filters, most recently seen first."""
        q = query or AlertQuery()
        where, params = _alert_filters(q)
        sql = (f"SELECT id, version, doc FROM alerts WHERE {where} "
               "ORDER BY last_seen DESC, id LIMIT ?")
        with self._errors("cannot list alerts"):
            rows = self.db.execute(sql, (*params, -1 if q.limit is None else q.limit))
            return [self._alert(row) for row in rows]

    def get_alert(self, alert_id: str) -> Alert | None:
        """One alert by id or by a unique prefix (6 characters or more)."""
        with self._errors("cannot read alerts"):
            row = self.db.execute("SELECT id, version, doc FROM alerts WHERE id = ?",
                                  (alert_id,)).fetchone()
            if row is None and len(alert_id) >= 6:
                rows = self.db.execute(
                    "SELECT id, version, doc FROM alerts WHERE id >= ? AND id < ? LIMIT 2",
                    (alert_id, alert_id + "\uffff")).fetchall()
                row = rows[0] if len(rows) == 1 else None
        return self._alert(row) if row else None

    def update_alert(self, alert: Alert) -> None:
        """Replace an alert's document (status, assignee, reason...) at the version this handle
        read; ConflictError when someone else changed it since, NotFoundError when absent."""
        self._writable("update alerts")
        with self._errors("cannot update alerts"), self._transaction():
            version = self._replace_alert(alert)
        self._versions[("alerts", alert.id)] = version

    def update_alert_audited(self, alert: Alert, entry: AuditEntry) -> AuditEntry:
        """:meth:`update_alert` and :meth:`append_audit` in one transaction: both or neither,
        and no other writer between them."""
        self._writable("update alerts")
        with self._errors("cannot update alerts"), self._transaction():
            version = self._replace_alert(alert)
            written = self._append_for_change(entry)
        self._versions[("alerts", alert.id)] = version
        return written

    def _replace_alert(self, alert: Alert) -> int:
        stored = self._stored_version("alerts", alert.id)
        if stored is None:
            raise NotFoundError(f"no alert {alert.id}", hint="List them: soc alerts list")
        self._check_version("alerts", alert.id, stored, "alert", ALERT_HINT)
        return self._put_alert(alert, stored)

    def _check_version(self, table: str, row_id: str, stored: int | None, noun: str,
                       hint: str) -> None:
        """ConflictError when the stored row is not the version this handle read (a row it
        never read is replaced as it is)."""
        known = self._versions.get((table, row_id))
        if known is not None and known != stored:
            del self._versions[(table, row_id)]
            raise conflict(noun, row_id, hint)

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Seal ``entry`` on the newest entry and append it, in one write transaction (``BEGIN
        IMMEDIATE``: no other process appends between the read and the insert); returns the
        entry as written, with its sequence number. Reads one row, not the trail."""
        self._writable("write the audit trail")
        with self._errors("cannot write the audit trail"), self._transaction():
            return self._append(entry)

    def _append(self, entry: AuditEntry) -> AuditEntry:
        """Seal and insert ``entry``, inside the caller's write transaction."""
        head = self.db.execute("SELECT id, doc FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        sealed = audit.seal(entry, _audit_entry(*head) if head else None)
        cur = self.db.execute(
            "INSERT INTO audit(ts, actor, action, subject, doc) VALUES (?, ?, ?, ?, ?)",
            (sealed.ts, sealed.actor, sealed.action, sealed.subject, _dumps(sealed.to_dict())))
        return replace(sealed, seq=cur.lastrowid)

    def _append_for_change(self, entry: AuditEntry) -> AuditEntry:
        """:meth:`_append` of a change's entry: its failure rolls the change back too."""
        with self._errors("cannot write the audit entry, so nothing was changed"):
            return self._append(entry)

    def audit_trail(self, subject: str | None = None, *,
                    limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first."""
        with self._errors("cannot read the audit trail"):
            rows = self.db.execute(
                "SELECT id, doc FROM audit WHERE ? IS NULL OR subject = ? ORDER BY id LIMIT ?",
                (subject, subject, -1 if limit is None else limit)).fetchall()
        return [_audit_entry(seq, doc) for seq, doc in rows]

    # incidents -----------------------------------------------------------------------------------

    def put_incident(self, incident_id: str, opened: str, status: str,
                     doc: dict[str, Any]) -> None:
        """Insert, or replace at the version this handle read (ConflictError when another
        analyst saved it since; an incident this handle never read is replaced as it is)."""
        self._writable("write incidents")
        with self._errors("cannot write incidents"), self._transaction():
            version = self._put_incident(incident_id, opened, status, doc)
        self._versions[("incidents", incident_id)] = version

    def put_incident_audited(self, incident_id: str, opened: str, status: str,
                             doc: dict[str, Any], entry: AuditEntry) -> AuditEntry:
        """:meth:`put_incident` and :meth:`append_audit` in one transaction: both or neither,
        and no other writer between them."""
        self._writable("write incidents")
        with self._errors("cannot write incidents"), self._transaction():
            version = self._put_incident(incident_id, opened, status, doc)
            written = self._append_for_change(entry)
        self._versions[("incidents", incident_id)] = version
        return written

    def _put_incident(self, incident_id: str, opened: str, status: str,
                      doc: dict[str, Any]) -> int:
        stored = self._stored_version("incidents", incident_id)
        self._check_version("incidents", incident_id, stored, "incident", INCIDENT_HINT)
        version = (stored or 0) + 1
        self.db.execute(
            "INSERT OR REPLACE INTO incidents(id, opened, status, doc, version) "
            "VALUES (?, ?, ?, ?, ?)", (incident_id, opened, status, _dumps(doc), version))
        return version

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident's document by id, or None."""
        with self._errors("cannot read incidents"):
            row = self.db.execute("SELECT id, version, doc FROM incidents WHERE id = ?",
                                  (incident_id,)).fetchone()
        return self._incident(row) if row else None

    def _incident(self, row: tuple[str, int, str]) -> dict[str, Any]:
        self._versions[("incidents", row[0])] = row[1]
        return _loads(row[2])

    def list_incidents(self, status: str | None = None) -> list[dict[str, Any]]:
        """Incident documents (of one status, if given), oldest opened first."""
        with self._errors("cannot list incidents"):
            rows = self.db.execute("SELECT id, version, doc FROM incidents "
                                   "WHERE ? IS NULL OR status = ? ORDER BY opened, id",
                                   (status, status)).fetchall()
        return [self._incident(row) for row in rows]

    # housekeeping --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Sizes and counts for ``soc store stats`` and ``soc status``."""
        with self._errors("cannot read store statistics"):
            one = self._scalar
            parts = self.db.execute(
                "SELECT count(*), coalesce(sum(events), 0), min(day), max(day) FROM partitions"
            ).fetchone()
            datasets = dict(self.db.execute(
                "SELECT dataset, sum(events) FROM partition_datasets GROUP BY dataset "
                "HAVING sum(events) > 0 ORDER BY dataset").fetchall())
            return {
                "kind": self.kind, "path": str(self.path), "size_bytes": self._size(),
                "schema_version": schema_version(self.db),
                "events": parts[1], "partitions": parts[0],
                "oldest_day": parts[2], "newest_day": parts[3], "datasets": datasets,
                "dead_letters": one("SELECT count(*) FROM dead_letters"),
                "alerts": one("SELECT count(*) FROM alerts"),
            }

    def _scalar(self, sql: str) -> Any:
        return self.db.execute(sql).fetchone()[0]

    def _size(self) -> int:
        """Bytes on disk: the database file plus its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            with suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    def doctor(self) -> list[dict[str, str]]:
        """Checks for ``soc store doctor``: each a dict of check, status (ok/fail), detail."""
        with self._errors("cannot check the store"):
            return [self._check(name, ok, detail) for name, ok, detail in (
                ("schema", *self._doctor_schema()),
                ("journal mode", *self._doctor_pragma("journal_mode", "wal")),
                ("auto vacuum", *self._doctor_pragma("auto_vacuum", 2)),
                ("integrity", *self._doctor_integrity()),
                ("partitions", *self._doctor_partitions()),
            )]

    @staticmethod
    def _check(name: str, ok: bool, detail: str) -> dict[str, str]:
        return {"check": name, "status": "ok" if ok else "fail", "detail": detail}

    def _doctor_schema(self) -> tuple[bool, str]:
        version = schema_version(self.db)
        return version == SCHEMA_VERSION, f"version {version} (this soc: {SCHEMA_VERSION})"

    def _doctor_pragma(self, name: str, expected: object) -> tuple[bool, str]:
        value = self._scalar(f"PRAGMA {name}")
        return value == expected, f"{value} (expected {expected})"

    def _doctor_integrity(self) -> tuple[bool, str]:
        problems = [r[0] for r in self.db.execute("PRAGMA quick_check(5)")]
        if problems == ["ok"]:
            return True, "quick_check ok"
        return False, "; ".join(problems) + " - restore from a backup, or run 'sqlite3 .recover'"

    def _doctor_partitions(self) -> tuple[bool, str]:
        catalog = {n for (n,) in self.db.execute("SELECT name FROM partitions")}
        actual = {n for (n,) in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ev\\_%' "
            "ESCAPE '\\'")}
        if catalog == actual:
            return True, f"{len(actual)} partition tables, catalog consistent"
        missing, extra = sorted(catalog - actual), sorted(actual - catalog)
        return False, f"in the catalog but missing: {missing}; tables not in the catalog: {extra}"

    def retention(self, keep_days: Callable[[int | None], int], *, now: datetime,
                  apply: bool = False) -> list[RetentionItem]:
        """Partitions and whether each is past its retention; ``apply`` drops expired ones."""
        if apply:
            self._writable("apply retention")
        with self._errors("cannot read partitions"):
            rows = self.db.execute(
                "SELECT name, day, level, events FROM partitions ORDER BY day, level").fetchall()
        today = _utc(now)
        items: list[tuple[str, RetentionItem]] = []
        for name, day, level, events in rows:
            keep = keep_days(level or None)
            cutoff = (today - timedelta(days=keep)).date().isoformat()
            items.append((name, RetentionItem(day=day, level=level or None, events=events,
                                              keep_days=keep, expired=day < cutoff)))
        expired = [name for name, item in items if item.expired]
        if apply and expired:
            self._drop(expired)
        return [item for _, item in items]

    def _drop(self, tables: list[str]) -> None:
        """Drop partition tables and their cached aggregations, then give their pages back to
        the file system."""
        with self._errors("cannot drop expired partitions"):
            with self._transaction():
                for table in tables:
                    self.db.execute(f"DROP TABLE IF EXISTS {table}")
                self.db.executemany("DELETE FROM partitions WHERE name = ?",
                                    [(t,) for t in tables])
                self.db.executemany("DELETE FROM partition_datasets WHERE partition = ?",
                                    [(t,) for t in tables])
                sqlite_aggs.forget(self.db, tables)
            # executescript steps the pragma to the end; execute() would free a single page
            self.db.executescript("PRAGMA incremental_vacuum;")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


# --- helpers -------------------------------------------------------------------------------------


def _audit_entry(seq: int, doc: str) -> AuditEntry:
    """The audit entry of an ``(id, doc)`` row."""
    return replace(AuditEntry.from_dict(_loads(doc)), seq=seq)


_INSERT_COLUMNS = ", ".join(["id", "ts", "dataset", "doc", *VALUE_COLUMNS.values()])
_INSERT_WIDTH = 4 + len(VALUE_COLUMNS)
_INSERT_MARKS = "(" + ", ".join("?" * _INSERT_WIDTH) + ")"
_CHUNKS = (1024, 256, 64, 16, 4, 1)
"""Rows per INSERT statement, biggest first (those within the connection's variable limit)."""


@lru_cache(maxsize=len(_CHUNKS))
def _marks(rows: int) -> str:
    return ", ".join([_INSERT_MARKS] * rows)


def column_value(value: object) -> object:
    """How a value column holds a field: as ``json_extract`` reads it from the document, except
    booleans, arrays and objects (and integers past 64 bits), kept as compact JSON in a BLOB."""
    if value is None or type(value) is str or type(value) is float:
        return value
    if type(value) is int and -_INT64 <= value < _INT64:
        return value
    return _dumps(value).encode()


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


def _loads(doc: str) -> Event:
    event: Event = jsonutil.loads(doc)
    return event


def _dead_letter(row: tuple[Any, ...]) -> DeadLetter:
    id_, source, origin, reason, raw, received, parser, fields = row
    return DeadLetter(id=id_, source=source, origin=origin, reason=reason, raw=bytes(raw),
                      received=received, parser=parser,
                      fields=tuple((str(k), v) for k, v in json.loads(fields)))


def _alert_filters(q: AlertQuery) -> tuple[str, list[object]]:
    """The WHERE clause of ``list_alerts``."""
    parts: list[str] = ["1"]
    params: list[object] = []
    for column, value in (("status", q.status.value if q.status else None),
                          ("rule_id", q.rule), ("system", q.system), ("unit", q.unit)):
        if value is not None:
            parts.append(f"{column} = ?")
            params.append(value)
    if q.min_severity is not None:
        parts.append("severity_rank >= ?")
        params.append(q.min_severity.rank)
    if q.since is not None:
        parts.append("last_seen >= ?")
        params.append(q.since)
    return " AND ".join(parts), params


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
