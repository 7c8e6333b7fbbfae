"""Syslog lines as files and receivers hold them: RFC 3164 (BSD), rsyslog's ISO form, RFC 5424.

``Jun 14 15:16:01 combo sshd(pam_unix)[19939]: msg``,
``<38>Dec 10 06:55:46 LabSZ sshd[24200]: msg``,
``<189>Nov 24 2026 08:15:00.123 ICT: rtr1 %SYS-5-CONFIG_I: msg`` (Cisco, Juniper: with a year),
``2026-11-24T08:15:00.123456+07:00 host prog[pid]: msg`` (rsyslog ``RSYSLOG_FileFormat``) and
``<34>1 2026-11-24T08:15:00Z host app 123 ID47 [sd@1 k="v"] msg`` all become a ``syslog`` event;
the programs of :data:`REFINERS` (sshd, sudo, su, useradd... see :mod:`.linux_auth`) then refine it.

:func:`parse_header` reads the header alone (PRI, time, host and, when there is one, the tag) for
parsers whose payload follows a syslog header without a program tag (FortiGate, Cisco ASA).

BSD timestamps without a year have no zone either: they are local time in ``ctx.tz``, in the
latest year that does not put them more than a day after ``ctx.now``'s local date. Converting them
is the hot path, so :class:`_Clock` caches the UTC "date and hour" prefix of each local hour.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import ClassVar

from collectors.parsers import dns, generic, linux_auth, mail, openvpn, squid
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

Refiner = Callable[[Event, str, str, str], None]
"""``refine(event, program, tag, message)``: adds a dataset's fields to a syslog event in place."""

REFINERS: dict[str, Refiner] = {**linux_auth.REFINERS, **mail.REFINERS, **dns.REFINERS,
                                 **openvpn.REFINERS, **squid.REFINERS}
"""Program name (the tag without ``[pid]`` and ``(pam_unix)``) → its refiner."""
PREFIX_REFINERS: dict[str, Refiner] = {**mail.PREFIX_REFINERS, **openvpn.PREFIX_REFINERS}
"""Program name prefix → its refiner, for programs that are a family (``postfix/smtpd``,
``postfix-out/qmgr``, ``ovpn-office``); tried when :data:`REFINERS` has no entry."""
_PREFIXES = tuple(PREFIX_REFINERS)

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
FACILITIES = (
    "kernel", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    *(f"local{i}" for i in range(8)),
)
SEVERITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational",
              "Debug")
NOT_SYSLOG = "not a syslog line (no timestamp, host and program found)"

# The host is a word followed by spaces (or Cisco's " : ") and by what could start a tag; the tag
# is a word, a [pid] and a colon. Group 2 of _BSD ("Mmm dd [yyyy ]hh") keys the clock's cache.
_HOST_TAG = (r":?(?: +|$)(?:([^\s:\[\]=]+)(?: +: +| +)(?=[^\s\[:]))?"
             r"(?:([^\s\[:]+)(?:\[([^\]]*)\])?: ?)?")
_BSD = re.compile(
    r"(?:<(\d{1,3})>)?"
    r"([A-Z][a-z]{2} +\d{1,2} (?:(\d{4}) )?(?:[01]\d|2[0-3])):([0-5]\d):([0-5]\d)(?:\.(\d+))?"
    r"(?(3)(?: (UTC|GMT|UT|[A-Z]{1,4}T|[+-]\d\d:?\d\d)(?=:|$| [^\s:]))?)" + _HOST_TAG)
_AFTER_STAMP = re.compile(_HOST_TAG)  # after a 15-character BSD stamp already read
_ISO = re.compile(r"(\d{4}-\d\d-\d\d[T ][\d:.]+(?:[Zz]|[+-]\d\d:?\d\d)?)" + _HOST_TAG)
_TAG = re.compile(r"([^\s\[:]+)(?:\[([^\]]*)\])?:? ?")  # a tag without its colon: "syslogd 1.4.1:"
_5424 = re.compile(r"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?(.*)", re.DOTALL)
_SD_ELEMENT = re.compile(r'\[([^\s\]=]+)((?: [^\s=\]]+="(?:[^"\\]|\\.)*")*) ?\]')
_SD_PARAM = re.compile(r'([^\s=\]]+)="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE = re.compile(r"\\([\"\\\]])")
_REPEATED = re.compile(r"message repeated (\d{1,18}) times: \[ ?(.*?)\]?$")
_SNIFF = re.compile(r"(?:<\d{1,3}>)?(?:\d{1,10}: )?(?:[A-Z][a-z]{2} +\d{1,2} (?:\d{4} )?"
                    r"\d\d:\d\d:\d\d[ .:]|\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\d )")
_UTC_NAMES = frozenset(("UTC", "GMT", "UT"))


def _pri_fields(pri: int) -> Event:
    facility, severity = divmod(pri, 8)
    return {"log.syslog.priority": pri, "log.syslog.facility.code": facility,
            "log.syslog.facility.name": FACILITIES[facility],
            "log.syslog.severity.code": severity, "log.syslog.severity.name": SEVERITIES[severity]}


_PRI = tuple(_pri_fields(pri) for pri in range(8 * len(FACILITIES)))  # PRI → its fields


class _Clock:
    """BSD local timestamps → canonical UTC for one zone and one "today"."""

    def __init__(self, tz: tzinfo, now: datetime) -> None:
        self.tz = tz
        self.today = now.astimezone(tz).date()
        self.limit = self.today + timedelta(days=1)
        # "Mmm dd [yyyy ]hh[ zone]" → (UTC "YYYY-MM-DDTHH:" prefix, or "" when the offset is not
        # whole hours; the local datetime of the hour)
        self.hours: dict[str, tuple[str, datetime]] = {}

    def stamp(self, key: str, year: str | None, zone: str | None, mi: str, ss: str,
              frac: str | None) -> str:
        """The canonical ``@timestamp`` of ``Mmm dd [yyyy ]hh:mm:ss[.frac][ zone]``; ``key`` is
        its ``Mmm dd [yyyy ]hh``."""
        cache = key if zone is None else f"{key} {zone}"
        hit = self.hours.get(cache)
        if hit is None:
            if len(self.hours) > 4096:
                self.hours.clear()
            hit = self.hours[cache] = self._hour(key, year, zone)
        prefix, hour = hit
        ms = (frac + "00")[:3] if frac else "000"
        if prefix:
            return f"{prefix}{mi}:{ss}.{ms}Z"
        try:
            return format_ts(hour.replace(minute=int(mi), second=int(ss),
                                          microsecond=int(ms) * 1000))
        except OverflowError:  # a zone that moves the first or last hour out of range
            raise ParseError(f"time out of range: {key}:{mi}:{ss}") from None

    def _hour(self, key: str, year: str | None, zone: str | None) -> tuple[str, datetime]:
        mon, day, *_, hour = key.split()
        month = MONTHS.get(mon)
        if month is None:
            raise ParseError(f"unknown month {mon!r}")
        y = int(year) if year else self._year(month, int(day))
        try:
            local = datetime(y, month, int(day), int(hour), tzinfo=_zone(zone) or self.tz)
            offset = local.utcoffset() or timedelta(0)
            return ("" if offset.total_seconds() % 3600 else format_ts(local)[:14]), local
        except (ValueError, OverflowError):  # overflow: before year 1 or after 9999 in UTC
            raise ParseError(f"no such date: day {int(day)} of month {month} in {y}") from None

    def _year(self, month: int, day: int) -> int:
        """The latest year in which month/day is a date no later than tomorrow."""
        for year in range(self.limit.year, self.limit.year - 8, -1):
            try:
                if date(year, month, day) <= self.limit:
                    return year
            except ValueError:
                continue  # Feb 29 outside a leap year, or a day that no month has
        raise ParseError(f"no such date: day {day} of month {month}")


def _zone(zone: str | None) -> tzinfo | None:
    """The zone a header names: UTC/GMT, or a numeric offset. Other abbreviations are ambiguous
    (IST, CST...): None, so the configured zone applies."""
    if zone is None or zone[0] not in "+-":
        return UTC if zone in _UTC_NAMES else None
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    return timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))


class HeaderReader:
    """Reads syslog headers (:func:`parse_header`) with the caches of one stream of lines: the
    clock of the last context, and the last header. One per parser instance; the module keeps one
    for :func:`parse_header`."""

    def __init__(self) -> None:
        self._clock: tuple[ParseContext, _Clock] | None = None  # one tuple: safe across threads
        # The last BSD header read up to its tag's ": ", and its fields. A process writes lines in
        # bursts (sshd: 43 % of the loghub sample repeats the header of the line before), and
        # text that starts with the same header reads the same.
        self._last: tuple[ParseContext, str, Event] | None = None
        # "Mmm dd hh:mm:ss" (after a PRI or none; no year, fraction or zone) → its @timestamp, for
        # one context: the lines of one second share it, and the stamp is the costliest part of a
        # header.
        self._stamps: tuple[ParseContext, dict[str, str]] | None = None

    def read(self, text: str, ctx: ParseContext) -> tuple[Event, str]:
        """See :func:`parse_header`."""
        last = self._last
        if last is not None and last[0] is ctx and text.startswith(last[1]):
            return last[2].copy(), text[len(last[1]):]
        stamps = self._stamps
        if stamps is not None and stamps[0] is ctx:
            pos = text.find(">", 1, 5) + 1 if text[:1] == "<" else 0  # after a PRI, if any
            ts = stamps[1].get(text[pos:pos + 15])
            if ts is not None and (m := _AFTER_STAMP.match(text, pos + 15)) is not None:
                pri = text[1:pos - 1] if pos else None
                if pri is None or pri.isdecimal():
                    return self._fast(text, ctx, ts, m, pri)
        m = _BSD.match(text)  # the common case, PRI or not, in one match
        pri = None
        if m is None:
            pri, pos = _prefix(text)
            m = _BSD.match(text, pos) if pos else None
            if m is None:
                return self._other(text, ctx, pri, pos)
        own_pri, key, year, mi, ss, frac, zone, host, tag, pid = m.groups()
        pri = own_pri or pri
        clock = self._clock
        if clock is None or clock[0] is not ctx:
            clock = self._clock_for(ctx)
        ev: Event = {"@timestamp": clock[1].stamp(key, year, zone, mi, ss, frac)}
        _put_header(ev, pri, host or ctx.hostname, tag, pid)
        end = m.end()
        if tag is not None and text[end - 1] == " ":
            self._last = (ctx, text[:end], ev.copy())
        start = m.start(2)  # "Mmm dd hh:mm:ss" alone, first or after the PRI only:
        if m.end(5) - start == 15 and frac is None and start == (len(own_pri) + 2 if own_pri
                                                                  else 0):
            self._stamp_seen(ctx, text[start:start + 15], ev["@timestamp"])
        return ev, text[end:]

    def _stamp_seen(self, ctx: ParseContext, stamp: str, ts: str) -> None:
        stamps = self._stamps
        if stamps is None or stamps[0] is not ctx or len(stamps[1]) >= 4096:
            stamps = self._stamps = (ctx, {})
        stamps[1][stamp] = ts

    def _fast(self, text: str, ctx: ParseContext, ts: str, m: re.Match[str],
              pri: str | None) -> tuple[Event, str]:
        """A header whose stamp was read before: host and tag from the rest (one small match).
        ``pri``: the ``<PRI>`` before the stamp, as received over the network."""
        host, tag, pid = m.groups()
        host = host or ctx.hostname
        end = m.end()
        if (pri is None and host and tag and pid and pid.isdecimal() and len(pid) <= 18
                and "(" not in tag):  # inline _number(): the hot path
            ev: Event = {"@timestamp": ts, "host.hostname": host, "host.name": host,
                         "process.name": tag, "log.syslog.appname": tag,
                         "log.syslog.procid": pid, "process.pid": int(pid)}
        else:
            ev = {"@timestamp": ts}
            _put_header(ev, pri, host, tag, pid)
        if tag is not None and text[end - 1] == " ":
            self._last = (ctx, text[:end], ev.copy())
        return ev, text[end:]

    def _other(self, text: str, ctx: ParseContext, pri: str | None,
               pos: int) -> tuple[Event, str]:
        """Headers with an ISO time, RFC 5424's, a PRI alone, or none."""
        m = _ISO.match(text, pos)
        if m is not None:
            iso, host, tag, pid = m.groups()
            ev: Event = {"@timestamp": _iso(iso, ctx.tz)}
            _put_header(ev, pri, host or ctx.hostname, tag, pid)
            return ev, text[m.end():]
        if pri is not None and (m5 := _5424.match(text)) is not None:
            return _rfc5424(m5, ctx)
        ev = {}
        if pri is not None:
            _put_pri(ev, pri)
        return ev, text[pos:]

    def _clock_for(self, ctx: ParseContext) -> tuple[ParseContext, _Clock]:
        cached = self._clock
        today = ctx.now.astimezone(ctx.tz).date()
        if cached is not None and cached[1].tz is ctx.tz and cached[1].today == today:
            clock = cached[1]
        else:
            clock = _Clock(ctx.tz, ctx.now)
        self._clock = (ctx, clock)
        return self._clock


_READER = HeaderReader()


def parse_header(text: str, ctx: ParseContext) -> tuple[Event, str]:
    """The syslog header of ``text`` as event fields, and the rest of the line.

    Reads an optional ``<PRI>`` (``log.syslog.priority``, ``.facility.*``, ``.severity.*``) and a
    Cisco sequence number, then a timestamp (BSD with or without a year, ISO, or an RFC 5424
    header) as ``@timestamp``, the host (``host.hostname``/``host.name``, else ``ctx.hostname``)
    and, only when the next word is one (``prog:``, ``prog[pid]:``), the tag (``process.name``,
    ``log.syslog.appname``, ``log.syslog.procid``, ``process.pid``). Without a timestamp there
    is no ``@timestamp`` and the rest starts after the PRI: ``<189>date=2026-11-24 time=...``
    gives ``({PRI fields}, "date=2026-11-24 time=...")``; text with no header at all gives
    ``({}, text)``. :class:`ParseError` for a bad date or PRI.
    """
    return _READER.read(text, ctx)


def _prefix(text: str) -> tuple[str | None, int]:
    """The ``<PRI>`` (None if there is none) and where the header goes on after it and after
    a Cisco sequence number (``<189>1234: Nov 24 ...``)."""
    pri, pos = None, 0
    if text[:1] == "<":
        end = text.find(">", 1, 5)
        if end > 1 and text[1:end].isdecimal():
            pri, pos = text[1:end], end + 1
    if text[pos:pos + 1].isdecimal():
        colon = text.find(": ", pos, pos + 12)
        if colon > pos and text[pos:colon].isdecimal():
            pos = colon + 2
    return pri, pos


def _put_pri(ev: Event, pri: str) -> None:
    try:
        ev.update(_PRI[int(pri)])
    except IndexError:
        raise ParseError(f"PRI {pri} out of range (0-191)") from None


def _put_header(ev: Event, pri: str | None, host: str | None, tag: str | None,
                pid: str | None) -> None:
    """Host, PRI and tag fields. ``process.name`` is the tag without ``(pam_unix)``; ``process.pid``
    is set when the pid is a number."""
    if host:
        ev["host.hostname"] = ev["host.name"] = host
    if pri is not None:
        _put_pri(ev, pri)
    if tag:
        program = tag.partition("(")[0] if "(" in tag else tag
        if program:
            ev["process.name"] = program
        ev["log.syslog.appname"] = tag
    if pid:
        ev["log.syslog.procid"] = pid
        if _number(pid):
            ev["process.pid"] = int(pid)


def _number(text: str) -> bool:
    """Digits that int() takes (it refuses more than 4300) and a pid or count can be."""
    return text.isdecimal() and len(text) <= 18


class SyslogParser:
    """RFC 3164 / rsyslog file format / RFC 5424 lines → ``syslog`` (or refined) events."""

    name: ClassVar[str] = "syslog"
    priority: ClassVar[int] = 20
    carrier: ClassVar[bool] = True  # syslog framing carries ASA, FortiGate, netfilter lines
    generic_dataset: ClassVar[str] = "syslog"  # lines no refiner knew: more specific parsers
    # may claim these (auto-detection); a refined line (linux.auth) is not offered to them

    def __init__(self) -> None:
        self._header = HeaderReader()

    def sniff(self, text: str) -> bool:
        """A PRI, a ``Mmm dd [yyyy ]HH:MM:SS`` or ISO timestamp, or RFC 5424's version first."""
        return _SNIFF.match(text) is not None

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` when it is no syslog line."""
        if text.endswith(("\n", "\r")):
            text = text.rstrip("\r\n")
        ev, msg = self._header.read(text, ctx)
        if "@timestamp" not in ev:
            raise ParseError(NOT_SYSLOG)
        tag = ev.get("log.syslog.appname", "")
        if not tag and "log.syslog.version" not in ev:
            tag, msg = _bare_tag(ev, msg)
        ev["message"] = msg
        ev["event.dataset"] = "syslog"
        ev["event.module"] = "system"
        if msg.startswith("message repeated "):
            msg = _repeated(ev, msg)
        program = ev.get("process.name", "")
        refiner = REFINERS.get(program)
        if refiner is None and program.startswith(_PREFIXES):
            refiner = next(r for p, r in PREFIX_REFINERS.items() if program.startswith(p))
        if refiner is not None:
            refiner(ev, program, tag, msg)
        elif "(pam" in tag or msg.startswith("pam_"):
            linux_auth.refine(ev, program, tag, msg)
        else:
            generic.enrich(ev, msg)  # addresses and users of a message no refiner knows
        return ev


def _bare_tag(ev: Event, msg: str) -> tuple[str, str]:
    """A file line's tag need not end in a colon (``syslogd 1.4.1: restart.``): the first word."""
    m = _TAG.match(msg)
    if m is None:
        raise ParseError(NOT_SYSLOG)
    _put_header(ev, None, None, m[1], m[2])
    return m[1], msg[m.end():]


def _iso(value: str, tz: tzinfo) -> str:
    """An ISO 8601 timestamp (naive = local in ``tz``) → canonical."""
    if value[-1] in "Zz":
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=tz))
    except (ValueError, OverflowError):  # overflow: before year 1 or after 9999 in UTC
        raise ParseError(f"bad timestamp {value[:40]!r}") from None


def _repeated(ev: Event, msg: str) -> str:
    """rsyslog's ``message repeated N times: [ msg]``: the count, and the message to refine."""
    m = _REPEATED.match(msg)
    if m is None:
        return msg
    ev["log.syslog.repeat_count"] = int(m[1])
    return m[2]


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _rfc5424(m: re.Match[str], ctx: ParseContext) -> tuple[Event, str]:
    """``<PRI>VERSION TIMESTAMP HOST APP PROCID MSGID SD MSG``; nil timestamp = ``ctx.now``."""
    pri, version, stamp, host, app, procid, msgid, rest = m.groups()
    ev: Event = {"@timestamp": format_ts(ctx.now) if stamp == "-" else _iso(stamp, ctx.tz)}
    sd, msg = _structured_data(rest)
    _put_header(ev, pri, _nil(host) or ctx.hostname, _nil(app), _nil(procid))
    ev["log.syslog.version"] = version
    if _nil(msgid):
        ev["log.syslog.msgid"] = msgid
    ev.update(sd)
    return ev, msg.removeprefix("\ufeff")


def _structured_data(rest: str) -> tuple[dict[str, str], str]:
    """Split RFC 5424 STRUCTURED-DATA from the message: ``(fields, message)``."""
    fields: dict[str, str] = {}
    if not rest.startswith("["):
        if rest.startswith("- ") or rest == "-":
            return fields, rest[2:]
        raise ParseError("RFC 5424 line without STRUCTURED-DATA")
    pos = 0
    while (sd := _SD_ELEMENT.match(rest, pos)) is not None:
        for name, value in _SD_PARAM.findall(sd[2]):
            key = f"log.syslog.structured_data.{sd[1]}.{name}"
            fields[key] = _SD_ESCAPE.sub(r"\1", value)
        pos = sd.end()
    if pos == 0:
        raise ParseError("malformed RFC 5424 STRUCTURED-DATA")
    return fields, rest[pos + 1:] if rest[pos:pos + 1] == " " else rest[pos:]
