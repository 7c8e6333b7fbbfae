"""Syslog lines as files and receivers hold them: RFC 3164 (BSD), rsyslog's ISO form, RFC 5424.

``Jun 14 15:16:01 combo sshd(pam_unix)[19939]: msg``,
``<38>Dec 10 06:55:46 LabSZ sshd[24200]: msg``,
``2026-11-24T08:15:00.123456+07:00 host prog[pid]: msg`` (rsyslog ``RSYSLOG_FileFormat``) and
``<34>1 2026-11-24T08:15:00Z host app 123 ID47 [sd@1 k="v"] msg`` all become a ``syslog`` event;
the programs of :data:`REFINERS` (sshd, sudo, su, useradd... see :mod:`.linux_auth`) then refine it.

BSD timestamps have no year and no zone: they are local time in ``ctx.tz``, in the latest year that
does not put them more than a day after ``ctx.now``'s local date. Converting them is the hot path,
so :class:`_Clock` caches the UTC "date and hour" prefix of each local (month, day, hour).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import ClassVar

from collectors.parsers import linux_auth
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.sources import ParseContext

Refiner = Callable[[Event, str, str, str], None]
"""``refine(event, program, tag, message)``: adds a dataset's fields to a syslog event in place."""

REFINERS: dict[str, Refiner] = dict.fromkeys(linux_auth.PROGRAMS, linux_auth.refine)
"""Program name (the tag without ``[pid]`` and ``(pam_unix)``) → its refiner."""

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
FACILITIES = (
    "kernel", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    *(f"local{i}" for i in range(8)),
)
SEVERITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational",
              "Debug")

_PRI = r"(?:<(\d{1,3})>)?"
# host (optional: a colon or bracket right after the word means it is the tag), tag, [pid], message
_TAIL = r" +(?:([^\s:\[\]]+) +)?([^\s\[:]+)(?:\[([^\]]*)\])?:? ?(.*)"
_BSD = re.compile(
    _PRI + r"([A-Z][a-z]{2}) +(\d{1,2}) ([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.(\d+))?" + _TAIL)
_ISO = re.compile(_PRI + r"(\d{4}-\d\d-\d\d[T ][\d:.]+(?:[Zz]|[+-]\d\d:?\d\d)?)" + _TAIL)
_5424 = re.compile(r"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?(.*)")
_SD_ELEMENT = re.compile(r'\[([^\s\]=]+)((?: [^\s=\]]+="(?:[^"\\]|\\.)*")*) ?\]')
_SD_PARAM = re.compile(r'([^\s=\]]+)="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE = re.compile(r"\\([\"\\\]])")
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?)\]?$")
_SNIFF = re.compile(
    r"(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d |\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\d )")


class _Clock:
    """BSD local timestamps → canonical UTC for one zone and one "today"."""

    def __init__(self, tz: tzinfo, now: datetime) -> None:
        self.tz = tz
        self.today = now.astimezone(tz).date()
        self.limit = self.today + timedelta(days=1)
        # (mon, day, hour) → (UTC "YYYY-MM-DDTHH:" prefix or "" when the offset is not whole
        # hours, year)
        self.hours: dict[tuple[str, str, str], tuple[str, int]] = {}

    def stamp(self, mon: str, day: str, hh: str, mi: str, ss: str, frac: str | None) -> str:
        """The canonical ``@timestamp`` of ``Mon DD HH:MM:SS[.frac]``."""
        key = (mon, day, hh)
        hit = self.hours.get(key)
        if hit is None:
            if len(self.hours) > 4096:
                self.hours.clear()
            hit = self.hours[key] = self._hour(mon, int(day), int(hh))
        prefix, year = hit
        ms = (frac + "00")[:3] if frac else "000"
        if prefix:
            return f"{prefix}{mi}:{ss}.{ms}Z"
        local = datetime(year, MONTHS[mon], int(day), int(hh), int(mi), int(ss),
                         int(ms) * 1000, tzinfo=self.tz)
        return format_ts(local)

    def _hour(self, mon: str, day: int, hour: int) -> tuple[str, int]:
        month = MONTHS.get(mon)
        if month is None:
            raise ParseError(f"unknown month {mon!r}")
        year = self._year(month, day)
        local = datetime(year, month, day, hour, tzinfo=self.tz)
        offset = local.utcoffset() or timedelta(0)
        if offset.total_seconds() % 3600:
            return "", year
        return format_ts(local)[:14], year

    def _year(self, month: int, day: int) -> int:
        """The latest year in which month/day is a date no later than tomorrow."""
        for year in range(self.limit.year, self.limit.year - 8, -1):
            try:
                if date(year, month, day) <= self.limit:
                    return year
            except ValueError:
                continue  # Feb 29 outside a leap year, or a day that no month has
        raise ParseError(f"no such date: day {day} of month {month}")


class SyslogParser:
    """RFC 3164 / rsyslog file format / RFC 5424 lines → ``syslog`` (or refined) events."""

    name: ClassVar[str] = "syslog"
    priority: ClassVar[int] = 20

    def __init__(self) -> None:
        self._ctx: ParseContext | None = None
        self._clock: _Clock | None = None

    def sniff(self, text: str) -> bool:
        """A PRI, a ``Mon DD HH:MM:SS`` or ISO timestamp, or RFC 5424's version at the start."""
        return _SNIFF.match(text) is not None

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` when it is no syslog line."""
        if text.endswith(("\n", "\r")):
            text = text.rstrip("\r\n")
        m = _BSD.match(text)
        if m is not None:
            pri, mon, day, hh, mi, ss, frac, host, tag, pid, msg = m.groups()
            ts = self._clock_for(ctx).stamp(mon, day, hh, mi, ss, frac)
            return _event(ts, pri, host or ctx.hostname, tag, pid, msg)
        m = _ISO.match(text)
        if m is not None:
            pri, stamp, host, tag, pid, msg = m.groups()
            return _event(_iso(stamp, ctx.tz), pri, host or ctx.hostname, tag, pid, msg)
        m = _5424.match(text)
        if m is not None:
            return _rfc5424(m, ctx)
        raise ParseError("not a syslog line (no timestamp, host and program found)")

    def _clock_for(self, ctx: ParseContext) -> _Clock:
        clock = self._clock
        if ctx is self._ctx and clock is not None:
            return clock
        if clock is None or clock.tz is not ctx.tz or clock.today != ctx.now.astimezone(
                ctx.tz).date():
            clock = self._clock = _Clock(ctx.tz, ctx.now)
        self._ctx = ctx
        return clock


def _iso(value: str, tz: tzinfo) -> str:
    """An ISO 8601 timestamp (naive = local in ``tz``) → canonical."""
    if value[-1] in "Zz":
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(f"bad timestamp {value!r}") from None
    return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=tz))


def _event(ts: str, pri: str | None, host: str | None, tag: str, pid: str | None,
           msg: str) -> Event:
    """The syslog event of one line, refined by its program's refiner if it has one."""
    program = tag.split("(", 1)[0] if "(" in tag else tag
    ev: Event = {"@timestamp": ts, "message": msg, "event.dataset": "syslog",
                 "event.module": "system"}
    if program:
        ev["process.name"] = program
        ev["log.syslog.appname"] = tag
    if host:
        ev["host.hostname"] = ev["host.name"] = host
    if pid:
        ev["log.syslog.procid"] = pid
        if pid.isdigit():
            ev["process.pid"] = int(pid)
    if pri is not None:
        _put_pri(ev, int(pri))
    _refine(ev, program, tag, msg)
    return ev


def _refine(ev: Event, program: str, tag: str, msg: str) -> None:
    if msg.startswith("message repeated "):
        m = _REPEATED.match(msg)
        if m is not None:
            ev["log.syslog.repeat_count"] = int(m[1])
            msg = m[2]
    refiner = REFINERS.get(program)
    if refiner is None and ("(pam" in tag or msg.startswith("pam_")):
        refiner = linux_auth.refine
    if refiner is not None:
        refiner(ev, program, tag, msg)


def _put_pri(ev: Event, pri: int) -> None:
    facility, severity = divmod(pri, 8)
    if facility >= len(FACILITIES):
        raise ParseError(f"PRI {pri} out of range (0-191)")
    ev["log.syslog.priority"] = pri
    ev["log.syslog.facility.code"] = facility
    ev["log.syslog.facility.name"] = FACILITIES[facility]
    ev["log.syslog.severity.code"] = severity
    ev["log.syslog.severity.name"] = SEVERITIES[severity]


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _rfc5424(m: re.Match[str], ctx: ParseContext) -> Event:
    """``<PRI>VERSION TIMESTAMP HOST APP PROCID MSGID SD MSG``; nil timestamp = ``ctx.now``."""
    pri, version, stamp, host, app, procid, msgid, rest = m.groups()
    ts = format_ts(ctx.now) if stamp == "-" else _iso(stamp, ctx.tz)
    sd, msg = _structured_data(rest)
    ev = _event(ts, pri, _nil(host) or ctx.hostname, _nil(app) or "", _nil(procid),
                msg.removeprefix("\ufeff"))
    ev["log.syslog.version"] = version
    if _nil(msgid):
        ev["log.syslog.msgid"] = msgid
    ev.update(sd)
    return ev


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
