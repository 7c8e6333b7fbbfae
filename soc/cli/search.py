"""``soc search``: Lucene queries over stored events."""

from __future__ import annotations

from datetime import datetime

import click

from soc.cli.app import App, pass_app
from soc.cli.output import emit_rows, format_options, info
from soc.errors import ExitCode, SocError
from soc.stores.base import open_store
from soc.timeutil import parse_when

DEFAULT_FIELDS = ["@timestamp", "event.dataset", "host.name", "labels.system", "event.original"]


def when(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise SocError(str(exc), hint=f"Example: {flag} 24h, or {flag} 2026-11-24") from None


@click.command("search")
@click.argument("query", default="*")
@click.option("--since", metavar="WHEN", help="From this time: 24h, 7d, or an ISO date.")
@click.option("--until", metavar="WHEN", help="Up to this time (exclusive).")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="At most this many events (0: no limit).")
@click.option("--fields", metavar="A,B", help="Columns to show (table) or keep (JSON).")
@click.option("--asc", is_flag=True, help="Oldest first (default: newest first).")
@click.option("--count", "count_only", is_flag=True, help="Print only the number of matches.")
@format_options
@pass_app
def search_cmd(app: App, query: str, since: str | None, until: str | None, limit: int,
               fields: str | None, asc: bool, count_only: bool) -> int:
    """Search stored events with a Lucene query (Kibana syntax, case-insensitive).

    \b
    Examples:
      soc search 'event.action:ssh_failed_password AND source.ip:203.0.113.*' --since 24h
      soc search 'user.name:(root OR admin) AND NOT event.outcome:success'
      soc search 'http.response.status_code:[500 TO 599]' --fields @timestamp,url.path
    """
    start, end = when(since, "--since"), when(until, "--until")
    with open_store(app.config, readonly=True) as store:
        if count_only:
            click.echo(store.count(query, since=start, until=end))
            return int(ExitCode.OK)
        columns = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        events = store.search(query, since=start, until=end, limit=limit or None,
                              order="asc" if asc else "desc")
        if columns:
            events = ({k: e.get(k) for k in columns} for e in events)
        shown = emit_rows(events, columns or DEFAULT_FIELDS)
    if shown == 0:
        info("No events match.")
    return int(ExitCode.OK)


COMMANDS = [search_cmd]
