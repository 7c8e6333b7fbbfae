"""Syslog receiver throughput: TCP messages/s with no loss, the UDP rate where loss begins, memory.

    python benchmarks/syslog.py                    # 200k TCP messages, UDP 5k..160k msg/s
    python benchmarks/syslog.py --messages 500000 --cpu 0

Each phase starts a real ``soc listen`` subprocess on 127.0.0.1 (ephemeral ports), pinned to one
CPU (``--cpu``; the sender runs on the others), with the project's rules running (``--no-detect``
to leave them out) and the embedded store:

1. *spool only*: the drain is held back (``drain_interval: 1h``); time until every message is
   fsynced in the spool. Then SIGTERM: the final drain runs the whole spool through the pipeline,
   which gives *pipeline only* (parse + enrich + store) messages/s.
2. *end to end*: receive, spool and drain together; time until every message is in the store.
3. *UDP*: bursts of ``--burst`` datagrams paced at increasing rates; per rate, how many the daemon
   dropped (queue full) or the kernel dropped (socket buffer full, /proc/net/udp).

Peak memory is the VmHWM of the receiver plus its drain process. Everything stays on loopback;
every burst is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = [
    "sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2",
    "sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:abcdef",
    "sshd[{pid}]: pam_unix(sshd:session): session opened for user {user} by (uid=0)",
    "sudo:  {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/id",
    "kernel: [UFW BLOCK] IN=eth0 OUT= SRC={ip} DST=10.10.1.5 PROTO=TCP SPT={port} DPT=22",
]
USERS = ["root", "admin", "quantri", "nguyenvana", "oracle"]


def messages(n: int, seed: int = 7) -> list[bytes]:
    """``n`` RFC 3164 messages (auth, sudo, firewall lines) with a PRI."""
    rnd = random.Random(seed)
    stamp = time.strftime("%b %d %H:%M:%S")
    out = []
    for i in range(n):
        body = rnd.choice(TEMPLATES).format(pid=1000 + i % 30000, user=rnd.choice(USERS),
                                            ip=f"203.0.113.{i % 250}", port=1024 + i % 60000)
        out.append(f"<86>{stamp} web{i % 8:02d} {body}".encode())
    return out


# --- the daemon ----------------------------------------------------------------------------------


def soc_argv(work: Path) -> tuple[list[str], dict[str, str]]:
    """How to run ``soc listen`` here (registers it ad hoc when setup.cfg does not yet)."""
    sys.path.insert(0, str(ROOT))
    from soc import registry
    from soc.cli.main import cli

    env = dict(os.environ)
    if "syslog-spool" not in registry.available("collector"):
        info = work / "shim" / "soc_listen_shim-0.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: soc-listen-shim\n"
                                       "Version: 0\n")
        (info / "entry_points.txt").write_text(
            "[soc.collectors]\nsyslog-spool = collectors.spool:SpoolCollector\n")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(info.parent),
                                                          env.get("PYTHONPATH", "")]))
    if "listen" in cli.commands:
        return [sys.executable, "-m", "soc"], env
    return [sys.executable, "-c", "import sys; from soc.cli.main import cli, main; "
            "from soc.cli.listen import listen_cmd; cli.add_command(listen_cmd); "
            "sys.exit(main(sys.argv[1:]))"], env


class Daemon:
    def __init__(self, work: Path, runner: tuple[list[str], dict[str, str]], listen: str,
                 cpu: int | None, detect: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(dir=work))
        self.cfg = self.dir / "soc.yml"
        self.cfg.write_text(f"data_dir: data\nlisten:\n  status_interval: 100ms\n{listen}")
        argv, env = runner
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        extra = [] if detect else ["--no-detect"]
        self.proc = subprocess.Popen([*argv, "-c", str(self.cfg), "listen", *extra], env=env,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=pin)
        status = self.wait(lambda s: s.get("pid") == self.proc.pid and s["state"] == "running")
        self.ports = {b.split()[0]: int(b.rsplit(":", 1)[1]) for b in status["listeners"]}

    def status(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.dir / "data" / "listen.json").read_text())
        except (OSError, ValueError):
            return {}
        return data

    def wait(self, ok: Any, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status()
            if s and ok(s):
                return s
            if self.proc.poll() is not None:
                raise SystemExit(f"soc listen exited: {self.proc.communicate()[1]}")
            time.sleep(0.01)
        raise SystemExit(f"timed out; last status {self.status()}")

    def peak_mib(self) -> float:
        """Peak RSS of the receiver plus its drain process."""
        pids = [self.proc.pid, self.status()["drain"].get("pid")]
        return sum(_hwm_mib(pid) for pid in pids if pid)

    def stop(self) -> float:
        """SIGTERM; seconds until it exited (the final drain)."""
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=900)
        if self.proc.returncode:
            raise SystemExit(f"soc listen failed: {err}")
        return time.perf_counter() - t0


def _hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def send_tcp(port: int, payload: list[bytes], connections: int) -> None:
    chunks = [b"".join(m + b"\n" for m in payload[i::connections]) for i in range(connections)]
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    for sock, chunk in zip(socks, chunks, strict=True):
        sock.sendall(chunk)
    for sock in socks:
        sock.close()


# --- phases --------------------------------------------------------------------------------------


def tcp_phases(args: argparse.Namespace, work: Path, runner: Any) -> dict[str, Any]:
    n = args.messages
    payload = messages(n)
    held = Daemon(work, runner, "  tcp: 127.0.0.1:0\n  drain_interval: 1h\n", args.cpu,
                  args.detect)
    t0 = time.perf_counter()
    send_tcp(held.ports["tcp"], payload, args.connections)
    held.wait(lambda s: s["spooled"] >= n)
    spool_s = time.perf_counter() - t0
    held_peak = held.peak_mib()
    drain_s = held.stop()
    stored = held.status()["drain"]["events"]
    e2e = Daemon(work, runner, "  tcp: 127.0.0.1:0\n  drain_interval: 200ms\n", args.cpu,
                 args.detect)
    t0 = time.perf_counter()
    send_tcp(e2e.ports["tcp"], payload, args.connections)
    final = e2e.wait(lambda s: s["drain"]["events"] + s["drain"]["dead_letters"] >= n)
    e2e_s = time.perf_counter() - t0
    peak = e2e.peak_mib()
    e2e.stop()
    return {
        "messages": n, "connections": args.connections,
        "spool_only_per_s": round(n / spool_s), "pipeline_only_per_s": round(n / drain_s),
        "end_to_end_per_s": round(n / e2e_s), "stored_spool_run": stored,
        "stored_end_to_end": final["drain"]["events"], "lost": n - final["drain"]["events"],
        "peak_rss_mib_spool_run": round(held_peak, 1), "peak_rss_mib_end_to_end": round(peak, 1),
    }


def udp_phase(args: argparse.Namespace, work: Path, runner: Any) -> list[dict[str, Any]]:
    d = Daemon(work, runner, "  udp: 127.0.0.1:0\n  drain_interval: 200ms\n", args.cpu,
               args.detect)
    payload = messages(args.burst)
    results = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for rate in args.rates:
            before = d.wait(lambda s: True)
            sent = _paced(sock, d.ports["udp"], payload, rate)
            time.sleep(0.5)  # let the last ones arrive and the counters refresh
            after = d.wait(lambda s: True)
            results.append(_udp_row(rate, sent, before, after))
            if results[-1]["lost"] and len([r for r in results if r["lost"]]) >= 2:
                break
    results[-1]["peak_rss_mib"] = round(d.peak_mib(), 1)
    d.stop()
    return results


def _paced(sock: socket.socket, port: int, payload: list[bytes], rate: int) -> float:
    """Send ``payload`` at ``rate`` datagrams/s (in 1 ms slices); returns the achieved rate."""
    t0 = time.perf_counter()
    per_ms = max(1, rate // 1000)
    for i in range(0, len(payload), per_ms):
        for m in payload[i:i + per_ms]:
            sock.sendto(m, ("127.0.0.1", port))
        target = t0 + (i + per_ms) / rate
        while time.perf_counter() < target:
            pass
    return len(payload) / (time.perf_counter() - t0)


def _udp_row(rate: int, achieved: float, before: dict[str, Any],
             after: dict[str, Any]) -> dict[str, Any]:
    b, a = before["transports"]["udp"], after["transports"]["udp"]
    received = a["received"] - b["received"]
    dropped = a["dropped"] - b["dropped"]
    kernel = a["kernel_drops"] - b["kernel_drops"]
    sent = received + kernel  # what reached the socket
    return {"rate": rate, "achieved": round(achieved), "received": received,
            "queue_dropped": dropped, "kernel_dropped": kernel, "sent": sent,
            "lost": dropped + kernel}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--burst", type=int, default=50_000, help="datagrams per UDP rate step")
    ap.add_argument("--rates", type=int, nargs="+",
                    default=[5_000, 10_000, 20_000, 40_000, 80_000, 160_000])
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin the daemon to (-1: none)")
    ap.add_argument("--skip-udp", action="store_true")
    ap.add_argument("--no-detect", dest="detect", action="store_false",
                    help="store without running the rules (default: the project's rules run)")
    args = ap.parse_args()
    args.cpu = None if args.cpu < 0 else args.cpu
    if args.cpu is not None:
        others = set(range(os.cpu_count() or 1)) - {args.cpu}
        if others:
            os.sched_setaffinity(0, others)  # the sender stays off the daemon's CPU
    with tempfile.TemporaryDirectory(prefix="soc-bench-syslog-") as tmp:
        work = Path(tmp)
        runner = soc_argv(work)
        report: dict[str, Any] = {"cpu": args.cpu, "detect": args.detect,
                                  "tcp": tcp_phases(args, work, runner)}
        print(json.dumps(report["tcp"]), file=sys.stderr)
        if not args.skip_udp:
            report["udp"] = udp_phase(args, work, runner)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
