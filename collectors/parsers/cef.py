"""ArcSight Common Event Format (CEF) → ECS events of dataset ``cef``.

``CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|
Extension`` as "Implementing ArcSight CEF" (revision 25) defines it: ``\\|`` and ``\\\\`` escape
in the header; the extension is ``key=value`` pairs where a value runs to the space before the
next ``key=`` (so values hold spaces) and ``\\=``, ``\\\\``, ``\\n``, ``\\r`` are escapes. The line
may come with a syslog header before ``CEF:`` (RFC 3164, RFC 5424, ISO; read by
:func:`~collectors.parsers.syslog.parse_header`), a bare PRI, or nothing at all.

The standard extension keys (short or full names) map to ECS as Elastic's ``decode_cef`` does
(:data:`ECS_KEYS`), with these differences, each for the project's conventions: ``suser`` is also
``user.name`` (``duser`` when there is no ``suser``), ``app`` is ``network.protocol``,
``dvc``/``dvchost`` are the observer (``observer.ip``/``.hostname``/``.name``), a ``shost`` or
``dhost`` that is an address fills ``source.ip``/``destination.ip`` when ``src``/``dst`` are absent,
and ``cat`` stays a CEF field (its values are the vendor's, not ECS categories). Every key is kept
under ``cef.extensions.<full name>``; the header under ``cef.*``.

Antivirus detections (:func:`threat_name`) become ``event.kind: alert``, ``event.category:
malware`` with the malware name in ``rule.name`` and the object in ``file.path``: what Sigma's
``category: antivirus`` rules read (rules/pipelines/antivirus.yml).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectors.parsers.network import IANA, put_syslog, put_verdict
from collectors.parsers.syslog import MONTHS, parse_header
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

# The seven header fields; each but the last ends with an unescaped "|". Possessive: no
# backtracking on a long field without its pipe.
_PART = r"((?:[^|\\]|\\.)*+)"
_HEADER = re.compile(r"CEF:[ \t]*(\d{1,3}(?:\.\d{1,3})?)\|" + (_PART + r"\|") * 5 + _PART
                     + r"(?:\||$)", re.DOTALL)
# A key begins a word (start of the extension or after white space): a value's "a=b" inside a
# word (a URL query) is no key, nor is an escaped "\=".
_KEY = re.compile(r"(?<!\S)([A-Za-z0-9_][\w.\-\[\],]*+)=")
_ESCAPE = re.compile(r"\\([\\=|nr])")
_ESCAPES = {"\\": "\\", "=": "=", "|": "|", "n": "\n", "r": "\r"}
_FIELD_NAME = re.compile(r"\w+(?:[.\-]\w+)*")

FULL_NAMES = {
    "act": "deviceAction", "agt": "agentAddress", "ahost": "agentHostName", "aid": "agentId",
    "amac": "agentMacAddress", "app": "applicationProtocol", "art": "agentReceiptTime",
    "at": "agentType", "atz": "agentTimeZone", "av": "agentVersion", "cat": "deviceEventCategory",
    "cnt": "baseEventCount", "dhost": "destinationHostName", "dmac": "destinationMacAddress",
    "dntdom": "destinationNtDomain", "dpid": "destinationProcessId",
    "dpriv": "destinationUserPrivileges", "dproc": "destinationProcessName",
    "dpt": "destinationPort", "dst": "destinationAddress", "dtz": "deviceTimeZone",
    "duid": "destinationUserId", "duser": "destinationUserName", "dvc": "deviceAddress",
    "dvchost": "deviceHostName", "dvcmac": "deviceMacAddress", "dvcpid": "deviceProcessId",
    "end": "endTime", "fname": "filename", "fsize": "fileSize", "in": "bytesIn",
    "msg": "message", "out": "bytesOut", "outcome": "eventOutcome", "proto": "transportProtocol",
    "request": "requestUrl", "rt": "deviceReceiptTime", "shost": "sourceHostName",
    "smac": "sourceMacAddress", "sntdom": "sourceNtDomain", "spid": "sourceProcessId",
    "spriv": "sourceUserPrivileges", "sproc": "sourceProcessName", "spt": "sourcePort",
    "src": "sourceAddress", "start": "startTime", "suid": "sourceUserId",
    "suser": "sourceUserName", "dlat": "destinationGeoLatitude",
    "dlong": "destinationGeoLongitude", "slat": "sourceGeoLatitude",
    "slong": "sourceGeoLongitude", "catdt": "categoryDeviceType",
    **{f"cs{i}": f"deviceCustomString{i}" for i in range(1, 7)},
    **{f"cs{i}Label": f"deviceCustomString{i}Label" for i in range(1, 7)},
    **{f"cn{i}": f"deviceCustomNumber{i}" for i in range(1, 4)},
    **{f"cn{i}Label": f"deviceCustomNumber{i}Label" for i in range(1, 4)},
    **{f"cfp{i}": f"deviceCustomFloatingPoint{i}" for i in range(1, 5)},
    **{f"cfp{i}Label": f"deviceCustomFloatingPoint{i}Label" for i in range(1, 5)},
    **{f"c6a{i}": f"deviceCustomIPv6Address{i}" for i in range(1, 5)},
    **{f"c6a{i}Label": f"deviceCustomIPv6Address{i}Label" for i in range(1, 5)},
}
"""Short extension key → full name (the spec's two columns); the full name is the kept key."""
SHORT_NAMES = {full.casefold(): short for short, full in FULL_NAMES.items()}

_IP, _INT, _TEXT, _LOWER = "ip", "int", "text", "lower"
ECS_KEYS: dict[str, tuple[str, str]] = {
    "src": ("source.ip", _IP), "dst": ("destination.ip", _IP),
    "spt": ("source.port", _INT), "dpt": ("destination.port", _INT),
    "smac": ("source.mac", _TEXT), "dmac": ("destination.mac", _TEXT),
    "suser": ("source.user.name", _TEXT), "duser": ("destination.user.name", _TEXT),
    "suid": ("source.user.id", _TEXT), "duid": ("destination.user.id", _TEXT),
    "sntdom": ("source.user.domain", _TEXT), "dntdom": ("destination.user.domain", _TEXT),
    "sourcetranslatedaddress": ("source.nat.ip", _IP),
    "sourcetranslatedport": ("source.nat.port", _INT),
    "destinationtranslatedaddress": ("destination.nat.ip", _IP),
    "destinationtranslatedport": ("destination.nat.port", _INT),
    "app": ("network.protocol", _LOWER), "in": ("source.bytes", _INT),
    "out": ("destination.bytes", _INT), "act": ("event.action", _TEXT),
    "reason": ("event.reason", _TEXT), "msg": ("message", _TEXT),
    "request": ("url.original", _TEXT), "requestmethod": ("http.request.method", _TEXT),
    "requestclientapplication": ("user_agent.original", _TEXT),
    "requestcontext": ("http.request.referrer", _TEXT),
    "fname": ("file.name", _TEXT), "filepath": ("file.path", _TEXT),
    "fsize": ("file.size", _INT), "filetype": ("file.type", _TEXT),
    "dvc": ("observer.ip", _IP), "dvchost": ("observer.hostname", _TEXT),
    "dvcmac": ("observer.mac", _TEXT), "dvcpid": ("process.pid", _INT),
    "deviceprocessname": ("process.name", _TEXT),
    "deviceinboundinterface": ("observer.ingress.interface.name", _TEXT),
    "deviceoutboundinterface": ("observer.egress.interface.name", _TEXT),
    "destinationservicename": ("service.name", _TEXT), "dtz": ("event.timezone", _TEXT),
}
"""Extension key (short name, or full name casefolded) → (ECS field, kind). Times (``rt``,
``start``, ``end``, ``art``), ``proto``, ``outcome``, ``fileHash``, ``deviceDirection``,
``shost``/``dhost`` and the severity have code of their own."""

_SEVERITY_WORDS = {"low": 0, "medium": 4, "high": 7, "very-high": 9}
_HASHES = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_OUTCOMES = {"success": "success", "succeeded": "success", "successful": "success",
             "ok": "success", "allowed": "success", "failure": "failure",
             "failed": "failure", "fail": "failure", "denied": "failure", "blocked": "failure",
             "unknown": "unknown"}


class CefParser:
    """CEF lines, with or without a syslog header → ``cef`` events (see the module)."""

    name: ClassVar[str] = "cef"
    priority: ClassVar[int] = 11
    markers: ClassVar[tuple[str, ...]] = ("CEF:",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """``CEF:`` appears."""
        return "CEF:" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One CEF record → event; :class:`ParseError` when there is no CEF header."""
        start = text.find("CEF:")
        if start < 0:
            raise ParseError("not CEF (no CEF: header)")
        m = _HEADER.match(text, start)
        if m is None:
            raise ParseError("CEF header with fewer than 7 fields (CEF:Version|Device Vendor|"
                             "Device Product|Device Version|Class ID|Name|Severity|)")
        head = syslog_prefix(text, start, ctx)
        ext = extensions(text[m.end():].rstrip("\r\n"))
        return cef_event(m, ext, head, ctx)


def syslog_prefix(text: str, start: int, ctx: ParseContext) -> Event:
    """The syslog header fields of what comes before ``start`` (``{}`` when there is none).

    The ``-`` stands for the payload: the header reader takes its last word for a host only when
    something follows it, and an RFC 5424 header needs its STRUCTURED-DATA."""
    if start == 0:
        return {}
    head, _ = parse_header(text[:start] + "-", ctx)
    return head


def unescape(value: str) -> str:
    """CEF's extension escapes: ``\\\\``, ``\\=``, ``\\|``, ``\\n``, ``\\r``. Any other backslash
    stays (Windows paths often arrive unescaped)."""
    return _ESCAPE.sub(lambda e: _ESCAPES[e[1]], value) if "\\" in value else value


def extensions(text: str) -> dict[str, str]:
    """``key=value ...`` → {key: unescaped value}; a value ends at the space before the next
    key; the last of a repeated key wins."""
    keys = list(_KEY.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(text)
        out[m[1]] = unescape(text[m.end():end].strip())
    return out


def _header_text(value: str) -> str:
    return value.replace("\\|", "|").replace("\\\\", "\\") if "\\" in value else value


def cef_event(m: re.Match[str], ext: dict[str, str], head: Event, ctx: ParseContext) -> Event:
    """The event of a matched header, its extension and the syslog header before it."""
    version, vendor, product, dev_version, class_id, name, severity = (
        _header_text(g).strip() for g in m.groups())
    ev: Event = {"@timestamp": "", "event.dataset": "cef", "event.module": "cef",
                 "event.kind": "event", "cef.version": version}
    for key, value in (("observer.vendor", vendor), ("observer.product", product),
                       ("observer.version", dev_version), ("event.code", class_id),
                       ("cef.name", name), ("message", name)):
        if value:
            ev[key] = value
    if severity:
        ev["cef.severity"] = severity
        level = cef_severity(severity)
        if level is not None:
            ev["event.severity"] = level
    put_syslog(ev, head)
    keys = {SHORT_NAMES.get(k.casefold(), k): v for k, v in ext.items()}
    _keep(ev, ext)
    _ecs(ev, keys)
    ev["@timestamp"] = _when(ev, keys, head, ctx)
    if "observer.name" not in ev and head.get("host.name"):
        ev["observer.name"] = head["host.name"]
    _classify(ev, keys, vendor, class_id, name)
    return ev


def cef_severity(value: str) -> int | None:
    """0-10, or Low/Medium/High/Very-High as 0/4/7/9 (Elastic's reading); None otherwise."""
    if value.isdecimal() and len(value) <= 2:
        number = int(value)
        return number if number <= 10 else None
    return _SEVERITY_WORDS.get(value.casefold())


def _keep(ev: Event, ext: dict[str, str]) -> None:
    """Every extension under ``cef.extensions.<full name>`` (keys that are no field name, such
    as ``a..b``, are left out)."""
    for key, value in ext.items():
        full = FULL_NAMES.get(key, key)
        if value and _FIELD_NAME.fullmatch(full):
            ev[f"cef.extensions.{full}"] = value


def is_ip(value: str) -> bool:
    """An IPv4 or IPv6 address (what an ``ip`` field of the Elasticsearch store takes: no
    ``%zone`` suffix)."""
    if not value or len(value) > 64 or "%" in value or (":" not in value and "." not in value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def put_value(ev: Event, field: str, kind: str, value: str) -> None:
    """``value`` as ``field`` when it is of ``kind`` (an address, a number, text)."""
    if not value:
        return
    if kind == _IP:
        if is_ip(value):
            ev[field] = value
    elif kind == _INT:
        if value.isdecimal() and len(value) <= 18:
            ev[field] = int(value)
    else:
        ev[field] = value.lower() if kind == _LOWER else value


def _ecs(ev: Event, keys: dict[str, str]) -> None:
    for key, value in keys.items():
        mapped = ECS_KEYS.get(key) or ECS_KEYS.get(key.casefold())
        if mapped is not None:
            put_value(ev, mapped[0], mapped[1], value)
    if "observer.hostname" in ev:
        ev["observer.name"] = ev["observer.hostname"]
    user = ev.get("source.user.name") or ev.get("destination.user.name")
    if user:
        ev["user.name"] = user
    _labelled_addresses(ev, keys)
    _hosts(ev, keys)
    put_transport(ev, keys.get("proto", ""))
    outcome = _OUTCOMES.get(keys.get("outcome", "").casefold())
    if outcome:
        ev["event.outcome"] = outcome
    direction = keys.get("deviceDirection")
    if direction in ("0", "1"):
        ev["network.direction"] = "inbound" if direction == "0" else "outbound"
    put_hash(ev, keys.get("fileHash", ""))


def _hosts(ev: Event, keys: dict[str, str]) -> None:
    """``shost``/``dhost``: a name is the domain; an address the ip, when there is none."""
    for key, side in (("shost", "source"), ("dhost", "destination")):
        value = keys.get(key)
        if not value:
            continue
        if is_ip(value):
            ev.setdefault(f"{side}.ip", value)
        else:
            ev[f"{side}.domain"] = value


_ADDRESS_LABEL = re.compile(r"(?i)(source|src|destination|dest|dst)\w*[ _]?(?:ipv[46][ _]?)?"
                            r"(?:ip|address|addr)\b")
_CUSTOM_ADDRESSES = (*(f"c6a{i}" for i in range(1, 5)), *(f"cs{i}" for i in range(1, 7)))


def _labelled_addresses(ev: Event, keys: dict[str, str]) -> None:
    """Custom fields labelled as the source or destination address (``c6a2Label=Source IPv6
    Address``, ArcSight's habit for IPv6) stand in for ``src``/``dst`` when those are absent."""
    for key in _CUSTOM_ADDRESSES:
        value = keys.get(key, "")
        m = _ADDRESS_LABEL.match(keys.get(f"{key}Label", "")) if value else None
        if m is not None and is_ip(value):
            side = "source" if m[1].lower() in ("source", "src") else "destination"
            ev.setdefault(f"{side}.ip", value)


def put_transport(ev: Event, proto: str) -> None:
    """``TCP``/``udp``/``6`` → ``network.transport`` (lower case; IANA numbers named)."""
    if proto:
        if proto.isdecimal():
            ev["network.iana_number"] = proto
        ev["network.transport"] = IANA.get(proto, proto.lower())


def put_hash(ev: Event, value: str) -> None:
    """A hex digest → ``file.hash.md5``/``sha1``/``sha256``/``sha512`` by its length."""
    algorithm = _HASHES.get(len(value))
    if algorithm and all(c in "0123456789abcdefABCDEF" for c in value):
        ev[f"file.hash.{algorithm}"] = value.lower()


def _when(ev: Event, keys: dict[str, str], head: Event, ctx: ParseContext) -> str:
    """``rt`` (the device's time), else the syslog header's, else ``start``/``end``, else now.
    ``start``, ``end`` and ``art`` are also ``event.start``/``.end``/``.created``."""
    zone = zone_named(keys.get("dtz", ""))
    for key, field in (("start", "event.start"), ("end", "event.end"),
                       ("art", "event.created")):
        stamp = device_time(keys.get(key, ""), ctx, zone)
        if stamp is not None:
            ev[field] = stamp
    rt = device_time(keys.get("rt", ""), ctx, zone)
    if rt is not None:
        return rt
    header = head.get("@timestamp")
    if isinstance(header, str) and header:
        return header
    return str(ev.get("event.start") or ev.get("event.end") or format_ts(ctx.now))


# --------------------------------------------------------------------------- device times

_TEXT_TIME = re.compile(
    r"([A-Z][a-z]{2}) +(\d{1,2})(?: (\d{4}))?,? (\d{1,2}):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
    r"(?: +(\S+))?")
_OFFSET = re.compile(r"(?:GMT|UTC)?([+-])(\d{1,2})(?::?(\d\d))?")
_UTC_NAMES = frozenset(("UTC", "GMT", "UT", "Z"))


@lru_cache(maxsize=64)
def zone_named(name: str) -> tzinfo | None:
    """``UTC``/``GMT``/``Z``, an offset (``+0700``, ``+07:00``, ``GMT+07:00``) or an IANA name
    (``Asia/Ho_Chi_Minh``); None for anything else (``ICT``, ``CST``: ambiguous)."""
    if not name:
        return None
    upper = name.upper()
    if upper in _UTC_NAMES:
        return UTC
    m = _OFFSET.fullmatch(upper)
    if m is not None:
        minutes = int(m[2]) * 60 + int(m[3] or 0)
        if minutes >= 24 * 60:
            return None
        return timezone(timedelta(minutes=-minutes if m[1] == "-" else minutes))
    if "/" in name and len(name) < 64:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return None
    return None


def device_time(value: str, ctx: ParseContext, zone: tzinfo | None = None) -> str | None:
    """A CEF/LEEF time as canonical UTC, or None when it is none of the documented forms:
    milliseconds since the epoch (ten digits or fewer: seconds), ``MMM dd [yyyy] HH:mm:ss[.SSS]
    [zone]`` (no year: the latest that is not after tomorrow), ISO 8601. A time without a zone is
    in ``zone`` (the device's ``dtz``), else ``ctx.tz``."""
    value = value.strip()
    if not value or len(value) > 64:
        return None
    if value.isdecimal():
        return _epoch(value)
    m = _TEXT_TIME.fullmatch(value)
    if m is not None:
        return _text_time(m, ctx, zone)
    return _iso_time(value, zone or ctx.tz)


def _epoch(digits: str) -> str | None:
    number = int(digits[:16])
    seconds = number if len(digits) <= 10 else number / 1000
    try:
        return format_ts(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def _text_time(m: re.Match[str], ctx: ParseContext, zone: tzinfo | None) -> str | None:
    mon, day, year, hh, mi, ss, frac, name = m.groups()
    month = MONTHS.get(mon)
    if month is None:
        return None
    tz = zone_named(name) if name else None
    tz = tz or zone or ctx.tz
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        y = int(year) if year else latest_year(month, int(day), ctx, tz)
        local = datetime(y, month, int(day), int(hh), int(mi), int(ss), micro, tzinfo=tz)
        return format_ts(local)
    except (ValueError, OverflowError):
        return None


def latest_year(month: int, day: int, ctx: ParseContext, tz: tzinfo) -> int:
    """The latest year in which month/day is no later than tomorrow (as syslog reads BSD
    stamps); ValueError when no year of the last eight has that day."""
    limit = ctx.now.astimezone(tz).date() + timedelta(days=1)
    for year in range(limit.year, limit.year - 8, -1):
        try:
            if date(year, month, day) <= limit:
                return year
        except ValueError:
            continue
    raise ValueError(f"no such date: {month}/{day}")


def _iso_time(value: str, tz: tzinfo) -> str | None:
    text = value[:-1] + "+00:00" if value[-1:] in "Zz" else value
    try:
        dt = datetime.fromisoformat(text)
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=tz))
    except (ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------- classification

_THREAT_LABELS = frozenset((
    "virusname", "virus", "malwarename", "malware", "threatname", "threat", "securitythreat",
    "detectionname", "spywaregrayware", "spywarename", "virusmalwarename", "signature",
    "detectedobject", "infectionname"))
"""Labels (casefolded, without spaces, ``_`` or ``-``) of a custom string holding a malware name:
Trend Micro Apex Central (``VirusName``, ``Security Threat``), Kaspersky Scan Engine (``Virus
name``)..."""
AV_VENDORS = ("trend micro", "trendmicro", "symantec", "broadcom", "kaspersky", "sophos",
              "mcafee", "trellix", "eset", "bitdefender")
"""Vendors (casefolded substrings of Device Vendor) whose events may be detections by name."""
_MALWARE_WORDS = re.compile(
    r"(?i)virus|malware|spyware|grayware|trojan|ransom|infect|quarantin|malicious")
_SOPHOS = re.compile(r"'([^']+)'(?: at '([^']*)')?")
_AUTH_WORDS = re.compile(r"(?i)\blog ?[io]n|\bsign(?:ed)? ?in|authenticat")
_FAILED = re.compile(r"(?i)fail|denied|invalid|reject|wrong|bad password")


def threat_name(keys: dict[str, str], vendor: str, class_id: str, name: str
                ) -> tuple[str, str | None] | None:
    """(malware name, object path or None) when the event is an antivirus detection, else None.

    In order: a custom string whose label names a threat (any vendor); for the vendors of
    :data:`AV_VENDORS`: Sophos Central's ``Malware detected: 'X' at 'path'``, Trend Micro Deep
    Security's anti-malware class ids 4000000-4000099 (the Name is the malware), and a class id
    or Name that speaks of a virus, malware, quarantine... (the Name stands for the malware)."""
    for i in range(1, 7):
        label = keys.get(f"cs{i}Label", "")
        value = keys.get(f"cs{i}", "").strip()
        if (value and value.upper() not in ("N/A", "-", "NONE", "CLEAN")
                and re.sub(r"[\s_\-]", "", label).casefold() in _THREAT_LABELS):
            return value, None
    low = vendor.casefold()
    if not any(v in low for v in AV_VENDORS):
        return None
    if "sophos" in low and (m := _SOPHOS.search(name)) is not None:
        return m[1], m[2] or None
    if len(class_id) == 7 and class_id.isdecimal() and 4000000 <= int(class_id) <= 4000099:
        return name, None
    if _MALWARE_WORDS.search(class_id) or _MALWARE_WORDS.search(name):
        return name, None
    return None


def _classify(ev: Event, keys: dict[str, str], vendor: str, class_id: str, name: str) -> None:
    """``event.kind``/``.category``/``.type``: antivirus detections, logins, connections; none
    for the rest (a CEF event can be anything)."""
    threat = threat_name(keys, vendor, class_id, name)
    if threat is not None:
        _malware(ev, keys, *threat)
        return
    words = f"{class_id} {name}"
    if _AUTH_WORDS.search(words):
        ev["event.category"] = ["authentication"]
        ev["event.type"] = ["start"]
        if "event.outcome" not in ev:
            failed = _FAILED.search(f"{words} {keys.get('act', '')}")
            ev["event.outcome"] = "failure" if failed else "success"
    elif "source.ip" in ev or "destination.ip" in ev:
        ev["event.category"] = ["network"]
        action = ev.get("event.action")
        outcome = ev.get("event.outcome")
        if isinstance(action, str):
            put_verdict(ev, action)
        else:
            ev["event.type"] = ["connection"]
        if outcome:
            ev["event.outcome"] = outcome


def _malware(ev: Event, keys: dict[str, str], threat: str, path: str | None) -> None:
    ev["event.kind"] = "alert"
    ev["event.category"] = ["malware"]
    ev["event.type"] = ["info"]
    ev["rule.name"] = threat
    folder = keys.get("filePath") or path
    file_name = keys.get("fname", "")
    if folder and folder.endswith(("\\", "/")) and file_name and not any(
            sep in file_name for sep in "\\/"):
        folder += file_name  # Apex Central: filePath is the folder, fname the file
    if folder:
        ev["file.path"] = folder
    elif file_name and any(sep in file_name for sep in "\\/"):
        ev["file.path"] = file_name
