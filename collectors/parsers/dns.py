"""DNS servers → ECS events: BIND's query log and Windows DNS Server's debug log.

* **BIND** (``named``): the ``queries`` category (``client @0x7f... 203.0.113.5#53124
  (example.com): query: example.com IN A +E(0)K (10.0.0.1)``, with or without the ``@0x``
  client object, a ``view name:``, the ``queries: info:`` category and severity) and the other
  lines that name a client (``query (cache) 'example.com/A/IN' denied``, ``zone transfer ...
  denied``, ``update ... denied``). In syslog (``named[123]: ...``) :data:`REFINERS` reads them;
  in BIND's own files (``24-Nov-2026 08:15:00.123 ...``, or ISO 8601 with ``print-time
  iso8601``) :class:`BindParser` does. Lines naming a client are ``bind.query``; the daemon's
  other lines are ``bind.log`` in its files and stay ``syslog`` in syslog. ``source.*`` is the
  client, ``destination.ip`` the server address the query came to, ``dns.header_flags`` from
  the flags (``+`` recursion desired, ``D`` DNSSEC OK, ``C`` checking disabled; ``T``: over
  TCP).
* **Windows DNS Server** debug log (``dns.log``, "Log packets for debugging"):
  :class:`WindowsDnsParser` → ``microsoft.dns``, following Elastic's microsoft_dnsserver field
  names. A packet's remote address is the client (``source.ip``) of a query it received or a
  response it sent, and the server (``destination.ip``) of a query it sent upstream or the
  response it got. The file's preamble (``DNS Server log file creation...``, the field legend)
  is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from collectors.parsers import generic
from soc.ecs import Event, format_ts
from soc.errors import ParseError, SkipRecord
from soc.pipeline.sources import ParseContext

Refiner = Callable[[Event, str, str, str], None]

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}

# --------------------------------------------------------------------------- BIND

_CATEGORY = re.compile(r"([a-z][a-z-]*): (?:(critical|error|warning|notice|info|debug \d+):"
                       r" )?")
_CLIENT = re.compile(r"client (?:@0x[0-9a-fA-F]+ )?([0-9A-Fa-f:.]+)#(\d{1,5})"
                     r"(?: \(([^)]*)\))?: (?:view ([^:]+): )?")
_QUERY = re.compile(r"query: (\S+) (\S+) (\S+) ([-+][A-Z()0-9]*)? ?\(([^)]*)\)")
_DENIED = re.compile(r"(query(?: \(cache\))?|zone transfer|update|notify|recursion|"
                     r"update forwarding)(?: '([^']*)')? denied")
_FAILED = re.compile(r"query failed \(([^)]*)\) for ([^/\s]+)/[^/\s]+/(\S+)")
_BIND_TIME = re.compile(r"(\d\d)-([A-Z][a-z]{2})-(\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? ")
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:?\d\d)?) ")
_FLAGS = {"+": "RD", "D": "DO", "C": "CD"}


def refine_named(ev: Event, program: str, tag: str, message: str) -> None:
    """A ``named`` syslog line that names a client → ``bind.query`` fields; the daemon's other
    lines (zone loads, start-up) stay ``syslog`` lines, as Linux rules expect them."""
    found: Event = {}
    if bind_fields(found, message):
        ev.update(found)
    else:
        generic.enrich(ev, message)


def bind_fields(ev: Event, message: str) -> bool:
    """What a BIND message (after the time) says, into ``ev``: ``bind.query`` fields and True
    for a line that names a client, ``bind.log`` and False for the others."""
    ev["event.module"] = "bind"
    ev["event.kind"] = "event"
    rest = message
    category = _CATEGORY.match(rest)
    if category is not None and category[1] != "client":
        ev["log.logger"] = category[1]
        if category[2]:
            ev["log.level"] = category[2]
        rest = rest[category.end():]
    client = _CLIENT.match(rest) if rest.startswith("client ") else None
    if client is None:
        ev["event.dataset"] = "bind.log"
        return False
    ev["event.dataset"] = "bind.query"
    ev["event.category"] = ["network"]
    ev["event.type"] = ["protocol"]
    ev["network.protocol"] = "dns"
    ip, port, _name, view = client.groups()
    if generic.is_ip(ip):
        ev["source.ip"] = ip
        ev["related.ip"] = [ip]
    generic.put_port(ev, "source.port", port)
    if view:
        ev["bind.view"] = view
    _bind_message(ev, rest[client.end():])
    return True


def _bind_message(ev: Event, text: str) -> None:
    query = _QUERY.match(text)
    if query is not None:
        qname, qclass, qtype, flags, server = query.groups()
        ev.update({"event.action": "query", "dns.type": "query", "dns.question.name": qname,
                   "dns.question.class": qclass, "dns.question.type": qtype})
        _bind_flags(ev, flags or "")
        if generic.is_ip(server):
            ev["destination.ip"] = server
            ev["related.ip"] = [*ev.get("related.ip", ()), server]
        return
    denied = _DENIED.search(text)
    if denied is not None:
        what, subject = denied.groups()
        parts = (subject or "").split("/")
        ev["event.action"] = f"{what.replace(' (cache)', '').replace(' ', '-')}-denied"
        ev["event.outcome"] = "failure"
        ev["event.type"] = ["protocol", "denied"]
        if parts[0]:
            ev["dns.question.name"] = parts[0]
        if len(parts) == 3:
            ev["dns.question.type"], ev["dns.question.class"] = parts[1], parts[2]
        ev["event.reason"] = text
        return
    failed = _FAILED.search(text)
    if failed is not None:
        ev.update({"event.action": "query-failed", "event.outcome": "failure",
                   "dns.response_code": failed[1], "dns.question.name": failed[2],
                   "dns.question.type": failed[3]})
    elif "transfer of '" in text:
        ev["event.action"] = "zone-transfer"
    ev["event.reason"] = text


def _bind_flags(ev: Event, flags: str) -> None:
    header = [_FLAGS[c] for c in flags if c in _FLAGS]
    if header:
        ev["dns.header_flags"] = header
    ev["network.transport"] = "tcp" if "T" in flags[1:] else "udp"
    if flags:
        ev["bind.flags"] = flags


REFINERS: dict[str, Refiner] = {"named": refine_named}
"""Program → refiner, for :data:`collectors.parsers.syslog.REFINERS`."""


class BindParser:
    """BIND log files (``24-Nov-2026 08:15:00.123 [category: severity: ]message``, or an ISO
    8601 time) → ``bind.query``/``bind.log``; times without a zone are local (``ctx.tz``)."""

    name: ClassVar[str] = "bind"
    priority: ClassVar[int] = 17

    def sniff(self, text: str) -> bool:
        """``dd-Mon-yyyy`` first, or a client's ``query:``."""
        if text[2:3] == "-" and text[6:7] == "-" and text[:2].isdigit():
            return True
        return "client " in text and ("): query: " in text or "' denied" in text)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        line = text.rstrip("\r\n")
        m = _BIND_TIME.match(line)
        if m is not None:
            ev: Event = {"@timestamp": _bind_time(m, ctx)}
        elif (iso := _ISO_TIME.match(line)) is not None:
            ev = {"@timestamp": _iso(iso[1], ctx)}
            m = iso
        else:
            raise ParseError("no BIND time (dd-Mon-yyyy HH:MM:SS.mmm or ISO 8601) first")
        bind_fields(ev, line[m.end():])
        return ev


def _bind_time(m: re.Match[str], ctx: ParseContext) -> str:
    day, mon, year, hh, mi, ss, frac = m.groups()
    month = MONTHS.get(mon)
    if month is None:
        raise ParseError(f"unknown month {mon!r}")
    micro = int((frac + "00000")[:6]) if frac else 0
    try:
        dt = datetime(int(year), month, int(day), int(hh), int(mi), int(ss), micro,
                      tzinfo=ctx.tz)
        return format_ts(dt)
    except (ValueError, OverflowError):
        raise ParseError(f"no such time: {m[0].strip()}") from None


def _iso(value: str, ctx: ParseContext) -> str:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=ctx.tz))
    except (ValueError, OverflowError):
        raise ParseError(f"bad time {value[:40]!r}") from None


# --------------------------------------------------------------------------- Windows DNS

_WINDNS = re.compile(r"(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4}) (\d{1,2}):(\d\d):(\d\d)"
                     r"(?: ?([AaPp][Mm]|SA|CH))? +([0-9A-Fa-f]{1,8}) (\w+)\s+(.*)")
_PACKET = re.compile(r"([0-9A-Fa-f]+) +(UDP|TCP) +(Rcv|Snd) +([0-9A-Fa-f:.]+) +([0-9A-Fa-f]+)"
                     r" ([R ]) (\S) \[([0-9A-Fa-f]{1,4}) +([A-Z ]*?) *([A-Z]+)\] +(\S+) +(.*)")
_LABEL = re.compile(r"\(\d+\)")
_WIN_FLAGS = {"A": "AA", "T": "TC", "D": "RD", "R": "RA"}
_OPCODES = {"Q": "QUERY", "N": "NOTIFY", "U": "UPDATE", "?": "UNKNOWN"}
_PREAMBLE = ("DNS Server log file creation", "Log file wrap", "Message logging key",
             "DNS Server log")


class WindowsDnsParser:
    """Windows DNS Server debug log lines → ``microsoft.dns``.

    Dates are written in the server's locale: ``M/D/YYYY h:mm:ss AM`` (en-US) is assumed unless
    the first number cannot be a month (``24/11/2026``: day first) or the year comes first;
    ``SA``/``CH`` are Vietnamese AM/PM. Times are local (``ctx.tz``). The log's preamble and the
    indented detail lines of "details" logging raise :class:`SkipRecord`.
    """

    name: ClassVar[str] = "microsoft_dns"
    priority: ClassVar[int] = 17
    markers: ClassVar[tuple[str, ...]] = (" PACKET ", *_PREAMBLE)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """`` PACKET `` appears, or the log's first lines."""
        return " PACKET " in text or text.startswith(_PREAMBLE)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`SkipRecord` for the preamble."""
        line = text.rstrip("\r\n")
        if not line.strip() or line[:1] in " \t" or line.startswith(_PREAMBLE):
            raise SkipRecord("Windows DNS debug log preamble or detail line (not an event)")
        m = _WINDNS.match(line)
        if m is None:
            raise ParseError("not a Windows DNS debug log line")
        *stamp, thread, context, rest = m.groups()
        ev: Event = {"@timestamp": _win_time(stamp, ctx), "event.dataset": "microsoft.dns",
                     "event.module": "microsoft", "event.kind": "event",
                     "event.category": ["network"], "observer.vendor": "Microsoft",
                     "observer.product": "DNS Server", "observer.type": "dns",
                     "process.thread.id": int(thread, 16)}
        if context == "PACKET":
            _packet(ev, rest)
        else:
            ev["event.action"] = context.lower()
            ev["message"] = rest
        return ev


def _win_time(stamp: list[str], ctx: ParseContext) -> str:
    a, b, c, hh, mi, ss, half = stamp
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    else:
        year = int(c) + (2000 if len(c) <= 2 else 0)
        month, day = (int(b), int(a)) if int(a) > 12 else (int(a), int(b))
    hour = int(hh)
    if half and half.upper() in ("PM", "CH") and hour < 12:
        hour += 12
    elif half and half.upper() in ("AM", "SA") and hour == 12:
        hour = 0
    try:
        return format_ts(datetime(year, month, day, hour, int(mi), int(ss), tzinfo=ctx.tz))
    except (ValueError, OverflowError):
        raise ParseError(f"no such date or time: {'/'.join(stamp[:3])} {hh}:{mi}:{ss}") \
            from None


def _packet(ev: Event, rest: str) -> None:
    m = _PACKET.match(rest)
    if m is None:
        ev["event.action"] = "packet"
        ev["message"] = rest
        return
    (_, proto, way, remote, xid, qr, opcode, _hex, flags, rcode, qtype, qname) = m.groups()
    response = qr == "R"
    ev.update({"event.action": "response" if response else "query",
               "event.type": ["protocol"], "network.protocol": "dns",
               "network.transport": proto.lower(),
               "network.direction": "ingress" if way == "Rcv" else "egress",
               "dns.type": "answer" if response else "query", "dns.id": xid,
               "dns.op_code": _OPCODES.get(opcode, opcode), "dns.response_code": rcode,
               "dns.question.type": qtype, "dns.question.name": _qname(qname)})
    header = [_WIN_FLAGS[c] for c in flags if c in _WIN_FLAGS]
    if header:
        ev["dns.header_flags"] = header
    if generic.is_ip(remote):
        # The remote end is the client when it asked (Rcv Q) or is answered (Snd R).
        client = (way == "Rcv") != response
        ev["source.ip" if client else "destination.ip"] = remote
        ev["client.ip" if client else "server.ip"] = remote
        ev["related.ip"] = [remote]


def _qname(raw: str) -> str:
    """``(7)example(3)com(0)`` or ``.example.com.`` → ``example.com``."""
    return _LABEL.sub(".", raw.strip()).strip(".")
