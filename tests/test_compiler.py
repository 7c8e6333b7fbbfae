"""The compiler: every Sigma modifier and condition form, cases from the Sigma specification."""

from __future__ import annotations

import base64
import random
import re
from typing import Any

import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import SpecialChars

from soc.detection.compiler import compile_node, glob_matcher, matched_fields
from soc.detection.ir import LoweringError, glob_regex, lower_rule
from soc.detection.pipelines import matcher_pipeline, placeholder_pipeline
from soc.detection.values import SEP, Folded, all_texts, joined_text

HEADER = "title: t\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: test}\n"


def compiled(detection: str, placeholders: dict[str, list[str]] | None = None) -> Any:
    """Parse a rule whose ``detection:`` block is given, map (placeholders only), lower, compile."""
    rule = SigmaCollection.from_yaml(HEADER + "detection:\n" + detection).rules[0]
    assert isinstance(rule, SigmaRule)
    (placeholder_pipeline(placeholders or {}) + matcher_pipeline()).apply(rule)
    ir = lower_rule(rule, "<test>")
    predicate = compile_node(ir.condition)
    return lambda event: predicate(Folded(event)), ir


def match(detection: str, event: dict[str, Any], **kw: Any) -> bool:
    return bool(compiled(detection, **kw)[0](event))


def sel(value_line: str) -> str:
    return f"  sel:\n    {value_line}\n  condition: sel\n"


# --- plain values, wildcards, escapes, case ------------------------------------------------------

@pytest.mark.parametrize(("rule", "value", "expected"), [
    ("F: abc", "abc", True),
    ("F: abc", "ABC", True),          # case-insensitive by default
    ("F: abc", "xabc", False),        # a plain value is the whole value
    ("F: 'a*c'", "abbbc", True),
    ("F: 'a*c'", "ac", True),
    ("F: 'a?c'", "abc", True),
    ("F: 'a?c'", "ac", False),
    ("F: 'a\\*c'", "a*c", True),      # escaped wildcard is a literal star
    ("F: 'a\\*c'", "abc", False),
    ("F: 'a\\?c'", "a?c", True),
    ("F: 'a\\?c'", "abc", False),
    ("F: 'C:\\Windows\\'", "c:\\windows\\", True),   # a backslash before a plain char is literal
    ("F: 'C:\\\\Windows'", "C:\\Windows", True),     # \\ is one backslash
    ("F: '*'", "anything", True),
    ("F: '*'", "", True),
    ("F: ''", "", True),              # empty value
    ("F: ''", "x", False),
    ("F: Nguyễn Văn An", "NGUYỄN VĂN AN", True),    # non-ASCII, case-insensitive
    ("F|contains: ễn v", "Nguyễn Văn", True),
    ("F|contains: STRASSE", "straße", True),         # casefold, not lower
    ("F: 'a*b*c'", "a-b-c", True),
    ("F: 'a*b*c'", "a-c-b", False),
    ("F: 'line1*line2'", "line1\nline2", True),     # * spans newlines
])
def test_plain_and_wildcards(rule: str, value: str, expected: bool) -> None:
    assert match(sel(rule), {"F": value}) is expected


def test_missing_field_never_matches_a_value() -> None:
    assert match(sel("F: ''"), {}) is False
    assert match(sel("F: '*'"), {}) is False


@pytest.mark.parametrize(("rule", "value", "expected"), [
    ("F|contains: mimi", "x MIMIKATZ y", True),
    ("F|contains: mimi", "mim", False),
    ("F|startswith: 'C:\\Win'", "c:\\windows\\x", True),
    ("F|startswith: 'C:\\Win'", "d:\\windows", False),
    ("F|endswith: '\\cmd.exe'", "C:\\Windows\\System32\\CMD.EXE", True),
    ("F|endswith: '\\cmd.exe'", "C:\\cmd.exe.bak", False),
    ("F|contains: 'a*b'", "xxaZZbyy", True),        # wildcard inside contains
    ("F|contains: 'a\\*b'", "xa*by", True),
    ("F|contains: 'a\\*b'", "xaZby", False),
    ("F|contains: ''", "", True),
])
def test_contains_startswith_endswith(rule: str, value: str, expected: bool) -> None:
    assert match(sel(rule), {"F": value}) is expected


def test_cased() -> None:
    assert match(sel("F|cased: Admin"), {"F": "Admin"})
    assert not match(sel("F|cased: Admin"), {"F": "admin"})
    assert match(sel("F|contains|cased: Nguyễn"), {"F": "ông Nguyễn"})
    assert not match(sel("F|contains|cased: Nguyễn"), {"F": "ông NGUYỄN"})
    assert match(sel("F|startswith|cased: 'A*'"), {"F": "Abc"})


# --- lists and |all ---------------------------------------------------------------------------

def test_list_is_or_and_all_is_and() -> None:
    rule_or = sel("F|contains: [alpha, beta]")
    assert match(rule_or, {"F": "x beta"})
    assert not match(rule_or, {"F": "gamma"})
    rule_all = sel("F|contains|all: [alpha, beta]")
    assert match(rule_all, {"F": "beta alpha"})
    assert not match(rule_all, {"F": "alpha"})


def test_map_is_and_and_list_of_maps_is_or() -> None:
    det = "  sel:\n    - A: 1\n      B: 2\n    - C: 3\n  condition: sel\n"
    assert match(det, {"A": 1, "B": 2})
    assert match(det, {"C": "3"})
    assert not match(det, {"A": 1})


def test_multi_valued_event_field_matches_any_element() -> None:
    assert match(sel("F: b"), {"F": ["a", "B"]})
    assert match(sel("F|endswith: '.exe'"), {"F": ["x.dll", "y.EXE"]})
    assert not match(sel("F: c"), {"F": ["a", "b"]})
    assert match(sel("F|contains|all: [a, b]"), {"F": ["xa", "yb"]})


# --- numbers, booleans, null, exists ---------------------------------------------------------

def test_numbers_match_numbers_and_numeric_strings() -> None:
    assert match(sel("EventID: 4624"), {"EventID": 4624})
    assert match(sel("EventID: 4624"), {"EventID": "4624"})
    assert match(sel("EventID: '4624'"), {"EventID": 4624})
    assert not match(sel("EventID: 4624"), {"EventID": 46240})
    assert match(sel("EventID: [1, 4688]"), {"EventID": "4688"})
    assert match(sel("F: 1.5"), {"F": 1.5})


def test_booleans() -> None:
    assert match(sel("F: true"), {"F": True})
    assert match(sel("F: true"), {"F": "True"})
    assert not match(sel("F: true"), {"F": False})


def test_null_is_missing_or_empty() -> None:
    assert match(sel("F: null"), {})
    assert match(sel("F: null"), {"F": None})
    assert match(sel("F: null"), {"F": ""})
    assert not match(sel("F: null"), {"F": "x"})
    det = "  sel:\n    A: 1\n  filter:\n    F: null\n  condition: sel and not filter\n"
    assert match(det, {"A": 1, "F": "x"})
    assert not match(det, {"A": 1})


def test_exists() -> None:
    assert match(sel("F|exists: true"), {"F": ""})
    assert not match(sel("F|exists: true"), {"G": "x"})
    assert match(sel("F|exists: false"), {"G": "x"})
    assert not match(sel("F|exists: false"), {"F": 0})


@pytest.mark.parametrize(("modifier", "value", "expected"), [
    ("lt", 5, True), ("lt", 10, False), ("lte", 10, True), ("gt", 11, True),
    ("gt", 10, False), ("gte", 10, True), ("gte", "10", True), ("lt", "abc", False),
    ("lt", "9.5", True),
])
def test_numeric_comparisons(modifier: str, value: Any, expected: bool) -> None:
    assert match(sel(f"F|{modifier}: 10"), {"F": value}) is expected


# --- regular expressions ---------------------------------------------------------------------

def test_re_is_searched_and_case_sensitive() -> None:
    assert match(sel("F|re: 'b+c'"), {"F": "abbbcd"})
    assert not match(sel("F|re: '^b'"), {"F": "abc"})
    assert not match(sel("F|re: 'ABC'"), {"F": "abc"})


def test_re_flags() -> None:
    assert match(sel("F|re|i: 'ABC'"), {"F": "xabcx"})
    assert match(sel("F|re|m: '^second$'"), {"F": "first\nsecond\nthird"})
    assert not match(sel("F|re: '^second$'"), {"F": "first\nsecond\nthird"})
    assert match(sel("F|re|s: 'a.b'"), {"F": "a\nb"})
    assert not match(sel("F|re: 'a.b'"), {"F": "a\nb"})
    assert match(sel("F|re|i|m|s: '^X.Y$'"), {"F": "q\nx\ny"})


def test_re_with_contains_modifiers() -> None:
    assert match(sel("F|re: '\\d{3}'"), {"F": "ab123"})
    assert match(sel("F|re: 'a\\*b'"), {"F": "a*b"})


# --- CIDR -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("network", "ip", "expected"), [
    ("10.0.0.0/8", "10.1.2.3", True),
    ("10.0.0.0/8", "11.1.2.3", False),
    ("192.168.1.0/25", "192.168.1.127", True),
    ("192.168.1.0/25", "192.168.1.128", False),
    ("2001:db8::/32", "2001:db8:1::5", True),
    ("2001:db8::/32", "2001:db9::1", False),
    ("2001:DB8::/32", "2001:0DB8:0000::1", True),     # IPv6 spelled differently
    ("fe80::/10", "fe80::1%eth0", True),              # a zone index does not matter
    ("::1/128", "::1", True),
    ("10.0.0.0/8", "not an ip", False),
])
def test_cidr(network: str, ip: str, expected: bool) -> None:
    assert match(sel(f"IP|cidr: '{network}'"), {"IP": ip}) is expected


def test_cidr_list() -> None:
    det = sel("IP|cidr: ['10.0.0.0/8', 'fc00::/7']")
    assert match(det, {"IP": "fd00::1"})
    assert match(det, {"IP": "10.9.9.9"})
    assert not match(det, {"IP": "8.8.8.8"})


# --- encodings --------------------------------------------------------------------------------

def test_base64() -> None:
    assert match(sel("F|base64: 'abc'"), {"F": "YWJj"})
    assert not match(sel("F|base64: 'abc'"), {"F": "abc"})
    assert match(sel("F|base64|contains: 'abc'"), {"F": "xx YWJj yy"})


@pytest.mark.parametrize("prefix", ["", "x", "xy"])
def test_base64offset_finds_the_text_at_every_offset(prefix: str) -> None:
    encoded = base64.b64encode((prefix + "http://evil").encode()).decode()
    assert match(sel("F|base64offset|contains: 'http://'"), {"F": encoded})


def test_base64offset_spec_values() -> None:
    # the Sigma specification's example: /bin/bash at the three offsets
    for v in ("L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"):
        assert match(sel("F|base64offset|contains: '/bin/bash'"), {"F": f"..{v}.."})


@pytest.mark.parametrize(("modifier", "codec", "bom"), [
    ("wide", "utf-16le", b""), ("utf16be", "utf-16be", b""),
    # pySigma 1.5 writes the BOM of |utf16 as U+FEFF in UTF-8 (EF BB BF), not FF FE; the matcher
    # compiles what pySigma produces, so the rule matches what every pySigma backend would
    ("utf16", "utf-16le", b"\xef\xbb\xbf"),
])
def test_utf16_variants_with_base64(modifier: str, codec: str, bom: bytes) -> None:
    raw = bom + "ping".encode(codec)
    encoded = base64.b64encode(raw).decode()
    assert match(sel(f"F|{modifier}|base64offset|contains: 'ping'"), {"F": encoded})
    plain = base64.b64encode(b"ping").decode()
    assert not match(sel(f"F|{modifier}|base64offset|contains: 'ping'"), {"F": plain})


def test_utf16le_is_not_a_pysigma_1_5_modifier() -> None:
    with pytest.raises(SigmaError):
        SigmaCollection.from_yaml(HEADER + "detection:\n" + sel("F|utf16le: x")).rules[0]


@pytest.mark.parametrize("dash", ["-", "/", "\u2013", "\u2014", "\u2015"])
def test_windash(dash: str) -> None:
    assert match(sel("F|windash|contains: ' -enc '"), {"F": f"powershell {dash}enc AAA"})


def test_windash_only_at_word_start() -> None:
    det = sel("F|windash|contains: ' -foo-bar'")
    assert match(det, {"F": "x /foo-bar"})
    assert not match(det, {"F": "x /foo/bar"})


# --- keywords --------------------------------------------------------------------------------

def test_keywords_search_every_value() -> None:
    det = "  keywords:\n    - 'event::clear'\n    - 'event::drop'\n  condition: keywords\n"
    assert match(det, {"message": "mimikatz EVENT::DROP", "n": 1})
    assert match(det, {"a": ["x", "event::clear"]})
    assert not match(det, {"message": "event::other"})


def test_keywords_all() -> None:
    det = ("  keywords:\n    '|all':\n      - 'OabVirtualDirectory'\n      - ' -ExternalUrl '\n"
           "  condition: keywords\n")
    assert match(det, {"a": "Set-OabVirtualDirectory", "b": "x -ExternalUrl y"})
    assert not match(det, {"a": "Set-OabVirtualDirectory"})


def test_keyword_with_wildcard() -> None:
    det = "  keywords:\n    - 'error*buffer'\n  condition: keywords\n"
    assert match(det, {"m": "sshd: ERROR: in buffer_get"})


# --- fieldref, expand, neq, timestamp parts -------------------------------------------------

def test_fieldref() -> None:
    assert match(sel("A|fieldref: B"), {"A": "Bob", "B": "bob"})
    assert not match(sel("A|fieldref: B"), {"A": "bob", "B": "alice"})
    assert not match(sel("A|fieldref: B"), {"A": "bob"})
    assert match(sel("A|fieldref|contains: B"), {"A": "x-bob-y", "B": "bob"})
    assert match(sel("A|fieldref|startswith: B"), {"A": "bob-y", "B": "bob"})
    assert not match(sel("A|fieldref|startswith: B"), {"A": "x-bob", "B": "bob"})
    assert match(sel("A|fieldref|endswith: B"), {"A": "x-bob", "B": "bob"})



WINDOWS_FIELDREF = """\
title: Explicit credentials of another user
id: 11111111-1111-1111-1111-111111114648
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4648
  filter_same_user:
    SubjectUserName|fieldref: TargetUserName
  condition: selection and not filter_same_user
"""


def explicit_logon(subject: str, target: str, **more: str) -> dict[str, Any]:
    """A 4648 built by the Windows parser from Winlogbeat's shape."""
    from collectors.parsers.winlog import winlog_event

    return winlog_event({"@timestamp": "2026-11-24T08:00:00.000Z", "winlog": {
        "channel": "Security", "event_id": 4648, "computer_name": "ws01",
        "provider_name": "Microsoft-Windows-Security-Auditing", "event_data": {
            "SubjectUserName": subject, "SubjectDomainName": "SO-A", "SubjectLogonId": "0x3e7",
            "TargetUserName": target, "TargetDomainName": "SO-A", "IpAddress": "::1", **more}}})


def windows_rule(text: str) -> Any:
    """A Windows rule through the matcher's whole pipeline (ecs_windows included)."""
    from soc.detection.pipelines import build_pipeline

    rule = SigmaCollection.from_yaml(text).rules[0]
    assert isinstance(rule, SigmaRule)
    build_pipeline().apply(rule)
    ir = lower_rule(rule, "<test>")
    predicate = compile_node(ir.condition)
    return lambda event: predicate(Folded(event)), ir


def test_windows_fieldref_compares_the_two_event_data_fields() -> None:
    matches, ir = windows_rule(WINDOWS_FIELDREF)
    assert ("not", ("leaf", "winlog.event_data.SubjectUserName", (
        "fieldref", "winlog.event_data.TargetUserName", False, False))) in ir.condition[1]
    same, other = explicit_logon("an", "AN"), explicit_logon("an", "administrator")
    assert same["user.name"] == "an"  # the parser's user.name is the subject
    assert not matches(same)  # the same user (case-insensitive): filtered out
    assert matches(other)
    # the target's name in user.name (Winlogbeat fills it so on 4624) changes nothing
    assert not matches({**same, "user.name": "administrator"})
    assert matches({**other, "user.name": "administrator"})
    # the two domains are one list under user.domain: a reference compares the fields
    domains, _ = windows_rule(WINDOWS_FIELDREF.replace(
        "SubjectUserName|fieldref: TargetUserName", "SubjectDomainName|fieldref: TargetDomainName"))
    assert not domains(explicit_logon("an", "bo"))
    assert domains(explicit_logon("an", "bo", TargetDomainName="SO-B"))


def test_windows_fieldref_keeps_single_valued_ecs_fields() -> None:
    """``Image``/``ParentImage`` are ``process.*`` on Sysmon 1 and Security 4688 alike."""
    text = WINDOWS_FIELDREF.replace("service: security", "category: process_creation").replace(
        "EventID: 4648", "CommandLine|contains: x").replace(
        "SubjectUserName|fieldref: TargetUserName", "Image|fieldref: ParentImage")
    _, ir = windows_rule(text)
    assert ("not", ("leaf", "process.executable", (
        "fieldref", "process.parent.executable", False, False))) in ir.condition[1]

def test_expand_placeholders_from_config() -> None:
    det = sel("Host|expand: '%Servers%'")
    assert match(det, {"Host": "SRV01"}, placeholders={"Servers": ["srv*", "dc01"]})
    assert match(det, {"Host": "dc01"}, placeholders={"Servers": ["srv*", "dc01"]})
    assert not match(det, {"Host": "pc01"}, placeholders={"Servers": ["srv*", "dc01"]})


def test_expand_without_value_is_an_error() -> None:
    with pytest.raises(SigmaError, match="Servers"):
        compiled(sel("Host|expand: '%Servers%'"))


def test_unexpanded_percent_is_literal() -> None:
    assert match(sel("F: '%Servers%'"), {"F": "%servers%"})


def test_unresolved_placeholder_is_a_lowering_error() -> None:
    rule = SigmaCollection.from_yaml(HEADER + "detection:\n" + sel("F|expand: '%X%'")).rules[0]
    assert isinstance(rule, SigmaRule)
    with pytest.raises(LoweringError, match=r"rules\.placeholders\.X"):
        lower_rule(rule, "<test>")


def test_neq() -> None:
    assert match(sel("F|neq: a"), {"F": "b"})
    assert not match(sel("F|neq: a"), {"F": "A"})


def test_timestamp_parts() -> None:
    assert match(sel("'@timestamp|hour': 3"), {"@timestamp": "2026-01-02T03:04:05.000Z"})
    assert not match(sel("'@timestamp|hour': 4"), {"@timestamp": "2026-01-02T03:04:05.000Z"})
    assert match(sel("'@timestamp|month': 1"), {"@timestamp": "2026-01-02T03:04:05.000Z"})


# --- conditions --------------------------------------------------------------------------------

DETS = ("  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  filter_x:\n    X: 1\n  _hidden:\n    H: 1\n"
        "  condition: {}\n")


@pytest.mark.parametrize(("condition", "event", "expected"), [
    ("sel_a and sel_b", {"A": 1, "B": 1}, True),
    ("sel_a and sel_b", {"A": 1}, False),
    ("sel_a or sel_b", {"B": 1}, True),
    ("not sel_a", {"B": 1}, True),
    ("not sel_a", {"A": 1}, False),
    ("sel_a and not filter_x", {"A": 1, "X": 1}, False),
    ("(sel_a or sel_b) and not filter_x", {"B": 1}, True),
    ("sel_a or sel_b and filter_x", {"A": 1}, True),          # and binds tighter than or
    ("(sel_a or sel_b) and filter_x", {"A": 1}, False),
    ("not sel_a and sel_b", {"B": 1}, True),                   # not binds tighter than and
    ("not (sel_a and sel_b)", {"A": 1, "B": 1}, False),
    ("1 of sel_*", {"B": 1}, True),
    ("any of sel_*", {"B": 1}, True),
    ("all of sel_*", {"B": 1}, False),
    ("all of sel_*", {"A": 1, "B": 1}, True),
    ("1 of sel_* and not 1 of filter_*", {"A": 1, "X": 1}, False),
    ("1 of them", {"X": 1}, True),
    ("1 of them", {"H": 1}, False),                            # _hidden is not in "them"
    ("all of them", {"A": 1, "B": 1, "X": 1}, True),
    ("all of them", {"A": 1, "B": 1}, False),
    ("sel_a and _hidden", {"A": 1, "H": 1}, True),
    ("1 of sel*", {"A": 1}, True),
])
def test_condition_grammar(condition: str, event: dict[str, Any], expected: bool) -> None:
    assert match(DETS.format(condition), event) is expected


def test_condition_list_is_or() -> None:
    det = "  a:\n    A: 1\n  b:\n    B: 1\n  condition:\n    - a\n    - b\n"
    assert match(det, {"B": 1})
    assert not match(det, {"C": 1})


def test_matched_fields() -> None:
    pred, ir = compiled("  sel:\n    A|contains: x\n    B: 2\n  f:\n    C: 3\n"
                        "  condition: sel and not f\n")
    event = {"A": "axe", "B": 2, "D": 4}
    assert pred(event)
    assert matched_fields(ir.condition, Folded(event)) == {"A": "axe", "B": 2}


# --- glob regexes: unanchored ends are searched, with the same answers -----------------------

def test_glob_matcher_agrees_with_fullmatch() -> None:
    """A glob's leading/trailing ``*`` is searched rather than backtracked: same answers."""
    rng = random.Random(3)
    stars = {SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE}
    for _ in range(2000):
        parts: list[Any] = [rng.choice(["a", "b.", "\\", "*x", rng.choice(list(stars))])
                            for _ in range(rng.randint(1, 5))]
        source = glob_regex(parts, str.casefold)
        check = glob_matcher(source)
        for _ in range(10):
            text = "".join(rng.choice("ab.\\*x\n") for _ in range(rng.randint(0, 8)))
            assert check(text) is (re.fullmatch(source, text, re.DOTALL) is not None), \
                (source, text)


@pytest.mark.parametrize(("rule", "value", "expected"), [
    ("F|contains: 'a*b'", "a\nb", True),
    ("F|startswith: 'a*b'", "a-b-c", True),
    ("F|startswith: 'a*b'", "xa-b", False),
    ("F|endswith: 'a*b'", "x-a-b", True),
    ("F|endswith: 'a*b'", "a-b-x", False),
    ("F|endswith: 'a?b'", "xxa\nb", True),
    ("F: '*a*b?'", "zzazbq", True),
    ("F: '*a*b?'", "zzazb", False),
])
def test_glob_ends(rule: str, value: str, expected: bool) -> None:
    assert match(sel(rule), {"F": value}) is expected


def test_many_contains_literals_use_one_automaton() -> None:
    words = ["mimikatz", "sekurlsa::", "Nguyễn", "STRASSE", "a\\b", "x*y", "dpapi", "kiwi",
             "lsadump", "token::elevate"]
    rule = sel("F|contains: [" + ", ".join(f"'{w}'" for w in words) + "]")
    assert match(rule, {"F": "run SEKURLSA::logonpasswords"})
    assert match(rule, {"F": "ông nguyễn văn"})
    assert match(rule, {"F": "straße"})                 # casefold on both sides
    assert match(rule, {"F": "xa\\by"})
    assert match(rule, {"F": "x-anything-y"})          # the glob becomes a regex of its own
    assert match(rule, {"F": ["nope", "KIWI"]})
    assert not match(rule, {"F": "mimikat tokens::elevate"})
    assert not match(rule, {"F": ""})


def test_joined_text_holds_every_value_casefolded() -> None:
    """The prefilter searches keyword literals in one text: every value's text is in it."""
    class Name(str):
        pass

    event: dict[str, Any] = {"a": "Straße", "b": 4624, "c": 1e16, "d": 2.5, "e": True, "f": None,
                             "g": ["X", 7, ["Y", False]], "h": {"k": "v"}, "i": Name("Sub"),
                             "j": ("T", None)}
    text = joined_text(event)
    assert all(t.casefold() in text.split(SEP) for t in all_texts(event))
    assert sorted(text.split(SEP)) == sorted(t.casefold() for t in all_texts(event))
