"""Statistics, retention by (day, level) and the ILM plan, read from the cluster."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from elasticsearch import NotFoundError

from soc.stores.base import RetentionItem
from soc.stores.es.names import Names

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

LEVEL_FIELD = "labels.security_level"


def template_meta(client: Elasticsearch, name: str) -> dict[str, Any]:
    """The ``_meta`` of one of our index templates; empty when it does not exist."""
    try:
        resp = client.indices.get_index_template(name=name)
    except NotFoundError:
        return {}
    found = resp.get("index_templates") or []
    return dict(found[0]["index_template"].get("_meta") or {}) if found else {}


def _count(client: Elasticsearch, index: str) -> int:
    return int(client.count(index=index, ignore_unavailable=True)["count"])


def stats(client: Elasticsearch, names: Names) -> dict[str, Any]:
    """Events (by dataset, oldest and newest day), dead letters, alerts, quarantine, size."""
    resp = client.search(index=names.events, size=0, ignore_unavailable=True, aggs={
        "datasets": {"terms": {"field": "event.dataset", "size": 1000}},
        "oldest": {"min": {"field": "@timestamp", "format": "yyyy-MM-dd"}},
        "newest": {"max": {"field": "@timestamp", "format": "yyyy-MM-dd"}}},
        track_total_hits=True)
    aggs = resp.get("aggregations") or {}
    size = client.indices.stats(index=names.events, metric="store")
    return {
        "events": int(resp["hits"]["total"]["value"]),
        "oldest_day": (aggs.get("oldest") or {}).get("value_as_string"),
        "newest_day": (aggs.get("newest") or {}).get("value_as_string"),
        "datasets": {b["key"]: b["doc_count"]
                     for b in (aggs.get("datasets") or {}).get("buckets", [])},
        "size_bytes": int(((size.get("_all") or {}).get("primaries") or {})
                          .get("store", {}).get("size_in_bytes", 0)),
        "dead_letters": _count(client, names.index("dead-letters")),
        "alerts": _count(client, names.index("alerts")),
        "quarantined": _count(client, names.index("quarantine")),
    }


def _level(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        level = int(value)
    except (TypeError, ValueError):
        return None
    return level if 1 <= level <= 5 else None


def day_levels(client: Elasticsearch, names: Names, keep_days: Callable[[int | None], int],
               now: datetime) -> list[RetentionItem]:
    """Events per (UTC day, level) with their fate, like the embedded store's partitions."""
    counts: dict[tuple[str, int | None], int] = {}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": 1000, "sources": [
            {"day": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d",
                                        "format": "yyyy-MM-dd", "time_zone": "UTC"}}},
            {"level": {"terms": {"field": LEVEL_FIELD, "missing_bucket": True}}}]}
        if after:
            composite["after"] = after
        resp = client.search(index=names.events, size=0, ignore_unavailable=True,
                             aggs={"parts": {"composite": composite}})
        agg = (resp.get("aggregations") or {}).get("parts") or {}
        for bucket in agg.get("buckets", []):
            key = (str(bucket["key"]["day"]), _level(bucket["key"]["level"]))
            counts[key] = counts.get(key, 0) + int(bucket["doc_count"])
        after = agg.get("after_key")
        if not after or not agg.get("buckets"):
            break
    today = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    items = []
    for (day, level), events in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        keep = keep_days(level)
        cutoff = (today - timedelta(days=keep)).date().isoformat()
        items.append(RetentionItem(day, level, events, keep, day < cutoff))
    return items


def _level_clause(level: int | None) -> dict[str, Any]:
    if level is not None:
        return {"term": {LEVEL_FIELD: level}}
    return {"bool": {"must_not": [{"terms": {LEVEL_FIELD: [1, 2, 3, 4, 5]}}]}}


def delete_days(client: Elasticsearch, names: Names, items: list[RetentionItem]) -> int:
    """Delete the events of expired (day, level) pairs now (ILM would later, by index)."""
    if not items:
        return 0
    should = [{"bool": {"filter": [
        {"range": {"@timestamp": {"gte": i.day, "lt": f"{i.day}||+1d", "format": "yyyy-MM-dd",
                                  "time_zone": "UTC"}}},
        _level_clause(i.level)]}} for i in items]
    resp = client.delete_by_query(index=names.events, query={"bool": {"should": should}},
                                  conflicts="proceed", refresh=True, ignore_unavailable=True)
    return int(resp.get("deleted", 0))


def ilm_plan(client: Elasticsearch, names: Names) -> list[dict[str, Any]]:
    """Per backing index: its policy, phase, age and when the delete phase starts."""
    try:
        explain = client.ilm.explain_lifecycle(index=names.events)
        policies = client.ilm.get_lifecycle()
    except NotFoundError:
        return []
    rows = []
    for index, state in sorted((explain.get("indices") or {}).items()):
        policy = state.get("policy")
        delete_after = _delete_min_age(policies.get(policy or "", {}))
        rows.append({"index": index, "policy": policy, "phase": state.get("phase"),
                     "age": state.get("age"), "delete_after": delete_after,
                     "managed": state.get("managed", False)})
    return rows


def _delete_min_age(policy: dict[str, Any]) -> str | None:
    phases = (policy.get("policy") or {}).get("phases") or {}
    delete = phases.get("delete")
    return str(delete.get("min_age")) if delete else None
