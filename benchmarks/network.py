"""Packets per second from a pcap into sensor events and into the embedded store; peak memory.

    python benchmarks/network.py                    # 300k packets, synthetic office traffic
    python benchmarks/network.py --packets 1000000 --flows 200000
    python benchmarks/network.py --pcap some.pcap   # a capture of your own

The synthetic capture mixes TCP sessions (handshake, 6-30 data segments, FIN), DNS queries with
their answers (about 12% of packets) and UDP syslog; ``--flows`` concurrent flows are kept open
so that the flow table holds that many. Each measurement runs in a fresh child process so its
peak RSS is its own:

- ``sensor``: frames read and decoded, flows/DNS events built (the hot path alone);
- ``store``: ``soc ingest`` of the file (sensor, JSON hand-over, parse, enrich, embedded store),
  detection off, then on with the project's rules.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _templates() -> dict[str, bytes]:
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    eth = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")
    c = eth / IP(src="10.20.0.9", dst="10.20.0.15")
    s = eth / IP(src="10.20.0.15", dst="10.20.0.9")
    name = "portal.hagiang.gov.vn"
    return {
        "syn": bytes(c / TCP(sport=1, dport=443, flags="S")),
        "synack": bytes(s / TCP(sport=443, dport=1, flags="SA")),
        "ack": bytes(c / TCP(sport=1, dport=443, flags="A")),
        "data": bytes(c / TCP(sport=1, dport=443, flags="PA") / (b"x" * 600)),
        "rdata": bytes(s / TCP(sport=443, dport=1, flags="PA") / (b"y" * 1400)),
        "fin": bytes(c / TCP(sport=1, dport=443, flags="FA")),
        "rfin": bytes(s / TCP(sport=443, dport=1, flags="FA")),
        "query": bytes(c / UDP(sport=1, dport=53) / DNS(id=1, rd=1, qd=DNSQR(qname=name))),
        "answer": bytes(s / UDP(sport=53, dport=1) / DNS(
            id=1, qr=1, rd=1, ra=1, qd=DNSQR(qname=name),
            an=DNSRR(rrname=name, rdata="10.20.0.15", ttl=300))),
        "syslog": bytes(c / UDP(sport=1, dport=514) / (b"<13>Nov 24 portal sshd: ok" * 4)),
    }


def _patch(frame: bytes, client: int, port: int, reply: bool) -> bytes:
    """Give a template its client address (10.x.y.z) and client port."""
    buf = bytearray(frame)
    addr = struct.pack("!I", 0x0A000000 | client)
    buf[30 if reply else 26:34 if reply else 30] = addr
    buf[36 if reply else 34:38 if reply else 36] = struct.pack("!H", port)
    return bytes(buf)


def make_pcap(path: Path, packets: int, flows: int, seed: int = 7) -> int:
    """A classic pcap of about ``packets`` frames with ``flows`` sessions open at a time."""
    rnd = random.Random(seed)
    tpl = _templates()
    t = 1795482900.0
    written = 0
    open_sessions: list[list[bytes]] = []
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        while written < packets:
            while len(open_sessions) < flows:
                open_sessions.append(_session(rnd, tpl))
            i = rnd.randrange(len(open_sessions))
            frames = open_sessions[i]
            frame = frames.pop(0)
            if not frames:
                open_sessions[i] = open_sessions[-1]
                open_sessions.pop()
            t += 0.00002
            sec = int(t)
            fh.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)))
            fh.write(frame)
            written += 1
    return written


def _session(rnd: random.Random, tpl: dict[str, bytes]) -> list[bytes]:
    client, port = rnd.randrange(1, 1 << 24), rnd.randrange(1024, 65535)
    kind = rnd.random()
    if kind < 0.06:
        names = ["query", "answer"]
    elif kind < 0.08:
        names = ["syslog"] * rnd.randrange(1, 20)
    else:
        names = ["syn", "synack", "ack"] + ["data", "ack", "rdata", "ack"] * rnd.randrange(
            2, 8) + ["fin", "rfin", "ack"]
    return [_patch(tpl[n], client, port, n in ("synack", "rdata", "rfin", "answer"))
            for n in names]


def child(mode: str, path: str, data_dir: str) -> dict[str, float]:
    """Run in a fresh process; return the figures."""
    started, cpu = time.perf_counter(), time.process_time()
    if mode == "sensor":
        from collectors.netsensor import Sensor
        from collectors.netsensor.capfile import frames

        sensor = Sensor("bench")
        events = 0
        for f in frames(Path(path)):
            sensor.feed(f.ts, f.data, f.linktype, f.wirelen)
            if len(sensor.events) > 5000:
                events += len(sensor.take())
        sensor.flush()
        events += len(sensor.take())
        packets = sensor.stats.packets
    else:
        from soc.config import load_config
        from soc.pipeline.collect import ingest

        _register(Path(data_dir))
        config = load_config(None, data_dir=data_dir)
        report = ingest(config, [path], detect=mode == "detect")
        events = report.events
        packets = report.sources[0].lag.get("packets", 0)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    return {"packets": packets, "events": events, "seconds": round(wall, 2),
            "pps_wall": round(packets / wall), "pps_cpu": round(packets / used),
            "peak_rss_mib": round(peak_rss_mib(), 1)}


def peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent
    that forked it, which built the capture)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _register(where: Path) -> None:
    """The sensor's entry points, when setup.cfg does not carry them yet."""
    from soc import registry

    if "pcap" in registry.available("collector"):
        return
    sys.path.insert(0, str(ROOT))
    from tests.test_pcap import register_plugins

    register_plugins(where / "entry-points")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=300_000)
    ap.add_argument("--flows", type=int, default=20_000, help="sessions open at a time")
    ap.add_argument("--pcap", help="measure this capture instead of a synthetic one")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "PCAP", "DATA"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.pcap) if args.pcap else Path(tmp) / "bench.pcap"
        if not args.pcap:
            t0 = time.perf_counter()
            n = make_pcap(path, args.packets, args.flows)
            print(f"built {n} packets, {path.stat().st_size >> 20} MiB in "
                  f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
        for mode in ("sensor", "store", "detect"):
            data = Path(tmp) / f"data-{mode}"
            out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), str(data)],
                                 check=True, capture_output=True, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            print(json.dumps({"mode": mode, **json.loads(out.stdout.splitlines()[-1])}))


if __name__ == "__main__":
    main()
