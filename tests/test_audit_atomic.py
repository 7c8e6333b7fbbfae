"""On the embedded store an audited change and its audit entry are one transaction: both or
neither. A real SQLite trigger makes the audit insert fail; another real connection watches what
is committed at every statement of a change."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from soc import alerts, audit
from soc.cli.main import main
from soc.config import Config, load_config
from soc.errors import ExitCode, StoreError
from soc.models import Alert, AlertStatus, Severity
from soc.response import incidents as lib
from soc.response.playbooks import load_playbooks
from soc.response.profiles import load_profile
from soc.stores.sqlite import SQLiteStore

SEEN = "2026-11-24T07:03:07.000Z"
AID = "a" * 32
AUDIT_DOWN = ("CREATE TRIGGER audit_down BEFORE INSERT ON audit "
              "BEGIN SELECT RAISE(ABORT, 'audit down'); END")
AUDIT_UP = "DROP TRIGGER audit_down"


def sql(db_path: Path, statement: str) -> None:
    """One statement from another connection, as someone at the SQLite file would run it."""
    db = sqlite3.connect(db_path)
    with db:
        db.execute(statement)
    db.close()


def rows(db_path: Path) -> tuple[list[tuple[object, ...]], ...]:
    """Every alert, incident and audit row as stored (versions and documents)."""
    db = sqlite3.connect(db_path)
    try:
        return tuple(db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                     for table in ("alerts", "incidents", "audit"))
    finally:
        db.close()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "soc.yml"
    path.write_text("data_dir: data\n", encoding="utf-8")
    config = load_config(path)
    with SQLiteStore.open(config) as store:
        store.upsert_alerts([Alert(id=AID, rule_id="r-1", rule_title="SSH brute",
                                   severity=Severity.HIGH, first_seen=SEEN, last_seen=SEEN,
                                   created=SEEN, updated=SEEN)], {})
    return config


def db_of(config: Config) -> Path:
    return Path(config.data_dir) / "store.db"


def test_an_ack_whose_audit_entry_fails_changes_nothing(config: Config,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    db = db_of(config)
    before = rows(db)
    sql(db, AUDIT_DOWN)
    assert config.path is not None
    code = main(["-c", str(config.path), "alerts", "ack", AID[:8], "--actor", "an.nv"])
    _, err = capsys.readouterr()
    assert rows(db) == before  # the alert as it was, no entry
    assert code == ExitCode.STORE
    assert err.splitlines() == [
        f"Error: cannot write the audit entry, so nothing was changed: audit down ({db})",
        "Hint: Run 'soc store doctor' to check the store."]
    assert audit.read_head(Path(config.data_dir)) is None
    sql(db, AUDIT_UP)
    assert main(["-c", str(config.path), "audit", "verify"]) == ExitCode.OK
    assert main(["-c", str(config.path), "alerts", "ack", AID[:8], "--actor", "an.nv"]) == 0
    assert main(["-c", str(config.path), "audit", "verify"]) == ExitCode.OK


def test_the_same_handle_redoes_a_change_that_failed_whole(config: Config) -> None:
    data_dir, db = Path(config.data_dir), db_of(config)
    with SQLiteStore.open(config) as store:
        alerts.acknowledge(store, AID, "lan", data_dir=data_dir)
        head = audit.read_head(data_dir)
        sql(db, AUDIT_DOWN)
        with pytest.raises(StoreError) as failed:
            alerts.assign(store, AID, "binh", "lan", data_dir=data_dir)
        stored = store.get_alert(AID)
        assert stored is not None and stored.assignee is None
        assert stored.status is AlertStatus.ACKNOWLEDGED
        assert [e.action for e in store.audit_trail()] == ["alert.ack"]
        assert audit.read_head(data_dir) == head
        assert str(failed.value) == ("cannot write the audit entry, so nothing was changed: "
                                     f"audit down ({db})")
        sql(db, AUDIT_UP)
        # the rolled-back write left this handle at the version it read: no false conflict
        assigned = alerts.assign(store, AID, "binh", "lan", data_dir=data_dir)
        assert assigned.assignee == "binh"
        result = audit.verify_store(store, data_dir)
        assert result.problems == () and result.entries == 2
        assert result.head == audit.read_head(data_dir)


INCIDENTS = """\
data_dir: data
profile: mps-2026
inventory:
  units: [{id: vp, name: VP, contacts: [{role: owner, email: o@example.gov.vn}]}]
  systems: [{id: portal, name: Portal, unit: vp, security_level: 3, hosts: [web01]}]
"""


def incident_config(tmp_path: Path) -> Config:
    path = tmp_path / "soc.yml"
    path.write_text(INCIDENTS, encoding="utf-8")
    config = load_config(path)
    with SQLiteStore.open(config) as store:
        store.upsert_alerts([Alert(
            id=AID, rule_id="r-1", rule_title="brute force", severity=Severity.MEDIUM,
            first_seen=SEEN, last_seen=SEEN, entity={"host.name": "web01"}, created=SEEN)], {})
    return config


def open_incident(store: SQLiteStore, config: Config) -> lib.Incident:
    req = lib.OpenRequest(alert_ids=(AID[:8],), actor="an.nv", playbook="brute-force")
    return lib.open_incident(store, config, load_playbooks(), load_profile("mps-2026"), req)


def test_an_incident_change_whose_audit_entry_fails_changes_nothing(tmp_path: Path) -> None:
    config = incident_config(tmp_path)
    data_dir, db = Path(config.data_dir), db_of(config)
    with SQLiteStore.open(config) as store:
        inc = open_incident(store, config)
        before, head = rows(db), audit.read_head(data_dir)
        sql(db, AUDIT_DOWN)
        with pytest.raises(StoreError) as failed:
            lib.add_note(store, config, inc.id, "called the owner", "an.nv")
        assert rows(db) == before  # the incident as it was, no entry
        assert audit.read_head(data_dir) == head
        assert str(failed.value) == ("cannot write the audit entry, so nothing was changed: "
                                     f"audit down ({db})")
        sql(db, AUDIT_UP)
        noted = lib.add_note(store, config, inc.id, "called the owner", "an.nv")
        assert noted.timeline[-1].text == "called the owner"
        result = audit.verify_store(store, data_dir)
        assert result.problems == () and result.entries == 3  # open, its alert tied, note
        assert result.counts == {"incident": 2, "alert": 1}
        assert store.audit_trail()[-1].details[audit.STATE] == audit.state_hash(
            json.loads(json.dumps(noted.to_dict())))


def test_no_other_connection_sees_a_change_without_its_entry(tmp_path: Path) -> None:
    """At the start of every statement the changing handle runs, another connection verifies
    what is committed: a change stored before its entry (where a crash loses the entry, and
    where another process's whole change can slip in between) is caught."""
    config = incident_config(tmp_path)
    data_dir = Path(config.data_dir)
    problems: list[tuple[str, tuple[audit.Problem, ...]]] = []
    with SQLiteStore.open(config) as store, SQLiteStore.open(config, readonly=True) as other:
        inc = open_incident(store, config)

        def look(statement: str) -> None:  # exceptions in a trace callback are swallowed
            problems.append((statement[:40], audit.verify_store(other).problems))

        store.db.set_trace_callback(look)
        alerts.acknowledge(store, AID, "lan", data_dir=data_dir)
        alerts.assign(store, AID, "binh", "lan", data_dir=data_dir)
        lib.add_note(store, config, inc.id, "called the owner", "an.nv")
        store.db.set_trace_callback(None)
        assert len(problems) > 10
        assert [(at, found) for at, found in problems if found] == []
        assert audit.verify_store(store, data_dir).ok
