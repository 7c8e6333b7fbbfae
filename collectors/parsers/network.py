"""Firewall logs → ECS events: FortiGate key=value, netfilter/iptables kernel lines (pfSense
``filterlog``: :mod:`.pfsense`; Cisco ASA/FTD/PIX and IOS: :mod:`.cisco`).

Lines usually arrive in syslog framing (from ``soc listen`` or an rsyslog file); the syslog
header is read by :func:`collectors.parsers.syslog.parse_header`, never here, and its PRI becomes
``log.syslog.priority``/``.facility.*``/``.severity.*``. FortiGate lines carry no program tag: the
key=value payload starts at the first ``date=``/``logver=``... after the header (``devname`` names
the device).

Conventions shared by every firewall dataset: ``observer.vendor``/``.product``/``.type`` and
``observer.name`` (the device), ``source.*``/``destination.*``, ``network.transport`` (lower
case), ``event.action`` (the device's verdict word), ``event.type`` ``allowed``/``denied`` and
``event.outcome`` ``success`` for what passed, ``failure`` for what was denied.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

from collectors.parsers.syslog import parse_header
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

IANA = {"1": "icmp", "2": "igmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp",
        "51": "ah", "58": "ipv6-icmp", "89": "ospf", "132": "sctp"}
DENIED = frozenset(("deny", "denied", "block", "blocked", "drop", "dropped", "reject",
                    "reset", "close-deny", "server-rst", "client-rst"))
ALLOWED = frozenset(("accept", "accepted", "allow", "allowed", "pass", "permit", "permitted",
                     "close", "timeout", "start", "passthrough", "ip-conn"))


def firewall_event(ts: str, dataset: str, vendor: str, product: str) -> Event:
    """The fields every firewall event starts with."""
    return {
        "@timestamp": ts, "event.dataset": dataset, "event.module": dataset.split(".", 1)[0],
        "event.kind": "event", "event.category": ["network"], "observer.vendor": vendor,
        "observer.product": product, "observer.type": "firewall",
    }


def put_verdict(ev: Event, action: str, kind: str = "connection") -> None:
    """``event.action`` as the device says it, and ``event.type``/``event.outcome`` from it."""
    ev["event.action"] = action
    verdict = action.lower()
    if verdict in DENIED:
        ev["event.type"] = [kind, "denied"]
        ev["event.outcome"] = "failure"
    elif verdict in ALLOWED:
        ev["event.type"] = [kind, "allowed"]
        ev["event.outcome"] = "success"
    else:
        ev["event.type"] = [kind]


_PRI_KEYS = ("log.syslog.priority", "log.syslog.facility.code", "log.syslog.facility.name",
             "log.syslog.severity.code", "log.syslog.severity.name")


def put_syslog(ev: Event, head: Event) -> None:
    """The PRI fields (``log.syslog.priority``, ``.facility.*``, ``.severity.*``) of a header read
    by :func:`~collectors.parsers.syslog.parse_header`, when it had a PRI."""
    if "log.syslog.priority" in head:
        for key in _PRI_KEYS:
            ev[key] = head[key]


SEVERITY = ("emergency", "alert", "critical", "error", "warning", "notice", "informational",
            "debug")
"""``log.level`` of a syslog severity (0-7), as Cisco and SonicWall number them."""


def put_port(ev: Event, key: str, value: str | None) -> None:
    # isdecimal: int() refuses some isdigit() characters (²); 18 digits: int() refuses
    # more than 4300, and no port has more than 5
    if value and value.isdecimal() and len(value) <= 18:
        ev[key] = int(value)


# --------------------------------------------------------------------------- FortiGate

_FGT_START = re.compile(r"(?:^|(?<=\s))(?:date|logver|devname|eventtime|itime)=")
# A key starts a word: tried inside a long word, each start would rescan it (quadratic time).
_FGT_KV = re.compile(r'(?<!\w)(\w++)=(?:"([^"\\]*+(?:\\.[^"\\]*+)*+)"|(\S*+))')
_FGT_FIELDS: dict[str, tuple[str, type[int] | None]] = {
    "srcip": ("source.ip", None), "srcport": ("source.port", int),
    "dstip": ("destination.ip", None), "dstport": ("destination.port", int),
    "srcintf": ("observer.ingress.interface.name", None),
    "dstintf": ("observer.egress.interface.name", None),
    "devname": ("observer.name", None), "devid": ("observer.serial_number", None),
    "policyid": ("rule.id", None), "policyname": ("rule.name", None),
    "sentbyte": ("source.bytes", int), "rcvdbyte": ("destination.bytes", int),
    "sentpkt": ("source.packets", int), "rcvdpkt": ("destination.packets", int),
    "user": ("user.name", None), "srcuser": ("user.name", None),
    "hostname": ("url.domain", None), "url": ("url.original", None), "msg": ("message", None),
    "level": ("log.level", None), "logid": ("event.code", None),
    "remip": ("source.ip", None), "transip": ("source.nat.ip", None),
    "transport": ("source.nat.port", int), "srccountry": ("source.geo.country_name", None),
    "dstcountry": ("destination.geo.country_name", None), "qname": ("dns.question.name", None),
    "qtype": ("dns.question.type", None), "attack": ("rule.name", None),
    "attackid": ("rule.id", None), "sessionid": ("network.session_id", None),
}
_FGT_DATASETS = {"traffic": "fortigate.traffic", "event": "fortigate.event"}
# A service name FortiGate uses → ECS network.protocol (lower case); others pass lower-cased.
_FGT_SKIP = frozenset(("date", "time", "tz", "type", "action", "proto", "service", "status",
                       "eventtime"))


class FortiGateParser:
    """FortiGate key=value logs (raw, or after a syslog header) → ``fortigate.traffic``,
    ``fortigate.event`` or ``fortigate.utm`` (every other type). Time: ``date`` + ``time`` in
    the ``tz`` field's offset when there is one, else ``ctx.tz``. Keys without an ECS home stay
    under ``fortinet.firewall.*``."""

    name: ClassVar[str] = "fortigate"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = ("devid=",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """``logid=``, ``type=`` and ``devid=`` all present."""
        return "logid=" in text and "devid=" in text and "type=" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One log line → event; :class:`ParseError` otherwise."""
        head, rest = parse_header(text, ctx)
        start = _FGT_START.search(rest)
        if start is None:
            raise ParseError("not a FortiGate log (no date=, logver= or devname=)")
        kv = {m[1]: _unescape(m[2]) if m[2] is not None else m[3]
              for m in _FGT_KV.finditer(rest, start.start())}
        kind = kv.get("type")
        if not kind or "date" not in kv or "time" not in kv:
            raise ParseError("FortiGate log without type, date or time")
        ev = firewall_event(_fgt_time(kv, ctx), _FGT_DATASETS.get(kind, "fortigate.utm"),
                            "Fortinet", "FortiGate")
        ev["event.module"] = "fortinet"
        put_syslog(ev, head)
        _fgt_fields(ev, kv)
        return ev


def _unescape(quoted: str) -> str:
    return quoted.replace('\\"', '"') if "\\" in quoted else quoted


def _fgt_time(kv: dict[str, str], ctx: ParseContext) -> str:
    try:
        local = datetime.fromisoformat(f"{kv['date']}T{kv['time']}{kv.get('tz', '')}")
        return format_ts(local if local.tzinfo else local.replace(tzinfo=ctx.tz))
    except (ValueError, OverflowError):  # overflow: before year 1 or after 9999 in UTC
        raise ParseError(f"bad FortiGate date/time {kv['date']} {kv['time']}") from None


def _fgt_fields(ev: Event, kv: dict[str, str]) -> None:
    for key, value in kv.items():
        mapped = _FGT_FIELDS.get(key)
        if mapped is not None:
            if value and value != "N/A":
                target, convert = mapped
                try:
                    ev[target] = convert(value) if convert else value
                except ValueError:
                    ev[f"fortinet.firewall.{key}"] = value
        elif key not in _FGT_SKIP:
            ev[f"fortinet.firewall.{key}"] = value
    ev["fortinet.firewall.type"] = kv["type"]
    proto = kv.get("proto")
    if proto:
        ev["network.iana_number"] = proto
        ev["network.transport"] = IANA.get(proto, proto)
    if kv.get("service"):
        ev["network.protocol"] = kv["service"].lower()
    action = kv.get("action")
    if action:
        put_verdict(ev, action)
    status = kv.get("status")
    if status:
        ev["fortinet.firewall.status"] = status
        if status.lower() in ("success", "failure"):
            ev["event.outcome"] = status.lower()


# --------------------------------------------------------------------------- netfilter

_UPTIME = re.compile(r"\[ *\d+\.\d+\] ")
_NF_FIELDS = {"IN": "observer.ingress.interface.name", "OUT": "observer.egress.interface.name",
              "SRC": "source.ip", "DST": "destination.ip", "MAC": "iptables.mac"}
_NF_VERDICTS = re.compile(r"(?i)\b(drop|reject|block|deny|accept|allow)")


class IptablesParser:
    """Linux netfilter LOG target lines (kernel messages: ``IN= OUT= SRC= DST= ... PROTO= SPT=
    DPT=``) in syslog framing → ``iptables.log``. The LOG prefix (``IPTABLES-DROP:``, ``[UFW
    BLOCK]``) becomes ``rule.name`` and, when it says drop/reject/accept..., ``event.action``."""

    name: ClassVar[str] = "iptables"
    priority: ClassVar[int] = 13
    markers: ClassVar[tuple[str, ...]] = (" SRC=",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """``IN=``, `` SRC=`` and `` DST=`` all present."""
        return " SRC=" in text and " DST=" in text and "IN=" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        head, msg = parse_header(text.rstrip("\r\n"), ctx)
        if "@timestamp" not in head:
            raise ParseError("not a netfilter log line (no syslog header)")
        cut = msg.find("IN=")
        if cut < 0 or " SRC=" not in msg:
            raise ParseError("not a netfilter log line (no IN= and SRC=)")
        ev = firewall_event(head["@timestamp"], "iptables.log", "Linux", "netfilter")
        if "host.name" in head:
            ev["observer.name"] = head["host.name"]
        put_syslog(ev, head)
        prefix = _UPTIME.sub("", msg[:cut]).strip().rstrip(":")
        if prefix:
            ev["rule.name"] = prefix
            verdict = _NF_VERDICTS.search(prefix)
            if verdict is not None:
                put_verdict(ev, verdict[1].lower())
        _netfilter(ev, msg[cut:])
        return ev


_NF_KEY = re.compile(r"\w+")


def _netfilter(ev: Event, body: str) -> None:
    flags = []
    for token in body.split():
        key, eq, value = token.partition("=")
        if not eq or not _NF_KEY.fullmatch(key):  # "=1", ".=x": no field name
            flags.append(token)
        elif not value:
            continue
        elif key in _NF_FIELDS:
            ev[_NF_FIELDS[key]] = value
        elif key == "PROTO":
            ev["network.transport"] = value.lower()
        elif key in ("SPT", "DPT"):
            put_port(ev, "source.port" if key == "SPT" else "destination.port", value)
        else:
            ev[f"iptables.{key.lower()}"] = value
    if flags:
        ev["iptables.flags"] = flags
