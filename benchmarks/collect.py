"""Collection throughput into the embedded store: EVTX records/s, access-log lines/s, syslog.

    python benchmarks/collect.py --corpus $SOC_CORPUS            # everything, detection off and on
    python benchmarks/collect.py --corpus $SOC_CORPUS --skip-syslog --copies 20
    python benchmarks/collect.py --corpus $SOC_CORPUS --profile evtx    # where the time goes
    python benchmarks/collect.py --corpus $SOC_CORPUS --only mordor     # Windows share of mordor

Each file measurement runs ``soc collect``'s library call (:func:`soc.pipeline.collect.collect`) in
a fresh child process pinned to one CPU, with a fresh data directory, so its peak RSS and CPU time
are its own; it is run with detection off (collection: parse + enrich + store) and on (the project's
rules as well).

* **EVTX**: every ``.evtx`` of ``evtx-attack-samples`` and ``sigma-regression``, copied
  ``--copies`` times into a temporary folder (one ``type: evtx`` source). A copy's records have
  the same ids as the original's (that is the point of deterministic ids), so the child salts
  each record id with the copy's path: every record is a real insert.
* **Access log**: ``--lines`` synthetic combined-format lines, plus the corpus scanner and webshell
  access logs repeated (``type: file`` sources, parser ``auto``).
* **Mordor**: the share of the lines of every ``mordor/**/*.json`` export that the ``winlog``
  parser turns into Windows events (per file and overall), and its parse rate on them (in this
  process, best of 5 passes, per CPU-second).
* **Syslog**: ``benchmarks/syslog.py`` (imported, not copied): TCP messages/s with no loss and
  the UDP rate where loss begins, through a real ``soc listen`` on loopback.

Figures are per wall-clock second and per CPU-second of the child: the machine is shared by other
engineers, and CPU time is the steadier of the two.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import os
import pstats
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVTX_HEADER = 4096
EVTX_CHUNK = 65536
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
]
PATHS = ["/", "/tin-tuc/chi-tiet?id={n}", "/dich-vu-cong/ho-so/{n}", "/static/js/app.{n}.js",
         "/static/css/site.css", "/index.php?option=com_content&id={n}",
         "/api/v1/tra-cuu?ma={n}", "/images/banner-{n}.jpg"]
ATTACKS = ["/wp-login.php", "/uploads/shell.php?cmd=whoami", "/index.php?id=1'%20OR%201=1--",
           "/../../etc/passwd", "/.env"]
ATTACK_SHARE = 0.01
"""One request in a hundred is a scanner's (the scanner logs of the corpus are all attacks)."""


# --- inputs --------------------------------------------------------------------------------------


def make_access_log(path: Path, lines: int, seed: int = 11) -> None:
    """Apache/Nginx combined-format lines for a provincial portal, with a little scanning."""
    rnd = random.Random(seed)
    t = time.time() - lines * 0.02
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            t += 0.02
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0700", time.localtime(t))
            ip = f"203.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            attack = rnd.random() < ATTACK_SHARE
            url = rnd.choice(ATTACKS if attack else PATHS).format(n=i % 9973)
            agent = "sqlmap/1.7.2#stable (https://sqlmap.org)" if attack else rnd.choice(AGENTS)
            method = "POST" if i % 11 == 0 else "GET"
            status = rnd.choice((200, 200, 200, 304, 404, 302, 500))
            fh.write(f'{ip} - - [{stamp}] "{method} {url} HTTP/1.1" {status} '
                     f'{rnd.randrange(200, 90000)} "https://portal.example.gov.vn/" '
                     f'"{agent}"\n')


def corpus_access_logs(corpus: Path, dest: Path, repeat: int) -> Path | None:
    """The corpus scanner and webshell access logs, each repeated ``repeat`` times."""
    sources = [*sorted((corpus / "web" / "scanner-access-logs").glob("*.txt")),
               corpus / "web" / "webshell-access-logs"
               / "web_attack_and_isp_webshell_localhost_access_log.txt"]
    sources = [p for p in sources if p.exists()]
    if not sources:
        return None
    folder = dest / "corpus-web"
    folder.mkdir()
    for src in sources:
        data = src.read_bytes()
        (folder / src.name).write_bytes(data * repeat)
    return folder


def corpus_evtx(corpus: Path) -> list[Path]:
    return sorted([*(corpus / "evtx-attack-samples").rglob("*.evtx"),
                   *(corpus / "sigma-regression").rglob("*.evtx")])


def _chunks(path: Path) -> Iterator[bytes]:
    """The used 64 KiB chunks of an EVTX file."""
    data = path.read_bytes()
    for off in range(EVTX_HEADER, len(data) - EVTX_CHUNK + 1, EVTX_CHUNK):
        chunk = data[off:off + EVTX_CHUNK]
        if chunk[:8] == b"ElfChnk\0" and struct.unpack_from("<I", chunk, 48)[0] > 512:
            yield chunk


def _renumber(chunk: bytes, next_id: int) -> tuple[bytes, int]:
    """The chunk with its records numbered from ``next_id`` and its checksums recomputed."""
    buf = bytearray(chunk)
    free = struct.unpack_from("<I", buf, 48)[0]
    off, first = 512, next_id
    while off + 24 <= free and buf[off:off + 4] == b"\x2a\x2a\x00\x00":
        size = struct.unpack_from("<I", buf, off + 4)[0]
        if size < 24:
            break
        struct.pack_into("<Q", buf, off + 8, next_id)
        next_id += 1
        off += size
    last = next_id - 1
    struct.pack_into("<QQQQ", buf, 8, first, last, first, last)
    struct.pack_into("<I", buf, 52, zlib.crc32(bytes(buf[512:free])))
    struct.pack_into("<I", buf, 124, zlib.crc32(bytes(buf[:120]) + bytes(buf[128:512])))
    return bytes(buf), next_id


def _file_header(chunks: int, next_id: int) -> bytes:
    head = bytearray(EVTX_HEADER)
    head[:8] = b"ElfFile\0"
    struct.pack_into("<QQQIHHHH", head, 8, 0, chunks - 1, next_id, 128, 1, 3, EVTX_HEADER,
                     chunks)
    struct.pack_into("<I", head, 124, zlib.crc32(bytes(head[:120])))
    return bytes(head)


def big_evtx(corpus: Path, dest: Path, records: int, per_file: int = 25_000) -> tuple[Path, int]:
    """EVTX files of ``per_file`` records made of the corpus files' chunks, over and over,
    records renumbered (ids unique, as in one long-lived Security log); the folder and the
    number of records written."""
    chunks = [c for f in corpus_evtx(corpus) for c in _chunks(f)]
    folder = dest / "evtx-big"
    folder.mkdir()
    written, n = 0, 0
    while written < records:
        body, next_id = [], 1
        while next_id <= per_file and written + next_id - 1 < records:
            chunk, next_id = _renumber(chunks[n % len(chunks)], next_id)
            body.append(chunk)
            n += 1
        (folder / f"Security-{len(list(folder.iterdir())):03d}.evtx").write_bytes(
            _file_header(len(body), next_id) + b"".join(body))
        written += next_id - 1
    return folder, written


def evtx_copies(corpus: Path, dest: Path, copies: int) -> tuple[Path, int]:
    """``copies`` copies of every corpus EVTX file; returns the folder and the bytes copied."""
    files = corpus_evtx(corpus)
    folder = dest / "evtx"
    total = 0
    for n in range(copies):
        sub = folder / f"copy{n:03d}"
        sub.mkdir(parents=True)
        for i, f in enumerate(files):
            shutil.copyfile(f, sub / f"{i:04d}-{f.name}")
            total += f.stat().st_size
    return folder, total


# --- the child: one pass ---------------------------------------------------------------------


def _salt_evtx_ids() -> None:
    """Copies of a file get ids of their own (see the module doc); one hash more per record."""
    import collectors.evtx as ev
    from soc.ecs import event_id

    original = ev.record_id

    def salted(system: Any, rid: int, path: str) -> str:
        return event_id(original(system, rid, path), path)

    ev.record_id = salted  # type: ignore[assignment]


def child(kind: str, cfg: str, detect: bool, profile: str | None) -> dict[str, Any]:
    """Run in a fresh process: one ``collect`` pass over the config's sources."""
    from soc import registry
    from soc.config import load_config
    from soc.pipeline.collect import collect

    if kind == "evtx":
        _salt_evtx_ids()
    config = load_config(cfg)
    s0 = time.perf_counter()
    registry.parsers()  # imports every parser (scapy among them): once per process, not per record
    startup = time.perf_counter() - s0
    prof = cProfile.Profile(time.process_time) if profile else None  # CPU time: shared machine
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    report = collect(config, detect=detect)
    if prof:
        prof.disable()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if prof and profile:
        prof.dump_stats(profile)
    records = report.events + report.dead_letters + sum(s.duplicates for s in report.sources)
    return {"records": records, "events": report.events, "dead_letters": report.dead_letters,
            "duplicates": sum(s.duplicates for s in report.sources),
            "alerts": sum(s.alerts for s in report.sources),
            "errors": [s.error for s in report.sources if s.error],
            "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "startup_seconds_excluded": round(startup, 3),
            "per_s": round(records / seconds), "per_cpu_s": round(records / cpu),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_child(kind: str, sources_yaml: str, detect: bool, cpu: int | None,
              profile: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soc-bench-collect-") as data:
        cfg = Path(data) / "soc.yml"
        cfg.write_text(f"data_dir: {data}/data\nsources:\n{sources_yaml}")
        argv = [sys.executable, __file__, "--child", kind, str(cfg), str(int(detect))]
        if profile:
            argv += ["--profile-out", profile]
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        out = subprocess.run(argv, check=True, capture_output=True, text=True,
                             preexec_fn=pin, cwd=ROOT).stdout
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures


def show(label: str, f: dict[str, Any], unit: str) -> None:
    print(f"{label:>34}: {f['records']:>8,} {unit} in {f['seconds']:6.2f}s = "
          f"{f['per_s']:>7,}/s wall, {f['per_cpu_s']:>7,}/CPU-s; peak RSS "
          f"{f['peak_rss_mib']:.0f} MiB; dead {f['dead_letters']}, alerts {f['alerts']}"
          + (f"; ERRORS {f['errors']}" if f["errors"] else ""), flush=True)


# --- the phases --------------------------------------------------------------------------------


def evtx_phase(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    big, records = big_evtx(args.corpus, tmp, args.records)
    size = sum(f.stat().st_size for f in big.iterdir())
    print(f"EVTX: {records:,} records in {len(list(big.iterdir()))} files of corpus chunks "
          f"({size / 1048576:.0f} MiB)", flush=True)
    copies, size = evtx_copies(args.corpus, tmp, args.copies)
    print(f"EVTX: corpus files x{args.copies} ({size / 1048576:.0f} MiB, most files hold "
          "under 10 records)", flush=True)
    inputs = {"EVTX big files": big, f"EVTX corpus files x{args.copies}": copies}
    out = {}
    for label, folder in inputs.items():
        yaml = f'  - {{name: evtx, type: evtx, paths: ["{folder}/**/*.evtx"]}}\n'
        for detect in args.detect:
            out[f"{label}, detection {_mode(detect)}"] = f = run_child("evtx", yaml, detect,
                                                                       args.cpu)
            show(f"{label}, detection {_mode(detect)}", f, "records")
    return out


def access_phase(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    synth = tmp / "access.log"
    make_access_log(synth, args.lines)
    inputs = {
        "synthetic combined": f'  - {{name: web, type: file, paths: ["{synth}"]}}\n',
        "synthetic, parser: apache": (f'  - {{name: web, type: file, paths: ["{synth}"], '
                                      'parser: apache}\n'),
    }
    corpus_dir = corpus_access_logs(args.corpus, tmp, args.repeat) if args.corpus else None
    if corpus_dir is not None:
        inputs[f"corpus web logs x{args.repeat}"] = (
            f'  - {{name: corpus-web, type: file, paths: ["{corpus_dir}/*"]}}\n')
    out: dict[str, Any] = {}
    for label, yaml in inputs.items():
        for detect in args.detect:
            out[f"{label}, detection {_mode(detect)}"] = f = run_child("file", yaml, detect,
                                                                       args.cpu)
            show(f"{label}, detection {_mode(detect)}", f, "lines")
    return out


def syslog_phase(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    bench = _load_syslog_benchmark()
    runner = bench.soc_argv(tmp)
    out: dict[str, Any] = {}
    for detect in args.detect:
        ns = argparse.Namespace(messages=args.messages, connections=4, burst=args.burst,
                                rates=args.rates, cpu=args.cpu, detect=detect, refine=3,
                                udp_buffer="8MiB", udp_seconds=600)
        tcp = bench.tcp_phases(ns, tmp, runner)
        row: dict[str, Any] = {"tcp": tcp}
        print(f"{'syslog TCP, detection ' + _mode(detect):>34}: {tcp['messages']:,} messages, "
              f"end to end {tcp['end_to_end_per_s']:,}/s, spool only "
              f"{tcp['spool_only_per_s']:,}/s, pipeline only {tcp['pipeline_only_per_s']:,}/s, "
              f"lost {tcp['lost']}, peak RSS {tcp['peak_rss_mib_end_to_end']} MiB", flush=True)
        if not args.skip_udp:
            row["udp"] = udp = bench.udp_phase(ns, tmp, runner)
            print(f"{'syslog UDP, detection ' + _mode(detect):>34}: "
                  + ", ".join(f"{r['achieved']:,}/s lost {r['lost']}" for r in udp["steps"])
                  + (f"; loss begins between {udp['no_loss_up_to'] or 0:,}/s and "
                     f"{udp['loss_from']:,}/s" if udp["loss_from"] else
                     "; no loss at any rate reached"), flush=True)
        out[_mode(detect)] = row
    return out


def mordor_phase(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Lines of the mordor JSON exports parsed into Windows events, per file and overall."""
    from datetime import UTC, datetime

    from collectors.parsers.winlog import WinlogParser
    from soc.errors import ParseError
    from soc.pipeline.sources import ParseContext

    parser = WinlogParser()
    ctx = ParseContext(tz=UTC, now=datetime.now(UTC))
    folder = args.corpus / "mordor"
    files = {str(p.relative_to(folder)): [line for line in p.read_text(encoding="utf-8")
                                          .splitlines() if line.strip()]
             for p in sorted(folder.rglob("*.json"))}
    out: dict[str, Any] = {"files": {}}
    best = float("inf")
    for _ in range(5):
        c0 = time.process_time()
        shares = {}
        for name, lines in files.items():
            parsed = 0
            for line in lines:
                try:
                    parser.parse(line, ctx)
                    parsed += 1
                except ParseError:
                    pass
            shares[name] = (parsed, len(lines))
        best = min(best, time.process_time() - c0)
    for name, (parsed, lines) in shares.items():
        out["files"][name] = {"windows_events": parsed, "lines": lines}
        print(f"{parsed:>6,} of {lines:>6,} lines ({parsed / lines:6.1%})  {name}", flush=True)
    parsed, lines = (sum(v[i] for v in shares.values()) for i in (0, 1))
    out.update(windows_events=parsed, lines=lines, lines_per_cpu_s=round(lines / best))
    print(f"mordor: {parsed:,} of {lines:,} JSON lines are Windows events ({parsed / lines:.1%});"
          f" winlog parse {lines / best:,.0f} lines/CPU-s (best of 5, this process)", flush=True)
    return out


def _load_syslog_benchmark() -> Any:
    """benchmarks/syslog.py, under another name (``syslog`` is also a standard module)."""
    spec = importlib.util.spec_from_file_location("soc_bench_syslog",
                                                  Path(__file__).parent / "syslog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mode(detect: bool) -> str:
    return "on" if detect else "off"


# --- profiling ----------------------------------------------------------------------------------


def profile_phase(args: argparse.Namespace, tmp: Path) -> None:
    """cProfile one pass (detection off) and print the functions where the time goes."""
    if args.profile == "evtx":
        folder, _ = big_evtx(args.corpus, tmp, args.records)
        yaml = f'  - {{name: evtx, type: evtx, paths: ["{folder}/**/*.evtx"]}}\n'
    else:
        make_access_log(tmp / "access.log", args.lines)
        yaml = f'  - {{name: web, type: file, paths: ["{tmp / "access.log"}"]}}\n'
    out = str(tmp / "profile.out")
    f = run_child(args.profile if args.profile == "evtx" else "file", yaml, False, args.cpu,
                  profile=out)
    show(f"{args.profile} under cProfile", f, "records")
    for order in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(out, stream=buf).strip_dirs().sort_stats(order).print_stats(args.top)
        print(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=os.environ.get("SOC_CORPUS"),
                    help="public corpora folder (default $SOC_CORPUS)")
    ap.add_argument("--records", type=int, default=100_000,
                    help="EVTX records in the big files made of corpus chunks")
    ap.add_argument("--copies", type=int, default=5, help="copies of the corpus EVTX files")
    ap.add_argument("--lines", type=int, default=500_000, help="synthetic access-log lines")
    ap.add_argument("--repeat", type=int, default=20, help="repeats of the corpus web logs")
    ap.add_argument("--messages", type=int, default=200_000, help="syslog TCP messages")
    ap.add_argument("--burst", type=int, default=50_000, help="datagrams per UDP rate step")
    ap.add_argument("--rates", type=int, nargs="+",
                    default=[5_000, 10_000, 20_000, 40_000, 80_000, 160_000])
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin each pass to (-1: none)")
    ap.add_argument("--only", choices=["evtx", "access", "syslog", "mordor"], action="append")
    ap.add_argument("--skip-syslog", action="store_true")
    ap.add_argument("--skip-udp", action="store_true")
    ap.add_argument("--no-detect", dest="detect", action="store_const", const=[False],
                    default=[False, True], help="only with detection off")
    ap.add_argument("--profile", choices=["evtx", "access"])
    ap.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, cfg, detect = args.child
        print(json.dumps(child(kind, cfg, detect == "1", args.profile_out)))
        return
    args.cpu = None if args.cpu < 0 else args.cpu
    if args.corpus is None and (args.profile == "evtx"
                                or {"evtx", "mordor"} & set(args.only or ["evtx"])):
        ap.error("--corpus (or $SOC_CORPUS) is needed for the EVTX and mordor figures")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; each pass pinned to CPU "
          f"{args.cpu}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="soc-bench-inputs-") as tmp:
        if args.profile:
            profile_phase(args, Path(tmp))
            return
        only = args.only or ["evtx", "mordor", "access",
                             *([] if args.skip_syslog else ["syslog"])]
        phases = {"evtx": evtx_phase, "access": access_phase, "syslog": syslog_phase,
                  "mordor": mordor_phase}
        for name in only:
            work = Path(tmp) / name
            work.mkdir()
            results[name] = phases[name](args, work)
    print(json.dumps(results, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
