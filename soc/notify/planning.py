"""Changes nobody's write causes, planned by the dispatcher from the clock: reminders of
regulatory duties before their deadline and when overdue, steps overdue, and escalations of
alerts nobody acknowledged in time. Each is keyed so that planning again queues nothing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from soc.ecs import format_ts, parse_ts
from soc.models import AlertStatus
from soc.notify.config import NotifyConfig, Route
from soc.notify.routing import matches
from soc.outbox import INCIDENT_FIELDS, Change
from soc.response.deadlines import DueItem, due
from soc.response.records import Incident
from soc.stores.base import Store
from soc.timeutil import format_duration


def plan_duties(store: Store, notify: NotifyConfig, incidents: list[Incident],
                profiles: dict[str, Any], now: datetime) -> int:
    """Queue "duty.reminder" (the nearest reminder offset already reached, once per offset),
    "duty.overdue" and "incident.step_overdue" (once each); returns how many were new."""
    by_id = {i.id: i for i in incidents}
    new = 0
    for item in due(incidents, profiles):
        change = _duty_change(item, by_id[item.incident], notify, now)
        if change is not None and store.queue_change(change) is not None:
            new += 1
    return new


def _duty_change(item: DueItem, inc: Incident, notify: NotifyConfig,
                 now: datetime) -> Change | None:
    if item.deadline is None:
        return None
    left = item.deadline - now
    where = f"{item.incident}:{item.step}"
    if item.kind != "report":
        if left.total_seconds() >= 0:
            return None
        key, kind = f"incident.step_overdue:{where}", "incident.step_overdue"
    elif left.total_seconds() < 0:
        key, kind = f"duty.overdue:{where}", "duty.overdue"
    else:
        reached = [o for o in notify.reminders if left <= o]
        if not reached:
            return None
        key, kind = f"duty.reminder:{where}:{format_duration(min(reached))}", "duty.reminder"
    link = (f"soc report incident {item.incident} {item.report}" if item.report
            else f"soc incidents show {item.incident}")
    doc = {"incident": _incident(inc), "duty": item.to_dict(now), "link": link}
    return Change(key, kind, where, inc.severity.value, format_ts(now), doc)


def _incident(inc: Incident) -> dict[str, Any]:
    doc = inc.to_dict()
    return {k: doc[k] for k in INCIDENT_FIELDS if k in doc}


def plan_escalations(store: Store, notify: NotifyConfig, now: datetime) -> int:
    """Queue an "escalation" for each new alert a route with ``escalate:`` took that is still
    open (not acknowledged) ``escalate.after`` later; once per alert and route."""
    routes = [r for r in notify.routes if r.escalate is not None]
    if not routes:
        return 0
    since = format_ts(now - notify.max_age)
    done = {c.key for c in store.outbox_changes(kinds=["escalation"], since=since)}
    new = 0
    for change in store.outbox_changes(kinds=["alert.new"], since=since):
        for route in routes:
            if f"escalation:{change.subject}:{route.name}" in done:
                continue
            escalation = _escalation(store, route, change, now)
            if escalation is not None and store.queue_change(escalation) is not None:
                new += 1
    return new


def _escalation(store: Store, route: Route, change: Change, now: datetime) -> Change | None:
    assert route.escalate is not None
    if parse_ts(change.ts) + route.escalate.after > now or not matches(route.match, change):
        return None
    alert = store.get_alert(change.subject)
    if alert is None or alert.status is not AlertStatus.OPEN:
        return None
    doc = {"alert": alert.to_dict(), "route": route.name,
           "after": format_duration(route.escalate.after),
           "link": f"soc alerts show {alert.id}"}
    return Change(f"escalation:{alert.id}:{route.name}", "escalation", alert.id,
                  alert.severity.value, format_ts(now), doc)
