"""Detection stage throughput: events/s through engine + correlation + alerts, per CPU-second.

    python benchmarks/detection_stage.py --corpus $SOC_CORPUS [--repeat 3] [--profile ssh]

Two inputs, parsed once beforehand (parsing is excluded: ``soc collect`` pays it either way):

* **ssh**: ``loghub/OpenSSH/OpenSSH_2k.log`` repeated ``--copies`` times (default 10, ~20,000
  lines): an SSH brute force, where most events are hits that feed correlations (the worst case);
* **mixed**: benign, typical data: ``loghub/Linux`` and ``loghub/Apache`` logs repeated, plus
  synthetic combined-format access-log lines of a provincial portal (a little scanning).

Each run opens a fresh embedded store, builds the stage :func:`soc.pipeline.collect.ingest` would
build (the project's rules), and feeds it the events in pipeline-sized batches, writing each batch's
events after the stage as the pipeline does (that write is not timed). The figure is the best of
``--repeat`` runs, per CPU-second of this process (the machine is shared) and per wall second.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from soc.config import Config, load_config  # noqa: E402
from soc.detection.hunt import read_events  # noqa: E402
from soc.detection.stage import DetectionStage, detection_stage  # noqa: E402
from soc.ecs import Event  # noqa: E402
from soc.pipeline.pipeline import DEFAULT_BATCH  # noqa: E402
from soc.stores.sqlite.store import SQLiteStore  # noqa: E402

PAGES = ["/", "/tin-tuc/chi-tiet?id={n}", "/dich-vu-cong/ho-so/{n}", "/static/js/app.{n}.js",
         "/api/v1/tra-cuu?ma={n}", "/images/banner-{n}.jpg"]
ATTACKS = ["/wp-login.php", "/index.php?id=1'%20OR%201=1--", "/../../etc/passwd", "/.env"]


@dataclass
class Result:
    events: int
    alerts: int
    cpu: float
    wall: float

    def line(self, name: str) -> str:
        n = self.events
        return (f"{name:6} {n:7,} events {n / self.cpu:9,.0f} events/CPU-s "
                f"{n / self.wall:9,.0f} events/wall-s {self.cpu * 1e6 / n:6.1f} CPU-µs/event "
                f"{self.alerts} new alerts")


def access_log(path: Path, lines: int, seed: int = 7) -> None:
    """Combined-format lines, one request in a hundred a scanner's."""
    rnd = random.Random(seed)
    t = time.time() - lines * 0.05
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            t += 0.05
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0700", time.localtime(t))
            ip = f"203.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            attack = rnd.random() < 0.01
            url = rnd.choice(ATTACKS if attack else PAGES).format(n=i % 9973)
            agent = "sqlmap/1.7.2#stable" if attack else "Mozilla/5.0 (X11; Linux x86_64)"
            fh.write(f'{ip} - - [{stamp}] "GET {url} HTTP/1.1" 200 {rnd.randrange(200, 90000)} '
                     f'"-" "{agent}"\n')


def repeated(target: Path, source: Path, copies: int) -> Path:
    text = source.read_text(encoding="utf-8", errors="surrogateescape")
    target.write_text(text * copies, encoding="utf-8", errors="surrogateescape")
    return target


def inputs(corpus: Path, work: Path, copies: int) -> dict[str, list[Path]]:
    loghub = corpus / "loghub"
    ssh = repeated(work / "openssh.log", loghub / "OpenSSH" / "OpenSSH_2k.log", copies)
    access_log(work / "access.log", 10_000)
    return {"ssh": [ssh],
            "mixed": [repeated(work / "linux.log", loghub / "Linux" / "Linux_2k.log", 5),
                      repeated(work / "apache.log", loghub / "Apache" / "Apache_2k.log", 5),
                      work / "access.log"]}


def parsed(config: Config, paths: Sequence[Path], size: int) -> list[list[Event]]:
    events = [e for batch in read_events(config, [str(p) for p in paths]) for e in batch]
    return [events[i:i + size] for i in range(0, len(events), size)]


def run_once(config: Config, batches: list[list[Event]], db: Path,
             wrap: Callable[[Callable[[], int]], int] | None = None) -> Result:
    """Feed a fresh store's stage; time only ``stage.process``."""
    db.unlink(missing_ok=True)
    cpu = wall = 0.0
    alerts = 0
    with SQLiteStore.open_path(db) as store:
        stage = detection_stage(config, store)
        assert isinstance(stage, DetectionStage), "no rules loaded"
        for batch in batches:
            events = [dict(e) for e in batch]  # the stage may add to events: fresh copies
            c0, w0 = time.process_time(), time.perf_counter()
            if wrap is None:
                alerts += stage.process(events, store)
            else:
                alerts += wrap(functools.partial(stage.process, events, store))
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            store.write_events(events)
    return Result(sum(len(b) for b in batches), alerts, cpu, wall)


def best(config: Config, batches: list[list[Event]], db: Path, repeat: int) -> Result:
    runs = [run_once(config, batches, db) for _ in range(repeat)]
    return min(runs, key=lambda r: r.cpu)


def profiled(config: Config, batches: list[list[Event]], db: Path) -> str:
    prof = cProfile.Profile()

    def wrap(fn: Callable[[], int]) -> int:
        return int(prof.runcall(fn))

    run_once(config, batches, db, wrap)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("SOC_CORPUS", "")))
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                    help="events per batch (soc listen drains smaller ones under a live stream)")
    ap.add_argument("--only", choices=["ssh", "mixed"])
    ap.add_argument("--profile", choices=["ssh", "mixed"], help="cProfile one run of the stage")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="soc-stage-") as tmp:
        work = Path(tmp)
        (work / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
        config = load_config(work / "soc.yml")
        for name, paths in inputs(args.corpus, work, args.copies).items():
            if (args.only or args.profile or name) != name:
                continue
            batches = parsed(config, paths, args.batch)
            if args.profile:
                print(profiled(config, batches, work / "store.db"))
                continue
            print(best(config, batches, work / "store.db", args.repeat).line(name), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
