"""``/api/rules``: the rules with their state and alerts of the last 7 days, the tuning in use,
and (lead) disabling or enabling a rule, as the rules page and ``soc rules`` do."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from soc.web.context import ApiDoc, Ctx, HttpError, Param, Spec
from soc.web.pages.rules import disable, enable, rule_rows, tuning_rows

RULE = {"type": "object", "required": ["id", "title", "enabled", "alerts"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                       "level": {"type": ["string", "null"]},
                       "logsource": {"type": "string"}, "status": {"type": ["string", "null"]},
                       "file": {"type": "string"}, "enabled": {"type": "boolean"},
                       "alerts": {"type": "integer"}}}
ENTRY = {"type": "object", "required": ["rule", "reason"],
         "properties": {"rule": {"type": "string"}, "reason": {"type": "string"},
                        "author": {"type": "string"}, "expires": {"type": ["string", "null"]}}}
_ID = Param("rule_id", {"type": "string", "minLength": 1, "maxLength": 200}, where="path",
            required=True, description="The rule's (or correlation's) id.")
_REASON = {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"\S"}
DISABLE = {"type": "object", "required": ["reason"],
           "properties": {"reason": _REASON,
                          "expires": {"type": "string", "maxLength": 64,
                                      "description": "2027-03-01, or a time"}}}
ENABLE = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 2000}}}


def list_rules(ctx: Ctx) -> Response:
    """Every usable rule (``soc rules list --json``) with ``enabled`` and ``alerts``, and the
    tuning (``soc rules tuning --json``)."""
    return JSONResponse({"rules": rule_rows(ctx), "tuning": tuning_rows(ctx)})


def checked_body(ctx: Ctx, schema: Mapping[str, Any]) -> None:
    """Refuse (400) a body whose described fields are not text within their length: the
    library reads only text, so anything else would otherwise pass as if absent."""
    body = ctx.body if isinstance(ctx.body, Mapping) else {}
    for name, rule in schema["properties"].items():
        value = body.get(name)
        longest = int(rule.get("maxLength", 2000))
        if name in body and (not isinstance(value, str) or len(value) > longest):
            raise HttpError(400, f"{name} must be text of at most {longest} characters")


def _change(action: Callable[[Ctx], dict[str, Any]],
            schema: Mapping[str, Any]) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        if ctx.body is None:
            ctx.body = {}
        checked_body(ctx, schema)
        return JSONResponse(action(ctx))

    handler.__name__ = f"api_{action.__name__}"
    return handler


ROUTES = [
    Spec("/api/rules", list_rules, name="api-rules", doc=ApiDoc(
        "Rules with their state and alerts of the last 7 days; the tuning",
        response={"type": "object", "required": ["rules", "tuning"],
                  "properties": {"rules": {"type": "array", "items": RULE},
                                 "tuning": {"type": "array", "items": {"type": "object"}}}})),
    Spec("/api/rules/{rule_id}/disable", _change(disable, DISABLE), methods=("POST",), need="lead",
         change=True, name="api-rule-disable",
         doc=ApiDoc("Disable a rule (audited; soc rules disable)", (_ID,), body=DISABLE,
                    response=ENTRY)),
    Spec("/api/rules/{rule_id}/enable", _change(enable, ENABLE), methods=("POST",), need="lead",
         change=True, name="api-rule-enable",
         doc=ApiDoc("Enable a disabled rule (audited; soc rules enable)", (_ID,), body=ENABLE,
                    response=ENTRY)),
]
