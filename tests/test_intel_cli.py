"""``soc intel`` as a user runs it, on the embedded store: a feed pulled from the national
centre's CSV (Vietnamese headers), events matched in ``soc collect`` and by a Sigma rule that
selects the threat fields ("an IoC address AND a successful login"), ``soc detect`` matching what
was imported, a feed that cannot be reached (one line, exit 5, the others pulled), a broken feed
entry in soc.yml (exit 3 with file and line), list/show/expire/remove, and sightings that parse
as STIX 2.1."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soc.ecs import format_ts

RULE = """\
title: Successful Login From A Threat-Intel Address
id: 5c1d7a52-2d2f-4a43-9a55-9a0b8bba7b11
status: test
logsource: {product: linux, service: auth}
detection:
  selection:
    threat.indicator.matched: true
    event.outcome: success
  condition: selection
level: critical
"""


def soc(cfg: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soc", "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=300, input=stdin)


def line(when: datetime, **fields: object) -> str:
    return json.dumps({"@timestamp": format_ts(when), "event.dataset": "linux.auth",
                       "event.category": ["authentication"], "host.name": "portal-web01",
                       **fields}) + "\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    now = datetime.now(UTC)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "ioc_login.yml").write_text(RULE, encoding="utf-8")
    until = (now + timedelta(days=20)).strftime("%d/%m/%Y")
    (tmp_path / "ioc.csv").write_bytes(
        ("STT;Giá trị;Loại;Độ tin cậy;Mô tả;Ngày hết hạn\r\n"
         f"1;203.0.113.45;Địa chỉ IP;90;Máy chủ dò quét;{until}\r\n"
         f"2;tai-lieu[.]example;Tên miền;70;Lừa đảo;{until}\r\n").encode("utf-8-sig"))
    (tmp_path / "messy.txt").write_text("198.51.100.23\nkhông phải IoC\n", encoding="utf-8")
    t = now - timedelta(minutes=30)
    (tmp_path / "auth.jsonl").write_text(
        line(t, **{"source.ip": "203.0.113.45", "event.outcome": "failure",
                   "user.name": "root"})
        + line(t + timedelta(seconds=5), **{"source.ip": "203.0.113.45",
                                            "event.outcome": "success", "user.name": "quantri"})
        + line(t + timedelta(seconds=9), **{"source.ip": "10.10.0.5",
                                            "event.outcome": "success", "user.name": "an"}),
        encoding="utf-8")
    (tmp_path / "soc.yml").write_text(
        "data_dir: data\n"
        "rules: {paths: [rules]}\n"
        "sources:\n"
        "  - {name: auth, type: file, paths: [auth.jsonl], parser: jsonl}\n"
        "intel:\n"
        "  sightings: {identity: SOC tỉnh Thử nghiệm, system: cong-ttdt, unit: vp-ubnd}\n"
        "  feeds:\n"
        "    - {name: ncsc, type: csv, path: ioc.csv, tlp: amber}\n"
        "    - {name: messy, type: list, path: messy.txt, kind: ipv4}\n"
        "    - {name: offline, type: stix, url: 'https://127.0.0.1:9/bundle.json',"
        " timeout: 2}\n", encoding="utf-8")
    return tmp_path


def test_pull_collect_alert_and_share(folder: Path) -> None:
    cfg = folder / "soc.yml"
    pulled = soc(cfg, "intel", "pull")
    assert pulled.returncode == 5, pulled.stderr  # the offline feed failed, ncsc was pulled
    errors = [ln for ln in pulled.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "feed offline" in errors[0] and "Hint:" in errors[0]
    warnings = [ln for ln in pulled.stderr.splitlines() if ln.startswith("Warning:")]
    assert len(warnings) == 1 and "feed messy: 1 record(s) skipped" in warnings[0]
    listed = json.loads(soc(cfg, "intel", "list", "--json").stdout)
    assert {(r["type"], r["value"], r["confidence"], r["tlp"]) for r in listed} == {
        ("ipv4", "203.0.113.45", 90, "amber"), ("domain", "tai-lieu.example", 70, "amber"),
        ("ipv4", "198.51.100.23", None, None)}
    status = soc(cfg, "status")
    assert status.returncode == 10  # a failing feed is a gap
    assert "Warning: threat-intel feed offline is failing: " in status.stderr
    assert "Intel feed ncsc (csv): ok, last pulled " in status.stderr
    again = soc(cfg, "intel", "pull", "ncsc")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")  # cron: silent

    collected = soc(cfg, "collect")
    assert collected.returncode == 0, collected.stderr
    alerts = json.loads(soc(cfg, "alerts", "list", "--json").stdout)
    titles = sorted(a["rule_title"] for a in alerts)
    assert titles == ["Successful Login From A Threat-Intel Address",
                      "Threat-intel indicator seen: ipv4 203.0.113.45",
                      "Threat-intel indicator seen: ipv4 203.0.113.45"]  # root, then quantri
    hits = soc(cfg, "search", "threat.indicator.provider:ncsc", "--count")
    assert hits.stdout.strip() == "2"

    shared = soc(cfg, "intel", "sightings", "--since", "1d", "--format", "stix")
    assert shared.returncode == 0, shared.stderr
    stix2 = pytest.importorskip("stix2")
    bundle = stix2.parse(shared.stdout, allow_custom=False)
    sightings = [o for o in bundle.objects if o.type == "sighting"]
    assert len(sightings) == 1 and sightings[0].count == 2
    table = soc(cfg, "intel", "sightings", "--since", "1d", "--format", "csv")
    rows = table.stdout.lstrip("\ufeff").splitlines()
    assert rows[0].startswith("STT,Chỉ số IoC,Loại")
    assert rows[1].split(",")[1:3] == ["203.0.113.45", "IPv4"]
    assert rows[1].split(",")[-2:] == ["cong-ttdt", "vp-ubnd"]


def test_detect_matches_what_was_imported_and_expire_stops_it(folder: Path) -> None:
    cfg = folder / "soc.yml"
    added = soc(cfg, "intel", "add", "-", "--source", "manual", "--kind", "ipv4",
                stdin="# a plain list\n203.0.113.45\n")
    assert added.returncode == 0, added.stderr
    found = soc(cfg, "detect", "--json", str(folder / "auth.jsonl"))
    assert found.returncode == 10, found.stderr
    rules = sorted(f["rule_id"] for f in json.loads(found.stdout))
    assert rules.count("intel-match") == 2
    shown = json.loads(soc(cfg, "intel", "show", "ipv4:203.0.113.45", "--json").stdout)
    assert shown["live"] is True and [s["source"] for s in shown["sources"]] == ["manual"]
    assert soc(cfg, "intel", "expire", "203.0.113.45").returncode == 0
    after = soc(cfg, "detect", "--json", str(folder / "auth.jsonl"))
    assert "intel-match" not in after.stdout
    assert json.loads(soc(cfg, "intel", "list", "--json").stdout) == []
    assert len(json.loads(soc(cfg, "intel", "list", "--all", "--json").stdout)) == 1
    gone = soc(cfg, "intel", "remove", "203.0.113.45")
    assert gone.returncode == 0
    assert json.loads(soc(cfg, "intel", "list", "--all", "--json").stdout) == []


def test_a_broken_feed_entry_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\nintel:\n  feeds:\n    - name: x\n      type: rss\n"
                   "      url: https://ti.example/x\n", encoding="utf-8")
    done = soc(cfg, "intel", "pull")
    assert done.returncode == 3
    assert "soc.yml:5" in done.stderr and "stix, taxii" in done.stderr
