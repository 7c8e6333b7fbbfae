"""Huawei USG / NGFW / VRP information-center logs. Lines written here from Huawei's log
reference (session, policy, IPS, antivirus, URL filtering, SSH and shell logs) and the
``info-center`` header and content formats it documents; none copied from a public corpus."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.huawei import HuaweiParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

TEARDOWN = ("IPVer=4,Protocol=tcp,SourceIP=10.10.1.5,DestinationIP=203.0.113.10,SourcePort=51234,"
            "DestinationPort=443,SourceNatIP=198.51.100.7,SourceNatPort=40001,BeginTime=1795482840,"
            "EndTime=1795482900,SendPkts=10,SendBytes=1200,RcvPkts=8,RcvBytes=5400,SourceVpnID=0,"
            "DestinationVpnID=0,SourceZone=trust,DestinationZone=untrust,PolicyName=trust-untrust,"
            "CloseReason=tcp-fin.")


def parse(line: str) -> dict[str, object]:
    return HuaweiParser().parse(line, CTX)


def test_session_teardown_every_field() -> None:
    ev = parse(f"<188>Nov 24 2026 08:15:00 USG6650-STTTT %%01SECLOG/4/SESSION_TEARDOWN(l)[12]:"
               f"{TEARDOWN}")
    assert {k: ev[k] for k in (
        "@timestamp", "event.dataset", "event.module", "observer.vendor", "observer.product",
        "observer.name", "source.ip", "source.port", "source.nat.ip", "source.nat.port",
        "destination.ip", "destination.port", "network.transport", "network.type",
        "source.bytes", "destination.packets", "observer.ingress.zone", "observer.egress.zone",
        "rule.name", "event.reason", "event.action", "event.type", "event.outcome",
        "event.code", "event.severity", "log.level", "huawei.usg.module")} == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "huawei.usg",
        "event.module": "huawei", "observer.vendor": "Huawei", "observer.product": "USG",
        "observer.name": "USG6650-STTTT", "source.ip": "10.10.1.5", "source.port": 51234,
        "source.nat.ip": "198.51.100.7", "source.nat.port": 40001,
        "destination.ip": "203.0.113.10", "destination.port": 443, "network.transport": "tcp",
        "network.type": "ipv4", "source.bytes": 1200, "destination.packets": 8,
        "observer.ingress.zone": "trust", "observer.egress.zone": "untrust",
        "rule.name": "trust-untrust", "event.reason": "tcp-fin",
        "event.action": "session_teardown", "event.type": ["connection", "end", "allowed"],
        "event.outcome": "success", "event.code": "SECLOG/4/SESSION_TEARDOWN",
        "event.severity": 4, "log.level": "warning", "huawei.usg.module": "SECLOG"}


@pytest.mark.parametrize(("header", "stamp", "host"), [
    # the info-center header forms: a BSD time with a year; an offset glued to the time; an ISO
    # time (with a space after the PRI, as "timestamp utc" writes it); a host alone; nothing
    ("<188>Nov 24 2026 08:15:00 USG6650 ", "2026-11-24T01:15:00.000Z", "USG6650"),
    ("Nov 24 2026 01:15:00+00:00 USG6650 ", "2026-11-24T01:15:00.000Z", "USG6650"),
    ("<188>Nov 24 2026 08:15:00.250+07:00 DST USG6650 ", "2026-11-24T01:15:00.000Z", "USG6650"),
    ("<188>2026-11-24 08:15:00 USG6650 ", "2026-11-24T01:15:00.000Z", "USG6650"),
    ("<188> 2026-11-24 08:15:00 USG6650 ", "2026-11-24T01:15:00.000Z", "USG6650"),
    ("<188>USG6650 ", "2026-11-24T01:14:00.000Z", "USG6650"),  # BeginTime, no header time
    ("<188>USG6650 %%: ", "2026-11-24T01:14:00.000Z", "USG6650"),
    ("<188>%%: ", "2026-11-24T01:14:00.000Z", None),
    ("", "2026-11-24T01:14:00.000Z", None),
])
def test_header_forms(header: str, stamp: str, host: str | None) -> None:
    body = TEARDOWN.replace("EndTime=1795482900,", "")
    ev = parse(f"{header}%%01SECLOG/4/SESSION_TEARDOWN(l)[12]:{body}")
    assert (ev["@timestamp"], ev.get("observer.name"), ev["source.ip"]) == (
        stamp, host, "10.10.1.5")


def test_mtn_content_format() -> None:
    built = parse("<190>2026-11-24 08:15:00 USG6650 %%01SECLOG/6/SESSION_BUILT(l): Built an "
                  "udp session, 10.10.1.5:5353 (trust) to 203.0.113.53:53 (untrust).")
    bare = parse("<190>USG6650 %%: Built an udp session, 10.10.1.5:5353 (trust) to "
                 "203.0.113.53:53 (untrust).")
    for ev in (built, bare):
        assert (ev["source.ip"], ev["source.port"], ev["destination.port"],
                ev["observer.egress.zone"], ev["event.type"]) == (
            "10.10.1.5", 5353, 53, "untrust", ["connection", "start", "allowed"])


def test_policy_deny_and_the_time_in_its_body() -> None:
    ev = parse("%%01POLICY/6/POLICYDENY(l)[5]:vsys=public, protocol=6, source-ip=203.0.113.9, "
               "source-port=4444, destination-ip=10.10.1.20, destination-port=3389, "
               "time=2026/11/24 08:10:00, source-zone=untrust, destination-zone=trust, "
               "application-name=RDP, rule-name=deny-rdp.")
    assert (ev["@timestamp"], ev["event.action"], ev["event.type"], ev["event.outcome"],
            ev["network.transport"], ev["network.application"], ev["rule.name"],
            ev["huawei.usg.vsys"]) == (
        "2026-11-24T01:10:00.000Z", "policydeny", ["connection", "denied"], "failure", "tcp",
        "rdp", "deny-rdp", "public")


def test_packet_deny_ipv6() -> None:
    ev = parse("<188>Nov 24 2026 08:15:00 USG6650 %%01SECLOG/4/PACKET_DENY(l)[7]:IPVer=6,"
               "Protocol=udp,SourceIP=2001:db8::9,DestinationIP=2001:db8:1::20,SourcePort=5353,"
               "DestinationPort=161,SourceZone=untrust,DestinationZone=trust,PolicyName=default")
    assert (ev["source.ip"], ev["network.type"], ev["event.outcome"], ev["event.action"]) == (
        "2001:db8::9", "ipv6", "failure", "packet_deny")


@pytest.mark.parametrize(("line", "expected"), [
    ('<188>Nov 24 2026 08:15:00 USG6650 %%01IPS/4/DETECT(l)[3]:An intrusion was detected. '
     '(SyslogId=12, VSys="public", Policy="ips-in", SrcIp=203.0.113.9, DstIp=10.10.1.20, '
     'SrcPort=51234, DstPort=80, SrcZone=untrust, DstZone=dmz, User="unknown", Protocol=TCP, '
     'Application="HTTP", Profile="default", SignName="Apache Struts2 Remote Code Execution", '
     "SignId=1000123, EventNum=1, Target=server, Severity=high, Os=all, Category=Vulnerability,"
     " Action=Block)",
     {"event.kind": "alert", "event.category": ["intrusion_detection", "network"],
      "rule.name": "Apache Struts2 Remote Code Execution", "rule.id": "1000123",
      "rule.ruleset": "ips-in", "event.outcome": "failure", "source.port": 51234,
      "user.name": None, "huawei.usg.action": "Block"}),
    ('<188>Nov 24 2026 08:15:00 USG6650 %%01AV/4/VIRUS(l)[4]:A virus was detected. '
     '(SyslogId=2, VSys="public", Policy="av", SrcIp=203.0.113.50, DstIp=10.10.1.5, '
     'SrcPort=80, DstPort=51234, SrcZone=untrust, DstZone=trust, User="nam.nv", Protocol=HTTP, '
     'Application="HTTP", Profile="default", Direction=download, FileName="eicar.com", '
     'VirusName="EICAR-Test-File", Action=Alert)',
     {"event.kind": "alert", "event.category": ["malware", "network"],
      "rule.name": "EICAR-Test-File", "file.name": "eicar.com", "user.name": "nam.nv",
      "network.transport": "http"}),
    ('<188>Nov 24 2026 08:15:00 USG6650 %%01URL/4/FILTER(l)[5]:The URL filtering policy was '
     'matched. (SyslogId=3, VSys="public", Policy="url", SrcIp=10.10.1.5, DstIp=203.0.113.7, '
     'SrcPort=51000, DstPort=80, SrcZone=trust, DstZone=untrust, User="nam.nv", '
     'Protocol=TCP, Application="HTTP", Profile="default", Type=Category, EventNum=1, '
     'Category="Gambling", SubCategory="Casino", Page="/index.php?a=1,b=2", '
     'Host="casino.example", Referer="-", Item="none", Action=Block)',
     {"event.category": ["web", "network"], "url.domain": "casino.example",
      "url.path": "/index.php?a=1,b=2", "event.outcome": "failure"}),
    ("<189>Nov 24 2026 08:15:00 USG6650 %%01SSH/5/SSH_USER_LOGIN_FAIL(s)[6]:The SSH user "
     "failed to login. (ServiceType=stelnet, UserName=admin, UserAddress=203.0.113.9, "
     "LocalAddress=10.10.0.1, VpnInstanceName=, Reason=Authentication failed.)",
     {"event.category": ["authentication"], "event.outcome": "failure", "user.name": "admin",
      "source.ip": "203.0.113.9", "destination.ip": "10.10.0.1",
      "event.reason": "Authentication failed"}),
    ("<189>Nov 24 2026 08:15:00 AR6120 %%01SHELL/5/LOGIN(s)[7]:The user succeeded in logging "
     "in to VTY0. (UserType=SSH, UserName=admin, AuthenticationMethod=password, "
     "RemoteIp=10.10.0.5, VpnName=, LocalIp=10.10.0.1)",
     {"event.category": ["authentication"], "event.outcome": "success",
      "event.type": ["start"], "source.ip": "10.10.0.5"}),
    ('<189>Nov 24 2026 08:15:00 AR6120 %%01SHELL/5/CMDRECORD(s)[8]:Recorded command '
     'information. (Task=VT0, Ip=10.10.0.5, VpnName=, User=admin, AuthenticationMethod='
     '"Local-user", Command="undo info-center enable")',
     {"event.category": ["configuration"], "process.command_line": "undo info-center enable",
      "user.name": "admin", "source.ip": "10.10.0.5"}),
    ("<189>Nov 24 2026 08:15:00 S5735 %%01SHELL/5/LOGOUT(s)[9]:User admin logged out from "
     "10.10.0.5.",
     {"event.type": ["end"], "source.ip": "10.10.0.5", "event.action": "logout"}),
])
def test_threat_login_and_command_logs(line: str, expected: dict[str, object]) -> None:
    ev = parse(line)
    assert {k: ev.get(k) for k in expected} == expected


def test_a_routers_own_message_keeps_its_brief_for_keyword_rules() -> None:
    ev = parse("<187>Nov 24 2026 08:15:00 AR6120 %%01BGP/3/BGP_AUTH_FAILED(l)[10]:BGP "
               "authentication failed. (PeerAddress=203.0.113.1:179, VpnInstance=_public_)")
    assert (ev["event.code"], ev["event.category"], ev["source.ip"], ev["source.port"]) == (
        "BGP/3/BGP_AUTH_FAILED", ["authentication"], "203.0.113.1", 179)
    assert "BGP_AUTH_FAILED" in ev["huawei.usg.brief"] and ":179" in ev["message"]


def test_truncated_log() -> None:
    ev = parse(f"<188>Nov 24 2026 08:15:00 USG6650 %%01SECLOG/4/SESSION_TEARDOWN(l)[12]:"
               f"{TEARDOWN[:60]}")
    assert (ev["source.ip"], "destination.ip" in ev) == ("10.10.1.5", False)


@pytest.mark.parametrize(("line", "reason"), [
    ("Nov 24 08:15:00 web01 app: 100%% done",
     "not a Huawei log (no %%nnMODULE/severity/BRIEF: after the header)"),
    ("<188>Feb 30 2026 08:15:00 USG6650 %%01SECLOG/4/X(l):a=1",
     "no such date: day 30 of month 2 in 2026"),
])
def test_garbage(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(line)
    assert exc.value.message == reason


def test_sniff() -> None:
    assert HuaweiParser().sniff("<188>USG6650 %%01SECLOG/4/SESSION_TEARDOWN(l):x")
    assert not HuaweiParser().sniff("<166>%ASA-6-302013: Built")
