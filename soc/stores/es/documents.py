"""Alerts, incidents, rule hits and the audit trail: documents with optimistic concurrency.

Every replace names the version it read (``if_seq_no``/``if_primary_term``): when another analyst
changed the document in between, the cluster answers 409 and :class:`ConflictError` says so,
instead of one change silently overwriting the other. The store handle remembers the version of
every state document it read or wrote (:meth:`DocumentsMixin._remember`); a write of a document
this handle never read replaces whatever is there, as on the embedded store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from elasticsearch import ConflictError as EsConflict
from elasticsearch import NotFoundError as EsNotFound

from soc.errors import StoreError
from soc.stores.base import ConflictError, conflict
from soc.stores.es import templates
from soc.stores.es.connection import es_errors

if TYPE_CHECKING:
    from elastic_transport import ObjectApiResponse
    from elasticsearch import Elasticsearch

    from soc.stores.es.capabilities import Capabilities
    from soc.stores.es.connection import EsOptions
    from soc.stores.es.delivery import Delivery
    from soc.stores.es.names import Names

__all__ = ["ConflictError", "DocumentsMixin", "Versioned", "conflict"]  # the error: both stores

KINDS = ("alerts", "incidents", "audit", "rule-hits", "alert-events", "notify-outbox",
         "notify-deliveries", "intel-indicators", "users")
PAGE = 1000
Hit = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Versioned:
    """A document with the version it was read at."""

    id: str
    doc: dict[str, Any]
    seq_no: int
    primary_term: int


class DocumentsMixin:
    """Document methods of :class:`ElasticsearchStore`: versioned reads, conditional writes,
    paged searches of the state indices."""

    client: Elasticsearch
    names: Names
    options: EsOptions
    delivery: Delivery
    readonly: bool
    caps: Capabilities
    _versions: dict[tuple[str, str], tuple[int, int]]

    def _writable(self, action: str) -> None:
        if self.readonly:
            raise StoreError(f"cannot {action}: the store was opened read-only")

    def _doc_index(self, kind: str) -> str:
        if kind not in KINDS:
            raise StoreError(f"unknown document kind {kind!r} (known: {', '.join(KINDS)})")
        return self.names.index(kind)

    def _ensure_indices(self, kinds: Sequence[str], what: str) -> None:
        """Create the state indices of ``kinds`` with their mappings on their first write, once
        per handle: a cluster installed by an older version (``soc store init`` creates them
        too). ``what`` names them in the error (``the threat-intel indicators index``)."""
        ready: set[str] = self.__dict__.setdefault("_indices_ready", set())
        if ready.issuperset(kinds):
            return
        with es_errors(f"cannot create {what}", self.options):
            templates.create_state_indices(self.client, self.names, tuple(kinds), caps=self.caps)
        ready.update(kinds)

    @property
    def _visible(self) -> str | bool:
        """The refresh of a write the next read must see."""
        return self.options.refresh or "wait_for"

    def _remember(self, kind: str, meta: Mapping[str, Any]) -> None:
        """Keep the version of a document read or written (a get, a search hit, a response)."""
        if "_seq_no" in meta and "_primary_term" in meta:
            self._versions[(kind, str(meta["_id"]))] = (int(meta["_seq_no"]),
                                                        int(meta["_primary_term"]))

    def _get(self, kind: str, doc_id: str) -> ObjectApiResponse[Any] | None:
        """The real-time get response of a document (no refresh needed), or None."""
        with es_errors(f"cannot read {kind}", self.options):
            try:
                return self.client.get(index=self._doc_index(kind), id=doc_id)
            except EsNotFound:
                return None

    def _fetch(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        """A document by id, real-time (no refresh needed), its version remembered; or None."""
        resp = self._get(kind, doc_id)
        if resp is None:
            self._versions.pop((kind, doc_id), None)
            return None
        self._remember(kind, resp.body)
        source: dict[str, Any] = resp["_source"]
        return source

    def _replace(self, kind: str, doc_id: str, doc: dict[str, Any], *, noun: str,
                 hint: str | None = None) -> None:
        """Write a document at the version this handle knows (create when it knows none);
        :class:`ConflictError` when the stored one is another."""
        version = self._versions.get((kind, doc_id))
        cond: dict[str, Any] = ({"if_seq_no": version[0], "if_primary_term": version[1]}
                                if version else {"op_type": "create"})
        with es_errors(f"cannot write {kind}", self.options):
            try:
                resp = self.client.index(index=self._doc_index(kind), id=doc_id, document=doc,
                                         refresh=self._visible, **cond)
            except EsConflict as exc:
                self._versions.pop((kind, doc_id), None)
                raise conflict(noun, doc_id, hint) from exc
        self._remember(kind, resp.body)

    def _scan(self, kind: str, query: dict[str, Any], sort: list[dict[str, Any]],
              limit: int | None = None, *, action: str, versions: bool = False,
              fields: list[str] | None = None) -> Iterator[Hit]:
        """Every hit of a query in ``sort`` order (unique on its last key), page by page with
        ``search_after``: no 10,000-hit window, no scroll context to leak. ``fields``: only
        these of each ``_source``."""
        remaining = limit
        after: list[Any] | None = None
        while remaining is None or remaining > 0:
            size = PAGE if remaining is None else min(PAGE, remaining)
            with es_errors(action, self.options):
                resp = self.client.search(index=self._doc_index(kind), query=query, sort=sort,
                                          size=size, search_after=after,
                                          seq_no_primary_term=versions or None,
                                          source_includes=fields,
                                          track_total_hits=False, ignore_unavailable=True)
            hits: list[Hit] = resp["hits"]["hits"]
            for hit in hits:
                if versions:
                    self._remember(kind, hit)
                yield hit
            if remaining is not None:
                remaining -= len(hits)
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    # generic documents (tools and tests) ------------------------------------------------------

    def put_documents(self, kind: str, docs: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Create documents by deterministic id (an alert raised twice is stored once);
        spooled like events when the cluster is away. Returns how many were new or spooled."""
        index = self._doc_index(kind)
        done = self.delivery.deliver(kind, [(index, i, d) for i, d in docs])
        return done.outcome.created + done.spooled

    def get_document(self, kind: str, doc_id: str) -> Versioned | None:
        """A document and its version, or None."""
        resp = self._get(kind, doc_id)
        if resp is None:
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
                    refresh=self._visible)
            except EsConflict as exc:
                raise conflict(kind.rstrip("s"), read.id) from exc
        return Versioned(read.id, doc, int(resp["_seq_no"]), int(resp["_primary_term"]))
