"""``soc notify test|outbox|retry|run``: the notification outbox and its channels."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from soc.cli.app import App, pass_app
from soc.cli.output import emit_object, emit_rows, format_options, info
from soc.errors import ExitCode, UsageError
from soc.notify import ops
from soc.notify.model import DeliveryError
from soc.stores.base import open_store

OUTBOX_COLUMNS = ["seq", "created", "kind", "severity", "route", "channel", "status",
                  "attempts", "next_at", "last_error", "key"]


@click.group("notify")
def notify_group() -> None:
    """Alerts, incidents and deadline reminders to people (docs/notifications.md)."""


@notify_group.command("test")
@click.argument("channel")
@format_options
@pass_app
def test_cmd(app: App, channel: str) -> int:
    """Send a test message on CHANNEL now; exit 0 when the channel accepted it."""
    try:
        receipt = ops.send_test(app.config, channel, now=datetime.now(UTC))
    except DeliveryError as exc:
        if not exc.hint:
            exc.hint = (f"Check notify.channels.{channel} in soc.yml and that the peer is "
                        "reachable from this host (docs/notifications.md).")
        raise
    emit_object({"channel": channel, "receipt": receipt})
    return int(ExitCode.OK)


@notify_group.command("outbox")
@click.option("--failed", is_flag=True, help="Only deliveries given up (refused or too old).")
@click.option("--limit", type=int, default=100, show_default=True,
              help="Show the newest N deliveries (0: all).")
@format_options
@pass_app
def outbox_cmd(app: App, failed: bool, limit: int) -> int:
    """Deliveries: what was sent, what waits (and why), what failed."""
    with open_store(app.config, readonly=True) as store:
        rows = ops.outbox_rows(store, failed=failed, limit=limit or None)
    if not emit_rows(rows, OUTBOX_COLUMNS):
        info("No deliveries." if not failed else "No failed deliveries.")
    return int(ExitCode.OK)


@notify_group.command("retry")
@click.argument("keys", nargs=-1, metavar="KEY...")
@click.option("--all-failed", is_flag=True, help="Queue every failed delivery again.")
@format_options
@pass_app
def retry_cmd(app: App, keys: tuple[str, ...], all_failed: bool) -> int:
    """Queue deliveries again (due now, attempts reset); 'soc notify run' sends them."""
    if bool(keys) == all_failed:
        raise UsageError("name the deliveries to retry, or give --all-failed (not both)",
                         hint="See their keys: soc notify outbox --failed")
    with open_store(app.config) as store:
        done = ops.retry(store, list(keys), all_failed=all_failed, now=datetime.now(UTC))
    emit_rows([{"key": k, "status": "queued"} for k in done], ["key", "status"])
    info(f"{len(done)} delivery(ies) queued again; 'soc notify run' sends them now.")
    return int(ExitCode.OK)


@notify_group.command("run")
@format_options
@pass_app
def run_cmd(app: App) -> int:
    """One dispatch now: plan reminders and escalations, route, send what is due (what cron
    can call). Exit 5 when a channel failed (see stderr)."""
    report = ops.dispatch(app.config, now=datetime.now(UTC))
    emit_object({k: v for k, v in report.to_dict().items()
                 if k not in ("problems", "persistent")})
    for line in report.problems:
        info(f"Warning: {line}")
    return int(ExitCode.OK if report.ok else ExitCode.PARTIAL)


COMMANDS = [notify_group]
