"""Issue 15's acceptance, as an analyst's day in real processes (``python -m soc``) on a real
store: collect; tune out the noise of our own vulnerability scanner with an exception and close
what it already raised in bulk; collect again (the scanner raises nothing, the attacker does);
open an incident from the attacker's alerts, add the later one, work and close it; its alerts are
closed, each with an audit entry naming the incident; the weekly report counts the alerts raised
this week and the incident.

The log's times are taken from the clock (two hours ago and on), so the test means the same
on any day, and under libfaketime."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FAILED_LOGIN = "36ff227e-1995-4b3b-9f2b-bf3e9f807b15"  # rules/linux/lnx_auth_ssh_failed_login.yml
BRUTE_FORCE = "bfc3592f-ef2a-437b-a626-46794a8b9a52"
SUCCESS_AFTER = "0a623f17-f72b-462e-8d4c-d45f282ce578"
USER_CREATED = "975df214-37e7-46ac-91fa-7afb5576c602"
SCANNER, ATTACKER = "10.0.5.20", "203.0.113.45"

CONFIG = """\
data_dir: data
timezone: UTC
inventory:
  units:
    - id: vp-ubnd
      name: Văn phòng UBND tỉnh
      contacts: [{role: owner, name: Chánh Văn phòng, email: vanphong@example.gov.vn}]
  systems:
    - {id: cong-ttdt, name: Cổng thông tin điện tử tỉnh, unit: vp-ubnd, security_level: 3,
       hosts: [portal-web01]}
sources:
  - {name: auth, paths: [logs/auth.log]}
"""


class Day:
    def __init__(self, tmp_path: Path) -> None:
        self.config = tmp_path / "soc.yml"
        self.config.write_text(CONFIG, encoding="utf-8")
        (tmp_path / "logs").mkdir()
        self.log = tmp_path / "logs" / "auth.log"
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        self.pid = 20_000

    def soc(self, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        proc = subprocess.run([sys.executable, "-m", "soc", "-c", str(self.config), *args],
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode in ok, f"{args}: exit {proc.returncode}\n{proc.stderr}"
        return proc.stdout

    def json(self, *args: str, ok: tuple[int, ...] = (0,)) -> Any:
        return json.loads(self.soc(*args, "--json", ok=ok))

    def write(self, minute: int, lines: list[str]) -> None:
        """Lines of sshd/useradd at ``start + minute`` (one second apart)."""
        with self.log.open("a", encoding="utf-8") as fh:
            for i, text in enumerate(lines):
                at = self.start + timedelta(minutes=minute, seconds=i)
                self.pid += 1
                line = text.format(pid=self.pid)
                fh.write(f"{at:%b} {at.day:2d} {at:%H:%M:%S} portal-web01 {line}\n")

    def failures(self, ip: str, n: int) -> list[str]:
        return [f"sshd[{{pid}}]: Failed password for invalid user admin{i} from {ip} port "
                f"{40000 + i} ssh2" for i in range(n)]

    def alerts(self, *args: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json("alerts", "list", "-n", "0", *args)
        return found

    def by_rule(self, rule: str, ip: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if a["rule_id"] == rule
                and (ip is None or a["entity"].get("source.ip") == ip)]


def test_an_analysts_day(tmp_path: Path) -> None:
    day = Day(tmp_path)
    # the scanner's nightly sweep and an attacker who gets in
    day.write(0, day.failures(SCANNER, 30))
    day.write(5, [*day.failures(ATTACKER, 25),
                  f"sshd[{{pid}}]: Accepted password for quantri from {ATTACKER} port 41999 "
                  "ssh2"])
    day.soc("collect")
    assert day.by_rule(BRUTE_FORCE, SCANNER)  # the noise: our scanner looks like an attack
    assert day.by_rule(BRUTE_FORCE, ATTACKER) and day.by_rule(SUCCESS_AFTER, ATTACKER)
    raised_first = len(day.alerts())

    # tune: the scanner's failed logins are expected, so they count towards no brute force
    day.soc("rules", "except", FAILED_LOGIN, "--where", f"source.ip={SCANNER}", "--reason",
            "our vulnerability scanner, ticket 2026-118", "--actor", "lan.pt")
    tuning = day.soc("rules", "tuning")
    assert SCANNER in tuning and "our vulnerability scanner" in tuning
    # ... and what it already raised goes in bulk, one audit entry per alert
    closed = day.json("alerts", "close", "--where", f"source.ip:{SCANNER}", "--reason",
                      "our vulnerability scanner, ticket 2026-118", "--actor", "lan.pt")
    scanner_ids = {a["id"] for a in closed}
    assert scanner_ids == {a["id"] for a in day.alerts("--where", f"source.ip:{SCANNER}")}
    assert len(scanner_ids) == 1

    # the next pass: the scanner again (nothing raised), the attacker creates an account
    day.write(30, day.failures(SCANNER, 30))
    day.write(40, ["useradd[{pid}]: new user: name=backup1, UID=1002, GID=1002, "
                   "home=/home/backup1, shell=/bin/bash, from=/dev/pts/0"])
    day.soc("collect")
    assert {a["id"] for a in day.alerts("--where", f"source.ip:{SCANNER}")} == scanner_ids
    assert all(a["status"] == "closed" for a in day.alerts("--where", f"source.ip:{SCANNER}"))
    (created,) = day.by_rule(USER_CREATED)
    assert len(day.alerts()) == raised_first + 1

    # an incident from the attacker's alerts, then the later one
    attack = [a["id"] for a in (*day.by_rule(BRUTE_FORCE, ATTACKER),
                                *day.by_rule(SUCCESS_AFTER, ATTACKER))]
    opened = day.json("incidents", "open", *(x for a in attack for x in ("-a", a)),
                      "--actor", "an.nv")
    inc = opened["id"]
    day.soc("incidents", "add-alerts", inc, created["id"], "--actor", "an.nv")
    shown = day.json("incidents", "show", inc)
    assert shown["alerts"] == [*attack, created["id"]]
    assert ATTACKER in shown["entities"]["source.ip"]
    mine = day.alerts("--incident", inc)
    assert {a["id"] for a in mine} == {*attack, created["id"]}
    assert all(a["status"] == "acknowledged" for a in mine)

    for step in shown["steps"]:
        if step["state"] == "pending" and step["spec"]["kind"] not in ("report", "decision"):
            day.soc("incidents", "step", inc, step["spec"]["id"], "--done", "--actor", "an.nv")
        elif step["state"] == "pending" and step["spec"]["kind"] == "decision":
            day.soc("incidents", "step", inc, step["spec"]["id"], "--answer", "ordinary",
                    "--actor", "an.nv")
    day.soc("incidents", "close", inc, "--outcome", "account removed, source blocked",
            "--actor", "an.nv")
    for alert_id in (*attack, created["id"]):
        alert = day.json("alerts", "show", alert_id)
        assert alert["status"] == "closed"
        assert alert["reason"] == f"incident {inc} closed: account removed, source blocked"
        last = alert["audit"][-1]
        assert (last["action"], last["actor"]) == ("alert.close", "an.nv")
        assert last["details"]["incident"] == inc
    assert day.json("audit", "verify")["ok"] is True

    # the week's report counts the alerts raised this week (by when they were raised)
    year, week, _ = datetime.now(UTC).isocalendar()
    report = day.json("report", "weekly", "--period", f"{year}-W{week:02d}")
    kpis = report["sections"][0]["kpis"]
    assert kpis["Cảnh báo phát sinh trong kỳ"] == str(len(day.alerts()))  # all raised today
    assert kpis["Cảnh báo mức cao, nghiêm trọng"] == "1"  # the success after the brute force
    assert kpis["Sự cố (mới / đã kết thúc)"] == "1 / 1"
    assert "giờ UTC+0" in report["sections"][0]["text"]  # the configured zone, not UTC+7's name
