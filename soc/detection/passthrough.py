"""Alerts a device already raised (IDS/IPS signatures, WAF verdicts) as findings of their own.

A Sigma rule's title is static, so a rule over Suricata's ``alert`` records could only say "IDS
alert": the signature, which is what the analyst triages on, would be lost. This producer sits
beside the rules instead: every event the device itself classified as an alert
(``event.kind: alert``, as the Suricata EVE parser sets it) becomes one
:class:`~soc.alerts.Finding`:

* **rule id** ``<module>:<signature id>`` (``suricata:2019401``): stable, so the tuning can
  disable a noisy signature (``rules.tuning.disabled``) or except a scanner like any rule. The
  module is ``event.module`` (else the first part of ``event.dataset``); a device that gives no
  ``rule.id`` gets a digest of its title instead of the signature id.
* **title** ``rule.name`` (else ``message``), cut at :data:`MAX_TITLE` characters (a title is a
  keyword in the Elasticsearch store); the output layer escapes what it prints.
* **level** the device's ``event.severity`` on its own scale (:data:`SCALES`: Suricata and Snort
  count 1 as the most severe); a device without a scale, or an alert without a severity, gets
  :data:`DEFAULT`.
* **dedup** per signature, ``source.ip``, ``destination.ip`` and host (``host.name``, else the
  sensor's ``observer.name``): repeats within ``rules.suppress`` update one alert.
* ``kind: device``.

It runs in ``soc collect``/``soc ingest`` (stored alerts, through the tuning like every finding)
and in ``soc detect``; ``rules.device_alerts: false`` turns it off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from soc.alerts import Finding
from soc.ecs import Event
from soc.models import ENTITY_FIELDS, Severity

KIND = "device"
"""The ``kind`` of a device's alert (rules give ``rule``, correlations their type)."""
MAX_TITLE = 1024
DEFAULT = Severity.MEDIUM
GROUP_FIELDS = ("organization.id", "labels.system", "source.ip", "destination.ip", "host.name",
                "observer.name")
"""What makes two alerts of one signature the same alert (those the event has)."""

_PRIORITY = {1: Severity.HIGH, 2: Severity.MEDIUM, 3: Severity.LOW}


def priority_scale(value: int) -> Severity:
    """Suricata's and Snort's priority: 1 high, 2 medium, 3 low, 4 and more informational."""
    return _PRIORITY.get(value, Severity.INFORMATIONAL if value > 3 else DEFAULT)


_SYSLOG_SEVERITY = {0: Severity.CRITICAL, 1: Severity.CRITICAL, 2: Severity.HIGH,
                    3: Severity.MEDIUM, 4: Severity.LOW}


def syslog_scale(value: int) -> Severity:
    """ModSecurity's (syslog's) severities: EMERGENCY and ALERT (0, 1) critical, CRITICAL (2)
    high, ERROR (3) medium, WARNING (4) low, NOTICE and below informational. CRS scores them
    5, 4, 3 and 2 points."""
    return _SYSLOG_SEVERITY.get(value, Severity.INFORMATIONAL if value > 4 else DEFAULT)


SCALES: Mapping[str, Callable[[int], Severity]] = {
    "suricata": priority_scale, "snort": priority_scale,
    # ModSecurity's audit log, and the web servers' error logs whose only alerts are its lines
    "modsecurity": syslog_scale, "apache": syslog_scale, "nginx": syslog_scale,
}
"""``event.module`` → its ``event.severity`` scale. A parser of another device adds its own."""


def device_findings(events: Iterable[Event]) -> list[Finding]:
    """A finding for each event a device classified as an alert (``event.kind: alert``)."""
    return [device_finding(e) for e in events if e.get("event.kind") == "alert"]


def device_finding(event: Event) -> Finding:
    """The finding of one device alert (see the module's docstring)."""
    module = module_of(event)
    title = title_of(event, module)
    ts = str(event.get("@timestamp", ""))
    entity = {f: event[f] for f in ENTITY_FIELDS if event.get(f) not in (None, "")}
    group = {f: event[f] for f in GROUP_FIELDS if event.get(f) not in (None, "", [])}
    if "host.name" in group:
        group.pop("observer.name", None)
    return Finding(rule_id=rule_id_of(event, module, title), title=title,
                   level=severity_of(event, module), tags=(), ts=ts, anchor=ts, group=group,
                   entity=entity, triggers=((str(event.get("event.id", "")), ts),), kind=KIND,
                   event=event)


def module_of(event: Event) -> str:
    """The device's module: ``event.module``, else the first part of ``event.dataset``."""
    module = event.get("event.module") or str(event.get("event.dataset") or "").split(".")[0]
    return str(module or "device")


def title_of(event: Event, module: str) -> str:
    """The signature's name (``rule.name``), else the message, cut at :data:`MAX_TITLE`."""
    title = _text(event.get("rule.name")) or _text(event.get("message")) or f"{module} alert"
    return title if len(title) <= MAX_TITLE else title[:MAX_TITLE - 1] + "…"


def rule_id_of(event: Event, module: str, title: str) -> str:
    """``<module>:<rule.id>``, or ``<module>:`` and a digest of the title without one."""
    sid = _text(event.get("rule.id"))
    if not sid:
        sid = hashlib.blake2b(title.encode(), digest_size=6).hexdigest()
    return f"{module}:{sid}"


def severity_of(event: Event, module: str) -> Severity:
    """The device's ``event.severity`` on its module's scale (:data:`DEFAULT` without one)."""
    scale = SCALES.get(module)
    value = _integer(event.get("event.severity"))
    if scale is None or value is None:
        return DEFAULT
    return scale(value)


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value).strip()


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() \
            and len(value.strip()) <= 6:
        return int(value)
    return None
