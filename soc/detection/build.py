"""Rule files → lowered rules (IR) with routes and anchors, every failure kept as a RuleIssue.

This is the slow, cacheable part of starting an engine: YAML, pySigma parsing, the processing
pipelines, lowering and the routing analysis. :mod:`soc.detection.cache` keeps its result.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from soc.detection.ir import LoweringError, RuleIR, lower_rule
from soc.detection.loader import RuleIssue, issue_for, load_rules, rule_path
from soc.detection.pipelines import PIPELINE_DIR, build_pipeline
from soc.detection.routing import Anchor, Route, anchor_groups, rule_routes


@dataclass(frozen=True, slots=True)
class PreparedRule:
    """A lowered rule and what the engine indexes it by."""

    ir: RuleIR
    routes: frozenset[Route]
    groups: tuple[list[Anchor], ...]  # anchor groups: one anchor of each must hold


@dataclass
class BuiltRules:
    rules: list[PreparedRule] = field(default_factory=list)
    issues: list[RuleIssue] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    correlations_kept: bool = True  # False: a cache could not keep them; reload from the files


def build(paths: Iterable[str | Path], placeholders: Mapping[str, Iterable[str]] | None = None,
          pipeline_dir: Path = PIPELINE_DIR) -> BuiltRules:
    """Load, map, lower and analyse every rule under ``paths``."""
    loaded = load_rules(paths)
    pipeline = build_pipeline(placeholders, pipeline_dir)
    out = BuiltRules(issues=list(loaded.issues), correlations=loaded.correlations)
    for rule in loaded.rules:
        prepared = prepare(rule, pipeline)
        if isinstance(prepared, RuleIssue):
            out.issues.append(prepared)
        else:
            out.rules.append(prepared)
    return out


def prepare(rule: SigmaRule, pipeline: ProcessingPipeline) -> PreparedRule | RuleIssue:
    """One rule through the pipeline, lowering and routing (the rule object is not modified)."""
    mapped = copy.deepcopy(rule) if _referenced(rule) else rule
    try:
        pipeline.apply(mapped)
    except (SigmaError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return issue_for(rule, _reason(exc), "pipeline")
    try:
        ir = lower_rule(mapped, rule_path(rule))
    except (LoweringError, SigmaError) as exc:
        return issue_for(rule, str(exc), "compile")
    found = rule_routes(ir)
    if found is None:
        category, product, service = ir.logsource
        where = ", ".join(f"{k}={v}" for k, v in
                          (("product", product), ("category", category), ("service", service)) if v)
        return issue_for(rule, f"no pipeline maps the log source ({where or 'empty'})",
                         "logsource")
    return PreparedRule(ir, found, anchor_groups(ir.condition))


def _referenced(rule: SigmaRule) -> bool:
    # correlation rules keep references to their base rules: map a copy, keep the original
    return bool(getattr(rule, "_backreferences", None))


def _reason(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    prefix = "Placeholder replacement variable '"
    if text.startswith(prefix):
        name = text[len(prefix):].split("'")[0]
        return f"placeholder %{name}% has no value: set rules.placeholders.{name} in soc.yml"
    return text
