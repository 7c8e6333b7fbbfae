"""Squid access logs → ``squid.access`` events, as Elastic's squid integration maps them.

* The native format (``logformat squid``: ``%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un
  %Sh/%<a %mt``): ``1795482900.123    150 10.0.0.5 TCP_MISS/200 1234 GET http://example.com/
  bob HIER_DIRECT/93.184.216.34 text/html``; a custom format that keeps the time first and the
  ``RESULT/status`` and ``HIERARCHY/peer`` tokens is read for the same fields (the tokens are
  found by their shape).
* The common/combined emulation (``logformat common``/``combined``, which end in ``%Ss:%Sh``):
  the NCSA line as the web parsers read it, plus the result code and hierarchy.
* In syslog (``access_log syslog:...``, program ``squid``): :data:`REFINERS`.

Fields: ``source.ip`` (the client), ``user.name``, ``http.request.method``, ``url.*`` (an absolute
URL, or ``host:port`` for ``CONNECT``), ``url.extension``, ``http.response.status_code``,
``http.response.bytes`` (what was sent to the client), ``event.duration``, ``destination.ip`` or
``.domain`` (the peer or origin server of the hierarchy code), ``squid.result_code``,
``squid.hierarchy_code``, ``squid.content_type``. ``event.outcome`` is ``failure`` for a status
of 400 and above and for ``TCP_DENIED``-style results; ``event.action`` is the result code in
lower case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from collectors.parsers import generic
from collectors.parsers.web import put_request, put_url, split_access
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

Refiner = Callable[[Event, str, str, str], None]

_NATIVE = re.compile(r"(\d{9,11})\.(\d{1,3}) +(\d+|-) (\S+) ([A-Z_]+)/(\d{3}|-) (\d+|-) (\S+) "
                     r"(\S+) (\S+) ([A-Z_]+)/(\S+) (\S+)")
_RESULT = re.compile(r"([A-Z][A-Z_]*)/(\d{3}|-)")
_HIERARCHY = re.compile(r"([A-Z][A-Z_]*)/(\S+)")
_SQUID_TAIL = re.compile(r" ([A-Z][A-Z_]+):([A-Z][A-Z_]+)\s*$")
_METHODS = frozenset(("GET", "POST", "HEAD", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                      "PATCH", "PROPFIND", "ICP_QUERY", "NONE", "PURGE"))
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")
_FRACTION = re.compile(r"\.\d+(?= )")
MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def _base(ts: str) -> Event:
    return {"@timestamp": ts, "event.dataset": "squid.access", "event.module": "squid",
            "event.kind": "event", "event.category": ["web", "network"],
            "event.type": ["access"], "observer.vendor": "Squid", "observer.product": "Squid",
            "observer.type": "proxy"}


def native_fields(message: str) -> Event:
    """The fields of a native (or native-like) access line; :class:`ParseError` otherwise."""
    m = _NATIVE.match(message)
    if m is not None:
        (secs, millis, elapsed, client, result, status, size, method, url, user, hier, peer,
         mime) = m.groups()
    else:
        return _lenient(message)
    ev = _base(_epoch(secs, millis))
    _put_common(ev, client, result, status, size, method, url, user, elapsed)
    _put_hierarchy(ev, hier, peer)
    if mime != "-":
        ev["squid.content_type"] = mime
    return ev


def _lenient(message: str) -> Event:
    """A custom format that keeps the time first: its tokens found by shape."""
    words = message.split()
    stamp = words[0].partition(".") if words else ("", "", "")
    if not (stamp[0].isascii() and stamp[0].isdigit() and 9 <= len(stamp[0]) <= 11):
        raise ParseError("not a Squid access line (no epoch time first)")
    result = next(((i, r) for i, w in enumerate(words[1:8], 1)
                   if (r := _RESULT.fullmatch(w)) is not None), None)
    if result is None or len(words) < 4:
        raise ParseError("not a Squid access line (no RESULT/status code)")
    index, found = result
    method_at = next((i for i in range(index + 1, min(len(words), index + 8))
                      if words[i] in _METHODS), None)
    ev = _base(_epoch(stamp[0], stamp[2][:3] or "0"))
    client = next((w for w in words[1:index] if generic.is_ip(w)), words[2])
    elapsed = words[1] if words[1].isdigit() else "-"
    method = words[method_at] if method_at is not None else "-"
    url = words[method_at + 1] if method_at is not None and method_at + 1 < len(words) else "-"
    size = words[index + 1] if index + 1 < len(words) else "-"
    _put_common(ev, client, found[1], found[2], size, method, url, "-", elapsed)
    for word in words[index + 1:]:
        hier = _HIERARCHY.fullmatch(word)
        if hier is not None and (hier[1].startswith("HIER_") or hier[1] in ("DIRECT", "NONE")):
            _put_hierarchy(ev, hier[1], hier[2])
            break
    return ev


def _epoch(secs: str, millis: str) -> str:
    try:
        return format_ts(datetime.fromtimestamp(int(secs) + int(millis.ljust(3, "0")) / 1000,
                                                UTC))
    except (ValueError, OverflowError, OSError):
        raise ParseError(f"bad epoch time {secs}.{millis}") from None


def _put_common(ev: Event, client: str, result: str, status: str, size: str, method: str,
                url: str, user: str, elapsed: str) -> None:
    if generic.is_ip(client):
        ev["source.ip"] = client
        ev["related.ip"] = [client]
    elif client != "-":
        ev["source.domain"] = client
    _put_result(ev, result, status)
    if size.isdigit() and len(size) <= 18:
        ev["http.response.bytes"] = int(size)
    if method != "-":
        ev["http.request.method"] = method
    if url != "-":
        _put_target(ev, method, url)
    if user != "-":
        ev["user.name"] = user
    if elapsed.isdigit() and len(elapsed) <= 12:
        ev["event.duration"] = int(elapsed) * 1_000_000


def _put_result(ev: Event, result: str, status: str) -> None:
    ev["squid.result_code"] = result
    ev["event.action"] = result.lower()
    code = int(status) if status.isdigit() else None
    if code:
        ev["http.response.status_code"] = code
    failed = "DENIED" in result or result.startswith(("ERR_", "NONE_ERROR")) or \
        (code is not None and code >= 400)
    ev["event.outcome"] = "failure" if failed else "success"
    if "DENIED" in result:
        ev["event.type"] = ["access", "denied"]


def _put_target(ev: Event, method: str, url: str) -> None:
    if method == "CONNECT" and "://" not in url:
        ev["url.original"] = url
        host, _, port = url.rpartition(":")
        ev["url.domain"] = host.strip("[]") if host else url
        generic.put_port(ev, "url.port", port)
        return
    put_url(ev, url)
    _extension(ev)


def _extension(ev: Event) -> None:
    path = ev.get("url.path")
    if isinstance(path, str):
        ext = _EXTENSION.search(path.rpartition("/")[2])
        if ext is not None:
            ev["url.extension"] = ext[1].lower()


def _put_hierarchy(ev: Event, hier: str, peer: str) -> None:
    ev["squid.hierarchy_code"] = hier
    if peer in ("-", ""):
        return
    if generic.is_ip(peer):
        ev["destination.ip"] = peer
        ev["related.ip"] = [*ev.get("related.ip", ()), peer]
    else:
        ev["destination.domain"] = peer


def refine_squid(ev: Event, program: str, tag: str, message: str) -> None:
    """A ``squid`` syslog line holding a native access line → ``squid.access`` fields; other
    squid messages (cache.log) keep their syslog fields."""
    try:
        fields = native_fields(message)
    except ParseError:
        return
    ts = ev["@timestamp"]
    ev.update(fields)
    ev["log.syslog.timestamp"] = ts  # the header's time; the line's own is @timestamp


REFINERS: dict[str, Refiner] = {"squid": refine_squid}
"""Program → refiner, for :data:`collectors.parsers.syslog.REFINERS`."""


class SquidParser:
    """Squid access log lines (native, native-like or common/combined with ``%Ss:%Sh``) →
    ``squid.access``. Before the web parsers, which would read the combined emulation as an
    Apache line."""

    name: ClassVar[str] = "squid"
    priority: ClassVar[int] = 29

    def sniff(self, text: str) -> bool:
        """An epoch time first (``1795482900.123``), or an NCSA line ending in a Squid result
        and hierarchy code."""
        if text[10:11] == "." and text[:10].isdigit():
            return True
        return "] \"" in text and (" TCP_" in text or ":HIER_" in text)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        line = text.strip()
        secs, dot, _ = line.partition(" ")[0].partition(".")
        if dot and secs.isascii() and secs.isdigit() and 9 <= len(secs) <= 11:
            return native_fields(line)
        return _emulated(line)


def _emulated(line: str) -> Event:
    tail = _SQUID_TAIL.search(line)
    groups = split_access(line[:tail.start()] if tail is not None else line)
    if groups is None:
        raise ParseError("not a Squid access line (native or common/combined)")
    _vhost, _port, client, user, when, request, status, size, referrer, agent, _xff = groups
    ev = _base(_ncsa_time(when))
    _put_common(ev, client, tail[1] if tail is not None else "NONE", status, size, "-", "-",
                user, "-")
    put_request(ev, request)
    _extension(ev)
    if referrer and referrer != "-":
        ev["http.request.referrer"] = referrer
    if agent and agent != "-":
        ev["user_agent.original"] = agent
    if tail is not None:
        ev["squid.hierarchy_code"] = tail[2]
    return ev


def _ncsa_time(when: str) -> str:
    """``24/Nov/2026:08:15:00 +0700`` (Squid's ``%tl``) → canonical."""
    day, _, rest = when.partition("/")
    mon, _, rest = rest.partition("/")
    month = MONTHS.get(mon)
    try:
        if month is None:
            raise ValueError(mon)
        dt = datetime.strptime(f"{day}/{month}/{_FRACTION.sub('', rest)}", "%d/%m/%Y:%H:%M:%S %z")
        return format_ts(dt)
    except (ValueError, OverflowError):
        raise ParseError(f"bad time {when[:40]!r}") from None
