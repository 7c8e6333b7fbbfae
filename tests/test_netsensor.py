"""The network sensor on frames built with scapy: exact events, counters, limits."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, CookedLinux, Dot1Q, Ether
from scapy.layers.tls.extensions import (
    TLS_Ext_ServerName,
    TLS_Ext_SupportedEllipticCurves,
    TLS_Ext_SupportedPointFormat,
)
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS
from scapy.packet import Packet, Raw

from collectors.netsensor import Sensor, SensorConfig
from collectors.netsensor import dns as dnsmod
from collectors.netsensor import tls as tlsmod
from collectors.netsensor.events import community_id, ts_str
from soc.ecs import event_id

T0 = 1795482900.0  # 2026-11-24T01:15:00Z
CMAC, SMAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
CLIENT, SERVER = "10.20.0.9", "10.20.0.15"


def eth(src: str, dst: str, smac: str = CMAC, dmac: str = SMAC) -> Packet:
    return Ether(src=smac, dst=dmac) / IP(src=src, dst=dst)


def run(frames: list[tuple[float, Packet]], config: SensorConfig | None = None,
        linktype: int = 1) -> tuple[Sensor, list[dict[str, Any]]]:
    sensor = Sensor("test", config)
    events: list[dict[str, Any]] = []
    for ts, pkt in frames:
        sensor.feed(ts, bytes(pkt), linktype)
        events += sensor.take()
    sensor.flush()
    return sensor, events + sensor.take()


def handshake(sport: int = 50000, dport: int = 22, t: float = T0,
              data: bytes = b"", reply: bytes = b"") -> list[tuple[float, Packet]]:
    c, s = eth(CLIENT, SERVER), eth(SERVER, CLIENT, SMAC, CMAC)
    pkts = [c / TCP(sport=sport, dport=dport, flags="S", seq=100),
            s / TCP(sport=dport, dport=sport, flags="SA", seq=900, ack=101),
            c / TCP(sport=sport, dport=dport, flags="A", seq=101, ack=901)]
    if data:
        pkts.append(c / TCP(sport=sport, dport=dport, flags="PA", seq=101, ack=901) / Raw(data))
    if reply:
        pkts.append(s / TCP(sport=dport, dport=sport, flags="PA", seq=901, ack=101) / Raw(reply))
    pkts += [c / TCP(sport=sport, dport=dport, flags="FA", seq=500, ack=901),
             s / TCP(sport=dport, dport=sport, flags="FA", seq=901, ack=501),
             c / TCP(sport=sport, dport=dport, flags="A", seq=501, ack=902)]
    return [(t + i * 0.01, p) for i, p in enumerate(pkts)]


def test_tcp_handshake_flow_exactly() -> None:
    sensor, events = run(handshake())
    assert events == [{
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "network.flow",
        "event.module": "netsensor", "event.id": event_id("test", "flow", 0),
        "event.kind": "event", "event.category": ["network"], "event.type": ["connection", "end"],
        "source.ip": CLIENT, "destination.ip": SERVER, "network.transport": "tcp",
        "network.type": "ipv4", "network.iana_number": "6", "source.port": 50000,
        "destination.port": 22,
        "network.community_id": community_id(6, bytes([10, 20, 0, 9]), bytes([10, 20, 0, 15]),
                                             50000, 22),
        "source.mac": "02-00-00-00-00-0A", "destination.mac": "02-00-00-00-00-0B",
        "event.start": "2026-11-24T01:15:00.000Z", "event.end": "2026-11-24T01:15:00.040Z",
        "event.duration": 40_000_000, "source.packets": 3, "source.bytes": 120,
        "destination.packets": 2, "destination.bytes": 80, "network.packets": 5,
        "network.bytes": 200, "netsensor.flow.end_reason": "fin",
        "netsensor.flow.tcp_flags": ["FIN", "SYN", "ACK"],
        "netsensor.flow.source_tcp_flags": ["FIN", "SYN", "ACK"],
        "netsensor.flow.state": "SF",
    }]
    # the trailing ACK lingers on the ended flow: no second flow
    assert sensor.stats.flows == 1
    assert sensor.stats.packets == 6


def test_syn_scan_states() -> None:
    c, s = eth("203.0.113.66", SERVER), eth(SERVER, "203.0.113.66", SMAC, CMAC)
    frames = [
        (T0, c / TCP(sport=40000, dport=23, flags="S")),  # closed: RST-ACK
        (T0 + 0.001, s / TCP(sport=23, dport=40000, flags="RA")),
        (T0 + 0.002, c / TCP(sport=40001, dport=443, flags="S")),  # open: half-open probe
        (T0 + 0.003, s / TCP(sport=443, dport=40001, flags="SA")),
        (T0 + 0.004, c / TCP(sport=40001, dport=443, flags="R")),
        (T0 + 0.005, c / TCP(sport=40002, dport=25, flags="S")),  # filtered: no answer
        (T0 + 0.006, c / TCP(sport=40003, dport=80, flags="FPU")),  # Xmas probe
    ]
    _, events = run(frames)
    got = [(e["destination.port"], e["netsensor.flow.state"], e["netsensor.flow.end_reason"],
            e["netsensor.flow.source_tcp_flags"]) for e in events]
    assert got == [(23, "REJ", "rst", ["SYN"]), (443, "RSTOS1", "rst", ["SYN", "RST"]),
                   (25, "S0", "end_of_input", ["SYN"]),
                   (80, "OTH", "end_of_input", ["FIN", "PSH", "URG"])]


def test_syn_ack_seen_first_makes_the_receiver_the_originator() -> None:
    s = eth(SERVER, CLIENT, SMAC, CMAC)
    _, events = run([(T0, s / TCP(sport=22, dport=50000, flags="SA"))])
    assert (events[0]["source.ip"], events[0]["source.port"], events[0]["source.packets"],
            events[0]["destination.packets"]) == (CLIENT, 50000, 0, 1)


def dns_frames(name: str = "portal.hagiang.gov.vn") -> list[tuple[float, Packet]]:
    q = eth(CLIENT, "10.20.0.53") / UDP(sport=53001, dport=53) / DNS(
        id=7, rd=1, qd=DNSQR(qname=name, qtype="A"))
    r = eth("10.20.0.53", CLIENT, SMAC, CMAC) / UDP(sport=53, dport=53001) / DNS(
        id=7, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype="A"),
        an=[DNSRR(rrname=name, type="CNAME", ttl=300, rdata="web01.hagiang.gov.vn"),
            DNSRR(rrname="web01.hagiang.gov.vn", type="A", ttl=60, rdata="10.20.0.15")])
    return [(T0, q), (T0 + 0.0125, r)]


def test_dns_transaction_exactly() -> None:
    _, events = run(dns_frames())
    dns = [e for e in events if e["event.dataset"] == "network.dns"]
    assert len(dns) == 1
    ev = dns[0]
    assert {k: v for k, v in ev.items() if k.startswith(("dns.", "netsensor.", "event.dur"))} == {
        "dns.id": 7, "dns.op_code": "QUERY", "dns.question.name": "portal.hagiang.gov.vn",
        "dns.question.type": "A", "dns.question.class": "IN",
        "dns.question.registered_domain": "hagiang.gov.vn",
        "dns.question.top_level_domain": "vn", "dns.question.subdomain": "portal",
        "netsensor.dns.entropy": 2.58, "netsensor.dns.longest_label": 6,
        "dns.type": "answer", "dns.header_flags": ["RD", "RA"], "dns.response_code": "NOERROR",
        "event.duration": 12_500_000,
        "dns.answers.name": ["portal.hagiang.gov.vn", "web01.hagiang.gov.vn"],
        "dns.answers.type": ["CNAME", "A"], "dns.answers.class": ["IN", "IN"],
        "dns.answers.ttl": [300, 60],
        "dns.answers.data": ["web01.hagiang.gov.vn", "10.20.0.15"],
        "dns.resolved_ip": ["10.20.0.15"],
    }
    flow = next(e for e in events if e["event.dataset"] == "network.flow")
    # the DNS event names the flow it belongs to
    assert ev["network.community_id"] == flow["network.community_id"]
    assert (ev["source.ip"], ev["source.port"], ev["destination.port"]) == (CLIENT, 53001, 53)
    assert ev["event.id"] == event_id("test", "dns", 0)


def test_unanswered_dns_query_and_timeout() -> None:
    frames = dns_frames()[:1]
    later = eth(CLIENT, SERVER) / UDP(sport=1, dport=2)  # a packet 30 s later expires it
    sensor, events = run([*frames, (T0 + 30, later)], SensorConfig(dns_timeout=10))
    dns = [e for e in events if e["event.dataset"] == "network.dns"]
    assert [(d["dns.type"], "dns.response_code" in d) for d in dns] == [("query", False)]
    assert sensor.stats.dns_unanswered == 1


def test_dns_reader_against_scapy() -> None:
    _, pkt = dns_frames()[1]
    raw = bytes(pkt[DNS])
    msg = dnsmod.parse(raw)
    theirs = DNS(raw)
    assert msg.qname + "." == theirs.qd[0].qname.decode()
    assert [a[3] for a in msg.answers] == [rr.ttl for rr in theirs.an]
    loop = raw[:12] + b"\xc0\x0c" + raw[-4:]  # a name that points at itself
    with pytest.raises(dnsmod.DnsError):
        dnsmod.parse(loop)


def test_http_request_response_and_basic_credentials() -> None:
    req = (b"GET /admin/?lang=vi HTTP/1.1\r\nHost: portal.hagiang.gov.vn:8080\r\n"
           b"User-Agent: curl/8.5\r\nAuthorization: Basic cXVhbnRyaTpNYXRraGF1\r\n\r\n")
    rep = b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\n"
    _, events = run(handshake(dport=8080, data=req, reply=rep))
    http = [e for e in events if e["event.dataset"] == "network.http"]
    assert {k: v for k, v in http[0].items()
            if k.startswith(("http.", "url.", "user", "netsensor.", "event.outcome"))} == {
        "http.request.method": "GET", "url.original": "/admin/?lang=vi", "url.path": "/admin/",
        "url.query": "lang=vi", "http.version": "1.1", "url.domain": "portal.hagiang.gov.vn",
        "user_agent.original": "curl/8.5", "netsensor.credentials": "http-basic",
        "user.name": "quantri", "http.response.status_code": 401,
        "http.response.mime_type": "text/html", "http.response.body.bytes": 12,
        "event.outcome": "failure",
    }


def test_ftp_login_marks_the_flow() -> None:
    c = eth(CLIENT, SERVER)
    frames = handshake(dport=21, data=b"USER canbo01\r\n", reply=b"331 Password required\r\n")
    frames.insert(5, (T0 + 0.045, c / TCP(sport=50000, dport=21, flags="PA") / Raw(b"PASS x\r\n")))
    _, events = run(frames)
    assert (events[0]["netsensor.credentials"], events[0]["user.name"]) == ("ftp", "canbo01")


def client_hello() -> bytes:
    """The JA3 README's example ClientHello values."""
    hello = TLSClientHello(
        version=0x0301, ciphers=[47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
        ext=[TLS_Ext_ServerName(servernames=[]),
             TLS_Ext_SupportedEllipticCurves(groups=[23, 24, 25]),
             TLS_Ext_SupportedPointFormat(ecpl=[0])])
    return bytes(TLS(version=0x0301, msg=[hello]))


def test_tls_client_hello_ja3() -> None:
    raw = client_hello()
    kind, hello = tlsmod.parse_hello(raw)
    assert kind == 1
    assert tlsmod.ja3_string(hello) == (
        "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0")
    assert tlsmod.ja3(hello) == "ada70206e40642a3e4461f35503241d5"
    _, events = run(handshake(dport=443, data=raw))
    tls = [e for e in events if e["event.dataset"] == "network.tls"]
    assert (tls[0]["tls.client.ja3"], tls[0]["tls.version"], tls[0]["destination.port"]) == (
        "ada70206e40642a3e4461f35503241d5", "1.0", 443)


def test_ja4_of_the_readme_example() -> None:
    # JA4 README: t13d1516h2_8daaf6152771_e5627efa2ab1
    hello = tlsmod.Hello(
        version=0x0303,
        ciphers=[0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
                 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035, 0x0A0A],
        extensions=[0x0A0A, 0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D,
                    0x0005, 0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015],
        sigalgs=[0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
        alpn=["h2", "http/1.1"], versions=[0x0A0A, 0x0304, 0x0303], sni="example.com")
    assert tlsmod.ja4(hello) == "t13d1516h2_8daaf6152771_e5627efa2ab1"


def test_community_id_spec_vector() -> None:
    src, dst = bytes([128, 232, 110, 120]), bytes([66, 35, 250, 204])
    assert community_id(6, src, dst, 34855, 80) == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    assert community_id(6, dst, src, 80, 34855) == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


def arp_frame(op: int, ip: str, mac: str, target: str) -> Packet:
    return Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=op, psrc=ip, hwsrc=mac, pdst=target)


def test_arp_bindings_and_change() -> None:
    frames = [(T0, arp_frame(2, "10.20.0.1", "02:00:00:00:00:01", CLIENT)),
              (T0 + 1, arp_frame(2, "10.20.0.1", "02:00:00:00:00:01", CLIENT)),  # same: quiet
              (T0 + 2, arp_frame(1, "0.0.0.0", "02:00:00:00:00:99", "10.20.0.1")),  # probe
              (T0 + 3, arp_frame(2, "10.20.0.1", "02:00:00:00:00:66", CLIENT))]
    _, events = run(frames)
    assert [(e["event.action"], e["source.mac"], e.get("netsensor.arp.previous_mac"))
            for e in events] == [
        ("arp-binding-new", "02-00-00-00-00-01", None),
        ("arp-binding-changed", "02-00-00-00-00-66", "02-00-00-00-00-01")]
    assert events[1]["event.id"] == event_id("test", "arp", 3)
    assert events[1]["event.type"] == ["change"]


def test_icmp_echo_summary() -> None:
    c, s = eth(CLIENT, SERVER), eth(SERVER, CLIENT, SMAC, CMAC)
    frames = [(T0 + i, p) for i, p in enumerate(
        [c / ICMP(type=8, id=1, seq=1), s / ICMP(type=0, id=1, seq=1),
         c / ICMP(type=8, id=1, seq=2), s / ICMP(type=0, id=1, seq=2)])]
    _, events = run(frames)
    assert [(e["event.dataset"], e["netsensor.icmp.type"], e["netsensor.icmp.code"],
             e["source.packets"], e["destination.packets"]) for e in events] == [
        ("network.icmp", 8, 0, 2, 2)]


def test_truncated_and_malformed_frames_are_counted() -> None:
    good = bytes(handshake()[0][1])
    bad_ihl = bytearray(good)
    bad_ihl[14] = 0x43  # IPv4 header length 12 bytes
    bad_tcp = bytearray(good)
    bad_tcp[14 + 20 + 12] = 0x30  # TCP data offset 12 bytes
    sensor = Sensor("test")
    sensor.feed(T0, good[:20], 1, wirelen=len(good))  # cut by the snap length
    sensor.feed(T0, bytes(bad_ihl), 1)
    sensor.feed(T0, bytes(bad_tcp), 1)
    sensor.feed(T0, b"\x00" * 5, 1)
    sensor.feed(T0, good, 1)
    sensor.feed(T0, good, 999)  # unknown link type
    sensor.flush()
    stats = sensor.stats.to_dict()
    assert (stats["packets"], stats["truncated"], stats["malformed"], stats["flows"]) == (
        6, 1, 4, 1)


def test_bad_dns_payload_counts_and_keeps_the_flow() -> None:
    c = eth(CLIENT, "10.20.0.53")
    sensor, events = run([(T0, c / UDP(sport=5000, dport=53) / Raw(b"\x01\x02garbage"))])
    assert sensor.stats.app_errors == 1
    assert [e["event.dataset"] for e in events] == ["network.flow"]


def test_flow_table_is_bounded_and_evictions_are_counted() -> None:
    c = eth(CLIENT, SERVER)
    frames = [(T0 + i * 0.001, c / UDP(sport=10000 + i, dport=514)) for i in range(25)]
    sensor, events = run(frames, SensorConfig(max_flows=10))
    reasons = [e["netsensor.flow.end_reason"] for e in events]
    assert reasons.count("evicted") == 15 and reasons.count("end_of_input") == 10
    assert sensor.stats.evicted == 15


def test_idle_timeout_ends_flows() -> None:
    c = eth(CLIENT, SERVER)
    frames = [(T0, c / UDP(sport=1000, dport=514)), (T0 + 61, c / UDP(sport=1001, dport=514))]
    sensor = Sensor("test", SensorConfig(idle_timeout=60))
    sensor.feed(frames[0][0], bytes(frames[0][1]), 1)
    sensor.feed(frames[1][0], bytes(frames[1][1]), 1)
    assert [e["netsensor.flow.end_reason"] for e in sensor.take()] == ["idle"]


MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


@pytest.mark.parametrize(("pkt", "linktype"), [
    # explicit MACs: without a dst, building the frame makes scapy resolve it on the network
    (Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=20) / IP(src=CLIENT, dst=SERVER)
     / UDP(sport=1, dport=2), 1),
    (Ether(src=MAC_A, dst=MAC_B) / IPv6(src="2001:db8::9", dst="2001:db8::f")
     / UDP(sport=1, dport=2), 1),
    (CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x02" * 6 + b"\0\0", proto=0x800)
     / IP(src=CLIENT, dst=SERVER) / UDP(sport=1, dport=2), 113),
    (IP(src=CLIENT, dst=SERVER) / UDP(sport=1, dport=2), 101),
])
def test_link_types(pkt: Packet, linktype: int) -> None:
    _, events = run([(T0, pkt)], linktype=linktype)
    assert (events[0]["source.port"], events[0]["destination.port"]) == (1, 2)


def test_timestamps_match_the_canonical_form() -> None:
    assert ts_str(T0 + 0.9999996) == "2026-11-24T01:15:01.000Z"
    assert ts_str(T0 + 0.1234) == "2026-11-24T01:15:00.123Z"


def test_open_flows_keep_reader_state_only_when_a_reader_needs_it() -> None:
    sensor = Sensor("test")
    frames = handshake(dport=443, data=b"\x17" * 300, reply=b"y" * 600)[:5]  # no FIN yet
    frames += handshake(sport=50001, dport=80, data=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")[:4]
    for ts, pkt in frames:
        sensor.feed(ts, bytes(pkt), 1)
    flows = {f.dport: f for f in sensor.flows.flows.values()}
    assert (flows[443].seen, flows[443].app) == (2, None)  # nothing to keep: no state at all
    assert (flows[80].seen, list(flows[80].app or ())) == (1, ["http"])


def test_flush_with_a_limit_ends_the_oldest_flows_first() -> None:
    sensor = Sensor("test")
    for i in range(5):
        sensor.feed(T0 + i, bytes(eth(CLIENT, SERVER) / UDP(sport=1000 + i, dport=514)), 1)
    assert sensor.flush(2) is False
    assert [e["source.port"] for e in sensor.take()] == [1000, 1001]
    assert sensor.flush(10) is True
    assert [e["source.port"] for e in sensor.take()] == [1002, 1003, 1004]
