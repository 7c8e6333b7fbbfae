"""THE Store contract suite: every store implementation must pass every test here.

Parametrised over store factories. The embedded store always runs; an Elasticsearch factory joins
``FACTORIES`` with its own issue and runs when ``$SOC_TEST_ES_URL`` points at a cluster (it must
skip otherwise). Tests use only the methods of :class:`soc.stores.base.Store`.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from soc.config import Config
from soc.ecs import Event, event_id
from soc.errors import SocError
from soc.models import DeadLetter
from soc.stores.base import RetentionItem, Store, WriteResult

StoreFactory = Callable[[Path], Store]


def _embedded(tmp_path: Path) -> Store:
    from soc.stores.sqlite import SQLiteStore

    return SQLiteStore.open(Config(path=None, data_dir=tmp_path / "data"))


_ES_RUN = f"soctest-{uuid.uuid4().hex[:8]}-"  # one index prefix per run, removed at its end


def _elasticsearch(tmp_path: Path) -> Store:
    """A cluster store under a per-test prefix (the same on reopen), when $SOC_TEST_ES_URL is set
    (credentials in the URL, or $SOC_TEST_ES_API_KEY; $SOC_TEST_ES_CA for a private CA)."""
    url = os.environ.get("SOC_TEST_ES_URL")
    if not url:
        pytest.skip("SOC_TEST_ES_URL is not set: Elasticsearch contract tests skipped")
    from soc.config import StoreConfig
    from soc.stores.es.store import ElasticsearchStore

    test = hashlib.blake2b(str(tmp_path).encode(), digest_size=4).hexdigest()
    options = {**_es_options(url), "index_prefix": f"{_ES_RUN}{test}-", "refresh": "wait_for",
               "replicas": 0}
    config = Config(path=None, data_dir=tmp_path / "data",
                    store=StoreConfig("elasticsearch", options))
    return ElasticsearchStore.open(config)


def _es_options(url: str) -> dict[str, Any]:
    options: dict[str, Any] = {"hosts": [url]}
    if os.environ.get("SOC_TEST_ES_API_KEY"):
        options["api_key"] = os.environ["SOC_TEST_ES_API_KEY"]
    if os.environ.get("SOC_TEST_ES_CA"):
        options["ca_certs"] = os.environ["SOC_TEST_ES_CA"]
    return options


def _es_remove_prefix(url: str, prefix: str) -> None:
    """Delete by exact name (wildcard deletes of indices are refused by default)."""
    from soc.stores.es.connection import EsOptions, connect

    client, _ = connect(EsOptions.from_mapping(_es_options(url), data_dir=Path(".")))
    quiet = client.options(ignore_status=404)
    streams = quiet.indices.get_data_stream(name=f"{prefix}*").get("data_streams", [])
    for stream in streams:
        quiet.indices.delete_data_stream(name=stream["name"])
    for index in quiet.indices.get(index=f"{prefix}*", expand_wildcards="all"):
        quiet.indices.delete(index=index)
    for t in quiet.indices.get_index_template(name=f"{prefix}*").get("index_templates", []):
        quiet.indices.delete_index_template(name=t["name"])
    found = quiet.cluster.get_component_template(name=f"{prefix}*")
    for t in found.get("component_templates", []):
        quiet.cluster.delete_component_template(name=t["name"])
    for name in client.ilm.get_lifecycle():
        if name.startswith(prefix):
            quiet.ilm.delete_lifecycle(name=name)
    client.close()


@pytest.fixture(scope="session", autouse=True)
def _remove_es_test_indices() -> Iterator[None]:
    """Delete every stream, index, template and policy this run created in the test cluster."""
    yield
    url = os.environ.get("SOC_TEST_ES_URL")
    if url:
        _es_remove_prefix(url, _ES_RUN)


FACTORIES: dict[str, StoreFactory] = {"embedded": _embedded, "elasticsearch": _elasticsearch}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    return FACTORIES[request.param]


@pytest.fixture
def store(factory: StoreFactory, tmp_path: Path) -> Iterator[Store]:
    opened = factory(tmp_path)
    yield opened
    opened.close()


def ev(n: int, ts: str, *, level: int | None = 3, **fields: Any) -> Event:
    """A minimal event numbered ``n`` (its id is ``e<n>``'s hash) at ``ts``."""
    event: Event = {
        "@timestamp": ts, "event.id": event_id("contract", n), "event.dataset": "linux.auth",
        "event.module": "linux", "event.ingested": ts, "labels.n": n,
    }
    if level is not None:
        event["labels.security_level"] = level
    event.update(fields)
    return event


def ns(events: Iterator[Event] | list[Event]) -> list[int]:
    return [e["labels.n"] for e in events]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Three days, two levels and an event with no system, deliberately written out of order.
SPREAD = [
    ev(1, "2026-11-22T23:59:59.999Z", level=1),
    ev(2, "2026-11-23T00:00:00.000Z"),
    ev(3, "2026-11-23T12:00:00.000Z", level=None),
    ev(4, "2026-11-23T12:00:00.001Z", level=1),
    ev(5, "2026-11-24T08:15:00.000Z", **{"user.name": "root", "source.ip": "10.0.0.5"}),
    ev(6, "2026-11-24T08:16:00.000Z", level=1, **{"user.name": "Nguyễn", "source.ip": "10.0.0.6"}),
]
SPREAD_WRITE_ORDER = [SPREAD[i] for i in (4, 0, 5, 2, 1, 3)]


# --- writes --------------------------------------------------------------------------------------


def test_write_is_idempotent_on_event_id(store: Store) -> None:
    first = [ev(1, "2026-11-24T08:00:00.000Z"), ev(2, "2026-11-24T08:00:01.000Z")]
    assert store.write_events(first) == WriteResult(written=2, duplicates=0)
    again = [*first, ev(3, "2026-11-24T08:00:02.000Z")]
    assert store.write_events(again) == WriteResult(written=1, duplicates=2)
    assert store.count() == 3


def test_duplicates_inside_one_batch_count_once(store: Store) -> None:
    one = ev(1, "2026-11-24T08:00:00.000Z")
    assert store.write_events([one, dict(one), one]) == WriteResult(written=1, duplicates=2)
    assert store.count() == 1


def test_empty_write(store: Store) -> None:
    assert store.write_events([]) == WriteResult(0, 0)
    assert store.count() == 0
    assert list(store.search()) == []


def test_events_come_back_unchanged(store: Store) -> None:
    event = ev(1, "2026-11-24T08:00:00.000Z", **{
        "user.name": "Nguyễn Văn Ánh", "event.category": ["authentication", "session"],
        "source.port": 51514, "event.risk_score": 7.5, "event.outcome": "failure",
        "tls.established": False, "event.original": 'say "hi"\tC:\\Windows\n',
    })
    store.write_events([event])
    assert list(store.search()) == [event]


# --- search --------------------------------------------------------------------------------------


def test_search_orders_by_timestamp_across_days_and_levels(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    assert ns(store.search()) == [6, 5, 4, 3, 2, 1]
    assert ns(store.search(order="asc")) == [1, 2, 3, 4, 5, 6]


def test_search_limit(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    assert ns(store.search(limit=3)) == [6, 5, 4]
    assert ns(store.search(limit=3, order="asc")) == [1, 2, 3]
    assert ns(store.search(limit=1)) == [6]
    assert ns(store.search(limit=None)) == [6, 5, 4, 3, 2, 1]
    assert ns(store.search(limit=0)) == []


def test_search_time_window_is_half_open(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    since, until = utc("2026-11-23T00:00:00"), utc("2026-11-24T08:15:00")
    assert ns(store.search(since=since, until=until)) == [4, 3, 2]
    assert ns(store.search(since=since)) == [6, 5, 4, 3, 2]
    assert ns(store.search(until=until, order="asc")) == [1, 2, 3, 4]
    assert ns(store.search(since=utc("2026-11-23T12:00:00.001"), limit=2, order="asc")) == [4, 5]
    assert ns(store.search(since=utc("2026-11-25T00:00:00"))) == []


def test_search_window_in_another_timezone(store: Store) -> None:
    from zoneinfo import ZoneInfo

    store.write_events(SPREAD_WRITE_ORDER)
    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")  # 2026-11-24 07:00 in Hanoi is 2026-11-24 00:00 UTC
    since = datetime(2026, 11, 24, 7, 0, tzinfo=hanoi)
    assert ns(store.search(since=since)) == [6, 5]


def test_search_query(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    assert ns(store.search("user.name:root")) == [5]
    assert ns(store.search("user.name:NGUYỄN")) == [6]
    assert ns(store.search("source.ip:10.0.0.5 OR source.ip:10.0.0.6")) == [6, 5]
    assert ns(store.search("labels.security_level:1", order="asc")) == [1, 4, 6]
    assert ns(store.search("NOT _exists_:labels.security_level")) == [3]
    assert ns(store.search("labels.n:[2 TO 4]")) == [4, 3, 2]
    assert ns(store.search("*", limit=2)) == [6, 5]


def test_count(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    assert store.count() == 6
    assert store.count("labels.security_level:1") == 3
    assert store.count(since=utc("2026-11-23T00:00:00"), until=utc("2026-11-24T00:00:00")) == 3
    assert store.count("labels.security_level:1", since=utc("2026-11-23T00:00:00")) == 2
    assert store.count("user.name:nobody") == 0


def test_bad_query_is_a_soc_error(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    with pytest.raises(SocError):
        list(store.search("user.name:(root"))
    with pytest.raises(SocError):
        store.count('user.name:"unclosed')


def test_store_survives_reopen(factory: StoreFactory, tmp_path: Path) -> None:
    with factory(tmp_path) as first:
        first.write_events(SPREAD_WRITE_ORDER)
    with factory(tmp_path) as second:
        assert second.count() == 6
        assert second.write_events(SPREAD) == WriteResult(0, 6)


# --- dead letters --------------------------------------------------------------------------------


def letter(n: int, source: str = "auth", raw: bytes = b"garbage") -> DeadLetter:
    return DeadLetter(
        id=f"dl{n}", source=source, origin=f"/var/log/auth.log:{n * 100}",
        reason="no timestamp", raw=raw, received=f"2026-11-24T08:00:0{n}.000Z",
        parser="linux.auth" if n % 2 else None,
        fields=(("log.file.path", "/var/log/auth.log"), ("log.offset", n * 100)),
    )


def test_dead_letters_round_trip(store: Store) -> None:
    binary = bytes(range(256)) + b"\xff\xfe\x00 not utf-8"
    letters = [letter(1, raw=binary), letter(2, source="fw"), letter(3)]
    assert store.write_dead_letters(letters) == 3
    assert store.write_dead_letters(letters[:2]) == 0
    assert store.dead_letters() == letters
    assert store.dead_letters()[0].raw == binary
    assert store.dead_letters(source="auth") == [letters[0], letters[2]]
    assert store.dead_letters(limit=1) == [letters[0]]
    assert store.dead_letters(source="nope") == []


def test_remove_dead_letters(store: Store) -> None:
    store.write_dead_letters([letter(1), letter(2), letter(3)])
    assert store.remove_dead_letters(["dl1", "dl3", "unknown"]) == 2
    assert [d.id for d in store.dead_letters()] == ["dl2"]
    assert store.remove_dead_letters([]) == 0


# --- housekeeping --------------------------------------------------------------------------------


def test_stats_counts(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    store.write_dead_letters([letter(1)])
    stats = store.stats()
    assert stats["events"] == 6
    assert stats["dead_letters"] == 1


KEEP = {1: 2, 3: 30}


def keep_days(level: int | None) -> int:
    return KEEP.get(level, 1) if level is not None else 1


def test_retention_lists_without_dropping(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    items = store.retention(keep_days, now=utc("2026-11-25T10:00:00"))
    assert sorted(items, key=lambda i: (i.day, i.level or 0)) == [
        RetentionItem("2026-11-22", 1, 1, 2, True),
        RetentionItem("2026-11-23", None, 1, 1, True),
        RetentionItem("2026-11-23", 1, 1, 2, False),
        RetentionItem("2026-11-23", 3, 1, 30, False),
        RetentionItem("2026-11-24", 1, 1, 2, False),
        RetentionItem("2026-11-24", 3, 1, 30, False),
    ]
    assert store.count() == 6


def test_retention_apply_drops_expired_partitions(store: Store) -> None:
    store.write_events(SPREAD_WRITE_ORDER)
    items = store.retention(keep_days, now=utc("2026-11-25T10:00:00"), apply=True)
    assert sum(i.expired for i in items) == 2
    assert ns(store.search()) == [6, 5, 4, 2]
    assert store.count() == 4
    left = store.retention(keep_days, now=utc("2026-11-25T10:00:00"))
    assert [i.expired for i in left] == [False] * 4
    # Re-writing a dropped event stores it again: retention is not a tombstone.
    assert store.write_events([SPREAD[0]]) == WriteResult(1, 0)
