"""Issue 15, item 3 and bulk work: alerts tied to incidents (open, add-alerts, close closes
them, audited), comments, --assignee/--mine/--incident filters, and ``alerts close --where``.

Everything goes through the CLI on a real SQLite store."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from soc.config import load_config
from soc.errors import ExitCode
from soc.models import Alert, Severity
from soc.stores.sqlite import SQLiteStore
from tests.test_incident_cli import BRUTE_FORCE, SUCCESS_AFTER, open_incident, project, run

WEBSHELL = "c0ffee00-0000-4000-8000-000000000001"  # any rule id: alerts are stored directly


def more_alert(config: Path, rule_id: str, ip: str, host: str = "portal-web01") -> str:
    """Store one more alert; returns its id."""
    entity = {"host.name": host, "source.ip": ip, "labels.system": "cong-ttdt",
              "organization.id": "vp-ubnd", "user.name": "admin01"}
    alert_id = hashlib.md5(f"{rule_id}{ip}{host}".encode()).hexdigest()
    with SQLiteStore.open(load_config(config)) as store:
        store.upsert_alerts([Alert(
            id=alert_id, rule_id=rule_id, rule_title=f"Rule {rule_id[:8]} on {ip}",
            severity=Severity.LOW, first_seen="2026-01-05T09:00:00.000Z",
            last_seen="2026-01-05T09:10:00.000Z", count=3, entity=entity,
            group={"source.ip": ip}, created="2026-01-05T09:11:00.000Z",
            updated="2026-01-05T09:11:00.000Z")], {})
    return alert_id


def alert_json(config: Path, alert_id: str,
               capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, err = run(["-c", str(config), "alerts", "show", alert_id, "--json"], capsys)
    assert code == ExitCode.OK, err
    shown: dict[str, object] = json.loads(out)
    return shown


def audit_actions(config: Path, subject: str) -> list[tuple[str, dict[str, object]]]:
    db = sqlite3.connect(config.parent / "data" / "store.db")
    try:
        rows = db.execute("SELECT action, doc FROM audit WHERE subject = ? ORDER BY id",
                          (subject,)).fetchall()
    finally:
        db.close()
    return [(action, json.loads(doc)) for action, doc in rows]


def finish_steps(config: Path, inc: str, capsys: pytest.CaptureFixture[str]) -> None:
    c = ["-c", str(config)]
    _, out, _ = run([*c, "incidents", "show", inc, "--json"], capsys)
    for s in json.loads(out)["steps"]:
        if s["state"] == "pending" and s["spec"]["kind"] != "report" and \
                s["spec"]["id"] != "danh_gia_muc_do":
            assert run([*c, "incidents", "step", inc, s["spec"]["id"], "--done"], capsys)[0] == 0
    assert run([*c, "incidents", "step", inc, "danh_gia_muc_do", "--answer", "ordinary"],
               capsys)[0] == ExitCode.OK


def test_incident_ties_adds_lists_and_closes_its_alerts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = project(tmp_path, "mps-2026")
    c = ["-c", str(config)]
    first = hashlib.md5(BRUTE_FORCE.encode()).hexdigest()
    second = hashlib.md5(SUCCESS_AFTER.encode()).hexdigest()
    extra = more_alert(config, WEBSHELL, "198.51.100.7", host="portal-db01")
    unrelated = more_alert(config, WEBSHELL, "192.0.2.99")
    inc = open_incident(config, capsys)

    # opening ties the alerts: acknowledged, marked with the incident, audited
    for alert_id in (first, second):
        shown = alert_json(config, alert_id, capsys)
        assert shown["incident"] == inc and shown["status"] == "acknowledged"
        assert [a for a, _ in audit_actions(config, alert_id)] == ["alert.attach"]

    # --incident lists them
    code, out, _ = run([*c, "alerts", "list", "--incident", inc, "--json"], capsys)
    assert code == ExitCode.OK
    assert {a["id"] for a in json.loads(out)} == {first, second}

    # add one more; adding it again changes nothing
    code, _, err = run([*c, "incidents", "add-alerts", inc, extra[:8], "--actor", "binh.tt"],
                       capsys)
    assert code == ExitCode.OK, err
    assert "1 alert(s) added, 3 in all" in err
    code, _, err = run([*c, "incidents", "add-alerts", inc, extra], capsys)
    assert code == ExitCode.OK and "already has these alerts" in err
    assert [a for a, _ in audit_actions(config, extra)] == ["alert.attach"]

    code, out, _ = run([*c, "incidents", "show", inc, "--json"], capsys)
    shown_inc = json.loads(out)
    assert shown_inc["alerts"] == [first, second, extra]
    assert {a["id"] for a in shown_inc["alert_details"]} == {first, second, extra}
    assert shown_inc["entities"]["host.name"] == ["portal-web01", "portal-db01"]
    assert shown_inc["entities"]["source.ip"] == ["203.0.113.45", "198.51.100.7"]
    assert "198.51.100.7" in shown_inc["fields"]["source.ip"]  # %field% values grow too
    assert shown_inc["timeline"][-1]["kind"] == "alerts"
    incident_trail = [a for a, _ in audit_actions(config, inc)]
    assert incident_trail == ["incident.open", "incident.add-alerts"]

    # the table view lists the alerts and entities
    code, out, _ = run([*c, "incidents", "show", inc], capsys)
    assert "== Alerts ==" in out and "== Entities ==" in out and "portal-db01" in out

    # an alert of one open incident cannot join another
    code, _, err = run([*c, "incidents", "open", "-a", unrelated, "-a", extra, "--playbook",
                        "brute-force", "--actor", "an.nv"], capsys)
    assert code == ExitCode.INPUT and f"alert {extra} belongs to incident {inc}" in err
    code, out, err = run([*c, "incidents", "open", "-a", unrelated, "--playbook", "brute-force",
                          "--actor", "an.nv", "--json"], capsys)
    assert code == ExitCode.OK, err
    other = json.loads(out)["id"]
    code, _, err = run([*c, "incidents", "add-alerts", other, extra], capsys)
    assert code == ExitCode.INPUT and f"belongs to incident {inc}" in err
    assert alert_json(config, extra, capsys)["incident"] == inc

    # closing the incident closes its alerts, with the incident as reason, one entry each
    finish_steps(config, inc, capsys)
    code, _, err = run([*c, "incidents", "close", inc, "--outcome", "source blocked",
                        "--actor", "an.nv"], capsys)
    assert code == ExitCode.OK, err
    assert "its alerts too" in err
    for alert_id in (first, second, extra):
        shown = alert_json(config, alert_id, capsys)
        assert shown["status"] == "closed"
        assert shown["reason"] == f"incident {inc} closed: source blocked"
        action, doc = audit_actions(config, alert_id)[-1]
        assert action == "alert.close" and doc["actor"] == "an.nv"
        assert doc["details"]["incident"] == inc
    assert alert_json(config, unrelated, capsys)["status"] == "acknowledged"  # the other's
    code, out, _ = run([*c, "audit", "verify", "--json"], capsys)
    assert code == ExitCode.OK and json.loads(out)["ok"] is True


def test_comments_and_my_alerts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = project(tmp_path, "mps-2026")
    c = ["-c", str(config)]
    mine = more_alert(config, WEBSHELL, "198.51.100.7")
    theirs = more_alert(config, WEBSHELL, "198.51.100.8")
    assert run([*c, "alerts", "assign", mine, "lan.pt", "--actor", "lead"], capsys)[0] == 0
    assert run([*c, "alerts", "assign", theirs, "minh.lq", "--actor", "lead"], capsys)[0] == 0

    code, out, _ = run([*c, "alerts", "list", "--mine", "--actor", "lan.pt", "--json"], capsys)
    assert [a["id"] for a in json.loads(out)] == [mine]
    code, out, _ = run([*c, "alerts", "list", "--assignee", "minh.lq", "--json"], capsys)
    assert [a["id"] for a in json.loads(out)] == [theirs]
    code, _, err = run([*c, "alerts", "list", "--mine", "--assignee", "x"], capsys)
    assert code == ExitCode.INPUT

    hostile = "checked with the owner <script>x</script> \x1b[31m"
    code, _, err = run([*c, "alerts", "comment", mine, hostile, "--actor", "lan.pt"], capsys)
    assert code == ExitCode.OK, err
    assert run([*c, "alerts", "comment", mine, "second", "--actor", "lan.pt"], capsys)[0] == 0
    code, _, err = run([*c, "alerts", "comment", mine, "  "], capsys)
    assert code == ExitCode.INPUT
    shown = alert_json(config, mine, capsys)
    assert [(x["actor"], x["text"]) for x in shown["comments"]] == [  # type: ignore[union-attr]
        ("lan.pt", hostile), ("lan.pt", "second")]
    assert [a for a, _ in audit_actions(config, mine)] == [
        "alert.assign", "alert.comment", "alert.comment"]
    code, out, _ = run([*c, "alerts", "show", mine], capsys)
    assert "== Comments ==" in out and "second" in out
    assert "\x1b" not in out  # what came from a person is escaped like what came from a log


def test_close_where_closes_what_the_query_matches(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = project(tmp_path, "mps-2026")
    c = ["-c", str(config)]
    scanner = [more_alert(config, WEBSHELL, "10.0.5.20", host=f"web{i}") for i in range(3)]
    other_net = more_alert(config, WEBSHELL, "10.0.6.20")
    other_rule = more_alert(config, BRUTE_FORCE, "10.0.5.21")
    where = f"rule_id:{WEBSHELL} AND source.ip:10.0.5.0/24"

    code, out, err = run([*c, "alerts", "close", "--where", where, "--reason", "our scanner",
                          "--dry-run", "--json"], capsys)
    assert code == ExitCode.OK, err
    assert sorted(a["id"] for a in json.loads(out)) == sorted(scanner)
    assert "Would close 3 alert(s)" in err
    assert alert_json(config, scanner[0], capsys)["status"] == "open"  # nothing changed

    code, out, err = run([*c, "alerts", "close", "--where", where, "--reason", "our scanner",
                          "--actor", "lan.pt", "--json"], capsys)
    assert code == ExitCode.OK, err
    assert "Closed 3 alert(s)" in err
    for alert_id in scanner:
        shown = alert_json(config, alert_id, capsys)
        assert shown["status"] == "closed" and shown["reason"] == "our scanner"
        trail = audit_actions(config, alert_id)
        assert len(trail) == 1
        action, doc = trail[0]
        assert action == "alert.close" and doc["details"]["where"] == where
    for alert_id in (other_net, other_rule):
        assert alert_json(config, alert_id, capsys)["status"] == "open"

    # again: closed alerts are not closed twice
    code, _, err = run([*c, "alerts", "close", "--where", where, "--reason", "again"], capsys)
    assert code == ExitCode.OK and "No open alert matches" in err

    # list --where uses the same query
    code, out, _ = run([*c, "alerts", "list", "--where", "host.name:web* OR source.ip:10.0.6.20",
                        "--json"], capsys)
    assert sorted(a["id"] for a in json.loads(out)) == sorted([*scanner, other_net])

    # one of ID and --where; a broken query is a one-line error
    code, _, err = run([*c, "alerts", "close", "--reason", "x"], capsys)
    assert code == ExitCode.INPUT and "give an alert ID or --where" in err
    code, _, err = run([*c, "alerts", "close", "--where", "source.ip:(", "--reason", "x"],
                       capsys)
    assert code == ExitCode.USAGE and "cannot parse query" in err
