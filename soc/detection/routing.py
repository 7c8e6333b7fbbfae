"""What a rule requires of an event before it can match: its routes and its anchors.

**Routes.** The pipelines turn a rule's log source into conditions on ``winlog.channel``,
``event.dataset`` and ``event.code``. :func:`routes` reads them back from the condition tree as the
set of (source, code) pairs the rule can match; the engine indexes rules by them, so a Sysmon event
never meets a ``service: security`` rule, whatever its EventID.

**Anchors.** :func:`anchors` finds a necessary condition made of literals: a list of
(kind, field, literal) of which at least one must hold for the rule to match (``eq``: the field
equals the literal; ``prefix``/``suffix``/``contains``: the casefolded text starts with, ends with,
contains it; ``present``: the field has a value, what a comparison, a CIDR or ``|exists: true``
needs, the weakest anchor). The engine evaluates a rule only when one of its anchors holds. Both
analyses are conservative: when in doubt they answer "anything" (None), never a wrong "no".
"""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

from soc.detection.ir import Node, RuleIR

SOURCE_FIELDS = ("winlog.channel", "event.dataset")
CODE_FIELD = "event.code"
ROUTE_FIELDS = frozenset((*SOURCE_FIELDS, CODE_FIELD))
ANY_WINDOWS = ("winlog.channel", "*")
"""Route source of rules for ``product: windows`` alone: any event that has a channel."""

Source = tuple[str, str]
Route = tuple[Source | None, str | None]
Anchor = tuple[str, str | None, str]  # kind, field (None: any value), casefolded literal
MAX_ROUTES = 256


def routes(node: Node) -> frozenset[Route]:
    """The (source, code) pairs an event must have for ``node`` to match; (None, None) = any."""
    kind = node[0]
    if kind == "leaf":
        return _leaf_routes(node[1], node[2])
    if kind == "or":
        out: set[Route] = set()
        for child in node[1]:
            out |= routes(child)
        return _capped(out)
    if kind == "and":
        acc: frozenset[Route] = frozenset({(None, None)})
        for child in node[1]:
            acc = _combine(acc, routes(child))
        return acc
    if kind == "const" and not node[1]:
        return frozenset()
    return frozenset({(None, None)})


def _leaf_routes(field: str | None, test: tuple[Any, ...]) -> frozenset[Route]:
    if field not in ROUTE_FIELDS or test[0] != "eq" or test[2]:
        return frozenset({(None, None)})
    lits = test[1] if isinstance(test[1], tuple) else (test[1],)
    if field == CODE_FIELD:
        return frozenset((None, lit) for lit in lits)
    return frozenset(((field, lit), None) for lit in lits)


def _combine(a: frozenset[Route], b: frozenset[Route]) -> frozenset[Route]:
    out: set[Route] = set()
    for sa, ca in a:
        for sb, cb in b:
            if sa is not None and sb is not None and sa != sb:
                continue
            if ca is not None and cb is not None and ca != cb:
                continue
            out.add((sa if sa is not None else sb, ca if ca is not None else cb))
    return _capped(out)


def _capped(out: set[Route]) -> frozenset[Route]:
    if len(out) > MAX_ROUTES:  # too many pairs to index usefully: keep only the sources
        sources = {s for s, _ in out}
        return frozenset((s, None) for s in sources) if len(sources) <= MAX_ROUTES else \
            frozenset({(None, None)})
    return frozenset(out)


def rule_routes(ir: RuleIR) -> frozenset[Route] | None:
    """A rule's routes, or None when its log source is mapped by no pipeline (unusable here)."""
    found = routes(ir.condition)
    if any(src is None for src, _ in found):
        category, product, service = ir.logsource
        if product == "windows" and category is None and service is None:
            return frozenset((ANY_WINDOWS, code) for _, code in found)
        return None
    return found


# --- anchors -----------------------------------------------------------------------------------

def anchors(node: Node) -> list[Anchor] | None:
    """A disjunction of literal tests implied by ``node``, or None if there is none."""
    kind = node[0]
    if kind == "leaf":
        return _leaf_anchors(node[1], node[2])
    if kind == "or":
        out: list[Anchor] = []
        for child in node[1]:
            sub = anchors(child)
            if sub is None:
                return None
            out.extend(sub)
        return out
    if kind == "and":
        best: list[Anchor] | None = None
        for child in node[1]:
            sub = anchors(child)
            if sub is not None and (best is None or score(sub) > score(best)):
                best = sub
        return best
    if kind == "const" and not node[1]:
        return []
    return None


def _leaf_anchors(field: str | None, test: tuple[Any, ...]) -> list[Anchor] | None:
    if field in ROUTE_FIELDS:
        return None  # routing covers them
    kind = test[0]
    if kind in ("eq", "prefix", "suffix", "contains"):
        lits = test[1] if isinstance(test[1], tuple) else (test[1],)
        if kind != "eq" and any(lit == "" for lit in lits):
            return None
        return [(kind, field, lit.casefold()) for lit in lits]
    if kind == "glob":
        lit = _glob_literal(test[1])
        return [("contains", field, lit.casefold())] if lit else None
    if kind == "re":
        lits = regex_literals(test[1], int(test[2]))
        return [("contains", field, lit.casefold()) for lit in lits] if lits else None
    if field is not None and (kind in ("cmp", "cidr") or test == ("exists", True)):
        return [("present", field, "")]  # no value, no match (``web.attack.score|gte: 1``)
    return None


def anchor_groups(node: Node) -> tuple[list[Anchor], ...]:
    """Up to two disjunctions of anchors that must both hold for ``node`` to match (the two most
    selective children of a top-level AND); ``()``: no anchor, the rule is always a candidate."""
    if node[0] == "and":
        found: list[list[Anchor]] = []
        for sub in (anchors(child) for child in node[1]):
            if sub is not None and sub not in found:  # the pipelines may repeat a rule's test
                found.append(sub)
        found.sort(key=score, reverse=True)
        return tuple(found[:2])
    single = anchors(node)
    return () if single is None else (single,)


_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_FOLD_UNSAFE = frozenset("iI")
"""With ``re.IGNORECASE``, ``i`` also matches ``İ`` and ``ı``, whose casefolds are not ``i``: a
literal with one is not an anchor. Every other ASCII character matches only characters whose
casefold is its own (``k``: ``K``, ``s``: ``ſ``; ``tests/test_engine.py`` checks all of Unicode)."""


def regex_literal(pattern: str, flags: int) -> str:
    """The longest literal text that every match of ``pattern`` contains ("" if none).

    Any text the regex matches contains it, so the casefolded text contains its casefold: for a
    case-insensitive pattern only ASCII characters other than ``i`` count as literal."""
    runs: list[str] = []
    _parse_runs(pattern, flags, runs, [])
    return max(runs, key=len, default="")


def regex_literals(pattern: str, flags: int) -> tuple[str, ...]:
    """Literal texts one of which every match of ``pattern`` contains (``()`` if none): the
    longest required run (:func:`regex_literal`), or the branches' runs of a required
    alternation when they select more (``cmd=[^&]*(?:whoami|ipconfig|...)``: any of the
    commands rather than ``=``), the weakest deciding as for anchors (:func:`score`)."""
    runs: list[str] = []
    alternations: list[tuple[str, ...]] = []
    _parse_runs(pattern, flags, runs, alternations)
    longest = max(runs, key=len, default="")
    choices = [*([(longest,)] if longest else []), *alternations]
    return max(choices, default=(),
               key=lambda lits: score([("contains", "", lit.casefold()) for lit in lits]))


def _parse_runs(pattern: str, flags: int, runs: list[str],
                alternations: list[tuple[str, ...]]) -> None:
    try:
        parsed = _parser.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError, ValueError):
        return
    _literal_runs(list(parsed), runs, bool(parsed.state.flags & re.IGNORECASE), alternations)


def _literal_runs(items: list[tuple[Any, Any]], runs: list[str], nocase: bool,
                  alternations: list[tuple[str, ...]] | None = None) -> None:
    """The runs of consecutive literals of a sequence that every match goes through, and (when
    ``alternations`` is given) the branches' longest runs of the alternations it goes through."""
    cur: list[str] = []
    for op, av in items:
        if op is sre.LITERAL and not (nocase and (av > 127 or chr(av) in _FOLD_UNSAFE)):
            cur.append(chr(av))
            continue
        runs.append("".join(cur))
        cur = []
        if op in _REPEATS and av[0] >= 1:
            _literal_runs(list(av[2]), runs, nocase, alternations)
        elif op is sre.SUBPATTERN:
            _group, add, remove, sub = av
            local = (nocase or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            _literal_runs(list(sub), runs, local, alternations)
        elif op is sre.ATOMIC_GROUP:
            _literal_runs(list(av), runs, nocase, alternations)
        elif op is sre.BRANCH and alternations is not None:
            branches = _branch_runs(av[1], nocase)
            if branches:
                alternations.append(branches)
    runs.append("".join(cur))


def _branch_runs(branches: list[Any], nocase: bool) -> tuple[str, ...]:
    """Each branch's longest required run; ``()`` when one branch has none (it matches
    without a literal)."""
    found: list[str] = []
    for branch in branches:
        runs: list[str] = []
        _literal_runs(list(branch), runs, nocase)
        longest = max(runs, key=len, default="")
        if not longest:
            return ()
        found.append(longest)
    return tuple(dict.fromkeys(found))


def _glob_literal(pattern: str) -> str:
    """The longest literal run of a glob regex built by :func:`soc.detection.ir.glob_regex`."""
    runs: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            cur.append(pattern[i + 1])
            i += 2
            continue
        if c == ".":
            runs.append("".join(cur))
            cur = []
            i += 2 if pattern[i + 1:i + 2] == "*" else 1
            continue
        cur.append(c)
        i += 1
    runs.append("".join(cur))
    return max(runs, key=len)


def score(found: list[Anchor]) -> float:
    """How selective a disjunction of anchors is: its weakest anchor decides."""
    if not found:
        return 1000.0
    worst = min(_anchor_quality(a) for a in found)
    return worst - len(found) / 1000.0


COMMON = tuple(sorted((
    "\\windows\\system32\\", "\\windows\\syswow64\\", "\\windows\\", "system32\\", "c:\\",
    ":\\", "\\program files\\", "\\program files (x86)\\", "\\programdata\\", "\\users\\",
    "\\appdata\\local\\", "\\appdata\\roaming\\", "\\appdata\\", "\\microsoft\\",
    "\\windows\\currentversion\\", "\\software\\", "hklm\\", "hkcu\\", "hku\\",
    "\\currentcontrolset\\", "\\services\\", ".exe", ".dll",
), key=len, reverse=True))
"""Fragments that Windows paths, registry keys and command lines are full of: a literal made of
them selects little, whatever its length (``\\windows\\`` vs ``\\..\\..\\``)."""


def _anchor_quality(anchor: Anchor) -> float:
    kind, field, lit = anchor
    if kind == "present":
        return 0.5  # below any literal: a literal anchor of the rule is preferred
    rare = lit
    for fragment in COMMON:
        if fragment in rare:
            rare = rare.replace(fragment, "\x00")
    base = float(min(len(rare), 24))
    if kind == "eq":
        base += 4
    elif kind in ("prefix", "suffix"):
        base += 1
    if field is None:
        base /= 2
    return base
