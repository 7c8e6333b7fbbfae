"""Windows DHCP Server audit logs (``DhcpSrvLog-*.log``, ``DhcpV6SrvLog-*.log``) → ECS events.

One CSV line per event: ``ID,Date,Time,Description,IP Address,Host Name,MAC Address,User Name,
TransactionID,QResult,Probationtime,CorrelationID,Dhcid,VendorClass(Hex),VendorClass(ASCII),
UserClass(Hex),UserClass(ASCII),RelayAgentInformation,DnsRegError`` (DHCPv6: ``ID,Date,Time,
Description,IPv6 Address,Host Name,Error Code,Duid Length,Duid Bytes(Hex),User Name,Dhcid,
Subnet Prefix``), times local to the server (``ctx.tz``), dates ``MM/DD/YY``. The event id's
meaning (``event.action``, category, type, outcome) follows Microsoft's table as Elastic's
microsoft_dhcp integration encodes it. The client's address is ``source.ip`` (v4 and v6 alike),
its name ``source.domain``, its MAC ``source.mac``. The file's preamble (the title, the id legend
and the column header) raises :class:`SkipRecord`; short lines (older servers write fewer
columns) are read as far as they go.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

from collectors.parsers import generic
from soc.ecs import Event, format_ts
from soc.errors import ParseError, SkipRecord
from soc.pipeline.sources import ParseContext

V4_COLUMNS = ("event.code", "date", "time", "message", "ip", "host", "mac", "user.name",
              "microsoft.dhcp.transaction_id", "microsoft.dhcp.result",
              "microsoft.dhcp.probation_time", "microsoft.dhcp.correlation_id",
              "microsoft.dhcp.dhc_id", "microsoft.dhcp.vendor.hex",
              "microsoft.dhcp.vendor.string", "microsoft.dhcp.user.hex",
              "microsoft.dhcp.user.string", "microsoft.dhcp.relay_agent_info",
              "microsoft.dhcp.dns_error_code")
V6_COLUMNS = ("event.code", "date", "time", "message", "ip", "host",
              "microsoft.dhcp.error_code", "microsoft.dhcp.duid.length",
              "microsoft.dhcp.duid.hex", "user.name", "microsoft.dhcp.dhc_id",
              "microsoft.dhcp.subnet_prefix")

NET, PROC, ROGUE = ("network",), ("process",), ("authentication", "network")
CONN, ALLOWED, DENIED = ("connection",), ("allowed", "connection"), ("connection", "denied")
# Event id → (event.action, category, type, outcome); ids not here: network/connection.
V4_EVENTS: dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...], str]] = {
    "00": ("log-start", PROC, ("start",), "success"),
    "01": ("log-end", PROC, ("end",), "success"),
    "02": ("log-pause", PROC, ("change",), "failure"),
    "10": ("dhcp-new", NET, ALLOWED, "success"), "11": ("dhcp-renew", NET, ALLOWED, "success"),
    "12": ("dhcp-release", NET, ALLOWED, "success"), "13": (None, NET, CONN, "success"),
    "14": (None, NET, DENIED, "failure"), "15": ("dhcp-deny", NET, DENIED, "failure"),
    "16": ("dhcp-delete", NET, CONN, "success"), "17": ("dhcp-expire", NET, CONN, "success"),
    "18": ("dhcp-expire", NET, CONN, "success"), "20": (None, NET, ALLOWED, "success"),
    "21": (None, NET, ALLOWED, "success"), "22": (None, NET, DENIED, "failure"),
    "23": (None, NET, DENIED, "failure"), "24": ("ip-cleanup-start", PROC, ("start",), "success"),
    "25": ("ip-cleanup-end", PROC, ("start",), "success"),
    "30": ("dhcp-dns-update", NET, CONN, "success"),
    "31": ("dhcp-dns-update", NET, CONN, "failure"),
    "32": ("dhcp-dns-update", NET, CONN, "success"), "33": (None, NET, CONN, "failure"),
    "34": ("dhcp-dns-update", NET, CONN, "failure"),
    "35": ("dhcp-dns-update", NET, DENIED, "failure"), "36": (None, NET, DENIED, "failure"),
    **{str(i): ("rogue-server-detection", ROGUE, CONN, "success") for i in range(50, 65)},
    "50": ("rogue-server-detection", ROGUE, CONN, "failure"),
    "51": ("rogue-server-detection", ROGUE, ALLOWED, "success"),
    "53": ("rogue-server-detection", ROGUE, ALLOWED, "success"),
    "54": ("rogue-server-detection", ROGUE, DENIED, "failure"),
    "55": ("rogue-server-detection", ROGUE, ALLOWED, "success"),
    "56": ("rogue-server-detection", ROGUE, DENIED, "failure"),
    "58": ("rogue-server-detection", ROGUE, CONN, "failure"),
    "59": ("rogue-server-detection", ROGUE, CONN, "failure"),
}
_V6_ACTIONS = (
    "dhcpv6-solicit", "dhcpv6-advertise", "dhcpv6-request", "dhcpv6-confirm", "dhcpv6-renew",
    "dhcpv6-rebind", "dhcpv6-decline", "dhcpv6-release", "dhcpv6-info-request",
    "dhcpv6-scope-full", "log-start", "log-stop", "log-pause", "log-file", "dhcpv6-bad-address",
    "dhcpv6-address-in-use", "dhcpv6-client-deleted", "ipv6-dns-record-not-deleted",
    "dhcpv6-expired", "dhcpv6-lease-expired-deleted", "dhcpv6-cleanup-start",
    "dhcpv6-cleanup-end", "ipv6-dns-update-request", "ipv6-dns-update-failed",
    "ipv6-dns-update-successful", None, None, None, "ipv6-dns-update-request-queue-exceeded",
    "ipv6-dns-update-request-failed", "dhcpv6-stateless-clients-purged",
    "dhcpv6-stateless-clients-expired", "dhcpv6-stateless-client-info-request")
V6_EVENTS = {str(11000 + i): a for i, a in enumerate(_V6_ACTIONS) if a is not None}
_V6_FAILED = frozenset(("11006", "11014", "11023", "11028", "11029"))
_V6_PROCESS = frozenset(("11010", "11011", "11012", "11013", "11020", "11021", "11030",
                         "11031"))
_PREAMBLE = ("Microsoft DHCP", "Event ID", "ID,Date,Time,", "QResult:", "ID Date Time")
_LEGEND = re.compile(r"\s*\d{2,5}\+?\s")
_MAC = re.compile(r"[0-9A-Fa-f]{12}")


class WindowsDhcpParser:
    """Windows DHCP Server audit log lines → ``microsoft.dhcp``."""

    name: ClassVar[str] = "microsoft_dhcp"
    priority: ClassVar[int] = 18

    def sniff(self, text: str) -> bool:
        """``NN,MM/DD/YY,`` (an id of 2 to 5 digits, then the date), wherever the first comma
        is (after a syslog header too), or the log's preamble."""
        comma = text.find(",")
        if comma < 2:
            return False
        if text[comma + 3:comma + 4] == "/" and text[comma + 6:comma + 7] == "/":
            start = text.rfind(" ", 0, comma) + 1
            return 2 <= comma - start <= 5 and text[start:comma].isdigit()
        return text.startswith(_PREAMBLE)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`SkipRecord` for the preamble."""
        line = text.strip()
        if not line or line.startswith(_PREAMBLE) or (_LEGEND.match(line) and "," not in line):
            raise SkipRecord("DHCP audit log preamble (not an event)")
        head: Event = {}
        if not line[:1].isdigit() or line.find(",") > 5:
            head, line = _header(line, ctx)
        values = line.split(",")
        if len(values) < 4 or not (values[0].isascii() and values[0].isdigit()):
            raise ParseError("not a DHCP audit log line (ID,Date,Time,Description,...)")
        v6 = len(values[0]) == 5 or ":" in (values[4] if len(values) > 4 else "")
        row = {k: v.strip() for k, v in zip(V6_COLUMNS if v6 else V4_COLUMNS, values,
                                            strict=False) if v.strip()}
        ev: Event = {"@timestamp": _time(row.get("date", ""), row.get("time", ""), ctx),
                     "event.dataset": "microsoft.dhcp", "event.module": "microsoft",
                     "event.kind": "event", "observer.vendor": "Microsoft",
                     "observer.product": "DHCP Server", "observer.type": "dhcp"}
        if "host.name" in head:
            ev["observer.name"] = head["host.name"]
        _fields(ev, row)
        (_v6_meaning if v6 else _v4_meaning)(ev, row["event.code"])
        return ev


def _header(line: str, ctx: ParseContext) -> tuple[Event, str]:
    """A syslog header before the CSV (a forwarder's), read by the syslog parser's reader."""
    from collectors.parsers.syslog import parse_header

    head, rest = parse_header(line, ctx)
    return head, rest.strip()


def _time(day: str, clock: str, ctx: ParseContext) -> str:
    try:
        dt = datetime.strptime(f"{day} {clock}", "%m/%d/%y %H:%M:%S")
        return format_ts(dt.replace(tzinfo=ctx.tz))
    except (ValueError, OverflowError):
        raise ParseError(f"bad DHCP date or time {day[:12]!r} {clock[:12]!r} "
                         "(MM/DD/YY HH:MM:SS)") from None


def _fields(ev: Event, row: dict[str, str]) -> None:
    for key, value in row.items():
        if key in ("date", "time"):
            continue
        if key == "ip":
            if generic.is_ip(value):
                ev["source.ip"] = value
                ev["related.ip"] = [value]
        elif key == "host":
            ev["source.domain"] = value.lower()
        elif key == "mac":
            if _MAC.fullmatch(value):
                ev["source.mac"] = "-".join(value[i:i + 2] for i in range(0, 12, 2)).upper()
        else:
            ev[key] = value


def _v4_meaning(ev: Event, code: str) -> None:
    action, category, kind, outcome = V4_EVENTS.get(code, (None, NET, CONN, "success"))
    if action:
        ev["event.action"] = action
    ev["event.category"] = list(category)
    ev["event.type"] = list(kind)
    ev["event.outcome"] = outcome


def _v6_meaning(ev: Event, code: str) -> None:
    action = V6_EVENTS.get(code)
    if action:
        ev["event.action"] = action
    process = code in _V6_PROCESS
    ev["event.category"] = ["process" if process else "network"]
    ev["event.type"] = ["change" if process else "connection"]
    ev["event.outcome"] = "failure" if code in _V6_FAILED else "success"
