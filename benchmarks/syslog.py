"""Syslog receiver throughput: TCP messages/s with no loss, the UDP rate where loss begins, memory.

    python benchmarks/syslog.py --no-detect        # 200k TCP messages; UDP from 5k msg/s up
    python benchmarks/syslog.py --skip-tcp --rates 20000 40000 80000 --burst 100000
    python benchmarks/syslog.py --udp-buffer 208KiB --skip-tcp   # the kernel's default buffer
    python benchmarks/syslog.py --profile drain    # cProfile of the drain (or: receiver)
    python benchmarks/syslog.py --paced 2000 --messages 20000   # a steady stream: drain CPU

Each phase starts a real ``soc listen`` subprocess on 127.0.0.1 (ephemeral ports), pinned to one
CPU (``--cpu``; the sender runs on the others; the drain process inherits the pin, so receiver
and pipeline share that core), with the project's rules running (``--no-detect`` to leave them
out) and the embedded store:

1. *spool only*: the drain is held back (``drain_interval: 1h``); time until every message is
   fsynced in the spool. Then SIGTERM: the final drain runs the whole spool through the pipeline,
   which gives *pipeline only* (parse + enrich + store) messages/s.
2. *end to end*: receive, spool and drain together; time until every message is in the store.
3. *UDP*: bursts of ``--burst`` datagrams paced at increasing rates (``--rates``) until one
   loses datagrams, then ``--refine`` bisection steps between the last rate without loss and
   the first with. Per step: datagrams sent, read by the daemon, dropped by it (intake full),
   dropped by the kernel (the socket's ``drops`` in /proc/net/udp, and the host-wide
   ``RcvbufErrors`` of /proc/net/snmp). The drain catches up between steps (bounded). Rates
   are those the sender *achieved*; a busy machine may not reach the higher ones.

TCP figures are per wall-clock second and per CPU-second of the daemon's two processes
(receiver: /proc/PID/stat; drain: ``cpu_seconds`` of its status): the machine is shared, and
CPU time is the steadier figure. Peak memory is the VmHWM of the receiver plus its drain
process. Everything stays on loopback; every burst and wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
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
NICE: int | None = None
"""``listen.drain_nice`` of the daemons (None: the default); ``--drain-nice``."""


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
        nice = "" if NICE is None else f"  drain_nice: {NICE}\n"
        self.cfg.write_text(f"data_dir: data\nlisten:\n  status_interval: 100ms\n{nice}{listen}")
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

    def cpu(self) -> float:
        """CPU seconds of the receiver process so far."""
        return _cpu_seconds(self.proc.pid)

    def drain_cpu(self) -> float:
        """CPU seconds of the drain process(es) at their last report."""
        return float(self.status().get("drain", {}).get("cpu_seconds", 0.0))

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


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    held.wait(lambda s: s["drain"]["passes"] >= 1)  # the drain's start-up is not counted
    r0, t0 = held.cpu(), time.perf_counter()
    send_tcp(held.ports["tcp"], payload, args.connections)
    held.wait(lambda s: s["spooled"] >= n)
    spool_s, spool_cpu = time.perf_counter() - t0, held.cpu() - r0
    held_peak = held.peak_mib()
    d0 = held.drain_cpu()
    drain_s = held.stop()
    drain_cpu = held.drain_cpu() - d0
    stored = held.status()["drain"]["events"]
    e2e = Daemon(work, runner, "  tcp: 127.0.0.1:0\n  drain_interval: 200ms\n", args.cpu,
                 args.detect)
    passes = e2e.wait(lambda s: s["drain"]["passes"] >= 1)["drain"]["passes"]
    r0, d0, t0 = e2e.cpu(), e2e.drain_cpu(), time.perf_counter()
    send_tcp(e2e.ports["tcp"], payload, args.connections)
    final = e2e.wait(lambda s: s["drain"]["events"] + s["drain"]["dead_letters"] >= n)
    e2e_s = time.perf_counter() - t0
    e2e_cpu = e2e.cpu() - r0 + float(final["drain"]["cpu_seconds"]) - d0
    peak = e2e.peak_mib()
    e2e.stop()
    return {
        "messages": n, "connections": args.connections,
        "spool_only_per_s": round(n / spool_s), "spool_only_per_cpu_s": _per(n, spool_cpu),
        "pipeline_only_per_s": round(n / drain_s), "pipeline_only_per_cpu_s": _per(n, drain_cpu),
        "end_to_end_per_s": round(n / e2e_s), "end_to_end_per_cpu_s": _per(n, e2e_cpu),
        "stored_spool_run": stored,
        "stored_end_to_end": final["drain"]["events"], "lost": n - final["drain"]["events"],
        "end_to_end_drain_passes": final["drain"]["passes"] - passes,
        "peak_rss_mib_spool_run": round(held_peak, 1), "peak_rss_mib_end_to_end": round(peak, 1),
    }


def _per(n: int, seconds: float) -> int | None:
    return round(n / seconds) if seconds > 0 else None


def paced_phase(args: argparse.Namespace, work: Path, runner: Any) -> dict[str, Any]:
    """A steady stream (``--paced RATE`` messages/s over one TCP connection, ``--messages``):
    the drain's CPU per message when it is not flooded, and how many passes it took (the drain
    pays detection's per-batch costs once a pass)."""
    n, rate = args.messages, args.paced
    d = Daemon(work, runner, f"  tcp: 127.0.0.1:0\n  drain_interval: {args.drain_interval}\n",
               args.cpu, args.detect)
    first = d.wait(lambda s: s["drain"]["passes"] >= 1)
    d0, p0, t0 = d.drain_cpu(), first["drain"]["passes"], time.perf_counter()
    payload = messages(n)
    with socket.create_connection(("127.0.0.1", d.ports["tcp"])) as sock:
        per_ms = max(1, rate // 1000)
        for i in range(0, n, per_ms):
            sock.sendall(b"".join(m + b"\n" for m in payload[i:i + per_ms]))
            target = t0 + (i + per_ms) / rate
            while time.perf_counter() < target:
                pass
    sent_s = time.perf_counter() - t0
    final = d.wait(lambda s: s["drain"]["events"] + s["drain"]["dead_letters"] >= n,
                   timeout=600)
    cpu, passes = float(final["drain"]["cpu_seconds"]) - d0, final["drain"]["passes"] - p0
    d.stop()
    return {"messages": n, "rate_asked": rate, "rate_achieved": round(n / sent_s),
            "drain_interval": args.drain_interval, "drain_cpu_s": round(cpu, 2),
            "drain_per_cpu_s": _per(n, cpu), "drain_cpu_us_per_message": round(cpu * 1e6 / n, 1),
            "passes": passes, "messages_per_pass": round(n / max(passes, 1))}


def udp_phase(args: argparse.Namespace, work: Path, runner: Any) -> dict[str, Any]:
    """Steps of increasing rate until loss, then bisection; see the module doc."""
    d = Daemon(work, runner, "  udp: {address: 127.0.0.1, port: 0, receive_buffer: "
               f"{args.udp_buffer}}}\n  drain_interval: 200ms\n", args.cpu, args.detect)
    port = d.ports["udp"]
    payload = messages(args.burst)
    steps: list[dict[str, Any]] = []
    deadline = time.monotonic() + args.udp_seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        for rate in sorted(args.rates):
            steps.append(_udp_step(d, sock, port, payload, rate))
            if steps[-1]["lost"] or time.monotonic() > deadline:
                break
        low, high = _bounds(steps)
        for _ in range(args.refine):
            if high is None or low is None or time.monotonic() > deadline \
                    or high["achieved"] - low["achieved"] <= max(2000, low["achieved"] // 10):
                break
            steps.append(_udp_step(d, sock, port, payload,
                                   (low["achieved"] + high["achieved"]) // 2))
            low, high = _bounds(steps)
    status = d.status()["transports"]["udp"]
    out = {
        "receive_buffer_asked": args.udp_buffer, "so_rcvbuf": status.get("receive_buffer"),
        "rmem_max": _sysctl("net/core/rmem_max"), "rmem_default": _sysctl("net/core/rmem_default"),
        "burst": args.burst, "steps": steps,
        "no_loss_up_to": low["achieved"] if low else None,
        "loss_from": high["achieved"] if high else None,
        "peak_rss_mib": round(d.peak_mib(), 1),
    }
    d.stop()
    return out


def _bounds(steps: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The fastest step without loss below the slowest step with loss."""
    lossy = [r for r in steps if r["lost"]]
    high = min(lossy, key=lambda r: r["achieved"]) if lossy else None
    clean = [r for r in steps if not r["lost"] and (high is None or
                                                    r["achieved"] < high["achieved"])]
    return (max(clean, key=lambda r: r["achieved"]) if clean else None), high


def _udp_step(d: Daemon, sock: socket.socket, port: int, payload: list[bytes],
              rate: int) -> dict[str, Any]:
    """One burst at ``rate``; waits (bounded) until every datagram is read or dropped."""
    before, snmp0, drops0 = d.status()["transports"]["udp"], _rcvbuf_errors(), _udp_drops(port)
    achieved = _paced(sock, payload, rate)
    sent = len(payload)
    settle = time.monotonic() + 10
    while time.monotonic() < settle:
        time.sleep(0.15)  # status_interval is 100ms
        now = d.status()["transports"]["udp"]
        if now["received"] - before["received"] + _udp_drops(port) - drops0 >= sent:
            break
    after = d.status()["transports"]["udp"]
    received = after["received"] - before["received"]
    queue = after["dropped"] - before["dropped"]
    kernel = _udp_drops(port) - drops0
    row = {"rate": rate, "achieved": round(achieved), "sent": sent, "received": received,
           "queue_dropped": queue, "kernel_dropped": kernel,
           "host_rcvbuf_errors": _rcvbuf_errors() - snmp0,
           "lost": sent - received + queue, "loss_pct": round(100 * (sent - received + queue)
                                                             / sent, 2)}
    print(json.dumps(row), file=sys.stderr, flush=True)
    accepted = d.status()["received"] - d.status()["dropped"]
    d.wait(lambda s: s["drain"]["events"] + s["drain"]["dead_letters"] >= accepted - 10,
           timeout=120)  # the drain catches up, so that every step starts alike
    return row


def _paced(sock: socket.socket, payload: list[bytes], rate: int) -> float:
    """Send ``payload`` at ``rate`` datagrams/s (in 1 ms slices); returns the achieved rate."""
    send = sock.send
    t0 = time.perf_counter()
    per_ms = max(1, rate // 1000)
    for i in range(0, len(payload), per_ms):
        for m in payload[i:i + per_ms]:
            send(m)
        target = t0 + (i + per_ms) / rate
        while time.perf_counter() < target:
            pass
    return len(payload) / (time.perf_counter() - t0)


def _udp_drops(port: int) -> int:
    """The ``drops`` column of the sockets bound to ``port`` (/proc/net/udp and udp6)."""
    total = 0
    for name in ("udp", "udp6"):
        with contextlib.suppress(OSError), open(f"/proc/net/{name}", encoding="ascii") as fh:
            next(fh)
            for line in fh:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port:
                    total += int(cols[-1])
    return total


def _rcvbuf_errors() -> int:
    """``Udp: RcvbufErrors`` of /proc/net/snmp: host-wide, so other programs' drops count."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()
             if ln.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")])


def _sysctl(name: str) -> int | None:
    try:
        return int(Path("/proc/sys", name).read_text())
    except (OSError, ValueError):
        return None


# --- profiles (in this process, cProfile in CPU time) ---------------------------------------------


def profile(args: argparse.Namespace, work: Path) -> None:
    """Where the time goes: the drain (spool → pipeline → store, with the project's rules
    unless ``--no-detect``, in pipeline batches of ``--batch``; loading the rules is not
    profiled) or the receiver (TCP → framing → intake → spool)."""
    prof = cProfile.Profile(time.process_time)
    n = args.messages
    if args.profile == "drain":
        drainer = _spooled(work, n, args.detect)
        drainer._open().batch_size = args.batch
        c0 = time.process_time()
        prof.runcall(drainer.drain_once)
    else:
        c0 = time.process_time()
        asyncio.run(_receive(work, n, args.connections, prof))
    cpu = time.process_time() - c0
    print(f"{args.profile}: {n:,} messages in {cpu:.2f} CPU-s under cProfile "
          f"({n / cpu:,.0f}/CPU-s)")
    for order in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(order).print_stats(args.top)
        print(buf.getvalue())


def _spooled(work: Path, n: int, detect: bool = False) -> Any:
    """A data directory whose syslog spool holds ``n`` messages, and a drainer for it."""
    sys.path.insert(0, str(ROOT))
    from soc.config import load_config
    from soc.listen.drain import Drainer, drained_sources
    from soc.listen.spool import Peer, SpoolWriter, encode, spool_dir

    (work / "soc.yml").write_text("data_dir: data\nlisten:\n  tcp: 127.0.0.1:0\n")
    config = load_config(str(work / "soc.yml"))
    writer = SpoolWriter(spool_dir(config.data_dir, "syslog"), 16 << 20)
    writer.open()
    peer, now, payload = Peer("tcp", "127.0.0.1", 40000).tail(), time.time(), messages(n)
    for i in range(0, n, 2000):
        writer.write([encode(m, now, peer) for m in payload[i:i + 2000]])
    writer.close()
    return Drainer(config, drained_sources(config), detect=detect, interval=1.0)


async def _receive(work: Path, n: int, connections: int, prof: cProfile.Profile) -> None:
    """The receiver's part of ``soc listen`` (server, framing, intake, a pump writing the spool
    with one fdatasync per batch), fed by a sender process."""
    sys.path.insert(0, str(ROOT))
    from soc.listen.config import Endpoint
    from soc.listen.spool import SpoolWriter
    from soc.listen.syslog_server import Intake, start

    loop = asyncio.get_running_loop()
    intake = Intake(limit=32 << 20)
    listener = await start(Endpoint("tcp", "127.0.0.1", 0), intake, 1 << 20)
    assert listener.server is not None
    port = listener.server.sockets[0].getsockname()[1]
    writer = SpoolWriter(work / "spool", 16 << 20)
    writer.open()
    sender = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--send-tcp", str(port), str(n), str(connections))
    prof.enable()
    while intake.spooled < n:
        await intake.arrived.wait()
        await asyncio.sleep(0.02)  # the pump's flush_interval
        batch = intake.take()
        await loop.run_in_executor(None, writer.write, batch)
        intake.spooled += len(batch)
        intake.resume()
    prof.disable()
    await sender.wait()
    listener.close()
    writer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--burst", type=int, default=50_000, help="datagrams per UDP rate step")
    ap.add_argument("--rates", type=int, nargs="+",
                    default=[5_000, 10_000, 20_000, 40_000, 80_000, 160_000])
    ap.add_argument("--refine", type=int, default=3,
                    help="UDP bisection steps between the last rate without loss and the first "
                         "with")
    ap.add_argument("--udp-buffer", default="8MiB",
                    help="listen.udp.receive_buffer of the UDP daemon (default: the default)")
    ap.add_argument("--udp-seconds", type=float, default=600,
                    help="no new UDP step after this long")
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin the daemon to (-1: none)")
    ap.add_argument("--drain-nice", type=int, help="listen.drain_nice (default: the default)")
    ap.add_argument("--paced", type=int, metavar="RATE",
                    help="only a steady TCP stream of --messages at RATE/s: the drain's CPU "
                         "per message and its passes")
    ap.add_argument("--drain-interval", default="200ms",
                    help="listen.drain_interval of the --paced daemon")
    ap.add_argument("--skip-tcp", action="store_true")
    ap.add_argument("--skip-udp", action="store_true")
    ap.add_argument("--no-detect", dest="detect", action="store_false",
                    help="store without running the rules (default: the project's rules run)")
    ap.add_argument("--profile", choices=["drain", "receiver"])
    ap.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    ap.add_argument("--batch", type=int, default=5000,
                    help="pipeline batch of --profile drain (a trickle drains smaller ones)")
    ap.add_argument("--send-tcp", nargs=3, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.send_tcp:
        port, n, connections = args.send_tcp
        send_tcp(port, messages(n), connections)
        return
    global NICE
    NICE = args.drain_nice
    args.cpu = None if args.cpu < 0 else args.cpu
    if args.cpu is not None:
        others = set(range(os.cpu_count() or 1)) - {args.cpu}
        if others:
            os.sched_setaffinity(0, others)  # the sender stays off the daemon's CPU
    with tempfile.TemporaryDirectory(prefix="soc-bench-syslog-") as tmp:
        work = Path(tmp)
        if args.profile:
            profile(args, work)
            return
        runner = soc_argv(work)
        report: dict[str, Any] = {"cpu": args.cpu, "detect": args.detect}
        if args.paced:
            report["paced"] = paced_phase(args, work, runner)
            print(json.dumps(report, indent=2))
            return
        if not args.skip_tcp:
            report["tcp"] = tcp_phases(args, work, runner)
            print(json.dumps(report["tcp"]), file=sys.stderr)
        if not args.skip_udp:
            report["udp"] = udp_phase(args, work, runner)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
