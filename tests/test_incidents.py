"""Incidents as a library on a real embedded store: placeholders, decisions that branch and
reclassify, duties that come back, query steps against stored events, guarded actions."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from soc.config import Config, load_config
from soc.ecs import event_id
from soc.models import Alert, Severity
from soc.response import incidents as lib
from soc.response.actions import ActionRefused
from soc.response.playbooks import load_playbooks
from soc.response.profiles import load_profile
from soc.stores.sqlite import SQLiteStore

CONFIG = """\
data_dir: data
profile: {profile}
inventory:
  units: [{{id: vp, name: VP, contacts: [{{role: owner, email: o@example.gov.vn}}]}}]
  systems: [{{id: portal, name: Cổng, unit: vp, security_level: 3, hosts: [web01]}}]
incidents:
  actions:
    block-ip:
      command: [{python}, -c, "import sys; print('blocked', sys.argv[-1])", "{{ip}}"]
      timeout: 10s
"""


@pytest.fixture
def env(tmp_path: Path) -> tuple[SQLiteStore, Config]:
    path = tmp_path / "soc.yml"
    path.write_text(CONFIG.format(profile="mps-2026", python=sys.executable), encoding="utf-8")
    config = load_config(path)
    store = SQLiteStore.open(config)
    event = {"@timestamp": "2026-01-05T08:03:00.000Z", "event.id": event_id("e", 1),
             "event.dataset": "linux.auth", "event.module": "linux", "event.ingested":
             "2026-01-05T08:03:01.000Z", "event.category": "authentication",
             "event.outcome": "failure", "source.ip": "203.0.113.45", "host.name": "web01",
             "user.name": "root"}
    store.write_events([event])
    store.upsert_alerts([Alert(
        id="a" * 32, rule_id="bfc3592f-ef2a-437b-a626-46794a8b9a52", rule_title="brute force",
        severity=Severity.MEDIUM, first_seen="2026-01-05T08:02:00.000Z",
        last_seen="2026-01-05T08:06:00.000Z", tags=("attack.t1110.001",),
        entity={"source.ip": "203.0.113.45", "host.name": "web01", "labels.system": "portal",
                "organization.id": "vp"}, created="2026-01-05T08:07:30.000Z")], {})
    return store, config


def open_one(store: SQLiteStore, config: Config, **kw: object) -> lib.Incident:
    req = lib.OpenRequest(alert_ids=("aaaaaaaa",), actor="an.nv", **kw)  # type: ignore[arg-type]
    return lib.open_incident(store, config, load_playbooks(), load_profile("mps-2026"), req)


def test_the_register_year_is_the_local_one(env: tuple[SQLiteStore, Config]) -> None:
    # 17:30 UTC on 31/12 is 00:30 on 1/1 in Hà Nội: the incident belongs to the new year's book
    store, config = env
    alert = store.get_alert("a" * 32)
    assert alert is not None
    store.upsert_alerts([replace(alert, id=c * 32) for c in "bc"], {})  # one incident each

    def open_from(alert_id: str, t0: str) -> str:
        req = lib.OpenRequest(alert_ids=(alert_id,), actor="an.nv", t0=t0)
        return lib.open_incident(store, config, load_playbooks(), load_profile("mps-2026"),
                                 req).id

    assert open_from("a" * 32, "2026-12-31T17:30:00Z") == "SC-2027-0001"
    assert open_from("b" * 32, "2026-12-31T16:30:00Z") == "SC-2026-0001"
    assert open_from("c" * 32, "2026-06-01T00:00:00Z") == "SC-2026-0002"


def test_fill_placeholders() -> None:
    values = {"source.ip": ("1.2.3.4", "5.6.7.8"), "host.name": ("web01",)}
    assert lib.fill('source.ip:"%source.ip%" AND host.name:%host.name%', values) == (
        'source.ip:("1.2.3.4" OR "5.6.7.8") AND host.name:web01', [])
    assert lib.fill('user.name:"%user.name%"', values) == ('user.name:"%user.name%"',
                                                           ["user.name"])


def test_open_snapshots_the_playbook_and_adds_profile_duties(
        env: tuple[SQLiteStore, Config]) -> None:
    store, config = env
    inc = open_one(store, config)
    assert (inc.id, inc.playbook, inc.t0, inc.classification) == (
        "SC-2026-0001", "brute-force", "2026-01-05T08:07:00.000Z", "ordinary")
    assert inc.systems == ({"id": "portal", "name": "Cổng", "unit": "vp",
                            "security_level": 3},)
    states = {s.id: (s.state.value, s.reason) for s in inc.steps}
    assert states["thong_bao_ban_dau"] == ("skipped", "applies only when: serious")
    assert states["thong_bao_su_co"] == ("skipped", "not a duty under profile mps-2026")
    assert states["report-bao_cao_cap_nhat"] == ("pending", None)  # added from the profile
    assert "report-thong_bao_dlcn" in states


def test_decision_branches_and_reclassifies(env: tuple[SQLiteStore, Config]) -> None:
    store, config = env
    inc = open_one(store, config)
    change = lib.StepChange(answer="serious")
    inc = lib.update_step(store, config, inc.id, "danh_gia_muc_do", change, "an.nv")
    assert inc.classification == "serious" and inc.serious_since is not None
    assert inc.step("thong_bao_ban_dau").state is lib.StepState.PENDING  # the 24 h notice
    inc = lib.classify(store, config, inc.id, "an.nv", classification="ordinary")
    assert inc.step("thong_bao_ban_dau").state is lib.StepState.SKIPPED
    with pytest.raises(lib.InputError, match="has no answer 'maybe'"):
        lib.update_step(store, config, inc.id, "danh_gia_muc_do",
                        lib.StepChange(answer="maybe"), "an.nv")


def test_query_step_runs_against_the_store(env: tuple[SQLiteStore, Config]) -> None:
    store, config = env
    inc = open_one(store, config)
    inc, results = lib.run_step(store, config, inc.id, "tra_cuu_nguon", "an.nv")
    first = results[0]
    assert first["query"] == ('source.ip:"203.0.113.45" AND event.category:authentication AND '
                              "event.outcome:failure")
    assert (first["since"], first["until"]) == ("2026-01-04T08:02:00.000Z",
                                                "2026-01-05T09:06:00.000Z")
    assert first["count"] == 1 and first["events"][0]["user.name"] == "root"
    assert inc.step("tra_cuu_nguon").state is lib.StepState.IN_PROGRESS
    assert inc.timeline[-1].kind == "query"


def test_actions_run_only_when_configured_and_allowed(
        env: tuple[SQLiteStore, Config]) -> None:
    store, config = env
    inc = open_one(store, config)
    with pytest.raises(ActionRefused, match="runs only with --allow-actions"):
        lib.run_step(store, config, inc.id, "chan_ip_nguon", "an.nv")
    with pytest.raises(ActionRefused, match="disable-account is not configured"):
        lib.run_step(store, config, inc.id, "khoa_tai_khoan", "an.nv", allow_actions=True)
    inc, (run,) = lib.run_step(store, config, inc.id, "chan_ip_nguon", "an.nv",
                               allow_actions=True)
    assert run["argv"][-2:] == ["--", "203.0.113.45"] and run["exit_code"] == 0
    assert run["stdout"] == "blocked 203.0.113.45\n"
    assert inc.step("chan_ip_nguon").state is lib.StepState.DONE
    actions = [e.action for e in store.audit_trail(inc.id)]
    assert actions.count("incident.action.refused") == 2 and "incident.action" in actions
