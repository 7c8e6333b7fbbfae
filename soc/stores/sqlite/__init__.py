"""The embedded store: one SQLite file in WAL mode, events partitioned per UTC day and level.

Layout (docs/store.md): ``<data_dir>/store.db`` holds a ``meta`` table (schema version), a
``partitions`` catalog, one events table per (UTC day of ``@timestamp``, security level) named
``ev_YYYYMMDD_lN`` (level 0: the event matched no system), ``dead_letters``, and the starting
tables ``alerts``, ``rule_hits``, ``incidents`` and ``audit`` that later migrations extend.
Retention drops whole partition tables (and prunes those holding events of a legal hold:
:mod:`~soc.stores.sqlite.holds`); ``auto_vacuum=INCREMENTAL`` gives the space back.

By responsibility: the file, its schema and connections (:mod:`~soc.stores.sqlite.schema`), what
every part uses (:mod:`~soc.stores.sqlite.connection`), events and dead letters
(:mod:`~soc.stores.sqlite.events`), cached aggregations (:mod:`~soc.stores.sqlite.aggs`), rule
hits, alerts, audit and incidents (:mod:`~soc.stores.sqlite.state`), threat-intel indicators
(:mod:`~soc.stores.sqlite.intel`), and the store with its housekeeping
(:mod:`~soc.stores.sqlite.store`).
"""

from soc.stores.sqlite.events import _key_sql
from soc.stores.sqlite.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    VALUE_COLUMNS,
    column_value,
    connect_reader,
    connect_writer,
    partition_name,
    schema_version,
    security_level,
    sqlite_errors,
)
from soc.stores.sqlite.store import SQLiteStore

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "VALUE_COLUMNS",
    "SQLiteStore",
    "_key_sql",
    "column_value",
    "connect_reader",
    "connect_writer",
    "partition_name",
    "schema_version",
    "security_level",
    "sqlite_errors",
]
