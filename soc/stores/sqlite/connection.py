"""What every part of the embedded store uses: its connection, file and mode, errors,
transactions and row helpers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from soc.errors import StoreError
from soc.stores.sqlite.schema import rollback, sqlite_errors


class ConnectionMixin:
    """The database of :class:`~soc.stores.sqlite.store.SQLiteStore` and the helpers of its
    parts (:mod:`soc.stores.sqlite.events`, :mod:`soc.stores.sqlite.state`)."""

    db: sqlite3.Connection
    path: Path
    readonly: bool
    _cookie: int | None  # PRAGMA schema_version when the partition cache was loaded
    tells: bool = True
    """Whether alert and incident writes queue the changes they cause in the notification
    outbox: only when soc.yml routes notifications (:meth:`SQLiteStore.open`), so that a
    store without ``notify:`` grows no outbox, and notifications configured later tell what
    happens from then on, never a flood of old alerts (docs/notifications.md)."""

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
            rollback(self.db)  # never hides the error that ended the transaction
            self._cookie = None  # tables created in the rolled-back transaction are gone
            raise

    def _fetch_one(self, sql: str, params: Sequence[object]) -> Any:
        try:
            return self.db.execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # dropped by retention in another process
                return None
            raise

    def _rows(self, sql: str, params: Sequence[object]) -> Iterator[tuple[Any, ...]]:
        try:
            yield from self.db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise

    def _scalar(self, sql: str) -> Any:
        return self.db.execute(sql).fetchone()[0]

    def _scalar_args(self, sql: str, params: Sequence[object]) -> Any:
        return self.db.execute(sql, params).fetchone()[0]
