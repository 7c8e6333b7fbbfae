"""``/api/search``: the event search of the search page as JSON (``soc search --json``)."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from soc.web.context import ApiDoc, Ctx, Param, Spec
from soc.web.pages.search import iso, run


def search(ctx: Ctx) -> Response:
    """One page of events (newest first) with the total count."""
    found = run(ctx, figures=True)
    return JSONResponse({"query": found.query, "from": iso(found.since),
                         "to": iso(found.until), "page": found.page, "total": found.total,
                         "more": found.more, "events": found.events})


ROUTES = [
    Spec("/api/search", search, name="api-search", doc=ApiDoc(
        "Search stored events (Lucene syntax)", (
            Param("q", {"type": "string"}, description="The query; * (all) by default."),
            Param("from", {"type": "string"},
                  description="From: 24h, 7d or a date (default: 24h back)."),
            Param("to", {"type": "string"}, description="Up to (exclusive)."),
            Param("page", {"type": "integer", "minimum": 1})),
        response={"type": "object", "properties": {
            "total": {"type": "integer"}, "page": {"type": "integer"},
            "more": {"type": "boolean"},
            "events": {"type": "array", "items": {"type": "object"}}}})),
]
