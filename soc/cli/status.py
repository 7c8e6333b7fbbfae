"""``soc status``: sources, gaps and the store at a glance."""

from __future__ import annotations

import click

from soc.cli.main import App, pass_app
from soc.cli.output import Format, current_format, emit_object, emit_rows, format_options, info
from soc.collect import state_path
from soc.errors import ExitCode, SocError
from soc.state import StateStore
from soc.status import COLUMNS, gaps, source_rows
from soc.stores.base import open_store


@click.command("status")
@format_options
@pass_app
def status_cmd(app: App) -> int:
    """Per source: last pass, events, lag, dead letters, errors; silent sources are flagged.

    Exits 10 when a source is silent longer than its expected_interval, failing, or missing.
    """
    config = app.config
    runs = StateStore(state_path(config)).runs() if state_path(config).exists() else {}
    rows = source_rows(config, runs)
    try:
        with open_store(config, readonly=True) as store:
            stats = store.stats()
    except SocError as exc:
        stats = {"error": str(exc)}
    if current_format() is Format.TABLE:
        emit_rows(rows, COLUMNS)
        if not rows:
            info("No sources configured. Hint: add 'sources:' to soc.yml (see 'soc init').")
        info(_store_line(stats))
    else:
        emit_object({"sources": rows, "store": stats, "gaps": len(gaps(rows))})
    for gap in gaps(rows):
        info(f"Warning: source {gap['source']} is {gap['state']}: {gap['note']}")
    return int(ExitCode.FINDINGS if gaps(rows) else ExitCode.OK)


def _store_line(stats: dict[str, object]) -> str:
    if "error" in stats:
        return f"Store: {stats['error']}"
    size = int(str(stats.get("size_bytes", 0)))
    return (f"Store: {stats.get('events', 0)} events, {stats.get('dead_letters', 0)} dead letters, "
            f"{stats.get('alerts', 0)} alerts, {size / 1048576:.1f} MiB")


COMMANDS = [status_cmd]
