"""Sensor events: flows, ICMP summaries, DNS transactions, HTTP, TLS and ARP bindings as flat
ECS dicts. Fields ECS does not define live under ``netsensor.*``."""

from __future__ import annotations

from typing import Any

from collectors.netsensor import dns as dnsmod
from collectors.netsensor import tls as tlsmod
from collectors.netsensor.decode import ArpPacket
from collectors.netsensor.events import (
    base_event,
    community_id,
    ip_str,
    mac_str,
    transport_name,
    ts_str,
)
from collectors.netsensor.flows import ICMP_PAIRS, Flow, flag_names, tcp_state
from soc.ecs import Event

ZERO_MAC = b"\0" * 6


def nanoseconds(seconds: float) -> int:
    """``event.duration``: captures time to the microsecond, floats of epoch seconds hold
    little more, so round there."""
    return round(seconds * 1e6) * 1000


def endpoints(flow: Flow) -> Event:
    """Addresses, ports and protocol of a flow, the originator as ``source``."""
    ev: Event = {"source.ip": ip_str(flow.src), "destination.ip": ip_str(flow.dst),
                 "network.transport": transport_name(flow.proto),
                 "network.type": "ipv4" if len(flow.src) == 4 else "ipv6",
                 "network.iana_number": str(flow.proto)}
    if flow.proto in (6, 17, 132):
        ev["source.port"] = flow.sport
        ev["destination.port"] = flow.dport
    ev["network.community_id"] = community_id(flow.proto, flow.src, flow.dst, flow.sport,
                                              flow.dport)
    if flow.mac_o:
        ev["source.mac"] = mac_str(flow.mac_o)
    if flow.mac_r:
        ev["destination.mac"] = mac_str(flow.mac_r)
    return ev


def _span(ev: Event, first: float, last: float) -> None:
    ev["event.start"] = ts_str(first)
    ev["event.end"] = ts_str(last)
    ev["event.duration"] = nanoseconds(last - first)


def _volumes(ev: Event, flow: Flow) -> None:
    ev["source.packets"], ev["source.bytes"] = flow.pkts_o, flow.bytes_o
    ev["destination.packets"], ev["destination.bytes"] = flow.pkts_r, flow.bytes_r
    ev["network.packets"] = flow.pkts_o + flow.pkts_r
    ev["network.bytes"] = flow.bytes_o + flow.bytes_r


def flow_event(flow: Flow, reason: str, ident: str) -> Event:
    """A ``network.flow`` event, or ``network.icmp`` for ICMP flows."""
    icmp = flow.proto in (1, 58)
    dataset = "network.icmp" if icmp else "network.flow"
    ev = base_event(dataset, flow.first, ident, *(("info",) if icmp else ("connection", "end")))
    ev.update(endpoints(flow))
    _span(ev, flow.first, flow.last)
    _volumes(ev, flow)
    ev["netsensor.flow.end_reason"] = reason
    if icmp:
        ev["netsensor.icmp.type"] = flow.sport
        paired = flow.sport in ICMP_PAIRS[flow.proto]  # the key holds the reply type
        ev["netsensor.icmp.code"] = 0 if paired else flow.dport
    elif flow.proto == 6:
        ev["netsensor.flow.tcp_flags"] = flag_names(flow.flags_o | flow.flags_r)
        ev["netsensor.flow.source_tcp_flags"] = flag_names(flow.flags_o)
        ev["netsensor.flow.state"] = tcp_state(flow)
    app = flow.app or {}
    if app.get("credentials"):
        ev["netsensor.credentials"] = app["credentials"]
        if app.get("user"):
            ev["user.name"] = app["user"]
    return ev


def dns_event(query: tuple[float, int, dnsmod.Message, Flow | None, bool] | None,
              answer: tuple[float, dnsmod.Message] | None, conn: Event, ident: str) -> Event:
    """One DNS transaction: the query, its answer, or both."""
    msg = query[2] if query else answer[1] if answer else None
    assert msg is not None
    ts = query[0] if query else answer[0] if answer else 0.0
    ev = base_event("network.dns", ts, ident, "protocol")
    ev.update(conn)
    ev["network.protocol"] = "dns"
    ev["dns.id"] = msg.id
    ev["dns.op_code"] = dnsmod.OPCODES.get(msg.opcode, str(msg.opcode))
    _question(ev, msg)
    if answer is None:
        ev["dns.type"] = "query"
        ev["dns.header_flags"] = msg.flags
        return ev
    reply = answer[1]
    ev["dns.type"] = "answer"
    ev["dns.header_flags"] = reply.flags
    ev["dns.response_code"] = dnsmod.RCODES.get(reply.rcode, str(reply.rcode))
    if query:
        ev["event.duration"] = nanoseconds(answer[0] - query[0])
    _answers(ev, reply)
    return ev


def _question(ev: Event, msg: dnsmod.Message) -> None:
    ev["dns.question.name"] = msg.qname
    ev["dns.question.type"] = dnsmod.type_name(msg.qtype)
    ev["dns.question.class"] = dnsmod.class_name(msg.qclass)
    registered, sub, tld = dnsmod.split_name(msg.qname)
    if registered:
        ev["dns.question.registered_domain"] = registered
        ev["dns.question.top_level_domain"] = tld
    if sub:
        ev["dns.question.subdomain"] = sub
        ev["netsensor.dns.entropy"] = round(dnsmod.entropy(sub.replace(".", "")), 2)
        ev["netsensor.dns.longest_label"] = max(len(label) for label in sub.split("."))


def _answers(ev: Event, reply: dnsmod.Message) -> None:
    if not reply.answers:
        return
    ev["dns.answers.name"] = [a[0] for a in reply.answers]
    ev["dns.answers.type"] = [dnsmod.type_name(a[1]) for a in reply.answers]
    ev["dns.answers.class"] = [dnsmod.class_name(a[2]) for a in reply.answers]
    ev["dns.answers.ttl"] = [a[3] for a in reply.answers]
    ev["dns.answers.data"] = [a[4] for a in reply.answers]
    resolved = [a[4] for a in reply.answers if a[1] in (1, 28)]
    if resolved:
        ev["dns.resolved_ip"] = resolved


def http_event(flow: Flow, ts: float, request: dict[str, Any],
               response: dict[str, Any] | None, ident: str) -> Event:
    """One HTTP request and, when seen, its response."""
    ev = base_event("network.http", ts, ident, "access", "protocol")
    ev.update(endpoints(flow))
    ev["network.protocol"] = "http"
    ev.update(request)
    if response:
        ev.update(response)
        status = response["http.response.status_code"]
        ev["event.outcome"] = "failure" if status >= 400 else "success"
    return ev


def tls_event(flow: Flow, ts: float, hello: tlsmod.Hello, server: tlsmod.Hello | None,
              ident: str) -> Event:
    """A TLS handshake: what the client offered and, when seen, what the server chose."""
    ev = base_event("network.tls", ts, ident, "protocol")
    ev.update(endpoints(flow))
    ev["network.protocol"] = "tls"
    if hello.sni:
        ev["tls.client.server_name"] = hello.sni
    ev["tls.client.ja3"] = tlsmod.ja3(hello)
    ev["netsensor.tls.ja3_string"] = tlsmod.ja3_string(hello)
    ev["netsensor.tls.ja4"] = tlsmod.ja4(hello)
    offered, _ = tlsmod.version_name(hello.highest)
    ev["netsensor.tls.client_version"] = offered
    if hello.alpn:
        ev["netsensor.tls.alpn"] = hello.alpn
    chosen = server.highest if server else hello.highest
    ev["tls.version"], ev["tls.version_protocol"] = tlsmod.version_name(chosen)
    if server:
        ev["tls.cipher"] = f"0x{server.ciphers[0]:04x}" if server.ciphers else ""
        if server.alpn:
            ev["tls.next_protocol"] = server.alpn[0]
    return ev


def arp_event(arp: ArpPacket, ts: float, previous: bytes | None, others: list[bytes],
              ident: str) -> Event:
    """A new or changed IP ↔ MAC binding learnt from an ARP packet's sender; ``others``: the
    addresses the same MAC already claims (one MAC answering for the gateway too: poisoning)."""
    changed = previous is not None
    ev = base_event("network.arp", ts, ident, "change" if changed else "info")
    ev["event.action"] = "arp-binding-changed" if changed else "arp-binding-new"
    ev["source.ip"] = ip_str(arp.sender_ip)
    ev["source.mac"] = mac_str(arp.sender_mac)
    ev["destination.ip"] = ip_str(arp.target_ip)
    if arp.target_mac != ZERO_MAC:
        ev["destination.mac"] = mac_str(arp.target_mac)
    ev["netsensor.arp.operation"] = {1: "request", 2: "reply"}.get(arp.op, str(arp.op))
    ev["netsensor.arp.change"] = "changed" if changed else "new"
    ev["netsensor.arp.gratuitous"] = arp.sender_ip == arp.target_ip
    if previous is not None:
        ev["netsensor.arp.previous_mac"] = mac_str(previous)
    if others:
        ev["netsensor.arp.mac_other_ips"] = [ip_str(ip) for ip in others]
    return ev
