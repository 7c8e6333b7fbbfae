"""The rule book as a library: ``soc rules list``, ``soc rules check`` and ``soc rules test``.

Rule samples live beside the rules: ``<rules dir>/tests/<rule id>/``. Files named ``match*``
(any format soc ingests: raw log lines, auto-detected, or ``.jsonl`` ECS events, EVTX...) must
make the rule fire at least once; files named ``nomatch*`` must not. Each file is read in order
through the whole detection (engine and correlations, in memory), as ``soc detect`` reads it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from soc.config import Config
from soc.detection.correlation import Correlator, MemoryHitLog
from soc.detection.hunt import ScanReport, read_events
from soc.detection.loader import RuleIssue, rule_files
from soc.detection.stage import Detector

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_SHOWN = 5  # events shown for a nomatch file that fired


# --- list and check -----------------------------------------------------------------------------


def catalog(detector: Detector, paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Usable rules and correlations: id, title, level, logsource, status, file."""
    status = _statuses(rule_files(paths))
    rows = []
    for rule in detector.engine.rules:
        ir = rule.ir
        category, product, service = ir.logsource
        logsource = "/".join(p for p in (product, category, service) if p)
        rows.append({"id": ir.id, "title": ir.title, "level": ir.level,
                     "logsource": logsource, "status": status.get(ir.id),
                     "file": ir.path})
    for spec in detector.specs:
        rows.append({"id": spec.id, "title": spec.title,
                     "level": spec.level.value if spec.level else None,
                     "logsource": f"correlation:{spec.type}", "status": status.get(spec.id),
                     "file": spec.path})
    return sorted(rows, key=lambda r: (r["file"], r["id"]))


def _statuses(files: Iterable[Path]) -> dict[str, str]:
    """Rule id → status, straight from the YAML (the compiled rules do not keep it)."""
    out: dict[str, str] = {}
    for path in files:
        try:
            docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("id") and doc.get("status"):
                out[str(doc["id"])] = str(doc["status"])
    return out


def check(detector: Detector) -> list[RuleIssue]:
    """Every rule or file that cannot be used, with its reason."""
    return detector.issues


# --- test ---------------------------------------------------------------------------------------


@dataclass
class SampleResult:
    """One sample file of one rule."""

    rule_id: str
    file: Path
    expect_match: bool
    fired: int = 0
    events: int = 0
    unparsed: int = 0
    others: Counter[str] = field(default_factory=Counter)  # other rules that fired
    shown: list[str] = field(default_factory=list)  # nomatch: what matched
    error: str | None = None

    @property
    def ok(self) -> bool:
        if self.error is not None:
            return False
        return self.fired > 0 if self.expect_match else self.fired == 0

    def explain(self) -> str:
        """Why a sample failed, for people."""
        if self.error:
            return f"cannot read: {self.error}"
        read = f"{self.events} event(s) read, {self.unparsed} unparsed"
        if self.expect_match:
            others = ", ".join(f"{r} ({n})" for r, n in self.others.most_common(5)) or "none"
            return f"expected the rule to fire, it did not ({read}; other rules fired: {others})"
        lines = [f"expected no hit, got {self.fired} ({read}):"]
        lines += [f"  + {s}" for s in self.shown]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "file": str(self.file),
                "expect": "match" if self.expect_match else "nomatch", "ok": self.ok,
                "fired": self.fired, "events": self.events, "unparsed": self.unparsed,
                "reason": None if self.ok else self.explain()}


@dataclass
class TestReport:
    """Every sample run, the rules without samples, and sample folders of unknown rules."""

    results: list[SampleResult] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    unknown: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> list[SampleResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unknown


def sample_dirs(paths: Iterable[str | Path]) -> dict[str, Path]:
    """Rule id → its samples folder, from the ``tests/`` of every rules directory."""
    found: dict[str, Path] = {}
    for base in map(Path, paths):
        tests = base / "tests"
        if base.is_dir() and tests.is_dir():
            found.update({d.name: d for d in sorted(tests.iterdir()) if d.is_dir()})
    return found


def run_tests(config: Config, detector: Detector, paths: Sequence[str | Path],
              rule_ids: Sequence[str] = ()) -> TestReport:
    """Run the samples of every rule (or of ``rule_ids``)."""
    known = {r.ir.id for r in detector.engine.rules} | {s.id for s in detector.specs}
    dirs = sample_dirs(paths)
    report = TestReport(unknown=[d for rid, d in dirs.items() if rid not in known])
    wanted = list(rule_ids) or sorted(known)
    for rid in wanted:
        folder = dirs.get(rid)
        if folder is None:
            report.untested.append(rid)
            continue
        for sample in sorted(f for f in folder.iterdir() if f.is_file()):
            if sample.name.startswith(("match", "nomatch")):
                report.results.append(run_sample(config, detector, rid, sample))
    return report


def run_sample(config: Config, detector: Detector, rule_id: str, sample: Path) -> SampleResult:
    """Read one sample file through the engine and the correlations; count the rule's hits."""
    result = SampleResult(rule_id, sample, expect_match=not sample.name.startswith("nomatch"))
    correlator = Correlator(detector.specs, MemoryHitLog(), episodes=True)
    scan = ScanReport()
    for events in read_events(config, [str(sample)], report=scan):
        hits = detector.match(events)
        fired = [h.event for h in hits if h.rule_id == rule_id]
        fired += [m.event or {} for m in correlator.process(hits) if m.spec.id == rule_id]
        result.others.update(h.rule_id for h in hits if h.rule_id != rule_id)
        result.fired += len(fired)
        room = MAX_SHOWN - len(result.shown)
        result.shown += [_show(e) for e in fired[:max(room, 0)]]
    result.events, result.unparsed = scan.events, scan.dead_letters
    if scan.errors:
        result.error = "; ".join(scan.errors)
    return result


def _show(event: dict[str, Any]) -> str:
    text = event.get("event.original") or event.get("message")
    if text:
        return str(text)
    return ", ".join(f"{k}={v}" for k, v in event.items() if k != "event.ingested")[:300]
