"""Legal holds: which incidents keep their events out of retention, and what retention kept.

An incident holds its events while it is open (any status but ``closed``), and after its close
while an analyst's hold stands (``soc incidents hold``, until ``soc incidents release``). Its
events are those linked to its alerts (every link detection stored, not only the ids an alert's
document keeps) and those it records itself: the events its query steps found, on its timeline.
Retention never deletes alerts or incidents, so holding an incident's events is what keeps its
evidence whole. Putting a hold on and off is :func:`soc.response.incidents.hold` /
:func:`~soc.response.incidents.release`; this module reads the incident documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soc.config import Config
from soc.stores.base import Hold, RetentionItem, Store


def incident_alert_ids(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The alert ids of an incident document: the one place holds read them from (``alerts``,
    which opening an incident and adding alerts to it fill)."""
    return tuple(dict.fromkeys(str(a) for a in doc.get("alerts") or ()))


def incident_event_ids(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """Event ids an incident document records itself: the events its query steps found, kept
    on its timeline (``data.results[].events[]["event.id"]``)."""
    found: dict[str, None] = {}
    for entry in doc.get("timeline") or ():
        data = entry.get("data") or {} if isinstance(entry, Mapping) else {}
        for result in data.get("results") or () if isinstance(data, Mapping) else ():
            for event in result.get("events") or () if isinstance(result, Mapping) else ():
                if isinstance(event, Mapping) and event.get("event.id"):
                    found[str(event["event.id"])] = None
    return tuple(found)


def hold_reason(doc: Mapping[str, Any]) -> str | None:
    """Why an incident document holds its events now, for the report: ``hold: REASON`` (an
    analyst's hold, which outlasts the close), ``open``, or None when nothing holds them."""
    held = doc.get("hold")
    if isinstance(held, Mapping):
        return f"hold: {held.get('reason') or ''}".strip()
    if doc.get("status") != "closed":
        return "open"
    return None


def current_holds(store: Store) -> list[Hold]:
    """The holds of every incident that holds its events now, by incident id."""
    holds = []
    for doc in store.list_incidents():
        why = hold_reason(doc)
        if why is not None:
            holds.append(Hold(incident=str(doc["id"]), why=why, alerts=incident_alert_ids(doc),
                              events=incident_event_ids(doc)))
    return sorted(holds, key=lambda h: h.incident)


@dataclass(frozen=True)
class RetentionRun:
    """What ``soc store retention`` judged (and with ``apply`` did), and the holds it kept."""

    items: list[RetentionItem]
    holds: list[Hold]

    def kept(self) -> list[dict[str, Any]]:
        """Per incident that kept events past retention: its id, why, and how many events."""
        counts = kept_by_incident(self.items)
        return [{"incident": h.incident, "why": h.why, "events": counts[h.incident]}
                for h in self.holds if counts.get(h.incident)]


def kept_by_incident(items: Iterable[RetentionItem]) -> dict[str, int]:
    """Expired events kept, per incident (an event two incidents hold counts for both)."""
    out: dict[str, int] = {}
    for item in items:
        for incident, events in item.kept:
            out[incident] = out.get(incident, 0) + events
    return out


def run_retention(store: Store, config: Config, *, now: datetime,
                  apply: bool = False) -> RetentionRun:
    """Retention at ``now`` with the holds in force: list the expired days, and with ``apply``
    delete their events except those the holds keep."""
    holds = current_holds(store)
    items = store.retention(config.retention_days, now=now, apply=apply, holds=holds)
    return RetentionRun(items, holds)
