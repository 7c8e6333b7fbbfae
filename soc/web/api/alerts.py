"""``/api/alerts``: the queue and one alert as JSON, and the triage actions (POST JSON).

The filters, paging and actions are those of the queue page (:mod:`soc.web.pages.alerts`),
so both answer the same; the JSON is ``Alert.to_dict()``, as ``soc alerts list --json``.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse, Response

from soc import alerts as lib
from soc.models import AlertStatus, Severity
from soc.web.context import PER_PAGE, ApiDoc, Ctx, HttpError, Param, Spec
from soc.web.pages.alerts import ACTIONS, alert_query

MAX_LIMIT = 500
ALERT = {"type": "object", "required": ["id", "rule_id", "rule_title", "severity", "status"],
         "properties": {"id": {"type": "string"}, "rule_id": {"type": "string"},
                        "rule_title": {"type": "string"},
                        "severity": {"type": "string", "enum": [s.value for s in Severity]},
                        "status": {"type": "string", "enum": [s.value for s in AlertStatus]},
                        "assignee": {"type": ["string", "null"]}}}
_ID = Param("alert_id", {"type": "string", "minLength": 1}, where="path", required=True,
            description="The alert's id, or a unique prefix of 6 characters or more.")
_TEXT = {"type": "string", "minLength": 1, "maxLength": 10000}


def _limit(ctx: Ctx) -> int:
    raw = ctx.query("limit", str(PER_PAGE)) or ""
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise HttpError(400, f"limit must be 1 to {MAX_LIMIT}")
    return int(raw)


def _offset(ctx: Ctx) -> int:
    raw = ctx.query("offset", "0") or ""
    if not raw.isdigit() or len(raw) > 9:
        raise HttpError(400, "offset must be a whole number, 0 or more")
    return int(raw)


def list_alerts(ctx: Ctx) -> Response:
    """One page of alerts matching the filters, most recently seen first."""
    query = alert_query(ctx, _limit(ctx))
    offset = _offset(ctx)
    with ctx.web.store() as store:
        found = lib.page(store, query, offset)
    return JSONResponse({"alerts": [a.to_dict() for a in found.alerts], "offset": offset,
                         "more": found.more, "next_offset": found.next_offset})


def get_alert(ctx: Ctx) -> Response:
    """One alert with its audit trail (``soc alerts show --json``)."""
    with ctx.web.store() as store:
        alert = lib.get(store, ctx.request.path_params["alert_id"])
        trail = store.audit_trail(alert.id)
    return JSONResponse({**alert.to_dict(), "audit": [e.to_dict() for e in trail]})


def _action(name: str) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        if ctx.body is None:
            ctx.body = {}
        action = ACTIONS[name](ctx, ctx.request.path_params["alert_id"])
        with ctx.web.store(write=True) as store:
            alert = action(store)
        return JSONResponse(alert.to_dict())

    handler.__name__ = f"api_{name}"
    return handler


_BODIES = {
    "ack": None,
    "assign": {"type": "object", "required": ["user"],
               "properties": {"user": {"type": "string", "minLength": 1, "maxLength": 200,
                                       "pattern": r"\S"}}},
    "close": {"type": "object", "required": ["reason"],
              "properties": {"reason": {**_TEXT, "pattern": r"\S"}}},
    "comment": {"type": "object", "required": ["text"],
                "properties": {"text": {**_TEXT, "pattern": r"\S"}}},
}
_SUMMARIES = {"ack": "Acknowledge an alert", "assign": "Assign an alert to an analyst",
              "close": "Close an alert with a reason", "comment": "Comment on an alert"}
FILTER_PARAMS = (
    Param("status", {"type": "string", "enum": [s.value for s in AlertStatus]}),
    Param("severity", {"type": "string", "enum": [s.value for s in Severity]},
          description="At this severity or above."),
    Param("rule", {"type": "string"}), Param("system", {"type": "string"}),
    Param("unit", {"type": "string"}), Param("assignee", {"type": "string"}),
    Param("since", {"type": "string"}, description="Last seen at or after: 24h, 7d or a date."),
)
ROUTES = [
    Spec("/api/alerts", list_alerts, name="api-alerts", doc=ApiDoc(
        "List alerts (paged)", (*FILTER_PARAMS,
                                Param("offset", {"type": "integer", "minimum": 0}),
                                Param("limit", {"type": "integer", "minimum": 1,
                                                "maximum": MAX_LIMIT})),
        response={"type": "object", "properties": {"alerts": {"type": "array",
                                                              "items": ALERT},
                                                   "offset": {"type": "integer"},
                                                   "more": {"type": "integer"},
                                                   "next_offset": {"type": "integer"}}})),
    Spec("/api/alerts/{alert_id}", get_alert, name="api-alert",
         doc=ApiDoc("One alert with its audit trail", (_ID,), response=ALERT)),
    *(Spec(f"/api/alerts/{{alert_id}}/{name}", _action(name), methods=("POST",),
           need="analyst", change=True, name=f"api-alert-{name}",
           doc=ApiDoc(_SUMMARIES[name], (_ID,), body=_BODIES[name], response=ALERT))
      for name in ACTIONS),
]
