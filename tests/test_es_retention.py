"""Legal holds in the Elasticsearch store's retention, against the scripted peer of
tests/test_es_store.py (no cluster runs here): the held events' ids come from the alert links,
are counted per expired (day, level) and incident, and the delete leaves them out with a
``must_not`` of their ids. The query bodies are checked whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from werkzeug import Request, Response

from soc.stores.base import Hold, RetentionItem
from soc.stores.es.housekeeping import IDS_PER_CLAUSE, delete_query, ids_query
from tests.test_es_store import Opened, Peer, opened, peer, search_reply

__all__ = ["opened", "peer"]  # the fixtures, for pytest

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
OLD, RECENT = "2026-08-01", "2026-11-24"
EVENTS = "/logs-*-*/_search"


def keep_days(level: int | None) -> int:
    return 100


def buckets(counts: dict[tuple[str, int | None], int]) -> dict[str, Any]:
    return {"parts": {"buckets": [{"key": {"day": d, "level": lv}, "doc_count": n}
                                  for (d, lv), n in counts.items()],
                      **({"after_key": {"day": "x", "level": None}} if counts else {})}}


def events_search(request: Request) -> Response:
    """Per (day, level): 5 events of the old day; of them e1 and e2 held (e1 by both
    incidents, e2 by INC-2 only), answered by the ids the query names."""
    body = json.loads(request.get_data())
    if "after" in body["aggs"]["parts"]["composite"]:
        return search_reply([], aggregations=buckets({}))
    query = body["query"]
    if query == {"match_all": {}}:
        return search_reply([], aggregations=buckets({(OLD, 3): 5, (RECENT, 3): 2}))
    ids = {i for clause in query["bool"]["should"] for i in clause["ids"]["values"]}
    held = ids & {"e1", "e2"}
    return search_reply([], aggregations=buckets({(OLD, 3): len(held)} if held else {}))


def alert_links(request: Request) -> Response:
    alert = json.loads(request.get_data())["query"]["term"]["alert_id"]
    links = {"a1": ["e1"], "a2": ["e1", "e2", "e9"]}[alert]
    return search_reply([{"_id": f"{alert}-{e}", "_source": {"alert_id": alert, "event_id": e,
                                                            "ts": f"{OLD}T08:00:00.000Z"},
                          "sort": [f"{OLD}T08:00:00.000Z", e]} for e in links])


HOLDS = [Hold("INC-1", "open", alerts=("a1",)),
         Hold("INC-2", "hold: court order", alerts=("a2",), events=("e7",))]


def test_retention_counts_and_keeps_the_held_events(opened: Opened, peer: Peer) -> None:
    peer.handlers[("POST", EVENTS)] = events_search
    peer.handlers[("POST", "/soc-alert-events/_search")] = alert_links
    peer.routes[("POST", "/logs-*-*/_delete_by_query")] = (200, {"deleted": 3})
    items = opened.store.retention(keep_days, now=NOW, apply=True, holds=HOLDS)
    old = RetentionItem(OLD, 3, 5, 100, True, held=2, kept=(("INC-1", 1), ("INC-2", 2)))
    assert items == [old, RetentionItem(RECENT, 3, 2, 100, False)]
    (sent,) = peer.bodies("POST", "/logs-*-*/_delete_by_query").values()
    assert sent["query"] == {"bool": {
        "should": [{"bool": {"filter": [
            {"range": {"@timestamp": {"gte": OLD, "lt": f"{OLD}||+1d", "format": "yyyy-MM-dd",
                                      "time_zone": "UTC"}}},
            {"term": {"labels.security_level": 3}}]}}],
        "minimum_should_match": 1,
        "must_not": [{"ids": {"values": ["e1", "e2", "e7", "e9"]}}]}}


def test_without_holds_the_delete_is_the_days_alone(opened: Opened, peer: Peer) -> None:
    peer.handlers[("POST", EVENTS)] = events_search
    peer.routes[("POST", "/logs-*-*/_delete_by_query")] = (200, {"deleted": 5})
    items = opened.store.retention(keep_days, now=NOW, apply=True)
    assert items[0] == RetentionItem(OLD, 3, 5, 100, True)
    (sent,) = peer.bodies("POST", "/logs-*-*/_delete_by_query").values()
    assert "must_not" not in sent["query"]["bool"]
    searched = [json.loads(b)["query"] for m, p, _, b in peer.requests if p == EVENTS]
    assert all(q == {"match_all": {}} for q in searched)  # nothing counted for holds


def test_a_day_whose_every_event_is_held_is_not_deleted(opened: Opened, peer: Peer) -> None:
    def two_left(request: Request) -> Response:
        body = json.loads(request.get_data())
        if "after" in body["aggs"]["parts"]["composite"]:
            return search_reply([], aggregations=buckets({}))
        return search_reply([], aggregations=buckets({(OLD, 3): 2}))

    peer.handlers[("POST", EVENTS)] = two_left
    items = opened.store.retention(keep_days, now=NOW, apply=True,
                                   holds=[Hold("INC-2", "open", events=("e1", "e2"))])
    assert items == [RetentionItem(OLD, 3, 2, 100, True, held=2, kept=(("INC-2", 2),))]
    assert not [p for m, p, _, _ in peer.requests if p.endswith("/_delete_by_query")]


def test_many_held_ids_are_split_over_ids_clauses() -> None:
    ids = [f"e{n:06d}" for n in range(IDS_PER_CLAUSE + 3)]
    query = ids_query(set(ids))  # any collection: sent sorted
    clauses = query["bool"]["should"]
    assert [len(c["ids"]["values"]) for c in clauses] == [IDS_PER_CLAUSE, 3]
    assert clauses[1]["ids"]["values"] == ids[-3:]
    assert query["bool"]["minimum_should_match"] == 1
    unknown = RetentionItem(OLD, None, 1, 100, True)
    assert delete_query([unknown], keep={"e1"}) == {"bool": {
        "should": [{"bool": {"filter": [
            {"range": {"@timestamp": {"gte": OLD, "lt": f"{OLD}||+1d", "format": "yyyy-MM-dd",
                                      "time_zone": "UTC"}}},
            {"bool": {"must_not": [{"terms": {"labels.security_level": [1, 2, 3, 4, 5]}}]}}]}}],
        "minimum_should_match": 1, "must_not": [{"ids": {"values": ["e1"]}}]}}
