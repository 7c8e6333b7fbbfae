"""Rules over events that are not flowing through ``soc collect``: files and stored history.

* :func:`scan_files` (``soc detect``): offline triage. Files of any format the collectors know
  (EVTX, line formats with auto-detection, JSON lines) are read with in-memory checkpoints,
  parsed and matched batch by batch; correlations run in memory. Nothing is stored; memory stays
  flat in the input size. Findings stream out as they are found.
* :func:`hunt` (``soc hunt``): the given rules over stored history (``store.search`` restricted
  to the rules' log sources, then the in-process matcher); alerts go to the store with the same
  deterministic ids and suppression as live detection, so a hunt never doubles a live alert.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import cast

from soc import registry
from soc.alerts import AlertSink, Finding
from soc.collect import INGEST_PREFIX, ingest_sources, registry_check_parser
from soc.config import Config, Source
from soc.detection.correlation import CorrelationSpec, Correlator, MemoryHitLog
from soc.detection.routing import ANY_WINDOWS
from soc.detection.stage import (
    Detector,
    config_detector,
    load_detector,
    rule_sources,
    suppress_window,
)
from soc.ecs import Event
from soc.errors import NotFoundError, SocError
from soc.models import Alert, Severity
from soc.parsing import get_parser
from soc.pipeline import Pipeline
from soc.state import StateStore
from soc.stores.base import Store

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

    def summary(self) -> str:
        return (f"{self.files} file(s), {self.events} event(s), {self.findings} finding(s), "
                f"{self.dead_letters} unparsed record(s), {len(self.errors)} error(s) "
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
    return replace(source, type="evtx") if magic == EVTX_MAGIC else source


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
               report: ScanReport | None = None) -> Iterator[Finding]:
    """Findings in files, streamed in file and time order (nothing is stored)."""
    report = report if report is not None else ScanReport()
    started = time.perf_counter()
    correlator = Correlator(detector.specs, MemoryHitLog(), episodes=True)
    floor = min_level.rank if min_level is not None else -1
    try:
        for events in read_events(config, paths, fmt=fmt, report=report):
            for finding in detector.findings(detector.match(events), correlator):
                if finding.severity.rank >= floor:
                    report.findings += 1
                    yield finding
    finally:
        report.seconds = time.perf_counter() - started


# --- soc hunt -----------------------------------------------------------------------------------


@dataclass
class HuntReport:
    """What a hunt read and raised."""

    rules: list[str] = field(default_factory=list)
    query: str = "*"
    events: int = 0
    hits: int = 0
    new: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"rules": self.rules, "query": self.query, "events": self.events,
                "hits": self.hits, "new_alerts": [a.id for a in self.new],
                "updated_alerts": [a.id for a in self.updated],
                "seconds": round(self.seconds, 3)}


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
    needed = chosen | {r for s in needed_specs(detector, chosen) for r in s.rules}
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
         since: datetime | None = None, until: datetime | None = None) -> HuntReport:
    """Run rules over stored events in [since, until); alerts are stored (deduplicated)."""
    started = time.perf_counter()
    detector, chosen = select(config, selectors)
    report = HuntReport(rules=sorted(chosen), query=hunt_query(detector, chosen))
    specs = needed_specs(detector, chosen)
    feeding = chosen | {r for s in specs for r in s.rules}
    correlator = Correlator(specs, MemoryHitLog())
    sink = AlertSink(store, suppress=suppress_window(config))
    events = store.search(report.query, since=since, until=until, limit=None, order="asc")
    for batch in _chunks(events, BATCH):
        report.events += len(batch)
        hits = [h for h in detector.match(batch) if h.rule_id in feeding]
        report.hits += len(hits)
        findings = [Finding.from_hit(h) for h in hits if h.rule_id in chosen]
        findings += [Finding.from_match(m) for m in correlator.process(hits)
                     if m.spec.id in chosen]
        result = sink.raise_alerts(findings)
        report.new += result.new
        report.updated += result.updated
    report.seconds = time.perf_counter() - started
    return report


def _chunks(items: Iterable[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
