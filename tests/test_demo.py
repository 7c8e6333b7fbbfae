"""`soc demo`, as a user runs it: the whole story is collected, detected, opened, reported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from soc.config import DEFAULT_TIMEZONE
from soc.ecs import parse_ts

EXPECTED_ALERTS = {
    "SSH Brute Force From One Source",
    "SSH Login Succeeds After Brute Force From The Same Source",
    "Linux Local User Created",
    "Linux User Added To A Privileged Group",
    "Web Vulnerability Scanner Or Attack Tool",
    "SQL Injection In A Request Parameter (libinjection)",
    "Local File Inclusion Or OS File Access In A Request",
    "Cross-Site Scripting In A Request Parameter (libinjection)",
    "OS Command Injection In A Request",  # the webshell's cmd=whoami
    "Webshell Access Pattern",
    "Internet Connection To A Management Port Denied",
    "Port Scan From One Source",
    "Half-Open TCP Connection (SYN Scan Probe)",
    "New Windows Service Installed",
    "Windows Service Installed Running A Shell Or From A Writable Folder",
    "Windows Security Audit Log Cleared",
    "Threat-intel indicator seen: ipv4 203.0.113.45",  # the national centre's list (its CSV)
}


def test_soc_demo_tells_the_whole_story(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "soc", "demo", "--dir", str(folder), "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["datasets"] == {"apache.access": 8, "fortigate.traffic": 5,
                                   "linux.auth": 80, "network.flow": 118,
                                   "windows.security": 2, "windows.system": 1}
    assert "0 dead letter(s), 0 error(s)" in summary["collected"]
    assert {a["rule_title"] for a in summary["alerts"]} == EXPECTED_ALERTS
    alerts = subprocess.run([sys.executable, "-m", "soc", "-c", str(folder / "soc.yml"),
                             "alerts", "list", "--nl"], capture_output=True, text=True,
                            timeout=120)
    titles = {json.loads(line)["rule_title"] for line in alerts.stdout.splitlines()}
    assert titles == EXPECTED_ALERTS
    # the register year is T0's (local), and T0 is when the demo runs: read it, never assume it
    year = parse_ts(summary["incident"]["t0"]).astimezone(ZoneInfo(DEFAULT_TIMEZONE)).year
    assert (summary["incident"]["id"], summary["incident"]["playbook"]) == (
        f"SC-{year}-0001", "public-app-exploit")
    assert sorted(Path(p).suffix for p in summary["reports"]) == [
        ".docx", ".docx", ".html", ".html"]
    assert all(Path(p).stat().st_size > 1000 for p in summary["reports"])


def test_soc_demo_as_printed_for_the_user(tmp_path: Path) -> None:
    """The table output (what `soc demo` prints by default) names every alert and shows times in
    the demo's zone (Asia/Ho_Chi_Minh), the incident's T0 included."""
    done = subprocess.run([sys.executable, "-m", "soc", "demo", "--dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for heading in ("== Failed SSH logins by source ==", "== Alerts ==",
                    "== Reports due under profile mps-2026 =="):
        assert heading in out
    assert [t for t in EXPECTED_ALERTS if t not in out] == [], out
    (t0_line,) = [line for line in out.splitlines() if line.startswith("== Incident ")]
    assert re.search(r"T0 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+07: next steps ==$", t0_line), t0_line
    assert "Z: next steps" not in out


def test_soc_demo_shows_what_would_have_been_sent(tmp_path: Path) -> None:
    """The demo routes everything to a file channel under its folder, delivers the outbox and
    says how many messages went, the first subjects and where the file is."""
    folder = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "soc", "demo", "--dir", str(folder), "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    told = summary["notifications"]
    sent = folder / "soc-data" / "notify" / "sent.jsonl"
    assert told["path"] == str(sent)
    lines = [json.loads(line) for line in sent.read_text(encoding="utf-8").splitlines()]
    kinds = [m["kind"] for m in lines]
    # every alert, the incident, and the intel alert of the attacker's 100-odd flows growing
    assert told["count"] == len(lines) == len(summary["alerts"]) + 1 + kinds.count(
        "alert.grown")
    assert sorted(set(kinds)) == ["alert.grown", "alert.new", "incident.opened"]
    assert told["subjects"] == [m["subject"] for m in lines[:2]]
    assert all("Cảnh báo mới / New alert: " in s for s in told["subjects"])
    table = subprocess.run([sys.executable, "-m", "soc", "demo", "--dir", str(tmp_path / "t")],
                           capture_output=True, text=True, timeout=600)
    assert f"== Notifications that would have been sent: {len(lines)} " in table.stdout
    assert f"- {told['subjects'][0]}" in table.stdout
    assert str(tmp_path / "t" / "soc-data" / "notify" / "sent.jsonl") in table.stdout
