"""Deadlines of incident steps, and the "due" list across incidents.

A report step's deadline comes from its duty in the incident's profile (counted from T0, from when
the duty's condition began to hold, or from the end of the response); another step's from its
playbook ``due`` (from T0 or from when another step was done).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from soc.ecs import format_ts, parse_ts
from soc.response.playbooks import Due, StepKind, Text
from soc.response.profiles import Profile
from soc.response.records import OPEN_STATES, Incident, StepRecord


def deadline(inc: Incident, rec: StepRecord, profile: Profile) -> tuple[datetime | None, str]:
    """The step's deadline (None: not yet known or none) and how it is defined."""
    t0 = parse_ts(inc.t0)
    if rec.spec.report:
        duty = profile.duty(rec.spec.report)
        if duty is None:
            return None, ""
        since = inc.condition_since(duty.when)
        ended = parse_ts(inc.closed) if inc.closed else None
        rule = _rule(duty.after, duty.within)
        return duty.deadline(t0, since, ended), rule
    due: Due | None = rec.spec.due
    if due is None:
        return None, ""
    rule = _rule(due.after, due.within)
    if due.after_step:
        done = inc.step(due.after_step).done_at
        return (parse_ts(done) + due.within if done else None), rule
    return t0 + due.within, rule


def _rule(after: str, within: timedelta | None) -> str:
    from soc.response.playbooks import format_duration

    if within is None:
        return "after the end of the response, no deadline" if after == "end" else "no deadline"
    return "immediately" if not within else f"{after} + {format_duration(within)}"


@dataclass(frozen=True)
class DueItem:
    incident: str
    step: str
    title: Text
    kind: str
    state: str
    deadline: datetime | None
    rule: str
    report: str | None
    to: tuple[str, ...]
    role: str

    def left(self, now: datetime) -> timedelta | None:
        return self.deadline - now if self.deadline else None

    def to_dict(self, now: datetime) -> dict[str, Any]:
        from soc.timeutil import format_duration

        left = self.left(now)
        return {"incident": self.incident, "step": self.step, "title": self.title.vi,
                "title_en": self.title.en, "kind": self.kind, "state": self.state,
                "deadline": format_ts(self.deadline) if self.deadline else None,
                "left": format_duration(left) if left is not None else None,
                "overdue": bool(left is not None and left < timedelta(0)), "rule": self.rule,
                "report": self.report, "to": list(self.to), "role": self.role}


def due(incidents: Iterable[Incident], profiles: Mapping[str, Profile]) -> list[DueItem]:
    """Open steps with deadlines across incidents: soonest (so overdue) first, then the steps
    whose deadline is not known yet (after the end of the response, after another step)."""
    items = []
    for inc in incidents:
        profile = profiles[inc.profile]
        for rec in inc.steps:
            if rec.state not in OPEN_STATES:
                continue
            if inc.status == "closed" and rec.spec.kind is not StepKind.REPORT:
                continue
            when, rule = deadline(inc, rec, profile)
            if not rule:
                continue
            duty = profile.duty(rec.spec.report) if rec.spec.report else None
            to = duty.to if duty else rec.spec.to
            items.append(DueItem(inc.id, rec.id, rec.spec.title, rec.spec.kind.value,
                                 rec.state.value, when, rule, rec.spec.report, to,
                                 rec.assignee or rec.spec.role))
    far = datetime.max.replace(tzinfo=parse_ts("2026-01-01T00:00:00Z").tzinfo)
    return sorted(items, key=lambda i: (i.deadline or far, i.incident, i.step))
