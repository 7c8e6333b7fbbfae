"""``soc audit verify|list``: the hash-chained audit trail."""

from __future__ import annotations

import click

from soc import audit as lib
from soc.cli.app import App, pass_app
from soc.cli.output import emit_object, emit_rows, format_options, info
from soc.errors import ExitCode
from soc.stores.base import open_store


@click.group("audit")
def audit_group() -> None:
    """The audit trail: every change to alerts and incidents, chained by sha256."""


@audit_group.command("verify")
@click.option("--head", metavar="SEQ:SHA256",
              help="A head printed by an earlier verify: checks the newest entries were not "
                   "deleted since.")
@format_options
@pass_app
def verify_cmd(app: App, head: str | None) -> int:
    """Check the chain, every alert and incident against the state its last entry recorded,
    that none the trail names was deleted, and the evidence copies; exit 10 naming each broken
    entry, each record changed or deleted outside soc and each overwritten evidence copy."""
    expected = lib.Head.parse(head) if head else None
    with open_store(app.config, readonly=True) as store:
        result = lib.verify_store(store, app.config.data_dir, expected)
    emit_object(result.to_dict())
    for note in result.notes:
        info(f"NOTE: {note}")
    for problem in result.problems:
        info(f"BROKEN: {problem.message}")
    if not result.ok:
        info("The audit trail does not verify. Keep the store as it is for investigation.")
        return int(ExitCode.FINDINGS)
    info(f"OK: {result.entries} entries chain; head {result.head}. Record the head elsewhere "
         "(daily report) to detect deletion of the newest entries later.")
    return int(ExitCode.OK)


@audit_group.command("list")
@click.option("--subject", metavar="ID", help="Only entries about this alert or incident.")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=0,
              help="At most this many (0: all).")
@format_options
@pass_app
def list_cmd(app: App, subject: str | None, limit: int) -> int:
    """Audit entries, oldest first."""
    with open_store(app.config, readonly=True) as store:
        trail = store.audit_trail(subject, limit=limit or None)
    rows = [{**e.to_dict(), "hash": lib.chain_of(e)[1][:16]} for e in trail]
    emit_rows(rows, ["seq", "ts", "actor", "action", "subject", "hash"])
    return int(ExitCode.OK)


COMMANDS = [audit_group]
