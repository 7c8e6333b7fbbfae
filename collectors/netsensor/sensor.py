"""The sensor: frames in, ECS events out.

:meth:`Sensor.feed` takes one captured frame; events pile up in :attr:`Sensor.events` until the
caller takes them. Decoding is deterministic: the same frames in the same order give the same
events with the same ids (a pcap read again after a crash, see :mod:`collectors.pcap`).
Bad frames are counted in :attr:`Sensor.stats`, never raised.
"""

from __future__ import annotations

import struct
from collections import OrderedDict, deque
from dataclasses import dataclass, fields
from typing import Any

from collectors.netsensor import dns as dnsmod
from collectors.netsensor import http, records
from collectors.netsensor import tls as tlsmod
from collectors.netsensor.decode import TCP_PROTO, UDP_PROTO, ArpPacket, Decoded, Malformed, decode
from collectors.netsensor.events import make_id
from collectors.netsensor.flows import Flow, FlowTable
from soc.ecs import Event

DNS_PORTS = frozenset((53, 5353, 5355))
LOGIN_PORTS = frozenset((21, 23, 110, 143))
DnsKey = tuple[bytes, int, bytes, int, int, int]
DnsQuery = tuple[float, int, dnsmod.Message, Flow | None, bool]


@dataclass(frozen=True)
class SensorConfig:
    """Limits and timeouts (``network:`` in soc.yml, see docs/network-sensor.md)."""

    max_flows: int = 100_000
    idle_timeout: float = 60.0
    linger: float = 2.0
    dns_timeout: float = 10.0
    max_pending_dns: int = 10_000
    max_arp: int = 65_536
    inspect_packets: int = 12  # payload packets per flow given to the HTTP/TLS/login readers


@dataclass
class SensorStats:
    """Counters of one sensor (one file, one capture)."""

    packets: int = 0
    malformed: int = 0
    truncated: int = 0
    not_ip: int = 0
    fragments: int = 0
    app_errors: int = 0  # DNS/TLS messages that could not be read (the flow still counts)
    flows: int = 0
    evicted: int = 0
    dns_unanswered: int = 0
    events: int = 0

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: dict[str, Any]) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + int(other.get(f.name, 0)))


class Sensor:
    """One stream of frames (a pcap file, a live interface). ``ident`` prefixes event ids."""

    def __init__(self, ident: str, config: SensorConfig | None = None,
                 observer: dict[str, Any] | None = None) -> None:
        self.ident = ident
        self.config = cfg = config or SensorConfig()
        self.observer = dict(observer or {})
        self.events: list[Event] = []
        self.stats = SensorStats()
        self.index = 0  # of the next frame
        self.flows = FlowTable(self._flow_ended, max_flows=cfg.max_flows,
                               idle_timeout=cfg.idle_timeout, linger=cfg.linger)
        self.dns: OrderedDict[DnsKey, DnsQuery] = OrderedDict()
        self.arp: dict[bytes, bytes] = {}

    # --- input ---------------------------------------------------------------------------------

    def feed(self, ts: float, data: bytes, linktype: int, wirelen: int | None = None) -> None:
        """One captured frame (``wirelen``: its length on the wire, when it was cut short)."""
        index = self.index
        self.index = index + 1
        self.stats.packets += 1
        try:
            d = decode(data, linktype)
        except (Malformed, struct.error, IndexError):
            if wirelen is not None and len(data) < wirelen:
                self.stats.truncated += 1
            else:
                self.stats.malformed += 1
            return
        if isinstance(d, Decoded):
            if d.fragment:
                self.stats.fragments += 1
                return
            if ts >= self.flows.next_sweep and self.dns:
                self._dns_sweep(ts)
            flow, reverse = self.flows.packet(d, ts, index)
            if flow is not None and d.payload:
                self._payload(d, flow, reverse, ts, index)
        elif isinstance(d, ArpPacket):
            self._arp(d, ts, index)
        else:
            self.stats.not_ip += 1

    def expire(self, now: float) -> None:
        """End idle flows and unanswered DNS queries (live capture calls this on a timer)."""
        self.flows.sweep(now)
        self._dns_sweep(now)

    def flush(self, limit: int | None = None) -> bool:
        """End what is still open (end of input): every flow and pending DNS query, or at most
        ``limit`` of them, oldest first, so that the caller can take the events in batches.
        True when nothing is left open."""
        ended = self.flows.flush(limit)
        dns = self.dns
        while dns and (limit is None or ended < limit):
            self._dns_unanswered(next(iter(dns)))
            ended += 1
        return not (self.flows.flows or dns)

    def take(self) -> list[Event]:
        """The events produced since the last call."""
        out, self.events = self.events, []
        self.stats.events += len(out)
        return out

    # --- emission ------------------------------------------------------------------------------

    def _emit(self, ev: Event) -> None:
        if self.observer:
            ev.update(self.observer)
        self.events.append(ev)

    def _flow_ended(self, flow: Flow, reason: str) -> None:
        self.stats.flows += 1
        self.stats.evicted = self.flows.evicted
        app = flow.app
        if app:
            self._flush_app(flow, app)
        self._emit(records.flow_event(flow, reason, make_id(self.ident, "flow", flow.index)))

    def _flush_app(self, flow: Flow, app: dict[str, Any]) -> None:
        for ts, index, request in app.get("http", ()):
            self._emit(records.http_event(flow, ts, request, None,
                                          make_id(self.ident, "http", index)))
        app["http"] = deque()
        hello = app.pop("hello", None)
        if hello is not None:
            self._tls_emit(flow, hello, None)

    # --- application layer ---------------------------------------------------------------------

    def _payload(self, d: Decoded, flow: Flow, reverse: bool, ts: float, index: int) -> None:
        if (d.sport in DNS_PORTS or d.dport in DNS_PORTS) and d.proto in (UDP_PROTO, TCP_PROTO):
            self._dns_packet(d, flow, ts, index)
            return
        if d.proto != TCP_PROTO or flow.seen >= self.config.inspect_packets:
            return
        flow.seen += 1
        if flow.dport in LOGIN_PORTS:
            http.login(flow.dport, d.payload, not reverse, _state(flow))
        if reverse:
            self._server_payload(flow, d.payload, ts)
        else:
            self._client_payload(flow, d.payload, ts, index)

    def _client_payload(self, flow: Flow, payload: bytes, ts: float, index: int) -> None:
        if (flow.app is not None and "tls" in flow.app) or tlsmod.record_length(payload):
            self._client_tls(flow, _state(flow), payload, ts, index)
            return
        request = http.request(payload)
        if request is not None:
            _state(flow).setdefault("http", deque()).append((ts, index, request))

    def _server_payload(self, flow: Flow, payload: bytes, ts: float) -> None:
        app = flow.app
        if app is None:
            return
        if "hello" in app and tlsmod.record_length(payload):
            self._server_tls(flow, app, payload)
            return
        pending = app.get("http")
        if pending:
            response = http.response(payload)
            if response is not None:
                rts, rindex, request = pending.popleft()
                self._emit(records.http_event(flow, rts, request, response,
                                              make_id(self.ident, "http", rindex)))

    def _client_tls(self, flow: Flow, app: dict[str, Any], payload: bytes, ts: float,
                    index: int) -> None:
        """Gather the ClientHello record (it may span a few segments), then read it."""
        buf = app.setdefault("tls", [b"", ts, index])
        buf[0] += payload
        need = tlsmod.record_length(buf[0])
        if need is None or len(buf[0]) < min(need, tlsmod.MAX_RECORD):
            if need is None or len(buf[0]) > tlsmod.MAX_RECORD:
                del app["tls"]
            return
        del app["tls"]
        flow.seen = self.config.inspect_packets - 2  # the ServerHello is next; then stop
        try:
            kind, hello = tlsmod.parse_hello(buf[0][:need])
        except tlsmod.TlsError:
            self.stats.app_errors += 1
            return
        if kind == 1:
            app["hello"] = (buf[1], buf[2], hello)

    def _server_tls(self, flow: Flow, app: dict[str, Any], payload: bytes) -> None:
        need = tlsmod.record_length(payload) or 0
        try:
            kind, server = tlsmod.parse_hello(payload[:need])
        except tlsmod.TlsError:
            self.stats.app_errors += 1
            return
        if kind == 2:
            self._tls_emit(flow, app.pop("hello"), server)

    def _tls_emit(self, flow: Flow, hello: tuple[float, int, tlsmod.Hello],
                  server: tlsmod.Hello | None) -> None:
        ts, index, client = hello
        self._emit(records.tls_event(flow, ts, client, server,
                                     make_id(self.ident, "tls", index)))

    # --- DNS -----------------------------------------------------------------------------------

    def _dns_packet(self, d: Decoded, flow: Flow, ts: float, index: int) -> None:
        payload = d.payload
        if d.proto == TCP_PROTO:  # one whole length-prefixed message per segment, or nothing
            if len(payload) < 14 or payload[0] << 8 | payload[1] > len(payload) - 2:
                return
            payload = payload[2:2 + (payload[0] << 8 | payload[1])]
        try:
            msg = dnsmod.parse(payload)
        except dnsmod.DnsError:
            self.stats.app_errors += 1
            return
        tcp = d.proto == TCP_PROTO
        if not msg.response:
            key = (d.src, d.sport, d.dst, d.dport, msg.id, d.proto)
            if key not in self.dns:  # a retransmission keeps the first query
                if len(self.dns) >= self.config.max_pending_dns:
                    self._dns_unanswered(next(iter(self.dns)))
                self.dns[key] = (ts, index, msg, flow, tcp)
            return
        key = (d.dst, d.dport, d.src, d.sport, msg.id, d.proto)
        query = self.dns.pop(key, None)
        if query is None:  # an answer whose query we did not see: the server is the source
            conn = records.endpoints(flow)
            self._emit(records.dns_event(None, (ts, msg), conn, make_id(self.ident, "dns",
                                                                       index)))
            return
        conn = records.endpoints(flow)
        self._emit(records.dns_event(query, (ts, msg), conn, make_id(self.ident, "dns",
                                                                    query[1])))

    def _dns_unanswered(self, key: DnsKey) -> None:
        query = self.dns.pop(key)
        self.stats.dns_unanswered += 1
        flow = query[3]
        conn = records.endpoints(flow) if flow is not None else {}
        self._emit(records.dns_event(query, None, conn, make_id(self.ident, "dns", query[1])))

    def _dns_sweep(self, now: float) -> None:
        limit = now - self.config.dns_timeout
        while self.dns:
            key, query = next(iter(self.dns.items()))
            if query[0] >= limit:
                return
            self._dns_unanswered(key)

    # --- ARP -----------------------------------------------------------------------------------

    def _arp(self, arp: ArpPacket, ts: float, index: int) -> None:
        if arp.sender_ip == b"\0\0\0\0":  # an address probe binds nothing
            return
        previous = self.arp.get(arp.sender_ip)
        if previous == arp.sender_mac:
            return
        if previous is None and len(self.arp) >= self.config.max_arp:
            del self.arp[next(iter(self.arp))]
        self.arp[arp.sender_ip] = arp.sender_mac
        others = [ip for ip, mac in self.arp.items()
                  if mac == arp.sender_mac and ip != arp.sender_ip]
        self._emit(records.arp_event(arp, ts, previous, others,
                                     make_id(self.ident, "arp", index)))


def _state(flow: Flow) -> dict[str, Any]:
    """The application readers' state of a flow, made when one first keeps something (most
    flows never need one: 100k open flows would hold 100k empty dicts)."""
    app = flow.app
    if app is None:
        app = flow.app = {}
    return app
