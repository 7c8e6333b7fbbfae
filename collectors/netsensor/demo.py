"""The demo's capture: the attacker's SYN scan of the provincial portal, built with scapy."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

OPEN_PORTS = (22, 80, 443)
SCANNED = (*range(1, 101), 110, 135, 139, 143, 443, 445, 993, 995, 1433, 1521, 3306, 3389,
           5432, 5900, 6379, 8080, 8443, 9200)
ATTACKER_MAC = "02:00:5e:10:00:01"
TARGET_MAC = "02:00:5e:10:00:02"


def _probe(attacker: str, target: str, port: int, sport: int) -> list[Packet]:
    """A SYN probe and what the portal answers: SYN-ACK then the scanner's RST (open), or
    RST-ACK (closed)."""
    out = Ether(src=ATTACKER_MAC, dst=TARGET_MAC) / IP(src=attacker, dst=target, ttl=52)
    back = Ether(src=TARGET_MAC, dst=ATTACKER_MAC) / IP(src=target, dst=attacker, ttl=64)
    syn = out / TCP(sport=sport, dport=port, flags="S", seq=1000, window=1024)
    if port in OPEN_PORTS:
        return [syn, back / TCP(sport=port, dport=sport, flags="SA", seq=5000, ack=1001),
                out / TCP(sport=sport, dport=port, flags="R", seq=1001)]
    return [syn, back / TCP(sport=port, dport=sport, flags="RA", seq=0, ack=1001)]


def write_demo_pcap(path: str | Path, attacker: str, target: str, when: datetime) -> int:
    """Write a pcap of ``attacker`` SYN-scanning ``target`` (118 ports, three of them open) starting
    at ``when`` (aware); returns the number of packets. Deterministic for the same arguments."""
    start = when.timestamp()
    packets: list[Packet] = []
    for i, port in enumerate(sorted(set(SCANNED))):
        for j, pkt in enumerate(_probe(attacker, target, port, 40000 + i)):
            pkt.time = start + i * 0.004 + j * 0.0005
            packets.append(pkt)
    wrpcap(str(path), packets)
    return len(packets)
