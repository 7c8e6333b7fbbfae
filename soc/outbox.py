"""What an alert or incident change means for the people who must hear of it: the changes of the
durable notification outbox.

A store writes the :class:`Change` rows these functions derive in the same transaction as the
alert or incident write that causes them (transactional outbox), so a change is never told
without having happened nor happened without being told. The notify stage (:mod:`soc.notify`)
routes and delivers them after commit. Pure functions: no store, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from soc.models import Alert, AlertStatus, AuditEntry

GROWTH_THRESHOLDS = (10, 100, 1000, 10000)
"""An alert whose count crosses one of these is told again ("alert.grown"), not every repeat."""

KINDS = ("alert.new", "alert.grown", "alert.ack", "alert.closed", "incident.opened",
         "incident.closed", "incident.step_overdue", "duty.reminder", "duty.overdue",
         "escalation")
"""Every kind of change the outbox holds (a digest and a test are messages, not changes)."""

_ALERT_ACTIONS = {"alert.ack": "alert.ack", "alert.close": "alert.closed"}
_INCIDENT_ACTIONS = {"incident.open": "incident.opened", "incident.close": "incident.closed"}
INCIDENT_FIELDS = ("id", "title", "severity", "classification", "status", "type", "t0",
                   "opened", "opened_by", "closed", "outcome", "systems", "alerts", "profile")
"""What a change keeps of an incident's document (not its timeline or evidence)."""


@dataclass(frozen=True)
class Change:
    """One thing that happened and may have to be told: its ``key`` makes queueing idempotent
    (the same change queued twice is one row)."""

    key: str  # e.g. "alert.new:<alert id>", "alert.grown:<alert id>:100"
    kind: str  # one of KINDS
    subject: str  # the alert, incident or duty it is about
    severity: str  # "" when none
    ts: str  # when it happened (canonical UTC)
    doc: Mapping[str, Any] = field(default_factory=dict)  # {"alert": {...}} / {"incident": ...}
    seq: int | None = None  # the outbox's order, once written

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "key": self.key, "kind": self.kind, "subject": self.subject,
                "severity": self.severity, "ts": self.ts, "doc": dict(self.doc)}


def _alert_doc(alert: Alert) -> dict[str, Any]:
    return {"alert": alert.to_dict()}


def crossed(before: int, after: int) -> int | None:
    """The highest growth threshold in ``(before, after]``, or None."""
    passed = [t for t in GROWTH_THRESHOLDS if before < t <= after]
    return passed[-1] if passed else None


def changes_for_alert(before: Alert | None, after: Alert) -> list[Change]:
    """The changes of a detection write: "alert.new" for an alert not stored before,
    "alert.grown" when its count crossed a threshold (the highest one crossed only)."""
    ts = after.updated or after.created or after.last_seen
    severity = after.severity.value
    if before is None:
        return [Change(f"alert.new:{after.id}", "alert.new", after.id, severity, ts,
                       _alert_doc(after))]
    threshold = crossed(before.count, after.count)
    if threshold is None or after.status is AlertStatus.CLOSED:
        return []
    return [Change(f"alert.grown:{after.id}:{threshold}", "alert.grown", after.id, severity, ts,
                   {**_alert_doc(after), "threshold": threshold})]


def change_for_entry(entry: AuditEntry, state: Alert | Mapping[str, Any]) -> Change | None:
    """The change an analyst's audited write causes, if any: an alert acknowledged or closed,
    an incident opened or closed (``state``: the alert, or the incident's document, as
    written). Other actions (assign, comment, note, step...) are not told."""
    if isinstance(state, Alert):
        kind = _ALERT_ACTIONS.get(entry.action)
        if kind is None:
            return None
        doc: dict[str, Any] = {**_alert_doc(state), "actor": entry.actor}
        return Change(f"{kind}:{state.id}", kind, state.id, state.severity.value, entry.ts, doc)
    kind = _INCIDENT_ACTIONS.get(entry.action)
    if kind is None:
        return None
    incident = {k: state[k] for k in INCIDENT_FIELDS if k in state}
    severity = str(state.get("severity") or "")
    return Change(f"{kind}:{entry.subject}", kind, entry.subject, severity, entry.ts,
                  {"incident": incident, "actor": entry.actor})


DELIVERY_STATES = ("queued", "held", "delivered", "failed", "digested")
"""queued: to send when due; held: kept back (quiet hours) until ``next_at``; delivered;
failed: refused for good, or too old to send (``max_age``); digested: told inside a digest."""


@dataclass(frozen=True)
class Delivery:
    """One change (or digest) to send on one channel for one route; ``key`` is the message's
    idempotency key, the same on every attempt."""

    key: str
    seq: int  # the change's outbox order (a digest: its newest item's)
    route: str
    channel: str
    status: str  # one of DELIVERY_STATES
    next_at: str  # when it is due (held, retried, or the digest window's end)
    created: str  # when the change happened
    doc: Mapping[str, Any] = field(default_factory=dict)  # kind, severity, context to render
    attempts: int = 0
    last_error: str | None = None
    failed_at: str | None = None  # when the last attempt failed
    receipt: str | None = None
    delivered_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "seq": self.seq, "route": self.route,
                "channel": self.channel, "status": self.status, "attempts": self.attempts,
                "next_at": self.next_at, "last_error": self.last_error,
                "failed_at": self.failed_at, "receipt": self.receipt,
                "delivered_at": self.delivered_at,
                "created": self.created, "kind": self.doc.get("kind", ""),
                "severity": self.doc.get("severity", "")}
