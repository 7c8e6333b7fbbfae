"""Grouped alert counts on Elasticsearch (``Store.alert_counts``): one ``composite``
aggregation over ``soc-alerts``, so the console's overview counts 100,000 alerts without
reading one.

Each group field is a ``terms`` source on the field the document keeps it in (``missing_bucket``:
an alert of no system is a group of its own, as on the embedded store); the local day of
``last_seen`` is a ``date_histogram`` source by calendar day in the fixed offset
``day_offset`` (``time_zone: +07:00``), keyed ``yyyy-MM-dd`` as SQLite's ``strftime`` keys it.
``composite`` pages through every group (no ``multi_terms``, which some clusters lack) and keys
each bucket by name, so the rows are the embedded store's (:func:`soc.stores.alert_groups.rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from soc.stores.alert_groups import DAY, Key
from soc.stores.es.aggs import offset_text

FIELDS = {"severity": "severity", "status": "status", "system": "labels.system",
          "unit": "organization.id", "rule_id": "rule_id"}
"""Where the alert document keeps each group field of :data:`~soc.stores.alert_groups.
ALERT_GROUPS` (``system`` and ``unit`` under their ECS names, as Kibana reads them)."""
PAGE = 10000
Json = dict[str, Any]


def sources(fields: Sequence[str], day_offset: int | None) -> list[Json]:
    """The composite's sources: one ``terms`` per field, then the local day when asked."""
    out: list[Json] = [{f: {"terms": {"field": FIELDS[f], "missing_bucket": True}}}
                       for f in fields]
    if day_offset is not None:
        out.append({DAY: {"date_histogram": {
            "field": "last_seen", "calendar_interval": "1d", "format": "yyyy-MM-dd",
            "time_zone": offset_text(day_offset)}}})
    return out


def request(fields: Sequence[str], day_offset: int | None,
            after: Mapping[str, Any] | None) -> Json:
    """The ``aggs`` of one page of groups (after the previous page's ``after_key``)."""
    body: Json = {"size": PAGE, "sources": sources(fields, day_offset)}
    if after:
        body["after"] = dict(after)
    return {"groups": {"composite": body}}


def keyed(buckets: Iterable[Mapping[str, Any]], fields: Sequence[str],
          day_offset: int | None) -> list[tuple[Key, int]]:
    """(group key, count) pairs of composite buckets, in :func:`alert_groups.rows`' order of
    names (the fields, then the day)."""
    names = [*fields, *([DAY] if day_offset is not None else [])]
    return [(tuple(_text(b["key"].get(n)) for n in names), int(b["doc_count"]))
            for b in buckets]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
