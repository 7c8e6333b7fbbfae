"""The embedded store's file: JSON encoding, the schema and its migrations, partition names,
errors and connections (docs/store.md)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from soc import jsonutil
from soc.ecs import Event
from soc.errors import StoreError, StoreLockedError
from soc.search import setup_connection

STORE_FILE = "store.db"
SQLITE_HEADER = 100  # bytes: a shorter file holds no database
BUSY_TIMEOUT_S = 30.0
VALUE_COLUMNS = {  # fields reports and searches group and filter on: a column each (docs/store.md)
    "labels.system": "system", "organization.id": "unit", "event.action": "action",
    "event.outcome": "outcome", "source.ip": "source_ip", "host.name": "host",
    "event.category": "category"}  # last: _values
_INT64 = 2**63  # SQLite integers are 64-bit; larger ones are kept as JSON
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


_V5 = (
    """CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        subject TEXT NOT NULL, severity TEXT, ts TEXT NOT NULL, doc TEXT NOT NULL,
        routed INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX outbox_unrouted ON outbox(routed, seq)",
    "CREATE INDEX outbox_kind ON outbox(kind, ts)",
    """CREATE TABLE deliveries (
        key TEXT PRIMARY KEY, seq INTEGER NOT NULL, route TEXT NOT NULL, channel TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at TEXT NOT NULL,
        last_error TEXT, failed_at TEXT, receipt TEXT, delivered_at TEXT,
        created TEXT NOT NULL, doc TEXT NOT NULL)""",
    "CREATE INDEX deliveries_due ON deliveries(status, channel, next_at)",
    "CREATE INDEX deliveries_channel ON deliveries(channel, seq)",
    "CREATE INDEX deliveries_route ON deliveries(route, created)",
)


def _migration_5(db: sqlite3.Connection) -> None:
    """The notification outbox (changes written with the alert or incident change that causes
    them) and its deliveries, one per change, route and channel (docs/notifications.md)."""
    for statement in _V5:
        db.execute(statement)


_V6 = (
    """CREATE TABLE indicators (
        id TEXT PRIMARY KEY, type TEXT NOT NULL, value TEXT NOT NULL, updated TEXT NOT NULL,
        valid_until TEXT, expired TEXT, doc TEXT NOT NULL)""",
    "CREATE UNIQUE INDEX indicators_key ON indicators(type, value)",
    "CREATE INDEX indicators_value ON indicators(value)",
    "CREATE INDEX indicators_updated ON indicators(updated)",
    "CREATE INDEX indicators_valid_until ON indicators(valid_until)",
    """CREATE TABLE indicator_sources (
        id TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (id, source)) WITHOUT ROWID""",
)


def _migration_6(db: sqlite3.Connection) -> None:
    """Threat-intel indicators (docs/store.md): one row per (type, value) with the
    summary columns the queries filter on, and the feeds that vouch for each one."""
    for statement in _V6:
        db.execute(statement)


def _migration_7(db: sqlite3.Connection) -> None:
    """Console accounts (docs/console.md): one row per user name, the whole account (role,
    password hash, API token digests) as a JSON ``doc``."""
    db.execute("CREATE TABLE users (name TEXT PRIMARY KEY, doc TEXT NOT NULL)")


_V8 = (
    "ALTER TABLE alerts ADD COLUMN assignee TEXT",
    "UPDATE alerts SET assignee = json_extract(doc, '$.assignee')",
    "CREATE INDEX alerts_queue ON alerts(status, last_seen)",
    "CREATE INDEX alerts_queue_rank ON alerts(status, severity_rank, last_seen, id)",
    "CREATE INDEX alerts_system ON alerts(system, last_seen)",
    "CREATE INDEX alerts_unit ON alerts(unit, last_seen)",
    "CREATE INDEX alerts_assignee ON alerts(assignee, last_seen)",
)


def _migration_8(db: sqlite3.Connection) -> None:
    """The alert queue's filters on indexes (docs/store.md): the queue of 100,000 open alerts
    (status, most recently seen first) read in index order, its counts by severity from an
    index alone, the assignee a column instead of a JSON look-up per row."""
    for statement in _V8:
        db.execute(statement)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_6,
    _migration_7, _migration_8)
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
    if "i/o error" in lowered:
        return ("The disk failed a read or write: check the file system and its free space, "
                "then run 'soc store doctor'.")
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
        rollback(db)
        raise


def rollback(db: sqlite3.Connection) -> None:
    """Roll back what is open, if anything; a rollback that fails too (a full or failing disk)
    must not replace the error that made it necessary."""
    if db.in_transaction:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")


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
    _refuse_emptied(path)
    with sqlite_errors(path, "cannot open the store"):
        db = _connect(path, any_thread=True)
        try:
            if db.execute("PRAGMA page_count").fetchone()[0] == 0:
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only possible before any table
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            # the writer copies the log into the file only when it has checked the file
            # (WriteGuard.confirm): a copy into a truncated file would hide the truncation
            db.execute("PRAGMA wal_autocheckpoint = 0")
            _migrate(db, path)
        except BaseException:
            db.close()
            raise
    return db


def _refuse_emptied(path: Path) -> None:
    """An emptied store file beside a log that holds commits was truncated: SQLite would open
    it as a new database and delete the log, and with it the last trace of the events."""
    wal = Path(f"{path}-wal")
    try:
        size, logged = path.stat().st_size, wal.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot open the store {path}: {exc.strerror}",
                         hint="Check the data directory's permissions.") from exc
    if size < SQLITE_HEADER <= logged:
        raise StoreError(
            f"the store file {path} is empty ({size} bytes) but its log {wal.name} holds "
            f"{logged} bytes: the file was truncated",
            hint=f"Opening it would discard the log. Move {path.name} and its -wal and -shm "
                 "files aside (keep them: 'sqlite3 .recover' on a copy may save events), or "
                 "restore a backup; the next pass then starts a new store.")


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


# --- encoding ------------------------------------------------------------------------------------


def _loads(doc: str) -> Event:
    event: Event = jsonutil.loads(doc)
    return event


def column_value(value: object) -> object:
    """How a value column holds a field: as ``json_extract`` reads it from the document, except
    booleans, arrays and objects (and integers past 64 bits), kept as compact JSON in a BLOB."""
    if value is None or type(value) is str or type(value) is float:
        return value
    if type(value) is int and -_INT64 <= value < _INT64:
        return value
    return _dumps(value).encode()
