"""``soc search``: Lucene queries over stored events, and ``--around`` an event."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import click

from soc import pivots
from soc.cli.app import App, pass_app
from soc.cli.output import Format, current_format, emit_rows, format_options, info, local_time
from soc.ecs import Event
from soc.errors import ExitCode, SocError
from soc.stores.base import open_store
from soc.timeutil import parse_duration, parse_when

DEFAULT_FIELDS = ["@timestamp", "event.dataset", "host.name", "labels.system", "event.original"]
AROUND_FIELDS = ["delta", "@timestamp", "shares", "event.dataset", *pivots.AROUND_FIELDS,
                 "event.original"]
"""The table of ``--around``: the time from the pivot (``▶`` marks it) and what it shares."""
PIVOT_MARK = "▶"


def when(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise SocError(str(exc), hint=f"Example: {flag} 24h, or {flag} 2026-11-24") from None


def field_list(fields: str | None) -> list[str] | None:
    """The columns ``--fields a,b`` names, None when not given."""
    return [f.strip() for f in fields.split(",") if f.strip()] if fields else None


def _window(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--around'") from None


@click.command("search")
@click.argument("query", default="*")
@click.option("--since", metavar="WHEN", help="From this time: 24h, 7d, or an ISO date.")
@click.option("--until", metavar="WHEN", help="Up to this time (exclusive).")
@click.option("--around", nargs=2, metavar="EVENT_ID WINDOW",
              help="The events within WINDOW (10m) before and after this event that share its "
                   "host.name, user.name or source.ip, in time order, the event marked.")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="At most this many events (0: no limit).")
@click.option("--fields", metavar="A,B", help="Columns to show (table) or keep (JSON).")
@click.option("--asc", is_flag=True, help="Oldest first (default: newest first).")
@click.option("--count", "count_only", is_flag=True, help="Print only the number of matches.")
@format_options
@pass_app
def search_cmd(app: App, query: str, since: str | None, until: str | None,
               around: tuple[str, str] | None, limit: int, fields: str | None, asc: bool,
               count_only: bool) -> int:
    """Search stored events with a Lucene query (Kibana syntax, case-insensitive).

    \b
    Examples:
      soc search 'event.action:ssh_failed_password AND source.ip:203.0.113.*' --since 24h
      soc search 'user.name:(root OR admin) AND NOT source.ip:10.0.0.0/8'
      soc search 'http.response.status_code:[500 TO 599]' --fields @timestamp,url.path
      soc search --around 5f0c2e9a1b7d4c3e 10m
    """
    if around:
        if since or until or count_only:
            raise click.UsageError("--around sets the window itself: leave out --since, "
                                   "--until and --count")
        return _around(app, query, around, limit, field_list(fields))
    start, end = when(since, "--since"), when(until, "--until")
    with open_store(app.config, readonly=True) as store:
        if count_only:
            click.echo(store.count(query, since=start, until=end))
            return int(ExitCode.OK)
        columns = field_list(fields)
        events = store.search(query, since=start, until=end, limit=limit or None,
                              order="asc" if asc else "desc")
        shown = emit_rows(_kept(events, columns), columns or DEFAULT_FIELDS)
    if shown == 0:
        info("No events match.")
    return int(ExitCode.OK)


def _kept(events: Iterable[Event], columns: list[str] | None) -> Iterable[Event]:
    return events if not columns else ({k: e.get(k) for k in columns} for e in events)


def _around(app: App, query: str, around: tuple[str, str], limit: int,
            columns: list[str] | None) -> int:
    event_id, window = around
    with open_store(app.config, readonly=True) as store:
        found = pivots.around(store, event_id, _window(window), query=query,
                              limit=limit or None)
    _describe(found, window)
    if current_format() is Format.TABLE:
        emit_rows(_around_rows(found), ["delta", "shares", *columns] if columns
                  else AROUND_FIELDS)
    else:
        emit_rows(_kept(found.events, columns), [])
    if found.more:
        info(f"Only the {len(found.events)} events nearest the pivot are shown: -n 0 shows "
             "all, a QUERY narrows them.")
    return int(ExitCode.OK)


def _describe(found: pivots.Around, window: str) -> None:
    shared = ", ".join(f"{f}={','.join(map(str, v))}" for f, v in found.shared.items())
    info(f"Within ±{window} of {found.pivot.get('event.id')} "
         f"({local_time(found.pivot_time)}), sharing {shared}: {len(found.events)} events.")


def _around_rows(found: pivots.Around) -> Iterator[dict[str, Any]]:
    for event in found.events:
        mark = f"{PIVOT_MARK} 0s" if found.is_pivot(event) else found.delta(event)
        yield {**event, "delta": mark, "shares": ",".join(found.shares(event))}


COMMANDS = [search_cmd]
