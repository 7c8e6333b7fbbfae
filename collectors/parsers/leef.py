"""IBM QRadar Log Event Extended Format (LEEF 1.0 and 2.0) → ECS events of dataset ``leef``.

``LEEF:1.0|Vendor|Product|Version|EventID|key=value<tab>key=value...`` and
``LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value<delimiter>...``, where the
delimiter is one character (``^``) or its hex code (``x5E``, ``0x5E``, ``x09``); without it, or
in 1.0, a tab. A line whose attributes lack that delimiter (a relay turned tabs into spaces) is
read like a CEF extension: a value runs to the space before the next ``key=``. A syslog header
may come first, as with CEF.

The predefined attributes map to ECS (:data:`LEEF_KEYS`): ``src``/``dst``/``srcPort``/
``dstPort`` (else the pre-NAT ones), the post-NAT ones as ``*.nat.*``, ``usrName`` (else
``accountName``) as ``user.name``, ``proto``, ``sev`` (1-10) as ``event.severity``, ``devTime``
read with ``devTimeFormat`` (Java ``SimpleDateFormat`` patterns) or, without it, as epoch
milliseconds, ``MMM dd yyyy HH:mm:ss[.SSS] [zone]`` or ISO 8601. ``identSrc`` stands in for
``src`` on identity events. Every attribute is kept under ``leef.<key>``.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import ClassVar

from collectors.parsers.cef import (
    device_time,
    extensions,
    latest_year,
    put_hash,
    put_transport,
    put_value,
    syslog_prefix,
    threat_name,
    zone_named,
)
from collectors.parsers.network import put_syslog, put_verdict
from collectors.parsers.syslog import MONTHS
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

_HEADER = re.compile(
    r"LEEF:[ \t]*(\d(?:\.\d{1,2})?)\|([^|]*)\|([^|]*)\|([^|]*)\|([^|\t]*)(?:\||(?=\t)|$)")
_DELIMITER = re.compile(r"(?:0?[xX]([0-9A-Fa-f]{1,4})|([^=|]?))\|")
_FIELD_NAME = re.compile(r"\w+(?:[.\-]\w+)*")

LEEF_KEYS: dict[str, tuple[str, str]] = {
    "src": ("source.ip", "ip"), "dst": ("destination.ip", "ip"),
    "srcport": ("source.port", "int"), "dstport": ("destination.port", "int"),
    "srcpostnat": ("source.nat.ip", "ip"), "dstpostnat": ("destination.nat.ip", "ip"),
    "srcpostnatport": ("source.nat.port", "int"), "dstpostnatport": ("destination.nat.port", "int"),
    "srcmac": ("source.mac", "text"), "dstmac": ("destination.mac", "text"),
    "usrname": ("source.user.name", "text"), "srcbytes": ("source.bytes", "int"),
    "dstbytes": ("destination.bytes", "int"), "srcpackets": ("source.packets", "int"),
    "dstpackets": ("destination.packets", "int"), "totalpackets": ("network.packets", "int"),
    "policy": ("rule.name", "text"), "url": ("url.original", "text"),
    "domain": ("user.domain", "text"), "identgrpname": ("user.group.name", "text"),
    "msg": ("message", "text"), "action": ("event.action", "text"),
    "act": ("event.action", "text"), "filepath": ("file.path", "text"),
    "fname": ("file.name", "text"), "filename": ("file.name", "text"),
    "dvc": ("observer.ip", "ip"), "dvchost": ("observer.hostname", "text"),
}
"""Attribute (casefolded) → (ECS field, kind) set directly; see :func:`_fallbacks` for the
attributes that fill a field only when another is absent."""
_FALLBACKS = (("srcprenat", "source.ip", "ip"), ("identsrc", "source.ip", "ip"),
              ("dstprenat", "destination.ip", "ip"), ("srcprenatport", "source.port", "int"),
              ("dstprenatport", "destination.port", "int"), ("identmac", "source.mac", "text"),
              ("identhostname", "source.domain", "text"), ("accountname", "user.name", "text"))


class LeefParser:
    """LEEF 1.0/2.0 lines, with or without a syslog header → ``leef`` events."""

    name: ClassVar[str] = "leef"
    priority: ClassVar[int] = 11
    markers: ClassVar[tuple[str, ...]] = ("LEEF:",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """``LEEF:`` appears."""
        return "LEEF:" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One LEEF record → event; :class:`ParseError` when there is no LEEF header."""
        start = text.find("LEEF:")
        if start < 0:
            raise ParseError("not LEEF (no LEEF: header)")
        m = _HEADER.match(text, start)
        if m is None:
            raise ParseError("LEEF header with fewer than 5 fields "
                             "(LEEF:Version|Vendor|Product|Version|EventID|)")
        head = syslog_prefix(text, start, ctx)
        version, vendor, product, dev_version, event_id = (g.strip() for g in m.groups())
        body = text[m.end():].rstrip("\r\n")
        delimiter = "\t"
        if version.startswith("2"):
            delimiter, body = _delimiter(body)
        attrs = attributes(body, delimiter)
        ev: Event = {"@timestamp": "", "event.dataset": "leef", "event.module": "leef",
                     "event.kind": "event", "leef.version": version}
        for key, value in (("observer.vendor", vendor), ("observer.product", product),
                           ("observer.version", dev_version), ("event.code", event_id)):
            if value:
                ev[key] = value
        _put(ev, attrs)
        ev["@timestamp"] = _when(attrs, head, ctx)
        if head.get("host.name"):
            ev["observer.name"] = head["host.name"]
        put_syslog(ev, head)
        _classify(ev, attrs, vendor, event_id)
        return ev


def _delimiter(body: str) -> tuple[str, str]:
    """LEEF 2.0's delimiter field (a character, ``x5E``/``0x5E`` hex, or empty: tab) and the
    attributes after it. A body that starts with an attribute has no delimiter field."""
    m = _DELIMITER.match(body)
    if m is None:
        return "\t", body
    if m[1] is not None:
        code = int(m[1], 16)
        return (chr(code) if 0 < code < 0x110000 and not 0xD800 <= code <= 0xDFFF else "\t",
                body[m.end():])
    return (m[2] or "\t"), body[m.end():]


def attributes(body: str, delimiter: str) -> dict[str, str]:
    """``key=value`` pairs split on ``delimiter``; when it does not occur, split like a CEF
    extension (tabs turned into spaces by a relay)."""
    if delimiter not in body:
        return extensions(body)
    out: dict[str, str] = {}
    for part in body.split(delimiter):
        key, eq, value = part.partition("=")
        key = key.strip()
        if eq and key:
            out[key] = value.strip()
    return out


def _put(ev: Event, attrs: dict[str, str]) -> None:
    folded = {k.casefold(): v for k, v in attrs.items()}
    for key, value in attrs.items():
        if value and _FIELD_NAME.fullmatch(key):
            ev[f"leef.{key}"] = value
        mapped = LEEF_KEYS.get(key.casefold())
        if mapped is not None:
            put_value(ev, mapped[0], mapped[1], value)
    for key, field, kind in _FALLBACKS:
        if field not in ev and folded.get(key):
            put_value(ev, field, kind, folded[key])
    user = ev.get("source.user.name")
    if user:
        ev["user.name"] = user
    put_transport(ev, folded.get("proto", ""))
    sev = folded.get("sev", "")
    if sev.isdecimal() and len(sev) <= 2 and int(sev) <= 10:
        ev["event.severity"] = int(sev)
    put_hash(ev, folded.get("filehash", "") or folded.get("md5", ""))


def _when(attrs: dict[str, str], head: Event, ctx: ParseContext) -> str:
    """``devTime`` (read with ``devTimeFormat`` when given), else the syslog header's, else now."""
    folded = {k.casefold(): v for k, v in attrs.items() if k.casefold().startswith("devtime")}
    value = folded.get("devtime", "")
    if value:
        fmt = folded.get("devtimeformat", "")
        stamp = java_time(value, fmt, ctx) if fmt else device_time(value, ctx)
        if stamp is not None:
            return stamp
    header = head.get("@timestamp")
    return header if isinstance(header, str) and header else format_ts(ctx.now)


# --------------------------------------------------------------------------- devTimeFormat

_JAVA_TOKEN = re.compile(r"'([^']*)'|(y+|M+|d+|H+|h+|k+|K+|m+|s+|S+|a+|z+|Z+|X+|E+)|(.)")
_ZONE = r"(?P<zone>Z|[A-Za-z]{1,5}(?:[+-]\d{1,2}(?::?\d\d)?)?|[+-]\d\d:?\d\d)"


@lru_cache(maxsize=32)
def java_pattern(fmt: str) -> re.Pattern[str] | None:
    """A Java ``SimpleDateFormat`` pattern (``MMM dd yyyy HH:mm:ss.SSS zzz``,
    ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``...) as a regex with named groups; None when it has a letter
    this reader does not know or repeats a field."""
    if len(fmt) > 64:
        return None
    parts: list[str] = []
    seen: set[str] = set()
    for quoted, token, other in _JAVA_TOKEN.findall(fmt):
        if token:
            piece = _java_piece(token)
            if piece is None:
                return None
            name = piece[1]
            if name:
                if name in seen:
                    return None
                seen.add(name)
            parts.append(piece[0])
        elif other:
            parts.append(re.escape(other))
        else:
            parts.append(re.escape(quoted) if quoted else "'")
    return re.compile("".join(parts))


def _java_piece(token: str) -> tuple[str, str] | None:
    """(regex, group name or "") of one pattern letter run."""
    letter, n = token[0], len(token)
    if letter == "y":
        return (r"(?P<year>\d{2})" if n == 2 else r"(?P<year>\d{4})"), "year"
    if letter == "M":
        return ((r"(?P<mon>[A-Za-z]{3,9})", "mon") if n >= 3 else (r"(?P<month>\d{1,2})", "month"))
    simple = {"d": "day", "H": "hour", "k": "hour", "h": "hour12", "K": "hour12", "m": "minute",
              "s": "second"}
    if letter in simple:
        return rf"(?P<{simple[letter]}>\d{{1,2}})", simple[letter]
    if letter == "S":
        return r"(?P<frac>\d{1,9})", "frac"
    if letter == "a":
        return r"(?P<ampm>[AaPp][Mm])", "ampm"
    if letter in "zZX":
        return _ZONE, "zone"
    if letter == "E":
        return r"[A-Za-z]{2,9}", ""
    return None


def java_time(value: str, fmt: str, ctx: ParseContext) -> str | None:
    """``devTime`` read with ``devTimeFormat``; None when it does not fit."""
    pattern = java_pattern(fmt.strip())
    m = pattern.fullmatch(value.strip()) if pattern is not None else None
    if m is None:
        return device_time(value, ctx)
    g = m.groupdict()
    month = MONTHS.get((g.get("mon") or "")[:3].title()) if g.get("mon") else (
        int(g["month"]) if g.get("month") else None)
    if month is None or g.get("day") is None:
        return None
    hour = int(g.get("hour") or 0)
    if g.get("hour12") is not None:
        hour = int(g["hour12"]) % 12 + (12 if (g.get("ampm") or "").upper() == "PM" else 0)
    tz = zone_named(g["zone"]) if g.get("zone") else None
    tz = tz or ctx.tz
    try:
        year = _year(g.get("year"), month, int(g["day"]), ctx)
        local = datetime(year, month, int(g["day"]), hour, int(g.get("minute") or 0),
                         int(g.get("second") or 0),
                         int((g.get("frac") or "0")[:6].ljust(6, "0")), tzinfo=tz)
        return format_ts(local)
    except (ValueError, OverflowError):
        return None


def _year(text: str | None, month: int, day: int, ctx: ParseContext) -> int:
    if text is None:
        return latest_year(month, day, ctx, ctx.tz)
    return int(text) + (2000 if len(text) == 2 else 0)


# --------------------------------------------------------------------------- classification

_AUTH_WORDS = re.compile(r"(?i)\blog ?[io]n|\bsign(?:ed)? ?in|authenticat")
_FAILED = re.compile(r"(?i)fail|denied|invalid|reject|wrong")


def _classify(ev: Event, attrs: dict[str, str], vendor: str, event_id: str) -> None:
    """Antivirus detections (as in CEF: labelled threat names or an AV vendor's malware event),
    logins (``isLoginEvent``/``isLogoutEvent`` or the EventID's words), connections."""
    folded = {k.casefold(): v for k, v in attrs.items()}
    labels = {f"cs{i}Label": folded.get(f"cs{i}label", "") for i in range(1, 7)}
    labels.update({f"cs{i}": folded.get(f"cs{i}", "") for i in range(1, 7)})
    for key in ("virusname", "malwarename", "threatname", "threat", "malware", "signature"):
        if folded.get(key):
            labels.update({"cs1Label": "VirusName", "cs1": folded[key]})
            break
    threat = threat_name(labels, vendor, event_id, folded.get("name", "") or event_id)
    if threat is not None:
        ev.update({"event.kind": "alert", "event.category": ["malware"], "event.type": ["info"],
                   "rule.name": threat[0]})
        if threat[1] and "file.path" not in ev:
            ev["file.path"] = threat[1]
        return
    login = folded.get("isloginevent", "").lower() == "true"
    logout = folded.get("islogoutevent", "").lower() == "true"
    if login or logout or _AUTH_WORDS.search(event_id):
        ev["event.category"] = ["authentication"]
        ev["event.type"] = ["end" if logout else "start"]
        if "event.outcome" not in ev:
            failed = _FAILED.search(f"{event_id} {ev.get('event.action', '')}")
            ev["event.outcome"] = "failure" if failed else "success"
    elif "source.ip" in ev or "destination.ip" in ev:
        ev["event.category"] = ["network"]
        action = ev.get("event.action")
        if isinstance(action, str):
            put_verdict(ev, action)
        else:
            ev["event.type"] = ["connection"]
