"""Web attack benchmark: detection rate per attack class and false alarms on benign portal traffic.

    python benchmarks/web.py [--benign 20000] [--per-class 200] [--rules rules/] [--keep DIR]

Writes seeded corpora (benchmarks/web_corpus.py: benign Vietnamese public-service portal
traffic, attacks of each public class with the usual evasions) as Apache combined access-log
lines, runs ``soc detect`` on each file exactly as a user would (``--nl --no-tuning``), and
prints per class the share of requests that raised at least one finding (a rule hit on the line,
or a correlation closed by it), the rules that fired, and lines/s of the benign run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_corpus import CLASSES, attack_lines, benign_lines

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, lines: list[str]) -> list[int]:
    """Write the lines; return the byte offset of each (the events' log.offset)."""
    offsets, pos = [], 0
    with path.open("wb") as fh:
        for line in lines:
            data = (line + "\n").encode("utf-8")
            offsets.append(pos)
            fh.write(data)
            pos += len(data)
    return offsets


def detect(path: Path, rules: Path, data: Path) -> tuple[list[dict[str, object]], float]:
    """The findings of ``soc detect`` on one file, and the wall seconds it took."""
    start = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "soc",
            "--data-dir",
            str(data),
            "detect",
            str(path),
            "-r",
            str(rules),
            "--nl",
            "--no-tuning",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if out.returncode not in (0, 10):
        raise SystemExit(f"soc detect failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    return [json.loads(x) for x in out.stdout.splitlines() if x.strip()], wall


def flagged(findings: list[dict[str, object]]) -> tuple[set[int], Counter[str]]:
    """Offsets of the lines that raised something, and findings per rule title."""
    lines: set[int] = set()
    titles: Counter[str] = Counter()
    for f in findings:
        event = f.get("event")
        if isinstance(event, dict) and isinstance(event.get("log.offset"), int):
            lines.add(event["log.offset"])
        titles[str(f.get("title"))] += 1
    return lines, titles


def run(n_benign: int, per_class: int, rules: Path, keep: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = Path(tmp) / "data"
        rows = []
        total_hit = total = 0
        for cls, lines in attack_lines(per_class).items():
            offsets = write(work / f"attack-{cls}.log", lines)
            hit, titles = flagged(detect(work / f"attack-{cls}.log", rules, data)[0])
            n = sum(1 for o in offsets if o in hit)
            total_hit, total = total_hit + n, total + len(lines)
            rows.append((cls, n, len(lines), titles))
        benign = benign_lines(n_benign)
        offsets = write(work / "benign.log", benign)
        findings, wall = detect(work / "benign.log", rules, data)
        hit, titles = flagged(findings)
        fp = sum(1 for o in offsets if o in hit)
    print(f"{'class':<10} {'detected':>9} {'rate':>7}  rules (findings)")
    for cls, n, of, t in rows:
        print(
            f"{cls:<10} {n:>4}/{of:<4} {100 * n / of:>6.1f}%  "
            + "; ".join(f"{k} ({v})" for k, v in t.most_common(3))
        )
    print(f"{'all':<10} {total_hit:>4}/{total:<4} {100 * total_hit / total:>6.1f}%")
    print(
        f"benign     {fp:>4}/{len(benign):<5} {100 * fp / len(benign):>6.2f}% false alarms; "
        f"{len(benign) / wall:,.0f} lines/s (soc detect, start-up included, {wall:.1f} s)"
    )
    for title, n in titles.most_common(10):
        print(f"  benign finding: {title} ({n})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benign", type=int, default=20000)
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    ap.add_argument("--keep", type=Path, help="write the corpora to this folder and keep them")
    a = ap.parse_args()
    assert set(CLASSES)  # every class of web_corpus is reported
    return run(a.benign, a.per_class, a.rules, a.keep)


if __name__ == "__main__":
    sys.exit(main())
