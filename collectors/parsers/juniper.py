"""Juniper SRX (Junos) security logs → ``juniper.srx`` events.

Two forms of the same messages (``set system syslog ... structured-data``, with or without
``brief``):

- RFC 5424 structured data: ``<14>1 2026-11-24T08:15:00.123+07:00 srx01 RT_FLOW -
  RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 source-address="10.0.0.5" source-port="51234"
  destination-address="93.184.216.34" ... policy-name="trust-to-untrust" ...]``;
- plain text: ``<14>Nov 24 08:15:00 srx01 RT_FLOW: RT_FLOW_SESSION_CREATE: session created
  10.0.0.5/51234->93.184.216.34/443 0x0 junos-https 203.0.113.1/40001->93.184.216.34/443 0x0
  source rule r1 N/A N/A 6 trust-to-untrust trust untrust 1234 N/A(N/A) ge-0/0/1.0 ...``.

Processes: ``RT_FLOW`` (``RT_FLOW_SESSION_CREATE``/``CLOSE``/``DENY``, ``APPTRACK_*``, their
``_LS`` logical-system forms), ``RT_IDP`` (``IDP_ATTACK_LOG_EVENT``, ``IDP_APPDDOS_*``),
``RT_IDS`` (``RT_SCREEN_*``), ``RT_UTM`` (web filtering, antivirus, antispam, content
filtering), ``RT_AAMW`` (Advanced Anti-Malware) and ``RT_SECINTEL``; and any other message
whose structured data is ``junos@...`` (``UI_LOGIN_EVENT``, ``KMD_*``...), read by the same key
table. Field names and ``event.action``/types follow Elastic's ``juniper_srx`` integration
(``flow_started``, ``flow_close``, ``flow_deny``); parameters without an ECS home stay under
``juniper.srx.<param_with_underscores>``.

Values Junos writes for "nothing" (``N/A``, ``None``, ``UNKNOWN``) set no field. Some Junos
releases write curly quotes (``name=”value”``): they are read as quotes.
"""

from __future__ import annotations

import re
from typing import ClassVar

from collectors.parsers.devices import (
    EMPTY,
    event_time,
    field_name,
    put_int,
    put_ip,
)
from collectors.parsers.network import IANA, firewall_event, put_syslog, put_verdict
from collectors.parsers.syslog import parse_header
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

PROCESSES = ("RT_FLOW", "RT_IDP", "RT_IDS", "RT_SCREEN", "RT_UTM", "RT_AAMW", "RT_SECINTEL")

# <PRI>1 TIME HOST APP PROCID MSGID: the header when a value in the structured data is not
# RFC 5424 (curly quotes), which the syslog header reader refuses.
_5424 = re.compile(r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
_TAG = re.compile(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:: | \[)")
_PARAM = re.compile(r'([A-Za-z][\w-]*)=(?:"((?:[^"\\]|\\.)*)"|[”“]([^”“\]]*)[”“]|([^\s\]]*))')

STRINGS = {
    "policy-name": "rule.name", "attack-name": "rule.name", "rule-name": "rule.id",
    "rulebase-name": "rule.ruleset", "source-zone-name": "observer.ingress.zone",
    "source-zone": "observer.ingress.zone", "destination-zone-name": "observer.egress.zone",
    "destination-zone": "observer.egress.zone",
    "packet-incoming-interface": "observer.ingress.interface.name",
    "source-interface-name": "observer.ingress.interface.name",
    "interface-name": "observer.ingress.interface.name",
    "destination-interface-name": "observer.egress.interface.name",
    "username": "user.name", "user-name": "user.name", "reason": "event.reason",
    "url": "url.domain", "obj": "url.path", "http-host": "url.domain",
    "filename": "file.name", "file-name": "file.name", "sample-sha256": "file.hash.sha256",
    "hostname": "source.domain", "message": "message", "category": "rule.category",
    "error-message": "error.message",
}
INTS = {"source-port": "source.port", "destination-port": "destination.port",
        "nat-source-port": "source.nat.port", "nat-destination-port": "destination.nat.port",
        "bytes-from-client": "source.bytes", "bytes-from-server": "destination.bytes",
        "packets-from-client": "source.packets", "packets-from-server": "destination.packets",
        "inbound-bytes": "destination.bytes", "outbound-bytes": "source.bytes"}
IPS = {"source-address": "source", "destination-address": "destination",
       "nat-source-address": "source.nat", "nat-destination-address": "destination.nat",
       "client-ip": "source", "remote-address": "source", "local-address": "destination",
       "source-ip": "source", "destination-ip": "destination"}
_NO_USER = frozenset(("unknown-user",))


class JuniperSrxParser:
    """Juniper SRX ``RT_FLOW``/``RT_IDP``/``RT_IDS``/``RT_UTM``/``RT_AAMW``/``RT_SECINTEL``
    messages, structured or plain → ``juniper.srx``."""

    name: ClassVar[str] = "juniper"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = ("junos@", " FW: ", "RT_")  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """``junos@`` (structured data), one of the ``RT_*`` security processes, or a firewall
        filter's ``FW:`` line."""
        if "junos@" in text or " FW: " in text:
            return True
        return "RT_" in text and any(p in text for p in PROCESSES)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One message → event; :class:`ParseError` otherwise."""
        text = text.rstrip("\r\n")
        head, rest, stamp = _header(text, ctx)
        sd = text.find("[junos@")
        if sd < 0 and (fw := _FILTER.search(rest)) is not None:
            return _filter_log(head, stamp, fw)
        tag_m = _tag(rest)
        tag = head.get("log.syslog.msgid") or (tag_m[1] if tag_m else None)
        if tag is None or (sd < 0 and not any(p in text for p in PROCESSES)):
            raise ParseError("not a Juniper SRX security log (no RT_* tag or junos@ data)")
        process = str(head.get("log.syslog.appname") or _process(str(tag)))
        ev = firewall_event(stamp, "juniper.srx", "Juniper", "SRX")
        ev["event.module"] = "juniper"
        put_syslog(ev, head)
        if head.get("host.name"):
            ev["observer.name"] = head["host.name"]
        ev["juniper.srx.tag"] = tag
        ev["juniper.srx.process"] = process
        if sd >= 0:
            _params(ev, _structured(text, sd))
        elif tag_m is not None:
            _brief(ev, str(tag), rest[tag_m.end():])
        _classify(ev, process, str(tag))
        return ev


def _header(text: str, ctx: ParseContext) -> tuple[Event, str, str]:
    """The syslog header's fields, the rest of the line and the event time. A structured-data
    value that RFC 5424 does not allow makes the header reader refuse the line: then only PRI,
    time, host and the app and message ids are read here."""
    try:
        head, rest = parse_header(text, ctx)
    except ParseError:
        m = _5424.match(text)
        if m is None:
            raise
        head, _ = parse_header(f"<{m[1]}>1 {m[2]} {m[3]} {m[4]} {m[5]} {m[6]} -", ctx)
        rest = text[m.end():]
    return head, rest, event_time(head, ctx)


def _tag(rest: str) -> re.Match[str] | None:
    """The message tag (``RT_FLOW_SESSION_CREATE``), not the process (``RT_FLOW``) that a line
    without a syslog header starts with."""
    for m in _TAG.finditer(rest):
        if m[1] not in PROCESSES and m[1] != "RT_IDS":
            return m
    return None


def _process(tag: str) -> str:
    for process in PROCESSES:
        if tag.startswith(process):
            return "RT_IDS" if process == "RT_SCREEN" else process
    if tag.startswith(("IDP_",)):
        return "RT_IDP"
    if tag.startswith(("APPTRACK_",)):
        return "RT_FLOW"
    if tag.startswith(("WEBFILTER_", "AV_", "ANTISPAM_", "CONTENT_FILTERING_")):
        return "RT_UTM"
    return tag.split("_", 1)[0]


def _structured(text: str, start: int) -> dict[str, str]:
    """The parameters of the ``[junos@... k="v" ...]`` element that starts at ``start``."""
    pos = text.find(" ", start)
    params: dict[str, str] = {}
    while pos >= 0:
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        m = _PARAM.match(text, pos)
        if m is None:
            break
        value = m[2] if m[2] is not None else m[3] if m[3] is not None else m[4]
        params.setdefault(m[1], value.replace('\\"', '"').replace("\\]", "]"))
        pos = m.end()
    return params


def _params(ev: Event, params: dict[str, str]) -> None:
    for key, value in params.items():
        value = value.strip()
        if value in EMPTY or value in _NO_USER:
            continue
        if key in IPS:
            if IPS[key] == "source" and "source.ip" in ev:
                continue
            put_ip(ev, IPS[key], value)
        elif key in INTS:
            put_int(ev, INTS[key], value)
        elif key in STRINGS:
            ev.setdefault(STRINGS[key], value)
        elif key == "protocol-id" or (key == "protocol" and value.isdecimal()):
            _transport(ev, value)
        elif key == "protocol":
            ev["network.protocol"] = value.lower()
        elif key == "protocol-name":
            ev["network.transport"] = value.lower()
        elif key == "application":
            ev["network.application"] = value.lower()
        elif key == "elapsed-time":
            put_int(ev, "event.duration", value + "000000000" if value.isdecimal() else None)
        else:
            ev[f"juniper.srx.{field_name(key)}"] = value
    attack = params.get("attack-name", "")
    if attack not in EMPTY:  # IDP, screens: the signature names the rule, the policy holds it
        ev["rule.name"] = attack
        if params.get("policy-name", "") not in EMPTY:
            ev["rule.ruleset"] = params["policy-name"]


def _transport(ev: Event, value: str) -> None:
    if value.isdecimal():
        ev["network.iana_number"] = value
        ev["network.transport"] = IANA.get(value, value)
    else:
        ev["network.transport"] = value.lower()


# --- the plain ("brief") text of the same messages -------------------------------------------

# An address starts a word (or follows "<", "(" or "/"): each search stays linear in the line.
_ADDR = r"([^\s/<>()]+)"
_FLOW = re.compile(r"(?<![^\s/<>(),])" + _ADDR + r"/(\d+)->" + _ADDR + r"/(\d+)")
_PAREN_FLOW = re.compile(r"(?<![^\s/<>(),])" + _ADDR + r"\((\d+)\)->" + _ADDR + r"\((\d+)\)")
_SCREEN = re.compile(r"(?P<attack>.+?)! source: (?P<src>[^,\s]+), (?:destination: "
                     r"(?P<dst>[^,\s]+), )?zone name: (?P<zone>[^,]+), interface name: "
                     r"(?P<iface>[^,]+), action: (?P<action>\S+?)\.?$")
_SESSION = re.compile(r"(?:AppTrack )?session (?:(?P<what>created|denied)|(?P<closed>closed) "
                      r"(?P<reason>[^:]*):) ")
_TAIL = re.compile(r"(?:^| )(?P<proto>\d+)(?:\((?P<icmp>\d+)\))? (?P<policy>\S+) "
                   r"(?P<szone>\S+) (?P<dzone>\S+) (?P<sid>\d+)"
                   r"(?: (?P<pc>\d+)\((?P<bc>\d+)\) (?P<ps>\d+)\((?P<bs>\d+)\) (?P<elapsed>\d+))?")
_USER = re.compile(r" (?P<user>[^\s(]*)\((?P<roles>[^)\s]*)\)(?: (?P<iface>\S+))?")
_DENY_TAIL = re.compile(r"(?<!\d)(?P<proto>\d+)\((?P<icmp>\d+)\) (?P<policy>\S+) (?P<szone>\S+) "
                        r"(?P<dzone>\S+)")
_IDP = re.compile(r"for (?P<proto>\S+) protocol and service (?P<service>\S+) application "
                  r"(?P<app>\S+) by rule (?P<rule>\S+) of rulebase (?P<rulebase>\S+) in policy "
                  r"(?P<policy>\S+?)\. attack: id=(?P<id>\d+), repeat=\d+, action=(?P<action>\w+),"
                  r" threat-severity=(?P<severity>\w+), name=(?P<name>[^,]+)")
_KV = re.compile(r"(?<![\w-])([A-Z][A-Z_-]*)=(?:\"([^\"]{0,1024})\"|(\S+))")


def _brief(ev: Event, tag: str, body: str) -> None:
    """The plain text after ``TAG: ``: the flow tuple, NAT tuple and the session fields."""
    screen = _SCREEN.match(body) if tag.startswith("RT_SCREEN") else None
    if screen is not None:
        _screen(ev, screen)
        return
    flows = list(_FLOW.finditer(body, 0)) or list(_PAREN_FLOW.finditer(body))
    if flows:
        _tuple(ev, flows[0], "source", "destination")
    session = _SESSION.search(body)
    if session is not None:
        _session(ev, session, flows, body)
    idp = _IDP.search(body)
    if idp is not None:
        ev["network.transport"] = idp["proto"].lower()
        ev.update({"rule.name": idp["name"].strip(), "rule.id": idp["rule"],
                   "rule.ruleset": idp["policy"], "juniper.srx.action": idp["action"],
                   "juniper.srx.threat_severity": idp["severity"]})
    for m in _KV.finditer(body):
        value = m[2] if m[2] is not None else m[3]
        key = m[1].lower().replace("_", "-")
        if value and value not in EMPTY:
            _params(ev, {{"profile": "profile-name"}.get(key, key): value})


def _tuple(ev: Event, m: re.Match[str], src: str, dst: str) -> None:
    put_ip(ev, src, m[1])
    put_int(ev, f"{src}.port", m[2])
    put_ip(ev, dst, m[3])
    put_int(ev, f"{dst}.port", m[4])


def _session(ev: Event, m: re.Match[str], flows: list[re.Match[str]], body: str) -> None:
    if m["reason"]:
        ev["event.reason"] = m["reason"].strip()
    denied = m["what"] == "denied"
    if len(flows) > 1 and not denied:
        _tuple(ev, flows[1], "source.nat", "destination.nat")
    after = flows[-1].end() if flows else m.end()
    tail = (_DENY_TAIL if denied else _TAIL).search(body, after)
    if tail is None:
        return
    found = tail.groupdict()
    user = _USER.search(body, tail.end())
    if user is not None:
        found.update(user.groupdict())
    _transport(ev, found["proto"])
    for key, target in (("policy", "rule.name"), ("szone", "observer.ingress.zone"),
                        ("dzone", "observer.egress.zone"),
                        ("iface", "observer.ingress.interface.name"), ("user", "user.name")):
        if found.get(key) and found[key] not in EMPTY:
            ev[target] = found[key]
    for key, target in (("bc", "source.bytes"), ("bs", "destination.bytes"),
                        ("pc", "source.packets"), ("ps", "destination.packets")):
        put_int(ev, target, found.get(key))


def _screen(ev: Event, m: re.Match[str]) -> None:
    ev["rule.name"] = m["attack"].strip() + "!"
    for key, side in (("src", "source"), ("dst", "destination")):
        if m[key]:
            host, _, port = m[key].rpartition(":")
            if host and port.isdecimal() and put_ip(ev, side, host):
                put_int(ev, f"{side}.port", port)
            else:
                put_ip(ev, side, m[key])
    ev["observer.ingress.zone"] = m["zone"].strip()
    ev["observer.ingress.interface.name"] = m["iface"].strip()
    ev["juniper.srx.action"] = m["action"]


# --- firewall filter logs (``then syslog``): PFE_FW_SYSLOG_IP ----------------------------------

_FILTER = re.compile(r"(?:^|\s)FW: (?P<iface>\S+) +(?P<action>[ADR]) (?P<proto>\S+) "
                     r"(?P<src>[0-9A-Fa-f.:]+) (?P<dst>[0-9A-Fa-f.:]+) (?P<sport>\d+) "
                     r"(?P<dport>\d+)(?: \((?P<packets>\d+) packets?\))?")
_FILTER_ACTIONS = {"A": ("accept", "accept"), "D": ("discard", "drop"), "R": ("reject", "reject")}


def _filter_log(head: Event, stamp: str, m: re.Match[str]) -> Event:
    """``FW: ge-0/0/0.0 D tcp 203.0.113.9 10.0.0.5 51234 22 (1 packets)``: a firewall filter
    term with ``then syslog`` (action A accept, D discard, R reject; for ICMP the ports are the
    type and code)."""
    ev = firewall_event(stamp, "juniper.srx", "Juniper", "SRX")
    ev["event.module"] = "juniper"
    put_syslog(ev, head)
    if head.get("host.name"):
        ev["observer.name"] = head["host.name"]
    ev["juniper.srx.tag"] = "PFE_FW_SYSLOG_IP"
    ev["observer.ingress.interface.name"] = m["iface"]
    _transport(ev, m["proto"])
    put_ip(ev, "source", m["src"])
    put_ip(ev, "destination", m["dst"])
    if ev.get("network.transport") not in ("icmp", "ipv6-icmp"):
        put_int(ev, "source.port", m["sport"])
        put_int(ev, "destination.port", m["dport"])
    put_int(ev, "network.packets", m["packets"])
    action, verdict = _FILTER_ACTIONS[m["action"]]
    put_verdict(ev, verdict)
    ev["event.action"] = action
    return ev


# --- what the message is ---------------------------------------------------------------------

def _classify(ev: Event, process: str, tag: str) -> None:
    base = tag.removesuffix("_LS")
    action = str(ev.get("juniper.srx.action", "")).lower()
    if process == "RT_FLOW":
        if base.endswith("DENY"):
            ev.update({"event.action": "flow_deny", "event.type": ["connection", "denied"],
                       "event.outcome": "failure"})
        elif base.endswith("CLOSE"):
            ev.update({"event.action": "flow_close", "event.outcome": "success",
                       "event.type": ["connection", "end", "allowed"]})
        else:
            ev.update({"event.action": "flow_started", "event.outcome": "success",
                       "event.type": ["connection", "start", "allowed"]})
        return
    if process in ("RT_IDP", "RT_IDS"):
        ev["event.kind"] = "alert"
        ev["event.category"] = ["intrusion_detection", "network"]
        _verdict(ev, action or base.lower(), base.lower())
        return
    if process in ("RT_AAMW", "RT_SECINTEL") or base.startswith("AV_VIRUS"):
        ev["event.kind"] = "alert"
        ev["event.category"] = ["malware", "network"] if process != "RT_SECINTEL" else [
            "threat", "network"]
    elif base.startswith("WEBFILTER") or base.startswith("CONTENT_FILTERING"):
        ev["event.category"] = ["web", "network"]
    elif base.startswith("ANTISPAM"):
        ev["event.category"] = ["email", "network"]
    elif base.startswith(("UI_LOGIN", "UI_AUTH", "LOGIN_", "SSHD_LOGIN")):
        _login(ev, base)
        return
    _verdict(ev, action or _word(base), base.lower())


_WORDS = (("WITHOUT-DROP", ""), ("WITHOUT_DROP", ""), ("BLOCKED", "blocked"),
          ("PERMITTED", "permitted"), ("DROP", "drop"), ("BLOCK", "block"),
          ("PERMIT", "permit"), ("CLOSE", "reset"), ("REJECT", "reject"))


def _word(tag: str) -> str:
    """The verdict a tag or action names: ``WEBFILTER_URL_BLOCKED`` → ``blocked``, IDP's
    ``CLOSE`` → ``reset``; none for ``alarm-without-drop``."""
    for word, verdict in _WORDS:
        if word in tag:
            return verdict
    return ""


def _verdict(ev: Event, verdict: str, action: str) -> None:
    """``event.type``/``outcome`` from the device's action word (``DROP``, ``BLOCK``, ``URL
    Blocked``...), ``event.action`` the message tag in lower case."""
    word = _word(verdict.upper()) if verdict else ""
    put_verdict(ev, word or verdict or action,
                "connection" if ev.get("source.ip") else "info")
    ev["event.action"] = action


def _login(ev: Event, tag: str) -> None:
    failed = "FAIL" in tag
    ev.update({"event.category": ["authentication"], "event.action": tag.lower(),
               "event.type": ["start"], "event.outcome": "failure" if failed else "success"})
