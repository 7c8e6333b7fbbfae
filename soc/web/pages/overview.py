"""``/overview`` (and ``/``, which leads here): the team's dashboard. Alerts of the last 7 days
by severity and day and by system, open alerts by severity, the top sources and targets of the
events, open incidents and the deadlines due next.

Everything is counted where the data is kept: grouped alert counts
(:meth:`~soc.stores.base.Store.alert_counts`, one query each on the embedded store) and event
aggregations (:meth:`~soc.stores.base.Store.aggregate`, cached per partition), never a listing of
alerts, so the page costs the same with 100,000 open alerts as with ten. Deadlines are those of
``soc incidents due`` (:func:`soc.response.deadlines.due`). Days are days of the configured time
zone; the charts are SVG drawn on the server (no script, no style attribute).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

from starlette.responses import JSONResponse, Response

from soc.ecs import format_ts
from soc.errors import SocError
from soc.models import AlertQuery, AlertStatus, Severity
from soc.response import deadlines
from soc.response import incidents as lib
from soc.response.profiles import active_profile
from soc.stores.base import Store
from soc.web import i18n
from soc.web.context import ApiDoc, Ctx, Spec

DAYS = 7
TOP = 10
DUE_SHOWN = 10
CHART_HEIGHT = 160
BAR_WIDTH = 56
BAR_GAP = 14
ROW_WIDTH = 360
SEVERITIES = [s.value for s in Severity]  # least to most severe: stacked from the bottom
COLOURS = {"informational": "#a9b1ba", "low": "#7fb2e5", "medium": "#e3a008",
           "high": "#d1242f", "critical": "#7d0019"}

i18n.add({
    "nav.overview": ("Tổng quan", "Overview"),
    "overview.title": ("Tổng quan", "Overview"),
    "overview.by_day": ("Cảnh báo 7 ngày qua theo mức độ", "Alerts of the last 7 days by severity"),
    "overview.by_system": ("Cảnh báo 7 ngày qua theo hệ thống",
                           "Alerts of the last 7 days by system"),
    "overview.open": ("Cảnh báo đang mở", "Open alerts"),
    "overview.total": ("Tổng", "Total"),
    "overview.day": ("Ngày", "Day"),
    "overview.no_system": ("(không rõ hệ thống)", "(no system)"),
    "overview.sources": ("Nguồn hàng đầu (source.ip)", "Top sources (source.ip)"),
    "overview.targets": ("Đích hàng đầu (destination.ip)", "Top targets (destination.ip)"),
    "overview.events": ("sự kiện", "events"),
    "overview.incidents": ("Sự cố đang mở", "Open incidents"),
    "overview.due": ("Sắp đến hạn", "Due next"),
    "overview.deadline": ("Hạn", "Deadline"),
    "overview.left": ("Còn lại", "Left"),
    "overview.overdue": ("quá hạn", "overdue"),
    "overview.step": ("Bước", "Step"),
    "overview.incident": ("Sự cố", "Incident"),
})


def first_day(ctx: Ctx) -> tuple[datetime, list[str]]:
    """The start of the window (local midnight, 6 days before today) and its days."""
    zone, now = ctx.web.config.tz, ctx.web.clock()
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    return datetime.combine(days[0], time(), zone), [d.isoformat() for d in days]


def offset_of(moment: datetime) -> int:
    """Seconds east of UTC at ``moment`` (days are counted in that offset)."""
    delta = moment.utcoffset()
    return int(delta.total_seconds()) if delta else 0


def by_day(rows: Sequence[dict[str, Any]], days: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per day: ``counts`` per severity and ``total`` (days without alerts too)."""
    table = {d: dict.fromkeys(SEVERITIES, 0) for d in days}
    for row in rows:
        if row["day"] in table and row["severity"] in SEVERITIES:
            table[row["day"]][row["severity"]] += int(row["count"])
    return [{"day": d, "counts": table[d], "total": sum(table[d].values())} for d in days]


def stacked(days: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """SVG geometry of the stacked day bars: one rect per non-empty severity of a day."""
    top = max([d["total"] for d in days] + [1])
    bars = []
    for i, day in enumerate(days):
        x, y = i * (BAR_WIDTH + BAR_GAP), CHART_HEIGHT
        for sev in SEVERITIES:
            height = round(day["counts"][sev] * CHART_HEIGHT / top, 1)
            if day["counts"][sev]:
                y -= height
                bars.append({"x": x, "y": round(y, 1), "h": height, "fill": COLOURS[sev],
                             "title": f"{day['day']} {sev}: {day['counts'][sev]}"})
    return {"bars": bars, "width": len(days) * (BAR_WIDTH + BAR_GAP), "height": CHART_HEIGHT,
            "labels": [{"x": i * (BAR_WIDTH + BAR_GAP) + BAR_WIDTH / 2, "text": d["day"][5:],
                        "total": d["total"]} for i, d in enumerate(days)]}


def ranked(pairs: Sequence[tuple[str | None, int]]) -> list[dict[str, Any]]:
    """Horizontal bars: each label with its count and bar width (the largest is full)."""
    top = max([n for _, n in pairs] + [1])
    return [{"label": label, "count": n, "w": max(1, round(n * ROW_WIDTH / top))}
            for label, n in pairs]


def alert_figures(ctx: Ctx, store: Store, start: datetime,
                  days: Sequence[str]) -> dict[str, Any]:
    """Alert counts of the window (by day and severity, by system) and open ones by severity."""
    window = AlertQuery(since=format_ts(start))
    daily = by_day(store.alert_counts(window, group_by=["severity"],
                                      day_offset=offset_of(start)), days)
    systems = sorted(((r["system"], int(r["count"])) for r in
                      store.alert_counts(window, group_by=["system"])),
                     key=lambda p: (-p[1], p[0] or ""))
    opened = {str(r["severity"]): int(r["count"]) for r in
              store.alert_counts(AlertQuery(status=AlertStatus.OPEN), group_by=["severity"])}
    return {"days": daily, "total": sum(d["total"] for d in daily),
            "systems": systems[:TOP * 2],
            "open": {s: opened.get(s, 0) for s in reversed(SEVERITIES)},
            "open_total": sum(opened.values())}


def top_values(ctx: Ctx, store: Store, field: str, start: datetime) -> list[tuple[str, int]]:
    """The most frequent values of ``field`` among the window's events ([] if the store
    cannot aggregate)."""
    try:
        rows = store.aggregate("*", since=start, until=ctx.web.clock(), group_by=[field],
                               top=TOP, timezone=ctx.web.config.timezone)
    except SocError:
        return []
    pairs = [(str(r[field]), int(r["count"])) for r in rows]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))


def incident_figures(ctx: Ctx, store: Store) -> dict[str, Any]:
    """Open incidents and the deadlines due next (``soc incidents due``)."""
    found = lib.list_incidents(store, None)
    items = deadlines.due(found, lib.profiles_of(found, active_profile(ctx.web.config)))
    now = ctx.web.clock()
    return {"incidents": [{"id": i.id, "title": i.title, "classification": i.classification,
                           "severity": i.severity.value, "t0": i.t0}
                          for i in found if i.status == "open"],
            "due": [item.to_dict(now) for item in items[:DUE_SHOWN]]}


def overview_facts(ctx: Ctx) -> dict[str, Any]:
    """Every figure of the dashboard, as plain values (the page and ``GET /api/overview``)."""
    start, days = first_day(ctx)
    with ctx.web.store() as store:
        facts = alert_figures(ctx, store, start, days)
        facts["sources"] = top_values(ctx, store, "source.ip", start)
        facts["targets"] = top_values(ctx, store, "destination.ip", start)
        facts.update(incident_figures(ctx, store))
    facts["since"] = format_ts(start)
    return facts


def page(ctx: Ctx) -> Response:
    facts = overview_facts(ctx)
    return ctx.render("overview.html", facts=facts, chart=stacked(facts["days"]),
                      colours=COLOURS, severities=list(reversed(SEVERITIES)),
                      systems=ranked(facts["systems"]), sources=ranked(facts["sources"]),
                      targets=ranked(facts["targets"]))


def api(ctx: Ctx) -> Response:
    facts = overview_facts(ctx)
    return JSONResponse({**facts, "systems": [{"system": s, "count": n}
                                              for s, n in facts["systems"]],
                         "sources": [{"value": v, "count": n} for v, n in facts["sources"]],
                         "targets": [{"value": v, "count": n} for v, n in facts["targets"]]})


OVERVIEW = {"type": "object", "required": ["days", "total", "open", "open_total", "since"],
            "properties": {"days": {"type": "array", "items": {"type": "object"}},
                           "total": {"type": "integer"}, "open": {"type": "object"},
                           "open_total": {"type": "integer"}, "since": {"type": "string"},
                           "systems": {"type": "array"}, "sources": {"type": "array"},
                           "targets": {"type": "array"}, "incidents": {"type": "array"},
                           "due": {"type": "array"}}}
NAV = [("/overview", "nav.overview")]
ROUTES = [
    Spec("/overview", page, name="overview"),
    Spec("/api/overview", api, name="api-overview",
         doc=ApiDoc("The dashboard's figures: alerts of the last 7 days by day, severity and "
                    "system, open alerts, top sources and targets, open incidents, due next",
                    response=OVERVIEW)),
]
