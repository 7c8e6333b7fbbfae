"""Suricata EVE JSON (one object per line) → ``suricata.eve`` events in ECS.

Every EVE record keeps its own fields under ``suricata.eve.*`` (flattened; the addresses, ports,
protocol and time become ECS fields instead), and gains the ECS fields of what it carries:
``source.*``/``destination.*``, ``network.transport``/``.protocol``/``.community_id``; for alerts
``event.kind: alert`` and ``rule.id``/``.name``/``.category``; ``dns.question.*``,
``dns.answers.*`` (parallel lists: ``dns.answers.data`` holds every answer, as an Elasticsearch
object array flattens it) and ``dns.resolved_ip``; ``url.*``, ``http.*``, ``user_agent.original``;
``tls.client.server_name``, ``tls.client.ja3``...; ``file.*``; flow byte and packet counts.
A record's application-layer objects (an alert's ``http``, a fileinfo's ``http``...) all map.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any, ClassVar

from collectors.parsers.jsonl import flatten, to_timestamp
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

Obj = dict[str, Any]
TOP = {"src_ip": "source.ip", "src_port": "source.port", "dest_ip": "destination.ip",
       "dest_port": "destination.port", "community_id": "network.community_id",
       "host": "observer.name", "in_iface": "observer.ingress.interface.name"}
CATEGORY = {"alert": ["network", "intrusion_detection"], "anomaly": ["network"],
            "fileinfo": ["file"], "stats": ["host"]}
APP_LAYER = frozenset(("dns", "http", "tls", "smb", "ssh", "smtp", "ftp", "krb5", "dcerpc",
                       "dhcp", "nfs", "rdp", "sip", "snmp", "mqtt", "http2", "quic"))
TYPE = {"flow": ["connection", "end"], "fileinfo": ["info"], "stats": ["info"],
        "alert": ["info"], "anomaly": ["info"]}


class SuricataParser:
    """EVE JSON lines → ``suricata.eve``. Tried before the generic JSON lines parser."""

    name: ClassVar[str] = "suricata"
    priority: ClassVar[int] = 5
    markers: ClassVar[tuple[str, ...]] = ('"event_type"',)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """A JSON object with an ``"event_type"`` key."""
        return text[:1] == "{" and '"event_type"' in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One EVE record → event; :class:`ParseError` for invalid JSON or a non-EVE object."""
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):  # ValueError: a number past 4300 digits, too
            raise ParseError("invalid JSON") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("event_type"), str):
            raise ParseError("not a Suricata EVE record (no event_type)")
        if "timestamp" not in obj:
            raise ParseError("EVE record without timestamp")
        if not isinstance(obj["timestamp"], str):  # Duo's event_type records: epoch seconds
            raise ParseError("not a Suricata EVE record (its timestamp is no ISO 8601 text)")
        kind = obj["event_type"]
        ev: Event = {
            "@timestamp": to_timestamp(obj.pop("timestamp"), UTC),
            "event.dataset": "suricata.eve", "event.module": "suricata",
            "event.kind": "alert" if kind == "alert" else ("metric" if kind == "stats" else
                                                            "event"),
            "event.category": list(CATEGORY.get(kind, ["network"])),
            "event.type": list(TYPE.get(kind, ["protocol"])),
            "observer.vendor": "OISF", "observer.product": "Suricata", "observer.type": "ids",
        }
        _put_top(ev, obj)
        if kind in APP_LAYER:
            ev.setdefault("network.protocol", kind)
        flatten(obj, "suricata.eve.", ev)
        for key, put in PUTS.items():
            value = obj.get(key)
            if isinstance(value, dict):
                put(ev, value)
        return ev


def _put_top(ev: Event, obj: Obj) -> None:
    """The record's addresses, ports and protocols → ECS (taken out of ``obj``)."""
    for key, target in TOP.items():
        if key in obj:
            ev[target] = obj.pop(key)
    proto = obj.pop("proto", None)
    if isinstance(proto, str):
        ev["network.transport"] = proto.lower()
    app = obj.get("app_proto")
    if isinstance(app, str) and app not in ("failed", "unknown"):
        ev["network.protocol"] = app.lower()


def _alert(ev: Event, alert: Obj) -> None:
    if "signature_id" in alert:
        ev["rule.id"] = str(alert["signature_id"])
    _copy(ev, alert, {"signature": "rule.name", "category": "rule.category",
                      "severity": "event.severity", "action": "event.action"})
    if "rev" in alert:
        ev["rule.version"] = str(alert["rev"])
    action = alert.get("action")
    if action in ("allowed", "blocked"):
        ev["event.type"] = ["allowed" if action == "allowed" else "denied"]


def _dns(ev: Event, dns: Obj) -> None:
    _copy(ev, dns, {"rrname": "dns.question.name", "rrtype": "dns.question.type",
                    "rcode": "dns.response_code", "type": "dns.type"})
    if "id" in dns:
        ev["dns.id"] = str(dns["id"])
    answers = dns.get("answers")
    if isinstance(answers, list):
        records = [a for a in answers if isinstance(a, dict)]
    elif dns.get("type") == "answer" and "rdata" in dns:  # EVE v1: one record per answer
        records = [dns]
    else:
        records = []
    if records:
        _put_answers(ev, records)


def _put_answers(ev: Event, records: list[Obj]) -> None:
    ev["dns.answers.name"] = [r.get("rrname") for r in records]
    ev["dns.answers.type"] = [r.get("rrtype") for r in records]
    ev["dns.answers.ttl"] = [r.get("ttl") for r in records]
    ev["dns.answers.data"] = [r.get("rdata") for r in records]
    ips = [r["rdata"] for r in records if r.get("rrtype") in ("A", "AAAA") and "rdata" in r]
    if ips:
        ev["dns.resolved_ip"] = ips


def _http(ev: Event, http: Obj) -> None:
    _copy(ev, http, {"hostname": "url.domain", "http_method": "http.request.method",
                     "status": "http.response.status_code", "http_user_agent":
                     "user_agent.original", "http_refer": "http.request.referrer",
                     "length": "http.response.body.bytes",
                     "http_content_type": "http.response.mime_type"})
    url = http.get("url")
    if isinstance(url, str):
        ev["url.original"] = url
        path, sep, query = url.partition("?")
        ev["url.path"] = path
        if sep:
            ev["url.query"] = query
    protocol = http.get("protocol")
    if isinstance(protocol, str) and protocol.startswith("HTTP/"):
        ev["http.version"] = protocol[5:]
    if "hostname" in http:
        ev.setdefault("destination.domain", http["hostname"])


def _tls(ev: Event, tls: Obj) -> None:
    _copy(ev, tls, {"sni": "tls.client.server_name", "subject": "tls.server.subject",
                    "issuerdn": "tls.server.issuer"})
    if "sni" in tls:
        ev.setdefault("destination.domain", tls["sni"])
    version = tls.get("version")
    if isinstance(version, str) and " " in version:
        protocol, _, number = version.partition(" ")
        ev["tls.version_protocol"] = protocol.lower()
        ev["tls.version"] = number
    fingerprint = tls.get("fingerprint")
    if isinstance(fingerprint, str):
        ev["tls.server.hash.sha1"] = fingerprint.replace(":", "").upper()
    for key, target in (("ja3", "tls.client.ja3"), ("ja3s", "tls.server.ja3s")):
        value = tls.get(key)
        if isinstance(value, dict) and "hash" in value:
            ev[target] = value["hash"]
    for key, target in (("notbefore", "tls.server.not_before"),
                        ("notafter", "tls.server.not_after")):
        if isinstance(tls.get(key), str):
            ev[target] = to_timestamp(tls[key], UTC)


def _fileinfo(ev: Event, info: Obj) -> None:
    _copy(ev, info, {"filename": "file.name", "size": "file.size", "sha256": "file.hash.sha256",
                     "md5": "file.hash.md5", "sha1": "file.hash.sha1"})


def _flow(ev: Event, flow: Obj) -> None:
    _copy(ev, flow, {"bytes_toserver": "source.bytes", "bytes_toclient": "destination.bytes",
                     "pkts_toserver": "source.packets", "pkts_toclient": "destination.packets"})
    for key, target in (("start", "event.start"), ("end", "event.end")):
        if isinstance(flow.get(key), str):
            ev[target] = to_timestamp(flow[key], UTC)
    sent, received = flow.get("bytes_toserver"), flow.get("bytes_toclient")
    if isinstance(sent, int) and isinstance(received, int):
        ev["network.bytes"] = sent + received


def _copy(ev: Event, obj: Obj, keys: dict[str, str]) -> None:
    for key, target in keys.items():
        value = obj.get(key)
        if value is not None and value != "":
            ev[target] = value


PUTS: dict[str, Callable[[Event, Obj], None]] = {
    "alert": _alert, "dns": _dns, "http": _http, "tls": _tls, "fileinfo": _fileinfo,
    "flow": _flow,
}
"""EVE object → the function adding its ECS fields."""
