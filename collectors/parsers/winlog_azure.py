"""Windows events as Azure Monitor / Log Analytics exports them (the ``SecurityEvent``,
``WindowsEvent`` and ``Event`` tables, one JSON object per row): the event data of a row.

``EventData`` is a string: XML (``<EventData><Data Name="...">...</Data></EventData>``,
``SecurityEvent`` and ``Event``) or a JSON object (``WindowsEvent``). A ``SecurityEvent`` row
exported without it carries the event data as columns. See docs/windows.md.

The XML comes from the exported file, so it is untrusted. It is parsed as a fragment inside an
element of ours: a document type declaration may only come before the first element, so inside
ours none can be made, no entity can be declared, and none is expanded (only the five predefined
ones and character references exist). A leading XML declaration is dropped for the same reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from soc import jsonutil
from soc.errors import ParseError

TABLES = frozenset({"SecurityEvent", "WindowsEvent", "Event"})
"""``Type`` of the Log Analytics tables that hold Windows events."""

# Columns of those tables that are not event data: the row's own, and the System values.
META = frozenset({
    "TenantId", "TimeGenerated", "TimeCollected", "SourceSystem", "Computer", "Channel",
    "EventLog", "EventSourceName", "Provider", "Source", "EventID", "Task", "Level", "EventLevel",
    "EventLevelName", "EventData", "Activity", "SourceComputerId", "EventOriginId", "MG",
    "ManagementGroupName", "Type", "_ResourceId", "Keywords", "Opcode", "EventRecordId",
    "EventRecordID", "Version", "SystemUserId", "SystemProcessId", "SystemThreadId",
    "Correlation", "RenderedDescription", "ParameterXml", "UserName", "AzureDeploymentID",
    "Role", "TimeCreated",
})
# Columns SecurityEvent derives from the event data ("Account" = domain\user, "Process" = the
# file name of ProcessName...): not names of the event's own data.
DERIVED = frozenset({"Account", "AccountType", "SubjectAccount", "TargetAccount", "Process",
                     "MemberAccount"})


def is_azure(record: Mapping[str, Any]) -> bool:
    """A Log Analytics row of Windows events."""
    return "TimeGenerated" in record and "EventID" in record and (
        record.get("Type") in TABLES or "EventData" in record or "EventSourceName" in record)


def event_data(record: Mapping[str, Any]) -> dict[str, Any]:
    """The row's event data: Name → value (unnamed XML ``Data`` under ``Data``, as a list)."""
    raw = record.get("EventData")
    if isinstance(raw, str) and raw.strip():
        text = raw.strip()
        if text[0] == "{":
            return json_object(text, "EventData is not JSON", "EventData is not a JSON object")
        return xml_event_data(text)
    if isinstance(raw, Mapping):
        return dict(raw)
    return {k: v for k, v in record.items()
            if k not in META and k not in DERIVED and v is not None}


def json_object(text: str, invalid: str = "invalid JSON",
                not_object: str = "not a JSON object") -> dict[str, Any]:
    """``text`` decoded as a JSON object; :class:`ParseError` (``invalid``: the decoder's reason,
    or ``not_object``) when it is not one. A winlog line and an ``EventData`` string alike."""
    try:
        data = jsonutil.loads(text)
    except ValueError as exc:  # not JSON, nested too deeply, a number too long
        raise ParseError(f"{invalid}: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError(not_object)
    return data


def xml_event_data(text: str) -> dict[str, Any]:
    """``<EventData>`` (alone, or inside a ``<DataItem>`` as the ``Event`` table keeps it) →
    Name → text. ``Data`` without a ``Name`` are gathered in order under ``Data``; other
    elements (``Binary``) are named by their tag."""
    if text.startswith("<?xml"):
        text = text[text.find("?>") + 2:]
    try:
        root = ET.fromstring(f"<soc>{text}</soc>")
    except ET.ParseError as exc:
        raise ParseError(f"EventData is not well-formed XML (or declares entities): {exc}") \
            from None
    node = next((e for e in root.iter() if _local(e.tag) == "EventData"), None)
    if node is None:
        raise ParseError("EventData holds no <EventData> element")
    out: dict[str, Any] = {}
    unnamed: list[str] = []
    for child in node:
        tag = _local(child.tag)
        value = "".join(child.itertext())
        name = child.get("Name")
        if tag == "Data" and name is None:
            unnamed.append(value)
        else:
            out[name if tag == "Data" and name is not None else tag] = value
    if unnamed:
        out["Data"] = unnamed
    return out


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
