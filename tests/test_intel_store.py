"""Threat-intel indicators in both real stores (the embedded one; Elasticsearch when
``$SOC_TEST_ES_URL`` points at a node, as in the contract suite): whole records by id with each
feed's word, listings filtered by the store (type, feed, live at a time, changed since, value) in
(type, value) order and page by page, counts, removal, read-only handles, and a store of the
schema before indicators upgraded in place."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import soc.stores.sqlite.schema as sqlite_schema
from soc.config import Config, StoreConfig
from soc.errors import StoreError
from soc.intel.model import Indicator, IndicatorRecord, normalize
from soc.stores.base import Store
from soc.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from tests.test_store_contract import _ES_RUN, _es_options, _remove_es_test_indices

__all__ = ["_remove_es_test_indices"]  # the contract suite's clean-up of the test cluster

NOW = "2026-03-02T08:00:00.000Z"
PAST = "2026-02-01T00:00:00.000Z"
FUTURE = "2026-06-01T00:00:00.000Z"
LONG_AGO = "2025-01-01T00:00:00.000Z"


def _embedded(tmp_path: Path, readonly: bool = False) -> Store:
    return SQLiteStore.open(Config(path=None, data_dir=tmp_path / "data"), readonly=readonly)


def _elasticsearch(tmp_path: Path, readonly: bool = False) -> Store:
    """The cluster store under the contract suite's per-test prefix (the same on reopen)."""
    url = os.environ.get("SOC_TEST_ES_URL")
    if not url:
        pytest.skip("SOC_TEST_ES_URL is not set: Elasticsearch indicator tests skipped")
    from soc.stores.es.store import ElasticsearchStore

    test = hashlib.blake2b(str(tmp_path).encode(), digest_size=4).hexdigest()
    options = {**_es_options(url), "index_prefix": f"{_ES_RUN}{test}-", "refresh": "wait_for",
               "replicas": 0}
    return ElasticsearchStore.open(Config(path=None, data_dir=tmp_path / "data",
                                          store=StoreConfig("elasticsearch", options)),
                                   readonly=readonly)


Factory = Callable[..., Store]
FACTORIES: dict[str, Factory] = {"embedded": _embedded, "elasticsearch": _elasticsearch}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Factory:
    return FACTORIES[request.param]


@pytest.fixture
def store(factory: Factory, tmp_path: Path) -> Iterator[Store]:
    with factory(tmp_path) as opened:
        yield opened


def said(kind: str, value: str, source: str, **context: Any) -> Indicator:
    """One feed's word on an indicator (its value normalised as every producer does)."""
    return Indicator(kind, normalize(kind, value), source, **context)


def record(*words: Indicator, added: str = PAST, updated: str = PAST,
           expired: str | None = None) -> IndicatorRecord:
    first = words[0]
    return IndicatorRecord(first.type, first.value, {w.source: w for w in words}, added=added,
                           updated=updated, expired=expired).settle()


def keys(records: Iterator[IndicatorRecord] | list[IndicatorRecord]) -> list[tuple[str, str]]:
    return [r.key for r in records]


# --- records kept whole ---------------------------------------------------------------------------


def test_a_record_with_two_sources_comes_back_whole(store: Store) -> None:
    rec = record(
        said("domain", "Ví-dụ.EXAMPLE.", "vncert", first_seen="2026-01-05T00:00:00.000Z",
             last_seen="2026-02-20T10:30:00.000Z", valid_until=FUTURE, confidence=80,
             tlp="amber", tags=("phishing", "apt"), description="Giả mạo cổng dịch vụ công",
             reference="https://vncert.example/ioc/1", extra={"campaign": "x1"}),
        said("domain", "ví-dụ.example", "misp", valid_until="2026-04-01T00:00:00.000Z",
             confidence=60, tlp="green", tags=("apt",)),
        added="2026-01-05T01:00:00.000Z", updated="2026-02-20T11:00:00.000Z")
    assert store.put_indicators([rec]) == 1
    got = store.get_indicators([rec.id, "0" * 32])
    assert list(got) == [rec.id]
    assert got[rec.id].to_doc() == rec.to_doc()
    assert got[rec.id].sources["vncert"].extra == {"campaign": "x1"}
    assert (got[rec.id].valid_until, got[rec.id].confidence, got[rec.id].tlp) == (
        FUTURE, 80, "amber")
    assert [r.to_doc() for r in store.list_indicators()] == [rec.to_doc()]
    assert store.get_indicators([]) == {}


def test_put_replaces_the_record_and_its_sources(store: Store) -> None:
    both = record(said("ipv4", "198.51.100.7", "vncert", confidence=50),
                  said("ipv4", "198.51.100.7", "misp", confidence=90))
    store.put_indicators([both])
    later = record(said("ipv4", "198.51.100.7", "vncert", confidence=70), updated=NOW)
    assert store.put_indicators([later]) == 1
    assert store.get_indicators([both.id])[both.id].to_doc() == later.to_doc()
    assert keys(store.list_indicators(source="misp")) == []
    assert keys(store.list_indicators(source="vncert")) == [("ipv4", "198.51.100.7")]
    assert store.count_indicators() == 1


def test_put_counts_each_id_once_and_keeps_the_last(store: Store) -> None:
    first = record(said("md5", "D41D8CD98F00B204E9800998ECF8427E", "otx", confidence=10))
    second = record(said("md5", "d41d8cd98f00b204e9800998ecf8427e", "otx", confidence=99))
    other = record(said("email", "Admin@Evil.Example", "otx"))
    assert store.put_indicators([first, other, second]) == 2
    assert store.get_indicators([first.id])[first.id].confidence == 99
    assert store.put_indicators([]) == 0
    assert store.count_indicators() == 2


# --- listings -------------------------------------------------------------------------------------


def sample() -> dict[str, IndicatorRecord]:
    """Records around NOW: valid until past, future or never; expired by hand before, at or
    after NOW; updated at various times; one of them vouched for by two feeds."""
    return {
        "old_ip": record(said("ipv4", "10.0.0.1", "vncert", valid_until=PAST),
                         updated=LONG_AGO),
        "net": record(said("ipv4", "10.0.0.0/8", "misp", valid_until=FUTURE), updated=NOW),
        "both": record(said("domain", "evil.example", "vncert", valid_until=PAST),
                       said("domain", "evil.example", "misp")),  # one feed says: no end
        "hash": record(said("sha256", "ab" * 32, "otx", valid_until=FUTURE), expired=PAST,
                       updated="2026-03-02T07:59:59.999Z"),
        "url": record(said("url", "HTTP://Evil.Example/login?x=1", "vncert"), expired=FUTURE),
        "ends_now": record(said("domain", "ends.example", "otx", valid_until=NOW)),
        "expired_now": record(said("email", "a@evil.example", "otx", valid_until=FUTURE),
                              expired=NOW, updated=FUTURE),
        "ua": record(said("user-agent", "Mozilla/5.0 (evil)", "vncert", valid_until=FUTURE)),
    }


def test_listing_is_in_type_and_value_order(store: Store) -> None:
    recs = sample()
    assert store.put_indicators(list(recs.values())) == len(recs)
    assert keys(store.list_indicators()) == [
        ("domain", "ends.example"), ("domain", "evil.example"), ("email", "a@evil.example"),
        ("ipv4", "10.0.0.0/8"), ("ipv4", "10.0.0.1"), ("sha256", "ab" * 32),
        ("url", "http://evil.example/login?x=1"), ("user-agent", "Mozilla/5.0 (evil)")]


def test_listing_filters_in_the_store(store: Store) -> None:
    recs = sample()
    store.put_indicators(list(recs.values()))

    def names(**filters: Any) -> list[str]:
        by_id = {r.id: name for name, r in recs.items()}
        return [by_id[r.id] for r in store.list_indicators(**filters)]

    assert names(kind="ipv4") == ["net", "old_ip"]
    assert names(kind="ja3") == []
    assert names(source="vncert") == ["both", "old_ip", "url", "ua"]
    assert names(source="misp") == ["both", "net"]
    assert names(source="nobody") == []
    assert names(value="evil.example") == ["both"]
    assert names(kind="email", value="evil.example") == []
    assert names(changed_since=NOW) == ["expired_now", "net"]  # updated >= NOW
    assert names(changed_since="2026-03-02T07:59:59.999Z") == ["expired_now", "net", "hash"]
    assert names(kind="domain", source="misp", live_at=NOW) == ["both"]


def test_live_at_is_what_the_record_says(store: Store) -> None:
    recs = sample()
    store.put_indicators(list(recs.values()))
    by_id = {r.id: name for name, r in recs.items()}
    # valid until past: gone; until NOW: gone (not after NOW); expired at NOW: gone; expired by
    # hand in the future, valid until never: live; one feed without an end keeps it live
    assert [by_id[r.id] for r in store.list_indicators(live_at=NOW)] == [
        "both", "net", "url", "ua"]
    for at in (LONG_AGO, PAST, NOW, FUTURE, "2027-01-01T00:00:00.000Z"):
        expected = sorted((r for r in recs.values() if r.live(at)), key=lambda r: r.key)
        assert keys(store.list_indicators(live_at=at)) == keys(expected), at
        assert store.count_indicators(live_at=at) == len(expected), at
    assert store.count_indicators() == len(recs)
    assert store.count_indicators(live_at=LONG_AGO) == len(recs)  # expired by hand since


def test_the_keys_are_the_live_records_without_their_sources(store: Store) -> None:
    recs = sample()
    store.put_indicators(list(recs.values()))
    for at in (PAST, NOW, None):
        whole = list(store.list_indicators(live_at=at))
        light = list(store.indicator_keys(live_at=at))
        # in no particular order (the embedded store reads the table as it lies)
        assert sorted((r.type, r.value, r.valid_until, r.expired, r.id) for r in light) == [
            (r.type, r.value, r.valid_until, r.expired, r.id) for r in whole], at
        assert all(r.sources == {} for r in light)


def test_thousands_are_listed_completely_page_by_page(store: Store) -> None:
    kinds = ("ipv4", "domain", "md5")
    recs = []
    for n in range(2500):
        kind = kinds[n % 3]
        value = {"ipv4": f"10.{n // 256}.{n % 256}.1", "domain": f"host{n}.example",
                 "md5": hashlib.md5(str(n).encode()).hexdigest()}[kind]
        recs.append(record(said(kind, value, "bulk", valid_until=FUTURE)))
    assert store.put_indicators(recs) == 2500
    listed = keys(store.list_indicators())
    assert len(listed) == len(set(listed)) == 2500
    assert listed == sorted(r.key for r in recs)
    assert len(list(store.list_indicators(source="bulk", live_at=NOW))) == 2500
    assert len(list(store.list_indicators(kind="domain"))) == 833
    assert store.count_indicators(live_at=NOW) == 2500


def test_writes_between_pages_do_not_break_a_listing(store: Store) -> None:
    recs = [record(said("ipv4", f"192.0.2.{n}", "feed")) for n in range(1, 251)]
    recs += [record(said("domain", f"d{n:04d}.example", "feed")) for n in range(1500)]
    store.put_indicators(recs)
    listing = store.list_indicators()
    first = next(listing)
    assert first.key == ("domain", "d0000.example")
    last = ("ipv4", "192.0.2.99")
    assert store.remove_indicators([r.id for r in recs if r.key == last]) == 1  # not read yet
    store.put_indicators([record(said("ipv4", "192.0.2.1", "feed", confidence=5))])
    rest = list(listing)
    assert len(rest) == len(recs) - 2 and last not in keys(rest)


# --- removal, read-only handles, stores without indicators ----------------------------------------


def test_remove_forgets_records_and_their_sources(store: Store) -> None:
    recs = sample()
    store.put_indicators(list(recs.values()))
    gone = recs["both"]
    assert store.remove_indicators([gone.id, gone.id, "f" * 32]) == 1
    assert store.get_indicators([gone.id]) == {}
    assert store.remove_indicators([gone.id]) == 0
    assert store.remove_indicators([]) == 0
    assert keys(store.list_indicators(source="misp")) == [("ipv4", "10.0.0.0/8")]
    assert store.count_indicators() == len(recs) - 1
    assert store.put_indicators([gone]) == 1  # and back, with both feeds
    assert keys(store.list_indicators(source="misp")) == [("domain", "evil.example"),
                                                         ("ipv4", "10.0.0.0/8")]


def test_a_read_only_handle_reads_and_refuses_writes(factory: Factory, tmp_path: Path) -> None:
    rec = record(said("ja3", "E7D705A3286E19EA42F587B344EE6865", "feed"))
    with factory(tmp_path) as writer:
        writer.put_indicators([rec])
    with factory(tmp_path, readonly=True) as reader:
        with pytest.raises(StoreError, match=r"^cannot write threat-intel indicators: the "
                                             "store was opened read-only$"):
            reader.put_indicators([rec])
        with pytest.raises(StoreError, match=r"^cannot remove threat-intel indicators: the "
                                             "store was opened read-only$"):
            reader.remove_indicators([rec.id])
        assert list(reader.get_indicators([rec.id])) == [rec.id]
        assert keys(reader.list_indicators()) == [rec.key]
        assert reader.count_indicators(live_at=NOW) == 1


def test_the_store_contract_default_says_what_is_missing(tmp_path: Path) -> None:
    with _embedded(tmp_path) as embedded:
        calls: list[Callable[[], object]] = [
            lambda: Store.put_indicators(embedded, []),
            lambda: Store.get_indicators(embedded, []),
            lambda: Store.list_indicators(embedded),
            lambda: Store.count_indicators(embedded),
            lambda: Store.remove_indicators(embedded, [])]
        for call in calls:
            with pytest.raises(StoreError, match=r"^the embedded store cannot \w+ threat-intel "
                                                 r"indicators yet$"):
                call()


# --- the embedded store: pages, and a store file from before indicators ---------------------------


def test_the_embedded_listing_reads_a_page_at_a_time(tmp_path: Path) -> None:
    with _embedded(tmp_path) as embedded:
        assert isinstance(embedded, SQLiteStore)
        embedded.put_indicators([record(said("ipv4", f"10.1.{n // 256}.{n % 256}", "f"))
                                 for n in range(2500)])
        statements: list[str] = []
        embedded.db.set_trace_callback(statements.append)
        listing = embedded.list_indicators()
        next(listing)
        assert len([s for s in statements if "FROM indicators" in s]) == 1
        assert sum(1 for _ in listing) == 2499
        assert len([s for s in statements if "FROM indicators" in s]) == 3  # 1,000 a page
        embedded.db.set_trace_callback(None)


def version_5_store(path: Path) -> None:
    """A store file as soc wrote it at schema version 5 (the outbox; no indicators), with an
    incident in it."""
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    for migration in sqlite_schema.MIGRATIONS[:5]:
        migration(db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '5')")
    db.execute("INSERT INTO incidents(id, opened, status, doc) VALUES "
               "('INC-1', '2026-03-01T08:00:00.000Z', 'open', '{\"id\": \"INC-1\"}')")
    db.close()


def test_a_version_5_store_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "data" / "store.db"
    version_5_store(path)
    with pytest.raises(StoreError, match=r"has schema version 5; this soc needs 8$"):
        SQLiteStore.open_path(path, readonly=True)
    rec = record(said("sha1", "A" * 40, "vncert", valid_until=FUTURE))
    with _embedded(tmp_path) as upgraded:
        assert upgraded.stats()["schema_version"] == SCHEMA_VERSION == 8  # 7: accounts, 8: queue
        assert upgraded.get_incident("INC-1") == {"id": "INC-1"}
        assert upgraded.count_indicators() == 0
        assert upgraded.put_indicators([rec]) == 1
    with _embedded(tmp_path, readonly=True) as reader:
        assert keys(reader.list_indicators(source="vncert", live_at=NOW)) == [rec.key]
    with sqlite3.connect(path) as db:
        indexes = {n for (n,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'indicators'")}
    assert {"indicators_key", "indicators_value", "indicators_updated",
            "indicators_valid_until"} <= indexes


# --- Elasticsearch: a cluster installed before indicators -----------------------------------------


def test_a_cluster_without_the_index_reads_nothing_and_creates_it_on_write(
        tmp_path: Path) -> None:
    store = _elasticsearch(tmp_path)
    from soc.stores.es.store import ElasticsearchStore

    assert isinstance(store, ElasticsearchStore)
    with store:
        index = store.names.index("intel-indicators")
        assert index.endswith("soc-intel-indicators")
        store.client.indices.delete(index=index)  # as an older soc store init left it
    rec = record(said("ipv6", "2001:DB8::/64", "feed"))
    with _elasticsearch(tmp_path) as fresh:
        assert isinstance(fresh, ElasticsearchStore)
        assert keys(fresh.list_indicators()) == []
        assert fresh.count_indicators(live_at=NOW) == 0
        assert fresh.get_indicators([rec.id]) == {}
        assert fresh.remove_indicators([rec.id]) == 0
        assert fresh.put_indicators([rec]) == 1
        mapping = fresh.client.indices.get_mapping(index=index)[index]["mappings"]
        assert mapping["dynamic"] in (False, "false")
        assert mapping["properties"]["sources"]["properties"]["source"]["type"] == "keyword"
        assert keys(fresh.list_indicators(value="2001:db8::/64")) == [rec.key]
