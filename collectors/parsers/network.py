"""Firewall logs → ECS events: FortiGate key=value, Cisco ASA/FTD ``%ASA-n-nnnnnn``, pfSense
``filterlog``, netfilter/iptables kernel lines.

Lines usually arrive in syslog framing (from ``soc listen`` or an rsyslog file); the syslog
header is read by :func:`collectors.parsers.syslog.parse_header`, never here, and its PRI becomes
``log.syslog.priority``/``.facility.*``/``.severity.*``. FortiGate lines carry no program tag: the
key=value payload starts at the first ``date=``/``logver=``... after the header (``devname`` names
the device). ASA headers may be the device's own (``Nov 24 2026 08:15:00 asa : ``, with a year).

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


# --------------------------------------------------------------------------- pfSense

_V4 = ("tos", "ecn", "ttl", "id", "offset", "flags", "protoid", "proto", "length", "src", "dst")
_V6 = ("class", "flowlabel", "hoplimit", "proto", "protoid", "length", "src", "dst")


class PfSenseParser:
    """pfSense ``filterlog`` CSV (BSD or RFC 5424 syslog framing) → ``pfsense.filterlog``."""

    name: ClassVar[str] = "pfsense"
    priority: ClassVar[int] = 12

    def sniff(self, text: str) -> bool:
        """The ``filterlog`` program name appears."""
        return "filterlog" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        head, message = parse_header(text.rstrip("\r\n"), ctx)
        if head.get("process.name") != "filterlog" or "@timestamp" not in head:
            raise ParseError("not a pfSense filterlog line")
        cols = message.split(",")
        if len(cols) < 9 or cols[8] not in ("4", "6"):
            raise ParseError("filterlog CSV too short or of an unknown IP version")
        ev = firewall_event(head["@timestamp"], "pfsense.filterlog", "Netgate", "pfSense")
        if "host.name" in head:
            ev["observer.name"] = head["host.name"]
        put_syslog(ev, head)
        _filterlog(ev, cols)
        return ev


def _filterlog(ev: Event, cols: list[str]) -> None:
    rule, _sub, _anchor, tracker, iface, reason, action, direction, version = cols[:9]
    names = _V4 if version == "4" else _V6
    ip = dict(zip(names, cols[9:9 + len(names)], strict=False))
    ev["rule.id"] = tracker or rule
    ev["pfsense.rule_number"] = rule
    ev["event.reason"] = reason
    ingress = direction == "in"
    ev["network.direction"] = "ingress" if ingress else "egress"
    ev[f"observer.{'ingress' if ingress else 'egress'}.interface.name"] = iface
    ev["network.type"] = f"ipv{version}"
    put_verdict(ev, action)
    proto = ip.get("proto", "").lower()
    if proto:
        ev["network.transport"] = proto
        ev["network.iana_number"] = ip.get("protoid", "")
    if ip.get("src"):
        ev["source.ip"] = ip["src"]
    if ip.get("dst"):
        ev["destination.ip"] = ip["dst"]
    rest = cols[9 + len(names):]
    if proto in ("tcp", "udp") and len(rest) >= 2:
        put_port(ev, "source.port", rest[0])
        put_port(ev, "destination.port", rest[1])
        if proto == "tcp" and len(rest) > 3 and rest[3]:
            ev["pfsense.tcp.flags"] = rest[3]


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


# --------------------------------------------------------------------------- Cisco ASA / FTD

_ASA = re.compile(r"%(ASA|FTD|PIX|FWSM)-(?:[a-z]+-)?([0-7])-(\d{6}): ?")
SEVERITY = ("emergency", "alert", "critical", "error", "warning", "notice", "informational",
            "debug")

_IF_IP_PORT = r"(?P<{0}_if>[^:\s]+):(?P<{0}_ip>[^/\s]+)/(?P<{0}_port>\d+)"
_SRC, _DST = _IF_IP_PORT.format("src"), _IF_IP_PORT.format("dst")
_FLOW = r"from (?P<src_ip>[^/\s]+)/(?P<src_port>\d+) to (?P<dst_ip>[^/\s]+)/(?P<dst_port>\d+)"
_VPN = r"Group <(?P<group>[^>]*)> User <(?P<user>[^>]*)> IP <(?P<src_ip>[^>]*)> "
_ACL_HALF = r"(?P<{0}_if>[^/\s]+)/(?P<{0}_ip>[^(\s]+)\((?P<{0}_port>\d+)\)(?:\([^)]*\))?"
_ASA_SPECS: dict[str, tuple[str, str, str | None]] = {
    # id: (pattern, event.action, verdict for event.type/outcome: "deny", "permit" or None)
    "106001": (r"Inbound (?P<proto>\w+) connection denied " + _FLOW
               + r" flags .*?on interface (?P<src_if>\S+)", "firewall-rule", "deny"),
    "106006": (r"Deny inbound (?P<proto>\w+) " + _FLOW + r" .*?on interface (?P<src_if>\S+)",
               "firewall-rule", "deny"),
    "106015": (r"Deny (?P<proto>\w+) \(no connection\) " + _FLOW
               + r" flags .*?on interface (?P<src_if>\S+)", "firewall-rule", "deny"),
    "106023": (r"Deny (?P<proto>\S+) src (?P<src_if>[^:\s]+):(?P<src_ip>[^/\s]+)"
               r"(?:/(?P<src_port>\d+))? dst (?P<dst_if>[^:\s]+):(?P<dst_ip>[^/\s]+)"
               r"(?:/(?P<dst_port>\d+))? .*?by access-group \"(?P<acl>[^\"]*)\"",
               "firewall-rule", "deny"),
    "106100": (r"access-list (?P<acl>\S+) (?P<verdict>\S+) (?P<proto>\w+) "
               + _ACL_HALF.format("src") + " -> " + _ACL_HALF.format("dst"),
               "firewall-rule", None),
    "302013": (r"Built (?P<dir>inbound|outbound) (?P<proto>TCP) connection (?P<conn>\d+) for "
               + _SRC + r" \((?P<src_nat_ip>[^/\s]+)/(?P<src_nat_port>\d+)\)"
               r"(?:\((?P<user>[^)]*)\))? to " + _DST
               + r" \((?P<dst_nat_ip>[^/\s]+)/(?P<dst_nat_port>\d+)\)",
               "connection-started", "permit"),
    "302014": (r"Teardown (?P<proto>TCP) connection (?P<conn>\d+) for " + _SRC
               + r"(?:\((?P<user>[^)]*)\))? to " + _DST + r"(?:\([^)]*\))? duration "
               r"(?P<duration>[\d:]+) bytes (?P<bytes>\d+) ?(?P<reason>.*)$",
               "connection-finished", None),
    "305011": (r"Built (?:dynamic|static) (?P<proto>\w+) translation from (?P<src_if>[^:\s]+):"
               r"(?P<src_ip>[^/\s]+)(?:/(?P<src_port>\d+))?(?:\([^)]*\))? to (?P<dst_if>[^:\s]+):"
               r"(?P<src_nat_ip>[^/\s]+)(?:/(?P<src_nat_port>\d+))?", "translation-built", None),
    "113004": (r"AAA user (?P<kind>\w+) Successful : server = +(?P<server>\S+) : "
               r"user = (?P<user>.*?)\s*$", "authentication", "permit"),
    "113005": (r"AAA user (?P<kind>\w+) Rejected : reason = (?P<reason>.*?) : "
               r"server = +(?P<server>\S+) : user = (?P<user>.*?)"
               r"(?: : user IP = (?P<src_ip>\S+))?\s*$", "authentication", "deny"),
    "611101": (r"User authentication succeeded: (?:IP address: (?P<src_ip>[^,\s]+), )?"
               r"Uname: (?P<user>.*)$", "authentication", "permit"),
    "611102": (r"User authentication failed: (?:IP address: (?P<src_ip>[^,\s]+), )?"
               r"Uname: (?P<user>.*)$", "authentication", "deny"),
    "605004": (r"Login denied " + _FLOW.replace("(?P<dst_ip>", "(?P<dst_if>[^:\\s]+):(?P<dst_ip>")
               .replace("(?P<dst_port>\\d+)", "(?P<service>\\S+)")
               + r" for user \"(?P<user>[^\"]*)\"", "login", "deny"),
    "722022": (_VPN + r"(?P<proto>TCP|UDP) (?:SVC )?connection established",
               "vpn-connected", "permit"),
    "722023": (_VPN + r"(?P<proto>TCP|UDP) (?:SVC )?connection terminated",
               "vpn-disconnected", None),
    "716001": (_VPN + r"WebVPN session started", "vpn-session-started", "permit"),
    "716002": (_VPN + r"WebVPN session terminated: ?(?P<reason>.*?)\.?$",
               "vpn-session-ended", None),
}
_ASA_SPECS["302015"] = (_ASA_SPECS["302013"][0].replace("(?P<proto>TCP)", "(?P<proto>UDP)"),
                        "connection-started", "permit")
_ASA_SPECS["302016"] = (_ASA_SPECS["302014"][0].replace("(?P<proto>TCP)", "(?P<proto>UDP)"),
                        "connection-finished", None)
_ASA_SPECS["605005"] = (_ASA_SPECS["605004"][0].replace("Login denied", "Login permitted"),
                        "login", "permit")
ASA_RULES = {mid: (re.compile(p), action, v) for mid, (p, action, v) in _ASA_SPECS.items()}
"""Message id → (compiled pattern, ``event.action``, verdict). Other ids parse with the common
fields only."""

_ASA_PUT: dict[str, str] = {
    "src_if": "observer.ingress.interface.name", "dst_if": "observer.egress.interface.name",
    "src_ip": "source.ip", "dst_ip": "destination.ip", "src_nat_ip": "source.nat.ip",
    "dst_nat_ip": "destination.nat.ip", "user": "user.name", "acl": "rule.name",
    "conn": "cisco.asa.connection_id", "server": "cisco.asa.aaa_server",
    "group": "cisco.asa.tunnel_group", "reason": "event.reason", "service": "network.protocol",
    "duration": "cisco.asa.duration", "kind": "cisco.asa.aaa_type",
}
_ASA_INT = {"src_port": "source.port", "dst_port": "destination.port",
            "src_nat_port": "source.nat.port", "dst_nat_port": "destination.nat.port",
            "bytes": "network.bytes"}
_SWAP = (("source", "destination"), ("observer.ingress", "observer.egress"))


class CiscoAsaParser:
    """Cisco ASA/FTD ``%ASA-n-nnnnnn:`` messages → ``cisco.asa`` (``cisco.ftd`` for FTD).

    The header may be the device's own (``Nov 24 2026 08:15:00 asa-hn-01 : %ASA-...``, local
    time in ``ctx.tz``), a syslog one written by a relay (read by the syslog parser), or just a
    PRI (no time at all: ``ctx.now``). :data:`ASA_RULES` knows the connection, deny, AAA and VPN
    messages; any other id is still an event with the common fields and ``message``.
    """

    name: ClassVar[str] = "cisco_asa"
    priority: ClassVar[int] = 12

    def sniff(self, text: str) -> bool:
        """``%ASA-`` or ``%FTD-`` appears (one scan for ``%`` first: most lines have none)."""
        return "%" in text and ("%ASA-" in text or "%FTD-" in text)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One message → event; :class:`ParseError` otherwise."""
        m = _ASA.search(text)
        if m is None:
            raise ParseError("no %ASA-n-nnnnnn: message id")
        product, level, mid = m.groups()
        head, rest = parse_header(text, ctx)
        if "@timestamp" not in head and len(text) - len(rest) != m.start():
            raise ParseError(f"unrecognised header before the ASA message id: "
                             f"{text[:m.start()]!r}")
        ftd = product == "FTD"
        ev = firewall_event(head.get("@timestamp") or format_ts(ctx.now),
                            "cisco.ftd" if ftd else "cisco.asa", "Cisco", "ftd" if ftd else "asa")
        ev["event.module"] = "cisco"
        host = head.get("host.name") or _device_tag(head)
        if host:
            ev["observer.name"] = host
        put_syslog(ev, head)
        message = text[m.end():].rstrip()
        ev.update({"event.code": mid, "event.severity": int(level),
                   "log.level": SEVERITY[int(level)], "cisco.asa.message_id": mid,
                   "message": message})
        rule = ASA_RULES.get(mid)
        if rule is not None:
            _asa_fields(ev, rule, message)
        return ev


def _device_tag(head: Event) -> str | None:
    """``Nov 24 2026 08:15:00 asa01: %ASA-...``: a tag other than the message id is the device."""
    tag = head.get("log.syslog.appname")
    return None if tag is None or tag.startswith("%") else str(tag)


def _asa_fields(ev: Event, rule: tuple[re.Pattern[str], str, str | None], message: str) -> None:
    pattern, action, verdict = rule
    m = pattern.match(message)
    if m is None:  # a variant the table does not know: the common fields only
        ev["event.action"] = action
        return
    groups = m.groupdict()
    for name, value in groups.items():
        if not value:
            continue
        if name in _ASA_PUT:
            ev[_ASA_PUT[name]] = value
        elif name in _ASA_INT:
            ev[_ASA_INT[name]] = int(value)
        elif name == "proto":
            ev["network.transport"] = value.lower()
        elif name == "verdict":
            verdict = "deny" if value == "denied" else "permit"
    if groups.get("dir") == "outbound":
        _swap(ev)  # ASA names the outside end first; outbound means the inside end began
    kind = "connection"
    if action in ("authentication", "login"):
        kind = "authentication"
        ev["event.category"] = ["authentication"]
    if verdict is None:
        ev["event.type"] = [kind]
    else:
        put_verdict(ev, verdict, kind)
    ev["event.action"] = action


def _swap(ev: Event) -> None:
    for a, b in _SWAP:
        keys = [k for k in ev if k.startswith((a + ".", b + "."))]
        values = {k: ev.pop(k) for k in keys}
        for k, v in values.items():
            ev[(b + k[len(a):]) if k.startswith(a + ".") else (a + k[len(b):])] = v
