"""The Elasticsearch store on a real node: bulk ingest, the spool, and analysts' searches.

    python benchmarks/es.py                       # starts a node with .ci/es-node, 1M events
    python benchmarks/es.py --url http://127.0.0.1:9200 --lines 200000
    python benchmarks/es.py --repeat 3            # each search three times more

Reports:

* ingest with the spool off: ``soc collect``'s ingest of a synthetic auth.log (the generator of
  benchmarks/ingest.py) into the node, detection off: events/s (parsing included, as a user sees
  it) and the process's peak RSS;
* ingest with the spool on: the same lines while the cluster is unreachable (a closed port), so
  every batch goes to the spool, then the replay of that spool into the node when it is back;
* search latency over everything ingested: a few typical analyst queries through the store's
  ``search`` (first page of 100), ``count`` and ``aggregate``, median of the repeats.

The node is a fresh index prefix per run; nothing is deleted (the test node's data goes with its
next start).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import make_log

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    ("one user", "user.name:admin"),
    ("failed logins of one source /16", 'event.outcome:failure AND source.ip:"203.0.0.0/16"'),
    ("a bare word", "nginx"),
    ("wildcard on a keyword", "user.name:ng*"),
    ("last hour window", "*"),
]


def write_config(data_dir: Path, url: str, prefix: str) -> None:
    (data_dir / "soc.yml").write_text(
        "store:\n  type: elasticsearch\n"
        f"  hosts: ['{url}']\n  index_prefix: '{prefix}'\n  replicas: 0\n"
        f"data_dir: '{data_dir}'\n", encoding="utf-8")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ingest(data_dir: Path, path: Path) -> tuple[int, float]:
    from soc.config import load_config
    from soc.pipeline.collect import ingest as run

    config = load_config(data_dir / "soc.yml", data_dir=data_dir)
    t0 = time.perf_counter()
    report = run(config, [str(path)], detect=False)
    return report.events, time.perf_counter() - t0


def replay(data_dir: Path) -> tuple[int, float]:
    from soc.config import load_config
    from soc.stores.es.store import ElasticsearchStore

    config = load_config(data_dir / "soc.yml", data_dir=data_dir)
    store = ElasticsearchStore.open(config)
    t0 = time.perf_counter()
    store.delivery.drain()
    seconds = time.perf_counter() - t0
    store.client.indices.refresh(index=store.names.events)
    delivered = store.count("*")
    store.close()
    return delivered, seconds


def timed(fn: Callable[[], Any], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1000


def searches(data_dir: Path, repeat: int) -> None:
    from datetime import timedelta

    from soc.config import load_config
    from soc.stores.es.store import ElasticsearchStore

    config = load_config(data_dir / "soc.yml", data_dir=data_dir)
    store = ElasticsearchStore.open(config, readonly=True)
    store.client.indices.refresh(index=store.names.events)
    total = store.count("*")
    newest = next(iter(store.search("*", limit=1)))["@timestamp"]
    from soc.ecs import parse_ts

    until = parse_ts(newest) + timedelta(seconds=1)
    since = until - timedelta(hours=1)
    print(f"searches over {total:,} events (median of {repeat}):")
    for label, query in QUERIES:
        window = {"since": since, "until": until} if label == "last hour window" else {}
        ms = timed(lambda q=query, w=window: list(store.search(q, limit=100, **w)), repeat)
        hits = store.count(query, **window)
        print(f"  {label:<34} {query!r:<55} {hits:>9,} hits  first 100 in {ms:7.1f} ms")
    ms = timed(lambda: store.count("event.outcome:failure"), repeat)
    print(f"  {'count of failures':<34} {'':<55} {'':>9}       count in {ms:7.1f} ms")
    ms = timed(lambda: store.aggregate("*", group_by=["user.name"], top=10), repeat)
    print(f"  {'top 10 users':<34} {'':<55} {'':>9}   aggregate in {ms:7.1f} ms")
    ms = timed(lambda: store.aggregate("*", group_by=["user.name", "source.ip"], top=10),
               repeat)
    print(f"  {'top 10 user and source pairs':<34} {'':<55} {'':>9}   aggregate in {ms:7.1f} ms")
    ms = timed(lambda: store.aggregate("*", interval="1h"), repeat)
    print(f"  {'events per hour':<34} {'':<55} {'':>9}   aggregate in {ms:7.1f} ms")
    store.close()


def node_url(args: argparse.Namespace) -> tuple[str, Callable[[], None]]:
    if args.url:
        return args.url, lambda: None
    script = str(ROOT / ".ci" / "es-node")
    url = subprocess.run([script, "start", "--name", "bench"], check=True,
                         capture_output=True, text=True).stdout.strip()
    return url, lambda: subprocess.run([script, "stop", "--name", "bench"], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running node (default: start one with .ci/es-node)")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--spool-lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url, stop = node_url(args)
    try:
        from soc.stores.es.capabilities import probe
        from soc.stores.es.connection import EsOptions, connect

        client, _ = connect(EsOptions.from_mapping({"hosts": [url]}, data_dir=Path(".")))
        caps = probe(client)
        client.close()
        print(f"Elasticsearch {caps.version} at {url}; python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cores")
        with tempfile.TemporaryDirectory(prefix="soc-bench-es-") as tmp:
            root = Path(tmp)
            prefix = f"socbench-{uuid.uuid4().hex[:6]}-"
            log = root / "auth.log"
            make_log(log, args.lines)
            direct = root / "direct"
            direct.mkdir()
            write_config(direct, url, prefix)
            events, seconds = ingest(direct, log)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"ingest, spool off: {events:,} events in {seconds:.1f}s = "
                  f"{events / seconds:,.0f} events/s (peak RSS {rss:.0f} MiB)")
            small = root / "auth-spool.log"
            make_log(small, args.spool_lines, seed=11)
            spooled = root / "spooled"
            spooled.mkdir()
            write_config(spooled, f"http://127.0.0.1:{closed_port()}", f"{prefix}sp-")
            logging.getLogger("soc.stores.es").setLevel(logging.ERROR)  # a warning per batch
            logging.getLogger("elastic_transport").setLevel(logging.CRITICAL)
            events, seconds = ingest(spooled, small)
            print(f"ingest, spool on (cluster away): {events:,} events in {seconds:.1f}s = "
                  f"{events / seconds:,.0f} events/s")
            write_config(spooled, url, f"{prefix}sp-")
            delivered, seconds = replay(spooled)
            print(f"spool replay when the cluster is back: {delivered:,} events in "
                  f"{seconds:.1f}s = {delivered / max(seconds, 1e-9):,.0f} events/s")
            searches(direct, args.repeat)
    finally:
        stop()


if __name__ == "__main__":
    main()
