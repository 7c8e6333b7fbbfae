"""MikroTik RouterOS: firewall rules with ``log=yes`` and logins. Lines written here from
RouterOS' documentation (firewall ``log``/``log-prefix``, remote logging topics)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.mikrotik import MikroTikParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

DROP = ("<134>Nov 24 08:15:00 GW-UBND firewall,info DROP-SSH input: in:ether1 out:(unknown 0), "
        "connection-state:new src-mac 00:0c:29:aa:bb:cc, proto TCP (SYN), "
        "203.0.113.9:51234->192.168.88.1:22, len 60")


def parse(line: str) -> dict[str, object]:
    return MikroTikParser().parse(line, CTX)


def test_dropped_packet_every_field() -> None:
    ev = parse(DROP)
    assert {k: ev[k] for k in (
        "@timestamp", "event.dataset", "event.module", "observer.vendor", "observer.product",
        "observer.type", "observer.name", "rule.name", "mikrotik.chain",
        "observer.ingress.interface.name", "source.mac", "network.transport",
        "mikrotik.tcp_flags", "source.ip", "source.port", "destination.ip", "destination.port",
        "network.bytes", "mikrotik.connection_state", "event.action", "event.type",
        "event.outcome", "log.syslog.priority")} == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "mikrotik.routeros",
        "event.module": "mikrotik", "observer.vendor": "MikroTik", "observer.product": "RouterOS",
        "observer.type": "router", "observer.name": "GW-UBND", "rule.name": "DROP-SSH",
        "mikrotik.chain": "input", "observer.ingress.interface.name": "ether1",
        "source.mac": "00:0c:29:aa:bb:cc", "network.transport": "tcp", "mikrotik.tcp_flags": "SYN",
        "source.ip": "203.0.113.9", "source.port": 51234, "destination.ip": "192.168.88.1",
        "destination.port": 22, "network.bytes": 60, "mikrotik.connection_state": "new",
        "event.action": "drop", "event.type": ["connection", "denied"], "event.outcome": "failure"
        , "log.syslog.priority": 134}
    assert "observer.egress.interface.name" not in ev  # (unknown 0)


@pytest.mark.parametrize(("line", "expected"), [
    # no prefix, no topics, the chain read by the header reader as a tag; ICMP: no ports
    ("Nov 24 08:15:00 GW-UBND input: in:ether1 out:(unknown 0), src-mac 00:0c:29:aa:bb:cc, "
     "proto ICMP (type 8, code 0), 203.0.113.9->192.168.88.1, len 84",
     {"mikrotik.chain": "input", "network.transport": "icmp", "mikrotik.icmp.type": 8,
      "source.ip": "203.0.113.9", "source.port": None, "rule.name": None,
      "event.action": "log"}),
    # source NAT: the translated address
    ("Nov 24 08:15:00 GW-UBND firewall,info srcnat: in:(unknown 0) out:ether1, proto TCP (SYN),"
     " 192.168.88.10:51234->93.184.216.34:443, NAT (192.168.88.10:51234->203.0.113.2:51234)"
     "->93.184.216.34:443, len 60",
     {"source.ip": "192.168.88.10", "source.nat.ip": "203.0.113.2", "source.nat.port": 51234,
      "observer.egress.interface.name": "ether1"}),
    # destination NAT: the inside server
    ("Nov 24 08:15:00 GW-UBND dstnat: in:ether1 out:(unknown 0), proto TCP (SYN), "
     "203.0.113.9:40000->203.0.113.2:3389, NAT 203.0.113.9:40000->(203.0.113.2:3389->"
     "192.168.88.20:3389), len 52",
     {"source.ip": "203.0.113.9", "destination.nat.ip": "192.168.88.20",
      "destination.nat.port": 3389}),
    # IPv6 in brackets; an accept prefix; no header at all: the time of parsing
    ("ACCEPT-DNS forward: in:bridge out:ether1, proto UDP, [2001:db8::5]:5353->"
     "[2001:db8::53]:53, len 80",
     {"@timestamp": "2026-11-24T03:00:00.000Z", "source.ip": "2001:db8::5",
      "destination.port": 53, "event.outcome": "success", "event.action": "accept"}),
    # cut short by the sender (no destination)
    ("2026-11-24T08:15:00.734011+07:00 10.120.127.1 firewall,info drop-in input: "
     "in:ether1-WAN out:(unknown 0), connection-state:new src-mac 00:17:10:88:bc:02, proto UDP,"
     " 203.0.113.68:>",
     {"source.ip": "203.0.113.68", "destination.ip": None, "observer.name": "10.120.127.1"}),
])
def test_firewall_variants(line: str, expected: dict[str, object]) -> None:
    ev = parse(line)
    assert {k: ev.get(k) for k in expected} == expected


@pytest.mark.parametrize(("line", "action", "outcome", "kind", "ip", "via"), [
    ("<86>Nov 24 08:15:00 GW-UBND system,error,critical login failure for user admin from "
     "203.0.113.9 via ssh", "login-failure", "failure", "start", "203.0.113.9", "ssh"),
    ("Nov 24 08:15:00 GW-UBND system,info,account user admin logged in from 192.168.88.10 via "
     "winbox", "logged-in", "success", "start", "192.168.88.10", "winbox"),
    ("user admin logged out from 192.168.88.10 via web", "logged-out", "success", "end",
     "192.168.88.10", "web"),
    ("Nov 24 08:15:00 GW-UBND user admin logged in via local", "logged-in", "success", "start",
     None, "local"),
])
def test_logins(line: str, action: str, outcome: str, kind: str, ip: str | None,
                via: str) -> None:
    ev = parse(line)
    assert (ev["event.category"], ev["event.action"], ev["event.outcome"], ev["event.type"],
            ev.get("source.ip"), ev["network.protocol"], ev["user.name"]) == (
        ["authentication"], action, outcome, [kind], ip, via, "admin")


@pytest.mark.parametrize("line", [
    "Nov 24 08:15:00 GW-UBND system,info dhcp-client on ether1 got IP address 10.0.0.2",
    "tunnel ovpn1 logged in via ipsec",  # no "user"
    "garbage",
])
def test_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        parse(line)


def test_sniff() -> None:
    p = MikroTikParser()
    assert p.sniff(DROP) and p.sniff("login failure for user admin from 1.2.3.4 via ssh")
    assert not p.sniff("Nov 24 08:15:00 web01 sshd[1]: Accepted password for x from 1.2.3.4")
