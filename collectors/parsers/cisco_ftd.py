"""Firepower Threat Defense security events (``%FTD-1-430001`` to ``430005``): comma-separated
``Key: Value`` lists, as Cisco's "Firepower Threat Defense Syslog Messages" (security event
syslog messages) lists their fields.

``430001`` intrusion, ``430002`` connection start, ``430003`` connection end, ``430004`` file,
``430005`` malware. The ECS mapping follows Elastic's ``cisco_ftd`` integration (``SrcIP`` →
``source.ip``, ``AccessControlRuleName`` → ``rule.name``, ``InitiatorBytes`` → ``source.bytes``...);
every field is also kept as it came under ``cisco.ftd.security.<snake_case_key>``. A value with a
comma followed by ``Word: `` would be cut there: FTD writes none in these fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from collectors.parsers.cisco_catalog import (
    END,
    START,
    Kind,
    categorise,
    hms_seconds,
    put_address,
    put_transport,
    put_user,
)
from soc.ecs import Event

SECURITY_EVENTS = frozenset(("430001", "430002", "430003", "430004", "430005"))

_SPLIT = re.compile(r",\s*(?=[A-Za-z][\w ]{0,40}?:\s)")
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

_KINDS: dict[str, tuple[Kind, str]] = {
    "430001": (Kind(("intrusion_detection", "network"), ("info",), alert=True),
               "intrusion-detected"),
    "430002": (START, "connection-started"),
    "430003": (END, "connection-finished"),
    "430004": (Kind(("file", "network"), ("info",)), "file-detected"),
    "430005": (Kind(("malware", "file", "network"), ("info",)), "malware-detected"),
}
_DNS_TYPES = {"a host address": "A", "ip6 address": "AAAA", "text strings": "TXT",
              "a domain name pointer": "PTR", "an authoritative name server": "NS",
              "the canonical name for an alias": "CNAME", "mail exchange": "MX",
              "marks the start of a zone of authority": "SOA", "server selection": "SRV"}
_DNS_RESPONSES = {"non-existent domain": "NXDOMAIN", "server failure": "SERVFAIL",
                  "query refused": "REFUSED", "no error": "NOERROR"}
_MALWARE = frozenset(("malware", "custom detection"))


def _put(key: str) -> Callable[[Event, str], None]:
    def put(ev: Event, value: str) -> None:
        ev[key] = value
    return put


def _number(key: str) -> Callable[[Event, str], None]:
    def put(ev: Event, value: str) -> None:
        if value.isdecimal() and len(value) <= 18:
            ev[key] = int(value)
    return put


def _side(side: str) -> Callable[[Event, str], None]:
    def put(ev: Event, value: str) -> None:
        put_address(ev, side, value)
    return put


def _lower(key: str) -> Callable[[Event, str], None]:
    def put(ev: Event, value: str) -> None:
        ev[key] = value.lower()
    return put


def _mapped(key: str, table: dict[str, str]) -> Callable[[Event, str], None]:
    def put(ev: Event, value: str) -> None:
        ev[key] = table.get(value.lower(), value)
    return put


def _user(ev: Event, value: str) -> None:
    put_user(ev, "user", value)


def _transport(ev: Event, value: str) -> None:
    put_transport(ev, value)


def _duration(ev: Event, value: str) -> None:
    seconds = hms_seconds(value)
    if seconds is not None:
        ev["event.duration"] = seconds * 1_000_000_000


_ECS: dict[str, Callable[[Event, str], None]] = {
    "SrcIP": _side("source"), "DstIP": _side("destination"),
    "SrcPort": _number("source.port"), "DstPort": _number("destination.port"),
    "Protocol": _transport, "ApplicationProtocol": _lower("network.protocol"),
    "Client": _lower("network.application"), "WebApplication": _lower("network.application"),
    "User": _user, "originalClientSrcIP": _side("client"),
    "IngressInterface": _put("observer.ingress.interface.name"),
    "EgressInterface": _put("observer.egress.interface.name"),
    "IngressZone": _put("observer.ingress.zone"), "EgressZone": _put("observer.egress.zone"),
    "ACPolicy": _put("rule.ruleset"), "AccessControlRuleName": _put("rule.name"),
    "AccessControlRuleReason": _put("event.reason"),
    "IntrusionPolicy": _put("rule.ruleset"), "FilePolicy": _put("rule.ruleset"),
    "Message": _put("rule.name"), "SID": _put("rule.id"), "Classification": _put("rule.category"),
    "InitiatorBytes": _number("source.bytes"), "ResponderBytes": _number("destination.bytes"),
    "InitiatorPackets": _number("source.packets"),
    "ResponderPackets": _number("destination.packets"),
    "ConnectionDuration": _duration,
    "DNSQuery": _put("dns.question.name"),
    "DNSRecordType": _mapped("dns.question.type", _DNS_TYPES),
    "DNSResponseType": _mapped("dns.response_code", _DNS_RESPONSES),
    "URL": _put("url.original"), "URI": _put("url.original"), "ReferencedHost": _put("url.domain"),
    "UserAgent": _put("user_agent.original"), "HTTPResponse": _number("http.response.status_code"),
    "HTTPReferer": _put("http.request.referrer"), "SSLServerName": _put("server.domain"),
    "FileName": _put("file.name"), "FileSHA256": _put("file.hash.sha256"),
    "FileSize": _number("file.size"), "FileType": _put("file.type"),
}
"""FTD key → where its value goes in ECS (Elastic's mapping)."""


def pairs(body: str) -> dict[str, str]:
    """``Key: Value, Key: Value`` → dict (the first of a repeated key wins)."""
    out: dict[str, str] = {}
    for item in _SPLIT.split(body):
        key, sep, value = item.partition(":")
        key = key.strip()
        if sep and key:
            out.setdefault(key, value.strip())
    return out


def snake(key: str) -> str:
    """``AccessControlRuleAction`` → ``access_control_rule_action``, ``Prefilter Policy`` →
    ``prefilter_policy`` (Elastic's names under ``cisco.ftd.security``)."""
    return _SNAKE.sub("_", key.strip()).replace(" ", "_").lower()


def decode(ev: Event, mid: str, body: str) -> None:
    """The fields of one security event (``mid`` in :data:`SECURITY_EVENTS`)."""
    fields = pairs(body)
    for key, value in fields.items():
        if not value:
            continue
        ev[f"cisco.ftd.security.{snake(key)}"] = value
        put = _ECS.get(key)
        if put is not None:
            put(ev, value)
    if "ArchiveFileName" in fields and "file.name" not in ev:
        ev["file.name"] = fields["ArchiveFileName"]
    if "dns.question.name" in ev:
        ev.setdefault("dns.response_code", "NOERROR")
    kind, action = _KINDS[mid]
    categorise(ev, kind, action)
    _verdict(ev, mid, fields)


def _verdict(ev: Event, mid: str, fields: dict[str, str]) -> None:
    """Access control and file actions that block (``Block``, ``Block with reset``, ``Interactive
    Block``, ``Malware Block``...) fail; the others (``Allow``, ``Trust``, ``Monitor``,
    ``Detect``...) succeed. An intrusion ``InlineResult`` of ``Blocked`` fails too."""
    action = fields.get("AccessControlRuleAction") or fields.get("FileAction") or ""
    if action:
        allowed = "block" not in action.lower()
        ev["event.outcome"] = "success" if allowed else "failure"
        if mid in ("430002", "430003"):
            types = [t for t in ev["event.type"] if t not in ("allowed", "denied")]
            ev["event.type"] = [*types, "allowed" if allowed else "denied"]
    if fields.get("InlineResult", "").lower() in ("blocked", "dropped", "partially blocked"):
        ev["event.outcome"] = "failure"
        ev["event.type"] = ["info", "denied"]
    if mid == "430005" and fields.get("SHA_Disposition", "").lower() in _MALWARE:
        ev["event.kind"] = "alert"
        ev.setdefault("rule.name", fields.get("ThreatName") or "FTD malware event")
