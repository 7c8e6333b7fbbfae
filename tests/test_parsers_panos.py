"""PAN-OS CSV syslog: every log type by its documented column order (PAN-OS 10.x/11.x "Syslog
Field Descriptions"), short and long records, quoted commas, headers. Lines written here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.panos import PanosParser
from soc import registry
from soc.cli.main import main
from soc.errors import ParseError
from soc.pipeline.parsing import AutoParser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

TRAFFIC = (
    "<14>Nov 24 08:15:01 PA-3220 1,2026/11/24 08:15:01,012801096514,TRAFFIC,end,2561,"
    "2026/11/24 08:15:00,10.1.1.5,203.0.113.10,198.51.100.2,203.0.113.10,allow-web,CORP\\jdoe,,"
    "ssl,vsys1,trust,untrust,ethernet1/2,ethernet1/1,fwd-siem,2026/11/24 08:15:00,12345,1,"
    "51234,443,41234,443,0x400053,tcp,allow,5000,1200,3800,20,2026/11/24 08:14:40,19,"
    "computer-and-internet-info,0,7,0x0,10.0.0.0-10.255.255.255,Viet Nam,0,12,8,tcp-fin,0,0,0,"
    "0,,PA-3220,from-policy,,,0,,0,,N/A,0,0,0,0")
THREAT_VIRUS = (
    "Nov 24 08:16:00 PA-3220 1,2026/11/24 08:16:00,012801096514,THREAT,virus,2561,"
    "2026/11/24 08:15:59,203.0.113.66,10.1.1.20,0.0.0.0,0.0.0.0,inbound-mail,,,smtp,vsys1,"
    "untrust,dmz,ethernet1/1,ethernet1/3,fwd-siem,2026/11/24 08:15:59,23456,1,49152,25,0,0,"
    "0x402000,tcp,reset-both,\"invoice,march.zip\",Virus/Win32.WGeneric.abcd(234567890),any,"
    "medium,server-to-client,8,0x0,US,10.0.0.0-10.255.255.255,0,,0,"
    "f3a9c1d2e4b5a6978877665544332211aabbccddeeff00112233445566778899,wildfire,0,,zip,,,"
    "billing@example.net,Invoice,ketoan@agency.gov.vn")
THREAT_URL = (
    "1,2026/11/24 08:17:00,012801096514,THREAT,url,2561,2026/11/24 08:17:00,10.1.1.5,"
    "198.51.100.80,203.0.113.2,198.51.100.80,allow-web,jdoe@corp.local,,web-browsing,vsys1,"
    "trust,untrust,ethernet1/2,ethernet1/1,fwd-siem,2026/11/24 08:17:00,34567,1,51000,80,"
    "42000,80,0x40b000,tcp,block-url,\"malware.example.net/dl/x.exe?id=1,2\",(9999),malware,"
    "informational,client-to-server")
SYSTEM_AUTH = (
    "<14>Nov 24 08:18:00 PA-3220 1,2026/11/24 08:18:00,012801096514,SYSTEM,auth,2561,"
    "2026/11/24 08:18:00,,auth-fail,,0,0,general,medium,\"failed authentication for user "
    "'admin'. Reason: Invalid username/password. auth profile 'local', vsys 'shared', From: "
    "203.0.113.99.\",1001,0x0,0,0,0,0,,PA-3220")
CONFIG = ("1,2026/11/24 08:19:00,012801096514,CONFIG,0,2561,2026/11/24 08:19:00,10.0.0.50,,edit,"
          "admin,Web,Failed, vsys  vsys1 rulebase security rules  allow-web,1002,0x0,0,0,0,0,,"
          "PA-3220,0,,0")
GLOBALPROTECT = (
    "Nov 24 08:20:00 1,2026/11/24 08:20:00,012801096514,GLOBALPROTECT,0,2561,"
    "2026/11/24 08:20:00,vsys1,gateway-auth,login,LDAP,,CORP\\hoa,VN,LAPTOP-07,203.0.113.45,"
    "0.0.0.0,10.8.0.12,0.0.0.0,0f1e2d3c-4b5a-6978-8877-665544332211,SN123,6.1.2,Windows,"
    "\"Microsoft Windows 10 Pro , 64-bit\",1,,Authentication failed: Invalid username or "
    "password,\"\",failure,,0,user-logon,0,GP-GW")
USERID = ("1,2026/11/24 08:21:00,012801096514,USERID,login,2561,2026/11/24 08:21:00,vsys1,"
          "10.1.1.33,corp\\lan,,0,1,2700,0,0,active-directory,unknown,1003,0x0")
AUTHENTICATION = (
    "1,2026/11/24 08:22:00,012801096514,AUTHENTICATION,0,2561,2026/11/24 08:22:00,vsys1,"
    "203.0.113.77,thu,,,captive-portal-policy,1,42,,fwd-siem,radius-profile,Invalid password,"
    "browser,auth-fail,1,1004,0x0")
HIPMATCH = ("1,2026/11/24 08:23:00,012801096514,HIPMATCH,0,2561,2026/11/24 08:23:00,corp\\hoa,"
            "vsys1,LAPTOP-07,Windows 10,10.8.0.12,av-not-running,1,profile,,,1005,0x0,0,0,0,0,,"
            "PA-3220,1,,")
DECRYPTION = (
    "1,2026/11/24 08:24:00,012801096514,DECRYPTION,0,2561,2026/11/24 08:24:00,10.1.1.5,"
    "198.51.100.90,203.0.113.2,198.51.100.90,decrypt-all,,,ssl,vsys1,trust,untrust,"
    "ethernet1/2,ethernet1/1,fwd-siem,2026/11/24 08:24:00,45678,1,52000,443,43000,443,0x0,tcp,"
    "allow,,,,,,c2a4,Certificate,Server Hello,TLS1.2,ECDHE,AES_128_GCM,SHA256,decrypt-policy,"
    "secp256r1,,,,forward,,,,,,,,,,,,bank.example.com,Example CA,,bank.example.com,")


def parse(line: str) -> dict[str, object]:
    return PanosParser().parse(line, CTX)


def test_traffic_after_a_bsd_header() -> None:
    ev = parse(TRAFFIC)
    expected = {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.created": "2026-11-24T01:15:01.000Z",
        "event.dataset": "panw.panos", "event.module": "panw", "event.kind": "event",
        "event.category": ["network"], "event.type": ["connection", "end", "allowed"],
        "event.action": "allow", "event.outcome": "success",
        "observer.vendor": "Palo Alto Networks", "observer.product": "PAN-OS",
        "observer.type": "firewall", "observer.name": "PA-3220",
        "observer.hostname": "PA-3220", "observer.serial_number": "012801096514",
        "source.ip": "10.1.1.5", "source.port": 51234, "source.nat.ip": "198.51.100.2",
        "source.nat.port": 41234, "destination.ip": "203.0.113.10", "destination.port": 443,
        "destination.nat.ip": "203.0.113.10", "destination.nat.port": 443,
        "user.name": "jdoe", "user.domain": "CORP", "source.user.name": "jdoe",
        "source.user.domain": "CORP", "rule.name": "allow-web", "network.application": "ssl",
        "network.transport": "tcp", "network.type": "ipv4",
        "observer.ingress.zone": "trust", "observer.egress.zone": "untrust",
        "observer.ingress.interface.name": "ethernet1/2",
        "observer.egress.interface.name": "ethernet1/1",
        "network.bytes": 5000, "source.bytes": 1200, "destination.bytes": 3800,
        "network.packets": 20, "source.packets": 12, "destination.packets": 8,
        "panw.panos.url.category": "computer-and-internet-info",
        "panw.panos.sub_type": "end", "panw.panos.session_end_reason": "tcp-fin",
        "log.syslog.priority": 14,
    }
    assert {k: ev[k] for k in expected} == expected


@pytest.mark.parametrize("line", [
    TRAFFIC.split(",0x400053,")[0] + ",0x400053,tcp,allow",  # an old release: ends at action
    TRAFFIC + ",,,,,,,,,",  # newer columns, empty
    TRAFFIC.replace("<14>Nov 24 08:15:01 PA-3220 ", ""),  # no header at all
    TRAFFIC.replace("<14>Nov 24 08:15:01 PA-3220 ", "<14>Nov 24 08:15:01 "),  # no host
    TRAFFIC.replace("<14>Nov 24 08:15:01 PA-3220 ", "<14>1 2026-11-24T08:15:01+07:00 PA-3220 "
                    "- - - - "),  # RFC 5424
    TRAFFIC.replace("2026/11/24 08:15:00,10.1.1.5", "2026-11-24T08:15:00.000+07:00,10.1.1.5"),
])
def test_traffic_variants_keep_the_connection(line: str) -> None:
    ev = parse(line)
    assert (ev["@timestamp"], ev["source.ip"], ev["destination.port"], ev["event.outcome"]) == (
        "2026-11-24T01:15:00.000Z", "10.1.1.5", 443, "success")


@pytest.mark.parametrize(("action", "outcome", "kind"), [
    ("deny", "failure", "denied"), ("reset both", "failure", "denied"),
    ("drop ICMP", "failure", "denied"), ("allow", "success", "allowed")])
def test_traffic_verdicts(action: str, outcome: str, kind: str) -> None:
    ev = parse(TRAFFIC.replace(",tcp,allow,", f",tcp,{action},"))
    assert (ev["event.action"], ev["event.outcome"], ev["event.type"][-1]) == (
        action.lower().replace(" ", "-"), outcome, kind)


def test_no_nat_is_no_nat_field() -> None:
    ev = parse(TRAFFIC.replace("198.51.100.2,203.0.113.10,allow-web",
                               "0.0.0.0,0.0.0.0,allow-web").replace(",41234,443,", ",0,0,"))
    assert not [k for k in ev if ".nat." in k]


def test_threat_virus_is_a_malware_alert_with_a_quoted_comma() -> None:
    ev = parse(THREAT_VIRUS)
    assert (ev["event.kind"], ev["event.category"]) == (
        "alert", ["intrusion_detection", "threat", "network", "malware"])
    assert (ev["panw.panos.threat.name"], ev["panw.panos.threat.id"]) == (
        "Virus/Win32.WGeneric.abcd", "234567890")
    assert (ev["file.name"], ev["event.action"], ev["event.outcome"]) == (
        "invoice,march.zip", "reset-both", "failure")
    assert (ev["source.ip"], ev["destination.ip"], ev["network.direction"]) == (
        "203.0.113.66", "10.1.1.20", "outbound")
    assert (ev["log.level"], ev["event.severity"], ev["observer.name"]) == (
        "medium", 3, "PA-3220")


def test_threat_url_filtering() -> None:
    ev = parse(THREAT_URL)
    assert (ev["url.original"], ev["url.domain"], ev["panw.panos.threat.name"]) == (
        "malware.example.net/dl/x.exe?id=1,2", "malware.example.net", "URL-filtering")
    assert (ev["user.name"], ev["user.domain"], ev["event.action"], ev["event.type"]) == (
        "jdoe", "corp.local", "block-url", ["info", "denied"])
    assert ev["@timestamp"] == "2026-11-24T01:17:00.000Z"


@pytest.mark.parametrize(("sub", "misc", "field", "value"), [
    ("file", "C:\\Users\\a\\report.docm", "file.path", "C:\\Users\\a\\report.docm"),
    ("wildfire", "setup.exe", "file.name", "setup.exe"),
    ("vulnerability", "cgi-bin/test.cgi", "url.original", "cgi-bin/test.cgi"),
    ("spyware", "c2.example.org", "file.name", "c2.example.org"),
])
def test_threat_subtypes_read_misc(sub: str, misc: str, field: str, value: str) -> None:
    ev = parse(THREAT_URL.replace(",THREAT,url,", f",THREAT,{sub},").replace(
        '"malware.example.net/dl/x.exe?id=1,2"', f'"{misc}"'))
    assert (ev[field], ev["event.kind"]) == (value, "alert")


def test_system_authentication_names_user_and_address() -> None:
    ev = parse(SYSTEM_AUTH)
    assert (ev["source.ip"], ev["user.name"], ev["event.action"]) == (
        "203.0.113.99", "admin", "auth-fail")
    assert (ev["event.category"], ev["event.outcome"]) == (["authentication"], "failure")
    general = parse(SYSTEM_AUTH.replace(",auth,", ",general,").replace("auth-fail", "general"))
    assert general["event.category"] == ["configuration"]


def test_config_change() -> None:
    ev = parse(CONFIG)
    assert (ev["source.ip"], ev["user.name"], ev["event.action"], ev["event.outcome"]) == (
        "10.0.0.50", "admin", "edit", "failure")
    assert (ev["event.category"], ev["event.type"]) == (["configuration"], ["change"])


def test_globalprotect_failed_login_comes_from_the_public_address() -> None:
    ev = parse(GLOBALPROTECT)
    assert (ev["source.ip"], ev["host.ip"], ev["user.name"], ev["host.name"]) == (
        "203.0.113.45", "10.8.0.12", "hoa", "LAPTOP-07")
    assert (ev["event.category"], ev["event.action"], ev["event.outcome"]) == (
        ["authentication", "network"], "gateway-auth", "failure")
    latency = parse(GLOBALPROTECT.replace("gateway-auth,login", "gateway-tunnel-latency,tunnel"))
    assert latency["event.category"] == ["network"]


def test_userid_authentication_and_hipmatch() -> None:
    ev = parse(USERID)
    assert (ev["source.ip"], ev["user.name"], ev["user.domain"], ev["event.action"]) == (
        "10.1.1.33", "lan", "corp", "login")
    ev = parse(AUTHENTICATION)
    assert (ev["source.ip"], ev["user.name"], ev["event.outcome"], ev["rule.name"]) == (
        "203.0.113.77", "thu", "failure", "captive-portal-policy")
    assert ev["event.category"] == ["authentication"]
    assert parse(AUTHENTICATION.replace(",AUTHENTICATION,", ",AUTH,"))["user.name"] == "thu"
    ev = parse(HIPMATCH)
    assert (ev["source.ip"], ev["user.name"], ev["host.name"], ev["host.os.full"]) == (
        "10.8.0.12", "hoa", "LAPTOP-07", "Windows 10")


def test_decryption() -> None:
    ev = parse(DECRYPTION)
    assert (ev["source.ip"], ev["destination.ip"], ev["tls.client.server_name"]) == (
        "10.1.1.5", "198.51.100.90", "bank.example.com")
    assert (ev["tls.version"], ev["tls.cipher"], ev["event.outcome"]) == (
        "1.2", "AES_128_GCM", "success")


def test_other_types_keep_their_common_columns() -> None:
    ev = parse("1,2026/11/24 08:25:00,012801096514,IPTAG,0,2561,2026/11/24 08:25:00,vsys1,x")
    assert (ev["event.dataset"], ev["panw.panos.type"], ev["@timestamp"]) == (
        "panw.panos", "IPTAG", "2026-11-24T01:25:00.000Z")


@pytest.mark.parametrize(("line", "reason"), [
    ("Nov 24 08:15:00 host sshd[1]: Accepted password", "not a PAN-OS record"),
    ("1,2026/11/24 08:15:00,0123,BOGUS,end,1,2026/11/24 08:15:00,1.2.3.4", "not a PAN-OS record"),
    ("1,2026/11/24 08:15:00,0123,TRAFFIC,end,1,2026/11/24 08:15:00,\"" + "a" * 200_000,
     "unreadable PAN-OS CSV"),
    # found by fuzzing: a quote before the first column swallowed the type (IndexError)
    ('"1,2026/11/24 08:19:00,0128,CONFIG,0,2561,2026/11/24 08:19:00,10.0.0.50,,edit',
     "not a PAN-OS record"),
    ('1,2026/11/24 08:19:00,"0128,CONFIG,0,2561,2026/11/24 08:19:00,10.0.0.50,,edit',
     "unreadable PAN-OS CSV: the first columns do not split"),
])
def test_bad_records_are_dead_letters(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(line)
    assert err.value.message.startswith(reason)


def test_auto_detection_takes_panos_out_of_syslog_framing() -> None:
    auto = AutoParser(list(registry.parsers().values()))
    sshd = "Nov 24 08:14:00 web01 sshd[9]: Accepted password for hoa from 10.0.0.5 port 2 ssh2"
    assert auto.parse(sshd, CTX)["event.dataset"] == "linux.auth"
    for line in (TRAFFIC, THREAT_VIRUS, GLOBALPROTECT, SYSTEM_AUTH):
        assert auto.parse(line, CTX)["event.dataset"] == "panw.panos"


FIREWALL_RULE = """\
title: RDP from outside denied
id: 00000000-0000-4000-8000-0000000fa001
status: test
level: medium
logsource: {category: firewall}
detection:
  sel: {dst_port: 3389, action: [deny, drop, reset-both]}
  condition: sel
"""


def test_sigma_firewall_rules_see_panos_traffic(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "fw.yml").write_text(FIREWALL_RULE, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    rdp = TRAFFIC.replace(",51234,443,41234,443,", ",51234,3389,41234,3389,")
    log = tmp_path / "pa.log"
    log.write_text("\n".join((rdp.replace(",tcp,allow,", ",tcp,deny,"), rdp)) + "\n",
                   encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "--no-tuning", "-r",
                 str(tmp_path / "rules"), "--nl", str(log)])
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 10
    assert [(d["rule_id"][-4:], d["event"]["event.action"]) for d in found] == [("a001", "deny")]


def test_a_long_run_without_white_space_is_read_in_linear_time() -> None:
    """Found by fuzzing: every position after a ">" in ``<a><a>...`` started a scan to the end
    of the run (two seconds of CPU on 1 MiB)."""
    line = "<a>" * 300_000 + TRAFFIC
    assert PanosParser().sniff(line)
    assert parse(line)["source.ip"] == "10.1.1.5"
