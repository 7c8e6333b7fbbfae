"""The syslog, Linux auth and JSON lines parsers, and auto-detection. All lines are made up here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.jsonl import JsonLinesParser
from collectors.parsers.syslog import SyslogParser, parse_header
from soc.ecs import Event
from soc.errors import ParseError, SocError
from soc.pipeline.parsing import AutoParser, get_parser, parse_record
from soc.pipeline.sources import ParseContext, RawRecord

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CTX = ParseContext(tz=HCM, now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))


def parse(line: str, ctx: ParseContext = CTX) -> Event:
    return SyslogParser().parse(line, ctx)


def syslog(ts: str, msg: str, prog: str, pid: int | None = None, host: str = "web01",
           **more: Any) -> Event:
    """The fields every syslog event of these tests has, plus ``more`` (dots spelt ``__``)."""
    ev: Event = {
        "@timestamp": ts, "message": msg, "event.dataset": "syslog", "event.module": "system",
        "process.name": prog.split("(")[0], "log.syslog.appname": prog,
        "host.hostname": host, "host.name": host,
    }
    if pid is not None:
        ev["process.pid"] = pid
        ev["log.syslog.procid"] = str(pid)
    ev.update({k.replace("__", "."): v for k, v in more.items()})
    return ev


def auth(ts: str, msg: str, prog: str, pid: int | None = None, **more: Any) -> Event:
    return syslog(ts, msg, prog, pid, event__dataset="linux.auth", **more)


def fail(action: str, category: str = "authentication") -> dict[str, Any]:
    return {"event.action": action, "event.category": [category], "event.type": ["info"],
            "event.outcome": "failure"}


# ---------------------------------------------------------------- syslog framing and time


def test_bsd_line_is_local_time_in_ctx_zone() -> None:
    line = "Nov 24 09:15:02 web01 ntpd[812]: adjusting local clock by 0.0031s"
    assert parse(line) == syslog("2026-11-24T02:15:02.000Z", "adjusting local clock by 0.0031s",
                                 "ntpd", 812)


def test_bsd_line_single_digit_day_no_pid_and_fraction() -> None:
    line = "Nov  3 23:59:59.250 web01 kernel: eth0: link up"
    assert parse(line) == syslog("2026-11-03T16:59:59.250Z", "eth0: link up", "kernel")


def test_pri_gives_facility_and_severity() -> None:
    line = "<86>Nov 24 09:15:02 web01 cron[5]: job done"
    assert parse(line) == syslog(
        "2026-11-24T02:15:02.000Z", "job done", "cron", 5,
        log__syslog__priority=86, log__syslog__facility__code=10,
        log__syslog__facility__name="authpriv", log__syslog__severity__code=6,
        log__syslog__severity__name="Informational")


def test_rsyslog_file_format_iso_timestamp() -> None:
    line = "2026-11-24T08:15:00.123456+07:00 db02 postgres[77]: checkpoint starting: time"
    assert parse(line) == syslog("2026-11-24T01:15:00.123Z", "checkpoint starting: time",
                                 "postgres", 77, host="db02")


def test_iso_timestamp_without_zone_is_local() -> None:
    line = "2026-11-24 08:15:00 db02 app: hi"
    assert parse(line)["@timestamp"] == "2026-11-24T01:15:00.000Z"


def test_no_hostname_falls_back_to_ctx_hostname() -> None:
    ctx = ParseContext(tz=HCM, now=CTX.now, hostname="relay1")
    line = "<13>Nov 24 09:15:02 logger: hello there"
    ev = parse(line, ctx)
    assert ev["host.name"] == "relay1"
    assert ev["process.name"] == "logger"
    assert ev["message"] == "hello there"


def test_rfc5424_with_structured_data() -> None:
    line = ('<165>1 2026-11-24T01:15:00.5Z gw1 firewalld 4411 ID47 '
            '[origin ip="10.0.0.1" note="a \\"quoted\\] word"][meta seq="7"] \ufeffrule reloaded')
    assert parse(line) == syslog(
        "2026-11-24T01:15:00.500Z", "rule reloaded", "firewalld", 4411, host="gw1",
        log__syslog__priority=165, log__syslog__facility__code=20,
        log__syslog__facility__name="local4", log__syslog__severity__code=5,
        log__syslog__severity__name="Notice", log__syslog__version="1",
        log__syslog__msgid="ID47",
        **{"log.syslog.structured_data.origin.ip": "10.0.0.1",
           "log.syslog.structured_data.origin.note": 'a "quoted] word',
           "log.syslog.structured_data.meta.seq": "7"})


def test_rfc5424_all_nil_uses_ctx_now() -> None:
    assert parse("<14>1 - - - - - - boot") == {
        "@timestamp": "2026-11-24T03:00:00.000Z", "message": "boot",
        "event.dataset": "syslog", "event.module": "system", "log.syslog.version": "1",
        "log.syslog.priority": 14, "log.syslog.facility.code": 1,
        "log.syslog.facility.name": "user", "log.syslog.severity.code": 6,
        "log.syslog.severity.name": "Informational",
    }


@pytest.mark.parametrize(("now", "line", "expected"), [
    # December lines read on 2 January belong to the year before
    (datetime(2027, 1, 2, 12, tzinfo=UTC), "Dec 31 23:59:00 h x: y", "2026-12-31T16:59:00.000Z"),
    (datetime(2027, 1, 2, 12, tzinfo=UTC), "Jan  2 08:00:00 h x: y", "2027-01-02T01:00:00.000Z"),
    # up to a day ahead is clock skew, not last year: 1 January read on 31 December
    (datetime(2026, 12, 31, 12, tzinfo=UTC), "Jan  1 00:00:01 h x: y",
     "2026-12-31T17:00:01.000Z"),
    (datetime(2026, 11, 24, tzinfo=UTC), "Nov 26 10:00:00 h x: y", "2025-11-26T03:00:00.000Z"),
    # 29 February goes to the latest leap year
    (datetime(2026, 11, 24, tzinfo=UTC), "Feb 29 12:00:00 h x: y", "2024-02-29T05:00:00.000Z"),
])
def test_year_inference(now: datetime, line: str, expected: str) -> None:
    assert parse(line, ParseContext(tz=HCM, now=now))["@timestamp"] == expected


@pytest.mark.parametrize(("zone", "line", "expected"), [
    ("Asia/Kolkata", "Nov 24 09:15:02 h x: y", "2026-11-24T03:45:02.000Z"),  # +05:30
    ("Europe/Berlin", "Jul  1 12:00:00 h x: y", "2026-07-01T10:00:00.000Z"),  # summer time
    ("Europe/Berlin", "Nov  1 12:00:00 h x: y", "2026-11-01T11:00:00.000Z"),
    ("UTC", "Nov  1 00:30:00 h x: y", "2026-11-01T00:30:00.000Z"),
])
def test_zones(zone: str, line: str, expected: str) -> None:
    assert parse(line, ParseContext(tz=ZoneInfo(zone), now=CTX.now))["@timestamp"] == expected


def test_one_parser_follows_changing_contexts() -> None:
    parser = SyslogParser()
    line = "Dec 31 10:00:00 h x: y"
    in_december = ParseContext(tz=HCM, now=datetime(2026, 12, 31, 5, tzinfo=UTC))
    in_january = ParseContext(tz=HCM, now=datetime(2027, 1, 2, tzinfo=UTC))
    utc = ParseContext(tz=UTC, now=datetime(2027, 1, 2, tzinfo=UTC))
    assert parser.parse(line, in_december)["@timestamp"] == "2026-12-31T03:00:00.000Z"
    assert parser.parse(line, in_january)["@timestamp"] == "2026-12-31T03:00:00.000Z"
    assert parser.parse(line, utc)["@timestamp"] == "2026-12-31T10:00:00.000Z"


@pytest.mark.parametrize(("line", "reason"), [
    ("", "not a syslog line (no timestamp, host and program found)"),
    ("just some words", "not a syslog line (no timestamp, host and program found)"),
    ("Foo 24 09:15:02 h x: y", "unknown month 'Foo'"),
    ("Feb 30 09:15:02 h x: y", "no such date: day 30 of month 2"),
    ("Nov 24 24:15:02 h x: y", "not a syslog line (no timestamp, host and program found)"),
    ("<999>Nov 24 09:15:02 h x: y", "PRI 999 out of range (0-191)"),
    ("2026-13-45T00:00:00Z h x: y", "bad timestamp '2026-13-45T00:00:00+00:00'"),
    ("<13>1 2026-11-24T00:00:00Z h a - - [broken", "malformed RFC 5424 STRUCTURED-DATA"),
])
def test_garbage_is_a_parse_error(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(line)
    assert info.value.message == reason


def test_trailing_newline_is_ignored() -> None:
    assert parse("Nov 24 09:15:02 web01 app: x\r\n")["message"] == "x"


LOCAL7_NOTICE = {"log.syslog.priority": 189, "log.syslog.facility.code": 23,
                 "log.syslog.facility.name": "local7", "log.syslog.severity.code": 5,
                 "log.syslog.severity.name": "Notice"}


@pytest.mark.parametrize(("line", "expected"), [
    # Cisco IOS / Juniper / rsyslog templates with a year: local time in ctx.tz
    ("Nov 24 2026 08:15:00 rtr1 %SYS-5-CONFIG_I: x", "2026-11-24T01:15:00.000Z"),
    ("<189>Nov 24 2026 08:15:00 rtr1 %SYS-5-CONFIG_I: x", "2026-11-24T01:15:00.000Z"),
    ("<189>Nov 24 2026 08:15:00.123 ICT: rtr1 %SYS-5-CONFIG_I: x", "2026-11-24T01:15:00.123Z"),
    ("Nov 24 2026 08:15:00.5 UTC rtr1 %SYS-5-CONFIG_I: x", "2026-11-24T08:15:00.500Z"),
    ("Nov 24 2026 08:15:00 GMT: rtr1 %SYS-5-CONFIG_I: x", "2026-11-24T08:15:00.000Z"),
    ("Nov 24 2026 08:15:00 +02:00 rtr1 %SYS-5-CONFIG_I: x", "2026-11-24T06:15:00.000Z"),
    ("<189>123: Nov 24 2026 08:15:00 rtr1 %SYS-5-CONFIG_I: x", "2026-11-24T01:15:00.000Z"),
    ("Dec 31 2025 23:59:59 rtr1 %SYS-5-CONFIG_I: x", "2025-12-31T16:59:59.000Z"),  # no guessing
])
def test_bsd_timestamp_with_a_year(line: str, expected: str) -> None:
    ev = parse(line)
    assert (ev["@timestamp"], ev["host.name"], ev["process.name"], ev["message"]) == (
        expected, "rtr1", "%SYS-5-CONFIG_I", "x")


def test_year_header_with_pri_and_asa_tag() -> None:
    line = "<189>Nov 24 2026 08:15:00 asa01 : %ASA-6-302013: Built"
    assert parse(line) == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "host.hostname": "asa01", "host.name": "asa01",
        **LOCAL7_NOTICE, "process.name": "%ASA-6-302013", "log.syslog.appname": "%ASA-6-302013",
        "message": "Built", "event.dataset": "syslog", "event.module": "system"}


@pytest.mark.parametrize(("line", "reason"), [
    ("Feb 30 2026 08:15:00 h x: y", "no such date: day 30 of month 2 in 2026"),
    ("Nov 24 2026 24:15:00 h x: y", "not a syslog line (no timestamp, host and program found)"),
])
def test_bad_year_timestamps(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(line)
    assert info.value.message == reason


# ---------------------------------------------------------------- parse_header

FGT = 'date=2026-11-24 time=08:15:00 devname="FGT-HG-01" type="traffic"'


@pytest.mark.parametrize(("text", "fields", "rest"), [
    # no program tag: the rest is the payload as sent
    (f"<189>{FGT}", LOCAL7_NOTICE, FGT),
    (f"Nov 24 08:15:02 fw01 {FGT}", {"@timestamp": "2026-11-24T01:15:02.000Z",
                                    "host.hostname": "fw01", "host.name": "fw01"}, FGT),
    (f"<189>Nov 24 08:15:02 10.0.0.1 {FGT}", {
        "@timestamp": "2026-11-24T01:15:02.000Z", "host.hostname": "10.0.0.1",
        "host.name": "10.0.0.1", **LOCAL7_NOTICE}, FGT),
    (FGT, {}, FGT),
    ("<164>%ASA-4-106023: Deny", {**LOCAL7_NOTICE, "log.syslog.priority": 164,
                                  "log.syslog.facility.code": 20,
                                  "log.syslog.facility.name": "local4",
                                  "log.syslog.severity.code": 4,
                                  "log.syslog.severity.name": "Warning"}, "%ASA-4-106023: Deny"),
    # a tag is read when there is one
    ("Nov 24 09:15:02 web01 sshd[42]: Accepted", {
        "@timestamp": "2026-11-24T02:15:02.000Z", "host.hostname": "web01", "host.name": "web01",
        "process.name": "sshd", "log.syslog.appname": "sshd", "log.syslog.procid": "42",
        "process.pid": 42}, "Accepted"),
    ("2026-11-24T08:15:00+07:00 db02 postgres: ok", {
        "@timestamp": "2026-11-24T01:15:00.000Z", "host.hostname": "db02", "host.name": "db02",
        "process.name": "postgres", "log.syslog.appname": "postgres"}, "ok"),
    ("<14>1 2026-11-24T01:15:00Z gw1 app 7 ID1 - hi", {
        "@timestamp": "2026-11-24T01:15:00.000Z", "host.hostname": "gw1", "host.name": "gw1",
        "log.syslog.priority": 14, "log.syslog.facility.code": 1,
        "log.syslog.facility.name": "user", "log.syslog.severity.code": 6,
        "log.syslog.severity.name": "Informational", "process.name": "app",
        "log.syslog.appname": "app", "log.syslog.procid": "7", "process.pid": 7,
        "log.syslog.version": "1", "log.syslog.msgid": "ID1"}, "hi"),
])
def test_parse_header(text: str, fields: Event, rest: str) -> None:
    assert parse_header(text, CTX) == (fields, rest)


def test_parse_header_bad_pri() -> None:
    with pytest.raises(ParseError, match=r"PRI 192 out of range"):
        parse_header("<192>Nov 24 09:15:02 h x: y", CTX)


def test_repeated_headers_read_the_same() -> None:
    parser = SyslogParser()
    header = {"@timestamp": "2026-11-24T02:15:02.000Z", "host.hostname": "web01",
              "host.name": "web01", "process.name": "sshd", "log.syslog.appname": "sshd",
              "log.syslog.procid": "42", "process.pid": 42}
    lines = ["Nov 24 09:15:02 web01 sshd[42]: Accepted",
             "Nov 24 09:15:02 web01 sshd[42]: Connection closed by 1.2.3.4",
             "Nov 24 09:15:02 web01 sshd[42]:x", "Nov 24 09:15:02 web01 sshd[42]:  two"]
    events = [parser.parse(line, CTX) for line in lines]
    for ev in events:
        assert {k: ev[k] for k in header} == header
    assert [ev["message"] for ev in events] == ["Accepted", "Connection closed by 1.2.3.4",
                                                "x", " two"]
    assert events[1]["event.action"] == "ssh_connection_closed"
    events[0]["host.name"] = "changed"  # events are the caller's: no state shared
    utc = ParseContext(tz=UTC, now=CTX.now)
    again = parser.parse(lines[0], utc)
    assert (again["@timestamp"], again["host.name"]) == ("2026-11-24T09:15:02.000Z", "web01")


def test_stamps_read_before_keep_their_own_fraction_and_zone() -> None:
    """The stamps of one second are read once per context; a fraction, a PRI or another zone
    on a line with the same first 15 characters is still read from the line."""
    parser = SyslogParser()
    lines = ["Nov 24 09:15:02 web01 app: a", "Nov 24 09:15:02.250 web01 app: b",
             "Nov 24 09:15:02 web01 app: c", "<38>Nov 24 09:15:02 web01 app: d",
             "Nov 24 09:15:02.750 web01 app: e", "Nov 24 09:15:02 web01 app: f"]
    stamps = [parser.parse(line, CTX)["@timestamp"] for line in lines]
    assert stamps == ["2026-11-24T02:15:02.000Z", "2026-11-24T02:15:02.250Z",
                      "2026-11-24T02:15:02.000Z", "2026-11-24T02:15:02.000Z",
                      "2026-11-24T02:15:02.750Z", "2026-11-24T02:15:02.000Z"]
    first = SyslogParser()  # a fraction first must not leave its milliseconds behind
    assert [first.parse(line, CTX)["@timestamp"] for line in lines[1:3]] == stamps[1:3]
    utc = ParseContext(tz=UTC, now=CTX.now)
    assert parser.parse(lines[0], utc)["@timestamp"] == "2026-11-24T09:15:02.000Z"
    other = parser.parse("Nov 24 09:15:02 web01 sshd(pam_unix)[7]: x", CTX)
    assert (other["process.name"], other["log.syslog.appname"], other["process.pid"]) == (
        "sshd", "sshd(pam_unix)", 7)
    bare = parser.parse("Nov 24 09:15:02 web01 app[abc]: x", CTX)
    assert bare["log.syslog.procid"] == "abc" and "process.pid" not in bare


def test_cached_stamps_read_network_lines_as_a_first_read_does() -> None:
    """Lines as senders put them on the wire (``<PRI>`` first) take the cached-stamp path too;
    every line must give exactly what a parser that never saw the stamp gives."""
    bodies = ["web01 sshd[42]: Failed password for root from 203.0.113.9 port 50000 ssh2",
              "web01 sudo:  root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/id",
              "web01 sshd(pam_unix)[7]: session opened for user a by (uid=0)",
              "web01 app[abc]: x", "web01 app: y", "web01 : z", "fw %ASA-4-106023: Deny"]
    prefixes = ["", "<38>", "<0>", "<191>", "<086>", "<192>", "<>", "<3a>", "<38", "<1234>",
                "<38>1234: "]
    stamps = ["Nov 24 09:15:02 ", "Nov 24 09:15:02.250 ", "Nov 24 2026 09:15:02 "]
    shared = SyslogParser()
    seen = 0
    for stamp in stamps:
        for prefix in prefixes:
            for body in bodies:
                line = prefix + stamp + body
                try:
                    expected: Event | str = SyslogParser().parse(line, CTX)
                except ParseError as exc:
                    expected = str(exc)
                try:
                    got: Event | str = shared.parse(line, CTX)
                except ParseError as exc:
                    got = str(exc)
                assert got == expected, line
                seen += isinstance(got, dict) and "log.syslog.priority" in got
    assert seen > 50  # PRI lines were parsed, not only refused
    assert shared._header._stamps is not None  # the cache was used
    assert "Nov 24 09:15:02" in shared._header._stamps[1]


# ---------------------------------------------------------------- sshd

TS = "2026-11-24T02:15:02.000Z"
PRE = "Nov 24 09:15:02 web01 sshd[4242]: "


def ssh(msg: str, **more: Any) -> Event:
    return auth(TS, msg, "sshd", 4242, **more)


def src(ip: str, port: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"source.ip": ip, "related.ip": [ip]}
    if port is not None:
        out["source.port"] = port
    return out


def user(name: str, *also: str) -> dict[str, Any]:
    return {"user.name": name, "related.user": [name, *also]}


SSH_CASES = [
    ("Accepted password for alice from 10.20.0.5 port 51122 ssh2",
     {**user("alice"), **src("10.20.0.5", 51122), "system.auth.ssh.method": "password",
      "event.action": "ssh_login", "event.category": ["authentication", "session"],
      "event.type": ["start"], "event.outcome": "success"}),
    ("Accepted publickey for deploy from 2001:db8::7 port 40100 ssh2: ED25519 SHA256:Zm9vYmFy",
     {**user("deploy"), **src("2001:db8::7", 40100), "system.auth.ssh.method": "publickey",
      "system.auth.ssh.signature": "ED25519 SHA256:Zm9vYmFy",
      "event.action": "ssh_login", "event.category": ["authentication", "session"],
      "event.type": ["start"], "event.outcome": "success"}),
    ("Failed password for root from 203.0.113.9 port 40022 ssh2",
     {**user("root"), **src("203.0.113.9", 40022), **fail("ssh_failed_password")}),
    ("Failed password for invalid user oracle from 203.0.113.9 port 40023 ssh2",
     {**user("oracle"), **src("203.0.113.9", 40023), **fail("ssh_failed_password")}),
    # the user name is the attacker's text: the address is the last one on the line
    ("Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from 203.0.113.9 port 9 ssh2",
     {**user("x from 6.6.6.6 port 1 ssh2"), **src("203.0.113.9", 9),
      **fail("ssh_failed_password")}),
    ("Failed none for invalid user admin from 203.0.113.9 port 40024 ssh2",
     {**user("admin"), **src("203.0.113.9", 40024), "system.auth.ssh.method": "none",
      **fail("ssh_failed_auth")}),
    ("Invalid user test from 198.51.100.7 port 2222",
     {**user("test"), **src("198.51.100.7", 2222), **fail("ssh_invalid_user")}),
    ("Invalid user pi from 198.51.100.7",
     {**user("pi"), **src("198.51.100.7"), **fail("ssh_invalid_user")}),
    ("input_userauth_request: invalid user pi [preauth]",
     {**user("pi"), **fail("ssh_invalid_user_request")}),
    ("Received disconnect from 198.51.100.7: 11: Bye Bye [preauth]",
     {**src("198.51.100.7"), "event.reason": "Bye Bye", "event.action": "ssh_disconnect",
      "event.category": ["session"], "event.type": ["end"]}),
    ("Received disconnect from 198.51.100.7 port 2222:11: disconnected by user",
     {**src("198.51.100.7", 2222), "event.reason": "disconnected by user",
      "event.action": "ssh_disconnect", "event.category": ["session"], "event.type": ["end"]}),
    ("Disconnected from invalid user admin 198.51.100.7 port 2222 [preauth]",
     {**user("admin"), **src("198.51.100.7", 2222), "event.action": "ssh_disconnect",
      "event.category": ["session"], "event.type": ["end"]}),
    ("Disconnected from 198.51.100.7 port 2222",
     {**src("198.51.100.7", 2222), "event.action": "ssh_disconnect",
      "event.category": ["session"], "event.type": ["end"]}),
    ("Connection closed by authenticating user root 198.51.100.7 port 2222 [preauth]",
     {**user("root"), **src("198.51.100.7", 2222), "event.action": "ssh_connection_closed",
      "event.category": ["session"], "event.type": ["end"]}),
    ("Connection closed by 198.51.100.7 [preauth]",
     {**src("198.51.100.7"), "event.action": "ssh_connection_closed",
      "event.category": ["session"], "event.type": ["end"]}),
    ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
     "rhost=198.51.100.7  user=root",
     {**user("root"), **src("198.51.100.7"), **fail("pam_authentication_failure"),
      "system.auth.pam.failures": 1}),
    ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
     "rhost=scanner.example.net",
     {"source.domain": "scanner.example.net", **fail("pam_authentication_failure"),
      "system.auth.pam.failures": 1}),
    ("pam_unix(sshd:auth): check pass; user unknown", fail("pam_user_unknown")),
    ("reverse mapping checking getaddrinfo for host.example.org [198.51.100.7] failed - "
     "POSSIBLE BREAK-IN ATTEMPT!",
     {**src("198.51.100.7"), "source.domain": "host.example.org",
      "event.action": "ssh_reverse_mapping_failed", "event.category": ["network"],
      "event.type": ["info"]}),
    ("Did not receive identification string from 198.51.100.7",
     {**src("198.51.100.7"), "event.action": "ssh_no_identification",
      "event.category": ["network"], "event.type": ["info"]}),
    ("error: maximum authentication attempts exceeded for invalid user support from "
     "198.51.100.7 port 2222 ssh2 [preauth]",
     {**user("support"), **src("198.51.100.7", 2222), **fail("ssh_max_auth_attempts_exceeded")}),
    ("Disconnecting: Too many authentication failures for root [preauth]",
     {**user("root"), **fail("ssh_too_many_auth_failures")}),
    ("PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
     "rhost=198.51.100.7  user=root",
     {**user("root"), **src("198.51.100.7"), **fail("pam_more_authentication_failures"),
      "system.auth.pam.failures": 2}),
    ("pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
     {**user("alice"), "user.id": "1000", "event.action": "session_opened",
      "event.category": ["session"], "event.type": ["start"], "event.outcome": "success"}),
    ("pam_unix(sshd:session): session closed for user alice",
     {**user("alice"), "event.action": "session_closed", "event.category": ["session"],
      "event.type": ["end"], "event.outcome": "success"}),
    ("User root from 198.51.100.7 not allowed because not listed in AllowUsers",
     {**user("root"), **src("198.51.100.7"), "event.reason": "not listed in AllowUsers",
      **fail("ssh_user_not_allowed")}),
    # known program, unknown message: still linux.auth, no action
    ("Server listening on 0.0.0.0 port 22.", {}),
    ("PAM service(sshd) ignoring max retries; 6 > 3", {}),
]


@pytest.mark.parametrize(("msg", "fields"), SSH_CASES, ids=[c[0][:40] for c in SSH_CASES])
def test_sshd(msg: str, fields: dict[str, Any]) -> None:
    assert parse(PRE + msg) == ssh(msg, **{k.replace(".", "__"): v for k, v in fields.items()})


def test_message_repeated_is_refined_from_the_inner_message() -> None:
    msg = "message repeated 5 times: [ Failed password for root from 203.0.113.9 port 40022 ssh2]"
    assert parse(PRE + msg) == ssh(
        msg, log__syslog__repeat_count=5, **{k.replace(".", "__"): v for k, v in {
            **user("root"), **src("203.0.113.9", 40022), **fail("ssh_failed_password")}.items()})


def test_old_pam_tag_form() -> None:
    msg = ("authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= "
           "rhost=198.51.100.7  user=guest")
    line = f"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: {msg}"
    assert parse(line) == auth(
        "2026-06-14T08:16:01.000Z", msg, "sshd(pam_unix)", 19939, host="combo",
        **{k.replace(".", "__"): v for k, v in {
            **user("guest"), **src("198.51.100.7"), **fail("pam_authentication_failure"),
            "system.auth.pam.failures": 1}.items()})


def test_a_repeated_pam_failure_counts_each_repeat() -> None:
    """rsyslog's "message repeated 3 times" of PAM's summary line stands for 3 × 2 failures."""
    inner = ("PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
             "rhost=198.51.100.7  user=root")
    msg = f"message repeated 3 times: [ {inner}]"
    assert parse(PRE + msg) == ssh(msg, log__syslog__repeat_count=3, **{
        k.replace(".", "__"): v for k, v in {
            **user("root"), **src("198.51.100.7"), **fail("pam_more_authentication_failures"),
            "system.auth.pam.failures": 6}.items()})


# ---------------------------------------------------------------- sudo, su, accounts, sessions


def _ev(line: str, prog: str, pid: int | None, **fields: Any) -> tuple[str, Event]:
    msg = line.split(": ", 1)[1]
    return line, auth(TS, msg, prog, pid, **{k.replace(".", "__"): v for k, v in fields.items()})


OTHER_CASES = [
    _ev("Nov 24 09:15:02 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
        "COMMAND=/bin/bash -c id", "sudo", None,
        **{"user.name": "alice", "user.effective.name": "root",
           "process.command_line": "/bin/bash -c id", "process.working_directory": "/home/alice",
           "related.user": ["alice", "root"], "event.action": "sudo",
           "event.category": ["process"], "event.type": ["start"], "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; "
        "PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow", "sudo", None,
        **{"user.name": "alice", "user.effective.name": "root",
           "process.command_line": "/usr/bin/cat /etc/shadow",
           "process.working_directory": "/home/alice", "related.user": ["alice", "root"],
           "event.reason": "3 incorrect password attempts", **fail("sudo")}),
    _ev("Nov 24 09:15:02 web01 sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; "
        "USER=root ; COMMAND=/bin/sh", "sudo", None,
        **{"user.name": "bob", "user.effective.name": "root", "process.command_line": "/bin/sh",
           "process.working_directory": "/tmp", "related.user": ["bob", "root"],
           "event.reason": "user NOT in sudoers", **fail("sudo")}),
    _ev("Nov 24 09:15:02 web01 sudo: pam_unix(sudo:session): session opened for user "
        "root(uid=0) by alice(uid=1000)", "sudo", None,
        **{"user.name": "root", "user.id": "0", "related.user": ["root", "alice"],
           "event.action": "session_opened", "event.category": ["session"],
           "event.type": ["start"], "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 su[777]: (to root) alice on pts/0", "su", 777,
        **{"user.name": "alice", "user.effective.name": "root", "related.user": ["alice", "root"],
           "event.action": "su", "event.category": ["authentication"], "event.type": ["start"],
           "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 su[778]: FAILED SU (to root) alice on pts/0", "su", 778,
        **{"user.name": "alice", "user.effective.name": "root", "related.user": ["alice", "root"],
           **fail("su")}),
    _ev("Nov 24 09:15:02 web01 su[779]: pam_unix(su:auth): authentication failure; "
        "logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root", "su", 779,
        **{"user.name": "root", "related.user": ["root", "alice"],
           **fail("pam_authentication_failure"), "system.auth.pam.failures": 1}),
    _ev("Nov 24 09:15:02 web01 useradd[800]: new user: name=bob, UID=1001, GID=1001, "
        "home=/home/bob, shell=/bin/bash, from=/dev/pts/0", "useradd", 800,
        **{"user.name": "bob", "user.id": "1001", "group.id": "1001", "related.user": ["bob"],
           "event.action": "user_added", "event.category": ["iam"],
           "event.type": ["user", "creation"], "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 groupadd[801]: new group: name=devs, GID=1002", "groupadd", 801,
        **{"group.name": "devs", "group.id": "1002", "event.action": "group_added",
           "event.category": ["iam"], "event.type": ["group", "creation"],
           "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 groupadd[801]: group added to /etc/group: name=devs, GID=1002",
        "groupadd", 801),
    _ev("Nov 24 09:15:02 web01 usermod[802]: add 'bob' to group 'sudo'", "usermod", 802,
        **{"user.name": "bob", "group.name": "sudo", "related.user": ["bob"],
           "event.action": "user_added_to_group", "event.category": ["iam"],
           "event.type": ["group", "change"], "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 gpasswd[803]: user bob added by root to group docker", "gpasswd",
        803, **{"user.name": "bob", "group.name": "docker", "related.user": ["bob", "root"],
                "event.action": "user_added_to_group", "event.category": ["iam"],
                "event.type": ["group", "change"], "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 userdel[804]: delete user 'carol'", "userdel", 804,
        **{"user.name": "carol", "related.user": ["carol"], "event.action": "user_deleted",
           "event.category": ["iam"], "event.type": ["user", "deletion"],
           "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 passwd[805]: pam_unix(passwd:chauthtok): password changed for bob",
        "passwd", 805, **{"user.name": "bob", "related.user": ["bob"],
                          "event.action": "password_changed", "event.category": ["iam"],
                          "event.type": ["user", "change"], "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 systemd-logind[500]: New session 12 of user alice.",
        "systemd-logind", 500,
        **{"user.name": "alice", "related.user": ["alice"], "event.action": "logind_session_opened",
           "event.category": ["session"], "event.type": ["start"], "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 login[600]: ROOT LOGIN ON tty2", "login", 600,
        **{"user.name": "root", "related.user": ["root"], "event.action": "login",
           "event.category": ["authentication"], "event.type": ["start"],
           "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 CRON[900]: pam_unix(cron:session): session opened for user "
        "root(uid=0) by (uid=0)", "CRON", 900,
        **{"user.name": "root", "user.id": "0", "related.user": ["root"],
           "event.action": "session_opened", "event.category": ["session"],
           "event.type": ["start"], "event.outcome": "success"}),
    _ev("Nov 24 09:15:02 web01 cron(pam_unix)[901]: session closed for user root",
        "cron(pam_unix)", 901,
        **{"user.name": "root", "related.user": ["root"], "event.action": "session_closed",
           "event.category": ["session"], "event.type": ["end"], "event.outcome": "success"}),
]


@pytest.mark.parametrize(("line", "expected"), OTHER_CASES,
                         ids=[c[0][22:60] for c in OTHER_CASES])
def test_auth_programs(line: str, expected: Event) -> None:
    assert parse(line) == expected


def test_other_programs_stay_plain_syslog() -> None:
    line = "Nov 24 09:15:02 web01 CRON[901]: (root) CMD (run-parts /etc/cron.hourly)"
    assert parse(line) == syslog(TS, "(root) CMD (run-parts /etc/cron.hourly)", "CRON", 901)


# ---------------------------------------------------------------- JSON lines


def jparse(line: str, ctx: ParseContext = CTX) -> Event:
    return JsonLinesParser().parse(line, ctx)


def test_json_nested_objects_are_flattened_and_lists_kept() -> None:
    line = ('{"@timestamp": "2026-11-24T01:02:03.456789Z", "source": {"ip": "10.0.0.1", '
            '"geo": {"country_iso_code": "VN"}}, "event.dataset": "app.audit", '
            '"tags": ["a", {"b": 1}], "user.name": "alice", "empty": {}, "n": null}')
    assert jparse(line) == {
        "@timestamp": "2026-11-24T01:02:03.456Z", "source.ip": "10.0.0.1",
        "source.geo.country_iso_code": "VN", "event.dataset": "app.audit", "event.module": "app",
        "tags": ["a", {"b": 1}], "user.name": "alice", "n": None,
    }


@pytest.mark.parametrize(("fields", "expected"), [
    ('"@timestamp": "2026-11-24T08:00:00+07:00"', "2026-11-24T01:00:00.000Z"),
    ('"@timestamp": "2026-11-24T01:00:00"', "2026-11-24T01:00:00.000Z"),  # naive @timestamp: UTC
    ('"@timestamp": 1795482000', "2026-11-24T01:00:00.000Z"),
    ('"@timestamp": 1795482000123', "2026-11-24T01:00:00.123Z"),
    ('"ts": 1795482000.5', "2026-11-24T01:00:00.500Z"),
    ('"timestamp": "2026-11-24T02:00:00.250+0100"', "2026-11-24T01:00:00.250Z"),
    ('"time": "1795482000"', "2026-11-24T01:00:00.000Z"),
    ('"TimeCreated": "2026-11-24 08:00:00.042"', "2026-11-24T01:00:00.042Z"),  # naive: ctx.tz
    ('"EventTime": "2026-11-24 08:00:00"', "2026-11-24T01:00:00.000Z"),
    ('"time": "2026-11-24T00:00:00Z", "@timestamp": "2026-11-24T01:00:00Z"',
     "2026-11-24T01:00:00.000Z"),
])
def test_json_timestamps(fields: str, expected: str) -> None:
    ev = jparse("{" + fields + "}")
    assert ev["@timestamp"] == expected
    assert ev["event.dataset"] == "json"
    assert ev["event.module"] == "json"


@pytest.mark.parametrize(("line", "reason"), [
    ('{"a": 1', "invalid JSON: Expecting ',' delimiter at column 8"),
    ("not json", "invalid JSON: Expecting value at column 1"),
    ("[1, 2]", "not a JSON object but an array"),
    ('"x"', "not a JSON object but a string"),
    ('{"a": 1}', "no timestamp (looked for @timestamp, timestamp, time, ts, TimeCreated, "
                 "EventTime)"),
    ('{"@timestamp": "yesterday"}', "bad timestamp 'yesterday'"),
    ('{"@timestamp": true}', "timestamp is a bool, not a string or number"),
])
def test_json_errors(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        jparse(line)
    assert info.value.message == reason


def test_json_refiner_by_dataset() -> None:
    class Custom(JsonLinesParser):
        refiners: ClassVar[dict[str, Any]] = {
            "suricata.eve": lambda ev, ctx: ev.__setitem__("event.kind", "alert")}
        detectors: ClassVar[list[Any]] = [
            lambda ev: "suricata.eve" if "event_type" in ev else None]

    ev = Custom().parse('{"timestamp": "2026-11-24T01:00:00Z", "event_type": "alert"}', CTX)
    assert ev == {"timestamp": "2026-11-24T01:00:00Z", "@timestamp": "2026-11-24T01:00:00.000Z",
                  "event_type": "alert", "event.dataset": "suricata.eve",
                  "event.module": "suricata", "event.kind": "alert"}


# ---------------------------------------------------------------- choosing parsers, records


def test_get_parser_by_name_and_unknown() -> None:
    assert isinstance(get_parser("syslog"), SyslogParser)
    assert get_parser("jsonl") is get_parser("jsonl")
    with pytest.raises(SocError, match=r"no parser named 'nope' \(known: auto, .*jsonl, .*syslog"):
        get_parser("nope")


def test_get_parser_auto_uses_every_registered_parser() -> None:
    auto = get_parser("auto")
    assert isinstance(auto, AutoParser)
    assert {"jsonl", "syslog"} <= {p.name for p in auto.parsers}
    assert auto is not get_parser("auto")  # it keeps state: one per source


def two() -> AutoParser:
    return AutoParser([JsonLinesParser(), SyslogParser()])


def test_auto_picks_per_line_and_remembers() -> None:
    auto = two()
    ev = auto.parse("Nov 24 09:15:02 web01 app: hi", CTX)
    assert ev["event.dataset"] == "syslog"
    assert isinstance(auto.last, SyslogParser)
    ev = auto.parse('{"@timestamp": "2026-11-24T01:00:00Z", "msg": "hi"}', CTX)
    assert ev["event.dataset"] == "json"
    assert isinstance(auto.last, JsonLinesParser)
    assert auto.sniff("{") and not auto.sniff("hello")


def test_auto_offers_specific_parsers_only_what_syslog_leaves_generic() -> None:
    """An sshd line whose user name reads like an ASA message stays an sshd line; a generic
    line that a specific parser claims but cannot parse stays generic syslog."""
    auto = get_parser("auto")
    assert auto.parse("Nov 24 09:15:02 web01 app: hi", CTX)["event.dataset"] == "syslog"
    forged = "Nov 24 09:15:02 web01 sshd[7]: Invalid user %ASA-4-106023: from 203.0.113.9"
    ev = auto.parse(forged, CTX)
    assert (ev["event.dataset"], ev["user.name"]) == ("linux.auth", "%ASA-4-106023:")
    claimed = auto.parse("Nov 24 09:15:02 web01 app: saw %ASA- in a note", CTX)
    assert (claimed["event.dataset"], claimed["message"]) == ("syslog", "saw %ASA- in a note")
    asa = auto.parse("Nov 24 09:15:03 fw-hq %ASA-4-106023: Deny tcp src outside:203.0.113.9/4"
                     " dst inside:10.10.1.11/22 by access-group \"outside_in\"", CTX)
    assert asa["event.dataset"] == "cisco.asa"


def test_auto_says_what_it_tried() -> None:
    auto = two()
    with pytest.raises(ParseError) as info:
        auto.parse("hello world", CTX)
    assert info.value.message == "no parser recognises this line (tried: jsonl, syslog)"
    with pytest.raises(ParseError) as info:
        auto.parse('{"broken": ', CTX)
    assert info.value.message == (
        "no parser recognises this line (tried: jsonl (invalid JSON: Expecting value at "
        "column 12), syslog)")


RECORD = RawRecord(text="Nov 24 09:15:02 web01 app: hi", id="f00d",
                   fields={"log.file.path": "/var/log/syslog", "host.name": "collector"})


def test_parse_record_completes_the_event() -> None:
    ev = parse_record(get_parser("syslog"), RECORD, CTX, ingested="2026-11-24T03:00:00.000Z")
    assert ev == {**syslog(TS, "hi", "app"), "log.file.path": "/var/log/syslog",
                  "event.id": "f00d", "event.original": RECORD.text,
                  "event.ingested": "2026-11-24T03:00:00.000Z"}


def test_parse_record_without_original_and_with_now() -> None:
    ev = parse_record(get_parser("syslog"), RECORD, CTX, keep_original=False)
    assert "event.original" not in ev
    assert ev["event.ingested"].endswith("Z") and len(ev["event.ingested"]) == 24


def test_parse_record_requires_timestamp_and_dataset() -> None:
    class Sloppy:
        name: ClassVar[str] = "sloppy"
        priority: ClassVar[int] = 99

        def sniff(self, text: str) -> bool:
            return True

        def parse(self, text: str, ctx: ParseContext) -> Event:
            return {"message": text}

    with pytest.raises(ParseError) as info:
        parse_record(Sloppy(), RECORD, CTX)
    assert info.value.message == "parser 'sloppy' gave no @timestamp and no event.dataset"


class Refuses:
    """A parser that must not be called: the record carries its event."""

    name: ClassVar[str] = "refuses"
    priority: ClassVar[int] = 99

    def sniff(self, text: str) -> bool:
        return False

    def parse(self, text: str, ctx: ParseContext) -> Event:
        raise AssertionError("parsed a record that carries its event")


def test_parse_record_uses_the_event_the_collector_built() -> None:
    built = {"@timestamp": TS, "event.dataset": "network.flow", "log.file.path": "/own/path"}
    record = RawRecord(text="", id="f00d", event=built,
                       fields={"log.file.path": "/cap.pcap", "host.name": "sensor1"})
    ev = parse_record(Refuses(), record, CTX, ingested="2026-11-24T03:00:00.000Z")
    assert ev is built  # completed in place: no copy
    assert ev == {"@timestamp": TS, "event.dataset": "network.flow",
                  "log.file.path": "/own/path", "host.name": "sensor1", "event.id": "f00d",
                  "event.ingested": "2026-11-24T03:00:00.000Z"}  # no event.original: no text


def test_parse_record_keeps_the_text_of_a_built_event_as_original() -> None:
    record = RawRecord(text="the line", id="f00d",
                       event={"@timestamp": TS, "event.dataset": "x.y"})
    assert parse_record(Refuses(), record, CTX)["event.original"] == "the line"
    record = RawRecord(text="the line", id="f00d",
                       event={"@timestamp": TS, "event.dataset": "x.y"})
    assert "event.original" not in parse_record(Refuses(), record, CTX, keep_original=False)


def test_parse_record_checks_a_built_event_too() -> None:
    record = RawRecord(text="", id="f00d", event={"event.dataset": "network.flow"})
    with pytest.raises(ParseError) as info:
        parse_record(Refuses(), record, CTX)
    assert info.value.message == "the collector's event has no @timestamp"


MORE_VARIANTS = [
    ("su[1]: Successful su for root by alice", "su", "success", "alice", None),
    ("su[1]: + pts/0 alice:root", "su", "success", "alice", None),
    ("su[1]: - pts/0 alice:root", "su", "failure", "alice", None),
    ("login[1]: FAILED LOGIN 1 FROM tty1 FOR alice, Authentication failure", "login", "failure",
     "alice", None),
    ("login[1]: FAILED LOGIN 2 FROM 10.1.1.1 FOR bob, Authentication failure", "login", "failure",
     "bob", "10.1.1.1"),
    ("login[1]: LOGIN ON tty1 BY alice", "login", "success", "alice", None),
    ("systemd-logind[1]: Removed session 12.", "logind_session_closed", "success", None, None),
    ("userdel[1]: delete 'bob' from group 'sudo'", "user_removed_from_group", "success", "bob",
     None),
    ("groupdel[1]: group 'devs' removed", "group_deleted", "success", None, None),
    ("usermod[1]: change user 'bob' password", "password_changed", "success", "bob", None),
    ("usermod[1]: lock user 'bob' password", "user_locked", "success", "bob", None),
    ("passwd[1]: password for 'bob' changed by 'root'", "password_changed", "success", "bob",
     None),
    ("sshd[1]: Address 1.2.3.4 maps to x.example, but this does not map back to the address - "
     "POSSIBLE BREAK-IN ATTEMPT!", "ssh_reverse_mapping_failed", None, None, "1.2.3.4"),
    ('sshd[1]: Connection from 1.2.3.4 port 5555 on 10.0.0.2 port 22 rdomain ""',
     "ssh_connection", None, None, "1.2.3.4"),
    ("sshd[1]: Disconnecting authenticating user root 1.2.3.4 port 5555: Too many "
     "authentication failures [preauth]", "ssh_too_many_auth_failures", "failure", "root",
     "1.2.3.4"),
    ("sshd[1]: Failed keyboard-interactive/pam for invalid user x from 1.2.3.4 port 5 ssh2",
     "ssh_failed_password", "failure", "x", "1.2.3.4"),
    ("sshd[1]: Connection reset by 1.2.3.4 port 5 [preauth]", "ssh_connection_closed", None, None,
     "1.2.3.4"),
    ("sshd[1]: error: Received disconnect from 195.1.1.1: 3: com.jcraft.jsch.JSchException: "
     "Auth fail [preauth]", "ssh_disconnect", None, None, "195.1.1.1"),
]


@pytest.mark.parametrize(("rest", "action", "outcome", "name", "ip"), MORE_VARIANTS,
                         ids=[v[0][:45] for v in MORE_VARIANTS])
def test_more_variants(rest: str, action: str, outcome: str | None, name: str | None,
                       ip: str | None) -> None:
    ev = parse("Nov 24 09:15:02 h " + rest)
    assert ev["event.dataset"] == "linux.auth"
    assert ev["event.action"] == action
    assert ev.get("event.outcome") == outcome
    assert ev.get("user.name") == name
    assert ev.get("source.ip") == ip
