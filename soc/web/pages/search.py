"""``/search``: Lucene queries over stored events (the syntax and store calls of
``soc search``), a time histogram (server-rendered SVG), field facets and paged results.

The histogram and the facets come from the store's own aggregation (``store.aggregate``), so a
busy window costs grouped queries, never a scan in Python; a store without aggregations shows
the results without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from starlette.responses import Response

from soc.ecs import Event, format_ts
from soc.errors import StoreError
from soc.search import QueryError
from soc.stores.base import Store
from soc.timeutil import parse_when
from soc.web import i18n
from soc.web.context import PER_PAGE, Ctx, HttpError, Spec, page_url, paging

DEFAULT_RANGE = "24h"
FACETS = ("event.dataset", "host.name", "source.ip", "user.name", "labels.system")
FACET_TOP = 5
COLUMNS = ("@timestamp", "event.dataset", "host.name", "source.ip", "user.name")
BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
"""Histogram bucket lengths (seconds): the smallest that gives at most MAX_BARS bars."""
MAX_BARS = 60

i18n.add({
    "search.title": ("Tìm kiếm sự kiện", "Event search"),
    "search.query": ("Truy vấn (cú pháp Lucene)", "Query (Lucene syntax)"),
    "search.from": ("Từ", "From"),
    "search.to": ("Đến", "To"),
    "search.submit": ("Tìm", "Search"),
    "search.total": ("{n} sự kiện", "{n} events"),
    "search.none": ("Không có sự kiện nào khớp.", "No events match."),
    "search.facets": ("Giá trị hay gặp", "Top values"),
    "search.histogram": ("Theo thời gian", "Over time"),
    "search.time": ("Thời điểm", "Time"),
    "search.summary": ("Nội dung", "Summary"),
})


@dataclass
class Found:
    """What a search found: one page of events and, for the page, the figures around them."""

    query: str
    since: datetime
    until: datetime | None
    page: int
    events: list[Event]
    more: bool
    total: int = 0
    histogram: list[dict[str, Any]] = field(default_factory=list)
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    interval: int = 3600


def window(ctx: Ctx) -> tuple[datetime, datetime | None]:
    """The ``from``/``to`` parameters (``24h`` back from the console's clock, or ISO dates);
    ``from`` defaults to 24 hours back."""
    now = ctx.web.clock()
    since = _when(ctx, "from", now) or now - timedelta(hours=24)
    until = _when(ctx, "to", now)
    if until is not None and until <= since:
        raise HttpError(400, "'to' must be after 'from'", hint="Example: from=7d&to=1d")
    return since, until


def _when(ctx: Ctx, name: str, now: datetime) -> datetime | None:
    text = ctx.query(name)
    if text is None:
        return None
    try:
        return parse_when(text, now)
    except ValueError as exc:
        raise HttpError(400, str(exc), hint=f"Example: {name}=24h or {name}=2026-11-24") \
            from None


def run(ctx: Ctx, *, figures: bool) -> Found:
    """The request's search: a page of events, newest first; with ``figures`` also the
    total, the histogram and the facets."""
    query = ctx.query("q", "*") or "*"
    since, until = window(ctx)
    number, offset = paging(ctx)
    with ctx.web.store() as store:
        try:
            page = _slice(store.search(query, since=since, until=until,
                                       limit=offset + PER_PAGE + 1, order="desc"), offset)
            found = Found(query, since, until, number, page[:PER_PAGE], len(page) > PER_PAGE)
            if figures:
                _figures(ctx, store, found)
        except QueryError as exc:
            raise HttpError(400, exc.message, hint=exc.hint) from None
    return found


def _slice(hits: Iterator[Event], offset: int) -> list[Event]:
    """Events ``offset`` to ``offset + PER_PAGE`` (one more, to tell whether more follow); the
    store's cursor is closed before the store is (a generator left open would run on later)."""
    try:
        return list(islice(hits, offset, offset + PER_PAGE + 1))
    finally:
        close = getattr(hits, "close", None)
        if close is not None:
            close()


def _figures(ctx: Ctx, store: Store, found: Found) -> None:
    found.total = store.count(found.query, since=found.since, until=found.until)
    if found.total == 0:
        return
    end = found.until or ctx.web.clock()
    found.interval = bucket_for((end - found.since).total_seconds())
    try:
        found.histogram = store.aggregate(found.query, since=found.since, until=found.until,
                                          interval=f"{found.interval}s",
                                          timezone=ctx.web.config.timezone)
        for name in FACETS:
            found.facets[name] = store.aggregate(found.query, since=found.since,
                                                 until=found.until, group_by=[name],
                                                 top=FACET_TOP)
    except StoreError:  # a store without aggregations: results only
        found.histogram, found.facets = [], {}


def bucket_for(seconds: float) -> int:
    """The bucket length that shows ``seconds`` in at most MAX_BARS bars."""
    for size in BUCKETS:
        if seconds / size <= MAX_BARS:
            return size
    return BUCKETS[-1]


def bars(histogram: list[dict[str, Any]], width: int = 600, height: int = 80) -> list[
        dict[str, Any]]:
    """The histogram as SVG rectangles (x, y, w, h, label): no script, no inline style."""
    if not histogram:
        return []
    top = max(int(row["count"]) for row in histogram) or 1
    step = width / len(histogram)
    out = []
    for i, row in enumerate(histogram):
        h = max(1.0, height * int(row["count"]) / top)
        out.append({"x": round(i * step, 1), "y": round(height - h, 1),
                    "w": round(max(step - 1, 1), 1), "h": round(h, 1),
                    "ts": row["@timestamp"], "count": row["count"]})
    return out


def page(ctx: Ctx) -> Response:
    """The search page."""
    try:
        found = run(ctx, figures=True)
    except HttpError as exc:
        return ctx.render("search.html", status=exc.status, found=None, error=exc.message,
                          hint=exc.hint, form=_form(ctx), bars=[], columns=COLUMNS, pager={})
    pager = {"page": found.page, "more": 0,
             "prev": page_url(ctx, found.page - 1) if found.page > 1 else None,
             "next": page_url(ctx, found.page + 1) if found.more else None}
    return ctx.render("search.html", found=found, error=None, hint=None, form=_form(ctx),
                      bars=bars(found.histogram), columns=COLUMNS, pager=pager)


def _form(ctx: Ctx) -> dict[str, str]:
    return {"q": ctx.query("q") or "", "from": ctx.query("from") or DEFAULT_RANGE,
            "to": ctx.query("to") or ""}


def iso(moment: datetime | None) -> str | None:
    return format_ts(moment) if moment else None


NAV = [("/search", "nav.search")]
ROUTES = [Spec("/search", page, name="search")]
