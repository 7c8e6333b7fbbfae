"""Live capture on a veth pair whose far end lives in a network namespace made for the test.

Traffic is sent with scapy from the near end to addresses that exist only inside that namespace
(10.99.0.0/24), so nothing leaves the machine. Needs root (namespaces, raw sockets), ``ip``
for the namespace and libpcap for BPF filters; skips otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.sendrecv import sendp

from soc.config import load_config
from soc.listen.capture import (
    CaptureConfig,
    CaptureError,
    CaptureThread,
    capture_source,
    open_socket,
    run_capture,
)
from soc.pipeline.pipeline import Pipeline
from soc.state import StateStore
from soc.stores.base import open_store
from tests.conftest import needs_iproute2, needs_libpcap
from tests.netns import veth_pair
from tests.test_pcap import register_plugins

NEAR, FAR = "10.99.0.1", "10.99.0.2"
pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="live capture needs root (network namespaces)")


@pytest.fixture(scope="module", autouse=True)
def plugins(tmp_path_factory: pytest.TempPathFactory) -> None:
    register_plugins(tmp_path_factory.mktemp("entry-points"))


@pytest.fixture(scope="module")
def veth() -> Iterator[tuple[str, str, str]]:
    """``(near interface, its MAC, the far end's MAC)``; the far end, 10.99.0.2, is in its own
    namespace."""
    with veth_pair("soccap", NEAR, FAR) as pair:
        yield pair


def send_traffic(iface: str, mac: str, dst_mac: str) -> None:
    out = Ether(src=mac, dst=dst_mac) / IP(src=NEAR, dst=FAR)
    sendp([out / TCP(sport=40022, dport=22, flags="S"),  # closed port: RST-ACK back
           out / ICMP(type=8, id=7, seq=1),  # echo reply back
           out / UDP(sport=53001, dport=53) / DNS(id=9, qd=DNSQR(qname="portal.example"))],
          iface=iface, verbose=False)
    spoof = Ether(src="02:00:00:00:00:31", dst="ff:ff:ff:ff:ff:ff")
    sendp([spoof / ARP(op=2, psrc="10.99.0.50", hwsrc="02:00:00:00:00:31", pdst=FAR),
           Ether(src="02:00:00:00:00:66", dst="ff:ff:ff:ff:ff:ff")
           / ARP(op=2, psrc="10.99.0.50", hwsrc="02:00:00:00:00:66", pdst=FAR)],
          iface=iface, verbose=False)


def capture(config: Any, iface: str, bpf: str, sink: Any = None) -> tuple[threading.Thread,
                                                                          threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=run_capture, args=(config, iface, bpf, stop),
                              kwargs={"sink": sink, "flush_interval": 0.2}, daemon=True)
    thread.start()
    time.sleep(0.5)  # the socket is open
    return thread, stop


@needs_iproute2
def test_live_capture_finds_the_events(veth: tuple[str, str, str], tmp_path: Path) -> None:
    iface, mac, far_mac = veth
    config = load_config(None, data_dir=tmp_path)
    events: list[dict[str, Any]] = []
    thread, stop = capture(config, iface, "", events.extend)
    send_traffic(iface, mac, far_mac)
    time.sleep(1.0)
    stop.set()
    thread.join(10)
    flows = {(e["event.dataset"], e.get("destination.port"), e.get("netsensor.flow.state"))
             for e in events if e.get("source.ip") == NEAR}
    assert ("network.flow", 22, "REJ") in flows
    icmp = [e for e in events if e["event.dataset"] == "network.icmp" and
            e["netsensor.icmp.type"] == 8]
    assert [(e["source.packets"], e["destination.packets"]) for e in icmp] == [(1, 1)]
    dns = [e for e in events if e["event.dataset"] == "network.dns"]
    assert [(d["dns.question.name"], d["dns.type"]) for d in dns] == [("portal.example", "query")]
    arp = [e for e in events if e["event.dataset"] == "network.arp"
           and e["source.ip"] == "10.99.0.50"]
    assert [e["event.action"] for e in arp] == ["arp-binding-new", "arp-binding-changed"]
    assert all(e["observer.ingress.interface.name"] == iface for e in events)


def settle(thread: CaptureThread, quiet: float = 1.0, limit: float = 20.0) -> None:
    """Wait until the capture has seen frames and no new one for ``quiet`` seconds (a fixed
    second was too short on a loaded machine)."""
    deadline = time.monotonic() + limit
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        frames = thread.report.frames
        if frames != seen:
            seen, since = frames, time.monotonic()
        elif frames and time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)


@needs_iproute2
@needs_libpcap
def test_live_capture_with_bpf_through_the_spool_into_the_store(veth: tuple[str, str, str],
                                                                 tmp_path: Path) -> None:
    iface, mac, far_mac = veth
    config = load_config(None, data_dir=tmp_path)
    settings = CaptureConfig(iface, bpf="tcp")
    thread = CaptureThread(config, settings)  # as soc listen runs a configured capture
    thread.start()
    send_traffic(iface, mac, far_mac)
    settle(thread)
    report = thread.finish()
    assert thread.error is None and report is not None and report.events >= 1
    source = capture_source(settings)
    with open_store(config) as store:
        state = StateStore(tmp_path / "state.db")
        report = Pipeline(config, store, state).run_source(source)
        state.close()
        events = list(store.search("*", limit=None))
    assert (report.error, report.dead_letters) == (None, 0)
    assert {e["event.dataset"] for e in events} == {"network.flow"}  # the filter kept TCP only
    flow = events[0]
    assert (flow["destination.port"], flow["netsensor.flow.state"]) == (22, "REJ")
    assert "log.source.address" not in flow and flow["event.created"]


def test_unknown_interface() -> None:
    with pytest.raises(CaptureError, match="cannot capture on nosuchif0"):
        open_socket("nosuchif0")


@needs_libpcap  # without it every filter fails to compile, bad or not
def test_bad_filter() -> None:
    with pytest.raises(CaptureError, match="invalid BPF filter 'port port port'"):
        open_socket("lo", "port port port")


def test_without_cap_net_raw_the_error_says_what_to_do() -> None:
    code = ("from soc.listen.capture import open_socket, CaptureError\n"
            "try:\n    open_socket('lo')\nexcept CaptureError as e:\n"
            "    print(e.message); print(e.hint)\n")
    try:
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              "--inh-caps=-all", "--bounding-set=-net_raw", sys.executable,
                              "-c", code], capture_output=True, text=True, timeout=60,
                             cwd=str(Path(__file__).resolve().parent.parent))
    except FileNotFoundError:
        pytest.skip("setpriv is not installed")
    if "No module named" in out.stderr or out.returncode != 0:
        pytest.skip(f"cannot run as nobody here: {out.stderr.strip()[-200:]}")
    assert out.stdout.splitlines()[0] == "capturing on lo needs root or the CAP_NET_RAW capability"
    assert "AmbientCapabilities=CAP_NET_RAW" in out.stdout


@needs_iproute2
@needs_libpcap
def test_no_frame_slips_past_the_filter_while_it_is_compiled(veth: tuple[str, str, str]) -> None:
    """Regression: the socket was bound to every protocol before the filter was attached, so a
    frame arriving while libpcap compiled 'tcp' reached the sensor (CI saw an ICMP event)."""
    iface, mac, far_mac = veth
    frame = bytes(Ether(src=mac, dst=far_mac) / IP(src=NEAR, dst=FAR) / ICMP(type=8, id=9))
    stop = threading.Event()

    def flood() -> None:
        import socket

        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as out:
            out.bind((iface, 0))
            while not stop.is_set():
                for _ in range(50):
                    out.send(frame)
                time.sleep(0.0005)

    sender = threading.Thread(target=flood, daemon=True)
    sender.start()
    leaked = 0
    try:
        for _ in range(15):
            sock = open_socket(iface, "tcp", promiscuous=False)
            try:
                time.sleep(0.02)
                sock.setblocking(False)
                while True:
                    try:
                        data = sock.recv(65535)
                    except BlockingIOError:
                        break
                    if not (len(data) > 23 and data[12:14] == b"\x08\x00" and data[23] == 6):
                        leaked += 1
            finally:
                sock.close()
    finally:
        stop.set()
        sender.join(5)
    assert leaked == 0
