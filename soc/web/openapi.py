"""The OpenAPI 3 description of the console's JSON API, built from the route registry: every
``/api`` route with its parameters, body, security (cookie session or bearer token) and answers
(the 401/403 of the guard included), so a route cannot be added without being described."""

from __future__ import annotations

import re
from typing import Any

from soc import __version__
from soc.web.context import ApiDoc, Param, Spec
from soc.web.guard import CSRF_HEADER, SESSION_COOKIE

ERROR = {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "string"}, "hint": {"type": ["string", "null"]}}}


def describe(specs: list[Spec]) -> dict[str, Any]:
    """The OpenAPI document of the ``/api`` routes among ``specs``."""
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if not spec.api:
            continue
        doc = spec.doc or ApiDoc(spec.name or spec.path)
        for method in spec.methods:
            paths.setdefault(spec.path, {})[method.lower()] = _operation(spec, doc, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": "soc console API", "version": __version__,
                 "description": "The console's JSON API. Authenticate with a per-user token "
                                "(Authorization: Bearer TOKEN, from 'soc users token') or the "
                                f"console's session cookie; with the cookie, changes need the "
                                f"session's token in the {CSRF_HEADER} header."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}},
            "schemas": {"Error": ERROR}},
        "security": [{"bearer": []}, {"session": []}],
    }


def _operation(spec: Spec, doc: ApiDoc, method: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": (spec.name or spec.path).replace("/", "_"),
        "summary": doc.summary,
        "description": f"Needs the role {spec.need}." + (
            " Refused (409) when the console is read-only." if spec.change else ""),
        "security": [{"bearer": []}, {"session": []}],
        "parameters": [_parameter(p) for p in _params(spec, doc)],
        "responses": _responses(spec, doc),
    }
    if doc.body is not None or method != "GET":
        op["requestBody"] = {"required": doc.body is not None, "content": {
            "application/json": {"schema": dict(doc.body or {"type": "object"})}}}
    return op


def _params(spec: Spec, doc: ApiDoc) -> list[Param]:
    """The documented parameters, and any path parameter the doc left out (as a string)."""
    named = {p.name for p in doc.params if p.where == "path"}
    extra = [Param(name, {"type": "string", "minLength": 1}, where="path", required=True)
             for name in re.findall(r"{(\w+)(?::\w+)?}", spec.path) if name not in named]
    return [*doc.params, *extra]


def _parameter(p: Param) -> dict[str, Any]:
    return {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
            "description": p.description, "schema": dict(p.schema)}


def _responses(spec: Spec, doc: ApiDoc) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    out: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {
            "schema": dict(doc.response)}}},
        "400": {"description": "A parameter or body that cannot be used", "content": error},
        "401": {"description": "No session and no valid bearer token", "content": error},
        "403": {"description": "The role may not do this, or the CSRF token is missing",
                "content": error},
    }
    if "{" in spec.path:
        out["404"] = {"description": "No such alert", "content": error}
    if spec.change:
        out["409"] = {"description": "Read-only console, or a conflicting change",
                      "content": error}
    if spec.methods != ("GET",):
        out["413"] = {"description": "Body too large", "content": error}
    out["503"] = {"description": "The store is unavailable", "content": error}
    return out
