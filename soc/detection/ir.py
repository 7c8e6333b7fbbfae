"""Lowering: a pySigma rule (after the processing pipelines) → a small, picklable tree.

The tree is the post-pipeline rule representation that the cache keeps and the compiler turns into
predicates. Nodes are tuples so that pickling and unpickling 3,700 rules takes milliseconds:

* ``("and", (node, ...))``, ``("or", (node, ...))``, ``("not", node)``, ``("const", bool)``
* ``("leaf", field | None, test)``: ``field`` None is a keyword search over every value (keyword
  values are searched for inside values: a plain keyword is a ``contains`` test).

Tests (string literals are casefolded unless ``cased``):

* ``("eq" | "prefix" | "suffix" | "contains", literal, cased)``
* ``("glob", regex_source, cased)``: wildcards elsewhere than at the ends (``?``, ``a*b``)
* ``("re", pattern, flags)``: ``|re`` with ``|i`` ``|m`` ``|s``; searched, case-sensitive by default
* ``("cidr", network)``, ``("cmp", op, number)``, ``("null",)``, ``("exists", bool)``,
  ``("fieldref", other_field, startswith, endswith)``, ``("tspart", part, number)``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from soc.detection.pipelines import strip_es_suffix

Node = tuple[Any, ...]
TRUE: Node = ("const", True)
FALSE: Node = ("const", False)


class LoweringError(Exception):
    """A rule uses something the matcher cannot evaluate (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class RuleIR:
    """A rule ready to compile: its metadata and its condition tree."""

    id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    path: str
    logsource: tuple[str | None, str | None, str | None]  # category, product, service
    condition: Node


def number_text(n: int | float) -> str:
    """The text form shared by rule numbers and event numbers: 4624, 4624.0 → ``"4624"``."""
    if isinstance(n, float) and n.is_integer():
        return str(int(n))
    return str(n)


def lower_rule(rule: SigmaRule, path: str) -> RuleIR:
    """Lower a post-pipeline rule; raises :class:`LoweringError` with the reason."""
    try:
        trees = [c.parsed for c in rule.detection.parsed_condition]
    except SigmaError as exc:
        raise LoweringError(f"condition: {exc}") from exc
    nodes = [lower_condition(t) for t in trees]
    cond = nodes[0] if len(nodes) == 1 else ("or", tuple(nodes))
    ls = rule.logsource
    return RuleIR(
        id=str(rule.id) if rule.id is not None else f"{path}#{rule.title}",
        title=rule.title,
        level=rule.level.name.lower() if rule.level is not None else None,
        tags=tuple(str(t) for t in rule.tags),
        path=path,
        logsource=(ls.category, ls.product, ls.service),
        condition=simplify(cond),
    )


def lower_condition(item: Any) -> Node:
    """A pySigma condition tree → IR node."""
    if item is None:  # everything was dropped by a transformation: nothing can match
        return FALSE
    if isinstance(item, ConditionAND):
        return ("and", tuple(lower_condition(a) for a in item.args))
    if isinstance(item, ConditionOR):
        return ("or", tuple(lower_condition(a) for a in item.args))
    if isinstance(item, ConditionNOT):
        return ("not", lower_condition(item.args[0]))
    if isinstance(item, ConditionFieldEqualsValueExpression):
        return lower_value(strip_es_suffix(item.field), item.value)
    if isinstance(item, ConditionValueExpression):
        return lower_value(None, item.value)
    if isinstance(item, ConditionItem):
        raise LoweringError(f"unsupported condition element {type(item).__name__}")
    raise LoweringError(f"unsupported condition element {item!r}")


def lower_value(field: str | None, value: SigmaType) -> Node:
    """One field/value pair (or keyword value) → a leaf, or an OR for expansions."""
    if isinstance(value, SigmaExpansion):
        return ("or", tuple(lower_value(field, v) for v in value.values))
    test = lower_test(field, value)
    return ("leaf", field, keyword_test(test) if field is None else test)


def keyword_test(test: tuple[Any, ...]) -> tuple[Any, ...]:
    """Keywords are searched for inside the event's values, not compared with whole values."""
    if test[0] in ("eq", "prefix", "suffix"):
        return ("contains", test[1], test[2])
    if test[0] == "glob":
        return ("glob", f".*{test[1]}.*", test[2])
    return test


def lower_test(field: str | None, value: SigmaType) -> tuple[Any, ...]:
    """A Sigma value → a test tuple (see the module docstring)."""
    if isinstance(value, SigmaString):
        return string_test(value, cased=isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaTimestampPart):
        return ("tspart", value.timestamp_part.name.lower(), value.number)
    if isinstance(value, SigmaBool):  # before numbers: a bool is no number here
        return ("eq", "true" if value.boolean else "false", False)
    if isinstance(value, SigmaNumber):
        return ("eq", number_text(value.number), False)
    if isinstance(value, SigmaNull):
        return ("null",)
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
        return ("re", str(value.regexp), flags)
    if isinstance(value, SigmaCIDRExpression):
        return ("cidr", str(value.network))
    if isinstance(value, SigmaCompareExpression):
        return ("cmp", value.op.name.lower(), value.number.number)
    if isinstance(value, SigmaExists):
        return ("exists", value.exists)
    if isinstance(value, SigmaFieldReference):
        return ("fieldref", strip_es_suffix(value.field), value.starts_with, value.ends_with)
    raise LoweringError(f"unsupported value type {type(value).__name__} for field {field!r}")


def _parts(value: SigmaString) -> list[str | SpecialChars]:
    parts: list[str | SpecialChars] = []
    for p in value.s:
        if isinstance(p, Placeholder):
            raise LoweringError(
                f"placeholder %{p.name}% has no value: set rules.placeholders.{p.name}")
        if isinstance(p, str) and parts and isinstance(parts[-1], str):
            parts[-1] += p
        elif not (isinstance(p, str) and p == ""):
            parts.append(p)
    return parts


def string_test(value: SigmaString, *, cased: bool) -> tuple[Any, ...]:
    """Plain literals become str operations; other wildcard shapes a regex."""
    parts = _parts(value)
    fold = (lambda s: s) if cased else str.casefold
    star = SpecialChars.WILDCARD_MULTI
    inner = [p for p in parts if p is not star] if parts else []
    texts = [p for p in parts if isinstance(p, str)]
    if len(inner) == len(texts) and len(texts) <= 1:
        lit = fold(texts[0]) if texts else ""
        lead = bool(parts) and parts[0] is star
        trail = bool(parts) and parts[-1] is star and (len(parts) > 1 or not lead)
        if len(parts) - len(texts) == int(lead) + int(trail):
            kind = {(False, False): "eq", (False, True): "prefix",
                    (True, False): "suffix", (True, True): "contains"}[(lead, trail)]
            return (kind, lit, cased)
    return ("glob", glob_regex(parts, fold), cased)


def glob_regex(parts: list[str | SpecialChars], fold: Any) -> str:
    """Sigma wildcards → an anchored regex source (``*`` any run, ``?`` one character)."""
    out = []
    for p in parts:
        if p is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif p is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        else:
            out.append(re.escape(fold(p)))
    return "".join(out)


def simplify(node: Node) -> Node:
    """Flatten nested and/or, fold constants."""
    kind = node[0]
    if kind == "not":
        inner = simplify(node[1])
        if inner[0] == "const":
            return ("const", not inner[1])
        return ("not", inner)
    if kind not in ("and", "or"):
        return node
    absorbing = kind == "or"  # True absorbs an OR, False absorbs an AND
    args: list[Node] = []
    for child in (simplify(c) for c in node[1]):
        if child[0] == "const":
            if child[1] == absorbing:
                return child
            continue
        args.extend(child[1] if child[0] == kind else (child,))
    if not args:
        return ("const", not absorbing)
    return args[0] if len(args) == 1 else (kind, tuple(args))
