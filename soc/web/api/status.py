"""``GET /api/status``: what the status page shows, as JSON (``soc status --json`` plus the
latest dead letters and deliveries)."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from soc.web.context import ApiDoc, Ctx, Spec
from soc.web.pages.status import status_facts

_ROWS = {"type": "array", "items": {"type": "object"}}
_MAYBE_ROWS = {"type": ["array", "null"], "items": {"type": "object"}}
STATUS = {"type": "object",
          "required": ["sources", "gaps", "store", "dead_letters", "outbox"],
          "properties": {"sources": _ROWS, "gaps": {"type": "integer"},
                         "store": {"type": "object"}, "channels": _MAYBE_ROWS,
                         "dead_letters": _ROWS, "outbox": _ROWS, "intel": _MAYBE_ROWS,
                         "listen": {"type": ["object", "null"]},
                         "rules": {"type": ["object", "null"]}}}


def status(ctx: Ctx) -> Response:
    return JSONResponse(status_facts(ctx))


ROUTES = [Spec("/api/status", status, name="api-status",
               doc=ApiDoc("Sources (silent ones flagged), store, dead letters, channels, "
                          "outbox, feeds", response=STATUS))]
