"""``soc audit verify`` names alerts whose stored status or assignee disagree with the trail
(an alert edited directly in the SQLite file), and stays quiet when detection widens an alert."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from soc.alerts import AlertSink, Finding
from soc.cli.main import main
from soc.config import load_config
from soc.errors import ExitCode
from soc.models import Alert, Severity
from soc.stores.sqlite import SQLiteStore

SEEN = "2026-11-24T07:03:07.000Z"
IDS = ("a" * 32, "b" * 32, "c" * 32)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "soc.yml"
    path.write_text("data_dir: data\n", encoding="utf-8")
    with SQLiteStore.open(load_config(path)) as store:
        store.upsert_alerts([Alert(id=i, rule_id="r-1", rule_title="SSH brute",
                                   severity=Severity.HIGH, first_seen=SEEN, last_seen=SEEN,
                                   created=SEEN, updated=SEEN) for i in IDS], {})
    return path


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-c", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def verify(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code, out, err = run(config, capsys, "audit", "verify", "--json")
    problems = [p["problem"] for p in json.loads(out)["problems"]]
    assert [line.removeprefix("BROKEN: ") for line in err.splitlines()
            if line.startswith("BROKEN: ")] == problems
    return code, problems


def edit(config: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(load_config(config).data_dir / "store.db")
    with db:
        db.execute(sql, params)
    db.close()


def triage(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, _ = IDS
    assert run(config, capsys, "alerts", "ack", a[:8], "--actor", "an.nv")[0] == 0
    assert run(config, capsys, "alerts", "assign", a[:8], "binh.tt", "--actor", "an.nv")[0] == 0
    assert run(config, capsys, "alerts", "close", b[:8], "--reason", "fp",
               "--actor", "an.nv")[0] == 0


def test_audited_changes_verify(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    triage(config, capsys)
    assert verify(config, capsys) == (ExitCode.OK, [])


def test_status_edited_in_sqlite_is_named(config: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    triage(config, capsys)
    a = IDS[0]
    edit(config, "UPDATE alerts SET status = 'closed', doc = json_set(doc, '$.status', 'closed') "
                 "WHERE id = ?", a)
    code, problems = verify(config, capsys)
    assert code == ExitCode.FINDINGS
    assert problems == [f"alert {a} differs from its state after entry #2 (alert.assign) in "
                        'status (now "closed"): it was changed outside soc']


def test_assignee_of_an_unaudited_alert_is_named(config: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    triage(config, capsys)
    c = IDS[2]
    edit(config, "UPDATE alerts SET doc = json_set(doc, '$.assignee', 'mallory') WHERE id = ?", c)
    code, problems = verify(config, capsys)
    assert code == ExitCode.FINDINGS
    # the assignee is also an indexed column (the queue's filter): the document alone edited
    # disagrees with it too
    assert sorted(problems) == sorted([
        f"alert {c} is stored with assignee None but its document says 'mallory': it was "
        "changed outside soc",
        f"alert {c} has assignee 'mallory' but no audited change set it (a new alert is open "
        "and unassigned): it was changed outside soc"])


def test_reassigned_behind_socs_back_and_indexed_status_edited(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    triage(config, capsys)
    a, b, _ = IDS
    edit(config, "UPDATE alerts SET doc = json_set(doc, '$.assignee', 'mallory') WHERE id = ?", a)
    edit(config, "UPDATE alerts SET status = 'open' WHERE id = ?", b)  # only the listed column
    code, problems = verify(config, capsys)
    assert code == ExitCode.FINDINGS
    assert sorted(problems) == sorted([
        f"alert {a} differs from its state after entry #2 (alert.assign) in assignee (now "
        '"mallory"): it was changed outside soc',
        f"alert {a} is stored with assignee 'binh.tt' but its document says 'mallory': it was "
        "changed outside soc",
        f"alert {b} is stored with status 'open' but its document says 'closed': it was "
        "changed outside soc",
    ])


def test_detection_widening_an_acknowledged_alert_is_not_a_problem(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    later = "2026-11-24T07:20:00.000Z"
    # the same rule and group within the suppression window: the stored alert grows
    finding = Finding(rule_id="r-1", title="SSH brute", level=Severity.HIGH, tags=(),
                      ts=later, anchor=later, group={}, entity={},
                      triggers=(("e-late", later),))
    with SQLiteStore.open(load_config(config)) as store:
        old = store.get_alert(IDS[0])
        assert old is not None
        store.upsert_alerts([replace(old, dedup=finding.dedup)], {})  # as detection raised it
    triage(config, capsys)
    with SQLiteStore.open(load_config(config)) as store:
        result = AlertSink(store).raise_alerts([finding])
        assert not result.new
        grown = store.get_alert(IDS[0])
        assert grown is not None and grown.last_seen == later and grown.status.value == \
            "acknowledged"
    assert verify(config, capsys) == (ExitCode.OK, [])
