"""Anchors that keep rules off the events they cannot match: the branches of a regex's required
alternation, and ``present`` for the tests that need a value (comparisons, CIDR, exists).

On access logs these were the two most evaluated web rules: the webshell rule's command regex
(anchored on ``=``, so every request with a query was a candidate) and the attack-signal rule
(``web.attack.score|gte: 1``, no anchor: a candidate for every request, though a quiet request
has no ``web.*`` field). The prefilter must never drop a rule that matches: the random checks
below, and ``tests/test_engine.py``'s, compare it with the full evaluation.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.parsers.web import ApacheAccessParser
from soc.detection.engine import Engine
from soc.detection.prefilter import Prefilter, iter_bits
from soc.detection.routing import anchor_groups, regex_literal, regex_literals
from soc.detection.stage import load_detector, project_rules_dir
from soc.detection.values import Folded
from soc.pipeline.sources import ParseContext
from tests.test_engine import write_rule

WEBSHELL = "c9f9ecb3-b8e5-4b92-872e-bd53b1f2bc35"
ATTACK_SIGNAL = "69f000b2-0b57-40ad-bebf-ad693d73ee21"
WEB = "  category: webserver\n"
CTX = ParseContext(tz=UTC, now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC), source="portal")


@pytest.mark.parametrize(("pattern", "flags", "literals"), [
    # the commands select more than the "=" every match has
    (r"(?:cmd|c)=[^&]*(?:whoami|uname|cmd\.exe)", re.IGNORECASE, ("whoam", "uname", "cmd.exe")),
    (r"x(?:ab|cd)+y", 0, ("ab", "cd")),                  # a repeat taken at least once
    (r"xyz(?:ab|cd)?", 0, ("xyz",)),                     # an optional one is not required
    (r"(?:ab|cd|)z", 0, ("z",)),                         # an empty branch has no literal
    (r"(?:^|&)q", 0, ("q",)),                            # nor has an anchor-only branch
    (r"(?i)(?:ping|trace)route", 0, ("route",)),        # the longest run still wins
    (r"(?i:abcd|efgh)", 0, ("abcd", "efgh")),
    (r"(?:web\.config|\.env)", re.IGNORECASE, ("web.conf", ".env")),  # no i under IGNORECASE
    ("[", 0, ()),
])
def test_regex_literals(pattern: str, flags: int, literals: tuple[str, ...]) -> None:
    assert regex_literals(pattern, flags) == literals


def test_a_match_always_holds_one_of_the_literals() -> None:
    """Random alternations and texts: whenever the regex matches, the casefolded text holds the
    casefold of one of the literals (what the prefilter checks)."""
    rng = random.Random(17)
    alphabet = "abciIkK-=&/.İı"

    def word() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))

    checked = 0
    for _ in range(600):
        alts = "|".join(re.escape(word()) for _ in range(rng.randint(2, 4)))
        pattern = rng.choice(["", "(?i)", "^"]) + re.escape(word()) + rng.choice(
            ["(?:{})", "(?:{})+", "(?:{})?", "(?:{}){{2}}", "(?i:{})", "({})"]).format(alts) + \
            re.escape(word())
        literals = regex_literals(pattern, 0)
        assert literals or not regex_literal(pattern, 0)
        for _ in range(30):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            if re.search(pattern, text) is not None and literals:
                checked += 1
                assert any(lit.casefold() in text.casefold() for lit in literals), (pattern, text)
    assert checked > 200


def test_tests_that_need_a_value_are_anchored_on_its_presence() -> None:
    leaf = ("leaf", "web.attack.score", ("cmp", "gte", 1))
    assert anchor_groups(("and", (leaf, ("not", ("leaf", "web.attack.strong", ("eq", "true",
                                                                               False)))))) == \
        ([("present", "web.attack.score", "")],)
    assert anchor_groups(("leaf", "source.ip", ("cidr", "10.0.0.0/8"))) == \
        ([("present", "source.ip", "")],)
    assert anchor_groups(("leaf", "user.name", ("exists", True))) == \
        ([("present", "user.name", "")],)
    assert anchor_groups(("leaf", "user.name", ("exists", False))) == ()
    # a literal anchor of the rule is preferred to presence
    both = ("and", (leaf, ("leaf", "url.path", ("suffix", "/login", False))))
    assert anchor_groups(both)[0] == [("suffix", "url.path", "/login")]


def test_a_present_anchor_holds_for_any_value() -> None:
    prefilter = Prefilter([(0, ([("present", "score", "")],)),
                           (1, ([("present", "score", ""), ("eq", "x", "1")],))])
    assert prefilter.candidates(Folded({"x": "2"})) == set()
    for value in (0, "0", "", [1, 2], False):
        assert prefilter.candidates(Folded({"score": value})) == {0, 1}
    assert prefilter.candidates(Folded({"x": 1})) == {1}


def test_comparison_rules_match_as_before(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    write_rule(d, "scored", "00000000-0000-0000-0000-000000000001", WEB,
               "  sel:\n    web.attack.score|gte: 5\n  condition: sel\n")
    write_rule(d, "internal", "00000000-0000-0000-0000-000000000002", WEB,
               "  sel:\n    c-ip|cidr: 10.0.0.0/8\n  condition: sel\n")
    engine = Engine.from_paths([d], use_cache=False)

    def fired(**fields: Any) -> list[str]:
        return sorted(h.rule_id[-1] for h in engine.match({"event.dataset": "apache.access",
                                                          **fields}))

    assert fired() == []
    assert fired(**{"web.attack.score": 5, "source.ip": "10.1.2.3"}) == ["1", "2"]
    assert fired(**{"web.attack.score": "7"}) == ["1"]
    assert fired(**{"web.attack.score": 4, "source.ip": "192.0.2.1"}) == []
    assert fired(**{"web.attack.score": [1, 9]}) == ["1"]


def access(target: str) -> dict[str, Any]:
    return ApacheAccessParser().parse(
        f'203.0.113.9 - - [24/Nov/2026:10:00:00 +0700] "GET {target} HTTP/1.1" 200 512 "-" '
        '"Mozilla/5.0"', CTX)


def candidates(engine: Engine, event: dict[str, Any]) -> set[str]:
    """The rules the prefilter lets through for ``event``."""
    f = Folded(event)
    bucket = engine._bucket(f)
    return {bucket.compiled[i].prepared.ir.id for i in iter_bits(bucket.prefilter.bits(f))}


def test_quiet_requests_no_longer_meet_the_webshell_and_signal_rules() -> None:
    rules = project_rules_dir()
    assert rules is not None
    engine = load_detector([rules], use_cache=False).engine
    quiet = access("/tin-tuc/chi-tiet?id=42&trang=2")
    assert not {WEBSHELL, ATTACK_SIGNAL} & candidates(engine, quiet)
    # what the rules are for is still a candidate, and matches
    shell = access("/uploads/x.php?cmd=whoami")
    weak = {**quiet, "web.attack.score": 3, "web.attack.classes": ["sqli"]}
    for event, rule in ((shell, WEBSHELL), (weak, ATTACK_SIGNAL)):
        assert rule in candidates(engine, event)
        assert rule in {h.rule_id for h in engine.match(event)}
