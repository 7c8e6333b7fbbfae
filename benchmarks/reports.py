"""A monthly report over 1,000,000 stored events: the time to compute and render it.

    python benchmarks/reports.py                      # 1M events into a fresh store, then time
    python benchmarks/reports.py --events 200000      # another size
    python benchmarks/reports.py --store DIR          # reuse a store built by an earlier run

Run 1 starts with an empty aggregation cache (every document read); run 2 is answered from the
per-partition cache run 1 left (as after the daily reports of the month). The events are auth,
web and firewall records of November 2026 (about 900 bytes each, like the
parsers' output) spread over three systems of two units, with 400 alerts. The report's event
figures are store aggregations (``Store.aggregate``: SQL GROUP BY over the day partitions), so
the time depends on the store, not on Python loops over events. Wall and CPU seconds are both
printed: on a shared machine the CPU figure is the steadier one. Figures go in docs/reports.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from soc.config import load_config
from soc.ecs import event_id, format_ts
from soc.models import Alert, Severity
from soc.reports.kpis import Scope
from soc.reports.period import parse
from soc.reports.periodic import periodic_document
from soc.reports.render import Format, render
from soc.stores.sqlite.store import SQLiteStore

CONFIG = """\
data_dir: data
inventory:
  units: [{id: vp-ubnd, name: Văn phòng UBND tỉnh}, {id: so-khcn, name: Sở KH&CN}]
  systems:
    - {id: cong-ttdt, name: Cổng thông tin điện tử tỉnh, unit: vp-ubnd, security_level: 3}
    - {id: dvc, name: Cổng dịch vụ công, unit: so-khcn, security_level: 3}
    - {id: email, name: Thư điện tử công vụ, unit: so-khcn, security_level: 2}
"""
SYSTEMS = [("cong-ttdt", "vp-ubnd", 3), ("dvc", "so-khcn", 3), ("email", "so-khcn", 2)]
START = datetime(2026, 10, 31, 17, tzinfo=UTC)  # 00:00 1/11/2026 in Hà Nội


def event(n: int, rnd: random.Random) -> dict[str, object]:
    ts = START + timedelta(seconds=n * (30 * 86400 / ARGS.events))
    system, unit, level = SYSTEMS[n % 3]
    ip = f"203.0.{rnd.randrange(256)}.{rnd.randrange(256)}"
    kind = n % 10
    e: dict[str, object] = {
        "@timestamp": format_ts(ts), "event.id": event_id("bench-report", n),
        "event.ingested": format_ts(ts), "host.name": f"{system}-web0{n % 2}",
        "organization.id": unit, "labels.system": system, "labels.security_level": level,
        "source.ip": ip, "log.file.path": f"/var/log/{system}/access.log", "log.offset": n * 200}
    if kind < 5:
        e.update({"event.dataset": "apache.access", "event.module": "apache",
                  "url.path": f"/tin-tuc/{n % 5000}", "http.response.status_code": 200,
                  "event.category": ["web"], "event.outcome": "success",
                  "user_agent.original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                  "event.original": f'{ip} - - [01/Nov/2026:00:00:00 +0700] "GET /tin-tuc/'
                                    f'{n % 5000} HTTP/1.1" 200 5120 "-" "Mozilla/5.0"'})
    elif kind < 8:
        e.update({"event.dataset": "linux.auth", "event.module": "system",
                  "process.name": "sshd", "user.name": rnd.choice(["root", "admin", "quantri"]),
                  "event.category": ["authentication"], "event.outcome": "failure",
                  "event.action": "ssh_failed_password",
                  "event.original": f"Nov  1 00:00:00 {system} sshd[{n % 30000}]: Failed "
                                    f"password for root from {ip} port {n % 60000} ssh2",
                  "message": f"Failed password for root from {ip} port {n % 60000} ssh2"})
    else:
        e.update({"event.dataset": "fortigate.traffic", "event.module": "fortigate",
                  "destination.ip": "10.10.1.10", "destination.port": 443,
                  "network.transport": "tcp", "event.action": "deny",
                  "event.category": ["network"], "event.outcome": "failure",
                  "event.original": f"date=2026-11-01 time=00:00:00 devname=FGT srcip={ip} "
                                    "dstip=10.10.1.10 dstport=443 action=deny policyid=7"})
    if n % 5000 == 0:
        e.update({"event.category": ["iam"], "event.action": "user_added"})
    return e


def build(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "soc.yml").write_text(CONFIG, encoding="utf-8")
    config = load_config(directory / "soc.yml")
    rnd = random.Random(7)
    started, cpu = time.perf_counter(), time.process_time()
    with SQLiteStore.open(config) as store:
        for start in range(0, ARGS.events, 20000):
            store.write_events([event(n, rnd) for n in range(start, min(start + 20000,
                                                                          ARGS.events))])
        alerts = [Alert(id=f"{i:032x}", rule_id=f"rule-{i % 12}", rule_title=f"Quy tắc {i % 12}",
                        severity=list(Severity)[i % 5], count=1 + i % 40,
                        first_seen=format_ts(START + timedelta(hours=i * 1.7)),
                        last_seen=format_ts(START + timedelta(hours=i * 1.7, minutes=5)),
                        tags=("attack.t1110.001",) if i % 2 else ("attack.t1190",),
                        entity={"source.ip": f"203.0.113.{i % 60}",
                                "host.name": "cong-ttdt-web00",
                                "labels.system": SYSTEMS[i % 3][0],
                                "organization.id": SYSTEMS[i % 3][1]},
                        event={"event.original": "Failed password for root",
                               "process.name": "sshd"},
                        created=format_ts(START + timedelta(hours=i * 1.7, minutes=6)))
                  for i in range(400)]
        store.upsert_alerts(alerts, {})
    print(f"stored {ARGS.events} events in {time.perf_counter() - started:.1f} s "
          f"({time.process_time() - cpu:.1f} CPU-s, generating them included)", file=sys.stderr)


def measure(directory: Path) -> dict[str, float]:
    config = load_config(directory / "soc.yml")
    period = parse("month", "2026-11", config.tz)
    with SQLiteStore.open_path(config.data_dir / "store.db") as store:
        started, cpu = time.perf_counter(), time.process_time()
        doc = periodic_document(store, config, "monthly", period, Scope())
        computed = time.perf_counter()
        html = render(doc, Format.HTML)
        done, cpu_s = time.perf_counter(), time.process_time() - cpu
        total = store.count(since=period.since, until=period.until)
    return {"events": total, "compute_s": computed - started, "render_s": done - computed,
            "total_s": done - started, "cpu_s": cpu_s, "html_bytes": len(html)}


def main() -> int:
    directory = Path(ARGS.store) if ARGS.store else Path(tempfile.mkdtemp(prefix="soc-bench-"))
    if not (directory / "soc.yml").exists():
        build(directory)
    with SQLiteStore.open_path(directory / "data" / "store.db") as store:
        store.db.execute("DROP TABLE IF EXISTS agg_cache")  # run 1 starts cold
    for run in (1, 2):
        figures = measure(directory)
        print(f"run {run}: {figures['events']:,} events, figures {figures['compute_s']:.2f} s, "
              f"render {figures['render_s']:.2f} s, total {figures['total_s']:.2f} s, "
              f"CPU {figures['cpu_s']:.2f} s ({figures['html_bytes']:,} bytes of HTML)")
    print(f"store: {directory}", file=sys.stderr)
    return 0


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--events", type=int, default=1_000_000)
parser.add_argument("--store", help="folder of a store built by an earlier run")
ARGS = parser.parse_args()

if __name__ == "__main__":
    sys.exit(main())
