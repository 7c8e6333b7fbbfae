"""The notification outbox on Elasticsearch: changes and their deliveries (docs/notifications.md).

* ``soc-notify-outbox``: one document per change, ``_id`` a digest of its idempotency key,
  written with ``op_type: create``: the same change queued twice is one document (409 = queued
  already). ``routed`` marks the changes the dispatcher has turned into deliveries.
* ``soc-notify-deliveries``: one document per delivery, ``_id`` a digest of its key, created
  the same way; :meth:`OutboxMixin.mark_delivery` updates it with a partial document (no
  script: clusters without painless work too).
* **Order.** Elasticsearch has no sequence, so ``seq`` comes from a counter document
  (``_id`` ``counter``) in the outbox index: a writer reads it (real-time get), writes it
  back raised by the number of changes it queues, naming the version it read
  (``if_seq_no``/``if_primary_term``), and retries on 409. Every number is handed out once and
  the counter never goes back, so ``seq`` is unique and totally ordered; a change found queued
  already when its create answers 409 leaves a gap, as an autoincrement would. Two writers
  can make their changes visible in the other order than their numbers (the lower one a
  moment later); the dispatcher routes whatever is not routed yet, never "after the highest
  seen", so none is skipped. A missing counter (removed by hand) starts again past the
  highest ``seq`` stored.
* **No transactions.** An alert or incident write queues its changes *before* it writes the
  alert or incident (:mod:`soc.stores.es.state`, :mod:`soc.stores.es.records`), in the same
  method: a crash between the two leaves the change queued and the write undone, and the
  retry (the next pass re-reads from its checkpoint; the analyst redoes the change) derives
  the same keys, so nothing is queued twice. The difference from the embedded store, where
  both share one transaction: a change may be told of a write that then failed (a 409 lost
  to another analyst, the cluster gone between the two requests). Routing (deliveries, then
  the routed mark) and digests (the digest, then its items' note) are two steps too, in that
  order: a crash between re-does the second on the next run, and the first is idempotent.
* **Outages.** Like alerts, the outbox needs the cluster: it is never spooled. With the
  cluster unreachable a write raises :class:`~soc.errors.StoreError` (the pass fails, its
  checkpoint stays), so nothing is lost silently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from elasticsearch import ConflictError as EsConflict
from elasticsearch import NotFoundError as EsNotFound

from soc.errors import NotFoundError, StoreError
from soc.outbox import Change, Delivery
from soc.stores.es import housekeeping
from soc.stores.es.connection import es_errors
from soc.stores.es.documents import DocumentsMixin

OUTBOX = "notify-outbox"
DELIVERIES = "notify-deliveries"
INDICES = (OUTBOX, DELIVERIES)
COUNTER = "counter"  # the _id of the seq counter (change ids are hex digests)
SEQ_TRIES = 100  # numberings lost to other writers in a row before giving up
CHUNK = 1000
CHANGE_SORT: list[dict[str, Any]] = [{"seq": "asc"}]
DELIVERY_SORT: list[dict[str, Any]] = [{"seq": "asc"}, {"key": "asc"}]
NEWEST_FIRST: list[dict[str, Any]] = [{"seq": "desc"}, {"key": "desc"}]
PENDING: dict[str, Any] = {"bool": {"should": [
    {"terms": {"status": ["queued", "held"]}},
    {"bool": {"filter": [{"term": {"status": "digested"}}],
              "must_not": [{"exists": {"field": "receipt"}}]}}], "minimum_should_match": 1}}
"""Deliveries still to send, or still to be told in a digest."""


def doc_id(key: str) -> str:
    """The ``_id`` of a change or delivery: a digest of its idempotency key (keys can be
    longer than an ``_id`` may be)."""
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def change_doc(c: Change) -> dict[str, Any]:
    return {**c.to_dict(), "routed": False}


def change_of(source: Mapping[str, Any]) -> Change:
    return Change(key=source["key"], kind=source["kind"], subject=source["subject"],
                  severity=source.get("severity") or "", ts=source["ts"],
                  doc=dict(source.get("doc") or {}), seq=int(source["seq"]))


_DELIVERY_FIELDS = ("key", "seq", "route", "channel", "status", "attempts", "next_at",
                    "last_error", "failed_at", "receipt", "delivered_at", "created", "doc")


def delivery_doc(d: Delivery) -> dict[str, Any]:
    return {f: dict(d.doc) if f == "doc" else getattr(d, f) for f in _DELIVERY_FIELDS}


def delivery_of(source: Mapping[str, Any]) -> Delivery:
    values: dict[str, Any] = {f: source.get(f) for f in _DELIVERY_FIELDS}
    values["doc"] = dict(values["doc"] or {})
    values["attempts"] = int(values["attempts"] or 0)
    return Delivery(**values)


class OutboxMixin(DocumentsMixin):
    """The outbox part of :class:`~soc.stores.es.store.ElasticsearchStore` (the Store
    contract's notification methods); :mod:`soc.stores.es.state` and
    :mod:`soc.stores.es.records` queue the changes of their writes through :meth:`_queue`."""

    tells: bool = False
    """Whether alert and incident writes queue the changes they cause: only when soc.yml routes
    notifications (set at open, as on the embedded store)."""

    # changes -------------------------------------------------------------------------------------

    def queue_change(self, change: Change) -> Change | None:
        """Queue one change on its own, idempotent on its key."""
        self._writable("queue notifications")
        written = self._queue([change])
        return written[0] if written else None

    def _queue(self, changes: Iterable[Change]) -> list[Change]:
        """Create the changes not queued yet, numbered in order; returns those that were new,
        with their ``seq``. StoreError when the cluster cannot take them."""
        unique: dict[str, Change] = {}
        for c in changes:
            unique.setdefault(c.key, c)
        if not unique:
            return []
        self._ensure_outbox()
        queued = self._existing(OUTBOX, [doc_id(k) for k in unique])
        fresh = [c for c in unique.values() if doc_id(c.key) not in queued]
        if not fresh:
            return []
        first = self._reserve(len(fresh))
        numbered = [replace(c, seq=first + i) for i, c in enumerate(fresh)]
        statuses = self._create(OUTBOX, [(doc_id(c.key), change_doc(c)) for c in numbered],
                                "cannot queue notifications")
        return [c for c, status in zip(numbered, statuses, strict=True) if status != 409]

    def _reserve(self, n: int) -> int:
        """The first of ``n`` new consecutive ``seq`` numbers (see the module's docstring)."""
        index = self._doc_index(OUTBOX)
        for _ in range(SEQ_TRIES):
            found = self._get(OUTBOX, COUNTER)
            with es_errors("cannot number notification changes", self.options):
                try:
                    if found is None:
                        last = self._highest_seq()
                        self.client.create(index=index, id=COUNTER,
                                           document={"counter": last + n})
                    else:
                        last = int(found["_source"]["counter"])
                        self.client.index(index=index, id=COUNTER,
                                          document={"counter": last + n},
                                          if_seq_no=found["_seq_no"],
                                          if_primary_term=found["_primary_term"])
                    return last + 1
                except EsConflict:
                    continue
        raise StoreError(f"cannot number notification changes: {SEQ_TRIES} other writers came "
                         "first", hint="Retry; 'soc store doctor' checks the cluster.")

    def _highest_seq(self) -> int:
        for hit in self._scan(OUTBOX, {"exists": {"field": "seq"}}, [{"seq": "desc"}], 1,
                              action="cannot read the notification outbox"):
            return int(hit["_source"]["seq"])
        return 0

    def outbox_changes(self, *, after_seq: int | None = None, unrouted: bool = False,
                       kinds: Collection[str] | None = None, since: str | None = None,
                       limit: int | None = None) -> list[Change]:
        """Changes in outbox order, filtered as asked."""
        filters: list[dict[str, Any]] = [{"range": {"seq": {"gt": after_seq or 0}}}]
        if unrouted:
            filters.append({"term": {"routed": False}})
        if since is not None:
            filters.append({"range": {"ts": {"gte": since}}})
        if kinds is not None:
            filters.append({"terms": {"kind": list(kinds)}})
        return [change_of(h["_source"]) for h in self._scan(
            OUTBOX, {"bool": {"filter": filters}}, CHANGE_SORT, limit,
            action="cannot read the notification outbox")]

    def route_changes(self, seqs: Sequence[int], deliveries: Sequence[Delivery]) -> int:
        """Create the deliveries, then mark the changes routed (a crash between routes them
        again on the next run: the deliveries are there already, nothing is doubled)."""
        self._writable("route notifications")
        self._ensure_outbox()
        statuses = self._create(DELIVERIES, [(doc_id(d.key), delivery_doc(d))
                                             for d in deliveries], "cannot route notifications")
        ids = self._unrouted_ids(seqs)
        self._update(OUTBOX, [(i, {"routed": True}) for i in ids], "cannot route notifications")
        return sum(1 for s in statuses if s != 409)

    def _unrouted_ids(self, seqs: Iterable[int]) -> list[str]:
        """The ``_id`` of each change of these ``seq`` numbers not marked routed yet."""
        wanted = sorted(set(seqs))
        found: list[str] = []
        for start in range(0, len(wanted), CHUNK):
            query = {"bool": {"filter": [{"terms": {"seq": wanted[start:start + CHUNK]}},
                                         {"term": {"routed": False}}]}}
            found += [h["_id"] for h in self._scan(OUTBOX, query, CHANGE_SORT,
                                                   action="cannot route notifications")]
        return found

    # deliveries ----------------------------------------------------------------------------------

    def due_deliveries(self, now: str, *, channel: str | None = None,
                       limit: int | None = None) -> list[Delivery]:
        """Queued or held deliveries due by ``now``, in outbox order."""
        filters: list[dict[str, Any]] = [{"terms": {"status": ["queued", "held"]}},
                                         {"range": {"next_at": {"lte": now}}}]
        if channel is not None:
            filters.append({"term": {"channel": channel}})
        return self._deliveries(filters, DELIVERY_SORT, limit)

    def _deliveries(self, filters: list[dict[str, Any]], sort: list[dict[str, Any]],
                    limit: int | None = None) -> list[Delivery]:
        return [delivery_of(h["_source"]) for h in self._scan(
            DELIVERIES, {"bool": {"filter": filters}}, sort, limit,
            action="cannot read notification deliveries")]

    def mark_delivery(self, key: str, *, status: str, attempts: int | None = None,
                      next_at: str | None = None, error: str | None = None,
                      receipt: str | None = None, delivered_at: str | None = None,
                      failed_at: str | None = None) -> None:
        """Record what became of one delivery (a partial update: no script)."""
        self._writable("update notification deliveries")
        fields: dict[str, Any] = {"status": status, "last_error": error}
        for name, value in (("attempts", attempts), ("next_at", next_at), ("receipt", receipt),
                            ("delivered_at", delivered_at), ("failed_at", failed_at)):
            if value is not None:
                fields[name] = value
        with es_errors("cannot update a notification delivery", self.options):
            try:
                self.client.update(index=self._doc_index(DELIVERIES), id=doc_id(key),
                                   doc=fields, refresh=self._visible)
            except EsNotFound:
                raise NotFoundError(f"no notification delivery {key!r}",
                                    hint="List them: soc notify outbox") from None

    def list_deliveries(self, *, status: str | None = None, route: str | None = None,
                        since: str | None = None,
                        limit: int | None = None) -> list[Delivery]:
        """Deliveries filtered as asked, in outbox order (the newest ``limit`` of them)."""
        filters: list[dict[str, Any]] = []
        for name, value in (("status", status), ("route", route)):
            if value is not None:
                filters.append({"term": {name: value}})
        if since is not None:
            filters.append({"range": {"created": {"gte": since}}})
        if limit is None:
            return self._deliveries(filters, DELIVERY_SORT)
        return self._deliveries(filters, NEWEST_FIRST, limit)[::-1]

    def digest_items(self, until: str) -> list[Delivery]:
        """Digested deliveries whose window has ended and that no digest holds yet."""
        return [delivery_of(h["_source"]) for h in self._scan(
            DELIVERIES, {"bool": {"filter": [{"term": {"status": "digested"}},
                                             {"range": {"next_at": {"lte": until}}}],
                                  "must_not": [{"exists": {"field": "receipt"}}]}},
            DELIVERY_SORT, action="cannot read notification deliveries")]

    def add_digest(self, digest: Delivery, items: Sequence[str]) -> bool:
        """Create the digest, then note in its items that it holds them (a crash between
        finds the items again on the next run, which finds the digest there and notes them)."""
        self._writable("write notification digests")
        self._ensure_outbox()
        (status,) = self._create(DELIVERIES, [(doc_id(digest.key), delivery_doc(digest))],
                                 "cannot write a notification digest")
        self._update(DELIVERIES, [(doc_id(k), {"receipt": f"in {digest.key}"}) for k in items],
                     "cannot write a notification digest")
        return status != 409

    def delivery_summary(self) -> list[dict[str, Any]]:
        """Per channel: counts, last success, last failure and its error (one aggregation)."""
        aggs = {"channels": {"terms": {"field": "channel", "size": CHUNK, "order": {"_key": "asc"}},
                             "aggs": _SUMMARY}}
        with es_errors("cannot read notification deliveries", self.options):
            resp = self.client.search(index=self._doc_index(DELIVERIES), size=0, aggs=aggs,
                                      ignore_unavailable=True)
        buckets = ((resp.get("aggregations") or {}).get("channels") or {}).get("buckets", [])
        return [_summary_row(b) for b in buckets]

    # pruning -------------------------------------------------------------------------------------

    def prune_outbox(self, before: str, *, limit: int) -> int:
        """Finished deliveries and routed changes older than ``before``, ``limit`` of each at
        most, deleted by id (:func:`soc.stores.es.housekeeping.delete_matching`)."""
        self._writable("prune the notification outbox")
        finished = [h["_id"] for h in self._scan(
            DELIVERIES, _finished_before(before), DELIVERY_SORT, limit,
            action="cannot prune the notification outbox")]
        gone = self._delete(DELIVERIES, finished)
        return gone + self._delete(OUTBOX, self._prunable_changes(before, limit))

    def _prunable_changes(self, before: str, limit: int) -> list[str]:
        """Ids of routed changes older than ``before`` that no delivery still waits for, in
        outbox order, ``limit`` at most."""
        query = {"bool": {"filter": [{"term": {"routed": True}},
                                     {"range": {"ts": {"lt": before}}}]}}
        out: list[str] = []
        page: list[dict[str, Any]] = []
        for hit in self._scan(OUTBOX, query, CHANGE_SORT,
                              action="cannot prune the notification outbox"):
            page.append(hit)
            if len(page) == CHUNK:
                out += self._not_waited_for(page)
                page = []
                if len(out) >= limit:
                    break
        out += self._not_waited_for(page)
        return out[:limit]

    def _not_waited_for(self, changes: list[dict[str, Any]]) -> list[str]:
        if not changes:
            return []
        seqs = [int(h["_source"]["seq"]) for h in changes]
        waiting = {int(h["_source"]["seq"]) for h in self._scan(
            DELIVERIES, {"bool": {"filter": [{"terms": {"seq": seqs}}, PENDING]}},
            DELIVERY_SORT, action="cannot prune the notification outbox")}
        return [h["_id"] for h in changes if int(h["_source"]["seq"]) not in waiting]

    def _delete(self, kind: str, ids: list[str]) -> int:
        if not ids:
            return 0
        with es_errors("cannot prune the notification outbox", self.options):
            return housekeeping.delete_matching(self.client, self._doc_index(kind),
                                                {"ids": {"values": ids}}, refresh=True,
                                                caps=self.caps)

    # requests ------------------------------------------------------------------------------------

    def _ensure_outbox(self) -> None:
        self._ensure_indices(INDICES, "the notification outbox indices")

    def _existing(self, kind: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` are stored (real-time ``mget``: no refresh needed)."""
        found: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            with es_errors(f"cannot read {kind}", self.options):
                resp = self.client.mget(index=self._doc_index(kind),
                                        ids=ids[start:start + CHUNK], source=False)
            found.update(d["_id"] for d in resp["docs"] if d.get("found"))
        return found

    def _create(self, kind: str, docs: Sequence[tuple[str, dict[str, Any]]],
                action: str) -> list[int]:
        """Create documents (``op_type: create``); each one's status, 409 = there already."""
        index = self._doc_index(kind)
        ops: list[dict[str, Any]] = []
        for i, doc in docs:
            ops += [{"create": {"_index": index, "_id": i}}, doc]
        return self._bulk(ops, action) if ops else []

    def _update(self, kind: str, docs: Sequence[tuple[str, dict[str, Any]]],
                action: str) -> None:
        """Partial updates by id (a document pruned meanwhile is no error)."""
        index = self._doc_index(kind)
        ops: list[dict[str, Any]] = []
        for i, doc in docs:
            ops += [{"update": {"_index": index, "_id": i}}, {"doc": doc}]
        for start in range(0, len(ops), 2 * CHUNK):
            self._bulk(ops[start:start + 2 * CHUNK], action, missing_ok=True)

    def _bulk(self, ops: list[dict[str, Any]], action: str, *, missing_ok: bool = False,
              visible: bool = True) -> list[int]:
        """One bulk request; StoreError unless every item was written, there already (409)
        or, with ``missing_ok``, gone (404). ``visible=False``: no refresh (the caller
        refreshes once after several requests)."""
        with es_errors(action, self.options):
            resp = self.client.bulk(operations=ops,
                                    refresh=self._visible if visible else False)
        statuses: list[int] = []
        for item in resp["items"]:
            result = next(iter(item.values()))
            status = int(result.get("status", 0))
            if status not in (200, 201, 409) and not (missing_ok and status == 404):
                reason = (result.get("error") or {}).get("reason", "")
                raise StoreError(f"{action}: {status} {reason}".rstrip(),
                                 hint="Run 'soc store doctor' to check the cluster.")
            statuses.append(status)
        return statuses


_SUMMARY: dict[str, Any] = {
    "queued": {"filter": {"terms": {"status": ["queued", "held"]}}},
    "failed": {"filter": {"term": {"status": "failed"}}},
    "delivered": {"filter": {"term": {"status": "delivered"}}},
    "last_success": {"max": {"field": "delivered_at"}},
    "last_failure": {"filter": {"exists": {"field": "failed_at"}}, "aggs": {"last": {
        "top_hits": {"size": 1, "sort": [{"failed_at": "desc"}],
                     "_source": ["failed_at", "last_error"]}}}},
}


def _summary_row(bucket: Mapping[str, Any]) -> dict[str, Any]:
    hits = bucket["last_failure"]["last"]["hits"]["hits"]
    failure = hits[0]["_source"] if hits else {}
    return {"channel": bucket["key"], "queued": int(bucket["queued"]["doc_count"]),
            "failed": int(bucket["failed"]["doc_count"]),
            "delivered": int(bucket["delivered"]["doc_count"]),
            "last_success": bucket["last_success"].get("value_as_string"),
            "last_failure": failure.get("failed_at"), "last_error": failure.get("last_error")}


def _finished_before(before: str) -> dict[str, Any]:
    """Delivered, failed, or told in a digest, and ``coalesce(delivered_at, failed_at,
    created) < before``, as the embedded store says it."""
    def absent(*names: str) -> list[dict[str, Any]]:
        return [{"exists": {"field": n}} for n in names]

    finished = {"bool": {"should": [
        {"terms": {"status": ["delivered", "failed"]}},
        {"bool": {"filter": [{"term": {"status": "digested"}}, {"exists": {"field": "receipt"}}]}}],
        "minimum_should_match": 1}}
    older = {"bool": {"should": [
        {"range": {"delivered_at": {"lt": before}}},
        {"bool": {"filter": [{"range": {"failed_at": {"lt": before}}}],
                  "must_not": absent("delivered_at")}},
        {"bool": {"filter": [{"range": {"created": {"lt": before}}}],
                  "must_not": absent("delivered_at", "failed_at")}}],
        "minimum_should_match": 1}}
    return {"bool": {"filter": [finished, older]}}
