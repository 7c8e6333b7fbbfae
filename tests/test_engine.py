"""The engine: routing by log source, prefilter correctness, the rule cache, hits, errors."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from soc.detection.engine import Engine
from soc.detection.prefilter import NaiveMatcher, Prefilter, make_matcher
from soc.detection.routing import anchor_groups, regex_literal
from soc.detection.values import Folded
from soc.models import Severity

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def write_rule(directory: Path, name: str, rule_id: str, logsource: str, detection: str,
               level: str = "high") -> Path:
    path = directory / f"{name}.yml"
    path.write_text(
        f"title: {name}\nid: {rule_id}\nstatus: test\nlevel: {level}\n"
        f"tags: [attack.execution, attack.t1059]\nlogsource:\n{logsource}detection:\n{detection}",
        encoding="utf-8")
    return path


def uid(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


SECURITY_4688 = "  product: windows\n  service: security\n"
PROC = "  product: windows\n  category: process_creation\n"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    write_rule(d, "security_eventid_1", uid(1), SECURITY_4688,
               "  sel:\n    EventID: 1\n  condition: sel\n")
    write_rule(d, "security_4688_whoami", uid(2), SECURITY_4688,
               "  sel:\n    EventID: 4688\n    NewProcessName|endswith: '\\whoami.exe'\n"
               "  condition: sel\n")
    write_rule(d, "proc_whoami", uid(3), PROC,
               "  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n", level="medium")
    write_rule(d, "sysmon_only", uid(4), "  product: windows\n  service: sysmon\n",
               "  sel:\n    EventID: 1\n  condition: sel\n", level="low")
    write_rule(d, "web_sqli", uid(5), "  category: webserver\n",
               "  sel:\n    cs-uri-query|contains: 'union select'\n    sc-status: 200\n"
               "  condition: sel\n")
    write_rule(d, "aws_thing", uid(6), "  product: acme-appliance\n  service: audit\n",
               "  sel:\n    eventName: x\n  condition: sel\n")
    (d / "broken.yml").write_text("title: broken\nlogsource: {product: windows}\n"
                                  "detection:\n  sel:\n    A|nosuchmodifier: x\n"
                                  "  condition: sel\n", encoding="utf-8")
    return d


def sysmon_1(**fields: Any) -> dict[str, Any]:
    return {"winlog.channel": SYSMON, "event.code": "1", "winlog.event_id": 1, **fields}


def security(code: str, **fields: Any) -> dict[str, Any]:
    return {"winlog.channel": "Security", "event.code": code, **fields}


def ids(engine: Engine, event: dict[str, Any]) -> list[str]:
    return sorted(h.rule_id for h in engine.match(event))


def test_security_rule_never_fires_on_sysmon_with_the_same_event_id(
        rules: Path, tmp_path: Path) -> None:
    engine = Engine.from_paths([rules], cache_dir=tmp_path / "cache")
    assert ids(engine, sysmon_1()) == [uid(4)]
    assert ids(engine, security("1")) == [uid(1)]


def test_category_routes_to_sysmon_1_and_security_4688(rules: Path, tmp_path: Path) -> None:
    engine = Engine.from_paths([rules], cache_dir=tmp_path / "cache")
    exe = "C:\\Windows\\System32\\whoami.exe"
    assert ids(engine, sysmon_1(**{"process.executable": exe})) == [uid(3), uid(4)]
    assert ids(engine, security("4688", **{"process.executable": exe})) == [uid(2), uid(3)]
    # the same fields under another channel or event id meet no process_creation rule
    assert ids(engine, security("4689", **{"process.executable": exe})) == []
    assert ids(engine, {"winlog.channel": SYSMON, "event.code": "11",
                        "process.executable": exe}) == []


def test_routing_by_the_events_own_values_is_exact(rules: Path, tmp_path: Path) -> None:
    """Buckets are also looked up by the event's raw values: 1 == True there, not in Sigma."""
    engine = Engine.from_paths([rules], cache_dir=tmp_path / "cache")
    for _ in range(2):  # the second time through the raw-value lookup
        assert ids(engine, security("1")) == [uid(1)]
        assert ids(engine, {"winlog.channel": "SECURITY", "event.code": 1}) == [uid(1)]
        assert ids(engine, {"winlog.channel": "Security", "event.code": True}) == []
        engine.match({"winlog.channel": ["Security"], "event.code": "1"})  # unhashable: no error
        assert ids(engine, {"winlog.channel": "Security", "event.code": 1.0}) == [uid(1)]


def test_non_windows_rules_route_by_dataset(rules: Path, tmp_path: Path) -> None:
    engine = Engine.from_paths([rules], cache_dir=tmp_path / "cache")
    ev = {"event.dataset": "apache.access", "url.query": "id=1 UNION SELECT pass",
          "http.response.status_code": 200}
    assert ids(engine, ev) == [uid(5)]
    assert ids(engine, {**ev, "event.dataset": "linux.auth"}) == []
    assert ids(engine, {**ev, "http.response.status_code": 404}) == []


def test_errors_list_every_unusable_rule_with_a_reason(rules: Path, tmp_path: Path) -> None:
    engine = Engine.from_paths([rules], cache_dir=tmp_path / "cache")
    by_file = {Path(i.path).name: i for i in engine.errors}
    assert set(by_file) == {"broken.yml", "aws_thing.yml"}
    assert by_file["broken.yml"].stage == "load"
    assert "nosuchmodifier" in by_file["broken.yml"].reason
    assert by_file["aws_thing.yml"].stage == "logsource"
    assert by_file["aws_thing.yml"].rule_id == uid(6)
    assert by_file["aws_thing.yml"].reason == (
        "no pipeline maps the log source (product=acme-appliance, service=audit)")
    assert by_file["aws_thing.yml"].to_dict()["file"].endswith("aws_thing.yml")


def test_hit_carries_rule_event_and_matched_fields(rules: Path, tmp_path: Path) -> None:
    engine = Engine.from_paths([rules], cache_dir=tmp_path / "cache")
    event = sysmon_1(**{"process.executable": "C:\\x\\WHOAMI.EXE", "user.name": "bob"})
    hit = engine.match(event)[0]
    assert hit.rule_id == uid(3)
    assert hit.title == "proc_whoami"
    assert hit.level is Severity.MEDIUM
    assert hit.attack_tags == ("attack.execution", "attack.t1059")
    assert hit.event is event
    assert hit.fields == {"process.executable": "C:\\x\\WHOAMI.EXE", "winlog.channel": SYSMON,
                          "event.code": "1"}


def test_placeholders_from_config(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    write_rule(d, "admins", uid(7), SECURITY_4688,
               "  sel:\n    EventID: 4624\n    TargetUserName|expand: '%Admins%'\n"
               "  condition: sel\n")
    engine = Engine.from_paths([d], placeholders={"Admins": ["adm-*", "root"]},
                               cache_dir=tmp_path / "c")
    assert ids(engine, security("4624", **{"winlog.event_data.TargetUserName": "ADM-nam"})) == \
        [uid(7)]
    assert ids(engine, security("4624", **{"winlog.event_data.TargetUserName": "nam"})) == []
    missing = Engine.from_paths([d], cache_dir=tmp_path / "c2")
    assert [i.stage for i in missing.errors] == ["pipeline"]
    assert "rules.placeholders.Admins" in missing.errors[0].reason


# --- cache --------------------------------------------------------------------------------------

def test_cache_miss_then_hit_then_miss_on_change(rules: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    first = Engine.from_paths([rules], cache_dir=cache_dir)
    assert first.stats.cached is False
    second = Engine.from_paths([rules], cache_dir=cache_dir)
    assert second.stats.cached is True
    assert [r.ir for r in second.rules] == [r.ir for r in first.rules]
    assert second.errors == first.errors
    assert ids(second, sysmon_1()) == [uid(4)]
    # a changed rule file: rebuilt, and the change is seen
    write_rule(rules, "sysmon_only", uid(4), "  product: windows\n  service: sysmon\n",
               "  sel:\n    EventID: 3\n  condition: sel\n", level="low")
    third = Engine.from_paths([rules], cache_dir=cache_dir)
    assert third.stats.cached is False
    assert ids(third, sysmon_1()) == []
    assert len(list(cache_dir.glob("rules-*.pickle"))) == 1
    # different placeholders are a different key
    fourth = Engine.from_paths([rules], cache_dir=cache_dir, placeholders={"X": ["1"]})
    assert fourth.stats.cached is False


def test_unreadable_cache_is_rebuilt(rules: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    Engine.from_paths([rules], cache_dir=cache_dir)
    for f in cache_dir.glob("rules-*.pickle"):
        f.write_bytes(b"not a pickle")
    again = Engine.from_paths([rules], cache_dir=cache_dir)
    assert again.stats.cached is False
    assert ids(again, sysmon_1()) == [uid(4)]


def test_no_cache(rules: Path, tmp_path: Path) -> None:
    engine = Engine.from_paths([rules], use_cache=False)
    assert engine.stats.cache_file is None
    assert ids(engine, sysmon_1()) == [uid(4)]


# --- prefilter correctness ----------------------------------------------------------------------

def _random_text(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


MATCHERS = pytest.mark.parametrize("make", [make_matcher, NaiveMatcher],
                                   ids=["automaton", "naive"])


@MATCHERS
def test_prefilter_never_drops_a_rule_that_matches(
        tmp_path: Path, make: Callable[[tuple[str, ...]], Any]) -> None:
    """Random rules and events: every rule the full evaluation matches is a candidate."""
    rng = random.Random(7)
    alphabet = "abik\\ -./:é" + string.digits[:3] + "\U0001f600"
    # the prefilter's sentinels, and characters whose casefold differs from what |re|i matches
    event_alphabet = alphabet + "\x02\x03İıK"
    kinds = ["", "|contains", "|startswith", "|endswith", "|contains|all", "|re", "|re|i"]
    d = tmp_path / "r"
    d.mkdir()
    for n in range(160):
        sel = []
        for field in rng.sample(["CommandLine", "Image", "ParentImage"], rng.randint(1, 2)):
            kind = rng.choice(kinds)
            make_value = _random_regex if kind.startswith("|re") else _random_value
            values = [make_value(rng, alphabet) for _ in range(rng.randint(1, 3))]
            quoted = ", ".join(_quoted(v) for v in values)
            sel.append(f"    {field}{kind}: [{quoted}]")
        keywords = "  keywords:\n    - " + _quoted(_random_text(rng, alphabet, 3)) + "\n"
        det = "  sel:\n" + "\n".join(sel) + "\n  filter:\n    User: x\n" + keywords + \
            "  condition: " + rng.choice(["sel", "sel and not filter", "sel or filter",
                                          "keywords", "keywords and sel"]) + "\n"
        write_rule(d, f"r{n}", uid(100 + n), PROC, det)
    engine = Engine.from_paths([d], use_cache=False)
    assert engine.errors == []
    compiled = engine._rules  # the rules in engine order, with their predicates
    prefilter = Prefilter(
        ((i, anchor_groups(r.prepared.ir.condition)) for i, r in enumerate(compiled)), make)
    matched = 0
    for _ in range(3000):
        ev = sysmon_1(**{
            "process.command_line": _random_text(rng, event_alphabet, rng.randint(0, 30)),
            "process.executable": _random_text(rng, event_alphabet, rng.randint(0, 12)),
            "process.parent.executable": [_random_text(rng, event_alphabet, 4), "a"],
            "user.name": rng.choice(["x", "y"]),
            "event.original": rng.choice([None, 7, _random_text(rng, event_alphabet, 20)])})
        f = Folded(ev)
        truth = {i for i, r in enumerate(compiled) if r.predicate(f)}
        assert truth <= prefilter.candidates(f)
        assert sorted(h.rule_id for h in engine.match(ev)) == \
            sorted(compiled[i].prepared.ir.id for i in truth)
        matched += len(truth)
    assert matched > 100  # the random rules do match, so the check means something


def _random_value(rng: random.Random, alphabet: str) -> str:
    return _random_text(rng, alphabet, rng.randint(1, 6)).replace("\\", "\\\\")


def _random_regex(rng: random.Random, alphabet: str) -> str:
    pieces = [_random_text(rng, alphabet, rng.randint(1, 3)) for _ in range(3)]
    forms = ["{}", "{}", ".", ".*", "(?:{})+", "(?:{})?", "[ab]", "(?i:{})", "(?-i:{})", "{}|{}"]
    regex = "".join(rng.choice(forms).format(re.escape(p), re.escape(p[::-1])) for p in pieces)
    return rng.choice(["", "(?i)", "^"]) + regex


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@MATCHERS
def test_prefilter_anchor_kinds(make: Callable[[tuple[str, ...]], Any]) -> None:
    """Each anchor kind finds exactly what it says; sentinels in values only add candidates."""
    prefilter = Prefilter([
        (10, ([("eq", "f", "cmd.exe")],)), (11, ([("prefix", "f", "c:\\")],)),
        (12, ([("suffix", "f", "\\cmd.exe")],)), (13, ([("contains", "f", "md.e")],)),
        (14, ([("contains", None, "ové")],)), (15, ()), (16, ([],)),
        (17, ([("prefix", "f", "x"), ("eq", "g", "1")],)),
        (18, ([("eq", "g", "1")], [("contains", "f", "cmd")]))], make)

    def cands(event: dict[str, Any]) -> set[int]:
        return prefilter.candidates(Folded(event)) - {15}

    assert prefilter.candidates(Folded({})) == {15}
    assert cands({"f": "CMD.EXE"}) == {10, 13}
    assert cands({"f": "C:\\Windows\\cmd.exe"}) == {11, 12, 13}
    assert cands({"f": "xcmd.exe"}) == {13, 17}
    assert cands({"g": 1}) == {17}
    assert cands({"g": 1, "f": "cmd"}) == {17, 18}  # 18: both groups hold
    assert cands({"g": 2, "f": "cmd"}) == set()  # 18: only one group holds
    assert cands({"f": ["a", "X"]}) == {17}
    assert cands({"h": "PROVÉ 😀", "f": 3}) == {14}
    assert cands({"f": "a\x02c:\\cmd.exe\x03b"}) >= {13}
    assert cands({"f": "ab"}) == set()


# --- regex literals ------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "flags", "literal"), [
    (r"ipconfig\s+/all", 0, "ipconfig"),
    (r"(?i)\.exe[\"']?\s+[^\"]{0,64}werfaultsecure\.exe", 0, "werfaultsecure.exe"),
    (r'"(?:\{\d\})+"\s*-f', 0, "-f"),
    (r"(?:\{\d\})+", 0, "{"),            # a repeat taken at least once is required
    (r"(?:abcdef)?x", 0, "x"),           # an optional one is not
    (r"(abc){0,2}", 0, ""),
    (r"abc|defgh", 0, ""),               # nor is one branch of several
    (r"(?=abcdef)x", 0, "x"),
    ("ipconfig", re.IGNORECASE, "pconf"),  # no i under IGNORECASE: it matches İ and ı
    ("Ärger", re.IGNORECASE, "rger"),     # no non-ASCII under IGNORECASE
    ("Ärger", 0, "Ärger"),
    ("(?-i:Abc)", re.IGNORECASE, "Abc"),
    ("(?i:Xyz)ab", 0, "Xyz"),
    ("(?x) a b c", 0, "abc"),
    ("[", 0, ""),                        # not a regex: no anchor (the compiler reports it)
])
def test_regex_literal(pattern: str, flags: int, literal: str) -> None:
    assert regex_literal(pattern, flags) == literal
    if literal:
        text = "zz" + literal.upper() + "zz"
        assert re.search(pattern, text, flags | re.IGNORECASE) is None or \
            literal.casefold() in text.casefold()


def test_ignorecase_ascii_matches_only_characters_with_the_same_casefold() -> None:
    """What :func:`regex_literal` relies on: under IGNORECASE an ASCII character other than i
    matches only characters whose casefold is its own, over all of Unicode."""
    ascii_class = re.compile("[" + re.escape("".join(map(chr, range(128)))) + "]", re.IGNORECASE)
    for code in range(128, 0x110000):
        x = chr(code)
        if 0xD800 <= code < 0xE000 or not ascii_class.fullmatch(x):
            continue
        for c in map(chr, range(128)):
            if c not in "iI" and re.fullmatch(re.escape(c), x, re.IGNORECASE):
                assert x.casefold() == c.casefold(), (x, c)


def test_regex_rules_are_prefiltered_soundly(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    write_rule(d, "re_i", uid(20), PROC, "  sel:\n    CommandLine|re: '(?i)mimikatz'\n"
               "  condition: sel\n")
    write_rule(d, "re_cased", uid(21), PROC, "  sel:\n    CommandLine|re: 'Ärger\\s+/all'\n"
               "  condition: sel\n")
    engine = Engine.from_paths([d], use_cache=False)
    assert sorted(a for r in engine.rules for g in r.groups for a in g) == [
        ("contains", "process.command_line", "katz"),  # no i under |i: it matches İ and ı
        ("contains", "process.command_line", "ärger")]
    for text, expected in [("x MİMİKATZ y", [uid(20)]), ("MıMıKATZ", [uid(20)]),
                           ("Ärger   /all", [uid(21)]), ("ärger /all", [])]:
        assert ids(engine, sysmon_1(**{"process.command_line": text})) == expected


class _Planted:
    """What an attacker writes into the cache: unpickling it runs os.mkdir(marker)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.mkdir, (str(self.marker),)


def test_a_planted_pickle_in_the_cache_never_runs(rules: Path, tmp_path: Path) -> None:
    import pickle

    from soc.detection import cache

    cache_dir = tmp_path / "cache"
    first = Engine.from_paths([rules], cache_dir=cache_dir)
    target = Path(str(first.stats.cache_file))
    marker = tmp_path / "pwned"
    # a bare pickle, and one behind the right magic with a signature made with another key
    for blob in (pickle.dumps(_Planted(marker)),
                 cache.MAGIC + bytes(32) + pickle.dumps(_Planted(marker))):
        target.write_bytes(blob)
        again = Engine.from_paths([rules], cache_dir=cache_dir)
        assert not marker.exists()
        assert again.stats.cached is False and ids(again, sysmon_1()) == ids(first, sysmon_1())
    assert Engine.from_paths([rules], cache_dir=cache_dir).stats.cached is True  # rewritten
    assert (cache_dir / cache.KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_no_cache_in_a_directory_others_can_write(rules: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "shared-cache"
    cache_dir.mkdir()
    cache_dir.chmod(0o777)
    Engine.from_paths([rules], cache_dir=cache_dir)
    assert Engine.from_paths([rules], cache_dir=cache_dir).stats.cached is False
    assert list(cache_dir.iterdir()) == []
    cache_dir.chmod(0o700)
    Engine.from_paths([rules], cache_dir=cache_dir)
    assert Engine.from_paths([rules], cache_dir=cache_dir).stats.cached is True
