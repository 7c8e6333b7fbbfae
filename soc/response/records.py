"""The incident record: an :class:`Incident` with its steps, evidence and timeline.

An :class:`Incident` is a frozen record kept as a document in the store (``incidents`` table or
index). It holds a snapshot of its playbook's steps (what the team followed is what the record
shows), the classification (ordinary / serious) and flags (beyond capability, national security,
personal data) with the time each began to hold, T0 to the minute, the affected systems with their
security level, evidence files with sha256, and a timeline. ``to_dict``/``from_dict`` give the
document the store keeps; :mod:`soc.response.incidents` makes every change to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from soc.ecs import parse_ts
from soc.errors import NotFoundError
from soc.models import Severity
from soc.response.playbooks import Step

FLAGS = ("beyond_capability", "national_security", "personal_data")


class StepState(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SKIPPED = "skipped"
    BLOCKED = "blocked"
    PARTIAL = "partial"  # an action ran on several targets and some failed
    FAILED = "failed"  # an action ran and every target failed (or was refused)


OPEN_STATES = (StepState.PENDING, StepState.IN_PROGRESS, StepState.BLOCKED, StepState.PARTIAL,
               StepState.FAILED)


@dataclass(frozen=True)
class TargetResult:
    """One target of an action step (an address to block, an account to disable) and how its
    last attempt went: ``ok``, ``failed`` (the command failed) or ``refused`` (never run)."""

    params: Mapping[str, str]  # the values as the alerts gave them
    state: str
    detail: str  # one line: the exit code, the reason of the refusal
    exit_code: int | None
    at: str

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.params.items()))

    def to_dict(self) -> dict[str, Any]:
        return {"params": dict(self.params), "state": self.state, "detail": self.detail,
                "exit_code": self.exit_code, "at": self.at}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetResult:
        return cls({str(k): str(v) for k, v in d["params"].items()}, str(d["state"]),
                   str(d["detail"]), d.get("exit_code"), str(d["at"]))


@dataclass(frozen=True)
class StepRecord:
    """One step of an incident: the playbook's step and where the team is with it."""

    spec: Step
    state: StepState = StepState.PENDING
    assignee: str | None = None
    reason: str | None = None  # why skipped or blocked
    skipped_by: str | None = None  # user, branch, condition, profile
    answer: str | None = None
    done_at: str | None = None
    auto: bool = False  # added from the profile (a duty no playbook step named)
    targets: tuple[TargetResult, ...] = ()  # an action step's targets, each with its last result

    @property
    def id(self) -> str:
        return self.spec.id

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "spec": self.spec.to_dict(), "phase": self.spec.phase, "state": self.state.value,
            "assignee": self.assignee, "reason": self.reason, "skipped_by": self.skipped_by,
            "answer": self.answer, "done_at": self.done_at, "auto": self.auto}
        if self.targets:  # absent when none: documents stored before keep their form (and hash)
            out["targets"] = [t.to_dict() for t in self.targets]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StepRecord:
        return cls(Step.from_dict(d["spec"], str(d["phase"])), StepState(d["state"]),
                   d.get("assignee"), d.get("reason"), d.get("skipped_by"), d.get("answer"),
                   d.get("done_at"), bool(d.get("auto")),
                   tuple(TargetResult.from_dict(t) for t in d.get("targets") or ()))


@dataclass(frozen=True)
class Evidence:
    name: str
    sha256: str
    size: int
    by: str
    at: str
    stored: str | None  # path of the copy under the data directory, None when referenced
    source: str  # where it was taken from
    step: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        return cls(str(d["name"]), str(d["sha256"]), int(d["size"]), str(d["by"]), str(d["at"]),
                   d.get("stored"), str(d["source"]), d.get("step"), str(d.get("note") or ""))


@dataclass(frozen=True)
class Event:
    """One line of the timeline."""

    ts: str
    actor: str
    kind: str  # opened, step, note, evidence, query, action, classify, closed
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts, "actor": self.actor, "kind": self.kind, "text": self.text,
                "data": dict(self.data)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        return cls(str(d["ts"]), str(d["actor"]), str(d["kind"]), str(d["text"]),
                   dict(d.get("data") or {}))


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    playbook: str
    playbook_version: str
    profile: str
    type: str
    severity: Severity
    classification: str
    t0: str  # time of detection, canonical, to the minute
    opened: str
    opened_by: str
    status: str = "open"
    flags: Mapping[str, str] = field(default_factory=dict)  # flag -> since
    serious_since: str | None = None
    alerts: tuple[str, ...] = ()
    systems: tuple[Mapping[str, Any], ...] = ()  # id, name, unit, security_level
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # for %field%
    window: tuple[str, str] = ("", "")  # first and last seen of the alerts
    steps: tuple[StepRecord, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    timeline: tuple[Event, ...] = ()
    closed: str | None = None
    outcome: str | None = None
    hold: Mapping[str, str] | None = None  # legal hold: since, by, reason (soc incidents hold)

    def step(self, step_id: str) -> StepRecord:
        for s in self.steps:
            if s.id == step_id:
                return s
        known = ", ".join(s.id for s in self.steps)
        raise NotFoundError(f"incident {self.id} has no step {step_id!r} (steps: {known})",
                            hint=f"See its steps: soc incidents show {self.id}")

    @property
    def units(self) -> list[str]:
        return sorted({str(s["unit"]) for s in self.systems})

    def holds(self, condition: str) -> bool:
        return condition in ("always", self.classification) or condition in self.flags

    def condition_since(self, conditions: Iterable[str]) -> datetime | None:
        """When the earliest of the conditions that hold began to hold."""
        times = []
        for c in conditions:
            if c in ("always", "ordinary") and self.holds(c):
                times.append(self.t0)
            elif c == "serious" and self.classification == "serious":
                times.append(self.serious_since or self.t0)
            elif c in self.flags:
                times.append(self.flags[c])
        return parse_ts(min(times)) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "playbook": self.playbook,
            "playbook_version": self.playbook_version, "profile": self.profile,
            "type": self.type, "severity": self.severity.value,
            "classification": self.classification, "t0": self.t0, "opened": self.opened,
            "opened_by": self.opened_by, "status": self.status, "flags": dict(self.flags),
            "serious_since": self.serious_since, "alerts": list(self.alerts),
            "systems": [dict(s) for s in self.systems],
            "fields": {k: list(v) for k, v in self.fields.items()},
            "window": list(self.window), "steps": [s.to_dict() for s in self.steps],
            "evidence": [e.to_dict() for e in self.evidence],
            "timeline": [e.to_dict() for e in self.timeline],
            "closed": self.closed, "outcome": self.outcome,
            # absent when none: documents stored before keep their form (and hash)
            **({"hold": dict(self.hold)} if self.hold is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Incident:
        return cls(
            id=str(d["id"]), title=str(d["title"]), playbook=str(d["playbook"]),
            playbook_version=str(d["playbook_version"]), profile=str(d["profile"]),
            type=str(d["type"]), severity=Severity(d["severity"]),
            classification=str(d["classification"]), t0=str(d["t0"]), opened=str(d["opened"]),
            opened_by=str(d["opened_by"]), status=str(d["status"]), flags=dict(d["flags"]),
            serious_since=d.get("serious_since"), alerts=tuple(d["alerts"]),
            systems=tuple(dict(s) for s in d["systems"]),
            fields={k: tuple(v) for k, v in d["fields"].items()},
            window=(str(d["window"][0]), str(d["window"][1])),
            steps=tuple(StepRecord.from_dict(s) for s in d["steps"]),
            evidence=tuple(Evidence.from_dict(e) for e in d["evidence"]),
            timeline=tuple(Event.from_dict(e) for e in d["timeline"]),
            closed=d.get("closed"), outcome=d.get("outcome"),
            hold={str(k): str(v) for k, v in d["hold"].items()} if d.get("hold") else None,
        )
