"""Statistics, retention by (day, level) and the ILM plan, read from the cluster."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from elasticsearch import NotFoundError

from soc.stores.base import RetentionItem
from soc.stores.es.capabilities import FULL, Capabilities
from soc.stores.es.names import Names

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

LEVEL_FIELD = "labels.security_level"
IDS_PER_CLAUSE = 10_000
"""Event ids per ``ids`` clause of a held-events query (within ``index.max_terms_count``)."""
DayLevel = tuple[str, int | None]


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
    counts = day_level_counts(client, names)
    today = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    items = []
    for (day, level), events in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        keep = keep_days(level)
        cutoff = (today - timedelta(days=keep)).date().isoformat()
        items.append(RetentionItem(day, level, events, keep, day < cutoff))
    return items


def day_level_counts(client: Elasticsearch, names: Names,
                     query: dict[str, Any] | None = None) -> dict[DayLevel, int]:
    """Events per (UTC day, level), of those matching ``query`` if given."""
    counts: dict[DayLevel, int] = {}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": 1000, "sources": [
            {"day": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d",
                                        "format": "yyyy-MM-dd", "time_zone": "UTC"}}},
            {"level": {"terms": {"field": LEVEL_FIELD, "missing_bucket": True}}}]}
        if after:
            composite["after"] = after
        resp = client.search(index=names.events, size=0, ignore_unavailable=True,
                             query=query or {"match_all": {}},
                             aggs={"parts": {"composite": composite}})
        agg = (resp.get("aggregations") or {}).get("parts") or {}
        for bucket in agg.get("buckets", []):
            key = (str(bucket["key"]["day"]), _level(bucket["key"]["level"]))
            counts[key] = counts.get(key, 0) + int(bucket["doc_count"])
        after = agg.get("after_key")
        if not after or not agg.get("buckets"):
            break
    return counts


def with_holds(client: Elasticsearch, names: Names, items: list[RetentionItem],
               held: Mapping[str, Collection[str]]) -> list[RetentionItem]:
    """``items`` with, on each expired one, how many of its events ``held`` (incident → event
    ids) keeps: in all (distinct) and per incident."""
    if not held or not any(i.expired for i in items):
        return items
    every = {e for ids in held.values() for e in ids}
    total = day_level_counts(client, names, ids_query(every)) if every else {}
    per = {incident: day_level_counts(client, names, ids_query(ids))
           for incident, ids in sorted(held.items()) if ids}
    out = []
    for item in items:
        key = (item.day, item.level)
        if item.expired and total.get(key):
            kept = tuple((i, c[key]) for i, c in per.items() if c.get(key))
            item = replace(item, held=total[key], kept=kept)
        out.append(item)
    return out


def _ids_clauses(ids: Collection[str]) -> list[dict[str, Any]]:
    """``ids`` queries of at most :data:`IDS_PER_CLAUSE` values each (event ``_id`` =
    ``event.id``), in a stable order."""
    ordered = sorted(ids)
    return [{"ids": {"values": ordered[i:i + IDS_PER_CLAUSE]}}
            for i in range(0, len(ordered), IDS_PER_CLAUSE)]


def ids_query(ids: Collection[str]) -> dict[str, Any]:
    """Events whose ``_id`` is one of ``ids``."""
    return {"bool": {"should": _ids_clauses(ids), "minimum_should_match": 1}}


def _level_clause(level: int | None) -> dict[str, Any]:
    if level is not None:
        return {"term": {LEVEL_FIELD: level}}
    return {"bool": {"must_not": [{"terms": {LEVEL_FIELD: [1, 2, 3, 4, 5]}}]}}


def delete_query(items: list[RetentionItem],
                 keep: Collection[str] = ()) -> dict[str, Any]:
    """The ``delete_by_query`` query of retention: the events of the (day, level) pairs of
    ``items``, except those whose ``_id`` is in ``keep`` (the held events)."""
    should = [{"bool": {"filter": [
        {"range": {"@timestamp": {"gte": i.day, "lt": f"{i.day}||+1d", "format": "yyyy-MM-dd",
                                  "time_zone": "UTC"}}},
        _level_clause(i.level)]}} for i in items]
    # explicit: a bool with must_not beside its should clauses must still need one of them
    query: dict[str, Any] = {"bool": {"should": should, "minimum_should_match": 1}}
    if keep:
        query["bool"]["must_not"] = _ids_clauses(keep)
    return query


def delete_days(client: Elasticsearch, names: Names, items: list[RetentionItem],
                keep: Collection[str] = (), caps: Capabilities = FULL) -> int:
    """Delete the events of expired (day, level) pairs now (ILM would later, by index),
    except the held events ``keep``."""
    if not items:
        return 0
    return delete_matching(client, names.events, delete_query(items, keep), refresh=True,
                           caps=caps)


DELETE_PAGE = 1000


def delete_matching(client: Elasticsearch, index: str, query: dict[str, Any], *,
                    refresh: bool, caps: Capabilities = FULL) -> int:
    """Delete what ``query`` finds in ``index``: ``delete_by_query`` where the cluster has it
    (module reindex), else pages of ids found by search and deleted in bulk from the backing
    index each was found in. Returns how many were deleted."""
    if caps.delete_by_query:
        resp = client.delete_by_query(index=index, query=query, conflicts="proceed",
                                      refresh=refresh, ignore_unavailable=True)
        return int(resp.get("deleted", 0))
    deleted = 0
    client.indices.refresh(index=index, ignore_unavailable=True)  # then each bulk refreshes
    while True:
        resp = client.search(index=index, query=query, size=DELETE_PAGE, source=False,
                             sort=["_doc"], ignore_unavailable=True)
        hits = resp["hits"]["hits"]
        if not hits:
            break
        ops = [{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in hits]
        result = client.bulk(operations=ops, refresh=True)
        done = sum(1 for item in result["items"]
                   if item["delete"].get("result") in ("deleted", "not_found"))
        deleted += sum(1 for item in result["items"] if item["delete"].get("result") == "deleted")
        if done == 0:  # every delete refused: stop rather than loop on the same page
            break
    return deleted


def ilm_plan(client: Elasticsearch, names: Names,
             caps: Capabilities = FULL) -> list[dict[str, Any]]:
    """Per backing index: its policy, phase, age and when the delete phase starts (none
    without ILM)."""
    if not caps.ilm:
        return []
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
