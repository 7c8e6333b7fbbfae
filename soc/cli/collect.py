"""``soc collect`` (the cron job) and ``soc ingest`` (import files once)."""

from __future__ import annotations

import click

from soc.cli.app import App, pass_app
from soc.cli.output import Format, current_format, emit_object, format_options, info
from soc.errors import ExitCode
from soc.pipeline.collect import collect, ingest
from soc.pipeline.pipeline import PassReport


def _finish(report: PassReport, verbose: int, hint_cmd: str) -> int:
    """Silent when all is well; one line per problem on stderr; the exit code says what happened."""
    if current_format() is not Format.TABLE:
        emit_object(report.to_dict())
    elif verbose:
        info(report.summary())
    for src in report.sources:
        if src.error:
            if src.trace and click.get_current_context().meta.get("soc.traceback"):
                info(src.trace.rstrip())
            info(f"Error: source {src.source}: {src.error}")
            if src.hint:
                info(f"Hint: {src.hint}")
        if src.dead_letters:
            info(f"Warning: source {src.source}: {src.dead_letters} record(s) could not be "
                 f"parsed and were kept as dead letters. "
                 f"Hint: soc store dead-letters --source '{src.source}'")
        if verbose > 1:
            info(f"  {src.source}: {src.events} new, {src.duplicates} already stored, "
                 f"{src.dead_letters} dead, {src.alerts} alert(s), {src.seconds:.2f}s")
    if report.rule_warning:
        info(report.rule_warning)
    for line in report.notify_warnings:
        info(f"Warning: {line}")
    return int(ExitCode.OK if report.ok else ExitCode.PARTIAL)


@click.command("collect")
@click.option("-s", "--source", "sources", multiple=True, metavar="NAME",
              help="Only this source (repeatable). Default: every enabled source.")
@click.option("--no-detect", is_flag=True, help="Store events without running the rules.")
@format_options
@pass_app
def collect_cmd(app: App, sources: tuple[str, ...], no_detect: bool) -> int:
    """One pass over the configured sources: the cron job.

    Reads each source from its checkpoint, parses, enriches, detects and stores, and moves the
    checkpoint only after the store has committed. Overlap-proof: a second pass exits at once with
    code 6. Silent when all is well (-v for a summary line, --json for monitoring).
    """
    report = collect(app.config, sources, detect=not no_detect)
    return _finish(report, app.verbose, "collect")


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", metavar="NAME",
              help="Force a parser (e.g. syslog, jsonl); default: detect per file and line.")
@click.option("--again", is_flag=True, help="Read files again from the start (ids stay the same, "
              "so nothing already stored is doubled).")
@click.option("--no-detect", is_flag=True, help="Store events without running the rules.")
@format_options
@pass_app
def ingest_cmd(app: App, paths: tuple[str, ...], fmt: str | None, again: bool,
               no_detect: bool) -> int:
    """Import files once into the store (files, globs or directories; format auto-detected)."""
    report = ingest(app.config, paths, fmt=fmt, again=again, detect=not no_detect)
    if current_format() is Format.TABLE and not app.verbose:
        info(report.summary())
    return _finish(report, app.verbose, "ingest")


COMMANDS = [collect_cmd, ingest_cmd]
