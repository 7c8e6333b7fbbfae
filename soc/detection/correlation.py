"""Sigma correlation rules over base-rule hits: event_count, value_count, temporal(_ordered).

Windows slide over **event time**. Each hit of a base rule that a correlation references is kept
(:class:`~soc.models.RuleHit`: correlation, rule, group-by values, event id and time, the counted
value) in a :class:`HitLog`: the store (:class:`StoreHitLog`, so a window spans several
``soc collect`` passes) or memory (:class:`MemoryHitLog`, for ``soc detect`` and rule tests).
When a batch brings new hits, every window that ends at a new hit, ``[t - timespan, t]``, is
evaluated per group; each one whose condition holds is a :class:`CorrelationMatch`. Hits older
than a correlation's timespan before the newest hit of a batch are pruned, so memory and the
``rule_hits`` table stay bounded.

A match names its window start (the first hit in the window): alert ids are built from it, so
re-reading the same events gives the same ids.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

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

from soc.detection.hits import Hit, severity
from soc.detection.loader import RuleIssue, issue_for, rule_path
from soc.detection.pipelines import PIPELINE_DIR, build_pipeline, strip_es_suffix
from soc.ecs import format_ts, parse_ts
from soc.models import ENTITY_FIELDS, RuleHit, Severity
from soc.stores.base import Store

SUPPORTED = ("event_count", "value_count", "temporal", "temporal_ordered")
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
    value_fields: tuple[str, ...] = ()  # value_count
    expression: Any = None  # temporal extended condition, references as rule ids
    generate: bool = False
    names: Mapping[str, str] = field(default_factory=dict)  # rule id → name or title

    def group_of(self, rule_id: str, event: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The group-by values of an event hit by ``rule_id``; None when one is missing."""
        fields = self.fields.get(rule_id, {})
        values = []
        for name in self.group_by:
            value = _text(event.get(fields.get(name, name)))
            if value is None:
                return None
            values.append(value)
        return tuple(values)

    def value_of(self, event: Mapping[str, Any]) -> str | None:
        """value_count: the counted value (several fields: joined)."""
        parts = [_text(event.get(f)) for f in self.value_fields]
        if any(p is None for p in parts):
            return None
        return "\x1f".join(p for p in parts if p is not None)

    def holds(self, n: int) -> bool:
        return bool(_OPS[self.op](n, self.count))


@dataclass(frozen=True)
class CorrelationMatch:
    """A window whose condition holds: the alert a correlation raises."""

    spec: CorrelationSpec
    group: dict[str, str]
    ts: str  # time of the hit that closed the window
    window_start: str  # time of the first hit in the window (anchors the alert id)
    trigger: str  # event id of the hit that closed the window
    contributing: tuple[tuple[str, str], ...]  # (event id, time) of hits in the window
    value: int  # the count the condition was evaluated on
    entity: dict[str, Any] = field(default_factory=dict)  # entity values all hits share
    event: dict[str, Any] | None = None  # the closing event, when it is in memory


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
    if kind == "value_count":
        ref = cond.fieldref
        names = ref if isinstance(ref, list) else [ref]
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


def _eval(expr: Any, present: Collection[str]) -> bool:
    kind, arg = expr
    if kind == "rule":
        return arg in present
    if kind == "not":
        return not _eval(arg[0], present)
    results = (_eval(a, present) for a in arg)
    return all(results) if kind == "and" else any(results)


def silent_rules(specs: Iterable[CorrelationSpec]) -> frozenset[str]:
    """Base rules whose own hits raise no alert: referenced by a correlation without
    ``generate: true`` (Sigma's default)."""
    return frozenset(r for s in specs if not s.generate for r in s.rules)


# --- where hits are kept ------------------------------------------------------------------------


class HitLog(Protocol):
    """Where base-rule hits wait for their windows."""

    def add(self, hits: Sequence[RuleHit]) -> None: ...

    def window(self, correlation: str, groups: Collection[str], since: str,
               until: str) -> list[RuleHit]: ...

    def prune(self, correlation: str, before: str) -> None: ...


class StoreHitLog:
    """Hits in the store's ``rule_hits``: windows span passes and processes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, hits: Sequence[RuleHit]) -> None:
        self.store.write_hits(hits)

    def window(self, correlation: str, groups: Collection[str], since: str,
               until: str) -> list[RuleHit]:
        return self.store.hits(correlation, since=since, until=until, groups=groups)

    def prune(self, correlation: str, before: str) -> None:
        self.store.prune_hits(correlation, before)


class MemoryHitLog:
    """Hits in memory (``soc detect``, rule tests, hunts), pruned like the store's."""

    def __init__(self) -> None:
        self._hits: dict[str, dict[str, dict[str, RuleHit]]] = {}

    def add(self, hits: Sequence[RuleHit]) -> None:
        for h in hits:
            self._hits.setdefault(h.correlation, {}).setdefault(h.group_key, {})[h.id] = h

    def window(self, correlation: str, groups: Collection[str], since: str,
               until: str) -> list[RuleHit]:
        by_group = self._hits.get(correlation, {})
        found = [h for g in groups for h in by_group.get(g, {}).values()
                 if since <= h.ts <= until]
        return sorted(found, key=lambda h: (h.ts, h.id))

    def prune(self, correlation: str, before: str) -> None:
        by_group = self._hits.get(correlation, {})
        for key in list(by_group):
            kept = {i: h for i, h in by_group[key].items() if h.ts >= before}
            if kept:
                by_group[key] = kept
            else:
                del by_group[key]

    def __len__(self) -> int:
        return sum(len(g) for c in self._hits.values() for g in c.values())


# --- evaluation ---------------------------------------------------------------------------------


class Correlator:
    """Feeds base-rule hits to correlation rules, batch by batch; yields matches.

    ``episodes=True`` (offline triage) reports a group once per episode: a window that still
    overlaps the last reported one is the same attack going on. With ``episodes=False`` (the
    store) every holding window is reported and the alert layer merges them.
    """

    def __init__(self, specs: Sequence[CorrelationSpec], log: HitLog, *,
                 episodes: bool = False) -> None:
        self.specs = list(specs)
        self.log = log
        self.episodes = episodes
        self._by_rule: dict[str, list[CorrelationSpec]] = {}
        for spec in self.specs:
            for rid in dict.fromkeys(spec.rules):
                self._by_rule.setdefault(rid, []).append(spec)
        self._last: dict[tuple[str, str], str] = {}  # episodes: (spec, group) → last match time
        self._fed: dict[tuple[str, str], str] = {}  # chains: (spec, group) → last match fed on
        self._gaps: dict[str, timedelta] = {}
        for spec in self.specs:
            for rid in spec.rules:
                gap = spec.span / 10
                self._gaps[rid] = min(self._gaps.get(rid, gap), gap)

    def process(self, hits: Iterable[Hit]) -> list[CorrelationMatch]:
        """Keep the hits the correlations need, then evaluate the windows they close.

        Specs run in order (referenced correlations first); the matches of one are hits for the
        correlations that reference it. With ``episodes``, a group's matches while its episode
        goes on are left out of the result (not out of the chain).
        """
        available = list(hits)
        events: dict[str, dict[str, Any]] = {}
        matches: list[CorrelationMatch] = []
        for spec in self.specs:
            wanted = set(spec.rules)
            batch: list[RuleHit] = []
            for hit in available:
                if hit.rule_id in wanted and (stored := _rule_hit(spec, hit)) is not None:
                    batch.append(stored)
                    events[stored.event_id] = hit.event
            if not batch:
                continue
            self.log.add(batch)
            found = self._evaluate(spec, batch, events)
            available.extend(_as_hit(m) for m in self._thin(spec, found))
            matches.extend(m for m in found if not self._repeat(m))
        return matches

    def _thin(self, spec: CorrelationSpec, found: list[CorrelationMatch]) -> list[CorrelationMatch]:
        """The matches a referencing correlation sees: at most one per group every tenth of
        the shortest timespan that references ``spec`` (a long attack would otherwise feed it
        one hit per event)."""
        gap = self._gaps.get(spec.id)
        if gap is None:
            return []
        out = []
        for m in found:
            key = (spec.id, json.dumps(m.group, sort_keys=True))
            last = self._fed.get(key)
            if last is None or m.ts >= _shift(last, gap) or m.ts < last:
                self._fed[key] = m.ts
                out.append(m)
        return out

    def _repeat(self, m: CorrelationMatch) -> bool:
        """episodes: whether the match goes on with the group's last reported one."""
        if not self.episodes:
            return False
        key = (m.spec.id, json.dumps(list(m.group.values()), ensure_ascii=False))
        last = self._last.get(key)
        self._last[key] = m.ts
        return last is not None and last >= _shift(m.ts, -m.spec.span)

    def _evaluate(self, spec: CorrelationSpec, batch: list[RuleHit],
                  events: Mapping[str, dict[str, Any]]) -> list[CorrelationMatch]:
        first, last = min(h.ts for h in batch), max(h.ts for h in batch)
        since = _shift(first, -spec.span)
        groups = {h.group_key for h in batch}
        window = self.log.window(spec.id, groups, since, last)
        fresh = {h.id for h in batch}
        by_group: dict[str, list[RuleHit]] = {}
        for h in window:
            by_group.setdefault(h.group_key, []).append(h)
        out: list[CorrelationMatch] = []
        for key in sorted(by_group):
            out.extend(self._sweep(spec, key, by_group[key], fresh, events))
        self.log.prune(spec.id, _shift(last, -spec.span))
        self._forget(spec, _shift(last, -spec.span))
        return out

    def _sweep(self, spec: CorrelationSpec, key: str, hits: list[RuleHit], fresh: set[str],
               events: Mapping[str, dict[str, Any]]) -> list[CorrelationMatch]:
        """Slide the window along one group's hits, evaluating it where a new hit closes it."""
        out: list[CorrelationMatch] = []
        window = _Window(spec)
        left = 0
        reported = 0  # hits before this index were named by an earlier match of this sweep
        for right, hit in enumerate(hits):
            window.add(hit)
            start = _shift(hit.ts, -spec.span)
            while hits[left].ts < start:
                window.remove(hits[left])
                left += 1
            if hit.id not in fresh or not window.holds(hits, left, right):
                continue
            n = window.count(hits, left, right)
            out.append(self._match(spec, key, hits, (left, right, max(left, reported)), n,
                                   events))
            reported = right + 1
        return out

    def _forget(self, spec: CorrelationSpec, before: str) -> None:
        for table in (self._last, self._fed):
            for k in [k for k, ts in table.items() if k[0] == spec.id and ts < before]:
                del table[k]

    @staticmethod
    def _match(spec: CorrelationSpec, key: str, hits: list[RuleHit], span: tuple[int, int, int],
               n: int, events: Mapping[str, dict[str, Any]]) -> CorrelationMatch:
        left, right, begin = span
        window = hits[left:right + 1]
        closing = hits[right]
        contributing = tuple(dict.fromkeys((h.event_id, h.ts) for h in hits[begin:right + 1]))
        return CorrelationMatch(
            spec=spec, group=dict(zip(spec.group_by, json.loads(key), strict=True)),
            ts=closing.ts, window_start=window[0].ts, trigger=closing.event_id,
            contributing=contributing, value=n,
            entity=_shared(hits[begin:right + 1]), event=events.get(closing.event_id))


class _Window:
    """Incremental counts of the hits in a window (added in time order)."""

    def __init__(self, spec: CorrelationSpec) -> None:
        self.spec = spec
        self.events: Counter[str] = Counter()
        self.values: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        # temporal_ordered: chain[k] = latest start time of hits matching rules[:k] in order
        self.chain: list[str | None] = [None] * (len(spec.rules) + 1)

    def add(self, h: RuleHit) -> None:
        self.events[h.event_id] += 1
        self.rules[h.rule_id] += 1
        if h.value is not None:
            self.values[h.value] += 1
        if self.spec.type == "temporal_ordered":
            rules, chain = self.spec.rules, self.chain
            for k in range(len(rules) - 1, -1, -1):  # backwards: a hit fills one step only
                if rules[k] == h.rule_id:
                    start = h.ts if k == 0 else chain[k]
                    if start is not None and start > (chain[k + 1] or ""):
                        chain[k + 1] = start

    def remove(self, h: RuleHit) -> None:
        for counter, key in ((self.events, h.event_id), (self.rules, h.rule_id),
                             (self.values, h.value)):
            if key is not None:
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]

    def holds(self, hits: list[RuleHit], left: int, right: int) -> bool:
        spec = self.spec
        if spec.expression is not None:
            return _eval(spec.expression, self.rules)
        return spec.holds(self.count(hits, left, right))

    def count(self, hits: list[RuleHit], left: int, right: int) -> int:
        """The number the condition compares, for the window ``hits[left:right + 1]``."""
        kind = self.spec.type
        if kind == "event_count":
            return len(self.events)
        if kind == "value_count":
            return len(self.values)
        if kind == "temporal":
            return len(self.rules)
        start = hits[left].ts  # temporal_ordered: the longest chain that starts in the window
        return max(k for k, ts in enumerate(self.chain) if k == 0 or (ts or "") >= start)


def _as_hit(m: CorrelationMatch) -> Hit:
    """A match as a hit of its correlation, for the correlations that reference it."""
    s = m.spec
    event = {**m.entity, **m.group, "@timestamp": m.ts,
             "event.id": digest_id(s.id, json.dumps(m.group, sort_keys=True), m.window_start),
             "event.kind": "alert", "rule.id": s.id, "rule.name": s.title}
    return Hit(rule_id=s.id, title=s.title, level=s.level, tags=s.tags, event=event,
               path=s.path)


def digest_id(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _rule_hit(spec: CorrelationSpec, hit: Hit) -> RuleHit | None:
    event = hit.event
    group = spec.group_of(hit.rule_id, event)
    event_id, ts = event.get("event.id"), event.get("@timestamp")
    if group is None or not event_id or not ts:
        return None
    value = spec.value_of(event) if spec.type == "value_count" else None
    if spec.type == "value_count" and value is None:
        return None
    key = json.dumps(list(group), ensure_ascii=False)
    hid = digest_id(spec.id, hit.rule_id, str(event_id))
    entity = {f: v for f in ENTITY_FIELDS if (v := _text(event.get(f))) is not None}
    return RuleHit(id=hid, correlation=spec.id, rule_id=hit.rule_id, group_key=key,
                   event_id=str(event_id), ts=str(ts), value=value, entity=entity)


def _shared(window: Sequence[RuleHit]) -> dict[str, Any]:
    """The entity values every hit of the window has in common."""
    if not window:
        return {}
    common = dict(window[0].entity)
    for h in window[1:]:
        common = {k: v for k, v in common.items() if h.entity.get(k) == v}
    return common


@functools.lru_cache(maxsize=1 << 16)
def _shift(ts: str, delta: timedelta) -> str:
    return format_ts(parse_ts(ts) + delta)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple):
        items = [str(v) for v in value if v is not None]
        return ",".join(items) if items else None
    return str(value)
