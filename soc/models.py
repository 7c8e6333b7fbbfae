"""Typed domain objects. Events stay plain dicts (see soc.ecs)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """Alert severity, from the Sigma rule level."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not become an event, kept with the reason so it can be replayed."""

    id: str  # the id the event would have had: replaying it can never double it
    source: str
    origin: str  # "path:offset", "tcp 10.0.0.5:51514"...
    reason: str
    raw: bytes
    received: str  # canonical timestamp
    parser: str | None = None
    fields: tuple[tuple[str, Any], ...] = ()  # what the transport knew (log.file.path, ...)

    def text(self) -> str:
        return self.raw.decode("utf-8", "backslashreplace")

    def to_dict(self, *, raw_limit: int | None = 2000) -> dict[str, Any]:
        raw = self.raw if raw_limit is None else self.raw[:raw_limit]
        try:
            shown: str = raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            shown = base64.b64encode(raw).decode("ascii")
            encoding = "base64"
        return {
            "id": self.id, "source": self.source, "origin": self.origin, "reason": self.reason,
            "parser": self.parser, "received": self.received, "size": len(self.raw),
            "raw": shown, "raw_encoding": encoding, "truncated": len(raw) < len(self.raw),
        }


# --- alerts, rule hits and the audit trail (soc.alerts, soc.detection.correlation) --------------

MAX_IDS = 50  # event ids kept in an alert's document; the store links all of them

ENTITY_FIELDS = ("host.name", "user.name", "source.ip", "destination.ip", "labels.system",
                 "organization.id")
"""The event fields an alert names as its entities."""


class AlertStatus(StrEnum):
    """Where an alert is in its life: open → acknowledged → closed (with a reason)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


@dataclass(frozen=True)
class Alert:
    """A rule (or correlation) that fired, deduplicated over a suppression window.

    ``id`` is deterministic (rule, group, anchor time), so re-running never doubles an alert;
    ``count`` is the number of distinct events linked to it (triggering or contributing).
    """

    id: str
    rule_id: str
    rule_title: str
    severity: Severity
    first_seen: str  # event time of the first linked event
    last_seen: str
    count: int = 0
    status: AlertStatus = AlertStatus.OPEN
    kind: str = "rule"  # "rule", or the correlation type (event_count, value_count, temporal...)
    dedup: str = ""  # digest of rule + group: repeats within the suppression window update us
    group: dict[str, Any] = field(default_factory=dict)
    entity: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()  # triggering events (the first ones, capped)
    contributing: tuple[str, ...] = ()  # correlations: events in the window(s) (capped)
    assignee: str | None = None
    reason: str | None = None  # why it was closed
    created: str = ""
    updated: str = ""
    event: dict[str, Any] | None = None  # the first triggering event, for people
    incident: str | None = None  # the incident it was attached to
    comments: tuple[dict[str, str], ...] = ()  # {"ts", "actor", "text"}, oldest first

    @property
    def system(self) -> str | None:
        value = self.entity.get("labels.system")
        return None if value is None else str(value)

    @property
    def unit(self) -> str | None:
        value = self.entity.get("organization.id")
        return None if value is None else str(value)

    @property
    def attack(self) -> tuple[str, ...]:
        """The ATT&CK tags."""
        return tuple(t for t in self.tags if t.startswith("attack."))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "rule_id": self.rule_id, "rule_title": self.rule_title,
            "severity": self.severity.value, "status": self.status.value, "kind": self.kind,
            "first_seen": self.first_seen, "last_seen": self.last_seen, "count": self.count,
            "dedup": self.dedup, "group": dict(self.group), "entity": dict(self.entity),
            "tags": list(self.tags), "event_ids": list(self.event_ids),
            "contributing": list(self.contributing), "assignee": self.assignee,
            "reason": self.reason, "created": self.created, "updated": self.updated,
            "event": self.event, "incident": self.incident,
            "comments": [dict(c) for c in self.comments],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        return cls(
            id=str(d["id"]), rule_id=str(d["rule_id"]), rule_title=str(d.get("rule_title", "")),
            severity=Severity(d.get("severity") or Severity.MEDIUM),
            first_seen=str(d["first_seen"]), last_seen=str(d["last_seen"]),
            count=int(d.get("count", 0)), status=AlertStatus(d.get("status") or "open"),
            kind=str(d.get("kind", "rule")), dedup=str(d.get("dedup", "")),
            group=dict(d.get("group") or {}), entity=dict(d.get("entity") or {}),
            tags=tuple(d.get("tags") or ()), event_ids=tuple(d.get("event_ids") or ()),
            contributing=tuple(d.get("contributing") or ()), assignee=d.get("assignee"),
            reason=d.get("reason"), created=str(d.get("created", "")),
            updated=str(d.get("updated", "")), event=d.get("event"),
            incident=d.get("incident"),
            comments=tuple({str(k): str(v) for k, v in c.items()}
                           for c in d.get("comments") or () if isinstance(c, dict)),
        )


@dataclass(frozen=True)
class AlertQuery:
    """Filters of ``store.list_alerts``; None means any."""

    status: AlertStatus | None = None
    min_severity: Severity | None = None
    rule: str | None = None
    system: str | None = None
    unit: str | None = None
    since: str | None = None  # canonical timestamp: alerts last seen at or after it
    limit: int | None = 100
    assignee: str | None = None
    incident: str | None = None


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A base-rule hit kept for a correlation rule, so a window can span several passes."""

    id: str  # digest of correlation, rule and event: writing it again is a no-op
    correlation: str
    rule_id: str
    group_key: str  # JSON list of the group-by values
    event_id: str
    ts: str  # the event's @timestamp
    value: str | None = None  # value_count: the counted field's value
    entity: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "correlation": self.correlation, "rule_id": self.rule_id,
                "group_key": self.group_key, "event_id": self.event_id, "ts": self.ts,
                "value": self.value, "entity": dict(self.entity)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuleHit:
        return cls(id=str(d["id"]), correlation=str(d["correlation"]), rule_id=str(d["rule_id"]),
                   group_key=str(d["group_key"]), event_id=str(d["event_id"]), ts=str(d["ts"]),
                   value=d.get("value"), entity=dict(d.get("entity") or {}))


@dataclass(frozen=True)
class AuditEntry:
    """One change to a record (alert, incident...): who, what, when. Append-only."""

    ts: str
    actor: str
    action: str  # "alert.ack", "alert.close", "alert.assign"...
    subject: str  # the id of what changed
    details: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None  # the store's sequence number, once written

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "actor": self.actor, "action": self.action,
                "subject": self.subject, "details": dict(self.details)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditEntry:
        return cls(ts=str(d["ts"]), actor=str(d["actor"]), action=str(d["action"]),
                   subject=str(d["subject"]), details=dict(d.get("details") or {}),
                   seq=d.get("seq"))
