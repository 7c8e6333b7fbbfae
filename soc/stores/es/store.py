"""The Elasticsearch store: the Store contract at cluster scale (docs/elasticsearch.md)."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Self

from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import ApiError, Elasticsearch

from soc.ecs import Event, normalize_ts
from soc.errors import StoreError
from soc.models import DeadLetter
from soc.stores.base import Hold, RetentionItem, Store, WriteResult, routes_notifications
from soc.stores.es import housekeeping, templates
from soc.stores.es.capabilities import FULL, Capabilities
from soc.stores.es.connection import (
    CompatTransport,
    EsOptions,
    build_client,
    es_errors,
    server_capabilities,
)
from soc.stores.es.delivery import Delivery
from soc.stores.es.intel import IntelMixin
from soc.stores.es.names import Names
from soc.stores.es.outbox import OutboxMixin
from soc.stores.es.query import build, search_query
from soc.stores.es.records import RecordsMixin
from soc.stores.es.spool import Action, Spool
from soc.stores.es.state import StateMixin
from soc.stores.es.users import UsersMixin
from soc.stores.es.writer import BulkWriter, ClusterUnavailable

if TYPE_CHECKING:
    from soc.config import Config
    from soc.stores.es.hunt import HuntQuery

log = logging.getLogger("soc.stores.es")
PAGE = 1000
ID_CHUNK = 5000
SORT_ORDER = ("@timestamp", "event.id")


class ElasticsearchStore(StateMixin, RecordsMixin, IntelMixin, UsersMixin, OutboxMixin, Store):
    """Events in data streams, state in indices (rule hits, alerts, audit, incidents, the
    notification outbox, threat-intel indicators: see :mod:`soc.stores.es.state`,
    :mod:`soc.stores.es.records`, :mod:`soc.stores.es.outbox` and :mod:`soc.stores.es.intel`),
    a local spool for outages."""

    kind = "elasticsearch"
    keeps_outbox = True

    def __init__(self, client: Elasticsearch, config: Config, options: EsOptions, *,
                 readonly: bool = False, sleep: Callable[[float], None] | None = None) -> None:
        self.client = client
        self.config = config
        self.options = options
        self.names = Names(options.index_prefix)
        self.readonly = readonly
        self.major: int | None = options.server_major
        self.caps: Capabilities = FULL
        self.spool = Spool(options.spool_dir or config.data_dir / "es-spool",
                           options.spool_max_mb * 1024 * 1024)
        self.writer = BulkWriter(
            client, self.names.index("quarantine"), max_retries=options.max_retries,
            backoff=options.retry_backoff, backoff_max=options.retry_backoff_max,
            refresh=options.refresh, sleep=sleep or time.sleep)
        self.delivery = Delivery(self.writer, self.spool, self._reconnect)
        self.quarantined = 0
        self.spooled = 0
        self._connected = False
        self._versions: dict[tuple[str, str], tuple[int, int]] = {}
        self.tells = routes_notifications(config)  # alert and incident writes queue changes

    @classmethod
    def open(cls, config: Config, *, readonly: bool = False) -> Self:
        """Connect; for writing, install templates and policies when they are missing or old,
        and deliver what the spool holds (a pass with nothing new to write still empties it).
        A writer opens even when the cluster is down: its batches go to the spool."""
        options = EsOptions.from_config(config)
        return cls.open_options(config, options, readonly=readonly)

    @classmethod
    def open_options(cls, config: Config, options: EsOptions, *, readonly: bool = False,
                     sleep: Callable[[float], None] | None = None) -> Self:
        """Open with explicit options (tests and tools)."""
        store = cls(build_client(options), config, options, readonly=readonly, sleep=sleep)
        try:
            store._reconnect()
            if not readonly:
                store.delivery.drain()
        except ClusterUnavailable as exc:
            if readonly:
                raise StoreError(f"cannot open the Elasticsearch store: {exc.message}",
                                 hint="Check store.hosts and that the cluster is up.") from exc
            log.warning("Elasticsearch unreachable (%s): writes go to the spool %s",
                        exc.message, store.spool.directory)
        return store

    def _reconnect(self) -> None:
        """Once the cluster answers: agree on the API version (8.x needs other headers than
        9.x) and, for a writer, install templates before the first document can create a
        stream without them."""
        if self._connected:
            return
        try:
            self.caps = server_capabilities(self.client)
            if self.major is None:
                self.major = self.caps.major
            if self.caps.missing() and not self.readonly:
                log.warning("%s", self.caps.summary())
            transport = self.client.transport
            if isinstance(transport, CompatTransport):
                transport.compat_major = self.major if self.major < 9 else None
            if not self.readonly:
                self.ensure_installed()
        except (TransportConnectionError, ApiError) as exc:
            raise ClusterUnavailable(f"{self.options.shown_hosts}: {exc}") from exc
        self._connected = True

    def close(self) -> None:
        self.client.close()

    # install ------------------------------------------------------------------------------------

    def ensure_installed(self) -> list[str]:
        """Install when our index template is missing or differs from this version's."""
        expected = templates.with_digest(
            templates.index_templates(self.config, self.names,
                                      self.caps)[self.names.logs_template])
        found = housekeeping.template_meta(self.client, self.names.logs_template)
        if found.get("soc_digest") == expected["_meta"]["soc_digest"]:
            return []
        try:
            return self.install()
        except StoreError as exc:  # a writer role without template privileges
            log.warning("cannot install templates (%s); ask an administrator to run "
                        "'soc store init'", exc.message)
            return []

    def install(self, kibana_url: str | None = None) -> list[str]:
        """Put ILM policies, component and index templates, create the state indices; with
        ``kibana_url`` (or ``store.kibana_url``) import the Kibana saved objects too."""
        self._writable("install templates")
        with es_errors("cannot install templates and policies", self.options):
            done = templates.install(self.client, self.config, self.names, self.options,
                                     self.caps)
        url = kibana_url or self.options.kibana_url
        if url:
            from soc.stores.es.kibana import import_saved_objects

            done.append(import_saved_objects(url, self.options, self.names))
        return done

    # events --------------------------------------------------------------------------------------

    def write_events(self, events: Sequence[Event]) -> WriteResult:
        """Write events with ``_id`` = ``event.id``; returns once the cluster or spool has them."""
        self._writable("write events")
        actions, in_batch = self._event_actions(events)
        if not actions:
            return WriteResult(0, in_batch)
        existing = self._existing_ids(actions)
        fresh = [a for a in actions if a[1] not in existing]
        done = self.delivery.deliver("events", fresh)
        self._note(done.outcome.quarantined, done.spooled)
        written = done.outcome.created + done.spooled
        return WriteResult(written, len(events) - written - done.outcome.quarantined)

    def _note(self, quarantined: int, spooled: int) -> None:
        self.quarantined += quarantined
        self.spooled += spooled
        if quarantined:
            log.warning("%d document(s) rejected by the cluster were quarantined in %s",
                        quarantined, self.names.index("quarantine"))

    def _event_actions(self, events: Sequence[Event]) -> tuple[list[Action], int]:
        actions: dict[str, Action] = {}
        try:
            for event in events:
                ts = event["@timestamp"]
                if len(ts) != 24 or ts[23] != "Z":
                    event = {**event, "@timestamp": normalize_ts(ts)}
                eid = str(event["event.id"])
                stream = self.names.stream(event.get("event.dataset"),
                                           event.get("organization.id"))
                actions.setdefault(eid, (stream, eid, event))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"cannot store an event without a valid @timestamp and event.id "
                             f"({type(exc).__name__}: {exc})",
                             hint="Parsers must set the fields in soc.ecs.ALWAYS.") from exc
        return list(actions.values()), len(events) - len(actions)

    def _existing_ids(self, actions: list[Action]) -> set[str]:
        """Ids already stored in any backing index (``create`` only sees the write index,
        so a re-read after a rollover would otherwise be stored twice)."""
        found: set[str] = set()
        try:
            for start in range(0, len(actions), ID_CHUNK):
                ids = [a[1] for a in actions[start:start + ID_CHUNK]]
                resp = self.client.search(index=self.names.events, query={"ids": {"values": ids}},
                                          source=False, size=len(ids), ignore_unavailable=True)
                found.update(hit["_id"] for hit in resp["hits"]["hits"])
        except (TransportConnectionError, ApiError):
            return set()  # the write decides: it spools, or 409s still catch the write index
        return found

    def search(self, query: str = "*", *, since: datetime | None = None,
               until: datetime | None = None, limit: int | None = 100,
               order: Literal["asc", "desc"] = "desc") -> Iterator[Event]:
        """Events matching a Lucene query in ``[since, until)``, by ``@timestamp``."""
        dsl = search_query(query, since, until)
        return self._pages(self.names.events, dsl, _sort(order), limit)

    def hunt(self, rule: HuntQuery, *, since: datetime | None = None,
             until: datetime | None = None, limit: int | None = None) -> Iterator[Event]:
        """The events a rule's query finds (check ``rule.exact``: see soc.stores.es.hunt)."""
        return self._pages(self.names.events, rule.dsl(since, until), _sort("asc"), limit)

    def _pages(self, index: str, dsl: dict[str, Any], sort: list[dict[str, Any]],
               limit: int | None) -> Iterator[Event]:
        remaining = limit
        after: list[Any] | None = None
        while remaining is None or remaining > 0:
            size = PAGE if remaining is None else min(PAGE, remaining)
            with es_errors("cannot search events", self.options):
                resp = self.client.search(index=index, query=dsl, sort=sort, size=size,
                                          search_after=after, ignore_unavailable=True)
            hits = resp["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if remaining is not None:
                remaining -= len(hits)
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def count(self, query: str = "*", *, since: datetime | None = None,
              until: datetime | None = None) -> int:
        """How many events match a Lucene query in ``[since, until)``."""
        dsl = search_query(query, since, until)
        with es_errors("cannot count events", self.options):
            resp = self.client.count(index=self.names.events, query=dsl,
                                     ignore_unavailable=True)
        return int(resp["count"])

    def aggregate(self, query: str = "*", *, since: datetime | None = None,
                  until: datetime | None = None, group_by: Sequence[str] = (),
                  interval: str | None = None, top: int | None = None,
                  timezone: str = "UTC") -> list[dict[str, Any]]:
        """Grouped counts (see :meth:`Store.aggregate`) with ``terms``/``multi_terms`` and
        ``date_histogram`` aggregations (:mod:`soc.stores.es.aggs`)."""
        from soc.stores.base import aggregate_order, bucket_seconds, utc_offset
        from soc.stores.es import aggs

        fields = list(group_by)
        step = bucket_seconds(interval) if interval is not None else None
        offset = utc_offset(timezone, since)
        dsl = search_query(query, since, until)
        if len(fields) > 1 and not self.caps.multi_terms:
            answer, total = self._composite_groups(dsl, fields, step, offset, top)
        else:
            with es_errors("cannot aggregate events", self.options):
                resp = self.client.search(
                    index=self.names.events, query=dsl, size=0,
                    aggs=aggs.request(fields, step, offset, top) or None,
                    track_total_hits=True, ignore_unavailable=True)
            answer, total = resp.get("aggregations"), int(resp["hits"]["total"]["value"])
        out = aggs.rows(answer, fields, step is not None, total)
        return sorted(out, key=lambda r: aggregate_order(r, fields))

    def _composite_groups(self, dsl: dict[str, Any], fields: list[str], step: int | None,
                          offset: int, top: int | None) -> tuple[dict[str, Any], int]:
        """Every group of several fields, page by page (a cluster without ``multi_terms``)."""
        from soc.stores.es import aggs

        pages: list[list[dict[str, Any]]] = []
        after: dict[str, Any] | None = None
        total = 0
        with es_errors("cannot aggregate events", self.options):
            while True:
                resp = self.client.search(
                    index=self.names.events, query=dsl, size=0, track_total_hits=True,
                    aggs=aggs.composite_request(fields, step, offset, after),
                    ignore_unavailable=True)
                total = int(resp["hits"]["total"]["value"])
                groups = (resp.get("aggregations") or {}).get("groups") or {}
                pages.append(list(groups.get("buckets") or ()))
                after = groups.get("after_key")
                if not after or len(pages[-1]) < aggs.page_size(step):
                    break
        return aggs.top_groups(pages, len(fields), top), total

    def get_event(self, event_id: str, *, ts: str | None = None) -> Event | None:
        """One event by ``event.id`` (and ``@timestamp`` when known)."""
        filters: list[dict[str, Any]] = [{"ids": {"values": [event_id]}}]
        if ts is not None:
            filters.append({"term": {"@timestamp": normalize_ts(ts)}})
        for event in self._pages(self.names.events, {"bool": {"filter": filters}},
                                 _sort("desc"), 1):
            return event
        return None

    # dead letters --------------------------------------------------------------------------------

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep unparseable records (``_id`` = their id). Returns how many were new."""
        self._writable("write dead letters")
        index = self.names.index("dead-letters")
        actions = list({d.id: (index, d.id, _letter_doc(d)) for d in letters}.values())
        done = self.delivery.deliver("dead letters", actions)
        self._note(done.outcome.quarantined, done.spooled)
        return done.outcome.created + done.spooled

    def dead_letters(self, *, source: str | None = None,
                     limit: int | None = None) -> list[DeadLetter]:
        """Dead letters, oldest first, of one source or all."""
        dsl = {"term": {"source": source}} if source is not None else {"match_all": {}}
        sort = [{"received": "asc"}, {"id": "asc"}]
        return [_letter(doc) for doc in
                self._pages(self.names.index("dead-letters"), dsl, sort, limit)]

    def remove_dead_letters(self, ids: Sequence[str]) -> int:
        """Forget dead letters (after a replay). Returns how many were removed."""
        self._writable("remove dead letters")
        if not ids:
            return 0
        index = self.names.index("dead-letters")
        ops = [{"delete": {"_index": index, "_id": i}} for i in dict.fromkeys(ids)]
        with es_errors("cannot remove dead letters", self.options):
            resp = self.client.bulk(operations=ops, refresh=self.options.refresh or "wait_for")
        return sum(1 for item in resp["items"] if item["delete"].get("result") == "deleted")

    # housekeeping --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts and sizes for ``soc store stats`` and ``soc status``."""
        with es_errors("cannot read store statistics", self.options):
            stats = housekeeping.stats(self.client, self.names)
        used, batches = self.spool.size()
        return {"kind": self.kind, "hosts": self.options.shown_hosts.split(", "),
                "schema_version": templates.digest(templates.mappings())[:8], **stats,
                "spool_bytes": used, "spool_batches": batches}

    def doctor(self) -> list[dict[str, str]]:
        """Checks for ``soc store doctor`` (see soc.stores.es.doctor)."""
        from soc.stores.es.doctor import run_checks

        return run_checks(self)

    def retention(self, keep_days: Callable[[int | None], int], *, now: datetime,
                  apply: bool = False, holds: Sequence[Hold] = ()) -> list[RetentionItem]:
        """Days of events per level and their fate; ``apply`` deletes the expired days now,
        except the events ``holds`` keep (``must_not`` their ids). ILM deletes whole backing
        indices on its own schedule, holds or not: see :meth:`ilm_plan`."""
        if apply:
            self._writable("apply retention")
        held = self._held(holds)
        with es_errors("cannot read retention", self.options):
            items = housekeeping.day_levels(self.client, self.names, keep_days, now)
            items = housekeeping.with_holds(self.client, self.names, items, held)
            if apply:
                housekeeping.delete_days(
                    self.client, self.names,
                    [i for i in items if i.expired and not 0 < i.events <= i.held],
                    keep={e for ids in held.values() for e in ids}, caps=self.caps)
        return items

    def _held(self, holds: Sequence[Hold]) -> dict[str, set[str]]:
        """Incident → the event ids it holds: those linked to its alerts and its own."""
        held: dict[str, set[str]] = {}
        for hold in holds:
            ids = held.setdefault(hold.incident, set(hold.events))
            for alert_id in hold.alerts:
                ids.update(eid for eid, _ in self.alert_links(alert_id))
        return held

    def ilm_plan(self) -> list[dict[str, Any]]:
        """The ILM policies of our streams and when ILM will delete each backing index."""
        with es_errors("cannot read ILM state", self.options):
            return housekeeping.ilm_plan(self.client, self.names, self.caps)


def _sort(order: str) -> list[dict[str, Any]]:
    kinds = {"@timestamp": "date", "event.id": "keyword"}
    return [{name: {"order": order, "unmapped_type": kinds[name]}} for name in SORT_ORDER]


def _letter_doc(d: DeadLetter) -> dict[str, Any]:
    return {"id": d.id, "source": d.source, "origin": d.origin, "reason": d.reason,
            "parser": d.parser, "received": d.received,
            "raw": base64.b64encode(d.raw).decode("ascii"),
            "fields": json.dumps([list(p) for p in d.fields], ensure_ascii=False, default=str)}


def _letter(doc: dict[str, Any]) -> DeadLetter:
    return DeadLetter(id=doc["id"], source=doc["source"], origin=doc["origin"],
                      reason=doc["reason"], raw=base64.b64decode(doc["raw"]),
                      received=doc["received"], parser=doc.get("parser"),
                      fields=tuple((str(k), v) for k, v in json.loads(doc["fields"])))


__all__ = ["ElasticsearchStore", "build"]
