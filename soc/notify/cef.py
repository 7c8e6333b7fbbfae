"""A notification as one CEF record (ArcSight Common Event Format, revision 25), for forwarding
alerts to another SIEM.

``CEF:0|soc|soc|<version>|<signature>|<name>|<severity>|<extension>``: the signature is the
rule id (or the message kind), the severity 0-10, and the extension carries the alert's
identity, times and the ECS fields a receiving SIEM maps (``src``, ``dst``, ``suser``,
``requestClientApplication``...). Every field is escaped by :mod:`soc.notify.escape`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soc import __version__
from soc.ecs import parse_ts
from soc.notify import escape
from soc.notify.model import Message

SEVERITY = {"informational": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}

# CEF key ← ECS field of the alert's entity, group or first event
FIELDS = (("src", "source.ip"), ("spt", "source.port"), ("dst", "destination.ip"),
          ("dpt", "destination.port"), ("shost", "source.domain"), ("dhost", "host.name"),
          ("suser", "user.name"), ("request", "url.original"),
          ("requestMethod", "http.request.method"),
          ("requestClientApplication", "user_agent.original"),
          ("deviceProcessName", "process.name"), ("fname", "file.name"))


def record(message: Message, subject: str, text: str) -> str:
    """The CEF record of ``message`` (subject and text as rendered in plain text)."""
    alert: Mapping[str, Any] = message.context.get("alert") or {}
    incident: Mapping[str, Any] = message.context.get("incident") or {}
    signature = alert.get("rule_id") or message.kind
    header = ["CEF:0", "soc", "soc", __version__, escape.cef_header(str(signature)),
              escape.cef_header(subject), str(SEVERITY.get(message.severity, 0))]
    return "|".join(header) + "|" + _extension(message, alert, incident, text)


def _extension(message: Message, alert: Mapping[str, Any], incident: Mapping[str, Any],
               text: str) -> str:
    pairs: list[tuple[str, Any]] = [("rt", _millis(message.created)), ("cat", message.kind),
                                    ("externalId", alert.get("id") or incident.get("id")),
                                    ("cs1Label", "idempotencyKey"), ("cs1", message.key)]
    if alert:
        pairs += [("cs2Label", "rule"), ("cs2", alert.get("rule_id")),
                  ("cnt", alert.get("count")), ("cs3Label", "status"),
                  ("cs3", alert.get("status"))]
    values = _values(alert)
    pairs += [(key, values.get(field)) for key, field in FIELDS]
    out = [f"{escape.cef_key(k)}={escape.cef_value(v, limit=escape.MAX_VALUE)}"
           for k, v in pairs if v not in (None, "", [])]
    return " ".join([*out, f"msg={escape.cef_value(text.strip(), limit=4000)}"])


def _values(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The alert's fields, the first event's under its entity and group (which win)."""
    out: dict[str, Any] = {}
    for part in (alert.get("event"), alert.get("group"), alert.get("entity")):
        if isinstance(part, Mapping):
            out.update({str(k): v for k, v in part.items() if not isinstance(v, Mapping)})
    return out


def _millis(ts: str) -> int | None:
    try:
        return int(parse_ts(ts).timestamp() * 1000)
    except (ValueError, TypeError):
        return None
