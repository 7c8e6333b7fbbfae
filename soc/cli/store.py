"""``soc store``: create, inspect and prune the store; dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from soc.cli.app import App, pass_app
from soc.cli.output import emit_object, emit_rows, format_options, info
from soc.cli.search import when
from soc.errors import ExitCode
from soc.pipeline.deadletters import replay
from soc.response.holds import run_retention
from soc.stores.base import RetentionItem, diagnose_store, open_store


@click.group("store")
def store_group() -> None:
    """Create, inspect and prune the store."""


@store_group.command("init")
@click.option("--kibana", metavar="URL", help="Also import the Kibana data views and dashboard "
              "(Elasticsearch store).")
@pass_app
def init_cmd(app: App, kibana: str | None) -> int:
    """Create the store, or bring it to this version (schema; on Elasticsearch templates, ILM
    policies and indices)."""
    with open_store(app.config) as store:
        for line in store.install(kibana_url=kibana):
            info(line)
        stats = store.stats()
    info(f"Store ready ({app.config.store.type}, schema {stats.get('schema_version')}).")
    return int(ExitCode.OK)


@store_group.command("stats")
@format_options
@pass_app
def stats_cmd(app: App) -> int:
    """Counts and sizes: events, partitions, datasets, dead letters, alerts."""
    with open_store(app.config, readonly=True) as store:
        emit_object(store.stats())
    return int(ExitCode.OK)


@store_group.command("retention")
@click.option("--apply", is_flag=True, help="Delete the expired days' events, except those held "
              "for an incident (default: only list them).")
@click.option("--at", "at", metavar="WHEN", help="Judge what is expired at this moment (ISO "
              "time; default: now), e.g. to see what a later run will delete.")
@format_options
@pass_app
def retention_cmd(app: App, apply: bool, at: str | None) -> int:
    """Days of events per security level and which are past retention (deleted with --apply);
    events of open or held incidents are kept, and the command says how many and why."""
    config = app.config
    now = when(at, "--at") or datetime.now(UTC)
    with open_store(config, readonly=not apply) as store:
        run = run_retention(store, config, now=now, apply=apply)
    emit_rows((_retention_row(i, apply) for i in run.items),
              ["day", "level", "events", "keep_days", "held", "action"])
    for kept in run.kept():
        info(f"{'Kept' if apply else 'Keeps'} {kept['events']} expired event(s) of incident "
             f"{kept['incident']} ({kept['why']}).")
    expired = [i for i in run.items if i.expired and i.held < i.events]
    if expired and not apply:
        info(f"{len(expired)} day(s) past retention. Hint: soc store retention --apply")
    return int(ExitCode.OK)


def _retention_row(item: RetentionItem, applied: bool) -> dict[str, Any]:
    """One partition for people and scripts: ``action`` keep, expired, dropped (with
    ``--apply``) or held (every event of it held); ``held_by``: incident → events kept."""
    action = "keep"
    if item.expired:
        action = "held" if 0 < item.events <= item.held else "dropped" if applied else "expired"
    return {"day": item.day, "level": item.level if item.level is not None else "unknown",
            "events": item.events, "keep_days": item.keep_days, "held": item.held,
            "held_by": dict(item.kept), "action": action}


@store_group.command("dead-letters")
@click.option("-s", "--source", metavar="NAME", help="Only this source.")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--replay", "do_replay", is_flag=True,
              help="Parse them again (after a parser fix); those that parse become events.")
@format_options
@pass_app
def dead_letters_cmd(app: App, source: str | None, limit: int, do_replay: bool) -> int:
    """Records that could not be parsed, with the reason; --replay re-parses them."""
    if do_replay:
        with open_store(app.config) as store:
            result = replay(app.config, store, source=source)
        info(f"{result.replayed} replayed into events, {result.still_dead} still unparseable.")
        return int(ExitCode.OK if result.still_dead == 0 else ExitCode.PARTIAL)
    with open_store(app.config, readonly=True) as store:
        letters = store.dead_letters(source=source, limit=limit or None)
    emit_rows((dl.to_dict(raw_limit=200) for dl in letters),
              ["received", "source", "origin", "reason", "raw"])
    return int(ExitCode.OK)


@store_group.command("doctor")
@format_options
@pass_app
def doctor_cmd(app: App) -> int:
    """Check the store and say what to fix (a damaged store too: what can be read of it).
    Exit 10 when a check fails; warnings alone (a cluster without ILM...) exit 0."""
    findings = diagnose_store(app.config)
    emit_rows(findings, ["check", "status", "detail"])
    failed = [f for f in findings if f.get("status") not in ("ok", "warn")]
    return int(ExitCode.FINDINGS if failed else ExitCode.OK)


COMMANDS = [store_group]
