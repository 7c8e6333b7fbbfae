"""Sightings from the alert queue: every ``intel-match`` (and retrospective) alert last seen in
the window, grouped per indicator, with the systems and units where it was seen and the fields
it matched in. The exporters are :mod:`soc.intel.sightings`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from soc.config import Config
from soc.ecs import format_ts
from soc.intel.config import load as load_intel
from soc.intel.findings import RETRO_KIND, RULE_ID
from soc.intel.model import IndicatorRecord, indicator_id
from soc.intel.sightings import Sighting, exportable, to_csv, to_misp, to_stix
from soc.models import Alert, AlertQuery
from soc.stores.base import Store


def sightings(store: Store, *, since: datetime) -> list[Sighting]:
    """One :class:`Sighting` per indicator matched by an alert last seen since ``since``."""
    alerts = store.list_alerts(AlertQuery(rule=RULE_ID, since=format_ts(since), limit=None))
    by_id: dict[str, list[Alert]] = {}
    for alert in alerts:
        kind = alert.group.get("threat.indicator.type")
        value = alert.group.get("threat.indicator.value")
        if isinstance(kind, str) and isinstance(value, str):
            by_id.setdefault(indicator_id(kind, value), []).append(alert)
    records = store.get_indicators(list(by_id)) if by_id else {}
    out: list[Sighting] = []
    for rid, found in by_id.items():
        record = records.get(rid) or _bare(found[0])
        out.append(Sighting(
            record=record, first_seen=min(a.first_seen for a in found),
            last_seen=max(a.last_seen for a in found), count=sum(max(a.count, 1) for a in found),
            systems=_distinct(a.system for a in found), units=_distinct(a.unit for a in found),
            fields=_distinct(str((a.event or {}).get("threat.indicator.matched.field") or "")
                             for a in found),
            retrospective=all(a.kind == RETRO_KIND for a in found)))
    out.sort(key=lambda s: (s.first_seen, s.record.type, s.record.value))
    return out


def _bare(alert: Alert) -> IndicatorRecord:
    """A record removed from the store since it matched: its type and value only, and the TLP
    the alert's event kept (an unknown TLP is not taken for RED's opposite: it stays unknown)."""
    event = alert.event or {}
    record = IndicatorRecord(str(alert.group["threat.indicator.type"]),
                             str(alert.group["threat.indicator.value"]), {}, added="",
                             updated="")
    tlp = event.get("threat.indicator.marking.tlp")
    record.tlp = str(tlp) if tlp else None
    return record


def _distinct(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if v}))


def export(config: Config, store: Store, *, since: datetime, now: datetime,
           fmt: str) -> tuple[str, int]:
    """The sightings as text in ``fmt`` (stix, misp, csv), and how many were held back."""
    intel = load_intel(config)
    found = sightings(store, since=since)
    _, held = exportable(found)
    if fmt == "stix":
        return json.dumps(to_stix(found, identity_name=intel.identity, now=now),
                          ensure_ascii=False, indent=2) + "\n", held
    if fmt == "misp":
        return json.dumps(to_misp(found, source=intel.identity), ensure_ascii=False,
                          indent=2) + "\n", held
    return to_csv(found, system_default=intel.system, unit_default=intel.unit,
                  timezone=config.timezone), held
