"""The streaming detection engine: route, prefilter, evaluate, emit hits.

>>> engine = Engine.from_paths(["rules/", "/srv/sigma/rules"], placeholders={"Admins": ["adm*"]})
>>> hits = engine.match(event)          # list[Hit]
>>> engine.errors                       # list[RuleIssue]: every rule that cannot be used, and why
"""

from __future__ import annotations

import copy
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule

from soc.detection import cache
from soc.detection.build import BuiltRules, PreparedRule, build
from soc.detection.compiler import (
    CompileError,
    HitPlan,
    Predicate,
    compile_node,
    hit_plan,
    matched_fields,
)
from soc.detection.hits import Hit, severity
from soc.detection.loader import RuleIssue, content_digest, load_rules, rule_files
from soc.detection.pipelines import PIPELINE_DIR, fingerprint
from soc.detection.prefilter import Prefilter
from soc.detection.routing import ANY_WINDOWS, Source
from soc.detection.values import Folded
from soc.ecs import Event

MAX_BUCKETS = 50_000


@dataclass(slots=True)
class CompiledRule:
    prepared: PreparedRule
    predicate: Predicate
    plan: HitPlan | None = None  # what a hit reports, built at the rule's first hit


@dataclass
class LoadStats:
    """How the engine was built (for `soc rules check` and the benchmark)."""

    files: int = 0
    cached: bool = False
    seconds: float = 0.0
    rules: int = 0
    unusable: int = 0
    cache_file: str | None = None


@dataclass
class _Bucket:
    rules: tuple[int, ...]
    prefilter: Prefilter = field(repr=False)
    compiled: tuple[CompiledRule, ...] = field(repr=False, default=())  # bit i: compiled[i]


class Engine:
    """Sigma rules compiled into predicates, indexed by route and prefiltered by anchors."""

    def __init__(self, built: BuiltRules, *, paths: Iterable[str | Path] = ()) -> None:
        self._paths = [Path(p) for p in paths]
        self._built = built
        self._issues = list(built.issues)
        self._rules: list[CompiledRule] = []
        for prepared in built.rules:
            try:
                self._rules.append(CompiledRule(prepared, compile_node(prepared.ir.condition)))
            except CompileError as exc:
                ir = prepared.ir
                self._issues.append(RuleIssue(ir.path, ir.id, ir.title, str(exc), "compile"))
        self._index()
        self.stats = LoadStats(rules=len(self._rules), unusable=len(self._issues))

    def _index(self) -> None:
        """Route the rules; buckets are built again as events meet them."""
        self._by_route: dict[tuple[Source | None, str | None], list[int]] = {}
        for i, rule in enumerate(self._rules):
            for route in rule.prepared.routes:
                self._by_route.setdefault(route, []).append(i)
        self._buckets: dict[tuple[str | None, str | None, str | None], _Bucket] = {}
        self._by_raw: dict[tuple[str | None, str | None, str | None], _Bucket] = {}

    def without(self, rule_ids: Collection[str]) -> Engine:
        """This engine without the rules of ``rule_ids`` (the rules a tuning disables): neither
        routed nor evaluated. The compiled rules are shared; this engine is unchanged."""
        drop = [r for r in self._rules if r.prepared.ir.id in rule_ids]
        if not drop:
            return self
        engine = copy.copy(self)
        engine._rules = [r for r in self._rules if r.prepared.ir.id not in rule_ids]
        engine._index()
        engine.stats = replace(self.stats, rules=len(engine._rules))
        return engine

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path], *,
                   placeholders: Mapping[str, Iterable[str]] | None = None,
                   cache_dir: Path | None = None, use_cache: bool = True,
                   pipeline_dir: Path = PIPELINE_DIR) -> Engine:
        """Load every rule under ``paths``; reuse the cache when no rule or pipeline changed."""
        started = time.perf_counter()
        paths = [Path(p) for p in paths]
        files = rule_files(paths)
        key = cache.cache_key(content_digest(files), fingerprint(placeholders, pipeline_dir))
        directory = cache_dir if cache_dir is not None else cache.default_cache_dir()
        built = cache.read(directory, key) if use_cache else None
        hit = built is not None
        written = None
        if built is None:
            built = build(files, placeholders, pipeline_dir)
            if use_cache:
                written = cache.write(directory, key, built)
        engine = cls(built, paths=paths)
        engine.stats.files = len(files)
        engine.stats.cached = hit
        engine.stats.cache_file = str(written or cache.cache_path(directory, key)) \
            if use_cache else None
        engine.stats.seconds = time.perf_counter() - started
        return engine

    @property
    def errors(self) -> list[RuleIssue]:
        """Every rule or file that cannot be used, with its reason."""
        return list(self._issues)

    @property
    def rules(self) -> list[PreparedRule]:
        """The usable rules."""
        return [r.prepared for r in self._rules]

    @property
    def correlations(self) -> list[SigmaCorrelationRule]:
        """The correlation rules found (for the correlation stage), as pySigma objects."""
        if not self._built.correlations_kept:
            self._built.correlations = load_rules(self._paths).correlations
            self._built.correlations_kept = True
        return self._built.correlations

    def match(self, event: Event) -> list[Hit]:
        """Every rule that matches ``event``, in rule order."""
        f = Folded(event)
        bucket = self._bucket(f)
        if not bucket.rules:
            return []
        hits = []
        rules = bucket.compiled
        bits = bucket.prefilter.bits(f)
        while bits:  # candidates in rule order: the lowest bit first
            low = bits & -bits
            bits ^= low
            rule = rules[low.bit_length() - 1]
            if rule.predicate(f):
                hits.append(self._hit(rule, event, f))
        return hits

    def _hit(self, rule: CompiledRule, event: Event, f: Folded) -> Hit:
        ir = rule.prepared.ir
        if rule.plan is None:
            rule.plan = hit_plan(ir.condition)
        return Hit(rule_id=ir.id, title=ir.title, level=severity(ir.level), tags=ir.tags,
                   event=event, fields=matched_fields(ir.condition, f, rule.plan), path=ir.path)

    def _bucket(self, f: Folded) -> _Bucket:
        get = f.event.get
        raw = (get("winlog.channel"), get("event.dataset"), get("event.code"))
        try:  # the event's own values first: no casefolding for routes already seen
            bucket = self._by_raw.get(raw)
        except TypeError:  # a list
            bucket = None
        if bucket is not None:
            return bucket
        key = (_single(f["winlog.channel"]), _single(f["event.dataset"]),
               _single(f["event.code"]))
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._new_bucket(*key)
            if len(self._buckets) < MAX_BUCKETS:
                self._buckets[key] = bucket
        # only texts as raw keys: 1 == True == 1.0 in a dict, but their texts differ
        if all(v is None or v.__class__ is str for v in raw) and len(self._by_raw) < MAX_BUCKETS:
            self._by_raw[raw] = bucket
        return bucket

    def _new_bucket(self, channel: str | None, dataset: str | None,
                    code: str | None) -> _Bucket:
        sources: list[Source] = []
        if channel is not None:
            sources += [("winlog.channel", channel), ANY_WINDOWS]
        if dataset is not None:
            sources.append(("event.dataset", dataset))
        found: set[int] = set()
        for src in sources:
            for c in (code, None) if code is not None else (None,):
                found.update(self._by_route.get((src, c), ()))
        ids = tuple(sorted(found))
        return _Bucket(ids, Prefilter((i, self._rules[i].prepared.groups) for i in ids),
                       tuple(self._rules[i] for i in ids))


def _single(value: object) -> str | None:
    return value if isinstance(value, str) else None
