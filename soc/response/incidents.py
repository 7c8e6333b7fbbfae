"""Incidents: opened from alerts, driven by a playbook, with deadlines from the active profile.

An :class:`Incident` is a frozen record kept as a document in the store (``incidents`` table or
index). It holds a snapshot of its playbook's steps (what the team followed is what the record
shows), the classification (ordinary / serious) and flags (beyond capability, national security,
personal data) with the time each began to hold, T0 to the minute, the affected systems with their
security level, evidence files with sha256, and a timeline. Every change is one call of
:func:`_save`, which stores the new document with a sealed audit entry carrying its hash.

The operations (open, step, note, evidence, classify, close, due) are functions of this module;
the CLI only parses and renders.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from soc import audit
from soc.config import Config
from soc.ecs import format_ts, now_ts, parse_ts
from soc.errors import InputError, NotFoundError, SocError
from soc.models import Alert, Severity
from soc.response.playbooks import Due, Playbook, Step, StepKind, Text
from soc.response.profiles import Duty, Profile
from soc.stores.base import Store

FLAGS = ("beyond_capability", "national_security", "personal_data")


class StepState(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SKIPPED = "skipped"
    BLOCKED = "blocked"


OPEN_STATES = (StepState.PENDING, StepState.IN_PROGRESS, StepState.BLOCKED)


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

    @property
    def id(self) -> str:
        return self.spec.id

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "phase": self.spec.phase, "state": self.state.value,
                "assignee": self.assignee, "reason": self.reason, "skipped_by": self.skipped_by,
                "answer": self.answer, "done_at": self.done_at, "auto": self.auto}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StepRecord:
        return cls(Step.from_dict(d["spec"], str(d["phase"])), StepState(d["state"]),
                   d.get("assignee"), d.get("reason"), d.get("skipped_by"), d.get("answer"),
                   d.get("done_at"), bool(d.get("auto")))


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

    def step(self, step_id: str) -> StepRecord:
        for s in self.steps:
            if s.id == step_id:
                return s
        known = ", ".join(s.id for s in self.steps)
        raise NotFoundError(f"incident {self.id} has no step {step_id!r} (steps: {known})")

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
        )


# --- storing: the one place every change goes through -------------------------------------------


def _save(store: Store, config: Config, old: Incident | None, new: Incident, actor: str,
          action: str, before: Any = None, after: Any = None) -> Incident:
    doc: dict[str, Any] = audit.plain(new.to_dict())  # the state verify will hash
    entry = audit.new_entry(actor=actor, action=f"incident.{action}", subject=new.id,
                            before=before, after=after, state=doc)
    written = store.put_incident_audited(new.id, new.opened, new.status, doc, entry)
    audit.write_head(config.data_dir, written)
    return new


def _note(inc: Incident, actor: str, kind: str, text: str, **data: Any) -> Incident:
    return replace(inc, timeline=(*inc.timeline, Event(now_ts(), actor, kind, text, data)))


def playbook_dirs(config: Config) -> list[Path]:
    """The shipped playbooks, then the folders of ``incidents.playbooks`` in soc.yml."""
    from soc.response.playbooks import PLAYBOOK_DIR

    section = config.raw.get("incidents") or {}
    extra = section.get("playbooks") or [] if isinstance(section, dict) else []
    base = config.path.parent if config.path else Path.cwd()
    return [PLAYBOOK_DIR, *(base / str(p) for p in extra)]


def load_playbooks(config: Config) -> dict[str, Playbook]:
    from soc.response import playbooks

    return playbooks.load_playbooks(playbook_dirs(config))


def profiles_of(incidents: Iterable[Incident], active: Profile) -> dict[str, Profile]:
    """The profile of each incident (the one active when it was opened)."""
    from soc.response.profiles import load_profile

    out = {active.id: active}
    for inc in incidents:
        if inc.profile not in out:
            out[inc.profile] = load_profile(inc.profile)
    return out


def profile_of(inc: Incident) -> Profile:
    from soc.response.profiles import load_profile

    return load_profile(inc.profile)


def get(store: Store, incident_id: str) -> Incident:
    doc = store.get_incident(incident_id)
    if doc is None:
        raise NotFoundError(f"no incident {incident_id!r}",
                            hint="List incidents with 'soc incidents list --status all'.")
    return Incident.from_dict(doc)


def list_incidents(store: Store, status: str | None = "open") -> list[Incident]:
    return [Incident.from_dict(d) for d in store.list_incidents(status)]


# --- opening -------------------------------------------------------------------------------------


def alert_fields(alerts: Sequence[Alert]) -> dict[str, tuple[str, ...]]:
    """Values of the alerts' fields (entity, group, first event, rule), for triggers and %field%."""
    values: dict[str, list[str]] = {}
    for a in alerts:
        flat = {**(a.event or {}), **a.group, **a.entity, "rule.id": a.rule_id,
                "rule.name": a.rule_title, "severity": a.severity.value,
                "rule.level": a.severity.value}
        for key, value in flat.items():
            for v in value if isinstance(value, list) else [value]:
                if v is not None and not isinstance(v, dict) and str(v) not in \
                        values.setdefault(key, []):
                    values[key].append(str(v))
    return {k: tuple(v) for k, v in values.items() if v}


def _minute(ts: str) -> str:
    return format_ts(parse_ts(ts).replace(second=0, microsecond=0))


def _systems(config: Config, alerts: Sequence[Alert], extra: Iterable[str]) -> list[dict[str, Any]]:
    ids = sorted({*(a.system for a in alerts if a.system), *extra})
    out = []
    for sid in ids:
        system = config.system(sid)
        if system is None:
            raise NotFoundError(f"no system {sid!r} in the inventory",
                                hint="Check inventory.systems in soc.yml.")
        out.append({"id": system.id, "name": system.name, "unit": system.unit,
                    "security_level": system.security_level})
    return out


def _step_records(book: Playbook, profile: Profile) -> list[StepRecord]:
    records = [StepRecord(s) for s in book.steps]
    named = {s.report for s in book.steps if s.report}
    for duty in profile.duties:
        if duty.id not in named:
            records.append(StepRecord(_duty_step(duty), auto=True))
    return records


def _duty_step(duty: Duty) -> Step:
    phase = "tong_ket" if duty.after == "end" else "bao_cao"
    return Step(id=f"report-{duty.id}", title=duty.title, kind=StepKind.REPORT, role="ir_lead",
                phase=phase, report=duty.id)


def _applies(inc: Incident, rec: StepRecord, profile: Profile) -> tuple[bool, str | None]:
    """Whether a step applies now, and if not, why (for the skip reason)."""
    if rec.spec.report:
        duty = profile.duty(rec.spec.report)
        if duty is None:
            return False, f"not a duty under profile {profile.id}"
        if not duty.applies(inc.classification, inc.flags):
            return False, f"applies only when: {', '.join(duty.when)}"
    if not inc.holds(rec.spec.when):
        return False, f"applies only when: {rec.spec.when}"
    return True, None


def reconcile(inc: Incident, profile: Profile) -> Incident:
    """Skip the steps that do not apply (now), and bring back those that apply again."""
    steps = []
    for rec in inc.steps:
        ok, why = _applies(inc, rec, profile)
        if not ok and rec.state is StepState.PENDING:
            rec = replace(rec, state=StepState.SKIPPED, reason=why, skipped_by="condition")
        elif ok and rec.state is StepState.SKIPPED and rec.skipped_by == "condition":
            rec = replace(rec, state=StepState.PENDING, reason=None, skipped_by=None)
        steps.append(rec)
    return replace(inc, steps=tuple(steps))


def next_id(store: Store, when: datetime) -> str:
    """``SC-2026-0007``: the register number (sổ sự cố) within the year."""
    prefix = f"SC-{when.year}-"
    taken = {str(d["id"]) for d in store.list_incidents()}
    n = sum(1 for t in taken if t.startswith(prefix)) + 1
    while f"{prefix}{n:04d}" in taken:
        n += 1
    return f"{prefix}{n:04d}"


@dataclass(frozen=True)
class OpenRequest:
    alert_ids: tuple[str, ...]
    actor: str
    playbook: str | None = None
    serious: bool | None = None
    flags: tuple[str, ...] = ()
    type: str | None = None
    t0: str | None = None
    systems: tuple[str, ...] = ()
    title: str | None = None


def open_incident(store: Store, config: Config, playbooks: Mapping[str, Playbook],
                  profile: Profile, req: OpenRequest) -> Incident:
    """Open an incident from alerts with the given or the suggested playbook."""
    from soc.response.playbooks import suggest

    alerts = [_alert(store, a) for a in req.alert_ids]
    fields = alert_fields(alerts)
    if req.playbook:
        if req.playbook not in playbooks:
            raise NotFoundError(f"no playbook {req.playbook!r}",
                                hint="List them with 'soc playbooks list'.")
        book = playbooks[req.playbook]
    else:
        ranked = suggest(playbooks.values(), rule_ids={a.rule_id for a in alerts},
                         tags={t for a in alerts for t in a.tags}, fields=fields)
        if not ranked:
            raise SocError("no playbook's triggers match these alerts",
                           hint="Name one with --playbook (see 'soc playbooks list').")
        book = ranked[0][0]
    detected = req.t0 or min(a.created or a.first_seen for a in alerts)
    t0 = _minute(detected)
    serious = req.serious if req.serious is not None else book.classification == "serious"
    severity = max([Severity(book.severity), *(a.severity for a in alerts)], key=lambda s: s.rank)
    systems = _systems(config, alerts, req.systems)
    now = now_ts()
    inc = Incident(
        id=next_id(store, parse_ts(t0)),
        title=req.title or f"{book.title.vi} - {', '.join(s['name'] or s['id'] for s in systems)}"
        .rstrip(" -"),
        playbook=book.id, playbook_version=book.version, profile=profile.id,
        type=req.type or book.incident_type, severity=severity,
        classification="serious" if serious else "ordinary", t0=t0, opened=now,
        opened_by=req.actor, flags={f: t0 for f in req.flags},
        serious_since=t0 if serious else None, alerts=tuple(a.id for a in alerts),
        systems=tuple(systems), fields=fields,
        window=(min(a.first_seen for a in alerts), max(a.last_seen for a in alerts)),
        steps=tuple(_step_records(book, profile)),
    )
    inc = _note(reconcile(inc, profile), req.actor, "opened",
                f"opened with playbook {book.id} v{book.version} under profile {profile.id}",
                alerts=list(inc.alerts), t0=t0)
    return _save(store, config, None, inc, req.actor, "open", after={
        "playbook": book.id, "classification": inc.classification, "t0": t0,
        "alerts": list(inc.alerts)})


def _alert(store: Store, alert_id: str) -> Alert:
    alert = store.get_alert(alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id!r}", hint="List alerts with 'soc alerts list'.")
    return alert


# --- deadlines ------------------------------------------------------------------------------------


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


# --- working the steps ---------------------------------------------------------------------------


def _check_open(inc: Incident, rec: StepRecord | None = None) -> None:
    if inc.status == "closed" and (rec is None or rec.spec.kind is not StepKind.REPORT):
        raise InputError(f"incident {inc.id} is closed; only its report steps can still change")


def _with_step(inc: Incident, rec: StepRecord) -> Incident:
    return replace(inc, steps=tuple(rec if s.id == rec.id else s for s in inc.steps))


@dataclass(frozen=True)
class StepChange:
    """What ``soc incidents step`` asks for; None leaves a thing as it is."""

    state: StepState | None = None
    reason: str | None = None
    assignee: str | None = None
    answer: str | None = None
    note: str | None = None


def update_step(store: Store, config: Config, incident_id: str, step_id: str,
                change: StepChange, actor: str) -> Incident:
    """Change a step's state, assignee or answer (a decision's answer branches)."""
    inc = get(store, incident_id)
    rec = inc.step(step_id)
    _check_open(inc, rec)
    before = {"state": rec.state.value, "assignee": rec.assignee, "answer": rec.answer}
    new = rec
    if change.assignee is not None:
        new = replace(new, assignee=change.assignee)
    if change.answer is not None:
        inc, new = _answer(inc, new, change.answer, actor)
    if change.state is not None:
        if change.state in (StepState.SKIPPED, StepState.BLOCKED) and not change.reason:
            raise InputError(f"a reason is needed to mark a step {change.state.value}",
                             hint="Say why: --skip 'not applicable: ...' / --block '...'.")
        new = replace(new, state=change.state, reason=change.reason,
                      skipped_by="user" if change.state is StepState.SKIPPED else None,
                      done_at=now_ts() if change.state is StepState.DONE else None)
    after = {"state": new.state.value, "assignee": new.assignee, "answer": new.answer}
    text = f"step {step_id}: " + ", ".join(f"{k} {before[k]} → {v}" for k, v in after.items()
                                           if before[k] != v)
    if change.reason:
        text += f" ({change.reason})"
    if change.note:
        text += f" - {change.note}"
    inc = reconcile(_with_step(inc, new), profile_of(inc))
    inc = _note(inc, actor, "step", text, step=step_id, before=before, after=after)
    return _save(store, config, None, inc, actor, "step", before=before,
                 after={"step": step_id, **after})


def _answer(inc: Incident, rec: StepRecord, answer: str,
            actor: str) -> tuple[Incident, StepRecord]:
    choices = {c.answer: c for c in rec.spec.choices}
    if answer not in choices:
        raise InputError(f"step {rec.id} has no answer {answer!r} "
                         f"(answers: {', '.join(choices) or 'none: it is no decision'})")
    choice = choices[answer]
    now = now_ts()
    if choice.classification:
        inc = _classify(inc, choice.classification, (), now)
    if choice.flags:
        inc = _classify(inc, None, choice.flags, now)
    ids = [s.id for s in inc.steps]
    start, stop = ids.index(rec.id), ids.index(choice.next)
    skipped = []
    steps = list(inc.steps)
    for i in range(start + 1, stop):
        if steps[i].state is StepState.PENDING:
            steps[i] = replace(steps[i], state=StepState.SKIPPED, skipped_by="branch",
                               reason=f"branch: answer {answer!r} of step {rec.id}")
            skipped.append(steps[i].id)
    inc = replace(inc, steps=tuple(steps))
    rec = replace(rec, answer=answer, state=StepState.DONE, done_at=now)
    return inc, rec


def _classify(inc: Incident, classification: str | None, flags: Iterable[str],
              now: str) -> Incident:
    new_flags = dict(inc.flags)
    for f in flags:
        if f not in FLAGS:
            raise InputError(f"unknown flag {f!r} (flags: {', '.join(FLAGS)})")
        new_flags.setdefault(f, now)
    serious_since = inc.serious_since
    if classification == "serious" and inc.classification != "serious":
        serious_since = now
    return replace(inc, classification=classification or inc.classification, flags=new_flags,
                   serious_since=serious_since if (classification or inc.classification)
                   == "serious" else None)


def classify(store: Store, config: Config, incident_id: str, actor: str, *,
             classification: str | None = None, flags: Sequence[str] = (),
             type: str | None = None) -> Incident:
    """Reclassify: ordinary/serious, flags, incident type. Duties that now apply come back."""
    inc = get(store, incident_id)
    _check_open(inc)
    before = {"classification": inc.classification, "flags": sorted(inc.flags),
              "type": inc.type}
    new = _classify(inc, classification, flags, now_ts())
    new = reconcile(replace(new, type=type or inc.type), profile_of(inc))
    after = {"classification": new.classification, "flags": sorted(new.flags), "type": new.type}
    new = _note(new, actor, "classify", f"classified {after}", before=before, after=after)
    return _save(store, config, inc, new, actor, "classify", before=before, after=after)


def add_note(store: Store, config: Config, incident_id: str, text: str, actor: str,
             step: str | None = None) -> Incident:
    inc = get(store, incident_id)
    if step:
        inc.step(step)
    new = _note(inc, actor, "note", text, step=step)
    return _save(store, config, inc, new, actor, "note", after={"text": text, "step": step})


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def add_evidence(store: Store, config: Config, incident_id: str, path: Path, actor: str, *,
                 step: str | None = None, note: str = "", copy: bool = True) -> Incident:
    """Hash a file and copy it into ``<data_dir>/evidence/<incident>/`` (or only reference it)."""
    inc = get(store, incident_id)
    if step:
        inc.step(step)
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}", hint="Give the path of the evidence file.")
    digest, size = sha256_file(path)
    stored = None
    if copy:
        folder = config.data_dir / "evidence" / inc.id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{digest[:12]}-{path.name}"
        shutil.copy2(path, target)
        if sha256_file(target)[0] != digest:
            raise InputError(f"the copy of {path} differs from the original (changing file?)")
        target.chmod(0o440)
        stored = str(target)
    item = Evidence(path.name, digest, size, actor, now_ts(), stored, str(path.resolve()), step,
                    note)
    new = replace(inc, evidence=(*inc.evidence, item))
    new = _note(new, actor, "evidence", f"evidence {path.name} sha256 {digest} ({size} bytes)",
                **item.to_dict())
    return _save(store, config, inc, new, actor, "evidence", after=item.to_dict())


def close_incident(store: Store, config: Config, incident_id: str, outcome: str,
                   actor: str) -> Incident:
    """End the response. Steps other than reports must be done or skipped; the report steps
    stay due (the final report's deadline counts from now)."""
    if not outcome.strip():
        raise InputError("an outcome is needed to close an incident",
                         hint="Say what happened: --outcome 'contained, restored, cause: ...'")
    inc = get(store, incident_id)
    _check_open(inc)
    left = [s.id for s in inc.steps if s.state in OPEN_STATES
            and s.spec.kind is not StepKind.REPORT]
    if left:
        raise InputError(f"incident {inc.id} still has open steps: {', '.join(left)}",
                         hint="Mark them done, or skip them with a reason: "
                              f"soc incidents step {inc.id} STEP --skip REASON")
    new = replace(inc, status="closed", closed=now_ts(), outcome=outcome)
    new = _note(new, actor, "closed", f"closed: {outcome}")
    return _save(store, config, inc, new, actor, "close", before={"status": inc.status},
                 after={"status": "closed", "outcome": outcome})


# --- running query, hunt and action steps --------------------------------------------------------

SUMMARY_FIELDS = ("@timestamp", "event.id", "host.name", "user.name", "source.ip",
                  "destination.ip", "event.action", "event.outcome", "url.path")
SHOWN_EVENTS = 20


def fill(template: str, values: Mapping[str, Sequence[str]]) -> tuple[str, list[str]]:
    """Put alert values in ``%field%`` placeholders: a quoted one with several values becomes an
    OR group. Returns the text and the placeholders that had no value."""
    import re

    missing: list[str] = []

    def quoted(m: re.Match[str]) -> str:
        vals = values.get(m.group(1))
        if not vals:
            missing.append(m.group(1))
            return m.group(0)
        parts = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in vals]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def bare(m: re.Match[str]) -> str:
        vals = values.get(m.group(1))
        if not vals:
            missing.append(m.group(1))
            return m.group(0)
        return vals[0]

    text = re.sub(r'"%([A-Za-z0-9_.@-]+)%"', quoted, template)
    return re.sub(r"%([A-Za-z0-9_.@-]+)%", bare, text), list(dict.fromkeys(missing))


def _questions(store: Store, inc: Incident, rec: StepRecord) -> list[dict[str, Any]]:
    first, last = parse_ts(inc.window[0]), parse_ts(inc.window[1])
    results = []
    for q in rec.spec.questions:
        query, missing = fill(q.query, inc.fields)
        since, until = first - q.before, last + q.after
        result: dict[str, Any] = {"question": q.question.vi, "question_en": q.question.en,
                                  "query": query, "since": format_ts(since),
                                  "until": format_ts(until)}
        if missing:
            result.update(count=None, skipped=f"the alerts have no {', '.join(missing)}")
        else:
            events = list(store.search(query, since=since, until=until, limit=q.limit,
                                       order="asc"))
            result.update(count=len(events), limited=len(events) >= q.limit, events=[
                {k: e[k] for k in SUMMARY_FIELDS if k in e} for e in events[:SHOWN_EVENTS]])
        results.append(result)
    return results


def run_step(store: Store, config: Config, incident_id: str, step_id: str, actor: str, *,
             allow_actions: bool = False) -> tuple[Incident, list[dict[str, Any]]]:
    """Run a query/hunt step's questions against the store, or a step's configured action;
    the results go on the timeline. Returns the incident and the results."""
    from soc.response import actions

    inc = get(store, incident_id)
    rec = inc.step(step_id)
    _check_open(inc, rec)
    if rec.spec.questions:
        results = _questions(store, inc, rec)
        counts = ", ".join(str(r["count"]) for r in results)
        new = _note(inc, actor, "query", f"step {step_id}: ran {len(results)} question(s), "
                    f"events found: {counts}", step=step_id, results=results)
        if rec.state is StepState.PENDING:
            new = _with_step(new, replace(rec, state=StepState.IN_PROGRESS))
        return _save(store, config, inc, new, actor, "query",
                     after={"step": step_id, "counts": counts}), results
    if rec.spec.action is None:
        raise InputError(f"step {step_id} has no questions and no action to run",
                         hint=f"Mark it by hand: soc incidents step {inc.id} {step_id} --done")
    params = {k: fill(v, inc.fields)[0] for k, v in rec.spec.action.params.items()}
    params = {k: ("" if "%" in v else v) for k, v in params.items()}
    try:
        action, command = actions.prepare(config, rec.spec.action, params, allow=allow_actions)
    except actions.ActionRefused as exc:
        refused = _note(inc, actor, "action", f"step {step_id}: not run: {exc.message}",
                        step=step_id, action=rec.spec.action.name, refused=exc.message)
        _save(store, config, inc, refused, actor, "action.refused",
              after={"step": step_id, "reason": exc.message})
        raise
    run = actions.run(action, command)
    new = _note(inc, actor, "action", f"step {step_id}: ran {action.name}, exit code "
                f"{run.exit_code}", step=step_id, **run.to_dict())
    state = StepState.DONE if run.ok else StepState.BLOCKED
    new = _with_step(new, replace(rec, state=state, done_at=now_ts() if run.ok else None,
                                  reason=None if run.ok else f"action failed: {run.stderr[:200]}"))
    return _save(store, config, inc, new, actor, "action",
                 after={"step": step_id, **run.to_dict()}), [run.to_dict()]
