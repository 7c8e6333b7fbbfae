"""``soc store``: create, inspect and prune the store; dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from soc.cli.app import App, pass_app
from soc.cli.output import emit_object, emit_rows, format_options, info
from soc.errors import ExitCode
from soc.pipeline.deadletters import replay
from soc.stores.base import diagnose_store, open_store


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
@click.option("--apply", is_flag=True, help="Drop the expired days (default: only list them).")
@format_options
@pass_app
def retention_cmd(app: App, apply: bool) -> int:
    """Days of events per security level and which are past retention (dropped with --apply)."""
    config = app.config
    with open_store(config, readonly=not apply) as store:
        items = store.retention(config.retention_days, now=datetime.now(UTC), apply=apply)
    rows = [{"day": i.day, "level": i.level if i.level is not None else "unknown",
             "events": i.events, "keep_days": i.keep_days,
             "action": ("dropped" if apply else "expired") if i.expired else "keep"}
            for i in items]
    emit_rows(rows, ["day", "level", "events", "keep_days", "action"])
    expired = [i for i in items if i.expired]
    if expired and not apply:
        info(f"{len(expired)} day(s) past retention. Hint: soc store retention --apply")
    return int(ExitCode.OK)


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
    """Check the store and say what to fix (a damaged store too: what can be read of it)."""
    findings = diagnose_store(app.config)
    emit_rows(findings, ["check", "status", "detail"])
    bad = [f for f in findings if f.get("status") != "ok"]
    return int(ExitCode.FINDINGS if bad else ExitCode.OK)


COMMANDS = [store_group]
