"""Kaspersky Security Center's syslog export → ``kaspersky.ksc`` events.

KSC sends each event of its managed applications as an RFC 5424 message: the application and
version as APP-NAME (``KES|11.0.0.0``), the event type as MSGID, the event's attributes as
structured data ``[event@23668 p1=".." ... p9=".." et="GNRL_EV_VIRUS_FOUND" tdn="File Threat
Protection" etdn="Malicious object detected" hdn="WKS-01" hip="10.0.0.5" gn="Managed devices"]``
and the event's description as the message, whose lines (``Result description: Detected``,
``Name: EICAR-Test-File``, ``Object: C:\\...``, ``User: DOM\\bob (Active user)``, ``SHA256:
...``) KSC joins with a literal ``\\r\\n``.

Mapping (chosen so that Sigma's ``category: antivirus`` rules match, see
rules/pipelines/antivirus.yml): the threat's name is ``rule.name`` (ECS: "the name of the rule or
signature generating the event"; Sigma's ``Signature``), the object's path ``file.path`` (Sigma's
``Filename``) with ``file.name`` and ``file.hash.*``; the managed device is ``host.name`` (hdn)
and ``host.ip`` (hip), and, as KSC's own CEF export has it (``dst=``), ``destination.ip``; for a
network attack (``GNRL_EV_ATTACK_DETECTED``) the attacker is ``source.ip`` and the attacked
port ``destination.port``. ``event.code`` is the event type, ``event.action`` its display name;
detections (viruses, suspicious objects, attacks, blocked objects, launches and URLs) are
``event.kind: alert``.

The description's labels are English; KSC in another language writes them translated, so the
positional attributes are read too (KES: ``p1`` SHA256, ``p2`` the object, ``p5`` the threat,
``p7`` the user; attacks: ``p1`` the attack, ``p2`` the protocol, ``p3`` the attacker's IPv4 as
a number, ``p4`` the local port), each only when it has the expected shape.
"""

from __future__ import annotations

import json
import re
from typing import ClassVar

from collectors.parsers import generic
from collectors.parsers.syslog import parse_header
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

SD = "log.syslog.structured_data.event@23668."
# KSC joins the description's lines with a literal "\r\n"; a lone "\n" is part of a path
# or a user name (C:\new\..., DOM\nam), so only that pair and real line ends split.
_NEWLINE = re.compile(r"\\r\\n|\r\n|\n|\r")
_SHA256 = re.compile(r"[0-9A-Fa-f]{64}")
_MD5 = re.compile(r"[0-9A-Fa-f]{32}")
_ATTACK_OBJECT = re.compile(r"(\w+) from ([0-9A-Fa-f:.]+) at ([0-9A-Fa-f:.]+?)(?::(\d{1,5}))?$")
_DETECTED = re.compile(r"(?:Object detected|Detected): (\S+) (.+)")
_ALERT_WORDS = ("VIRUS", "SUSPICIOUS", "ATTACK", "OBJECT_CURED", "OBJECT_DELETED",
                "OBJECT_QUARANTINED", "OBJECT_NOTCURED", "OBJECT_BLOCKED", "LAUNCH_DENIED",
                "URL_BLOCKED", "DETECT", "THREAT")
# Event type word → event.category of a detection; the others are malware.
_CATEGORIES = (("ATTACK", "intrusion_detection"), ("LAUNCH_DENIED", "process"),
               ("URL_BLOCKED", "web"), ("WEB_", "web"))
_LABELS = {
    "name": "rule.name", "object": "file.path", "object name": "file.path",
    "path to object": "file.path", "path": "file.path", "type": "kaspersky.ksc.threat_type",
    "user": "user.name", "result description": "kaspersky.ksc.result",
    "result": "kaspersky.ksc.result",
    "sha256": "file.hash.sha256", "file sha256 hash": "file.hash.sha256", "md5": "file.hash.md5",
    "md5 file hash": "file.hash.md5", "process name": "process.name",
    "application name": "process.name", "pid": "process.pid", "reason": "event.reason",
    "component": "kaspersky.ksc.component", "url": "url.original", "web address": "url.original",
    "database release date": "kaspersky.ksc.database_release_date",
    "object type": "kaspersky.ksc.object_type",
}


class KasperskyKscParser:
    """KSC's syslog export (RFC 5424 with ``event@23668`` structured data) → ``kaspersky.ksc``."""

    name: ClassVar[str] = "kaspersky_ksc"
    priority: ClassVar[int] = 11
    markers: ClassVar[tuple[str, ...]] = ("[event@23668 ",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """The ``[event@23668`` structured data appears."""
        return "[event@23668 " in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One message → event; :class:`ParseError` otherwise."""
        head, message = parse_header(text.rstrip("\r\n"), ctx)
        if "@timestamp" not in head or not any(k.startswith(SD) for k in head):
            raise ParseError("not a Kaspersky Security Center event (no RFC 5424 header with "
                             "event@23668 structured data)")
        sd = {k[len(SD):]: v for k, v in head.items() if k.startswith(SD)}
        ev: Event = {"@timestamp": head["@timestamp"], "event.dataset": "kaspersky.ksc",
                     "event.module": "kaspersky", "event.kind": "event",
                     "observer.vendor": "Kaspersky", "observer.type": "antivirus"}
        for key, value in head.items():
            if key.startswith("log.syslog.") and not key.startswith(SD):
                ev[key] = value
        _application(ev, str(head.get("log.syslog.appname", "")))
        _attributes(ev, sd, str(head.get("log.syslog.msgid", "")))
        _description(ev, message)
        _positional(ev, sd)
        _finish(ev, message)
        return ev


def _application(ev: Event, appname: str) -> None:
    """``KES|11.0.0.0`` → observer.product / observer.version."""
    product, _, version = appname.partition("|")
    if product:
        ev["observer.product"] = product
    if version:
        ev["observer.version"] = version


def _attributes(ev: Event, sd: dict[str, str], msgid: str) -> None:
    event_type = sd.get("et") or msgid
    if event_type:
        ev["event.code"] = event_type
        ev["kaspersky.ksc.event_type"] = event_type
        if any(word in event_type for word in _ALERT_WORDS):
            ev["event.kind"] = "alert"
    if sd.get("etdn"):
        ev["event.action"] = sd["etdn"]
    if sd.get("tdn"):
        ev["kaspersky.ksc.component"] = sd["tdn"]
    if sd.get("hdn"):
        ev["host.name"] = ev["host.hostname"] = sd["hdn"]
    if sd.get("hip") and generic.is_ip(sd["hip"]):
        ev["host.ip"] = [sd["hip"]]
    if sd.get("gn"):
        ev["kaspersky.ksc.group"] = sd["gn"]
    if sd.get("kscfqdn"):
        ev["observer.name"] = sd["kscfqdn"]
    for key, value in sd.items():
        if key.startswith("p") and key[1:].isdigit():
            ev[f"kaspersky.ksc.{key}"] = value


def _description(ev: Event, message: str) -> None:
    """``Label: value`` lines of the description (English labels)."""
    for line in _NEWLINE.split(message.removeprefix("\ufeff")):
        label, sep, value = line.partition(": ")
        value = value.strip()
        if not sep or not value:
            continue
        key = _LABELS.get(label.strip().lower())
        detected = _DETECTED.match(line) if key is None else None
        if detected is not None:  # WSEE: "Object detected: Virus EICAR-Test-File"
            ev.setdefault("kaspersky.ksc.threat_type", detected[1])
            ev.setdefault("rule.name", detected[2])
        elif key == "file.path":
            _object(ev, value)
        elif key == "user.name":
            ev.setdefault(key, value.split(" (", 1)[0])
        elif key == "process.pid":
            _pid(ev, value)
        elif key is not None:
            ev.setdefault(key, value)


def _pid(ev: Event, value: str) -> None:
    if value.isascii() and value.isdigit() and len(value) <= 18:
        ev["process.pid"] = int(value)


def _object(ev: Event, value: str) -> None:
    """The detected object: a file path, or ``TCP from IP at IP:PORT`` for a network attack."""
    attack = _ATTACK_OBJECT.match(value)
    if attack is not None:
        proto, attacker, local, port = attack.groups()
        if generic.is_ip(attacker):
            ev["source.ip"] = attacker
        if generic.is_ip(local):
            ev["destination.ip"] = local
        generic.put_port(ev, "destination.port", port)
        ev["network.transport"] = proto.lower()
        return
    ev.setdefault("file.path", value)


def _positional(ev: Event, sd: dict[str, str]) -> None:
    """``p1``..``p9`` where the description did not say (localised KSC, shorter messages)."""
    event_type = str(ev.get("event.code", ""))
    if event_type == "GNRL_EV_ATTACK_DETECTED":
        if sd.get("p1"):
            ev.setdefault("rule.name", sd["p1"])
        attacker = _ipv4(sd.get("p3", ""))
        if attacker:
            ev.setdefault("source.ip", attacker)
        if sd.get("p2"):
            ev.setdefault("network.transport", sd["p2"].lower())
        if "destination.port" not in ev:
            generic.put_port(ev, "destination.port", sd.get("p4"))
        return
    if _SHA256.fullmatch(sd.get("p1", "")):
        ev.setdefault("file.hash.sha256", sd["p1"].lower())
    value = sd.get("p2", "")  # KES and WSEE: the object
    if ("\\" in value or "/" in value) and "file.path" not in ev:
        ev["file.path"] = value
    if sd.get("p5") and "rule.name" not in ev and "VIRUS" in event_type:
        ev["rule.name"] = sd["p5"]
    if sd.get("p7") and "user.name" not in ev and "\\" in sd["p7"]:
        ev["user.name"] = sd["p7"]
    md5 = _p9_md5(sd.get("p9", ""))
    if md5:
        ev.setdefault("file.hash.md5", md5)


def _ipv4(value: str) -> str | None:
    """KSC writes IPv4 addresses as unsigned 32-bit numbers (``168234606`` = 10.7.14.110)."""
    if generic.is_ip(value):
        return value
    if value.isascii() and value.isdigit() and len(value) <= 10 and 0 < int(value) < 1 << 32:
        n = int(value)
        return ".".join(str((n >> shift) & 255) for shift in (24, 16, 8, 0))
    return None


def _p9_md5(value: str) -> str | None:
    if '"md5"' not in value:
        return None
    try:
        found = json.loads(value).get("md5")
    except (ValueError, AttributeError):
        return None
    return found.lower() if isinstance(found, str) and _MD5.fullmatch(found) else None


def _finish(ev: Event, message: str) -> None:
    path = ev.get("file.path")
    if isinstance(path, str):
        ev["file.name"] = path.replace("/", "\\").rpartition("\\")[2]
    for key in ("file.hash.sha256", "file.hash.md5"):
        if isinstance(ev.get(key), str):
            ev[key] = ev[key].lower()
    if ev.get("event.kind") == "alert":
        code = str(ev.get("event.code"))
        ev["event.category"] = [next((c for word, c in _CATEGORIES if word in code),
                                     "malware")]
        ev["event.type"] = ["info", "denied"] if "BLOCK" in code or "DENIED" in code \
            else ["info"]
        hosts = ev.get("host.ip")
        if isinstance(hosts, list) and "destination.ip" not in ev:
            ev["destination.ip"] = hosts[0]
    ips = [ev[k] for k in ("source.ip", "destination.ip") if k in ev]
    if ips:
        ev["related.ip"] = list(dict.fromkeys(ips))
    if "user.name" in ev:
        ev["related.user"] = [ev["user.name"]]
    ev["message"] = message.removeprefix("\ufeff")
