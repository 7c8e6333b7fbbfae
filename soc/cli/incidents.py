"""``soc incidents open|list|show|add-alerts|step|note|evidence|classify|due|close|hold|
release``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from soc.alerts import current_actor, summary_row
from soc.cli.app import App, pass_app
from soc.cli.output import (
    Format,
    current_format,
    emit_object,
    emit_rows,
    escape,
    format_options,
    info,
    local_time,
)
from soc.cli.search import when
from soc.ecs import format_ts
from soc.errors import ExitCode, InputError
from soc.response import deadlines, records
from soc.response import incidents as lib
from soc.response.profiles import active_profile, resolve
from soc.stores.base import open_store
from soc.timeutil import parse_when

_actor = click.option("--actor", metavar="NAME", envvar="SOC_ACTOR",
                      help="Who acts, for the timeline and audit trail (default: $SOC_ACTOR, "
                           "else the OS user).")
STEP_COLUMNS = ["phase", "id", "kind", "state", "role", "deadline", "title", "reason"]
ALERT_COLUMNS = ["id", "severity", "status", "rule_title", "count", "entity", "last_seen",
                 "assignee"]
DUE_COLUMNS = ["deadline", "left", "incident", "step", "state", "title", "to"]


@click.group("incidents")
def incidents_group() -> None:
    """Incidents opened from alerts and driven by playbooks, with legal deadlines.

    Every change lands on the incident's timeline and in the hash-chained audit trail.
    """


@incidents_group.command("open")
@click.option("-a", "--alert", "alerts", multiple=True, required=True, metavar="ID",
              help="Alert the incident comes from (repeatable; a unique prefix is enough).")
@click.option("-p", "--playbook", metavar="ID", help="Playbook to follow (default: suggested "
              "by the alerts' rule ids, ATT&CK tags and fields).")
@click.option("--serious/--ordinary", default=None, help="Classification (default: the "
              "playbook's).")
@click.option("--flag", "flags", multiple=True, type=click.Choice(records.FLAGS),
              help="beyond_capability, national_security, personal_data (repeatable).")
@click.option("--type", "type_", metavar="TYPE", help="Incident type (default: the playbook's).")
@click.option("--t0", metavar="WHEN", help="Time of detection (default: when the first alert "
              "was raised), to the minute.")
@click.option("--system", "systems", multiple=True, metavar="ID",
              help="Another affected system of the inventory (repeatable).")
@click.option("--title", help="Title (default: the playbook's, with the systems).")
@_actor
@format_options
@pass_app
def open_cmd(app: App, alerts: tuple[str, ...], playbook: str | None, serious: bool | None,
             flags: tuple[str, ...], type_: str | None, t0: str | None,
             systems: tuple[str, ...], title: str | None, actor: str | None) -> int:
    """Open an incident from alerts with the suggested (or the named) playbook."""
    config = app.config
    t0_ts = format_ts(_when(t0, "--t0")) if t0 else None
    req = lib.OpenRequest(alert_ids=alerts, actor=current_actor(actor), playbook=playbook,
                          serious=serious, flags=flags, type=type_, t0=t0_ts, systems=systems,
                          title=title)
    with open_store(config) as store:
        inc = lib.open_incident(store, config, lib.load_playbooks(config),
                                active_profile(config), req)
    emit_object(_header(inc))
    info(f"Next: soc incidents show {inc.id}; soc incidents due")
    return int(ExitCode.OK)


def _when(text: str, option: str) -> datetime:
    try:
        return parse_when(text)
    except ValueError as exc:
        raise InputError(f"{option}: {exc}", hint=f"Give a time such as {option} "
                         "2026-11-24T08:00:00Z, or a duration back from now such as 2h.") \
            from None


def _header(inc: records.Incident) -> dict[str, Any]:
    return {"id": inc.id, "title": inc.title, "status": inc.status,
            "classification": inc.classification, "flags": sorted(inc.flags),
            "type": inc.type, "severity": inc.severity.value, "t0": inc.t0,
            "playbook": f"{inc.playbook} v{inc.playbook_version}", "profile": inc.profile,
            "systems": ", ".join(f"{s['id']} (cấp độ {s['security_level']})"
                                 for s in inc.systems),
            "alerts": list(inc.alerts), "closed": inc.closed, "outcome": inc.outcome,
            **({"hold": f"since {inc.hold.get('since')} by {inc.hold.get('by')}: "
                        f"{inc.hold.get('reason')}"} if inc.hold else {})}


@incidents_group.command("list")
@click.option("--status", type=click.Choice(["open", "closed", "all"]), default="open",
              show_default=True)
@format_options
@pass_app
def list_cmd(app: App, status: str) -> int:
    """Incidents, oldest opened first."""
    with open_store(app.config, readonly=True) as store:
        found = lib.list_incidents(store, None if status == "all" else status)
    rows = [{**_header(i), "open_steps": sum(s.state in records.OPEN_STATES for s in i.steps)}
            for i in found]
    emit_rows(rows, ["id", "status", "classification", "severity", "t0", "playbook",
                     "open_steps", "title"])
    return int(ExitCode.OK)


@incidents_group.command("show")
@click.argument("incident")
@format_options
@pass_app
def show_cmd(app: App, incident: str) -> int:
    """One incident: header, steps with deadlines, its alerts and their entities, evidence,
    timeline."""
    with open_store(app.config, readonly=True) as store:
        inc = lib.get(store, incident)
        alerts = lib.incident_alerts(store, inc)
    if current_format() is not Format.TABLE:
        emit_object({**inc.to_dict(), "alert_details": [a.to_dict() for a in alerts],
                     "entities": lib.entities(alerts)})
        return int(ExitCode.OK)
    profile = lib.profile_of(inc)
    emit_object(_header(inc))
    click.echo("\n== Steps ==")
    rows = []
    for rec in inc.steps:
        when, rule = deadlines.deadline(inc, rec, profile)
        rows.append({"phase": rec.spec.phase, "id": rec.id, "kind": rec.spec.kind.value,
                     "state": rec.state.value, "role": rec.assignee or rec.spec.role,
                     "deadline": format_ts(when) if when else rule, "title": rec.spec.title.vi,
                     "reason": rec.reason})
    emit_rows(rows, STEP_COLUMNS)
    click.echo("\n== Alerts ==")
    emit_rows([summary_row(a) for a in alerts], ALERT_COLUMNS)
    if len(alerts) < len(inc.alerts):
        info(f"{len(inc.alerts) - len(alerts)} of its alerts are no longer stored.")
    found = lib.entities(alerts)
    if found:
        click.echo("\n== Entities ==")
        emit_rows([{"field": k, "values": ", ".join(v)} for k, v in found.items()],
                  ["field", "values"])
    if inc.evidence:
        click.echo("\n== Evidence ==")
        emit_rows([e.to_dict() for e in inc.evidence], ["at", "by", "name", "size", "sha256"])
    click.echo("\n== Timeline ==")
    emit_rows([e.to_dict() for e in inc.timeline], ["ts", "actor", "kind", "text"])
    return int(ExitCode.OK)


@incidents_group.command("add-alerts")
@click.argument("incident")
@click.argument("alert_ids", nargs=-1, required=True, metavar="ALERT...")
@_actor
@pass_app
def add_alerts_cmd(app: App, incident: str, alert_ids: tuple[str, ...],
                   actor: str | None) -> int:
    """Tie more alerts to an open incident (each is acknowledged and marked as the
    incident's; closing the incident closes them)."""
    with open_store(app.config) as store:
        inc, added = lib.add_alerts(store, app.config, incident, alert_ids,
                                    current_actor(actor))
    info(f"{inc.id}: {len(added)} alert(s) added, {len(inc.alerts)} in all."
         if added else f"{inc.id} already has these alerts.")
    return int(ExitCode.OK)


@incidents_group.command("step")
@click.argument("incident")
@click.argument("step")
@click.option("--start", "state", flag_value="in_progress", help="Mark it in progress.")
@click.option("--done", "state", flag_value="done", help="Mark it done.")
@click.option("--reopen", "state", flag_value="pending", help="Back to pending.")
@click.option("--skip", metavar="REASON", help="Skip it, saying why.")
@click.option("--block", metavar="REASON", help="Mark it blocked, saying on what.")
@click.option("--assign", metavar="NAME", help="Give it to someone.")
@click.option("--answer", metavar="ANSWER", help="Answer a decision step (it branches).")
@click.option("--note", metavar="TEXT", help="A note on the timeline with the change.")
@click.option("--run", is_flag=True, help="Run its queries against the store, or its action.")
@click.option("--allow-actions", is_flag=True,
              help="Let --run execute a configured action that changes another system.")
@_actor
@format_options
@pass_app
def step_cmd(app: App, incident: str, step: str, state: str | None, skip: str | None,
             block: str | None, assign: str | None, answer: str | None, note: str | None,
             run: bool, allow_actions: bool, actor: str | None) -> int:
    """Work a step: state, assignee, a decision's answer, or run its queries/action."""
    who = current_actor(actor)
    config = app.config
    with open_store(config) as store:
        if run:
            inc, results = lib.run_step(store, config, incident, step, who,
                                        allow_actions=allow_actions)
            _show_results(results)
        chosen = records.StepState(state) if state else records.StepState.SKIPPED \
            if skip is not None else records.StepState.BLOCKED if block is not None else None
        if chosen or assign or answer or not run:
            if not (chosen or assign or answer):
                raise InputError("nothing to change", hint="Give --done, --start, --skip "
                                 "REASON, --block REASON, --assign, --answer or --run.")
            change = lib.StepChange(state=chosen, reason=skip if skip is not None else block,
                                    assignee=assign, answer=answer, note=note)
            inc = lib.update_step(store, config, incident, step, change, who)
    rec = inc.step(step)
    info(f"{inc.id} {step}: {rec.state.value}" + (f" ({rec.reason})" if rec.reason else ""))
    if not run or rec.state not in (records.StepState.PARTIAL, records.StepState.FAILED):
        return int(ExitCode.OK)
    info(f"Hint: fix the cause and run it again (only the targets that did not succeed run): "
         f"soc incidents step {inc.id} {step} --run --allow-actions")
    return int(ExitCode.PARTIAL if rec.state is records.StepState.PARTIAL else ExitCode.ERROR)


def _show_results(results: list[dict[str, Any]]) -> None:
    for r in results:
        if "question" not in r:
            emit_object(r)
            continue
        click.echo(escape(f"== {r['question']} ({r['question_en']}) =="))
        click.echo(escape(f"   {r['query']}  [{r['since']} .. {r['until']}]"))
        if r.get("skipped"):
            click.echo(escape(f"   not run: {r['skipped']}"))
        else:
            more = " (the question's limit: there may be more)" if r.get("limited") else ""
            click.echo(f"   {r['count']} event(s){more}")
            emit_rows(r["events"], ["@timestamp", "host.name", "user.name", "source.ip",
                                    "event.action"])


@incidents_group.command("note")
@click.argument("incident")
@click.argument("text")
@click.option("--step", metavar="ID", help="The step the note is about.")
@_actor
@pass_app
def note_cmd(app: App, incident: str, text: str, step: str | None, actor: str | None) -> int:
    """Add a note to the timeline."""
    with open_store(app.config) as store:
        lib.add_note(store, app.config, incident, text, current_actor(actor), step)
    return int(ExitCode.OK)


@incidents_group.command("evidence")
@click.argument("incident")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--step", metavar="ID", help="The step it belongs to.")
@click.option("--note", default="", help="What it is, where it came from.")
@click.option("--reference", is_flag=True, help="Only record the hash; do not copy the file "
              "into <data_dir>/evidence/.")
@_actor
@format_options
@pass_app
def evidence_cmd(app: App, incident: str, file: Path, step: str | None, note: str,
                 reference: bool, actor: str | None) -> int:
    """Attach an evidence file: sha256, size, who, when; copied into the data directory."""
    with open_store(app.config) as store:
        inc = lib.add_evidence(store, app.config, incident, file, current_actor(actor),
                               step=step, note=note, copy=not reference)
    emit_object(inc.evidence[-1].to_dict())
    return int(ExitCode.OK)


@incidents_group.command("classify")
@click.argument("incident")
@click.option("--serious/--ordinary", default=None, help="New classification.")
@click.option("--flag", "flags", multiple=True, type=click.Choice(records.FLAGS),
              help="Add a flag (repeatable).")
@click.option("--type", "type_", metavar="TYPE", help="New incident type.")
@_actor
@pass_app
def classify_cmd(app: App, incident: str, serious: bool | None, flags: tuple[str, ...],
                 type_: str | None, actor: str | None) -> int:
    """Reclassify; reporting duties that now apply come back on the list."""
    classification = None if serious is None else "serious" if serious else "ordinary"
    with open_store(app.config) as store:
        inc = lib.classify(store, app.config, incident, current_actor(actor),
                           classification=classification, flags=flags, type=type_)
    info(f"{inc.id}: {inc.classification}, flags {sorted(inc.flags) or 'none'}")
    return int(ExitCode.OK)


@incidents_group.command("due")
@click.option("--at", "at", metavar="WHEN",
              help="Judge overdue and time left at this moment (ISO time; default: now), "
                   "e.g. for tomorrow morning's briefing.")
@format_options
@pass_app
def due_cmd(app: App, at: str | None) -> int:
    """Deadlines across incidents, overdue first (exit 10 when something is overdue)."""
    config = app.config
    now = when(at, "--at") or datetime.now(UTC)
    with open_store(config, readonly=True) as store:
        found = lib.list_incidents(store, None)
    items = deadlines.due(found, lib.profiles_of(found, active_profile(config)))
    units = {i.id: i.units for i in found}
    rows = []
    for item in items:
        row = item.to_dict(now)
        row["deadline"] = row["deadline"] or item.rule
        row["to"] = [_recipient(r) for r in resolve(config, item.to, units[item.incident])]
        rows.append(row)
    emit_rows(rows, DUE_COLUMNS)
    overdue = sum(1 for r in rows if r["overdue"])
    if overdue:
        info(f"{overdue} step(s) overdue.")
    return int(ExitCode.FINDINGS if overdue else ExitCode.OK)


def _recipient(r: Any) -> str:
    names = "; ".join(c.email or c.name for c in r.contacts)
    return f"{r.role}: {names}" if names else f"{r.role} (no contact configured)"


@incidents_group.command("close")
@click.argument("incident")
@click.option("--outcome", required=True, help="What happened and how it was resolved.")
@_actor
@pass_app
def close_cmd(app: App, incident: str, outcome: str, actor: str | None) -> int:
    """End the response and close its alerts (the incident as reason, audited); the report
    steps stay due (the final report counts from now)."""
    with open_store(app.config) as store:
        inc = lib.close_incident(store, app.config, incident, outcome, current_actor(actor))
        left = [a for a in lib.incident_alerts(store, inc) if a.status.value != "closed"]
    closed = local_time(inc.closed) if inc.closed else "now"
    info(f"{inc.id} closed at {closed}, its alerts too"
         + (f" ({len(left)} tied to another incident stay open)" if left else "")
         + ". Reports still due: soc incidents due")
    return int(ExitCode.OK)


@incidents_group.command("hold")
@click.argument("incident")
@click.option("--reason", required=True, help="Why the evidence must be kept (a request, a "
              "case number).")
@_actor
@pass_app
def hold_cmd(app: App, incident: str, reason: str, actor: str | None) -> int:
    """Legal hold: retention keeps the incident's events after it closes too, until released
    (while it is open they are kept anyway)."""
    with open_store(app.config) as store:
        inc = lib.hold(store, app.config, incident, reason, current_actor(actor))
    info(f"{inc.id} on hold: retention keeps its events until 'soc incidents release "
         f"{inc.id}'.")
    return int(ExitCode.OK)


@incidents_group.command("release")
@click.argument("incident")
@click.option("--reason", required=True, help="Why the evidence need not be kept any more.")
@_actor
@pass_app
def release_cmd(app: App, incident: str, reason: str, actor: str | None) -> int:
    """Lift a legal hold: once the incident is closed, retention deletes its expired events."""
    with open_store(app.config) as store:
        inc = lib.release(store, app.config, incident, reason, current_actor(actor))
    kept = "kept while it is open" if inc.status != "closed" else "no longer kept past retention"
    info(f"{inc.id} released: its events are {kept}.")
    return int(ExitCode.OK)


COMMANDS = [incidents_group]
