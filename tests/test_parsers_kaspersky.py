"""Kaspersky Security Center's syslog export, and Sigma's ``category: antivirus`` rules on it and
on Microsoft Defender's events. KSC lines written here from Kaspersky's description of the export
(RFC 5424, the event@23668 attributes, the event types of Kaspersky Endpoint Security)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.kaspersky import KasperskyKscParser
from soc.cli.main import main
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
VIRUS = ('<10>1 2026-11-24T01:15:00.000Z wks-kt-07.so.gov.vn KES|12.3.0.493 - '
         'GNRL_EV_VIRUS_FOUND [event@23668 '
         'p1="2D4B2C47C0C94A3A8D4E0E2F7C6B5A4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A8F" '
         'p2="C:\\\\Users\\\\Public\\\\Downloads\\\\mimikatz.exe" '
         'p5="HEUR:Trojan-PSW.Win64.Mimikatz.gen" '
         'p7="SO\\\\nam" et="GNRL_EV_VIRUS_FOUND" tdn="File Threat Protection" '
         'etdn="Malicious object detected" hdn="WKS-KT-07" hip="10.0.5.37" gn="Phong Ke toan" '
         'kscfqdn="ksc01.so.gov.vn"] Result description: Detected\\r\\nType: Trojan program\\r\\n'
         'Name: HEUR:Trojan-PSW.Win64.Mimikatz.gen\\r\\nUser: SO\\nam (Active user)\\r\\n'
         'Object: C:\\Users\\Public\\Downloads\\mimikatz.exe\\r\\nSHA256: '
         '2D4B2C47C0C94A3A8D4E0E2F7C6B5A4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A8F')
ATTACK = ('<10>1 2026-11-24T01:16:00.000Z wks-kt-07.so.gov.vn KES|12.3.0.493 - '
          'GNRL_EV_ATTACK_DETECTED [event@23668 p1="Bruteforce.Generic.Rdp.a" p2="TCP" '
          'p3="3405803781" p4="3389" p6="167773477" et="GNRL_EV_ATTACK_DETECTED" '
          'tdn="Network Threat Protection" etdn="Network attack detected" hdn="WKS-KT-07" '
          'hip="10.0.5.37" gn="Phong Ke toan"] Component: Network Threat Protection\\r\\n'
          'Result description: Blocked\\r\\nName: Bruteforce.Generic.Rdp.a\\r\\n'
          'Object: TCP from 203.0.113.5 at 10.0.5.37:3389')


def pick(ev: Event, *keys: str) -> dict[str, Any]:
    return {k: ev.get(k) for k in keys}


def test_ksc_virus_found() -> None:
    ev = KasperskyKscParser().parse(VIRUS, CTX)
    assert pick(ev, "@timestamp", "event.dataset", "event.module", "event.kind",
                "event.category", "event.code", "event.action", "rule.name", "file.path",
                "file.name", "file.hash.sha256", "user.name", "host.name", "host.ip",
                "destination.ip", "source.ip", "observer.vendor", "observer.product",
                "observer.version", "observer.name", "kaspersky.ksc.component",
                "kaspersky.ksc.group", "kaspersky.ksc.result", "kaspersky.ksc.threat_type") == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "kaspersky.ksc",
        "event.module": "kaspersky", "event.kind": "alert", "event.category": ["malware"],
        "event.code": "GNRL_EV_VIRUS_FOUND", "event.action": "Malicious object detected",
        "rule.name": "HEUR:Trojan-PSW.Win64.Mimikatz.gen",
        "file.path": "C:\\Users\\Public\\Downloads\\mimikatz.exe", "file.name": "mimikatz.exe",
        "file.hash.sha256": "2d4b2c47c0c94a3a8d4e0e2f7c6b5a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f",
        "user.name": "SO\\nam", "host.name": "WKS-KT-07", "host.ip": ["10.0.5.37"],
        "destination.ip": "10.0.5.37", "source.ip": None, "observer.vendor": "Kaspersky",
        "observer.product": "KES", "observer.version": "12.3.0.493",
        "observer.name": "ksc01.so.gov.vn", "kaspersky.ksc.component": "File Threat Protection",
        "kaspersky.ksc.group": "Phong Ke toan", "kaspersky.ksc.result": "Detected",
        "kaspersky.ksc.threat_type": "Trojan program"}


def test_ksc_network_attack_names_the_attacker() -> None:
    ev = KasperskyKscParser().parse(ATTACK, CTX)
    assert pick(ev, "event.category", "rule.name", "source.ip", "destination.ip",
                "destination.port", "network.transport", "file.path") == {
        "event.category": ["intrusion_detection"], "rule.name": "Bruteforce.Generic.Rdp.a",
        "source.ip": "203.0.113.5", "destination.ip": "10.0.5.37", "destination.port": 3389,
        "network.transport": "tcp", "file.path": None}


def test_ksc_localised_description_falls_back_to_the_attributes() -> None:
    """A KSC in Vietnamese translates the labels; p1-p9 still say what happened."""
    local = VIRUS.split("] ")[0] + "] Kết quả: Đã phát hiện\\r\\nĐối tượng: C:\\x.exe"
    ev = KasperskyKscParser().parse(local, CTX)
    assert pick(ev, "rule.name", "file.path", "user.name") == {
        "rule.name": "HEUR:Trojan-PSW.Win64.Mimikatz.gen",
        "file.path": "C:\\Users\\Public\\Downloads\\mimikatz.exe", "user.name": "SO\\nam"}
    attack = ATTACK.split("] ")[0] + "] Tấn công mạng"
    assert pick(KasperskyKscParser().parse(attack, CTX), "source.ip", "destination.port") == {
        "source.ip": "203.0.113.5", "destination.port": 3389}  # p3 is 203.0.113.5 as a number


@pytest.mark.parametrize(("line", "fields"), [
    ('<14>1 2026-11-24T01:15:00Z ksc01 KSC|14.2 - KLSRV_EV_LICENSE_CHECK_90 [event@23668 '
     'et="KLSRV_EV_LICENSE_CHECK_90" etdn="License expires soon" hdn="ksc01" hip="10.0.0.9"] '
     'License expires in 30 days',
     {"event.kind": "event", "event.category": None, "destination.ip": None,
      "host.ip": ["10.0.0.9"]}),
    ('<10>1 2026-11-24T01:15:00Z h KES|12 - GNRL_EV_APPLICATION_LAUNCH_DENIED [event@23668 '
     'et="GNRL_EV_APPLICATION_LAUNCH_DENIED" hdn="WS1" hip="10.0.5.8"] Path to object: '
     'C:\\Temp\\rm.bat\\r\\nResult: Blocked',
     {"event.category": ["process"], "event.type": ["info", "denied"],
      "file.path": "C:\\Temp\\rm.bat", "file.name": "rm.bat"}),
    ('<10>1 2026-11-24T01:15:00Z h WSEE|11 - GNRL_EV_VIRUS_FOUND [event@23668 '
     'et="GNRL_EV_VIRUS_FOUND" hdn="SRV1" hip="10.0.0.4"] Object detected: Virus '
     'EICAR-Test-File\\r\\nObject name: C:\\eicar.com\\r\\nPID: 6464\\r\\n'
     'MD5 file hash: 44D88612FEA8A8F36DE82E1278ABB02F',
     {"rule.name": "EICAR-Test-File", "kaspersky.ksc.threat_type": "Virus",
      "file.path": "C:\\eicar.com", "process.pid": 6464,
      "file.hash.md5": "44d88612fea8a8f36de82e1278abb02f"}),
])
def test_ksc_other_events(line: str, fields: dict[str, Any]) -> None:
    assert pick(KasperskyKscParser().parse(line, CTX), *fields) == fields


@pytest.mark.parametrize("line", [
    "<10>1 2026-11-24T01:15:00Z h KES|12 - X [other@1 a=\"b\"] [event@23668 is text here",
    "[event@23668 et=\"GNRL_EV_VIRUS_FOUND\"] no header",
])
def test_ksc_refusals(line: str) -> None:
    with pytest.raises(ParseError):
        KasperskyKscParser().parse(line, CTX)


def test_auto_detection_takes_ksc_lines() -> None:
    assert get_parser("auto").parse(VIRUS, CTX)["event.dataset"] == "kaspersky.ksc"


# --------------------------------------------------------------------------- category: antivirus

AV_RULES = """\
title: AV hacktool
id: 00000000-0000-4000-8000-0000000aa001
status: test
level: high
logsource: {category: antivirus}
detection:
  sel:
    Signature|contains: [Mimikatz, 'HackTool:']
  condition: sel
---
title: AV file in a public folder
id: 00000000-0000-4000-8000-0000000aa002
status: test
level: medium
logsource: {category: antivirus}
detection:
  sel:
    Filename|contains: ':\\\\Users\\\\Public\\\\'
  condition: sel
"""

DEFENDER = {"@timestamp": "2026-11-24T01:17:00.000Z",
            "winlog": {"channel": "Microsoft-Windows-Windows Defender/Operational",
                       "event_id": 1116, "provider_name": "Microsoft-Windows-Windows Defender",
                       "computer_name": "WKS-KT-08",
                       "event_data": {"Threat Name": "HackTool:Win32/Mimikatz.D",
                                      "Path": "file:_C:\\Users\\Public\\m.exe",
                                      "Action Name": "Quarantine"}}}


def test_antivirus_rules_fire_on_ksc_and_defender_events(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "av.yml").write_text(AV_RULES, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    (tmp_path / "ksc.log").write_text(f"{VIRUS}\n{ATTACK}\n", encoding="utf-8")
    (tmp_path / "defender.jsonl").write_text(json.dumps(DEFENDER) + "\n", encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "-r", str(tmp_path / "rules"),
                 "--nl", str(tmp_path / "ksc.log"), str(tmp_path / "defender.jsonl")])
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 10
    defender = "windows.microsoft_windows_windows_defender_operational"
    assert sorted((f["title"], f["event"]["event.dataset"]) for f in found
                  if f["rule_id"].startswith("00000000-0000-4000-8000-0000000aa")) == [
        ("AV file in a public folder", "kaspersky.ksc"), ("AV file in a public folder", defender),
        ("AV hacktool", "kaspersky.ksc"), ("AV hacktool", defender)]
