"""Sigma correlation rules over base-rule hits: event_count, value_count, value_sum,
temporal(_ordered).

Windows slide over **event time**. Each hit of a base rule that a correlation references is kept
(:class:`~soc.models.RuleHit`: correlation, rule, group-by values, event id and time, the counted
value) in a :class:`HitLog`: the store (:class:`StoreHitLog`, so a window spans several
``soc collect`` passes) or memory (:class:`MemoryHitLog`, for ``soc detect`` and rule tests).
When a batch brings new hits, every window ``[t - timespan, t]`` that ends at the time *t* of a
new hit (holding every hit of that time, whichever pass brought it) is evaluated per group, and so
is every window a late hit joins (those ending within a timespan after it); each one whose
condition holds is a :class:`CorrelationMatch` (a group with fewer hits than a holding window
needs, :func:`least_hits`, is not evaluated: none can hold). So the windows, and the hits they
link, are the same however the input is cut into batches and passes. Hits older than
:data:`KEEP_SPANS` timespans before the newest hit of a batch are pruned, so memory and the
``rule_hits`` table stay bounded, and a hit up to one timespan late still finds every hit of its
windows.

A match names its window start (the first hit in the window): alert ids are built from it, so
re-reading the same events gives the same ids.
"""

from __future__ import annotations

import functools
import hashlib
import json
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from soc.detection.correlation_rules import (
    CorrelationSpec,
    compile_correlations,
    expression_holds,
    field_text,
    rule_id_of,
    silent_rules,
)
from soc.detection.hitlog import (
    GroupHits,
    HitLog,
    MemoryHitLog,
    StoreHitLog,
    Sweep,
    hit_key,
    hit_ts,
)
from soc.detection.hits import Hit
from soc.ecs import format_ts, parse_ts
from soc.models import ENTITY_FIELDS, RuleHit

__all__ = ["CorrelationMatch", "CorrelationSpec", "Correlator", "HitLog", "MemoryHitLog",
           "StoreHitLog", "compile_correlations", "rule_id_of", "silent_rules"]

KEEP_SPANS = 2
"""Hits are kept this many timespans before the newest hit of a batch: a hit that arrives up to
one timespan older than the newest (another source read later in the pass, the next pass of a
lagging host) still finds every hit of the windows it joins. Older hits are evaluated against
what is left."""


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
    slot: str = ""  # feeds a chain: the start of its slot (the chained hit's id is built on it)


# --- evaluation ---------------------------------------------------------------------------------


class Correlator:
    """Feeds base-rule hits to correlation rules, batch by batch; yields matches.

    Keep one correlator for a stream of batches: the hits of open windows stay in its log's
    memory, and a group whose hits arrive in time order is evaluated from where its last sweep
    stopped. ``episodes=True`` (offline triage) reports a group once per episode: a window that
    still overlaps the last reported one is the same attack going on. With ``episodes=False``
    (the store) every holding window is reported and the alert layer merges them. The matches
    of the ``quiet`` correlations (those that only feed others, see :func:`silent_rules`) are
    built only when a referencing correlation sees them: the first match of a group in each
    slot of a tenth of the timespan (slots on the clock, so the chained hits are the same
    whichever pass saw them first).
    """

    def __init__(self, specs: Sequence[CorrelationSpec], log: HitLog, *,
                 episodes: bool = False, quiet: Collection[str] = ()) -> None:
        self.specs = list(specs)
        self.log = log
        self.episodes = episodes
        self.quiet = frozenset(quiet)
        self._wanted = {s.id: frozenset(s.rules) for s in self.specs}
        self._last: dict[tuple[str, str], str] = {}  # episodes: (spec, group) → last match time
        self._fed: dict[tuple[str, str, str], str] = {}  # chains: (spec, group, slot) → fed at
        self._gaps: dict[str, timedelta] = {}
        self._least = {s.id: least_hits(s) for s in self.specs}
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
        entities: dict[int, dict[str, str]] = {}  # id(event) → its entity fields
        matches: list[CorrelationMatch] = []
        for spec in self.specs:
            batch = self._rule_hits(spec, available, events, entities)
            if not batch:
                continue
            self.log.add(batch)
            found = self._evaluate(spec, batch, events)
            available.extend(_as_hit(m) for m in found if m.slot)
            matches.extend(m for m in found if not self._repeat(m))
        self.log.flush()
        return matches

    def _rule_hits(self, spec: CorrelationSpec, available: list[Hit],
                   events: dict[str, dict[str, Any]],
                   entities: dict[int, dict[str, str]]) -> list[RuleHit]:
        """The hits ``spec`` keeps, as rule hits (their events noted by id)."""
        wanted = self._wanted[spec.id]
        batch: list[RuleHit] = []
        for hit in available:
            if hit.rule_id in wanted and (stored := _rule_hit(spec, hit, entities)) is not None:
                batch.append(stored)
                events[stored.event_id] = hit.event
        return batch

    def _feeds(self, spec: CorrelationSpec, group: str, ts: str) -> str:
        """The slot in which the match of ``group`` at ``ts`` feeds the correlations referencing
        ``spec``, or "" when it does not: the earliest match of each slot (a tenth of the shortest
        referencing timespan, on the clock) does, so a long attack feeds one hit per slot, not
        one per event. The chained hit's id is built on the slot: a slot fed again by a later
        pass is the same hit (the earliest is kept)."""
        gap = self._gaps.get(spec.id)
        if gap is None:
            return ""
        slot = _slot(ts, gap)
        key = (spec.id, group, slot)
        fed = self._fed.get(key)
        if fed is None or ts < fed:
            self._fed[key] = ts
            return slot
        return ""

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
        """Sweep every group the batch brings, in group order; prune.
        Returns the matches (those that feed the correlations referencing ``spec`` name their
        slot). A group with fewer kept hits than a holding window needs (:func:`least_hits`)
        is not swept: most groups of a burst rule (a 404 per client) never get there."""
        news = _by_group(batch)
        kept = self.log.groups(spec.id)
        quiet = spec.id in self.quiet
        least = self._least[spec.id]
        horizon = _shift(max(h.ts for h in batch), -spec.span * KEEP_SPANS)
        self._forget(spec, horizon)
        out: list[CorrelationMatch] = []
        fresh: set[str] = set()
        for group in sorted(news):
            hits = kept[group]
            if len(hits.hits) < least:  # no window holds yet; once one may, sweep afresh
                hits.sweep = None
                continue
            fresh = fresh or {h.id for h in batch}  # built once, when a group is swept
            new = news[group]
            sweeper = _Sweeper(spec, group, hits, fresh, events)
            for closing in sweeper.run(min(map(hit_key, new)), max(map(hit_key, new))):
                slot = self._feeds(spec, group, hits.hits[closing[1]].ts)
                if slot or not quiet:
                    out.append(sweeper.match(*closing, slot=slot))
        self.log.prune(spec.id, horizon)
        return out

    def _forget(self, spec: CorrelationSpec, before: str) -> None:
        _drop_older(self._last, spec.id, before)
        _drop_older(self._fed, spec.id, before)


class _Sweeper:
    """Slides the window along one group's hits, evaluating it where a new hit closes it."""

    def __init__(self, spec: CorrelationSpec, key: str, group: GroupHits, fresh: set[str],
                 events: Mapping[str, dict[str, Any]]) -> None:
        self.spec, self.key, self.group = spec, key, group
        self.fresh, self.events = fresh, events

    def _resume(self, first: tuple[str, str], end: int) -> Sweep:
        """The last sweep's place when it saw only hits before ``first``, else a new one from
        the window of ``first`` (earlier hits cannot be in any window a new hit closes)."""
        hits, sweep = self.group.hits, self.group.sweep
        if sweep is not None and sweep.done <= end and (
                sweep.done == 0 or hit_key(hits[sweep.done - 1]) < first):
            return sweep
        start = bisect_left(hits, _shift(first[0], -self.spec.span), key=hit_ts)
        sweep = self.group.sweep = Sweep(_Window(self.spec), start, start)
        return sweep

    def run(self, first: tuple[str, str],
            final: tuple[str, str]) -> list[tuple[int, int, int, int]]:
        """The windows new hits change where the condition holds, as
        (left, right, first hit not named yet, count); the place is kept for the next batch.

        A window ends after the last hit of its time (hits of one second are all in it, in
        whichever batch or pass they came), and is evaluated when a new hit is in it: one of
        its time, or a late one at most a timespan before (``reach``). The sweep stops past the
        last of those (the next batch goes on from there)."""
        hits, fresh, span = self.group.hits, self.fresh, self.spec.span
        end = len(hits)  # kept hits after a late one end windows it joins
        sweep = self._resume(first, end)
        window, left = cast(_Window, sweep.counts), sweep.left
        out: list[tuple[int, int, int, int]] = []
        reported = 0  # hits before this index were named by an earlier match of this sweep
        reach = ""  # windows ending up to this time hold a new hit
        for right in range(sweep.done, end):
            hit = hits[right]
            ts = hit.ts
            if ts > reach and (ts, hit.id) > final:
                end = right  # no window after this one holds a new hit
                break
            window.add(hit)
            if hit.id in fresh:  # in time order: the newest reaches furthest
                reach = _shift(ts, span)
            if ts > reach or (right + 1 < end and hits[right + 1].ts == ts):
                continue
            start = _shift(ts, -span)
            while hits[left].ts < start:
                window.remove(hits[left])
                left += 1
            if (n := window.holding(hits, left)) is not None:
                out.append((left, right, max(left, reported), n))
                reported = right + 1
        sweep.left, sweep.done = left, end
        return out

    def match(self, left: int, right: int, begin: int, n: int, *,
              slot: str = "") -> CorrelationMatch:
        """The match of the window ``hits[left:right + 1]`` (naming the hits from ``begin``).
        One that feeds a chain (``slot``) shares the entity of the whole window, so the chained
        hit is the same whatever earlier matches named."""
        spec, hits = self.spec, self.group.hits
        closing, named = hits[right], hits[begin:right + 1]
        return CorrelationMatch(
            spec=spec, group=dict(zip(spec.group_by, _group_values(self.key), strict=True)),
            ts=closing.ts, window_start=hits[left].ts, trigger=closing.event_id,
            contributing=tuple(dict.fromkeys((h.event_id, h.ts) for h in named)), value=n,
            entity=_shared(hits[left:right + 1] if slot else named), event=self._event(right),
            slot=slot)

    def _event(self, right: int) -> dict[str, Any] | None:
        """The event of the last hit of the window's time that is in memory (the closing hit
        may be one an earlier pass stored)."""
        hits, events = self.group.hits, self.events
        ts = hits[right].ts
        while right >= 0 and hits[right].ts == ts:
            if (event := events.get(hits[right].event_id)) is not None:
                return event
            right -= 1
        return None


class _Window:
    """Incremental counts of the hits in a window (added in time order).

    temporal_ordered: log times of one second cannot order two hits (the window holds them in
    id order), so the hits of the latest second are chained in the order of the correlation's
    rules when the window is evaluated: a login logged in the second the brute force reached its
    count follows it, whichever of the two came first."""

    def __init__(self, spec: CorrelationSpec) -> None:
        self.spec = spec
        self.events: dict[str, int] = {}
        self.values: dict[str, int] = {}
        self.rules: dict[str, int] = {}
        self.total = 0  # value_sum: the sum over the window's distinct events
        self.summed = spec.type == "value_sum"
        self.ordered = spec.type == "temporal_ordered"
        # temporal_ordered: chain[k] = latest start time of hits matching rules[:k] in order
        self.chain: list[str | None] = [None] * (len(spec.rules) + 1)
        self._second = ""  # the latest second added, its hits, and the chain before them
        self._tied: list[RuleHit] = []
        self._before: list[str | None] = list(self.chain)
        self._dirty = False
        self._rank = {r: k for k, r in reversed(list(enumerate(spec.rules)))}

    def add(self, h: RuleHit) -> None:
        events, rules = self.events, self.rules
        seen = events.get(h.event_id, 0)
        events[h.event_id] = seen + 1
        rules[h.rule_id] = rules.get(h.rule_id, 0) + 1
        value = h.value
        if value is not None:
            if not self.summed:
                self.values[value] = self.values.get(value, 0) + 1
            elif not seen:  # an event two rules match is summed once
                self.total += int(value)
        if self.ordered:
            self._tie(h)

    def _tie(self, h: RuleHit) -> None:
        """Note a hit of the latest second (the second before is settled first)."""
        if h.ts != self._second:
            self._settle()
            self._second, self._tied, self._before = h.ts, [], list(self.chain)
        self._tied.append(h)
        self._dirty = True

    def _settle(self) -> None:
        """Chain the latest second's hits from the chain before it, in the rules' order."""
        if self._dirty:
            self.chain = list(self._before)
            for h in sorted(self._tied, key=lambda t: self._rank[t.rule_id]):
                self._chain(h)
            self._dirty = False

    def _chain(self, h: RuleHit) -> None:
        rules, chain = self.spec.rules, self.chain
        for k in range(len(rules) - 1, -1, -1):  # backwards: a hit fills one step only
            if rules[k] == h.rule_id:
                start = h.ts if k == 0 else chain[k]
                if start is not None and start > (chain[k + 1] or ""):
                    chain[k + 1] = start

    def remove(self, h: RuleHit) -> None:
        _dec(self.events, h.event_id)
        _dec(self.rules, h.rule_id)
        value = h.value
        if value is not None:
            if not self.summed:
                _dec(self.values, value)
            elif h.event_id not in self.events:  # its last hit left the window
                self.total -= int(value)

    def holding(self, hits: list[RuleHit], left: int) -> int | None:
        """The count of the window starting at ``hits[left]`` when its condition holds."""
        spec = self.spec
        n = self.count(hits, left)
        if spec.expression is not None:
            return n if expression_holds(spec.expression, self.rules) else None
        return n if spec.holds(n) else None

    def count(self, hits: list[RuleHit], left: int) -> int:
        """The number the condition compares, for the window starting at ``hits[left]``."""
        kind = self.spec.type
        if kind == "event_count":
            return len(self.events)
        if kind == "value_count":
            return len(self.values)
        if kind == "value_sum":
            return self.total
        if kind == "temporal":
            return len(self.rules)
        self._settle()
        start = hits[left].ts  # temporal_ordered: the longest chain that starts in the window
        return max(k for k, ts in enumerate(self.chain) if k == 0 or (ts or "") >= start)


COUNTS_HITS = frozenset({"event_count", "value_count", "temporal", "temporal_ordered"})
"""The types whose count never exceeds the hits in the window (distinct events, values or
rules, the steps of an ordered chain)."""


def least_hits(spec: CorrelationSpec) -> int:
    """The fewest kept hits a group needs before a window of ``spec`` can hold (0: no bound).
    Below it, evaluating the group's windows is skipped: none can hold, so the matches are
    those of a full sweep."""
    return spec.floor() if spec.type in COUNTS_HITS else 0


def _by_group(batch: list[RuleHit]) -> dict[str, list[RuleHit]]:
    """The hits of a batch by group key."""
    out: dict[str, list[RuleHit]] = {}
    for h in batch:
        same = out.get(h.group_key)
        if same is None:
            out[h.group_key] = [h]
        else:
            same.append(h)
    return out


def _drop_older(table: dict[Any, str], spec: str, before: str) -> None:
    """Forget the entries of ``spec`` (keys start with its id) noted before ``before``."""
    for k in [k for k, ts in table.items() if k[0] == spec and ts < before]:
        del table[k]


def _dec(counts: dict[str, int], key: str) -> None:
    n = counts[key] - 1
    if n:
        counts[key] = n
    else:
        del counts[key]


def _as_hit(m: CorrelationMatch) -> Hit:
    """A match as a hit of its correlation, for the correlations that reference it."""
    s = m.spec
    event = {**m.entity, **m.group, "@timestamp": m.ts,
             "event.id": digest_id(s.id, json.dumps(m.group, sort_keys=True), m.slot),
             "event.kind": "alert", "rule.id": s.id, "rule.name": s.title}
    return Hit(rule_id=s.id, title=s.title, level=s.level, tags=s.tags, event=event,
               path=s.path)


def digest_id(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


VALUED = frozenset({"value_count", "value_sum"})
"""The types whose hits carry the value of the condition's field (a hit without it does not
count; value_sum also needs an integer)."""


def _rule_hit(spec: CorrelationSpec, hit: Hit,
              entities: dict[int, dict[str, str]]) -> RuleHit | None:
    event = hit.event
    group = spec.group_of(hit.rule_id, event)
    event_id, ts = event.get("event.id"), event.get("@timestamp")
    if group is None or not event_id or not ts:
        return None
    value = spec.value_of(event) if spec.type in VALUED else None
    if spec.type in VALUED and value is None:
        return None
    hid = digest_id(spec.id, hit.rule_id, str(event_id))
    entity = entities.get(id(event))
    if entity is None:  # shared by the hits of one event (never changed)
        entity = entities[id(event)] = _entity(event)
    return RuleHit(id=hid, correlation=spec.id, rule_id=hit.rule_id, group_key=_group_key(group),
                   event_id=str(event_id), ts=str(ts), value=value, entity=entity)


_json_text = json.encoder.encode_basestring  # one text as json.dumps(ensure_ascii=False) writes it


def _group_key(group: tuple[str, ...]) -> str:
    """``json.dumps(list(group), ensure_ascii=False)`` (the key the store keeps), built from
    the texts directly: one per hit, and most groups of a burst rule are new (no cache helps)."""
    return "[" + ", ".join(map(_json_text, group)) + "]"


def _entity(event: Mapping[str, Any]) -> dict[str, str]:
    """The event's entity fields as text (:func:`field_text`), plain texts without a call."""
    out: dict[str, str] = {}
    get = event.get
    for name in ENTITY_FIELDS:
        value = get(name)
        if value.__class__ is str:
            if value:
                out[name] = value
        elif value is not None and (text := field_text(value)) is not None:
            out[name] = text
    return out


@functools.lru_cache(maxsize=1 << 14)
def _group_values(key: str) -> tuple[str, ...]:
    return tuple(json.loads(key))


def _shared(window: Sequence[RuleHit]) -> dict[str, Any]:
    """The entity values every hit of the window has in common."""
    if not window:
        return {}
    seen = window[0].entity
    common = dict(seen)
    for h in window[1:]:
        entity = h.entity
        if entity is seen or entity == seen:  # the hits of one event share theirs
            continue
        seen = entity
        common = {k: v for k, v in common.items() if entity.get(k) == v}
        if not common:
            break
    return common


@functools.lru_cache(maxsize=1 << 16)
def _shift(ts: str, delta: timedelta) -> str:
    return format_ts(parse_ts(ts) + delta)


@functools.lru_cache(maxsize=1 << 14)
def _slot(ts: str, size: timedelta) -> str:
    """The start of the slot of ``size`` (counted from the epoch) that holds ``ts``."""
    step = size.total_seconds()
    start = parse_ts(ts).timestamp() // step * step
    return format_ts(datetime.fromtimestamp(start, UTC))


