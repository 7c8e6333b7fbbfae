"""Pivots: from an alert to every event it links, from an event to what happened around it.

:func:`alert_events` reads the alert's links (``store.alert_links``: every event detection
linked, triggering or contributing, with no cap) and fetches each event by id and time.
:func:`around` finds an event, then the events of ``±window`` that share its ``host.name``,
``user.name`` or ``source.ip``, nearest first when a limit cuts them, shown in time order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from soc import alerts
from soc.ecs import Event, parse_ts
from soc.errors import InputError, NotFoundError
from soc.models import Alert
from soc.search import fold
from soc.stores.base import Store

AROUND_FIELDS = ("host.name", "user.name", "source.ip")
"""What ``soc search --around`` pivots on: events sharing any value of these fields."""
_TICK = timedelta(milliseconds=1)  # stored times are to the millisecond; ``until`` is exclusive


@dataclass
class LinkedEvents:
    """The events of one alert, fetched as they are iterated; ``missing`` lists the linked
    event ids that are no longer stored (dropped by retention) once iterated."""

    store: Store
    alert: Alert
    links: list[tuple[str, str]]
    missing: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Event]:
        for event_id, ts in self.links:
            event = self.store.get_event(event_id, ts=ts)
            if event is None:
                self.missing.append(event_id)
            else:
                yield event


def alert_events(store: Store, alert_id: str) -> LinkedEvents:
    """Every event linked to the alert (ID or a unique prefix), oldest first."""
    alert = alerts.get(store, alert_id)
    return LinkedEvents(store, alert, store.alert_links(alert.id))


@dataclass(frozen=True)
class Around:
    """What :func:`around` found: ``events`` in time order, the pivot among them."""

    pivot: Event
    shared: dict[str, list[Any]]  # the pivot's values of AROUND_FIELDS it has
    query: str  # the Lucene query that was run
    since: datetime
    until: datetime  # exclusive
    events: list[Event]
    more: bool  # the limit left events of the window out

    def is_pivot(self, event: Event) -> bool:
        return event.get("event.id") == self.pivot.get("event.id")

    def shares(self, event: Event) -> list[str]:
        """The fields of AROUND_FIELDS whose values ``event`` shares with the pivot."""
        return [f for f, values in self.shared.items()
                if {_key(v) for v in values} & {_key(v) for v in _values(event.get(f))}]

    def delta(self, event: Event) -> str:
        """``-2m05s``, ``+40s``: the event's time from the pivot's; ``0s`` at the same time."""
        seconds = (parse_ts(str(event["@timestamp"])) - self.pivot_time).total_seconds()
        return duration_text(seconds)

    @property
    def pivot_time(self) -> datetime:
        return parse_ts(str(self.pivot["@timestamp"]))


def around(store: Store, event_id: str, window: timedelta, *, query: str = "*",
           limit: int | None = 100) -> Around:
    """The events within ``window`` before and after the event ``event_id`` that share its
    host, user or source IP (and match ``query``), in time order, the pivot included. With a
    ``limit``, the events nearest the pivot are kept, half before and half after it when both
    sides have that many."""
    if window <= timedelta(0):
        raise InputError(f"the window of --around must be positive, not {window}",
                         hint="Example: soc search --around EVENT_ID 10m")
    pivot = store.get_event(event_id)
    if pivot is None:
        raise NotFoundError(f"no event {event_id!r}",
                            hint="Find its id with: soc search QUERY --fields "
                                 "@timestamp,event.id")
    shared = {f: _values(pivot.get(f)) for f in AROUND_FIELDS if _values(pivot.get(f))}
    if not shared:
        raise InputError(f"the event {event_id!r} has none of {', '.join(AROUND_FIELDS)}",
                         hint="Search its time instead: soc search QUERY --since WHEN "
                              "--until WHEN")
    lucene = pivot_query(shared, query)
    at = parse_ts(str(pivot["@timestamp"]))
    since, until = at - window, at + window + _TICK
    probe = None if limit is None else limit + 1  # one more than kept: were some left out?
    before = list(store.search(lucene, since=since, until=at, order="desc", limit=probe))
    after = list(store.search(lucene, since=at, until=until, order="asc", limit=probe))
    kept_before, kept_after = nearest(before, after, limit)
    events = [*reversed(kept_before), *kept_after]
    if not any(e.get("event.id") == pivot.get("event.id") for e in events):
        events = sorted([*events, pivot], key=_order)
    more = len(kept_before) < len(before) or len(kept_after) < len(after)
    return Around(pivot, shared, lucene, since, until, events, more)


def nearest(before: Sequence[Event], after: Sequence[Event],
            limit: int | None) -> tuple[Sequence[Event], Sequence[Event]]:
    """At most ``limit`` events, nearest first on each side: half before (``before`` is newest
    first), half after, a side with fewer leaving its share to the other."""
    if limit is None:
        return before, after
    n_before = min(len(before), max(limit // 2, limit - len(after)))
    n_after = min(len(after), limit - n_before)
    return before[:n_before], after[:n_after]


def pivot_query(shared: dict[str, list[Any]], query: str = "*") -> str:
    """``(host.name:"web01" OR source.ip:"10.0.0.5") AND (query)``: any shared value."""
    terms = " OR ".join(f'{f}:"{_quoted(v)}"' for f, values in shared.items() for v in values)
    text = query.strip()
    return f"({terms})" if text in ("", "*") else f"({terms}) AND ({text})"


def duration_text(seconds: float) -> str:
    """``-1h02m``, ``-2m05s``, ``+40s``, ``+0.250s``, ``0s``: signed, to the unit that counts."""
    if seconds == 0:
        return "0s"
    sign, left = ("-" if seconds < 0 else "+"), abs(seconds)
    if left < 1:
        return f"{sign}{left:.3f}s"
    whole = int(left)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"


def _order(event: Event) -> tuple[str, str]:
    return str(event.get("@timestamp", "")), str(event.get("event.id", ""))


def _values(value: Any) -> list[Any]:
    """The non-empty scalar values of a field (a list gives each of its elements)."""
    items = value if isinstance(value, list) else [value]
    return [v for v in items
            if v is not None and not isinstance(v, dict | list) and str(v).strip() != ""]


def _key(value: Any) -> str:
    return fold(str(value))


def _quoted(value: Any) -> str:
    """A value inside a Lucene phrase: ``\\`` and ``"`` escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"')
