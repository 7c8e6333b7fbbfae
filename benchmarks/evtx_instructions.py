"""Instructions per EVTX record, stage by stage, counted by valgrind: a figure that does not
depend on what else the (shared) machine is running, unlike seconds.

    python benchmarks/evtx_instructions.py --corpus $SOC_CORPUS
    python benchmarks/evtx_instructions.py --corpus $SOC_CORPUS --stages off on --records 2000

Each stage runs in a fresh process under ``valgrind --tool=cachegrind --cache-sim=no``, once over
an empty folder and once over ``--records`` records made of the corpus files' chunks (the
``big_evtx`` files of ``benchmarks/collect.py``); the difference divided by the records is the
stage's cost per record, start-up, imports and rule loading left out. The stages add up:

* ``evtx``: the ``evtx`` package renders each record as JSON text (``records_json``);
* ``decode``: ... and ``orjson`` decodes it;
* ``winlog``: ... and ``winlog_event`` builds the Winlogbeat/ECS event;
* ``collector``: the EVTX collector's batches (ids, checkpoints, batching included);
* ``off`` / ``on``: one ``soc collect`` pass into a fresh embedded store, detection off / on.

valgrind runs programs about 50 times slower: 5,000 records take a minute or so per stage.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collect import ROOT, big_evtx  # benchmarks/ is not a package: found through sys.path

STAGES = ("evtx", "decode", "winlog", "collector", "off", "on")


def stage(name: str, folder: Path) -> int:
    """Run one stage over the ``.evtx`` files of ``folder``; the records it went through."""
    from types import MappingProxyType

    import evtx
    import orjson

    from collectors.evtx import EvtxCollector
    from collectors.parsers.winlog import winlog_event
    from soc import registry
    from soc.config import Config, Source, load_config
    from soc.pipeline.collect import collect
    from soc.state import StateStore

    registry.parsers()  # the same imports whatever the stage and the folder
    files = sorted(str(p) for p in folder.glob("*.evtx"))
    records = (r for f in files for r in evtx.PyEvtxParser(f).records_json())
    if name == "evtx":
        return sum(1 for _ in records)
    if name == "decode":
        return sum(1 for r in records if orjson.loads(r["data"]))
    if name == "winlog":
        return sum(1 for r in records if winlog_event(orjson.loads(r["data"])))
    with tempfile.TemporaryDirectory(prefix="soc-bench-instr-") as tmp:
        if name == "collector":
            source = Source(name="evtx", type="evtx", paths=(str(folder),),
                            options=MappingProxyType({}))
            collector = EvtxCollector(source, StateStore(Path(tmp) / "state.db"),
                                      Config(path=None, data_dir=Path(tmp)))
            return sum(len(b.records) for b in collector.batches(5000))
        cfg = Path(tmp) / "soc.yml"
        cfg.write_text(f"data_dir: {tmp}/data\nsources:\n"
                       f'  - {{name: evtx, type: evtx, paths: ["{folder}"]}}\n')
        return collect(load_config(str(cfg)), detect=name == "on").events


def instructions(name: str, folder: Path) -> tuple[int, int]:
    """(instructions, records) of one stage in a fresh process under valgrind."""
    argv = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
            sys.executable, __file__, "--child", name, str(folder)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    refs = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if refs is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(refs.group(1).replace(",", "")), int(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=os.environ.get("SOC_CORPUS"),
                    help="public corpora folder (default $SOC_CORPUS)")
    ap.add_argument("--records", type=int, default=5000, help="records in the measured file")
    ap.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(stage(args.child[0], Path(args.child[1])))
        return
    if args.corpus is None:
        ap.error("--corpus (or $SOC_CORPUS) is needed")
    if shutil.which("valgrind") is None:
        ap.error("valgrind is not installed")
    with tempfile.TemporaryDirectory(prefix="soc-bench-instr-") as tmp:
        folder, records = big_evtx(args.corpus, Path(tmp), args.records)
        empty = Path(tmp) / "empty"
        empty.mkdir()
        print(f"python {sys.version.split()[0]}; {records:,} records; instructions per record "
              "(valgrind, over an empty-folder run of the same stage)", flush=True)
        found: dict[str, int] = {}
        previous: int | None = None
        for name in args.stages:
            base, _ = instructions(name, empty)
            total, done = instructions(name, folder)
            found[name] = per = (total - base) // done
            ref = found.get("off") if name == "on" else previous
            step = f"  (+{per - ref:,} over {'off' if name == 'on' else 'the stage above'})" \
                if ref is not None else ""
            print(f"{name:>10}: {per:>9,}{step}", flush=True)
            previous = previous if name == "on" else per


if __name__ == "__main__":
    main()
