"""The notification outbox on both real stores (the embedded one; Elasticsearch when
``$SOC_TEST_ES_URL`` points at a node, as in the contract suite) and the dispatcher with a clock
passed in: changes written with the alert or incident change that causes them, routing, quiet
hours, throttles, digests, escalations, deadline reminders, a channel down then up."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from soc import audit
from soc.config import Config, StoreConfig, load_config
from soc.errors import ConfigError, StoreError
from soc.models import Alert, AlertStatus, Severity
from soc.notify import config as notify_config
from soc.notify.dispatch import run
from soc.notify.model import DeliveryError, Message
from soc.notify.routing import matches
from soc.outbox import Change, changes_for_alert
from soc.stores.base import Store
from soc.stores.sqlite import SQLiteStore
from tests.test_store_contract import _ES_RUN, _es_options, _remove_es_test_indices

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 08:00 UTC


class FakeChannel:
    """A channel that records what it was given; ``down``: refuses for now; ``refuse``:
    refuses for good."""

    type = "fake"

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Message] = []
        self.down = False
        self.refuse = False

    def send(self, message: Message) -> str:
        if self.refuse:
            raise DeliveryError("HTTP 403 forbidden", retryable=False)
        if self.down:
            raise DeliveryError("connection refused")
        self.sent.append(message)
        return f"ok {len(self.sent)}"


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def alert(n: int, *, severity: Severity = Severity.HIGH, rule: str = "win_lsass_dump",
          tags: tuple[str, ...] = ("attack.t1003",), when: datetime = T0) -> Alert:
    return Alert(id=f"{n:032x}", rule_id=rule, rule_title=f"rule {n}", severity=severity,
                 first_seen=ts(when), last_seen=ts(when), tags=tags, created=ts(when),
                 updated=ts(when), entity={"labels.system": "portal", "organization.id": "vp"},
                 event={"labels.security_level": 3, "user_agent.original": "<script>x"})


def links(n: int, count: int, when: datetime = T0) -> dict[str, list[tuple[str, str]]]:
    return {f"{n:032x}": [(f"e{n}-{i}", ts(when)) for i in range(count)]}


def config_with(tmp_path: Path, notify: dict[str, Any], tz: str = "UTC") -> Config:
    return Config(path=None, data_dir=tmp_path, timezone=tz,
                  raw=MappingProxyType({"notify": notify}))


SINK = {"type": "file", "path": "sent.jsonl"}
"""A real channel's spec, so that the configuration is checked as soc.yml's would be; the tests
pass recording channels by name to the dispatcher in its place."""

ONCALL = {"channels": {"oncall": SINK}, "routes": [{"channels": ["oncall"]}]}

__all__ = ["_remove_es_test_indices"]  # the contract suite's clean-up of the test cluster


def _embedded(tmp_path: Path) -> Store:
    return SQLiteStore.open_path(tmp_path / "store.db")


def _elasticsearch(tmp_path: Path, notify: Mapping[str, Any] | None = ONCALL) -> Store:
    """The cluster store under the contract suite's per-test prefix (the same on reopen), with
    soc.yml's ``notify`` (routes: alert and incident writes queue changes)."""
    url = os.environ.get("SOC_TEST_ES_URL")
    if not url:
        pytest.skip("SOC_TEST_ES_URL is not set: Elasticsearch outbox tests skipped")
    from soc.stores.es.store import ElasticsearchStore

    test = hashlib.blake2b(str(tmp_path).encode(), digest_size=4).hexdigest()
    options = {**_es_options(url), "index_prefix": f"{_ES_RUN}{test}-", "refresh": "wait_for",
               "replicas": 0}
    raw = MappingProxyType({"notify": dict(notify)} if notify is not None else {})
    return ElasticsearchStore.open(Config(path=None, data_dir=tmp_path / "data", raw=raw,
                                          store=StoreConfig("elasticsearch", options)))


FACTORIES: dict[str, Callable[[Path], Store]] = {"embedded": _embedded,
                                                 "elasticsearch": _elasticsearch}


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with FACTORIES[request.param](tmp_path) as opened:
        yield opened


def dispatch(store: Store, config: Config, now: datetime,
             **channels: FakeChannel) -> Any:
    return run(store, config, now=now, channels=channels)


# --- the outbox in the store's transactions ------------------------------------------------------


def test_a_new_alert_and_its_growth_queue_changes(store: Store) -> None:
    store.upsert_alerts([alert(1)], links(1, 3))
    store.upsert_alerts([alert(1)], links(1, 12))  # crosses 10
    store.upsert_alerts([alert(1)], links(1, 15))  # crosses nothing
    store.upsert_alerts([alert(1)], links(1, 150))  # crosses 100 (only the highest is told)
    assert [c.key for c in store.outbox_changes()] == [
        f"alert.new:{1:032x}", f"alert.grown:{1:032x}:10", f"alert.grown:{1:032x}:100"]


def test_an_upsert_that_fails_writes_no_change(tmp_path: Path) -> None:
    store = SQLiteStore.open_path(tmp_path / "store.db")  # one transaction: embedded only
    store.db.execute(  # the second alert's write fails, after the first one's change
        f"CREATE TEMP TRIGGER fail BEFORE INSERT ON alerts WHEN NEW.id = '{2:032x}' "
        "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    with pytest.raises(StoreError, match="disk trouble"):
        store.upsert_alerts([alert(1), alert(2)], links(1, 1))
    assert store.outbox_changes() == []
    assert store.get_alert(f"{1:032x}") is None


def test_ack_and_close_are_told_assign_is_not(store: Store) -> None:
    (a,) = store.upsert_alerts([alert(1)], links(1, 1))
    for action, status in (("alert.assign", a.status), ("alert.ack", AlertStatus.ACKNOWLEDGED),
                           ("alert.close", AlertStatus.CLOSED)):
        a = replace(store.get_alert(a.id) or a, status=status)
        entry = audit.new_entry(actor="an.nv", action=action, subject=a.id)
        store.update_alert_audited(a, entry)
    kinds = [c.kind for c in store.outbox_changes()]
    assert kinds == ["alert.new", "alert.ack", "alert.closed"]
    assert store.outbox_changes(kinds=["alert.ack"])[0].doc["actor"] == "an.nv"


def test_incident_opened_and_closed_are_told(store: Store) -> None:
    doc = {"id": "SC-2026-0001", "title": "brute force", "severity": "high", "status": "open",
           "systems": [{"id": "portal", "unit": "vp", "security_level": 3}],
           "timeline": [{"text": "not in the change"}]}
    for action in ("incident.open", "incident.note", "incident.close"):
        entry = audit.new_entry(actor="an.nv", action=action, subject="SC-2026-0001")
        store.put_incident_audited("SC-2026-0001", ts(T0), "open", doc, entry)
    changes = store.outbox_changes()
    assert [c.kind for c in changes] == ["incident.opened", "incident.closed"]
    assert "timeline" not in changes[0].doc["incident"]
    assert changes[0].severity == "high"


def test_queue_change_is_idempotent_on_its_key(store: Store) -> None:
    change = Change("duty.overdue:X:s1", "duty.overdue", "X:s1", "high", ts(T0))
    assert store.queue_change(change) is not None
    assert store.queue_change(change) is None
    assert len(store.outbox_changes()) == 1


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_growth_of_an_alert_closed_meanwhile_is_not_told(kind: str, tmp_path: Path) -> None:
    with FACTORIES[kind](tmp_path) as detection, FACTORIES[kind](tmp_path) as analyst:
        detection.upsert_alerts([alert(1)], links(1, 3))
        closed = replace(analyst.get_alert(f"{1:032x}") or alert(1), status=AlertStatus.CLOSED)
        analyst.update_alert_audited(closed, audit.new_entry(
            actor="an.nv", action="alert.close", subject=closed.id))
        (stored,) = detection.upsert_alerts([alert(1)], links(1, 12))  # read before the close
        assert (stored.status, stored.count) == (AlertStatus.CLOSED, 12)
        assert [c.kind for c in detection.outbox_changes()] == ["alert.new", "alert.closed"]


# --- the outbox on Elasticsearch: no transaction, a counter for seq ------------------------------


@pytest.fixture
def es(tmp_path: Path) -> Iterator[Any]:
    with _elasticsearch(tmp_path) as opened:
        yield opened


def overdue(name: str) -> Change:
    return Change(f"duty.overdue:{name}", "duty.overdue", name, "high", ts(T0))


def test_elasticsearch_queues_the_change_before_the_alert_write(es: Any) -> None:
    alerts = es.names.index("alerts")
    es.client.indices.put_settings(index=alerts, settings={"index.blocks.write": True})
    with pytest.raises(StoreError, match=f"cannot write alert {1:032x}: 403"):
        es.upsert_alerts([alert(1)], links(1, 3))
    (told,) = es.outbox_changes()  # told of a write that then failed (docs/notifications.md)
    assert told.key == f"alert.new:{1:032x}" and es.get_alert(told.subject) is None
    es.client.indices.put_settings(index=alerts, settings={"index.blocks.write": False})
    es.upsert_alerts([alert(1)], links(1, 3))  # the retry derives the same key: queued once
    assert [(c.key, c.seq) for c in es.outbox_changes()] == [(told.key, told.seq)]
    assert es.get_alert(told.subject) is not None


def test_elasticsearch_racing_writers_number_changes_once_each(tmp_path: Path) -> None:
    import threading

    handles = [_elasticsearch(tmp_path), _elasticsearch(tmp_path)]

    def queue(store: Store, name: str) -> None:
        for i in range(12):
            store.queue_change(overdue(f"{name}:{i:02d}"))

    threads = [threading.Thread(target=queue, args=(h, n))
               for h, n in zip(handles, "ab", strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    changes = handles[0].outbox_changes()
    assert [c.seq for c in changes] == list(range(1, 25))  # unique, no gap, no step back
    for name in "ab":  # each writer's changes in the order it queued them
        mine = [c.subject for c in changes if c.subject.startswith(name)]
        assert mine == [f"{name}:{i:02d}" for i in range(12)]
    for h in handles:
        h.close()


def test_elasticsearch_counter_removed_goes_on_past_the_highest_seq(es: Any) -> None:
    es.queue_change(overdue("1"))
    es.queue_change(overdue("2"))
    es.client.delete(index=es.names.index("notify-outbox"), id="counter", refresh=True)
    assert es.queue_change(overdue("3")).seq == 3
    assert es.queue_change(overdue("4")).seq == 4


def test_elasticsearch_without_routes_writes_queue_nothing(tmp_path: Path) -> None:
    with _elasticsearch(tmp_path, notify=None) as store:
        store.upsert_alerts([alert(1)], links(1, 1))
        entry = audit.new_entry(actor="an.nv", action="incident.open", subject="SC-1")
        store.put_incident_audited("SC-1", ts(T0), "open", {"id": "SC-1"}, entry)
        assert store.outbox_changes() == []


def test_elasticsearch_unreachable_fails_the_outbox_write_and_spools_nothing(
        tmp_path: Path) -> None:
    from soc.stores.es.store import ElasticsearchStore

    options = {"hosts": ["http://127.0.0.1:9"], "max_retries": 0}
    config = Config(path=None, data_dir=tmp_path, raw=MappingProxyType({"notify": ONCALL}),
                    store=StoreConfig("elasticsearch", options))
    with ElasticsearchStore.open(config) as store:  # a writer opens: events would be spooled
        with pytest.raises(StoreError, match="unreachable"):
            store.queue_change(overdue("1"))
        entry = audit.new_entry(actor="an.nv", action="incident.open", subject="SC-1")
        with pytest.raises(StoreError, match="unreachable"):
            store.put_incident_audited("SC-1", ts(T0), "open", {"id": "SC-1"}, entry)
        assert store.spool.size() == (0, 0)


# --- routing -------------------------------------------------------------------------------------


def route_match(**match: Any) -> notify_config.Match:
    raw = {"channels": {"c": SINK}, "routes": [{"channels": ["c"], "match": match}]}
    cfg = notify_config.load(Config(path=None, data_dir=Path("."),
                                    raw=MappingProxyType({"notify": raw})))
    return cfg.routes[0].match


@pytest.mark.parametrize(("match", "taken"), [
    ({}, True),
    ({"severity": ["high"]}, True),
    ({"severity": ["critical", "medium"]}, False),
    ({"min_severity": "high"}, True),
    ({"min_severity": "critical"}, False),
    ({"rules": ["win_*"]}, True),
    ({"rules": ["linux_*", "web_*"]}, False),
    ({"tags": ["attack.t1003"]}, True),
    ({"tags": ["attack.t1110*"]}, False),
    ({"systems": ["portal"], "units": ["vp"], "security_level": [3, 4]}, True),
    ({"security_level": [5]}, False),
    ({"kinds": ["alert.new"]}, True),
    ({"kinds": ["alert.closed", "incident.opened"]}, False),
])
def test_each_routing_rule(match: dict[str, Any], taken: bool) -> None:
    (change,) = changes_for_alert(None, alert(1))
    assert matches(route_match(**match), change) is taken


def test_the_smallest_config_delivers_every_alert(store: Store, tmp_path: Path) -> None:
    oncall = FakeChannel("oncall")
    store.upsert_alerts([alert(1), alert(2, severity=Severity.LOW)], {})
    report = dispatch(store, config_with(tmp_path, ONCALL), T0, oncall=oncall)
    assert (report.routed, report.delivered, report.problems) == (2, 2, [])
    first = oncall.sent[0]
    assert first.kind == "alert.new" and first.severity == "high"
    assert first.key == f"alert.new:{1:032x}/route:route1/channel:oncall"
    assert first.context["link"] == f"soc alerts show {1:032x}"
    assert "age" not in first.context
    assert dispatch(store, config_with(tmp_path, ONCALL), T0, oncall=oncall).delivered == 0


def test_quiet_hours_hold_until_morning_except_critical(store: Store,
                                                        tmp_path: Path) -> None:
    notify = {**ONCALL, "routes": [{"channels": ["oncall"], "quiet_hours": {
        "from": "22:00", "to": "06:30", "except_severity": ["critical"]}}]}
    config, oncall = config_with(tmp_path, notify, tz="Asia/Ho_Chi_Minh"), FakeChannel("oncall")
    night = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 23:00 in Hà Nội
    store.upsert_alerts([alert(1, when=night), alert(2, severity=Severity.CRITICAL, when=night)],
                        {})
    dispatch(store, config, night, oncall=oncall)
    assert [m.severity for m in oncall.sent] == ["critical"]  # the on-call is woken for it
    (held,) = store.list_deliveries(status="held")
    assert held.next_at == "2026-03-02T23:30:00.000Z"  # 06:30 in Hà Nội
    dispatch(store, config, datetime(2026, 3, 2, 23, 29, tzinfo=UTC), oncall=oncall)
    assert len(oncall.sent) == 1
    dispatch(store, config, datetime(2026, 3, 2, 23, 30, tzinfo=UTC), oncall=oncall)
    assert [m.severity for m in oncall.sent] == ["critical", "high"]
    assert oncall.sent[1].context["age"] == "7h30m"


def test_throttle_then_a_digest_of_the_rest(store: Store, tmp_path: Path) -> None:
    notify = {**ONCALL, "routes": [{"name": "noisy", "channels": ["oncall"],
                                    "throttle": {"max": 2, "per": "1h"}}]}
    config, oncall = config_with(tmp_path, notify), FakeChannel("oncall")
    store.upsert_alerts([alert(n) for n in range(1, 6)], {})
    dispatch(store, config, T0 + timedelta(minutes=10), oncall=oncall)
    assert len(oncall.sent) == 2
    assert len(store.list_deliveries(status="digested")) == 3
    store.upsert_alerts([alert(6)], {})  # still within the hour: kept back too
    dispatch(store, config, T0 + timedelta(minutes=30), oncall=oncall)
    assert len(oncall.sent) == 2
    dispatch(store, config, T0 + timedelta(hours=1), oncall=oncall)  # the window has ended
    digest = oncall.sent[-1]
    assert digest.kind == "digest" and digest.context["count"] == 4
    assert [i["subject"] for i in digest.context["items"]] == [f"{n:032x}" for n in range(3, 7)]
    assert digest.key == "digest:noisy:2026-03-02T08:00:00.000Z/channel:oncall"
    dispatch(store, config, T0 + timedelta(hours=2), oncall=oncall)
    assert len(oncall.sent) == 3  # the digest is sent once


def test_a_digest_route_sends_one_message_per_window(store: Store,
                                                     tmp_path: Path) -> None:
    notify = {**ONCALL, "routes": [{"name": "daily", "channels": ["oncall"], "digest": "15m"}]}
    config, oncall = config_with(tmp_path, notify), FakeChannel("oncall")
    store.upsert_alerts([alert(1), alert(2, severity=Severity.CRITICAL)], {})
    dispatch(store, config, T0 + timedelta(minutes=3), oncall=oncall)
    store.upsert_alerts([alert(3, severity=Severity.LOW)], {})
    dispatch(store, config, T0 + timedelta(minutes=7), oncall=oncall)
    assert oncall.sent == []
    dispatch(store, config, T0 + timedelta(minutes=15), oncall=oncall)
    (digest,) = oncall.sent
    assert digest.severity == "critical" and digest.context["count"] == 3
    assert digest.context["window"] == {"from": ts(T0), "to": ts(T0 + timedelta(minutes=15))}


def test_escalation_of_an_alert_nobody_acknowledged(store: Store,
                                                    tmp_path: Path) -> None:
    notify = {"channels": {"oncall": SINK, "lead": SINK},
              "routes": [{"name": "high", "channels": ["oncall"],
                          "match": {"min_severity": "high"},
                          "escalate": {"after": "30m", "channels": ["lead"]}}]}
    config = config_with(tmp_path, notify)
    oncall, lead = FakeChannel("oncall"), FakeChannel("lead")
    store.upsert_alerts([alert(1), alert(2)], {})
    dispatch(store, config, T0, oncall=oncall, lead=lead)
    acked = replace(store.get_alert(f"{2:032x}") or alert(2), status=AlertStatus.ACKNOWLEDGED)
    store.update_alert_audited(acked, audit.new_entry(actor="an.nv", action="alert.ack",
                                                      subject=acked.id))
    dispatch(store, config, T0 + timedelta(minutes=29), oncall=oncall, lead=lead)
    assert lead.sent == []
    dispatch(store, config, T0 + timedelta(minutes=31), oncall=oncall, lead=lead)
    dispatch(store, config, T0 + timedelta(minutes=45), oncall=oncall, lead=lead)
    (escalated,) = lead.sent  # once, and only the alert still open
    assert escalated.kind == "escalation" and escalated.context["alert"]["id"] == f"{1:032x}"
    assert escalated.context["after"] == "30m"


def test_a_channel_down_then_up_loses_nothing_and_keeps_order(store: Store,
                                                              tmp_path: Path) -> None:
    config, oncall = config_with(tmp_path, ONCALL), FakeChannel("oncall")
    oncall.down = True
    for n in range(1, 4):
        store.upsert_alerts([alert(n)], {})
    report = dispatch(store, config, T0, oncall=oncall)
    assert (report.delivered, report.retrying) == (0, 1)  # stops at the first failure
    assert report.problems == ["channel oncall: connection refused (attempt 1; next in 30s)"]
    later = T0
    for _ in range(4):  # hours of outage: backoff 30s, 1m, 2m, 4m...
        later += timedelta(hours=1)
        report = dispatch(store, config, later, oncall=oncall)
    assert report.persistent  # the operator hears of it by now
    oncall.down = False
    dispatch(store, config, later + timedelta(hours=1), oncall=oncall)
    assert [m.context["alert"]["id"] for m in oncall.sent] == [f"{n:032x}" for n in (1, 2, 3)]
    assert oncall.sent[0].context["age"] == "5h"
    assert oncall.sent[0].attempt == 6
    assert {d.status for d in store.list_deliveries()} == {"delivered"}
    summary = store.delivery_summary()[0]
    assert summary["last_success"] == ts(later + timedelta(hours=1))
    assert summary["last_failure"] == ts(later) and summary["queued"] == 0


def test_a_refusal_fails_for_good_until_retried(store: Store, tmp_path: Path) -> None:
    from soc.notify import ops

    config, oncall = config_with(tmp_path, ONCALL), FakeChannel("oncall")
    oncall.refuse = True
    store.upsert_alerts([alert(1), alert(2)], {})
    report = dispatch(store, config, T0, oncall=oncall)
    assert report.failed == 2 and len(report.persistent) == 2
    assert [d.last_error for d in store.list_deliveries(status="failed")] == [
        "HTTP 403 forbidden"] * 2
    oncall.refuse = False
    assert len(ops.retry(store, [], all_failed=True, now=T0)) == 2
    assert dispatch(store, config, T0 + timedelta(minutes=1), oncall=oncall).delivered == 2


def test_too_old_to_send_is_failed(store: Store, tmp_path: Path) -> None:
    config = config_with(tmp_path, {**ONCALL, "max_age": "1d"})
    oncall = FakeChannel("oncall")
    oncall.down = True
    store.upsert_alerts([alert(1)], {})
    dispatch(store, config, T0, oncall=oncall)
    oncall.down = False
    report = dispatch(store, config, T0 + timedelta(days=2), oncall=oncall)
    assert report.failed == 1 and oncall.sent == []
    (failed,) = store.list_deliveries(status="failed")
    assert failed.last_error == "not delivered within max_age (1d)"


def test_finished_rows_older_than_keep_are_pruned_a_bounded_number_per_run(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from soc.notify import dispatch as dispatcher

    config = config_with(tmp_path, {**ONCALL, "max_age": "10d", "keep": "10d"})
    oncall = FakeChannel("oncall")
    store.upsert_alerts([alert(n) for n in (1, 2, 3)], {})
    dispatch(store, config, T0, oncall=oncall)
    oncall.down = True
    store.upsert_alerts([alert(4)], {})
    dispatch(store, config, T0, oncall=oncall)
    (waiting,) = store.list_deliveries(status="queued")
    store.mark_delivery(waiting.key, status="queued", next_at=ts(T0 + timedelta(days=40)))
    assert dispatch(store, config, T0 + timedelta(days=9)).pruned == 0
    monkeypatch.setattr(dispatcher, "PRUNE", 2)
    later = T0 + timedelta(days=10, minutes=1)
    assert dispatch(store, config, later).pruned == 4  # 2 deliveries, 2 changes
    assert [d.status for d in store.list_deliveries()] == ["delivered", "queued"]
    assert dispatch(store, config, later).pruned == 2
    assert dispatch(store, config, later).pruned == 0  # what still waits is never pruned
    assert [d.key for d in store.list_deliveries()] == [waiting.key]
    assert [c.subject for c in store.outbox_changes()] == [f"{4:032x}"]


# --- reminders of regulatory duties --------------------------------------------------------------

INCIDENT_CONFIG = """\
data_dir: data
profile: mps-2026
inventory:
  units: [{id: vp, name: VP}]
  systems: [{id: portal, name: Cổng, unit: vp, security_level: 3, hosts: [web01]}]
notify:
  channels: {oncall: {type: file, path: sent.jsonl}}
  routes: [{channels: [oncall], match: {kinds: [duty.reminder, duty.overdue]}}]
  reminders: [6h, 1h]
"""


def test_reminders_before_and_after_a_report_deadline(tmp_path: Path) -> None:
    from soc.response import incidents as lib
    from soc.response.deadlines import due
    from soc.response.playbooks import load_playbooks
    from soc.response.profiles import load_profile

    (tmp_path / "soc.yml").write_text(INCIDENT_CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "soc.yml")
    store = SQLiteStore.open(config)
    store.upsert_alerts([alert(1)], {})
    req = lib.OpenRequest(alert_ids=(f"{1:032x}",), actor="an.nv", t0=ts(T0),
                         playbook="brute-force", serious=True)
    inc = lib.open_incident(store, config, load_playbooks(), load_profile("mps-2026"), req)
    items = [i for i in due([inc], {inc.profile: load_profile(inc.profile)})
             if i.kind == "report" and i.deadline is not None]
    deadline = items[0].deadline
    assert deadline is not None
    oncall = FakeChannel("oncall")

    def sent_at(at: datetime) -> list[str]:
        run(store, config, now=at, channels={"oncall": oncall})
        return [m.key.split("/")[0] for m in oncall.sent if m.context["duty"]["step"]
                == items[0].step]

    where = f"{inc.id}:{items[0].step}"
    assert sent_at(deadline - timedelta(hours=7)) == []
    assert sent_at(deadline - timedelta(hours=5)) == [f"duty.reminder:{where}:6h"]
    assert sent_at(deadline - timedelta(minutes=59)) == [
        f"duty.reminder:{where}:6h", f"duty.reminder:{where}:1h"]
    assert sent_at(deadline + timedelta(minutes=1)) == [
        f"duty.reminder:{where}:6h", f"duty.reminder:{where}:1h", f"duty.overdue:{where}"]
    assert sent_at(deadline + timedelta(hours=3))[-1] == f"duty.overdue:{where}"  # once
    assert len(sent_at(deadline + timedelta(hours=3))) == 3


# --- configuration -------------------------------------------------------------------------------


def test_config_errors_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "soc.yml").write_text(
        "notify:\n  channels: {oncall: {type: webhook, url: 'https://x'}}\n"
        "  routes:\n    - channels: [oncal]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        notify_config.load(load_config(tmp_path / "soc.yml"))
    assert "no channel named 'oncal' (known: oncall)" in str(caught.value)
    assert caught.value.location == f"{tmp_path / 'soc.yml'}:4"


def test_config_show_redacts_channel_secrets(tmp_path: Path) -> None:
    (tmp_path / "soc.yml").write_text(
        "notify:\n  channels:\n    slack: {type: webhook, url: 'https://hooks.slack.com/T0/B0/"
        "s3cr3t', headers: {Authorization: Bearer t0k3n}}\n"
        "    tele: {type: telegram, chat_id: 42, token: {$env: TG_TOKEN}}\n", encoding="utf-8")
    shown = str(load_config(tmp_path / "soc.yml").to_dict()["notify"])
    assert "s3cr3t" not in shown and "t0k3n" not in shown
    assert "https://hooks.slack.com/***" in shown and "*** ($env: TG_TOKEN)" in shown

