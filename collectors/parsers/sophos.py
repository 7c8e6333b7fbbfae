"""Sophos Firewall (XG, SFOS) syslog → ``sophos.xg`` events.

Two generations of the same ``key=value`` line, both with ``log_id``, ``log_type``,
``log_component`` and ``log_subtype``:

- SFOS up to 18.5: ``device="SFW" date=2026-11-24 time=08:15:00 timezone="ICT"
  device_name="XG230" device_id=C01001... log_id=010101600001 log_type="Firewall" ...
  src_ip=10.0.0.5 dst_ip=... src_port=... user_name="..."``;
- SFOS 19 and later: ``device_name="SFW" timestamp="2026-11-24T08:15:00+0700"
  device_serial_id="..." log_id="010101600001" log_type="Firewall" ... src_ip="10.0.0.5"``.

The key names differ a little between log types and versions (``src_ip``/``sourceip``,
``tran_src_ip``/``src_trans_ip``, ``sent_bytes``/``bytes_sent``...): :data:`FIELDS` lists, per
ECS field, every key that feeds it, the first present winning. Keys without an ECS home stay
under ``sophos.xg.<key>``. Field names, ``event.action`` (the subtype, lower case) and the
categories follow Elastic's ``sophos`` integration; ``log_type`` picks the categories
(:data:`KINDS`), and ``Event`` lines of an authentication component (firewall, VPN, SSL VPN,
My Account, CLI or GUI logins) are ``authentication`` events whose outcome is their ``status``.

Time: ``timestamp`` (SFOS 19, with its offset) or ``date`` + ``time`` (local: the
``timezone`` abbreviation is ambiguous, so the configured zone applies unless it says UTC/GMT),
else the syslog header's time, else the time of parsing.
"""

from __future__ import annotations

from typing import ClassVar

from collectors.parsers.devices import (
    EMPTY,
    epoch_time,
    event_time,
    field_name,
    local_time,
    put_int,
    put_ip,
    scan_kv,
)
from collectors.parsers.network import IANA, firewall_event, put_syslog, put_verdict
from collectors.parsers.syslog import parse_header
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

Keys = tuple[tuple[str, tuple[str, ...]], ...]
"""(ECS field or side, the device keys that may hold it), the first key present winning."""

IPS: Keys = (("source", ("src_ip", "sourceip", "remote_ip", "remoteinterfaceip", "ipaddress")),
             ("destination", ("dst_ip", "destinationip", "localip", "localinterfaceip")),
             ("source.nat", ("tran_src_ip", "src_trans_ip")),
             ("destination.nat", ("tran_dst_ip", "dst_trans_ip")))
"""ECS side → the keys that may hold its address, the first present winning."""

INTS: Keys = (("source.port", ("src_port",)), ("destination.port", ("dst_port",)),
              ("source.nat.port", ("tran_src_port", "src_trans_port")),
              ("destination.nat.port", ("tran_dst_port", "dst_trans_port")),
              ("source.bytes", ("sent_bytes", "bytes_sent", "bytessent")),
              ("destination.bytes", ("recv_bytes", "bytes_received", "bytesrcv")),
              ("source.packets", ("sent_pkts", "packets_sent")),
              ("destination.packets", ("recv_pkts", "packets_received")),
              ("http.response.status_code", ("httpstatus", "status_code", "httpresponsecode")),
              ("file.size", ("file_size", "filesize")))

FIELDS: Keys = (("user.name", ("user_name", "user", "login_user", "name")),
                ("user.group.name", ("user_gp", "usergroupname")),
                ("rule.id", ("signature_id", "fw_rule_id")),
                ("rule.name", ("fw_rule_name", "signature_msg", "threatname", "virus")),
                ("rule.category", ("classification",)),
                ("observer.ingress.interface.name", ("in_interface", "in_display_interface")),
                ("observer.egress.interface.name", ("out_interface", "out_display_interface")),
                ("observer.ingress.zone", ("srczone", "src_zone")),
                ("observer.egress.zone", ("dstzone", "dst_zone")),
                ("source.mac", ("src_mac",)), ("destination.mac", ("dst_mac",)),
                ("observer.serial_number", ("device_id", "device_serial_id")),
                ("url.original", ("url", "ftp_url")),
                ("url.domain", ("domain", "domainname", "dstdomain")),
                ("url.query", ("querystring",)), ("http.request.method", ("method",)),
                ("http.request.referrer", ("referer",)),
                ("user_agent.original", ("user_agent", "useragent")),
                ("file.name", ("filename", "file_name", "download_file_name", "upload_file_name")),
                ("file.path", ("file_path",)), ("file.hash.sha1", ("sha1sum",)),
                ("file.mime_type", ("filetype", "contenttype")),
                ("email.from.address", ("from_email_address",)),
                ("email.to.address", ("to_email_address",)),
                ("email.subject", ("email_subject", "subject")),
                ("event.reason", ("reason",)), ("message", ("message",)))

_USED = frozenset(k for _, keys in (*IPS, *INTS, *FIELDS) for k in keys) | frozenset(
    ("log_id", "log_type", "log_component", "log_subtype", "status", "date", "time", "timezone",
     "timestamp", "protocol", "application", "app_name", "device", "device_name", "priority",
     "severity", "connevent", "con_event", "duration"))

KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    # log_type → (event.kind, event.category)
    "Firewall": ("event", ("network",)),
    "IDP": ("alert", ("intrusion_detection", "network")),
    "ATP": ("alert", ("malware", "network")),
    "Anti-Virus": ("alert", ("malware",)),
    "Sandbox": ("alert", ("malware",)),
    "Anti-Spam": ("event", ("email",)),
    "Content Filtering": ("event", ("web", "network")),
    "WAF": ("event", ("web",)),
    "Event": ("event", ("host",)),
    "System Health": ("event", ("host",)),
    "Wireless Protection": ("event", ("network",)),
}
_CLEAN = frozenset(("allowed", "clean", "pending", "information", "system"))  # ATP/AV subtypes
_OUTCOME = {"successful": "success", "success": "success", "failed": "failure",
            "failure": "failure"}


class SophosParser:
    """Sophos XG / SFOS ``key=value`` syslog (any log type) → ``sophos.xg``."""

    name: ClassVar[str] = "sophos"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = ("log_id=",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """``log_type=`` and ``log_id=`` both present."""
        return "log_type=" in text and "log_id=" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        head, rest = parse_header(text.rstrip("\r\n"), ctx)
        kv = scan_kv(rest)
        log_type = kv.get("log_type")
        if not log_type or not kv.get("log_id"):
            raise ParseError("not a Sophos firewall log (no log_id and log_type)")
        ev = firewall_event(_time(kv, head, ctx), "sophos.xg", "Sophos", "XG")
        ev["event.module"] = "sophos"
        put_syslog(ev, head)
        observer = head.get("host.name") or kv.get("device_name")
        if observer and observer != "SFW":
            ev["observer.name"] = observer
        _fields(ev, kv)
        _classify(ev, kv, log_type)
        return ev


def _time(kv: dict[str, str], head: Event, ctx: ParseContext) -> str:
    date, clock = kv.get("date"), kv.get("time")
    if date and clock:
        return local_time(f"{date} {clock}", ctx, kv.get("timezone"))
    stamp = kv.get("timestamp", "")
    if "-" in stamp:
        return local_time(stamp, ctx)
    return epoch_time(stamp) or event_time(head, ctx)


def _first(kv: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = kv.get(key)
        if value is not None and value.strip() not in EMPTY:
            return value.strip()
    return None


def _fields(ev: Event, kv: dict[str, str]) -> None:
    for side, keys in IPS:
        for key in keys:
            if put_ip(ev, side, kv.get(key)):
                break
    for target, keys in INTS:
        put_int(ev, target, _first(kv, keys))
    for target, keys in FIELDS:
        value = _first(kv, keys)
        if value is not None:
            ev[target] = value
    proto = _first(kv, ("protocol",))
    if proto:
        ev["network.transport"] = IANA.get(proto, proto.lower())
    app = _first(kv, ("application", "app_name"))
    if app:
        ev["network.protocol"] = app.lower()
    duration = _first(kv, ("duration",))
    if duration and duration.isdecimal() and len(duration) <= 9:
        ev["event.duration"] = int(duration) * 1_000_000_000
    ev["event.code"] = kv["log_id"]
    if len(kv["log_id"]) == 12 and kv["log_id"].isdecimal():
        ev["event.severity"] = int(kv["log_id"][6])  # the log id's 7th digit, as Elastic reads it
    for key, value in kv.items():
        if key not in _USED and value not in EMPTY:
            ev[f"sophos.xg.{field_name(key)}"] = value
    for key in ("log_type", "log_component", "log_subtype", "status", "priority", "severity",
                "connevent", "con_event", "application", "app_name", "device_name", "fw_rule_id"):
        value = kv.get(key)
        if value and value not in EMPTY:
            ev[f"sophos.xg.{key}"] = value


def _classify(ev: Event, kv: dict[str, str], log_type: str) -> None:
    kind, category = KINDS.get(log_type, ("event", ("network",)))
    subtype = (kv.get("log_subtype") or "").lower()
    component = kv.get("log_component") or ""
    status = (kv.get("status") or "").lower()
    if _is_login(log_type, subtype, component, kv.get("message", "")):
        ev["event.category"] = ["authentication"]
        ev["event.action"] = field_name(component).replace(" ", "-") or "authentication"
        ev["event.type"] = ["end"] if "logged out" in kv.get("message", "") else ["start"]
        if status in _OUTCOME:
            ev["event.outcome"] = _OUTCOME[status]
        return
    ev["event.category"] = list(category)
    if kind == "alert" and subtype not in _CLEAN:
        ev["event.kind"] = "alert"
    verdict = subtype or status
    if verdict:
        put_verdict(ev, verdict, "connection" if "network" in category else "info")
    elif log_type == "WAF":  # no subtype: the answer the web server got says what happened
        ev.update({"event.action": "waf", "event.type": ["access"]})
        code = ev.get("http.response.status_code")
        if isinstance(code, int):
            ev["event.outcome"] = "failure" if code >= 400 else "success"
    else:
        ev.update({"event.action": field_name(component) or "log", "event.type": ["info"]})
    connevent = (kv.get("connevent") or kv.get("con_event") or "").lower()
    if connevent in ("start", "interim", "stop") and ev.get("event.outcome") == "success":
        ev["event.type"] = ["connection", "end" if connevent == "stop" else "start", "allowed"]
    if status in _OUTCOME and "event.outcome" not in ev:
        ev["event.outcome"] = _OUTCOME[status]


def _is_login(log_type: str, subtype: str, component: str, message: str) -> bool:
    """Authentication components, and administrators' GUI/CLI logins (``log_subtype=Admin``)."""
    if log_type != "Event":
        return False
    if subtype == "authentication" or "Authentication" in component:
        return True
    return subtype == "admin" and "login" in message
