"""DNS servers: BIND's query log (syslog and its own files) and the Windows DNS Server debug log.
Lines written here from BIND's ARM ("The query logging category", the client and flags format)
and Microsoft's description of the debug log's fields ("Message logging key")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.dns import BindParser, WindowsDnsParser
from collectors.parsers.syslog import SyslogParser
from soc.cli.main import main
from soc.ecs import Event
from soc.errors import ParseError, SkipRecord
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                   source="dns", stream="dns.log")
QUERY = ("client @0x7f3a2c01b2a0 203.0.113.5#53124 (www.example.gov.vn): query: "
         "www.example.gov.vn IN A +E(0)K (10.0.0.53)")


def pick(ev: Event, *keys: str) -> dict[str, Any]:
    return {k: ev.get(k) for k in keys}


def test_bind_query_in_syslog() -> None:
    ev = SyslogParser().parse("Nov 24 08:15:00 ns1 named[812]: " + QUERY, CTX)
    assert pick(ev, "event.dataset", "event.module", "event.action", "source.ip", "source.port",
                "destination.ip", "dns.question.name", "dns.question.type",
                "dns.question.class", "dns.header_flags", "network.transport",
                "network.protocol", "related.ip") == {
        "event.dataset": "bind.query", "event.module": "bind", "event.action": "query",
        "source.ip": "203.0.113.5", "source.port": 53124, "destination.ip": "10.0.0.53",
        "dns.question.name": "www.example.gov.vn", "dns.question.type": "A",
        "dns.question.class": "IN", "dns.header_flags": ["RD"], "network.transport": "udp",
        "network.protocol": "dns", "related.ip": ["203.0.113.5", "10.0.0.53"]}


@pytest.mark.parametrize(("line", "fields"), [
    ("24-Nov-2026 08:15:00.123 queries: info: " + QUERY,
     {"@timestamp": "2026-11-24T01:15:00.123Z", "log.logger": "queries", "log.level": "info",
      "source.ip": "203.0.113.5"}),
    ("24-Nov-2026 08:15:00.123 " + QUERY, {"@timestamp": "2026-11-24T01:15:00.123Z",
                                           "log.logger": None}),
    ("24-Nov-2026 08:15:00.123 client 203.0.113.5#1053 (x.vn): view external: query: x.vn IN "
     "MX -TDC (10.0.0.53)",
     {"bind.view": "external", "dns.question.type": "MX", "network.transport": "tcp",
      "dns.header_flags": ["DO", "CD"]}),
    ("24-Nov-2026 08:15:00 client 2001:db8::7#40000: query: x.vn IN AAAA + (2001:db8::53)",
     {"source.ip": "2001:db8::7", "destination.ip": "2001:db8::53"}),
    ("2026-11-24T01:15:00.500Z queries: info: " + QUERY,
     {"@timestamp": "2026-11-24T01:15:00.500Z", "event.dataset": "bind.query"}),
    ("24-Nov-2026 08:15:00.123 general: info: zone corp.vn/IN: loaded serial 1",
     {"event.dataset": "bind.log", "log.logger": "general", "source.ip": None}),
])
def test_bind_query_log_files(line: str, fields: dict[str, Any]) -> None:
    assert pick(BindParser().parse(line, CTX), *fields) == fields


@pytest.mark.parametrize(("message", "fields"), [
    ("client @0x7f3a 203.0.113.5#5353 (corp.vn): query (cache) 'corp.vn/A/IN' denied",
     {"event.action": "query-denied", "event.outcome": "failure", "dns.question.name": "corp.vn",
      "dns.question.type": "A", "source.ip": "203.0.113.5"}),
    ("client 203.0.113.5#1036: query (cache) denied",
     {"event.action": "query-denied", "dns.question.name": None, "source.ip": "203.0.113.5"}),
    ("client @0x7f3a 203.0.113.5#40001 (corp.vn): zone transfer 'corp.vn/AXFR/IN' denied",
     {"event.action": "zone-transfer-denied", "dns.question.type": "AXFR"}),
    ("client @0x7f3a 203.0.113.5#40001: update 'corp.vn/IN' denied",
     {"event.action": "update-denied", "dns.question.name": "corp.vn"}),
    ("client @0x7f3a 203.0.113.5#40001 (x.vn): query failed (SERVFAIL) for x.vn/IN/A at "
     "query.c:8579", {"event.action": "query-failed", "dns.response_code": "SERVFAIL"}),
    ("zone corp.vn/IN: loaded serial 2026112401",
     {"event.dataset": "syslog", "source.ip": None, "event.action": None}),
    ("network unreachable resolving 'x.vn/A/IN': 2001:500:2f::f#53",
     {"event.dataset": "syslog", "process.name": "named"}),
])
def test_bind_other_client_lines(message: str, fields: dict[str, Any]) -> None:
    ev = SyslogParser().parse("Nov 24 08:15:00 ns1 named[812]: " + message, CTX)
    assert pick(ev, *fields) == fields


@pytest.mark.parametrize("line", ["31-Foo-2026 08:15:00.123 x", "31-Nov-2026 08:15:00.123 x",
                                  "client 1.2.3.4#5: query: x IN A + (1.2.3.4)"])
def test_bind_parser_refuses_lines_without_its_time(line: str) -> None:
    with pytest.raises(ParseError):
        BindParser().parse(line, CTX)


# --------------------------------------------------------------------------- Windows DNS

PACKET_Q = ("11/24/2026 8:15:00 AM 0A2C PACKET  000001D2C7B0A5E0 UDP Rcv 10.0.0.5        1a2b   "
            "Q [0001   D   NOERROR] A      (7)example(3)gov(2)vn(0)")


def test_windows_dns_query_received() -> None:
    assert WindowsDnsParser().parse(PACKET_Q, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "microsoft.dns",
        "event.module": "microsoft", "event.kind": "event", "event.category": ["network"],
        "observer.vendor": "Microsoft", "observer.product": "DNS Server",
        "observer.type": "dns", "process.thread.id": 0x0A2C, "event.action": "query",
        "event.type": ["protocol"], "network.protocol": "dns", "network.transport": "udp",
        "network.direction": "ingress", "dns.type": "query", "dns.id": "1a2b",
        "dns.op_code": "QUERY", "dns.response_code": "NOERROR", "dns.question.type": "A",
        "dns.question.name": "example.gov.vn", "dns.header_flags": ["RD"],
        "source.ip": "10.0.0.5", "client.ip": "10.0.0.5", "related.ip": ["10.0.0.5"]}


@pytest.mark.parametrize(("line", "fields"), [
    ("11/24/2026 8:15:00 PM 06B0 PACKET  00000000028657F0 UDP Snd 10.0.0.5        6590 R Q "
     "[8081   DR  NOERROR] A      (7)example(3)com(0)",
     {"@timestamp": "2026-11-24T13:15:00.000Z", "event.action": "response",
      "source.ip": "10.0.0.5", "dns.header_flags": ["RD", "RA"], "network.direction": "egress"}),
    ("11/24/2026 8:15:00 AM 0714 PACKET  000000002CC599A0 UDP  Snd 8.8.8.8         3434   Q "
     "[1001   D   NOERROR] A      .cdn.example.com.",
     {"destination.ip": "8.8.8.8", "server.ip": "8.8.8.8", "source.ip": None,
      "dns.question.name": "cdn.example.com"}),
    ("24/11/2026 08:15:00 0714 PACKET  000000002CC599A0 TCP Rcv 2001:db8::9   0001   Q "
     "[0001   D   NXDOMAIN] AAAA   (4)nope(2)vn(0)",
     {"@timestamp": "2026-11-24T01:15:00.000Z", "source.ip": "2001:db8::9",
      "network.transport": "tcp", "dns.response_code": "NXDOMAIN"}),
    ("2026-11-24 08:15:00 0E70 EVENT   The DNS server has finished the background loading "
     "of zones.", {"event.action": "event", "message": "The DNS server has finished the "
                                                       "background loading of zones."}),
])
def test_windows_dns_variants(line: str, fields: dict[str, Any]) -> None:
    assert pick(WindowsDnsParser().parse(line, CTX), *fields) == fields


@pytest.mark.parametrize("line", [
    "DNS Server log file creation at 11/24/2026 8:00:00 AM",
    "Log file wrap at 11/24/2026 8:00:00 AM",
    "Message logging key (for packets - other items use a subset of these fields):",
    "\tField #  Information         Values",
    "    Socket = 508",
])
def test_windows_dns_preamble_is_skipped(line: str) -> None:
    with pytest.raises(SkipRecord):
        WindowsDnsParser().parse(line, CTX)


@pytest.mark.parametrize("line", ["13/13/2026 8:15:00 AM 0A2C PACKET x",
                                  "hello PACKET world"])
def test_windows_dns_refuses_bad_lines(line: str) -> None:
    with pytest.raises(ParseError):
        WindowsDnsParser().parse(line, CTX)


def test_auto_detection_files_dns_lines() -> None:
    auto = get_parser("auto")
    assert [auto.parse(line, CTX)["event.dataset"] for line in (
        PACKET_Q, "24-Nov-2026 08:15:00.123 queries: info: " + QUERY,
        "Nov 24 08:15:00 ns1 named[812]: " + QUERY)] == [
        "microsoft.dns", "bind.query", "bind.query"]


DNS_RULE = """\
title: Lookup of a known bad domain
id: 00000000-0000-4000-8000-0000000aa201
status: test
level: high
logsource: {category: dns}
detection:
  sel:
    query|endswith: '.evil-c2.example'
  condition: sel
"""


def test_sigma_dns_rules_see_bind_and_windows_dns(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "dns.yml").write_text(DNS_RULE, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    bad = QUERY.replace("www.example.gov.vn", "beacon.evil-c2.example")
    (tmp_path / "query.log").write_text(
        f"24-Nov-2026 08:15:00.123 queries: info: {bad}\n"
        f"24-Nov-2026 08:15:01.123 queries: info: {QUERY}\n", encoding="utf-8")
    (tmp_path / "dns.log").write_text(
        PACKET_Q.replace("(7)example(3)gov(2)vn(0)", "(6)beacon(7)evil-c2(7)example(0)") + "\n",
        encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "-r", str(tmp_path / "rules"),
                 "--nl", str(tmp_path / "query.log"), str(tmp_path / "dns.log")])
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 10
    assert sorted((f["event"]["event.dataset"], f["event"]["source.ip"]) for f in found) == [
        ("bind.query", "203.0.113.5"), ("microsoft.dns", "10.0.0.5")]
