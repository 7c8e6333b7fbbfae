"""Correlation rules: every type, group-by, aliases, chains, windows over event time, bounded
memory, and windows that span several ``soc collect`` passes on a real store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.config import load_config
from soc.detection.correlation import CorrelationMatch, Correlator, MemoryHitLog, StoreHitLog
from soc.detection.stage import Detector, load_detector
from soc.ecs import format_ts
from soc.errors import StoreError
from soc.models import RuleHit
from soc.pipeline.collect import collect
from soc.stores.sqlite import SQLiteStore

BASE = """\
title: Failed login
id: 00000000-0000-4000-8000-000000000001
name: failed
status: test
level: low
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_failed_password}
  condition: sel
---
title: Successful login
id: 00000000-0000-4000-8000-000000000002
name: success
status: test
level: informational
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_login}
  condition: sel
"""


def correlation(body: str, cid: str = "00000000-0000-4000-8000-0000000000c1",
                name: str = "corr") -> str:
    return (f"---\ntitle: Correlation {name}\nid: {cid}\nname: {name}\nstatus: test\n"
            f"level: high\ncorrelation:\n{body}")


def detector(tmp_path: Path, *bodies: str) -> Detector:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.yml").write_text(BASE + "".join(bodies), encoding="utf-8")
    return load_detector([rules], use_cache=False)


T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def ev(n: int, seconds: float, action: str = "ssh_failed_password", ip: str = "203.0.113.45",
       user: str = "root", **extra: Any) -> dict[str, Any]:
    event = {"@timestamp": format_ts(T0 + timedelta(seconds=seconds)), "event.id": f"e{n}",
             "event.dataset": "linux.auth", "event.action": action, "source.ip": ip,
             "user.name": user, "host.name": "web01"}
    event.update(extra)
    return event


def run(d: Detector, batches: Sequence[Sequence[dict[str, Any]]], *,
        episodes: bool = False) -> list[CorrelationMatch]:
    corr = Correlator(d.specs, MemoryHitLog(), episodes=episodes)
    out: list[CorrelationMatch] = []
    for batch in batches:
        out += corr.process(d.match(batch))
    return out


EVENT_COUNT = correlation("""\
  type: event_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3}
""")


def test_event_count_fires_on_the_window_that_holds(tmp_path: Path) -> None:
    d = detector(tmp_path, EVENT_COUNT)
    events = [ev(1, 0), ev(2, 60), ev(3, 400), ev(4, 450), ev(5, 500)]
    matches = run(d, [events])
    assert [(m.ts[11:19], m.window_start[11:19], m.value) for m in matches] == [
        ("08:08:20", "08:06:40", 3)]  # e1/e2 are 5m40s before e5: outside the window
    assert matches[0].group == {"source.ip": "203.0.113.45"}
    assert [eid for eid, _ in matches[0].contributing] == ["e3", "e4", "e5"]
    assert matches[0].trigger == "e5"
    assert matches[0].entity == {"host.name": "web01", "user.name": "root",
                                 "source.ip": "203.0.113.45"}


def test_groups_are_counted_apart_and_missing_group_fields_do_not_count(tmp_path: Path) -> None:
    d = detector(tmp_path, EVENT_COUNT)
    events = [ev(1, 0, ip="198.51.100.1"), ev(2, 1, ip="198.51.100.2"),
              ev(3, 2, ip="198.51.100.1"), ev(4, 3, ip=""), ev(5, 4, ip="")]
    assert run(d, [events]) == []
    more = [ev(6, 5, ip="198.51.100.1")]
    assert [m.group for m in run(d, [events, more])] == [{"source.ip": "198.51.100.1"}]


def test_a_window_spans_batches_and_episodes_report_once(tmp_path: Path) -> None:
    d = detector(tmp_path, EVENT_COUNT)
    batches = [[ev(1, 0)], [ev(2, 10)], [ev(3, 20), ev(4, 30)], [ev(5, 40)]]
    assert [m.trigger for m in run(d, batches)] == ["e3", "e4", "e5"]
    assert [m.trigger for m in run(d, batches, episodes=True)] == ["e3"]
    # a later burst, after a quiet time longer than the timespan, is a new episode
    later = [[ev(10 + i, 3600 + i) for i in range(3)]]
    assert [m.trigger for m in run(d, batches + later, episodes=True)] == ["e3", "e12"]


def test_contributing_events_are_named_once_per_sweep(tmp_path: Path) -> None:
    d = detector(tmp_path, EVENT_COUNT)
    matches = run(d, [[ev(i, i) for i in range(1, 6)]])
    assert [[e for e, _ in m.contributing] for m in matches] == [["e1", "e2", "e3"], ["e4"],
                                                               ["e5"]]


@pytest.mark.parametrize(("op", "count", "fires_at"), [
    ("gt", 2, ["e3", "e4"]), ("eq", 2, ["e2"]), ("lte", 1, ["e1"]), ("lt", 2, ["e1"]),
    ("neq", 2, ["e1", "e3", "e4"]),
])
def test_conditions(tmp_path: Path, op: str, count: int, fires_at: list[str]) -> None:
    body = f"""\
  type: event_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 5m
  condition: {{{op}: {count}}}
"""
    d = detector(tmp_path, correlation(body))
    assert [m.trigger for m in run(d, [[ev(i, i) for i in range(1, 5)]])] == fires_at


def test_value_count_counts_distinct_values(tmp_path: Path) -> None:
    body = """\
  type: value_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 3, field: user.name}
"""
    d = detector(tmp_path, correlation(body))
    same_user = [ev(i, i, user="root") for i in range(1, 10)]
    assert run(d, [same_user]) == []
    spray = [ev(20, 20, user="admin"), ev(21, 21, user="root"), ev(22, 22, user="oracle")]
    matches = run(d, [same_user, spray])
    assert [(m.trigger, m.value) for m in matches] == [("e22", 3)]


def test_value_sum_adds_the_field_over_the_window_s_distinct_events(tmp_path: Path) -> None:
    """value_sum: integers (or their text) are added, an event without one does not count, an
    event two referenced rules match is added once, and the sum follows the sliding window."""
    body = """\
  type: value_sum
  rules: [failed, any_failure]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 10, field: attempts}
"""
    any_failure = """---
title: Any failure
id: 00000000-0000-4000-8000-000000000003
name: any_failure
status: test
level: low
logsource: {product: linux, service: sshd}
detection:
  sel: {event.outcome: failure}
  condition: sel
"""
    d = detector(tmp_path, any_failure, correlation(body))
    fail = {"event.outcome": "failure"}
    events = [ev(1, 0, attempts=4, **fail), ev(2, 10, attempts="3", **fail),
              ev(3, 20, attempts="many", **fail), ev(4, 30, **fail),
              ev(5, 40, attempts=2, **fail),  # 9: each event once, though both rules match it
              ev(6, 400, attempts=6, **fail),  # 08:06:40: e1-e5 are out of its window
              ev(7, 410, attempts=4, **fail)]
    assert [(m.trigger, m.value) for m in run(d, [events])] == [("e7", 10)]


def test_temporal_needs_every_rule_in_any_order(tmp_path: Path) -> None:
    body = """\
  type: temporal
  rules: [failed, success]
  group-by: [source.ip]
  timespan: 10m
"""
    d = detector(tmp_path, correlation(body))
    assert [m.trigger for m in run(d, [[ev(1, 0, action="ssh_login"), ev(2, 5)]])] == ["e2"]
    assert run(d, [[ev(1, 0, action="ssh_login"), ev(2, 601)]]) == []  # too far apart


def test_temporal_ordered_needs_the_order(tmp_path: Path) -> None:
    body = """\
  type: temporal_ordered
  rules: [failed, success]
  group-by: [source.ip]
  timespan: 10m
"""
    d = detector(tmp_path, correlation(body))
    assert run(d, [[ev(1, 0, action="ssh_login"), ev(2, 5)]]) == []
    assert [m.trigger for m in run(d, [[ev(1, 0), ev(2, 5, action="ssh_login")]])] == ["e2"]


def test_extended_condition_and_aliases(tmp_path: Path) -> None:
    body = """\
  type: temporal
  rules: [failed, success]
  group-by: [ip]
  aliases:
    ip: {failed: source.ip, success: client.ip}
  timespan: 10m
  condition: failed and not success
"""
    d = detector(tmp_path, correlation(body))
    matches = run(d, [[ev(1, 0)]])
    assert [(m.trigger, m.group) for m in matches] == [("e1", {"ip": "203.0.113.45"})]
    both = [ev(1, 0), ev(2, 5, action="ssh_login", ip="", **{"client.ip": "203.0.113.45"})]
    assert [m.trigger for m in run(d, [both])] == ["e1"]  # e2 closes a window with both


def test_a_correlation_of_a_correlation(tmp_path: Path) -> None:
    success_after = correlation("""\
  type: temporal_ordered
  rules: [corr, success]
  group-by: [source.ip]
  timespan: 15m
""", cid="00000000-0000-4000-8000-0000000000c2", name="after")
    d = detector(tmp_path, EVENT_COUNT, success_after)
    assert [s.id[-2:] for s in d.specs] == ["c1", "c2"]  # referenced first
    assert d.silent == {"00000000-0000-4000-8000-000000000001",
                        "00000000-0000-4000-8000-0000000000c1",
                        "00000000-0000-4000-8000-000000000002"}
    events = [ev(1, 0), ev(2, 1), ev(3, 2), ev(4, 300, action="ssh_login")]
    matches = run(d, [events], episodes=True)
    assert [(m.spec.id[-2:], m.trigger) for m in matches] == [("c1", "e3"), ("c2", "e4")]


def test_unusable_correlations_are_reported(tmp_path: Path) -> None:
    bad_ref = correlation("""\
  type: event_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3}
""").replace("level: high", "level: high\nfoo: 1")
    avg_rule = correlation("""\
  type: value_avg
  rules: [failed]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3, field: bytes}
""", cid="00000000-0000-4000-8000-0000000000c3", name="avg")
    d = detector(tmp_path, bad_ref, avg_rule)
    reasons = {(i.rule_id, i.stage, i.reason) for i in d.issues}
    assert ("00000000-0000-4000-8000-0000000000c3", "correlation",
            "correlation type value_avg is not supported (only event_count, value_count, "
            "value_sum, temporal, temporal_ordered)") in reasons
    assert [s.id[-2:] for s in d.specs] == ["c1"]


def test_memory_stays_bounded_by_the_timespan(tmp_path: Path) -> None:
    d = detector(tmp_path, EVENT_COUNT)
    log = MemoryHitLog()
    corr = Correlator(d.specs, log)
    for hour in range(50):  # one failure a minute from 50 sources for 50 hours
        batch = [ev(hour * 10_000 + i, hour * 3600 + i * 60, ip=f"198.51.100.{i % 50}")
                 for i in range(60)]
        corr.process(d.match(batch))
        assert len(log) <= 6 + 50  # the last 5 minutes (+ one per group at the edge)


# --- across passes, on a real store ----------------------------------------------------------


def failures(start: int, n: int) -> str:
    return "".join(f"Nov 24 08:{m:02d}:00 web01 sshd[{100 + m}]: Failed password for root "
                   f"from 203.0.113.45 port {40000 + m} ssh2\n" for m in range(start, start + n))


def test_brute_force_over_three_collect_passes_is_one_alert(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(BASE + correlation("""\
  type: event_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 5}
"""), encoding="utf-8")
    (tmp_path / "logs").mkdir()
    (tmp_path / "soc.yml").write_text(
        "data_dir: data\ntimezone: UTC\nrules: {paths: [rules]}\n"
        "sources:\n  - {name: auth, type: file, paths: [logs/auth.log], parser: syslog}\n",
        encoding="utf-8")
    config = load_config(tmp_path / "soc.yml")
    log = tmp_path / "logs" / "auth.log"
    alerts_per_pass = []
    for start in (0, 2, 4):  # two failures a pass, three cron passes
        with log.open("a", encoding="utf-8") as fh:
            fh.write(failures(start, 2))
        report = collect(config)
        alerts_per_pass.append(report.sources[0].alerts)
    assert alerts_per_pass == [0, 0, 1]
    with SQLiteStore.open(config) as store:
        mine = [a for a in store.list_alerts() if a.rule_id.endswith("c1")]
        assert len(mine) == 1
        alert = mine[0]
        # syslog lines carry no year: compare from the month on
        assert (alert.count, alert.first_seen[4:], alert.last_seen[4:], alert.kind) == (
            6, "-11-24T08:00:00.000Z", "-11-24T08:05:00.000Z", "event_count")
        assert alert.group == {"source.ip": "203.0.113.45"}
        # a fourth pass with more of the same attack updates it, never adds one
        with log.open("a", encoding="utf-8") as fh:
            fh.write(failures(6, 3))
    collect(config)
    with SQLiteStore.open(config) as store:
        mine = [a for a in store.list_alerts() if a.rule_id.endswith("c1")]
        assert [(a.id, a.count) for a in mine] == [(alert.id, 9)]
        assert len(store.hits(alert.rule_id, since="0", until="9")) <= 9


def test_a_chain_sees_a_long_attack_without_one_hit_per_event(tmp_path: Path) -> None:
    success_after = correlation("""\
  type: temporal_ordered
  rules: [corr, success]
  group-by: [source.ip]
  timespan: 15m
""", cid="00000000-0000-4000-8000-0000000000c2", name="after")
    d = detector(tmp_path, EVENT_COUNT, success_after)
    log = MemoryHitLog()
    corr = Correlator(d.specs, log)
    found: list[CorrelationMatch] = []
    for b in range(20):  # 100 minutes of one failure every 6 seconds, 50 per batch
        found += corr.process(d.match([ev(b * 50 + i, (b * 50 + i) * 6) for i in range(50)]))
    found += corr.process(d.match([ev(9999, 6000, action="ssh_login")]))
    assert [m.trigger for m in found if m.spec.id.endswith("c2")] == ["e9999"]
    inner = [h for h in log.window(d.specs[1].id, {'["203.0.113.45"]'},
                                   "2026-11-24T09:25:00.000Z", "9") if h.rule_id.endswith("c1")]
    assert len(inner) <= 11  # one per tenth of 15 minutes within the window, not 150


# --- memory windows, the store's copy, and their semantics --------------------------------------

VALUE_COUNT = correlation("""\
  type: value_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 3, field: user.name}
""", cid="00000000-0000-4000-8000-0000000000c3", name="spray")
ORDERED = correlation("""\
  type: temporal_ordered
  rules: [failed, success]
  group-by: [source.ip]
  timespan: 3m
""", cid="00000000-0000-4000-8000-0000000000c4", name="ordered")


def summary(matches: Sequence[CorrelationMatch]) -> list[tuple[Any, ...]]:
    return [(m.spec.id[-2:], m.group, m.ts, m.window_start, m.trigger, m.contributing, m.value,
             m.entity) for m in matches]


def stream(n: int = 240) -> list[dict[str, Any]]:
    """Failures and a few successes from three sources, some late, some read twice."""
    events = [ev(i, i * 7 + (i % 5) * 3, action="ssh_login" if i % 17 == 0 else
                 "ssh_failed_password", ip=f"198.51.100.{i % 3}",
                 user=("root", "admin", "oracle", "root")[i % 4]) for i in range(n)]
    for i in range(0, n - 10, 23):  # late arrivals
        events[i], events[i + 9] = events[i + 9], events[i]
    return events + events[100:110]  # a replay


@pytest.mark.parametrize("prune_interval", [0.0, 3600.0])
def test_the_store_log_gives_the_memory_log_s_matches_across_batches_and_processes(
        tmp_path: Path, prune_interval: float) -> None:
    d = detector(tmp_path, EVENT_COUNT, VALUE_COUNT, ORDERED)
    events = stream()
    batches = [events[i:i + 37] for i in range(0, len(events), 37)]
    expected = summary(run(d, batches))
    assert len({m[0] for m in expected}) == 3  # every correlation fired
    found: list[CorrelationMatch] = []
    stale = 0
    for part in (batches[:3], batches[3:]):  # two processes on one store
        with SQLiteStore.open_path(tmp_path / "store.db") as store:
            log = StoreHitLog(store, prune_interval=prune_interval)
            corr = Correlator(d.specs, log)
            for batch in part:
                found += corr.process(d.match(batch))
                stored = {h.id for s in d.specs for h in store.hits(s.id, since="", until="~")}
                kept = {h.id for c in log._by_correlation.values() for g in c.groups.values()
                        for h in g.hits}
                assert kept <= stored  # memory is in the table, which stays bounded
                stale = max(stale, len(stored - kept))
    # a prune every batch keeps no stale hit; one per process leaves some, which the second
    # process reads and forgets without a different match
    assert (stale == 0) == (prune_interval == 0.0)
    assert summary(found) == expected


def test_the_store_log_prunes_the_store_at_most_every_prune_interval(tmp_path: Path) -> None:
    with SQLiteStore.open_path(tmp_path / "store.db") as store:
        log = StoreHitLog(store, prune_interval=3600)

        def step(hid: str, second: int) -> list[str]:
            log.prune("c", f"2026-01-01T00:00:{second - 1:02d}.000Z")
            log.add([rule_hit(hid, f"2026-01-01T00:00:{second:02d}.000Z")])
            log.flush()
            return [h.id for h in store.hits("c", since="", until="~")]

        assert step("a", 1) == ["a"]
        assert step("b", 3) == ["b"]  # the first prune of a process is at once
        assert step("c", 5) == ["b", "c"]  # the next waits for the interval
        assert [h.id for h in log.window("c", ['["g"]'], "", "~")] == ["c"]
        log.prune_interval = 0
        assert step("d", 7) == ["d"]


def test_late_hits_join_the_windows_of_the_later_hits_kept(tmp_path: Path) -> None:
    d = detector(tmp_path, EVENT_COUNT)
    corr = Correlator(d.specs, MemoryHitLog())
    assert corr.process(d.match([ev(3, 20)])) == []
    (m,) = corr.process(d.match([ev(1, 0), ev(2, 10)]))  # e3's window, as in one batch
    assert (m.trigger, m.value, [e for e, _ in m.contributing]) == ("e3", 3, ["e1", "e2", "e3"])
    (m,) = corr.process(d.match([ev(4, 30)]))
    assert (m.trigger, m.value, [e for e, _ in m.contributing]) == ("e4", 4,
                                                                   ["e1", "e2", "e3", "e4"])


def test_a_batch_read_again_gives_its_matches_again(tmp_path: Path) -> None:
    d = detector(tmp_path, EVENT_COUNT, ORDERED)
    corr = Correlator(d.specs, MemoryHitLog())
    first = [ev(1, 0), ev(2, 10), ev(3, 20), ev(4, 30, action="ssh_login")]
    once = summary(corr.process(d.match(first)))
    assert [m[4] for m in once] == ["e3", "e4"]
    assert summary(corr.process(d.match(first))) == once  # the sweep starts again


def test_quiet_correlations_build_only_the_matches_they_feed(tmp_path: Path) -> None:
    success_after = correlation("""\
  type: temporal_ordered
  rules: [corr, success]
  group-by: [source.ip]
  timespan: 15m
""", cid="00000000-0000-4000-8000-0000000000c2", name="after")
    d = detector(tmp_path, EVENT_COUNT, success_after)
    batches = [[ev(b * 50 + i, (b * 50 + i) * 6) for i in range(50)] for b in range(4)]
    batches.append([ev(9999, 1250, action="ssh_login")])
    loud = Correlator(d.specs, MemoryHitLog())
    quiet = Correlator(d.specs, MemoryHitLog(), quiet=d.silent)
    every = [m for b in batches for m in loud.process(d.match(b))]
    fed = [m for b in batches for m in quiet.process(d.match(b))]
    assert summary([m for m in every if m.spec.id.endswith("c2")]) == summary(
        [m for m in fed if m.spec.id.endswith("c2")]) != []
    assert len([m for m in every if m.spec.id.endswith("c1")]) == 198
    assert len([m for m in fed if m.spec.id.endswith("c1")]) == 14  # one per 90-second slot


def rule_hit(hid: str, ts: str) -> RuleHit:
    return RuleHit(id=hid, correlation="c", rule_id="r", group_key='["g"]', event_id=hid, ts=ts)


def test_a_hit_kept_again_under_its_id_memory_and_the_store_keep_the_earliest(
        tmp_path: Path) -> None:
    memory = MemoryHitLog()
    memory.add([rule_hit("a", "2026-01-01T00:00:05.000Z"),
                rule_hit("a", "2026-01-01T00:00:03.000Z")])
    memory.add([rule_hit("a", "2026-01-01T00:00:01.000Z")])
    assert [h.ts[17:19] for h in memory.window("c", ['["g"]'], "", "~")] == ["01"]
    with SQLiteStore.open_path(tmp_path / "store.db") as store:
        log = StoreHitLog(store)
        log.add([rule_hit("a", "2026-01-01T00:00:01.000Z"),
                 rule_hit("a", "2026-01-01T00:00:05.000Z")])
        log.add([rule_hit("a", "2026-01-01T00:00:03.000Z")])
        log.flush()
        assert [h.ts[17:19] for h in log.window("c", ['["g"]'], "", "~")] == ["01"]
        assert [h.ts[17:19] for h in store.hits("c", since="", until="~")] == ["01"]


def test_a_store_that_cannot_be_written_leaves_no_hits_in_memory(tmp_path: Path) -> None:
    SQLiteStore.open_path(tmp_path / "store.db").close()
    with SQLiteStore.open_path(tmp_path / "store.db", readonly=True) as store:
        log = StoreHitLog(store)
        log.add([rule_hit("a", "2026-01-01T00:00:01.000Z")])
        with pytest.raises(StoreError):
            log.flush()
        assert len(log) == 0  # the next batch reads the store again
