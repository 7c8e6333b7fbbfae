"""Tables show times in the configured timezone with the offset; --json and --nl keep UTC."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from soc.cli.main import cli
from soc.cli.output import local_time, table
from soc.config import load_config
from soc.ecs import parse_ts
from soc.models import Alert, Severity
from soc.pipeline.collect import state_path
from soc.state import StateStore
from soc.stores.sqlite import SQLiteStore

SEEN = "2026-11-24T07:03:07.123Z"  # 14:03:07 in Hà Nội (+07), 12:33:07 in Kolkata (+05:30)
EVENT_TS = "2026-11-24T23:59:58.000Z"  # the next day in Hà Nội


def project(tmp_path: Path, zone: str | None) -> Path:
    config = tmp_path / "soc.yml"
    tz_line = f"timezone: {zone}\n" if zone else ""
    config.write_text(f"data_dir: data\n{tz_line}sources:\n"
                      "  - {name: portal-auth, paths: [logs/auth.log]}\n", encoding="utf-8")
    with SQLiteStore.open(load_config(config)) as store:
        store.upsert_alerts([Alert(id="a1b2c3d4e5f60718", rule_id="r-1", rule_title="SSH brute",
                                   severity=Severity.HIGH, first_seen=SEEN, last_seen=SEEN,
                                   count=3, created=SEEN, updated=SEEN)], {})
        store.write_events([{"@timestamp": EVENT_TS, "event.id": "e1",
                             "event.dataset": "linux.auth", "host.name": "web01",
                             "event.original": "sshd: Failed password"}])
    return config


def invoke(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["-c", str(config), *args], catch_exceptions=False)
    assert result.exit_code in (0, 10), result.output
    return result


def test_alerts_table_in_the_configured_zone_json_stays_utc(tmp_path: Path) -> None:
    config = project(tmp_path, "Asia/Kolkata")
    rows = invoke(config, "alerts", "list").stdout.splitlines()
    assert rows[0].split()[:2] == ["ID", "LAST_SEEN"]
    assert rows[1].startswith("a1b2c3d4e5f60718  2026-11-24 12:33:07 +05:30  high")
    assert json.loads(invoke(config, "alerts", "list", "--json").stdout)[0]["last_seen"] == SEEN
    assert json.loads(invoke(config, "alerts", "list", "--nl").stdout)["last_seen"] == SEEN


def test_default_zone_is_ho_chi_minh(tmp_path: Path) -> None:
    config = project(tmp_path, None)
    out = invoke(config, "alerts", "list").stdout
    assert "2026-11-24 14:03:07 +07" in out and SEEN not in out
    shown = invoke(config, "alerts", "show", "a1b2c3d4e5f6").stdout
    assert re.search(r"^first_seen +2026-11-24 14:03:07 \+07$", shown, re.M)


def test_search_table_local_and_the_date_can_change(tmp_path: Path) -> None:
    config = project(tmp_path, "Asia/Ho_Chi_Minh")
    out = invoke(config, "search", "host.name:web01").stdout
    assert "2026-11-25 06:59:58 +07  linux.auth" in out
    assert EVENT_TS not in out
    nl = json.loads(invoke(config, "search", "host.name:web01", "--nl").stdout)
    assert nl["@timestamp"] == EVENT_TS


def test_status_and_audit_tables_are_local(tmp_path: Path) -> None:
    config = project(tmp_path, "America/Sao_Paulo")
    loaded = load_config(config)
    state = StateStore(state_path(loaded))
    state.record_run("portal-auth", start=SEEN, events=2, dead=0, error=None,
                     last_event=SEEN, lag=None)
    last_end = state.runs()["portal-auth"]["last_end"]
    state.close()
    out = invoke(config, "status").stdout
    assert local_time(last_end, ZoneInfo("America/Sao_Paulo")) in out
    assert last_end not in out and " -03" in out
    assert json.loads(invoke(config, "status", "--json").stdout)["sources"][0]["last_pass"] \
        == last_end

    invoke(config, "alerts", "ack", "a1b2c3d4e5f6", "--actor", "an.nv")
    with SQLiteStore.open(loaded, readonly=True) as store:
        ts = store.audit_trail()[0].ts
    audit = invoke(config, "audit", "list").stdout
    assert local_time(ts, ZoneInfo("America/Sao_Paulo")) in audit and ts not in audit


def test_incident_tables_are_local(tmp_path: Path) -> None:
    config = project(tmp_path, "Asia/Kolkata")
    opened = invoke(config, "incidents", "open", "-a", "a1b2c3d4", "--playbook", "brute-force",
                    "--t0", "2026-11-24T07:03:00Z", "--actor", "an.nv", "--json")
    assert json.loads(opened.stdout)["t0"] == "2026-11-24T07:03:00.000Z"
    listed = invoke(config, "incidents", "list").stdout
    assert "2026-11-24 12:33:00 +05:30" in listed and "T07:03" not in listed
    shown = invoke(config, "incidents", "show", "SC-2026-0001").stdout
    assert re.search(r"^t0 +2026-11-24 12:33:00 \+05:30$", shown, re.M)
    assert "T07:03" not in shown and ".000Z" not in shown  # steps, timeline: all local
    steps = json.loads(invoke(config, "incidents", "show", "SC-2026-0001", "--json").stdout)
    for step in steps["steps"]:
        if step["spec"]["kind"] != "report" and step["state"] == "pending":
            invoke(config, "incidents", "step", "SC-2026-0001", step["spec"]["id"], "--skip", "t")
    closed = invoke(config, "incidents", "close", "SC-2026-0001", "--outcome", "blocked",
                    "--actor", "an.nv")
    assert "+05:30" in closed.stderr and "Z." not in closed.stderr


@pytest.mark.parametrize(("zone", "shown"), [
    ("UTC", "2026-11-24 07:03:07 +00"),
    ("Asia/Ho_Chi_Minh", "2026-11-24 14:03:07 +07"),
    ("America/St_Johns", "2026-11-24 03:33:07 -03:30"),
])
def test_local_time_offsets(zone: str, shown: str) -> None:
    assert local_time(SEEN, ZoneInfo(zone)) == shown
    assert local_time(parse_ts(SEEN), ZoneInfo(zone)) == shown


def test_only_whole_timestamps_are_converted() -> None:
    rows = [{"a": SEEN, "b": f"at {SEEN}", "c": "2026-11-24", "d": datetime(2026, 1, 1, tzinfo=UTC),
             "e": "2026-11-24T07:03:07+07:00"}]
    line = table(rows, ["a", "b", "c", "d", "e"], ZoneInfo("Asia/Ho_Chi_Minh")).splitlines()[1]
    assert line.split("  ") == ["2026-11-24 14:03:07 +07", f"at {SEEN}", "2026-11-24",
                                "2026-01-01 07:00:00 +07", "2026-11-24T07:03:07+07:00"]

