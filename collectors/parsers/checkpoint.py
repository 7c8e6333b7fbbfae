"""Check Point Log Exporter records → ECS events of dataset ``checkpoint.firewall``.

Two layouts of the same fields:

* the ``syslog`` format: an RFC 5424 header (or a BSD one, or none) and the fields as
  ``[key:"value"; key:"value"]`` (``\\"``, ``\\]``, ``\\\\`` escape; ``sys_message::"..."`` has two
  colons);
* the ``splunk`` format (and the older OPSEC LEA exports): ``key=value|key=value|...`` with
  ``\\=``/``\\|`` escapes, after a syslog header or alone.

The mapping follows Elastic's ``checkpoint`` integration (:data:`FIELDS`): ``src``/``dst``/
``s_port``/``service`` and the ``xlate*`` NAT fields (0.0.0.0 and port 0 mean none), ``proto``
as IANA number and transport, ``origin`` as ``observer.name``, ``product`` as
``observer.product``, zones and the interface by ``ifdir``, ``rule_name`` (else the blade's rule
name) as ``rule.name``, ``time`` (epoch seconds) as ``@timestamp``. ``event.action`` is the
``action`` field; Accept/Allow are allowed and successful, Drop/Reject/Block/Prevent denied and
failed (Elastic calls those successful: the firewall did its job; the project's firewalls
count a denied connection as a failure); Prevent/Detect/Quarantine rules make an alert; ``Log
In``/``Failed Log In`` are authentication events. ``user.name`` is the source user
(``src_user_name``, ``administrator``, ``user``). Every field is kept under ``checkpoint.<key>``.
"""

from __future__ import annotations

import re
from typing import ClassVar

from collectors.parsers.cef import device_time, put_hash, put_transport, put_value
from collectors.parsers.network import put_syslog, put_verdict
from collectors.parsers.syslog import parse_header
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

_BRACKET = re.compile(r"\[(?=\s*[\w.\-/]+:+\")")
_PAIR = re.compile(r"\s*([\w.\-/]+):+\"([^\"\\]*+(?:\\.[^\"\\]*+)*+)\"\s*;?")
_SD = re.compile(r"\[\w+@1\.3\.6\.1\.4\.1\.2620(?=\s)")
_SD_PAIR = re.compile(r"\s*([\w.\-/]+)=\"([^\"\\]*+(?:\\.[^\"\\]*+)*+)\"")
_DROPPED = re.compile(r"<([^,<>]+),\d*,[^,<>]+,")
_PIPE_START = re.compile(r"(?<![^\s>])[\w.\-/]+=")
# A key starts where a key cannot go on (no rescan of a long word from each of its letters).
_PIPE_PAIR = re.compile(r"(?<![\w.\-/])([\w.\-/]++)=([^|\\]*+(?:\\.[^|\\]*+)*+)(?:\||$)")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_BAD_KEY_CHARS = re.compile(r"[^\w.\-]")
_FIELD_NAME = re.compile(r"\w+(?:[.\-]\w+)*")
_ALIASES = {"i/f_dir": "ifdir", "i/f_name": "ifname", "d_port": "service", "svc": "service",
            "sport_svc": "s_port", "xlatesport_svc": "xlatesport",
            "xlatedport_svc": "xlatedport", "ProductName": "product"}
"""Other names of a field: the OPSEC LEA export's, and R81's RFC 5424 structured data's."""

FIELDS: dict[str, tuple[str, str]] = {
    "src": ("source.ip", "ip"), "dst": ("destination.ip", "ip"),
    "s_port": ("source.port", "int"), "service": ("destination.port", "int"),
    "uid": ("source.user.id", "text"), "mac_source_address": ("source.mac", "text"),
    "mac_destination_address": ("destination.mac", "text"),
    "src_machine_name": ("source.domain", "text"), "dst_machine_name": ("destination.domain",
                                                                         "text"),
    "destination_dns_hostname": ("destination.domain", "text"),
    "from": ("source.user.email", "text"), "to": ("destination.user.email", "text"),
    "client_outbound_bytes": ("source.bytes", "int"),
    "server_outbound_bytes": ("destination.bytes", "int"),
    "client_outbound_packets": ("source.packets", "int"),
    "server_outbound_packets": ("destination.packets", "int"),
    "bytes": ("network.bytes", "int"), "packets": ("network.packets", "int"),
    "service_id": ("network.application", "lower"), "layer_name": ("network.name", "text"),
    "origin": ("observer.name", "text"), "origin_ip": ("observer.ip", "ip"),
    "product": ("observer.product", "text"), "inzone": ("observer.ingress.zone", "text"),
    "outzone": ("observer.egress.zone", "text"), "rule_uid": ("rule.uuid", "text"),
    "policy": ("rule.ruleset", "text"), "sequencenum": ("event.sequence", "int"),
    "file_name": ("file.name", "text"), "file_type": ("file.type", "text"),
    "file_size": ("file.size", "int"), "method": ("http.request.method", "text"),
    "referrer": ("http.request.referrer", "text"), "user_agent": ("user_agent.original", "text"),
    "http_host": ("url.domain", "text"), "domain_name": ("dns.question.name", "text"),
    "dns_type": ("dns.question.type", "text"), "industry_reference": ("vulnerability.id",
                                                                      "text"),
    "os_name": ("host.os.name", "text"), "os_version": ("host.os.version", "text"),
    "process_name": ("process.name", "text"), "user_group": ("group.name", "text"),
}
"""Field → (ECS field, kind) when the field has a value; the first of several candidates for one
ECS field is in :data:`FIRST_OF`."""
FIRST_OF: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("source.ip", "ip", ("src", "client_ip")),
    ("source.user.name", "text", ("src_user_name", "administrator", "user")),
    ("destination.user.name", "text", ("dst_user_name",)),
    ("rule.name", "text", ("rule_name", "objectname", "malware_rule_name", "app_rule_name",
                           "dlp_rule_name")),
    ("rule.id", "text", ("malware_rule_id", "app_rule_id")),
    ("network.application", "lower", ("app_name", "service_id")),
    ("observer.ingress.zone", "text", ("inzone", "security_inzone")),
    ("observer.egress.zone", "text", ("outzone", "security_outzone")),
    ("url.original", "text", ("url", "resource")),
    ("message", "text", ("message", "reason", "subject", "sys_message", "description")),
    ("file.name", "text", ("file_name", "dlp_file_name")),
    ("source.bytes", "int", ("client_outbound_bytes", "sent_byte")),
    ("destination.bytes", "int", ("server_outbound_bytes", "received_bytes")),
)
_ALERT_ACTIONS = frozenset(("prevent", "detect", "quarantine"))
_LOGIN = {"log in": "success", "failed log in": "failure", "log out": "success"}


class CheckPointParser:
    """Check Point Log Exporter syslog and splunk formats → ``checkpoint.firewall`` events."""

    name: ClassVar[str] = "checkpoint"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = ('origin:"', "|origin=", ".4.1.2620")  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """An ``origin`` field (every Log Exporter record names its gateway) in either layout,
        or Check Point's structured-data id (enterprise number 2620)."""
        return 'origin:"' in text or "|origin=" in text or ".4.1.2620" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One record → event; :class:`ParseError` when neither layout is found."""
        text = text.rstrip("\r\n")
        fields, start = _fields(text)
        if not fields:
            raise ParseError("not a Check Point Log Exporter record "
                             '(no [key:"value"; ...] or key=value|key=value| fields)')
        head = _header(text, start, ctx)
        ev: Event = {"@timestamp": "", "event.dataset": "checkpoint.firewall",
                     "event.module": "checkpoint", "event.kind": "event",
                     "observer.vendor": "Check Point", "observer.type": "firewall"}
        put_syslog(ev, head)
        _put(ev, fields)
        stamp = device_time(fields.get("time", ""), ctx)
        header = head.get("@timestamp")
        ev["@timestamp"] = stamp or (header if isinstance(header, str) and header
                                     else format_ts(ctx.now))
        if "observer.name" not in ev and head.get("host.name"):
            ev["observer.name"] = head["host.name"]
        _classify(ev, fields)
        return ev


def _fields(text: str) -> tuple[dict[str, str], int]:
    """The record's fields and where they start (0 fields: not a record)."""
    m = _BRACKET.search(text)
    if m is not None:
        return _bracket_fields(text, m.end(), _PAIR), m.start()
    m = _SD.search(text)
    if m is not None:
        return _bracket_fields(text, m.end(), _SD_PAIR), m.start()
    p = _PIPE_START.search(text)
    if p is None:
        return {}, 0
    fields = {_ALIASES.get(k, k): _unescape(v) for k, v in _PIPE_PAIR.findall(text, p.start())}
    # a CEF extension or a line of prose has a key=value or two, not a |-separated record
    return (fields, p.start()) if len(fields) >= 3 else ({}, 0)


def _bracket_fields(text: str, pos: int, pair: re.Pattern[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    while (m := pair.match(text, pos)) is not None:
        fields[_ALIASES.get(m[1], m[1])] = _unescape(m[2])
        pos = m.end()
    return fields


def _unescape(value: str) -> str:
    return _ESCAPED.sub(r"\1", value) if "\\" in value else value


def _header(text: str, start: int, ctx: ParseContext) -> Event:
    """The syslog header before the fields; what precedes them must be one (a CEF line with
    ``key=value`` pairs is no Check Point record)."""
    if start == 0:
        return {}
    try:
        head, rest = parse_header(text[:start] + "-", ctx)
    except ParseError:  # R81 has sent "2023-01-13T10:10:16--5:00": the record's time serves
        return {}
    if rest.strip() not in ("-", ""):  # "": RFC 5424 took the "-" for its STRUCTURED-DATA
        raise ParseError(f"unrecognised text before the Check Point fields: "
                         f"{text[:min(start, 60)]!r}")
    return head


def _put(ev: Event, fields: dict[str, str]) -> None:
    for key, value in fields.items():
        name = _BAD_KEY_CHARS.sub("_", key)
        if value and _FIELD_NAME.fullmatch(name):
            ev[f"checkpoint.{name}"] = value
        mapped = FIELDS.get(key)
        if mapped is not None:
            put_value(ev, mapped[0], mapped[1], value)
    for field, kind, keys in FIRST_OF:
        for key in keys:
            if fields.get(key):
                ev.pop(field, None)
                put_value(ev, field, kind, fields[key])
                if field in ev:
                    break
    for side, ip, port in (("source", "xlatesrc", "xlatesport"),
                           ("destination", "xlatedst", "xlatedport")):
        if fields.get(ip, "0.0.0.0") != "0.0.0.0":
            put_value(ev, f"{side}.nat.ip", "ip", fields[ip])
        if fields.get(port, "0") != "0":
            put_value(ev, f"{side}.nat.port", "int", fields[port])
    _network(ev, fields)
    _dropped(ev, fields.get("packets", ""))
    if "source.user.name" in ev:
        ev["user.name"] = ev["source.user.name"]
    severity = fields.get("severity", "")
    if severity.isdecimal() and len(severity) <= 2:
        ev["event.severity"] = int(severity)
    for algorithm in ("md5", "sha1", "sha256"):
        put_hash(ev, fields.get(f"file_{algorithm}", ""))


def _network(ev: Event, fields: dict[str, str]) -> None:
    """``proto``, ``ifdir`` and the interface on that side."""
    proto = fields.get("proto", "")
    put_transport(ev, proto)
    direction = fields.get("ifdir", "").lower()
    if direction in ("inbound", "outbound"):
        ev["network.direction"] = direction
        if fields.get("ifname"):
            side = "ingress" if direction == "inbound" else "egress"
            ev[f"observer.{side}.interface.name"] = fields["ifname"]


def _dropped(ev: Event, packets: str) -> None:
    """A drop summary (``packets:"<src,sport,dst,dport,proto;if> ..."``) whose packets all
    come from one address: that is the source."""
    if "source.ip" in ev or "<" not in packets:
        return
    sources = set(_DROPPED.findall(packets))
    if len(sources) == 1:
        put_value(ev, "source.ip", "ip", sources.pop().strip())


def _classify(ev: Event, fields: dict[str, str]) -> None:
    action = fields.get("action", "")
    rule_action = fields.get("rule_action", "")
    login = _LOGIN.get(action.lower())
    if login is not None or fields.get("operation") == "Log In":
        ev["event.category"] = ["authentication"]
        ev["event.action"] = action or "Log In"
        ev["event.type"] = ["start"]
        ev["event.outcome"] = login or _audit_outcome(fields) or "success"
        return
    ev["event.category"] = ["network"]
    verdict = action or rule_action
    if verdict:
        put_verdict(ev, verdict.lower())
        ev["event.action"] = action or rule_action
    else:
        ev["event.type"] = ["info"]
    if verdict.lower() == "prevent":
        ev["event.type"] = ["connection", "denied"]
        ev["event.outcome"] = "failure"
    outcome = _audit_outcome(fields)
    if outcome:
        ev["event.outcome"] = outcome
    if {action.lower(), rule_action.lower()} & _ALERT_ACTIONS:
        ev["event.kind"] = "alert"
        ev["event.category"] = ["intrusion_detection", "network"]
    if fields.get("malware_action"):
        ev["event.category"] = ["malware", *ev["event.category"]]


def _audit_outcome(fields: dict[str, str]) -> str | None:
    status = fields.get("audit_status", "").lower()
    return status if status in ("success", "failure") else None
