"""Live capture inside ``soc listen``: the daemon as a real subprocess captures on a veth pair
whose far end lives in a network namespace made for the test, and drains the capture's spool
into the store with the syslog it receives.

Traffic is sent with scapy to addresses that exist only inside that namespace (10.98.0.0/24), so
nothing leaves the machine. The capture test needs root (namespaces, raw sockets), ``ip`` and
libpcap (its BPF filter) and skips otherwise; the start-up errors and ``--check`` run everywhere.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.sendrecv import sendp

from soc.config import load_config
from soc.errors import ExitCode
from tests.conftest import needs_iproute2, needs_libpcap
from tests.listen_daemon import ListenProcess
from tests.netns import veth_pair

NEAR, FAR = "10.98.0.1", "10.98.0.2"
ROOT = Path(__file__).resolve().parent.parent
SOC = [sys.executable, "-m", "soc"]
FAST = "listen:\n  status_interval: 100ms\n  drain_interval: 100ms\n"
needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="live capture needs root (network namespaces)")


@pytest.fixture
def veth() -> Iterator[tuple[str, str, str]]:
    """``(near interface, its MAC, the far end's MAC)``; the far end, 10.98.0.2, is in its own
    namespace."""
    with veth_pair("soclc", NEAR, FAR) as pair:
        yield pair


def send_traffic(iface: str, mac: str, far_mac: str) -> None:
    """A SYN to a closed port (RST back), an echo request (reply back), a DNS query nobody
    answers, and an ARP binding that changes."""
    out = Ether(src=mac, dst=far_mac) / IP(src=NEAR, dst=FAR)
    sendp([out / TCP(sport=40022, dport=22, flags="S"), out / ICMP(type=8, id=7, seq=1),
           out / UDP(sport=53001, dport=53) / DNS(id=9, qd=DNSQR(qname="portal.example"))],
          iface=iface, verbose=False)
    sendp([Ether(src=f"02:00:00:00:00:{m}", dst="ff:ff:ff:ff:ff:ff")
           / ARP(op=2, psrc="10.98.0.50", hwsrc=f"02:00:00:00:00:{m}", pdst=FAR)
           for m in ("31", "66")], iface=iface, verbose=False)


class Listen(ListenProcess):
    """``soc listen`` as a subprocess (its own process group, as under systemd)."""

    def __init__(self, tmp_path: Path, yml: str) -> None:
        cfg = tmp_path / "soc.yml"
        cfg.write_text(f"data_dir: data\ntimezone: Asia/Ho_Chi_Minh\n{yml}", encoding="utf-8")
        super().__init__(cfg, cwd=ROOT)


@needs_root
@needs_iproute2
@needs_libpcap  # the capture's BPF filter
def test_listen_captures_and_receives_syslog_into_the_store(
        veth: tuple[str, str, str], tmp_path: Path) -> None:
    iface, mac, far_mac = veth
    daemon = Listen(tmp_path, f"{FAST}  udp: 127.0.0.1:0\nnetwork:\n  capture:\n"
                              f"    - {{interface: {iface}, bpf: 'not ip6'}}\n")
    try:
        status = daemon.start()
        port = int(status["listeners"][0].rsplit(":", 1)[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"<38>Nov 24 09:15:02 web01 sshd[7]: Accepted password for alice from "
                        b"10.98.0.2 port 5022 ssh2", ("127.0.0.1", port))
        send_traffic(iface, mac, far_mac)
        # the rejected connection and the ARP bindings end at once; the rest at the stop
        daemon.wait(lambda s: s["drain"]["events"] >= 4, "the first events stored")
        rc, err = daemon.stop()
    finally:
        daemon.kill()
    assert rc == ExitCode.OK, err
    events = daemon.events()
    captured = [e for e in events if e.get("observer.ingress.interface.name") == iface]
    assert sorted((e["event.dataset"], str(e.get("netsensor.flow.state") or e.get("dns.type")
                   or e.get("event.action") or e.get("netsensor.icmp.type")
                   or e["network.transport"])) for e in captured
                  if e.get("source.ip") in (NEAR, "10.98.0.50")) == [
        ("network.arp", "arp-binding-changed"), ("network.arp", "arp-binding-new"),
        ("network.dns", "query"), ("network.flow", "REJ"), ("network.flow", "udp"),
        ("network.icmp", "8")]
    assert all("event.original" not in e and e["event.created"] for e in captured)
    assert [e["user.name"] for e in events if e["event.dataset"] == "linux.auth"] == ["alice"]
    final = daemon.status()
    assert final["state"] == "stopped" and final["drain"]["events"] == len(events)
    (capture,) = final["captures"]
    assert (capture["interface"], capture["source"], capture["running"], capture["error"],
            capture["kernel_drops"]) == (iface, f"capture-{iface}", False, None, 0)
    assert capture["frames"] >= 7 and capture["events"] == len(captured)
    assert capture["sensor"]["packets"] == capture["frames"]
    assert "captured event(s) (0 packet(s) dropped)" in err


def test_a_capture_that_cannot_start_is_a_one_line_error(tmp_path: Path) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\nnetwork:\n  capture:\n    - interface: nosuchif0\n")
    out = subprocess.run([*SOC, "-c", str(cfg), "listen"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == ExitCode.ERROR, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error: ")]
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    assert errors == (["Error: cannot capture on nosuchif0: No such device"] if root else
                      ["Error: capturing on nosuchif0 needs root or the CAP_NET_RAW capability"])
    assert "Traceback" not in out.stderr


def test_check_validates_the_captures(tmp_path: Path) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\nnetwork:\n  capture:\n"
                   "    - {interface: eth7, bpf: 'tcp port 80'}\n")
    out = subprocess.run([*SOC, "-c", str(cfg), "listen", "--check", "--json"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == ExitCode.OK, out.stderr
    assert json.loads(out.stdout)["captures"] == [
        {"interface": "eth7", "bpf": "tcp port 80", "source": "capture-eth7",
         "promiscuous": True, "snaplen": 65535}]
    cfg.write_text("data_dir: data\nnetwork:\n  capture:\n"
                   "    - {interface: eth7, source: syslog}\n")
    out = subprocess.run([*SOC, "-c", str(cfg), "listen", "--check"], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert out.returncode == ExitCode.CONFIG
    assert (f"Error: {cfg}: network.capture: eth7 drains into 'syslog', the source of "
            "listen.source") in out.stderr


def test_status_flags_a_failed_capture_and_kernel_drops(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from soc.ecs import format_ts
    from soc.listen.daemon import status_path, status_summary

    config = load_config(None, data_dir=tmp_path)
    capture = {"interface": "eth7", "source": "capture-eth7", "frames": 10, "events": 3,
               "kernel_drops": 0, "sensor": {}, "running": True, "error": None, "bpf": ""}
    status = {"pid": 1, "state": "running", "updated": format_ts(datetime.now(UTC)),
              "listeners": [], "received": 0, "spooled": 0, "drain": {"events": 3},
              "captures": [capture, {**capture, "interface": "eth8", "kernel_drops": 12},
                           {**capture, "interface": "eth9", "running": False,
                            "error": "OSError: [Errno 100] Network is down"}]}
    status_path(config).write_text(json.dumps(status))
    summary = status_summary(config)
    assert summary is not None
    assert (summary["captures"], summary["captured"], summary["problem"]) == (
        ["eth7", "eth8", "eth9"], 9, "capture eth8: 12 packet(s) dropped; "
        "capture eth9: OSError: [Errno 100] Network is down")
