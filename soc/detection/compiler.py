"""Compiler: IR (see :mod:`soc.detection.ir`) → Python predicates over a :class:`Folded` event.

Each rule is compiled once into nested closures. Plain literals use str operations (``==``,
``startswith``/``endswith`` with a tuple, ``in``); sibling literals of one field in an OR are merged
into one test (a frozenset or a tuple); only wildcards in the middle, ``?`` and ``|re`` use regexes,
compiled here, once. Matching is case-insensitive (casefold) unless ``|cased``; ``|re`` is
case-sensitive unless ``|i``, as Sigma says. A multi-valued field matches when any element does.
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import re
from collections.abc import Callable
from typing import Any

from soc.detection.ir import Node
from soc.detection.prefilter import Matcher, make_matcher
from soc.detection.values import ALL, Folded, Value, text

Predicate = Callable[[Folded], bool]
STR_KINDS = ("eq", "prefix", "suffix", "contains")
MANY = 8
"""From this many ``contains`` literals on, a value is searched with an Aho-Corasick automaton."""


class CompileError(Exception):
    """A test the compiler cannot build (bad regex, bad network...)."""


def compile_node(node: Node) -> Predicate:
    """Compile an IR node into a predicate."""
    kind = node[0]
    if kind == "leaf":
        return compile_leaf(node[1], node[2])
    if kind == "not":
        inner = compile_node(node[1])
        return lambda f: not inner(f)
    if kind == "const":
        value = bool(node[1])
        return lambda f: value
    if kind == "and":
        return _all_of([compile_node(c) for c in node[1]])
    if kind == "or":
        return _any_of([compile_node(c) for c in merge_or_leaves(node[1])])
    raise CompileError(f"unknown node {kind!r}")


def _all_of(preds: list[Predicate]) -> Predicate:
    if len(preds) == 2:
        a, b = preds
        return lambda f: a(f) and b(f)
    if len(preds) == 3:
        a, b, c = preds
        return lambda f: a(f) and b(f) and c(f)

    def all_of(f: Folded) -> bool:
        for p in preds:  # noqa: SIM110 - a plain loop is faster than all(genexpr)
            if not p(f):
                return False
        return True
    return all_of


def _any_of(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda f: a(f) or b(f)

    def any_of(f: Folded) -> bool:
        for p in preds:  # noqa: SIM110 - a plain loop is faster than any(genexpr)
            if p(f):
                return True
        return False
    return any_of


def merge_or_leaves(children: tuple[Node, ...]) -> list[Node]:
    """OR siblings testing one field with one str kind → one leaf with a literal tuple."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    out: list[Node] = []
    for child in children:
        if child[0] == "leaf" and child[2][0] in STR_KINDS:
            key = (child[1], child[2][0], child[2][2])
            if key not in groups:
                groups[key] = []
                out.append(("multi", key))
            groups[key].append(child[2][1])
        else:
            out.append(child)
    return [("leaf", n[1][0], (n[1][1], tuple(groups[n[1]]), n[1][2])) if n[0] == "multi" else n
            for n in out]


@functools.lru_cache(maxsize=4096)
def compile_leaf(field: str | None, test: tuple[Any, ...]) -> Predicate:
    """One field test → predicate. ``field`` None searches every value (keywords)."""
    key = ALL if field is None else field
    kind = test[0]
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise CompileError(f"unknown test {kind!r}")
    return builder(key, test)


def _lits(test: tuple[Any, ...]) -> tuple[str, ...]:
    lit = test[1]
    return lit if isinstance(lit, tuple) else (lit,)


def _source(key: str, cased: bool) -> Callable[[Folded], Value]:
    if cased:
        return lambda f: f.raw[key]
    return lambda f: f[key]


def _str_test(key: str, test: tuple[Any, ...]) -> Predicate:
    kind, cased = test[0], bool(test[2])
    lits = _lits(test)
    check = _str_check(kind, lits)
    if cased:
        def cased_test(f: Folded) -> bool:
            v = f.raw[key]
            if v.__class__ is str:
                return check(v)
            return v is not None and any(map(check, v))
        return cased_test

    def folded_test(f: Folded) -> bool:
        v = f[key]
        if v.__class__ is str:
            return check(v)
        return v is not None and any(map(check, v))
    return folded_test


def _str_check(kind: str, lits: tuple[str, ...]) -> Callable[[str], bool]:
    if kind == "eq":
        if len(lits) == 1:
            return lits[0].__eq__
        return frozenset(lits).__contains__
    if kind == "prefix":
        return lambda v: v.startswith(lits)
    if kind == "suffix":
        return lambda v: v.endswith(lits)
    if len(lits) == 1:
        lit = lits[0]
        return lambda v: lit in v
    if "" in lits:
        return lambda v: True
    if len(lits) >= MANY:  # one pass of an automaton over the text, not one search per literal
        return _any_literal(tuple(sorted(set(lits))))
    return lambda v: any(lit in v for lit in lits)


def _any_literal(lits: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a text contains one of ``lits``; the automaton is built at first use (most rules
    are never candidates, and building them all would slow every start)."""
    built: list[Matcher] = []

    def contains_any(v: str) -> bool:
        if not built:
            built.append(make_matcher(lits))
        return bool(built[0].find_matches_as_indexes(v))
    return contains_any


def _value_test(key: str, cased: bool, check: Callable[[str], bool]) -> Predicate:
    """A predicate applying ``check`` to a single or any of a multi-valued field's texts."""
    get = _source(key, cased)

    def test(f: Folded) -> bool:
        v = get(f)
        if v is None:
            return False
        if v.__class__ is str:
            return check(v)
        return any(map(check, v))
    return test


def _glob_test(key: str, test: tuple[Any, ...]) -> Predicate:
    return _value_test(key, bool(test[2]), glob_matcher(test[1]))


def glob_matcher(source: str) -> Callable[[str], bool]:
    """A test for a glob regex (:func:`soc.detection.ir.glob_regex`): a leading or trailing ``.*``
    (a ``*`` of the glob: ``re.escape`` never leaves a bare ``*``) becomes an unanchored side,
    searched rather than backtracked: ``fullmatch('.*a.*b.*')`` is ``search('a.*b')``."""
    lead = source.startswith(".*")
    core = source[2:] if lead else source
    trail = core.endswith(".*")
    core = core[:-2] if trail else core
    if lead and trail:
        rx = _regex(core, re.DOTALL)
        return lambda v: rx.search(v) is not None
    if lead:
        rx = _regex(f"(?:{core})\\Z", re.DOTALL)
        return lambda v: rx.search(v) is not None
    if trail:
        rx = _regex(core, re.DOTALL)
        return lambda v: rx.match(v) is not None
    rx = _regex(source, re.DOTALL)
    return lambda v: rx.fullmatch(v) is not None


def _re_test(key: str, test: tuple[Any, ...]) -> Predicate:
    rx = _regex(test[1], int(test[2]))
    return _value_test(key, True, lambda v: rx.search(v) is not None)


def _regex(pattern: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise CompileError(f"invalid regular expression {pattern!r}: {exc}") from exc


def _cidr_test(key: str, test: tuple[Any, ...]) -> Predicate:
    try:
        net = ipaddress.ip_network(test[1], strict=False)
    except ValueError as exc:
        raise CompileError(f"invalid network {test[1]!r}") from exc

    def in_net(v: str) -> bool:
        address = ip_address(v)
        return address is not None and address in net
    return _value_test(key, True, in_net)


@functools.lru_cache(maxsize=4096)
def ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of a text (``[v6]`` brackets allowed), None if it is none; kept for the other
    networks and rules that test the same value (rules list ten or more networks)."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


_OPS: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
    "neq": operator.ne,
}


def _cmp_test(key: str, test: tuple[Any, ...]) -> Predicate:
    op, number = _OPS[test[1]], test[2]

    def compare(v: str) -> bool:
        try:
            return op(float(v), number)
        except ValueError:
            return False
    return _value_test(key, True, compare)


def _null_test(key: str, test: tuple[Any, ...]) -> Predicate:
    def is_null(f: Folded) -> bool:
        v = f.raw[key]
        return v is None or v == "" or v == ()
    return is_null


def _exists_test(key: str, test: tuple[Any, ...]) -> Predicate:
    want = bool(test[1])
    return lambda f: (f.event.get(key) is not None) is want


def _fieldref_test(key: str, test: tuple[Any, ...]) -> Predicate:
    other, starts, ends = test[1], bool(test[2]), bool(test[3])

    def check(v: str, ref: str) -> bool:
        if starts and ends:
            return ref in v
        if starts:
            return v.startswith(ref)
        if ends:
            return v.endswith(ref)
        return v == ref

    def fieldref(f: Folded) -> bool:
        v, ref = f[key], f[other]
        if v is None or ref is None:
            return False
        refs = (ref,) if ref.__class__ is str else ref
        vals = (v,) if v.__class__ is str else v
        return any(check(a, b) for a in vals for b in refs)
    return fieldref


def _tspart_test(key: str, test: tuple[Any, ...]) -> Predicate:
    from soc.ecs import parse_ts  # local: only rules with timestamp modifiers need it

    part, number = test[1], int(test[2])

    def extract(v: str) -> bool:
        try:
            dt = parse_ts(v)
        except ValueError:
            return False
        value = dt.isocalendar().week if part == "week" else getattr(dt, part)
        return int(value) == number
    return _value_test(key, True, extract)


_BUILDERS: dict[str, Callable[[str, tuple[Any, ...]], Predicate]] = {
    **{k: _str_test for k in STR_KINDS},
    "glob": _glob_test, "re": _re_test, "cidr": _cidr_test, "cmp": _cmp_test,
    "null": _null_test, "exists": _exists_test, "fieldref": _fieldref_test,
    "tspart": _tspart_test,
}


def leaf_fields(node: Node) -> set[str]:
    """The fields a node reads (keyword leaves excluded)."""
    if node[0] == "leaf":
        return {node[1]} if node[1] is not None else set()
    if node[0] == "not":
        return leaf_fields(node[1])
    if node[0] in ("and", "or"):
        return set().union(*(leaf_fields(c) for c in node[1]))
    return set()


HitPlan = tuple[tuple[str | None, tuple[Any, ...], Predicate], ...]
"""The leaves a hit reports: (field or None for keywords, test, compiled test)."""


def hit_plan(node: Node) -> HitPlan:
    """The non-negated leaves of ``node``, sibling literals of one field merged (a hit reports a
    field when any of its tests is true, so merging changes nothing and saves thousands of tests
    for rules listing thousands of hashes)."""
    leaves: list[Node] = []
    _positive_leaves(node, leaves, negated=False)
    merged = dict.fromkeys((n[1], n[2]) for n in merge_or_leaves(tuple(leaves)))
    return tuple((field, test, compile_leaf(field, test)) for field, test in merged)


def _positive_leaves(node: Node, out: list[Node], *, negated: bool) -> None:
    kind = node[0]
    if kind == "leaf":
        if not negated:
            out.append(node)
    elif kind == "not":
        _positive_leaves(node[1], out, negated=not negated)
    elif kind in ("and", "or"):
        for child in node[1]:
            _positive_leaves(child, out, negated=negated)


def matched_fields(node: Node, f: Folded, plan: HitPlan | None = None) -> dict[str, Any]:
    """Fields whose tests are true in an event a rule matched (for the hit; slow path only)."""
    out: dict[str, Any] = {}
    for field, test, predicate in plan if plan is not None else hit_plan(node):
        if field in out:  # reported already, with the same value: skip its other tests
            continue
        if predicate(f):
            if field is None:
                out["keywords"] = _keyword_hit(test, f)
            else:
                out[field] = f.event.get(field)
    return out


def _keyword_hit(test: tuple[Any, ...], f: Folded) -> str | None:
    check = compile_leaf("v", test)
    for value in f.raw[ALL] or ():
        if check(Folded({"v": value})):
            return text(value)
    return None
