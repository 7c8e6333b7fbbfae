"""Correlation windows and the events they link do not depend on where the input is cut.

The same events give the same alerts (ids, seen range, count, linked events) in one pass, in
two passes cut at every boundary, and in batches of one: hits of the last second split across
passes, hits on a window's edge, every correlation type, chains, and hits that arrive late (up
to a timespan older than the newest seen). Each pass is a new detection stage (as a new
``soc collect`` process has) over one real SQLite store; the end-to-end test runs
``collect`` itself over a growing log file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from soc.config import load_config
from soc.detection.stage import DetectionStage, Detector, load_detector, project_rules_dir
from soc.ecs import format_ts
from soc.pipeline.collect import collect
from soc.stores.sqlite import SQLiteStore
from tests.test_correlation import BASE as RULES

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
BRUTE_FORCE = "bfc3592f-ef2a-437b-a626-46794a8b9a52"  # rules/linux: >= 10 failures in 5 minutes
SUCCESS_AFTER = "0a623f17-f72b-462e-8d4c-d45f282ce578"  # rules/linux: brute force, then a login

Alerts = list[tuple[str, str, str, str, int, frozenset[str]]]


def ev(n: int, seconds: float, ip: str = "203.0.113.45", action: str = "ssh_failed_password",
       user: str = "root") -> dict[str, Any]:
    return {"@timestamp": format_ts(T0 + timedelta(seconds=seconds)), "event.id": f"e{n:03d}",
            "event.dataset": "linux.auth", "event.action": action, "source.ip": ip,
            "user.name": user, "host.name": "web01"}


@pytest.fixture(scope="module")
def project() -> Detector:
    rules = project_rules_dir()
    assert rules is not None
    return load_detector([rules], use_cache=False)


def alerts_of(store: SQLiteStore, events: Sequence[dict[str, Any]]) -> Alerts:
    """(rule, id, first seen, last seen, count, linked event ids) of every alert."""
    ids = [str(e["event.id"]) for e in events]
    return sorted((a.rule_id, a.id, a.first_seen, a.last_seen, a.count,
                   frozenset(store.linked_events(a.id, ids))) for a in store.list_alerts())


def detect(detector: Detector, events: Sequence[dict[str, Any]], db: Path,
           cuts: Sequence[int] = (), batch: int = 5000) -> Alerts:
    """The alerts of ``events`` read in passes cut at ``cuts``, each pass in ``batch``es."""
    db.unlink(missing_ok=True)
    with SQLiteStore.open_path(db) as store:
        bounds = [0, *cuts, len(events)]
        for start, stop in pairwise(bounds):
            stage = DetectionStage(detector)  # a new pass: nothing in memory
            for i in range(start, stop, batch):
                stage.process([dict(e) for e in events[i:min(i + batch, stop)]], store)
        return alerts_of(store, events)


def same_at_every_cut(detector: Detector, events: Sequence[dict[str, Any]], db: Path, *,
                      ids: bool = True) -> Alerts:
    """The one-pass alerts, checked equal to two passes cut anywhere and to batches of one
    (``ids=False``: but for the alert ids)."""
    def seen(alerts: Alerts) -> Alerts:
        return alerts if ids else sorted((r, "", f, la, c, e) for r, _, f, la, c, e in alerts)

    whole = seen(detect(detector, events, db))
    for cut in range(1, len(events)):
        assert seen(detect(detector, events, db, [cut])) == whole, f"cut after event {cut}"
    assert seen(detect(detector, events, db, batch=1)) == whole, "batches of one event"
    return whole


def summary(alerts: Alerts, ids: Sequence[str] = ()) -> list[tuple[str, str, str, int]]:
    return [(rule[-4:], first[11:19], last[11:19], count)
            for rule, _, first, last, count, _ in alerts if not ids or rule in ids]


# --- the last second and the window's edges -----------------------------------------------------


@pytest.mark.parametrize("tie", [("e008", "e009"), ("e009", "e008")])
def test_hits_of_the_last_second_split_across_passes_are_all_in_the_window(
        project: Detector, tmp_path: Path, tie: tuple[str, str]) -> None:
    """Eight failures 30 s apart, then two in the last second of the 5-minute window: whichever
    of the two a pass brings first (hits of one second are ordered by id), the window of that
    second holds both (it missed the one that sorted after it: no alert in two passes)."""
    events = [ev(n, n * 30) for n in range(8)]
    last_second = {"e008": ev(8, 299), "e009": ev(9, 299)}
    events += [last_second[i] for i in tie]
    alerts = same_at_every_cut(project, events, tmp_path / "store.db")
    assert summary(alerts, [BRUTE_FORCE]) == [("9a52", "08:00:00", "08:04:59", 10)]
    assert alerts[0][5] == {f"e{n:03d}" for n in range(10)}


def test_a_hit_on_the_window_edge_is_in_it(project: Detector, tmp_path: Path) -> None:
    """``[t - 5m, t]`` holds its start: nine failures at 08:00:00 and one at 08:05:00 hold; the
    one at 08:05:01 starts a window without them (linked as part of no holding window)."""
    events = [ev(n, 0) for n in range(9)] + [ev(9, 300), ev(10, 301)]
    alerts = same_at_every_cut(project, events, tmp_path / "store.db")
    assert summary(alerts, [BRUTE_FORCE]) == [("9a52", "08:00:00", "08:05:00", 10)]
    assert "e010" not in alerts[0][5]


def test_a_chained_correlation_is_fed_the_same_whatever_the_passes(
        project: Detector, tmp_path: Path) -> None:
    """Success after brute force: the brute-force windows feed the chain one hit per 90-second
    slot on the clock (a new pass used to feed at once, moving the chain's window start and
    so its alert id)."""
    events = [ev(n, n * 7) for n in range(60)]  # a 7-minute brute force
    events += [ev(60, 600, action="ssh_login"), ev(61, 640, action="ssh_login")]
    alerts = same_at_every_cut(project, events, tmp_path / "store.db")
    assert summary(alerts) == [("e578", "08:01:03", "08:10:40", 7),  # fed hits + logins
                               ("9a52", "08:00:00", "08:06:53", 60)]


# --- every correlation type ---------------------------------------------------------------------

BASE = RULES + """\
---
title: Correlation
id: 00000000-0000-4000-8000-0000000000c1
status: test
level: high
correlation:
"""

TYPES = {
    "value_count": """\
  type: value_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3, field: user.name}
""",
    "temporal": """\
  type: temporal
  rules: [failed, success]
  group-by: [source.ip]
  timespan: 5m
""",
    "temporal_ordered": """\
  type: temporal_ordered
  rules: [failed, success]
  group-by: [source.ip]
  timespan: 5m
""",
}


def own_detector(tmp_path: Path, body: str) -> Detector:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(BASE + body, encoding="utf-8")
    return load_detector([rules], use_cache=False)


SAMPLES = {  # the last second of a window, and its edge
    "value_count": [ev(0, 0, user="root"), ev(1, 120, user="root"), ev(2, 299, user="admin"),
                    ev(3, 299, user="oracle"), ev(4, 300, user="guest")],
    "temporal": [ev(0, 0, ip="198.51.100.7"), ev(1, 299, action="ssh_login"),
                 ev(2, 299), ev(3, 300, action="ssh_login", ip="198.51.100.7")],
    "temporal_ordered": [ev(0, 0), ev(1, 299, action="ssh_login"),
                         ev(2, 299, ip="198.51.100.7"),
                         ev(3, 300, action="ssh_login", ip="198.51.100.7")],
}


@pytest.mark.parametrize(("kind", "expected"), [
    ("value_count", [("00c1", "08:00:00", "08:05:00", 5)]),
    ("temporal", [("00c1", "08:00:00", "08:05:00", 2), ("00c1", "08:04:59", "08:04:59", 2)]),
    ("temporal_ordered", [("00c1", "08:00:00", "08:04:59", 2),
                          ("00c1", "08:04:59", "08:05:00", 2)]),
])
@pytest.mark.parametrize("swap", [False, True])
def test_every_type_sees_the_same_windows(tmp_path: Path, kind: str, swap: bool,
                                          expected: list[tuple[str, str, str, int]]) -> None:
    """value_count: the third user in the last second (both arrival orders) and a fourth on
    the edge; temporal: a failure and a login in one second, and a login on the edge of a
    window a failure opened; temporal_ordered: a login after a failure, on its window's edge."""
    events = list(SAMPLES[kind])
    if swap:
        events[1], events[2] = events[2], events[1]
    detector = own_detector(tmp_path, TYPES[kind])
    alerts = same_at_every_cut(detector, events, tmp_path / "store.db")
    assert sorted(summary(alerts)) == expected


# --- late hits ----------------------------------------------------------------------------------


def test_hits_arriving_late_across_passes_are_linked_as_in_one_pass(
        project: Detector, tmp_path: Path) -> None:
    """Two hosts' logs read one after the other: the second source's failures are up to four
    minutes older than the newest of the first. Every cut links the same events to the same
    alerts; an alert keeps the id it was raised with, from the first window that held then."""
    first = [ev(n, 60 + n * 20) for n in range(12)]  # 08:01:00 to 08:04:40
    second = [ev(20 + n, 10 + n * 25, ip="203.0.113.45") for n in range(10)]  # from 08:00:10
    others = [ev(40 + n, n * 29, ip="198.51.100.9") for n in range(11)]
    events = first + others[:6] + second + others[6:]
    alerts = same_at_every_cut(project, events, tmp_path / "store.db", ids=False)
    assert summary(alerts, [BRUTE_FORCE]) == [("9a52", "08:00:00", "08:04:50", 11),
                                              ("9a52", "08:00:10", "08:04:40", 22)]


def test_a_late_hit_completes_the_windows_that_end_after_it(
        project: Detector, tmp_path: Path) -> None:
    """A late tenth failure is in the windows of the later hits a pass before kept (only its
    own window was evaluated: no alert), and finds hits older than a timespan before the
    newest (they were pruned: no alert)."""
    later = [ev(n, n * 30, ip="198.51.100.1") for n in range(9)]  # 08:00:00 to 08:04:00
    early = [ev(10 + n, n * 5, ip="198.51.100.2") for n in range(9)]  # 08:00:00 to 08:00:40
    newest = [ev(20, 330, ip="198.51.100.3")]  # 08:05:30: the pass prunes before 08:00:30
    late = [ev(30, 100, ip="198.51.100.1"), ev(31, 45, ip="198.51.100.2")]
    alerts = same_at_every_cut(project, later + early + newest + late, tmp_path / "store.db")
    assert summary(alerts, [BRUTE_FORCE]) == [("9a52", "08:00:00", "08:04:00", 10),
                                              ("9a52", "08:00:00", "08:00:45", 10)]


# --- the real pipeline --------------------------------------------------------------------------


def syslog(seconds: int, ip: str, n: int, what: str = "Failed password for root") -> str:
    stamp = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp} web01 sshd[{100 + n}]: {what} from {ip} port {40000 + n} ssh2\n"


def collected(tmp_path: Path, lines: Sequence[str], cuts: Sequence[int]) -> set[tuple[Any, ...]]:
    """``soc collect`` after each part of ``lines`` is appended to the log: the alerts, their
    linked events named by their offset in the file."""
    work = tmp_path / f"cut{cuts[0] if cuts else 0}"
    (work / "logs").mkdir(parents=True)
    (work / "soc.yml").write_text(
        "data_dir: data\ntimezone: UTC\n"
        "sources:\n  - {name: auth, type: file, paths: [logs/auth.log], parser: syslog}\n",
        encoding="utf-8")
    config = load_config(work / "soc.yml")
    bounds = [0, *cuts, len(lines)]
    for start, stop in pairwise(bounds):
        with (work / "logs" / "auth.log").open("a", encoding="utf-8") as fh:
            fh.write("".join(lines[start:stop]))
        collect(config)
    db = sqlite3.connect(work / "data" / "store.db")
    found: set[tuple[Any, ...]] = set()
    with SQLiteStore.open(config) as store:
        for alert in store.list_alerts():
            links = db.execute("SELECT event_id, ts FROM alert_events WHERE alert_id = ?",
                               (alert.id,)).fetchall()
            linked = set()  # a chain also links the hits its inner correlation fed it
            for eid, ts in links:
                event = store.get_event(eid, ts=ts)
                linked.add(event["log.offset"] if event is not None else eid)
            found.add((alert.rule_id, alert.id, alert.first_seen, alert.last_seen,
                       alert.count, frozenset(linked)))
    db.close()
    return found


def test_collect_gives_the_same_alerts_at_every_cut_of_the_log(tmp_path: Path) -> None:
    """The real pipeline over a growing file: four sources each ending a brute force with two
    failures in the last second of its window, one whose failures come in late, a login after
    one of them. Every cut between two lines gives the alerts of one pass."""
    lines: list[str] = []
    for k, ip in enumerate(["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]):
        base = k * 7
        lines += [syslog(base + s * 30, ip, len(lines) + s) for s in range(8)]
        lines += [syslog(base + 299, ip, len(lines)), syslog(base + 299, ip, len(lines) + 1)]
    lines += [syslog(400, "203.0.113.1", 90, "Accepted password for root")]
    lines += [syslog(100 + s * 20, "203.0.113.9", 100 + s) for s in range(10)]  # late
    whole = collected(tmp_path, lines, [])
    assert sorted((r[-4:], f[11:19], last[11:19], c) for r, _, f, last, c, _ in whole) == [
        ("9a52", "08:00:00", "08:04:59", 10), ("9a52", "08:00:07", "08:05:06", 10),
        ("9a52", "08:00:14", "08:05:13", 10), ("9a52", "08:00:21", "08:05:20", 10),
        ("9a52", "08:01:40", "08:04:40", 10),
        ("e578", "08:04:59", "08:06:40", 2)]  # the window fed to the chain, and the login
    for cut in range(1, len(lines)):
        assert collected(tmp_path, lines, [cut]) == whole, f"cut after line {cut}"
