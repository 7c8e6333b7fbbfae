"""Incidents: opened from alerts, driven by a playbook, with deadlines from the active profile.

The record (:class:`~soc.response.records.Incident`, its steps, evidence and timeline) is in
:mod:`soc.response.records`; deadlines and the due list in :mod:`soc.response.deadlines`; running
a step's questions against the store in :mod:`soc.response.queries`. This module is the workflow:
every change is one call of :func:`_save`, which stores the new document with a sealed audit entry
carrying its hash.

The operations (open, add alerts, step, note, evidence, classify, close, hold, release, run)
are functions of this module; the CLI only parses and renders. The alerts of an incident are
tied to it (``alert.incident``, acknowledged when open); closing the incident closes them with
the incident as reason.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from soc import alerts as alerts_lib
from soc import audit
from soc.config import Config
from soc.ecs import format_ts, now_ts, parse_ts
from soc.errors import InputError, NotFoundError, SocError
from soc.models import Alert, Severity
from soc.response.playbooks import ActionRef, Playbook, Step, StepKind
from soc.response.profiles import Duty, Profile
from soc.response.queries import _questions
from soc.response.queries import fill as fill  # part of this module's interface
from soc.response.records import (
    FLAGS,
    OPEN_STATES,
    Event,
    Evidence,
    Incident,
    StepRecord,
    StepState,
    TargetResult,
)
from soc.stores.base import Store

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
    """``SC-2026-0007``: the register number (sổ sự cố) within the year of ``when`` as given
    (the caller passes T0 in the configured time zone: the register's year is the local one)."""
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
    _check_free(store, alerts, None)
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
        id=next_id(store, parse_ts(t0).astimezone(config.tz)),
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
    inc = _save(store, config, None, inc, req.actor, "open", after={
        "playbook": book.id, "classification": inc.classification, "t0": t0,
        "alerts": list(inc.alerts)})
    _attach_all(store, config, inc, alerts, req.actor)
    return inc


def _attach_all(store: Store, config: Config, inc: Incident, alerts: Iterable[Alert],
                actor: str) -> None:
    for alert in alerts:
        alerts_lib.attach(store, alert, inc.id, actor, data_dir=config.data_dir)


def add_alerts(store: Store, config: Config, incident_id: str, alert_ids: Sequence[str],
               actor: str) -> tuple[Incident, list[Alert]]:
    """Tie more alerts to an open incident: its alert list, seen window, systems and %field%
    values grow, the timeline says so, and each alert is marked as the incident's (audited).
    Returns the incident and the alerts it did not have before. Alerts it already lists are
    marked again if an earlier run stopped half way."""
    if not alert_ids:
        raise InputError("no alert to add", hint=f"soc incidents add-alerts {incident_id} ID...")
    inc = get(store, incident_id)
    _check_open(inc)
    alerts = list({a.id: a for a in (_alert(store, i) for i in alert_ids)}.values())
    _check_free(store, alerts, inc.id)
    added = [a for a in alerts if a.id not in inc.alerts]
    if added:
        every = [*incident_alerts(store, inc), *added]
        known = {s["id"] for s in inc.systems}
        systems = [*inc.systems, *(s for s in _systems(config, added, ())
                                   if s["id"] not in known)]
        new = replace(inc, alerts=(*inc.alerts, *(a.id for a in added)),
                      fields=alert_fields(every), systems=tuple(systems),
                      window=(min(inc.window[0] or "\uffff", *(a.first_seen for a in added)),
                              max(inc.window[1], *(a.last_seen for a in added))))
        ids = [a.id for a in added]
        new = _note(new, actor, "alerts", f"{len(ids)} alert(s) added: {', '.join(ids)}",
                    alerts=ids)
        inc = _save(store, config, inc, new, actor, "add-alerts", after={"alerts": ids})
    _attach_all(store, config, inc, alerts, actor)
    return inc, added


def _check_free(store: Store, alerts: Iterable[Alert], incident_id: str | None) -> None:
    """InputError when an alert is tied to another incident still open (an alert belongs to
    one response at a time; that of a closed incident may start another)."""
    for a in alerts:
        if a.incident in (None, incident_id):
            continue
        other = store.get_incident(a.incident)
        if other is not None and other.get("status") != "closed":
            raise InputError(f"alert {a.id} belongs to incident {a.incident}",
                             hint=f"Work it there (soc incidents show {a.incident}), or leave "
                                  f"it out.")


def incident_alerts(store: Store, inc: Incident) -> list[Alert]:
    """The incident's alerts as stored now (those no longer stored are left out)."""
    found = (store.get_alert(i) for i in inc.alerts)
    return [a for a in found if a is not None]


def entities(alerts: Iterable[Alert]) -> dict[str, list[str]]:
    """Every entity value of the alerts (host, user, addresses...), by field, in order seen."""
    out: dict[str, dict[str, None]] = {}
    for a in alerts:
        for key, value in a.entity.items():
            for v in value if isinstance(value, list) else [value]:
                if v not in (None, "") and not isinstance(v, dict):
                    out.setdefault(key, {})[str(v)] = None
    return {k: list(v) for k, v in out.items()}


def _alert(store: Store, alert_id: str) -> Alert:
    alert = store.get_alert(alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id!r}", hint="List alerts with 'soc alerts list'.")
    return alert


# --- working the steps ---------------------------------------------------------------------------


def _check_open(inc: Incident, rec: StepRecord | None = None) -> None:
    if inc.status == "closed" and (rec is None or rec.spec.kind is not StepKind.REPORT):
        raise InputError(f"incident {inc.id} is closed; only its report steps can still change",
                         hint="Note what came later on it (soc incidents note), or open a new "
                              "incident for new activity: soc incidents open -a ALERT_ID")


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
        if change.state is StepState.PENDING:  # reopened: an action's targets all run again
            new = replace(new, targets=())
    after = {"state": new.state.value, "assignee": new.assignee, "answer": new.answer}
    text = f"step {step_id}: " + ", ".join(f"{k} {_shown(before[k])} → {_shown(v)}"
                                           for k, v in after.items() if before[k] != v)
    if change.reason:
        text += f" ({change.reason})"
    if change.note:
        text += f" - {change.note}"
    inc = reconcile(_with_step(inc, new), profile_of(inc))
    inc = _note(inc, actor, "step", text, step=step_id, before=before, after=after)
    return _save(store, config, None, inc, actor, "step", before=before,
                 after={"step": step_id, **after})


def _shown(value: Any) -> str:
    """A value as a timeline text shows it: ``(none)`` for no value, lists joined."""
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _answer(inc: Incident, rec: StepRecord, answer: str,
            actor: str) -> tuple[Incident, StepRecord]:
    choices = {c.answer: c for c in rec.spec.choices}
    if not choices:
        raise InputError(f"step {rec.id} is no decision: it takes no --answer",
                         hint=f"Mark it instead: soc incidents step {inc.id} {rec.id} --done")
    if answer not in choices:
        raise InputError(f"step {rec.id} has no answer {answer!r} (answers: {', '.join(choices)})",
                         hint=f"Answer with one of them: soc incidents step {inc.id} {rec.id} "
                              f"--answer {next(iter(choices))}")
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
            raise InputError(f"unknown flag {f!r} (flags: {', '.join(FLAGS)})",
                             hint=f"Use one of them: --flag {FLAGS[0]}")
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
    text = ", ".join(f"{k} {_shown(v)}" for k, v in after.items())
    new = _note(new, actor, "classify", f"classified: {text}", before=before, after=after)
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
                 step: str | None = None, note: str = "", copy: bool = True,
                 source: str | None = None) -> Incident:
    """Hash a file and copy it into ``<data_dir>/evidence/<incident>/`` (or only reference it).
    ``source`` says where it came from (default: the file's absolute path; the console gives
    the uploaded file's name, its temporary copy being no origin worth recording)."""
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
            raise InputError(f"the copy of {path} differs from the original (changing file?)",
                             hint="Add it again once nothing writes to it, or keep only its "
                                  "hash: --reference")
        target.chmod(0o440)
        stored = str(target)
    item = Evidence(path.name, digest, size, actor, now_ts(), stored,
                    str(path.resolve()) if source is None else source, step, note)
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
    new = _save(store, config, inc, new, actor, "close", before={"status": inc.status},
                after={"status": "closed", "outcome": outcome})
    alerts_lib.close_for_incident(store, new.alerts, new.id, outcome, actor,
                                  data_dir=config.data_dir)
    return new


# --- legal hold ----------------------------------------------------------------------------------


def hold(store: Store, config: Config, incident_id: str, reason: str, actor: str) -> Incident:
    """Put an incident on legal hold: retention keeps its events after it closes too, until
    :func:`release` (while it is open they are kept anyway: :mod:`soc.response.holds`). Open or
    closed, an incident can be held; the hold goes on its timeline and into the audit trail."""
    if not reason.strip():
        raise InputError("a reason is needed for a legal hold",
                         hint="Say why: --reason 'police request 123/CAT-PA05'")
    inc = get(store, incident_id)
    if inc.hold is not None:
        raise InputError(f"incident {inc.id} is on hold already, since {inc.hold.get('since')} "
                         f"({inc.hold.get('reason')})",
                         hint=f"To change the reason, release it and hold it again: "
                              f"soc incidents release {inc.id} --reason TEXT")
    held = {"since": now_ts(), "by": actor, "reason": reason}
    new = _note(replace(inc, hold=held), actor, "hold", f"legal hold: {reason}", **held)
    return _save(store, config, inc, new, actor, "hold", before={"hold": None},
                 after={"hold": held})


def release(store: Store, config: Config, incident_id: str, reason: str,
            actor: str) -> Incident:
    """Lift an incident's legal hold: once it is closed, the next retention run deletes its
    expired events like any others."""
    if not reason.strip():
        raise InputError("a reason is needed to release a legal hold",
                         hint="Say why: --reason 'case closed by the court, 2026-12-01'")
    inc = get(store, incident_id)
    if inc.hold is None:
        raise InputError(f"incident {inc.id} is not on hold",
                         hint=f"Hold it with: soc incidents hold {inc.id} --reason TEXT")
    new = _note(replace(inc, hold=None), actor, "release", f"legal hold released: {reason}",
                reason=reason, held=dict(inc.hold))
    return _save(store, config, inc, new, actor, "release", before={"hold": dict(inc.hold)},
                 after={"hold": None, "reason": reason})


# --- running query, hunt and action steps --------------------------------------------------------


def run_step(store: Store, config: Config, incident_id: str, step_id: str, actor: str, *,
             allow_actions: bool = False) -> tuple[Incident, list[dict[str, Any]]]:
    """Run a query/hunt step's questions against the store, or a step's configured action;
    the results go on the timeline. Returns the incident and the results."""
    inc = get(store, incident_id)
    rec = inc.step(step_id)
    _check_open(inc, rec)
    if rec.spec.questions:
        results = _questions(store, inc, rec)
        counts = ", ".join(_found(r) for r in results)
        new = _note(inc, actor, "query", f"step {step_id}: ran {len(results)} question(s), "
                    f"events found: {counts}", step=step_id, results=results)
        if rec.state is StepState.PENDING:
            new = _with_step(new, replace(rec, state=StepState.IN_PROGRESS))
        return _save(store, config, inc, new, actor, "query",
                     after={"step": step_id, "counts": counts}), results
    if rec.spec.action is None:
        raise InputError(f"step {step_id} has no questions and no action to run",
                         hint=f"Mark it by hand: soc incidents step {inc.id} {step_id} --done")
    return _run_action(store, config, inc, rec, rec.spec.action, actor, allow_actions)


def _found(result: Mapping[str, Any]) -> str:
    """What one question found, for the timeline: a count, or why it was not run."""
    if result.get("count") is None:
        return f"not run ({result.get('skipped') or 'no query'})"
    return f"{result['count']}+" if result.get("limited") else str(result["count"])


def _run_action(store: Store, config: Config, inc: Incident, rec: StepRecord, ref: ActionRef,
                actor: str, allow: bool) -> tuple[Incident, list[dict[str, Any]]]:
    """Run the step's action on each of its targets not yet done; the step is ``done`` when
    every target succeeded, ``partial`` when some did, ``failed`` when none did."""
    from soc.response import actions

    try:
        action = actions.prepare(config, ref, allow=allow)
        targets = actions.plan(action, ref, inc.fields)
    except actions.ActionRefused as exc:
        refused = _note(inc, actor, "action", f"step {rec.id}: not run: {exc.message}",
                        step=rec.id, action=ref.name, refused=exc.message)
        _save(store, config, inc, refused, actor, "action.refused",
              after={"step": rec.id, "reason": exc.message})
        raise
    known = {t.key: t for t in rec.targets}  # a re-run retries only what did not succeed
    todo = [t for t in targets if not (_key(t) in known and known[_key(t)].ok)]
    if not todo:
        raise InputError(f"every target of step {rec.id} already succeeded; nothing to run",
                         hint=f"Run it again from the start: soc incidents step {inc.id} "
                              f"{rec.id} --reopen, then --run.")
    outcomes = [actions.attempt(action, t) for t in todo]
    known.update({r.key: r for r, _ in outcomes})
    results = tuple(known[_key(t)] for t in targets)
    new_rec = _action_outcome(rec, results)
    runs = [run for _, run in outcomes]
    text = f"step {rec.id}: ran {action.name} on {len(todo)} target(s): {new_rec.state.value}"
    after = {"step": rec.id, "state": new_rec.state.value, "reason": new_rec.reason,
             "targets": [r.to_dict() for r, _ in outcomes], "runs": runs}
    new = _note(_with_step(inc, new_rec), actor, "action",
                text + (f" ({new_rec.reason})" if new_rec.reason else ""), **after,
                action=action.name)
    return _save(store, config, inc, new, actor, "action", after=after), runs


def _key(params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(params.items()))


def _action_outcome(rec: StepRecord, results: tuple[TargetResult, ...]) -> StepRecord:
    ok = sum(r.ok for r in results)
    if ok == len(results):
        return replace(rec, state=StepState.DONE, done_at=now_ts(), reason=None, targets=results)
    failed = [r.detail for r in results if not r.ok]
    reason = f"{ok} of {len(results)} target(s) succeeded; {failed[0]}" + \
        (f"; and {len(failed) - 1} more" if len(failed) > 1 else "")
    return replace(rec, state=StepState.PARTIAL if ok else StepState.FAILED, done_at=None,
                   reason=reason, targets=results)
