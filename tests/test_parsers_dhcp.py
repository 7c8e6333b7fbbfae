"""Windows DHCP Server audit logs, lines written here from Microsoft's "Analyze DHCP Server log
files" (the column list and the event id table)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.dhcp import WindowsDhcpParser
from soc.ecs import Event
from soc.errors import ParseError, SkipRecord
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                   source="dhcp", stream="DhcpSrvLog-Tue.log")
ASSIGN = ("10,11/24/26,08:15:00,Assign,10.0.5.50,pc-ketoan-01.so.gov.vn,A4BB6D1C22F0,,1234567,0,"
          ",,,0x4D53465420352E30,MSFT 5.0,,,,0")


def pick(ev: Event, *keys: str) -> dict[str, Any]:
    return {k: ev.get(k) for k in keys}


def test_dhcp_lease_assigned() -> None:
    assert WindowsDhcpParser().parse(ASSIGN, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "microsoft.dhcp",
        "event.module": "microsoft", "event.kind": "event", "observer.vendor": "Microsoft",
        "observer.product": "DHCP Server", "observer.type": "dhcp", "event.code": "10",
        "message": "Assign", "source.ip": "10.0.5.50", "related.ip": ["10.0.5.50"],
        "source.domain": "pc-ketoan-01.so.gov.vn", "source.mac": "A4-BB-6D-1C-22-F0",
        "microsoft.dhcp.transaction_id": "1234567", "microsoft.dhcp.result": "0",
        "microsoft.dhcp.vendor.hex": "0x4D53465420352E30",
        "microsoft.dhcp.vendor.string": "MSFT 5.0", "microsoft.dhcp.dns_error_code": "0",
        "event.action": "dhcp-new", "event.category": ["network"],
        "event.type": ["allowed", "connection"], "event.outcome": "success"}


@pytest.mark.parametrize(("line", "fields"), [
    ("15,11/24/26,08:15:00,NACK,10.0.5.77,,A4BB6D1C22F1,",
     {"event.action": "dhcp-deny", "event.outcome": "failure", "source.ip": "10.0.5.77",
      "event.type": ["connection", "denied"]}),
    ("31,11/24/26,08:15:00,DNS Update Failed,10.0.5.51,pc2.so.gov.vn,,,0,6,,,,,,,,,10054",
     {"event.action": "dhcp-dns-update", "event.outcome": "failure",
      "microsoft.dhcp.dns_error_code": "10054"}),
    ("00,11/24/26,00:00:01,Started,,,,", {"event.action": "log-start", "source.ip": None,
                                         "event.category": ["process"]}),
    ("54,11/24/26,08:15:00,Unauthorized,,so.gov.vn,",
     {"event.action": "rogue-server-detection", "event.outcome": "failure",
      "source.domain": "so.gov.vn"}),
    ("11000,11/24/26,08:15:00,DHCPV6 Solicit,2001:db8::50,pc3,,18,0004A34473BFC27F,,,",
     {"event.action": "dhcpv6-solicit", "source.ip": "2001:db8::50", "source.domain": "pc3",
      "microsoft.dhcp.duid.length": "18", "event.category": ["network"]}),
    ("11,11/24/26,08:15:00,Renew,10.0.5.50,pc1", {"event.action": "dhcp-renew",
                                                  "source.mac": None}),
    ("<14>Nov 24 08:15:00 dhcp01 DhcpSrvLog: " + ASSIGN,
     {"observer.name": "dhcp01", "source.ip": "10.0.5.50"}),
])
def test_dhcp_events(line: str, fields: dict[str, Any]) -> None:
    assert pick(WindowsDhcpParser().parse(line, CTX), *fields) == fields


@pytest.mark.parametrize("line", [
    "\t\tMicrosoft DHCP Service Activity Log", "Event ID  Meaning",
    "00\tThe log was started.", "50+\tCodes above 50 are used for Rogue Server Detection "
    "information.", "QResult: 0: NoQuarantine, 1:Quarantine, 2:Drop Packet, 3:Probation,",
    "ID,Date,Time,Description,IP Address,Host Name,MAC Address,User Name, TransactionID",
])
def test_dhcp_preamble_is_skipped(line: str) -> None:
    with pytest.raises(SkipRecord):
        WindowsDhcpParser().parse(line, CTX)


@pytest.mark.parametrize(("line", "reason"), [
    ("10,24/11/26,08:15:00,Assign,10.0.0.1", "bad DHCP date or time '24/11/26' '08:15:00' "
                                             "(MM/DD/YY HH:MM:SS)"),
    ("10,11/24/26", "not a DHCP audit log line (ID,Date,Time,Description,...)"),
])
def test_dhcp_refusals(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        WindowsDhcpParser().parse(line, CTX)
    assert info.value.message == reason


def test_auto_detection_takes_dhcp_lines() -> None:
    assert get_parser("auto").parse(ASSIGN, CTX)["event.dataset"] == "microsoft.dhcp"
