"""Indicators into and out of the store: merging each feed's word into the stored record,
expiring and removing by hand (``soc intel add|expire|remove``), and the live set matching uses.

The store persists whole :class:`~soc.intel.model.IndicatorRecord` s; the merge happens here,
once for both stores: a feed's new word replaces that feed's old one and leaves the other feeds'
context alone, and the record's summary (validity, confidence, TLP) is derived again. A feed
that says the same again only moves the end of validity its lifetime gives, and that is written
once a day at most; the ids to retro-hunt are those new to the store or live again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from soc.ecs import parse_ts
from soc.intel.model import Indicator, IndicatorRecord, indicator_id
from soc.stores.base import Store

BATCH = 2000
REFRESH = timedelta(days=1)
"""The least move of an indicator's end of validity worth a write when nothing else changed."""


@dataclass
class IngestReport:
    """What a pull or an import did to the stored indicators."""

    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    refreshed: int = 0  # the same word again, with a later end of validity
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, reason)
    changed: list[str] = field(default_factory=list)  # ids that are new, or live again: to hunt

    def to_dict(self) -> dict[str, object]:
        return {"read": self.read, "new": self.new, "updated": self.updated,
                "unchanged": self.unchanged, "refreshed": self.refreshed,
                "skipped": len(self.skipped),
                "skipped_examples": [{"what": w, "reason": r} for w, r in self.skipped[:20]]}


def ingest(store: Store, indicators: Iterable[Indicator], now: str,
           report: IngestReport | None = None) -> IngestReport:
    """Merge ``indicators`` into the store, in batches; within one call the last word of a
    feed on an indicator wins."""
    report = report if report is not None else IngestReport()
    batch: dict[tuple[str, str, str], Indicator] = {}
    for item in indicators:
        report.read += 1
        batch[(item.type, item.value, item.source)] = item
        if len(batch) >= BATCH:
            _merge(store, list(batch.values()), now, report)
            batch.clear()
    if batch:
        _merge(store, list(batch.values()), now, report)
    return report


def _merge(store: Store, items: Sequence[Indicator], now: str, report: IngestReport) -> None:
    stored = store.get_indicators({indicator_id(i.type, i.value) for i in items})
    touched: dict[str, IndicatorRecord] = {}
    for item in items:
        rid = indicator_id(item.type, item.value)
        record = touched.get(rid) or stored.get(rid)
        if record is None:
            touched[rid] = IndicatorRecord.first(item, now)
            report.new += 1
            report.changed.append(rid)
            continue
        old = record.sources.get(item.source)
        meaningful = old is None or replace(old, valid_until=None) != replace(
            item, valid_until=None)
        if not meaningful and not _extends(old, item):
            report.unchanged += 1
            continue
        was_live = record.live(now)
        record.sources[item.source] = item
        record.settle()
        if record.expired is not None and item.valid_until is not None \
                and item.valid_until > now and meaningful:
            record.expired = None  # a feed vouches for it anew: it matches again
        live_again = record.live(now) and not was_live
        if meaningful or live_again:
            record.updated = now
        touched[rid] = record
        if meaningful:
            report.updated += 1
        else:
            report.refreshed += 1
        if live_again:
            report.changed.append(rid)
    if touched:
        store.put_indicators(list(touched.values()))


def _extends(old: Indicator | None, item: Indicator) -> bool:
    """Whether a feed that says the same again moves the end of validity enough to be written:
    a list pulled every hour extends each entry's lifetime by an hour, which is written once a
    day (:data:`REFRESH`), not 24 times."""
    if old is None or old.valid_until == item.valid_until:
        return False
    if old.valid_until is None or item.valid_until is None:
        return True
    try:
        return abs(parse_ts(item.valid_until) - parse_ts(old.valid_until)) >= REFRESH
    except ValueError:
        return True


def expire(store: Store, ids: Collection[str], now: str) -> int:
    """Stop matching these indicators from ``now`` on (kept for history and sightings)."""
    records = store.get_indicators(ids)
    for record in records.values():
        record.expired = now
        record.updated = now
    if records:
        store.put_indicators(list(records.values()))
    return len(records)


def remove(store: Store, ids: Collection[str]) -> int:
    """Forget these indicators entirely."""
    return store.remove_indicators(ids)


def remove_source(store: Store, source: str, now: str) -> tuple[int, int]:
    """Take a feed's word off every indicator: records no other feed vouches for are removed,
    the others keep the rest. Returns (removed, updated)."""
    removed: list[str] = []
    kept: list[IndicatorRecord] = []
    for record in store.list_indicators(source=source):
        record.sources.pop(source, None)
        if record.sources:
            record.updated = now
            kept.append(record.settle())
        else:
            removed.append(record.id)
    if kept:
        for start in range(0, len(kept), BATCH):
            store.put_indicators(kept[start:start + BATCH])
    return (store.remove_indicators(removed) if removed else 0, len(kept))


def live(store: Store, now: str) -> Iterator[IndicatorRecord]:
    """The indicators that match at ``now``."""
    return store.list_indicators(live_at=now)
