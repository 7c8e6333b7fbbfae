"""Threat-intel matching cost: pipeline events per second with 0, 10,000 and 100,000 indicators.

    python benchmarks/intel.py        # 200,000 access-log lines + 100,000 EVE records
    python benchmarks/intel.py --lines 50000 --eve 20000 --counts 0 100000 --rounds 2

Each measurement is one ``soc collect`` pass (:func:`soc.pipeline.collect.collect`, detection on:
the project's rules and intel matching) in a fresh child process pinned to one CPU, over a fresh
data directory into which the indicators were imported first (not timed with the pass; the import
is timed on its own). The inputs are a synthetic portal access log (the paths and user agents of
``benchmarks/collect.py``; returning clients as a portal has them, or with
``--distinct-clients`` every line from a new address, the worst case for the caches) and Suricata
EVE records (DNS queries, TLS, file transfers with hashes, flows), so every field
family the matcher reads is present. The indicators are mixed as a national centre's lists are:
addresses (some networks), domains, URLs, file hashes, e-mail addresses, JA3; a few of them occur
in the inputs, the rest do not. Rounds alternate the counts; the best per CPU-second is kept
(the machine is shared), and the loss is against 0 indicators.

By default the timed pass is the first one after the import, so it builds the matcher's index
from the store (what a pass after each pull pays). With ``--kept`` an untimed pass of the intel
stage builds it first and keeps it on disk (``<data_dir>/intel-index.cache``), as the cron job's
passes between two pulls find it: the timed pass reads it back.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _collect_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_collect", ROOT / "benchmarks"
                                                  / "collect.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_access_log(path: Path, lines: int, *, distinct: bool, seed: int = 11) -> None:
    """The portal's combined-format log. Its clients as a portal sees them (``distinct``
    False): four requests in five from 3,000 returning clients (citizens' and agencies'
    addresses, behind the ISPs' NAT), the rest from addresses seen once; or, the worst case
    for the matcher's caches, every line from an address never seen before."""
    bench = _collect_bench()
    rnd = random.Random(seed)
    regulars = [f"{rnd.choice((14, 27, 113, 116, 123, 171))}.{rnd.randrange(256)}."
                f"{rnd.randrange(256)}.{rnd.randrange(1, 255)}" for _ in range(3000)]
    t = time.time() - lines * 0.02
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            t += 0.02
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0700", time.localtime(t))
            if distinct or rnd.random() < 0.2:
                ip = f"203.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            else:
                ip = regulars[min(int(rnd.paretovariate(1.2)) - 1, len(regulars) - 1)
                              if rnd.random() < 0.5 else rnd.randrange(len(regulars))]
            url = rnd.choice(bench.PATHS).format(n=i % 9973)
            fh.write(f'{ip} - - [{stamp}] "GET {url} HTTP/1.1" {rnd.choice((200, 304, 404))} '
                     f'{rnd.randrange(200, 90000)} "https://portal.example.gov.vn/" '
                     f'"{rnd.choice(bench.AGENTS)}"\n')


def make_eve(path: Path, records: int, seed: int = 5) -> None:
    """Suricata EVE JSON lines: DNS, TLS with JA3, fileinfo with hashes, flows."""
    rnd = random.Random(seed)
    t = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(records):
            t += timedelta(milliseconds=30)
            src = f"10.10.{rnd.randrange(8)}.{rnd.randrange(2, 250)}"
            dst = f"203.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            base = {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%f+0000"), "flow_id": i,
                    "in_iface": "eth1", "src_ip": src, "src_port": rnd.randrange(1024, 65535),
                    "dest_ip": dst, "dest_port": 443, "proto": "TCP"}
            kind = i % 4
            if kind == 0:
                base.update(event_type="dns", dest_port=53, proto="UDP",
                            dns={"type": "query", "id": i % 65536,
                                 "rrname": f"cdn{rnd.randrange(500)}.site{rnd.randrange(3000)}.vn",
                                 "rrtype": "A", "tx_id": 0})
            elif kind == 1:
                base.update(event_type="tls", tls={
                    "sni": f"api{rnd.randrange(100)}.service{rnd.randrange(2000)}.com",
                    "version": "TLS 1.3",
                    "ja3": {"hash": hashlib.md5(str(rnd.randrange(400)).encode()).hexdigest()}})
            elif kind == 2:
                digest = hashlib.sha256(str(rnd.randrange(50_000)).encode()).hexdigest()
                base.update(event_type="fileinfo", app_proto="http", fileinfo={
                    "filename": f"/files/doc{rnd.randrange(9000)}.pdf", "state": "CLOSED",
                    "stored": False, "size": rnd.randrange(1000, 90000), "sha256": digest,
                    "md5": hashlib.md5(digest.encode()).hexdigest()})
            else:
                base.update(event_type="flow", flow={"pkts_toserver": 5, "pkts_toclient": 4,
                                                     "bytes_toserver": 700,
                                                     "bytes_toclient": 3000,
                                                     "state": "closed"})
            fh.write(json.dumps(base) + "\n")


def make_indicators(path: Path, count: int, seed: int = 3) -> None:
    """``count`` indicators as a plain CSV (value,type): 40 % addresses (a tenth of them
    networks), 25 % domains, 15 % file hashes, 10 % URLs, 5 % e-mail, 5 % JA3. Ten of them occur
    in the inputs (an attacker among the portal's clients, a hash among the files)."""
    rnd = random.Random(seed)
    rows = ["value,type"]
    for i in range(count):
        pick = rnd.random()
        if pick < 0.40:
            if i % 10 == 0:
                rows.append(f"198.{18 + i % 2}.{rnd.randrange(256)}.0/24,ipv4")
            else:
                rows.append(f"198.{18 + i % 2}.{rnd.randrange(256)}.{rnd.randrange(256)},ipv4")
        elif pick < 0.65:
            rows.append(f"bad{i}.threat{rnd.randrange(10_000)}.example,domain")
        elif pick < 0.80:
            rows.append(f"{hashlib.sha256(f'mal{i}'.encode()).hexdigest()},sha256")
        elif pick < 0.90:
            rows.append(f"http://dl{i}.payload.example/x/{i}.bin,url")
        elif pick < 0.95:
            rows.append(f"phish{i}@lure.example,email")
        else:
            rows.append(f"{hashlib.md5(f'ja3-{i}'.encode()).hexdigest()},ja3")
    if count:
        rows += [f"203.{n}.{n}.{n},ipv4" for n in range(1, 6)]
        rows += [f"{hashlib.sha256(str(n).encode()).hexdigest()},sha256" for n in range(5)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def child(cfg: str, indicators: str, mode: str = "built") -> dict[str, Any]:
    """In a fresh process: import the indicators, then one collect pass (timed alone); with
    ``mode`` "kept", the index built and kept by an earlier (untimed) stage in between."""
    from soc import registry
    from soc.config import load_config
    from soc.ecs import format_ts
    from soc.intel import index_cache, library
    from soc.intel.pull import parse_document
    from soc.intel.stage import IntelStage
    from soc.pipeline.collect import collect
    from soc.stores.base import open_store

    config = load_config(cfg)
    registry.parsers()
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    imported = 0
    if Path(indicators).stat().st_size > 20:
        result = parse_document(Path(indicators).read_bytes(), "csv", source="bench",
                                config=config, now=now)
        with open_store(config) as store:
            imported = library.ingest(store, result.indicators, format_ts(now)).read
    import_s = time.perf_counter() - t0
    if mode == "kept":  # what the previous cron pass left
        with open_store(config) as store:
            IntelStage(cache=config.data_dir / index_cache.FILE_NAME).process([], store)
    t0, c0 = time.perf_counter(), time.process_time()
    report = collect(config, detect=True)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"indicators": imported, "import_seconds": round(import_s, 2),
            "events": report.events, "dead_letters": report.dead_letters,
            "alerts": sum(s.alerts for s in report.sources),
            "errors": [s.error for s in report.sources if s.error],
            "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "per_s": round(report.events / seconds), "per_cpu_s": round(report.events / cpu),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run(count: int, inputs: Path, cpu: int | None, mode: str = "built") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soc-bench-intel-") as data:
        cfg = Path(data) / "soc.yml"
        cfg.write_text(f"data_dir: {data}/data\nsources:\n"
                       f'  - {{name: web, type: file, paths: ["{inputs}/access.log"], '
                       "parser: apache}\n"
                       f'  - {{name: sensor, type: file, paths: ["{inputs}/eve.json"], '
                       "parser: suricata}\n")
        ioc = Path(data) / "ioc.csv"
        make_indicators(ioc, count)
        argv = [sys.executable, __file__, "--child", str(cfg), str(ioc), mode]
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        out = subprocess.run(argv, check=True, capture_output=True, text=True, preexec_fn=pin,
                             cwd=ROOT).stdout
    found: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=200_000, help="synthetic access-log lines")
    ap.add_argument("--eve", type=int, default=100_000, help="synthetic Suricata EVE records")
    ap.add_argument("--counts", type=int, nargs="+", default=[0, 10_000, 100_000])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; best kept")
    ap.add_argument("--distinct-clients", action="store_true",
                    help="every access-log line from a new address (the caches' worst case)")
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin each pass to (-1: none)")
    ap.add_argument("--kept", action="store_true",
                    help="time a pass that finds the index kept by the previous one")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    cpu = None if args.cpu < 0 else args.cpu
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; each pass pinned to CPU "
          f"{cpu}; {args.lines:,} access-log lines ("
          f"{'every client new' if args.distinct_clients else 'returning clients'}) + "
          f"{args.eve:,} EVE records; the index "
          f"{'kept by the previous pass' if args.kept else 'built by the pass'}", flush=True)
    best: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="soc-bench-intel-inputs-") as tmp:
        inputs = Path(tmp)
        make_access_log(inputs / "access.log", args.lines, distinct=args.distinct_clients)
        make_eve(inputs / "eve.json", args.eve)
        for round_no in range(args.rounds):
            for count in args.counts:
                f = run(count, inputs, cpu, "kept" if args.kept else "built")
                print(f"round {round_no + 1}: {count:>7,} indicators: {f['events']:,} events in "
                      f"{f['seconds']:.2f}s = {f['per_s']:,}/s wall, {f['per_cpu_s']:,}/CPU-s; "
                      f"peak RSS {f['peak_rss_mib']:.0f} MiB; alerts {f['alerts']}; import "
                      f"{f['import_seconds']:.1f}s" + (f"; ERRORS {f['errors']}"
                                                         if f["errors"] else ""), flush=True)
                if count not in best or f["per_cpu_s"] > best[count]["per_cpu_s"]:
                    best[count] = f
    base = best.get(0, {}).get("per_cpu_s")
    print("\nbest per CPU-second:")
    for count in args.counts:
        f = best[count]
        loss = f" ({(f['per_cpu_s'] / base - 1) * 100:+.1f} %)" if base and count else ""
        print(f"{count:>9,} indicators: {f['per_cpu_s']:>7,} events/CPU-s{loss}, peak RSS "
              f"{f['peak_rss_mib']:.0f} MiB, import {f['import_seconds']:.1f}s")
    print(json.dumps({str(k): v for k, v in best.items()}, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
