"""Threat-intel indicators on Elasticsearch: the ``soc-intel-indicators`` index.

* One document per (type, value): ``_id`` = ``record.id`` (the digest of the key), the source
  the record's own document (:meth:`IndicatorRecord.to_doc`, the shape the embedded store keeps
  too). Mapped (:mod:`soc.stores.es.templates`): ``id``, ``type``, ``value``, ``tlp``, ``tags``
  and each feed's ``sources.source`` keyword, the times date, ``confidence`` integer; each
  feed's own word (description, reference, extra...) stays in ``_source``, unindexed.
* **Writes** are bulk ``index`` requests (a replace: upsert by id) of :data:`CHUNK` records.
  One request waits for the refresh (``refresh=wait_for``, or ``store.refresh``) so that the
  next read sees it; a larger batch sends its requests without refresh and refreshes the index
  once at the end. No transaction spans the requests: a failure midway leaves the records of
  the requests before it written (writing them again is harmless).
* **Reads** page with ``search_after`` on (type, value, id), :data:`CHUNK` at a time: 100,000
  records never come in one answer. Look-ups by id are a real-time ``mget``.
* The index is created on the first write when an older ``soc store init`` did not create it;
  reads of a cluster without it find nothing.
* **The version** (:meth:`IntelMixin.indicators_version`) is one more document of the index,
  ``_id`` :data:`VERSION_ID`, holding a random token written anew *after* every write or
  removal (a reader that sees the new token sees the change; one that read the old token during
  the change reads the new one at its next look). It has no ``type``, so no listing, count or
  look-up by id ever meets it. A running ``soc listen`` sees ``soc intel remove`` through it,
  and a ``soc collect`` pass reads the matcher's index kept on disk instead of building it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from soc.stores.base import KEY_FIELDS, indicator_key, indicator_of
from soc.stores.es.connection import es_errors
from soc.stores.es.outbox import OutboxMixin

if TYPE_CHECKING:
    from soc.stores.base import IndicatorRecord

INDEX = "intel-indicators"
CHUNK = 1000  # records per bulk request, ids per mget, hits per page
SORT: list[dict[str, Any]] = [{"type": "asc"}, {"value": "asc"}, {"id": "asc"}]
Op = list[dict[str, Any]]  # the bulk lines of one record
VERSION_ID = "~indicators-version"
"""The ``_id`` of the version document (no record's: theirs are hex digests)."""
RECORDS: dict[str, Any] = {"exists": {"field": "type"}}
"""What every record has and the version document has not."""


def live_at(at: str) -> dict[str, Any]:
    """:meth:`IndicatorRecord.live` as a query: not expired by ``at``, and no ``valid_until``
    or one after ``at``."""
    return {"bool": {
        "must_not": [{"range": {"expired": {"lte": at}}}],
        "should": [{"range": {"valid_until": {"gt": at}}},
                   {"bool": {"must_not": [{"exists": {"field": "valid_until"}}]}}],
        "minimum_should_match": 1}}


def indicator_query(*, kind: str | None = None, source: str | None = None,
                    live: str | None = None, changed_since: str | None = None,
                    value: str | None = None) -> dict[str, Any]:
    """The query of a listing or count (``live``: the ``live_at`` of the Store contract)."""
    filters: list[dict[str, Any]] = [
        {"term": {field: arg}} for field, arg in (("type", kind), ("value", value),
                                                  ("sources.source", source))
        if arg is not None]
    if changed_since is not None:
        filters.append({"range": {"updated": {"gte": changed_since}}})
    if live is not None:
        filters.append(live_at(live))
    return {"bool": {"filter": [RECORDS, *filters]}}


class IntelMixin(OutboxMixin):
    """The indicator part of :class:`~soc.stores.es.store.ElasticsearchStore` (the Store
    contract's threat-intel methods)."""


    def put_indicators(self, records: Sequence[IndicatorRecord]) -> int:
        """Index records by id (replacing what is there)."""
        self._writable("write threat-intel indicators")
        unique = {r.id: r for r in records}
        if not unique:
            return 0
        self._ensure_indices((INDEX,), "the threat-intel indicators index")
        index = self._doc_index(INDEX)
        self._send([[{"index": {"_index": index, "_id": i}}, r.to_doc()]
                    for i, r in unique.items()], "cannot write threat-intel indicators")
        self._new_indicators_version("cannot write threat-intel indicators")
        return len(unique)

    def get_indicators(self, ids: Collection[str]) -> dict[str, IndicatorRecord]:
        """The stored records of ``ids``, by id (real-time ``mget``)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, IndicatorRecord] = {}
        for start in range(0, len(wanted), CHUNK):
            with es_errors("cannot read threat-intel indicators", self.options):
                resp = self.client.mget(index=self._doc_index(INDEX),
                                        ids=wanted[start:start + CHUNK])
            found.update((d["_id"], indicator_of(d["_source"]))
                         for d in resp["docs"] if d.get("found"))
        return found

    def list_indicators(self, *, kind: str | None = None, source: str | None = None,
                        live_at: str | None = None, changed_since: str | None = None,
                        value: str | None = None) -> Iterator[IndicatorRecord]:
        """Records by (type, value), filtered by the cluster, page by page."""
        query = indicator_query(kind=kind, source=source, live=live_at,
                                changed_since=changed_since, value=value)
        for hit in self._scan(INDEX, query, SORT, action="cannot list threat-intel indicators"):
            yield indicator_of(hit["_source"])

    def indicator_keys(self, *, live_at: str | None = None) -> Iterator[IndicatorRecord]:
        """Records without their sources (type, value, validity), for the matcher's index."""
        query = indicator_query(live=live_at)
        for hit in self._scan(INDEX, query, SORT, action="cannot list threat-intel indicators",
                              fields=list(KEY_FIELDS)):
            doc = hit["_source"]
            yield indicator_key(str(doc["type"]), str(doc["value"]), doc.get("valid_until"),
                                doc.get("expired"))

    def count_indicators(self, *, live_at: str | None = None) -> int:
        """How many records are stored (live at ``live_at`` only, if given)."""
        with es_errors("cannot count threat-intel indicators", self.options):
            resp = self.client.count(index=self._doc_index(INDEX),
                                     query=indicator_query(live=live_at),
                                     ignore_unavailable=True)
        return int(resp["count"])

    def remove_indicators(self, ids: Collection[str]) -> int:
        """Delete records by id; returns how many were there."""
        self._writable("remove threat-intel indicators")
        index = self._doc_index(INDEX)
        ops = [[{"delete": {"_index": index, "_id": i}}] for i in dict.fromkeys(ids)]
        if not ops:
            return 0
        statuses = self._send(ops, "cannot remove threat-intel indicators", missing_ok=True)
        self._new_indicators_version("cannot remove threat-intel indicators")
        return sum(1 for s in statuses if s == 200)

    def indicators_version(self) -> str | None:
        """The token every write and removal writes anew (real-time get); None before the
        first one."""
        found = self._get(INDEX, VERSION_ID)
        if found is None:
            return None
        token = found["_source"].get("token")
        return str(token) if token else None

    def _new_indicators_version(self, action: str) -> None:
        """A new token, after the change it stands for (see the module's docstring)."""
        self._ensure_indices((INDEX,), "the threat-intel indicators index")
        with es_errors(action, self.options):
            self.client.index(index=self._doc_index(INDEX), id=VERSION_ID,
                              document={"token": uuid.uuid4().hex})

    def _send(self, ops: list[Op], action: str, *, missing_ok: bool = False) -> list[int]:
        """Bulk requests of :data:`CHUNK` records; visible to the next read when done (see the
        module's docstring). Each item's status."""
        chunks = [ops[i:i + CHUNK] for i in range(0, len(ops), CHUNK)]
        statuses: list[int] = []
        for chunk in chunks:
            statuses += self._bulk([line for op in chunk for line in op], action,
                                   missing_ok=missing_ok, visible=len(chunks) == 1)
        if len(chunks) > 1:
            with es_errors(action, self.options):
                self.client.indices.refresh(index=self._doc_index(INDEX),
                                            ignore_unavailable=True)
        return statuses

