"""Groups below a correlation's floor are not swept, with the matches of a full sweep.

A burst rule (50 answers 404 from one client in five minutes) keeps a hit for every 404, and
nearly every client stays far below the count: evaluating those groups' windows was most of the
correlation's cost on access logs. :func:`soc.detection.correlation.least_hits` says how many
hits a group needs before any of its windows can hold; below it the group is not swept. The
matches (closing hit, window start, count, the events named, the entity) must be those of the
full sweep, whatever the condition, the type, the batch size, the window's edges, late hits, a
replay, and a group that ages out of memory and comes back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from soc.detection import correlation
from soc.detection.correlation import Correlator, MemoryHitLog, StoreHitLog, least_hits
from soc.detection.stage import Detector
from soc.stores.sqlite import SQLiteStore
from tests.test_correlation import correlation as rule
from tests.test_correlation import detector, ev, summary

OPS = [("gte", 3), ("gt", 3), ("eq", 3), ("lt", 3), ("lte", 2), ("neq", 3), ("gte", 1)]


def event_count(k: int, op: str, count: int, rules: str = "[failed]") -> str:
    return rule(f"""\
  type: event_count
  rules: {rules}
  group-by: [source.ip]
  timespan: 5m
  condition: {{{op}: {count}}}
""", cid=f"00000000-0000-4000-8000-0000000001{k:02d}", name=f"count{k}")


OTHERS = [rule("""\
  type: value_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3, field: user.name}
""", cid="00000000-0000-4000-8000-0000000002a1", name="users"), rule("""\
  type: temporal_ordered
  rules: [count0, success]
  group-by: [source.ip]
  timespan: 10m
""", cid="00000000-0000-4000-8000-0000000002a2", name="after"), rule("""\
  type: temporal
  rules: [failed, success]
  group-by: [source.ip]
  timespan: 2m
""", cid="00000000-0000-4000-8000-0000000002a3", name="both")]


@pytest.fixture
def every_kind(tmp_path: Path) -> Detector:
    counts = [event_count(k, op, n) for k, (op, n) in enumerate(OPS)]
    counts.append(event_count(len(OPS), "gte", 4, "[failed, success]"))  # an event counts once
    return detector(tmp_path, *counts, *OTHERS)


def traffic() -> list[dict[str, Any]]:
    """Three clients. .1 reaches the counts with hits on the window's edges (300 s apart) and
    two in one second; .2 stays below them; .3 ages out of memory (more than two timespans of
    silence) and comes back with a burst. Some hits arrive late, and a slice is read twice."""
    one = [0, 30, 60, 60, 90, 300, 330, 360, 360, 600, 601, 900, 1200, 1201, 1202]
    two = [5, 400, 800, 1205]
    three = [10, 20, 2000, 2010, 2010, 2020, 2030, 2040]
    events = [ev(i, t, ip="198.51.100.1", user=("root", "admin", "oracle")[i % 3],
                 action="ssh_login" if i in (4, 11) else "ssh_failed_password")
              for i, t in enumerate(one)]
    events += [ev(100 + i, t, ip="198.51.100.2") for i, t in enumerate(two)]
    events += [ev(200 + i, t, ip="198.51.100.3", user=("root", "admin")[i % 2],
                  action="ssh_login" if i == 6 else "ssh_failed_password")
               for i, t in enumerate(three)]
    events.sort(key=lambda e: e["@timestamp"])
    for i in range(3, len(events) - 4, 7):  # late arrivals
        events[i], events[i + 4] = events[i + 4], events[i]
    return events + events[8:13]


def full_sweep(d: Detector, log: MemoryHitLog, monkeypatch: pytest.MonkeyPatch) -> Correlator:
    """A correlator that sweeps every group, as before the floor."""
    with monkeypatch.context() as m:
        m.setattr(correlation, "least_hits", lambda spec: 0)
        return Correlator(d.specs, log, quiet=d.silent)


def matches(corr: Correlator, d: Detector,
            batches: Sequence[Sequence[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    return summary([m for b in batches for m in corr.process(d.match(b))])


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_cold_groups_give_the_matches_of_a_full_sweep(
        every_kind: Detector, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    events = traffic()
    batches = [events[i:i + size] for i in range(0, len(events), size)]
    expected = matches(full_sweep(every_kind, MemoryHitLog(), monkeypatch), every_kind, batches)
    found = matches(Correlator(every_kind.specs, MemoryHitLog(), quiet=every_kind.silent),
                    every_kind, batches)
    assert found == expected
    assert len({m[0] for m in found}) == len(every_kind.specs)  # every one fired


def test_cold_groups_read_from_the_store_by_a_new_process(
        every_kind: Detector, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    events = traffic()
    batches = [events[i:i + 4] for i in range(0, len(events), 4)]
    expected = matches(full_sweep(every_kind, MemoryHitLog(), monkeypatch), every_kind, batches)
    found: list[tuple[Any, ...]] = []
    for part in (batches[:2], batches[2:5], batches[5:]):  # three passes on one store
        with SQLiteStore.open_path(tmp_path / "store.db") as store:
            corr = Correlator(every_kind.specs, StoreHitLog(store), quiet=every_kind.silent)
            found += matches(corr, every_kind, part)
    assert found == expected


def test_a_group_below_the_floor_is_not_swept(tmp_path: Path) -> None:
    d = detector(tmp_path, event_count(0, "gte", 3))
    log = MemoryHitLog()
    corr = Correlator(d.specs, log)
    key = json.dumps(["198.51.100.9"])
    assert corr.process(d.match([ev(1, 0, ip="198.51.100.9"), ev(2, 10, ip="198.51.100.9")])) == []
    assert log.groups(d.specs[0].id)[key].sweep is None  # two hits: no window of three
    (m,) = corr.process(d.match([ev(3, 20, ip="198.51.100.9")]))
    assert (m.trigger, m.value, [e for e, _ in m.contributing]) == ("e3", 3, ["e1", "e2", "e3"])
    assert log.groups(d.specs[0].id)[key].sweep is not None


@pytest.mark.parametrize(("op", "count", "floor"), [
    ("gte", 50, 50), ("gt", 50, 51), ("eq", 4, 4), ("lt", 5, 0), ("lte", 5, 0), ("neq", 2, 0),
])
def test_the_floor_of_each_condition(tmp_path: Path, op: str, count: int, floor: int) -> None:
    (spec,) = detector(tmp_path, event_count(0, op, count)).specs
    assert (spec.floor(), least_hits(spec)) == (floor, floor)


def test_no_floor_for_sums_and_expressions(tmp_path: Path) -> None:
    total = rule("""\
  type: value_sum
  rules: [failed]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 1000, field: source.bytes}
""", cid="00000000-0000-4000-8000-000000000301", name="bytes")
    either = rule("""\
  type: temporal
  rules: [failed, success]
  group-by: [source.ip]
  timespan: 5m
  condition: failed and success
""", cid="00000000-0000-4000-8000-000000000302", name="either")
    specs = detector(tmp_path, total, either).specs
    assert [(s.type, least_hits(s)) for s in specs] == [("value_sum", 0), ("temporal", 0)]


@pytest.mark.parametrize("group", [
    ("203.0.113.7",), ('say "hi"', "back\\slash"), ("tab\there", "\x00\x1f\x7f"),
    ("Việt Nam", "\u2028line"), ("",),
])
def test_group_keys_are_the_json_the_store_keeps(group: tuple[str, ...]) -> None:
    key = correlation._group_key(group)
    assert key == json.dumps(list(group), ensure_ascii=False)
    assert tuple(json.loads(key)) == group


def test_entities_are_the_entity_fields_as_text() -> None:
    event = {"host.name": "web01", "user.name": "", "source.ip": ["198.51.100.1", None, 7],
             "destination.ip": None, "labels.system": 42, "organization.id": ("a", "b")}
    assert correlation._entity(event) == {
        "host.name": "web01", "source.ip": "198.51.100.1,7", "labels.system": "42",
        "organization.id": "a,b"}
    assert correlation._entity({"source.ip": []}) == {}
