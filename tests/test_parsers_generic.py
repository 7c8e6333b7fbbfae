"""The generic fallback: addresses, ports, users and actions from lines no specific parser reads
(syslog lines of unknown devices, JSON without a dataset, headerless key=value lines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.generic import GenericKvParser, extract, split_address
from collectors.parsers.jsonl import JsonLinesParser
from collectors.parsers.syslog import SyslogParser
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                   source="gen", stream="gen.log")
NOW = "2026-11-24T03:00:00.000Z"


def pick(ev: Event, *keys: str) -> dict[str, Any]:
    return {k: ev.get(k) for k in keys}


@pytest.mark.parametrize(("text", "fields"), [
    ("src=10.0.5.7 dst=203.0.113.9 sport=51234 dport=443 proto=6 action=deny user=bob",
     {"source.ip": "10.0.5.7", "destination.ip": "203.0.113.9", "source.port": 51234,
      "destination.port": 443, "network.transport": "tcp", "event.action": "deny",
      "event.outcome": "failure", "user.name": "bob", "related.ip": ["10.0.5.7", "203.0.113.9"],
      "related.user": ["bob"]}),
    ('SourceIP="10.0.5.7" DestinationIP="203.0.113.9" Source-Port="5000" UserName="Nguyen Van A"'
     ' Result=Success',
     {"source.ip": "10.0.5.7", "destination.ip": "203.0.113.9", "source.port": 5000,
      "user.name": "Nguyen Van A", "event.outcome": "success"}),
    ("srcip=10.0.5.7:51234:X0 dstip=[2001:db8::1]:443 act=allow",
     {"source.ip": "10.0.5.7", "source.port": 51234, "destination.ip": "2001:db8::1",
      "destination.port": 443, "event.action": "allow", "event.outcome": "success"}),
    ("src=gw.example.vn dst=gateway usr=- smac=00:11:22:33:44:55",
     {"source.domain": "gw.example.vn", "source.ip": None, "destination.domain": None,
      "user.name": None, "source.mac": "00-11-22-33-44-55"}),
    ("src=999.1.1.1 sport=70000 dport=x", {"source.ip": None, "source.port": None,
                                          "destination.port": None}),
    ("Login failed for user admin from 203.0.113.5 port 22",
     {"source.ip": "203.0.113.5", "source.port": 22, "user.name": "admin"}),
    ("session 10.0.5.7:51234 -> 203.0.113.9:443 closed",
     {"source.ip": "10.0.5.7", "source.port": 51234, "destination.ip": "203.0.113.9",
      "destination.port": 443}),
    ("connection from [AF_INET]203.0.113.5:1194 to 10.0.0.1 port 1194",
     {"source.ip": "203.0.113.5", "source.port": 1194, "destination.ip": "10.0.0.1",
      "destination.port": 1194}),
    ("interface eth0 has 10.0.0.1, gateway 10.0.0.254", {"source.ip": None,
                                                         "destination.ip": None}),
    ('{"client_ip": "203.0.113.5", "user": {"name": "bob"}, "action": "login"}',
     {"source.ip": "203.0.113.5", "user.name": "bob", "event.action": "login"}),
    # a flow with no role words (a WAF's alert line): the first address, guessed, and said so
    ("barracuda WF ALER SQL_INJECTION_IN_URL 203.0.113.11 51234 10.0.0.5 443 global DENY",
     {"source.ip": "203.0.113.11", "source.port": 51234, "destination.ip": "10.0.0.5",
      "destination.port": 443, "generic.guessed": "source"}),
    ("route 10.0.0.0 via 10.0.0.254 metric 100", {"source.ip": None, "generic.guessed": None}),
    # nested JSON keys name their role by their last part (AWS WAF, Azure Application Gateway)
    ('{"action": "BLOCK", "httpRequest": {"clientIp": "198.51.100.4", "uri": "/"}}',
     {"source.ip": "198.51.100.4", "event.action": "BLOCK"}),
    ('{"properties": {"clientIp": "198.51.100.5", "clientPort": "50000", "action": "Blocked"}}',
     {"source.ip": "198.51.100.5", "source.port": 50000}),
])
def test_extract(text: str, fields: dict[str, Any]) -> None:
    assert pick(extract(text), *fields) == fields


@pytest.mark.parametrize(("value", "expected"), [
    ("10.0.0.1", ("10.0.0.1", None)), ("10.0.0.1:80", ("10.0.0.1", "80")),
    ("10.0.0.1/80", ("10.0.0.1", "80")), ("[::1]:22", ("::1", "22")), ("::1", ("::1", None)),
    ("10.0.0.1:x", ("10.0.0.1", None)), ("host:80", (None, None)), ("1.2.3", (None, None)),
    ("١٠.٠.٠.١", (None, None)),
])
def test_split_address(value: str, expected: tuple[str | None, str | None]) -> None:
    assert split_address(value) == expected


def test_unknown_syslog_device_keeps_dataset_and_gains_fields() -> None:
    ev = SyslogParser().parse("<134>Nov 24 08:15:00 sw-core-01 ACCESS: user=admin "
                              "src=10.0.5.7 action=login result=failed", CTX)
    assert pick(ev, "event.dataset", "host.name", "process.name", "user.name", "source.ip",
                "event.action", "event.outcome") == {
        "event.dataset": "syslog", "host.name": "sw-core-01", "process.name": "ACCESS",
        "user.name": "admin", "source.ip": "10.0.5.7", "event.action": "login",
        "event.outcome": "failure"}


def test_linux_daemon_lines_stay_syslog_for_linux_rules() -> None:
    ev = SyslogParser().parse('Nov 24 08:15:00 ftp01 vsftpd[812]: [bob] FAIL LOGIN: Client '
                              '"203.0.113.5"', CTX)
    assert pick(ev, "event.dataset", "process.name", "source.ip") == {
        "event.dataset": "syslog", "process.name": "vsftpd", "source.ip": "203.0.113.5"}
    quiet = SyslogParser().parse("Nov 24 08:15:00 web01 systemd[1]: Started Session 4.", CTX)
    assert "source.ip" not in quiet and "related.ip" not in quiet


def test_a_device_parser_still_claims_its_lines() -> None:
    """The fallback's fields do not make a FortiGate line generic: auto-detection offers every
    line the syslog parser leaves as ``syslog`` to the specific parsers."""
    auto = get_parser("auto")
    auto.parse("Nov 24 08:15:00 web01 sshd[7]: Accepted password for a from 10.0.0.5 port 1 ssh2",
               CTX)
    fgt = auto.parse('<189>Nov 24 08:15:00 fw01 date=2026-11-24 time=08:15:00 devname="FG1" '
                     'devid="FG100F" logid="0000000013" type="traffic" subtype="forward" '
                     'srcip=10.0.5.7 srcport=51234 dstip=203.0.113.9 dstport=443 action="deny"',
                     CTX)
    assert fgt["event.dataset"] == "fortigate.traffic"


def test_headerless_key_value_lines() -> None:
    auto = get_parser("auto")
    ev = auto.parse("src=10.0.5.7 dst=203.0.113.9 dport=3389 action=drop", CTX)
    assert pick(ev, "@timestamp", "event.dataset", "event.module", "source.ip",
                "destination.port", "event.outcome", "message") == {
        "@timestamp": NOW, "event.dataset": "generic.kv", "event.module": "generic",
        "source.ip": "10.0.5.7", "destination.port": 3389, "event.outcome": "failure",
        "message": "src=10.0.5.7 dst=203.0.113.9 dport=3389 action=drop"}
    timed = auto.parse('time="2026-11-24 08:10:00" srcip=10.0.5.8 user=bob', CTX)
    assert timed["@timestamp"] == "2026-11-24T01:10:00.000Z"
    epoch = auto.parse("ts=1795482600 src=10.0.5.8", CTX)
    assert epoch["@timestamp"] == "2026-11-24T01:10:00.000Z"
    # the fallback is not "sticky": the next FortiGate line is FortiGate's
    fgt = auto.parse('date=2026-11-24 time=08:15:00 devid="FG100F" logid="0000000013" '
                     'type="traffic" srcip=10.0.5.7 dstip=203.0.113.9 action="accept"', CTX)
    assert fgt["event.dataset"] == "fortigate.traffic"


@pytest.mark.parametrize(("line", "reason"), [
    ("a=1 b=2", "no address or user among its keys (generic fallback)"),
    ("just some words", "no key=value pairs or JSON object (generic fallback)"),
    ("<999>src=1.2.3.4", "PRI 999 out of range (0-191)"),
])
def test_generic_parser_refusals(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        GenericKvParser().parse(line, CTX)
    assert info.value.message == reason


def test_json_without_dataset_naming_an_address() -> None:
    jsonl = JsonLinesParser()
    ev = jsonl.parse(json.dumps({"time": "2026-11-24T08:15:00+07:00", "src_ip": "203.0.113.5",
                                 "dst_port": 22, "username": "root", "status": "failed"}), CTX)
    assert pick(ev, "event.dataset", "event.module", "source.ip", "destination.port",
                "user.name", "event.outcome", "src_ip") == {
        "event.dataset": "generic.kv", "event.module": "generic", "source.ip": "203.0.113.5",
        "destination.port": 22, "user.name": "root", "event.outcome": "failure",
        "src_ip": "203.0.113.5"}
    ecs = jsonl.parse('{"@timestamp": "2026-11-24T01:00:00Z", "source": {"ip": "10.0.0.1"}}',
                      CTX)
    assert ecs["event.dataset"] == "json"  # ECS fields need no fallback
    plain = jsonl.parse('{"@timestamp": "2026-11-24T01:00:00Z", "user": "bob"}', CTX)
    assert plain["event.dataset"] == "json"  # no address: not a device's record
    untimed = get_parser("auto").parse('{"src_ip": "203.0.113.5", "action": "block"}', CTX)
    assert pick(untimed, "@timestamp", "event.dataset", "event.outcome") == {
        "@timestamp": NOW, "event.dataset": "generic.kv", "event.outcome": "failure"}
