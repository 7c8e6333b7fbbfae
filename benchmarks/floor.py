"""The floor: how fast can *any* Python process put these logs into this store design?

    python benchmarks/floor.py --corpus $SOC_CORPUS   # auth.log, access log, EVTX: floors and soc
    python benchmarks/floor.py --lines 1000000 --variants floor soc
    python benchmarks/floor.py --instructions         # auth: instructions a line (valgrind)

For each input, a deliberately minimal loop (a *floor*) beside soc on the same data:

* ``floor`` / ``soc``: the synthetic auth.log of ``benchmarks/ingest.py``; ``floor-parse`` is
  the floor without SQLite (rows made and dropped);
* ``floor-access`` / ``soc-access``: the synthetic combined-format access log of
  ``benchmarks/collect.py``;
* ``floor-evtx`` / ``soc-evtx``: EVTX files of the corpus files' chunks (``collect.big_evtx``,
  ``--records``; needs ``--corpus``); ``soc-evtx-lean`` is soc with ``original: false``.

A floor makes events of the same shape (the same flat ECS keys, ``event.original`` kept: each
variant prints the mean size of its stored JSON documents, to compare) and writes them into a
table of the same layout as an embedded-store partition (WAL, ``synchronous=NORMAL``, the
``UNIQUE (ts, id)`` index, the seven value columns, multi-row INSERTs in one transaction per
5,000). It has none of soc's generality: one pattern per format for the benchmarks' own lines,
no time zones, no inventory, no dead letters, no checkpoints, no ``auto`` detection, no record
checks. Whatever soc does cannot cost less than this on the same machine, so a floor says
whether a target is reachable in CPython with this design at all.

Each variant runs in a fresh child process; records per CPU-second of that process (the steady
figure on a shared machine) and per wall second, imports left out for both. With
``--instructions`` each auth variant runs twice under ``valgrind --tool=callgrind`` (10,000 and
40,000 lines) and the difference divided by 30,000 is its instructions per line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from hashlib import blake2b
from itertools import chain
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import make_log  # benchmarks/ is not a package: found through sys.path

VARIANTS = ("floor", "floor-parse", "soc", "floor-access", "soc-access", "floor-evtx", "soc-evtx",
            "soc-evtx-lean")
AUTH = ("floor", "floor-parse", "soc")  # the variants over the synthetic auth.log
ACCESS = ("floor-access", "soc-access")  # over benchmarks/collect.py's synthetic access log
COMBINED = re.compile(r'(\S+) \S+ (\S+) \[(\d\d)/(\w{3})/(\d{4}):(\d\d:\d\d:\d\d) ([+-]\d{4})\] '
                      r'"(\S+) (\S+) (HTTP/[\d.]+)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"')
MONTHS = {m: f"{i:02d}" for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
HEADER = re.compile(r"(\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([\w-]+)(?:\[(\d+)\])?: +(.*)")
MESSAGE = re.compile(
    r"(?:Failed|Accepted) (?:password|publickey) for (?:invalid user )?(?P<user>\S+) "
    r"from (?P<ip>\S+) port (?P<port>\d+)"
    r"|pam_unix\(\w+:\w+\): (?:session opened for user (?P<suser>\S+)|authentication failure;"
    r".* rhost=(?P<rhost>\S+)\s+user=(?P<puser>\S+))"
    r"|Invalid user (?P<iuser>\S+) from (?P<iip>\S+)"
    r"|(?P<sudo>\S+) : .*COMMAND=(?P<cmd>.*)")
COLUMNS = ("id TEXT NOT NULL, ts TEXT NOT NULL, dataset TEXT, doc TEXT NOT NULL, system, unit, "
           "action, outcome, source_ip, host, category, UNIQUE (ts, id)")
PER_INSERT = 64
BATCH = 5000


class Table:
    """A table of an embedded-store partition's layout, written as the store writes."""

    def __init__(self, db_path: str, store: bool = True) -> None:
        self.store = store  # False: rows are made and dropped (the floor without SQLite)
        self.rows: list[tuple[object, ...]] = []
        self.count = 0
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA cache_size = -65536")
        self.db.execute(f"CREATE TABLE ev ({COLUMNS})")
        self.one = "INSERT OR IGNORE INTO ev VALUES (" + ",".join("?" * 11) + ")"
        self.many = f"INSERT OR IGNORE INTO ev VALUES {','.join([self.one[31:]] * PER_INSERT)}"

    def add(self, row: tuple[object, ...]) -> None:
        """Store ``row`` with the next 5,000, in one transaction."""
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.store:
            self.write(self.rows)
        self.rows.clear()

    def close(self) -> int:
        """Store what is left; the rows added."""
        self.flush()
        self.db.close()
        return self.count

    def write(self, rows: list[tuple[object, ...]]) -> None:
        whole = len(rows) - len(rows) % PER_INSERT
        self.db.execute("BEGIN")
        for i in range(0, whole, PER_INSERT):
            self.db.execute(self.many, list(chain.from_iterable(rows[i:i + PER_INSERT])))
        for row in rows[whole:]:
            self.db.execute(self.one, row)
        self.db.execute("COMMIT")


def _lines(path: str) -> Iterator[tuple[int, str, str]]:
    """(offset, text, event id) of every line, the id from the file and the offset as soc's."""
    ids = blake2b(path.encode(), digest_size=16)
    offset = 0
    with open(path, "rb") as fh:
        for raw in fh:
            start, offset = offset, offset + len(raw)
            h = ids.copy()
            h.update(b"%d" % start)
            yield start, raw[:-1].decode(), h.hexdigest()


def floor(path: str, db_path: str, store: bool) -> int:
    """The minimal loop; the lines it stored (or, without ``store``, made rows for)."""
    import orjson

    table = Table(db_path, store)
    ingested = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    year = time.localtime().tm_year
    stamps: dict[str, str] = {}
    for start, text, eid in _lines(path):
        m = HEADER.match(text)
        if m is None:
            continue
        stamp, host, program, pid, message = m.groups()
        ts = stamps.get(stamp)
        if ts is None:
            local = time.strptime(f"{year} {stamp}", "%Y %b %d %H:%M:%S")
            ts = stamps[stamp] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                               time.gmtime(time.mktime(local)))
        event: dict[str, object] = {
            "@timestamp": ts, "host.hostname": host, "host.name": host,
            "process.name": program, "log.syslog.appname": program}
        if pid:
            event["log.syslog.procid"] = pid
            event["process.pid"] = int(pid)
        event["message"] = message
        event["event.dataset"] = "linux.auth"
        event["event.module"] = "system"
        found = MESSAGE.match(message)
        user = ip = None
        if found is not None:
            g = found.groupdict()
            user = g["user"] or g["suser"] or g["puser"] or g["iuser"] or g["sudo"]
            ip = g["ip"] or g["rhost"] or g["iip"]
            if g["port"]:
                event["source.port"] = int(g["port"])
        if user:
            event["user.name"] = user
        if ip:
            event["source.ip"] = ip
        failed = "Failed" in message or "failure" in message or "Invalid" in message
        event["event.action"] = "ssh_login" if program == "sshd" else program
        event["event.category"] = ["authentication"]
        event["event.type"] = ["info"]
        event["event.outcome"] = "failure" if failed else "success"
        if user:
            event["related.user"] = [user]
        if ip:
            event["related.ip"] = [ip]
        event["log.file.path"] = path
        event["log.offset"] = start
        event["event.id"] = eid
        event["event.original"] = text
        event["event.ingested"] = ingested
        table.add((eid, ts, "linux.auth", orjson.dumps(event).decode(), None, None,
                   event["event.action"], event["event.outcome"], ip, host,
                   b'["authentication"]'))
    return table.close()


def floor_access(path: str, db_path: str) -> int:
    """The minimal access-log loop: one pattern for the combined format, the ECS fields of
    soc's ``apache.access`` events, encoded and stored."""
    import orjson

    table = Table(db_path)
    ingested = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for start, text, eid in _lines(path):
        m = COMBINED.match(text)
        if m is None:
            continue
        ip, user, day, mon, year, hms, _zone, method, url, version, status, size, ref, ua = \
            m.groups()
        ts = f"{year}-{MONTHS[mon]}-{day}T{hms}.000Z"  # (the zone is left to soc: a floor)
        code = int(status)
        path_, _, query = url.partition("?")
        event: dict[str, object] = {
            "@timestamp": ts, "source.ip": ip, "source.address": ip,
            "http.request.method": method, "url.original": url, "url.path": path_,
            "http.version": version[5:], "http.response.status_code": code,
            "event.dataset": "apache.access", "event.module": "apache",
            "event.category": ["web"], "event.type": ["access"],
            "event.outcome": "success" if code < 400 else "failure"}
        if query:
            event["url.query"] = query
        if size != "-":
            event["http.response.body.bytes"] = int(size)
        if ref != "-":
            event["http.request.referrer"] = ref
        if ua != "-":
            event["user_agent.original"] = ua
        if user != "-":
            event["user.name"] = user
        event["log.file.path"] = path
        event["log.offset"] = start
        event["event.id"] = eid
        event["event.original"] = text
        event["event.ingested"] = ingested
        table.add((eid, ts, "apache.access", orjson.dumps(event).decode(), None, None,
                     None, event["event.outcome"], ip, None, b'["web"]'))
    return table.close()


def floor_evtx(folder: str, db_path: str) -> int:
    """The minimal EVTX loop: the ``evtx`` package's JSON, decoded, flattened into a
    Winlogbeat-shaped event (System fields, ``winlog.event_data.*``), encoded and stored."""
    import evtx
    import orjson

    table = Table(db_path)
    ingested = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for path in sorted(Path(folder).glob("*.evtx")):
        for record in evtx.PyEvtxParser(str(path)).records_json():
            assert record is not None  # the package's stubs allow None; records are dicts
            ev = orjson.loads(record["data"])["Event"]
            system = ev["System"]
            ts = system["TimeCreated"]["#attributes"]["SystemTime"][:23] + "Z"
            code = system["EventID"]
            code = str(code["#text"] if type(code) is dict else code)
            provider = system["Provider"]["#attributes"].get("Name", "")
            host = system.get("Computer", "")
            eid = f"{path.name}:{record['event_record_id']}"
            event: dict[str, object] = {
                "@timestamp": ts, "event.code": code, "event.provider": provider,
                "winlog.channel": system.get("Channel"), "winlog.computer_name": host,
                "host.name": host, "winlog.record_id": record["event_record_id"],
                "winlog.provider_name": provider, "event.dataset": "windows.security",
                "event.module": "windows", "event.kind": "event"}
            data = ev.get("EventData")
            if type(data) is dict:
                for key, value in data.items():
                    if key != "#attributes":
                        event["winlog.event_data." + key] = value
            user = event.get("winlog.event_data.TargetUserName")
            if user:
                event["user.name"] = user
            ip = event.get("winlog.event_data.IpAddress")
            if ip:
                event["source.ip"] = ip
            event["event.id"] = eid
            event["event.original"] = record["data"]  # as soc keeps it by default
            event["event.ingested"] = ingested
            table.add((eid, ts, "windows.security", orjson.dumps(event, default=str).decode(),
                       None, None, code, None, ip, host, b'["authentication"]'))
    return table.close()


def soc_evtx(folder: str, data_dir: str, original: bool = True) -> int:
    """``soc collect`` of an ``evtx`` source over the folder, detection off (``original:
    false``: without ``event.original``, the ``-lean`` variant)."""
    from soc.config import load_config
    from soc.pipeline.collect import collect

    config_path = Path(data_dir) / "soc.yml"
    config_path.write_text(
        f"store: {{path: {data_dir}/data}}\n"
        f"sources:\n  - {{name: evtx, type: evtx, paths: ['{folder}/*.evtx'], "
        f"original: {str(original).lower()}}}\n",
        encoding="utf-8")
    report = collect(load_config(config_path), detect=False)
    return report.events + report.dead_letters


def soc_ingest(path: str, data_dir: str) -> int:
    """``soc ingest`` of the file, detection off (what benchmarks/ingest.py times)."""
    from soc.config import load_config
    from soc.pipeline.collect import ingest

    report = ingest(load_config(None, data_dir=data_dir), [path], detect=False)
    return report.events + report.dead_letters


def child(variant: str, path: str, work: str) -> dict[str, float]:
    if variant.startswith("soc"):  # soc's imports and plugin look-ups are left out, as the
        from soc import registry  # floor's are: the rate is the steady per-record cost

        registry.parsers()
        import soc.pipeline.collect  # noqa: F401
    t0, c0 = time.perf_counter(), time.process_time()
    if variant == "soc":
        lines = soc_ingest(path, work)
    elif variant == "floor-access":
        lines = floor_access(path, os.path.join(work, "floor.db"))
    elif variant == "soc-access":
        lines = soc_ingest(path, work)
    elif variant == "floor-evtx":
        lines = floor_evtx(path, os.path.join(work, "floor.db"))
    elif variant.startswith("soc-evtx"):
        lines = soc_evtx(path, work, original=variant == "soc-evtx")
    else:
        lines = floor(path, os.path.join(work, "floor.db"), store=variant == "floor")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"lines": lines, "seconds": seconds, "cpu": cpu, "doc": _doc_bytes(work)}


def _doc_bytes(work: str) -> float:
    """The mean size of the stored JSON documents (floor and soc must store alike)."""
    found = [p for p in Path(work).rglob("*.db") if p.name in ("floor.db", "store.db")]
    db = sqlite3.connect(found[0])
    tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND (name = 'ev' OR name LIKE 'ev\\_%' ESCAPE '\\')")]
    total = count = 0
    for table in tables:
        n, size = db.execute(f"SELECT count(*), total(length(doc)) FROM {table}").fetchone()
        total, count = total + size, count + n
    db.close()
    return total / max(count, 1)


def run(variant: str, path: Path, valgrind: bool = False) -> dict[str, float] | int:
    """One variant in a fresh process: its figures, or under valgrind its instruction count."""
    with tempfile.TemporaryDirectory(prefix="soc-floor-") as work:
        cmd = [sys.executable, __file__, "--child", variant, str(path), work]
        if valgrind:
            cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": "0"})
    if valgrind:
        found = re.search(r"Collected : (\d+)", out.stderr)
        if found is None:
            raise SystemExit(f"valgrind gave no count:\n{out.stderr[-2000:]}")
        return int(found[1])
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


def _show(variant: str, what: str, f: dict[str, float]) -> None:
    print(f"{variant:>12}: {int(f['lines']):>9} {what}, {f['lines'] / f['cpu']:>9,.0f} per "
          f"CPU-second, {f['lines'] / f['seconds']:>9,.0f} per wall second, "
          f"documents of {f['doc']:,.0f} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000, help="synthetic lines (200,000)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--corpus", default=os.environ.get("SOC_CORPUS"),
                        help="public corpora (default $SOC_CORPUS): EVTX files of their chunks "
                             "for the evtx variants, which are left out without it")
    parser.add_argument("--records", type=int, default=50_000, help="EVTX records (50,000)")
    parser.add_argument("--instructions", action="store_true",
                        help="instructions a line under valgrind instead of seconds")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; one process per variant")
    with tempfile.TemporaryDirectory(prefix="soc-floor-logs-") as tmp:
        if args.instructions:
            instructions([v for v in args.variants if v in AUTH], Path(tmp))
            return
        for variants, source, unit in inputs(args, Path(tmp)):
            for variant in variants:
                f = run(variant, source)
                assert isinstance(f, dict)
                _show(variant, unit, f)


def inputs(args: argparse.Namespace, tmp: Path) -> list[tuple[list[str], Path, str]]:
    """(variants, the file or folder they read, what they count) for the variants asked for."""
    from collect import big_evtx, make_access_log

    groups: list[tuple[list[str], Path, str]] = []
    for names, make in ((AUTH, make_log), (ACCESS, make_access_log)):
        variants = [v for v in args.variants if v in names]
        if variants:
            path = tmp / f"{variants[0]}.log"
            make(path, args.lines)
            groups.append((variants, path, "lines"))
    windows = [v for v in args.variants if v not in AUTH + ACCESS]
    if windows and args.corpus:
        folder, _ = big_evtx(Path(args.corpus), tmp, args.records)
        groups.append((windows, folder, "records"))
    return groups


def instructions(variants: list[str], tmp: Path) -> None:
    """Instructions a line of each auth variant: 40,000 lines less 10,000, under valgrind."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")
    small, big = tmp / "small.log", tmp / "big.log"
    make_log(small, 10_000)
    make_log(big, 40_000)
    for variant in variants:
        a, b = run(variant, small, True), run(variant, big, True)
        assert isinstance(a, int) and isinstance(b, int)
        print(f"{variant:>12}: {(b - a) / 30_000:>9,.0f} instructions a line")


if __name__ == "__main__":
    main()
