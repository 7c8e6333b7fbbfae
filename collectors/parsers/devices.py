"""What the parsers of network devices share beyond :mod:`.network`'s helpers: a ``key=value``
reader that survives unquoted values with spaces and quotes that never close, addresses checked
before they become ``*.ip`` fields, and the event time from a device's own clock, the syslog
header, or the time of parsing, in that order.

Addresses are checked because ``source.ip`` is an ``ip`` field in Elasticsearch: one value that
is no address (``Unknown``, a host name, a truncated ``10.0.``) would make it refuse the whole
document. What is not an address goes to ``*.address`` (a keyword) instead.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

EMPTY = frozenset(("", "-", "N/A", "n/a", "None", "none", "NONE", "UNKNOWN", "unknown", "null",
                   "(null)"))
"""Values devices write for "nothing": such a value sets no field."""

# A key starts after whitespace (or at the start); dots are left out of keys so that no key can
# make an empty part in a field name (``a..b``, ``a.``).
_KEY = re.compile(r"(?<!\S)([A-Za-z_][\w-]*)=")
_CLOSE = {'"': re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+"'), "'": re.compile(r"[^']*+'")}
_ESCAPE = re.compile(r"\\(.)")


def scan_kv(text: str, pos: int = 0) -> dict[str, str]:
    """The ``key=value`` pairs of ``text`` from ``pos``: values quoted with ``"`` (``\\"``
    inside) or ``'``, or unquoted up to the next `` key=`` (so ``branch_name=Gaurav Patel
    recv_bytes=0`` keeps the space). A quote that never closes reads as unquoted. The first of
    a repeated key wins. Linear in the length of the text."""
    out: dict[str, str] = {}
    m = _KEY.search(text, pos)
    while m is not None:
        key, start = m[1], m.end()
        quote = text[start:start + 1]
        close = _CLOSE.get(quote)
        if (close is not None and text.rfind(quote) > start  # a closing quote can follow
                and (q := close.match(text, start + 1)) is not None):
            value = text[start + 1:q.end() - 1]
            if quote == '"' and "\\" in value:
                value = _ESCAPE.sub(r"\1", value)
            out.setdefault(key, value)
            m = _KEY.search(text, q.end())
            continue
        following = _KEY.search(text, start)
        end = following.start() if following is not None else len(text)
        out.setdefault(key, text[start:end].strip().strip("\"'"))
        m = following
    return out


@lru_cache(maxsize=4096)
def ip_version(value: str) -> int:
    """4 or 6 for an IP address, 0 for anything else (an IPv6 zone, ``fe80::1%eth0``, too:
    Elasticsearch's ``ip`` type refuses it)."""
    if not value or len(value) > 64 or "%" in value:
        return 0
    try:
        return ipaddress.ip_address(value).version
    except ValueError:
        return 0


def put_ip(ev: Event, side: str, value: str | None) -> bool:
    """``<side>.ip`` when ``value`` is an address, ``<side>.address`` when it is some other
    word; nothing for an empty one. True when an address was put."""
    if value is None:
        return False
    value = value.strip()
    if value in EMPTY:
        return False
    if ip_version(value):
        ev[f"{side}.ip"] = value
        return True
    if side in ("source", "destination") and f"{side}.address" not in ev:
        ev[f"{side}.address"] = value
    return False


def split_host_port(value: str) -> tuple[str, str | None]:
    """``1.2.3.4:80``, ``[2001:db8::1]:80``, ``2001:db8::1`` or ``1.2.3.4`` → (address, port)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") and rest[1:].isdecimal() else None
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, port if port.isdecimal() else None
    return value, None


_ZONES = {"UTC": UTC, "GMT": UTC, "UT": UTC, "Z": UTC}


def local_time(value: str, ctx: ParseContext, zone: str | None = None) -> str:
    """``2026-11-24 08:15:00``, ``2026/11/24 08:15:00``, ``2026-11-24T08:15:00+07:00`` or
    ``2026-11-24 08:15:00 UTC`` → canonical UTC. A time without an offset is local in ``zone``
    when that is UTC/GMT or a numeric offset, else in ``ctx.tz`` (abbreviations such as ``IST``
    or ``CST`` are ambiguous). :class:`ParseError` when it is no time."""
    text = value.strip().replace("/", "-")
    words = text.rsplit(" ", 1)
    if len(words) == 2 and not words[1][:1].isdigit():
        text, zone = words[0], zone or words[1]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(f"bad time {value[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone_of(zone) or ctx.tz)
    try:
        return format_ts(dt)
    except (ValueError, OverflowError):  # before year 1 or after 9999 once in UTC
        raise ParseError(f"time out of range {value[:40]!r}") from None


def zone_of(zone: str | None) -> timezone | None:
    """The zone a device names: UTC/GMT/Z or ``+07:00``/``-0600``; None for the others."""
    if not zone:
        return None
    zone = zone.strip()
    if zone in _ZONES:
        return UTC
    if zone[0] in "+-" and zone[1:].replace(":", "").isdecimal() and len(zone) in (5, 6):
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:])
        if minutes < 24 * 60:
            return timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))
    return None


def epoch_time(value: str) -> str | None:
    """Seconds (or milliseconds, 13 digits) since 1970 → canonical; None when out of range."""
    if not value.isdecimal() or len(value) > 13:
        return None
    seconds = int(value) / 1000 if len(value) == 13 else int(value)
    try:
        return format_ts(datetime.fromtimestamp(seconds, UTC))
    except (ValueError, OverflowError, OSError):
        return None


def event_time(head: Event, ctx: ParseContext) -> str:
    """The syslog header's time, else the time of parsing (a relay that strips the header)."""
    stamp = head.get("@timestamp")
    return stamp if isinstance(stamp, str) else format_ts(ctx.now)


def put_int(ev: Event, key: str, value: str | None) -> None:
    """An integer field from digits (at most 18: ``int`` refuses more than 4300, and no counter
    has more); nothing otherwise."""
    if value and value.isdecimal() and len(value) <= 18:
        ev[key] = int(value)


def field_name(key: str) -> str:
    """A device's key as the last part of a field name: lower case, ``-`` as ``_``."""
    return key.lower().replace("-", "_")
