"""``soc detect`` (offline triage of files, nothing stored) and ``soc hunt`` (over history)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from soc.alerts import Finding
from soc.cli import timeline as timeline_mod
from soc.cli.app import App, pass_app
from soc.cli.output import (
    Format,
    current_format,
    display_zone,
    emit_object,
    emit_rows,
    escape,
    format_options,
    info,
    json_text,
)
from soc.cli.search import when
from soc.config import Config
from soc.detection.hunt import (
    HuntReport,
    ScanReport,
    hunt,
    offline_detector,
    query_rows,
    scan_files,
)
from soc.detection.stage import RuleHealth
from soc.ecs import format_ts
from soc.errors import ExitCode, InputError, SocError, UsageError
from soc.models import Severity
from soc.stores.base import open_store
from soc.tuning import Tuning
from soc.tuning_file import effective_tuning

if TYPE_CHECKING:
    from soc.intel.matcher import IndicatorIndex

_no_tuning = click.option("--no-tuning", is_flag=True,
                          help="Ignore the tuning (rules.tuning and the tuning file): every "
                               "rule, every finding.")
WIDTHS = (25, 13, 60)  # timestamp, level, title of --stream: its columns are fixed


@click.command("detect")
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "--rules", "rules", multiple=True, metavar="PATH",
              help="Rule file or folder (repeatable). Default: the project's rules/ plus "
                   "rules.paths of the config.")
@click.option("-f", "--format", "fmt", metavar="NAME",
              help="Force a parser (e.g. syslog, jsonl); default: detect per file and line.")
@click.option("--min-level", type=click.Choice([s.value for s in Severity]),
              help="Only findings of rules at this level or above.")
@click.option("--tz", "tz", metavar="ZONE",
              help="Show times in this IANA zone (default: the configuration's timezone).")
@click.option("--csv", "csv_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the timeline as CSV (local and UTC times, level, rule, host, "
                   "user, addresses, event code, file, details).")
@click.option("--jsonl", "jsonl_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the timeline as JSON lines (each finding with its event).")
@click.option("--stream", is_flag=True,
              help="Print findings as they are found (unsorted, no summary): for inputs too "
                   "large to hold their findings.")
@_no_tuning
@format_options
@pass_app
def detect_cmd(app: App, paths: tuple[str, ...], rules: tuple[str, ...], fmt: str | None,
               min_level: str | None, tz: str | None, csv_path: str | None,
               jsonl_path: str | None, stream: bool, no_tuning: bool) -> int:
    """Scan files with the rules without storing anything: offline triage.

    Files, globs or folders of any format soc ingests (EVTX, JSON lines, syslog, web and
    firewall logs...). A timeline sorted by time, in local time, then a summary per level, rule
    and host; correlations run in memory. The tuning applies as in 'soc collect' (disabled
    rules, exceptions, rules.tuning.min_level; --min-level replaces the latter) unless
    --no-tuning. Exit 10 when something fired, 0 when nothing did (5: nothing fired but some
    input failed).

    \b
    Examples:
      soc detect /cases/web01/var/log/auth.log*
      soc detect --nl Security.evtx | jq -r .title
      soc detect -r rules/windows -r /srv/sigma/rules/windows --min-level high case42/
      soc detect --csv case42.csv --jsonl case42.jsonl --tz UTC case42/
    """
    zone = _zone(tz) if tz else display_zone()
    if (csv_path or jsonl_path) and stream:
        raise UsageError("--csv and --jsonl sort the timeline; they do not go with --stream")
    detector = offline_detector(app.config, rules)
    health = RuleHealth.of(detector)
    if health.errors:
        info(f"Warning: {len(health.errors)} rule(s) cannot be used (broken or invalid); "
             "see 'soc rules check'.")
    if app.verbose and health.not_applicable:
        info(f"{len(health.not_applicable)} rule(s) do not apply here (a log source "
             "with no mapping, or an unset placeholder); see 'soc rules check'.")
    report = ScanReport()
    tuning = _tuning(app, no_tuning, min_level is not None)
    findings: Iterable[Finding] = scan_files(
        app.config, paths, detector, fmt=fmt, report=report,
        min_level=Severity(min_level) if min_level else None, tuning=tuning,
        intel=offline_intel(app.config))
    if stream:
        _emit(findings, current_format(), zone)
    else:
        timeline = sorted(findings, key=timeline_mod.sort_key)
        _emit(timeline, current_format(), zone)
        for path, write in ((csv_path, timeline_mod.write_csv),
                            (jsonl_path, timeline_mod.write_jsonl)):
            if path:
                _write_file(Path(path), timeline, write, zone)
        if current_format() is Format.TABLE or app.verbose:
            for line in timeline_mod.Summary.of(timeline).lines(zone):
                info(escape(line))
    for error in report.errors:
        info(f"Error: {error}")
    if current_format() is Format.TABLE or app.verbose:
        info(report.summary())
    if report.findings:
        return int(ExitCode.FINDINGS)
    return int(ExitCode.PARTIAL if report.errors or report.dead_letters else ExitCode.OK)


def offline_intel(config: Config) -> IndicatorIndex | None:
    """The store's live indicators, when there is a store that keeps some (``soc detect``
    stores nothing, but matches what ``soc intel`` imported); None otherwise."""
    from soc.intel.matcher import IndicatorIndex

    if config.store.type == "embedded" and not (config.data_dir / "store.db").exists():
        return None  # no store yet: opening one read-only would fail
    now = format_ts(datetime.now(UTC))
    try:
        with open_store(config, readonly=True) as store:
            records = list(store.list_indicators(live_at=now))
    except SocError:
        return None
    return IndicatorIndex.build(records, now) if records else None


def _tuning(app: App, off: bool, own_level: bool = False) -> Tuning | None:
    """The tuning to apply (None with --no-tuning; without its min_level when --min-level is
    given), said on stderr when there is one."""
    if off:
        return None
    tuning = effective_tuning(app.config)
    if own_level:
        tuning = replace(tuning, min_level=None)
    if not tuning.empty:
        level = f", min_level {tuning.min_level.value}" if tuning.min_level else ""
        info(f"Tuning: {len(tuning.disabled)} disabled rule(s), {len(tuning.exceptions)} "
             f"exception(s){level} (soc rules tuning; --no-tuning to ignore it).")
    return tuning


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--tz: unknown time zone {name!r}",
                         hint="Use an IANA name: Asia/Ho_Chi_Minh, UTC, Europe/Paris.") from None


def _write_file(path: Path, timeline: list[Finding],
                write: Callable[[Sequence[Finding], IO[str], tzinfo], None], zone: tzinfo) -> None:
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            write(timeline, out, zone)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}",
                         hint="Check the folder exists and is writable.") from exc
    info(f"Timeline: {len(timeline)} finding(s) written to {escape(str(path))}")


def _emit(findings: Iterable[Finding], fmt: Format, zone: tzinfo) -> None:
    """Findings as JSON lines, one JSON array, or a table (aligned when the findings are a
    sorted list, fixed columns when they stream)."""
    if fmt is Format.JSON:
        click.echo("[", nl=False)
        for n, f in enumerate(findings):
            click.echo(("," if n else "") + "\n" + _json(f.to_dict(), indent=2), nl=False)
        click.echo("\n]")
        return
    if isinstance(findings, list) and fmt is Format.TABLE:
        for line in timeline_mod.table_lines(findings, zone):
            click.echo(escape(line))
        return
    header = False
    for f in findings:
        if fmt is Format.NL:
            click.echo(_json(f.to_dict()))
            continue
        if not header:
            click.echo(_line("TIMESTAMP", "LEVEL", "RULE", "ENTITY"))
            header = True
        entity = " ".join(f"{k}={v}" for k, v in f.entity.items()
                          if k in ("host.name", "user.name", "source.ip", "destination.ip"))
        click.echo(_line(timeline_mod.shown_time(f.ts, zone), f.severity.value, f.title,
                         entity))


def _line(*cells: str) -> str:
    out = []
    for cell, width in zip(cells, (*WIDTHS, 0), strict=True):
        text = cell if not width or len(cell) <= width else cell[:width - 1] + "…"
        out.append(text.ljust(width))
    return escape("  ".join(out).rstrip())


def _json(value: object, indent: int | None = None) -> str:
    return json_text(value, indent)


@click.command("hunt")
@click.argument("rules", nargs=-1, required=True)
@click.option("--since", metavar="WHEN", default="30d", show_default=True,
              help="From this time: 24h, 30d, or an ISO date.")
@click.option("--until", metavar="WHEN", help="Up to this time (exclusive).")
@click.option("--show-queries", is_flag=True,
              help="Print the Elasticsearch query of each rule (Lucene and query DSL, with "
                   "the time window) and stop; needs no store.")
@_no_tuning
@format_options
@pass_app
def hunt_cmd(app: App, rules: tuple[str, ...], since: str, until: str | None,
             show_queries: bool, no_tuning: bool) -> int:
    """Run rules over stored history and store their alerts (RULE: an id, a file or a folder).

    Alerts get the same ids and suppression as live detection, so a hunt never doubles an alert
    the pipeline raised. On Elasticsearch each rule sends its own query and the events found
    are confirmed in-process. The tuning applies as in live detection (findings below
    rules.tuning.min_level are kept as hits: 'soc rules hits') unless --no-tuning. Exit 10 when
    anything was found.
    """
    start, end = when(since, "--since"), when(until, "--until")
    resolved = [str(Path(r).resolve()) if Path(r).exists() else r for r in rules]
    if show_queries:
        return _show_queries(query_rows(app.config, resolved, since=start, until=end))
    tuning = _tuning(app, no_tuning)
    with open_store(app.config) as store:
        report = hunt(app.config, store, resolved, since=start, until=end, tuning=tuning)
    if report.disabled:
        info(f"Warning: {len(report.disabled)} rule(s) disabled by the tuning were not hunted "
             f"(e.g. {report.disabled[0]}); --no-tuning hunts them.")
    _emit_report(report, current_format())
    for rule in report.skipped:
        info(f"Warning: rule {rule['rule_id']} ({rule['title']}) not hunted: {rule['reason']}")
    if report.alerts_error:
        info(f"Warning: alerts not stored ({report.alerts_error}); "
             f"{len(report.unstored)} finding(s) listed instead.")
    rejected = sum(report.rejected.values())
    info(f"{report.events} event(s) read, {report.hits} hit(s)"
         + (f", {rejected} not confirmed by the matcher" if rejected else "")
         + f", {len(report.new)} new alert(s), {len(report.updated)} updated"
         + (f", {report.tuned} dropped by the tuning" if report.tuned else "")
         + (f", {report.below} below min_level kept as hits (soc rules hits)"
            if report.below else "")
         + f", in {report.seconds:.2f}s.")
    if report.findings or report.new or report.updated:
        return int(ExitCode.FINDINGS)
    return int(ExitCode.PARTIAL if report.skipped else ExitCode.OK)


def _emit_report(report: HuntReport, fmt: Format) -> None:
    """The report; as a table, findings that could not become alerts follow as rows."""
    data = report.to_dict()
    if fmt is not Format.TABLE:
        emit_object(data, fmt)
        return
    emit_object({k: v for k, v in data.items() if k != "unstored"}, fmt)
    if report.unstored:
        click.echo()
        emit_rows(report.unstored, ("timestamp", "level", "title", "alert_id"), fmt)


def _show_queries(rows: list[dict[str, Any]]) -> int:
    """The queries as JSON, or one block per rule: both texts and the request body."""
    if current_format() is not Format.TABLE:
        emit_rows(rows, ())
    else:
        for n, row in enumerate(rows):
            click.echo(("\n" if n else "") + f"# {row['title']} ({row['rule_id']})"
                       + ("" if row["exact"] else "  [inexact: re-checked in-process]"))
            click.echo(f"error:  {row['error']}" if row["error"] else
                       f"lucene: {row['lucene']}\nquery:  {row['query']}\n"
                       f"dsl:    {_json(row['dsl'])}")
    failed = [r for r in rows if r["error"]]
    if failed:
        info(f"Warning: {len(failed)} rule(s) have no Elasticsearch query.")
    return int(ExitCode.PARTIAL if failed else ExitCode.OK)


COMMANDS = [detect_cmd, hunt_cmd]
