"""``/alerts``: the queue (filters, a page at a time, bulk ack/assign/close) and one alert (its
events, entities with one-click pivots, comments, audit trail, triage forms).

The same library calls as ``soc alerts list|show|events|ack|assign|close|comment``:
:func:`soc.alerts.page` over an :class:`AlertQuery` (the store filters and limits, so a queue
of 100,000 open alerts costs one page), :func:`soc.pivots.alert_events`, and the audited
lifecycle functions with the logged-in user as the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import islice
from typing import Any

from starlette.responses import Response

from soc import alerts as lib
from soc import pivots
from soc.ecs import format_ts, parse_ts
from soc.models import Alert, AlertQuery, AlertStatus, Severity
from soc.stores.base import Store
from soc.timeutil import parse_when
from soc.web import i18n
from soc.web.context import (
    PER_PAGE,
    Ctx,
    HttpError,
    Spec,
    page_url,
    paging,
    redirect,
    safe_next,
)

FILTERS = ("status", "severity", "rule", "system", "unit", "assignee", "since")
MAX_EVENTS = 100  # events shown on an alert's page (the API and CLI give them all)
MAX_BULK = 500
Action = Callable[[Store], Alert]

i18n.add({
    "alerts.title": ("Hàng đợi cảnh báo", "Alert queue"),
    "alerts.none": ("Không có cảnh báo nào khớp.", "No alerts match."),
    "alerts.status": ("Trạng thái", "Status"),
    "alerts.severity": ("Mức độ (từ)", "Severity (at least)"),
    "alerts.severity_column": ("Mức độ", "Severity"),
    "alerts.rule": ("Luật", "Rule"),
    "alerts.system": ("Hệ thống", "System"),
    "alerts.unit": ("Đơn vị", "Unit"),
    "alerts.assignee": ("Người xử lý", "Assignee"),
    "alerts.since": ("Từ (24h, 7d, ngày)", "Since (24h, 7d, a date)"),
    "alerts.last_seen": ("Lần cuối", "Last seen"),
    "alerts.first_seen": ("Lần đầu", "First seen"),
    "alerts.count": ("Số sự kiện", "Events"),
    "alerts.entity": ("Đối tượng", "Entity"),
    "alerts.bulk": ("Với các cảnh báo đã chọn", "With the selected alerts"),
    "alerts.ack": ("Xác nhận", "Acknowledge"),
    "alerts.assign": ("Giao cho", "Assign to"),
    "alerts.close": ("Đóng", "Close"),
    "alerts.reason": ("Lý do", "Reason"),
    "alerts.apply": ("Thực hiện", "Apply"),
    "alerts.select_all": ("Chọn tất cả", "Select all"),
    "alert.title": ("Cảnh báo", "Alert"),
    "alert.events": ("Sự kiện", "Events"),
    "alert.events_more": ("Chỉ hiện {shown} sự kiện đầu; xem tất cả bằng API hoặc "
                          "'soc alerts events'.",
                          "Only the first {shown} events are shown; the API or "
                          "'soc alerts events' gives them all."),
    "alert.missing": ("{n} sự kiện không còn được lưu (hết hạn lưu trữ?).",
                      "{n} events are no longer stored (past retention?)."),
    "alert.entities": ("Đối tượng liên quan", "Entities"),
    "alert.comments": ("Ghi chú", "Comments"),
    "alert.comment": ("Thêm ghi chú", "Add a comment"),
    "alert.audit": ("Nhật ký kiểm toán", "Audit trail"),
    "alert.triage": ("Xử lý", "Triage"),
    "alert.incident": ("Sự cố", "Incident"),
    "alert.tags": ("Nhãn", "Tags"),
    "alert.reason": ("Lý do đóng", "Closing reason"),
})


def alert_query(ctx: Ctx, limit: int | None = PER_PAGE) -> AlertQuery:
    """The :class:`AlertQuery` of the request's filters (query parameters)."""
    status, severity = ctx.query("status"), ctx.query("severity")
    if status is not None and status not in {s.value for s in AlertStatus}:
        raise HttpError(400, f"unknown status {status!r}",
                        hint="One of: " + ", ".join(s.value for s in AlertStatus))
    if severity is not None and severity not in {s.value for s in Severity}:
        raise HttpError(400, f"unknown severity {severity!r}",
                        hint="One of: " + ", ".join(s.value for s in Severity))
    return AlertQuery(status=AlertStatus(status) if status else None,
                      min_severity=Severity(severity) if severity else None,
                      rule=ctx.query("rule"), system=ctx.query("system"),
                      unit=ctx.query("unit"), assignee=ctx.query("assignee"),
                      since=since_of(ctx, "since"), limit=limit)


def since_of(ctx: Ctx, name: str) -> str | None:
    """A time parameter (``24h`` back from the console's clock, or an ISO date), canonical."""
    text = ctx.query(name)
    if text is None:
        return None
    try:
        return format_ts(parse_when(text, ctx.web.clock()))
    except ValueError as exc:
        raise HttpError(400, str(exc), hint=f"Example: {name}=24h or {name}=2026-11-24") \
            from None


def queue(ctx: Ctx) -> Response:
    """The alert queue, most recently seen first, one page at a time."""
    query = alert_query(ctx)
    number, offset = paging(ctx)
    with ctx.web.store() as store:
        found = lib.page(store, query, offset)
    pager = {"page": number, "more": found.more,
             "prev": page_url(ctx, number - 1) if number > 1 else None,
             "next": page_url(ctx, number + 1) if found.more else None}
    back = ctx.request.url.path + (f"?{ctx.request.url.query}" if ctx.request.url.query else "")
    return ctx.render("alerts.html", alerts=found.alerts, rows=[lib.summary_row(a)
                      for a in found.alerts], pager=pager, filters=_filters(ctx), back=back,
                      statuses=[s.value for s in AlertStatus],
                      severities=[s.value for s in Severity])


def _filters(ctx: Ctx) -> dict[str, str]:
    return {name: ctx.query(name) or "" for name in FILTERS}


def show(ctx: Ctx) -> Response:
    """One alert: fields, entities with pivots, events, comments, audit trail."""
    with ctx.web.store() as store:
        linked = pivots.alert_events(store, ctx.request.path_params["alert_id"])
        events = list(islice(linked, MAX_EVENTS))
        trail = store.audit_trail(linked.alert.id)
    alert = linked.alert
    return ctx.render("alert.html", alert=alert, events=events, missing=len(linked.missing),
                      total=len(linked.links), shown=MAX_EVENTS, trail=trail,
                      entities=_entities(alert), window=pivot_window(alert))


PIVOT_MARGIN = timedelta(hours=1)


def pivot_window(alert: Alert) -> dict[str, str]:
    """The search range of the alert's pivots: its first to last event, an hour either side
    (a pivot from last month's alert finds last month's events)."""
    first, last = parse_ts(alert.first_seen), parse_ts(alert.last_seen)
    return {"from": format_ts(first - PIVOT_MARGIN), "to": format_ts(last + PIVOT_MARGIN)}


def _entities(alert: Alert) -> list[tuple[str, Any]]:
    """The alert's entity and group values, each once (lists give each element)."""
    seen: dict[tuple[str, str], Any] = {}
    for key, value in (*alert.entity.items(), *alert.group.items()):
        for item in value if isinstance(value, list) else [value]:
            if item not in (None, "") and not isinstance(item, dict | list):
                seen.setdefault((key, str(item)), item)
    return [(k, v) for (k, _), v in seen.items()]


def _act(ctx: Ctx, action: Action) -> Alert:
    """Run one audited change as the logged-in user."""
    with ctx.web.store(write=True) as store:
        return action(store)


def _one(ctx: Ctx, make: Callable[[Ctx, str], Action]) -> Response:
    alert_id = ctx.request.path_params["alert_id"]
    _act(ctx, make(ctx, alert_id))
    return redirect(f"/alerts/{alert_id}")


def ack_action(ctx: Ctx, alert_id: str) -> Action:
    who, data_dir = ctx.actor, ctx.web.config.data_dir
    return lambda s: lib.acknowledge(s, alert_id, who, data_dir=data_dir)


def assign_action(ctx: Ctx, alert_id: str) -> Action:
    who, data_dir = ctx.actor, ctx.web.config.data_dir
    user = ctx.field("user").strip() or ctx.field("assignee").strip()
    if not user:
        raise HttpError(400, "whom to assign to?", hint="Give the analyst's name (user).")
    return lambda s: lib.assign(s, alert_id, user, who, data_dir=data_dir)


def close_action(ctx: Ctx, alert_id: str) -> Action:
    who, data_dir, reason = ctx.actor, ctx.web.config.data_dir, ctx.field("reason")
    return lambda s: lib.close(s, alert_id, reason, who, data_dir=data_dir)


def comment_action(ctx: Ctx, alert_id: str) -> Action:
    who, data_dir, text = ctx.actor, ctx.web.config.data_dir, ctx.field("text")
    return lambda s: lib.comment(s, alert_id, text, who, data_dir=data_dir)


ACTIONS: dict[str, Callable[[Ctx, str], Action]] = {
    "ack": ack_action, "assign": assign_action, "close": close_action,
    "comment": comment_action}
"""The triage actions, shared by the pages and the API."""


def bulk(ctx: Ctx) -> Response:
    """Acknowledge, assign or close the checked alerts of the queue (one audit entry each)."""
    form = ctx.form
    ids = [str(i) for i in form.getlist("ids")] if hasattr(form, "getlist") else []
    make = ACTIONS.get(ctx.field("action"))
    if make is None or make is comment_action:
        raise HttpError(400, "unknown bulk action", hint="One of: ack, assign, close.")
    if not ids or len(ids) > MAX_BULK:
        raise HttpError(400, f"select 1 to {MAX_BULK} alerts",
                        hint="Tick the alerts in the queue first.")
    actions = [make(ctx, alert_id) for alert_id in ids]
    with ctx.web.store(write=True) as store:
        for action in actions:
            action(store)
    return redirect(safe_next(ctx.field("back"), "/alerts"))


def _page_action(name: str) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        return _one(ctx, ACTIONS[name])

    handler.__name__ = f"{name}_page"
    return handler


NAV = [("/alerts", "nav.alerts")]
ROUTES = [
    Spec("/alerts", queue, name="alerts"),
    Spec("/alerts/bulk", bulk, methods=("POST",), need="analyst", change=True,
         name="alerts-bulk"),
    Spec("/alerts/{alert_id}", show, name="alert"),
    *(Spec(f"/alerts/{{alert_id}}/{name}", _page_action(name), methods=("POST",),
           need="analyst", change=True, name=f"alert-{name}") for name in ACTIONS),
]
