"""The console under a big queue: how long its pages take with 100,000 open alerts.

    python benchmarks/console.py                   # 100,000 open alerts on the embedded store
    python benchmarks/console.py --alerts 300000 --repeat 10
    python benchmarks/console.py --es http://127.0.0.1:9200   # on an Elasticsearch node

A fresh data directory gets ``--alerts`` open alerts (a few rules, severities, systems and
assignees, spread over 30 days, each with its entity) and a viewer account; then ``soc web`` runs
as a real process on loopback, the benchmark logs in through ``/login`` like a browser (cookie
and CSRF token) and asks, over real HTTP, for the queue's first page, a filtered page, a deep
page, one alert, the overview pages that exist, and the JSON API's list. Each URL is asked
``--repeat`` times; the best and the median wall times are printed, with the server's peak
memory. The issue's figure: every page under a second with 100,000 open alerts.

``--es URL`` puts the store on that Elasticsearch node instead (``soc.yml``'s ``store`` section,
under an index prefix of its own, removed at the end): the alerts go in through the store's
``upsert_alerts`` (10,000 a bulk request), and the same pages are timed.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-long-enough"
DAYS = 30  # the alerts' last_seen spread over the 30 days before the benchmark runs, so the
# overview's last 7 days (today's, the server's clock) hold about a quarter of them


def seed(config: Path, count: int) -> str:
    """``count`` open alerts and a viewer, in the store ``config`` names; returns one alert's
    id."""
    from soc.config import load_config
    from soc.ecs import format_ts
    from soc.models import Alert, Severity
    from soc.stores.base import open_store
    from soc.web.accounts import Accounts

    rnd = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=DAYS)
    rules = [("web-sqli", "SQL Injection In A Request Parameter"),
             ("ssh-brute", "SSH Brute Force"), ("intel-match", "Threat-intel indicator seen"),
             ("win-4625", "Failed Logons From One Source"), ("dns-tunnel", "DNS Tunnelling")]
    severities = list(Severity)
    systems = [f"sys-{n}" for n in range(40)]
    settings = load_config(config)
    data = settings.data_dir
    with open_store(settings) as store:
        batch = []
        for n in range(count):
            rule, title = rules[n % len(rules)]
            first = start + timedelta(seconds=rnd.randrange(DAYS * 86400))
            ip = f"203.0.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            batch.append(Alert(
                id=f"{n:032x}", rule_id=rule, rule_title=title,
                severity=severities[rnd.randrange(len(severities))],
                first_seen=format_ts(first), last_seen=format_ts(first + timedelta(minutes=5)),
                count=rnd.randrange(1, 50), dedup=f"d{n}",
                entity={"source.ip": ip, "labels.system": rnd.choice(systems)},
                created=format_ts(first), updated=format_ts(first)))
            if len(batch) == 10_000:
                store.upsert_alerts(batch, {})
                batch = []
        if batch:
            store.upsert_alerts(batch, {})
        Accounts(store, data_dir=data).add("viewer1", "viewer", PASSWORD, "bench")
    return f"{count // 2:032x}"


class Client:
    """A browser's cookie jar and the CSRF token of the last page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=60) as answer:
                return answer.status, answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def login(self, name: str) -> None:
        _, page = self.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf, "no CSRF field on /login"
        body = urllib.parse.urlencode({"username": name, "password": PASSWORD,
                                       "csrf": csrf.group(1)}).encode()
        with self.opener.open(self.base + "/login", data=body, timeout=60) as answer:
            assert answer.status == 200 and "/login" not in answer.url, "login refused"


def serve(config: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "soc", "--config", str(config), "web",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("Console: "):
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise SystemExit(f"soc web did not start: {line}{err}")
    return proc, line.split(" ", 1)[1].strip().rstrip("/")


def peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--es", metavar="URL", help="an Elasticsearch node to keep the store in")
    args = ap.parse_args()
    prefix = f"soc-bench-console-{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix="soc-bench-console-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        config = Path(tmp) / "soc.yml"
        config.write_text(f"data_dir: {data}\ntimezone: Asia/Ho_Chi_Minh\n"
                          f"{store_section(args.es, prefix)}", encoding="utf-8")
        try:
            run(config, args)
        finally:
            if args.es:
                remove_prefix(args.es, prefix)


def store_section(url: str | None, prefix: str) -> str:
    """The ``store`` section of ``soc.yml`` (none: the embedded store)."""
    if not url:
        return ""
    return (f"store:\n  type: elasticsearch\n  hosts: [{url}]\n  index_prefix: {prefix}\n"
            "  replicas: 0\n")


def remove_prefix(url: str, prefix: str) -> None:
    """Delete the indices and templates the run created on the node (by exact name)."""
    from soc.stores.es.connection import EsOptions, connect

    # the store's client: it speaks the node's major version (a 9.x client to an 8.x node)
    connected, _ = connect(EsOptions.from_mapping({"hosts": [url]}, data_dir=Path(".")))
    client = connected.options(ignore_status=(400, 404))
    for index in client.indices.get(index=f"{prefix}*", expand_wildcards="all"):
        client.indices.delete(index=index)
    for t in client.indices.get_index_template(name=f"{prefix}*").get("index_templates", []):
        client.indices.delete_index_template(name=t["name"])
    for t in client.cluster.get_component_template(name=f"{prefix}*").get(
            "component_templates", []):
        client.cluster.delete_component_template(name=t["name"])
    connected.close()


def run(config: Path, args: argparse.Namespace) -> None:
    """Seed, serve, and time the pages."""
    started = time.perf_counter()
    one = seed(config, args.alerts)
    where = f"Elasticsearch at {args.es}" if args.es else "the embedded store"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.alerts:,} open "
          f"alerts seeded into {where} in {time.perf_counter() - started:.1f}s",
          flush=True)
    proc, base = serve(config)
    try:
        client = Client(base)
        client.login("viewer1")
        urls = ["/alerts", "/alerts?status=open&severity=high", "/alerts?rule=ssh-brute",
                "/alerts?system=sys-7", "/alerts?page=200", f"/alerts/{one}",
                "/api/alerts?status=open", "/overview", "/status", "/incidents",
                "/rules", "/search?q=source.ip:203.0.113.5"]
        print(f"{'page':42} {'status':>6} {'best':>8} {'median':>8}")
        for url in urls:
            times = []
            status = 0
            for _ in range(args.repeat):
                t = time.perf_counter()
                status, _ = client.get(url)
                times.append(time.perf_counter() - t)
            if status == 404:
                print(f"{url:42} {status:>6}   (no such page in this version)")
                continue
            print(f"{url:42} {status:>6} {min(times) * 1000:>6.0f}ms "
                  f"{statistics.median(times) * 1000:>6.0f}ms", flush=True)
        print(f"\nserver peak RSS {peak_rss_mib(proc.pid):.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
