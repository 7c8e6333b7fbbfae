"""What the fuzz tests and ``benchmarks/fuzz.py`` share: the parsers, their seeds, the input
strategies, the property every parser keeps, and the hypothesis profiles.

The property: ``parse`` returns an event (a dict whose keys are field names, whose values
``json.dumps`` takes, with a canonical ``@timestamp`` and an ``event.dataset``) or raises
:class:`soc.errors.ParseError` (the pipeline's dead letter; :class:`SkipRecord` is one). Any
other exception, or more than :data:`CPU_BOUND` seconds of CPU for one line, is a crash.

Seeds are the parsers' own valid samples: every string literal and module-level value of the
parser tests that a parser accepts (so new tests feed the fuzzer), plus a few lines below for
formats whose tests build their samples in code.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from soc import registry
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import AutoParser
from soc.pipeline.sources import ParseContext, Parser

TESTS = Path(__file__).resolve().parent.parent
SEED_TESTS = ("test_parsers.py", "test_winlog.py", "test_pipeline.py", "test_netsensor.py",
              *sorted(p.name for p in TESTS.glob("test_parsers_*.py")))
"""The tests whose strings seed the fuzzing: every ``test_parsers_*.py`` (a new format's tests
feed it without an edit here) and a few others."""
CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                   source="fuzz", stream="fuzz.log")
CPU_BOUND = 2.0  # seconds of CPU one line may take (the longest is 1 MiB: a few ms when linear)
LONG = 1 << 20  # the longest line: the receiver's largest max_message_bytes default
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.large_base_example]
# CI: few examples, the same ones on every run (derandomize), no deadline (the machine is shared)
# and no example database written into the working tree.
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_HEALTH, print_blob=True)
settings.load_profile("ci")

# Whatever a format treats specially, and what breaks naive code: quotes, escapes, brackets,
# separators, line and paragraph separators, huge and non-ASCII numbers (str.isdigit and \d take
# them), a BOM, XML entities, JSON's odd literals.
TOKENS = (
    '"', "'", "\\", "{", "}", "[", "]", "(", ")", "<", ">", "=", ":", ",", ";", " ", "\t", "\x00",
    "\r", "\n", "\u2028", "\x85", "\x1b[2J", "%", "%%1833", "-", "+", ".", "..", "/", "#", "@",
    "1e999", "-1e999", "NaN", "Infinity", "-0", "0", "00", "99999999999999999999999",
    "-9223372036854775809", "18446744073709551616", "٣", "９", "²", "Ⅻ", "İ", "ǅ", "\ufeff",
    "\ufffd", "0x", "0xZZ", "null", "true", "[]", "{}", '{"a":{}}', "[[[]]]", "&amp;", "&#0;",
    "&#x110000;", "<!DOCTYPE x [<!ENTITY a 'b'>]>", "&a;", "<![CDATA[x]]>", "<?xml ?>",
    "0000-00-00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "24:00:00",
    "Feb 30", "Feb 29 2025", "60", "2026-11-24T08:15:00", "1795482900", "1795482900123456789",
    "0000", "0001", "9999", "-2359", "+2359", "9" * 4301,  # past int()'s 4300 digits
)
ENCODINGS = ("utf-8", "latin-1", "cp1252", "cp1258", "utf-16-le", "utf-16-be", "utf-32-le",
             "gb18030", "shift_jis", "koi8-r", "utf-7")
NESTING = (('{"a":', "}"), ("[", "]"), ("<a>", "</a>"), ("(", ")"), ('{"EventData":"<x>', '"}'),
           ("[[", "]]"), ('"\\"', '\\""'), ("%{", "}"))

# Formats whose tests build their samples in code (dicts through json.dumps, f-strings).
EXTRA_SEEDS = (
    '{"@timestamp":"2026-11-24T01:15:00.000Z","event.module":"netsensor",'
    '"event.dataset":"network.flow","source.ip":"10.20.0.9","source.port":50000,'
    '"destination.ip":"10.20.0.15","destination.port":22,"network.transport":"tcp"}',
    '{"timestamp":"2026-11-24T08:15:00.123456+0700","flow_id":42,"in_iface":"ens1f0",'
    '"event_type":"alert","src_ip":"203.0.113.9","src_port":51515,"dest_ip":"10.20.0.15",'
    '"dest_port":80,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2024217,'
    '"rev":3,"signature":"ET WEB_SERVER Possible SQL Injection","category":"Web Application '
    'Attack","severity":1},"http":{"hostname":"portal.gov.vn","url":"/?id=1 or 1=1",'
    '"http_method":"GET","status":403}}',
    '{"timestamp":"2026-11-24T08:15:00.123456+0700","event_type":"dns","src_ip":"10.0.0.2",'
    '"dest_ip":"10.0.0.1","proto":"UDP","dns":{"type":"query","rrname":"example.vn",'
    '"rrtype":"A"}}',
    '{"TimeGenerated":"2026-11-24T01:15:30.123Z","EventID":4625,"Type":"SecurityEvent",'
    '"Computer":"dc01","Channel":"Security","EventData":"<EventData xmlns=\\"http://schemas.'
    'microsoft.com/win/2004/08/events/event\\"><Data Name=\\"TargetUserName\\">admin</Data>'
    '<Data>x</Data><Binary>00</Binary></EventData>"}',
    '{"EventTime":"2026-11-24 08:15:30","EventID":4624,"Channel":"Security",'
    '"SourceName":"Microsoft-Windows-Security-Auditing","Hostname":"dc01",'
    '"TargetUserName":"nam","LogonType":"3","IpAddress":"10.0.0.5","Keywords":-9214364837600034816}',
    '{"@timestamp":"2026-11-24T01:15:30.123Z","winlog":{"channel":"Security","event_id":4624,'
    '"provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"TargetUserName":"nam"}}}',
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken",
    "2026-11-24 01:15:00 10.20.0.15 GET /erp/conn.aspx proxy&port=3389 80 - 203.0.113.7 "
    "Mozilla/5.0 200 0 0 15",
)


# --- the parsers and their seeds -----------------------------------------------------------------


def parser_names() -> list[str]:
    """Every registered parser, and ``auto`` (auto-detection over all of them)."""
    return [*registry.parsers(), "auto"]


def new_parser(name: str) -> Parser:
    """A fresh instance (parsers keep per-stream state: IIS layouts, auditd serials)."""
    found = registry.parsers()
    if name == "auto":
        return AutoParser([type(p)() for p in found.values()])
    parser: Parser = type(found[name])()
    return parser


def _literals(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def _module_values(path: Path) -> Iterator[str]:
    module = importlib.import_module(f"tests.{path.stem}")
    for value in vars(module).values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            try:
                yield json.dumps(value)
            except (TypeError, ValueError):
                continue


@cache
def candidates() -> tuple[str, ...]:
    """Every string the parser tests hold, longer than a word, in a stable order."""
    found: dict[str, None] = dict.fromkeys(EXTRA_SEEDS)
    for name in SEED_TESTS:
        path = TESTS / name
        for text in (*_literals(path), *_module_values(path)):
            if len(text) >= 20 and "\n" not in text.strip():
                found[text] = None
    return tuple(found)


@cache
def seeds(name: str) -> tuple[str, ...]:
    """The candidates ``name`` parses into an event (after the ones before it, for state)."""
    parser = new_parser(name)
    kept = []
    for text in candidates():
        try:
            parser.parse(text, CTX)
        except Exception:  # noqa: BLE001 - a seed is what parses; the fuzzing finds the rest
            continue
        kept.append(text)
    return tuple(kept)


# --- the property --------------------------------------------------------------------------------


class Hang(Exception):
    """A parser spent more than :data:`CPU_BOUND` seconds of CPU on one line."""


@contextmanager
def cpu_bound(seconds: float = CPU_BOUND) -> Iterator[None]:
    """Raise :class:`Hang` in the block once the process spent ``seconds`` of CPU in it (CPU,
    not wall-clock time: the machine is shared; the regex engine checks signals)."""
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"more than {seconds} s of CPU on one line")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def is_field_name(key: object) -> bool:
    """A dotted field name every store takes: no empty or blank part (Elasticsearch refuses
    ``""``, ``"a."``, ``".a"``, ``"a..b"`` and ``" "``)."""
    return isinstance(key, str) and all(part.strip() for part in key.split("."))


def check_event(event: object) -> None:
    """Assert the shape of an event a parser returned."""
    assert isinstance(event, dict), f"parse returned {type(event).__name__}, not a dict"
    bad = [key for key in event if not is_field_name(key)]
    assert not bad, f"keys that are not field names: {bad[:5]!r}"
    json.dumps(event)  # TypeError/ValueError: a value JSON cannot hold
    stamp = event.get("@timestamp")
    assert isinstance(stamp, str) and TIMESTAMP.fullmatch(stamp), f"@timestamp {stamp!r}"
    dataset = event.get("event.dataset")
    assert isinstance(dataset, str) and dataset, f"event.dataset {dataset!r}"


def parse_lines(name: str, lines: list[str]) -> list[Event | None]:
    """Feed ``lines`` to one new ``name`` parser; per line its event, or None for a
    :class:`ParseError`. Anything else propagates: a crash."""
    parser = new_parser(name)
    out: list[Event | None] = []
    for text in lines:
        start = time.process_time()
        event: Event | None
        try:
            with cpu_bound():
                event = parser.parse(text, CTX)
        except ParseError:
            event = None
        spent = time.process_time() - start
        if spent > CPU_BOUND:  # a parser that caught the Hang
            raise Hang(f"{spent:.1f} s of CPU on one line")
        if event is not None:
            check_event(event)
        out.append(event)
    return out


# --- input strategies ----------------------------------------------------------------------------


def _splice(text: str, i: int, j: int, piece: str) -> str:
    i, j = sorted((min(i, len(text)), min(j, len(text))))
    return text[:i] + piece + text[j:]


_DIGITS = re.compile(r"\d+")


@st.composite
def _mutation(draw: st.DrawFn, text: str) -> str:
    """One edit of ``text``: insert, replace, delete, duplicate, truncate, or a number swapped."""
    i = draw(st.integers(0, len(text)))
    j = draw(st.integers(i, min(len(text), i + 40)))
    piece = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)))
    kind = draw(st.sampled_from(("insert", "replace", "delete", "duplicate", "truncate",
                                 "number")))
    if kind == "insert":
        return _splice(text, i, i, piece)
    if kind == "replace":
        return _splice(text, i, j, piece)
    if kind == "delete":
        return _splice(text, i, j, "")
    if kind == "duplicate":
        return _splice(text, j, j, text[i:j] * draw(st.integers(2, 50)))
    if kind == "truncate":
        return text[:i]
    numbers = list(_DIGITS.finditer(text))
    if not numbers:
        return _splice(text, i, i, piece)
    hit = numbers[draw(st.integers(0, len(numbers) - 1))]
    value = draw(st.one_of(st.integers().map(str), st.sampled_from(TOKENS)))
    return _splice(text, hit.start(), hit.end(), value)


@st.composite
def mutated(draw: st.DrawFn, samples: tuple[str, ...]) -> str:
    """A sample with one to five edits."""
    text = draw(st.sampled_from(samples))
    for _ in range(draw(st.integers(1, 5))):
        text = draw(_mutation(text))
    return text


def _mojibake(text: str, written: str, read: str) -> str:
    return text.encode(written, "replace").decode(read, "replace")


def odd_encodings(samples: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Random bytes, or a sample written in one encoding, read in any encoding."""
    encodings = st.sampled_from(ENCODINGS)
    raw = st.builds(lambda b, enc: b.decode(enc, "replace"), st.binary(max_size=400), encodings)
    return st.one_of(raw, st.builds(_mojibake, st.sampled_from(samples), encodings, encodings))


@st.composite
def long_lines(draw: st.DrawFn, samples: tuple[str, ...]) -> str:
    """A sample with a run of up to :data:`LONG` characters put in (or replacing a part)."""
    text = draw(st.sampled_from(samples))
    unit = draw(st.sampled_from(("a", " ", "0", '"', "\\", "=", "[", "{", "a=b ", "%", ":",
                                 "\\x41", ",", "-", "\t", "é", "<a>", '\\"')))
    run = unit * (draw(st.integers(1 << 10, LONG)) // len(unit))
    i = draw(st.integers(0, len(text)))
    j = draw(st.one_of(st.just(i), st.integers(i, len(text))))
    return _splice(text, i, j, run)


@st.composite
def nested(draw: st.DrawFn, samples: tuple[str, ...]) -> str:
    """Deep nesting (JSON objects and arrays, XML, brackets) spliced into a sample."""
    text = draw(st.sampled_from(samples))
    opener, closer = draw(st.sampled_from(NESTING))
    depth = draw(st.sampled_from((50, 500, 999, 1000, 1024, 1025, 5000, 100_000)))
    closed = draw(st.booleans())
    core = opener * depth + "1" + (closer * depth if closed else "")
    i = draw(st.integers(0, len(text)))
    j = draw(st.integers(i, len(text)))
    return _splice(text, i, j, core)


def lines(samples: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Any one line, from every strategy."""
    if not samples:  # a parser with no seed: only random text
        return st.one_of(st.text(), odd_encodings(("",)))
    return st.one_of(st.text(), odd_encodings(samples), mutated(samples), long_lines(samples),
                     nested(samples))


STRATEGIES: dict[str, Callable[[tuple[str, ...]], st.SearchStrategy[str]]] = {
    "random": lambda samples: st.text(),
    "encodings": odd_encodings,
    "mutated": mutated,
    "long": long_lines,
    "nested": nested,
}
"""Strategies by name (the benchmark reports per parser and strategy)."""


def stream(samples: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """A few lines for one parser instance (state carried from line to line)."""
    return st.lists(st.one_of(st.sampled_from(samples), mutated(samples)) if samples
                    else st.text(), min_size=2, max_size=6)


def describe(value: Any) -> str:
    """A short, printable view of an input for reports."""
    text = repr(value)
    return text if len(text) <= 200 else f"{text[:160]}... ({len(text)} characters)"
