"""Legal hold (issue 15, item 6) through the CLI on a real embedded store: retention keeps the
events of an open incident, lets them go once it is closed, keeps them after the close while
``soc incidents hold`` stands, and says what it kept and why. Retention is judged at a fixed
moment (``--at``), never today."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from soc.cli.main import main
from soc.config import load_config
from soc.ecs import Event
from soc.errors import ExitCode
from soc.models import Alert, Severity
from soc.response.holds import hold_reason, incident_alert_ids, incident_event_ids
from soc.response.records import OPEN_STATES
from soc.stores.sqlite import SQLiteStore

AT = "2026-12-01T00:00:00Z"  # retention judged here: days before 2026-11-01 are expired (30d)
OLD_DAY = "2026-10-01"
CONFIG = """\
data_dir: data
inventory:
  units:
    - {id: vp-ubnd, name: Văn phòng UBND tỉnh}
  systems:
    - {id: cong-ttdt, name: Cổng thông tin điện tử tỉnh, unit: vp-ubnd, security_level: 3,
       hosts: [portal-web01]}
retention: {3: 30}
"""
ATTACKER = "203.0.113.45"
BRUTE_FORCE = "bfc3592f-ef2a-437b-a626-46794a8b9a52"  # rules/linux/lnx_auth_ssh_brute_force.yml
SUCCESS_AFTER = "0a623f17-f72b-462e-8d4c-d45f282ce578"
OPEN = {s.value for s in OPEN_STATES}


def event(n: int, ts: str, **fields: Any) -> Event:
    return {"@timestamp": ts, "event.id": f"ev-{n}", "event.dataset": "linux.auth",
            "event.module": "linux", "event.ingested": ts, "labels.security_level": 3,
            "labels.system": "cong-ttdt", "organization.id": "vp-ubnd",
            "host.name": "portal-web01", "source.ip": "198.51.100.7", **fields}


# ev-1..ev-4 on an expired day, ev-1 and ev-2 linked to the brute-force alert; ev-6 on that day
# too, linked to no alert (a query step of the incident finds it); ev-5 is recent.
EVENTS = [event(n, f"{OLD_DAY}T08:0{n}:00.000Z") for n in (1, 2, 3, 4)] + [
    event(5, "2026-11-20T09:00:00.000Z"),
    event(6, f"{OLD_DAY}T07:00:00.000Z", **{"source.ip": ATTACKER})]


def alert(rule_id: str, title: str, severity: Severity) -> Alert:
    created = f"{OLD_DAY}T08:15:42.000Z"
    return Alert(id=hashlib.md5(rule_id.encode()).hexdigest(), rule_id=rule_id,
                 rule_title=title, severity=severity, first_seen=f"{OLD_DAY}T08:01:00.000Z",
                 last_seen=f"{OLD_DAY}T08:02:00.000Z", count=2,
                 entity={"host.name": "portal-web01", "source.ip": ATTACKER,
                         "labels.system": "cong-ttdt", "organization.id": "vp-ubnd"},
                 tags=("attack.credential-access", "attack.t1110.001"),
                 created=created, updated=created)


def project(tmp_path: Path) -> Path:
    config = tmp_path / "soc.yml"
    config.write_text(CONFIG, encoding="utf-8")
    brute = alert(BRUTE_FORCE, "SSH Brute Force From One Source", Severity.MEDIUM)
    success = alert(SUCCESS_AFTER, "SSH Login Succeeds After Brute Force", Severity.HIGH)
    with SQLiteStore.open(load_config(config)) as store:
        store.write_events(EVENTS)
        store.upsert_alerts([brute, success], {brute.id: [
            (e["event.id"], e["@timestamp"]) for e in EVENTS[:2]]})
    return config


class Soc:
    """The CLI of one project, run in-process."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(["-c", str(self.config), *argv])
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def ok(self, *argv: str) -> tuple[str, str]:
        code, out, err = self(*argv)
        assert code == ExitCode.OK, err
        return out, err

    def retention(self, *extra: str) -> tuple[dict[str, Any], str]:
        """The expired day's row (``--json``) and stderr."""
        out, err = self.ok("store", "retention", "--at", AT, "--json", *extra)
        (row,) = [r for r in json.loads(out) if r["day"] == OLD_DAY]
        return row, err

    def stored(self) -> list[str]:
        with SQLiteStore.open(load_config(self.config), readonly=True) as store:
            return sorted(str(e["event.id"]) for e in store.search(limit=None))

    def open_incident(self) -> str:
        ids = [hashlib.md5(r.encode()).hexdigest()[:8] for r in (BRUTE_FORCE, SUCCESS_AFTER)]
        out, _ = self.ok("incidents", "open", "-a", ids[0], "-a", ids[1], "--actor", "an.nv",
                         "--json")
        return str(json.loads(out)["id"])

    def close(self, incident: str) -> None:
        """Skip every step that is not a report, then close."""
        out, _ = self.ok("incidents", "show", incident, "--json")
        for step in json.loads(out)["steps"]:
            if step["state"] in OPEN and step["spec"]["kind"] != "report":
                self.ok("incidents", "step", incident, step["spec"]["id"], "--skip",
                        "not part of this test", "--actor", "an.nv")
        self.ok("incidents", "close", incident, "--outcome", "contained", "--actor", "an.nv")


@pytest.fixture
def soc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Soc:
    return Soc(project(tmp_path), capsys)


def test_an_open_incident_keeps_its_events_and_after_its_close_they_go(soc: Soc) -> None:
    inc = soc.open_incident()
    row, err = soc.retention()  # a dry run (read-only store) says what it would keep
    assert row == {"day": OLD_DAY, "level": 3, "events": 5, "keep_days": 30, "held": 2,
                   "held_by": {inc: 2}, "action": "expired"}
    assert f"Keeps 2 expired event(s) of incident {inc} (open).\n" in err
    assert "1 day(s) past retention. Hint: soc store retention --apply" in err
    assert soc.stored() == ["ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6"]

    row, err = soc.retention("--apply")
    assert (row["events"], row["held"], row["action"]) == (5, 2, "dropped")
    assert f"Kept 2 expired event(s) of incident {inc} (open).\n" in err
    assert soc.stored() == ["ev-1", "ev-2", "ev-5"]  # the alert's events and the recent one
    stats = json.loads(soc.ok("store", "stats", "--json")[0])
    assert (stats["events"], stats["datasets"]) == (3, {"linux.auth": 3})

    row, err = soc.retention()  # what is left of the day is all held: nothing to delete
    assert (row["events"], row["held"], row["action"]) == (2, 2, "held")
    assert "past retention" not in err

    soc.close(inc)  # closed without a hold: its events are ordinary events again
    row, err = soc.retention("--apply")
    assert (row["held"], row["held_by"], row["action"]) == (0, {}, "dropped")
    assert "Kept" not in err
    assert soc.stored() == ["ev-5"]


def test_a_hold_keeps_them_after_the_close_until_it_is_released(soc: Soc) -> None:
    inc = soc.open_incident()
    soc.ok("incidents", "step", inc, "tra_cuu_nguon", "--run", "--actor", "an.nv")  # finds ev-6
    _, err = soc.ok("incidents", "hold", inc, "--reason", "police request 45/PA05",
                    "--actor", "binh.tt")
    assert f"{inc} on hold" in err
    code, _, err = soc("incidents", "hold", inc, "--reason", "again")
    assert code == ExitCode.INPUT and "is on hold already" in err and "Hint:" in err
    soc.close(inc)

    row, err = soc.retention("--apply")
    assert (row["held"], row["held_by"]) == (3, {inc: 3})  # two linked, one the step found
    assert f"Kept 3 expired event(s) of incident {inc} (hold: police request 45/PA05)." in err
    assert soc.stored() == ["ev-1", "ev-2", "ev-5", "ev-6"]
    shown = json.loads(soc.ok("incidents", "show", inc, "--json")[0])
    assert shown["status"] == "closed"
    assert shown["hold"]["reason"] == "police request 45/PA05"
    assert shown["hold"]["by"] == "binh.tt"

    _, err = soc.ok("incidents", "release", inc, "--reason", "case closed", "--actor", "binh.tt")
    assert "no longer kept past retention" in err
    code, _, err = soc("incidents", "release", inc, "--reason", "twice")
    assert code == ExitCode.INPUT and "is not on hold" in err
    row, _ = soc.retention("--apply")
    assert (row["held"], row["action"]) == (0, "dropped")
    assert soc.stored() == ["ev-5"]

    with SQLiteStore.open(load_config(soc.config), readonly=True) as store:
        trail = [(e.action, e.actor) for e in store.audit_trail(inc)]
    assert ("incident.hold", "binh.tt") in trail
    assert ("incident.release", "binh.tt") in trail
    assert trail.index(("incident.hold", "binh.tt")) < trail.index(("incident.release",
                                                                    "binh.tt"))
    code, _, err = soc("audit", "verify")
    assert code == ExitCode.OK, err
    timeline = [e["kind"] for e in shown["timeline"]]
    assert "hold" in timeline


def test_a_closed_incident_can_be_held_too(soc: Soc) -> None:
    inc = soc.open_incident()
    soc.close(inc)
    soc.ok("incidents", "hold", inc, "--reason", "audit 2027", "--actor", "binh.tt")
    out, _ = soc.ok("incidents", "show", inc)
    assert "hold " in out and "by binh.tt: audit 2027" in out
    row, err = soc.retention()
    assert (row["held"], row["held_by"], row["action"]) == (2, {inc: 2}, "expired")
    assert f"Keeps 2 expired event(s) of incident {inc} (hold: audit 2027)." in err


def test_a_hold_needs_a_reason(soc: Soc) -> None:
    inc = soc.open_incident()
    code, _, err = soc("incidents", "hold", inc, "--reason", " ")
    assert code == ExitCode.INPUT
    assert "Error: a reason is needed for a legal hold" in err and "Hint:" in err
    code, _, err = soc("incidents", "hold", "SC-2026-9999", "--reason", "x")
    assert code == ExitCode.NOT_FOUND


def test_what_an_incident_document_holds() -> None:
    doc: dict[str, Any] = {
        "id": "SC-2026-0001", "status": "closed", "alerts": ["a1", "a2", "a1"],
        "timeline": [
            {"kind": "opened", "data": {"alerts": ["a1"]}},
            {"kind": "query", "data": {"results": [
                {"events": [{"event.id": "e1"}, {"event.id": "e2"}, {"@timestamp": "t"}]},
                {"count": None, "skipped": "no user.name"}]}},
            {"kind": "query", "data": {"results": [{"events": [{"event.id": "e1"}]}]}}]}
    assert incident_alert_ids(doc) == ("a1", "a2")
    assert incident_event_ids(doc) == ("e1", "e2")
    assert hold_reason(doc) is None  # closed, no hold
    assert hold_reason({**doc, "status": "in_progress"}) == "open"
    assert hold_reason({**doc, "hold": {"reason": "court order"}}) == "hold: court order"
