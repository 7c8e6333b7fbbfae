"""Which routes take a change, and what becomes of it on each: queued now, held through quiet
hours, or kept for a digest (a route's ``digest:``, or past its ``throttle``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any
from zoneinfo import ZoneInfo

from soc.ecs import format_ts, parse_ts
from soc.models import Severity
from soc.notify.config import Match, QuietHours, Route
from soc.outbox import Change

_RANK = {s.value: s.rank for s in Severity}


@dataclass(frozen=True)
class Facets:
    """What routes match on, read from a change's document."""

    severity: str
    rule: str | None
    tags: tuple[str, ...]
    systems: tuple[str, ...]
    units: tuple[str, ...]
    levels: tuple[int, ...]


def _level(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def facets(change: Change) -> Facets:
    """The severity, rule, tags, systems, units and security levels a change is about."""
    alert: Mapping[str, Any] = change.doc.get("alert") or {}
    incident: Mapping[str, Any] = change.doc.get("incident") or {}
    if alert:
        entity = alert.get("entity") or {}
        event = alert.get("event") or {}
        systems = [entity.get("labels.system")]
        units = [entity.get("organization.id")]
        levels = [_level(event.get("labels.security_level"))]
    else:
        found = [s for s in incident.get("systems") or () if isinstance(s, Mapping)]
        systems = [s.get("id") for s in found]
        units = [s.get("unit") for s in found]
        levels = [_level(s.get("security_level")) for s in found]
    return Facets(
        severity=change.severity, rule=alert.get("rule_id"),
        tags=tuple(str(t) for t in alert.get("tags") or ()),
        systems=tuple(str(s) for s in systems if s is not None),
        units=tuple(str(u) for u in units if u is not None),
        levels=tuple(lv for lv in levels if lv is not None))


def _any_glob(values: Iterable[str], patterns: Iterable[str]) -> bool:
    pats = list(patterns)
    return any(fnmatchcase(v.lower(), p.lower()) for v in values for p in pats)


def matches(match: Match, change: Change) -> bool:
    """Whether every condition the route sets holds for the change (none set: it does)."""
    f = facets(change)
    checks = (
        not match.kinds or change.kind in match.kinds,
        not match.severity or f.severity in match.severity,
        match.min_severity is None
        or _RANK.get(f.severity, -1) >= _RANK[match.min_severity],
        not match.rules or (f.rule is not None and _any_glob([f.rule], match.rules)),
        not match.tags or _any_glob(f.tags, match.tags),
        not match.systems or bool(set(f.systems) & set(match.systems)),
        not match.units or bool(set(f.units) & set(match.units)),
        not match.security_level or bool(set(f.levels) & set(match.security_level)),
    )
    return all(checks)


def quiet_until(quiet: QuietHours, severity: str, now: datetime, tz: str) -> datetime | None:
    """When quiet hours that hold at ``now`` end (local clock of ``tz``), or None: not quiet
    now, or the severity is one that overrides them (the on-call is woken)."""
    if severity in quiet.except_severity:
        return None
    local = now.astimezone(ZoneInfo(tz))
    start = local.replace(hour=quiet.start.hour, minute=quiet.start.minute, second=0,
                          microsecond=0)
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if quiet.start <= quiet.end:  # e.g. 12:00-14:00, within one day
        inside = start <= local < end
    else:  # across midnight, e.g. 22:00-06:30
        inside = local >= start or local < end
        if local >= start:
            end += timedelta(days=1)
    return end.astimezone(now.tzinfo) if inside else None


def window(now: datetime, length: timedelta) -> tuple[datetime, datetime]:
    """The fixed window of ``length`` (aligned on the Unix epoch) that holds ``now``."""
    seconds = max(int(length.total_seconds()), 1)
    start = int(now.timestamp()) // seconds * seconds
    begin = datetime.fromtimestamp(start, tz=now.tzinfo)
    return begin, begin + timedelta(seconds=seconds)


def plan(route: Route, change: Change, now: datetime, tz: str,
         sent_in_window: int) -> tuple[str, str, str | None]:
    """(status, next_at, digest window start) of the change on this route.

    ``sent_in_window``: how many changes the route already let through in the current throttle
    window."""
    if route.digest is not None:
        start, end = window(now, route.digest)
        return "digested", format_ts(end), format_ts(start)
    if route.quiet_hours is not None:
        until = quiet_until(route.quiet_hours, change.severity, now, tz)
        if until is not None:
            return "held", format_ts(until), None
    if route.throttle is not None and sent_in_window >= route.throttle.max:
        start, end = window(now, route.throttle.per)
        return "digested", format_ts(end), format_ts(start)
    return "queued", format_ts(now), None


def age_of(created: str, now: datetime) -> timedelta:
    return now - parse_ts(created)
