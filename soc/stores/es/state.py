"""Rule hits and alerts on Elasticsearch, with the embedded store's semantics.

* ``soc-rule-hits``: one document per hit, ``_id`` = ``hit.id`` written with ``op_type: create``
  (409 = kept already); ``ts`` is a keyword so the contract's string bounds (``""`` and
  ``"\\uffff"``) compare as on the embedded store. Read oldest first with ``search_after``.
* ``soc-alert-events``: one document per (alert, event) link, ``_id`` a digest of both, so an
  alert's ``count`` (distinct linked events) is a count of its links.
* ``soc-alerts``: the alert's document plus the fields Kibana and the filters use. Detection
  writes an alert at the version it found it (``if_seq_no``/``if_primary_term``); on a 409 it
  reads the stored one again and keeps its analyst fields (status, assignee, reason), so a
  ``soc alerts ack`` racing with detection is never undone. :meth:`update_alert` (people)
  raises :class:`ConflictError` instead.
* With notifications routed (``tells``), :meth:`upsert_alerts` and
  :meth:`update_alert_audited` queue the changes they cause in the notification outbox just
  *before* the alert write (:mod:`soc.stores.es.outbox`: no transaction spans the two).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from soc.ecs import format_ts, parse_ts
from soc.errors import NotFoundError, StoreError
from soc.models import Alert, AlertQuery, AuditEntry, RuleHit
from soc.outbox import Change, change_for_entry, changes_for_alert
from soc.stores import alert_groups
from soc.stores.base import ALERT_HINT, ConflictError, conflict, reconcile
from soc.stores.es import alert_counts as by_group
from soc.stores.es import housekeeping
from soc.stores.es.connection import es_errors
from soc.stores.es.outbox import OutboxMixin

if TYPE_CHECKING:
    from soc.stores.es.writer import BulkWriter

CHUNK = 1000  # terms and ids per request
RETRIES = 10  # re-reads of one alert that keeps changing under a detection write
HIT_SORT: list[dict[str, Any]] = [{"ts": "asc"}, {"id": "asc"}]
RECENT: list[dict[str, Any]] = [{"last_seen": {"order": "desc"}}, {"id": "asc"}]
_EXTRA = ("@timestamp", "severity_rank", "rule.id", "rule.name", "rule.level",
          "organization.id", "labels.system", "first_event")


def alert_doc(alert: Alert) -> dict[str, Any]:
    """The stored document: the alert (its first event as ``first_event``, which no event
    mapping can clash with) and the fields the dashboards and filters use."""
    doc = alert.to_dict()
    doc["first_event"] = doc.pop("event")
    doc.update({"@timestamp": alert.first_seen, "severity_rank": alert.severity.rank,
                "rule.id": alert.rule_id, "rule.name": alert.rule_title,
                "rule.level": alert.severity.value, "organization.id": alert.unit,
                "labels.system": alert.system})
    return doc


def alert_of(doc: Mapping[str, Any]) -> Alert:
    """The alert a stored document holds."""
    plain = {k: v for k, v in doc.items() if k not in _EXTRA}
    return Alert.from_dict({**plain, "event": doc.get("first_event")})


def link_id(alert_id: str, event_id: str) -> str:
    """The ``_id`` of one alert-event link."""
    return hashlib.blake2b(f"{alert_id}\0{event_id}".encode(), digest_size=16).hexdigest()


class StateMixin(OutboxMixin):
    """Rule hits and alerts of :class:`ElasticsearchStore` (the Store contract)."""

    writer: BulkWriter
    if TYPE_CHECKING:
        def append_audit(self, entry: AuditEntry) -> AuditEntry: ...  # RecordsMixin's

    # rule hits -----------------------------------------------------------------------------------

    def write_hits(self, hits: Sequence[RuleHit]) -> int:
        """Keep hits (``_id`` = ``hit.id``, ``op_type: create``: 409 = kept already)."""
        self._writable("write rule hits")
        index = self._doc_index("rule-hits")
        actions = list({h.id: (index, h.id, h.to_dict()) for h in hits}.values())
        return self.writer.send(actions).created if actions else 0

    def hits(self, correlation: str, *, since: str, until: str,
             groups: Collection[str] | None = None) -> list[RuleHit]:
        """Hits of a correlation with ``since <= ts <= until`` (of ``groups``), oldest first."""
        filters: list[dict[str, Any]] = [{"term": {"correlation": correlation}},
                                         {"range": {"ts": {"gte": since, "lte": until}}}]
        if groups is None:
            return self._hits(filters)
        keys = sorted(set(groups))
        found: list[RuleHit] = []
        for start in range(0, len(keys), CHUNK):
            found += self._hits([*filters, {"terms": {"group_key": keys[start:start + CHUNK]}}])
        return sorted(found, key=lambda h: (h.ts, h.id))

    def _hits(self, filters: list[dict[str, Any]]) -> list[RuleHit]:
        return [RuleHit.from_dict(h["_source"]) for h in self._scan(
            "rule-hits", {"bool": {"filter": filters}}, HIT_SORT, action="cannot read rule hits")]

    def prune_hits(self, correlation: str, before: str) -> int:
        """Forget the hits of a correlation older than ``before`` (``delete_by_query``)."""
        self._writable("prune rule hits")
        query = {"bool": {"filter": [{"term": {"correlation": correlation}},
                                     {"range": {"ts": {"lt": before}}}]}}
        with es_errors("cannot prune rule hits", self.options):
            return housekeeping.delete_matching(
                self.client, self._doc_index("rule-hits"), query,
                refresh=bool(self.options.refresh), caps=self.caps)

    # alerts --------------------------------------------------------------------------------------

    def find_alert(self, dedup: str, ts: str, window: timedelta) -> Alert | None:
        """The latest alert of this dedup key whose seen range, widened by ``window``, holds ts."""
        moment = parse_ts(ts)
        query = {"bool": {"filter": [
            {"term": {"dedup": dedup}},
            {"range": {"last_seen": {"gte": format_ts(moment - window)}}},
            {"range": {"first_seen": {"lte": format_ts(moment + window)}}}]}}
        for hit in self._scan("alerts", query, RECENT, 1, action="cannot read alerts",
                              versions=True):
            return alert_of(hit["_source"])
        return None

    def upsert_alerts(self, alerts: Sequence[Alert],
                      links: Mapping[str, Sequence[tuple[str, str]]]) -> list[Alert]:
        """Link each alert to its events, recount, and write it (at the version read)."""
        self._writable("write alerts")
        if not alerts:
            return []
        self._link(alerts, links)
        counts = self._link_counts([a.id for a in alerts])
        drafts = [replace(a, count=counts.get(a.id, 0)) for a in alerts]
        if self.tells:  # queued first: a crash before the write re-queues the same keys
            self._queue(self._alert_changes(drafts))
        return self._write_alerts(drafts)

    def _alert_changes(self, drafts: Sequence[Alert]) -> list[Change]:
        """The changes writing ``drafts`` causes, against the alerts stored now (real-time
        ``mget``), each as :meth:`_write_alerts` will write it: reconciled with the stored one
        when this handle read another version (or none)."""
        stored = self._stored_alerts([a.id for a in drafts])
        changes: list[Change] = []
        for draft in drafts:
            before, version = stored.get(draft.id, (None, None))
            final = draft
            if before is not None and version != self._versions.get(("alerts", draft.id)):
                final = reconcile(draft, before)
            changes += changes_for_alert(before, final)
        return changes

    def _stored_alerts(self, ids: Sequence[str]) -> dict[str, tuple[Alert, tuple[int, int]]]:
        """The stored alerts of ``ids`` and their versions, not remembered as read (detection
        must not overwrite an analyst's change it never saw)."""
        found: dict[str, tuple[Alert, tuple[int, int]]] = {}
        for start in range(0, len(ids), CHUNK):
            with es_errors("cannot read alerts", self.options):
                resp = self.client.mget(index=self._doc_index("alerts"),
                                        ids=list(ids[start:start + CHUNK]))
            found.update({d["_id"]: (alert_of(d["_source"]),
                                     (int(d["_seq_no"]), int(d["_primary_term"])))
                          for d in resp["docs"] if d.get("found")})
        return found

    def _link(self, alerts: Sequence[Alert],
              links: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        index = self._doc_index("alert-events")
        actions = list({link_id(a.id, eid): (index, link_id(a.id, eid),
                                             {"alert_id": a.id, "event_id": eid, "ts": ts})
                        for a in alerts for eid, ts in links.get(a.id, ())}.values())
        if actions:
            self.writer.send(actions)
        with es_errors("cannot link alerts to their events", self.options):
            self.client.indices.refresh(index=index, ignore_unavailable=True)

    def _link_counts(self, alert_ids: Sequence[str]) -> dict[str, int]:
        """Distinct linked events per alert (one link document per alert and event)."""
        ids = list(dict.fromkeys(alert_ids))
        counts: dict[str, int] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            with es_errors("cannot count alert links", self.options):
                resp = self.client.search(
                    index=self._doc_index("alert-events"), size=0,
                    query={"terms": {"alert_id": chunk}}, ignore_unavailable=True,
                    aggs={"alerts": {"terms": {"field": "alert_id", "size": len(chunk)}}})
            buckets = (resp.get("aggregations") or {}).get("alerts", {}).get("buckets", [])
            counts.update({str(b["key"]): int(b["doc_count"]) for b in buckets})
        return counts

    def _write_alerts(self, drafts: list[Alert]) -> list[Alert]:
        """One bulk request; the alerts someone changed meanwhile are reconciled one by one."""
        index = self._doc_index("alerts")
        ops: list[dict[str, Any]] = []
        for alert in drafts:
            ops += [self._alert_op(index, alert.id), alert_doc(alert)]
        with es_errors("cannot write alerts", self.options):
            resp = self.client.bulk(operations=ops, refresh=self._visible)
        stored: list[Alert] = []
        for alert, item in zip(drafts, resp["items"], strict=True):
            result = next(iter(item.values()))
            status = int(result.get("status", 0))
            if status == 409:
                alert = self._reconciled(alert)
            elif status in (200, 201):
                self._remember("alerts", result)
            else:
                raise StoreError(f"cannot write alert {alert.id}: {status} "
                                 f"{(result.get('error') or {}).get('reason', '')}".rstrip())
            stored.append(alert)
        return stored

    def _alert_op(self, index: str, alert_id: str) -> dict[str, Any]:
        version = self._versions.get(("alerts", alert_id))
        if version is None:
            return {"create": {"_index": index, "_id": alert_id}}
        return {"index": {"_index": index, "_id": alert_id, "if_seq_no": version[0],
                          "if_primary_term": version[1]}}

    def _reconciled(self, ours: Alert) -> Alert:
        """Write ``ours`` over what is stored now, re-read until no one changes it between."""
        for _ in range(RETRIES):
            doc = self._fetch("alerts", ours.id)
            final = ours if doc is None else reconcile(ours, alert_of(doc))
            final = replace(final, count=self._link_counts([ours.id]).get(ours.id, 0))
            try:
                self._replace("alerts", ours.id, alert_doc(final), noun="alert")
                return final
            except ConflictError:
                continue
        raise conflict("alert", ours.id, "It changed on every one of "
                       f"{RETRIES} tries; run the pass again.")

    def linked_events(self, alert_id: str, event_ids: Collection[str]) -> set[str]:
        """Which of ``event_ids`` are linked to the alert already (real-time ``mget``)."""
        by_link = {link_id(alert_id, e): e for e in event_ids}
        links = list(by_link)
        found: set[str] = set()
        for start in range(0, len(links), CHUNK):
            with es_errors("cannot read alert links", self.options):
                resp = self.client.mget(index=self._doc_index("alert-events"),
                                        ids=links[start:start + CHUNK], source=False)
            found.update(by_link[d["_id"]] for d in resp["docs"] if d.get("found"))
        return found

    def alert_links(self, alert_id: str) -> list[tuple[str, str]]:
        """Every (event id, event time) linked to the alert, by time, then id."""
        hits = self._scan("alert-events", {"term": {"alert_id": alert_id}},
                          [{"ts": "asc"}, {"event_id": "asc"}], action="cannot read alert links")
        return [(str(h["_source"]["event_id"]), str(h["_source"]["ts"])) for h in hits]

    def list_alerts(self, query: AlertQuery | None = None) -> list[Alert]:
        """Alerts matching the filters, most recently seen first."""
        q = query or AlertQuery()
        return [alert_of(h["_source"]) for h in self._scan(
            "alerts", _alert_query(q), RECENT, q.limit,
            action="cannot list alerts", versions=True)]

    def count_alerts(self, query: AlertQuery | None = None) -> int:
        """How many alerts match the filters (the limit aside): a ``count`` request, no alert
        read (the queue asks on every page that has more)."""
        with es_errors("cannot count alerts", self.options):
            resp = self.client.count(index=self._doc_index("alerts"), ignore_unavailable=True,
                                     query=_alert_query(query or AlertQuery()))
        return int(resp["count"])

    def alert_counts(self, query: AlertQuery | None = None, *, group_by: Sequence[str] = (),
                     day_offset: int | None = None) -> list[dict[str, Any]]:
        """Grouped alert counts (see :meth:`Store.alert_counts`) by a ``composite``
        aggregation (:mod:`soc.stores.es.alert_counts`), page by page: no alert read."""
        fields = alert_groups.checked(group_by)
        q = query or AlertQuery()
        if not fields and day_offset is None:
            return alert_groups.rows([((), self.count_alerts(q))], fields, day_offset)
        found: list[tuple[alert_groups.Key, int]] = []
        after: dict[str, Any] | None = None
        while True:
            with es_errors("cannot count alerts", self.options):
                resp = self.client.search(
                    index=self._doc_index("alerts"), query=_alert_query(q), size=0,
                    aggs=by_group.request(fields, day_offset, after),
                    track_total_hits=False, ignore_unavailable=True)
            groups = (resp.get("aggregations") or {}).get("groups") or {}
            buckets = list(groups.get("buckets") or ())
            found += by_group.keyed(buckets, fields, day_offset)
            after = groups.get("after_key")
            if not after or len(buckets) < by_group.PAGE:
                return alert_groups.rows(found, fields, day_offset)

    def get_alert(self, alert_id: str) -> Alert | None:
        """One alert by id or by a unique prefix (6 characters or more)."""
        doc = self._fetch("alerts", alert_id) if alert_id else None
        if doc is None and len(alert_id) >= 6:
            found = list(self._scan("alerts", {"prefix": {"id": alert_id}}, RECENT, 2,
                                    action="cannot read alerts", versions=True))
            doc = found[0]["_source"] if len(found) == 1 else None
        return alert_of(doc) if doc is not None else None

    def update_alert(self, alert: Alert) -> None:
        """Replace an alert's document at the version this handle read; ConflictError when
        someone else changed it since, NotFoundError when there is none."""
        self._writable("update alerts")
        if ("alerts", alert.id) not in self._versions and self._fetch("alerts", alert.id) is None:
            raise NotFoundError(f"no alert {alert.id}", hint="List them: soc alerts list")
        self._replace("alerts", alert.id, alert_doc(alert), noun="alert", hint=ALERT_HINT)

    def update_alert_audited(self, alert: Alert, entry: AuditEntry) -> AuditEntry:
        """The Store default's two writes (the alert, then its entry), the change an ack or a
        close causes queued before them when notifications are routed."""
        self._writable("update alerts")
        change = change_for_entry(entry, alert) if self.tells else None
        if change is not None:
            self._queue([change])
        self.update_alert(alert)
        return self.append_audit(entry)


def _alert_query(q: AlertQuery) -> dict[str, Any]:
    return {"bool": {"filter": alert_filters(q)}}


def alert_filters(q: AlertQuery) -> list[dict[str, Any]]:
    """The filters of ``list_alerts``."""
    filters: list[dict[str, Any]] = []
    for field, value in (("status", q.status.value if q.status else None), ("rule_id", q.rule),
                         ("labels.system", q.system), ("organization.id", q.unit),
                         ("assignee", q.assignee), ("incident", q.incident)):
        if value is not None:
            filters.append({"term": {field: value}})
    if q.min_severity is not None:
        filters.append({"range": {"severity_rank": {"gte": q.min_severity.rank}}})
    if q.since is not None:
        filters.append({"range": {"last_seen": {"gte": q.since}}})
    return filters

