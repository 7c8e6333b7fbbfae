"""Check Point Log Exporter: the syslog format (``[key:"value"; ...]``), the splunk and OPSEC
LEA ``key=value|...`` formats, R81's RFC 5424 structured data. Lines written here from Check
Point's Log Exporter and log field documentation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.checkpoint import CheckPointParser
from soc import registry
from soc.cli.main import main
from soc.errors import ParseError
from soc.pipeline.parsing import AutoParser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

DROP = ('<134>1 2026-11-24T01:15:00Z gw-hq CheckPoint 2210 - [action:"Drop"; flags:"411908"; '
        'ifdir:"inbound"; ifname:"eth1"; logid:"0"; loguid:"{0x6742a1b4,0x0,0x1f00a8c0,0x1}"; '
        'origin:"10.0.0.1"; originsicname:"cn=cp_mgmt,o=gw-hq..x1"; sequencenum:"7"; '
        'time:"1795482900"; version:"5"; dst:"10.20.0.15"; inzone:"External"; '
        'layer_name:"Network"; outzone:"Internal"; product:"VPN-1 & FireWall-1"; proto:"6"; '
        'rule_action:"Drop"; rule_name:"Block \\"RDP\\" [ext]"; '
        'rule_uid:"5e2f8c1a-0b7d-4c3e-9f6a-1b2c3d4e5f60"; s_port:"51515"; service:"3389"; '
        'service_id:"Remote_Desktop_Protocol"; src:"203.0.113.9"; xlatedst:"0.0.0.0"; '
        'xlatedport:"0"; xlatesrc:"0.0.0.0"; xlatesport:"0"]')
NAT = ('<134>1 2026-11-24T01:16:00Z gw-hq CheckPoint 2210 - [action:"Accept"; ifdir:"outbound"; '
       'ifname:"eth0"; origin:"10.0.0.1"; time:"1795482960"; dst:"198.51.100.20"; '
       'product:"VPN-1 & FireWall-1"; proto:"17"; s_port:"53000"; service:"53"; '
       'src:"10.20.0.7"; xlatesrc:"203.0.113.1"; xlatesport:"41000"; '
       'src_user_name:"Nguyen Van Hoa (hoa)"; __policy_id_tag:"product=VPN-1 & '
       'FireWall-1[db_tag={AB12};mgmt=mgmt01;policy_name=Standard\\]"]')
SPLUNK = ("time=1795482900|hostname=gw-hq|product=Firewall|layer_name=Network|action=Accept|"
          "ifdir=inbound|ifname=eth0|loguid={0x5cd9a64e,0x0,0x5060a8c0,0xc0000001}|"
          "origin=10.0.0.1|originsicname=cn\\=cp_mgmt,o\\=gw-hq..x1|sequencenum=1|version=5|"
          "dst=10.20.0.15|inzone=External|outzone=Internal|proto=6|s_port=63945|service=443|"
          "service_id=https|src=203.0.113.27|")
LOGIN = ('<134>1 2026-11-24T01:17:00Z mgmt01 CheckPoint 3300 - [action:"Failed Log In"; '
         'flags:"163872"; ifdir:"outbound"; origin:"10.0.0.2"; time:"1795483020"; '
         'administrator:"admin"; client_ip:"203.0.113.50"; operation:"Log In"; '
         'product:"SmartConsole"; subject:"Administrator Login"; '
         'additional_info:"Administrator failed to log in: Wrong Password"]')


def parse(line: str) -> dict[str, object]:
    return CheckPointParser().parse(line, CTX)


def test_drop_in_the_syslog_format() -> None:
    ev = parse(DROP)
    expected = {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "checkpoint.firewall",
        "event.module": "checkpoint", "event.kind": "event", "observer.vendor": "Check Point",
        "observer.type": "firewall", "observer.product": "VPN-1 & FireWall-1",
        "observer.name": "10.0.0.1", "log.syslog.priority": 134,
        "source.ip": "203.0.113.9", "source.port": 51515, "destination.ip": "10.20.0.15",
        "destination.port": 3389, "network.iana_number": "6", "network.transport": "tcp",
        "network.direction": "inbound", "observer.ingress.interface.name": "eth1",
        "observer.ingress.zone": "External", "observer.egress.zone": "Internal",
        "network.application": "remote_desktop_protocol", "network.name": "Network",
        "rule.name": 'Block "RDP" [ext]', "rule.uuid": "5e2f8c1a-0b7d-4c3e-9f6a-1b2c3d4e5f60",
        "event.sequence": 7, "event.category": ["network"], "event.action": "Drop",
        "event.type": ["connection", "denied"], "event.outcome": "failure",
        "checkpoint.loguid": "{0x6742a1b4,0x0,0x1f00a8c0,0x1}",
    }
    assert {k: ev[k] for k in expected} == expected
    assert not [k for k in ev if ".nat." in k]  # 0.0.0.0 and port 0: no translation


def test_source_nat_user_and_an_escaped_bracket() -> None:
    ev = parse(NAT)
    assert (ev["source.nat.ip"], ev["source.nat.port"], ev["event.outcome"]) == (
        "203.0.113.1", 41000, "success")
    assert ev["user.name"] == ev["source.user.name"] == "Nguyen Van Hoa (hoa)"
    assert ev["checkpoint.__policy_id_tag"].endswith("policy_name=Standard]")
    assert ev["observer.egress.interface.name"] == "eth0"


@pytest.mark.parametrize("line", [
    SPLUNK,
    "<134>Nov 24 08:15:00 gw-hq " + SPLUNK,  # a relay's BSD header
    SPLUNK.replace("ifdir=", "i/f_dir=").replace("service=", "d_port="),  # OPSEC LEA names
])
def test_the_key_equals_value_pipe_formats(line: str) -> None:
    ev = parse(line)
    assert (ev["source.ip"], ev["destination.port"], ev["network.direction"]) == (
        "203.0.113.27", 443, "inbound")
    assert (ev["@timestamp"], ev["observer.name"], ev["event.type"]) == (
        "2026-11-24T01:15:00.000Z", "10.0.0.1", ["connection", "allowed"])
    assert ev["checkpoint.originsicname"] == "cn=cp_mgmt,o=gw-hq..x1"


def test_r81_structured_data_with_an_unreadable_header_time() -> None:
    line = ('<85>1 2026-11-24T08:18:00--7:00 10.0.0.1 CP-GW - Log [Fields@1.3.6.1.4.1.2620 '
            'inzone="DMZ" outzone="External" service_id="https" src="10.30.0.4" '
            'dst="198.51.100.77" proto="6" xlatesrc="203.0.113.1" xlatedst="" user="" '
            'src_user_name="lan" rule_name="dmz-out" ProductName="VPN-1 & FireWall-1" '
            'svc="443" sport_svc="56530" xlatesport_svc="28493" ]')
    ev = parse(line)
    assert (ev["source.ip"], ev["source.port"], ev["destination.port"], ev["source.nat.port"]) == (
        "10.30.0.4", 56530, 443, 28493)
    assert (ev["user.name"], ev["rule.name"], ev["observer.product"]) == (
        "lan", "dmz-out", "VPN-1 & FireWall-1")
    assert ev["@timestamp"] == "2026-11-24T03:00:00.000Z"  # no time field, header unreadable


def test_failed_administrator_login() -> None:
    ev = parse(LOGIN)
    assert (ev["event.category"], ev["event.outcome"], ev["event.action"]) == (
        ["authentication"], "failure", "Failed Log In")
    assert (ev["source.ip"], ev["user.name"]) == ("203.0.113.50", "admin")
    audit = parse(LOGIN.replace('action:"Failed Log In"', 'action:"Accept"').replace(
        'operation:"Log In"', 'operation:"Log In"; audit_status:"Failure"'))
    assert (audit["event.category"], audit["event.outcome"]) == (["authentication"], "failure")


def test_threat_prevention_and_malware() -> None:
    line = DROP.replace('[action:"Drop"', '[action:"Prevent"').replace(
        'rule_action:"Drop"', 'rule_action:"Prevent"; malware_action:"Communication with C&C '
        'site"; protection_name:"Check Point - Testing Bot"; malware_rule_name:"Anti-Bot"')
    ev = parse(line)
    assert (ev["event.kind"], ev["event.category"], ev["event.outcome"]) == (
        "alert", ["malware", "intrusion_detection", "network"], "failure")
    assert ev["rule.name"] == 'Block "RDP" [ext]'  # rule_name first, then the blades' names


def test_a_drop_summary_from_one_source() -> None:
    line = ('<134>1 2026-11-24T01:19:00Z gw-hq CheckPoint 1 - [action:"Drop"; origin:"10.0.0.1";'
            ' rule_action:"Drop"; rule_name:"Cleanup rule"; packet_amount:"2"; packets:" '
            '<203.0.113.8,45000,10.20.0.15,443,6> <203.0.113.8,45001,10.20.0.16,80,17>"]')
    assert parse(line)["source.ip"] == "203.0.113.8"
    mixed = line.replace("<203.0.113.8,45001", "<203.0.113.9,45001")
    assert "source.ip" not in parse(mixed)  # several sources: none is the source


def test_system_records_without_addresses_are_events() -> None:
    ev = parse('<134>1 2026-11-24T01:20:00Z gw-hq CheckPoint 1 - [flags:"133440"; '
               'ifdir:"inbound"; origin:"10.0.0.1"; product:"System Monitor"; '
               'sys_message::"The eth0 interface is not protected by the anti-spoofing feature"]')
    assert (ev["message"], ev["event.type"], ev["observer.product"]) == (
        "The eth0 interface is not protected by the anti-spoofing feature", ["info"],
        "System Monitor")
    assert "source.ip" not in ev


@pytest.mark.parametrize(("line", "reason"), [
    ("Nov 24 08:15:00 host sshd[1]: Accepted password for a from 1.2.3.4",
     "not a Check Point Log Exporter record"),
    ("CEF:0|Check Point|VPN-1 & FireWall-1|R81|Log|Drop|5|act=Drop origin=10.0.0.1 src=1.2.3.4",
     "not a Check Point Log Exporter record"),
    ('CEF:0|x|y|z|1|a|1|msg=[act:"x"; origin:"10.0.0.1"]', "unrecognised text before"),
])
def test_other_lines_are_dead_letters(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(line)
    assert err.value.message.startswith(reason)


def test_auto_detection() -> None:
    auto = AutoParser(list(registry.parsers().values()))
    assert auto.parse(DROP, CTX)["event.dataset"] == "checkpoint.firewall"
    assert auto.parse(SPLUNK, CTX)["event.dataset"] == "checkpoint.firewall"
    cef = "CEF:0|Check Point|VPN-1 & FireWall-1|R81|Log|Drop|5|act=Drop origin=10.0.0.1 src=1.2.3.4"
    assert auto.parse(cef, CTX)["event.dataset"] == "cef"  # after a Check Point record, too


def test_sigma_firewall_rules_see_check_point_drops(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rule = ("title: RDP dropped\nid: 00000000-0000-4000-8000-0000000fa002\nstatus: test\n"
            "level: medium\nlogsource: {category: firewall}\ndetection:\n"
            "  sel: {dst_port: 3389, action: drop, src_ip: 203.0.113.9}\n  condition: sel\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "fw.yml").write_text(rule, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    log = tmp_path / "cp.log"
    log.write_text("\n".join((DROP, NAT, SPLUNK)) + "\n", encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "--no-tuning", "-r",
                 str(tmp_path / "rules"), "--nl", str(log)])
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 10
    assert [(d["rule_id"][-4:], d["event"]["event.dataset"]) for d in found] == [
        ("a002", "checkpoint.firewall")]
