"""Detection benchmark: SigmaHQ's Windows rules over the EVTX and JSON corpora, against SQLite.

    python benchmarks/detect.py --corpus $SOC_CORPUS [--repeat 3] [--no-sqlite] [--no-others]

Reports, in one run (one core, one process):

* rule load + compile: cold (empty cache) and cached (no rule file changed);
* events/s matching only (events pre-parsed) and including parsing (EVTX decode or JSON line,
  then :func:`winlog_event`), peak RSS;
* the baseline: the same rules through the same pipelines, converted by pySigma's SQLite backend
  and run over the same events loaded into one SQLite table (how Zircolite works), as a ratio;
* with the full SigmaHQ ruleset over the sigma-regression files: which other rules fire.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from evtx import PyEvtxParser
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

from collectors.parsers.winlog import winlog_event
from soc.detection.engine import Engine
from soc.detection.pipelines import build_pipeline
from soc.ecs import Event
from soc.errors import ParseError


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def cpu_timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn()`` (CPU time: this process only, steadier on a busy host)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


# --- events -----------------------------------------------------------------------------------

def evtx_files(corpus: Path) -> list[Path]:
    return sorted([*(corpus / "evtx-attack-samples").rglob("*.evtx"),
                   *(corpus / "sigma-regression").rglob("*.evtx")])


def mordor_files(corpus: Path) -> list[Path]:
    return sorted((corpus / "mordor").rglob("*.json"))


def parse_evtx(path: Path) -> Iterator[Event]:
    for record in PyEvtxParser(str(path)).records_json():
        if record is not None:
            yield winlog_event(json.loads(record["data"]))


def parse_json_lines(path: Path) -> Iterator[Event]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                yield winlog_event(json.loads(line))
            except (ValueError, ParseError, KeyError, TypeError):
                continue  # not a Windows event (Linux, Zeek...): not this benchmark's input


def load_events(corpus: Path) -> tuple[list[Event], float, dict[str, int]]:
    """Every event of the corpora, the seconds spent parsing them, counts per corpus."""
    events: list[Event] = []
    counts: Counter[str] = Counter()
    start = time.perf_counter()
    for path in evtx_files(corpus):
        try:
            batch = list(parse_evtx(path))
        except (OSError, RuntimeError, ParseError):
            continue
        events += batch
        counts["evtx-attack-samples" if "evtx-attack" in str(path) else "sigma-regression"] += \
            len(batch)
    for path in mordor_files(corpus):
        batch = list(parse_json_lines(path))
        events += batch
        counts["mordor"] += len(batch)
    return events, time.perf_counter() - start, dict(counts)


# --- our engine -------------------------------------------------------------------------------

def bench_load(rules: Path) -> tuple[Engine, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cold, cold_s = timed(lambda: Engine.from_paths([rules], cache_dir=Path(tmp)))
        warm, warm_s = timed(lambda: Engine.from_paths([rules], cache_dir=Path(tmp)))
    assert warm.stats.cached and not cold.stats.cached
    return warm, cold_s, warm_s


def bench_match(engine: Engine, events: list[Event], repeat: int) -> tuple[float, float, int]:
    """Best wall and best CPU seconds of one matching pass over ``events``, and the hits."""
    hits = sum(len(engine.match(ev)) for ev in events)  # warm the route buckets
    best_wall = best_cpu = float("inf")
    match = engine.match
    for _ in range(repeat):
        wall, cpu = cpu_timed(lambda: [match(ev) for ev in events])
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu, hits


# --- SQLite baseline (Zircolite's method) -------------------------------------------------------

def sqlite_queries(rules: Path) -> tuple[list[str], int]:
    """Every rule under ``rules`` converted by pySigma's SQLite backend, with our pipelines."""
    collection = SigmaCollection.load_ruleset([rules], collect_errors=True)
    backend = sqliteBackend(  # type: ignore[no-untyped-call]
        processing_pipeline=build_pipeline({}), collect_errors=True)
    queries: list[str] = []
    failed = 0
    for rule in collection.rules:
        try:
            out = backend.convert_rule(rule)  # type: ignore[no-untyped-call]
        except Exception:  # noqa: BLE001 - a rule the backend refuses is counted, not fatal
            failed += 1
            continue
        if not out or rule.errors:
            failed += 1
        queries += [q for q in out if isinstance(q, str)]
    return queries, failed


def sqlite_table(events: list[Event]) -> sqlite3.Connection:
    """One table, a TEXT COLLATE NOCASE column per field, as Zircolite builds it."""
    by_lower: dict[str, str] = {}  # SQLite column names are case-insensitive
    for ev in events:
        for k in ev:
            by_lower.setdefault(k.lower(), k)
    columns = sorted(by_lower)
    db = sqlite3.connect(":memory:")
    cache: dict[str, re.Pattern[str]] = {}

    def regexp(pattern: str, value: Any) -> bool:
        if value is None:
            return False
        rx = cache.get(pattern) or cache.setdefault(pattern, re.compile(pattern))
        return rx.search(str(value)) is not None

    db.create_function("REGEXP", 2, regexp, deterministic=True)
    cols = ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in columns)
    db.execute(f"CREATE TABLE logs ({cols})")
    marks = ", ".join("?" for _ in columns)
    rows = ([_sql_value(low.get(c)) for c in columns]
            for low in ({k.lower(): v for k, v in ev.items()} for ev in events))
    db.executemany(f"INSERT INTO logs VALUES ({marks})", rows)
    return db


def _sql_value(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def bench_sqlite(db: sqlite3.Connection, queries: list[str]) -> tuple[float, float, int, int]:
    """Wall and CPU seconds of running every query once, hits and failed queries."""
    hits = errors = 0
    start, cpu = time.perf_counter(), time.process_time()
    for q in queries:
        try:
            hits += len(db.execute(q.replace("SELECT *", "SELECT rowid", 1)).fetchall())
        except sqlite3.Error:
            errors += 1
    return time.perf_counter() - start, time.process_time() - cpu, hits, errors


# --- other rules firing on the regression files -------------------------------------------------

def other_hits(corpus: Path) -> tuple[Counter[str], dict[str, str], int]:
    """Full SigmaHQ over each regression file: rules other than the labelled one that fire."""
    root = corpus / "sigma-regression"
    engine = Engine.from_paths(sorted((corpus / "sigmahq").glob("rules*")))
    titles = {r.ir.id: f"{r.ir.title} [{'/'.join(x or '' for x in r.ir.logsource)}]"
              for r in engine.rules}
    others: Counter[str] = Counter()
    labelled = 0
    with (root / "labels.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for ev in parse_evtx(root / row["test_file"]):
                for hit in engine.match(ev):
                    if hit.rule_id == row["rule_id"]:
                        labelled += 1
                    else:
                        others[hit.rule_id] += 1
    return others, titles, labelled


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--rules", type=Path, help="default: <corpus>/sigmahq/rules/windows")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--no-others", action="store_true")
    args = ap.parse_args(argv)
    rules = args.rules or args.corpus / "sigmahq" / "rules" / "windows"

    engine, cold_s, warm_s = bench_load(rules)
    print(f"rules: {len(engine.rules)} usable, {len(engine.errors)} unusable "
          f"({dict(Counter(i.stage for i in engine.errors))}) from {engine.stats.files} files")
    print(f"load+compile: cold {cold_s:.2f} s, cached {warm_s:.2f} s")
    events, parse_s, counts = load_events(args.corpus)
    print(f"events: {len(events)} {counts}; parsing {len(events) / parse_s:,.0f} events/s")
    match_s, match_cpu, hits = bench_match(engine, events, args.repeat)
    rate = len(events) / match_s
    print(f"matching only: {rate:,.0f} events/s wall, {len(events) / match_cpu:,.0f} events/s "
          f"CPU ({hits} hits; best of {args.repeat}); including parsing: "
          f"{len(events) / (match_s + parse_s):,.0f} events/s; peak RSS {rss_mb():.0f} MB")
    if not args.no_sqlite:
        (queries, failed), conv_s = timed(lambda: sqlite_queries(rules))
        db, load_s = timed(lambda: sqlite_table(events))
        sql_s, sql_cpu, sql_hits, sql_errors = bench_sqlite(db, queries)
        sql_rate = len(events) / sql_s
        print(f"sqlite baseline: {len(queries)} queries ({failed} rules not converted, "
              f"{sql_errors} query errors), convert {conv_s:.1f} s, table {load_s:.1f} s, "
              f"{sql_rate:,.0f} events/s wall ({sql_hits} hits); ratio {rate / sql_rate:.1f}x "
              f"wall, {sql_cpu / match_cpu:.1f}x CPU")
    if not args.no_others:
        others, titles, labelled = other_hits(args.corpus)
        print(f"full SigmaHQ over sigma-regression: labelled rule hits {labelled}; "
              f"{len(others)} other rules fire, {sum(others.values())} hits")
        for rule_id, n in others.most_common():
            print(f"  {n:4d}  {rule_id}  {titles.get(rule_id, '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
