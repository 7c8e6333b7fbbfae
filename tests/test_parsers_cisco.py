"""Cisco parsers: ASA, FTD, PIX (cisco.asa, cisco.ftd) and IOS (cisco.ios). Every line is written
here from Cisco's message references (the format each message id prints), with documentation
addresses; several per family, some cut short, reordered or odd."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.cisco import CiscoAsaParser, CiscoIosParser
from collectors.parsers.cisco_asa_messages import ASA
from collectors.parsers.cisco_catalog import compile_template
from collectors.parsers.cisco_ios import IOS
from soc.detection.engine import Engine
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import get_parser, parse_record
from soc.pipeline.sources import ParseContext, RawRecord

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
TS = "2026-11-24T01:15:00.000Z"  # 08:15:00 in Hanoi
NOW = "2026-11-24T03:00:00.000Z"
LOCAL4_INFO = {"log.syslog.priority": 166, "log.syslog.facility.code": 20,
               "log.syslog.facility.name": "local4", "log.syslog.severity.code": 6,
               "log.syslog.severity.name": "Informational"}


def asa(line: str) -> Event:
    return CiscoAsaParser().parse(line, CTX)


def ios(line: str) -> Event:
    return CiscoIosParser().parse(line, CTX)


def common(dataset: str, product: str, mid: str, level: int, message: str) -> Event:
    return {"event.dataset": dataset, "event.module": "cisco", "event.kind": "event",
            "observer.vendor": "Cisco", "observer.product": product, "observer.type": "firewall",
            "event.code": mid, "event.severity": level,
            "log.level": ("emergency", "alert", "critical", "error", "warning", "notice",
                          "informational", "debug")[level],
            f"{dataset}.message_id": mid, "message": message}


def subset(ev: Event, expected: dict[str, Any]) -> dict[str, Any]:
    return {k: ev.get(k) for k in expected}


# --------------------------------------------------------------------------- whole events


def test_built_outbound_swaps_the_ends_so_the_inside_host_is_the_source() -> None:
    msg = ("Built outbound TCP connection 6789 for outside:198.51.100.80/443 (198.51.100.80/443) "
           "to inside:10.20.1.5/51000 (113.160.1.10/41000)")
    line = f"<166>Nov 24 2026 08:15:00 asa-hg-01 : %ASA-6-302013: {msg}"
    assert asa(line) == {
        "@timestamp": TS, **common("cisco.asa", "asa", "302013", 6, msg), **LOCAL4_INFO,
        "event.category": ["network"], "event.type": ["connection", "start", "allowed"],
        "event.outcome": "success", "event.action": "flow-creation",
        "observer.name": "asa-hg-01", "network.direction": "outbound", "network.transport": "tcp",
        "cisco.asa.connection_id": "6789",
        "destination.ip": "198.51.100.80", "destination.port": 443,
        "observer.egress.interface.name": "outside",
        "source.ip": "10.20.1.5", "source.port": 51000, "source.nat.ip": "113.160.1.10",
        "source.nat.port": 41000, "observer.ingress.interface.name": "inside"}


def test_built_inbound_keeps_the_order_and_drops_a_mapping_that_changed_nothing() -> None:
    ev = asa("%ASA-6-302015: Built inbound UDP connection 77 for outside:203.0.113.5/53000 "
             "(203.0.113.5/53000) to dmz:10.20.0.53/53 (113.160.1.53/53)")
    assert subset(ev, {"source.ip": "203.0.113.5", "source.port": 53000,
                       "destination.ip": "10.20.0.53", "destination.nat.ip": "113.160.1.53",
                       "destination.nat.port": 53, "source.nat.ip": None,
                       "network.direction": "inbound", "network.transport": "udp",
                       "observer.ingress.interface.name": "outside"}) == {
        "source.ip": "203.0.113.5", "source.port": 53000, "destination.ip": "10.20.0.53",
        "destination.nat.ip": "113.160.1.53", "destination.nat.port": 53, "source.nat.ip": None,
        "network.direction": "inbound", "network.transport": "udp",
        "observer.ingress.interface.name": "outside"}


def test_deny_by_access_group_without_any_header_takes_the_time_of_parsing() -> None:
    msg = ('Deny tcp src outside:203.0.113.5/4444 dst dmz:10.20.0.10/3389 by access-group '
           '"outside_access_in" [0x0, 0x0]')
    assert asa(f"%ASA-4-106023: {msg}") == {
        "@timestamp": NOW, **common("cisco.asa", "asa", "106023", 4, msg),
        "event.category": ["network"], "event.type": ["connection", "denied"],
        "event.outcome": "failure", "event.action": "firewall-rule", "network.transport": "tcp",
        "observer.ingress.interface.name": "outside", "source.ip": "203.0.113.5",
        "source.port": 4444, "observer.egress.interface.name": "dmz",
        "destination.ip": "10.20.0.10", "destination.port": 3389, "rule.name": "outside_access_in"}


def test_teardown_keeps_the_devices_order_with_reason_initiator_and_user() -> None:
    msg = ("Teardown TCP connection 12345 for outside:203.0.113.5/51234(LOCAL\\canbo01) to "
           "dmz:10.20.0.10/443 duration 1:02:05 bytes 1234 TCP Reset-O from outside (canbo01)")
    ev = asa(f"Nov 24 08:15:00 10.1.1.1 %ASA-6-302014: {msg}")
    assert ev == {
        "@timestamp": TS, **common("cisco.asa", "asa", "302014", 6, msg),
        "event.category": ["network"], "event.type": ["connection", "end"],
        "event.action": "flow-expiration", "observer.name": "10.1.1.1",
        "network.transport": "tcp", "cisco.asa.connection_id": "12345",
        "observer.ingress.interface.name": "outside", "source.ip": "203.0.113.5",
        "source.port": 51234, "source.user.name": "canbo01",
        "observer.egress.interface.name": "dmz", "destination.ip": "10.20.0.10",
        "destination.port": 443, "event.duration": 3725 * 10**9, "network.bytes": 1234,
        "event.reason": "TCP Reset-O", "cisco.asa.termination_initiator": "outside",
        "user.name": "canbo01"}


@pytest.mark.parametrize(("direction", "source", "destination", "nat"), [
    ("inbound", "203.0.113.20", "10.20.0.30", "destination.nat.ip"),
    ("outbound", "10.20.0.30", "203.0.113.20", "source.nat.ip"),
])
def test_icmp_built_names_the_foreign_end_first(direction: str, source: str, destination: str,
                                                nat: str) -> None:
    """faddr is the outside end: the source of an inbound ping, the target of an outbound one
    (Elastic's direction rule for 302020); gaddr is the translated inside address."""
    ev = asa(f"%ASA-6-302020: Built {direction} ICMP connection for faddr 203.0.113.20/512 "
             "gaddr 113.160.1.30/0 laddr 10.20.0.30/0 type 8 code 0")
    assert (ev["source.ip"], ev["destination.ip"], ev[nat], ev["cisco.asa.icmp_type"]) == (
        source, destination, "113.160.1.30", 8)


# --------------------------------------------------------------------------- message families


MESSAGES = [
    # access lists and denied packets
    ("106001", "Inbound TCP connection denied from 203.0.113.5/4444 to 113.160.1.10/23 flags SYN "
               " on interface outside",
     {"source.ip": "203.0.113.5", "destination.port": 23, "network.direction": "inbound",
      "event.outcome": "failure", "observer.ingress.interface.name": "outside"}),
    ("106002", "udp Connection denied by outbound list 101 src 10.20.0.7 dest 198.51.100.53",
     {"source.ip": "10.20.0.7", "destination.ip": "198.51.100.53", "rule.name": "101"}),
    ("106006", "Deny inbound UDP from 203.0.113.5/5060 to 113.160.1.10/5060 on interface outside",
     {"network.transport": "udp", "source.port": 5060, "event.type": ["connection", "denied"]}),
    ("106007", "Deny inbound UDP from 203.0.113.5/53 to 10.20.0.53/53 due to DNS Response",
     {"source.ip": "203.0.113.5", "event.reason": "DNS Response"}),
    ("106010", "Deny inbound protocol 47 src outside:203.0.113.5 dst inside:10.20.0.1",
     {"network.transport": "gre", "network.iana_number": "47", "destination.ip": "10.20.0.1"}),
    ("106011", "Deny inbound (No xlate) tcp src outside:203.0.113.6/80 dst outside:113.160.1.9/22",
     {"source.ip": "203.0.113.6", "destination.port": 22}),
    ("106014", "Deny inbound icmp src outside:203.0.113.5 dst inside:10.20.0.1 (type 8, code 0)",
     {"source.ip": "203.0.113.5", "cisco.asa.icmp_type": 8, "event.action": "firewall-rule"}),
    ("106015", "Deny TCP (no connection) from 10.20.1.5/51234 to 203.0.113.5/443 flags RST  on "
               "interface inside",
     {"source.ip": "10.20.1.5", "destination.ip": "203.0.113.5", "event.outcome": "failure"}),
    ("106016", "Deny IP spoof from (10.20.0.9) to 10.20.0.1 on interface outside",
     {"source.ip": "10.20.0.9", "observer.ingress.interface.name": "outside"}),
    ("106021", "Deny TCP reverse path check from 10.20.0.9 to 203.0.113.7 on interface outside",
     {"source.ip": "10.20.0.9", "network.transport": "tcp"}),
    ("106023", "Deny udp src inside:10.20.1.7/137(CORP\\nam) dst outside:198.51.100.1/137 by "
               "access-group \"inside_in\" [0x1, 0x2]",
     {"source.user.name": "nam", "source.user.domain": "CORP", "user.name": "nam",
      "rule.name": "inside_in"}),
    ("106023", "Deny icmp src outside:2001:db8::5 dst inside:2001:db8:1::10 (type 128, code 0) by "
               "access-group \"outside_in\"",
     {"source.ip": "2001:db8::5", "destination.ip": "2001:db8:1::10", "cisco.asa.icmp_code": 0}),
    ("106023", "Deny tcp src outside:203.0.113.5/4444 dst inside:10.20.0.9/445",  # cut short
     {"source.ip": "203.0.113.5", "destination.port": 445, "rule.name": None}),
    ("106100", "access-list outside_in permitted tcp outside/203.0.113.5(4444) -> "
               "inside/10.20.1.20(3389) hit-cnt 1 first hit [0x91c26a3, 0x0]",
     {"rule.name": "outside_in", "destination.port": 3389, "event.outcome": "success",
      "event.type": ["connection", "allowed"]}),
    ("106100", "access-list inside_in denied udp inside/10.20.1.5(1039) -> outside/198.51.100.10"
               "(53) hit-cnt 4 300-second interval [0xd820e56a, 0x0]",
     {"event.outcome": "failure", "event.type": ["connection", "denied"]}),
    ("106100", "access-list inside_in est-allowed tcp inside/10.20.1.5(49840) -> "
               "outside/198.51.100.88(443) hit-cnt 1 first hit [0x71a87d94, 0x0]",
     {"event.outcome": "success"}),
    ("106103", "access-list vpn_filter denied tcp for user 'canbo02' outside/10.99.0.5(51950) -> "
               "inside/10.20.0.12(445) hit-cnt 1 first hit [0xd3e666fa, 0x0]",
     {"user.name": "canbo02", "source.ip": "10.99.0.5", "event.outcome": "failure"}),
    # cut-through proxy authentication
    ("109005", "Authentication succeeded for user 'nam' from 10.20.1.5/51000 to 10.20.0.80/80 on "
               "interface inside",
     {"user.name": "nam", "event.category": ["authentication"], "event.outcome": "success"}),
    ("109006", "Authentication failed for user 'admin' from 203.0.113.9/4000 to 113.160.1.8/443 "
               "on interface outside",
     {"user.name": "admin", "source.ip": "203.0.113.9", "event.action": "logon-failed"}),
    ("109008", "Authorization denied for user 'nam' from 10.20.1.5/51000 to 198.51.100.1/22 on "
               "interface inside",
     {"event.action": "authorization-denied", "event.outcome": "failure"}),
    ("109024", "Authorization denied from 10.20.1.5/51000 to 198.51.100.1/21 (not authenticated) "
               "on interface inside using ftp",
     {"network.protocol": "ftp", "destination.port": 21}),
    # configuration and commands
    ("111008", "User 'enable_15' executed the 'write erase' command.",
     {"user.name": "enable_15", "cisco.asa.command_line_arguments": "write erase",
      "event.category": ["configuration"], "event.type": ["change"]}),
    ("111009", "User 'quantri' executed cmd: show running-config",
     {"server.user.name": "quantri", "cisco.asa.command_line_arguments": "show running-config",
      "event.type": ["info"]}),
    ("111010", "User 'quantri', running 'CLI' from IP 10.20.0.5, executed 'no logging enable'",
     {"source.ip": "10.20.0.5", "cisco.asa.command_line_arguments": "no logging enable"}),
    ("111001", "Begin configuration: 10.20.0.5 writing to memory",
     {"source.ip": "10.20.0.5", "event.action": "configuration"}),
    ("111004", "console end configuration: FAILED",
     {"source.ip": None, "source.domain": None, "event.outcome": "failure"}),
    # AAA
    ("113004", "AAA user authentication Successful : server =  10.10.0.5 : user = canbo01",
     {"user.name": "canbo01", "destination.ip": "10.10.0.5", "cisco.asa.aaa_server": "10.10.0.5",
      "event.outcome": "success", "event.action": "logged-in"}),
    ("113005", "AAA user authentication Rejected : reason = Invalid password : server = "
               "10.10.0.5 : user = admin : user IP = 203.0.113.9",
     {"user.name": "admin", "source.ip": "203.0.113.9", "event.reason": "Invalid password",
      "event.outcome": "failure", "event.category": ["authentication"]}),
    ("113005", "AAA user authentication Rejected : reason = AAA failure : server = 10.10.0.5 : "
               "user = ***** : user IP = 203.0.113.9",
     {"user.name": None, "source.ip": "203.0.113.9"}),
    ("113006", "User 'admin' locked out on exceeding '3' successive failed authentication attempts",
     {"user.name": "admin", "event.action": "user-locked"}),
    ("113012", "AAA user authentication Successful : local database : user = quantri",
     {"user.name": "quantri", "event.action": "logged-in"}),
    ("113015", "AAA user authentication Rejected : reason = Invalid password : local database : "
               "user = guest : user IP = 203.0.113.10",
     {"user.name": "guest", "source.ip": "203.0.113.10"}),
    ("113019", "Group = VPN-SO, Username = canbo03, IP = 203.0.113.30, Session disconnected. "
               "Session Type: SSL, Duration: 1h:02m:03s, Bytes xmt: 1000, Bytes rcv: 2000, "
               "Reason: User Requested",
     {"source.ip": "203.0.113.30", "user.name": "canbo03", "source.user.group.name": "VPN-SO",
      "event.duration": 3723 * 10**9, "source.bytes": 2000, "destination.bytes": 1000,
      "event.reason": "User Requested", "event.action": "client-vpn-disconnected"}),
    ("113039", "Group <GroupPolicy_VPN> User <canbo04> IP <203.0.113.31> AnyConnect parent "
               "session started.",
     {"source.ip": "203.0.113.31", "user.name": "canbo04", "event.action": "client-vpn-connected"}),
    # NAT
    ("305011", "Built dynamic TCP translation from inside:10.20.1.5/51234 to "
               "outside:113.160.1.10/40001",
     {"source.ip": "10.20.1.5", "source.nat.ip": "113.160.1.10", "source.nat.port": 40001,
      "event.action": "nat-slot"}),
    ("305012", "Teardown static UDP translation from inside(nat_rule):10.20.1.5/123 to "
               "outside:113.160.1.10/123 duration 0:02:00",
     {"rule.name": "nat_rule", "source.ip": "10.20.1.5", "event.duration": 120 * 10**9}),
    ("305009", "Built dynamic translation from inside:10.20.1.5 to outside:113.160.1.10",
     {"source.nat.ip": "113.160.1.10"}),
    ("305013", "Asymmetric NAT rules matched for forward and reverse flows; Connection for tcp "
               "src outside:203.0.113.5/4444 dst inside:10.20.0.5/80 denied due to NAT reverse "
               "path failure",
     {"source.ip": "203.0.113.5", "event.outcome": "failure", "event.action": "nat-denied"}),
    # ICMP, SSH, management logins
    ("313001", "Denied ICMP type=8, code=0 from 203.0.113.5 on interface outside",
     {"source.ip": "203.0.113.5", "cisco.asa.icmp_type": 8}),
    ("313004", "Denied ICMP type=0, from laddr 203.0.113.5 on interface outside to 10.20.0.1: no "
               "matching session",
     {"source.ip": "203.0.113.5", "destination.ip": "10.20.0.1"}),
    ("313005", "No matching connection for ICMP error message: icmp src outside:198.51.100.1 dst "
               "inside:10.20.0.9 (type 3, code 3) on outside interface.  Original IP payload: "
               "udp src 10.20.0.9/5353 dst 198.51.100.1/53.",
     {"source.ip": "10.20.0.9", "destination.port": 53}),
    ("315011", "SSH session from 10.20.0.5 on interface inside for user \"quantri\" disconnected "
               "by SSH server, reason: \"Time-out activated\" (0x91)",
     {"source.ip": "10.20.0.5", "user.name": "quantri", "event.reason": "Time-out activated"}),
    ("605004", "Login denied from 203.0.113.9/51000 to outside:113.160.1.1/ssh for user \"admin\"",
     {"user.name": "admin", "network.protocol": "ssh", "event.outcome": "failure"}),
    ("605005", "Login permitted from 10.20.0.5/51000 to inside:10.20.0.1/https for user "
               "\"quantri\"",
     {"destination.ip": "10.20.0.1", "event.outcome": "success"}),
    ("611101", "User authentication succeeded: IP address: 10.20.0.5, Uname: quantri",
     {"user.name": "quantri", "source.ip": "10.20.0.5", "event.outcome": "success"}),
    ("611102", "User authentication failed: IP address: 203.0.113.9, Uname: root",
     {"user.name": "root", "event.action": "logon-failed"}),
    ("502103", "User priv level changed: Uname: quantri From: 1 To: 15",
     {"user.name": "quantri", "cisco.asa.privilege.new": 15, "event.category": ["iam"]}),
    ("502101", "New user added to local dbase: Uname: backup Priv: 15 Encpass: ***",
     {"user.name": "backup", "event.type": ["user", "creation"]}),
    # VPN: WebVPN, AnyConnect, IKE, IKEv2, DAP
    ("716001", "Group <GroupPolicy_VPN> User <canbo01> IP <203.0.113.20> WebVPN session started.",
     {"source.ip": "203.0.113.20", "source.user.group.name": "GroupPolicy_VPN"}),
    ("716002", "Group GroupPolicy_VPN User canbo01 IP 203.0.113.20 WebVPN session terminated: "
               "Idle timeout.",
     {"user.name": "canbo01", "event.reason": "Idle timeout"}),
    ("716039", "Group <DfltGrpPolicy> User <admin> IP <203.0.113.21> Authentication: rejected, "
               "Session Type: WebVPN.",
     {"user.name": "admin", "source.ip": "203.0.113.21", "event.outcome": "failure",
      "cisco.asa.session_type": "WebVPN"}),
    ("722022", "Group <GroupPolicy_VPN> User <canbo01> IP <203.0.113.20> UDP SVC connection "
               "established without compression",
     {"network.transport": "udp", "event.type": ["connection", "start"]}),
    ("722051", "Group <GroupPolicy_VPN> User <canbo01> IP <203.0.113.20> IPv4 Address "
               "<10.99.0.20> IPv6 address <::> assigned to session",
     {"cisco.asa.assigned_ip": "10.99.0.20", "source.ip": "203.0.113.20"}),
    ("713049", "Group = 198.51.100.77, IP = 198.51.100.77, Security negotiation complete for "
               "LAN-to-LAN Group (198.51.100.77)  Initiator, Inbound SPI = 0x1, Outbound SPI = 0x2",
     {"source.ip": "198.51.100.77", "event.type": ["connection", "start"]}),
    ("713167", "Group = VPN-SO, Username = canbo05, IP = 203.0.113.40, Remote peer has not "
               "responded",  # an id the catalogue does not list: the ISAKMP objects
     {"source.ip": "203.0.113.40", "user.name": "canbo05", "event.action": None}),
    ("713902", "Group = 198.51.100.77, QM FSM error (P2 struct &0x1, mess id 0x2)!",
     {"source.ip": "198.51.100.77", "event.outcome": "failure"}),
    ("750003", "Local:113.160.1.1:500 Remote:203.0.113.50:500 Username:canbo06 IKEv2 Negotiation "
               "aborted due to ERROR: Failed to authenticate the IKE SA",
     {"source.ip": "203.0.113.50", "destination.ip": "113.160.1.1", "user.name": "canbo06",
      "event.outcome": "failure"}),
    ("751026", "Local:113.160.1.1:4500 Remote:203.0.113.50:50000 Username:canbo06 IKEv2 Client "
               "OS: Windows",
     {"source.ip": "203.0.113.50", "source.port": 50000}),
    ("734001", "DAP: User canbo07@so.gov.vn, Addr 203.0.113.60, Connection AnyConnect: The "
               "following DAP records were selected for this connection: DfltAccessPolicy",
     {"user.name": "canbo07", "user.email": "canbo07@so.gov.vn", "source.ip": "203.0.113.60",
      "cisco.asa.dap_records": ["DfltAccessPolicy"]}),
    ("721016", "(WebVPN-Primary) WebVPN session for client user canbo08, IP 203.0.113.61 has been "
               "created.",
     {"source.ip": "203.0.113.61", "user.name": "canbo08"}),
    # IPS, threat detection, botnet filter, shunning
    ("400013", "IPS:2003 ICMP redirect from 198.51.100.1 to 10.20.0.1 on interface outside",
     {"rule.id": "2003", "rule.name": "ICMP redirect", "event.kind": "alert",
      "source.ip": "198.51.100.1"}),
    ("400032", "IDS:4051 UDP Snork attack from 203.0.113.66 to 10.20.0.2 on interface outside",
     {"rule.id": "4051", "event.category": ["intrusion_detection", "network"]}),
    ("733100", "[ 203.0.113.70] drop rate-1 exceeded. Current burst rate is 12 per second, max "
               "configured rate is 10; Current average rate is 9 per second, max configured rate "
               "is 5; Cumulative total count is 5410",
     {"source.ip": "203.0.113.70", "cisco.asa.burst.id": "rate-1", "event.kind": "alert",
      "rule.name": "Threat detection: drop rate exceeded", "rule.id": "733100"}),
    ("733100", "[ Scanning] drop rate-2 exceeded. Current burst rate is 1 per second",
     {"source.ip": None, "cisco.asa.burst.object": "Scanning"}),
    ("733101", "Host 203.0.113.71 is attacking. Current burst rate is 200 per second, max "
               "configured rate is 100",
     {"source.ip": "203.0.113.71"}),
    ("733101", "Subnet 10.20.0.0 is targeted. Current burst rate is 200 per second",
     {"destination.ip": "10.20.0.0", "source.ip": None}),
    ("733102", "Threat-detection adds host 203.0.113.71 to shun list",
     {"source.ip": "203.0.113.71", "event.action": "shun-added"}),
    ("338008", "Dynamic Filter dropped blacklisted TCP traffic from inside:10.20.1.5/51000 "
               "(113.160.1.10/41000) to outside:198.51.100.66/80 (198.51.100.66/80), destination "
               "198.51.100.66 resolved from dynamic list: bad.example.net, threat-level: high, "
               "category: Malware",
     {"destination.domain": "bad.example.net", "event.outcome": "failure",
      "cisco.asa.threat_category": "Malware", "rule.ruleset": "dynamic",
      "rule.name": "Botnet traffic filter: listed destination", "rule.id": "338008"}),
    ("401002", "Shun added: 203.0.113.72 10.20.0.5 0 0",
     {"source.ip": "203.0.113.72", "destination.ip": "10.20.0.5"}),
    ("401004", "Shunned packet: 203.0.113.72 ==> 10.20.0.5 on interface outside",
     {"source.ip": "203.0.113.72", "event.type": ["connection", "denied"]}),
    # failover and interfaces
    ("104001", "(Secondary) Switching to ACTIVE - HELLO not heard from mate.",
     {"cisco.asa.failover_unit": "Secondary", "event.reason": "HELLO not heard from mate",
      "event.category": ["host"], "event.action": "failover-active"}),
    ("105005", "(Primary) Lost Failover communications with mate on interface inside",
     {"cisco.asa.interface_name": "inside", "event.outcome": "failure"}),
    ("411002", "Line protocol on Interface GigabitEthernet0/1, changed state to down",
     {"cisco.asa.interface_name": "GigabitEthernet0/1", "cisco.asa.state": "down"}),
    # access to the device, URLs, FTP, TLS
    ("710003", "TCP access denied by ACL from 203.0.113.9/4000 to outside:113.160.1.1/ssh",
     {"source.ip": "203.0.113.9", "network.protocol": "ssh", "event.outcome": "failure"}),
    ("710005", "UDP request discarded from 10.20.0.9/68 to inside:10.20.0.1/67",
     {"destination.port": 67, "event.action": "firewall-rule"}),
    ("304001", "canbo01@10.20.1.5 Accessed URL 198.51.100.9:http://portal.example.vn/",
     {"user.name": "canbo01", "source.ip": "10.20.1.5", "url.original": "http://portal.example.vn/"}),
    ("303002", "FTP connection from inside:10.20.1.5/51000 to outside:198.51.100.21/21, user nam "
               "Retrieved file report.xlsx",
     {"user.name": "nam", "file.path": "report.xlsx", "network.protocol": "ftp"}),
    ("725001", "Starting SSL handshake with client outside:203.0.113.9/51000 to 113.160.1.1/443 "
               "for TLSv1.2 session",
     {"tls.version": "1.2", "tls.version_protocol": "tls", "source.ip": "203.0.113.9"}),
    # no template: the generic "from ... to ..." reading
    ("419001", "Dropping TCP packet from outside:203.0.113.9/4000 to inside:10.20.0.5/80, reason: "
               "MSS exceeded, MSS 1380, data 1460",
     {"source.ip": "203.0.113.9", "event.reason": "MSS exceeded, MSS 1380, data 1460"}),
    ("852001", "Received Lightweight to Full Proxy event from application Snort for TCP flow "
               "10.20.0.5/51000 to 198.51.100.9/443",
     {"source.ip": "10.20.0.5", "destination.port": 443}),
    ("999999", "something noted from outside:203.0.113.9 about nothing",
     {"source.ip": "203.0.113.9", "event.action": None}),
]


@pytest.mark.parametrize(("mid", "message", "expected"), MESSAGES,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MESSAGES)])
def test_message_families(mid: str, message: str, expected: dict[str, Any]) -> None:
    ev = asa(f"<166>Nov 24 2026 08:15:00 asa01 : %ASA-6-{mid}: {message}")
    assert subset(ev, expected) == expected
    assert (ev["event.code"], ev["@timestamp"], ev["message"]) == (mid, TS, message)


@pytest.mark.parametrize(("line", "expected"), [
    ("%PIX-6-302001: Built inbound TCP connection 8 for faddr 203.0.113.9/1101 gaddr "
     "113.160.1.5/23 laddr 10.20.0.5/23",
     {"source.ip": "203.0.113.9", "destination.ip": "10.20.0.5", "observer.product": "pix",
      "event.dataset": "cisco.asa"}),
    ("%PIX-6-302002: Teardown TCP connection 8 faddr 203.0.113.9/1101 gaddr 113.160.1.5/23 laddr "
     "10.20.0.5/23 duration 0:00:09 bytes 195 (TCP FINs)",
     {"destination.ip": "203.0.113.9", "source.ip": "10.20.0.5", "event.reason": "TCP FINs"}),
    ("%PIX-2-106002: udp connection denied by outbound list 30 src 10.20.0.7 138 dest "
     "198.51.100.82 138",
     {"source.ip": "10.20.0.7", "source.port": 138, "destination.port": 138}),
    ("%PIX-4-400013 IDS:2003 ICMP redirect from 198.51.100.2 to 10.20.0.1 on interface dmz",
     {"rule.id": "2003", "source.ip": "198.51.100.2"}),
    ("%PIX-3-106011: Deny inbound (No xlate) udp src outside:203.0.113.8/137",  # cut short
     {"source.ip": "203.0.113.8", "event.action": "firewall-rule", "event.outcome": "failure"}),
    ("%FWSM-4-106023: Deny tcp src outside:203.0.113.5/4444 dst inside:10.20.0.9/22 by "
     "access-group \"out\"",
     {"observer.product": "fwsm", "destination.port": 22}),
])
def test_pix_and_fwsm(line: str, expected: dict[str, Any]) -> None:
    assert subset(asa(line), expected) == expected


# --------------------------------------------------------------------------- FTD security events


def test_ftd_connection_event() -> None:
    ev = asa("2026-11-24T01:15:00Z ftd01  %FTD-1-430003: AccessControlRuleAction: Block with "
             "reset, AccessControlRuleReason: IP Block, SrcIP: 10.20.1.5, DstIP: 198.51.100.9, "
             "SrcPort: 51000, DstPort: 443, Protocol: tcp, IngressInterface: inside, "
             "EgressInterface: outside, IngressZone: in-zone, EgressZone: out-zone, ACPolicy: "
             "SoPolicy, AccessControlRuleName: Block-Bad, Prefilter Policy: Default, User: "
             "SOTTTT\\nam, Client: Chrome, ApplicationProtocol: HTTPS, ConnectionDuration: 2, "
             "InitiatorPackets: 3, ResponderPackets: 1, InitiatorBytes: 300, ResponderBytes: 60")
    assert subset(ev, {
        "event.dataset": "cisco.ftd", "observer.name": "ftd01", "@timestamp": TS,
        "source.ip": "10.20.1.5", "destination.port": 443, "user.name": "nam",
        "user.domain": "SOTTTT", "rule.name": "Block-Bad", "rule.ruleset": "SoPolicy",
        "event.reason": "IP Block", "event.action": "connection-finished",
        "event.outcome": "failure", "event.type": ["connection", "end", "denied"],
        "observer.ingress.zone": "in-zone", "source.bytes": 300, "destination.packets": 1,
        "event.duration": 2 * 10**9, "network.protocol": "https",
        "cisco.ftd.security.prefilter_policy": "Default",
        "cisco.ftd.security.access_control_rule_action": "Block with reset"}) == {
        "event.dataset": "cisco.ftd", "observer.name": "ftd01", "@timestamp": TS,
        "source.ip": "10.20.1.5", "destination.port": 443, "user.name": "nam",
        "user.domain": "SOTTTT", "rule.name": "Block-Bad", "rule.ruleset": "SoPolicy",
        "event.reason": "IP Block", "event.action": "connection-finished",
        "event.outcome": "failure", "event.type": ["connection", "end", "denied"],
        "observer.ingress.zone": "in-zone", "source.bytes": 300, "destination.packets": 1,
        "event.duration": 2 * 10**9, "network.protocol": "https",
        "cisco.ftd.security.prefilter_policy": "Default",
        "cisco.ftd.security.access_control_rule_action": "Block with reset"}


@pytest.mark.parametrize(("mid", "body", "expected"), [
    ("430001", "EventPriority: High, SrcIP: 203.0.113.9, DstIP: 10.20.0.15, SrcPort: 51515, "
               "DstPort: 80, Protocol: tcp, IngressInterface: outside, GID: 1, SID: 58722, "
               "Revision: 3, Message: SERVER-WEBAPP Apache Log4j RCE attempt, Classification: "
               "Attempted User Privilege Gain, Priority: 1, InlineResult: Blocked, "
               "IntrusionPolicy: Balanced",
     {"event.kind": "alert", "rule.id": "58722", "rule.name": "SERVER-WEBAPP Apache Log4j RCE "
      "attempt", "rule.category": "Attempted User Privilege Gain", "event.outcome": "failure",
      "event.action": "intrusion-detected", "source.ip": "203.0.113.9"}),
    ("430002", "AccessControlRuleAction: Allow, SrcIP: 10.20.1.5, DstIP: 198.51.100.53, SrcPort: "
               "50074, DstPort: 53, Protocol: udp, User: No Authentication Required, DNSQuery: "
               "example.vn, DNSRecordType: a host address",
     {"event.type": ["connection", "start", "allowed"], "user.name": None,
      "dns.question.name": "example.vn", "dns.question.type": "A", "dns.response_code": "NOERROR"}),
    ("430004", "SrcIP: 198.51.100.9, DstIP: 10.20.1.5, SrcPort: 80, DstPort: 51000, Protocol: "
               "tcp, FileDirection: Download, FileAction: Detect, FileName: report.exe, FileType: "
               "MSEXE, FileSize: 4096, URI: http://198.51.100.9/report.exe",
     {"file.name": "report.exe", "file.size": 4096, "event.outcome": "success",
      "event.category": ["file", "network"], "url.original": "http://198.51.100.9/report.exe"}),
    ("430005", "SrcIP: 198.51.100.9, DstIP: 10.20.1.5, Protocol: tcp, FileAction: Malware Block, "
               "FileSHA256: 2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad, "
               "SHA_Disposition: Malware, ThreatName: Win.Ransomware.Eicar, FileName: eicar.zip",
     {"event.kind": "alert", "event.outcome": "failure", "file.hash.sha256":
      "2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad",
      "cisco.ftd.security.threat_name": "Win.Ransomware.Eicar",
      "rule.name": "Win.Ransomware.Eicar"}),
])
def test_ftd_security_events(mid: str, body: str, expected: dict[str, Any]) -> None:
    ev = asa(f"<113>Nov 24 2026 08:15:00 ftd01 : %FTD-1-{mid}: {body}")
    assert subset(ev, expected) == expected


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(("line", "ts", "name"), [
    ("<166>Nov 24 2026 08:15:00.250 ICT: asa01 : %ASA-6-199999: x", "2026-11-24T01:15:00.250Z",
     "asa01"),
    ("<166>Nov 24 2026 01:15:00 UTC: %ASA-6-199999: x", TS, None),
    ("Nov 24 2026 08:15:00 asa01: %ASA-6-199999: x", TS, "asa01"),
    ("<166>4711: Nov 24 2026 08:15:00 asa01 : %ASA-6-199999: x", TS, "asa01"),
    ("<166>4711: %ASA-6-199999: x", NOW, None),
    ("2026-11-24T08:15:00+07:00 relay1 %ASA-6-199999: x", TS, "relay1"),
    ("<166>2026-11-24T01:15:00Z asa01 : %ASA-6-199999: x", TS, "asa01"),  # ASA 9.10 RFC 5424 time
    ("<166>1 2026-11-24T01:15:00Z asa01 - - - - %ASA-6-199999: x", TS, "asa01"),  # RFC 5424
    ("<166>:Nov 24 01:15:00 UTC: %ASA-session-6-199999: x", TS, None),  # EMBLEM
    ("Nov 24 01:15:00 UTC: %FTD-session-6-199999: x", TS, None),  # a zone, no year
    ("<166>: 2026 Nov 24 01:15:00 UTC ftd-chassis : %FTD-auth-6-199999: x", TS, "ftd-chassis"),
    ("<166>ftd01 %FTD-6-199999: x", NOW, "ftd01"),  # the device's name alone
    ("Nov 24 08:15:00 relay1 Nov 24 2026 08:15:00 asa01 : %ASA-6-199999: x", TS, "asa01"),
    ("Nov 24 08:15:00 relay1 asa01 : %ASA-6-199999: x", TS, "asa01"),
    ("Nov 24 08:15:00.123456: %ASA-6-199999: x", "2026-11-24T01:15:00.123Z", None),
    ("%ASA-6-199999: x", NOW, None),
])
def test_headers(line: str, ts: str, name: str | None) -> None:
    ev = asa(line)
    assert (ev["@timestamp"], ev.get("observer.name"), ev["message"]) == (ts, name, "x")
    assert ev.get("log.syslog.priority") == (166 if line.startswith("<") else None)


@pytest.mark.parametrize(("line", "reason"), [
    ("garbage", "no %ASA-n-nnnnnn: message id (nor %FTD-, %PIX-, %FWSM-)"),
    ("%ASA-9-302013: x", "no %ASA-n-nnnnnn: message id (nor %FTD-, %PIX-, %FWSM-)"),
    ("junk header %ASA-6-302013: x",
     "unrecognised header before the message id: 'junk header '"),
    ("Nov 24 08:15:00 web01 sshd[7]: Invalid user %ASA-4-106023: from 203.0.113.9",
     "unrecognised header before the message id: "
     "'Nov 24 08:15:00 web01 sshd[7]: Invalid user '"),
])
def test_not_an_asa_message(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        asa(line)
    assert info.value.message == reason


def test_a_bad_date_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        asa("<166>Nov 24 2026 28:15:00 a : %ASA-6-302013: x")


# --------------------------------------------------------------------------- IOS


@pytest.mark.parametrize(("line", "expected"), [
    ("<189>45: rtr-hq: 000045: *Nov 24 08:15:00.123 ICT: %SEC_LOGIN-5-LOGIN_SUCCESS: Login "
     "Success [user: quantri] [Source: 10.20.0.5] [localport: 22] at 08:15:00 ICT Tue Nov 24 2026",
     {"@timestamp": "2026-11-24T01:15:00.123Z", "observer.name": "rtr-hq",
      "event.code": "LOGIN_SUCCESS", "cisco.ios.facility": "SEC_LOGIN", "user.name": "quantri",
      "source.user.name": "quantri", "source.ip": "10.20.0.5", "destination.port": 22,
      "event.category": ["authentication"], "event.outcome": "success",
      "event.action": "logged-in", "log.level": "notice"}),
    ("<188>46: Nov 24 01:15:00 UTC: %SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: admin] "
     "[Source: 203.0.113.7] [localport: 23] [Reason: Login Authentication Failed - BadUser] at "
     "01:15:00 UTC Tue Nov 24 2026",
     {"@timestamp": TS, "event.reason": "Login Authentication Failed - BadUser",
      "event.outcome": "failure", "source.ip": "203.0.113.7"}),
    ("<185>47: *Nov 24 08:15:00: %SEC_LOGIN-1-QUIET_MODE_ON: Still timeleft for watching "
     "failures is 158 secs, [user: root] [Source: 203.0.113.7] [localport: 22] [Reason: Login "
     "Authentication Failed] [ACL: sl_def_acl] at 08:15:00 ICT Tue Nov 24 2026",
     {"event.action": "login-blocked", "user.name": "root", "@timestamp": TS}),
    ("<189>48: 1w2d: %SYS-5-CONFIG_I: Configured from console by quantri on vty0 (10.20.0.5)",
     {"@timestamp": NOW, "user.name": "quantri", "source.ip": "10.20.0.5",
      "cisco.ios.config_source": "console", "event.category": ["configuration"]}),
    ("<189>49: 00:01:02: %SYS-5-CONFIG_I: Configured from memory by console",
     {"user.name": "console", "source.ip": None}),
    ("Nov 24 08:15:00 10.20.0.254 50: Nov 24 08:15:00.001 ICT: %PARSER-5-CFGLOG_LOGGEDCMD: "
     "User:quantri  logged command:no logging host 10.20.0.50",
     {"observer.name": "10.20.0.254", "cisco.ios.command_line_arguments":
      "no logging host 10.20.0.50", "event.type": ["change"], "user.name": "quantri"}),
    ("%PARSER-5-CFGLOG_LOGGEDCMD: User:quantri  logged command:!exec: show running-config",
     {"cisco.ios.command_line_arguments": "show running-config", "event.type": ["info"],
      "@timestamp": NOW}),
    ("<190>51: rtr-hq: Nov 24 08:15:00 ICT: %HA_EM-6-LOG: CLI_LOG: copy run tftp://10.20.0.9/c",
     {"cisco.ios.eem.applet": "CLI_LOG", "cisco.ios.command_line_arguments":
      "copy run tftp://10.20.0.9/c", "event.category": ["configuration"]}),
    ("<190>52: %HA_EM-6-LOG: TRACK_WAN: WAN link down",
     {"cisco.ios.command_line_arguments": None, "event.category": ["network"]}),
    ("<190>53: %SEC-6-IPACCESSLOGP: list 101 denied tcp 203.0.113.9(4444) -> 10.20.0.5(23), 1 "
     "packet",
     {"rule.name": "101", "source.ip": "203.0.113.9", "destination.port": 23,
      "event.outcome": "failure", "event.type": ["connection", "denied"]}),
    ("<190>54: %SEC-6-IPACCESSLOGP: list OUT-IN permitted udp 203.0.113.9(53) "
     "(GigabitEthernet0/0 0011.2233.4455) -> 10.20.0.5(5353), 3 packets",
     {"event.outcome": "success", "source.mac": "0011.2233.4455",
      "observer.ingress.interface.name": "GigabitEthernet0/0"}),
    ("<190>55: %SEC-6-IPACCESSLOGDP: list 101 denied icmp 203.0.113.9 -> 10.20.0.5 (8/0), 1 packet",
     {"network.transport": "icmp", "cisco.ios.icmp_type": 8}),
    ("<190>56: %SEC-6-IPACCESSLOGS: list 10 denied 203.0.113.9 1 packet",
     {"source.ip": "203.0.113.9", "rule.name": "10"}),
    ("<187>57: %TCP-6-BADAUTH: Invalid MD5 digest from 198.51.100.1(179) to 10.20.0.1(11003) (RST)",
     {"source.port": 179, "destination.ip": "10.20.0.1", "event.outcome": "failure"}),
    ("RP/0/RSP0/CPU0:Nov 24 08:15:00.123 : tcp[396]: %IP-TCP-3-BADAUTH : No MD5 digest from "
     "198.51.100.1:179 to 10.20.0.1:646",
     {"cisco.ios.facility": "IP-TCP", "source.ip": "198.51.100.1", "destination.port": 646}),
    ("<189>58: %SSH-5-SSH2_USERAUTH: User 'quantri' authentication for SSH2 Session from "
     "10.20.0.5 (tty = 0) using crypto cipher 'aes256-ctr', hmac 'hmac-sha2-256' Failed",
     {"user.name": "quantri", "event.outcome": "failure", "source.ip": "10.20.0.5"}),
    ("<188>59: %SNMP-3-AUTHFAIL: Authentication failure for SNMP req from host 203.0.113.77",
     {"source.ip": "203.0.113.77", "network.protocol": "snmp", "event.outcome": "failure"}),
    ("<189>60: %SYS-6-LOGOUT: User quantri has exited tty session 2(10.20.0.5)",
     {"user.name": "quantri", "source.ip": "10.20.0.5", "event.action": "logged-out"}),
    ("<189>61: %SYS-5-RELOAD: Reload requested by quantri on vty0 (10.20.0.5). Reload Reason: "
     "Reload Command.",
     {"event.reason": "Reload Command", "source.ip": "10.20.0.5"}),
    ("<189>62: %LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/1, changed state "
     "to down",
     {"cisco.ios.interface_name": "GigabitEthernet0/1", "cisco.ios.state": "down"}),
    ("Jul 11 09:31:03 rtr-xe 1663410: Jul 11 09:31:03.762: %FMANFP-6-IPACCESSLOGP: R0/0: "
     "fman_fp_image: list 110 denied tcp 10.20.8.34(59120) -> 198.51.100.26(7774), 1 packet",
     {"source.ip": "10.20.8.34", "destination.port": 7774, "rule.name": "110",
      "observer.name": "rtr-xe", "@timestamp": "2026-07-11T02:31:03.000Z"}),  # the relay's
    ("<190>33: 34: Nov 24 2026 01:15:00.412 utc: %IOSXE-6-PLATFORM: R0/0: cpp_cp: QFP:0.0 "
     "Thread:001 TS:00013807835737559120 %FW-6-DROP_PKT: Dropping tcp pkt from "
     "GigabitEthernet1/0/2 203.0.113.44:53836 => 10.20.0.128:80(target:class) due to Policy drop",
     {"@timestamp": "2026-11-24T01:15:00.412Z", "source.ip": "203.0.113.44",
      "destination.port": 80,
      "observer.ingress.interface.name": "GigabitEthernet1/0/2", "event.outcome": "failure"}),
    ("<189>64: rtr-hq: Nov 24 02:15:00.123 UTC+1: %SYS-5-CONFIG_I: Configured from console by x",
     {"@timestamp": "2026-11-24T01:15:00.123Z", "observer.name": "rtr-hq"}),
    ("<190>Nov 24 08:15:00 rtr-xr RP/0/RP0/CPU0:Nov 24 01:15:00.630 UTC: ipv4_acl_mgr[310]: "
     "%ACL-IPV4_ACL-6-IPACCESSLOGP : access-list edge-in deny tcp 203.0.113.9(39527) -> "
     "10.20.0.128(1830), 1 packet",
     {"observer.name": "rtr-xr", "source.ip": "203.0.113.9", "event.outcome": "failure",
      "cisco.ios.facility": "ACL-IPV4_ACL"}),
    ("<189>63: %DUAL-5-NBRCHANGE: EIGRP-IPv4 100: Neighbor 10.20.0.2 (Gi0/1) is down: holding "
     "time expired",  # not in the table: the common fields only
     {"event.code": "NBRCHANGE", "event.action": None, "event.type": ["info"]}),
])
def test_ios(line: str, expected: dict[str, Any]) -> None:
    ev = ios(line)
    assert ev["event.dataset"] == "cisco.ios" and ev["observer.product"] == "IOS"
    assert subset(ev, expected) == expected


@pytest.mark.parametrize("line", ["no message id here", "<189>45: junk junk %SYS-5-CONFIG_I: x",
                                  "%sys-5-config_i: lower case"])
def test_not_an_ios_message(line: str) -> None:
    with pytest.raises(ParseError):
        ios(line)


# --------------------------------------------------------------------------- sniffs, auto


def test_sniffs() -> None:
    asa_, ios_ = CiscoAsaParser(), CiscoIosParser()
    sshd = "Nov 24 08:15:00 web01 sshd[1]: Accepted password for root from 1.2.3.4 port 2 ssh2"
    assert not asa_.sniff(sshd) and not ios_.sniff(sshd)
    for head in ("%ASA-", "%FTD-", "%PIX-", "%FWSM-"):
        assert asa_.sniff(f"<166>{head}6-302013: Built")
    assert not ios_.sniff("<166>%ASA-6-302013: Built") and not ios_.sniff("100% done: ok")
    assert ios_.sniff("<189>45: %SYS-5-CONFIG_I: Configured from console by x")
    assert ios_.sniff("50% of 100%: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up")


def test_auto_detection_files_each_line_where_it_belongs() -> None:
    auto = get_parser("auto")
    lines = {
        "Nov 24 08:15:00 web01 sshd[9]: Accepted password for nam from 10.20.0.5 port 2 ssh2":
            "linux.auth",
        "<166>Nov 24 2026 08:15:00 asa01 : %ASA-6-302013: Built inbound TCP connection 1 for "
        "outside:203.0.113.5/1 (203.0.113.5/1) to inside:10.20.0.5/22 (10.20.0.5/22)": "cisco.asa",
        "<166>Nov 24 2026 08:15:00 ftd01 : %FTD-6-113039: Group <G> User <u> IP <203.0.113.5> "
        "AnyConnect parent session started.": "cisco.ftd",
        "<189>45: rtr01: Nov 24 08:15:00.123 ICT: %SYS-5-CONFIG_I: Configured from console by x "
        "on vty0 (10.20.0.5)": "cisco.ios",
        "Nov 24 08:15:00 web01 app: 100% done": "syslog",
    }
    for _ in range(2):  # and again, once every parser was the last one
        for line, dataset in lines.items():
            assert auto.parse(line, CTX)["event.dataset"] == dataset, line


# --------------------------------------------------------------------------- the catalogue


def test_the_catalogue_covers_the_families_of_the_reference() -> None:
    families = ("1010", "1040", "1050", "106", "109", "111", "113", "302", "303", "304", "305",
                "313", "315", "338", "400", "401", "402", "605", "611", "710", "713", "716", "722",
                "725", "733", "734", "750", "751")
    assert [f for f in families if not any(mid.startswith(f) for mid in ASA)] == []
    assert {"106023", "106100", "302013", "302014", "302020", "302021", "305011", "113005",
            "611102", "605004", "722022", "716039", "113019", "734001", "400013", "733100",
            "401004", "104001", "111010"} <= set(ASA)
    assert {"SEC_LOGIN-LOGIN_SUCCESS", "SEC_LOGIN-LOGIN_FAILED", "SYS-CONFIG_I",
            "PARSER-CFGLOG_LOGGEDCMD"} <= set(IOS)


def test_a_template_naming_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown field \{source_ip\}"):
        compile_template("from {source_ip} to {dst}")


# --------------------------------------------------------------------------- Sigma: cisco aaa


AAA_RULE = """\
title: Logging Turned Off On A Cisco Device
id: 2b1f9b36-3a8e-4c43-8f26-6f3c3a1b9d11
status: test
logsource:
    product: cisco
    service: aaa
detection:
    keywords:
        - 'no logging'
    condition: keywords
level: high
"""


def recorded(line: str) -> Event:
    auto = get_parser("auto")
    return parse_record(auto, RawRecord(text=line, id="1"), CTX)


def test_cisco_aaa_rules_meet_the_commands_only(tmp_path: Path) -> None:
    (tmp_path / "aaa.yml").write_text(AAA_RULE, encoding="utf-8")
    engine = Engine.from_paths([tmp_path], cache_dir=tmp_path / "cache")
    assert engine.stats.unusable == 0
    fires = [
        "<189>46: Nov 24 08:15:01.123 ICT: %PARSER-5-CFGLOG_LOGGEDCMD: User:quantri  logged "
        "command:no logging host 10.20.0.50",
        "<166>Nov 24 2026 08:15:00 asa01 : %ASA-5-111010: User 'quantri', running 'CLI' from IP "
        "10.20.0.5, executed 'no logging enable'",
    ]
    quiet = [
        # the same words, but no command: a login whose user name says it, a plain syslog line
        "<189>47: Nov 24 08:15:01 ICT: %SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: no "
        "logging] [Source: 10.20.0.5] [localport: 22] at 08:15:01 ICT Tue Nov 24 2026",
        "Nov 24 08:15:00 web01 app: no logging today",
    ]
    assert [len(engine.match(recorded(line))) for line in fires + quiet] == [1, 1, 0, 0]


def test_sigmahq_cisco_rules_are_usable(corpus: Path, tmp_path: Path) -> None:
    """SigmaHQ's rules/network/cisco (aaa, bgp, ldp) all load, route and compile."""
    rules = corpus / "sigmahq" / "rules" / "network" / "cisco"
    if not rules.is_dir():
        pytest.skip("no SigmaHQ checkout in $SOC_CORPUS")
    engine = Engine.from_paths([rules], cache_dir=tmp_path / "cache")
    assert (engine.stats.unusable, engine.stats.rules) == (0, 15)
    ev = recorded("<189>46: Nov 24 08:15:01.123 ICT: %PARSER-5-CFGLOG_LOGGEDCMD: User:quantri  "
                  "logged command:crypto pki export TP pkcs12 terminal password x")
    assert [h.rule_id for h in engine.match(ev)] == ["1f978c6a-4415-47fb-aca5-736a44d7ca3d"]

