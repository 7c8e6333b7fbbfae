"""Sigma correlation rules compiled for evaluation: :class:`CorrelationSpec`.

pySigma parses a correlation rule (``event_count``, ``value_count``, ``value_sum``, ``temporal``,
``temporal_ordered``); :func:`compile_correlations` maps its fields with the engine's processing
pipeline, checks that every rule it references is usable, and orders the specs so that a
correlation comes after those it references. :mod:`soc.detection.correlation` evaluates them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from soc.detection.hits import severity
from soc.detection.loader import RuleIssue, issue_for, rule_path
from soc.detection.pipelines import PIPELINE_DIR, build_pipeline, strip_es_suffix
from soc.models import Severity

SUPPORTED = ("event_count", "value_count", "value_sum", "temporal", "temporal_ordered")
_OPS = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__,
        "eq": int.__eq__, "neq": int.__ne__}


def rule_id_of(rule: SigmaRule | SigmaCorrelationRule) -> str:
    """The id the engine gives a rule (its UUID, else ``path#title``)."""
    return str(rule.id) if rule.id is not None else f"{rule_path(rule)}#{rule.title}"


@dataclass(frozen=True)
class CorrelationSpec:
    """A correlation rule after field mapping, ready to evaluate."""

    id: str
    title: str
    level: Severity | None
    tags: tuple[str, ...]
    path: str
    type: str
    rules: tuple[str, ...]  # base rule ids, in the rule's order
    span: timedelta
    group_by: tuple[str, ...]
    fields: Mapping[str, Mapping[str, str]]  # rule id → group name → event field (aliases)
    op: str = "gte"
    count: int = 1
    value_fields: tuple[str, ...] = ()  # value_count, value_sum
    expression: Any = None  # temporal extended condition, references as rule ids
    generate: bool = False
    names: Mapping[str, str] = field(default_factory=dict)  # rule id → name or title

    def group_of(self, rule_id: str, event: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The group-by values of an event hit by ``rule_id``; None when one is missing."""
        fields = self.fields.get(rule_id, {})
        values = []
        for name in self.group_by:
            value = field_text(event.get(fields.get(name, name)))
            if value is None:
                return None
            values.append(value)
        return tuple(values)

    def value_of(self, event: Mapping[str, Any]) -> str | None:
        """value_count: the counted value (several fields: joined); value_sum: the summed
        integer, as text (None when the field holds no integer: the hit does not count)."""
        if self.type == "value_sum":
            return _integer(event.get(self.value_fields[0]))
        parts = [field_text(event.get(f)) for f in self.value_fields]
        if any(p is None for p in parts):
            return None
        return "\x1f".join(p for p in parts if p is not None)

    def holds(self, n: int) -> bool:
        return bool(_OPS[self.op](n, self.count))

    def floor(self) -> int:
        """The smallest count the condition holds for: 0 when small counts hold too (``lt``,
        ``lte``, ``neq``) or the condition is an expression."""
        if self.expression is not None or self.op not in ("gt", "gte", "eq"):
            return 0
        return self.count + 1 if self.op == "gt" else self.count


# --- from pySigma objects -----------------------------------------------------------------------


def compile_correlations(correlations: Iterable[SigmaCorrelationRule], usable: Collection[str], *,
                         placeholders: Mapping[str, Iterable[str]] | None = None,
                         pipeline_dir: Path = PIPELINE_DIR,
                         ) -> tuple[list[CorrelationSpec], list[RuleIssue]]:
    """Map each correlation's fields with the engine's pipeline and check what it needs.

    ``usable`` holds the ids of the engine's usable rules: a correlation on an unusable rule is
    an issue, never a silent no-op. A correlation may reference another correlation (its matches
    are its hits); the specs come out in evaluation order, referenced ones first.
    """
    pending = list(correlations)
    if not pending:
        return [], []
    pipeline = build_pipeline(placeholders, pipeline_dir)
    known = set(usable)
    specs: list[CorrelationSpec] = []
    issues: list[RuleIssue] = []
    while pending:
        ready = [r for r in pending if all(_ref_id(ref) in known for ref in _refs(r))
                 or not all(_ref_id(ref) in _ids(pending) | known for ref in _refs(r))]
        if not ready:  # a cycle: every one waits for another
            issues += [issue_for(r, "correlation cycle", "correlation") for r in pending]
            break
        for rule in ready:
            pending.remove(rule)
            try:
                spec = _spec(rule, pipeline, known)
            except (SigmaError, ValueError, TypeError, KeyError, AttributeError) as exc:
                issues.append(issue_for(rule, str(exc).split("\n")[0], "correlation"))
                continue
            specs.append(spec)
            known.add(spec.id)
    return specs, issues


def _refs(rule: SigmaCorrelationRule) -> list[SigmaRuleReference]:
    return list(rule.referenced_rules or rule.rules or [])


def _ref_id(ref: SigmaRuleReference) -> str:
    target = getattr(ref, "rule", None)
    return rule_id_of(target) if target is not None else f"unresolved:{ref.reference}"


def _ids(rules: Iterable[SigmaCorrelationRule]) -> set[str]:
    return {rule_id_of(r) for r in rules}


def _spec(rule: SigmaCorrelationRule, pipeline: Any, usable: Collection[str]) -> CorrelationSpec:
    kind = rule.type.name.lower()
    if kind not in SUPPORTED:
        raise ValueError(f"correlation type {kind} is not supported (only {', '.join(SUPPORTED)})")
    refs = _refs(rule)
    ids: list[str] = []
    names: dict[str, str] = {}
    for ref in refs:
        target = getattr(ref, "rule", None)
        if target is None:
            raise ValueError(f"rule reference {ref.reference!r} is not resolved")
        rid = rule_id_of(target)
        if rid not in usable:
            raise ValueError(f"referenced rule {ref.reference} ({rid}) is unusable: see its "
                             "own entry")
        ids.append(rid)
        names[rid] = ref.reference
    mapped = copy.deepcopy(rule)
    pipeline.apply(mapped)
    by_ref = {ref.reference: rid for ref, rid in zip(refs, ids, strict=True)}
    return CorrelationSpec(
        id=rule_id_of(rule), title=rule.title, level=severity(_level(rule)),
        tags=tuple(str(t) for t in rule.tags), path=rule_path(rule), type=kind,
        rules=tuple(ids), span=timedelta(seconds=rule.timespan.seconds),
        group_by=tuple(strip_es_suffix(g) for g in mapped.group_by or ()),
        fields=_alias_fields(mapped, by_ref), generate=bool(rule.generate), names=names,
        **_condition(mapped, kind, by_ref, len(ids)))


def _level(rule: SigmaCorrelationRule) -> str | None:
    return rule.level.name.lower() if rule.level is not None else None


def _alias_fields(rule: SigmaCorrelationRule,
                  by_ref: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for alias in rule.aliases:
        for ref, event_field in alias.mapping.items():
            rid = by_ref.get(ref.reference)
            if rid is None:
                raise ValueError(f"alias {alias.alias} names rule {ref.reference}, which the "
                                 "correlation does not reference")
            out.setdefault(rid, {})[alias.alias] = strip_es_suffix(event_field)
    return out


def _condition(rule: SigmaCorrelationRule, kind: str, by_ref: Mapping[str, str],
               n_rules: int) -> dict[str, Any]:
    cond = rule.condition
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        if kind != "temporal":
            raise ValueError("an extended condition on temporal_ordered is not supported")
        return {"expression": _expr(cond.parsed, by_ref)}
    assert isinstance(cond, SigmaCorrelationCondition)
    out: dict[str, Any] = {"op": cond.op.name.lower(), "count": int(cond.count)}
    if kind in ("value_count", "value_sum"):
        ref = cond.fieldref
        names = ref if isinstance(ref, list) else [ref]
        if kind == "value_sum" and len(names) != 1:
            raise ValueError("value_sum sums one field, not several")
        out["value_fields"] = tuple(strip_es_suffix(str(f)) for f in names)
    elif kind.startswith("temporal") and cond.count > n_rules and out["op"] in ("gt", "gte"):
        raise ValueError(f"condition asks for more rules ({cond.count}) than referenced")
    return out


def _expr(node: Any, by_ref: Mapping[str, str]) -> Any:
    if isinstance(node, SigmaRuleReference):
        if node.reference not in by_ref:
            raise ValueError(f"condition names rule {node.reference}, not referenced")
        return ("rule", by_ref[node.reference])
    kind = {CorrelationConditionAND: "and", CorrelationConditionOR: "or",
            CorrelationConditionNOT: "not"}[type(node)]
    return (kind, tuple(_expr(a, by_ref) for a in node.args))


def expression_holds(expr: Any, present: Collection[str]) -> bool:
    """Whether a temporal extended condition holds with the rules ``present`` in a window."""
    kind, arg = expr
    if kind == "rule":
        return arg in present
    if kind == "not":
        return not expression_holds(arg[0], present)
    results = (expression_holds(a, present) for a in arg)
    return all(results) if kind == "and" else any(results)


def silent_rules(specs: Iterable[CorrelationSpec]) -> frozenset[str]:
    """Base rules whose own hits raise no alert: referenced by a correlation without
    ``generate: true`` (Sigma's default)."""
    return frozenset(r for s in specs if not s.generate for r in s.rules)


def field_text(value: Any) -> str | None:
    """An event field as text for grouping and counting: None when empty, lists joined."""
    if type(value) is str:
        return value or None
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple):
        items = [str(v) for v in value if v is not None]
        return ",".join(items) if items else None
    return str(value)


def _integer(value: Any) -> str | None:
    """An integer field (or its decimal text) as text; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return str(int(value))
    return None


_INTEGER = re.compile(r"-?[0-9]{1,18}")
