"""Sophos Firewall (XG / SFOS) syslog. Lines written here from Sophos' log file reference (log
ids, types, components and keys of SFOS 18.5 and 19+); none copied from a public corpus."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.sophos import SophosParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

FIREWALL_18 = (
    '<30>device="SFW" date=2026-11-24 time=08:15:00 timezone="ICT" device_name="XG330" '
    'device_id=C33010ABCDEF123 log_id=010101600001 log_type="Firewall" '
    'log_component="Firewall Rule" log_subtype="Allowed" status="Allow" priority=Information '
    'duration=42 fw_rule_id=5 policy_type=1 user_name="nam.nv@sotttt.gov.vn" user_gp="Canbo" '
    'iap=0 application="HTTPS" in_interface="Port1" out_interface="Port2" '
    'src_mac=00:16:3e:aa:bb:cc src_ip=10.10.1.5 src_country_code=R1 dst_ip=203.0.113.10 '
    'dst_country_code=VNM protocol="TCP" src_port=51234 dst_port=443 sent_pkts=12  recv_pkts=10 '
    'sent_bytes=1200 recv_bytes=5400 tran_src_ip=198.51.100.7 tran_src_port=40001 '
    'tran_dst_ip="" tran_dst_port=0 srczonetype="LAN" srczone="LAN" dstzonetype="WAN" '
    'dstzone="WAN" connevent="Stop" connid="1234567" message=""')
FIREWALL_19 = (
    'Nov 24 08:15:01 fw-sotttt device_name="SFW" timestamp="2026-11-24T08:15:01+0700" '
    'device_model="XGS2100" device_serial_id="X21001ABCDEF" log_id="010102600002" '
    'log_type="Firewall" log_component="Firewall Rule" log_subtype="Denied" log_version=1 '
    'severity="Information" fw_rule_id="9" fw_rule_name="Chan RDP tu Internet" '
    'in_interface="Port2" src_ip="203.0.113.9" dst_ip="10.10.1.20" protocol="TCP" '
    'src_port=61709 dst_port=3389 src_zone="WAN" dst_zone="LAN"')


def parse(line: str) -> dict[str, object]:
    return SophosParser().parse(line, CTX)


def test_firewall_18_allowed_connection_with_nat() -> None:
    ev = parse(FIREWALL_18)
    assert {k: ev[k] for k in (
        "@timestamp", "event.dataset", "event.module", "observer.vendor", "observer.product",
        "observer.name", "observer.serial_number", "source.ip", "source.port", "source.nat.ip",
        "source.nat.port", "destination.ip", "destination.port", "network.transport",
        "network.protocol", "user.name", "user.group.name", "rule.id", "source.bytes",
        "destination.packets", "observer.ingress.zone", "observer.egress.interface.name",
        "event.action", "event.type", "event.outcome", "event.category", "event.duration",
        "event.code", "log.syslog.priority")} == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "sophos.xg",
        "event.module": "sophos", "observer.vendor": "Sophos", "observer.product": "XG",
        "observer.name": "XG330", "observer.serial_number": "C33010ABCDEF123",
        "source.ip": "10.10.1.5", "source.port": 51234, "source.nat.ip": "198.51.100.7",
        "source.nat.port": 40001, "destination.ip": "203.0.113.10", "destination.port": 443,
        "network.transport": "tcp", "network.protocol": "https",
        "user.name": "nam.nv@sotttt.gov.vn", "user.group.name": "Canbo", "rule.id": "5",
        "source.bytes": 1200, "destination.packets": 10, "observer.ingress.zone": "LAN",
        "observer.egress.interface.name": "Port2", "event.action": "allowed",
        "event.type": ["connection", "end", "allowed"], "event.outcome": "success",
        "event.category": ["network"], "event.duration": 42_000_000_000,
        "event.code": "010101600001", "log.syslog.priority": 30}
    assert "destination.nat.ip" not in ev  # tran_dst_ip="": nothing
    assert ev["sophos.xg.connid"] == "1234567"


def test_firewall_19_denied_with_offset_and_rule_name() -> None:
    ev = parse(FIREWALL_19)
    assert (ev["@timestamp"], ev["observer.name"], ev["observer.serial_number"],
            ev["rule.name"], ev["event.outcome"], ev["event.type"], ev["observer.ingress.zone"],
            ev["source.ip"]) == (
        "2026-11-24T01:15:01.000Z", "fw-sotttt", "X21001ABCDEF", "Chan RDP tu Internet",
        "failure", ["connection", "denied"], "WAN", "203.0.113.9")
    assert "log.syslog.priority" not in ev


@pytest.mark.parametrize(("line", "outcome", "action", "user", "ip"), [
    ('<30>device="SFW" date=2026-11-24 time=08:15:02 timezone="ICT" device_name="XG330" '
     'device_id=C33010ABCDEF123 log_id=062910617701 log_type="Event" log_component="Firewall '
     'Authentication" log_subtype="Authentication" status="Successful" priority=Information '
     'user_name="nam.nv" usergroupname="Canbo" auth_client="CTA" auth_mechanism="AD" reason="" '
     'src_ip=10.10.1.5 message="User nam.nv of group Canbo logged in successfully to Firewall '
     'through AD authentication mechanism from 10.10.1.5" name="nam.nv"', "success",
     "firewall-authentication", "nam.nv", "10.10.1.5"),
    ('<29>device="SFW" date=2026-11-24 time=08:15:03 timezone="ICT" device_name="XG330" '
     'device_id=C33010ABCDEF123 log_id=063010517708 log_type="Event" log_component="VPN '
     'Authentication" log_subtype="Authentication" status="Failed" priority=Notice '
     'user_name="admin" auth_mechanism="Local" reason="wrong credentials" src_ip=203.0.113.9 '
     'message="User admin failed to login to VPN through Local authentication mechanism because '
     'of wrong credentials"', "failure", "vpn-authentication", "admin", "203.0.113.9"),
    # an administrator's SSH login to the CLI: subtype Admin, a "login" message
    ('device="SFW" date=2026-11-24 time=08:15:04 timezone="ICT" device_name="XG330" '
     'log_id=062109517507 log_type="Event" log_component="CLI" log_subtype="Admin" '
     'status="Failed" priority=Notice user_name="root" src_ip=203.0.113.9 message="User '
     "'root' failed to login from '203.0.113.9' using ssh because of wrong credentials\"",
     "failure", "cli", "root", "203.0.113.9"),
])
def test_authentication_events(line: str, outcome: str, action: str, user: str,
                               ip: str) -> None:
    ev = parse(line)
    assert (ev["event.category"], ev["event.type"], ev["event.outcome"], ev["event.action"],
            ev["user.name"], ev["source.ip"]) == (
        ["authentication"], ["start"], outcome, action, user, ip)


def test_logout_ends_the_session() -> None:
    ev = parse('device="SFW" date=2026-11-24 time=08:30:00 device_name="XG330" '
               'log_id=062910617703 log_type="Event" log_component="Firewall Authentication" '
               'log_subtype="Authentication" status="Successful" user_name="nam.nv" '
               'src_ip=10.10.1.5 message="User nam.nv was logged out of firewall"')
    assert (ev["event.type"], ev["event.outcome"]) == (["end"], "success")


def test_ips_drop_is_an_alert_named_by_the_signature() -> None:
    ev = parse('<28>device="SFW" date=2026-11-24 time=08:15:05 timezone="ICT" '
               'device_name="XG330" log_id=020804407002 log_type="IDP" '
               'log_component="Signatures" log_subtype="Drop" priority=Warning idp_policy_id=7 '
               'fw_rule_id=25 user_name="" signature_id=58722 signature_msg="SERVER-WEBAPP '
               'Apache Struts remote code execution attempt" classification="Attempted '
               'Administrator Privilege Gain" rule_priority=1 src_ip=203.0.113.9 '
               'dst_ip=10.10.1.20 protocol="TCP" src_port=41528 dst_port=80 platform="Linux" '
               'category="server-webapp" target="Server"')
    assert (ev["event.kind"], ev["event.category"], ev["event.outcome"], ev["rule.id"],
            ev["rule.name"], ev["rule.category"], ev["sophos.xg.fw_rule_id"],
            ev["event.severity"]) == (
        "alert", ["intrusion_detection", "network"], "failure", "58722",
        "SERVER-WEBAPP Apache Struts remote code execution attempt",
        "Attempted Administrator Privilege Gain", "25", 4)
    assert "user.name" not in ev


@pytest.mark.parametrize(("line", "field", "value", "kind"), [
    # anti-virus on web traffic: the virus names the rule
    ('device="SFW" date=2026-11-24 time=08:15:06 device_name="XG330" log_id=030906208001 '
     'log_type="Anti-Virus" log_component="HTTP" log_subtype="Virus" status="" '
     'priority=Critical fw_rule_id=2 virus="EICAR-AV-Test" url="http://example.test/eicar.com"'
     ' domainname="example.test" src_ip=10.10.1.5 dst_ip=203.0.113.50 protocol="TCP" '
     'src_port=57695 dst_port=80 user_agent="curl/8.0" status_code=403', "rule.name",
     "EICAR-AV-Test", "alert"),
    # ATP (advanced threat protection): sourceip/destinationip spelt without underscore
    ('device="SFW" date=2026-11-24 time=08:15:07 device_name="XG330" log_id=086304418010 '
     'log_type="ATP" log_component="Firewall" log_subtype="Drop" priority=Warning '
     'user_name="nam.nv" protocol="TCP" src_port=22623 dst_port=80 sourceip=10.10.1.5 '
     'destinationip=198.51.100.66 url=198.51.100.66 threatname=C2/Generic-A '
     'eventid=C366ACFB-7A6F-4870-B359-A6CFDA8C85F7 eventtype="Standard"', "destination.ip",
     "198.51.100.66", "alert"),
    # web filter
    ('device="SFW" date=2026-11-24 time=08:15:08 device_name="XG330" log_id=050902616002 '
     'log_type="Content Filtering" log_component="HTTP" log_subtype="Denied" status="" '
     'priority=Information fw_rule_id=1 user_name="" category="Gambling" '
     'url="http://casino.example/" src_ip=10.10.1.5 dst_ip=203.0.113.77 protocol="TCP" '
     'src_port=46719 dst_port=80 domain=casino.example', "url.domain", "casino.example",
     "event"),
    # the WAF has no subtype: the answer says what happened
    ('device="SFW" date=2026-11-24 time=08:15:09 device_name="XG330" log_id=075000617071 '
     'log_type="WAF" log_component="Web Application Firewall" priority=Information '
     'user_name="-" server=portal.sotttt.gov.vn sourceip=203.0.113.9 localip=10.10.1.20 '
     'ws_protocol="HTTP/1.1" url=/index.php querystring=?id=1%27 method=GET httpstatus=403 '
     'reason="WAF Anomaly" useragent="sqlmap/1.8" host=203.0.113.9 fw_rule_id=3',
     "event.outcome", "failure", "event"),
    # sandbox: a file's hash
    ('device="SFW" date=2026-11-24 time=08:15:10 device_name="XG330" log_id=136502218042 '
     'log_type="Sandbox" log_component="Web" log_subtype="Denied" priority=Critical '
     'user_name="nam.nv" src_ip=10.10.1.5 filename="invoice.exe" '
     'filetype="application/octet-stream" filesize=153010 '
     'sha1sum="3ce799580908df9ca0dc649aa8c2d06ab267e8c8" reason="cloud malicious"',
     "file.hash.sha1", "3ce799580908df9ca0dc649aa8c2d06ab267e8c8", "alert"),
])
def test_security_features(line: str, field: str, value: object, kind: str) -> None:
    ev = parse(line)
    assert (ev[field], ev["event.kind"], ev["source.ip"]) == (
        value, kind, ev.get("source.ip"))
    assert ev["source.ip"] in ("10.10.1.5", "203.0.113.9")


def test_unquoted_values_with_spaces_and_a_quote_that_never_closes() -> None:
    ev = parse('device="SFW" date=2026-11-24 time=08:15:11 device_name="XG330" '
               'log_id=066811618014 log_type="Event" log_component="RED" log_subtype="System" '
               'red_id=A350196C47072B0 status="Connected" branch_name=Chi nhanh Bac Quang '
               'recv_bytes=0 message="RED A350196C47072B0 is now re-connected')
    assert ev["sophos.xg.branch_name"] == "Chi nhanh Bac Quang"
    assert ev["message"] == "RED A350196C47072B0 is now re-connected"


def test_reordered_keys_ipv6_and_no_header_or_date() -> None:
    """Keys in another order, an IPv6 pair, and no time anywhere: the time of parsing."""
    ev = parse('log_type="Firewall" log_id=011702605051 src_ip=fe80::59f5:3ce8:c98e:5062 '
               'dst_ip=ff02::1:2 protocol="UDP" src_port=546 dst_port=547 '
               'log_component="MAC Filter" log_subtype="Denied" status="Deny"')
    assert (ev["@timestamp"], ev["source.ip"], ev["destination.ip"], ev["event.outcome"]) == (
        "2026-11-24T03:00:00.000Z", "fe80::59f5:3ce8:c98e:5062", "ff02::1:2", "failure")


def test_a_value_that_is_no_address_is_kept_as_an_address_word() -> None:
    ev = parse('device="SFW" date=2026-11-24 time=08:15:12 log_id=010101600001 '
               'log_type="Firewall" log_subtype="Allowed" src_ip=10.10.1. dst_ip=203.0.113.10')
    assert ("source.ip" not in ev, ev["source.address"], ev["destination.ip"]) == (
        True, "10.10.1.", "203.0.113.10")


def test_truncated_line_keeps_what_it_has() -> None:
    ev = parse(FIREWALL_18[:FIREWALL_18.index("src_port")])
    assert (ev["source.ip"], ev["destination.ip"]) == ("10.10.1.5", "203.0.113.10")
    assert "source.port" not in ev


@pytest.mark.parametrize(("line", "reason"), [
    ('device="SFW" date=2026-11-24 time=08:15:00 log_type="Firewall"',
     "not a Sophos firewall log (no log_id and log_type)"),
    ("Nov 24 08:15:00 web01 sshd[1]: log_id=1 log_type=",
     "not a Sophos firewall log (no log_id and log_type)"),
    ('date=2026-13-45 time=08:15:00 log_id=010101600001 log_type="Firewall"',
     "bad time '2026-13-45 08:15:00'"),
])
def test_garbage_is_a_dead_letter_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(line)
    assert exc.value.message == reason


def test_sniff() -> None:
    assert SophosParser().sniff(FIREWALL_18) and SophosParser().sniff(FIREWALL_19)
    assert not SophosParser().sniff("Nov 24 08:15:00 web01 sshd[1]: Accepted password for x")
