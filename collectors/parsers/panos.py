"""Palo Alto Networks PAN-OS syslog (the default BSD/IETF CSV form) → ECS events of dataset
``panw.panos``.

Every record starts ``FUTURE_USE,Receive Time,Serial Number,Type,Threat/Content Type,FUTURE_USE,
Generated Time,...``; the rest follows the type's documented field order (PAN-OS 10.x/11.x
"Syslog Field Descriptions"; :data:`LAYOUTS` names each column, ``-`` for FUTURE_USE). Older
releases send fewer columns and newer ones more: columns are read by position, missing ones are
simply absent, extra ones ignored, an empty trailing column is nothing. Quoted columns may hold
commas. The record may follow a syslog header (RFC 3164 with or without a host, RFC 5424, ISO),
a bare PRI, or nothing.

The mapping follows Elastic's ``panw`` integration: addresses, ports and NAT, zones as
``observer.ingress/egress.zone``, interfaces, ``rule.name`` (the security rule), users split into
name and domain (``CORP\\jdoe``, ``jdoe@corp``), ``network.application``, bytes and packets,
``@timestamp`` from the generated time (device local time, ``ctx.tz``) and ``event.created``
from the receive time. THREAT records (URL filtering, file, virus, spyware, vulnerability,
WildFire...) are ``event.kind: alert``. Differences, for the project's conventions:
``event.action`` is the firewall's verdict (``allow``, ``reset-both``...; ``panw.panos.sub_type``
keeps the subtype), GlobalProtect's ``source.ip`` is the client's public address (the tunnel
address is ``host.ip``), a CONFIG record's client address is ``source.ip``, and SYSTEM
authentication messages yield the user and address their text names.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from typing import ClassVar

from collectors.parsers.cef import is_ip, put_value, syslog_prefix
from collectors.parsers.network import IANA, firewall_event, put_syslog
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

COMMON = ("-", "receive_time", "serial", "type", "subtype", "-", "generated_time")
"""The first seven columns of every record."""

_TRAFFIC_HEAD = """src dst natsrc natdst rule srcuser dstuser app vsys from to inbound_if
    outbound_if logset - sessionid repeatcnt sport dport natsport natdport flags proto action"""
LAYOUTS: dict[str, tuple[str, ...]] = {name: tuple(spec.split()) for name, spec in {
    "TRAFFIC": _TRAFFIC_HEAD + """ bytes bytes_sent bytes_received packets start elapsed
        category - seqno actionflags srcloc dstloc - pkts_sent pkts_received session_end_reason
        dg1 dg2 dg3 dg4 vsys_name device_name action_source src_uuid dst_uuid imsi imei
        parent_session_id parent_start_time tunnel assoc_id chunks chunks_sent chunks_received
        rule_uuid""",
    "THREAT": _TRAFFIC_HEAD.replace(" - ", " time_logged ") + """ misc threatid category
        severity direction seqno actionflags srcloc dstloc - contenttype pcap_id filedigest cloud
        url_idx user_agent filetype xff referer sender subject recipient reportid dg1 dg2 dg3
        dg4 vsys_name device_name - src_uuid dst_uuid http_method imsi imei parent_session_id
        parent_start_time tunnel thr_category contentver - assoc_id ppid http_headers
        url_category_list rule_uuid""",
    "DECRYPTION": _TRAFFIC_HEAD.replace(" - ", " time_logged ") + """ tunnel - - src_uuid
        dst_uuid rule_uuid hs_stage_c2f hs_stage_f2s tls_version tls_keyxchg tls_enc tls_auth
        policy_name ec_curve err_index root_status chain_status proxy_type cert_serial
        fingerprint notbefore notafter cert_ver cert_size cn_len issuer_len rootcn_len sni_len
        cert_flags cn issuer_cn root_cn sni error""",
    "SYSTEM": """vsys eventid object - - module severity opaque seqno actionflags dg1 dg2 dg3
        dg4 vsys_name device_name""",
    "CONFIG": """host vsys cmd admin client result path before_change_detail
        after_change_detail seqno actionflags dg1 dg2 dg3 dg4 vsys_name device_name""",
    "GLOBALPROTECT": """vsys eventid stage auth_method tunnel_type srcuser srcregion
        machinename public_ip public_ipv6 private_ip private_ipv6 hostid serialnumber client_ver
        client_os client_os_ver repeatcnt reason error opaque status location login_duration
        connect_method error_code portal seqno actionflags high_res_timestamp selection_type
        response_time priority attempted_gateways gateway dg1 dg2 dg3 dg4 vsys_name
        device_name""",
    "USERID": """vsys ip user datasourcename eventid repeatcnt timeout beginport endport
        datasource datasourcetype seqno actionflags dg1 dg2 dg3 dg4 vsys_name device_name
        vsys_id factortype factorcompletiontime factorno ugflags userbysource""",
    "AUTHENTICATION": """vsys ip user normalize_user object authpolicy repeatcnt authid vendor
        logset serverprofile desc clienttype event factorno seqno actionflags dg1 dg2 dg3 dg4
        vsys_name device_name vsys_id authproto rule_uuid""",
    "HIPMATCH": """srcuser vsys machinename os src matchname repeatcnt matchtype - - seqno
        actionflags dg1 dg2 dg3 dg4 vsys_name device_name vsys_id srcipv6 hostid serialnumber
        mac""",
}.items()}
"""Type → its columns after :data:`COMMON`, as the PAN-OS 10.x/11.x syslog field tables order
them (``-``: FUTURE_USE). ``AUTH`` and ``HIP-MATCH`` are other spellings of two of them."""
LAYOUTS["AUTH"] = LAYOUTS["AUTHENTICATION"]
LAYOUTS["HIP-MATCH"] = LAYOUTS["HIPMATCH"]
OTHER_TYPES = ("CORRELATION", "IPTAG", "GTP", "SCTP", "START", "END", "TUNNEL")
"""Types recognised but read for their common columns only."""

_TYPES = "|".join(re.escape(t) for t in sorted((*LAYOUTS, *OTHER_TYPES), key=len, reverse=True))
# Where the record starts: its first column (FUTURE_USE, often "1") begins the line or follows
# white space or a PRI, and the type is the fourth column. Bounded columns: a long run of text
# is scanned once, not from every position in it.
_RECORD = re.compile(r"(?<![^\s>])([^\s,<>\"]{0,16}),((?:19|20)\d\d[/-]\d\d[/-]\d\d[ T]"
                     r"[^,]{4,40}),([^,]{0,64}),(" + _TYPES + "),")
_PAN_DENIED = frozenset(("deny", "drop", "drop-icmp", "reset-client", "reset-server",
                         "reset-both", "block-url", "block-ip", "random-drop", "sinkhole",
                         "block", "block-continue", "block-override", "override-lockout"))
_PAN_ALLOWED = frozenset(("allow", "alert", "continue", "override"))
_NO_ADDRESS = frozenset(("0.0.0.0", "::", ""))
_DIRECT = {
    "src": ("source.ip", "ip"), "dst": ("destination.ip", "ip"),
    "sport": ("source.port", "int"), "dport": ("destination.port", "int"),
    "rule": ("rule.name", "text"), "rule_uuid": ("rule.uuid", "text"),
    "app": ("network.application", "lower"), "from": ("observer.ingress.zone", "text"),
    "to": ("observer.egress.zone", "text"), "inbound_if": ("observer.ingress.interface.name",
                                                           "text"),
    "outbound_if": ("observer.egress.interface.name", "text"), "bytes": ("network.bytes", "int"),
    "bytes_sent": ("source.bytes", "int"), "bytes_received": ("destination.bytes", "int"),
    "packets": ("network.packets", "int"), "pkts_sent": ("source.packets", "int"),
    "pkts_received": ("destination.packets", "int"), "severity": ("log.level", "text"),
    "device_name": ("observer.hostname", "text"), "http_method": ("http.request.method", "text"),
    "referer": ("http.request.referrer", "text"), "user_agent": ("user_agent.original", "text"),
    "filetype": ("file.type", "text"), "sni": ("tls.client.server_name", "text"),
    "tls_enc": ("tls.cipher", "text"), "ec_curve": ("tls.curve", "text"),
    "opaque": ("message", "text"), "desc": ("message", "text"),
    "machinename": ("host.name", "text"), "os": ("host.os.full", "text"),
    "client_os_ver": ("host.os.full", "text"), "reason": ("event.reason", "text"),
}
"""Column → (ECS field, kind), the same for every type that has the column."""


class PanosParser:
    """PAN-OS CSV syslog records → ``panw.panos`` events (see the module)."""

    name: ClassVar[str] = "panos"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = (",20",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """A ``,20`` (the receive time's century), seven commas at least, and a record start
        with a known type (the search only on the rare lines that pass the first two)."""
        return ",20" in text and text.count(",") > 6 and _RECORD.search(text) is not None

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One record → event; :class:`ParseError` when no PAN-OS record is found."""
        m = _RECORD.search(text)
        if m is None:
            raise ParseError("not a PAN-OS record (no FUTURE_USE,time,serial,TYPE, columns)")
        cols = _columns(text[m.start(1):].rstrip("\r\n"))
        kind = m[4]
        if len(cols) < 4 or cols[3] != kind:  # a quote opened in the first columns
            raise ParseError("unreadable PAN-OS CSV: the first columns do not split")
        head = syslog_prefix(text, m.start(1), ctx)
        names = COMMON + LAYOUTS.get(kind, ())
        row = {n: v.strip() for n, v in zip(names, cols, strict=False)
               if n != "-" and v.strip()}
        ev = firewall_event(_time(row.get("generated_time", ""), head, ctx), "panw.panos",
                            "Palo Alto Networks", "PAN-OS")
        ev["event.module"] = "panw"
        put_syslog(ev, head)
        created = _device_time(row.get("receive_time", ""), ctx)
        if created:
            ev["event.created"] = created
        _common(ev, row, head)
        _TYPE_FIELDS.get(kind.replace("-", ""), _other)(ev, row)
        return ev


def _columns(record: str) -> list[str]:
    """The CSV columns of ``record`` (quoted columns may hold commas)."""
    try:
        return next(csv.reader([record]))
    except (csv.Error, StopIteration) as exc:
        raise ParseError(f"unreadable PAN-OS CSV: {exc}") from None


_PAN_TIME = re.compile(r"(\d{4})[/-](\d\d)[/-](\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d{1,9})?"
                       r"(Z|[+-]\d\d:?\d\d)?")


def _device_time(value: str, ctx: ParseContext) -> str | None:
    """``2026/11/24 08:15:00`` (device local time, ``ctx.tz``) or ISO 8601 with a zone."""
    m = _PAN_TIME.fullmatch(value)
    if m is None:
        return None
    text = f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}{(m[7] or '')[:7]}"
    zone = m[8]
    if zone:
        text += "+00:00" if zone == "Z" else zone
    try:
        dt = datetime.fromisoformat(text)
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=ctx.tz))
    except (ValueError, OverflowError):
        return None


def _time(value: str, head: Event, ctx: ParseContext) -> str:
    stamp = _device_time(value, ctx)
    if stamp:
        return stamp
    header = head.get("@timestamp")
    return header if isinstance(header, str) and header else format_ts(ctx.now)


def _common(ev: Event, row: dict[str, str], head: Event) -> None:
    """The columns every type maps the same way, and the raw columns under ``panw.panos.*``."""
    for name, value in row.items():
        if name not in ("generated_time", "receive_time"):
            ev[f"panw.panos.{name}"] = value
    if row.get("serial"):
        ev["observer.serial_number"] = row["serial"]
    if "subtype" in row:
        ev["panw.panos.sub_type"] = row["subtype"]
    for name, value in row.items():
        mapped = _DIRECT.get(name)
        if mapped is not None:
            put_value(ev, mapped[0], mapped[1], value)
    observer = ev.get("observer.hostname") or head.get("host.name")
    if observer:
        ev["observer.name"] = observer
    _nat(ev, row)
    for column, side in (("srcuser", "source"), ("user", "source"), ("dstuser", "destination")):
        if row.get(column):
            _put_user(ev, side, row[column])
    if "source.user.name" in ev:
        ev["user.name"] = ev["source.user.name"]
        if "source.user.domain" in ev:
            ev["user.domain"] = ev["source.user.domain"]
    proto = row.get("proto", "")
    if proto:
        ev["network.transport"] = IANA.get(proto, proto.lower())
    if "source.ip" in ev:
        ev["network.type"] = "ipv6" if ":" in ev["source.ip"] else "ipv4"


def _nat(ev: Event, row: dict[str, str]) -> None:
    """``natsrc``/``natdst`` and their ports, unless the firewall wrote 0.0.0.0 (no NAT)."""
    for side, ip, port in (("source", "natsrc", "natsport"), ("destination", "natdst",
                                                              "natdport")):
        address = row.get(ip, "")
        if address not in _NO_ADDRESS:
            put_value(ev, f"{side}.nat.ip", "ip", address)
            if row.get(port, "0") != "0":
                put_value(ev, f"{side}.nat.port", "int", row[port])


def _put_user(ev: Event, side: str, value: str) -> None:
    """``CORP\\jdoe`` and ``jdoe@corp.local`` → name and domain; else the name as written."""
    if "\\" in value:
        domain, _, name = value.rstrip("\\").rpartition("\\")
        domain = domain.rstrip("\\")
    elif "@" in value and not value.startswith("@"):
        name, _, domain = value.partition("@")
    else:
        name, domain = value, ""
    if name:
        ev[f"{side}.user.name"] = name
        if domain:
            ev[f"{side}.user.domain"] = domain


def _verdict(ev: Event, kinds: list[str]) -> None:
    """``event.action`` = the verdict (``reset both`` spelt ``reset-both``), and
    ``event.type``/``event.outcome`` from it."""
    action = ev.get("panw.panos.action", "").lower().replace(" ", "-")
    if not action:
        ev["event.type"] = kinds
        return
    ev["event.action"] = action
    if action in _PAN_DENIED:
        ev["event.type"] = [*kinds, "denied"]
        ev["event.outcome"] = "failure"
    elif action in _PAN_ALLOWED:
        ev["event.type"] = [*kinds, "allowed"]
        ev["event.outcome"] = "success"
    else:
        ev["event.type"] = kinds


def _traffic(ev: Event, row: dict[str, str]) -> None:
    sub = row.get("subtype", "")
    kinds = ["connection", *({"start": ["start"], "end": ["end"]}.get(sub, []))]
    _verdict(ev, kinds)
    if row.get("category"):
        ev["panw.panos.url.category"] = row["category"]


_THREAT_LEVELS = {"critical": 1, "high": 2, "medium": 3, "low": 4, "informational": 5}
"""THREAT severity → ``event.severity`` as Elastic's pipeline numbers it."""


def _threat(ev: Event, row: dict[str, str]) -> None:
    """THREAT and its subtypes: an alert naming the threat; ``misc`` is the URL (url), a file
    name or path (file, virus, wildfire, vulnerability)."""
    sub = row.get("subtype", "")
    ev["event.kind"] = "alert"
    ev["event.category"] = ["intrusion_detection", "threat", "network",
                            *(["malware"] if sub in ("virus", "wildfire-virus") else [])]
    _verdict(ev, ["info"])
    level = _THREAT_LEVELS.get(row.get("severity", "").lower())
    if level is not None:
        ev["event.severity"] = level
    name, tid = _threat_id(row.get("threatid", ""))
    if tid == "9999" and not name:
        name = "URL-filtering"
    if name:
        ev["panw.panos.threat.name"] = name
    if tid:
        ev["panw.panos.threat.id"] = tid
    if row.get("category"):
        ev["panw.panos.url.category"] = row["category"]
    direction = row.get("direction", "")
    if direction in ("0", "client-to-server", "1", "server-to-client"):
        ev["network.direction"] = "inbound" if direction in ("0", "client-to-server") \
            else "outbound"
    _misc(ev, sub, row.get("misc", ""))


def _threat_id(value: str) -> tuple[str, str]:
    """``Eicar Test File(100000)`` → (name, id); ``(9999)`` → ("", "9999")."""
    if value.endswith(")"):
        start = value.rfind("(")
        number = value[start + 1:-1].strip()
        if start >= 0 and number.isdecimal():
            return value[:start].strip(), number
    return value, ""


def _misc(ev: Event, sub: str, misc: str) -> None:
    if not misc:
        return
    if sub == "url":
        ev["url.original"] = misc
        domain = misc.split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
        if domain:
            ev["url.domain"] = domain
    elif sub in ("file", "virus", "wildfire", "wildfire-virus", "vulnerability", "spyware"):
        if sub == "file" and ("/" in misc or "\\" in misc):
            ev["file.path"] = misc
            ev["file.name"] = re.split(r"[\\/]", misc)[-1]
        elif "/" in misc and sub in ("virus", "vulnerability", "spyware"):
            ev["url.original"] = misc
        else:
            ev["file.name"] = misc


_SYS_FROM = re.compile(r"(?i)\b(?:from|source(?: address)?|client ip):?\s*'?"
                       r"([0-9A-Fa-f][0-9A-Fa-f.:]{2,44})")
_SYS_USER = re.compile(r"(?i)\buser(?: name)?:? '([^']{1,256})'|\b(?:for )?user "
                       r"([\w.@\\-]{1,256}) (?:logged|via|authenticated|failed|timed)")


def _system(ev: Event, row: dict[str, str]) -> None:
    """SYSTEM: the event id is the action; authentication messages name a user and address."""
    eventid = row.get("eventid", "")
    if eventid:
        ev["event.action"] = eventid
    text = row.get("opaque", "")
    addr = _SYS_FROM.search(text)
    if addr and is_ip(addr[1].rstrip(".")):
        ev["source.ip"] = addr[1].rstrip(".")
    user = _SYS_USER.search(text)
    if user:
        _put_user(ev, "source", user[1] or user[2])
        ev["user.name"] = ev.get("source.user.name", "")
    low = f"{row.get('subtype', '')} {eventid}".lower()
    if "auth" in low or "login" in low or "logout" in low:
        ev["event.category"] = ["authentication"]
        ev["event.type"] = ["start"]
        if "fail" in low:
            ev["event.outcome"] = "failure"
        elif "succ" in low or "login" in low:
            ev["event.outcome"] = "success"
    else:
        ev["event.category"] = ["configuration"]
        ev["event.type"] = ["info"]


def _config(ev: Event, row: dict[str, str]) -> None:
    ev["event.category"] = ["configuration"]
    ev["event.type"] = ["change"]
    if row.get("cmd"):
        ev["event.action"] = row["cmd"]
    put_value(ev, "source.ip", "ip", row.get("host", ""))
    if row.get("admin"):
        ev["user.name"] = row["admin"]
    result = row.get("result", "").lower()
    ev["event.outcome"] = {"succeeded": "success", "failed": "failure"}.get(result, "unknown")


_GP_AUTH = re.compile(r"-(?:auth|login|logout)$")


def _globalprotect(ev: Event, row: dict[str, str]) -> None:
    """GlobalProtect: the public address connects (``source.ip``), the tunnel address is the
    host's; portal and gateway authentication are authentication events."""
    for column in ("public_ip", "public_ipv6"):
        if row.get(column, "") not in _NO_ADDRESS and "source.ip" not in ev:
            put_value(ev, "source.ip", "ip", row[column])
    for column in ("private_ip", "private_ipv6"):
        if row.get(column, "") not in _NO_ADDRESS and "host.ip" not in ev:
            put_value(ev, "host.ip", "ip", row[column])
    eventid = row.get("eventid", "")
    if eventid:
        ev["event.action"] = eventid
    status = row.get("status", "").lower()
    if status in ("success", "failure"):
        ev["event.outcome"] = status
    if _GP_AUTH.search(eventid):
        ev["event.category"] = ["authentication", "network"]
        ev["event.type"] = ["end" if "logout" in eventid else "start"]
    else:
        ev["event.type"] = ["info"]


def _userid(ev: Event, row: dict[str, str]) -> None:
    """USER-ID: an address mapped to a user; the subtype says login or logout."""
    put_value(ev, "source.ip", "ip", row.get("ip", ""))
    ev["event.category"] = ["network", "iam"]
    ev["event.type"] = ["info"]
    action = row.get("subtype") or row.get("eventid")
    if action:
        ev["event.action"] = action


def _authentication(ev: Event, row: dict[str, str]) -> None:
    put_value(ev, "source.ip", "ip", row.get("ip", ""))
    if "user.name" not in ev and row.get("normalize_user"):
        _put_user(ev, "source", row["normalize_user"])
        ev["user.name"] = ev.get("source.user.name", "")
    if row.get("authpolicy"):
        ev["rule.name"] = row["authpolicy"]
    ev["event.category"] = ["authentication"]
    ev["event.type"] = ["start"]
    event = row.get("event", "")
    if event:
        ev["event.action"] = event
        low = event.lower()
        if "fail" in low:
            ev["event.outcome"] = "failure"
        elif "success" in low:
            ev["event.outcome"] = "success"


def _hipmatch(ev: Event, row: dict[str, str]) -> None:
    if row.get("srcipv6", "") not in _NO_ADDRESS:
        put_value(ev, "source.ip", "ip", row["srcipv6"])
    if row.get("mac"):
        ev["host.mac"] = row["mac"]
    ev["event.type"] = ["info"]
    ev["event.action"] = "hip-match"


def _decryption(ev: Event, row: dict[str, str]) -> None:
    _verdict(ev, ["connection"])
    ev["event.outcome"] = "failure" if row.get("error") else "success"
    version = row.get("tls_version", "")
    if version[:3].upper() == "TLS" and len(version) > 3:
        ev["tls.version_protocol"] = "tls"
        ev["tls.version"] = version[3:].strip()


def _other(ev: Event, row: dict[str, str]) -> None:
    if row.get("subtype"):
        ev["event.action"] = row["subtype"]
    ev["event.type"] = ["info"]


_TYPE_FIELDS = {"TRAFFIC": _traffic, "THREAT": _threat, "SYSTEM": _system, "CONFIG": _config,
                "GLOBALPROTECT": _globalprotect, "USERID": _userid,
                "AUTHENTICATION": _authentication, "AUTH": _authentication,
                "HIPMATCH": _hipmatch, "DECRYPTION": _decryption}
