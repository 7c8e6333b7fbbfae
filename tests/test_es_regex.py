"""Sigma ``|re`` → Lucene regexp (soc.stores.es.regex): the Lucene pattern must match, as a
whole term, every value the Python pattern is found in.

Lucene's semantics are reproduced with Python's ``re.fullmatch`` under DOTALL: the translator
only writes constructs both read alike (escaped literals, classes, groups, ``|``, greedy
quantifiers, ``.``, which in Lucene also matches a newline)."""

from __future__ import annotations

import random
import re

import pytest

from soc.stores.es.regex import lucene_regex


def lucene_matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value, re.DOTALL) is not None


@pytest.mark.parametrize(("pattern", "flags", "expected", "exact"), [
    ("-[Ee]nc(odedCommand)? ", {}, r".*(\-[Ee]nc(odedCommand)?\ ).*", True),
    ("^cmd$", {}, ".*(cmd).*", False),  # anchors dropped: a wider match
    (r"\bnet\b", {}, ".*(net).*", False),
    ("a.b", {}, ".*(a.b).*", False),  # Python's . is no newline
    ("a.b", {"dotall": True}, ".*(a.b).*", True),
    ("(?:ab|c){2,}?x{,3}", {}, ".*((ab|c){2,}x{0,3}).*", True),
    ("(?P<n>x)y{}", {}, r".*((x)y\{\}).*", True),  # {} is a literal in Python
    (r"[^\]a-]/#@&<>~", {}, r".*([^\]a\-]\/\#\@\&\<\>\~).*", True),  # Lucene's operators
    ("Ks[x-z]", {"ignorecase": True}, ".*([kK\\\u212a][sS\\ſ][x-zX-Z]).*", True),
])
def test_translations_are_pinned(pattern: str, flags: dict[str, bool], expected: str,
                                 exact: bool) -> None:
    translated = lucene_regex(pattern, **flags)
    assert translated is not None
    assert (translated.pattern, translated.exact) == (expected, exact)


@pytest.mark.parametrize("pattern", [
    r"\d+", r"\w", r"\s", "(?=a)b", "(?<!a)b", "(?i)a", r"(a)\1", r"\n", r"\x41", "a|",
    "|a", "()", "", "^$", "[a", "*a"])
def test_what_has_no_faithful_form_is_refused(pattern: str) -> None:
    assert lucene_regex(pattern) is None


def test_non_ascii_letters_under_ignorecase_are_refused() -> None:
    assert lucene_regex("é", ignorecase=True) is None
    assert lucene_regex("[à-é]", ignorecase=True) is None
    assert lucene_regex("é") is not None


ATOMS = ["a", "b", "A", "k", "s", ".", "-", " ", "/", "#", "[ab]", "[^a]", "[a-c]", "[A-b]",
         r"\.", r"\\", "é", "ſ", "\u212a"]


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.15 and depth < 2:
            inner = "|".join(random_pattern(rng, depth + 1) for _ in range(rng.randint(1, 2)))
            atom = f"(?:{inner})" if rng.random() < 0.5 else f"({inner})"
        elif roll < 0.2:
            atom = rng.choice(["^", "$", r"\b"])
            parts.append(atom)
            continue
        else:
            atom = rng.choice(ATOMS)
        parts.append(atom + rng.choice(["", "", "*", "+", "?", "{1,2}", "*?", "{,2}"]))
    return "".join(parts)


def test_the_lucene_pattern_is_a_superset_and_exact_when_it_says_so() -> None:
    rng = random.Random(20261124)
    alphabet = "abAKks-. /#\n\u212aſé"
    checked = 0
    for _ in range(1500):
        pattern = random_pattern(rng)
        for flags in (0, re.IGNORECASE, re.DOTALL):
            translated = lucene_regex(pattern, ignorecase=bool(flags & re.IGNORECASE),
                                      dotall=bool(flags & re.DOTALL))
            if translated is None:
                continue
            for _ in range(20):
                value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                found = re.search(pattern, value, flags) is not None
                lucene = lucene_matches(translated.pattern, value)
                assert lucene or not found, (pattern, flags, value, translated)
                if translated.exact:
                    assert lucene == found, (pattern, flags, value, translated)
                checked += 1
    assert checked > 20000
