"""Detection as a pipeline stage: rules loaded once per process, hits → correlations → alerts.

:func:`detection_stage` is what ``soc collect``, ``soc ingest`` and ``soc demo`` run on every batch
(see :mod:`soc.pipeline.pipeline`): each event meets the engine, the hits of rules that correlations
reference are kept in the store (``rule_hits``) for their windows, and the findings become alerts
(:class:`soc.alerts.AlertSink`) before the batch's events are written and its checkpoint moves.

Rules come from the project's ``rules/`` (:func:`project_rules_dir`) and ``rules.paths``. The
tuning (``rules.tuning`` merged with the data directory's tuning file, :mod:`soc.tuning_file`) is
read once per process: its disabled rules are left out of the engine, and its exceptions and
minimum level apply to hits and findings through one :class:`~soc.detection.gate.TuningGate`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from soc.alerts import DEFAULT_SUPPRESS, AlertSink, Finding
from soc.content import content_dir
from soc.detection.correlation import (
    CorrelationSpec,
    Correlator,
    StoreHitLog,
    compile_correlations,
    silent_rules,
)
from soc.detection.engine import Engine
from soc.detection.gate import Clock, TuningGate, keep_below, prune_below
from soc.detection.hits import Hit
from soc.detection.loader import RuleIssue, rule_files
from soc.detection.passthrough import device_findings
from soc.ecs import Event, format_ts
from soc.stores.base import Store
from soc.tuning import Tuning
from soc.tuning_file import effective_tuning

if TYPE_CHECKING:
    from soc.config import Config

log = logging.getLogger(__name__)


def project_rules_dir() -> Path | None:
    """The project's own ``rules/`` (see :func:`soc.content.content_dir`), if installed."""
    found = content_dir("rules")
    return found if found.is_dir() else None


def rule_sources(config: Config | None, extra: Sequence[str | Path] = ()) -> list[Path]:
    """The rule paths to load: ``extra`` when given, else ``rules/`` plus ``rules.paths``."""
    if extra:
        return [Path(p) for p in extra]
    found: list[Path] = []
    project = project_rules_dir()
    if project is not None:
        found.append(project)
    if config is not None:
        found.extend(config.rules.paths)
    return found


@dataclass
class Detector:
    """An engine and its correlations: everything needed to turn events into findings."""

    engine: Engine
    specs: list[CorrelationSpec]
    correlation_issues: list[RuleIssue]
    silent: frozenset[str]  # base rules that only feed correlations (no ``generate``)

    @property
    def issues(self) -> list[RuleIssue]:
        """Every rule or file that cannot be used, with its reason."""
        return [*self.engine.errors, *self.correlation_issues]

    @property
    def empty(self) -> bool:
        return not self.engine.rules and not self.specs

    def without(self, rule_ids: frozenset[str]) -> Detector:
        """This detector with the rules of ``rule_ids`` left out of its engine (a tuning's
        disabled rules); its correlations stay (their findings are dropped by the gate)."""
        engine = self.engine.without(rule_ids)
        return self if engine is self.engine else replace(self, engine=engine)

    def match(self, events: Iterable[Event]) -> list[Hit]:
        match = self.engine.match
        return [h for e in events for h in match(e)]

    def findings(self, hits: Sequence[Hit], correlator: Correlator) -> list[Finding]:
        """Alerts-to-be: hits of rules that generate alerts, then correlation matches."""
        out = [Finding.from_hit(h) for h in hits if h.rule_id not in self.silent]
        if self.specs:
            out.extend(Finding.from_match(m) for m in correlator.process(hits)
                       if m.spec.id not in self.silent)
        return out


_CACHE: dict[tuple[object, ...], Detector] = {}
KEEP_BELOW = timedelta(days=400)
"""How long findings below ``rules.tuning.min_level`` are kept as hits, unless the stage is told
(:func:`below_window`: the longest retention, so they never outlive the events they name)."""


def load_detector(paths: Sequence[str | Path], *,
                  placeholders: Mapping[str, Iterable[str]] | None = None,
                  cache_dir: Path | None = None, use_cache: bool = True) -> Detector:
    """Load (once per process for the same rule files) the engine and its correlations."""
    files = rule_files(paths)
    frozen = tuple(sorted((k, tuple(v)) for k, v in (placeholders or {}).items()))
    # a rule file edited while a process runs (soc listen) is seen; the cache dir changes nothing
    key = (tuple((f, _mtime(f)) for f in files), frozen, use_cache)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    engine = Engine.from_paths(files, placeholders=placeholders, cache_dir=cache_dir,
                               use_cache=use_cache)
    usable = {r.ir.id for r in engine.rules}
    specs, issues = compile_correlations(engine.correlations, usable, placeholders=placeholders)
    detector = Detector(engine, specs, issues, silent_rules(specs))
    _CACHE[key] = detector
    return detector


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def config_detector(config: Config, extra: Sequence[str | Path] = ()) -> Detector:
    """The detector of a configuration (rules/ + rules.paths, or ``extra``)."""
    return load_detector(rule_sources(config, extra),
                         placeholders=config.rules.placeholders,
                         cache_dir=Path(config.data_dir) / "cache")


NOT_APPLICABLE_STAGES = frozenset({"logsource"})
"""Issue stages that are expected, not faults: a log source we collect nothing from."""


def is_rule_error(issue: RuleIssue) -> bool:
    """A fault to fix (broken YAML, invalid Sigma, unknown modifier, bad regex, bad correlation),
    as opposed to a rule that does not apply here: a log source no pipeline maps, or a
    placeholder (``rules.placeholders``) the operator has not set."""
    if issue.stage in NOT_APPLICABLE_STAGES:
        return False
    return not issue.reason.startswith("placeholder %")


@dataclass(frozen=True)
class RuleHealth:
    """How many rules run, and which cannot: errors (to fix) and not-applicable ones (expected)."""

    active: int
    errors: tuple[RuleIssue, ...]
    not_applicable: tuple[RuleIssue, ...]

    @classmethod
    def of(cls, detector: Detector) -> RuleHealth:
        issues = detector.issues
        return cls(len(detector.engine.rules) + len(detector.specs),
                   tuple(i for i in issues if is_rule_error(i)),
                   tuple(i for i in issues if not is_rule_error(i)))

    @property
    def error_files(self) -> list[str]:
        """The files holding errors, each once, in order."""
        return list(dict.fromkeys(i.path for i in self.errors))

    def warning(self) -> str | None:
        """One line for people when there are errors (None otherwise)."""
        if not self.errors:
            return None
        first: dict[str, str] = {}
        for issue in self.errors:
            first.setdefault(issue.path, issue.reason)
        listed = "; ".join(f"{path}: {reason}" for path, reason in first.items())
        return (f"Warning: {len(first)} rule file(s) could not be used: {listed}. "
                "Hint: soc rules check")

    def to_dict(self) -> dict[str, object]:
        return {"active": self.active, "errors": len(self.errors),
                "not_applicable": len(self.not_applicable), "error_files": self.error_files}


def rule_health(config: Config) -> RuleHealth:
    """The health of the configuration's rules (loaded through the rule cache)."""
    return RuleHealth.of(config_detector(config))


def below_window(config: Config) -> timedelta:
    """How long below-level hits are kept: the longest retention of the configuration."""
    return timedelta(days=max([*config.retention.values(), config.retention_unknown]))


def suppress_window(config: Config) -> timedelta:
    """``rules.suppress`` of the configuration (one hour unless set)."""
    return config.rules.suppress


class DetectionStage:
    """The pipeline stage: match, correlate over stored hits, raise alerts, through the tuning.

    One correlator serves every batch of a store: the hits of open windows stay in memory, and
    the store's copy (read once per correlation) carries them to the next process. The engine
    runs without the rules the tuning disables; should one of them come back (its entry
    expires while the process runs), the engine is rebuilt with it.
    """

    def __init__(self, detector: Detector, *, suppress: timedelta = DEFAULT_SUPPRESS,
                 tuning: Tuning | None = None, clock: Clock | None = None,
                 keep_below: timedelta = KEEP_BELOW) -> None:
        self.gate = TuningGate(tuning or Tuning(), clock)
        self.suppress = suppress
        self.keep_below = keep_below
        self._full = detector
        self._left_out = self.gate.disabled()
        self.detector = detector.without(self._left_out)
        self._store: Store | None = None
        self._correlator: Correlator | None = None
        self._pruned = False
        self.device_alerts = True  # rules.device_alerts

    def correlator(self, store: Store) -> Correlator:
        """The correlator of ``store`` (a new one when the store changes)."""
        if self._correlator is None or store is not self._store:
            self._store = store
            self._correlator = Correlator(self.detector.specs, StoreHitLog(store),
                                          quiet=self.detector.silent)
        return self._correlator

    def process(self, events: Sequence[Event], store: Store) -> int:
        """Alerts for a batch; returns how many new alerts it raised."""
        hits = self.gate.hits(self._tuned().match(events))
        findings = self.detector.findings(hits, self.correlator(store)) if hits else []
        if self.device_alerts:  # what devices raised themselves (soc.detection.passthrough)
            findings += device_findings(events)
        return self.raise_alerts(findings, store) if findings else 0

    def raise_alerts(self, findings: Sequence[Finding], store: Store) -> int:
        """Findings through the tuning, then to the alert queue: the one place where the
        findings of every producer meet it. Returns how many new alerts were raised."""
        routed = self.gate.route(findings)
        if routed.below:
            keep_below(store, routed.below)
            self._prune(store)
        if not routed.alerts:
            return 0
        return len(AlertSink(store, suppress=self.suppress).raise_alerts(routed.alerts).new)

    def _tuned(self) -> Detector:
        """The detector without the rules disabled now (rebuilt only when one comes back)."""
        disabled = self.gate.disabled()
        if not self._left_out <= disabled:
            self.detector = self._full.without(disabled)
            self._left_out = disabled
        return self.detector

    def _prune(self, store: Store) -> None:
        """Forget the below-level hits past :attr:`keep_below` (once per process)."""
        if not self._pruned:
            self._pruned = True
            prune_below(store, format_ts(self.gate.clock() - self.keep_below))


STATE_METHODS = ("write_hits", "hits", "prune_hits", "find_alert", "upsert_alerts",
                 "linked_events")
"""What detection needs of a store beyond events (both built-in stores have them all)."""


def missing_state(store: Store) -> list[str]:
    """The state methods detection needs that ``store`` does not implement."""
    return [name for name in STATE_METHODS
            if getattr(type(store), name) is getattr(Store, name)]


def detection_stage(config: Config, store: Store) -> DetectionStage | None:
    """The detection stage for this configuration, or None when there are no rules (or the
    store, a third-party one, cannot keep rule hits and alerts, which is said on the log)."""
    missing = missing_state(store)
    if missing:
        log.warning("the %s store cannot keep alerts (no %s): detection is off", store.kind,
                    ", ".join(missing))
        return None
    detector = config_detector(config)
    if detector.empty and not config.rules.device_alerts:
        return None
    stage = DetectionStage(detector, suppress=suppress_window(config),
                           tuning=effective_tuning(config), keep_below=below_window(config))
    stage.device_alerts = config.rules.device_alerts
    return stage
