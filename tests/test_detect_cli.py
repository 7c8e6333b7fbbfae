"""``soc detect``: offline triage of files, output parsed exactly, exit codes; a corpus EVTX."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from soc.cli.main import main

RULES = """\
title: Failed login
id: 00000000-0000-4000-8000-00000000d001
name: failed
status: test
level: low
tags: [attack.credential-access, attack.t1110]
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_failed_password}
  condition: sel
---
title: Brute force
id: 00000000-0000-4000-8000-00000000d002
status: test
level: high
correlation:
  type: event_count
  rules: [failed]
  generate: true
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3}
---
title: Log cleared
id: 00000000-0000-4000-8000-00000000d003
status: test
level: critical
logsource: {product: windows, service: system}
detection:
  sel: {EventID: 104, Provider_Name: Microsoft-Windows-Eventlog}
  condition: sel
"""

AUTH = "".join(
    f"Nov 24 08:00:0{i} web01 sshd[{100 + i}]: Failed password for root from 203.0.113.45 "
    f"port {40000 + i} ssh2\n" for i in range(1, 5)
) + "Nov 24 08:00:09 web01 sshd[200]: Accepted password for quantri from 10.0.0.5 port 4 ssh2\n"


@pytest.fixture
def case(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(RULES, encoding="utf-8")
    (tmp_path / "auth.log").write_text(AUTH, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    return tmp_path


def detect(case: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-c", str(case / "soc.yml"), "detect", "-r", str(case / "rules"), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_nl_output_is_one_finding_per_line(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = detect(case, capsys, "--nl", str(case / "auth.log"))
    assert code == 10
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(d["rule_id"][-4:], d["level"], d["timestamp"][4:], d["kind"]) for d in lines] == [
        ("d001", "low", "-11-24T08:00:01.000Z", "rule"),
        ("d001", "low", "-11-24T08:00:02.000Z", "rule"),
        ("d002", "high", "-11-24T08:00:03.000Z", "event_count"),  # a timeline: by time, then
        ("d001", "low", "-11-24T08:00:03.000Z", "rule"),  # the most severe first
        ("d001", "low", "-11-24T08:00:04.000Z", "rule"),
    ]
    first, corr = lines[0], lines[2]
    assert list(first) == ["rule_id", "title", "level", "timestamp", "kind", "tags", "entity",
                           "event"]
    assert (first["title"], first["tags"], first["entity"]) == (
        "Failed login", ["attack.credential-access", "attack.t1110"],
        {"host.name": "web01", "user.name": "root", "source.ip": "203.0.113.45"})
    assert first["event"]["event.original"] == AUTH.splitlines()[0]
    assert first["event"]["event.action"] == "ssh_failed_password"
    assert list(corr) == ["rule_id", "title", "level", "timestamp", "kind", "tags", "entity",
                          "group", "count", "window_start", "events", "event"]
    assert (corr["title"], corr["group"], corr["count"], corr["window_start"][4:]) == (
        "Brute force", {"source.ip": "203.0.113.45"}, 3, "-11-24T08:00:01.000Z")
    assert corr["events"] == [d["event"]["event.id"] for d in (lines[0], lines[1], lines[3])]
    assert err == ""


def test_table_json_and_min_level(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = detect(case, capsys, str(case / "auth.log"), "--min-level", "high")
    assert code == 10
    rows = out.splitlines()
    assert rows[0].split() == ["TIMESTAMP", "LEVEL", "RULE", "ENTITY"]
    assert len(rows) == 2 and "Brute force" in rows[1] and "source.ip=203.0.113.45" in rows[1]
    assert any_year(err).splitlines() == [
        "Summary: 1 finding(s): critical 0, high 1, medium 0, low 0, informational 0.",
        "  first Y-11-24 08:00:03 +00, last Y-11-24 08:00:03 +00", "  rules (1):",
        "          1  high          Brute force", "  hosts (1):", "          1  web01",
        "1 file(s), 5 event(s), 1 finding(s), 0 unparsed record(s), 0 error(s) in "
        + err.split(" in ")[1].rstrip("\n")]
    code, out, _ = detect(case, capsys, "--json", str(case / "auth.log"))
    assert code == 10 and len(json.loads(out)) == 5


def test_exit_codes(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quiet = case / "quiet.log"
    quiet.write_text(AUTH.splitlines()[-1] + "\n", encoding="utf-8")
    assert detect(case, capsys, "--nl", str(quiet))[:2] == (0, "")
    garbage = case / "garbage.log"
    garbage.write_bytes(b"\x00\x01 not a log line\n")
    assert detect(case, capsys, "--nl", str(garbage))[0] == 5  # nothing fired, input failed
    code, _, err = detect(case, capsys, str(case / "missing.log"))
    assert code == 8 and err.startswith("Error: no such file:")
    assert detect(case, capsys, "--format", "nosuch", str(quiet))[0] == 8


def test_a_folder_of_files_is_one_timeline(case: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = case / "case42"
    folder.mkdir()
    lines = AUTH.splitlines(keepends=True)
    (folder / "a.log").write_text("".join(lines[:2]), encoding="utf-8")
    (folder / "b.log").write_text("".join(lines[2:]), encoding="utf-8")
    code, out, _ = detect(case, capsys, "--nl", str(folder))
    # the correlation spans the two files: correlations run over the whole scan
    assert code == 10
    assert [json.loads(x)["rule_id"][-4:] for x in out.splitlines()] == [
        "d001", "d001", "d002", "d001", "d001"]
    code, out, _ = detect(case, capsys, "--nl", "--stream", str(folder))
    assert [json.loads(x)["rule_id"][-4:] for x in out.splitlines()] == [
        "d001", "d001", "d001", "d001", "d002"]  # as found: the correlation ends the scan


@pytest.mark.corpus
def test_corpus_evtx(case: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evtx = corpus / "evtx-attack-samples" / "Defense Evasion" / "DE_104_system_log_cleared.evtx"
    code, out, _ = detect(case, capsys, "--nl", str(evtx))
    assert code == 10
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert (line["rule_id"][-4:], line["title"], line["level"], line["timestamp"]) == (
        "d003", "Log cleared", "critical", "2019-03-19T23:34:25.894Z")
    event = line["event"]
    assert (event["winlog.channel"], event["event.code"], event["host.name"],
            event["winlog.record_id"]) == ("System", "104", "PC01.example.corp", 27736)
    assert line["entity"] == {"host.name": "PC01.example.corp"}


def test_only_broken_rules_are_warned_of(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A rule for a platform we collect nothing from is expected (SigmaHQ holds hundreds): only
    -v mentions it. A broken rule file is a warning."""
    (case / "rules" / "cloud.yml").write_text(
        "title: Cloud\nid: 00000000-0000-4000-8000-00000000d004\nstatus: test\nlevel: low\n"
        "logsource: {product: acme-appliance, service: audit}\n"
        "detection: {sel: {eventName: StopLogging}, condition: sel}\n", encoding="utf-8")
    code, _, err = detect(case, capsys, "--json", str(case / "auth.log"))
    assert code == 10 and "Warning" not in err and "do not apply" not in err
    code = main(["-v", "-c", str(case / "soc.yml"), "detect", "-r", str(case / "rules"),
                 "--json", str(case / "auth.log")])
    assert "1 rule(s) do not apply here" in capsys.readouterr().err
    (case / "rules" / "broken.yml").write_text("title: x\nid: [broken\n", encoding="utf-8")
    code, _, err = detect(case, capsys, "--json", str(case / "auth.log"))
    assert [line for line in err.splitlines() if line.startswith("Warning")] == [
        "Warning: 1 rule(s) cannot be used (broken or invalid); see 'soc rules check'."]


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_path_is_a_usage_error_not_the_current_folder(
        case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        empty: str) -> None:
    # an unset shell variable ("$EVIDENCE") used to scan the working directory recursively
    monkeypatch.chdir(case)
    code, out, err = detect(case, capsys, empty)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "Error: an empty path was given",
        "Hint: Name the files or folders to read; a shell variable may be unset (use '.' for the "
        "current folder)."]


def test_ingest_refuses_an_empty_path_too(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-c", str(case / "soc.yml"), "ingest", str(case / "auth.log"), ""])
    assert code == 2 and "Error: an empty path was given" in capsys.readouterr().err
    assert not (case / "data" / "store.db").exists()


def any_year(text: str) -> str:
    """Classic syslog lines have no year: soc takes the current one (tests run a year ahead
    and back too), so the year is left out of what these tests compare."""
    return re.sub(r"\b\d{4}-11-24", "Y-11-24", text)


LONG_TITLE = ("Failed login of a privileged account over SSH from an address outside the "
              "province's networks")


def test_timeline_in_local_time_with_full_titles(case: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rules = case / "rules" / "r.yml"
    rules.write_text(rules.read_text().replace("title: Failed login", f"title: {LONG_TITLE}"))
    code, out, err = detect(case, capsys, "--tz", "Asia/Ho_Chi_Minh", str(case / "auth.log"))
    assert code == 10
    rows = any_year(out).splitlines()
    assert rows[1].startswith("Y-11-24 15:00:01 +07  low ") and LONG_TITLE in rows[1]
    assert [r[:16] for r in rows[1:]] == [
        "Y-11-24 15:00:01", "Y-11-24 15:00:02", "Y-11-24 15:00:03",
        "Y-11-24 15:00:03", "Y-11-24 15:00:04"]
    assert "  first Y-11-24 15:00:01 +07, last Y-11-24 15:00:04 +07" in any_year(err)
    assert f"          4  low           {LONG_TITLE}" in err.splitlines()
    # the most severe rules first in the summary
    assert err.index("Brute force") < err.index(LONG_TITLE)


def test_csv_and_jsonl_timelines(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile = case / "hostile.log"
    hostile.write_text(AUTH.replace("for root", "for invalid user =HYPERLINK(\"http://x\")"),
                       encoding="utf-8")
    code, _, err = detect(case, capsys, "--csv", str(case / "t.csv"), "--jsonl",
                            str(case / "t.jsonl"), "--tz", "Asia/Ho_Chi_Minh", str(hostile))
    assert code == 10
    assert f"Timeline: 5 finding(s) written to {case / 't.csv'}" in err
    with (case / "t.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(any_year(r["timestamp"]), r["level"], r["rule_id"][-4:]) for r in rows] == [
        ("Y-11-24 15:00:01 +07", "low", "d001"), ("Y-11-24 15:00:02 +07", "low", "d001"),
        ("Y-11-24 15:00:03 +07", "high", "d002"), ("Y-11-24 15:00:03 +07", "low", "d001"),
        ("Y-11-24 15:00:04 +07", "low", "d001")]
    first = rows[0]
    assert (any_year(first["timestamp_utc"]), first["host"], first["source_ip"], first["file"],
            first["kind"]) == ("Y-11-24T08:00:01.000Z", "web01", "203.0.113.45",
                               str(hostile), "rule")
    assert first["user"] == "'=HYPERLINK(\"http://x\")"  # never a formula in a spreadsheet
    assert rows[2]["details"].startswith("count=3 ")
    lines = [json.loads(x) for x in (case / "t.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["timestamp_local"] for x in lines] == [r["timestamp"] for r in rows]
    assert lines[0]["entity"]["user.name"] == "=HYPERLINK(\"http://x\")"  # JSON keeps it exact


def test_bad_timeline_options(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = detect(case, capsys, "--tz", "Mars/Olympus", str(case / "auth.log"))
    assert code == 2 and "Error: --tz: unknown time zone 'Mars/Olympus'" in err
    code, _, err = detect(case, capsys, "--stream", "--csv", str(case / "t.csv"),
                          str(case / "auth.log"))
    assert code == 2 and "do not go with --stream" in err
    code, _, err = detect(case, capsys, "--csv", str(case / "nodir" / "t.csv"),
                          str(case / "auth.log"))
    assert code == 8 and f"Error: cannot write {case / 'nodir' / 't.csv'}" in err
