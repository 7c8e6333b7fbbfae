"""Retention and the aggregation cache of the embedded store: a dropped partition takes its
cached results with it, so a partition created again for the same day and level is counted anew."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from soc.stores.sqlite import SQLiteStore
from tests.test_store_contract import ev

OLD_DAY = "2026-11-20T08:00:00.000Z"


def test_retention_drops_the_cached_aggregations_of_a_partition(tmp_path: Path) -> None:
    with SQLiteStore.open_path(tmp_path / "store.db") as store:
        store.write_events([ev(1, OLD_DAY, **{"source.ip": "203.0.113.9"}),
                            ev(2, OLD_DAY, **{"source.ip": "203.0.113.9"})])
        assert store.aggregate(group_by=["source.ip"]) == [
            {"source.ip": "203.0.113.9", "count": 2}]
        store.retention(lambda level: 3, now=datetime(2026, 11, 30, tzinfo=UTC), apply=True)
        cached = store.db.execute("SELECT partition FROM agg_cache").fetchall()
        assert cached == []
        # late events of that day, re-ingested: the same partition, the same count, other values
        store.write_events([ev(3, OLD_DAY, **{"source.ip": "198.51.100.7"}),
                            ev(4, OLD_DAY, **{"source.ip": "198.51.100.7"})])
        assert store.aggregate(group_by=["source.ip"]) == [
            {"source.ip": "198.51.100.7", "count": 2}]
