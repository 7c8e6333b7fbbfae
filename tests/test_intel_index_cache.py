"""The matcher's index kept on disk between passes (soc.intel.index_cache), on both real stores
(Elasticsearch when ``$SOC_TEST_ES_URL`` points at a node): a second pass reads it back instead
of building it, and gives the same matches; any change of the stored indicators (a write, a
removal), an indicator reaching its end of validity, a clock gone back, or a damaged file means
a build from the store; a running stage sees a removal."""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.ecs import Event, event_id, format_ts
from soc.intel import index_cache, library
from soc.intel import stage as stage_module
from soc.intel.matcher import IndicatorIndex
from soc.intel.model import Indicator, indicator_id, normalize
from soc.intel.stage import IntelStage
from soc.stores.base import Store
from tests.test_intel_store import FACTORIES, Factory

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SHA = hashlib.sha256(b"dropper").hexdigest()


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    factory: Factory = FACTORIES[request.param]
    with factory(tmp_path) as opened:
        yield opened


def said(kind: str, value: str, **context: Any) -> Indicator:
    return Indicator(kind, normalize(kind, value), "ncsc", **context)


def event(n: int, **fields: Any) -> Event:
    when = format_ts(NOW - timedelta(minutes=1))
    return {"@timestamp": when, "event.id": event_id("cache-test", n),
            "event.dataset": "test.intel", "event.module": "test", "event.ingested": when,
            "labels.case": n, **fields}


def events() -> list[Event]:
    return [event(1, **{"source.ip": "203.0.113.45"}),
            event(2, **{"dns.question.name": "cdn.login.evil.example"}),
            event(3, **{"file.hash.sha256": SHA}),
            event(4, **{"url.full": "https://bad.example/kit/drop.php?id=7"}),
            event(5, **{"source.ip": "2001:db8:66::9"}),
            event(6, **{"source.ip": "198.51.100.7", "dns.question.name": "ok.example"})]


def ingest(store: Store, valid_until: datetime | None = None) -> None:
    until = {"valid_until": format_ts(valid_until)} if valid_until else {}
    library.ingest(store, [
        said("ipv4", "203.0.113.0/24", **until), said("domain", "evil.example"),
        said("sha256", SHA), said("url", "https://bad.example/kit/drop.php"),
        said("ipv6", "2001:db8:66::/48"), said("ipv4", "192.0.2.1")],
        format_ts(NOW - timedelta(hours=1)))


def matched(stage: IntelStage, store: Store) -> list[tuple[int, Any]]:
    """(case, the matched values) of the events that matched."""
    batch = events()
    stage.process(batch, store)
    return sorted((e["labels.case"], e["threat.indicator.matched"])
                  for e in batch if "threat.indicator.matched" in e)


def new_stage(tmp_path: Path, at: datetime = NOW) -> IntelStage:
    return IntelStage(clock=lambda: at, cache=tmp_path / index_cache.FILE_NAME)


class Builds:
    """Counts the builds from the store (monkeypatched around IndicatorIndex.build)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = IndicatorIndex.build

        def counted(records: Any, now: str) -> IndicatorIndex:
            self.count += 1
            return real(records, now)

        monkeypatch.setattr(IndicatorIndex, "build", counted)


def test_a_second_pass_reads_the_index_back_and_matches_the_same(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store)
    builds = Builds(monkeypatch)
    first = matched(new_stage(tmp_path), store)
    assert builds.count == 1 and (tmp_path / index_cache.FILE_NAME).is_file()
    assert len(first) == 5  # all but the last event
    second = matched(new_stage(tmp_path, NOW + timedelta(minutes=5)), store)
    assert builds.count == 1  # read back, not built
    assert second == first


def test_a_write_or_a_removal_means_a_build(store: Store, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store)
    builds = Builds(monkeypatch)
    matched(new_stage(tmp_path), store)
    library.ingest(store, [said("ipv4", "198.51.100.7")], format_ts(NOW))
    after_write = matched(new_stage(tmp_path), store)
    assert builds.count == 2 and [case for case, _ in after_write] == [1, 2, 3, 4, 5, 6]
    store.remove_indicators([indicator_id("domain", "evil.example")])
    after_removal = matched(new_stage(tmp_path), store)
    assert builds.count == 3 and len(after_removal) == len(after_write) - 1


def test_a_running_stage_sees_a_removal(store: Store, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A removal leaves no record changed since the build: the store's version tells."""
    ingest(store)
    running = new_stage(tmp_path)
    assert len(matched(running, store)) == 5
    store.remove_indicators([indicator_id("sha256", SHA)])
    monkeypatch.setattr(stage_module, "CHECK_EVERY", 0.0)
    assert len(matched(running, store)) == 4


def test_an_indicator_at_its_end_of_validity_means_a_build(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store, valid_until=NOW + timedelta(hours=1))
    builds = Builds(monkeypatch)
    assert len(matched(new_stage(tmp_path), store)) == 5
    later = matched(new_stage(tmp_path, NOW + timedelta(hours=2)), store)
    assert builds.count == 2 and len(later) == 4  # the /24 is no longer live


def test_a_clock_gone_back_means_a_build(store: Store, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store)
    builds = Builds(monkeypatch)
    matched(new_stage(tmp_path), store)
    matched(new_stage(tmp_path, NOW - timedelta(days=1)), store)
    assert builds.count == 2


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],
    lambda data: b"\x00garbage\xff" * 10,
    lambda data: b"",
    lambda data: marshal.dumps({"tag": "another", "version": "x"}),
    lambda data: marshal.dumps([1, 2, 3]),
])
def test_a_damaged_file_means_a_build_and_is_replaced(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Any) -> None:
    ingest(store)
    path = tmp_path / index_cache.FILE_NAME
    want = matched(new_stage(tmp_path), store)
    path.write_bytes(damage(path.read_bytes()))
    builds = Builds(monkeypatch)
    assert matched(new_stage(tmp_path), store) == want
    assert builds.count == 1
    assert index_cache.load(path, str(store.indicators_version()), format_ts(NOW)) is not None


def test_a_file_of_another_version_is_not_used(store: Store, tmp_path: Path) -> None:
    ingest(store)
    path = tmp_path / index_cache.FILE_NAME
    matched(new_stage(tmp_path), store)
    version = store.indicators_version()
    assert version is not None
    assert index_cache.load(path, version, format_ts(NOW)) is not None
    assert index_cache.load(path, version + "x", format_ts(NOW)) is None


def test_the_version_changes_with_every_write_and_removal(store: Store) -> None:
    assert store.indicators_version() is None
    ingest(store)
    seen = {store.indicators_version()}
    library.ingest(store, [said("domain", "other.example")], format_ts(NOW))
    seen.add(store.indicators_version())
    store.remove_indicators([indicator_id("domain", "other.example")])
    seen.add(store.indicators_version())
    assert len(seen) == 3 and None not in seen


def test_the_plain_form_answers_as_the_index(store: Store) -> None:
    ingest(store)
    now = format_ts(NOW)
    built = IndicatorIndex.build(store.indicator_keys(live_at=now), now)
    back = IndicatorIndex.from_plain(marshal.loads(marshal.dumps(built.to_plain())))
    assert len(back) == len(built) == 6
    for e in events():
        assert [(m.record.id, m.field, m.atomic) for m in back.match(e)] == [
            (m.record.id, m.field, m.atomic) for m in built.match(e)]


def test_an_unwritable_place_only_costs_the_next_pass_a_build(
        store: Store, tmp_path: Path) -> None:
    ingest(store)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache's folder would be")
    stage = IntelStage(clock=lambda: NOW, cache=blocked / index_cache.FILE_NAME)
    assert len(matched(stage, store)) == 5
