"""``/api/incidents``: the incidents and one incident as JSON, what is due, and the changes
(open, add alerts, work a step, note, evidence upload, close).

The library calls are those of the incident pages (:mod:`soc.web.pages.incidents`), so both
do the same; one incident's JSON is that of ``soc incidents show --json``, the due list that of
``soc incidents due --json``. Evidence is sent as ``multipart/form-data`` (fields ``file``,
``step``, ``note``), streamed to disk; every other body is a JSON object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from soc.ecs import format_ts
from soc.errors import NotFoundError
from soc.response import incidents as lib
from soc.response import records
from soc.web.context import PER_PAGE, ApiDoc, Ctx, HttpError, Param, Spec
from soc.web.pages import incidents as pages

MAX_LIMIT = 500
_ID = Param("incident_id", {"type": "string", "minLength": 1}, where="path", required=True,
            description="The incident's id, e.g. SC-2026-0001.")
_TEXT = {"type": "string", "minLength": 1, "maxLength": 10000, "pattern": r"\S"}
_IDS = {"type": "array", "minItems": 1, "maxItems": pages.MAX_IDS,
        "items": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^\S+$"}}
HEADER = {"type": "object", "required": ["id", "title", "status", "classification", "t0"],
          "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                         "status": {"type": "string", "enum": ["open", "closed"]},
                         "classification": {"type": "string"},
                         "severity": {"type": "string"}, "t0": {"type": "string"},
                         "playbook": {"type": "string"},
                         "open_steps": {"type": "integer"}}}
INCIDENT = {"type": "object", "required": ["id", "status", "steps", "evidence", "timeline"],
            "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                           "steps": {"type": "array"}, "evidence": {"type": "array"},
                           "timeline": {"type": "array"}, "alerts": {"type": "array"}}}


def _whole(ctx: Ctx, name: str, default: int, top: int) -> int:
    raw = ctx.query(name, str(default)) or ""
    if not raw.isdigit() or len(raw) > 9 or not 0 <= int(raw) <= top:
        raise HttpError(400, f"{name} must be a whole number, 0 to {top}")
    return int(raw)


def list_incidents(ctx: Ctx) -> Response:
    """Incidents of a status (open by default), oldest opened first, a page at a time."""
    status = ctx.query("status", "open") or "open"
    if status not in pages.STATUSES:
        raise HttpError(400, f"unknown status {status!r}", hint="One of: open, closed, all")
    limit, offset = _whole(ctx, "limit", PER_PAGE, MAX_LIMIT), _whole(ctx, "offset", 0,
                                                                       10**9)
    if limit < 1:
        raise HttpError(400, f"limit must be 1 to {MAX_LIMIT}")
    with ctx.web.store() as store:
        found = lib.list_incidents(store, None if status == "all" else status)
    shown = found[offset:offset + limit]
    more = max(0, len(found) - offset - len(shown))
    return JSONResponse({"incidents": [pages.header(i) for i in shown], "offset": offset,
                         "more": more, "next_offset": offset + len(shown) if more else None})


def get_incident(ctx: Ctx) -> Response:
    """One incident with its alerts and their entities (``soc incidents show --json``)."""
    with ctx.web.store() as store:
        inc = lib.get(store, ctx.request.path_params["incident_id"])
        alerts = lib.incident_alerts(store, inc)
    return JSONResponse({**inc.to_dict(), "alert_details": [a.to_dict() for a in alerts],
                         "entities": lib.entities(alerts)})


def due(ctx: Ctx) -> Response:
    """Deadlines across incidents, soonest (so overdue) first, judged at ``at`` (default:
    now)."""
    now = pages.at_of(ctx, ctx.query("at"))
    with ctx.web.store() as store:
        found = lib.list_incidents(store, None)
    rows = pages.due_rows(ctx, found, now)
    return JSONResponse({"at": format_ts(now), "overdue": sum(1 for r in rows if r["overdue"]),
                         "due": rows})


def _body(ctx: Ctx) -> Mapping[str, Any]:
    if not isinstance(ctx.body, dict):
        raise HttpError(400, "send a JSON object (Content-Type: application/json)")
    return ctx.body


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise HttpError(400, f"{name} must be a string")
    return (value.strip() or None) if value is not None else None


def open_incident(ctx: Ctx) -> Response:
    """``soc incidents open``: a JSON object with ``alerts`` and the options of the CLI."""
    body = _body(ctx)
    serious = body.get("serious")
    if serious is not None and not isinstance(serious, bool):
        raise HttpError(400, "serious must be true or false")
    flags = body.get("flags") or []
    if not isinstance(flags, list) or any(f not in records.FLAGS for f in flags):
        raise HttpError(400, "flags must be a list of: " + ", ".join(records.FLAGS))
    t0 = _text(body, "t0")
    options = {"serious": serious, "flags": tuple(flags), "type": _text(body, "type"),
               "t0": format_ts(pages.at_of(ctx, t0)) if t0 else None,
               "systems": tuple(pages.ids_of(ctx, "systems")), "title": _text(body, "title")}
    inc = _named(lambda: pages.do_open(ctx, pages.ids_of(ctx, "alerts"),
                                       _text(body, "playbook"), **options))
    return JSONResponse(inc.to_dict())


def _named(call: Callable[[], records.Incident]) -> records.Incident:
    """A missing alert, system or playbook named in the body is a body that cannot be used
    (400), not a missing resource."""
    try:
        return call()
    except NotFoundError as exc:
        raise HttpError(400, exc.message, hint=exc.hint) from None


def add_alerts(ctx: Ctx) -> Response:
    _body(ctx)
    incident_id = ctx.request.path_params["incident_id"]
    with ctx.web.store() as store:
        lib.get(store, incident_id)  # 404 for the incident; 400 for an alert
    inc = _named(lambda: pages.do_add_alerts(ctx, incident_id, pages.ids_of(ctx, "alerts")))
    return JSONResponse(inc.to_dict())


def step(ctx: Ctx) -> Response:
    """``soc incidents step``: ``step`` and what to change (never ``--run``)."""
    step_id = _text(_body(ctx), "step")
    if not step_id:
        raise HttpError(400, "which step?", hint="Give its id in 'step'.")
    inc = pages.do_step(ctx, ctx.request.path_params["incident_id"], step_id,
                        pages.step_change(ctx))
    return JSONResponse(inc.to_dict())


def note(ctx: Ctx) -> Response:
    _body(ctx)
    return JSONResponse(pages.do_note(ctx, ctx.request.path_params["incident_id"]).to_dict())


def evidence(ctx: Ctx) -> Response:
    """An uploaded evidence file (multipart/form-data): the evidence record, with its sha256."""
    inc = pages.do_evidence(ctx, ctx.request.path_params["incident_id"])
    return JSONResponse(inc.evidence[-1].to_dict())


def close(ctx: Ctx) -> Response:
    _body(ctx)
    return JSONResponse(pages.do_close(ctx, ctx.request.path_params["incident_id"]).to_dict())


def _post(path: str, handler: Callable[[Ctx], Response], name: str, doc: ApiDoc) -> Spec:
    return Spec(path, handler, methods=("POST",), need="analyst", change=True, name=name,
                doc=doc)


def _object(required: list[str], **properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": dict(properties)}


_STEP = _object(["step"], step={"type": "string", "minLength": 1},
                state={"type": "string", "enum": list(pages.STEP_STATES)},
                reason={"type": "string"}, assignee={"type": "string"},
                answer={"type": "string"}, note={"type": "string"})
_EVIDENCE = {"type": "object", "required": ["name", "sha256", "size"],
             "properties": {"name": {"type": "string"}, "sha256": {"type": "string"},
                            "size": {"type": "integer"}, "stored": {"type": ["string", "null"]}}}
_OPEN = _object(["alerts"], alerts=_IDS, playbook={"type": "string"},
                serious={"type": "boolean"},
                flags={"type": "array", "items": {"type": "string",
                                                  "enum": list(records.FLAGS)}},
                type={"type": "string"}, t0={"type": "string"},
                systems={"type": "array", "items": {"type": "string"}},
                title={"type": "string"})
_IN = "/api/incidents/{incident_id}"
ROUTES = [
    Spec("/api/incidents", list_incidents, name="api-incidents", doc=ApiDoc(
        "List incidents (paged)", (
            Param("status", {"type": "string", "enum": list(pages.STATUSES)}),
            Param("offset", {"type": "integer", "minimum": 0}),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})),
        response=_object(["incidents"], incidents={"type": "array", "items": HEADER},
                         offset={"type": "integer"}, more={"type": "integer"},
                         next_offset={"type": ["integer", "null"]}))),
    _post("/api/incidents", open_incident, "api-incident-open", ApiDoc(
        "Open an incident from alerts (soc incidents open)", body=_OPEN, response=INCIDENT)),
    Spec("/api/incidents/due", due, name="api-incidents-due", doc=ApiDoc(
        "Deadlines across incidents, overdue first (soc incidents due)",
        (Param("at", {"type": "string"}, description="Judge at this time (ISO); default now."),),
        response=_object(["due"], due={"type": "array"}, overdue={"type": "integer"},
                         at={"type": "string"}))),
    Spec(_IN, get_incident, name="api-incident", doc=ApiDoc(
        "One incident with its alerts (soc incidents show --json)", (_ID,), response=INCIDENT)),
    _post(f"{_IN}/alerts", add_alerts, "api-incident-alerts", ApiDoc(
        "Tie more alerts to an incident", (_ID,), body=_object(["alerts"], alerts=_IDS),
        response=INCIDENT)),
    _post(f"{_IN}/step", step, "api-incident-step", ApiDoc(
        "Work a step: state (a reason to skip or block), assignee, a decision's answer",
        (_ID,), body=_STEP, response=INCIDENT)),
    _post(f"{_IN}/note", note, "api-incident-note", ApiDoc(
        "Add a note to the timeline", (_ID,),
        body=_object(["text"], text=_TEXT, step={"type": "string"}), response=INCIDENT)),
    _post(f"{_IN}/evidence", evidence, "api-incident-evidence", ApiDoc(
        "Upload an evidence file: send multipart/form-data with the fields file, step, note "
        "(the description's JSON body is not accepted)", (_ID,), response=_EVIDENCE)),
    _post(f"{_IN}/close", close, "api-incident-close", ApiDoc(
        "Close an incident with its outcome (soc incidents close)", (_ID,),
        body=_object(["outcome"], outcome=_TEXT), response=INCIDENT)),
]
