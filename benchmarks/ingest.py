"""Auth-log lines per second into the embedded store (parse + enrich + store), and peak memory.

    python benchmarks/ingest.py                 # 200k and 1M lines, one process each
    python benchmarks/ingest.py --lines 500000  # one size
    python benchmarks/ingest.py --corpus $SOC_CORPUS   # also the loghub OpenSSH sample, repeated
    python benchmarks/ingest.py --repeat 3      # each size three times (a shared machine varies)

Each size runs in a fresh child process so its peak RSS is its own; two sizes show whether memory
stays flat as the file grows. Detection is off: this measures collection only. Lines per second
are given per wall-clock second and per CPU-second of the process (the steadier figure on a
shared machine; it counts every thread of the process, should a store write on a worker
thread), with the user/system split.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USERS = ["root", "admin", "quantri", "oracle", "test", "ubuntu", "nguyenvana", "postgres"]
TEMPLATES = [
    "sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2",
    "sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2",
    "sshd[{pid}]: Invalid user {user} from {ip} port {port}",
    "sshd[{pid}]: Accepted password for {user} from {ip} port {port} ssh2",
    "sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:abcdef",
    "sshd[{pid}]: pam_unix(sshd:session): session opened for user {user} by (uid=0)",
    "sshd[{pid}]: Received disconnect from {ip} port {port}:11: Bye Bye [preauth]",
    "sshd[{pid}]: Disconnected from invalid user {user} {ip} port {port} [preauth]",
    "sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
    "ruser= rhost={ip}  user={user}",
    "sudo:  {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl "
    "restart nginx",
    "CRON[{pid}]: pam_unix(cron:session): session opened for user root by (uid=0)",
]


def make_log(path: Path, lines: int, seed: int = 7) -> None:
    """A synthetic auth.log of ``lines`` lines with a realistic mix of sshd, sudo and cron."""
    rnd = random.Random(seed)
    t = time.time() - lines * 0.05
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            t += 0.05
            stamp = time.strftime("%b %d %H:%M:%S", time.localtime(t))
            msg = rnd.choice(TEMPLATES).format(
                pid=1000 + i % 30000, user=rnd.choice(USERS), port=1024 + i % 60000,
                ip=f"203.0.{rnd.randrange(256)}.{rnd.randrange(256)}")
            fh.write(f"{stamp} portal-web01 {msg}\n")


def child(path: str, data_dir: str) -> dict[str, float]:
    """Run in a fresh process: ingest one file, return the figures."""
    from soc.config import load_config
    from soc.pipeline.collect import ingest

    config = load_config(None, data_dir=data_dir)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0, c0 = time.perf_counter(), time.process_time()
    report = ingest(config, [path], detect=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = r1.ru_maxrss / 1024
    return {"lines": report.events + report.dead_letters, "events": report.events,
            "dead_letters": report.dead_letters, "seconds": seconds, "cpu_seconds": cpu,
            "user_s": r1.ru_utime - r0.ru_utime, "system_s": r1.ru_stime - r0.ru_stime,
            "lines_per_cpu_s": (report.events + report.dead_letters) / cpu,
            "lines_per_s": (report.events + report.dead_letters) / seconds, "peak_rss_mb": rss_mb}


def run_size(label: str, path: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="soc-bench-") as data:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path), data],
            check=True, capture_output=True, text=True,
        ).stdout
    figures: dict[str, float] = json.loads(out)
    size_mb = path.stat().st_size / 1048576
    print(f"{label:>22}: {int(figures['lines']):>9} lines ({size_mb:6.1f} MiB) in "
          f"{figures['seconds']:6.2f}s = {figures['lines_per_s']:>9,.0f} lines/s "
          f"({figures['lines_per_cpu_s']:,.0f} per CPU-second; user {figures['user_s']:.1f}s, "
          f"system {figures['system_s']:.1f}s), "
          f"peak RSS {figures['peak_rss_mb']:.0f} MiB, dead letters {int(figures['dead_letters'])}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, action="append",
                        help="synthetic file size in lines (repeatable; default 200000, 1000000)")
    parser.add_argument("--corpus", default=os.environ.get("SOC_CORPUS"),
                        help="public corpora folder (default $SOC_CORPUS)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each size (default 1)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; one process, one core used")
    with tempfile.TemporaryDirectory(prefix="soc-bench-logs-") as tmp:
        for lines in args.lines or [200_000, 1_000_000]:
            path = Path(tmp) / f"auth-{lines}.log"
            make_log(path, lines)
            for _ in range(args.repeat):
                run_size("synthetic auth.log", path)
        if args.corpus:
            sample = Path(args.corpus) / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
            if sample.exists():
                big = Path(tmp) / "openssh-x100.log"
                text = sample.read_text(encoding="utf-8", errors="replace")
                big.write_text(text * 100, encoding="utf-8")
                for _ in range(args.repeat):
                    run_size("loghub OpenSSH x100", big)


if __name__ == "__main__":
    main()
