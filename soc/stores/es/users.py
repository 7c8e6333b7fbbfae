"""Console accounts on Elasticsearch: the ``soc-users`` index.

One document per account, ``_id`` the account name, the source the account's document as
soc.web.accounts builds it (the shape the embedded store keeps too). Mapped
(:mod:`soc.stores.es.templates`): ``name`` and ``role`` keyword, ``disabled`` boolean,
``created`` and ``changed`` date; the password hash and the token digests stay in ``_source``,
unindexed. A write waits for the refresh (``refresh=wait_for``, or ``store.refresh``) so that a
listing right after it sees it; a look-up by name is a real-time get. The index is created on
the first write when an older ``soc store init`` did not create it; reads of a cluster without
it find no account.
"""

from __future__ import annotations

from typing import Any

from soc.stores.es.connection import es_errors
from soc.stores.es.documents import DocumentsMixin

INDEX = "users"
SORT: list[dict[str, Any]] = [{"name": "asc"}]


class UsersMixin(DocumentsMixin):
    """The account part of :class:`~soc.stores.es.store.ElasticsearchStore` (the Store
    contract's console-account methods)."""


    def put_user(self, name: str, doc: dict[str, Any]) -> None:
        """Index the account by name (replacing what is there)."""
        self._writable("change console accounts")
        self._ensure_indices((INDEX,), "the console accounts index")
        with es_errors("cannot write a console account", self.options):
            self.client.index(index=self._doc_index(INDEX), id=name, document=doc,
                              refresh=self._visible)

    def get_user(self, name: str) -> dict[str, Any] | None:
        """The account's document (real-time get), or None."""
        return self._fetch(INDEX, name)

    def list_users(self) -> list[dict[str, Any]]:
        """Every account's document, by name."""
        return [dict(hit["_source"]) for hit in self._scan(
            INDEX, {"match_all": {}}, SORT, action="cannot list console accounts")]

