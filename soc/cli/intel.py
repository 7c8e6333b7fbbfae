"""``soc intel``: indicators, feeds, retro-hunts and sightings (docs/threat-intel.md)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from soc.cli.app import App, pass_app
from soc.cli.output import emit_object, emit_rows, format_options, info
from soc.cli.search import when
from soc.ecs import format_ts
from soc.errors import ExitCode, InputError, NotFoundError, UsageError
from soc.intel import library
from soc.intel.config import load as load_intel
from soc.intel.model import (
    TYPES,
    IndicatorError,
    IndicatorRecord,
    guess_type,
    indicator_id,
    normalize,
)
from soc.intel.pull import FORMATS, hunt_changed, parse_document, pull, state_key
from soc.lock import PassLock
from soc.state import StateStore
from soc.stores.base import open_store

LIST_COLUMNS = ["type", "value", "sources", "confidence", "tlp", "valid_until", "expired",
                "updated"]
PULL_COLUMNS = ["feed", "read", "new", "updated", "unchanged", "skipped", "error"]


@click.group("intel")
def intel_group() -> None:
    """Threat-intel indicators: feeds, matching, retro-hunts, sightings (docs/threat-intel.md)."""


def _lock(app: App) -> PassLock:
    return PassLock(app.config.data_dir / "intel.lock", what="intel")


@intel_group.command("pull")
@click.argument("feeds", nargs=-1, metavar="[FEED]...")
@click.option("--due", "only_due", is_flag=True,
              help="Only the feeds whose interval has passed since their last good pull.")
@click.option("--no-hunt", is_flag=True, help="Do not retro-hunt the new indicators.")
@format_options
@pass_app
def pull_cmd(app: App, feeds: tuple[str, ...], only_due: bool, no_hunt: bool) -> int:
    """Pull the configured feeds (all enabled ones, or those named) from where the last pull
    ended, then look for the new indicators in stored history. Safe from cron: silent when all
    went well, one line per failed feed on stderr and exit 5."""
    config = app.config
    now = datetime.now(UTC)
    with _lock(app), open_store(config) as store:
        state = StateStore(config.data_dir / "state.db")
        try:
            report = pull(config, store, state, names=feeds, now=now, hunt=not no_hunt,
                          only_due=only_due)
        finally:
            state.close()
    rows = [{**f.to_dict(), "error": f.error or ""} for f in report.feeds]
    if app.verbose or _wants_output():  # cron: silent unless something is wrong
        emit_rows(rows, PULL_COLUMNS)
    for f in report.errors:
        info(f"Error: feed {f.feed}: {f.error}" + (f" Hint: {f.hint}" if f.hint else ""))
    for f in report.feeds:
        if f.ingest.skipped and not f.error:
            what, reason = f.ingest.skipped[0]
            info(f"Warning: feed {f.feed}: {len(f.ingest.skipped)} record(s) skipped (first: "
                 f"{what}: {reason}). Hint: soc intel pull {f.feed} --json lists them")
    if report.retro and report.retro.errors:
        for error in report.retro.errors[:5]:
            info(f"Error: retro-hunt: {error}")
    if report.retro and report.retro.alerts and app.verbose:
        info(f"Retro-hunt: {report.retro.alerts} new alert(s) from {report.retro.events} "
             f"past event(s).")
    failed = report.errors or (report.retro is not None and report.retro.errors) or any(
        f.ingest.skipped for f in report.feeds)
    return int(ExitCode.PARTIAL if failed else ExitCode.OK)


def _wants_output() -> bool:
    from soc.cli.output import Format, current_format
    return current_format() is not Format.TABLE


@intel_group.command("add")
@click.argument("file", metavar="FILE|-")
@click.option("--source", "source", metavar="NAME",
              help="The feed name the indicators are kept under (default: the file's name).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--kind", type=click.Choice(TYPES), help="The type of every value (plain lists).")
@click.option("--confidence", type=click.IntRange(0, 100),
              help="Confidence of indicators that give none.")
@click.option("--tlp", help="TLP of indicators that give none (clear, green, amber, red).")
@click.option("--no-hunt", is_flag=True, help="Do not retro-hunt the new indicators.")
@format_options
@pass_app
def add_cmd(app: App, file: str, source: str | None, fmt: str, kind: str | None,
            confidence: int | None, tlp: str | None, no_hunt: bool) -> int:
    """Import indicators once from a file or standard input: a STIX 2.1 bundle, a MISP event,
    a CSV (Vietnamese or English headers) or a plain list, then retro-hunt them."""
    from dataclasses import replace

    from soc.intel.model import tlp_of
    config = app.config
    now = datetime.now(UTC)
    data = _read_input(file)
    name = source or ("stdin" if file == "-" else Path(file).stem)
    result = parse_document(data, fmt, source=name, config=config, now=now, kind=kind)
    mark = tlp_of(tlp) if tlp else None
    if tlp and mark is None:
        raise UsageError(f"unknown TLP {tlp!r}", hint="one of clear, green, amber, "
                         "amber+strict, red")
    items = [replace(i, confidence=i.confidence if i.confidence is not None else confidence,
                     tlp=i.tlp or mark) for i in result.indicators]
    with _lock(app), open_store(config) as store:
        ingest = library.IngestReport(skipped=list(result.skipped))
        library.ingest(store, items, format_ts(now), ingest)
        intel = load_intel(config)
        retro = None if no_hunt or not intel.retro_hunt else hunt_changed(
            config, store, ingest.changed, now=now, intel=intel)
    emit_object({"source": name, **ingest.to_dict(),
                 **({"retro_hunt": retro.to_dict()} if retro else {})})
    for what, reason in result.skipped[:5]:
        info(f"Skipped {what}: {reason}")
    if not result.indicators and result.skipped:
        raise InputError(f"no usable indicator in {file} ({len(result.skipped)} skipped)",
                         hint="check the format (--format) and the type (--kind)")
    return int(ExitCode.PARTIAL if result.skipped else ExitCode.OK)


def _read_input(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}",
                         hint="check the path and its permissions") from None


def _row(record: IndicatorRecord) -> dict[str, Any]:
    return {"type": record.type, "value": record.value, "sources": ",".join(record.sources),
            "confidence": record.confidence, "tlp": record.tlp,
            "valid_until": record.valid_until, "expired": record.expired,
            "updated": record.updated, "id": record.id}


@intel_group.command("list")
@click.option("--type", "kind", type=click.Choice(TYPES), help="Only this type.")
@click.option("--source", metavar="FEED", help="Only indicators this feed gave.")
@click.option("--all", "show_all", is_flag=True, help="Expired ones too (kept for history).")
@click.option("--limit", type=int, default=100, show_default=True, help="At most N (0: all).")
@format_options
@pass_app
def list_cmd(app: App, kind: str | None, source: str | None, show_all: bool,
             limit: int) -> int:
    """The stored indicators (live ones unless --all)."""
    now = format_ts(datetime.now(UTC))
    with open_store(app.config, readonly=True) as store:
        found = store.list_indicators(kind=kind, source=source,
                                      live_at=None if show_all else now)
        rows = []
        for record in found:
            rows.append(_row(record))
            if limit and len(rows) >= limit:
                break
    if not emit_rows(rows, LIST_COLUMNS):
        info("No indicators." + ("" if show_all else " (--all shows expired ones)"))
    return int(ExitCode.OK)


def _ids(values: tuple[str, ...], kind: str | None) -> list[str]:
    out: list[str] = []
    for raw in values:
        k, _, v = raw.partition(":") if kind is None and raw.split(":", 1)[0] in TYPES \
            else (kind or "", "", raw)
        k = k or guess_type(v) or ""
        try:
            out.append(indicator_id(k, normalize(k, v)))
        except IndicatorError as exc:
            raise UsageError(str(exc), hint="give TYPE:VALUE, e.g. domain:evil.example or "
                             "--type") from None
    return out


@intel_group.command("show")
@click.argument("value", metavar="[TYPE:]VALUE")
@click.option("--type", "kind", type=click.Choice(TYPES))
@format_options
@pass_app
def show_cmd(app: App, value: str, kind: str | None) -> int:
    """One indicator with every feed's context."""
    ids = _ids((value,), kind)
    with open_store(app.config, readonly=True) as store:
        found = store.get_indicators(ids)
    if not found:
        raise NotFoundError(f"no stored indicator {value}", hint="soc intel list --all")
    record = next(iter(found.values()))
    emit_object({**{k: v for k, v in record.to_doc().items() if k != "sources"},
                 "live": record.live(format_ts(datetime.now(UTC))),
                 "sources": record.to_doc()["sources"]})
    return int(ExitCode.OK)


@intel_group.command("expire")
@click.argument("values", nargs=-1, required=True, metavar="[TYPE:]VALUE...")
@click.option("--type", "kind", type=click.Choice(TYPES))
@pass_app
def expire_cmd(app: App, values: tuple[str, ...], kind: str | None) -> int:
    """Stop matching these indicators now (they stay for history and sightings)."""
    ids = _ids(values, kind)
    with _lock(app), open_store(app.config) as store:
        done = library.expire(store, ids, format_ts(datetime.now(UTC)))
    info(f"{done} indicator(s) expired.")
    return int(ExitCode.OK if done == len(set(ids)) else ExitCode.NOT_FOUND)


@intel_group.command("remove")
@click.argument("values", nargs=-1, metavar="[TYPE:]VALUE...")
@click.option("--type", "kind", type=click.Choice(TYPES))
@click.option("--source", metavar="FEED", help="Take this feed's word off every indicator "
              "(those no other feed gives are removed).")
@pass_app
def remove_cmd(app: App, values: tuple[str, ...], kind: str | None, source: str | None) -> int:
    """Forget indicators entirely, or everything one feed said."""
    if bool(values) == bool(source):
        raise UsageError("name indicators or give --source (not both)")
    with _lock(app), open_store(app.config) as store:
        if source:
            removed, kept = library.remove_source(store, source, format_ts(datetime.now(UTC)))
            info(f"{removed} indicator(s) removed, {kept} kept from other feeds.")
            app_state = StateStore(app.config.data_dir / "state.db")
            try:
                app_state.reset(state_key(source))
            finally:
                app_state.close()
            return int(ExitCode.OK)
        ids = _ids(values, kind)
        done = library.remove(store, ids)
    info(f"{done} indicator(s) removed.")
    return int(ExitCode.OK if done == len(set(ids)) else ExitCode.NOT_FOUND)


@intel_group.command("hunt")
@click.option("--changed-since", metavar="WHEN",
              help="Hunt the indicators added or changed since then (default: every live one).")
@format_options
@pass_app
def hunt_cmd(app: App, changed_since: str | None) -> int:
    """Retro-hunt: look for indicators in the stored history of intel.lookback (30 days)."""
    now = datetime.now(UTC)
    since = when(changed_since, "--changed-since")
    with _lock(app), open_store(app.config) as store:
        found = store.list_indicators(live_at=format_ts(now),
                                      changed_since=format_ts(since) if since else None)
        ids = [r.id for r in found]
        report = hunt_changed(app.config, store, ids, now=now)
    emit_object(report.to_dict())
    for error in report.errors[:5]:
        info(f"Error: {error}")
    return int(ExitCode.PARTIAL if report.errors else ExitCode.OK)


@intel_group.command("sightings")
@click.option("--since", default="7d", show_default=True, metavar="WHEN",
              help="Matches last seen since then (a duration back, or an ISO time).")
@click.option("--format", "fmt", type=click.Choice(["stix", "misp", "csv"]), default="stix",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
@pass_app
def sightings_cmd(app: App, since: str, fmt: str, output: str | None) -> int:
    """What matched, to share upstream: STIX 2.1 Sightings, MISP sightings, or the national
    centre's CSV. Indicators marked TLP:RED are held back."""
    from soc.intel.sighted import export
    now = datetime.now(UTC)
    start = when(since, "--since") or now
    with open_store(app.config, readonly=True) as store:
        text, held = export(app.config, store, since=start, now=now, fmt=fmt)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=not text.endswith("\n"))
    if held:
        info(f"{held} sighting(s) of TLP:RED indicators held back.")
    return int(ExitCode.OK)


COMMANDS = [intel_group]
