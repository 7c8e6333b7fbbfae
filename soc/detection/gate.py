"""The tuning (:mod:`soc.tuning`) applied to hits and findings, and the hits kept below the queue.

:class:`TuningGate` applies the tuning in force at its clock's time, at two places:

* to the engine's **hits**, before correlations count them: the hits of a disabled rule, and the
  hits an exception covers (the scanner's failed logins), never count towards a correlation;
* to every **finding**, between the producers (rules, correlations, and any other producer of
  findings) and :class:`~soc.alerts.AlertSink`: the findings of a disabled rule or correlation and
  those an exception covers are dropped, and those below ``min_level`` are kept as hits instead of
  alerts. A correlation's finding is matched on its closing event, then its group and entity.

Below-level findings are kept in the store's ``rule_hits`` (where correlations keep their base
hits) under the key :data:`BELOW` instead of a correlation id: one row per finding and event (the
rule id, the level as ``value``, the title as ``entity["rule.name"]``, the entity), written again
as a no-op (the id is a digest of rule and event), pruned past the longest retention. The base
hits themselves still feed correlations. ``soc rules hits`` lists them, and ``soc hunt`` over the
stored events finds them again.

The gate works out the tuning in force once, and again only when an entry expires, so the cost
per hit is a set lookup and the conditions of the rule's exceptions.
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from soc.alerts import Finding, digest
from soc.detection.hitlog import LATEST
from soc.detection.hits import Hit
from soc.models import RuleHit
from soc.stores.base import Store
from soc.tuning import RuleException, Tuning

__all__ = ["BELOW", "LATEST", "Routed", "TuningGate", "below", "below_hits", "below_row",
           "keep_below", "prune_below", "tuning_notes"]

BELOW = "@below-min-level"
"""The ``rule_hits`` key (the correlation column) of findings below ``rules.tuning.min_level``."""

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Routed:
    """Findings after the tuning: alerts to raise, hits to keep below the queue, and how many
    were dropped (by a disabled rule, by an exception)."""

    alerts: list[Finding] = field(default_factory=list)
    below: list[Finding] = field(default_factory=list)
    disabled: int = 0
    excepted: int = 0


class TuningGate:
    """The tuning in force at ``clock()`` applied to hits and findings."""

    def __init__(self, tuning: Tuning, clock: Clock | None = None) -> None:
        self.tuning = tuning
        self.clock = clock or wall_clock
        self._valid_until: datetime | None = None
        self._ready = False
        self._disabled: frozenset[str] = frozenset()
        self._by_rule: dict[str, list[RuleException]] = {}
        self._global: list[RuleException] = []
        self._floor = -1
        self.dropped = 0  # hits and findings dropped so far (disabled rules, exceptions)

    def _refresh(self) -> None:
        """Work out what is in force now, unless nothing expired since the last time."""
        now = self.clock()
        if self._ready and (self._valid_until is None or now < self._valid_until):
            return
        active = self.tuning.in_force(now)
        self._disabled = active.disabled_ids(now)
        self._by_rule, self._global = {}, []
        for exc in active.exceptions:
            if exc.rule is None:
                self._global.append(exc)
            else:
                self._by_rule.setdefault(exc.rule, []).append(exc)
        self._floor = active.min_level.rank if active.min_level is not None else -1
        self._valid_until, self._ready = self.tuning.next_change(now), True

    def disabled(self) -> frozenset[str]:
        """The rules that do not run now."""
        self._refresh()
        return self._disabled

    def excepted(self, rule_id: str, fields: Mapping[str, Any]) -> RuleException | None:
        """The exception in force that covers a finding of ``rule_id`` on ``fields``, if any."""
        for exc in self._by_rule.get(rule_id, ()):
            if exc.matches(fields):
                return exc
        for exc in self._global:
            if exc.matches(fields):
                return exc
        return None

    def hits(self, hits: list[Hit]) -> list[Hit]:
        """The hits that count: not of a disabled rule, not covered by an exception."""
        if self.tuning.empty or not hits:
            return hits
        self._refresh()
        disabled = self._disabled
        kept = [h for h in hits
                if h.rule_id not in disabled and self.excepted(h.rule_id, h.event) is None]
        self.dropped += len(hits) - len(kept)
        return kept

    def route(self, findings: Iterable[Finding]) -> Routed:
        """Findings to alerts, to hits below the queue, or dropped."""
        out = Routed()
        if self.tuning.empty:
            out.alerts = list(findings)
            return out
        self._refresh()
        for f in findings:
            if f.rule_id in self._disabled:
                out.disabled += 1
            elif self.excepted(f.rule_id, finding_fields(f)) is not None:
                out.excepted += 1
            elif f.severity.rank < self._floor:
                out.below.append(f)
            else:
                out.alerts.append(f)
        self.dropped += out.disabled + out.excepted
        return out


def finding_fields(f: Finding) -> Mapping[str, Any]:
    """What an exception is matched on: the finding's event, then its group and entity (a
    correlation's finding may have no event in memory)."""
    return ChainMap(f.event or {}, f.group, f.entity)


# --- below the queue: kept as hits --------------------------------------------------------------


def below_hits(findings: Iterable[Finding]) -> list[RuleHit]:
    """The rows that keep below-level findings (one per finding and triggering event)."""
    rows: dict[str, RuleHit] = {}
    for f in findings:
        entity = {**f.entity, "rule.name": f.title}
        group = json.dumps(list(f.group.values()), ensure_ascii=False, default=str)
        for event_id, ts in f.triggers:
            hid = digest(BELOW, f.rule_id, event_id)
            rows[hid] = RuleHit(id=hid, correlation=BELOW, rule_id=f.rule_id, group_key=group,
                                event_id=event_id, ts=ts, value=f.severity.value, entity=entity)
    return list(rows.values())


def keep_below(store: Store, findings: Sequence[Finding]) -> int:
    """Write below-level findings as hits; returns how many were new."""
    rows = below_hits(findings)
    return store.write_hits(rows) if rows else 0


def prune_below(store: Store, before: str) -> int:
    """Forget the below-level hits older than ``before``."""
    return store.prune_hits(BELOW, before)


def below(store: Store, *, since: str = "", until: str = LATEST,
          rule: str | None = None, limit: int | None = None) -> list[RuleHit]:
    """The kept below-level hits in ``[since, until]`` (of ``rule``), newest first."""
    found = [h for h in store.hits(BELOW, since=since, until=until)
             if rule is None or h.rule_id == rule]
    found.reverse()
    return found[:limit] if limit else found


def below_row(hit: RuleHit) -> dict[str, Any]:
    """A kept hit as a table row."""
    e = hit.entity
    return {"timestamp": hit.ts, "level": hit.value, "rule_id": hit.rule_id,
            "title": e.get("rule.name", ""), "host": e.get("host.name"),
            "user": e.get("user.name"), "source_ip": e.get("source.ip"),
            "event_id": hit.event_id}


# --- what a tuning means for the loaded rules ----------------------------------------------------


def tuning_notes(tuning: Tuning, rules: Iterable[str],
                 correlations: Mapping[str, Sequence[str]], now: datetime) -> list[str]:
    """Warnings about a tuning against the loaded rules (ids) and correlations (id → the
    rules it counts): entries naming no loaded rule (a typo, or another producer's id), and
    correlations that cannot fire because a rule they count is disabled."""
    known = set(rules) | set(correlations)
    notes = [f"{kind} {rid}: no loaded rule or correlation has this id" for kind, rid in
             [("disabled", d.rule) for d in tuning.disabled]
             + [(f"exception {e.id}", e.rule) for e in tuning.exceptions if e.rule]
             if rid not in known]
    off = tuning.disabled_ids(now)
    for cid, counted in correlations.items():
        lost = [r for r in counted if r in off]
        if lost and cid not in off:
            notes.append(f"correlation {cid} counts the disabled rule {lost[0]}: it gets no "
                         "hits from it (disable the correlation too, or use an exception)")
    return notes
