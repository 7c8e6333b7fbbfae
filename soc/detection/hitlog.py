"""Where base-rule hits wait for their correlation windows: memory, and the store behind it.

Every live hit is kept in memory per correlation and group, oldest first (by time, then id:
:class:`GroupHits`), so evaluating a batch touches only the groups the batch brings and, when
hits arrive in time order, only the new hits: a group keeps the place where its last sweep
stopped (:class:`Sweep`). Pruning (the hits older than two timespans before the newest hit of a
batch, ``correlation.KEEP_SPANS``) bounds memory by timespan and group count.

:class:`StoreHitLog` mirrors the hits in the store's ``rule_hits`` so a window spans several
``soc collect`` passes: it reads a correlation's stored hits once, the first time this process
meets the correlation, and at :meth:`StoreHitLog.flush` writes the batch's new hits (one
``executemany``) and prunes what memory pruned (every :data:`PRUNE_INTERVAL` seconds at
most). The store copy is for the next process: two
processes writing the same store at once do not see each other's hits until they restart.
"""

from __future__ import annotations

import heapq
import math
import time
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Protocol

from soc.models import RuleHit
from soc.stores.base import Store

LATEST = "\uffff"  # sorts after every timestamp
PRUNE_INTERVAL = 10.0
"""Seconds between two prunes of the store's ``rule_hits`` by one process."""


class Counts(Protocol):
    """The incremental counts of a window (``correlation._Window``)."""

    ordered: bool  # temporal_ordered: chains remember the hits they started from

    def remove(self, hit: RuleHit) -> None: ...


@dataclass(slots=True)
class Sweep:
    """Where a group's last evaluation stopped: ``hits[:done]`` were seen, and ``counts`` hold
    ``hits[left:done]`` (the window of the last one)."""

    counts: Counts
    left: int
    done: int


hit_key: Callable[[RuleHit], tuple[str, str]] = attrgetter("ts", "id")
"""The order of hits in a window: time, then id."""
hit_ts: Callable[[RuleHit], str] = attrgetter("ts")
"""A hit's event time."""


class GroupHits:
    """The live hits of one group of one correlation, in :func:`hit_key` order."""

    __slots__ = ("by_id", "hits", "sweep")

    def __init__(self) -> None:
        self.hits: list[RuleHit] = []
        self.by_id: dict[str, RuleHit] = {}
        self.sweep: Sweep | None = None

    def add(self, new: list[RuleHit]) -> None:
        """Insert hits not kept yet; a sweep that saw hits past the insertion point is dropped."""
        new.sort(key=hit_key)
        hits = self.hits
        if hits and hit_key(new[0]) < hit_key(hits[-1]):
            at = bisect_left(hits, hit_key(new[0]), key=hit_key)
            if self.sweep is not None and at < self.sweep.done:
                self.sweep = None
            hits.extend(new)
            hits.sort(key=hit_key)
        else:
            hits.extend(new)
        self.by_id.update((h.id, h) for h in new)

    def drop(self, hit: RuleHit) -> None:
        """Forget one kept hit (replaced by another with its id)."""
        at = bisect_left(self.hits, hit_key(hit), key=hit_key)
        del self.hits[at]
        del self.by_id[hit.id]
        if self.sweep is not None and at < self.sweep.done:
            self.sweep = None

    def trim(self, before: str) -> int:
        """Forget the hits older than ``before`` (and take them out of the sweep's counts)."""
        k = bisect_left(self.hits, before, key=hit_ts)
        if not k:
            return 0
        removed = self.hits[:k]
        del self.hits[:k]
        for h in removed:
            del self.by_id[h.id]
        sweep = self.sweep
        if sweep is not None and sweep.counts.ordered and sweep.done:
            self.sweep = None  # a chain may start at a forgotten hit: sweep again
        elif sweep is not None:
            for h in removed[sweep.left:min(k, sweep.done)]:
                sweep.counts.remove(h)
            sweep.left, sweep.done = max(sweep.left - k, 0), max(sweep.done - k, 0)
        return k


class _CorrelationHits:
    """One correlation's groups, and a heap of (time, group) to find what to prune."""

    __slots__ = ("groups", "heap")

    def __init__(self) -> None:
        self.groups: dict[str, GroupHits] = {}
        self.heap: list[tuple[str, str]] = []

    def add(self, hits: Iterable[RuleHit]) -> list[RuleHit]:
        """Keep the hits not kept yet; returns them."""
        added: list[RuleHit] = []
        for key, by_id in self._fresh(hits).items():
            some = list(by_id.values())
            self.groups[key].add(some)
            added.extend(some)
            for h in some:
                heapq.heappush(self.heap, (h.ts, key))
        return added

    def _fresh(self, hits: Iterable[RuleHit]) -> dict[str, dict[str, RuleHit]]:
        """The hits to insert, by group and id. Of two hits with one id (a chained
        correlation's slot fed at two times), the earliest is kept, whichever came first."""
        fresh: dict[str, dict[str, RuleHit]] = {}
        groups = self.groups
        for h in hits:
            group = groups.get(h.group_key)
            if group is None:
                group = groups[h.group_key] = GroupHits()
            kept = group.by_id.get(h.id)
            if kept is not None and h.ts < kept.ts:
                group.drop(kept)
                kept = None
            if kept is None:
                mine = fresh.setdefault(h.group_key, {})
                known = mine.get(h.id)
                if known is None or h.ts < known.ts:
                    mine[h.id] = h
        return fresh

    def prune(self, before: str) -> int:
        removed = 0
        heap, groups = self.heap, self.groups
        while heap and heap[0][0] < before:
            _, key = heapq.heappop(heap)
            group = groups.get(key)
            if group is not None:
                removed += group.trim(before)
                if not group.hits:
                    del groups[key]
        return removed


class HitLog(Protocol):
    """Where base-rule hits wait for their windows (see the module's docstring)."""

    def add(self, hits: Sequence[RuleHit]) -> list[RuleHit]: ...

    def groups(self, correlation: str) -> Mapping[str, GroupHits]: ...

    def prune(self, correlation: str, before: str) -> None: ...

    def flush(self) -> None: ...


class MemoryHitLog:
    """Hits in memory only (``soc detect``, rule tests, hunts)."""

    def __init__(self) -> None:
        self._by_correlation: dict[str, _CorrelationHits] = {}

    def _of(self, correlation: str) -> _CorrelationHits:
        found = self._by_correlation.get(correlation)
        if found is None:
            found = self._by_correlation[correlation] = _CorrelationHits()
        return found

    def add(self, hits: Sequence[RuleHit]) -> list[RuleHit]:
        """Keep hits (idempotent on ``hit.id``); returns those not kept before."""
        by_correlation: dict[str, list[RuleHit]] = {}
        for h in hits:
            by_correlation.setdefault(h.correlation, []).append(h)
        return [h for c, some in by_correlation.items()
                for h in self._of(c).add(some)]

    def groups(self, correlation: str) -> Mapping[str, GroupHits]:
        """The live hits of a correlation, by group key."""
        return self._of(correlation).groups

    def window(self, correlation: str, groups: Collection[str], since: str,
               until: str) -> list[RuleHit]:
        """Hits of ``groups`` with ``since <= ts <= until``, oldest first."""
        kept = self._of(correlation).groups
        found = [h for g in groups if g in kept for h in kept[g].hits if since <= h.ts <= until]
        return sorted(found, key=hit_key)

    def prune(self, correlation: str, before: str) -> None:
        """Forget the hits of a correlation older than ``before``."""
        self._prune(correlation, before)

    def _prune(self, correlation: str, before: str) -> int:
        return self._of(correlation).prune(before)

    def flush(self) -> None:
        """Nothing to write."""

    def __len__(self) -> int:
        return sum(len(g.hits) for c in self._by_correlation.values() for g in c.groups.values())


class StoreHitLog(MemoryHitLog):
    """Hits in memory, mirrored in the store's ``rule_hits`` for the next pass."""

    def __init__(self, store: Store, *, prune_interval: float = PRUNE_INTERVAL) -> None:
        super().__init__()
        self.store = store
        self.prune_interval = prune_interval
        self._loaded: set[str] = set()
        self._pending: list[RuleHit] = []
        self._cuts: dict[str, str] = {}  # correlation → prune the store before this time
        self._pruned_at = -math.inf  # time.monotonic() of the last store prune

    def add(self, hits: Sequence[RuleHit]) -> list[RuleHit]:
        for correlation in {h.correlation for h in hits} - self._loaded:
            # every stored hit of the correlation, once: memory then mirrors the store
            super().add(self.store.hits(correlation, since="", until=LATEST))
            self._loaded.add(correlation)
        added = super().add(hits)
        self._pending.extend(added)
        return added

    def prune(self, correlation: str, before: str) -> None:
        if self._prune(correlation, before):
            self._cuts[correlation] = max(before, self._cuts.get(correlation, ""))

    def flush(self) -> None:
        """Write the new hits still in a window, and prune the store as memory was pruned (at
        most every ``prune_interval`` seconds: the hits a prune would delete are harmless meanwhile,
        a later process reads and forgets them, and a delete per correlation and batch was
        most of the store's cost at small batches).

        Should the store fail, memory is forgotten (the next batch reads the store again)."""
        cuts, pending = self._cuts, self._pending
        self._pending = []
        try:
            rows = [h for h in pending if h.ts >= cuts.get(h.correlation, "")]
            if rows:
                self.store.write_hits(rows)
            if cuts and time.monotonic() - self._pruned_at >= self.prune_interval:
                self._cuts = {}
                self._pruned_at = time.monotonic()
                for correlation, before in cuts.items():
                    self.store.prune_hits(correlation, before)
        except BaseException:
            self._by_correlation.clear()
            self._loaded.clear()
            raise
