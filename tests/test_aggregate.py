"""``Store.aggregate``: grouped counts computed in the store, the same on every store.

Runs over the factories of the shared contract suite (the embedded store always, Elasticsearch
when ``$SOC_TEST_ES_URL`` is set), plus the exact aggregation request sent to Elasticsearch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soc.errors import StoreError
from soc.stores.base import Store, aggregate_order, bucket_seconds, utc_offset
from soc.stores.es import aggs
from tests.test_store_contract import (  # the session fixture removes ES test indices
    FACTORIES,
    StoreFactory,
    _remove_es_test_indices,  # noqa: F401
    ev,
    utc,
)

EVENTS = [
    ev(1, "2026-11-23T16:59:59.999Z", level=1, **{"source.ip": "203.0.113.9",
                                                  "event.outcome": "failure"}),
    ev(2, "2026-11-23T17:00:00.000Z", **{"source.ip": "203.0.113.9", "event.outcome": "failure"}),
    ev(3, "2026-11-24T02:00:00.000Z", level=None, **{"source.ip": "198.51.100.7",
                                                     "event.outcome": "failure"}),
    ev(4, "2026-11-24T03:00:00.000Z", **{"source.ip": "203.0.113.9", "event.outcome": "success",
                                         "event.dataset": "apache.access"}),
    ev(5, "2026-11-24T18:00:00.000Z", level=1, **{"event.outcome": "success",
                                                  "event.dataset": "apache.access"}),
]


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    factory: StoreFactory = FACTORIES[request.param]
    opened = factory(tmp_path)
    opened.write_events(EVENTS)
    yield opened
    opened.close()


def test_group_by_one_field_leaves_out_events_without_it(store: Store) -> None:
    assert store.aggregate(group_by=["source.ip"]) == [
        {"source.ip": "203.0.113.9", "count": 3}, {"source.ip": "198.51.100.7", "count": 1}]


def test_group_by_a_column_and_a_document_field(store: Store) -> None:
    assert store.aggregate(group_by=["event.dataset", "event.outcome"]) == [
        {"event.dataset": "linux.auth", "event.outcome": "failure", "count": 3},
        {"event.dataset": "apache.access", "event.outcome": "success", "count": 2}]


def test_query_and_half_open_window(store: Store) -> None:
    rows = store.aggregate("event.outcome:failure", since=utc("2026-11-23T17:00:00"),
                           until=utc("2026-11-24T02:00:00"), group_by=["source.ip"])
    assert rows == [{"source.ip": "203.0.113.9", "count": 1}]


def test_total_without_groups(store: Store) -> None:
    assert store.aggregate() == [{"count": 5}]
    assert store.aggregate(since=utc("2030-01-01T00:00:00")) == []


def test_daily_buckets_align_to_local_midnight(store: Store) -> None:
    rows = store.aggregate(interval="1d", timezone="Asia/Ho_Chi_Minh",
                           since=utc("2026-11-22T17:00:00"))
    assert rows == [{"@timestamp": "2026-11-22T17:00:00.000Z", "count": 1},
                    {"@timestamp": "2026-11-23T17:00:00.000Z", "count": 3},
                    {"@timestamp": "2026-11-24T17:00:00.000Z", "count": 1}]


def test_top_groups_over_the_whole_window_with_buckets(store: Store) -> None:
    rows = store.aggregate(group_by=["source.ip"], interval="1d", top=1)
    assert rows == [{"source.ip": "203.0.113.9", "@timestamp": "2026-11-23T00:00:00.000Z",
                     "count": 2},
                    {"source.ip": "203.0.113.9", "@timestamp": "2026-11-24T00:00:00.000Z",
                     "count": 1}]


def test_top_without_buckets(store: Store) -> None:
    assert store.aggregate(group_by=["event.outcome"], top=1) == [
        {"event.outcome": "failure", "count": 3}]


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_a_store_without_events_has_no_groups(kind: str, tmp_path: Path) -> None:
    """A new store (on Elasticsearch: no event index yet, so the answer holds no aggregations)
    answers no rows, as the console's overview asks before the first collect."""
    with FACTORIES[kind](tmp_path) as empty:
        assert empty.aggregate(group_by=["source.ip"]) == []
        assert empty.aggregate(group_by=["source.ip", "event.outcome"], interval="1h") == []
        assert empty.aggregate(interval="1d") == []
        assert empty.aggregate() == []
    assert aggs.rows({}, ["source.ip"], False, 0) == aggs.rows(None, [], True, 0) == []


def test_bad_interval_and_zone_are_store_errors(store: Store) -> None:
    with pytest.raises(StoreError, match="bad aggregation interval"):
        store.aggregate(interval="fortnight")
    with pytest.raises(StoreError, match="unknown time zone 'Mars/Base'"):
        store.aggregate(interval="1d", timezone="Mars/Base")


def test_helpers() -> None:
    assert bucket_seconds("1h") == 3600
    assert utc_offset("Asia/Ho_Chi_Minh", utc("2026-01-01T00:00:00")) == 25200
    rows = [{"a": "x", "count": 1}, {"a": "y", "count": 2}, {"a": "w", "count": 1}]
    assert sorted(rows, key=lambda r: aggregate_order(r, ["a"])) == [
        {"a": "y", "count": 2}, {"a": "w", "count": 1}, {"a": "x", "count": 1}]


def test_elasticsearch_request_and_rows() -> None:
    request = aggs.request(["source.ip", "event.outcome"], 86400, 25200, 5)
    assert request == {"groups": {
        "multi_terms": {"terms": [{"field": "source.ip"}, {"field": "event.outcome"}], "size": 5,
                        "order": [{"_count": "desc"}, {"_key": "asc"}]},
        "aggs": {"buckets": {"date_histogram": {
            "field": "@timestamp", "fixed_interval": "86400s", "time_zone": "+07:00",
            "min_doc_count": 1}}}}}
    answer = {"groups": {"buckets": [{"key": ["203.0.113.9", "failure"], "doc_count": 2,
                                      "buckets": {"buckets": [
                                          {"key": 1763917200000, "doc_count": 2}]}}]}}
    assert aggs.rows(answer, ["source.ip", "event.outcome"], True, 2) == [
        {"source.ip": "203.0.113.9", "event.outcome": "failure",
         "@timestamp": "2025-11-23T17:00:00.000Z", "count": 2}]
    assert aggs.request([], None, 0, None) == {}
    assert aggs.rows(None, [], False, 4) == [{"count": 4}]


def test_embedded_cache_answers_again_and_follows_new_events(tmp_path: Path) -> None:
    from soc.stores.sqlite import SQLiteStore

    path = tmp_path / "store.db"
    with SQLiteStore.open_path(path) as store:
        store.write_events(EVENTS)
        first = store.aggregate(group_by=["source.ip"], interval="1d")
        cached = store.db.execute("SELECT count(*) FROM agg_cache").fetchone()[0]
        assert cached == 5  # one row per partition (day, level) of the window
        assert store.aggregate(group_by=["source.ip"], interval="1d") == first
        store.write_events([ev(9, "2026-11-24T05:00:00.000Z", **{"source.ip": "203.0.113.9"})])
        assert store.aggregate(group_by=["source.ip"], top=1) == [
            {"source.ip": "203.0.113.9", "count": 4}]
    with SQLiteStore.open_path(path, readonly=True) as reader:
        assert reader.aggregate(group_by=["source.ip"], top=1) == [
            {"source.ip": "203.0.113.9", "count": 4}]


def test_windows_off_the_hour_are_counted_directly(store: Store) -> None:
    rows = store.aggregate(since=utc("2026-11-23T16:59:59.999000"),
                           until=utc("2026-11-24T02:30:00"), group_by=["source.ip"])
    assert rows == [{"source.ip": "203.0.113.9", "count": 2},
                    {"source.ip": "198.51.100.7", "count": 1}]
