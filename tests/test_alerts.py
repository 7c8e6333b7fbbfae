"""Alerts on a real SQLite store: ids, suppression, idempotence, lifecycle with audit, CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soc import alerts as lib
from soc import audit
from soc.alerts import AlertSink, Finding
from soc.cli.main import main
from soc.ecs import format_ts
from soc.errors import InputError, NotFoundError
from soc.models import Alert, AlertQuery, AlertStatus, Severity
from soc.stores.sqlite import SQLiteStore

RULE = "11111111-1111-4111-8111-111111111111"
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def finding(n: int, minute: float, *, ip: str = "203.0.113.45", rule: str = RULE,
            level: Severity | None = Severity.HIGH, system: str = "portal") -> Finding:
    ts = format_ts(T0 + timedelta(minutes=minute))
    entity = {"host.name": "web01", "source.ip": ip, "labels.system": system,
              "organization.id": "vp"}
    return Finding(rule_id=rule, title="Web scanner", level=level,
                   tags=("attack.reconnaissance", "attack.t1595", "scanner"), ts=ts, anchor=ts,
                   group=dict(entity),
                   entity=entity, triggers=((f"e{n}", ts),), event={"event.id": f"e{n}"})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open_path(tmp_path / "store.db") as s:
        yield s


def test_repeats_within_the_window_update_one_alert(store: SQLiteStore) -> None:
    sink = AlertSink(store)
    first = sink.raise_alerts([finding(1, 0), finding(2, 10)])
    assert len(first.new) == 1 and not first.updated
    again = sink.raise_alerts([finding(3, 50), finding(4, 100)])  # 40 min after the last
    assert not again.new and [a.id for a in again.updated] == [first.new[0].id]
    (alert,) = store.list_alerts()
    assert (alert.count, alert.first_seen, alert.last_seen) == (
        4, "2026-11-24T08:00:00.000Z", "2026-11-24T09:40:00.000Z")
    assert alert.event_ids == ("e1", "e2", "e3", "e4")
    assert alert.severity is Severity.HIGH and alert.attack == ("attack.reconnaissance",
                                                                "attack.t1595")
    assert alert.entity == {"host.name": "web01", "source.ip": "203.0.113.45",
                            "labels.system": "portal", "organization.id": "vp"}
    assert (alert.system, alert.unit, alert.status) == ("portal", "vp", AlertStatus.OPEN)


def test_past_the_window_or_another_group_is_another_alert(store: SQLiteStore) -> None:
    sink = AlertSink(store, suppress=timedelta(minutes=30))
    sink.raise_alerts([finding(1, 0), finding(2, 31), finding(3, 40, ip="198.51.100.7")])
    found = sorted((a.first_seen[11:16], a.entity["source.ip"], a.count)
                   for a in store.list_alerts())
    assert found == [("08:00", "203.0.113.45", 1), ("08:31", "203.0.113.45", 1),
                     ("08:40", "198.51.100.7", 1)]


def test_ids_are_deterministic_and_rereads_change_nothing(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "b"):
        with SQLiteStore.open_path(tmp_path / f"{name}.db") as s:
            AlertSink(s).raise_alerts([finding(1, 0), finding(2, 5)])
            ids.append([a.id for a in s.list_alerts()])
    assert ids[0] == ids[1] and len(ids[0]) == 1
    with SQLiteStore.open_path(tmp_path / "a.db") as s:
        again = AlertSink(s).raise_alerts([finding(2, 5), finding(1, 0)])  # after a crash
        assert not again.new
        assert [a.count for a in s.list_alerts()] == [2]


def test_a_closed_alert_stays_closed_and_new_activity_opens_another(
        store: SQLiteStore) -> None:
    sink = AlertSink(store)
    (alert,) = sink.raise_alerts([finding(1, 0), finding(2, 5)]).new
    lib.close(store, alert.id, "scanner of our own vulnerability team", "lan")
    assert not sink.raise_alerts([finding(2, 5)]).new  # the same events again: nothing new
    (reopened,) = sink.raise_alerts([finding(3, 10)]).new
    assert reopened.id != alert.id and reopened.status is AlertStatus.OPEN
    assert store.get_alert(alert.id).status is AlertStatus.CLOSED  # type: ignore[union-attr]


def test_lifecycle_writes_the_audit_trail(store: SQLiteStore) -> None:
    (alert,) = AlertSink(store).raise_alerts([finding(1, 0)]).new
    lib.acknowledge(store, alert.id[:8], "lan")
    lib.assign(store, alert.id, "minh", "lan")
    lib.close(store, alert.id, "false positive: pentest", "minh")
    final = store.get_alert(alert.id)
    assert final is not None
    assert (final.status, final.assignee, final.reason) == (
        AlertStatus.CLOSED, "minh", "false positive: pentest")
    trail = store.audit_trail(alert.id)
    assert [(e.actor, e.action, e.subject, e.details["before"], e.details["after"],
             e.details.get("reason")) for e in trail] == [
        ("lan", "alert.ack", alert.id, "open", "acknowledged", None),
        ("lan", "alert.assign", alert.id, None, "minh", None),
        ("minh", "alert.close", alert.id, "acknowledged", "closed", "false positive: pentest"),
    ]
    # chained, and the last entry names the stored alert's state
    assert audit.verify(store).ok
    assert trail[-1].details["state"] == audit.state_hash(final.to_dict())
    with pytest.raises(InputError):
        lib.close(store, alert.id, "  ", "minh")
    with pytest.raises(NotFoundError):
        lib.acknowledge(store, "ffffffffff", "lan")


def test_list_filters(store: SQLiteStore) -> None:
    sink = AlertSink(store)
    sink.raise_alerts([finding(1, 0), finding(2, 1, ip="198.51.100.7", level=Severity.LOW,
                                                  system="mail"),
                       finding(3, 2, rule="22222222-2222-4222-8222-222222222222",
                               level=None)])
    def ips(**kw: object) -> list[str]:
        return sorted(a.entity["source.ip"] + "/" + a.severity.value
                      for a in store.list_alerts(AlertQuery(**kw)))  # type: ignore[arg-type]
    assert ips() == ["198.51.100.7/low", "203.0.113.45/high", "203.0.113.45/medium"]
    assert ips(min_severity=Severity.MEDIUM) == ["203.0.113.45/high", "203.0.113.45/medium"]
    assert ips(system="mail") == ["198.51.100.7/low"]
    assert ips(rule=RULE, unit="vp") == ["198.51.100.7/low", "203.0.113.45/high"]
    assert ips(since="2026-11-24T08:02:00.000Z") == ["203.0.113.45/medium"]
    assert ips(status=AlertStatus.CLOSED) == []


def test_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_ACTOR", "trung")
    assert lib.current_actor(None) == "trung"
    assert lib.current_actor("lan") == "lan"
    monkeypatch.delenv("SOC_ACTOR")
    assert lib.current_actor(None)


# --- the CLI ---------------------------------------------------------------------------------


def test_alerts_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    with SQLiteStore.open_path(data / "store.db") as s:
        (alert,) = AlertSink(s).raise_alerts([finding(1, 0)]).new
    base = ["--data-dir", str(data)]
    monkeypatch.setenv("SOC_ACTOR", "lan")

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*base, *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = run("alerts", "list", "--nl")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [alert.id]
    code, out, _ = run("alerts", "list")
    assert out.splitlines()[0].split() == ["ID", "LAST_SEEN", "SEVERITY", "STATUS",
                                           "RULE_TITLE", "COUNT", "ENTITY", "SYSTEM",
                                           "ASSIGNEE"]
    assert run("alerts", "list", "--severity", "critical") == (0, "", "No alerts match.\n")
    assert run("alerts", "ack", alert.id[:10]) == (
        0, "", f"Acknowledged {alert.id} (Web scanner).\n")
    assert run("alerts", "assign", alert.id, "minh", "--actor", "trung")[0] == 0
    code, _, err = run("alerts", "close", alert.id)
    assert code == 2 and "Missing option '--reason'" in err
    assert run("alerts", "close", alert.id, "--reason", "pentest")[0] == 0
    code, out, _ = run("alerts", "show", alert.id, "--json")
    shown = json.loads(out)
    assert (shown["status"], shown["assignee"], shown["reason"]) == ("closed", "minh", "pentest")
    assert [(a["actor"], a["action"]) for a in shown["audit"]] == [
        ("lan", "alert.ack"), ("trung", "alert.assign"), ("lan", "alert.close")]
    code, _, err = run("alerts", "show", "nosuchalert")
    assert code == 7 and err.startswith("Error: no alert 'nosuchalert'\nHint: List alerts")
    assert run("alerts", "list", "--status", "closed", "--nl")[1].count("\n") == 1


def test_an_episode_merged_at_once_is_the_alert_merged_finding_by_finding() -> None:
    findings = [finding(n, n * 3, ip="203.0.113.45" if n % 4 else "198.51.100.7")
                for n in range(1, 80)]
    findings[5] = replace(findings[5], event=None, anchor=format_ts(T0 - timedelta(minutes=9)))
    start = lib.new_alert(findings[0])
    one_by_one = start
    for f in findings[1:]:
        one_by_one = lib.merge(one_by_one, f)
    at_once = lib.merge_all(start, findings[1:])
    assert replace(at_once, updated="") == replace(one_by_one, updated="")
    assert (at_once.first_seen, len(at_once.event_ids), at_once.entity["host.name"]) == (
        "2026-11-24T07:51:00.000Z", lib.MAX_IDS, "web01")
    assert "source.ip" not in at_once.entity


def test_many_findings_in_one_batch_are_one_alert_per_episode(store: SQLiteStore) -> None:
    sink = AlertSink(store, suppress=timedelta(minutes=30))
    burst = [finding(n, n / 10) for n in range(600)]  # one hour of a scanner, then quiet
    later = [finding(1000 + n, 200 + n) for n in range(3)]
    result = sink.raise_alerts([*reversed(burst), *later])
    assert sorted((a.first_seen[11:16], a.last_seen[11:16], a.count) for a in result.new) == [
        ("08:00", "08:59", 600), ("11:20", "11:22", 3)]
    again = sink.raise_alerts(burst[300:])  # read again: nothing new, nothing counted twice
    assert not again.new and [a.count for a in again.updated] == [600]


class AckedMeanwhile(SQLiteStore):
    """A real store whose every find_alert is followed by an analyst's ack from another handle,
    before detection writes: the race of a collection pass with `soc alerts ack`."""

    analyst: SQLiteStore

    def find_alert(self, dedup: str, ts: str, window: timedelta) -> Alert | None:
        found = super().find_alert(dedup, ts, window)
        if found is not None and found.status is AlertStatus.OPEN:
            lib.acknowledge(self.analyst, found.id, "lan")
        return found


def test_detection_racing_an_ack_keeps_it_and_the_trail_verifies(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with AckedMeanwhile.open_path(path) as collector, SQLiteStore.open_path(path) as analyst:
        collector.analyst = analyst
        (raised,) = AlertSink(collector).raise_alerts([finding(1, 0)]).new
        (widened,) = AlertSink(collector).raise_alerts([finding(2, 10)]).updated
        assert widened.id == raised.id
        assert (widened.status, widened.count, widened.event_ids) == (
            AlertStatus.ACKNOWLEDGED, 2, ("e1", "e2"))
        assert analyst.get_alert(raised.id) == widened
        result = audit.verify_store(analyst)
        assert result.problems == () and result.entries == 1
