"""Fuzzing every registered parser, and auto-detection over all of them, with hypothesis.

Each parser gets random text, random bytes read in odd encodings, mutations of its own valid
samples (the parser tests' lines), lines up to 1 MiB and deep nesting, and short streams of
lines through one instance (IIS layouts and auditd serials carry state). It must return an event
(field names for keys, values JSON can hold, a canonical ``@timestamp``, an ``event.dataset``)
or raise ``ParseError`` (a dead letter); anything else, or two seconds of CPU on one line, is a
crash (see tests/fuzz/harness.py). Profile ``ci``: a few examples each, the same on every run;
``python benchmarks/fuzz.py`` runs many more.

Every crash found is kept at the end of this file as a plain test with its minimal input.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soc.errors import ParseError
from tests.fuzz.harness import CTX, STRATEGIES, new_parser, parse_lines, parser_names, seeds, stream

NAMES = parser_names()


def test_every_parser_has_seeds() -> None:
    """Mutation needs valid samples: every parser accepts some line of its tests."""
    assert [name for name in NAMES if not seeds(name)] == []


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_parser_returns_an_event_or_a_parse_error(name: str, strategy: str,
                                                  data: st.DataObject) -> None:
    text = data.draw(STRATEGIES[strategy](seeds(name)), label="line")
    parse_lines(name, [text])


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_parser_state_survives_any_stream(name: str, data: st.DataObject) -> None:
    lines = data.draw(stream(seeds(name)), label="lines")
    parse_lines(name, lines)


# --- crashes the fuzzing found, each with its minimal input --------------------------------------


def _outcome(name: str, text: str) -> str:
    """``event <dataset>`` or ``dead letter: <reason>`` for one line through a new parser."""
    event = parse_lines(name, [text])[0]
    if event is not None:
        return f"event {event['event.dataset']}"
    try:
        new_parser(name).parse(text, CTX)
    except ParseError as exc:
        return f"dead letter: {exc.message}"
    raise AssertionError("parsed the second time")  # pragma: no cover


def test_netevent_without_a_usable_time_or_dataset_is_a_dead_letter() -> None:
    """Was: any JSON naming the module came back as the event, whatever its time (a number, a
    word, none) and dataset, and reached the store."""
    sensor = '{"@timestamp":%s,"event.module":"netsensor","event.dataset":"network.flow"}'
    assert _outcome("netevent", sensor % '"2026-11-24T01:15:00.000Z"') == "event network.flow"
    for stamp in ("5", '"yesterday"', '"2026-11-24T01:15:00Z"', "null"):
        assert _outcome("netevent", sensor % stamp) == (
            "dead letter: not a network sensor event (@timestamp is not a UTC time like "
            "2026-11-24T01:15:00.000Z)")
    assert _outcome("netevent", '{"@timestamp":"2026-11-24T01:15:00.000Z",'
                                '"event.module":"netsensor"}') == (
        "dead letter: not a network sensor event (no event.dataset)")


@pytest.mark.parametrize("name", ["netevent", "winlog"])
def test_json_nested_past_the_decoder_is_a_dead_letter(name: str) -> None:
    """Was: RecursionError (orjson stops at 1024 levels, the standard decoder then recurses)."""
    assert _outcome(name, "[" * 100_000).startswith("dead letter: invalid JSON")


@pytest.mark.parametrize(("name", "line"), [
    ("fortigate", "date=2026-11-24 time=08:15:00 " + "a" * 200_000),
    ("auditd", "type=SYSCALL msg=audit(1795482900.123:4567): " + "-" * 200_000),
])
def test_a_long_word_without_equals_sign_is_read_in_linear_time(name: str, line: str) -> None:
    """Was: hours of CPU (key=value regexes retried at every character of a long word: 20,000
    characters took 3 s for FortiGate, 11 s for auditd). Now well within the CPU bound."""
    parse_lines(name, [line])


@pytest.mark.parametrize(("name", "line", "reason"), [
    ("jsonl", '{"@timestamp":"2026-11-24T01:15:00Z",".event.module":"x"}',
     "'.event.module' is no field name: a part between dots is empty"),
    ("suricata", '{"timestamp":"2026-11-24T01:15:00Z","event_type":"flow","flow":{"":1}}',
     "'suricata.eve.flow.' is no field name: a part between dots is empty"),
    ("winlog", '{"EventTime":"2026-11-24 08:15:30","EventID":4624,"Channel":"Security",'
               '".SourceName":"x"}',
     "EventData name '.SourceName' is no field name: a part between dots is empty"),
    ("netevent", '{"@timestamp":"2026-11-24T01:15:00.000Z","event.module":"netsensor",'
                 '"event.dataset":"network.flow","":1}',
     "not a network sensor event ('' is no field name)"),
])
def test_a_key_with_an_empty_part_is_a_dead_letter(name: str, line: str, reason: str) -> None:
    """Was: the event kept ``.event.module``, ``suricata.eve.flow.``, ``winlog.event_data..x``
    or ``""``, names Elasticsearch refuses (the whole document with them)."""
    assert _outcome(name, line) == f"dead letter: {reason}"


def test_a_netfilter_token_without_a_key_is_a_flag() -> None:
    """Was: ``=1`` became the field ``iptables.`` (and ``.=2`` ``iptables..``)."""
    event = parse_lines("iptables", ["<4>Nov 24 08:15:00 web01 kernel: IN=eth0 OUT= SRC=1.2.3.4 "
                                     "DST=5.6.7.8 PROTO=UDP =1 .=2 DPT=2"])[0]
    assert event is not None
    assert (event["iptables.flags"], event["destination.port"]) == (["=1", ".=2"], 2)


@pytest.mark.parametrize(("name", "line", "reason"), [
    ("fortigate", 'date=9999-12-31 time=23:59:59 tz=-2359 devid="FG1" logid="1" type="traffic"',
     "bad FortiGate date/time 9999-12-31 23:59:59"),
    ("syslog", "9999-12-31T23:59:59-23:59 host app: hi",
     "bad timestamp '9999-12-31T23:59:59-23:59'"),
    ("syslog", "0001-01-01T00:00:00+23:59 host app: hi",
     "bad timestamp '0001-01-01T00:00:00+23:59'"),
    ("syslog", "<13>Dec 31 9999 23:59:59 -2359: host app: hi",
     "time out of range: Dec 31 9999 23:59:59"),
    ("syslog", "<13>Dec 31 9999 23:59:59 -2300: host app: hi",
     "no such date: day 31 of month 12 in 9999"),
    ("jsonl", '{"@timestamp":"9999-12-31T23:59:59-23:59"}',
     "bad timestamp '9999-12-31T23:59:59-23:59'"),
    ("apache", '1.2.3.4 - - [31/Dec/9999:23:59:59 -2359] "GET / HTTP/1.1" 200 1',
     "bad time 31/Dec/9999:23:59 -2359"),
    ("winlog", '{"@timestamp":"9999-12-31T23:59:59-23:59","winlog":{"channel":"Security",'
               '"event_id":4624}}',
     "not a usable Windows event: OverflowError: date value out of range"),
])
def test_a_time_out_of_range_in_utc_is_a_dead_letter(name: str, line: str, reason: str) -> None:
    """Was: OverflowError (a date at the edge of years 1-9999 whose offset moves it past them
    in UTC)."""
    assert _outcome(name, line) == f"dead letter: {reason}"


BIG = "9" * 4301  # int() refuses numbers of more than 4300 digits (ValueError)


@pytest.mark.parametrize(("name", "line", "field"), [
    ("syslog", f"Nov 24 08:15:00 web01 sshd[{BIG}]: hi", "log.syslog.procid"),
    ("syslog", f"<13>Nov 24 08:15:00 web01 sshd[{BIG}]: hi", "log.syslog.procid"),
    ("syslog", f"Nov 24 08:15:00 web01 cron: message repeated {BIG} times: [ x]", "message"),
    ("iptables", "<4>Nov 24 08:15:00 web01 kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 "
                 f"PROTO=UDP SPT={BIG} DPT=\u00b2", "iptables.log"),
    ("pfsense", "<134>1 2026-11-24T08:15:00+07:00 pf filterlog 1 - - 77,,,1000000003,igb0,"
                f"match,pass,out,6,0x00,0x00000,64,udp,17,60,2001:db8::5,2001:db8::53,{BIG},53,60",
     "pfsense.filterlog"),
    ("auditd", f'type=EXECVE msg=audit(1795482900.000:1): argc=1 a{BIG}="x"',
     f"auditd.data.a{BIG}"),
    ("syslog", f"Nov 24 08:15:00 web01 sshd: Accepted password for root from 1.2.3.4 port "
               f"{BIG} ssh2", "source.ip"),
])
def test_a_number_past_4300_digits_stays_text(name: str, line: str, field: str) -> None:
    """Was: ValueError from int() (a pid, a repeat count, a port, an EXECVE argument index)."""
    event = parse_lines(name, [line])[0]
    assert event is not None
    assert field in event or event["event.dataset"] == field
    assert "process.pid" not in event and "source.port" not in event


@pytest.mark.parametrize(("name", "line", "reason"), [
    ("auditd", f"type=USER_LOGIN msg=audit(1795482900.000:{BIG}): pid=1",
     "not an audit record (type=... msg=audit(ts:serial): ...)"),
    ("auditd", "type=EXECVE msg=audit(1795482900.\u0663:1): argc=1",  # an Arabic-Indic 3
     "not an audit record (type=... msg=audit(ts:serial): ...)"),
    ("jsonl", f'{{"@timestamp":"2026-11-24T01:15:00Z","n":{BIG}}}',
     "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion"),
    ("suricata", f'{{"timestamp":"2026-11-24T01:15:00Z","event_type":"flow","n":{BIG}}}',
     "invalid JSON"),
    ("winlog", '{"@timestamp":"2026-11-24T01:15:30.123Z","winlog":{"channel":"Security",'
               '"event_id":4624},"x":' + '{"a":' * 1000 + "1" + "}" * 1001,
     "not a usable Windows event: nested too deeply"),
])
def test_odd_numbers_and_nesting_are_dead_letters(name: str, line: str, reason: str) -> None:
    """Was: ValueError from int() or json.loads (an audit serial, a JSON number past 4300
    digits), a non-ASCII digit copied into ``@timestamp``, RecursionError in winlog's
    flattening of objects about a thousand deep (orjson decodes 1024)."""
    assert _outcome(name, line) == f"dead letter: {reason}"


@pytest.mark.parametrize(("name", "line", "reason"), [
    ("apache", f'1.2.3.4 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.1" 200 {BIG}',
     "a number of 4301 digits"),
    ("nginx_error", f"2026/11/24 08:15:00 [error] {BIG}#1: *1 open() failed",
     "a number of 4301 digits"),
    ("apache_error", f"[Tue Nov 24 08:15:00 2026] [error] [pid {BIG}] x",
     "a number of 4301 digits"),
    ("apache_error", f"[Tue Nov 24 08:15:00 2026] [error] [client 1.2.3.4:{BIG}] x",
     "a number of 4301 digits"),
    ("tomcat", f'portal:{BIG} 1.2.3.4 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.1" 200 1',
     "a number of 4301 digits"),
    ("apache", '1.2.3.4 - - [24/Nov/2026:08:15:\u0663\u0663 +0700] "GET / HTTP/1.1" 200 1',
     "not an access log line (apache common/combined format)"),
])
def test_odd_numbers_in_web_logs_are_dead_letters(name: str, line: str, reason: str) -> None:
    """Was: ValueError from int() (a size, pid, port or connection of more than 4300 digits), and
    Arabic-Indic seconds copied into ``@timestamp`` as they were."""
    assert _outcome(name, line) == f"dead letter: {reason}"
