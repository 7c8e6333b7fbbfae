"""The embedded store: one SQLite file in WAL mode (docs/store.md); events in
:mod:`soc.stores.sqlite.events`, state in :mod:`soc.stores.sqlite.state`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from soc.stores.base import Hold, RetentionItem, Store, routes_notifications
from soc.stores.sqlite import aggs
from soc.stores.sqlite.doctor import diagnose_path, run_checks
from soc.stores.sqlite.events import _CHUNKS, _INSERT_WIDTH, EventsMixin, _utc
from soc.stores.sqlite.guard import WriteGuard, count_vacuum
from soc.stores.sqlite.holds import held_events, kept, prune
from soc.stores.sqlite.intel import IntelMixin
from soc.stores.sqlite.outbox import OutboxMixin
from soc.stores.sqlite.schema import (
    STORE_FILE,
    connect_reader,
    connect_writer,
    schema_version,
)
from soc.stores.sqlite.state import StateMixin
from soc.stores.sqlite.users import UsersMixin

if TYPE_CHECKING:
    from soc.config import Config


class SQLiteStore(StateMixin, OutboxMixin, IntelMixin, UsersMixin, EventsMixin, Store):
    """The embedded store (default): ``<data_dir>/store.db``."""

    kind = "embedded"
    keeps_outbox = True
    background_writes = False
    """Whether the pipeline calls :meth:`write_events` from a worker thread (never two calls at
    a time) while it parses the next batch. The writer connection allows it, but it is off: on
    the project's shared 2-core machine it cost 25 % more CPU per event (GIL hand-offs, caches
    of two cores) and was slower in wall time too (docs/store.md)."""

    def __init__(self, db: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
        self.db = db
        self.path = path
        self.readonly = readonly
        self._guard = None if readonly else WriteGuard(db, path)
        self._known: set[str] = set()  # partition tables known to exist
        self._cookie: int | None = None  # PRAGMA schema_version when _known was loaded
        self._versions: dict[tuple[str, str], int] = {}  # (table, id) -> version read/written
        limit = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # 999 before SQLite 3.32
        self._chunks = tuple(n for n in _CHUNKS if n * _INSERT_WIDTH <= limit)

    @classmethod
    def open(cls, config: Config, *, readonly: bool = False) -> Self:
        """Open ``<config.data_dir>/store.db``; for writing, create and migrate it. Alert and
        incident writes queue notifications only when soc.yml routes some (``tells``)."""
        store = cls.open_path(Path(config.data_dir) / STORE_FILE, readonly=readonly)
        store.tells = routes_notifications(config)
        return store

    @classmethod
    def open_path(cls, path: Path, *, readonly: bool = False) -> Self:
        """Open the store file at ``path`` (tests and tools)."""
        db = connect_reader(path) if readonly else connect_writer(path)
        try:
            return cls(db, path, readonly=readonly)
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        if self._guard is not None:
            self._guard.forget()
        self.db.close()

    def confirm_writes(self) -> None:
        """Check that the store file still holds what this handle committed: the same file,
        not truncated, its schema and a fresh write marker read back by a new connection
        (:mod:`soc.stores.sqlite.guard`). StoreError otherwise; checkpoints must not move."""
        self._writable("confirm writes")
        if self._guard is not None:
            self._guard.confirm()

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

    def _size(self) -> int:
        """Bytes on disk: the database file plus its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            with suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    def doctor(self) -> list[dict[str, str]]:
        """Checks for ``soc store doctor``: each a dict of check, status (ok/fail), detail."""
        return run_checks(self.db)

    @classmethod
    def diagnose(cls, config: Config) -> list[dict[str, str]]:
        """``soc store doctor``: the file opened without schema checks, so that a missing,
        truncated or damaged store still reports what it holds (:mod:`.doctor`)."""
        return diagnose_path(Path(config.data_dir) / STORE_FILE)

    def retention(self, keep_days: Callable[[int | None], int], *, now: datetime,
                  apply: bool = False, holds: Sequence[Hold] = ()) -> list[RetentionItem]:
        """Partitions and whether each is past its retention; ``apply`` drops expired ones,
        or, when ``holds`` keep some of a partition's events, deletes the others. All in one
        write transaction with ``apply``, so what is counted is what is deleted."""
        if apply:
            self._writable("apply retention")
        with self._errors("cannot apply retention" if apply else "cannot read partitions"):
            with (self._transaction() if apply else nullcontext(),
                  held_events(self.db, holds) if holds else nullcontext()):
                items = self._judge(keep_days, now, counted=bool(holds))
                # a partition whose every event is held has nothing to delete
                expired = [(name, item) for name, item in items
                           if item.expired and not 0 < item.events <= item.held]
                if apply and expired:
                    self._expire(expired)
            if apply and expired:
                self._give_back()
        return [item for _, item in items]

    def _judge(self, keep_days: Callable[[int | None], int], now: datetime, *,
               counted: bool) -> list[tuple[str, RetentionItem]]:
        """Each partition with its fate; ``counted``: the expired ones with what the holds
        keep of them (the held-events table exists)."""
        rows = self.db.execute(
            "SELECT name, day, level, events FROM partitions ORDER BY day, level").fetchall()
        today = _utc(now)
        items: list[tuple[str, RetentionItem]] = []
        for name, day, level, events in rows:
            keep = keep_days(level or None)
            cutoff = (today - timedelta(days=keep)).date().isoformat()
            item = RetentionItem(day=day, level=level or None, events=events, keep_days=keep,
                                 expired=day < cutoff)
            if item.expired and counted:
                held, by_incident = kept(self.db, name)
                item = replace(item, held=held, kept=by_incident)
            items.append((name, item))
        return items

    def _expire(self, expired: list[tuple[str, RetentionItem]]) -> None:
        """Inside the caller's transaction: drop the expired partitions nothing holds, prune
        the others to their held events, and forget their cached aggregations."""
        dropped = [name for name, item in expired if not item.held]
        for table in dropped:
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.executemany("DELETE FROM partitions WHERE name = ?", [(t,) for t in dropped])
        self.db.executemany("DELETE FROM partition_datasets WHERE partition = ?",
                            [(t,) for t in dropped])
        for name, item in expired:
            if item.held:
                prune(self.db, name)
        aggs.forget(self.db, [name for name, _ in expired])
        count_vacuum(self.db)  # the file shrinks next: the write guards must know why

    def _give_back(self) -> None:
        """Give the pages retention freed back to the file system."""
        # executescript steps the pragma to the end; execute() would free a single page
        self.db.executescript("PRAGMA incremental_vacuum;")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
