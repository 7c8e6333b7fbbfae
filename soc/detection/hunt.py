"""Rules over events that are not flowing through ``soc collect``: files and stored history.

* :func:`scan_files` (``soc detect``): offline triage. Files of any format the collectors know
  (EVTX, line formats with auto-detection, JSON lines) are read with in-memory checkpoints,
  parsed and matched batch by batch; correlations run in memory. Nothing is stored; memory stays
  flat in the input size. Findings stream out as they are found, through the tuning when given
  (what ``soc collect`` would queue).
* :func:`hunt` (``soc hunt``): the given rules over stored history. A store that runs rule
  queries (Elasticsearch, :class:`RuleQueryStore`) gets each rule's own query and the events it
  returns are confirmed by the in-process matcher; any other store is searched once with the
  rules' log sources and every event goes through the matcher. Alerts go to the store with the
  same deterministic ids and suppression as live detection, so a hunt never doubles a live
  alert; a store that cannot keep alerts gets its findings listed instead. With a tuning, a hunt
  treats findings as live detection does: disabled rules and exceptions drop them, and those
  below ``min_level`` are kept as hits (:mod:`soc.detection.gate`), not queued.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, runtime_checkable

from soc import registry
from soc.alerts import AlertSink, Finding, SinkResult
from soc.config import Config, Source
from soc.detection.correlation import CorrelationSpec, Correlator, MemoryHitLog
from soc.detection.correlation_rules import rule_id_of
from soc.detection.gate import TuningGate, keep_below
from soc.detection.hits import Hit
from soc.detection.passthrough import device_findings
from soc.detection.routing import ANY_WINDOWS
from soc.detection.stage import (
    Detector,
    config_detector,
    load_detector,
    rule_sources,
    suppress_window,
)
from soc.ecs import Event, parse_ts
from soc.errors import NotFoundError, SocError, StoreError
from soc.models import Alert, Severity
from soc.pipeline.collect import INGEST_PREFIX, ingest_sources, registry_check_parser
from soc.pipeline.parsing import get_parser
from soc.pipeline.pipeline import Pipeline
from soc.state import StateStore
from soc.stores.base import Store
from soc.tuning import Tuning

if TYPE_CHECKING:
    from soc.intel.matcher import IndicatorIndex
    from soc.stores.es.hunt import HuntQuery

BATCH = 2000
EVTX_MAGIC = b"ElfFile\x00"
MAX_QUERY_CLAUSES = 200  # past this a hunt reads every event (the matcher routes anyway)


# --- soc detect ---------------------------------------------------------------------------------


@dataclass
class ScanReport:
    """What an offline scan read and found."""

    files: int = 0
    events: int = 0
    dead_letters: int = 0
    skipped: int = 0
    findings: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tuned: int = 0  # hits and findings the tuning dropped (disabled rules, exceptions)
    below: int = 0  # findings below rules.tuning.min_level

    def summary(self) -> str:
        tuning = (f"{self.tuned} dropped by the tuning, " if self.tuned else "") + (
            f"{self.below} below min_level, " if self.below else "")
        return (f"{self.files} file(s), {self.events} event(s), {self.findings} finding(s), "
                f"{tuning}{self.dead_letters} unparsed record(s), {len(self.errors)} error(s) "
                f"in {self.seconds:.2f}s")


def offline_detector(config: Config, rules: Sequence[str | Path] = ()) -> Detector:
    """Rules for offline work: ``rules`` when given, else rules/ plus ``rules.paths``; the rule
    cache under the data directory only when a config file names one."""
    if config.path is None:
        return load_detector(rule_sources(config, rules), placeholders=config.rules.placeholders)
    return config_detector(config, rules)


def read_events(config: Config, paths: Sequence[str], *, fmt: str | None = None,
                report: ScanReport | None = None) -> Iterator[list[Event]]:
    """Parsed, enriched events of files, batch by batch, with in-memory checkpoints: any
    format ``soc ingest`` reads. A file that fails is counted in ``report.errors``."""
    report = report if report is not None else ScanReport()
    if fmt:
        registry_check_parser(fmt)
    sources = [_evtx_aware(s) for s in ingest_sources(paths, fmt)]
    report.files += len(sources)
    state = StateStore(Path(":memory:"))  # checkpoints that vanish with the scan
    # parse_batch needs the config and inventory only; nothing is written anywhere
    pipeline = Pipeline(config, cast(Store, None), state)
    try:
        for source in sources:
            try:
                yield from _read_source(config, pipeline, source, report)
            except (SocError, OSError) as exc:
                report.errors.append(f"{source.name.removeprefix(INGEST_PREFIX)}: {exc}")
    finally:
        state.close()


def _evtx_aware(source: Source) -> Source:
    """EVTX files go to the evtx collector even while it cannot sniff them itself."""
    if source.type != "file" or "evtx" not in registry.available("collector"):
        return source
    try:
        with open(source.name.removeprefix(INGEST_PREFIX), "rb") as fh:
            magic = fh.read(len(EVTX_MAGIC))
    except OSError:
        return source
    return replace(source, type="evtx", options=MappingProxyType({})) if magic == EVTX_MAGIC \
        else source


def _read_source(config: Config, pipeline: Pipeline, source: Source,
                 report: ScanReport) -> Iterator[list[Event]]:
    collector = registry.load("collector", source.type)(source, pipeline.state, config)
    parser = get_parser(source.parser)
    for batch in collector.batches(BATCH):
        use = get_parser(batch.parser) if batch.parser and source.parser == "auto" else parser
        events, dead, skipped = pipeline.parse_batch(batch, use, source)
        report.events += len(events)
        report.dead_letters += len(dead) + len(batch.dead_letters)
        report.skipped += skipped
        yield events
        collector.commit(batch)


def scan_files(config: Config, paths: Sequence[str], detector: Detector, *,
               fmt: str | None = None, min_level: Severity | None = None,
               report: ScanReport | None = None,
               tuning: Tuning | None = None,
               intel: IndicatorIndex | None = None) -> Iterator[Finding]:
    """Findings in files, streamed in file and time order (nothing is stored); through
    ``tuning`` when given (findings below its ``min_level`` are counted, not listed). With
    ``intel`` (the store's live indicators), events are looked up in it first, as in
    ``soc collect``: its threat fields are there for the rules, and each match is a finding."""
    report = report if report is not None else ScanReport()
    started = time.perf_counter()
    gate = TuningGate(tuning or Tuning())
    detector = detector.without(gate.disabled())
    correlator = Correlator(detector.specs, MemoryHitLog(), episodes=True)
    floor = min_level.rank if min_level is not None else -1
    try:
        for events in read_events(config, paths, fmt=fmt, report=report):
            matched = intel_matches(intel, events) if intel is not None else []
            findings = detector.findings(gate.hits(detector.match(events)), correlator)
            findings += matched
            if config.rules.device_alerts:  # what the devices raised themselves
                findings += device_findings(events)
            for finding in _tuned(gate, findings, report):
                if finding.severity.rank >= floor:
                    report.findings += 1
                    yield finding
    finally:
        report.seconds = time.perf_counter() - started


def intel_matches(index: IndicatorIndex, events: Sequence[Event]) -> list[Finding]:
    """The ``intel-match`` findings of ``events``, each matching event annotated."""
    from soc.intel.enrich import annotate
    from soc.intel.findings import intel_findings

    out: list[Finding] = []
    if index.empty:
        return out
    for event in events:
        found = index.match(event)
        if found:
            annotate(event, found)
            out += intel_findings(event, found)
    return out


def _tuned(gate: TuningGate, findings: list[Finding], report: ScanReport) -> list[Finding]:
    routed = gate.route(findings)
    report.tuned = gate.dropped
    report.below += len(routed.below)
    return routed.alerts


# --- soc hunt -----------------------------------------------------------------------------------


@dataclass
class HuntReport:
    """What a hunt read and raised."""

    rules: list[str] = field(default_factory=list)
    query: str | None = "*"  # the pre-filter of a search; None when each rule sends its own
    rule_queries: int = 0  # rules whose own query the store ran
    events: int = 0
    hits: int = 0
    findings: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # per rule: events not confirmed
    skipped: list[dict[str, str]] = field(default_factory=list)  # rules not hunted, and why
    new: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    alerts_error: str | None = None  # why alerts could not be stored (findings listed instead)
    unstored: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    disabled: list[str] = field(default_factory=list)  # chosen rules the tuning disables
    tuned: int = 0  # hits and findings the tuning dropped (disabled rules, exceptions)
    below: int = 0  # findings below rules.tuning.min_level, kept as hits

    def to_dict(self) -> dict[str, object]:
        return {"rules": self.rules, "query": self.query, "rule_queries": self.rule_queries,
                "events": self.events, "hits": self.hits, "findings": self.findings,
                "disabled": self.disabled, "tuned": self.tuned, "below": self.below,
                "rejected": self.rejected, "skipped": self.skipped,
                "new_alerts": [a.id for a in self.new],
                "updated_alerts": [a.id for a in self.updated],
                "alerts_error": self.alerts_error, "unstored": self.unstored,
                "seconds": round(self.seconds, 3)}


@runtime_checkable
class RuleQueryStore(Protocol):
    """A store that runs each rule's own query (the Elasticsearch store): the cluster does the
    matching; the events it returns are confirmed by the in-process matcher."""

    def hunt(self, rule: HuntQuery, *, since: datetime | None = None,
             until: datetime | None = None, limit: int | None = None) -> Iterator[Event]: ...


def select(config: Config, selectors: Sequence[str]) -> tuple[Detector, set[str]]:
    """The detector and the selected rule ids for ``soc hunt RULE...`` (ids, files or dirs)."""
    paths = [s for s in selectors if Path(s).exists()]
    ids = [s for s in selectors if not Path(s).exists()]
    if not ids:
        detector = load_detector(paths, placeholders=config.rules.placeholders)
        chosen = {r.ir.id for r in detector.engine.rules} | {s.id for s in detector.specs}
        return detector, chosen
    detector = config_detector(config, [*rule_sources(config), *paths] if paths else ())
    known = {r.ir.id for r in detector.engine.rules} | {s.id for s in detector.specs}
    missing = [i for i in ids if i not in known]
    if missing:
        raise NotFoundError(f"no usable rule with id {', '.join(missing)}",
                            hint="List rules with 'soc rules list'; unusable ones with "
                                 "'soc rules check'. Files and folders are accepted too.")
    chosen = set(ids)
    for p in map(Path, paths):
        chosen |= {r.ir.id for r in detector.engine.rules if Path(r.ir.path).is_relative_to(p)}
    return detector, chosen


def needed_specs(detector: Detector, chosen: set[str]) -> list[CorrelationSpec]:
    """The chosen correlations and those they reference, in evaluation order."""
    needed = set(chosen)
    for spec in reversed(detector.specs):  # referenced ones come first: walk back
        if spec.id in needed:
            needed.update(spec.rules)
    return [s for s in detector.specs if s.id in needed]


def hunt_query(detector: Detector, chosen: set[str]) -> str:
    """A query for the events the chosen rules (and their correlations' rules) can match."""
    needed = _feeding(chosen, needed_specs(detector, chosen))
    clauses: set[str] = set()
    for rule in detector.engine.rules:
        if rule.ir.id not in needed:
            continue
        for source, code in rule.routes:
            if source is None or source == ANY_WINDOWS:
                return "*"
            clause = f'{source[0]}:"{_quote(source[1])}"'
            clauses.add(f'({clause} AND event.code:"{_quote(code)}")' if code else clause)
    if not clauses or len(clauses) > MAX_QUERY_CLAUSES:
        return "*"
    return " OR ".join(sorted(clauses))


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def hunt(config: Config, store: Store, selectors: Sequence[str], *,
         since: datetime | None = None, until: datetime | None = None,
         tuning: Tuning | None = None) -> HuntReport:
    """Run rules over stored events in [since, until); alerts are stored (deduplicated).

    A store that runs rule queries (:class:`RuleQueryStore`) gets each rule's own query and
    the events it returns are confirmed in-process; any other store is searched once with the
    rules' log sources. Either way the matcher's hits give the findings and alerts, so both
    stores raise the same alerts for the same events. With ``tuning``, the findings go through
    it as live detection's do."""
    started = time.perf_counter()
    detector, chosen = select(config, selectors)
    gate = TuningGate(tuning or Tuning())
    report = HuntReport(rules=sorted(chosen), disabled=sorted(chosen & gate.disabled()))
    specs = needed_specs(detector, chosen)
    feeding = _feeding(chosen, specs)
    batches: Iterator[list[Hit]]
    if isinstance(store, RuleQueryStore):
        report.query = None
        queries, specs = _usable(rule_queries(config, detector, feeding), specs, report)
        feeding = _feeding(chosen, specs)  # without the correlations that lost a rule
        queries = [q for q in queries if q.rule_id in feeding]
        batches = _hits_by_rule(store, detector, queries, report, since=since, until=until)
    else:
        report.query = hunt_query(detector, chosen)
        batches = _hits_by_search(store, detector, report, since=since, until=until)
    correlator = Correlator(specs, MemoryHitLog())
    alerts = _Alerts(AlertSink(store, suppress=suppress_window(config)), report)
    for batch in batches:
        hits = gate.hits([h for h in batch if h.rule_id in feeding])
        report.hits += len(hits)
        findings = [Finding.from_hit(h) for h in hits if h.rule_id in chosen]
        findings += [Finding.from_match(m) for m in correlator.process(hits)
                     if m.spec.id in chosen]
        alerts.take(_routed(gate, findings, store, report))
    report.seconds = time.perf_counter() - started
    return report


def _routed(gate: TuningGate, findings: list[Finding], store: Store,
            report: HuntReport) -> list[Finding]:
    """The findings to raise; those below the queue kept as hits (as long as the store can)."""
    routed = gate.route(findings)
    report.tuned = gate.dropped
    report.below += len(routed.below)
    if routed.below and report.alerts_error is None:
        try:
            keep_below(store, routed.below)
        except StoreError as exc:
            report.alerts_error = exc.message
    return routed.alerts


def _feeding(chosen: set[str], specs: Sequence[CorrelationSpec]) -> set[str]:
    """The rules whose hits a hunt needs: the chosen ones and their correlations' rules."""
    return chosen | {r for s in specs for r in s.rules}


def rule_queries(config: Config, detector: Detector, ids: Collection[str]) -> list[HuntQuery]:
    """The Elasticsearch query of each detection rule in ``ids``, in the engine's order
    (conversion failures carry their reason). Needs no cluster."""
    from soc.detection.loader import load_rules
    from soc.stores.es.hunt import HuntQuery, hunt_queries

    wanted = [r.ir for r in detector.engine.rules if r.ir.id in ids]
    loaded = load_rules(sorted({ir.path for ir in wanted}))  # pySigma objects: the engine
    rules = {rule_id_of(r): r for r in loaded.rules}  # keeps compiled rules only
    converted = {q.rule_id: q for q in
                 hunt_queries([rules[ir.id] for ir in wanted if ir.id in rules],
                              config.rules.placeholders)}
    return [converted.get(ir.id) or HuntQuery(ir.id, ir.title, None, None,
                                              error="cannot read the rule from its file again")
            for ir in wanted]


def _usable(queries: list[HuntQuery], specs: list[CorrelationSpec],
            report: HuntReport) -> tuple[list[HuntQuery], list[CorrelationSpec]]:
    """Rules with a query, and the correlations all of whose rules have one; the others are
    listed in ``report.skipped`` with their reason."""
    lost = {q.rule_id for q in queries if q.query is None}
    report.skipped += [{"rule_id": q.rule_id, "title": q.title, "reason": q.error or "no query"}
                       for q in queries if q.query is None]
    kept = []
    for spec in specs:  # referenced correlations come first
        missing = [r for r in spec.rules if r in lost]
        if not missing:
            kept.append(spec)
            continue
        lost.add(spec.id)
        report.skipped.append({"rule_id": spec.id, "title": spec.title,
                               "reason": f"its rule {missing[0]} has no query"})
    return [q for q in queries if q.query is not None], kept


def _hits_by_search(store: Store, detector: Detector, report: HuntReport, *,
                    since: datetime | None, until: datetime | None) -> Iterator[list[Hit]]:
    """One search with the rules' log sources, every event through the matcher."""
    events = store.search(report.query or "*", since=since, until=until, limit=None,
                          order="asc")
    for batch in _chunks(events, BATCH):
        report.events += len(batch)
        yield detector.match(batch)


def _hits_by_rule(store: RuleQueryStore, detector: Detector, queries: Sequence[HuntQuery],
                  report: HuntReport, *, since: datetime | None,
                  until: datetime | None) -> Iterator[list[Hit]]:
    """One query per rule; their events merged in time order (as one search would return
    them, each once) and confirmed: a rule's hit counts only on an event its query found."""
    report.rule_queries = len(queries)
    streams = [_tagged(store.hunt(q, since=since, until=until), q.rule_id) for q in queries]
    for batch in _chunks(_merged(streams), BATCH):
        report.events += len(batch)
        hits: list[Hit] = []
        for event, fetched in batch:
            confirmed = [h for h in detector.engine.match(event) if h.rule_id in fetched]
            hits += confirmed
            for rid in fetched.difference(h.rule_id for h in confirmed):
                report.rejected[rid] = report.rejected.get(rid, 0) + 1
        yield hits


Tagged = tuple[tuple[str, str], str, Event]


def _tagged(events: Iterable[Event], rule_id: str) -> Iterator[Tagged]:
    for e in events:
        yield (str(e.get("@timestamp", "")), str(e.get("event.id", ""))), rule_id, e


def _merged(streams: Sequence[Iterator[Tagged]]) -> Iterator[tuple[Event, frozenset[str]]]:
    """Streams sorted by (@timestamp, event.id) as one stream: each event once, with the
    rules whose query found it."""
    merged = heapq.merge(*streams, key=operator.itemgetter(0))
    for _, group in itertools.groupby(merged, key=operator.itemgetter(0)):
        found = list(group)
        yield found[0][2], frozenset(rid for _, rid, _ in found)


class _Alerts:
    """Findings to alerts; when the store cannot keep them (or stops), findings are listed in
    the report instead, so that what the hunt read is never lost."""

    def __init__(self, sink: AlertSink, report: HuntReport) -> None:
        self.sink, self.report = sink, report
        self.episodes: dict[str, tuple[str, datetime, datetime]] = {}  # dedup: id, first, last

    def take(self, findings: list[Finding]) -> None:
        self.report.findings += len(findings)
        if not findings:
            return
        if self.report.alerts_error is None:
            try:
                result = self.sink.raise_alerts(findings)
            except StoreError as exc:
                self.report.alerts_error = exc.message
            else:
                self._record(result)
                return
        self.report.unstored += [{**finding_row(f), "alert_id": self._alert_id(f)}
                                 for f in sorted(findings, key=lambda f: f.ts)]

    def _record(self, result: SinkResult) -> None:
        """Each alert once in the report, in its latest state: new when this hunt raised it
        (in any batch), updated otherwise. So the report does not depend on how the events
        were batched (the Elasticsearch store pages them per rule)."""
        new = {a.id: a for a in self.report.new}
        updated = {a.id: a for a in self.report.updated}
        for alert in result.new:
            new[alert.id] = alert
        for alert in result.updated:
            (new if alert.id in new else updated)[alert.id] = alert
        self.report.new, self.report.updated = list(new.values()), list(updated.values())

    def _alert_id(self, f: Finding) -> str:
        """The id of the alert the finding would raise or update: :class:`AlertSink`'s
        episodes (a repeat within the suppression window), without earlier stored alerts."""
        ts, window = parse_ts(f.ts), self.sink.suppress
        episode = self.episodes.get(f.dedup)
        if episode is not None and episode[1] - window <= ts <= episode[2] + window:
            episode = (episode[0], min(episode[1], ts), max(episode[2], ts))
        else:
            episode = (f.alert_id, min(ts, parse_ts(f.anchor)), ts)
        self.episodes[f.dedup] = episode
        return episode[0]


def finding_row(f: Finding) -> dict[str, Any]:
    """A finding without its event: what it is, its events and its alert id."""
    return {"rule_id": f.rule_id, "title": f.title, "level": f.severity.value,
            "timestamp": f.ts, "kind": f.kind, "entity": f.entity,
            "events": [eid for eid, _ in f.links], "alert_id": f.alert_id}


def query_rows(config: Config, selectors: Sequence[str], *, since: datetime | None = None,
               until: datetime | None = None) -> list[dict[str, Any]]:
    """``soc hunt --show-queries``: the query each rule (and each rule of a chosen
    correlation) would send to Elasticsearch, with the request body for the window."""
    detector, chosen = select(config, selectors)
    queries = rule_queries(config, detector, _feeding(chosen, needed_specs(detector, chosen)))
    return [q.to_dict(since, until) for q in queries]


T = TypeVar("T")


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
