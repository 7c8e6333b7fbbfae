"""Console accounts on the embedded store (schema migration 7, docs/console.md).

``users`` holds one row per account name with the whole account as a JSON ``doc``:
soc.web.accounts decides what it holds (role, password hash, token digests); the store keeps it.
"""

from __future__ import annotations

from typing import Any

from soc.stores.sqlite.connection import ConnectionMixin
from soc.stores.sqlite.schema import _dumps, _loads


class UsersMixin(ConnectionMixin):
    """The account part of :class:`~soc.stores.sqlite.store.SQLiteStore` (the Store
    contract's console-account methods)."""

    def put_user(self, name: str, doc: dict[str, Any]) -> None:
        """Insert or replace the account ``name``."""
        self._writable("change console accounts")
        with self._errors("cannot write a console account"), self._transaction():
            self.db.execute("INSERT OR REPLACE INTO users(name, doc) VALUES (?, ?)",
                            (name, _dumps(doc)))

    def get_user(self, name: str) -> dict[str, Any] | None:
        """The account's document, or None."""
        with self._errors("cannot read a console account"):
            row = self.db.execute("SELECT doc FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else dict(_loads(row[0]))

    def list_users(self) -> list[dict[str, Any]]:
        """Every account's document, by name."""
        with self._errors("cannot list console accounts"):
            rows = self.db.execute("SELECT doc FROM users ORDER BY name").fetchall()
        return [dict(_loads(doc)) for (doc,) in rows]
