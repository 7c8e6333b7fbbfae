"""``/api/me`` (who is calling, with which role) and ``/api/openapi.json`` (the description of
every API route, built from the route registry)."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from soc.web.context import ApiDoc, Ctx, HttpError, Spec
from soc.web.openapi import describe


def me(ctx: Ctx) -> Response:
    """The caller: name, role, how they authenticated; the CSRF token of a cookie session."""
    if ctx.user is None:
        raise HttpError(401, "log in first")
    return JSONResponse({"name": ctx.user.name, "role": ctx.user.role, "via": ctx.via,
                         "read_only": ctx.web.read_only,
                         "csrf": ctx.csrf if ctx.via in ("session", "proxy") else None})


def openapi(ctx: Ctx) -> Response:
    return JSONResponse(describe(ctx.web.specs))


ROUTES = [
    Spec("/api/me", me, name="api-me", doc=ApiDoc(
        "Who is calling", response={"type": "object", "required": ["name", "role"],
                                    "properties": {"name": {"type": "string"},
                                                   "role": {"type": "string"},
                                                   "via": {"type": "string"}}})),
    Spec("/api/openapi.json", openapi, name="api-openapi",
         doc=ApiDoc("This description (OpenAPI 3)")),
]
