"""``soc alerts list|show|events|ack|close|assign|comment``: triage of stored alerts, every change
audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from soc import alerts as lib
from soc import pivots
from soc.cli.app import App, pass_app
from soc.cli.output import (
    Format,
    current_format,
    emit_object,
    emit_rows,
    field_table,
    format_options,
    info,
)
from soc.cli.search import DEFAULT_FIELDS, field_list, when
from soc.ecs import format_ts
from soc.errors import ExitCode, InputError
from soc.models import Alert, AlertQuery, AlertStatus, AuditEntry, Severity
from soc.stores.base import Store, open_store

COLUMNS = ["id", "last_seen", "severity", "status", "rule_title", "count", "entity", "system",
           "assignee"]
TRAIL_COLUMNS = ["seq", "ts", "actor", "action", "before", "after", "reason"]
_actor = click.option("--actor", metavar="NAME", envvar="SOC_ACTOR",
                      help="Who acts, for the audit trail (default: $SOC_ACTOR, else the OS "
                           "user).")


@click.group("alerts")
def alerts_group() -> None:
    """Alerts raised by the rules: list, show, acknowledge, close, assign.

    Every change is written to the audit trail with who made it.
    """


@alerts_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in AlertStatus]),
              help="Only alerts in this state.")
@click.option("--severity", type=click.Choice([s.value for s in Severity]),
              help="Only alerts at this severity or above.")
@click.option("--rule", metavar="ID", help="Only alerts of this rule id.")
@click.option("--system", metavar="ID", help="Only alerts on this system (labels.system).")
@click.option("--unit", metavar="ID", help="Only alerts of this unit (organization.id).")
@click.option("--since", metavar="WHEN", help="Seen at or after: 24h, 7d, or an ISO date.")
@click.option("--assignee", metavar="USER", help="Only alerts assigned to USER.")
@click.option("--mine", is_flag=True,
              help="Only alerts assigned to me (--actor, else $SOC_ACTOR, else the OS user).")
@click.option("--incident", metavar="ID", help="Only alerts tied to this incident.")
@click.option("--where", metavar="QUERY",
              help="Only alerts this query matches (soc search's syntax over the alert's fields "
                   "and entity: 'rule_id:X AND source.ip:10.0.0.0/8').")
@_actor
@click.option("-n", "--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="At most this many (0: no limit).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True,
              help="Skip this many first (the next page: the --offset the last line says).")
@format_options
@pass_app
def list_cmd(app: App, status: str | None, severity: str | None, rule: str | None,
             system: str | None, unit: str | None, since: str | None, assignee: str | None,
             mine: bool, incident: str | None, where: str | None, actor: str | None,
             limit: int, offset: int) -> int:
    """Alerts, most recently seen first (table, --json or --nl), a page at a time: when more
    match, stderr ends with "N more: --offset M"."""
    start = when(since, "--since")
    if mine and assignee:
        raise InputError("--mine and --assignee both name the assignee",
                         hint="Give one of them.")
    query = AlertQuery(status=AlertStatus(status) if status else None,
                       min_severity=Severity(severity) if severity else None, rule=rule,
                       system=system, unit=unit, since=format_ts(start) if start else None,
                       limit=limit or None,
                       assignee=lib.current_actor(actor) if mine else assignee,
                       incident=incident)
    with open_store(app.config, readonly=True) as store:
        found = lib.page(store, query, offset, where=where)
    rows: list[dict[str, Any]] = [lib.summary_row(a) for a in found.alerts]
    table = current_format() is Format.TABLE
    if emit_rows(rows if table else [a.to_dict() for a in found.alerts], COLUMNS) == 0:
        info("No alerts match." if offset == 0 else f"No alerts match past --offset {offset}.")
    if found.more:
        info(f"{found.more} more: --offset {found.next_offset}")
    return int(ExitCode.OK)


@alerts_group.command("show")
@click.argument("alert_id", metavar="ID")
@format_options
@pass_app
def show_cmd(app: App, alert_id: str) -> int:
    """One alert in full, with its audit trail (ID or a unique prefix of 6+ characters)."""
    with open_store(app.config, readonly=True) as store:
        alert = lib.get(store, alert_id)
        trail = store.audit_trail(alert.id)
    if current_format() is not Format.TABLE:
        emit_object({**alert.to_dict(), "audit": [e.to_dict() for e in trail]})
        return int(ExitCode.OK)
    shown = alert.to_dict()
    event = shown.pop("event")
    comments = shown.pop("comments")
    emit_object(shown)
    if event:
        click.echo(f"event\n{field_table(event)}")
    if comments:
        click.echo("\n== Comments ==")
        emit_rows(comments, ["ts", "actor", "text"])
    click.echo("\n== Audit trail ==")  # a table, so its times are local like the alert's
    emit_rows([_trail_row(e) for e in trail], TRAIL_COLUMNS)
    return int(ExitCode.OK)


@alerts_group.command("events")
@click.argument("alert_id", metavar="ID")
@click.option("--fields", metavar="A,B", help="Columns to show (table) or keep (JSON).")
@format_options
@pass_app
def events_cmd(app: App, alert_id: str, fields: str | None) -> int:
    """Every event of an alert, oldest first: all the events detection linked to it
    (triggering and contributing), not only the first 50 its document names. --nl streams.

    Exit code 5 when some are no longer stored (past retention); stderr says how many."""
    columns = field_list(fields)
    with open_store(app.config, readonly=True) as store:
        linked = pivots.alert_events(store, alert_id)
        events = linked if not columns else ({k: e.get(k) for k in columns} for e in linked)
        shown = emit_rows(events, columns or DEFAULT_FIELDS)
    if linked.missing:
        info(f"{len(linked.missing)} of the {len(linked.links)} events of alert "
             f"{linked.alert.id} are no longer stored (removed by retention?), e.g. "
             f"{linked.missing[0]}.")
        return int(ExitCode.PARTIAL)
    if shown == 0:
        info(f"Alert {linked.alert.id} has no linked events.")
    return int(ExitCode.OK)


def _trail_row(entry: AuditEntry) -> dict[str, Any]:
    details = entry.details
    return {"seq": entry.seq, "ts": entry.ts, "actor": entry.actor, "action": entry.action,
            "before": details.get("before"), "after": details.get("after"),
            "reason": details.get("reason")}


def _change(app: App, action: Callable[[Store, Path], Alert], done: str) -> int:
    with open_store(app.config) as store:
        alert = action(store, app.config.data_dir)
    info(f"{done} {alert.id} ({alert.rule_title}).")
    return int(ExitCode.OK)


@alerts_group.command("ack")
@click.argument("alert_id", metavar="ID")
@_actor
@pass_app
def ack_cmd(app: App, alert_id: str, actor: str | None) -> int:
    """Acknowledge an alert: someone is looking at it."""
    who = lib.current_actor(actor)
    return _change(app, lambda s, d: lib.acknowledge(s, alert_id, who, data_dir=d),
                   "Acknowledged")


@alerts_group.command("close")
@click.argument("alert_id", metavar="[ID]", required=False)
@click.option("--where", metavar="QUERY",
              help="Close every alert not yet closed that this query matches instead of one "
                   "(soc search's syntax over the alert's fields and entity).")
@click.option("--dry-run", is_flag=True, help="With --where: list them, close nothing.")
@click.option("--reason", required=True, metavar="TEXT",
              help="Why: false positive, handled in incident X...")
@_actor
@format_options
@pass_app
def close_cmd(app: App, alert_id: str | None, where: str | None, dry_run: bool, reason: str,
              actor: str | None) -> int:
    """Close an alert (ID) or every alert a query matches (--where), with a reason; one audit
    entry per alert. New activity later raises a new alert.

    \b
    soc alerts close --where 'rule_id:5a7b... AND source.ip:10.0.5.20' --reason 'our scanner'
    """
    who = lib.current_actor(actor)
    if (alert_id is None) == (where is None):
        raise InputError("give an alert ID or --where QUERY (one of them)",
                         hint="soc alerts close ID --reason TEXT, or "
                              "soc alerts close --where 'rule_id:X' --reason TEXT")
    if where is None:
        if dry_run:
            raise InputError("--dry-run goes with --where", hint="Drop --dry-run.")
        return _change(app, lambda s, d: lib.close(s, str(alert_id), reason, who, data_dir=d),
                       "Closed")
    with open_store(app.config, readonly=dry_run) as store:
        closed = lib.close_where(store, where, reason, who, data_dir=app.config.data_dir,
                                 dry_run=dry_run)
    emit_rows([lib.summary_row(a) for a in closed], COLUMNS)
    verb = "Would close" if dry_run else "Closed"
    info(f"{verb} {len(closed)} alert(s)." if closed else "No open alert matches.")
    return int(ExitCode.OK)


@alerts_group.command("comment")
@click.argument("alert_id", metavar="ID")
@click.argument("text")
@_actor
@pass_app
def comment_cmd(app: App, alert_id: str, text: str, actor: str | None) -> int:
    """Add a comment to an alert (shown by 'soc alerts show', audited)."""
    who = lib.current_actor(actor)
    return _change(app, lambda s, d: lib.comment(s, alert_id, text, who, data_dir=d),
                   "Commented on")


@alerts_group.command("assign")
@click.argument("alert_id", metavar="ID")
@click.argument("user")
@_actor
@pass_app
def assign_cmd(app: App, alert_id: str, user: str, actor: str | None) -> int:
    """Give an alert to an analyst (USER)."""
    who = lib.current_actor(actor)
    return _change(app, lambda s, d: lib.assign(s, alert_id, user, who, data_dir=d),
                   f"Assigned to {user}:")


COMMANDS = [alerts_group]
