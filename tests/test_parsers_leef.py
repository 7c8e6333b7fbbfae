"""LEEF 1.0 and 2.0 (IBM QRadar Log Event Extended Format): delimiters, predefined attributes,
devTime with devTimeFormat, detections. Lines written here from IBM's LEEF guide and vendors'
published LEEF examples."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.leef import LeefParser, java_pattern
from soc import registry
from soc.errors import ParseError
from soc.pipeline.parsing import AutoParser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
NOW = "2026-11-24T03:00:00.000Z"

EXCHANGE = ("Jan 18 11:07:53 host1 LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.10\t"
            "dst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black\t"
            "proto=6\tdevTime=Nov 24 2026 08:15:00")
CARET = ("<13>1 2026-11-24T01:15:00Z qradar app - - - LEEF:2.0|Lancope|StealthWatch|1.0|41|^|"
         "src=192.0.2.1^dst=172.50.123.1^sev=5^cat=anomaly^srcPort=81^dstPort=21^"
         "usrName=joe.black")
NAT = ("LEEF:2.0|Vendor|Product|1.0|ConnDeny|x5E|srcPreNAT=10.0.0.5^srcPostNAT=198.51.100.9^"
       "dstPreNAT=203.0.113.80^dstPostNAT=10.0.0.80^srcPreNATPort=5000^srcPostNATPort=62000^"
       "dstPreNATPort=443^dstPostNATPort=8443^proto=TCP^action=deny^"
       "devTime=2026-11-24T08:15:00.123+0700^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ")
DEEP_SECURITY = ("LEEF:2.0|Trend Micro|Deep Security Agent|20.0|4000030|cat=Anti-Malware\t"
                 "name=HEU_AEGIS_CRYPT\tdesc=HEU_AEGIS_CRYPT\tsev=6\tdvc=10.0.0.1\t"
                 "filePath=C:\\Windows\\System32\\virus.exe\tact=Terminate\tmsg=Realtime")
SPACED = ("LEEF:1.0|IBM|QRadar|7.3|Auth_Failure|devTime=1795482900123 src=192.168.1.1 "
          "dst=10.0.0.2 usrName=alice isLoginEvent=true")


def parse(line: str) -> dict[str, object]:
    return LeefParser().parse(line, CTX)


def test_leef_1_tab_separated_after_a_bsd_header() -> None:
    assert parse(EXCHANGE) == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "leef",
        "event.module": "leef", "event.kind": "event", "leef.version": "1.0",
        "observer.vendor": "Microsoft", "observer.product": "MSExchange",
        "observer.version": "4.0 SP1", "event.code": "15345", "leef.src": "192.0.2.10",
        "source.ip": "192.0.2.10", "leef.dst": "172.50.123.1", "destination.ip": "172.50.123.1",
        "leef.sev": "5", "leef.cat": "anomaly", "leef.srcPort": "81", "source.port": 81,
        "leef.dstPort": "21", "destination.port": 21, "leef.usrName": "joe.black",
        "source.user.name": "joe.black", "leef.proto": "6",
        "leef.devTime": "Nov 24 2026 08:15:00", "user.name": "joe.black",
        "network.iana_number": "6", "network.transport": "tcp", "event.severity": 5,
        "observer.name": "host1", "event.category": ["network"], "event.type": ["connection"]}


@pytest.mark.parametrize("delimiter", ["^", "x5E", "0x5E", "X5e"])
def test_leef_2_delimiter_as_character_or_hex(delimiter: str) -> None:
    ev = parse(CARET.replace("|41|^|", f"|41|{delimiter}|"))
    assert (ev["source.ip"], ev["destination.port"], ev["user.name"], ev["event.severity"]) == (
        "192.0.2.1", 21, "joe.black", 5)
    assert (ev["@timestamp"], ev["log.syslog.priority"], ev["observer.name"]) == (
        "2026-11-24T01:15:00.000Z", 13, "qradar")


def test_leef_2_tab_by_hex_no_delimiter_field_and_tabs_turned_into_spaces() -> None:
    tabbed = "LEEF:2.0|V|P|1|E|x09|src=10.0.0.1\tdst=10.0.0.2\tusrName=nam"
    assert parse(tabbed)["destination.ip"] == "10.0.0.2"
    assert parse(tabbed.replace("|x09|", "|"))["user.name"] == "nam"
    spaced = parse(SPACED)  # no tab anywhere: read like a CEF extension
    assert (spaced["source.ip"], spaced["user.name"], spaced["@timestamp"]) == (
        "192.168.1.1", "alice", "2026-11-24T01:15:00.123Z")


def test_nat_attributes_and_a_java_date_format() -> None:
    ev = parse(NAT)
    assert (ev["source.ip"], ev["source.port"], ev["source.nat.ip"], ev["source.nat.port"]) == (
        "10.0.0.5", 5000, "198.51.100.9", 62000)
    assert (ev["destination.ip"], ev["destination.port"], ev["destination.nat.ip"],
            ev["destination.nat.port"]) == ("203.0.113.80", 443, "10.0.0.80", 8443)
    assert (ev["event.action"], ev["event.type"], ev["event.outcome"]) == (
        "deny", ["connection", "denied"], "failure")
    assert ev["@timestamp"] == "2026-11-24T01:15:00.123Z"


@pytest.mark.parametrize(("dev_time", "fmt", "stamp"), [
    ("Nov 24 2026 08:15:00", "MMM dd yyyy HH:mm:ss", "2026-11-24T01:15:00.000Z"),
    ("Nov 24 2026 08:15:00.300", "MMM dd yyyy HH:mm:ss.SSS", "2026-11-24T01:15:00.300Z"),
    ("24/11/2026 08:15:00 AM", "dd/MM/yyyy hh:mm:ss a", "2026-11-24T01:15:00.000Z"),
    ("24/11/2026 08:15:00 PM", "dd/MM/yyyy hh:mm:ss a", "2026-11-24T13:15:00.000Z"),
    ("Tue, 24 Nov 26 01:15:00 GMT", "EEE, dd MMM yy HH:mm:ss z", "2026-11-24T01:15:00.000Z"),
    ("2026-11-24 08:15:00", "yyyy-MM-dd HH:mm:ss", "2026-11-24T01:15:00.000Z"),
    ("Nov 24 08:15:00", "MMM dd HH:mm:ss", "2026-11-24T01:15:00.000Z"),  # year: this one
    ("1795482900000", "", "2026-11-24T01:15:00.000Z"),  # no format: epoch milliseconds
    ("Nov 24 2026 01:15:00 UTC", "", "2026-11-24T01:15:00.000Z"),  # the default format
    ("garbage", "MMM dd yyyy HH:mm:ss", NOW),  # unreadable: the next source of time
    ("Nov 24 2026 08:15:00", "qqq", "2026-11-24T01:15:00.000Z"),  # unknown letter: no format
])
def test_dev_time_and_dev_time_format(dev_time: str, fmt: str, stamp: str) -> None:
    attrs = f"devTime={dev_time}" + (f"\tdevTimeFormat={fmt}" if fmt else "")
    assert parse(f"LEEF:1.0|V|P|1|E|src=10.0.0.1\t{attrs}")["@timestamp"] == stamp


def test_java_patterns_refuse_repeated_fields() -> None:
    assert java_pattern("yyyy-MM-dd yyyy") is None
    assert java_pattern("HH:mm 'at' yyyy") is not None


def test_identity_attributes_stand_in_for_the_source() -> None:
    ev = parse("LEEF:1.0|Microsoft|Windows|10|4624|identSrc=10.1.1.7\taccountName=hoa\t"
               "identHostName=pc07\tidentGrpName=KeToan\tisLoginEvent=true\tdomain=CORP")
    assert (ev["source.ip"], ev["user.name"], ev["source.domain"], ev["user.group.name"]) == (
        "10.1.1.7", "hoa", "pc07", "KeToan")
    assert (ev["event.category"], ev["event.type"], ev["event.outcome"], ev["user.domain"]) == (
        ["authentication"], ["start"], "success", "CORP")
    logout = parse("LEEF:1.0|Microsoft|Windows|10|4634|src=10.1.1.7\tisLogoutEvent=true")
    assert logout["event.type"] == ["end"]


def test_deep_security_anti_malware_is_an_antivirus_alert() -> None:
    ev = parse(DEEP_SECURITY)
    assert (ev["event.kind"], ev["event.category"], ev["rule.name"], ev["file.path"]) == (
        "alert", ["malware"], "HEU_AEGIS_CRYPT", "C:\\Windows\\System32\\virus.exe")
    assert ev["observer.ip"] == "10.0.0.1" and ev["@timestamp"] == NOW


@pytest.mark.parametrize(("line", "reason"), [
    ("CEF:0|a|b|c|d|e|1|", "not LEEF"),
    ("LEEF:1.0|Vendor|Product", "LEEF header with fewer than 5 fields"),
])
def test_bad_lines_are_dead_letters(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(line)
    assert err.value.message.startswith(reason)


def test_auto_detection_takes_leef_out_of_syslog_framing() -> None:
    auto = AutoParser(list(registry.parsers().values()))
    assert auto.parse(EXCHANGE, CTX)["event.dataset"] == "leef"
    assert auto.parse(CARET, CTX)["event.dataset"] == "leef"
