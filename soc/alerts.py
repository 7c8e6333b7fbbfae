"""From rule hits to alerts: deterministic ids, suppression of repeats, and the alert lifecycle.

A :class:`Finding` is what detection saw (a rule hit or a correlation match). :class:`AlertSink`
turns findings into stored alerts: findings of the same rule and group (the *dedup key*) within
the suppression window of an alert update that alert (first/last seen, linked events) instead of
raising another. Alert ids are digests of (rule, group, anchor time), and counts are distinct
linked events, so a batch read again after a crash changes nothing.

The lifecycle (:func:`acknowledge`, :func:`close`, :func:`assign`, :func:`comment`,
:func:`attach` to an incident, :func:`close_for_incident`, :func:`close_where`) writes one
entry per change to the hash-chained audit trail, with the change
(``store.update_alert_audited``).
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from soc import audit
from soc.detection.correlation import CorrelationMatch
from soc.detection.hits import Hit
from soc.ecs import now_ts, parse_ts
from soc.errors import InputError, NotFoundError
from soc.models import ENTITY_FIELDS, MAX_IDS, Alert, AlertQuery, AlertStatus, Severity
from soc.search import compile_query, setup_connection
from soc.stores.base import Store

DEFAULT_SUPPRESS = timedelta(hours=1)
DEDUP_FIELDS = ("organization.id", "labels.system", "host.name", "source.ip", "user.name")
"""What makes two hits of one (non-correlation) rule the same alert."""
DEFAULT_SEVERITY = Severity.MEDIUM  # a Sigma rule without a level


def digest(*parts: object) -> str:
    text = "\x1f".join(json.dumps(p, sort_keys=True, ensure_ascii=False, default=str)
                       for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=4096)
def _dedup(rule_id: str, items: tuple[tuple[str, type, Any], ...]) -> str:
    return digest(rule_id, {k: v for k, _, v in items})


@dataclass(frozen=True)
class Finding:
    """Something detection saw, before deduplication."""

    rule_id: str
    title: str
    level: Severity | None
    tags: tuple[str, ...]
    ts: str  # event time
    anchor: str  # time that anchors the alert id (the event, or the window start)
    group: dict[str, Any]
    entity: dict[str, Any]
    triggers: tuple[tuple[str, str], ...]  # (event id, time)
    contributing: tuple[tuple[str, str], ...] = ()
    kind: str = "rule"
    event: dict[str, Any] | None = field(default=None, repr=False)
    value: int | None = None  # correlations: the count that met the condition

    @property
    def severity(self) -> Severity:
        return self.level or DEFAULT_SEVERITY

    @functools.cached_property
    def dedup(self) -> str:
        """Digest of rule and group: findings with one dedup key may update one alert."""
        try:
            items = tuple((k, type(v), v) for k, v in self.group.items())
            return _dedup(self.rule_id, items)
        except TypeError:  # a group value that cannot be hashed (a list)
            return digest(self.rule_id, self.group)

    @functools.cached_property
    def alert_id(self) -> str:
        return digest(self.rule_id, self.group, self.anchor)

    @functools.cached_property
    def links(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict.fromkeys((*self.triggers, *self.contributing)))

    @classmethod
    def from_hit(cls, hit: Hit) -> Finding:
        e = hit.event
        ts = str(e.get("@timestamp", ""))
        entity = {f: e[f] for f in ENTITY_FIELDS if e.get(f) not in (None, "")}
        group = {f: entity[f] for f in DEDUP_FIELDS if f in entity}
        return cls(rule_id=hit.rule_id, title=hit.title, level=hit.level, tags=hit.tags, ts=ts,
                   anchor=ts, group=group, entity=entity,
                   triggers=((str(e.get("event.id", "")), ts),), event=e)

    @classmethod
    def from_match(cls, m: CorrelationMatch) -> Finding:
        s = m.spec
        entity = {**m.entity, **{k: v for k, v in m.group.items() if k in ENTITY_FIELDS}}
        return cls(rule_id=s.id, title=s.title, level=s.level, tags=s.tags, ts=m.ts,
                   anchor=m.window_start, group=dict(m.group), entity=entity,
                   triggers=((m.trigger, m.ts),), contributing=m.contributing, kind=s.type,
                   event=m.event, value=m.value)

    def to_dict(self) -> dict[str, Any]:
        """The ``soc detect`` record: rule id, title, level, timestamp, the event..."""
        out: dict[str, Any] = {
            "rule_id": self.rule_id, "title": self.title, "level": self.severity.value,
            "timestamp": self.ts, "kind": self.kind, "tags": list(self.tags),
            "entity": self.entity}
        if self.value is not None:  # a correlation
            out.update(group=self.group, count=self.value, window_start=self.anchor,
                       events=[eid for eid, _ in self.contributing])
        out["event"] = self.event
        return out


@dataclass
class SinkResult:
    new: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)


class AlertSink:
    """Writes findings as alerts, merging repeats within the suppression window."""

    def __init__(self, store: Store, *, suppress: timedelta = DEFAULT_SUPPRESS) -> None:
        self.store = store
        self.suppress = suppress

    def raise_alerts(self, findings: Iterable[Finding]) -> SinkResult:
        """Store alerts for ``findings``; returns the alerts created and those updated."""
        by_key: dict[str, list[Finding]] = {}
        for f in findings:
            by_key.setdefault(f.dedup, []).append(f)
        result = SinkResult()
        pending: dict[str, tuple[Alert, bool]] = {}
        links: dict[str, dict[tuple[str, str], None]] = {}
        for key in sorted(by_key):
            for alert, is_new, new_links in self._episodes(sorted(by_key[key], key=_ts)):
                if alert.id in pending:  # two episodes met one stored alert
                    before, was_new = pending[alert.id]
                    alert, is_new = _combine(before, alert), was_new or is_new
                pending[alert.id] = (alert, is_new)
                links.setdefault(alert.id, {}).update(dict.fromkeys(new_links))
        if not pending:
            return result
        stored = self.store.upsert_alerts([a for a, _ in pending.values()],
                                          {k: list(v) for k, v in links.items()})
        for alert in stored:
            (result.new if pending[alert.id][1] else result.updated).append(alert)
        return result

    def _episodes(self, findings: list[Finding]) -> Iterable[tuple[Alert, bool,
                                                                   list[tuple[str, str]]]]:
        """Findings of one dedup key in time order, as alerts: each finding within the
        suppression window of the current alert's seen range widens it."""
        current: _Draft | None = None
        for f in findings:
            if current is not None and current.within(f.ts, self.suppress):
                current.add(f)
                continue
            if current is not None:
                yield current.done()
            current = self._start(f)
        if current is not None:
            yield current.done()

    def _start(self, f: Finding) -> _Draft:
        found = self.store.find_alert(f.dedup, f.ts, self.suppress)
        if found is not None and found.status is AlertStatus.CLOSED and found.id != f.alert_id:
            known = self.store.linked_events(found.id, [eid for eid, _ in f.links])
            if len(known) < len(f.links):
                found = None  # new activity after a close: a new alert
        if found is None:
            return _Draft(new_alert(f), True, f)
        return _Draft(merge(found, f), False, f)


class _Draft:
    """An alert being widened by the findings of one episode; :meth:`done` is
    ``merge(merge(alert, f1), f2)...`` built once."""

    __slots__ = ("alert", "findings", "first", "is_new", "last", "links")

    def __init__(self, alert: Alert, is_new: bool, f: Finding) -> None:
        self.alert, self.is_new = alert, is_new
        self.first, self.last = alert.first_seen, alert.last_seen
        self.findings: list[Finding] = []
        self.links = list(f.links)

    def within(self, ts: str, window: timedelta) -> bool:
        t = _parse(ts)
        return _parse(self.first) - window <= t <= _parse(self.last) + window

    def add(self, f: Finding) -> None:
        self.first = min(self.first, f.ts, f.anchor)
        self.last = max(self.last, f.ts)
        self.findings.append(f)
        self.links.extend(f.links)

    def done(self) -> tuple[Alert, bool, list[tuple[str, str]]]:
        return merge_all(self.alert, self.findings), self.is_new, self.links


@functools.lru_cache(maxsize=1 << 14)
def _parse(ts: str) -> datetime:
    return parse_ts(ts)


def _ts(f: Finding) -> str:
    return f.ts


def new_alert(f: Finding) -> Alert:
    """The alert a first finding raises."""
    now = now_ts()
    return Alert(
        id=f.alert_id, rule_id=f.rule_id, rule_title=f.title, severity=f.severity,
        first_seen=min(f.ts, f.anchor), last_seen=f.ts, count=len(f.links), kind=f.kind,
        dedup=f.dedup, group=dict(f.group), entity=dict(f.entity), tags=f.tags,
        event_ids=tuple(eid for eid, _ in f.triggers)[:MAX_IDS],
        contributing=tuple(eid for eid, _ in f.contributing)[:MAX_IDS],
        created=now, updated=now, event=f.event)


def merge(alert: Alert, f: Finding) -> Alert:
    """``alert`` widened by a repeat (the store recounts the linked events)."""
    entity = {k: v for k, v in alert.entity.items() if f.entity.get(k) == v}
    return replace(
        alert, first_seen=min(alert.first_seen, f.ts, f.anchor),
        last_seen=max(alert.last_seen, f.ts), entity=entity,
        event_ids=_capped(alert.event_ids, (eid for eid, _ in f.triggers)),
        contributing=_capped(alert.contributing, (eid for eid, _ in f.contributing)),
        updated=now_ts(), event=alert.event or f.event)


def merge_all(alert: Alert, findings: Sequence[Finding]) -> Alert:
    """``merge`` of each finding in turn, in one step."""
    if not findings:
        return alert
    if len(findings) == 1:
        return merge(alert, findings[0])
    entity = {k: v for k, v in alert.entity.items()
              if all(f.entity.get(k) == v for f in findings)}
    event = alert.event
    for f in findings:
        event = event or f.event
    return replace(
        alert, first_seen=min(alert.first_seen, *(min(f.ts, f.anchor) for f in findings)),
        last_seen=max(alert.last_seen, *(f.ts for f in findings)), entity=entity,
        event_ids=_capped(alert.event_ids, (eid for f in findings for eid, _ in f.triggers)),
        contributing=_capped(alert.contributing,
                             (eid for f in findings for eid, _ in f.contributing)),
        updated=now_ts(), event=event)


def _combine(a: Alert, b: Alert) -> Alert:
    return replace(a, first_seen=min(a.first_seen, b.first_seen),
                   last_seen=max(a.last_seen, b.last_seen),
                   entity={k: v for k, v in a.entity.items() if b.entity.get(k) == v},
                   event_ids=_capped(a.event_ids, b.event_ids),
                   contributing=_capped(a.contributing, b.contributing))


def _capped(kept: Sequence[str], more: Iterable[str]) -> tuple[str, ...]:
    out = dict.fromkeys(kept)
    for eid in more:
        if len(out) >= MAX_IDS:
            break
        out[eid] = None
    return tuple(out)


# --- lifecycle ----------------------------------------------------------------------------------


def current_actor(explicit: str | None = None) -> str:
    """Who acts: ``--actor``, else ``$SOC_ACTOR``, else the OS user."""
    if explicit:
        return explicit
    env = os.environ.get("SOC_ACTOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def get(store: Store, alert_id: str) -> Alert:
    """The alert with this id (or unique prefix); NotFoundError naming the next command."""
    alert = store.get_alert(alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id!r}",
                            hint="List alerts with 'soc alerts list' (a unique id prefix of "
                                 "6 characters or more is enough).")
    return alert


def _change(store: Store, alert: Alert, actor: str, action: str, before: Any, after: Any,
            data_dir: Path | None, extra: dict[str, Any] | None = None,
            **changes: Any) -> Alert:
    updated = replace(alert, updated=now_ts(), **changes)
    entry = audit.new_entry(actor=actor, action=action, subject=alert.id, before=before,
                            after=after, state=updated.to_dict(), **(extra or {}))
    audit.write_head(data_dir, store.update_alert_audited(updated, entry))
    return updated


def acknowledge(store: Store, alert_id: str, actor: str, *,
                data_dir: Path | None = None) -> Alert:
    """Mark an alert as seen and being looked at (audited)."""
    alert = get(store, alert_id)
    return _change(store, alert, actor, "alert.ack", alert.status.value,
                   AlertStatus.ACKNOWLEDGED.value, data_dir, status=AlertStatus.ACKNOWLEDGED)


def close(store: Store, alert_id: str, reason: str, actor: str, *,
          data_dir: Path | None = None) -> Alert:
    """Close an alert with a reason (false positive, handled in incident X...) (audited)."""
    if not reason.strip():
        raise InputError("a reason is needed to close an alert",
                         hint="Say why: soc alerts close ID --reason 'false positive: ...'")
    alert = get(store, alert_id)
    return _change(store, alert, actor, "alert.close", alert.status.value,
                   AlertStatus.CLOSED.value, data_dir, {"reason": reason},
                   status=AlertStatus.CLOSED, reason=reason)


def assign(store: Store, alert_id: str, user: str, actor: str, *,
           data_dir: Path | None = None) -> Alert:
    """Give an alert to an analyst (audited)."""
    alert = get(store, alert_id)
    return _change(store, alert, actor, "alert.assign", alert.assignee, user, data_dir,
                   assignee=user)


def comment(store: Store, alert_id: str, text: str, actor: str, *,
            data_dir: Path | None = None) -> Alert:
    """Add an analyst's comment to an alert (audited; the alert keeps them, oldest first)."""
    if not text.strip():
        raise InputError("an empty comment", hint="Say something: soc alerts comment ID 'TEXT'")
    alert = get(store, alert_id)
    note = {"ts": now_ts(), "actor": actor, "text": text}
    return _change(store, alert, actor, "alert.comment", None, text, data_dir,
                   comments=(*alert.comments, note))


def attach(store: Store, alert: Alert, incident_id: str, actor: str, *,
           data_dir: Path | None = None) -> Alert:
    """Tie an alert to an incident (audited): an open alert becomes acknowledged, since the
    incident's responders are on it. An alert already tied to it is left as it is."""
    if alert.incident == incident_id:
        return alert
    status = AlertStatus.ACKNOWLEDGED if alert.status is AlertStatus.OPEN else alert.status
    return _change(store, alert, actor, "alert.attach", alert.incident, incident_id, data_dir,
                   {"incident": incident_id}, incident=incident_id, status=status)


def close_for_incident(store: Store, alert_ids: Iterable[str], incident_id: str, outcome: str,
                       actor: str, *, data_dir: Path | None = None) -> list[Alert]:
    """Close the alerts of a closed incident, the incident as reason (one audit entry each).
    Alerts already closed, gone, or since tied to another incident are left alone."""
    reason = f"incident {incident_id} closed: {outcome}"
    closed = []
    for alert_id in alert_ids:
        alert = store.get_alert(alert_id)
        if alert is None or alert.status is AlertStatus.CLOSED or \
                alert.incident not in (None, incident_id):
            continue
        closed.append(_change(store, alert, actor, "alert.close", alert.status.value,
                              AlertStatus.CLOSED.value, data_dir,
                              {"reason": reason, "incident": incident_id},
                              status=AlertStatus.CLOSED, reason=reason,
                              incident=incident_id))
    return closed


QUERY_FIELDS = ("id", "rule_id", "rule_title", "severity", "status", "kind", "assignee",
                "incident", "first_seen", "last_seen", "created", "updated", "count", "reason",
                "tags")
"""The alert's own fields a ``--where`` query can name; its entity and group fields
(``host.name``, ``source.ip``...) can be named too."""


def query_doc(alert: Alert) -> dict[str, Any]:
    """The flat document ``--where`` queries see: the alert's fields, then its entity and group
    (ECS names), then ``rule.id``/``rule.name``/``rule.level`` as the rules name them."""
    d = alert.to_dict()
    doc: dict[str, Any] = {k: d[k] for k in QUERY_FIELDS}
    for k, v in (*alert.entity.items(), *alert.group.items()):
        doc.setdefault(k, v)
    doc.setdefault("rule.id", alert.rule_id)
    doc.setdefault("rule.name", alert.rule_title)
    doc.setdefault("rule.level", alert.severity.value)
    return doc


def select(alerts: Sequence[Alert], query: str) -> list[Alert]:
    """The alerts a Lucene query matches (the syntax and semantics of ``soc search``, over
    :func:`query_doc`), in the order given. :class:`soc.search.QueryError` on a bad query."""
    where, params = compile_query(query)
    conn = sqlite3.connect(":memory:")
    try:
        setup_connection(conn)
        conn.execute("CREATE TABLE alerts (i INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
        conn.executemany("INSERT INTO alerts VALUES (?, ?)",
                         ((i, json.dumps(query_doc(a), ensure_ascii=False, default=str))
                          for i, a in enumerate(alerts)))
        hits = {i for (i,) in conn.execute(f"SELECT i FROM alerts WHERE {where}", params)}
    finally:
        conn.close()
    return [a for i, a in enumerate(alerts) if i in hits]


def close_where(store: Store, query: str, reason: str, actor: str, *,
                data_dir: Path | None = None, dry_run: bool = False) -> list[Alert]:
    """Close every alert not yet closed that ``query`` matches, with one reason and one audit
    entry per alert (``soc alerts close --where``). ``dry_run`` only says which."""
    if not reason.strip():
        raise InputError("a reason is needed to close alerts",
                         hint="Say why: --reason 'our vulnerability scanner, ticket 123'")
    if not query.strip():
        raise InputError("an empty --where query",
                         hint="Name what to close, e.g. --where 'rule_id:ID AND source.ip:"
                              "10.0.5.20' (all of them: --where '*').")
    candidates = [a for a in store.list_alerts(AlertQuery(limit=None))
                  if a.status is not AlertStatus.CLOSED]
    chosen = select(candidates, query)
    if dry_run:
        return chosen
    return [_change(store, a, actor, "alert.close", a.status.value, AlertStatus.CLOSED.value,
                    data_dir, {"reason": reason, "where": query},
                    status=AlertStatus.CLOSED, reason=reason) for a in chosen]


@dataclass(frozen=True)
class AlertPage:
    """One page of ``soc alerts list``: the alerts from ``offset`` on, and how many more
    match past them."""

    alerts: list[Alert]
    offset: int
    more: int

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.alerts)


def page(store: Store, query: AlertQuery, offset: int = 0, *,
         where: str | None = None) -> AlertPage:
    """The alerts of ``query`` from ``offset`` on (at most ``query.limit``), most recently seen
    first; ``more`` counts the matching alerts past the page (counted only when there are).
    ``where``: a query over :func:`query_doc` too (:func:`select`)."""
    limit = query.limit
    if where is not None:
        found = select(store.list_alerts(replace(query, limit=None)), where)
        shown = found[offset:] if limit is None else found[offset:offset + limit]
        return AlertPage(shown, offset, max(len(found) - offset - len(shown), 0))
    found = store.list_alerts(replace(query, limit=None if limit is None else offset + limit + 1))
    shown = found[offset:] if limit is None else found[offset:offset + limit]
    more = 0
    if limit is not None and len(found) > offset + limit:
        more = max(store.count_alerts(query) - offset - limit, len(found) - offset - limit)
    return AlertPage(shown, offset, more)


def summary_row(alert: Alert) -> dict[str, Any]:
    """One table row for ``soc alerts list`` and ``soc demo``."""
    e = alert.entity
    entity = " ".join(f"{k}={e[k]}" for k in ("host.name", "user.name", "source.ip",
                                               "destination.ip") if k in e)
    return {"id": alert.id, "last_seen": alert.last_seen, "severity": alert.severity.value,
            "status": alert.status.value, "rule_title": alert.rule_title, "count": alert.count,
            "entity": entity, "system": alert.system, "unit": alert.unit,
            "assignee": alert.assignee}
