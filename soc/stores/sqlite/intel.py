"""Threat-intel indicators on the embedded store (schema migration 6, docs/store.md).

``indicators`` holds one row per (type, value): the whole record as a JSON ``doc`` beside the
summary columns the queries filter on (``type``, ``value``, ``updated``, ``valid_until``,
``expired``); ``indicator_sources`` names the feeds that vouch for each record, so that a
``source`` filter runs in SQL. soc.intel merges the feeds' words; the store keeps whole records.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING

from soc.stores.base import indicator_key, indicator_of
from soc.stores.sqlite.connection import ConnectionMixin
from soc.stores.sqlite.schema import _dumps, _loads

if TYPE_CHECKING:
    from soc.stores.base import IndicatorRecord

PAGE = 1000
"""Records per query of a listing: a page at a time (keyset on (type, value)), never the table."""
KEY_PAGE = 20_000
"""Rows per query of :meth:`IntelMixin.indicator_keys` (four short columns each)."""
VERSION_KEY = "indicators_version"
"""The ``meta`` row of :meth:`IntelMixin.indicators_version`: a random token per change, so that
no two states of the table share one (a counter would, in two copies of a database)."""
CHUNK = 500  # ids per IN (...): within SQLite's variable limit, 999 before 3.32
LIVE = "(expired IS NULL OR expired > ?) AND (valid_until IS NULL OR valid_until > ?)"
""":meth:`IndicatorRecord.live` in SQL, on the summary columns (canonical UTC strings)."""


class IntelMixin(ConnectionMixin):
    """The indicator part of :class:`~soc.stores.sqlite.store.SQLiteStore` (the Store
    contract's threat-intel methods)."""

    def put_indicators(self, records: Sequence[IndicatorRecord]) -> int:
        """Insert or replace records by id, their sources with them, in one transaction."""
        self._writable("write threat-intel indicators")
        unique = {r.id: r for r in records}
        if not unique:
            return 0
        rows = [(r.id, r.type, r.value, r.updated, r.valid_until, r.expired, _dumps(r.to_doc()))
                for r in unique.values()]
        sources = [(r.id, name) for r in unique.values() for name in r.sources]
        with self._errors("cannot write threat-intel indicators"), self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO indicators(id, type, value, updated, valid_until, "
                "expired, doc) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany("DELETE FROM indicator_sources WHERE id = ?",
                                [(i,) for i in unique])
            self.db.executemany("INSERT INTO indicator_sources(id, source) VALUES (?, ?)",
                                sources)
            self._new_indicators_version()
        return len(unique)

    def get_indicators(self, ids: Collection[str]) -> dict[str, IndicatorRecord]:
        """The stored records of ``ids``, by id."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, IndicatorRecord] = {}
        with self._errors("cannot read threat-intel indicators"):
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start:start + CHUNK]
                rows = self.db.execute(
                    f"SELECT id, doc FROM indicators WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk).fetchall()
                found.update((i, indicator_of(_loads(doc))) for i, doc in rows)
        return found

    def list_indicators(self, *, kind: str | None = None, source: str | None = None,
                        live_at: str | None = None, changed_since: str | None = None,
                        value: str | None = None) -> Iterator[IndicatorRecord]:
        """Records by (type, value), filtered in SQL, :data:`PAGE` at a time."""
        where, params = _filters(kind=kind, source=source, live_at=live_at,
                                 changed_since=changed_since, value=value)
        after: tuple[str, str] | None = None
        while True:
            keyset = " AND (type, value) > (?, ?)" if after else ""
            sql = (f"SELECT type, value, doc FROM indicators WHERE {where}{keyset} "
                   "ORDER BY type, value LIMIT ?")
            with self._errors("cannot list threat-intel indicators"):
                rows = self.db.execute(sql, (*params, *(after or ()), PAGE)).fetchall()
            yield from (indicator_of(_loads(doc)) for _, _, doc in rows)
            if len(rows) < PAGE:
                return
            after = (rows[-1][0], rows[-1][1])

    def indicator_keys(self, *, live_at: str | None = None) -> Iterator[IndicatorRecord]:
        """Records without their sources (type, value, validity), for the matcher's index:
        the summary columns only, no document decoded."""
        where, params = _filters(live_at=live_at)
        # one scan in table order, read KEY_PAGE rows at a time: no order is needed, and the
        # (type, value) order with keyset pages cost a look-up in the table per row through
        # the key's index (twice the time)
        sql = f"SELECT type, value, valid_until, expired FROM indicators WHERE {where}"
        with self._errors("cannot list threat-intel indicators"):
            cursor = self.db.execute(sql, params)
            while rows := cursor.fetchmany(KEY_PAGE):
                yield from (indicator_key(*row) for row in rows)

    def count_indicators(self, *, live_at: str | None = None) -> int:
        """How many records are stored (live at ``live_at`` only, if given)."""
        where, params = _filters(live_at=live_at)
        with self._errors("cannot count threat-intel indicators"):
            return int(self._scalar_args(f"SELECT count(*) FROM indicators WHERE {where}",
                                         params))

    def remove_indicators(self, ids: Collection[str]) -> int:
        """Forget records and their sources, in one transaction; returns how many were there."""
        self._writable("remove threat-intel indicators")
        rows = [(i,) for i in dict.fromkeys(ids)]
        if not rows:
            return 0
        with self._errors("cannot remove threat-intel indicators"), self._transaction():
            self.db.executemany("DELETE FROM indicator_sources WHERE id = ?", rows)
            cur = self.db.executemany("DELETE FROM indicators WHERE id = ?", rows)
            self._new_indicators_version()
            return max(cur.rowcount, 0)

    def indicators_version(self) -> str | None:
        """The token :meth:`put_indicators` and :meth:`remove_indicators` write anew in the
        transaction of each change (a ``meta`` row); None before the first one."""
        with self._errors("cannot read the threat-intel indicators' version"):
            row = self.db.execute("SELECT value FROM meta WHERE key = ?",
                                  (VERSION_KEY,)).fetchone()
        return str(row[0]) if row else None

    def _new_indicators_version(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                        (VERSION_KEY, uuid.uuid4().hex))


def _filters(*, kind: str | None = None, source: str | None = None, live_at: str | None = None,
             changed_since: str | None = None,
             value: str | None = None) -> tuple[str, list[object]]:
    """The WHERE clause of a listing or count, and its parameters."""
    where: list[str] = []
    params: list[object] = []
    for clause, arg in (("type = ?", kind), ("value = ?", value),
                        ("updated >= ?", changed_since),
                        # per row by the sources' key: pages go on along (type, value)
                        ("EXISTS (SELECT 1 FROM indicator_sources AS s "
                         "WHERE s.id = indicators.id AND s.source = ?)", source)):
        if arg is not None:
            where.append(clause)
            params.append(arg)
    if live_at is not None:
        where.append(LIVE)
        params += [live_at, live_at]
    return " AND ".join(where) or "1", params
