"""CEF (ArcSight Common Event Format): header and extension escapes, ECS mapping, device times,
antivirus detections and Sigma's ``category: antivirus``. Lines written here from the CEF spec
(revision 25) and the vendors' published CEF field tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.cef import CefParser
from soc import registry
from soc.cli.main import main
from soc.errors import ParseError
from soc.pipeline.parsing import AutoParser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
NOW = "2026-11-24T03:00:00.000Z"

FIREWALL = (
    "<134>Nov 24 08:15:00 fw-hq CEF:0|Fortinet|FortiGate|7.2|0000000013|traffic:forward deny|5|"
    "src=10.10.1.5 spt=51234 dst=203.0.113.10 dpt=443 proto=6 act=deny suser=Nguyen Van A "
    "deviceInboundInterface=port1 deviceOutboundInterface=wan1 cs1Label=Policy Name "
    "cs1=Chan IoT msg=Blocked by policy rt=Nov 24 2026 08:14:59 "
    "sourceTranslatedAddress=198.51.100.7 sourceTranslatedPort=40001")
LOGON = ("<13>1 2026-11-24T01:15:00.250Z relay01 arcsight - - - CEF:0|Microsoft|Windows|10|4625|"
         "An account failed to log on|5|src=203.0.113.9 duser=administrator dvchost=DC01 "
         "outcome=Failure")
WAF = ("CEF:1|Imperva Inc.|SecureSphere|13.0|Firewall|SQL Injection|High|act=Block dst=10.0.0.5 "
       "dpt=443 src=198.51.100.23 spt=44321 proto=TCP rt=1795482900000 cs2Label=Policy cs2=OWASP")
DEEP_SECURITY = (
    "Nov 24 08:20:00 dsm01 CEF:0|Trend Micro|Deep Security Agent|20.0.1|4000000|Eicar_test_file|"
    "6|cn1=1 cn1Label=Host ID dvchost=web01 filePath=C:\\\\Users\\\\trend\\\\Desktop\\\\eicar.exe "
    "act=Delete msg=Realtime TrendMicroDsMalwareTarget=N/A "
    "TrendMicroDsFileMD5=44D88612FEA8A8F36DE82E1278ABB02F")
APEX = ("CEF:0|Trend Micro|Apex Central|2019|Spyware Detected|Spyware Detected|3|"
        "rt=Nov 24 2026 01:14:50 GMT+00:00 cs1Label=VirusName cs1=HKTL_MIMIKATZ.SMA "
        "dvchost=PC-KETOAN-07 filePath=C:\\\\Users\\\\Public\\\\ fname=mimi.exe dst=10.20.1.7 "
        "duser=ketoan act=Quarantine fileHash=D6712CAE5EC821F910E14945153AE7871AA536CA")
SOPHOS = ("<134>Nov 24 08:16:00 siem CEF:0|sophos|sophos central|1.0|"
          "Event::Endpoint::Threat::Detected|Malware detected: 'Troj/ASP-AB' at "
          "'C:\\\\inetpub\\\\wwwroot\\\\up.aspx'|1|rt=2026-11-24T01:16:00.000Z duser=WEB01\\\\iis "
          "dhost=WEB01")
KASPERSKY = ("CEF:0|Kaspersky Lab|Kaspersky HTTP Service|2.1|3|Scan result|8|msg=Threat found "
             "src=10.1.2.3 start=1795482900000 fname=invoice.js request=http://x.example/i.js "
             "act=Blocked cs1=DETECT cs1Label=Scan result cs2=HEUR:Trojan.Script.Generic "
             "cs2Label=Virus name")


def parse(line: str) -> dict[str, object]:
    return CefParser().parse(line, CTX)


def test_firewall_line_after_a_bsd_header_maps_every_standard_key() -> None:
    assert parse(FIREWALL) == {
        "@timestamp": "2026-11-24T01:14:59.000Z", "event.dataset": "cef", "event.module": "cef",
        "event.kind": "event", "cef.version": "0", "observer.vendor": "Fortinet",
        "observer.product": "FortiGate", "observer.version": "7.2",
        "event.code": "0000000013", "cef.name": "traffic:forward deny",
        "message": "Blocked by policy", "cef.severity": "5", "event.severity": 5,
        "log.syslog.priority": 134, "log.syslog.facility.code": 16,
        "log.syslog.facility.name": "local0", "log.syslog.severity.code": 6,
        "log.syslog.severity.name": "Informational",
        "cef.extensions.sourceAddress": "10.10.1.5", "cef.extensions.sourcePort": "51234",
        "cef.extensions.destinationAddress": "203.0.113.10",
        "cef.extensions.destinationPort": "443", "cef.extensions.transportProtocol": "6",
        "cef.extensions.deviceAction": "deny", "cef.extensions.sourceUserName": "Nguyen Van A",
        "cef.extensions.deviceInboundInterface": "port1",
        "cef.extensions.deviceOutboundInterface": "wan1",
        "cef.extensions.deviceCustomString1Label": "Policy Name",
        "cef.extensions.deviceCustomString1": "Chan IoT",
        "cef.extensions.message": "Blocked by policy",
        "cef.extensions.deviceReceiptTime": "Nov 24 2026 08:14:59",
        "cef.extensions.sourceTranslatedAddress": "198.51.100.7",
        "cef.extensions.sourceTranslatedPort": "40001",
        "source.ip": "10.10.1.5", "source.port": 51234, "destination.ip": "203.0.113.10",
        "destination.port": 443, "event.action": "deny", "source.user.name": "Nguyen Van A",
        "observer.ingress.interface.name": "port1", "observer.egress.interface.name": "wan1",
        "source.nat.ip": "198.51.100.7", "source.nat.port": 40001, "user.name": "Nguyen Van A",
        "network.iana_number": "6", "network.transport": "tcp", "observer.name": "fw-hq",
        "event.category": ["network"], "event.type": ["connection", "denied"],
        "event.outcome": "failure"}


def test_header_and_extension_escapes() -> None:
    ev = parse("CEF:0|Ven\\|dor|Pro\\\\duct|1.0|100|Name with \\| pipe|Very-High|"
               "msg=a \\= b\\nsecond line\\\\end cs1Label=Path cs1=C:\\Windows\\Temp "
               "request=http://x/?a=1&b=2 dhost=srv01 suser=admin")
    assert (ev["observer.vendor"], ev["observer.product"], ev["cef.name"]) == (
        "Ven|dor", "Pro\\duct", "Name with | pipe")
    assert ev["message"] == "a = b\nsecond line\\end"  # \= \n \\ in a value with spaces
    assert ev["cef.extensions.deviceCustomString1"] == "C:\\Windows\\Temp"  # left as written
    assert ev["url.original"] == "http://x/?a=1&b=2"  # "a=1" inside a word is no key
    assert (ev["destination.domain"], ev["user.name"], ev["event.severity"]) == (
        "srv01", "admin", 9)
    assert ev["@timestamp"] == NOW  # no header, no rt: the time of reading


@pytest.mark.parametrize("line", [
    LOGON,
    LOGON.replace("<13>1 2026-11-24T01:15:00.250Z relay01 arcsight - - - ",
                  "2026-11-24T08:15:00.250+07:00 relay01 "),
    LOGON.replace("<13>1 2026-11-24T01:15:00.250Z relay01 arcsight - - - ",
                  "<13>Nov 24 08:15:00.250 relay01 "),
])
def test_rfc5424_iso_and_bsd_headers_give_the_same_time(line: str) -> None:
    ev = parse(line)
    assert ev["@timestamp"] == "2026-11-24T01:15:00.250Z"
    assert (ev["source.ip"], ev["user.name"], ev["destination.user.name"]) == (
        "203.0.113.9", "administrator", "administrator")
    assert (ev["event.category"], ev["event.type"], ev["event.outcome"]) == (
        ["authentication"], ["start"], "failure")
    assert ev["observer.name"] == "DC01"  # dvchost, not the relay


def test_a_bare_pri_and_no_time_at_all_use_the_clock() -> None:
    ev = parse("<14>CEF:0|Acme|Gate|1|login|User logged in|3|suser=hoa src=10.0.0.7")
    assert (ev["@timestamp"], ev["log.syslog.priority"], ev["event.outcome"]) == (
        NOW, 14, "success")


@pytest.mark.parametrize(("rt", "stamp"), [
    ("1795482900123", "2026-11-24T01:15:00.123Z"),  # milliseconds since the epoch
    ("1795482900", "2026-11-24T01:15:00.000Z"),  # ten digits: seconds
    ("Nov 24 2026 08:15:00", "2026-11-24T01:15:00.000Z"),  # local time, ctx.tz
    ("Nov 24 2026 08:15:00.5 GMT+07:00", "2026-11-24T01:15:00.500Z"),
    ("Nov 24 2026 01:15:00 UTC", "2026-11-24T01:15:00.000Z"),
    ("Nov 24 08:15:00", "2026-11-24T01:15:00.000Z"),  # no year: this year
    ("Dec 31 08:15:00", "2025-12-31T01:15:00.000Z"),  # ...unless that is after tomorrow
    ("2026-11-24T01:15:00Z", "2026-11-24T01:15:00.000Z"),
    ("yesterday", NOW),  # unreadable: the next source of time
])
def test_device_receipt_time_forms(rt: str, stamp: str) -> None:
    assert parse(f"CEF:0|A|B|1|1|n|1|rt={rt} src=10.0.0.1")["@timestamp"] == stamp


def test_device_time_zone_applies_to_local_times() -> None:
    ev = parse("CEF:0|A|B|1|1|n|1|rt=Nov 24 2026 02:15:00 dtz=Europe/Berlin start=Nov 24 2026 "
               "02:14:00 end=1795482900000")
    assert (ev["@timestamp"], ev["event.start"], ev["event.end"], ev["event.timezone"]) == (
        "2026-11-24T01:15:00.000Z", "2026-11-24T01:14:00.000Z", "2026-11-24T01:15:00.000Z",
        "Europe/Berlin")
    assert parse("CEF:0|A|B|1|1|n|1|start=1795482900000")["@timestamp"] == (
        "2026-11-24T01:15:00.000Z")  # no rt and no header: start


@pytest.mark.parametrize(("severity", "level"), [
    ("0", 0), ("10", 10), ("Low", 0), ("medium", 4), ("High", 7), ("Very-High", 9),
    ("11", None), ("Unknown", None)])
def test_severity(severity: str, level: int | None) -> None:
    ev = parse(f"CEF:0|A|B|1|1|n|{severity}|src=10.0.0.1")
    assert ev.get("event.severity") == level and ev["cef.severity"] == severity


def test_full_names_shost_dhost_and_labelled_ipv6_addresses() -> None:
    ev = parse("CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Drop "
               "c6a2=fd00::555 c6a2Label=Source IPv6 Address c6a3=fd00::1 "
               "c6a3Label=Destination IPv6 Address sourceHostName=10.9.9.9 "
               "destinationPort=8443 deviceDirection=0 fileHash=580a783c1cb2b20613323f715d231a69")
    assert (ev["source.ip"], ev["destination.ip"], ev["destination.port"]) == (
        "fd00::555", "fd00::1", 8443)
    assert ev["network.direction"] == "inbound"
    assert ev["file.hash.md5"] == "580a783c1cb2b20613323f715d231a69"
    ev = parse("CEF:0|A|B|1|1|n|1|src=10.0.0.1 shost=10.9.9.9 dhost=db01.corp")
    assert (ev["source.ip"], ev["destination.domain"]) == ("10.0.0.1", "db01.corp")


def test_values_of_the_wrong_type_stay_cef_fields_only() -> None:
    ev = parse("CEF:0|A|B|1|1|n|1|src=not-an-ip dpt=https in=12x ad.field[0]=v a..b=c "
               "additional.dotfieldName=new")
    assert "source.ip" not in ev and "destination.port" not in ev and "source.bytes" not in ev
    assert ev["cef.extensions.sourceAddress"] == "not-an-ip"
    assert ev["cef.extensions.additional.dotfieldName"] == "new"
    assert not [k for k in ev if "[" in k or ".." in k]  # no field name: not kept


def test_trend_micro_deep_security_anti_malware_is_an_antivirus_alert() -> None:
    ev = parse(DEEP_SECURITY)
    assert (ev["event.kind"], ev["event.category"], ev["event.type"]) == (
        "alert", ["malware"], ["info"])
    assert (ev["rule.name"], ev["file.path"]) == (
        "Eicar_test_file", "C:\\Users\\trend\\Desktop\\eicar.exe")
    assert (ev["observer.name"], ev["event.action"], ev["message"]) == (
        "web01", "Delete", "Realtime")


def test_apex_central_virus_name_label_and_folder_plus_file_name() -> None:
    ev = parse(APEX)
    assert (ev["rule.name"], ev["file.path"], ev["file.name"]) == (
        "HKTL_MIMIKATZ.SMA", "C:\\Users\\Public\\mimi.exe", "mimi.exe")
    assert ev["@timestamp"] == "2026-11-24T01:14:50.000Z"
    assert ev["file.hash.sha1"] == "d6712cae5ec821f910e14945153ae7871aa536ca"
    assert (ev["destination.ip"], ev["user.name"]) == ("10.20.1.7", "ketoan")


def test_sophos_central_names_the_threat_and_path_in_the_event_name() -> None:
    ev = parse(SOPHOS)
    assert (ev["rule.name"], ev["file.path"], ev["event.kind"]) == (
        "Troj/ASP-AB", "C:\\inetpub\\wwwroot\\up.aspx", "alert")


def test_kaspersky_virus_name_label_and_source() -> None:
    ev = parse(KASPERSKY)
    assert (ev["rule.name"], ev["source.ip"], ev["file.name"], ev["event.category"]) == (
        "HEUR:Trojan.Script.Generic", "10.1.2.3", "invoice.js", ["malware"])
    assert ev["@timestamp"] == "2026-11-24T01:15:00.000Z"  # start, no rt and no header


@pytest.mark.parametrize("line", [
    # an antivirus vendor's other modules: intrusion prevention, integrity monitoring
    "CEF:0|Trend Micro|Deep Security Agent|20.0|1001111|Test Intrusion Prevention Rule|3|"
    "src=192.168.126.150 dst=72.14.204.105 act=IDS:Reset",
    "CEF:0|Trend Micro|Deep Security Agent|20.0|30|New Integrity Monitoring Rule|6|act=updated",
    # a firewall whose event name speaks of a virus: not an endpoint engine's detection
    "CEF:0|Fortinet|FortiGate|7.2|0211008192|virus:infected|4|src=10.0.0.1 dst=10.0.0.2",
    # an antivirus console's own events; a threat label left N/A
    "CEF:0|Trend Micro|Apex Central|2019|800102|Engine Update Status|3|rt=Apr 20 2026 12:04:34 "
    "GMT+00:00 shost=shost1 cs2Label=Product/Endpoint_IP cs2=10.0.17.6 msg=Virus Scan Engine",
    "CEF:0|Acme|Mail Gateway|1.0|scan|Scan result|3|cs1Label=Virus name cs1=N/A src=10.0.0.9",
])
def test_what_is_no_antivirus_detection(line: str) -> None:
    ev = parse(line)
    assert ev["event.kind"] == "event" and "malware" not in ev.get("event.category", [])


@pytest.mark.parametrize(("line", "reason"), [
    ("Nov 24 08:15:00 host sshd[1]: Accepted password", "not CEF (no CEF: header)"),
    ("CEF:0|Vendor|Product|1.0", "CEF header with fewer than 7 fields"),
    ("CEF:x|a|b|c|d|e|f|", "CEF header with fewer than 7 fields"),
])
def test_lines_that_are_no_cef_are_dead_letters(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(line)
    assert err.value.message.startswith(reason)


def test_a_header_without_extension_is_an_event() -> None:
    ev = parse("CEF:0|A|B|1|100|Started|Low")
    assert (ev["event.code"], ev["message"], ev["event.severity"]) == ("100", "Started", 0)


def test_auto_detection_takes_a_syslog_framed_cef_line_as_cef() -> None:
    auto = AutoParser(list(registry.parsers().values()))
    sshd = "Nov 24 08:14:00 web01 sshd[9]: Accepted password for hoa from 10.0.0.5 port 2 ssh2"
    assert auto.parse(sshd, CTX)["event.dataset"] == "linux.auth"
    assert auto.parse(FIREWALL, CTX)["event.dataset"] == "cef"
    assert auto.parse(DEEP_SECURITY, CTX)["rule.name"] == "Eicar_test_file"


# --- Sigma category: antivirus, end to end through soc detect ----------------------------------

AV_RULES = """\
title: AV hacktool by name
id: 00000000-0000-4000-8000-0000000ce001
status: test
level: high
logsource: {category: antivirus}
detection:
  sel: {Signature|contains: [Mimikatz, Hacktool]}
  condition: sel
---
title: AV detection in a web folder
id: 00000000-0000-4000-8000-0000000ce002
status: test
level: high
logsource: {category: antivirus}
detection:
  sel: {Filename|contains: '\\\\inetpub\\\\'}
  condition: sel
"""


def test_antivirus_rules_match_cef_detections(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "av.yml").write_text(AV_RULES, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    log = tmp_path / "av.log"
    log.write_text("\n".join((APEX, SOPHOS, FIREWALL, DEEP_SECURITY)) + "\n", encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "--no-tuning", "-r",
                 str(tmp_path / "rules"), "--nl", str(log)])
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 10
    fired = sorted((d["rule_id"][-4:], d["event"]["rule.name"]) for d in found
                   if d["kind"] == "rule" and d["rule_id"].startswith("00000000"))
    assert fired == [("e001", "HKTL_MIMIKATZ.SMA"), ("e002", "Troj/ASP-AB")]
