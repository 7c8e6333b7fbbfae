"""Alerts a device raised itself (Suricata EVE ``alert`` records) become soc alerts.

The samples are EVE records written from Suricata's documentation of the format (eve-json-format:
``event_type: alert`` with ``alert.signature_id``, ``.signature``, ``.category``, ``.severity``),
with documentation addresses. Through the real CLI: ``soc ingest`` stores one alert per signature,
source, destination and sensor (the signature as title, Suricata's severity 1/2/3 as
high/medium/low, ``kind: device``, rule id ``suricata:<sid>``), ``soc detect`` lists them,
``rules.device_alerts: false`` turns them off, and the tuning disables one by its rule id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soc.cli.main import main
from soc.config import load_config
from soc.stores.sqlite import SQLiteStore

ODD = "ET WEB_SERVER \x1b[31mred\x1b[0m\ttab\u202eevil\u202c " + "A" * 3000  # escapes, 3 KB


def eve(ts: str, event_type: str, **extra: Any) -> str:
    record: dict[str, Any] = {
        "timestamp": f"2026-11-24T{ts}.123456+0700", "flow_id": 1618046337937522,
        "in_iface": "eth1", "event_type": event_type, "src_ip": "203.0.113.5",
        "src_port": 49211, "dest_ip": "198.51.100.20", "dest_port": 80, "proto": "TCP",
        "host": "ids-sensor-01", **extra}
    return json.dumps(record, ensure_ascii=False) + "\n"


def alert(ts: str, sid: int, signature: str, severity: int | None, **extra: Any) -> str:
    body: dict[str, Any] = {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 3,
                            "signature": signature, "category": "A Network Trojan was detected"}
    if severity is not None:
        body["severity"] = severity
    return eve(ts, "alert", alert=body, app_proto="http", **extra)


EVE = "".join([
    alert("09:00:00", 2019401, "ET MALWARE Win32/Agent CnC Beacon", 1),
    alert("09:00:05", 2019401, "ET MALWARE Win32/Agent CnC Beacon", 1),  # a repeat: same alert
    alert("09:00:06", 2019401, "ET MALWARE Win32/Agent CnC Beacon", 1,
          src_ip="203.0.113.6"),  # another source: another alert
    alert("09:01:00", 2013028, "ET POLICY curl User-Agent Outbound", 3),
    alert("09:02:00", 9000001, "LOCAL portal admin page from outside", None),
    alert("09:03:00", 9000002, ODD, 2),
    alert("09:04:00", 2100366, "GPL ICMP_INFO PING *NIX", 4),
    eve("09:05:00", "flow", flow={"pkts_toserver": 5, "pkts_toclient": 4, "bytes_toserver": 420,
                                  "bytes_toclient": 380, "state": "closed"}),
    eve("09:05:01", "dns", dns={"type": "query", "id": 4242, "rrname": "example.gov.vn",
                                "rrtype": "A"}),
])


@pytest.fixture
def case(tmp_path: Path) -> Path:
    (tmp_path / "eve.json").write_text(EVE, encoding="utf-8")
    write_config(tmp_path, "")
    return tmp_path


def write_config(case: Path, rules: str) -> None:
    (case / "soc.yml").write_text(f"data_dir: data\ntimezone: UTC\n{rules}", encoding="utf-8")


def ingest(case: Path) -> list[tuple[str, str, str, str, int, dict[str, Any]]]:
    """``soc ingest`` the EVE file; (rule id, title, severity, kind, count, group) of alerts."""
    assert main(["-c", str(case / "soc.yml"), "ingest", str(case / "eve.json")]) == 0
    with SQLiteStore.open(load_config(case / "soc.yml")) as store:
        return sorted((a.rule_id, a.rule_title, a.severity.value, a.kind, a.count, a.group)
                      for a in store.list_alerts())


GROUP = {"source.ip": "203.0.113.5", "destination.ip": "198.51.100.20",
         "observer.name": "ids-sensor-01"}


def test_ingest_raises_an_alert_per_signature_source_and_destination(case: Path) -> None:
    found = ingest(case)
    assert [f[:5] for f in found] == [
        ("suricata:2013028", "ET POLICY curl User-Agent Outbound", "low", "device", 1),
        ("suricata:2019401", "ET MALWARE Win32/Agent CnC Beacon", "high", "device", 1),
        ("suricata:2019401", "ET MALWARE Win32/Agent CnC Beacon", "high", "device", 2),
        ("suricata:2100366", "GPL ICMP_INFO PING *NIX", "informational", "device", 1),
        ("suricata:9000001", "LOCAL portal admin page from outside", "medium", "device", 1),
        ("suricata:9000002", ODD[:1023] + "…", "medium", "device", 1),
    ]
    assert found[1][5] == {**GROUP, "source.ip": "203.0.113.6"}
    assert found[2][5] == GROUP
    assert main(["-c", str(case / "soc.yml"), "ingest", "--again", str(case / "eve.json")]) == 0
    assert ingest(case) == found  # read again: the same alerts, nothing doubled


def test_detect_lists_the_device_alerts_with_their_signature_and_level(
        case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-c", str(case / "soc.yml"), "detect", "--nl", str(case / "eve.json")])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 10
    assert [(r["rule_id"], r["level"], r["kind"], r["timestamp"]) for r in rows] == [
        ("suricata:2019401", "high", "device", "2026-11-24T02:00:00.123Z"),
        ("suricata:2019401", "high", "device", "2026-11-24T02:00:05.123Z"),
        ("suricata:2019401", "high", "device", "2026-11-24T02:00:06.123Z"),
        ("suricata:2013028", "low", "device", "2026-11-24T02:01:00.123Z"),
        ("suricata:9000001", "medium", "device", "2026-11-24T02:02:00.123Z"),
        ("suricata:9000002", "medium", "device", "2026-11-24T02:03:00.123Z"),
        ("suricata:2100366", "informational", "device", "2026-11-24T02:04:00.123Z"),
    ]
    assert rows[0]["title"] == "ET MALWARE Win32/Agent CnC Beacon"
    assert rows[0]["event"]["rule.category"] == "A Network Trojan was detected"


def test_detect_table_shows_the_odd_signature_escaped(
        case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(case / "soc.yml"), "detect", "--min-level", "medium",
                 str(case / "eve.json")]) == 10
    out = capsys.readouterr().out
    assert "ET MALWARE Win32/Agent CnC Beacon" in out
    assert "ET POLICY curl" not in out  # low: under --min-level
    assert "\x1b" not in out and "\u202e" not in out
    assert "ET WEB_SERVER \\x1b[31mred" in out


def test_device_alerts_can_be_turned_off(case: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    write_config(case, "rules: {device_alerts: false}\n")
    assert ingest(case) == []
    assert main(["-c", str(case / "soc.yml"), "detect", "--nl", str(case / "eve.json")]) == 0
    assert capsys.readouterr().out == ""


def test_the_tuning_disables_a_signature_by_its_rule_id(case: Path) -> None:
    write_config(case, "rules:\n  tuning:\n    disabled: ['suricata:2019401']\n")
    assert [f[0] for f in ingest(case)] == ["suricata:2013028", "suricata:2100366",
                                            "suricata:9000001", "suricata:9000002"]


def test_a_wrong_device_alerts_setting_names_the_key(case: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write_config(case, "rules: {device_alerts: sometimes}\n")
    assert main(["-c", str(case / "soc.yml"), "detect", str(case / "eve.json")]) == 3
    assert "rules: 'device_alerts' must be bool, not 'sometimes'" in capsys.readouterr().err
