"""Alerts, incidents, rule hits and the audit trail: documents with optimistic concurrency.

Every update names the version it read (``if_seq_no``/``if_primary_term``): when another analyst
changed the document in between, the cluster answers 409 and :class:`ConflictError` says so,
instead of one change silently overwriting the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from elasticsearch import ConflictError as EsConflict
from elasticsearch import NotFoundError as EsNotFound

from soc.errors import StoreError
from soc.stores.es.connection import es_errors

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from soc.stores.es.connection import EsOptions
    from soc.stores.es.delivery import Delivery
    from soc.stores.es.names import Names

KINDS = ("alerts", "incidents", "audit", "rule-hits")


class ConflictError(StoreError):
    default_hint = "Someone changed it meanwhile: show it again and redo the change."


@dataclass(frozen=True, slots=True)
class Versioned:
    """A document with the version it was read at."""

    id: str
    doc: dict[str, Any]
    seq_no: int
    primary_term: int


class DocumentsMixin:
    """Document methods of :class:`ElasticsearchStore` (beyond the Store contract)."""

    client: Elasticsearch
    names: Names
    options: EsOptions
    delivery: Delivery

    def _doc_index(self, kind: str) -> str:
        if kind not in KINDS:
            raise StoreError(f"unknown document kind {kind!r} (known: {', '.join(KINDS)})")
        return self.names.index(kind)

    def put_documents(self, kind: str, docs: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Create documents by deterministic id (an alert raised twice is stored once);
        spooled like events when the cluster is away. Returns how many were new or spooled."""
        index = self._doc_index(kind)
        done = self.delivery.deliver(kind, [(index, i, d) for i, d in docs])
        return done.outcome.created + done.spooled

    def get_document(self, kind: str, doc_id: str) -> Versioned | None:
        """A document and its version, or None."""
        with es_errors(f"cannot read {kind}", self.options):
            try:
                resp = self.client.get(index=self._doc_index(kind), id=doc_id)
            except EsNotFound:
                return None
        return Versioned(doc_id, resp["_source"], int(resp["_seq_no"]),
                         int(resp["_primary_term"]))

    def update_document(self, kind: str, read: Versioned, doc: dict[str, Any]) -> Versioned:
        """Replace a document if nobody changed it since ``read``; else :class:`ConflictError`."""
        with es_errors(f"cannot update {kind}", self.options):
            try:
                resp = self.client.index(
                    index=self._doc_index(kind), id=read.id, document=doc,
                    if_seq_no=read.seq_no, if_primary_term=read.primary_term,
                    refresh=self.options.refresh or "wait_for")
            except EsConflict as exc:
                raise ConflictError(f"{kind} {read.id} was changed by someone else since it "
                                    "was read") from exc
        return Versioned(read.id, doc, int(resp["_seq_no"]), int(resp["_primary_term"]))
