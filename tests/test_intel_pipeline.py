"""Threat-intel matching as events stream and in stored history, on both real stores (the
embedded one; Elasticsearch when ``$SOC_TEST_ES_URL`` points at a node): the stage annotates
matching events and raises ``intel-match`` alerts per indicator and entity; expired indicators
stop matching; two feeds' words on one indicator are one record; a retro-hunt finds an event of
ten days ago exactly once across two runs, marked retrospective with the event's time."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.ecs import Event, event_id, format_ts
from soc.intel import library
from soc.intel.findings import RETRO_KIND, RULE_ID
from soc.intel.model import Indicator, indicator_id, normalize
from soc.intel.retro import MAX_CLAUSES, queries, query_fields, retro_hunt
from soc.intel.stage import IntelStage
from soc.models import AlertQuery, Severity
from soc.stores.base import Store
from tests.test_intel_store import _elasticsearch, _embedded
from tests.test_store_contract import _remove_es_test_indices

__all__ = ["_remove_es_test_indices"]  # the contract suite's clean-up of the test cluster

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SHA = hashlib.sha256(b"dropper").hexdigest()


FACTORIES: dict[str, Callable[[Path], Store]] = {
    "embedded": _embedded, "elasticsearch": _elasticsearch}  # test_intel_store's, as written


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with FACTORIES[request.param](tmp_path) as opened:
        yield opened


def said(kind: str, value: str, source: str = "ncsc", **context: Any) -> Indicator:
    return Indicator(kind, normalize(kind, value), source, **context)


def event(n: int, when: datetime, **fields: Any) -> Event:
    return {"@timestamp": format_ts(when), "event.id": event_id("intel-test", n),
            "event.dataset": "test.intel", "event.module": "test",
            "event.ingested": format_ts(when), "host.name": "portal-web01",
            "labels.system": "cong-ttdt", **fields}


def stage(at: datetime = NOW) -> IntelStage:
    return IntelStage(clock=lambda: at)


def intel_alerts(store: Store) -> list[Any]:
    return store.list_alerts(AlertQuery(rule=RULE_ID, limit=None))


# --- matching as events stream -------------------------------------------------------------------


def test_matching_events_are_annotated_and_alerted_per_indicator_and_entity(
        store: Store) -> None:
    library.ingest(store, [
        said("ipv4", "203.0.113.0/24", confidence=90, tlp="amber", description="C2 range"),
        said("domain", "evil.example", confidence=60),
        said("sha256", SHA, confidence=95)], format_ts(NOW - timedelta(hours=1)))
    t = NOW - timedelta(minutes=5)
    events = [
        event(1, t, **{"source.ip": "203.0.113.45", "event.outcome": "success"}),
        event(2, t + timedelta(seconds=1), **{"source.ip": "203.0.113.45"}),  # same entity
        event(3, t, **{"dns.question.name": "cdn.login.EVIL.example"}),
        event(4, t, **{"file.hash.sha256": SHA.upper(), "event.dataset": "suricata.fileinfo"}),
        event(5, t, **{"source.ip": "198.51.100.7", "dns.question.name": "notevil.example"}),
    ]
    raised = stage().process(events, store)
    assert raised == 3
    assert events[0]["threat.indicator.matched"] is True
    assert events[0]["threat.indicator.provider"] == ["ncsc"]
    assert events[0]["threat.enrichments"][0]["matched"]["field"] == "source.ip"
    assert "threat.indicator.matched" not in events[4]
    store.write_events(events)
    by_value = {a.group["threat.indicator.value"]: a for a in intel_alerts(store)}
    assert set(by_value) == {"203.0.113.0/24", "evil.example", SHA}
    assert by_value["203.0.113.0/24"].count == 2  # one alert for the two events of one entity
    assert by_value[SHA].severity is Severity.CRITICAL
    assert by_value["evil.example"].severity is Severity.MEDIUM
    assert by_value["203.0.113.0/24"].kind == "intel"
    shown = by_value["203.0.113.0/24"].event or {}
    assert shown["threat.indicator.matched.field"] == "source.ip"
    assert shown["threat.indicator.description"] == "C2 range"
    # the stored events carry the threat fields: a rule or a hunt can select them
    assert store.count("threat.indicator.matched:true") == 4


def test_expired_indicators_stop_matching_but_stay(store: Store) -> None:
    library.ingest(store, [
        said("ipv4", "198.51.100.9", valid_until=format_ts(NOW - timedelta(days=1))),
        said("ipv4", "198.51.100.10")], format_ts(NOW - timedelta(days=2)))
    rid = indicator_id("ipv4", "198.51.100.10")
    assert library.expire(store, [rid], format_ts(NOW - timedelta(minutes=1))) == 1
    events = [event(1, NOW, **{"source.ip": "198.51.100.9"}),
              event(2, NOW, **{"destination.ip": "198.51.100.10"})]
    assert stage().process(events, store) == 0
    assert not any("threat.indicator.matched" in e for e in events)
    assert store.count_indicators() == 2  # kept for history and sightings
    assert store.count_indicators(live_at=format_ts(NOW)) == 0


def test_the_same_indicator_from_two_feeds_is_one_record_with_both(store: Store) -> None:
    first = library.ingest(store, [said("domain", "phish.example", "ncsc", confidence=40,
                                        tlp="green")], format_ts(NOW - timedelta(hours=2)))
    second = library.ingest(store, [said("domain", "PHISH.example.", "misp", confidence=85,
                                         tlp="amber")], format_ts(NOW - timedelta(hours=1)))
    again = library.ingest(store, [said("domain", "phish.example", "misp", confidence=85,
                                        tlp="amber")], format_ts(NOW))
    assert (first.new, second.new, second.updated, again.unchanged) == (1, 0, 1, 1)
    rid = indicator_id("domain", "phish.example")
    record = store.get_indicators([rid])[rid]
    assert sorted(record.sources) == ["misp", "ncsc"]
    assert (record.confidence, record.tlp) == (85, "amber")
    events = [event(1, NOW, **{"url.domain": "phish.example"})]
    assert stage().process(events, store) == 1
    assert events[0]["threat.indicator.provider"] == ["misp", "ncsc"]
    removed, kept = library.remove_source(store, "misp", format_ts(NOW))
    assert (removed, kept) == (0, 1)
    assert sorted(store.get_indicators([rid])[rid].sources) == ["ncsc"]


def test_the_stage_sees_indicators_added_while_it_runs(store: Store) -> None:
    running = stage()
    assert running.process([event(1, NOW, **{"source.ip": "198.51.100.20"})], store) == 0
    library.ingest(store, [said("ipv4", "198.51.100.20")], format_ts(NOW))
    running._checked = 0.0  # the next batch looks again (every CHECK_EVERY seconds)
    assert running.process([event(2, NOW, **{"source.ip": "198.51.100.20"})], store) == 1


# --- retro-hunt ----------------------------------------------------------------------------------


def test_retro_hunt_finds_an_event_of_ten_days_ago_exactly_once(store: Store) -> None:
    old = NOW - timedelta(days=10)
    store.write_events([
        event(1, old, **{"source.ip": "203.0.113.77", "user.name": "quantri"}),
        event(2, old + timedelta(hours=1), **{"source.ip": "203.0.113.77",
                                              "user.name": "quantri"}),
        event(3, old, **{"dns.question.name": "a.b.lure.example"}),
        event(4, old, **{"winlog.event_data.Hashes": f"MD5=00,SHA256={SHA.upper()},IMPHASH=1"}),
        event(5, NOW - timedelta(days=40), **{"source.ip": "203.0.113.77"}),  # beyond lookback
        event(6, old, **{"source.ip": "203.0.113.78"}),
    ])
    report = library.ingest(store, [said("ipv4", "203.0.113.77"), said("domain", "lure.example"),
                                    said("sha256", SHA)], format_ts(NOW))
    records = list(store.get_indicators(report.changed).values())
    first = retro_hunt(store, records, now=NOW, lookback=timedelta(days=30))
    assert (first.events, first.alerts, first.errors) == (4, 3, [])
    second = retro_hunt(store, records, now=NOW, lookback=timedelta(days=30))
    assert (second.events, second.alerts) == (4, 0)
    alerts = intel_alerts(store)
    assert len(alerts) == 3
    assert {a.kind for a in alerts} == {RETRO_KIND}
    ip = next(a for a in alerts if a.group["threat.indicator.value"] == "203.0.113.77")
    assert ip.first_seen == format_ts(old)  # the event's time, not the hunt's
    assert ip.count == 2
    assert "found in stored history" in ip.rule_title


def test_retro_hunt_queries_batch_the_values(store: Store) -> None:
    many = [said("ipv4", f"198.18.{n // 256}.{n % 256}") for n in range(450)]
    found = queries(library.IndicatorRecord.first(i, format_ts(NOW)) for i in many)
    per_query = MAX_CLAUSES // len(query_fields("ip"))
    assert len(found) == -(-450 // per_query) > 1
    assert all(q.count(" OR ") + 1 <= MAX_CLAUSES for q in found)
    assert all("source.ip:(" in q and "url.domain:(" in q for q in found)
    store.write_events([event(1, NOW - timedelta(days=1), **{"destination.ip": "198.18.1.100"})])
    library.ingest(store, many, format_ts(NOW))
    records = list(store.list_indicators())
    report = retro_hunt(store, records, now=NOW, lookback=timedelta(days=30))
    assert (report.queries, report.events, report.alerts) == (len(found), 1, 1)


def test_a_feed_saying_the_same_again_is_not_hunted_again(store: Store) -> None:
    lifetime = timedelta(days=30)

    def pulled(at: datetime) -> library.IngestReport:
        word = said("ipv4", "198.51.100.30", valid_until=format_ts(at + lifetime))
        return library.ingest(store, [word], format_ts(at))

    assert pulled(NOW).changed != []
    hourly = pulled(NOW + timedelta(hours=1))
    assert (hourly.unchanged, hourly.refreshed, hourly.changed) == (1, 0, [])
    daily = pulled(NOW + timedelta(days=1))
    assert (daily.refreshed, daily.updated, daily.changed) == (1, 0, [])
    rid = indicator_id("ipv4", "198.51.100.30")
    record = store.get_indicators([rid])[rid]
    assert record.valid_until == format_ts(NOW + timedelta(days=1) + lifetime)
    assert record.updated == format_ts(NOW)  # nothing a retro-hunt or the stage must see
    # expired since, then listed again: live again, so hunted again
    back = pulled(NOW + timedelta(days=40))
    assert back.changed == [rid]
