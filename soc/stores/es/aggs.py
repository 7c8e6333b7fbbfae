"""Grouped counts on Elasticsearch: ``terms`` / ``multi_terms`` and ``date_histogram``.

:func:`request` builds the aggregation of :meth:`soc.stores.base.Store.aggregate` and
:func:`rows` flattens the answer into the rows the embedded store returns. The group-by fields
are read as stored (``keyword``, numbers, ``ip``), so values keep their case as on the embedded
store. Groups are capped at :data:`MAX_GROUPS` when no ``top`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from soc.ecs import format_ts

MAX_GROUPS = 10000
Json = dict[str, Any]


def offset_text(seconds: int) -> str:
    """A fixed offset east of UTC as a ``time_zone`` (``+07:00``, ``-01:00``)."""
    sign = "+" if seconds >= 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _terms(fields: Sequence[str], size: int) -> Json:
    order = [{"_count": "desc"}, {"_key": "asc"}]
    if len(fields) == 1:
        return {"terms": {"field": fields[0], "size": size, "order": order}}
    return {"multi_terms": {"terms": [{"field": f} for f in fields], "size": size,
                            "order": order}}


def _histogram(step: int | None, offset: int) -> Json | None:
    if step is None:
        return None
    return {"date_histogram": {"field": "@timestamp", "fixed_interval": f"{step}s",
                               "time_zone": offset_text(offset), "min_doc_count": 1}}


def request(fields: Sequence[str], step: int | None, offset: int, top: int | None) -> Json:
    """The ``aggs`` of a search (``size: 0``): groups outside, buckets inside, so that ``top``
    picks the groups with the most events over the whole window."""
    histogram = _histogram(step, offset)
    if not fields:
        return {"buckets": histogram} if histogram else {}
    groups = _terms(fields, top or MAX_GROUPS)
    if histogram:
        groups["aggs"] = {"buckets": histogram}
    return {"groups": groups}


COMPOSITE_PAGE = 10000
COMPOSITE_PAGE_BUCKETED = 500  # groups × time buckets stay under search.max_buckets (65,536)


def composite_request(fields: Sequence[str], step: int | None, offset: int,
                      after: Mapping[str, Any] | None) -> Json:
    """One page of every group of several ``fields`` (``composite``, in the server's core), for
    a cluster without ``multi_terms``: :func:`top_groups` then keeps the biggest."""
    sources = [{f"f{i}": {"terms": {"field": f}}} for i, f in enumerate(fields)]
    body: Json = {"size": page_size(step), "sources": sources}
    if after:
        body["after"] = dict(after)
    groups: Json = {"composite": body}
    histogram = _histogram(step, offset)
    if histogram:
        groups["aggs"] = {"buckets": histogram}
    return {"groups": groups}


def page_size(step: int | None) -> int:
    return COMPOSITE_PAGE if step is None else COMPOSITE_PAGE_BUCKETED


def top_groups(pages: Sequence[Sequence[Mapping[str, Any]]], count: int,
               top: int | None) -> Json:
    """The composite buckets of all ``pages`` as the ``multi_terms`` answer would hold them:
    the ``top`` (or :data:`MAX_GROUPS`) biggest, most events first, then by key."""
    buckets = [{**b, "key": [b["key"][f"f{i}"] for i in range(count)]}
               for page in pages for b in page]
    buckets.sort(key=lambda b: (-int(b["doc_count"]), b["key"]))
    return {"groups": {"buckets": buckets[:top or MAX_GROUPS]}}


def _key(bucket: Mapping[str, Any], count: int) -> list[Any]:
    key = bucket["key"]
    values = key if isinstance(key, list) else [key]
    if count == 1 and "key_as_string" in bucket and not isinstance(key, list | int | float):
        values = [bucket["key_as_string"]]
    return list(values)


def _bucket_ts(bucket: Mapping[str, Any]) -> str:
    return format_ts(datetime.fromtimestamp(int(bucket["key"]) / 1000, UTC))


def rows(aggregations: Mapping[str, Any] | None, fields: Sequence[str], bucketed: bool,
         total: int) -> list[dict[str, Any]]:
    """Flatten an aggregation answer into ``{field: value, '@timestamp', 'count'}`` rows. An
    answer without aggregations (no event index yet: a new store) has no rows."""
    aggregations = aggregations or {}
    if not fields:
        if not bucketed:
            return [{"count": total}] if total else []
        return [{"@timestamp": _bucket_ts(b), "count": int(b["doc_count"])}
                for b in aggregations.get("buckets", {}).get("buckets", [])]
    out: list[dict[str, Any]] = []
    for group in aggregations.get("groups", {}).get("buckets", []):
        values = dict(zip(fields, _key(group, len(fields)), strict=True))
        if not bucketed:
            out.append({**values, "count": int(group["doc_count"])})
            continue
        for b in group["buckets"]["buckets"]:
            out.append({**values, "@timestamp": _bucket_ts(b), "count": int(b["doc_count"])})
    return out
