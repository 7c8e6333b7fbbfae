"""Windows events → flat events in the shape Winlogbeat ships, plus the ECS fields that pySigma's
``ecs_windows`` pipeline maps Sigma field names to.

Input shapes: the JSON of the ``evtx`` package and of ``evtx_dump``
(``{"Event": {"System": ...}}``), Winlogbeat JSON (nested or already flat) and NXLog-style
flat JSON (``EventID``, ``Channel``, ``Hostname``, ``SourceName``, ``EventTime``
and the event data at the top level), and rows of Azure Log Analytics' Windows event tables
(``TimeGenerated``, ``EventID``, ``EventData`` as an XML or JSON string: see winlog_azure).

Every EventData field stays under ``winlog.event_data.<Name>`` as a string (as Winlogbeat ships
it); each field the pipeline maps (``Image`` → ``process.executable``...) is also set under its ECS
name. Several fields can map to one ECS name (``SubjectDomainName`` and ``TargetDomainName`` →
``user.domain``): distinct values then make a list, as an Elasticsearch array would.
See docs/windows.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cache, lru_cache
from itertools import chain
from operator import itemgetter
from types import MappingProxyType
from typing import Any, ClassVar

from collectors.parsers import winlog_azure as azure
from collectors.parsers.jsonl import is_field_name
from collectors.parsers.winlog_entities import put_entities
from soc.ecs import Event, normalize_ts, parse_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SECURITY = "Security"
PS_CLASSIC = "Windows PowerShell"

# Copied from sigma.pipelines.elasticsearch.windows (pySigma-backend-elasticsearch 2.x),
# "ecs_windows_field_mapping"; tests/test_winlog.py checks it against the installed pipeline.
# ".caseless" is an Elasticsearch multi-field of the keyword, not a key of the document.
ECS_FIELDS: Mapping[str, str] = {
    "FileName": "file.path", "ProcessGuid": "process.entity_id", "ProcessId": "process.pid",
    "Image": "process.executable", "CurrentDirectory": "process.working_directory",
    "ParentProcessGuid": "process.parent.entity_id", "ParentProcessId": "process.parent.pid",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line", "TargetFilename": "file.path",
    "SourceIp": "source.ip", "SourceHostname": "source.domain", "SourcePort": "source.port",
    "DestinationIp": "destination.ip", "DestinationHostname": "destination.domain",
    "DestinationPort": "destination.port", "DestinationPortName": "network.protocol",
    "ImageLoaded": "file.path", "Signed": "file.code_signature.signed",
    "SignatureStatus": "file.code_signature.status", "Imphash": "file.pe.imphash",
    "SourceProcessGuid": "process.entity_id", "SourceProcessId": "process.pid",
    "SourceImage": "process.executable", "Device": "file.path",
    "SourceThreadId": "process.thread.id", "TargetObject": "registry.path",
    "PipeName": "file.name", "Destination": "process.executable",
    "QueryName": "dns.question.name", "QueryStatus": "sysmon.dns.status",
    "IsExecutable": "sysmon.file.is_executable", "Archived": "sysmon.file.archived",
    "CommandName": "powershell.command.name", "CommandPath": "powershell.command.path",
    "CommandType": "powershell.command.type", "HostApplication": "process.command_line",
    "HostId": "process.entity_id", "HostName": "process.title",
    "NewEngineState": "powershell.engine.new_state", "PipelineId": "powershell.pipeline_id",
    "PreviousEngineState": "powershell.engine.previous_state",
    "RunspaceId": "powershell.runspace_id", "ScriptName": "file.path",
    "SequenceNumber": "event.sequence", "NewProviderState": "powershell.provider.new_state",
    "ProviderName": "powershell.provider.name", "MessageNumber": "powershell.sequence",
    "MessageTotal": "powershell.total", "ScriptBlockText": "powershell.file.script_block_text",
    "ScriptBlockId": "powershell.file.script_block_id", "AccountDomain": "user.domain",
    "AccountName": "user.name", "Application": "process.executable",
    "ClientAddress": "source.ip", "ClientName": "source.domain", "DestAddress": "destination.ip",
    "DestPort": "destination.port", "IpAddress": "source.ip", "IpPort": "source.port",
    "NewProcessId": "process.pid", "NewProcessName": "process.executable",
    "ParentProcessName": "process.parent.name", "ProcessName": "process.executable",
    "SourceAddress": "source.ip", "TargetDomainName": "user.domain", "User": "user.name",
    "WorkstationName": "source.domain", "Payload": "powershell.file.script_block_text",
}

# The pipeline's "ecs_windows_variable_mappings": by Sigma category / service of the rule, here
# recognised from the event (see _contexts).
VARIABLE_FIELDS: Mapping[str, Mapping[str, str]] = {
    "process_creation": {
        "FileVersion": "process.pe.file_version", "Description": "process.pe.description",
        "Product": "process.pe.product", "Company": "process.pe.company",
        "OriginalFileName": "process.pe.original_file_name",
        "CommandLine": "process.command_line",
    },
    "image_load": {
        "FileVersion": "file.pe.file_version", "Description": "file.pe.description",
        "Product": "file.pe.product", "Company": "file.pe.company",
        "OriginalFileName": "file.pe.original_file_name",
        "Signature": "file.code_signature.subject_name",
    },
    "sysmon_error": {"Description": "winlog.event_data.Description"},
    "network_connection": {"Protocol": "network.transport", "Initiated": "network.direction"},
    "driver_loaded": {"Signature": "file.code_signature.subject_name"},
    "security": {
        "CommandLine": "process.command_line", "SubjectLogonId": "winlog.logon.id",
        "ServiceName": "service.name", "SubjectDomainName": "user.domain",
        "SubjectUserName": "user.name", "SubjectUserSid": "user.id",
        "TargetLogonId": "winlog.logon.id",
    },
    "powershell-classic": {
        "CommandLine": "powershell.command.value", "EngineVersion": "powershell.engine.version",
        "HostVersion": "powershell.process.executable_version",
    },
}

# ECS fields typed long (the pipeline leaves Sigma values for the first four as numbers).
_INT_FIELDS = frozenset({"process.pid", "process.parent.pid", "source.port", "destination.port",
                         "process.thread.id"})
_SYSMON_CATEGORY = {1: "process_creation", 3: "network_connection", 6: "driver_loaded",
                    7: "image_load", 255: "sysmon_error"}
_LEVELS = {0: "information", 1: "critical", 2: "error", 3: "warning", 4: "information",
           5: "verbose"}
_MODULES = {SYSMON: "sysmon", SECURITY: "security", PS_CLASSIC: "powershell",
            "Microsoft-Windows-PowerShell/Operational": "powershell"}
_DATASETS = {SYSMON: "windows.sysmon_operational", SECURITY: "windows.security",
             PS_CLASSIC: "windows.powershell",
             "Microsoft-Windows-PowerShell/Operational": "windows.powershell_operational"}
_AUDIT_OUTCOME = {0x0020000000000000: "success", 0x0010000000000000: "failure"}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass(slots=True)
class _Parts:
    """A Windows event taken apart: the Winlogbeat, NXLog and Log Analytics shapes (the evtx
    shape, the hot path, goes straight to the event: :func:`_evtx_event`)."""

    timestamp: str
    channel: str
    event_id: int
    provider_name: str = ""
    provider_guid: str | None = None
    record_id: int | None = None
    computer: str | None = None
    pid: int | None = None
    tid: int | None = None
    user_id: str | None = None
    level: str | None = None
    version: int | None = None
    keywords: int | None = None
    activity_id: str | None = None
    event_data: dict[str, Any] = field(default_factory=dict)
    user_data: dict[str, Any] = field(default_factory=dict)
    user_data_name: str | None = None
    extra: Event = field(default_factory=dict)


# --- public API ----------------------------------------------------------------------------------


def winlog_event(record: Mapping[str, Any], *, tz: tzinfo = UTC) -> Event:
    """One Windows event (evtx/evtx_dump, Winlogbeat or NXLog JSON, already decoded) → event.

    ``tz`` is the zone of local times without an offset (NXLog's ``EventTime``). Raises
    :class:`ParseError` when the record is not a Windows event or lacks its time or event id.
    """
    try:
        event = record.get("Event")
        if (type(event) is dict or isinstance(event, Mapping)) and "System" in event:
            return _evtx_event(event)
        return _build(_take_apart(record, tz))
    except ParseError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ParseError(f"not a usable Windows event: {type(exc).__name__}: {exc}") from None
    except RecursionError:  # objects nested about a thousand deep (orjson takes 1024)
        raise ParseError("not a usable Windows event: nested too deeply") from None


class WinlogParser:
    """Parser ``winlog``: one JSON object per line, Windows event in any supported shape."""

    name: ClassVar[str] = "winlog"
    priority: ClassVar[int] = 8  # before generic JSON lines (jsonl, a carrier, is 10)
    markers: ClassVar[tuple[str, ...]] = ('"System"', '"winlog', '"EventID"')

    def sniff(self, text: str) -> bool:
        """A JSON object naming an EVTX ``System`` block, a ``winlog`` object, or NXLog or
        Log Analytics keys."""
        if not text.lstrip().startswith("{"):
            return False
        if '"System"' in text and '"Event"' in text:
            return True
        if '"winlog"' in text or '"winlog.channel"' in text:
            return True
        return '"EventID"' in text and ('"Channel"' in text or '"SourceName"' in text
                                        or '"TimeGenerated"' in text)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        return winlog_event(azure.json_object(text), tz=ctx.tz)


# --- taking the input apart ----------------------------------------------------------------------


def _take_apart(record: Mapping[str, Any], tz: tzinfo) -> _Parts:
    if isinstance(record.get("winlog"), Mapping) or "winlog.channel" in record:
        return _from_winlogbeat(record)
    if azure.is_azure(record):
        return _from_azure(record)
    if "EventID" in record and ("Channel" in record or "SourceName" in record):
        return _from_flat(record, tz)
    raise ParseError("not a Windows event: no Event.System, winlog or EventID/Channel keys")


def _attrs(node: Any) -> Mapping[str, Any]:
    if type(node) is dict:
        attrs = node.get("#attributes")
        if type(attrs) is dict:
            return attrs
    return _EMPTY


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _evtx_event(event: Mapping[str, Any]) -> Event:
    """The evtx/evtx_dump shape, the hot path of EVTX collection: straight to the event."""
    system = event["System"]
    get = system.get
    eid = system["EventID"]
    if type(eid) is not int:
        eid = int(eid["#text"] if isinstance(eid, Mapping) else eid)
    channel = get("Channel")
    if type(channel) is not str:
        channel = str(channel or "")
    provider = _attrs(get("Provider"))
    name, guid = provider.get("Name"), provider.get("Guid")
    ev = dict(_head(channel, name if type(name) is str else str(name or ""),
                    guid if guid is None or type(guid) is str else str(guid), eid))
    ev["@timestamp"] = _evtx_time(_attrs(get("TimeCreated")).get("SystemTime"))
    _put_system(ev, system)
    user_name, user_data = _user_data(event.get("UserData"))
    _put_data(ev, channel, eid, _event_data(event.get("EventData")), user_name, user_data)
    if channel == SECURITY:
        _put_outcome(ev, _hex(get("Keywords")))
    return ev


def _put_system(ev: Event, system: Mapping[str, Any]) -> None:
    """The optional ``System`` values of an evtx record (evtx gives ints as ints: they are
    taken as they are; anything else goes through the converters)."""
    get = system.get
    value: Any = get("EventRecordID")
    if type(value) is int or (value := _int(value)) is not None:
        ev["winlog.record_id"] = value
    value = get("Computer")
    if (type(value) is str and value) or (value := _str(value)) is not None:
        ev["winlog.computer_name"] = ev["host.name"] = value
    node = get("Execution")
    if node and type(attrs := node.get("#attributes")) is dict:
        value = attrs.get("ProcessID")
        if type(value) is int or (value := _int(value)) is not None:
            ev["winlog.process.pid"] = value
        value = attrs.get("ThreadID")
        if type(value) is int or (value := _int(value)) is not None:
            ev["winlog.process.thread.id"] = value
    node = get("Security")
    if node and (value := _str(_attrs(node).get("UserID"))) is not None:
        ev["winlog.user.identifier"] = value
    value = get("Level")
    value = _LEVELS.get((value if type(value) is int else _int(value)) or 0)
    if value is not None:
        ev["log.level"] = value
    value = get("Version")
    if type(value) is int or (value := _int(value)) is not None:
        ev["winlog.version"] = value
    node = get("Correlation")
    if node and (value := _guid(_attrs(node).get("ActivityID"))) is not None:
        ev["winlog.activity_id"] = value


def _evtx_time(value: Any) -> str:
    if not isinstance(value, str):
        raise ParseError("no System.TimeCreated.SystemTime")
    # evtx writes 2019-04-27T15:57:25.868863Z: truncating to milliseconds is the canonical form
    if len(value) == 27 and value[19] == "." and value[26] == "Z":
        return value[:23] + "Z"
    return normalize_ts(value)


def _event_data(node: Any) -> Mapping[str, Any]:
    """EventData as Name → value; unnamed ``Data`` become ``param1``... as Winlogbeat names them,
    and stay together under ``Data`` for Sigma rules that search ``Data``."""
    if type(node) is dict or isinstance(node, Mapping):
        if "Data" not in node and "#attributes" not in node:
            return node  # read, never written: no copy
    else:
        return _EMPTY
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "#attributes" or value is None:
            continue
        if key == "Data":
            texts = _unnamed(value)
            out.update({f"param{i}": t for i, t in enumerate(texts, 1)})
            out["Data"] = texts[0] if len(texts) == 1 else texts
        else:
            out[key] = value
    return out


def _unnamed(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        value = value.get("#text", "")
    items = value if isinstance(value, list) else [value]
    return [_text(v) for v in items]


def _user_data(node: Any) -> tuple[str | None, Mapping[str, Any]]:
    """UserData's element name and its content, flattened."""
    if not node or not isinstance(node, Mapping):
        return None, _EMPTY
    name, body = next(iter(node.items()))
    return str(name), dict(_flatten(body)) if isinstance(body, Mapping) else {"value": body}


def _from_winlogbeat(record: Mapping[str, Any]) -> _Parts:
    flat = dict(_flatten(record, keep=("winlog.event_data", "winlog.user_data")))
    event_data = flat.pop("winlog.event_data", None) or _prefixed(flat, "winlog.event_data.")
    user_data = flat.pop("winlog.user_data", None) or _prefixed(flat, "winlog.user_data.")
    user_data = dict(user_data)
    parts = _Parts(
        timestamp=normalize_ts(str(flat.get("@timestamp") or flat["event.created"])),
        channel=str(flat.get("winlog.channel") or ""),
        event_id=int(flat.get("winlog.event_id") or flat["event.code"]),
        provider_name=str(flat.get("winlog.provider_name") or flat.get("event.provider") or ""),
        provider_guid=_guid(flat.get("winlog.provider_guid")),
        record_id=_int(flat.get("winlog.record_id")),
        computer=_str(flat.get("winlog.computer_name") or flat.get("host.name")),
        pid=_int(flat.get("winlog.process.pid")),
        tid=_int(flat.get("winlog.process.thread.id")),
        user_id=_str(flat.get("winlog.user.identifier")),
        level=_str(flat.get("log.level")),
        version=_int(flat.get("winlog.version")),
        activity_id=_str(flat.get("winlog.activity_id")),
        event_data=dict(event_data),
        user_data_name=_str(user_data.pop("xml_name", None)),
        user_data=user_data,
    )
    parts.extra = {k: v for k, v in flat.items() if k not in ("event.original", "message")}
    if "message" in flat:
        parts.extra["message"] = flat["message"]
    return parts


def _prefixed(flat: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Remove and return the keys of ``flat`` under ``prefix`` (an already flat Winlogbeat doc)."""
    keys = [k for k in flat if k.startswith(prefix)]
    return {k[len(prefix):]: flat.pop(k) for k in keys}


def _from_azure(record: Mapping[str, Any]) -> _Parts:
    """A row of Azure Log Analytics' SecurityEvent, WindowsEvent or Event table."""
    when = record.get("TimeCreated") or record.get("TimeGenerated")
    if not isinstance(when, str) or not when:
        raise ParseError("no time: TimeCreated or TimeGenerated")
    level = record.get("Level")
    parts = _Parts(
        timestamp=normalize_ts(when),
        channel=str(record.get("Channel") or record.get("EventLog") or ""),
        event_id=int(record["EventID"]),
        provider_name=str(record.get("EventSourceName") or record.get("Provider")
                          or record.get("Source") or ""),
        record_id=_int(record.get("EventRecordId") or record.get("EventRecordID")),
        computer=_str(record.get("Computer")),
        level=_LEVELS.get(_int(record.get("EventLevel") if level is None else level) or 0),
        version=_int(record.get("Version")),
        keywords=_hex(record.get("Keywords")),
    )
    parts.event_data = dict(_event_data(azure.event_data(record)))
    return parts


# NXLog im_msvistalog core fields (and Logstash/HELK additions seen with them).
_FLAT_META = frozenset({
    "EventTime", "EventReceivedTime", "Hostname", "Computer", "Keywords", "SeverityValue",
    "Severity", "EventID", "SourceName", "ProviderGuid", "Version", "Task", "OpcodeValue",
    "Opcode", "RecordNumber", "ActivityID", "RelatedActivityID", "ExecutionProcessID",
    "ThreadID", "Channel", "Category", "Message", "SourceModuleName", "SourceModuleType",
    "Level", "TimeCreated", "@timestamp", "@version", "host", "port", "tags", "EventRecordID",
})
_NXLOG_EVENT_TYPES = frozenset({"INFO", "AUDIT_SUCCESS", "AUDIT_FAILURE", "ERROR", "WARNING",
                                "VERBOSE", "CRITICAL"})
_NXLOG_USER = ("AccountName", "Domain", "AccountType", "UserID")


def _from_flat(record: Mapping[str, Any], tz: tzinfo) -> _Parts:
    parts = _Parts(
        timestamp=_flat_time(record, tz),
        channel=str(record.get("Channel") or ""),
        event_id=int(record["EventID"]),
        provider_name=str(record.get("SourceName") or record.get("Provider") or ""),
        provider_guid=_guid(record.get("ProviderGuid")),
        record_id=_int(record.get("RecordNumber") or record.get("EventRecordID")),
        computer=_str(record.get("Hostname") or record.get("Computer")),
        pid=_int(record.get("ExecutionProcessID")),
        tid=_int(record.get("ThreadID")),
        version=_int(record.get("Version")),
        keywords=_hex(record.get("Keywords")),
        activity_id=_guid(record.get("ActivityID")),
    )
    level = _int(record.get("Level"))
    parts.level = _LEVELS.get(level) if level is not None else _str(record.get("Severity"))
    parts.level = parts.level.lower() if parts.level else None
    parts.event_data = _flat_event_data(record, parts)
    return parts


def _flat_event_data(record: Mapping[str, Any], parts: _Parts) -> dict[str, Any]:
    # NXLog resolves the System user into AccountName/Domain/AccountType next to UserID
    nxlog_user = "AccountType" in record and "UserID" in record
    if nxlog_user:
        parts.user_id = _str(record.get("UserID"))
    data = {}
    for key, value in record.items():
        if key in _FLAT_META or value is None or (nxlog_user and key in _NXLOG_USER):
            continue
        if key == "EventType" and value in _NXLOG_EVENT_TYPES:
            continue
        data[key] = value
    return data


def _flat_time(record: Mapping[str, Any], tz: tzinfo) -> str:
    for key in ("TimeCreated", "@timestamp"):
        value = record.get(key)
        if isinstance(value, str) and value:
            return normalize_ts(value)
    value = record.get("EventTime")
    if not isinstance(value, str) or not value:
        raise ParseError("no time: TimeCreated, @timestamp or EventTime")
    dt = parse_ts(value) if value.endswith(("Z", "z")) or "+" in value[10:] else \
        datetime.fromisoformat(value).replace(tzinfo=tz)
    return normalize_ts(dt.isoformat())


# --- building the event --------------------------------------------------------------------------


def _build(p: _Parts) -> Event:
    """The event of a Winlogbeat or NXLog record taken apart."""
    _check_names(p.extra, "field")
    ev: Event = dict(p.extra)
    ev.update(_head(p.channel, p.provider_name, p.provider_guid, p.event_id))
    ev["@timestamp"] = p.timestamp
    optional = {
        "winlog.record_id": p.record_id, "winlog.computer_name": p.computer,
        "winlog.process.pid": p.pid, "winlog.process.thread.id": p.tid,
        "winlog.user.identifier": p.user_id, "winlog.version": p.version,
        "winlog.activity_id": p.activity_id, "host.name": p.computer, "log.level": p.level,
    }
    ev.update({k: v for k, v in optional.items() if v is not None})
    _put_data(ev, p.channel, p.event_id, p.event_data, p.user_data_name, p.user_data)
    if p.channel == SECURITY:
        _put_outcome(ev, p.keywords)
    return ev


@lru_cache(maxsize=1024)
def _head(channel: str, provider: str, guid: str | None, eid: int) -> Mapping[str, Any]:
    """What every event of one (channel, provider, event id) has in common: computed once.
    Callers copy it."""
    head: Event = {
        "winlog.channel": channel, "winlog.provider_name": provider, "winlog.event_id": eid,
        "event.code": str(eid), "event.kind": "event", "event.provider": provider,
        "event.module": _MODULES.get(channel, "windows"), "event.dataset": dataset(channel),
    }
    guid = _guid(guid)
    if guid is not None:
        head["winlog.provider_guid"] = guid
    return head


def _put_outcome(ev: Event, keywords: int | None) -> None:
    """``event.outcome`` of a Security event from its audit keywords."""
    if keywords is not None:
        for bit, outcome in _AUDIT_OUTCOME.items():
            if keywords & bit:
                ev["event.outcome"] = outcome


def dataset(channel: str) -> str:
    """``event.dataset`` of a channel: ``windows.security``, ``windows.sysmon_operational``...,
    else ``windows.`` + the channel lower-cased with every run of other characters as ``_``."""
    known = _DATASETS.get(channel)
    if known:
        return known
    slug = _NON_ALNUM.sub("_", channel.lower()).strip("_")
    return f"windows.{slug}" if slug else "windows"


def _contexts(channel: str, eid: int) -> tuple[str, ...]:
    """The Sigma categories / services whose variable mappings apply to this event."""
    found = []
    if channel == SYSMON and eid in _SYSMON_CATEGORY:
        found.append(_SYSMON_CATEGORY[eid])
    if channel == SECURITY:
        found.append("security")
        if eid == 4688:
            found.append("process_creation")
    if channel == PS_CLASSIC:
        found.append("powershell-classic")
    return tuple(found)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How the event data of one (channel, event id, field names in order) become event fields:
    worked out once per layout (:func:`_plan`), then applied by position to every record."""

    targets: tuple[str, ...]  # winlog.event_data.<name>, in the order of the names
    single: tuple[tuple[int, str, int], ...]  # (position, ECS field, kind): one source
    text_targets: tuple[str, ...]  # the single ECS string fields...
    text_pick: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None  # ...their values by position
    typed: tuple[tuple[int, str, int], ...]  # the single fields of the other kinds
    merged: tuple[tuple[str, int, tuple[int, ...]], ...]  # (ECS field, kind, positions)
    mapping: Mapping[str, tuple[str, int]]  # Sigma field → (ECS field, kind), for the rare path
    parent_fix: bool  # Security 4688: the parent's name is its executable


@lru_cache(maxsize=4096)
def _plan(channel: str, eid: int, names: tuple[str, ...]) -> _Plan:
    _check_names(names, "EventData")  # once per layout: cached with the plan
    mapping = _mapping(_contexts(channel, eid))
    sources: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        spec = mapping.get(name)
        if spec is not None:
            sources.setdefault(spec[0], []).append(i)
    kinds = {target: kind for target, kind in mapping.values()}
    single = tuple((at[0], t, kinds[t]) for t, at in sources.items() if len(at) == 1)
    texts = [(at, t) for at, t, kind in single if kind == _STR]
    return _Plan(
        targets=tuple("winlog.event_data." + name for name in names), single=single,
        text_targets=tuple(t for _, t in texts), text_pick=_picker([at for at, _ in texts]),
        typed=tuple(spec for spec in single if spec[2] != _STR),
        merged=tuple((t, kinds[t], tuple(at)) for t, at in sources.items() if len(at) > 1),
        mapping=mapping, parent_fix=channel == SECURITY and eid == 4688)


def _put_data(ev: Event, channel: str, eid: int, data: Mapping[str, Any],
              user_data_name: str | None, user_data: Mapping[str, Any]) -> None:
    """``winlog.event_data.*``, ``winlog.user_data.*`` and every ECS field the ecs_windows
    pipeline would query for the fields present."""
    plan = _plan(channel, eid, tuple(data))
    values = tuple(data.values())
    texts: tuple[str, ...] | None = None
    if set(map(type, values)) <= _STR_OR_INT:  # str() is _text() for these: done in C
        texts = tuple(map(str, values))
        ev.update(zip(plan.targets, texts, strict=True))
    else:
        for target, value in zip(plan.targets, values, strict=True):
            if type(value) is str:
                ev[target] = value
            elif value is not None:
                ev[target] = _text_or_list(value)
    if user_data_name:
        ev["winlog.user_data.xml_name"] = user_data_name
    _check_names(user_data, "UserData")
    for name, value in user_data.items():
        ev[f"winlog.user_data.{name}"] = _text_or_list(value)
    if user_data or channel == PS_CLASSIC:
        fields = chain(data.items(), user_data.items(), _ps_classic_fields(data))
        _merge_ecs(ev, plan.mapping, fields)
    else:
        _put_ecs(ev, plan, values, texts)
    if plan.parent_fix and "process.parent.name" in ev:
        # Sigma's ParentImage maps to process.parent.executable; 4688 names the parent only as
        # ParentProcessName (a full path), which Winlogbeat ships as the parent's executable.
        ev["process.parent.executable"] = ev["process.parent.name"]
    put_entities(ev, channel, eid, data, user_data)


_STR_OR_INT = {str, int}


def _picker(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """A function taking the items at ``positions`` of a tuple, as a tuple (in C)."""
    if not positions:
        return None
    if len(positions) == 1:
        return itemgetter(slice(positions[0], positions[0] + 1))
    return itemgetter(*positions)


def _put_ecs(ev: Event, plan: _Plan, values: tuple[Any, ...],
             texts: tuple[str, ...] | None) -> None:
    """The ECS fields of the plan: one source each, or the distinct values of several (4624's
    Subject and Target logon ids are both ``winlog.logon.id``), as an Elasticsearch array.
    ``texts``: the values as strings, when all of them were strings or ints."""
    singles = plan.single
    if texts is not None:
        if plan.text_pick is not None:
            ev.update(zip(plan.text_targets, plan.text_pick(texts), strict=True))
        singles = plan.typed
    for at, target, kind in singles:
        value = values[at]
        if (kind == _STR and type(value) is str) or (kind == _INT and type(value) is int):
            ev[target] = value
        elif value is not None:
            converted = _ecs_value(kind, value)
            if converted is not None:
                ev[target] = converted
    for target, kind, ats in plan.merged:
        found: list[Any] = []
        for at in ats:
            value = values[at]
            if value is None:
                continue
            converted = value if kind == _STR and type(value) is str else _ecs_value(kind, value)
            if converted is not None and converted not in found:
                found.append(converted)
        if found:
            ev[target] = found[0] if len(found) == 1 else found


def _merge_ecs(ev: Event, mapping: Mapping[str, tuple[str, int]],
               fields: Iterable[tuple[str, Any]]) -> None:
    """:func:`_put_ecs` for fields that are not all event data (UserData, Key=Value lines)."""
    values: dict[str, list[Any]] = {}
    for name, value in fields:
        spec = mapping.get(name)
        if spec is None or value is None:
            continue
        converted = _ecs_value(spec[1], value)
        if converted is not None:
            found = values.setdefault(spec[0], [])
            if converted not in found:
                found.append(converted)
    for target, found in values.items():
        ev[target] = found[0] if len(found) == 1 else found


_STR, _INT, _DIRECTION, _BOOL = range(4)


@cache
def _mapping(contexts: tuple[str, ...]) -> Mapping[str, tuple[str, int]]:
    """Sigma field name → (ECS field, value kind) for events of these categories / services."""
    mapping = dict(ECS_FIELDS)
    for context in contexts:
        mapping.update(VARIABLE_FIELDS[context])
    kinds = {"network.direction": _DIRECTION, "file.code_signature.signed": _BOOL}
    return {k: (v, _INT if v in _INT_FIELDS else kinds.get(v, _STR))
            for k, v in mapping.items() if not v.startswith("winlog.event_data.")}


def _ps_classic_fields(event_data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Windows PowerShell 400/403/600/800 carry ``Key=Value`` lines in an unnamed Data."""
    if "param1" not in event_data:
        return
    for key, value in event_data.items():
        if key.startswith("param") and isinstance(value, str) and "=" in value:
            for line in value.splitlines():
                name, sep, text = line.strip().partition("=")
                if sep and name.isidentifier() and name not in event_data:
                    yield name, text


def _ecs_value(kind: int, value: Any) -> Any:
    if type(value) is list:
        return None
    if kind == _INT and type(value) is int:
        return value
    text = value if type(value) is str else _text(value)
    if kind == _INT:
        return _int(text)
    if kind == _DIRECTION:
        return {"true": "egress", "false": "ingress"}.get(text.lower(), text)
    if kind == _BOOL:
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


# --- small conversions ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A value as Winlogbeat ships event data: a string."""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, Mapping) and "#text" in value:
        return _text(value["#text"])
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _text_or_list(value: Any) -> Any:
    if type(value) is list:
        return [_text(v) for v in value]
    return _text(value)


def _int(value: Any) -> int | None:
    """An int from an int or a decimal or ``0x`` hex string; None otherwise."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text, 16) if text[:2].lower() == "0x" else int(text)
    except ValueError:
        return None


def _hex(value: Any) -> int | None:
    if isinstance(value, str) and value[:2].lower() == "0x":
        return _int(value)
    return None


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _guid(value: Any) -> str | None:
    """GUIDs as Winlogbeat writes them: ``{5770385F-C22A-...}``."""
    if not value:
        return None
    text = str(value)
    return text if text.startswith("{") else "{" + text + "}"


def _check_names(names: Iterable[str], what: str) -> None:
    """:class:`ParseError` for a name with an empty part between dots (``""``, ``".a"``,
    ``"a..b"``): no store takes it as a field name."""
    for name in names:
        if not is_field_name(name):
            raise ParseError(f"{what} name {name[:80]!r} is no field name: a part between dots "
                             "is empty")


def _flatten(node: Mapping[str, Any], prefix: str = "",
             keep: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Nested mappings → dotted keys; ``#attributes`` dropped; ``keep`` paths stay whole."""
    for key, value in node.items():
        if key == "#attributes":
            continue
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and path not in keep and "#text" not in value:
            yield from _flatten(value, path + ".", keep)
        else:
            yield path, value
