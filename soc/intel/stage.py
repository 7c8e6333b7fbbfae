"""Matching as events stream: the pipeline stage that looks every event up in the live
indicators, before detection.

A matching event gets the ECS threat fields (:func:`soc.intel.enrich.annotate`), so Sigma rules
can select on ``threat.indicator.matched`` ("an IoC address AND a successful login"), and is
stored with them; each match becomes an ``intel-match`` finding (:mod:`soc.intel.findings`),
queued through the same tuning and suppression as every alert.

The index is built from the store's live indicators (type, value and validity:
:meth:`~soc.stores.base.Store.indicator_keys`; the whole record of a matched one is read when it
matches) when the stage first sees a batch, and again
when a pull or an import changed them (checked every :data:`CHECK_EVERY`) or one of them reached
its end of validity: a ``soc listen`` that runs for weeks matches what is live now. On a store
that versions its indicators (the embedded one), the index built is kept on disk for the next
pass (:mod:`soc.intel.index_cache`): a cron pass reads it back instead of building it again.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from soc.alerts import AlertSink, Finding
from soc.detection.gate import Clock, wall_clock
from soc.ecs import Event, format_ts
from soc.errors import StoreError
from soc.intel import index_cache
from soc.intel.enrich import annotate
from soc.intel.findings import intel_findings
from soc.intel.matcher import IndicatorIndex
from soc.intel.model import IndicatorRecord
from soc.stores.base import Store

log = logging.getLogger(__name__)

CHECK_EVERY = 60.0
"""Seconds between two looks at whether the stored indicators changed."""

Raise = Callable[[Sequence[Finding], Store], int]


class IntelStage:
    """The stage (see the module's docstring). ``raise_alerts`` is the detection stage's when
    there is one (the tuning applies), else findings go straight to the alert queue."""

    def __init__(self, *, clock: Clock | None = None, raise_alerts: Raise | None = None,
                 suppress: timedelta = timedelta(hours=1), cache: Path | None = None) -> None:
        self.clock = clock or wall_clock
        self.cache = cache  # where the built index is kept between passes, if anywhere
        self._version: str | None = None  # the store's indicators_version the index is of
        self._raise = raise_alerts
        self.suppress = suppress
        self.index: IndicatorIndex | None = None
        self._built_at = ""  # the clock's time when the index was built
        self._next_end: str | None = None  # the soonest end of validity among the live ones
        self._checked = 0.0
        self._store: Store | None = None
        self._records: dict[str, IndicatorRecord] = {}  # whole records of matched ones
        self.matched = 0

    def process(self, events: Sequence[Event], store: Store) -> int:
        index = self._index(store)
        if index is None or index.empty:
            return 0
        match = index.match
        hits = [(event, found) for event in events if (found := match(event))]
        if not hits:
            return 0
        whole = self._whole(store, {m.record.id for _, found in hits for m in found})
        findings: list[Finding] = []
        for event, found in hits:
            found = [m._replace(record=whole.get(m.record.id, m.record)) for m in found]
            annotate(event, found)
            findings += intel_findings(event, found)
        self.matched += len(findings)
        if self._raise is not None:
            return self._raise(findings, store)
        return len(AlertSink(store, suppress=self.suppress).raise_alerts(findings).new)

    def _whole(self, store: Store, ids: set[str]) -> dict[str, IndicatorRecord]:
        """The whole records (every feed's context) of matched indicators: the index holds
        type, value and validity only, which is what 100,000 indicators load quickly as."""
        missing = [i for i in ids if i not in self._records]
        if missing:
            try:
                self._records.update(store.get_indicators(missing))
            except StoreError as exc:
                log.warning("cannot read the context of matched indicators: %s", exc)
        return self._records

    def _index(self, store: Store) -> IndicatorIndex | None:
        now = format_ts(self.clock())
        if self.index is None or store is not self._store or self._stale(store, now):
            self._store = store
            self._build(store, now)
        return self.index

    def _stale(self, store: Store, now: str) -> bool:
        if self._next_end is not None and self._next_end <= now:
            return True
        if time.monotonic() - self._checked < CHECK_EVERY:
            return False
        self._checked = time.monotonic()
        try:
            if self._version is not None:  # removals too, which leave no changed record
                return store.indicators_version() != self._version
            # at or after: a change in the very millisecond of the build costs one more build
            return next(iter(store.list_indicators(changed_since=self._built_at)), None) \
                is not None
        except StoreError as exc:
            log.warning("cannot check the indicators for changes: %s", exc)
            return False

    def _build(self, store: Store, now: str) -> None:
        self._checked = time.monotonic()
        self._records = {}
        paused = gc.isenabled()
        gc.disable()  # 100,000 new records: the collector would walk them over and over
        try:
            version = store.indicators_version()
            cached = None
            if version is not None and self.cache is not None:
                cached = index_cache.load(self.cache, version, now)
            if cached is not None:  # its next end was kept with it: no walk of every record
                index, built_at, next_end = cached.index, cached.built_at, cached.next_end
            else:
                index = IndicatorIndex.build(store.indicator_keys(live_at=now), now)
                built_at, next_end = now, index.next_end(now)
                if version is not None and self.cache is not None:
                    index_cache.save(self.cache, version, built_at, index, next_end)
        except StoreError as exc:
            log.warning("threat-intel matching is off for now: %s", exc)
            self.index = IndicatorIndex.build((), now)
            self._version = None
            return
        finally:
            if paused:
                gc.enable()
        self.index = index
        if not index.empty:
            # the index is a few hundred thousand long-lived containers: out of the cyclic
            # collector's way, or every full collection of the pass walks them (a tenth of the
            # pass's time with 100,000 indicators); refcounting still frees what is dropped
            gc.freeze()
        self._version = version
        self._built_at = built_at
        self._next_end = next_end


def intel_stage(store: Store, *, clock: Callable[[], datetime] | None = None,
                raise_alerts: Raise | None = None,
                suppress: timedelta = timedelta(hours=1),
                cache: Path | None = None) -> IntelStage | None:
    """The stage, or None when the store keeps no indicators (a third-party store). ``cache``:
    where to keep the built index between passes (``<data_dir>/intel-index.cache``)."""
    if type(store).list_indicators is Store.list_indicators:
        return None
    return IntelStage(clock=clock, raise_alerts=raise_alerts, suppress=suppress, cache=cache)
