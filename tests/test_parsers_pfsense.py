"""pfSense / OPNsense ``filterlog``: every protocol of pfSense's "Filter Log Format" document
(TCP, UDP, ICMP by type, CARP, IGMP and the others' ``datalength``), IPv4 and IPv6, BSD and
RFC 5424 framing, OPNsense's hex tracker. Lines made up here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.pfsense import PfSenseParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
TS = "2026-11-24T01:15:00.000Z"  # 08:15:00 in Hanoi
HEAD = "Nov 24 08:15:00 pfsense filterlog[12345]: "
V4 = "5,,,1000000103,igb1,match,block,in,4,0x0,,64,12345,0,DF,"  # up to the protocol id


def parse(line: str) -> dict[str, Any]:
    return PfSenseParser().parse(line, CTX)


def test_ipv4_tcp_block_every_field() -> None:
    ev = parse(f"{HEAD}{V4}6,tcp,60,203.0.113.5,113.160.1.10,51234,22,0,S,123456789,,64240,,"
               "mss;sackOK;TS;nop;wscale")
    assert ev == {
        "@timestamp": TS, "event.dataset": "pfsense.filterlog", "event.module": "pfsense",
        "event.kind": "event", "event.category": ["network"], "observer.vendor": "Netgate",
        "observer.product": "pfSense", "observer.type": "firewall", "observer.name": "pfsense",
        "rule.id": "1000000103", "pfsense.rule_number": "5", "event.reason": "match",
        "network.direction": "ingress", "observer.ingress.interface.name": "igb1",
        "network.type": "ipv4", "event.action": "block", "event.type": ["connection", "denied"],
        "event.outcome": "failure", "network.transport": "tcp", "network.iana_number": "6",
        "source.ip": "203.0.113.5", "destination.ip": "113.160.1.10", "network.bytes": 60,
        "pfsense.ip.tos": "0x0", "pfsense.ip.ttl": "64", "pfsense.ip.id": "12345",
        "pfsense.ip.offset": "0", "pfsense.ip.flags": "DF", "source.port": 51234,
        "destination.port": 22, "pfsense.tcp.length": "0", "pfsense.tcp.flags": "S",
        "pfsense.tcp.seq": "123456789", "pfsense.tcp.window": "64240",
        "pfsense.tcp.options": "mss;sackOK;TS;nop;wscale"}


def test_rfc5424_ipv6_udp_pass_out() -> None:
    ev = parse("<134>1 2026-11-24T08:15:00+07:00 pfsense.hagiang.gov.vn filterlog 12345 - - "
               "77,,,1000000003,igb0,match,pass,out,6,0x00,0x00000,64,udp,17,60,2001:db8::5,"
               "2001:db8:1::53,53211,53,60")
    assert (ev["source.ip"], ev["destination.port"], ev["network.direction"],
            ev["observer.egress.interface.name"], ev["event.outcome"], ev["@timestamp"],
            ev["pfsense.udp.length"], ev["pfsense.ip.hoplimit"], ev["network.type"]) == (
        "2001:db8::5", 53, "egress", "igb0", "success", TS, "60", "64", "ipv6")


@pytest.mark.parametrize(("icmp", "expected"), [
    ("request,37728,164", {"pfsense.icmp.type": "request", "pfsense.icmp.id": "37728",
                           "pfsense.icmp.seq": "164"}),
    ("reply,1,2", {"pfsense.icmp.type": "reply", "pfsense.icmp.seq": "2"}),
    ("unreachport,10.0.0.53,17,53", {"pfsense.icmp.destination.ip": "10.0.0.53",
                                     "pfsense.icmp.protocol": "17", "pfsense.icmp.port": "53"}),
    ("unreachproto,10.0.0.53,47", {"pfsense.icmp.protocol": "47"}),
    ("needfrag,10.0.0.53,1400", {"pfsense.icmp.mtu": "1400"}),
    ("tstampreply,7,8,1000,2000,3000", {"pfsense.icmp.otime": "1000",
                                        "pfsense.icmp.ttime": "3000"}),
    ("timexceed,time exceeded in-transit", {"pfsense.icmp.description":
                                            "time exceeded in-transit"}),
    ("unreach,host unreachable, filtered", {"pfsense.icmp.description":
                                           "host unreachable, filtered"}),
])
def test_icmp_by_type(icmp: str, expected: dict[str, str]) -> None:
    ev = parse(f"{HEAD}{V4}1,icmp,84,10.100.10.30,142.250.114.105,{icmp}")
    assert (ev["network.transport"], ev["source.ip"]) == ("icmp", "10.100.10.30")
    assert {k: ev.get(k) for k in expected} == expected
    assert "source.port" not in ev


def test_carp() -> None:
    ev = parse(f"{HEAD}1,,,1000002,igb2,match,pass,out,4,0x10,,255,0,0,none,112,carp,56,"
               "10.0.0.2,224.0.0.18,advertise,255,5,2,0,1")
    assert (ev["network.transport"], ev["pfsense.carp.type"], ev["pfsense.carp.vhid"],
            ev["pfsense.carp.advbase"], ev["destination.ip"]) == (
        "carp", "advertise", "5", "1", "224.0.0.18")


@pytest.mark.parametrize(("proto", "protoid"), [("igmp", "2"), ("gre", "47"), ("esp", "50"),
                                                ("pim", "103"), ("ospf", "89")])
def test_other_protocols_carry_their_data_length(proto: str, protoid: str) -> None:
    ev = parse(f"{HEAD}{V4}{protoid},{proto},32,10.170.12.17,239.255.255.250,datalength=8")
    assert (ev["network.transport"], ev["network.iana_number"], ev["pfsense.data_length"],
            ev["source.ip"]) == (proto, protoid, 8, "10.170.12.17")


def test_opnsense_ipv6_icmp_with_hex_tracker_and_structured_data() -> None:
    ev = parse('<134>1 2026-11-24T08:15:00+07:00 OPNsense.sotttt.gov.vn filterlog 76404 - '
               '[meta sequenceId="1"] 32,,,fae559338f65e11c53669fc3642c93c2,igb0,match,pass,in,6,'
               "0x0,0x00000,255,ipv6-icmp,58,16,fe80::208:9bff:fef3:652b,ff02::1:2,datalength=16")
    assert (ev["rule.id"], ev["network.transport"], ev["source.ip"], ev["observer.name"],
            ev["pfsense.data_length"]) == (
        "fae559338f65e11c53669fc3642c93c2", "ipv6-icmp", "fe80::208:9bff:fef3:652b",
        "OPNsense.sotttt.gov.vn", 16)


def test_uppercase_protocol_no_host_and_no_header() -> None:
    no_host = parse("<134>Nov 24 08:15:00 filterlog[72237]: 6,,,1000000105,igb1.27,match,block,"
                    "in,6,0x00,0xf6279,1,UDP,17,32,fe80::208:9bff:fef3:652b,ff02::1:2,546,547,32")
    bare = parse("filterlog[1]: 5,,,1000000103,igb1,match,reject,in,4,0x0,,64,1,0,DF,6,tcp,60,"
                 "203.0.113.5,10.0.0.1,1,2")
    assert (no_host["network.transport"], no_host["source.port"], no_host["@timestamp"],
            "observer.name" in no_host) == ("udp", 546, TS, False)
    assert (bare["@timestamp"], bare["event.outcome"], bare["source.port"]) == (
        "2026-11-24T03:00:00.000Z", "failure", 1)


def test_truncated_line_keeps_the_addresses() -> None:
    ev = parse(f"{HEAD}{V4}6,tcp,60,203.0.113.5,113.160.1.10")
    assert (ev["source.ip"], "source.port" in ev) == ("203.0.113.5", False)


def test_an_address_that_is_none_is_kept_as_text() -> None:
    ev = parse(f"{HEAD}{V4}6,tcp,60,203.0.113.,113.160.1.10,1,2")
    assert (ev["source.address"], "source.ip" in ev) == ("203.0.113.", False)


@pytest.mark.parametrize("line", [
    "Nov 24 08:15:00 pfsense filterlog[1]: 5,,,1,igb1,match", "garbage",
    "Nov 24 08:15:00 pfsense sshd[1]: filterlog 1,2,3",
    f"{HEAD}5,,,1,igb1,match,block,in,7,x",
])
def test_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        parse(line)
