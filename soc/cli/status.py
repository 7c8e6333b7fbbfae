"""``soc status``: sources, gaps and the store at a glance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from soc.cli.app import App, pass_app
from soc.cli.output import (
    Format,
    current_format,
    emit_object,
    emit_rows,
    format_options,
    info,
    local_time,
)
from soc.config import Config
from soc.errors import ExitCode, SocError
from soc.listen.daemon import status_summary
from soc.pipeline.collect import state_path
from soc.state import existing
from soc.status import COLUMNS, channel_rows, gaps, rules_line, rules_summary, source_rows
from soc.stores.base import open_store
from soc.stores.sqlite.schema import STORE_FILE


@click.command("status")
@format_options
@pass_app
def status_cmd(app: App) -> int:
    """Per source: last pass, events, lag, dead letters, errors; silent sources are flagged.

    Exits 10 when a source is silent longer than its expected_interval, failing, or missing,
    when the store cannot be opened, or when a rule file cannot be used (not when a rule
    merely does not apply; see soc rules check).
    """
    config = app.config
    with existing(state_path(config)) as state:
        runs = state.runs() if state is not None else {}
    rows = source_rows(config, runs)
    feeds = _feeds(config)
    daemon = status_summary(config)
    rules = rules_summary(config)
    broken = bool(rules and rules["errors"])
    findings = gaps(rows) + ([daemon] if daemon_gap(daemon) else []) + ([rules] if broken else [])
    try:
        with open_store(config, readonly=True) as store:
            stats = store.stats()
            channels = channel_rows(config, store)
    except SocError as exc:
        stats = {"error": str(exc)}
        channels = None
        if not _not_created_yet(config):
            findings.append(stats)  # collection cannot store anything
    if current_format() is Format.TABLE:
        emit_rows(rows, COLUMNS)
        if not rows:
            info("No sources configured. Hint: add 'sources:' to soc.yml (see 'soc init').")
        info(_store_line(stats))
        if daemon is not None:
            info(_listen_line(daemon))
        if rules is not None:
            info(rules_line(rules))
        for channel in channels or ():
            info(_channel_line(channel))
        for feed in feeds or ():
            info(_feed_line(feed))
    else:
        emit_object({"sources": rows, "store": stats, "listen": daemon, "rules": rules,
                     "channels": channels, "intel": feeds,
                     "gaps": len(findings) + len(feed_gaps(feeds))})
    for feed in feed_gaps(feeds):
        info(f"Warning: threat-intel feed {feed['feed']} is {feed['state']}"
             + (f": {feed['error']}" if feed["error"] else "") + ". Hint: soc intel pull "
             f"{feed['feed']}")
    findings += feed_gaps(feeds)
    for gap in gaps(rows):
        info(f"Warning: source {gap['source']} is {gap['state']}: {gap['note']}")
    if daemon is not None and daemon_gap(daemon):
        info(f"Warning: soc listen is {daemon['state']}: {daemon['problem']}")
    if stats in findings:
        info("Warning: the store cannot be opened; passes cannot store what they collect. "
             "Hint: soc store doctor")
    if rules is not None and broken:
        info(f"Warning: {len(rules['error_files'])} rule file(s) could not be used: "
             f"{', '.join(rules['error_files'])}. Hint: soc rules check")
    return int(ExitCode.FINDINGS if findings else ExitCode.OK)


def _feeds(config: Config) -> list[dict[str, Any]] | None:
    """The threat-intel feeds' rows (None without any)."""
    from datetime import UTC, datetime

    from soc.intel.pull import feed_status

    return feed_status(config, datetime.now(UTC))


def feed_gaps(feeds: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Feeds that fail, or have had no good pull for three of their intervals."""
    return [f for f in feeds or () if f["state"] in {"failing", "stale"}]


def _feed_line(feed: dict[str, Any]) -> str:
    when = local_time(feed["pulled"]) if feed["pulled"] else "never"
    extra = f", {feed['skipped']} record(s) skipped" if feed["skipped"] else ""
    return f"Intel feed {feed['feed']} ({feed['type']}): {feed['state']}, last pulled {when}{extra}"


def _not_created_yet(config: Config) -> bool:
    """The embedded store before the first pass: nothing is lost, so no gap."""
    return config.store.type == "embedded" and not (Path(config.data_dir) / STORE_FILE).exists()


def daemon_gap(daemon: dict[str, Any] | None) -> bool:
    """The receiver is a gap when it died, runs with a problem (drops, refusals, full
    spool...), or lost messages in its last run."""
    if daemon is None:
        return False
    return daemon["state"] == "dead" or bool(daemon.get("lost")) or (
        daemon["state"] == "running" and bool(daemon["problem"]))


def _listen_line(d: dict[str, Any]) -> str:
    return (f"Listen: {d['state']}, {d['received']} received, {d['stored']} stored, "
            f"{d['dead_letters']} dead, {d['dropped']} dropped, {d.get('refused', 0)} refused, "
            f"{d.get('timeouts', 0)} timed out, {d.get('handshake_failures', 0)} failed "
            f"handshake(s), spool {d['spool_bytes']} B"
            + (f", console {d['console']}" if d.get("console") else ""))


def _channel_line(c: dict[str, Any]) -> str:
    if "error" in c:
        return f"Channel {c['channel']}: {c['error']}"
    line = (f"Channel {c['channel']}: last success {c['last_success'] or 'never'}, "
            f"last failure {c['last_failure'] or 'never'}, {c['queued']} queued, "
            f"{c['failed']} failed")
    return line + (f" ({c['last_error']})" if c["last_error"] else "")


def _store_line(stats: dict[str, object]) -> str:
    if "error" in stats:
        return f"Store: {stats['error']}"
    size = int(str(stats.get("size_bytes", 0)))
    return (f"Store: {stats.get('events', 0)} events, {stats.get('dead_letters', 0)} dead letters, "
            f"{stats.get('alerts', 0)} alerts, {size / 1048576:.1f} MiB")


COMMANDS = [status_cmd]
