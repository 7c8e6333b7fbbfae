"""The ``notify:`` section of soc.yml → frozen dataclasses (docs/notifications.md).

Errors name the file and line, like the rest of the configuration::

    notify:
      channels:
        oncall: {type: webhook, url: "https://hooks.example.vn/soc"}
      routes:
        - name: night
          channels: [oncall]
          match: {min_severity: high, rules: ["win_*"], kinds: [alert.new]}
          quiet_hours: {from: "22:00", to: "06:30", except_severity: [critical]}
          throttle: {max: 10, per: 1h}
          digest: 15m
          escalate: {after: 30m, channels: [lead]}
      reminders: [6h, 1h]
      backoff: {first: 30s, max: 1h}
      max_age: 7d
      keep: 30d
      console_url: "https://soc.example.vn/{type}/{id}"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from soc.config import Config, _Reader, _resolve_secrets
from soc.config import duration_of as _dur
from soc.config import positive_duration as _duration
from soc.errors import ConfigError
from soc.models import Severity
from soc.outbox import KINDS

SEVERITIES = tuple(s.value for s in Severity)
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_MATCH_KEYS = {"severity", "min_severity", "rules", "tags", "systems", "units",
               "security_level", "kinds"}
_ROUTE_KEYS = {"name", "channels", "match", "quiet_hours", "throttle", "digest", "escalate"}
_TOP_KEYS = {"channels", "routes", "reminders", "backoff", "max_age", "keep", "console_url"}


@dataclass(frozen=True)
class Match:
    """What a route takes: every condition given must hold (none given: everything)."""

    severity: tuple[str, ...] = ()
    min_severity: str | None = None
    rules: tuple[str, ...] = ()  # rule ids or globs
    tags: tuple[str, ...] = ()  # any of them (globs too)
    systems: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    security_level: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    except_severity: tuple[str, ...] = ()


@dataclass(frozen=True)
class Throttle:
    max: int
    per: timedelta


@dataclass(frozen=True)
class Escalate:
    after: timedelta
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    name: str
    channels: tuple[str, ...]
    match: Match = field(default_factory=Match)
    quiet_hours: QuietHours | None = None
    throttle: Throttle | None = None
    digest: timedelta | None = None
    escalate: Escalate | None = None


@dataclass(frozen=True)
class NotifyConfig:
    """Channels (their config mappings, secrets resolved to :class:`soc.config.Secret`),
    routes, reminder offsets before a deadline, retry backoff and the age past which a
    delivery is given up."""

    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    reminders: tuple[timedelta, ...] = (timedelta(hours=6), timedelta(hours=1))
    backoff_first: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=1)
    max_age: timedelta = timedelta(days=7)
    timezone: str = "UTC"
    keep: timedelta = timedelta(days=30)  # finished deliveries and routed changes, then pruned
    console_url: str | None = None  # "https://console/{type}/{id}": the link of each message
    base_dir: Path | None = None  # soc.yml's folder: relative paths of the channels

    @property
    def enabled(self) -> bool:
        return bool(self.channels)


def load(config: Config) -> NotifyConfig:
    """Read ``config.raw['notify']``; ConfigError (file:line) for anything wrong. An absent
    section is a NotifyConfig with no channels (nothing is sent)."""
    data = config.raw.get("notify")
    root = _Reader(data, config.path, "notify", getattr(data, "line", None))
    root.check_keys(_TOP_KEYS)
    channels = _channels(root)
    routes = tuple(_route(r, i, channels)
                   for i, r in enumerate(root.items("routes", "notify.routes")))
    names = [r.name for r in routes]
    for name in names:
        if names.count(name) > 1:
            raise root.error(f"notify.routes: two routes are named {name!r}",
                             root.line_of("routes"))
    backoff = _Reader(root.data.get("backoff"), config.path, "notify.backoff",
                      root.line_of("backoff"))
    backoff.check_keys({"first", "max"})
    return NotifyConfig(
        channels=channels, routes=routes,
        reminders=tuple(sorted({_duration(root, "reminders", v) for v in
                                root.str_list("reminders")}, reverse=True))
        if "reminders" in root.data else NotifyConfig.reminders,
        backoff_first=_dur(backoff, "first", timedelta(seconds=30)),
        backoff_max=_dur(backoff, "max", timedelta(hours=1)),
        max_age=_dur(root, "max_age", timedelta(days=7)), timezone=config.timezone,
        keep=_keep(root), console_url=_console_url(root),
        base_dir=config.path.parent if config.path is not None else None)


def _keep(root: _Reader) -> timedelta:
    """``keep``: at least ``max_age`` (a delivery still being retried is never pruned), and
    at least a day."""
    keep = _dur(root, "keep", timedelta(days=30))
    if keep < max(_dur(root, "max_age", timedelta(days=7)), timedelta(days=1)):
        raise root.error("notify: keep must be at least max_age and at least 1d",
                         root.line_of("keep"))
    return keep


def _console_url(root: _Reader) -> str | None:
    """``console_url``: an http(s) URL; ``{type}`` (alerts, incidents) and ``{id}`` are
    replaced, and without them ``/{type}/{id}`` is appended."""
    found = root.get("console_url", str, None)
    if found is None:
        return None
    value = str(found)
    if not value.startswith(("http://", "https://")):
        raise root.error("notify: console_url must be an http:// or https:// URL",
                         root.line_of("console_url"))
    if "{id}" not in value:
        value = value.rstrip("/") + "/{type}/{id}"
    try:
        value.format(type="alerts", id="x")
    except (KeyError, IndexError, ValueError):
        raise root.error("notify: console_url may hold {type} and {id} only",
                         root.line_of("console_url")) from None
    return value


def _channels(root: _Reader) -> dict[str, Mapping[str, Any]]:
    """Each channel's mapping, checked by its builder when the channels are installed."""
    section = _Reader(root.data.get("channels"), root.path, "notify.channels",
                      root.line_of("channels"))
    out: dict[str, Mapping[str, Any]] = {}
    for name in section.data:
        spec = _Reader(section.data[name], root.path, f"notify.channels.{name}",
                       section.line_of(str(name)))
        spec.get("type", str, required=True)
        out[str(name)] = _resolve_secrets(dict(spec.data))
        _check_channel(str(name), out[str(name)], spec)
    return out


def _check_channel(name: str, spec: Mapping[str, Any], where: _Reader) -> None:
    """Let the channel's builder judge its options (engineer B's module), adding file:line."""
    try:
        from soc.notify.channels import build_channel
    except ImportError:  # the channels are not installed: the type is checked when sending
        return
    try:
        build_channel(name, spec, base_dir=where.path.parent if where.path else None)
    except ConfigError as exc:
        if exc.path is None:
            raise where.error(exc.message) from None
        raise


def _route(r: _Reader, index: int, channels: Mapping[str, Any]) -> Route:
    r.check_keys(_ROUTE_KEYS)
    name = str(r.get("name", (str, int), f"route{index + 1}"))
    r.what = f"notify.routes.{name}"
    targets = _channel_names(r, "channels", channels, required=True)
    digest = r.get("digest", (str, int), None)
    return Route(name=name, channels=targets, match=_match(r), quiet_hours=_quiet(r),
                 throttle=_throttle(r),
                 digest=None if digest is None else _duration(r, "digest", digest),
                 escalate=_escalate(r, channels))


def _channel_names(r: _Reader, key: str, channels: Mapping[str, Any], *,
                   required: bool) -> tuple[str, ...]:
    names = r.str_list(key)
    if required and not names:
        raise r.error(f"{r.what}: '{key}' must name at least one channel", r.line_of(key))
    for n in names:
        if n not in channels:
            known = ", ".join(sorted(channels)) or "none configured"
            raise r.error(f"{r.what}: {key}: no channel named {n!r} (known: {known})",
                          r.line_of(key))
    return names


def _severities(r: _Reader, key: str) -> tuple[str, ...]:
    values = tuple(v.lower() for v in r.str_list(key))
    for v in values:
        if v not in SEVERITIES:
            raise r.error(f"{r.what}: {key}: unknown severity {v!r} "
                          f"(use {', '.join(SEVERITIES)})", r.line_of(key))
    return values


def _match(route: _Reader) -> Match:
    r = _Reader(route.data.get("match"), route.path, f"{route.what}.match",
                route.line_of("match"))
    r.check_keys(_MATCH_KEYS)
    minimum = _severities(r, "min_severity") if "min_severity" in r.data else ()
    kinds = r.str_list("kinds")
    for k in kinds:
        if k not in KINDS:
            raise r.error(f"{r.what}: kinds: unknown kind {k!r} (use {', '.join(KINDS)})",
                          r.line_of("kinds"))
    levels = r.str_list("security_level")
    if any(not v.isdigit() or not 1 <= int(v) <= 5 for v in levels):
        raise r.error(f"{r.what}: security_level: use levels 1 to 5", r.line_of("security_level"))
    return Match(severity=_severities(r, "severity"),
                 min_severity=minimum[0] if minimum else None, rules=r.str_list("rules"),
                 tags=r.str_list("tags"), systems=r.str_list("systems"),
                 units=r.str_list("units"), security_level=tuple(int(v) for v in levels),
                 kinds=kinds)


def _clock(r: _Reader, key: str) -> time:
    value = str(r.get(key, (str, int), required=True))
    m = _CLOCK.match(value.strip())
    if not m:
        raise r.error(f"{r.what}: {key}: not a time of day {value!r} (use e.g. 22:00)",
                      r.line_of(key))
    return time(int(m.group(1)), int(m.group(2)))


def _quiet(route: _Reader) -> QuietHours | None:
    if route.data.get("quiet_hours") is None:
        return None
    r = _Reader(route.data["quiet_hours"], route.path, f"{route.what}.quiet_hours",
                route.line_of("quiet_hours"))
    r.check_keys({"from", "to", "except_severity"})
    return QuietHours(_clock(r, "from"), _clock(r, "to"), _severities(r, "except_severity"))


def _throttle(route: _Reader) -> Throttle | None:
    if route.data.get("throttle") is None:
        return None
    r = _Reader(route.data["throttle"], route.path, f"{route.what}.throttle",
                route.line_of("throttle"))
    r.check_keys({"max", "per"})
    most = r.get("max", int, required=True)
    if most < 1:
        raise r.error(f"{r.what}: max must be at least 1", r.line_of("max"))
    return Throttle(most, _duration(r, "per", r.get("per", (str, int), required=True)))


def _escalate(route: _Reader, channels: Mapping[str, Any]) -> Escalate | None:
    if route.data.get("escalate") is None:
        return None
    r = _Reader(route.data["escalate"], route.path, f"{route.what}.escalate",
                route.line_of("escalate"))
    r.check_keys({"after", "channels"})
    after = _duration(r, "after", r.get("after", (str, int), required=True))
    return Escalate(after, _channel_names(r, "channels", channels, required=True))
