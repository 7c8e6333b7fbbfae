"""THE Store contract suite: every store implementation must pass every test here.

Parametrised over store factories. The embedded store always runs; an Elasticsearch factory joins
``FACTORIES`` with its own issue and runs when ``$SOC_TEST_ES_URL`` points at a cluster (it must
skip otherwise). Tests use only the methods of :class:`soc.stores.base.Store` (events, dead letters,
retention, and the state methods: rule hits, alerts, the audit trail, incidents). The tests of
audited changes also run ``two-writes``: the embedded store with the Store defaults the
Elasticsearch store keeps (record, then entry), so that path runs without a cluster.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc import audit
from soc.config import Config
from soc.detection.hitlog import LATEST
from soc.ecs import Event, event_id
from soc.errors import NotFoundError, SocError
from soc.models import Alert, AlertQuery, AlertStatus, AuditEntry, DeadLetter, RuleHit, Severity
from soc.stores.base import ConflictError, RetentionItem, Store, WriteResult

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
    """Delete by exact name (wildcard deletes of indices are refused by default). A cluster
    without the data-stream APIs (the test node) keeps the streams and the templates they use:
    the test node's data goes with its next start."""
    from soc.stores.es.capabilities import probe
    from soc.stores.es.connection import EsOptions, connect

    client, _ = connect(EsOptions.from_mapping(_es_options(url), data_dir=Path(".")))
    caps = probe(client)
    quiet = client.options(ignore_status=(400, 404))
    if caps.data_streams:
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
    for name in client.ilm.get_lifecycle() if caps.ilm else ():
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


def _two_writes(tmp_path: Path) -> Store:
    """The embedded store with the Store defaults of the audited changes, which the
    Elasticsearch store keeps (the record, then its entry: two writes); the audited-change
    tests only."""
    from soc.stores.sqlite import SQLiteStore

    class TwoWrites(SQLiteStore):
        update_alert_audited = Store.update_alert_audited
        put_incident_audited = Store.put_incident_audited

    return TwoWrites.open(Config(path=None, data_dir=tmp_path / "data"))


FACTORIES: dict[str, StoreFactory] = {"embedded": _embedded, "elasticsearch": _elasticsearch}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    return {**FACTORIES, "two-writes": _two_writes}[request.param]


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
    ev(5, "2026-11-24T08:15:00.000Z", level=3, **{"user.name": "root", "source.ip": "10.0.0.5"}),
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
    event = ev(1, "2026-11-24T08:00:00.000Z", level=3, **{
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


def test_retention_keeps_the_events_holds_name(store: Store) -> None:
    from soc.stores.base import Hold

    late = ev(7, "2026-11-22T10:00:00.000Z", level=1)  # expired, beside SPREAD's first event
    store.write_events([*SPREAD_WRITE_ORDER, late])
    a = alert(1, SPREAD[0]["@timestamp"], SPREAD[0]["@timestamp"])
    store.upsert_alerts([a], {a.id: [(SPREAD[0]["event.id"], SPREAD[0]["@timestamp"])]})
    holds = [Hold("INC-1", "open", alerts=(a.id,)),  # through the alert's link
             Hold("INC-2", "hold: court order",  # the incident's own event ids
                  events=(SPREAD[0]["event.id"], SPREAD[2]["event.id"]))]
    now = utc("2026-11-25T10:00:00")
    listed = store.retention(keep_days, now=now, holds=holds)
    assert [i for i in listed if i.expired] == [
        RetentionItem("2026-11-22", 1, 2, 2, True, held=1, kept=(("INC-1", 1), ("INC-2", 1))),
        RetentionItem("2026-11-23", None, 1, 1, True, held=1, kept=(("INC-2", 1),)),
    ]
    assert store.count() == 7  # a dry run deletes nothing
    applied = store.retention(keep_days, now=now, apply=True, holds=holds)
    assert [(i.events, i.held) for i in applied if i.expired] == [(2, 1), (1, 1)]
    assert ns(store.search()) == [6, 5, 4, 3, 2, 1]  # the late event went, the held ones stay
    again = store.retention(keep_days, now=now, holds=holds)
    assert [(i.day, i.events, i.held) for i in again if i.expired] == [
        ("2026-11-22", 1, 1), ("2026-11-23", 1, 1)]
    store.retention(keep_days, now=now, apply=True)  # the holds are lifted: they go too
    assert ns(store.search()) == [6, 5, 4, 2]


# --- rule hits -----------------------------------------------------------------------------------


def hit(n: int, ts: str, *, correlation: str = "brute", group: str = '["10.0.0.5"]') -> RuleHit:
    return RuleHit(id=f"h{n:05d}", correlation=correlation, rule_id="failed-logon",
                   group_key=group, event_id=f"e{n}", ts=ts, value=f"user{n % 3}",
                   entity={"source.ip": "10.0.0.5", "user.name": f"user{n}"})


HITS = [hit(3, "2026-11-24T08:00:02.000Z"), hit(1, "2026-11-24T08:00:00.000Z"),
        hit(2, "2026-11-24T08:00:00.000Z", group='["10.0.0.6"]'),
        hit(4, "2026-11-24T08:00:03.000Z", correlation="other")]


def test_hits_are_kept_once_and_read_oldest_first(store: Store) -> None:
    assert store.write_hits(HITS) == 4
    assert store.write_hits([HITS[0], HITS[0], hit(5, "2026-11-24T08:00:04.000Z")]) == 1
    everything = store.hits("brute", since="", until=LATEST)
    assert [h.id for h in everything] == ["h00001", "h00002", "h00003", "h00005"]
    assert everything[2] == HITS[0]  # the whole hit comes back, entity and value too
    assert [h.id for h in store.hits("brute", since="2026-11-24T08:00:00.000Z",
                                     until="2026-11-24T08:00:02.000Z")] == [
        "h00001", "h00002", "h00003"]  # both bounds included
    assert [h.id for h in store.hits("brute", since="2026-11-24T08:00:00.001Z",
                                     until="2026-11-24T08:00:03.999Z")] == ["h00003"]
    assert [h.id for h in store.hits("brute", since="", until=LATEST,
                                     groups=['["10.0.0.6"]', '["nobody"]'])] == ["h00002"]
    assert store.hits("brute", since="", until=LATEST, groups=[]) == []
    assert [h.id for h in store.hits("other", since="", until=LATEST)] == ["h00004"]


def test_prune_hits_forgets_one_correlation_before_a_time(store: Store) -> None:
    store.write_hits(HITS)
    assert store.prune_hits("brute", "2026-11-24T08:00:02.000Z") == 2
    assert [h.id for h in store.hits("brute", since="", until=LATEST)] == ["h00003"]
    assert [h.id for h in store.hits("other", since="", until=LATEST)] == ["h00004"]
    assert store.prune_hits("brute", "2026-11-24T08:00:02.000Z") == 0


def test_hits_past_ten_thousand_all_come_back(store: Store) -> None:
    many = [hit(n, f"2026-11-24T08:{n // 6000:02d}:{n // 100 % 60:02d}.{n % 100:03d}Z")
            for n in range(10_005)]
    assert store.write_hits(many) == len(many)
    found = store.hits("brute", since="", until=LATEST)
    assert [h.id for h in found] == [h.id for h in sorted(many, key=lambda h: (h.ts, h.id))]


# --- alerts --------------------------------------------------------------------------------------


def alert(n: int, first: str, last: str, **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "id": f"alert{n:02d}" + "0" * 20, "rule_id": f"rule-{n % 2}",
        "rule_title": "Failed logons", "severity": Severity.HIGH, "first_seen": first,
        "last_seen": last, "dedup": f"dedup{n}", "group": {"source.ip": "10.0.0.5"},
        "entity": {"labels.system": "portal", "organization.id": "so-a",
                   "source.ip": "10.0.0.5"},
        "tags": ("attack.t1110",), "event_ids": (f"e{n}",), "created": first, "updated": last,
        "event": {"@timestamp": first, "event.id": f"e{n}", "user.name": "Nguyễn"}}
    return Alert(**{**values, **fields})


def links(*ns: int) -> list[tuple[str, str]]:
    return [(f"e{n}", f"2026-11-24T08:00:{n:02d}.000Z") for n in ns]


def test_upsert_links_events_and_counts_distinct_ones(store: Store) -> None:
    a = alert(1, "2026-11-24T08:00:00.000Z", "2026-11-24T08:00:02.000Z", count=99)
    (stored,) = store.upsert_alerts([a], {a.id: links(1, 2, 2)})
    assert stored == replace(a, count=2)
    assert store.get_alert(a.id) == stored
    wider = replace(a, last_seen="2026-11-24T08:00:05.000Z")
    (again,) = store.upsert_alerts([wider], {a.id: links(2, 3, 4)})
    assert again.count == 4
    assert store.get_alert(a.id) == again
    assert store.linked_events(a.id, ["e1", "e4", "e9"]) == {"e1", "e4"}
    assert store.linked_events("alert99", ["e1"]) == set()
    assert store.upsert_alerts([], {}) == []


def test_find_alert_by_dedup_within_the_window(store: Store) -> None:
    old = alert(1, "2026-11-24T06:00:00.000Z", "2026-11-24T06:10:00.000Z",
                status=AlertStatus.CLOSED)
    new = alert(2, "2026-11-24T08:00:00.000Z", "2026-11-24T08:10:00.000Z", dedup="dedup1")
    other = alert(3, "2026-11-24T08:00:00.000Z", "2026-11-24T08:10:00.000Z")
    store.upsert_alerts([old, new, other], {})
    hour = timedelta(hours=1)
    assert store.find_alert("dedup1", "2026-11-24T09:10:00.000Z", hour) == new  # edge: kept
    assert store.find_alert("dedup1", "2026-11-24T09:10:00.001Z", hour) is None
    assert store.find_alert("dedup1", "2026-11-24T07:00:00.000Z", hour) == new  # latest first
    assert store.find_alert("dedup1", "2026-11-24T05:30:00.000Z", hour) == old  # closed too
    assert store.find_alert("dedup1", "2026-11-24T04:59:59.999Z", hour) is None
    assert store.find_alert("nope", "2026-11-24T08:00:00.000Z", hour) is None


def test_list_alerts_filters_and_order(store: Store) -> None:
    alerts = [
        alert(1, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z", severity=Severity.LOW),
        alert(2, "2026-11-24T07:00:00.000Z", "2026-11-24T09:00:00.000Z",
              status=AlertStatus.ACKNOWLEDGED),
        alert(3, "2026-11-24T08:00:00.000Z", "2026-11-24T08:00:00.000Z",
              severity=Severity.CRITICAL, entity={"labels.system": "mail",
                                                  "organization.id": "so-b"}),
        alert(4, "2026-11-24T05:00:00.000Z", "2026-11-24T09:00:00.000Z"),
    ]
    store.upsert_alerts(alerts, {})

    def ids(**query: Any) -> list[int]:
        return [int(a.id[5:7]) for a in store.list_alerts(AlertQuery(**query))]

    assert ids() == [2, 4, 3, 1]  # last seen, newest first; ties by id
    assert ids(limit=2) == [2, 4]
    assert ids(limit=None) == [2, 4, 3, 1]
    assert ids(status=AlertStatus.OPEN) == [4, 3, 1]
    assert ids(min_severity=Severity.HIGH) == [2, 4, 3]
    assert ids(rule="rule-1") == [3, 1]
    assert ids(system="mail") == [3]
    assert ids(unit="so-a") == [2, 4, 1]
    assert ids(since="2026-11-24T08:00:00.000Z") == [2, 4, 3]
    assert store.list_alerts() == [alerts[1], alerts[3], alerts[2], alerts[0]]


def test_get_alert_by_id_or_unique_prefix(store: Store) -> None:
    one, two = alert(1, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z"), \
        alert(2, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z")
    store.upsert_alerts([one, two], {})
    assert store.get_alert(one.id) == one
    assert store.get_alert("alert01") == one
    assert store.get_alert("alert0") is None  # ambiguous
    assert store.get_alert("alert") is None  # too short to be a prefix
    assert store.get_alert("nothing-like-it") is None


def test_update_alert_replaces_the_document(store: Store) -> None:
    a = alert(1, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z")
    store.upsert_alerts([a], {a.id: links(1)})
    read = store.get_alert(a.id)
    assert read is not None
    closed = replace(read, status=AlertStatus.CLOSED, reason="false positive", assignee="an")
    store.update_alert(closed)
    assert store.get_alert(a.id) == closed
    assert store.list_alerts(AlertQuery(status=AlertStatus.CLOSED)) == [closed]
    with pytest.raises(NotFoundError):
        store.update_alert(alert(7, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z"))


def test_alerts_survive_reopen_and_another_handle_can_update(factory: StoreFactory,
                                                             tmp_path: Path) -> None:
    a = alert(1, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z")
    with factory(tmp_path) as first:
        first.upsert_alerts([a], {a.id: links(1, 2)})
    with factory(tmp_path) as second:
        assert second.get_alert(a.id) == replace(a, count=2)
        second.update_alert(replace(a, count=2, status=AlertStatus.ACKNOWLEDGED))
    with factory(tmp_path) as third:
        (again,) = third.upsert_alerts([a], {a.id: links(2, 3)})
        assert again.count == 3


def test_a_change_on_a_stale_alert_is_a_conflict(factory: StoreFactory, tmp_path: Path) -> None:
    a = alert(1, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z")
    with factory(tmp_path) as first, factory(tmp_path) as second:
        first.upsert_alerts([a], {a.id: links(1)})
        mine, theirs = first.get_alert(a.id), second.get_alert(a.id)
        assert mine is not None and theirs is not None
        acked = replace(mine, status=AlertStatus.ACKNOWLEDGED, assignee="an")
        first.update_alert(acked)
        with pytest.raises(ConflictError) as caught:
            second.update_alert(replace(theirs, status=AlertStatus.CLOSED, reason="fp"))
        assert (caught.value.message, caught.value.hint, caught.value.exit_code) == (
            f"the alert {a.id} was changed by someone else; re-read it",
            "Show it again with 'soc alerts show ID' and redo the change.", 4)
        assert second.get_alert(a.id) == acked  # nothing written; re-read...
        closed = replace(acked, status=AlertStatus.CLOSED, reason="fp")
        second.update_alert(closed)  # ...and redo the change
        assert first.get_alert(a.id) == closed
        first.update_alert(replace(closed, assignee="binh"))  # its own writes are known
        with pytest.raises(ConflictError):
            second.update_alert(replace(closed, reason="late"))


def test_detection_racing_an_ack_keeps_the_analyst_fields(factory: StoreFactory,
                                                          tmp_path: Path) -> None:
    a = alert(1, "2026-11-24T06:00:00.000Z", "2026-11-24T06:05:00.000Z",
              event_ids=("e1",))
    with factory(tmp_path) as detector, factory(tmp_path) as analyst:
        detector.upsert_alerts([a], {a.id: links(1)})
        found = detector.find_alert(a.dedup, "2026-11-24T06:30:00.000Z", timedelta(hours=1))
        assert found is not None
        read = analyst.get_alert(a.id)
        assert read is not None
        acked = replace(read, status=AlertStatus.CLOSED, assignee="an", reason="handled")
        analyst.update_alert(acked)
        wider = replace(found, last_seen="2026-11-24T06:30:00.000Z", event_ids=("e1", "e2"))
        (stored,) = detector.upsert_alerts([wider], {a.id: links(2)})
        assert stored == replace(wider, count=2, status=AlertStatus.CLOSED, assignee="an",
                                 reason="handled")
        assert analyst.get_alert(a.id) == stored
    with factory(tmp_path) as fresh:  # a handle that never read it: the same
        (again,) = fresh.upsert_alerts([replace(a, first_seen="2026-11-24T05:00:00.000Z")],
                                       {a.id: links(3)})
        assert again == replace(stored, first_seen="2026-11-24T05:00:00.000Z", count=3,
                                event_ids=("e1", "e2"))
        assert fresh.get_alert(a.id) == again


# --- audit trail and incidents -------------------------------------------------------------------


def entry(n: int, subject: str = "alert01") -> AuditEntry:
    return AuditEntry(ts=f"2026-11-24T08:00:{n:02d}.000Z", actor="an", action="alert.ack",
                      subject=subject, details={"before": "open", "after": n, "note": "Ánh"})


def test_audit_trail_appends_in_order(store: Store) -> None:
    written = [store.append_audit(entry(n, f"s{n % 2}")) for n in range(1, 5)]
    assert [e.seq for e in written] == [1, 2, 3, 4]
    assert store.audit_trail() == written
    assert [e.seq for e in store.audit_trail("s1")] == [1, 3]
    assert [e.seq for e in store.audit_trail(limit=2)] == [1, 2]
    assert store.audit_trail("nobody") == []


def test_audit_chain_verifies(store: Store, tmp_path: Path) -> None:
    from soc import audit

    for n in range(3):
        audit.record(store, actor="an", action="incident.note", subject="INC-1", after=n,
                     data_dir=tmp_path)
    result = audit.verify_store(store, tmp_path)
    assert result.ok and result.entries == 3
    assert result.head == audit.read_head(tmp_path)


INCIDENT = {"id": "INC-2", "title": "Phishing ở Sở A", "status": "open", "steps": [],
            "score": 7.5, "flags": {"serious": False}}


def test_incidents_round_trip_and_list(store: Store) -> None:
    assert store.get_incident("INC-1") is None
    store.put_incident("INC-2", "2026-11-24T09:00:00.000Z", "open", INCIDENT)
    store.put_incident("INC-1", "2026-11-24T08:00:00.000Z", "closed", {"id": "INC-1"})
    store.put_incident("INC-3", "2026-11-24T08:30:00.000Z", "open", {"id": "INC-3"})
    assert store.get_incident("INC-2") == INCIDENT
    assert [d["id"] for d in store.list_incidents()] == ["INC-1", "INC-3", "INC-2"]
    assert [d["id"] for d in store.list_incidents("open")] == ["INC-3", "INC-2"]
    changed = {**INCIDENT, "status": "closed"}
    store.put_incident("INC-2", "2026-11-24T09:00:00.000Z", "closed", changed)
    assert store.get_incident("INC-2") == changed
    assert [d["id"] for d in store.list_incidents("open")] == ["INC-3"]


def test_saving_a_stale_incident_is_a_conflict(factory: StoreFactory, tmp_path: Path) -> None:
    opened = "2026-11-24T09:00:00.000Z"
    with factory(tmp_path) as first, factory(tmp_path) as second:
        first.put_incident("INC-2", opened, "open", INCIDENT)
        assert second.get_incident("INC-2") == INCIDENT
        stepped = {**INCIDENT, "steps": ["triage"]}
        first.put_incident("INC-2", opened, "open", stepped)
        with pytest.raises(ConflictError) as caught:
            second.put_incident("INC-2", opened, "closed", {**INCIDENT, "status": "closed"})
        assert (caught.value.message, caught.value.hint, caught.value.exit_code) == (
            "the incident INC-2 was changed by someone else; re-read it",
            "Show it again with 'soc incidents show ID' and redo the change.", 4)
        assert second.get_incident("INC-2") == stepped  # nothing written; re-read...
        closed = {**stepped, "status": "closed"}
        second.put_incident("INC-2", opened, "closed", closed)  # ...and redo the change
        assert [d["id"] for d in first.list_incidents("closed")] == ["INC-2"]
        first.put_incident("INC-2", opened, "closed", {**closed, "outcome": "done"})
        with pytest.raises(ConflictError):
            second.put_incident("INC-2", opened, "open", stepped)
        assert first.get_incident("INC-2") == {**closed, "outcome": "done"}


# --- audited changes: a record and its audit entry ----------------------------------------------


AUDITED = pytest.mark.parametrize("factory", [*sorted(FACTORIES), "two-writes"], indirect=True)
"""The audited-change tests also run the Store defaults the Elasticsearch store keeps
(``two-writes``: the record, then its entry) over the embedded store, without a cluster."""


def change_entry(subject: str, action: str, before: Any, after: Any,
                 state: dict[str, Any]) -> AuditEntry:
    """The unsealed entry soc.alerts and soc.response.incidents build for one change."""
    return audit.new_entry(actor="an", action=action, subject=subject, before=before,
                           after=after, state=state)


def ack(read: Alert) -> tuple[Alert, AuditEntry]:
    """An alert acknowledged and its entry, as ``soc alerts ack`` builds them."""
    acked = replace(read, status=AlertStatus.ACKNOWLEDGED)
    return acked, change_entry(read.id, "alert.ack", read.status.value, "acknowledged",
                               acked.to_dict())


def close(read: Alert, reason: str) -> tuple[Alert, AuditEntry]:
    """An alert closed with a reason and its entry, as ``soc alerts close`` builds them."""
    closed = replace(read, status=AlertStatus.CLOSED, reason=reason)
    return closed, change_entry(read.id, "alert.close", read.status.value, "closed",
                                closed.to_dict())


def stored_alert(store: Store, n: int = 1) -> Alert:
    """Alert ``n`` upserted with one event and read back (this handle knows its version)."""
    a = alert(n, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z")
    store.upsert_alerts([a], {a.id: links(n)})
    read = store.get_alert(a.id)
    assert read is not None
    return read


@AUDITED
def test_an_audited_alert_change_stores_both_and_chains(store: Store) -> None:
    read = stored_alert(store)
    before = store.append_audit(entry(1, "INC-1"))
    acked, unsealed = ack(read)
    written = store.update_alert_audited(acked, unsealed)
    assert written == replace(audit.seal(unsealed, before), seq=2)
    assert audit.chain_of(written)[0] == audit.chain_of(before)[1]
    assert store.get_alert(read.id) == acked
    assert store.list_alerts(AlertQuery(status=AlertStatus.ACKNOWLEDGED)) == [acked]
    assert store.audit_trail() == [before, written]
    closed, unsealed = close(acked, "false positive")
    assert store.update_alert_audited(closed, unsealed) == replace(
        audit.seal(unsealed, written), seq=3)
    assert store.get_alert(read.id) == closed


@AUDITED
def test_an_audited_incident_change_stores_both_and_chains(store: Store) -> None:
    opened = "2026-11-24T09:00:00.000Z"
    first = change_entry("INC-2", "incident.open", None, "open", INCIDENT)
    written = store.put_incident_audited("INC-2", opened, "open", INCIDENT, first)
    assert written == replace(audit.seal(first, None), seq=1)
    assert audit.chain_of(written)[0] == audit.GENESIS
    closed = {**INCIDENT, "status": "closed"}
    second = change_entry("INC-2", "incident.close", "open", "closed", closed)
    again = store.put_incident_audited("INC-2", opened, "closed", closed, second)
    assert again == replace(audit.seal(second, written), seq=2)
    assert store.get_incident("INC-2") == closed
    assert [d["id"] for d in store.list_incidents("closed")] == ["INC-2"]
    assert store.audit_trail("INC-2") == [written, again]
    assert again.details[audit.STATE] == audit.state_hash(closed)


@AUDITED
def test_audited_changes_from_two_handles_verify(factory: StoreFactory,
                                                 tmp_path: Path) -> None:
    heads = tmp_path / "heads"
    heads.mkdir()
    opened, incident = "2026-11-24T09:00:00.000Z", {**INCIDENT, "alerts": []}
    with factory(tmp_path) as one, factory(tmp_path) as two:
        read = stored_alert(one)
        acked, unsealed = ack(read)
        audit.write_head(heads, one.update_alert_audited(acked, unsealed))
        audit.write_head(heads, two.put_incident_audited(
            "INC-2", opened, "open", incident,
            change_entry("INC-2", "incident.open", None, "open", incident)))
        theirs = two.get_alert(read.id)
        assert theirs == acked
        assigned = replace(theirs, assignee="binh")
        audit.write_head(heads, two.update_alert_audited(assigned, change_entry(
            read.id, "alert.assign", None, "binh", assigned.to_dict())))
        linked = {**incident, "alerts": [read.id]}
        assert one.get_incident("INC-2") == incident
        audit.write_head(heads, one.put_incident_audited(
            "INC-2", opened, "open", linked,
            change_entry("INC-2", "incident.link", [], [read.id], linked)))
    with factory(tmp_path) as fresh:
        result = audit.verify_store(fresh, heads)
        assert result.problems == ()
        assert result.entries == 4
        assert result.head == audit.read_head(heads)
        assert [e.seq for e in fresh.audit_trail()] == [1, 2, 3, 4]


@AUDITED
def test_a_stale_audited_change_is_a_conflict_and_appends_nothing(factory: StoreFactory,
                                                                  tmp_path: Path) -> None:
    with factory(tmp_path) as first, factory(tmp_path) as second:
        read = stored_alert(first)
        theirs = second.get_alert(read.id)
        assert theirs is not None
        acked, unsealed = ack(read)
        done = first.update_alert_audited(acked, unsealed)
        with pytest.raises(ConflictError) as caught:
            second.update_alert_audited(*close(theirs, "fp"))
        assert (caught.value.message, caught.value.exit_code) == (
            f"the alert {read.id} was changed by someone else; re-read it", 4)
        assert second.get_alert(read.id) == acked  # nothing written, nothing audited
        assert second.audit_trail() == [done]
        again = second.get_alert(read.id)  # re-read and redo: the entry follows the first one
        assert again is not None
        closed, unsealed = close(again, "fp")
        assert second.update_alert_audited(closed, unsealed) == replace(
            audit.seal(unsealed, done), seq=2)
        assert audit.verify_store(first).ok


@AUDITED
def test_a_stale_audited_incident_is_a_conflict_and_appends_nothing(factory: StoreFactory,
                                                                    tmp_path: Path) -> None:
    opened, stepped = "2026-11-24T09:00:00.000Z", {**INCIDENT, "steps": ["triage"]}
    with factory(tmp_path) as first, factory(tmp_path) as second:
        made = first.put_incident_audited("INC-2", opened, "open", INCIDENT, change_entry(
            "INC-2", "incident.open", None, "open", INCIDENT))
        assert second.get_incident("INC-2") == INCIDENT
        step = first.put_incident_audited("INC-2", opened, "open", stepped, change_entry(
            "INC-2", "incident.step", [], ["triage"], stepped))
        closed = {**INCIDENT, "status": "closed"}
        with pytest.raises(ConflictError) as caught:
            second.put_incident_audited("INC-2", opened, "closed", closed, change_entry(
                "INC-2", "incident.close", "open", "closed", closed))
        assert (caught.value.message, caught.value.exit_code) == (
            "the incident INC-2 was changed by someone else; re-read it", 4)
        assert second.get_incident("INC-2") == stepped
        assert second.audit_trail() == [made, step]
        assert audit.verify_store(second).ok


@AUDITED
def test_an_audited_change_of_a_missing_alert_appends_nothing(store: Store) -> None:
    missing = alert(7, "2026-11-24T06:00:00.000Z", "2026-11-24T06:00:00.000Z")
    with pytest.raises(NotFoundError):
        store.update_alert_audited(*ack(missing))
    assert store.audit_trail() == []
    assert store.get_alert(missing.id) is None


def test_a_change_stored_without_its_entry_is_reported(store: Store) -> None:
    """What a crash between the Elasticsearch store's two writes (record, then entry) leaves:
    the change is stored, its entry is not, and verify names the record."""
    read = stored_alert(store)
    acked, _ = ack(read)
    store.update_alert(acked)
    store.put_incident("INC-2", "2026-11-24T09:00:00.000Z", "open", INCIDENT)
    result = audit.verify_store(store)
    assert [(p.subject, p.message) for p in result.problems] == [
        ("INC-2", "record INC-2 has no entry in the trail"),
        (read.id, f"alert {read.id} has status 'acknowledged' but no audited change set it "
                  "(a new alert is open and unassigned): it was changed outside soc")]
