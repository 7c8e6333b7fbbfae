"""Web server logs → ECS events: access logs (Apache, Nginx, Tomcat, IIS W3C) and error logs.

Access lines in NCSA common/combined form, optionally after a ``vhost[:port]`` prefix (Apache's
``vhost_combined``) and followed by the ``"$http_x_forwarded_for"`` Nginx's ``main`` format adds;
Apache, Nginx and Tomcat (AccessLogValve's default ``common`` pattern) write the same line, so the
parser's name alone says which ``event.dataset`` it is: auto-detection files such lines as
``apache.access``, a source configured with ``parser: nginx`` or ``parser: tomcat`` gets its own.
One level of double quotes around the whole line (some exports wrap lines so) is stripped.

Every access event carries the ECS fields the Sigma ``webserver`` pipeline maps W3C names to:
``source.ip`` (c-ip), ``url.path`` / ``url.query`` / ``url.original`` (cs-uri-*), ``url.domain``
(cs-host, from the vhost), ``http.request.method``, ``http.response.status_code`` (int),
``http.request.referrer``, ``user_agent.original``, ``user.name``.

IIS W3C files declare their columns in ``#Fields:``: see :class:`IisParser` for how the header is
remembered while lines arrive one at a time. Error logs: Apache 2.2/2.4 and Nginx, whose times are
local (``ctx.tz``); their ModSecurity lines (``ModSecurity: Warning. ... [id "942100"]``) also get
the rule's verdict (see :func:`collectors.parsers.modsec_messages.put_error_line`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from collectors.parsers.modsec_messages import put_error_line
from soc.ecs import Event, format_ts
from soc.errors import ParseError, SkipRecord
from soc.pipeline.sources import ParseContext

from .webattack import enrich_web

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}

# Possessive quantifiers: a line that does not fit fails fast instead of backtracking.
_QUOTED = r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"'  # a quoted field in which \" is a quote
_HEAD = (r"([^\s\"]\S*+) \S++ (\S++) "  # client, ident (ignored), user
         r"\[([0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)? "
         r"[+-][0-9]{4})\] ")  # time, ASCII digits: its seconds are copied into @timestamp
_ACCESS = re.compile(
    r"(?:([^\s:\"]++)(?::(\d+))? )?" + _HEAD  # vhost[:port]
    + _QUOTED + r" (\d{3}|-) (\d+|-)"
    r"(?: " + _QUOTED + " " + _QUOTED + r")?"  # referrer, user agent
    r"(?: " + _QUOTED + r")?")  # Nginx main: X-Forwarded-For; anything after it is ignored
# Tomcat does not escape quotes in the request line: the status after it ends it.
_ACCESS_LAX = re.compile(_ACCESS.pattern.replace(_QUOTED + r" (\d{3}", r'"(.*?)" (\d{3}', 1))
_ACCESS_SNIFF = re.compile(r'"?(?:\S+ ){3,4}\[\d\d/[A-Z][a-z]{2}/\d{4}:')
# The fast path (see _split_access): up to the size by regex, the long quoted fields after it
# (referrer, user agent) by str.find, several times faster than the regex engine on them.
_FAST = re.compile(_HEAD + r'"([^"]*+)" (\d{3}|-) (\d+|-)')

AccessGroups = tuple[str | None, str | None, str, str, str, str, str, str,
                     str | None, str | None, str | None]
"""vhost, port, client, user, time, request, status, size, referrer, user agent, XFF."""


class _AccessClock:
    """``dd/Mon/yyyy:HH:MM:SS[.fff] ±hhmm`` → canonical UTC, cached twice: lines of the same
    second share the whole string, and seconds of the same minute and offset share the
    ``YYYY-MM-DDTHH:MM:`` prefix (offsets are whole minutes)."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.seconds: dict[str, str] = {}
        self.minutes: dict[tuple[str, str], str] = {}

    def stamp(self, text: str) -> str:
        found = self.seconds.get(text)
        if found is None:
            if len(self.seconds) > self.LIMIT:
                self.seconds.clear()
            found = self.seconds[text] = self._convert(text)
        return found

    def _convert(self, text: str) -> str:
        minute, sec, offset = text[:17], text[18:20], text[-5:]
        frac = text[21:-6] if text[20] == "." else ""
        key = (minute, offset)
        prefix = self.minutes.get(key)
        if prefix is None:
            if len(self.minutes) > self.LIMIT:
                self.minutes.clear()
            prefix = self.minutes[key] = _minute_prefix(minute, offset)
        return f"{prefix}{sec}.{(frac + '000')[:3]}Z"


def _minute_prefix(minute: str, offset: str) -> str:
    month = MONTHS.get(minute[3:6])
    if month is None:
        raise ParseError(f"unknown month {minute[3:6]!r}")
    try:
        local = datetime.strptime(f"{minute[:2]}/{month}/{minute[7:]} {offset}",
                                  "%d/%m/%Y:%H:%M %z")
        return format_ts(local)[:17]
    except (ValueError, OverflowError):  # overflow: before year 1 or after 9999 in UTC
        raise ParseError(f"bad time {minute} {offset}") from None


class ApacheAccessParser:
    """NCSA common/combined access lines (with vhost prefix, Nginx trailer) → ``apache.access``."""

    name: ClassVar[str] = "apache"
    priority: ClassVar[int] = 30
    module: ClassVar[str] = "apache"

    def __init__(self) -> None:
        self.dataset = f"{self.module}.access"
        self.xff_key = f"{self.module}.access.x_forwarded_for"
        self._clock = _AccessClock()

    def sniff(self, text: str) -> bool:
        """Three or four words, then ``[dd/Mon/yyyy:``."""
        return _ACCESS_SNIFF.match(text) is not None

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One access line → event; :class:`ParseError` when it is none."""
        groups = split_access(text)
        if groups is None:
            raise ParseError(f"not an access log line ({self.name} common/combined format)")
        (vhost, vport, client, user, when, request, status, size, referrer, agent,
         xff) = groups
        ev: Event = {
            "@timestamp": self._clock.stamp(when),
            "event.dataset": self.dataset, "event.module": self.module, "event.kind": "event",
            "event.category": ["web"], "event.type": ["access"],
        }
        if client[0].isdigit() or ":" in client:
            ev["source.ip"] = client
        elif client != "-":
            ev["source.domain"] = client
        if user != "-":
            ev["user.name"] = user
        if "\\" in text:  # the server escaped what it logged: the fields as they were sent
            request = _unescape_log(request) or request
            referrer, agent = _unescape_log(referrer), _unescape_log(agent)
        put_request(ev, request)
        if vhost:
            ev["url.domain"] = vhost
            if vport:
                ev["destination.port"] = _number(vport)
        if status != "-":
            code = ev["http.response.status_code"] = int(status)
            ev["event.outcome"] = "success" if code < 400 else "failure"
        if size != "-":
            ev["http.response.body.bytes"] = _number(size)
        if referrer and referrer != "-":
            ev["http.request.referrer"] = referrer
        if agent and agent != "-":
            ev["user_agent.original"] = agent
        if xff and xff != "-":
            ev[self.xff_key] = xff
        return enrich_web(ev)


_LOG_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|(.))", re.S)
_LOG_LETTERS = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "v": "\v"}


def _unescape_log(value: str | None) -> str | None:
    """A field as the client sent it, from the form Apache (``ap_escape_logitem``: ``\\"``,
    ``\\\\``, ``\\n``..., ``\\xhh``), Nginx (``\\xHH``) and Tomcat logged it. Escaped bytes are
    read as UTF-8, as a raw (unencoded) Vietnamese request target would be."""
    if not value or "\\" not in value:
        return value
    if "\\x" not in value:
        return _LOG_ESCAPE.sub(lambda m: _LOG_LETTERS.get(m[2], m[2]), value)
    out = bytearray()
    pos = 0
    for m in _LOG_ESCAPE.finditer(value):
        out += value[pos:m.start()].encode("utf-8", "surrogateescape")
        out += bytes((int(m[1], 16),)) if m[1] else _LOG_LETTERS.get(m[2], m[2]).encode()
        pos = m.end()
    out += value[pos:].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "replace")


def _number(digits: str) -> int:
    """The number a field's digits give; :class:`ParseError` past 18 of them (no pid, port or
    size has more, and int() refuses more than 4300)."""
    if len(digits) > 18:
        raise ParseError(f"a number of {len(digits)} digits")
    return int(digits)


def split_access(text: str) -> AccessGroups | None:
    """The fields of an access line (:data:`AccessGroups`), or None when it is none."""
    found = _split_access(text)
    if found is None and len(text) > 2 and text[0] == text[-1] == '"':
        found = _split_access(text[1:-1])  # a wrapped line (see _match_access)
    if found is not None:
        return found
    m = _ACCESS.match(text)
    if m is None:
        m = _match_access(text)
    return None if m is None else m.groups()  # type: ignore[return-value]


def _split_access(text: str) -> AccessGroups | None:
    """The fast path for the common shape (no vhost, no backslash): the same fields as
    :data:`_ACCESS` gives, or None to leave the line to it."""
    if "\\" in text:
        return None  # escaped quotes: the regex's business
    m = _FAST.match(text)
    if m is None:
        return None  # a vhost, a quote inside the request line (Tomcat)...
    pos = m.end()
    referrer = agent = xff = None
    if text.startswith(' "', pos):
        q1 = text.find('"', pos + 2)
        if q1 > 0 and text.startswith(' "', q1 + 1):
            q2 = text.find('"', q1 + 3)
            if q2 > 0:
                referrer, agent = text[pos + 2:q1], text[q1 + 3:q2]
                pos = q2 + 1
        if text.startswith(' "', pos):  # XFF, or (as _ACCESS has it) a lone quoted field
            q3 = text.find('"', pos + 2)
            if q3 > 0:
                xff = text[pos + 2:q3]
    client, user, when, request, status, size = m.groups()
    return None, None, client, user, when, request, status, size, referrer, agent, xff


def _match_access(text: str) -> re.Match[str] | None:
    """The slow path: a line wrapped in one level of double quotes, or unescaped quotes in the
    request line."""
    start, end = (1, len(text) - 1) if len(text) > 2 and text[0] == text[-1] == '"' else (
        0, len(text))
    m = _ACCESS.match(text, start, end) if start else None
    return m or _ACCESS_LAX.match(text, start, end)


class NginxAccessParser(ApacheAccessParser):
    """The same lines from Nginx (``combined`` or ``main``) → ``nginx.access``. Chosen by name:
    auto-detection cannot tell Nginx from Apache and prefers ``apache``."""

    name: ClassVar[str] = "nginx"
    priority: ClassVar[int] = 31
    module: ClassVar[str] = "nginx"


class TomcatAccessParser(ApacheAccessParser):
    """Tomcat AccessLogValve (``common``/``combined`` patterns) → ``tomcat.access``. Chosen by
    name, like :class:`NginxAccessParser`."""

    name: ClassVar[str] = "tomcat"
    priority: ClassVar[int] = 32
    module: ClassVar[str] = "tomcat"


def put_request(ev: Event, request: str) -> None:
    """``METHOD target HTTP/x.y`` → method, url.*, http.version. A request line that is not one
    (``-``, a TLS handshake sent to port 80) adds nothing: it stays in ``event.original``."""
    method, sep, target = request.partition(" ")
    if not sep or not method.isalpha():
        return
    head, sep, version = target.rpartition(" ")
    if sep and version.startswith("HTTP/"):
        ev["http.version"] = version[5:]
        target = head
    ev["http.request.method"] = method
    put_url(ev, target)


def put_url(ev: Event, target: str) -> None:
    """A request target (origin form, or absolute form sent to proxies) → ``url.*``."""
    ev["url.original"] = target
    if target[:1] != "/" and "://" in target:
        scheme, _, rest = target.partition("://")
        host, slash, rest = rest.partition("/")
        ev["url.scheme"] = scheme.lower()
        ev.setdefault("url.domain", host)
        target = slash + rest
    path, sep, query = target.partition("?")
    ev["url.path"] = path
    if sep:
        ev["url.query"] = query


# --------------------------------------------------------------------------- error logs

_APACHE_ERROR = re.compile(
    r"\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\d{4})\] "
    r"\[(?:([\w-]*):)?(\w+)\] ?(.*)$")
_APACHE_ERROR_SNIFF = re.compile(r"\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d")
_APACHE_BRACKET = re.compile(
    r"\[(?:pid (\d+)(?::tid (\d+))?|client ([^\]\s]+)|remote ([^\]\s]+))\] ?")
_ERROR_CODE = re.compile(r"(AH\d{5}): ")
_HOST_PORT = re.compile(r"(.+?)(?::(\d+))?$")


def _local(ctx: ParseContext, y: int, mo: int, d: int, hh: int, mi: int, ss: int,
           us: int = 0) -> str:
    """A local time in ``ctx.tz`` → canonical."""
    try:
        return format_ts(datetime(y, mo, d, hh, mi, ss, us, tzinfo=ctx.tz))
    except (ValueError, OverflowError):  # overflow: before year 1 or after 9999 in UTC
        raise ParseError("bad date or time") from None


class ApacheErrorParser:
    """Apache 2.2 and 2.4 error log lines → ``apache.error``; local time in ``ctx.tz``."""

    name: ClassVar[str] = "apache_error"
    priority: ClassVar[int] = 33

    def sniff(self, text: str) -> bool:
        """``[Www Mmm dd HH:MM:SS``."""
        return _APACHE_ERROR_SNIFF.match(text) is not None

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One error log line → event; :class:`ParseError` otherwise."""
        m = _APACHE_ERROR.match(text)
        if m is None or m[1] not in MONTHS:
            raise ParseError("not an Apache error log line")
        mon, day, hh, mi, ss, frac, year, module, level, rest = m.groups()
        micro = int((frac + "00000")[:6]) if frac else 0
        ev: Event = {
            "@timestamp": _local(ctx, int(year), MONTHS[mon], int(day), int(hh), int(mi),
                                 int(ss), micro),
            "event.dataset": "apache.error", "event.module": "apache", "event.kind": "event",
            "event.category": ["web"], "event.type": ["error"], "log.level": level,
        }
        if module:
            ev["apache.error.module"] = module
        ev["message"] = put_error_line(ev, _apache_brackets(ev, rest))
        return ev


def _apache_brackets(ev: Event, rest: str) -> str:
    """Take the ``[pid..]``, ``[client..]``, ``AH01234:`` and ``, referer:`` parts off the text;
    what is left is the message."""
    pos = 0
    while (b := _APACHE_BRACKET.match(rest, pos)) is not None:
        pid, tid, client, remote = b.groups()
        if pid:
            ev["process.pid"] = _number(pid)
            if tid:
                ev["process.thread.id"] = _number(tid)
        elif client or remote:
            _put_peer(ev, client or remote)
        pos = b.end()
    code = _ERROR_CODE.match(rest, pos)
    if code is not None:
        ev["error.code"] = code[1]
        pos = code.end()
    message, sep, referrer = rest[pos:].rpartition(", referer: ")
    if sep:
        ev["http.request.referrer"] = referrer
        return message
    return referrer


def _put_peer(ev: Event, peer: str) -> None:
    """``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:5678`` → source.ip/port."""
    if peer.startswith("["):
        host, _, port = peer[1:].partition("]:")
    elif peer.count(":") == 1:
        host, _, port = peer.partition(":")
    else:
        host, port = peer, ""
    ev["source.ip"] = host
    if port.isdecimal():
        ev["source.port"] = _number(port)


_NGINX_ERROR = re.compile(
    r"(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d) \[(\w+)\] (\d+)#(\d+): (?:\*(\d+) )?(.*)$")
_NGINX_ERROR_SNIFF = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[")
_NGINX_TAIL = re.compile(
    r', (client|server|request|upstream|host|referrer): ("(?:[^"\\]|\\.)*"|[^,]*)')


class NginxErrorParser:
    """Nginx error log lines → ``nginx.error``; local time in ``ctx.tz``."""

    name: ClassVar[str] = "nginx_error"
    priority: ClassVar[int] = 34

    def sniff(self, text: str) -> bool:
        """``yyyy/mm/dd HH:MM:SS [``."""
        return _NGINX_ERROR_SNIFF.match(text) is not None

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One error log line → event; :class:`ParseError` otherwise."""
        m = _NGINX_ERROR.match(text)
        if m is None:
            raise ParseError("not an Nginx error log line")
        y, mo, d, hh, mi, ss, level, pid, tid, conn, rest = m.groups()
        ev: Event = {
            "@timestamp": _local(ctx, int(y), int(mo), int(d), int(hh), int(mi), int(ss)),
            "event.dataset": "nginx.error", "event.module": "nginx", "event.kind": "event",
            "event.category": ["web"], "event.type": ["error"], "log.level": level,
            "process.pid": _number(pid), "process.thread.id": _number(tid),
        }
        if conn:
            ev["nginx.error.connection_id"] = _number(conn)
        cut = rest.find(", client: ")
        ev["message"] = put_error_line(ev, rest if cut < 0 else rest[:cut])
        if cut >= 0:
            for key, value in _NGINX_TAIL.findall(rest, cut):
                _nginx_tail(ev, key, value[1:-1] if value[:1] == '"' else value)
        return ev


def _nginx_tail(ev: Event, key: str, value: str) -> None:
    if key == "client":
        _put_peer(ev, value)
    elif key == "request":
        put_request(ev, value)
    elif key == "host":
        ev["url.domain"] = value
    elif key == "referrer":
        ev["http.request.referrer"] = value
    else:
        ev[f"nginx.error.{key}"] = value


# --------------------------------------------------------------------------- IIS W3C extended


class W3CDirective(SkipRecord):
    """A W3C ``#`` directive (``#Fields:``, ``#Date:``, ``#Software:``...): read, but no event;
    the pipeline counts it as skipped."""


Convert = Callable[[str], object]


def _agent(value: str) -> str:
    return value.replace("+", " ")


def _ms_to_ns(value: str) -> int:
    return int(value) * 1_000_000


def _version(value: str) -> str:
    return value.removeprefix("HTTP/")


# W3C field → (ECS key, conversion). Unknown fields land under iis.access.<name>.
W3C_FIELDS: dict[str, tuple[str, Convert | None]] = {
    "s-ip": ("destination.ip", None), "s-port": ("destination.port", int),
    "c-ip": ("source.ip", None), "cs-method": ("http.request.method", None),
    "cs-uri-stem": ("url.path", None), "cs-uri-query": ("url.query", None),
    "cs-username": ("user.name", None), "cs(User-Agent)": ("user_agent.original", _agent),
    "cs(Referer)": ("http.request.referrer", None), "cs-host": ("url.domain", None),
    "sc-status": ("http.response.status_code", int),
    "sc-substatus": ("iis.access.sub_status", int),
    "sc-win32-status": ("iis.access.win32_status", int),
    "time-taken": ("event.duration", _ms_to_ns), "sc-bytes": ("http.response.bytes", int),
    "cs-bytes": ("http.request.bytes", int), "cs-version": ("http.version", _version),
    "s-sitename": ("iis.access.site_name", None),
    "s-computername": ("iis.access.server_name", None),
    "cs(Cookie)": ("iis.access.cookie", None),
}
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_TIME = re.compile(r"(\d\d:\d\d:\d\d)(?:\.(\d+))?")
_IIS_SNIFF = re.compile(r"(?:#(?:Fields|Software|Version|Date|Start-Date|End-Date|Remark): |"
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \S)")
_NON_WORD = re.compile(r"\W+")
MAX_SOURCES = 1024


class _Layout:
    """The columns of one ``#Fields:`` header, compiled: where date and time are, and where each
    other value goes."""

    __slots__ = ("date", "puts", "size", "time")

    def __init__(self, names: list[str]) -> None:
        if "time" not in names:
            raise ParseError("#Fields: header without a time field")
        self.size = len(names)
        self.time = names.index("time")
        self.date = names.index("date") if "date" in names else None
        self.puts = tuple(
            (i, *W3C_FIELDS.get(n, (f"iis.access.{_NON_WORD.sub('_', n.lower()).strip('_')}",
                                    None)))
            for i, n in enumerate(names) if n not in ("date", "time"))


IIS_DEFAULT = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
               "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
IIS_FULL = ("date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port "
            "cs-username c-ip cs-version cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status "
            "sc-substatus sc-win32-status sc-bytes cs-bytes time-taken")
FALLBACKS = {layout.size: layout for layout in map(_Layout, (IIS_DEFAULT.split(),
                                                             IIS_FULL.split()))}
"""Layouts assumed, by column count, for lines met before any ``#Fields:`` of their source
(a pass that resumes in the middle of a file): IIS's default and "all fields" selections."""


class IisParser:
    """IIS W3C extended log lines → ``iis.access``, honouring each file's ``#Fields:`` header.

    The parser sees one line at a time and ``ctx.key`` (source and file), so it remembers the last
    ``#Fields:`` (and ``#Date:``) per source: directives raise :class:`W3CDirective` (no event),
    data lines use the layout of their source. A line met before any header (a pass resuming in
    the middle of a file) or not matching its header's column count falls back to IIS's default
    layouts of the same count (:data:`FALLBACKS`), else is a :class:`ParseError`. W3C times are
    UTC.
    """

    name: ClassVar[str] = "iis"
    priority: ClassVar[int] = 15

    def __init__(self) -> None:
        self._layouts: dict[str, _Layout] = {}
        self._dates: dict[str, str] = {}

    def sniff(self, text: str) -> bool:
        """A W3C directive, or ``yyyy-mm-dd HH:MM:SS`` then at least two more columns."""
        return _IIS_SNIFF.match(text) is not None

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`W3CDirective` for ``#`` lines, :class:`ParseError` for
        lines that fit no layout."""
        if text[:1] == "#":
            self._directive(text, ctx.key)
        values = text.split(" ")
        layout = self._layouts.get(ctx.key)
        if layout is None or layout.size != len(values):
            layout = FALLBACKS.get(len(values))
            if layout is None:
                raise ParseError(f"{len(values)} columns fit no #Fields: header of this source")
        try:
            return self._event(layout, values, ctx.key)
        except ValueError:
            raise ParseError("a W3C value does not have its column's type") from None

    def _directive(self, text: str, source: str) -> None:
        key, _, value = text[1:].partition(": ")
        if key == "Fields":
            if len(self._layouts) >= MAX_SOURCES and source not in self._layouts:
                del self._layouts[next(iter(self._layouts))]
            self._layouts[source] = _Layout(value.split())
        elif key == "Date" and _DATE.match(value):
            if len(self._dates) >= MAX_SOURCES and source not in self._dates:
                del self._dates[next(iter(self._dates))]
            self._dates[source] = value[:10]
        raise W3CDirective(f"W3C directive #{key or text[1:20]} (not an event)")

    def _event(self, layout: _Layout, values: list[str], source: str) -> Event:
        ev: Event = {
            "@timestamp": self._timestamp(layout, values, source),
            "event.dataset": "iis.access", "event.module": "iis", "event.kind": "event",
            "event.category": ["web"], "event.type": ["access"],
        }
        for i, key, convert in layout.puts:
            value = values[i]
            if value != "-":
                ev[key] = convert(value) if convert else value
        path = ev.get("url.path")
        if path is not None:
            query = ev.get("url.query")
            ev["url.original"] = f"{path}?{query}" if query is not None else path
        status = ev.get("http.response.status_code")
        if status is not None:
            ev["event.outcome"] = "success" if status < 400 else "failure"
        return enrich_web(ev)

    def _timestamp(self, layout: _Layout, values: list[str], source: str) -> str:
        date = values[layout.date] if layout.date is not None else self._dates.get(source, "")
        t = _TIME.fullmatch(values[layout.time])
        if t is None or _DATE.fullmatch(date) is None:
            raise ParseError("no W3C date and time (yyyy-mm-dd HH:MM:SS)")
        frac = t[2]
        return f"{date}T{t[1]}.{(frac + '00')[:3] if frac else '000'}Z"
