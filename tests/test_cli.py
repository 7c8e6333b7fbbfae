"""The CLI as a user runs it: help everywhere, exit codes, stdout data / stderr messages, --json."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest

from soc.cli.main import cli, main
from soc.ecs import format_ts
from soc.errors import ExitCode


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "soc")
def test_help_for_every_command(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: soc {' '.join(path)}".rstrip())
    assert len(out.splitlines()) > 3


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


AUTH = (
    "Nov 24 08:00:01 portal-web01 sshd[100]: Failed password for root from 203.0.113.45 "
    "port 40000 ssh2\n"
    "Nov 24 08:00:02 portal-web01 sshd[101]: Accepted password for quantri from 203.0.113.45 "
    "port 40001 ssh2\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "auth.log").write_text(AUTH, encoding="utf-8")
    (tmp_path / "soc.yml").write_text(
        "inventory:\n"
        "  units: [{id: vp, name: VP}]\n"
        "  systems:\n"
        "    - {id: portal, unit: vp, security_level: 3, hosts: [portal-web01],"
        " expected_sources: [portal-auth, portal-web]}\n"
        "sources:\n"
        "  - {name: portal-auth, paths: [logs/auth.log*], system: portal,"
        " expected_interval: 1h}\n",
        encoding="utf-8",
    )
    return tmp_path / "soc.yml"


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["collect", "--no-such-flag"], capsys)
    assert code == ExitCode.USAGE
    assert out == ""
    assert "Error: No such option '--no-such-flag'" in err


def test_config_error_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "soc.yml"
    bad.write_text("sources:\n  - name: a\n    tpye: file\n", encoding="utf-8")
    code, out, err = run(["-c", str(bad), "collect"], capsys)
    assert code == ExitCode.CONFIG
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == (f"Error: {bad.resolve()}:3: source #1: unknown key 'tpye' (allowed: "
                        "enabled, expected_interval, name, options, original, parser, path, paths, "
                        "system, type)")
    assert lines[1].startswith("Hint: ")


def test_no_sources_is_a_config_error_with_a_hint(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "soc.yml"
    empty.write_text("{}\n", encoding="utf-8")
    code, _, err = run(["-c", str(empty), "collect"], capsys)
    assert code == ExitCode.CONFIG
    assert "no sources are configured" in err and "soc ingest PATH" in err


def test_unknown_source_exit_7(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["-c", str(project), "collect", "--source", "ghost"], capsys)
    assert code == ExitCode.NOT_FOUND
    assert "no source named 'ghost' (known: portal-auth)" in err


def test_missing_input_exit_8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--data-dir", str(tmp_path / "d"), "ingest", str(tmp_path / "nope.log")],
                       capsys)
    assert code == ExitCode.INPUT
    assert err.startswith("Error: no such file:")


def test_unknown_format_exit_8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "a.log"
    log.write_text(AUTH)
    code, _, err = run(["--data-dir", str(tmp_path / "d"), "ingest", "-f", "klingon", str(log)],
                       capsys)
    assert code == ExitCode.INPUT
    assert "unknown format 'klingon'" in err


def test_readonly_missing_store_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--data-dir", str(tmp_path / "none"), "search", "*"], capsys)
    assert code == ExitCode.STORE
    assert out == "" and err.startswith("Error: ")
    assert "Hint: " in err


def test_collect_is_silent_and_json_parses(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["-c", str(project), "collect"], capsys)
    assert (code, out, err) == (0, "", "")
    (project.parent / "logs" / "auth.log").open("a").write(AUTH.replace("08:00", "08:01"))
    code, out, err = run(["-c", str(project), "collect", "--json"], capsys)
    assert code == 0 and err == ""
    summary = json.loads(out)
    assert summary["ok"] is True
    assert summary["events"] == 2
    assert summary["sources"][0]["source"] == "portal-auth"


def test_verbose_prints_one_summary_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["-c", str(project), "-v", "collect"], capsys)
    assert code == 0 and out == ""
    assert len(err.splitlines()) == 1
    assert "2 new event(s)" in err


def test_dead_letters_give_partial_exit_5(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (project.parent / "logs" / "auth.log").open("ab").write(b"\x00\x01\xfe\xff garbage\n")
    code, out, err = run(["-c", str(project), "collect"], capsys)
    assert code == ExitCode.PARTIAL and out == ""
    assert err.splitlines() == [
        "Warning: source portal-auth: 1 record(s) could not be parsed and were kept as dead "
        "letters. Hint: soc store dead-letters --source 'portal-auth'"
    ]
    code, out, _ = run(["-c", str(project), "store", "dead-letters", "--nl"], capsys)
    letters = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(letters) == 1
    assert letters[0]["source"] == "portal-auth" and letters[0]["reason"]


def test_search_json_and_fields(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-c", str(project), "collect"], capsys)[0] == 0
    code, out, _ = run(["-c", str(project), "search", "user.name:QUANTRI", "--json",
                        "--fields", "user.name,source.ip,labels.system"], capsys)
    assert code == 0
    assert json.loads(out) == [
        {"user.name": "quantri", "source.ip": "203.0.113.45", "labels.system": "portal"}]
    code, out, _ = run(["-c", str(project), "search", "source.ip:203.0.113.45", "--count"],
                       capsys)
    assert (code, out.strip()) == (0, "2")


def test_status_flags_missing_source_exit_10(project: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-c", str(project), "collect"], capsys)[0] == 0
    code, out, err = run(["-c", str(project), "status", "--json"], capsys)
    assert code == ExitCode.FINDINGS
    status = json.loads(out)
    states = {row["source"]: row["state"] for row in status["sources"]}
    assert states == {"portal-auth": "ok", "portal-web": "missing"}
    assert status["store"]["events"] == 2
    assert "Warning: source portal-web is missing" in err


def test_config_show_redacts(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_TEST_PW", "hunter2-secret")
    cfg = tmp_path / "soc.yml"
    cfg.write_text("sources:\n  - name: a\n    paths: [x]\n    options:\n"
                   "      password: {$env: SOC_TEST_PW}\n", encoding="utf-8")
    code, out, _ = run(["-c", str(cfg), "config", "show", "--json"], capsys)
    assert code == 0
    assert "hunter2-secret" not in out
    assert json.loads(out)["sources"][0]["options"]["password"] == "*** ($env: SOC_TEST_PW)"


def test_init_writes_a_loadable_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["init", str(tmp_path)], capsys)
    assert code == 0 and "Wrote" in err
    assert run(["-c", str(tmp_path / "soc.yml"), "config", "check"], capsys)[0] == 0
    code, _, err = run(["init", str(tmp_path)], capsys)
    assert code == ExitCode.ERROR and "Hint: Pass --force" in err


def test_unexpected_errors_say_bug_and_traceback_shows_stack(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("store: {type: embedded}\n", encoding="utf-8")
    (tmp_path / "soc-data").write_text("not a directory")
    code, _, err = run(["-c", str(cfg), "--traceback", "store", "init"], capsys)
    assert code in (ExitCode.STORE, ExitCode.ERROR)
    assert "Traceback (most recent call last)" in err
    assert "Error: " in err


def test_status_flags_a_dead_listen_daemon(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = project.parent / "soc-data"
    data.mkdir(exist_ok=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # a pid nobody has now
    an_hour_ago = format_ts(datetime.now(UTC) - timedelta(hours=1))  # stale on any date
    (data / "listen.json").write_text(json.dumps({
        "state": "running", "pid": int(gone.stdout), "updated": an_hour_ago,
        "listeners": ["tcp 127.0.0.1:5514"], "received": 10, "spooled": 10, "dropped": 0,
        "drain": {"events": 9, "dead_letters": 1}, "spool": {"bytes": 0},
    }))
    code, out, err = run(["-c", str(project), "status", "--json"], capsys)
    assert code == ExitCode.FINDINGS
    listen = json.loads(out)["listen"]
    assert (listen["state"], listen["received"], listen["stored"]) == ("dead", 10, 9)
    assert "Warning: soc listen is dead: not running" in err
