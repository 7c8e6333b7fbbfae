"""What keeps the web enrichment cheap gives the answers the whole treatment gives: the header
check of quiet requests, the remembered analysis of a request target, the literal gates before the
case-insensitive patterns (every alternative of a pattern holds one of its gate's literals) and
the one-pass literal test of the shapes (the same answers as an ``in`` test per literal)."""

from __future__ import annotations

import random
import re
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

import pytest

from collectors.parsers import webattack, webdetect, webshapes
from collectors.parsers.webattack import enrich_web
from collectors.parsers.webshapes import Literals, Shapes
from soc.ecs import Event

# --- examples of every alternative of a pattern ---------------------------------------------------

_CATEGORY = {C.CATEGORY_DIGIT: "7", C.CATEGORY_SPACE: " ", C.CATEGORY_WORD: "w",
             C.CATEGORY_NOT_DIGIT: "x", C.CATEGORY_NOT_SPACE: "x", C.CATEGORY_NOT_WORD: "-"}
_CAP = 5000


def _class_chars(items: list[tuple[object, object]]) -> list[str]:
    if items and items[0][0] is C.NEGATE:
        return ["-" if any(op is C.CATEGORY for op, _ in items) else "\u00e9"]
    chars = set()
    for op, av in items:
        if op is C.LITERAL:
            chars.add(chr(av))  # type: ignore[arg-type]
        elif op is C.RANGE:
            chars.add(chr(av[0]))  # type: ignore[index]
        elif op is C.CATEGORY:
            chars.add(_CATEGORY[av])
    return sorted(chars)


def _examples(seq: object, groups: dict[int, str]) -> list[str]:
    """Texts made from a parsed pattern: every alternative of every branch, all combinations
    while they number under :data:`_CAP` (then each alternative with the others' first)."""
    out = [""]
    for op, av in seq:  # type: ignore[attr-defined]
        if op is C.LITERAL:
            parts = [chr(av)]
        elif op is C.NOT_LITERAL:
            parts = ["y" if av == ord("x") else "x"]
        elif op is C.ANY:
            parts = ["x"]
        elif op is C.IN:
            parts = _class_chars(av)
        elif op is C.BRANCH:
            parts = [e for alt in av[1] for e in _examples(alt, groups)]
        elif op in (C.SUBPATTERN, C.ATOMIC_GROUP):
            parts = _examples(av if op is C.ATOMIC_GROUP else av[-1], groups)
            if op is C.SUBPATTERN and av[0] is not None:
                groups[av[0]] = parts[0]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, high, sub = av
            times = max(low, 1) if high else 0
            parts = ["".join([e] * times) for e in _examples(sub, groups)] + ([""] if not low
                                                                               else [])
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            parts = [""]  # anchors and lookarounds: the examples stand alone
        elif op is C.GROUPREF:
            parts = [groups.get(av, "")]
        else:
            raise AssertionError(f"no examples for {op}")
        if len(out) * len(parts) <= _CAP:
            out = [o + p for o in out for p in parts]
        else:
            out = [o + parts[0] for o in out] + [out[0] + p for p in parts[1:]]
        out = list(dict.fromkeys(out))[:_CAP]
    return out


def matches_of(pattern: re.Pattern[str]) -> list[str]:
    """Texts the pattern matches, at least one per alternative, in three cases."""
    texts = _examples(sre_parse.parse(pattern.pattern, pattern.flags), {})
    found = [t for v in texts for t in (v, v.upper(), v.title()) if pattern.search(t)]
    assert len(found) >= len(texts)
    return found


def test_the_examples_cover_each_alternative() -> None:
    assert set(matches_of(re.compile(r"(?:ab|c[de])\d", re.I))) >= {"ab7", "AB7", "cd7", "ce7"}


# --- the gates ------------------------------------------------------------------------------------

GATES = [(webdetect._OS_FILE, webdetect._OS_FILE_LITERALS),
         (webdetect._RESTRICTED, webdetect._RESTRICTED_LITERALS),
         (webdetect._METADATA_NAMES, webdetect._METADATA_LITERALS),
         (webshapes._PHP, webshapes._PHP_LITERALS)]


@pytest.mark.parametrize(("pattern", "literals"), GATES)
def test_a_gate_never_skips_a_match(pattern: re.Pattern[str], literals: Literals) -> None:
    found = matches_of(pattern)
    assert [t for t in found if literals.absent(t)] == []
    # and each literal is needed (or held by another one: "print_r" holds "print")
    for word in literals.words:
        rest = Literals(*(w for w in literals.words if w != word))
        assert any(rest.absent(t) for t in found) or any(
            w in word for w in literals.words if w != word), word


def test_non_ascii_text_always_goes_to_the_pattern() -> None:
    """re.I matches ſ to s, K (Kelvin) to k, ı and İ to i: a lower-cased text hides them."""
    for text in ("/\u017fystem32/drivers/etc", "in\u017ftance-data", "/.\u017fvn"):
        pattern = next(p for p, g in GATES if p.search(text))
        literals = dict(GATES)[pattern]
        assert pattern.search(text) and not literals.absent(text)
    assert webdetect._OS_FILE_LITERALS.absent("/tin-tuc/chi-tiet")
    assert not webdetect._OS_FILE_LITERALS.absent("/tin-tức")  # not ASCII: not settled here


def test_command_and_traversal_marks() -> None:
    """_CMDI runs only on a value with a separator, backtick, $ or brace; _TRAVERSAL on ..."""
    for text in matches_of(webdetect._CMDI):
        assert webdetect._CMDI_MARKS.search(text), text
    for text in matches_of(webdetect._TRAVERSAL):
        assert ".." in text, text


def _naive_first(shapes: Shapes, text: str) -> str | None:
    """What the shapes did before one pass: an ``in`` test per literal, pattern by pattern."""
    low = text.lower()
    for pattern, what, needs, literals in shapes.shapes:
        if (any(n in low for n in needs) and (literals is None or not literals.absent(text))
                and (m := pattern.search(text))):
            return f"{what} {m[0].strip()[:40]}"
    return None


@pytest.mark.parametrize("shapes", [webshapes._SQL_SHAPES, webshapes._XSS_SHAPES,
                                    webshapes._CODE_SHAPES])
def test_shapes_in_one_pass_give_what_a_test_per_literal_gives(shapes: Shapes) -> None:
    rnd = random.Random(17)
    pieces = [t for p, _, _, _ in shapes.shapes for t in matches_of(p)[:300]]
    pieces += [w for _, _, needs, _ in shapes.shapes for w in needs]
    pieces += [*" ()'\";<>=&|/\\-#*", "ſ", "K", "é", "ı", "Nguyễn"]
    texts = pieces + ["".join(rnd.choice(pieces) for _ in range(rnd.randrange(1, 6)))
                      for _ in range(4000)]
    seen = 0
    for text in texts:
        want = _naive_first(shapes, text)
        assert shapes.first(text, text.lower()) == want, text
        seen += want is not None
    assert seen > len(texts) // 4  # most texts hold a shape: the test is not vacuous


# --- the quiet requests' headers and the remembered targets -------------------------------------

@pytest.mark.parametrize("header", [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0", "https://portal.example.gov.vn/",
    "${jndi:ldap://x/a}", "() { :; }; /bin/id", "( ) {", "%24%7Bjndi", "%24%7bjndi", "a%20b",
    "{x}", "$x{", None, 7])
def test_the_header_check_is_the_pattern(header: object) -> None:
    want = isinstance(header, str) and webattack._HEADER_HINT.search(header) is not None
    assert webattack._header_hint(header) is want


def attack_event(target: str) -> Event:
    path, _, query = target.partition("?")
    return {"url.original": target, "url.path": path, "url.query": query,
            "user_agent.original": "Mozilla/5.0"}


def test_a_target_seen_again_is_not_analysed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    webattack._remembered_target.cache_clear()
    first = enrich_web(attack_event("/d?f=..%2f..%2f..%2fetc%2fpasswd&q=%3Cb%3E"))
    calls: list[object] = []
    monkeypatch.setattr(webattack, "_analyse", lambda *a: calls.append(a))
    again = enrich_web(attack_event("/d?f=..%2f..%2f..%2fetc%2fpasswd&q=%3Cb%3E"))
    assert calls == [] and again == first and first["web.attack.classes"] == ["lfi"]
    # each event has lists of its own: a later stage may change them
    again["web.decoded.values"].append("x")
    again["web.attack.classes"].append("x")
    third = enrich_web(attack_event("/d?f=..%2f..%2f..%2fetc%2fpasswd&q=%3Cb%3E"))
    assert third == first


def test_long_targets_are_not_remembered() -> None:
    webattack._remembered_target.cache_clear()
    long = "/d?f=../../etc/passwd&pad=" + "a" * webattack._TARGET_CHARS
    assert enrich_web(attack_event(long))["web.attack.classes"] == ["lfi"]
    assert webattack._remembered_target.cache_info().currsize == 0
    enrich_web(attack_event("/d?f=../../etc/passwd"))
    assert webattack._remembered_target.cache_info().currsize == 1
