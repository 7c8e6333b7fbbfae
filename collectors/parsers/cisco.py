"""Cisco devices → ECS events: the ASA family's ``%ASA-6-302013:`` messages (ASA, Firepower Threat
Defense, PIX, FWSM: datasets ``cisco.asa`` and ``cisco.ftd``) and IOS's
``%SEC_LOGIN-5-LOGIN_SUCCESS:`` messages (IOS, IOS XE, IOS XR: ``cisco.ios``).

**Headers.** What comes before the message id may be a relay's syslog header (RFC 3164, RFC 5424,
ISO; read by :func:`collectors.parsers.syslog.parse_header`), the device's own (ASA ``Nov 24 2026
08:15:00 asa01 : ``, FTD ``2019-08-15T16:03:31Z firepower``, EMBLEM ``<166>4711: Nov 24 2026
08:15:00 UTC: ``, IOS ``<189>45: rtr1: *Nov 24 08:15:00.123 ICT: `` or an uptime ``00:01:02:``,
IOS XR ``RP/0/RSP0/CPU0:Nov 24 08:15:00.123 : tcp[396]: ``), both, a PRI alone, or nothing:
the time is the first header's (local in ``ctx.tz`` unless it names UTC/GMT or an offset), else
``ctx.now``; ``observer.name`` is the device's own name when it writes one, else the header's
host. Any other text before the id is a :class:`ParseError`.

**Messages.** The id picks the entry of the catalogue (:mod:`.cisco_asa_messages`,
:mod:`.cisco_ios`; the template language is :mod:`.cisco_catalog`), FTD's security events are
``Key: Value`` lists (:mod:`.cisco_ftd`), and a message the catalogue does not know is still an
event with ``event.code``, ``event.severity``, ``log.level`` and ``message``, plus whatever the
idioms most messages share give (``Group <g> User <u> IP <ip>``, ``from if:ip/port to
if:ip/port``).
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from typing import ClassVar

from collectors.parsers import cisco_ftd, cisco_ios
from collectors.parsers.cisco_asa_messages import ASA, GENERIC, GENERIC_PAIRS
from collectors.parsers.cisco_catalog import (
    Message,
    categorise,
    drop_untranslated,
    ip_version,
    put_groups,
    settle_peer,
    settle_user,
    swap_ends,
)
from collectors.parsers.network import SEVERITY, firewall_event, put_syslog
from collectors.parsers.syslog import parse_header
from soc.ecs import Event, format_ts, parse_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

_ASA_ID = re.compile(r"%(ASA|FTD|PIX|FWSM)-(?:[A-Za-z_]*-)?([0-7])-(\d{6})(?: ?: ?| |$)")
_IOS_ID = re.compile(r"%([A-Z][A-Z0-9_]*(?:-[A-Z][A-Z0-9_]*)*)-([0-7])-([A-Z][A-Z0-9_]*) ?: ?")
_PRODUCTS = {"ASA": "asa", "FTD": "ftd", "PIX": "pix", "FWSM": "fwsm"}

_STAMP = (r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) |\d{4} )?[A-Z][a-z]{2} +\d{1,2}(?: \d{4})? "
          r"\d\d:\d\d:\d\d(?:\.\d{1,6})?"
          r"(?: (?:[A-Z]{2,5}|utc|gmt|[a-z]{2,3}t)(?:[+-]\d{1,2}(?::?\d\d)?)?)?")
_UPTIME = r"(?:\d+[ywdh])+(?:\d+[dhm])*|\d+:\d\d:\d\d(?:\.\d+)?"
_HOST = r"[A-Za-z0-9][\w.-]*"
# What may stand between a relay's header (or the PRI) and the message id: a sequence number
# (EMBLEM: "<166>:"), then the device's own stamp and name (ASA: "Nov 24 2026 08:15:00 asa01 : "),
# or its name alone ("<166>ftd01 %FTD-..."), or IOS's origin
# id, sequence, IOS XR node, stamp (``*`` or ``.``: clock not in sync) or uptime, and IOS XR's
# process.
_TAIL = re.compile(
    r"(?:\d{1,10}: )?(?:: ?)?"
    r"(?:[*.]?(?P<stamp>" + _STAMP + r")(?: (?P<host>" + _HOST + r"))? ?:? ?"
    r"|(?:(?P<host2>" + _HOST + r") ?:? )?(?:\d{1,10}: )?(?:[\w/]+:)?[*.]?"
    r"(?:(?P<stamp2>" + _STAMP + r")|" + _UPTIME + r")?[ :]*)"
    r"(?:[\w-]+\[\d+\]: ?)?")
_ZONE = re.compile(r"[A-Z]{2,5}")
_DAYS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
_UTC_NAMES = frozenset(("UTC", "GMT", "UT"))


class CiscoAsaParser:
    """Cisco ASA, FTD, PIX and FWSM messages → ``cisco.asa`` (``cisco.ftd`` for FTD), with
    ``observer.product`` ``asa``/``ftd``/``pix``/``fwsm``. See the module's docstring."""

    name: ClassVar[str] = "cisco_asa"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = ("%ASA-", "%FTD-", "%PIX-", "%FWSM-")

    def sniff(self, text: str) -> bool:
        """``%ASA-``, ``%FTD-``, ``%PIX-`` or ``%FWSM-`` appears (a ``%`` first: most lines
        have none)."""
        return "%" in text and ("%ASA-" in text or "%FTD-" in text or "%PIX-" in text
                                or "%FWSM-" in text)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One message → event; :class:`ParseError` otherwise."""
        text = text.rstrip("\r\n")
        m = _ASA_ID.search(text)
        if m is None:
            raise ParseError("no %ASA-n-nnnnnn: message id (nor %FTD-, %PIX-, %FWSM-)")
        product, level, mid = m.groups()
        ts, device, head = read_header(text, m.start(), ctx)
        dataset = "cisco.ftd" if product == "FTD" else "cisco.asa"
        ev = firewall_event(ts, dataset, "Cisco", _PRODUCTS[product])
        ev["event.module"] = "cisco"
        if device:
            ev["observer.name"] = device
        put_syslog(ev, head)
        message = text[m.end():].rstrip()
        ev.update({"event.code": mid, "event.severity": int(level),
                   "log.level": SEVERITY[int(level)], f"{dataset}.message_id": mid,
                   "message": message})
        if mid in cisco_ftd.SECURITY_EVENTS:
            cisco_ftd.decode(ev, mid, message)
        else:
            decode(ev, dataset, ASA.get(mid), message, asa=True, key=mid)
        return ev


class CiscoIosParser:
    """Cisco IOS, IOS XE and IOS XR messages (``%FACILITY-SEVERITY-MNEMONIC: text``) →
    ``cisco.ios``: ``event.code`` the mnemonic, ``cisco.ios.facility``, ``event.severity``,
    ``log.level``, ``message``, and the fields of :data:`.cisco_ios.IOS`'s messages."""

    name: ClassVar[str] = "cisco_ios"
    priority: ClassVar[int] = 14
    markers: ClassVar[tuple[str, ...]] = ("%",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """A ``%FACILITY-n-MNEMONIC:`` at one of the first three ``%`` of the line."""
        pos = text.find("%")
        for _ in range(3):
            if pos < 0:
                return False
            if _IOS_ID.match(text, pos) is not None:
                return True
            pos = text.find("%", pos + 1)
        return False

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One message → event; :class:`ParseError` otherwise."""
        text = text.rstrip("\r\n")
        m = _IOS_ID.search(text)
        if m is None:
            raise ParseError("no %FACILITY-n-MNEMONIC: message id")
        facility, level, mnemonic = m.groups()
        ts, device, head = read_header(text, m.start(), ctx)
        ev: Event = {"@timestamp": ts, "event.dataset": "cisco.ios", "event.module": "cisco",
                     "event.kind": "event", "event.category": ["network"], "event.type": ["info"],
                     "observer.vendor": "Cisco", "observer.product": "IOS"}
        if device:
            ev["observer.name"] = device
        put_syslog(ev, head)
        ev.update({"event.code": mnemonic, "event.severity": int(level),
                   "log.level": SEVERITY[int(level)], "cisco.ios.facility": facility,
                   "message": text[m.end():].rstrip()})
        key, spec, text = cisco_ios.lookup(facility, mnemonic, ev["message"][:MAX_READ])
        decode(ev, "cisco.ios", spec, text, asa=False, key=key)
        cisco_ios.refine(ev, key)
        return ev


MAX_READ = 4096
"""Templates read the first 4 KiB of a message (Cisco's are far shorter): a template's lazy
gap before a word (``.*? by access-group``) would take quadratic time on a hostile run of
spaces a megabyte long."""


def decode(ev: Event, ns: str, spec: Message | None, text: str, asa: bool,
           key: str = "") -> None:
    """The fields of one message: its entry's first matching template, else the VPN objects
    many messages begin with (ASA family), else ``from ... to ...`` when its address is an IP;
    then the entry's meaning, the swap of ``outbound`` ends, and ``user.name``."""
    text = text[:MAX_READ]
    m = None
    if spec is not None:
        ev.update(spec.const)
        m = next((found for p in spec.patterns if (found := p.match(text)) is not None), None)
    if m is None and asa:
        m = next((found for p in GENERIC if (found := p.match(text)) is not None), None)
    if m is None:
        m = _generic_pair(text)
    if m is not None:
        put_groups(ev, ns, m)
        drop_untranslated(ev)
    if spec is not None:
        categorise(ev, spec.kind, spec.action)
        if spec.title is not None and "rule.name" not in ev:
            ev["rule.name"] = spec.title
            ev.setdefault("rule.id", key)
        if spec.swap and ev.get("network.direction") == "outbound":
            swap_ends(ev)  # the device named the outside (foreign) end first
    else:
        categorise(ev, None, None)
    settle_peer(ev)
    settle_user(ev)


def _generic_pair(text: str) -> re.Match[str] | None:
    """The first ``from``/``for``/``src`` ... ``to``/``dst`` idiom (else a lone ``from``) whose
    source is an IP address; at most a few tries per pattern."""
    for pattern in GENERIC_PAIRS:
        pos = 0
        for _ in range(4):
            found = pattern.search(text, pos)
            if found is None:
                break
            if ip_version(found["src"]):
                return found
            pos = found.start() + 1
    return None


def read_header(text: str, start: int, ctx: ParseContext) -> tuple[str, str | None, Event]:
    """``(@timestamp, device name, header fields)`` of ``text[:start]``, the text before the
    message id (see the module's docstring)."""
    if start == 0:
        return format_ts(ctx.now), None, {}
    head, rest = parse_header(text, ctx)
    consumed = len(text) - len(rest)
    own = None
    if consumed < start:
        tail = _TAIL.fullmatch(text, consumed, start)
        if tail is None:
            raise ParseError(f"unrecognised header before the message id: "
                             f"{text[:min(start, 80)]!r}")
        own = tail["host"] or tail["host2"]
        stamp = tail["stamp"] or tail["stamp2"]
        if stamp and "@timestamp" not in head:
            head["@timestamp"] = _own_time(stamp, ctx)
    tag = head.get("log.syslog.appname")
    if isinstance(tag, str) and _ZONE.fullmatch(tag):
        if tag in _UTC_NAMES and "@timestamp" in head:  # "Nov 01 16:42:22 UTC: %FTD-...":
            head["@timestamp"] = _as_utc(str(head["@timestamp"]), ctx)  # read as local
        tag = None
    elif isinstance(tag, str) and (tag.startswith("%") or tag.isdecimal() or "/" in tag):
        tag = None
    device = own or tag or head.get("host.name")
    return str(head.get("@timestamp") or format_ts(ctx.now)), device, head


def _own_time(stamp: str, ctx: ParseContext) -> str:
    """The device's own stamp (``*Mon Nov 24 08:15:00.123 ICT``, ``2024 Nov 24 08:15:00 UTC``)
    → canonical UTC."""
    parts = stamp.split()
    if parts[0] in _DAYS:
        parts = parts[1:]
    elif parts[0].isdecimal():  # FXOS: "2024 Aug 07 10:29:42 UTC"
        parts = [parts[1], parts[2], parts[0], *parts[3:]]
    zone = parts.pop() if parts[-1][:1].isalpha() else None
    head, _ = parse_header(" ".join(parts), ctx)
    if "@timestamp" not in head:
        raise ParseError(f"bad timestamp {stamp[:40]!r} before the message id")
    ts = str(head["@timestamp"])
    offset = _zone_offset(zone)
    return ts if offset is None else _as_utc(ts, ctx, offset)


_UTC_OFFSET = re.compile(r"(?:UTC|GMT|UT)(?:([+-])(\d{1,2})(?::?(\d\d))?)?", re.IGNORECASE)


def _zone_offset(zone: str | None) -> timedelta | None:
    """``UTC``, ``GMT``, ``UTC+7``, ``UTC-03:30`` → their offset; other names (``ICT``, ``CEST``:
    ambiguous) → None, the configured zone applies."""
    m = _UTC_OFFSET.fullmatch(zone or "")
    if m is None:
        return None
    minutes = int(m[2] or 0) * 60 + int(m[3] or 0)
    return timedelta(minutes=-minutes if m[1] == "-" else minutes)


def _as_utc(ts: str, ctx: ParseContext, offset: timedelta = timedelta(0)) -> str:
    """A time that was read as local in ``ctx.tz`` but was at ``offset`` from UTC."""
    local = parse_ts(ts).astimezone(ctx.tz).replace(tzinfo=timezone(offset))
    return format_ts(local)
