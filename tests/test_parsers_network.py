"""Firewall parsers: FortiGate, Cisco ASA/FTD, pfSense filterlog, netfilter. Lines made up here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.network import (
    CiscoAsaParser,
    FortiGateParser,
    IptablesParser,
    PfSenseParser,
)
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
TS = "2026-11-24T01:15:00.000Z"  # 08:15:00 in Hanoi


def fw(dataset: str, vendor: str, product: str, module: str, **more: Any) -> Event:
    ev: Event = {
        "@timestamp": TS, "event.dataset": dataset, "event.module": module,
        "event.kind": "event", "event.category": ["network"], "observer.vendor": vendor,
        "observer.product": product, "observer.type": "firewall",
    }
    ev.update({k.replace("__", "."): v for k, v in more.items()})
    return ev


def pri(facility: int, severity: int, name: str, level: str) -> dict[str, Any]:
    """The fields of a ``<PRI>`` (as ``**`` arguments of :func:`fw`: dots spelt ``__``)."""
    return {"log__syslog__priority": facility * 8 + severity,
            "log__syslog__facility__code": facility, "log__syslog__facility__name": name,
            "log__syslog__severity__code": severity, "log__syslog__severity__name": level}


LOCAL4_INFO = pri(20, 6, "local4", "Informational")
DENIED = {"event.type": ["connection", "denied"], "event.outcome": "failure"}
ALLOWED = {"event.type": ["connection", "allowed"], "event.outcome": "success"}

# --------------------------------------------------------------------------- FortiGate


def test_fortigate_traffic_with_tz_field() -> None:
    line = ('<189>date=2026-11-24 time=08:15:00 devname="FGT-HG-01" devid="FG100FTK20000001" '
            'eventtime=1795482900123456789 tz="+0700" logid="0000000013" type="traffic" '
            'subtype="forward" level="notice" vd="root" srcip=10.10.1.5 srcport=51234 '
            'srcintf="port1" dstip=203.0.113.10 dstport=443 dstintf="wan1" proto=6 '
            'action="deny" policyid=12 policyname="Chan \\"IoT\\"" service="HTTPS" sentbyte=0')
    assert FortiGateParser().parse(line, CTX) == fw(
        "fortigate.traffic", "Fortinet", "FortiGate", "fortinet", **DENIED,
        **pri(23, 5, "local7", "Notice"),
        observer__name="FGT-HG-01", observer__serial_number="FG100FTK20000001",
        event__code="0000000013", fortinet__firewall__subtype="forward", log__level="notice",
        fortinet__firewall__vd="root", source__ip="10.10.1.5", source__port=51234,
        observer__ingress__interface__name="port1", destination__ip="203.0.113.10",
        destination__port=443, observer__egress__interface__name="wan1", rule__id="12",
        rule__name='Chan "IoT"', source__bytes=0, fortinet__firewall__type="traffic",
        network__iana_number="6", network__transport="tcp", network__protocol="https",
        event__action="deny")


def test_fortigate_event_after_syslog_header_in_local_time() -> None:
    line = ('Nov 24 08:15:02 10.0.0.1 date=2026-11-24 time=08:15:00 devname="FGT-HG-01" '
            'devid="FG100FTK20000001" logid="0101039426" type="event" subtype="vpn" '
            'level="alert" logdesc="SSL VPN login fail" action="ssl-login-fail" '
            'remip=203.0.113.20 user="canbo01" status="failure" msg="SSL user failed to logged in"')
    ev = FortiGateParser().parse(line, CTX)
    assert ev["@timestamp"] == TS and ev["event.dataset"] == "fortigate.event"
    assert (ev["source.ip"], ev["user.name"], ev["event.outcome"], ev["event.action"]) == (
        "203.0.113.20", "canbo01", "failure", "ssl-login-fail")


def test_fortigate_pri_after_a_relay_header() -> None:
    line = ('<190>Nov 24 08:15:02 10.0.0.1 date=2026-11-24 time=08:15:00 devid="FG1" '
            'logid="0000000013" type="traffic" action="accept"')
    ev = FortiGateParser().parse(line, CTX)
    assert (ev["@timestamp"], ev["log.syslog.severity.name"], ev["log.syslog.facility.code"],
            ev["event.outcome"]) == (TS, "Informational", 23, "success")


def test_fortigate_utm_dataset() -> None:
    line = ('date=2026-11-24 time=08:15:00 devid="FG1" logid="0419016384" type="utm" '
            'subtype="ips" attack="Apache.Log4j.Error.Log.Remote.Code.Execution" '
            'attackid=51006 srcip=203.0.113.5 dstip=10.20.0.10 action="dropped"')
    ev = FortiGateParser().parse(line, CTX)
    assert (ev["event.dataset"], ev["rule.name"], ev["rule.id"], ev["event.outcome"]) == (
        "fortigate.utm", "Apache.Log4j.Error.Log.Remote.Code.Execution", "51006", "failure")


@pytest.mark.parametrize("line", [
    "garbage", 'devname="x" logid="1" devid="y"',
    'date=2026-11-24 time=25:99:00 devid="FG1" logid="1" type="traffic"',
])
def test_fortigate_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        FortiGateParser().parse(line, CTX)


# --------------------------------------------------------------------------- Cisco ASA


def asa(mid: str, level: int, message: str, **more: Any) -> Event:
    return fw("cisco.asa", "Cisco", "asa", "cisco", event__code=mid, event__severity=level,
              log__level=("emergency", "alert", "critical", "error", "warning", "notice",
                          "informational", "debug")[level],
              cisco__asa__message_id=mid, message=message, **more)


def test_asa_built_outbound_swaps_to_the_inside_initiator() -> None:
    msg = ("Built outbound TCP connection 6789 for outside:8.8.8.8/443 (8.8.8.8/443) to "
           "inside:10.10.1.5/51000 (113.160.1.10/51000)")
    line = f"<166>Nov 24 2026 08:15:00 asa-hg-01 : %ASA-6-302013: {msg}"
    assert CiscoAsaParser().parse(line, CTX) == asa(
        "302013", 6, msg, **ALLOWED, **LOCAL4_INFO, observer__name="asa-hg-01",
        network__transport="tcp",
        cisco__asa__connection_id="6789", destination__ip="8.8.8.8", destination__port=443,
        destination__nat__ip="8.8.8.8", destination__nat__port=443,
        observer__egress__interface__name="outside", source__ip="10.10.1.5",
        source__port=51000, source__nat__ip="113.160.1.10", source__nat__port=51000,
        observer__ingress__interface__name="inside", event__action="connection-started")


def test_asa_deny_by_acl_without_timestamp_uses_now() -> None:
    msg = ('Deny tcp src outside:203.0.113.5/4444 dst dmz:10.20.0.10/3389 by access-group '
           '"outside_access_in" [0x0, 0x0]')
    assert CiscoAsaParser().parse(f"<164>%ASA-4-106023: {msg}", CTX) == asa(
        "106023", 4, msg, **DENIED, **{"@timestamp": "2026-11-24T03:00:00.000Z"},
        **pri(20, 4, "local4", "Warning"),
        network__transport="tcp", observer__ingress__interface__name="outside",
        source__ip="203.0.113.5", source__port=4444,
        observer__egress__interface__name="dmz", destination__ip="10.20.0.10",
        destination__port=3389, rule__name="outside_access_in", event__action="firewall-rule")


def test_asa_teardown_behind_relay_syslog_header() -> None:
    msg = ("Teardown TCP connection 12345 for outside:203.0.113.5/51234 to dmz:10.20.0.10/443 "
           "duration 0:00:05 bytes 1234 TCP FINs")
    ev = CiscoAsaParser().parse(f"Nov 24 08:15:00 10.1.1.1 %ASA-6-302014: {msg}", CTX)
    assert ev == asa(
        "302014", 6, msg, observer__name="10.1.1.1", network__transport="tcp",
        cisco__asa__connection_id="12345", observer__ingress__interface__name="outside",
        source__ip="203.0.113.5", source__port=51234,
        observer__egress__interface__name="dmz", destination__ip="10.20.0.10",
        destination__port=443, cisco__asa__duration="0:00:05", network__bytes=1234,
        event__reason="TCP FINs", event__type=["connection"],
        event__action="connection-finished")


@pytest.mark.parametrize(("message", "expected"), [
    ("Inbound TCP connection denied from 203.0.113.5/4444 to 113.160.1.10/23 flags SYN  on "
     "interface outside", {"source.ip": "203.0.113.5", "destination.port": 23, **DENIED}),
    ("Deny inbound UDP from 203.0.113.5/5060 to 113.160.1.10/5060 on interface outside",
     {"network.transport": "udp", "observer.ingress.interface.name": "outside", **DENIED}),
    ("Deny TCP (no connection) from 10.10.1.5/51234 to 203.0.113.5/443 flags RST  on interface "
     "inside", {"source.ip": "10.10.1.5", "destination.ip": "203.0.113.5", **DENIED}),
    ("access-list outside_access_in permitted tcp outside/203.0.113.5(4444) -> "
     "inside/10.10.1.20(3389) hit-cnt 1 first hit [0x91c26a3, 0x0]",
     {"rule.name": "outside_access_in", "destination.port": 3389, **ALLOWED}),
    ("Built inbound UDP connection 77 for outside:203.0.113.5/53000 (203.0.113.5/53000) to "
     "dmz:10.20.0.53/53 (113.160.1.53/53)",
     {"source.ip": "203.0.113.5", "destination.nat.ip": "113.160.1.53", **ALLOWED}),
    ("Teardown UDP connection 77 for outside:203.0.113.5/53000 to dmz:10.20.0.53/53 duration "
     "0:02:01 bytes 98", {"network.bytes": 98, "event.type": ["connection"]}),
    ("Built dynamic TCP translation from inside:10.10.1.5/51234 to outside:113.160.1.10/40001",
     {"source.nat.ip": "113.160.1.10", "source.nat.port": 40001}),
    ("AAA user authentication Successful : server =  10.10.0.5 : user = canbo01",
     {"user.name": "canbo01", "cisco.asa.aaa_server": "10.10.0.5", "event.outcome": "success",
      "event.category": ["authentication"]}),
    ("AAA user authentication Rejected : reason = Invalid password : server = 10.10.0.5 : "
     "user = admin : user IP = 203.0.113.9",
     {"user.name": "admin", "source.ip": "203.0.113.9", "event.reason": "Invalid password",
      "event.outcome": "failure"}),
    ("User authentication succeeded: IP address: 10.10.1.50, Uname: admin",
     {"user.name": "admin", "source.ip": "10.10.1.50", "event.outcome": "success"}),
    ('Login denied from 203.0.113.9/51000 to outside:113.160.1.1/ssh for user "admin"',
     {"user.name": "admin", "network.protocol": "ssh", "event.outcome": "failure"}),
    ('Login permitted from 10.10.1.50/51000 to inside:10.10.0.1/https for user "admin"',
     {"destination.ip": "10.10.0.1", "event.outcome": "success"}),
    ("Group <GroupPolicy_VPN> User <canbo01> IP <203.0.113.20> TCP SVC connection established "
     "without compression", {"user.name": "canbo01", "event.action": "vpn-connected"}),
    ("Group <GroupPolicy_VPN> User <canbo01> IP <203.0.113.20> UDP SVC connection terminated "
     "without compression", {"source.ip": "203.0.113.20", "event.action": "vpn-disconnected"}),
    ("Group <GroupPolicy_VPN> User <canbo01> IP <203.0.113.20> WebVPN session started.",
     {"cisco.asa.tunnel_group": "GroupPolicy_VPN", "event.action": "vpn-session-started"}),
    ("Group <GroupPolicy_VPN> User <canbo01> IP <203.0.113.20> WebVPN session terminated: User "
     "Requested.", {"event.reason": "User Requested", "event.action": "vpn-session-ended"}),
])
def test_asa_messages(message: str, expected: dict[str, Any]) -> None:
    ids = {"Inbound": "106001", "Deny inbound": "106006", "Deny TCP": "106015",
           "access-list": "106100", "Built inbound": "302015", "Teardown UDP": "302016",
           "Built dynamic": "305011", "AAA user authentication S": "113004",
           "AAA user authentication R": "113005", "User auth": "611101",
           "Login denied": "605004", "Login permitted": "605005", "Group <GroupPolicy_VPN> "
           "User <canbo01> IP <203.0.113.20> TCP": "722022", "Group <GroupPolicy_VPN> User "
           "<canbo01> IP <203.0.113.20> UDP": "722023"}
    mid = next((v for k, v in ids.items() if message.startswith(k)),
               "716001" if "started" in message else "716002")
    ev = CiscoAsaParser().parse(f"<166>Nov 24 2026 08:15:00: %ASA-6-{mid}: {message}", CTX)
    assert {k: ev.get(k) for k in expected} == expected
    assert ev["event.code"] == mid and ev["@timestamp"] == TS


def test_ftd_and_unknown_ids_keep_the_common_fields() -> None:
    ev = CiscoAsaParser().parse("<166>Nov 24 2026 08:15:00 ftd01 : %FTD-5-199999: hello", CTX)
    assert ev == fw("cisco.ftd", "Cisco", "ftd", "cisco", **LOCAL4_INFO, observer__name="ftd01",
                    event__code="199999", event__severity=5, log__level="notice",
                    cisco__asa__message_id="199999", message="hello")


@pytest.mark.parametrize(("line", "ts", "name"), [
    ("<166>Nov 24 2026 08:15:00.250 ICT: asa01 : %ASA-6-199999: x", "2026-11-24T01:15:00.250Z",
     "asa01"),
    ("<166>Nov 24 2026 01:15:00 UTC: %ASA-6-199999: x", "2026-11-24T01:15:00.000Z", None),
    ("Nov 24 2026 08:15:00 asa01: %ASA-6-199999: x", TS, "asa01"),
    ("<166>4711: Nov 24 2026 08:15:00 asa01 : %ASA-6-199999: x", TS, "asa01"),
    ("<166>4711: %ASA-6-199999: x", "2026-11-24T03:00:00.000Z", None),
    ("2026-11-24T08:15:00+07:00 relay1 %ASA-6-199999: x", TS, "relay1"),
])
def test_asa_headers(line: str, ts: str, name: str | None) -> None:
    ev = CiscoAsaParser().parse(line, CTX)
    assert (ev["@timestamp"], ev.get("observer.name"), ev["message"]) == (ts, name, "x")
    assert ev.get("log.syslog.priority") == (166 if line.startswith("<") else None)


@pytest.mark.parametrize("line", ["garbage", "%ASA-9-302013: x", "junk header %ASA-6-302013: x",
                                  "<166>Nov 24 2026 28:15:00 a : %ASA-6-302013: x"])
def test_asa_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        CiscoAsaParser().parse(line, CTX)


# --------------------------------------------------------------------------- pfSense, netfilter


def test_pfsense_filterlog_ipv4_tcp_block() -> None:
    line = ("Nov 24 08:15:00 pfsense filterlog[12345]: 5,,,1000000103,igb1,match,block,in,4,0x0,,"
            "64,12345,0,DF,6,tcp,60,203.0.113.5,113.160.1.10,51234,22,0,S,123456789,,64240,,mss")
    assert PfSenseParser().parse(line, CTX) == fw(
        "pfsense.filterlog", "Netgate", "pfSense", "pfsense", **DENIED, observer__name="pfsense",
        rule__id="1000000103", pfsense__rule_number="5", event__reason="match",
        network__direction="ingress", observer__ingress__interface__name="igb1",
        network__type="ipv4", event__action="block", network__transport="tcp",
        network__iana_number="6", source__ip="203.0.113.5", destination__ip="113.160.1.10",
        source__port=51234, destination__port=22, pfsense__tcp__flags="S")


def test_pfsense_filterlog_rfc5424_ipv6_udp_pass() -> None:
    line = ("<134>1 2026-11-24T08:15:00+07:00 pfsense.hagiang.gov.vn filterlog 12345 - - "
            "77,,,1000000003,igb0,match,pass,out,6,0x00,0x00000,64,udp,17,60,2001:db8::5,"
            "2001:db8:1::53,53211,53,60")
    ev = PfSenseParser().parse(line, CTX)
    assert (ev["source.ip"], ev["destination.port"], ev["network.direction"],
            ev["event.outcome"], ev["@timestamp"]) == (
        "2001:db8::5", 53, "egress", "success", TS)


@pytest.mark.parametrize("line", [
    "Nov 24 08:15:00 pfsense filterlog[1]: 5,,,1,igb1,match", "garbage",
    "Nov 24 08:15:00 pfsense sshd[1]: filterlog 1,2,3",
])
def test_pfsense_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        PfSenseParser().parse(line, CTX)


def test_pfsense_and_netfilter_keep_the_pri() -> None:
    pf = PfSenseParser().parse("<134>Nov 24 08:15:00 pfsense filterlog[1]: 5,,,1000000103,igb1,"
                               "match,pass,out,4,0x0,,64,1,0,DF,17,udp,60,10.0.0.1,10.0.0.2,1,53,"
                               "40", CTX)
    nf = IptablesParser().parse("<4>Nov 24 08:15:00 web01 kernel: IN=eth0 OUT= SRC=1.2.3.4 "
                                "DST=5.6.7.8 PROTO=UDP SPT=1 DPT=2", CTX)
    assert (pf["log.syslog.priority"], pf["destination.port"]) == (134, 53)
    assert (nf["log.syslog.facility.name"], nf["log.syslog.severity.name"]) == (
        "kernel", "Warning")


def test_netfilter_kernel_line() -> None:
    line = ("Nov 24 08:15:00 web01 kernel: [123456.789012] [UFW BLOCK] IN=eth0 OUT= "
            "MAC=00:16:3e:aa:bb:cc SRC=203.0.113.5 DST=10.20.0.10 LEN=60 TTL=50 DF PROTO=TCP "
            "SPT=51234 DPT=22 WINDOW=64240 SYN URGP=0")
    assert IptablesParser().parse(line, CTX) == fw(
        "iptables.log", "Linux", "netfilter", "iptables", **DENIED, observer__name="web01",
        rule__name="[UFW BLOCK]", event__action="block",
        observer__ingress__interface__name="eth0", iptables__mac="00:16:3e:aa:bb:cc",
        source__ip="203.0.113.5", destination__ip="10.20.0.10", iptables__len="60",
        iptables__ttl="50", network__transport="tcp", source__port=51234,
        destination__port=22, iptables__window="64240", iptables__urgp="0",
        iptables__flags=["DF", "SYN"])


@pytest.mark.parametrize("line", ["IN=eth0 SRC=1.2.3.4 DST=5.6.7.8",
                                  "Nov 24 08:15:00 web01 kernel: eth0: link up SRC=1 DST=2"])
def test_netfilter_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        IptablesParser().parse(line, CTX)


def test_sniffs_are_specific() -> None:
    fgt, asa_, pf, nf = FortiGateParser(), CiscoAsaParser(), PfSenseParser(), IptablesParser()
    plain = "Nov 24 08:15:00 web01 sshd[1]: Accepted password for root from 1.2.3.4 port 2 ssh2"
    assert not any(p.sniff(plain) for p in (fgt, asa_, pf, nf))
    assert asa_.sniff("<166>%ASA-6-302013: Built") and not fgt.sniff("<166>%ASA-6-302013: Built")
    assert pf.sniff("Nov 24 08:15:00 pfsense filterlog[1]: 5,,")
    assert nf.sniff("kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP")
