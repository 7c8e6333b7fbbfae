"""Issue 14, finding 8: playbook actions take attacker-controlled values as options.

Through the real CLI (``python -m soc``) with a real command: a small script that records its
argument list to a file and fails for the values listed in ``fail.txt``. A user name shaped like an
option is refused and never reaches the command; values are passed after ``--``; a block step over
two addresses runs both, is ``partial`` when one fails, and a re-run retries only that one.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from soc.config import load_config
from soc.errors import ConfigError, ExitCode
from soc.models import Alert, Severity
from soc.response import actions
from soc.response.actions import ParamType, check_value
from soc.response.records import StepRecord, StepState, TargetResult
from soc.stores.sqlite import SQLiteStore

BRUTE_FORCE = "bfc3592f-ef2a-437b-a626-46794a8b9a52"  # rules/linux/lnx_auth_ssh_brute_force.yml
RECORDER = """\
import json, pathlib, sys
here = pathlib.Path(__file__).parent
with (here / "argv.log").open("a", encoding="utf-8") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
fail = here / "fail.txt"
bad = set(fail.read_text(encoding="utf-8").split()) if fail.exists() else set()
if bad & set(sys.argv[1:]):
    print("no route to the firewall", file=sys.stderr)
    sys.exit(2)
"""
CONFIG = """\
data_dir: data
inventory:
  units: [{{id: vp, name: VP}}]
  systems: [{{id: portal, name: Cổng, unit: vp, security_level: 3, hosts: [portal-web01]}}]
incidents:
  actions:
    block-ip:
      command: [{python}, {script}, "{{ip}}"]
      timeout: 20s
    disable-account:
      command: [{python}, {script}, "{{host}}", "{{user}}"]
      timeout: 20s
"""


def alert(n: int, source_ip: str, user: str) -> Alert:
    entity = {"host.name": "portal-web01", "source.ip": source_ip, "labels.system": "portal",
              "organization.id": "vp"}
    return Alert(id=hashlib.md5(f"a{n}".encode()).hexdigest(), rule_id=BRUTE_FORCE,
                 rule_title="SSH Brute Force From One Source", severity=Severity.MEDIUM,
                 first_seen="2026-01-05T08:02:05.000Z", last_seen="2026-01-05T08:06:09.000Z",
                 count=16, entity=entity, tags=("attack.t1110.001",),
                 created="2026-01-05T08:15:42.000Z", updated="2026-01-05T08:15:42.000Z",
                 event={"user.name": user, "event.outcome": "failure"})


class Project:
    """A soc.yml, a store with alerts, and the recording action command."""

    def __init__(self, folder: Path, alerts: list[Alert]) -> None:
        self.folder = folder
        script = folder / "record.py"
        script.write_text(RECORDER, encoding="utf-8")
        self.config = folder / "soc.yml"
        self.config.write_text(CONFIG.format(python=json.dumps(sys.executable),
                                             script=json.dumps(str(script))), encoding="utf-8")
        with SQLiteStore.open(load_config(self.config)) as store:
            store.upsert_alerts(alerts, {})
        self.alerts = [a.id[:8] for a in alerts]

    def soc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "soc", "-c", str(self.config), *args],
                              capture_output=True, text=True, timeout=60, check=False)

    def open(self) -> str:
        opened = self.soc("incidents", "open", *(f"-a{a}" for a in self.alerts), "--playbook",
                          "brute-force", "--actor", "an.nv", "--json")
        assert opened.returncode == ExitCode.OK, opened.stderr
        return str(json.loads(opened.stdout)["id"])

    def show(self, incident: str) -> dict[str, Any]:
        shown = self.soc("incidents", "show", incident, "--json")
        assert shown.returncode == ExitCode.OK, shown.stderr
        doc: dict[str, Any] = json.loads(shown.stdout)
        return doc

    def step(self, incident: str, step: str) -> dict[str, Any]:
        found: dict[str, Any] = next(s for s in self.show(incident)["steps"] if s["spec"]["id"]
                                     == step)
        return found

    def argv_log(self) -> list[list[str]]:
        log = self.folder / "argv.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def one_user(tmp_path: Path) -> Project:
    return Project(tmp_path, [alert(1, "203.0.113.45", "--delete-all-users")])


def test_an_option_shaped_user_name_is_refused_and_never_run(one_user: Project) -> None:
    # 16 failed logins as user '--delete-all-users': before, the command got
    # [..., portal-web01, --delete-all-users]
    inc = one_user.open()
    done = one_user.soc("incidents", "step", inc, "khoa_tai_khoan", "--run", "--allow-actions",
                        "--actor", "an.nv")
    assert done.returncode == ExitCode.ERROR, done.stderr
    reason = "user '--delete-all-users' refused: a user name may not start with '-'"
    assert f"{inc} khoa_tai_khoan: failed (0 of 1 target(s) succeeded; {reason})" in done.stderr
    assert one_user.argv_log() == []  # never run
    step = one_user.step(inc, "khoa_tai_khoan")
    assert step["state"] == "failed"
    assert step["targets"] == [{"params": {"host": "portal-web01", "user": "--delete-all-users"},
                                "state": "refused", "detail": reason, "exit_code": None,
                                "at": step["targets"][0]["at"]}]
    last = one_user.show(inc)["timeline"][-1]
    assert (last["kind"], last["data"]["state"]) == ("action", "failed")


def test_values_are_passed_after_a_double_dash(tmp_path: Path) -> None:
    project = Project(tmp_path, [alert(1, "203.0.113.45", "root")])
    inc = project.open()
    done = project.soc("incidents", "step", inc, "khoa_tai_khoan", "--run", "--allow-actions")
    assert done.returncode == ExitCode.OK, done.stderr
    assert project.argv_log() == [["--", "portal-web01", "root"]]
    assert project.step(inc, "khoa_tai_khoan")["state"] == "done"


def test_a_block_over_two_addresses_is_partial_and_a_rerun_retries_the_failed_one(
        tmp_path: Path) -> None:
    # before: one address was blocked and the step was marked done
    project = Project(tmp_path, [alert(1, "203.0.113.45", "root"),
                                 alert(2, "198.51.100.7", "root")])
    (tmp_path / "fail.txt").write_text("198.51.100.7\n", encoding="utf-8")
    inc = project.open()
    first = project.soc("incidents", "step", inc, "chan_ip_nguon", "--run", "--allow-actions")
    assert first.returncode == ExitCode.PARTIAL, first.stderr
    assert project.argv_log() == [["--", "203.0.113.45"], ["--", "198.51.100.7"]]
    assert (f"{inc} chan_ip_nguon: partial (1 of 2 target(s) succeeded; ip 198.51.100.7: "
            "exit code 2: no route to the firewall)") in first.stderr
    step = project.step(inc, "chan_ip_nguon")
    assert step["state"] == "partial" and step["done_at"] is None
    assert [(t["params"]["ip"], t["state"], t["exit_code"]) for t in step["targets"]] == [
        ("203.0.113.45", "ok", 0), ("198.51.100.7", "failed", 2)]
    shown = project.soc("incidents", "show", inc)
    assert "partial" in shown.stdout and "1 of 2 target(s) succeeded" in shown.stdout
    listed = project.soc("incidents", "list", "--json")
    assert json.loads(listed.stdout)[0]["open_steps"] > 0
    closed = project.soc("incidents", "close", inc, "--outcome", "contained")
    assert closed.returncode == ExitCode.INPUT and "chan_ip_nguon" in closed.stderr

    (tmp_path / "fail.txt").write_text("", encoding="utf-8")
    again = project.soc("incidents", "step", inc, "chan_ip_nguon", "--run", "--allow-actions")
    assert again.returncode == ExitCode.OK, again.stderr
    assert project.argv_log()[2:] == [["--", "198.51.100.7"]]  # only the failed one
    step = project.step(inc, "chan_ip_nguon")
    assert step["state"] == "done" and step["done_at"]
    assert [t["state"] for t in step["targets"]] == ["ok", "ok"]

    trail = project.soc("audit", "list", "--subject", inc, "--json")
    assert [e["action"] for e in json.loads(trail.stdout)].count("incident.action") == 2
    with SQLiteStore.open(load_config(project.config)) as store:
        states = [e.details["after"]["state"] for e in store.audit_trail(inc)
                  if e.action == "incident.action"]
    assert states == ["partial", "done"]
    assert project.soc("audit", "verify").returncode == ExitCode.OK


def test_a_step_whose_targets_all_fail_is_failed(tmp_path: Path) -> None:
    project = Project(tmp_path, [alert(1, "203.0.113.45", "root")])
    (tmp_path / "fail.txt").write_text("203.0.113.45\n", encoding="utf-8")
    inc = project.open()
    done = project.soc("incidents", "step", inc, "chan_ip_nguon", "--run", "--allow-actions")
    assert done.returncode == ExitCode.ERROR
    assert project.step(inc, "chan_ip_nguon")["state"] == "failed"
    again = project.soc("incidents", "step", inc, "chan_ip_nguon", "--run", "--allow-actions")
    assert again.returncode == ExitCode.ERROR  # still failing: retried, still failed
    assert project.argv_log() == [["--", "203.0.113.45"]] * 2


def test_nothing_runs_without_the_operators_permission(one_user: Project) -> None:
    inc = one_user.open()
    done = one_user.soc("incidents", "step", inc, "chan_ip_nguon", "--run")
    assert done.returncode == ExitCode.ERROR
    assert "runs only with --allow-actions" in done.stderr
    assert one_user.argv_log() == []
    assert one_user.step(inc, "chan_ip_nguon")["state"] == "pending"


def test_a_done_step_is_not_run_again(tmp_path: Path) -> None:
    project = Project(tmp_path, [alert(1, "203.0.113.45", "root")])
    inc = project.open()
    assert project.soc("incidents", "step", inc, "chan_ip_nguon", "--run",
                       "--allow-actions").returncode == ExitCode.OK
    again = project.soc("incidents", "step", inc, "chan_ip_nguon", "--run", "--allow-actions")
    assert again.returncode == ExitCode.INPUT
    assert "every target of step chan_ip_nguon already succeeded" in again.stderr
    assert project.argv_log() == [["--", "203.0.113.45"]]
    reopened = project.soc("incidents", "step", inc, "chan_ip_nguon", "--reopen")
    assert reopened.returncode == ExitCode.OK
    assert project.soc("incidents", "step", inc, "chan_ip_nguon", "--run",
                       "--allow-actions").returncode == ExitCode.OK
    assert len(project.argv_log()) == 2


# --- the types of values, and the command's shape -------------------------------------------------


@pytest.mark.parametrize(("kind", "value", "expected"), [
    (ParamType.IP, "203.0.113.45", "203.0.113.45"),
    (ParamType.IP, "2001:DB8::1", "2001:db8::1"),
    (ParamType.CIDR, "198.51.100.0/24", "198.51.100.0/24"),
    (ParamType.CIDR, "198.51.100.7", "198.51.100.7/32"),
    (ParamType.USER, "root", "root"),
    (ParamType.USER, "an.nv@example.gov.vn", "an.nv@example.gov.vn"),
    (ParamType.USER, "svc_backup-01", "svc_backup-01"),
    (ParamType.HOST, "portal-web01.example.gov.vn", "portal-web01.example.gov.vn"),
    (ParamType.HOST, "WEB_01", "WEB_01"),
    (ParamType.HOST, "fe80::1", "fe80::1"),
    (ParamType.TEXT, "phiên đăng nhập lạ", "phiên đăng nhập lạ"),
])
def test_values_that_pass(kind: ParamType, value: str, expected: str) -> None:
    assert check_value(kind, value) == expected


@pytest.mark.parametrize(("kind", "value", "reason"), [
    (ParamType.IP, "203.0.113.045", "not an IP address"),
    (ParamType.IP, "203.0.113.45; reboot", "not an IP address"),
    (ParamType.IP, "0.0.0.0", "the unspecified address"),
    (ParamType.IP, "fe80::1%eth0", "an address with a zone"),
    (ParamType.IP, "198.51.100.0/24", "not an IP address"),
    (ParamType.CIDR, "0.0.0.0/0", "the whole address space"),
    (ParamType.CIDR, "10.0.0.1/33", "not an IP address or network"),
    (ParamType.USER, "--delete-all-users", "a user name may not start with '-'"),
    (ParamType.USER, "root admin", "a user name may hold only"),
    (ParamType.USER, "root\n", "a user name may hold only"),
    (ParamType.USER, "$(reboot)", "a user name may hold only"),
    (ParamType.USER, "a;b", "a user name may hold only"),
    (ParamType.USER, "CORP\\an", "a user name may hold only"),
    (ParamType.USER, "x" * 129, "longer than 128 characters"),
    (ParamType.HOST, "-oProxyCommand=x", "a host name may not start with '-'"),
    (ParamType.HOST, "web01.-evil", "not a host name"),
    (ParamType.HOST, "web 01", "not a host name"),
    (ParamType.HOST, "web01`id`", "not a host name"),
    (ParamType.TEXT, "-rf", "a value may not start with '-'"),
    (ParamType.TEXT, "ok\x1b[2Jcleared", "control character"),
    (ParamType.TEXT, "abc\u202edef", "control character"),
    (ParamType.TEXT, "", "empty"),
])
def test_values_that_are_refused(kind: ParamType, value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace("$", r"\$")):
        check_value(kind, value)


def write_config(tmp_path: Path, actions_yaml: str) -> Path:
    path = tmp_path / "soc.yml"
    path.write_text(f"data_dir: data\nincidents:\n  actions:\n{actions_yaml}", encoding="utf-8")
    return path


@pytest.mark.parametrize(("actions_yaml", "message", "line"), [
    ('    block-ip:\n      command: [iptables, -I, INPUT, -s, "{ip}", -j, DROP]\n',
     "incidents.actions.block-ip.command: '-j' comes after a parameter", 5),
    ('    lock:\n      command: [lockuser, "--user={user}"]\n      params: {user: user}\n',
     "incidents.actions.lock.command: '--user={user}': a parameter must be a whole argument", 5),
    ('    lock:\n      command: [lockuser, "{who}"]\n',
     "incidents.actions.lock: parameter 'who' has no type", 4),
    ('    lock:\n      command: [lockuser, "{who}"]\n      params: {who: login}\n',
     "incidents.actions.lock.params.who: unknown type 'login'", 6),
])
def test_command_shapes_that_are_configuration_errors(tmp_path: Path, actions_yaml: str,
                                                      message: str, line: int) -> None:
    config = load_config(write_config(tmp_path, actions_yaml))
    with pytest.raises(ConfigError) as caught:
        actions.configured_actions(config)
    assert caught.value.message.startswith(message)
    assert caught.value.line == line and caught.value.exit_code == ExitCode.CONFIG


def test_double_dash_is_added_once_and_shipped_names_have_types(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, (
        '    block-ip:\n      command: [fw, --table, soc, "{ip}"]\n'
        '    isolate-host:\n      command: [edr, isolate, --, "{host}"]\n')))
    found = actions.configured_actions(config)
    assert found["block-ip"].params == {"ip": ParamType.IP}
    assert actions.argv(found["block-ip"], {"ip": "203.0.113.45"}) == [
        "fw", "--table", "soc", "--", "203.0.113.45"]
    assert actions.argv(found["isolate-host"], {"host": "web01"}) == [
        "edr", "isolate", "--", "web01"]


def test_step_records_without_targets_keep_their_stored_form() -> None:
    # documents written before per-target results load and save unchanged (the audit hashes them)
    doc = {"spec": {"id": "x", "title": {"vi": "x", "en": "x"}, "kind": "manual", "role": "r"},
           "phase": "ngan_chan", "state": "done", "assignee": None, "reason": None,
           "skipped_by": None, "answer": None, "done_at": "2026-01-05T09:00:00.000Z",
           "auto": False}
    assert StepRecord.from_dict(doc).to_dict() == doc
    rec = StepRecord.from_dict({**doc, "state": "partial", "targets": [
        {"params": {"ip": "1.2.3.4"}, "state": "ok", "detail": "exit code 0", "exit_code": 0,
         "at": "2026-01-05T09:00:00.000Z"}]})
    assert rec.state is StepState.PARTIAL
    assert rec.targets == (TargetResult({"ip": "1.2.3.4"}, "ok", "exit code 0", 0,
                                        "2026-01-05T09:00:00.000Z"),)
