"""Threat-intel matching cost: events/s through the indicator index with 0, 10,000 and 100,000
live indicators of mixed types, and the memory the index takes.

    python benchmarks/intel_match.py                          # synthetic events
    python benchmarks/intel_match.py --corpus $SOC_CORPUS     # and the corpus' parsed events
    python benchmarks/intel_match.py --profile 100000         # where the time goes

What is timed is what :class:`soc.intel.stage.IntelStage` does to every event, minus raising the
alerts (a store write, for the few events that match): skip the batch when no indicator is live,
else :meth:`~soc.intel.matcher.IndicatorIndex.match` every event and
:func:`~soc.intel.enrich.annotate` the ones that matched.

* **Events**: ``synthetic`` is a provincial SOC's mix, built in the shapes the project's parsers
  write (access logs without a host, firewall sessions, DNS queries with answers, Sysmon process
  creations with ``Hashes``, Suricata TLS, HTTP and fileinfo records, mail, Windows logons), over a
  few hundred internal hosts and 30,000 external addresses drawn with a long tail, so the
  per-string caches see what they would see in a stream. ``corpus`` (with ``--corpus``) is the
  EVTX attack samples, the Suricata IcedID EVE log, the OpenSSH log and the web scanner logs,
  parsed by soc (:func:`soc.detection.hunt.read_events`).
* **Indicators**: addresses (one in twenty a CIDR, of 10 prefix lengths from /16 to /30), IPv6
  addresses and /48-/64 networks, domains, URLs (some with a query), md5/sha1/sha256, e-mail
  addresses, JA3/JA4 and user agents, plus a few rare values taken from the events and a listed
  page on the portal that the HTTP records visit (so that URLs on that host are normalised).
* Each pass gets a fresh index (empty caches) and each batch fresh copies of its events; the
  figure is the best of ``--repeat`` passes per CPU-second of this process (the machine is
  shared). The loss is
  what the per-event cost takes from a pipeline running at 20,000 and 60,000 events/s.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from soc.ecs import Event  # noqa: E402
from soc.intel.enrich import annotate  # noqa: E402
from soc.intel.matcher import IndicatorIndex  # noqa: E402
from soc.intel.model import (  # noqa: E402
    Indicator,
    IndicatorError,
    IndicatorRecord,
    ip_kind,
    normalize,
)

NOW = "2026-12-01T00:00:00.000Z"
RATES = (20_000, 60_000)
PREFIXES = (16, 20, 22, 23, 24, 24, 24, 24, 24, 25, 26, 27, 28, 29, 30)
"""CIDR lengths of the synthetic feed: mostly /24, a few wide blocks (Spamhaus DROP's shape)."""
TLDS = ("com", "net", "org", "ru", "xyz", "top", "info", "vn", "com.vn", "cn", "io")
PAGES = ("/", "/tin-tuc/chi-tiet?id={n}", "/dich-vu-cong/ho-so/{n}", "/static/js/app.{n}.js",
         "/api/v1/tra-cuu?ma={n}", "/images/banner-{n}.jpg", "/wp-login.php", "/.env")
AGENTS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0 Safari/537.36", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 "
          "Firefox/121.0", "curl/8.4.0", "sqlmap/1.7.2#stable (https://sqlmap.org)")
SITES = ("google.com", "www.facebook.com", "zalo.me", "chinhphu.vn", "vnexpress.net",
         "update.microsoft.com", "cdn.jsdelivr.net", "api.telegram.org", "portal.example.gov.vn")


# --- events --------------------------------------------------------------------------------------


class Traffic:
    """Addresses, names and hashes with a long tail, as a province's stream repeats them."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.internal = [f"10.{rnd.randrange(1, 30)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
                         for _ in range(400)]
        self.external = [_public(rnd) for _ in range(30_000)]
        self.domains = list(SITES) + [f"{_word(rnd)}.{rnd.choice(TLDS)}" for _ in range(8_000)]
        self.hashes = [(_hex(rnd, 32), _hex(rnd, 40), _hex(rnd, 64)) for _ in range(3_000)]

    def pick(self, items: list[Any]) -> Any:
        """Item i drawn with weight ~ 1/(i+1): a few very common, a long tail of rare ones."""
        return items[min(len(items) - 1, int(len(items) ** self.rnd.random()) - 1)]

    def ext(self) -> str:
        return str(self.pick(self.external))

    def host(self) -> str:
        name = str(self.pick(self.domains))
        return f"{_word(self.rnd)}.{name}" if self.rnd.random() < 0.2 else name


def _word(rnd: random.Random) -> str:
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(
        rnd.randrange(4, 12)))


def _hex(rnd: random.Random, n: int) -> str:
    return f"{rnd.getrandbits(n * 4):0{n}x}"


def _public(rnd: random.Random) -> str:
    while True:
        a = rnd.randrange(1, 224)
        if a not in (10, 127, 172, 192, 100, 169):
            return f"{a}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"


def _base(kind: str, i: int, dataset: str, **fields: Any) -> Event:
    """The fields every parsed event has, then the event's own."""
    return {"@timestamp": f"2026-12-01T08:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
            "event.id": f"{i:032x}", "event.dataset": dataset,
            "event.module": dataset.split(".")[0],
            "event.kind": "event", "event.category": [kind], "event.ingested": NOW,
            "host.name": "portal-01", "observer.name": "fw-tinh", "message": f"event {i}",
            "soc.unit": "So TTTT", "soc.system": "portal", "soc.level": 3, **fields}


def synthetic_events(n: int, seed: int = 7) -> list[Event]:
    rnd = random.Random(seed)
    t = Traffic(rnd)
    makers: list[tuple[float, Callable[[int], Event]]] = [
        (0.35, lambda i: (lambda src, url: _base(
            "web", i, "apache.access", **{
                "source.ip": src, "url.original": url, "url.path": url.partition("?")[0],
                "http.request.method": "GET", "http.response.status_code": 200,
                "http.response.body.bytes": rnd.randrange(99999), "user_agent.original":
                rnd.choice(AGENTS), "http.request.referrer": "-", "related.ip": [src]}))(
            t.ext(), rnd.choice(PAGES).format(n=i % 997))),
        (0.25, lambda i: (lambda src, dst: _base(
            "network", i, "fortinet.firewall", **{
                "source.ip": src, "destination.ip": dst,
                "source.port": rnd.randrange(1024, 65535), "destination.port": 443,
                "source.nat.ip": "203.0.113.10", "network.transport": "tcp",
                "event.action": "accept", "related.ip": [src, dst, "203.0.113.10"],
                "rule.name": "lan-to-wan", "network.bytes": 5120}))(
            rnd.choice(t.internal), t.ext())),
        (0.10, lambda i: (lambda name, ip: _base(
            "network", i, "bind.query", **{
                "source.ip": rnd.choice(t.internal), "dns.question.name": name,
                "dns.question.type": "A", "dns.answers.data": [ip], "dns.resolved_ip": [ip],
                "related.ip": [ip]}))(t.host(), t.ext())),
        (0.06, lambda i: (lambda h: _base(
            "process", i, "windows.sysmon_operational", **{
                "winlog.event_id": "1", "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
                "process.executable": "C:\\Windows\\System32\\cmd.exe", "process.pid": 4242,
                "process.command_line": "cmd.exe /c whoami", "user.name": "SYSTEM",
                "winlog.event_data.Image": "C:\\Windows\\System32\\cmd.exe",
                "winlog.event_data.Hashes":
                f"SHA1={h[1].upper()},MD5={h[0].upper()},SHA256={h[2].upper()},"
                f"IMPHASH={h[0][::-1].upper()}",
                "winlog.event_data.ParentImage": "C:\\Windows\\explorer.exe",
                "winlog.event_data.User": "NT AUTHORITY\\SYSTEM",
                "winlog.event_data.IntegrityLevel": "System"}))(t.pick(t.hashes))),
        (0.06, lambda i: _base(
            "network", i, "suricata.eve", **{
                "source.ip": rnd.choice(t.internal), "destination.ip": t.ext(),
                "tls.client.server_name": t.host(), "tls.client.ja3": _hex(rnd, 32)
                if rnd.random() < 0.1 else "e7d705a3286e19ea42f587b344ee6865",
                "tls.version": "1.3", "network.protocol": "tls"})),
        (0.06, lambda i: (lambda host: _base(
            "web", i, "suricata.eve", **{
                "source.ip": rnd.choice(t.internal), "destination.ip": t.ext(),
                "url.domain": host, "url.original": rnd.choice(PAGES).format(n=i % 97),
                "user_agent.original": rnd.choice(AGENTS), "http.request.method": "GET"}))(
            t.host())),
        (0.04, lambda i: (lambda h: _base(
            "file", i, "suricata.eve", **{
                "source.ip": t.ext(), "destination.ip": rnd.choice(t.internal),
                "file.name": "invoice.zip", "file.size": 4096, "file.hash.md5": h[0],
                "file.hash.sha1": h[1], "file.hash.sha256": h[2]}))(t.pick(t.hashes))),
        (0.04, lambda i: _base(
            "email", i, "postfix.log", **{
                "source.ip": t.ext(), "email.from.address": f"{_word(rnd)}@{t.host()}",
                "email.to.address": [f"vanthu@{SITES[-1]}"], "email.message_id": f"<{i}@mx>",
                "source.domain": t.host()})),
        (0.04, lambda i: _base(
            "authentication", i, "windows.security", **{
                "winlog.event_id": "4624", "source.ip": rnd.choice(t.internal),
                "user.name": "nguyenvana", "winlog.event_data.LogonType": "3",
                "winlog.event_data.WorkstationName": "PC-01", "event.outcome": "success"})),
    ]
    weights = [w for w, _ in makers]
    chosen = rnd.choices([m for _, m in makers], weights, k=n)
    return [make(i) for i, make in enumerate(chosen)]


def corpus_events(corpus: Path) -> list[Event]:
    """The corpus files named in the module's docstring, parsed by soc."""
    from soc.config import load_config
    from soc.detection.hunt import read_events
    paths = [*sorted((corpus / "evtx-attack-samples").rglob("*.evtx")),
             *sorted((corpus / "suricata").rglob("*.json")),
             corpus / "loghub" / "OpenSSH" / "OpenSSH_2k.log",
             *sorted((corpus / "web" / "scanner-access-logs").glob("*.txt"))]
    with tempfile.TemporaryDirectory(prefix="soc-intel-bench-") as tmp:
        (Path(tmp) / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
        config = load_config(Path(tmp) / "soc.yml")
        return [e for b in read_events(config, [str(p) for p in paths if p.exists()]) for e in b]


# --- indicators ----------------------------------------------------------------------------------


def indicators(n: int, events: list[Event], seed: int = 13) -> list[IndicatorRecord]:
    """``n`` records of mixed types, a few of them values the events hold."""
    if n == 0:
        return []
    rnd = random.Random(seed)
    out = []
    for kind, value in _planted(events, rnd):
        try:
            out.append(_record(kind, value))
        except IndicatorError:
            continue
    makers: list[tuple[float, str, Callable[[], str]]] = [
        (0.38, "ipv4", lambda: _public(rnd)),
        (0.02, "ipv4", lambda: f"{_public(rnd)}/{rnd.choice(PREFIXES)}"),
        (0.02, "ipv6", lambda: f"2a0{rnd.randrange(10)}:{rnd.getrandbits(16):x}::"
                               f"{rnd.getrandbits(16):x}"),
        (0.01, "ipv6", lambda: f"2a0{rnd.randrange(10)}:{rnd.getrandbits(16):x}:"
                               f"{rnd.getrandbits(16):x}::/{rnd.choice((48, 64))}"),
        (0.25, "domain", lambda: f"{_word(rnd)}.{rnd.choice(TLDS)}"),
        (0.12, "url", lambda: f"http://{_word(rnd)}.{rnd.choice(TLDS)}/{_word(rnd)}.php"
                              + (f"?id={rnd.randrange(999)}" if rnd.random() < 0.3 else "")),
        (0.05, "md5", lambda: _hex(rnd, 32)), (0.05, "sha1", lambda: _hex(rnd, 40)),
        (0.05, "sha256", lambda: _hex(rnd, 64)),
        (0.03, "email", lambda: f"{_word(rnd)}@{_word(rnd)}.{rnd.choice(TLDS)}"),
        (0.01, "ja3", lambda: _hex(rnd, 32)),
        (0.005, "ja4", lambda: f"t13d{rnd.randrange(10**6):06d}_{_hex(rnd, 12)}_{_hex(rnd, 12)}"),
        (0.005, "user-agent", lambda: f"Bot-{_word(rnd)}/1.{rnd.randrange(9)}"),
    ]
    weights = [w for w, _, _ in makers]
    while len(out) < n:
        _, kind, make = rnd.choices(makers, weights)[0]
        try:
            out.append(_record(kind, make()))
        except IndicatorError:
            continue
    return out[:n]


def _planted(events: list[Event], rnd: random.Random) -> Iterator[tuple[str, str]]:
    """A few rare values of the events (seen a handful of times each), as a feed lists what
    really goes by now and then."""
    for kind, field in (("ipv4", "destination.ip"), ("ipv4", "source.ip"),
                        ("domain", "dns.question.name"), ("md5", "file.hash.md5"),
                        ("domain", "tls.client.server_name")):
        seen = Counter(e[field] for e in events if isinstance(e.get(field), str))
        rare = sorted(v for v, c in seen.items() if c <= 5 and not v.startswith("10."))
        for value in rnd.sample(rare, min(5, len(rare))):
            yield ip_kind(value) or kind, value
    yield "url", "http://portal.example.gov.vn/wp-login.php"  # a listed page on a watched host


def _record(kind: str, value: str) -> IndicatorRecord:
    item = Indicator(kind, normalize(kind, value), "bench-feed", valid_until="2027-01-01T00:00:00."
                     "000Z", confidence=70, tlp="amber")
    return IndicatorRecord.first(item, NOW)


# --- measuring -----------------------------------------------------------------------------------


def fresh(event: Event) -> Event:
    """A copy with new value strings (their hash not computed yet; one object for one value
    within the event, as a parser puts the same ``src`` in ``source.ip`` and ``related.ip``) and
    the same keys (a parser writes its field names from literals): what the stage gets."""
    memo: dict[str, str] = {}

    def new(text: str) -> str:
        copy = memo.get(text)
        if copy is None:
            copy = memo[text] = (text + " ")[:-1]
        return copy

    return {k: new(v) if v.__class__ is str else [new(x) if x.__class__ is str else x
                                                  for x in v] if v.__class__ is list else v
            for k, v in event.items()}


def one_pass(index: IndicatorIndex, events: list[Event], batch: int) -> tuple[float, int]:
    """CPU-seconds of the stage's work on ``events``, and the events matched. Each batch is
    fresh copies made just before it is timed, as the pipeline's parser has just written its
    batch when the stage sees it (a benchmark-long list of old events would measure the
    memory's latency, not the matcher)."""
    gc.collect()
    hits = 0
    cpu = 0.0
    for start in range(0, len(events), batch):
        copies = [fresh(e) for e in events[start:start + batch]]
        c0 = time.process_time()
        if not index.empty:
            match = index.match
            for event in copies:
                found = match(event)
                if found:
                    annotate(event, found)
                    hits += 1
        cpu += time.process_time() - c0
    return cpu, hits


def measure(name: str, events: list[Event], counts: list[int], repeat: int, batch: int) -> None:
    print(f"\n{name}: {len(events):,} events, {sum(len(e) for e in events) / len(events):.1f} "
          "fields an event", flush=True)
    for n in counts:
        records = indicators(n, events)
        c0 = time.process_time()
        IndicatorIndex.build(records, NOW)
        build = time.process_time() - c0
        tracemalloc.start()
        kept = IndicatorIndex.build(records, NOW)
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del kept
        cpu, hits = min(one_pass(IndicatorIndex.build(records, NOW), events, batch)
                        for _ in range(repeat))
        if not records:
            print(f"{n:7,} indicators: the stage skips every batch ({cpu * 1e3:.1f} ms in all)",
                  flush=True)
            continue
        per = cpu / len(events)
        loss = "  ".join(f"loss at {r // 1000}k/s {100 * per * r / (1 + per * r):4.1f}%"
                         for r in RATES)
        print(f"{n:7,} indicators: {len(events) / cpu:12,.0f} events/CPU-s "
              f"{per * 1e6:5.2f} µs/event  {loss}  {hits:,} matched  "
              f"index {size / 2**20:5.1f} MiB built in {build:.2f} s",
              flush=True)


def profiled(events: list[Event], n: int, batch: int) -> str:
    index = IndicatorIndex.build(indicators(n, events), NOW)
    prof = cProfile.Profile()
    prof.runcall(one_pass, index, events, batch)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(20)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=os.environ.get("SOC_CORPUS"),
                    help="public corpora folder (default $SOC_CORPUS): adds the corpus events")
    ap.add_argument("--events", type=int, default=200_000, help="synthetic events")
    ap.add_argument("--counts", type=int, nargs="+", default=[0, 10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=2000, help="events per pipeline batch")
    ap.add_argument("--profile", type=int, metavar="N", help="cProfile a pass with N indicators")
    args = ap.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    events = synthetic_events(args.events)
    if args.profile is not None:
        print(profiled(events, args.profile, args.batch))
        return 0
    measure("synthetic", events, args.counts, args.repeat, args.batch)
    if args.corpus:
        measure("corpus", corpus_events(Path(args.corpus)), args.counts, args.repeat, args.batch)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MiB (the events and their copies included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
