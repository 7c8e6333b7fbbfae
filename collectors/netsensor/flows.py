"""The flow table: bidirectional 5-tuple flows, bounded in memory.

A flow starts with the first packet of a 5-tuple not in the table (a SYN-ACK seen first makes its
receiver the originator). It ends, and the sensor emits it, on RST, on FIN from both sides, after
``idle_timeout`` without packets, when the table is full and it is the least recently seen
(eviction, counted), or at the end of the input. A TCP flow that ended keeps a small tombstone for
``linger`` seconds (in a table of its own, ordered by end time, so memory follows the open
flows) that absorbs the trailing ACK/RST packets, so that they do not start new flows.
ICMP flows are keyed like Community ID: request and reply types pair up.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from collectors.netsensor.decode import ICMP6_PROTO, ICMP_PROTO, TCP_PROTO, Decoded

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 1, 2, 4, 8, 16, 32, 64, 128
FLAG_NAMES = ((FIN, "FIN"), (SYN, "SYN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"),
              (URG, "URG"), (ECE, "ECE"), (CWR, "CWR"))
ICMP_PAIRS = {ICMP_PROTO: {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17},
               ICMP6_PROTO: {128: 129, 129: 128, 130: 131, 131: 130}}

Key = tuple[int, bytes, int, bytes, int]


class Flow:
    """One flow's counters; ``o`` is the originator's side, ``r`` the responder's."""

    __slots__ = ("app", "bytes_o", "bytes_r", "dport", "dst", "fin", "first",
                 "flags_o", "flags_r", "index", "key", "last", "mac_o", "mac_r", "pkts_o",
                 "pkts_r", "proto", "seen", "sport", "src")

    def __init__(self, key: Key, ts: float, index: int) -> None:
        self.key = key
        self.proto, self.src, self.sport, self.dst, self.dport = key
        self.first = self.last = ts
        self.index = index
        self.pkts_o = self.pkts_r = self.bytes_o = self.bytes_r = 0
        self.flags_o = self.flags_r = 0
        self.fin = 0  # 1: originator sent FIN, 2: responder did
        self.mac_o: bytes | None = None
        self.mac_r: bytes | None = None
        self.seen = 0  # payload packets given to the application readers
        self.app: dict[str, Any] | None = None  # their state, when they keep any


def flag_names(flags: int) -> list[str]:
    """TCP flag bits → names, in header order."""
    return [name for bit, name in FLAG_NAMES if flags & bit]


def tcp_state(flow: Flow) -> str:
    """A Zeek-like connection state: S0 (no reply), REJ (rejected), SH (SYN and FIN, no
    reply), RSTOS1 (reset by the originator before it acknowledged the SYN-ACK: a half-open
    SYN-scan probe), S1 (established), SF (closed normally), S2/S3 (FIN from one side only),
    RSTO/RSTR (established, then reset by either side), OTH (no SYN seen)."""
    fo, fr = flow.flags_o, flow.flags_r
    if not fo & SYN:
        return "OTH"
    if not flow.pkts_r:
        return "SH" if fo & FIN else "S0"
    if not fr & SYN:
        return "REJ" if fr & RST else "OTH"
    if fo & RST and not fo & ACK:
        return "RSTOS1"  # SYN, SYN-ACK, RST: a half-open (SYN scan) probe of an open port
    if fo & RST:
        return "RSTO"
    if fr & RST:
        return "RSTR"
    if fo & FIN and fr & FIN:
        return "SF"
    return "S2" if fo & FIN else ("S3" if fr & FIN else "S1")


def flow_key(d: Decoded) -> Key:
    """The key of a packet as sent: ICMP types are mapped so that a reply finds its request."""
    if d.proto in ICMP_PAIRS:
        pair = ICMP_PAIRS[d.proto].get(d.sport)
        if pair is not None:
            return d.proto, d.src, d.sport, d.dst, pair
    return d.proto, d.src, d.sport, d.dst, d.dport


class FlowTable:
    """Flows by key, least recently seen first. ``ended(flow, reason)`` emits a flow."""

    def __init__(self, ended: Callable[[Flow, str], None], *, max_flows: int = 100_000,
                 idle_timeout: float = 60.0, linger: float = 2.0) -> None:
        self.flows: OrderedDict[Key, Flow] = OrderedDict()
        self.closed: OrderedDict[Key, float] = OrderedDict()  # tombstones by end time
        self.absorbed = 0  # packets of ended flows taken in by their tombstone
        self.ended = ended
        self.max_flows = max_flows
        self.idle_timeout = idle_timeout
        self.linger = linger
        self.evicted = 0
        self.next_sweep = 0.0

    def __len__(self) -> int:
        return len(self.flows)

    def packet(self, d: Decoded, ts: float, index: int) -> tuple[Flow | None, bool]:
        """Account one packet; ``(flow, sent by the responder)``, or ``(None, False)`` for a
        packet absorbed by an ended flow's tombstone. The hot path."""
        if ts >= self.next_sweep:
            self.sweep(ts)
        key = flow_key(d)
        flows = self.flows
        flow = flows.get(key)
        reverse = False
        if flow is None:
            flow = flows.get((key[0], key[3], key[4], key[1], key[2]))
            reverse = flow is not None
        if flow is None:
            if self.closed and self._absorbed(key, d, ts):
                return None, False
            flow, reverse = self._new(key, d, ts, index)
        else:
            flows.move_to_end(flow.key)
        flow.last = ts
        if reverse:
            flow.pkts_r += 1
            flow.bytes_r += d.size
            flow.flags_r |= d.flags
        else:
            flow.pkts_o += 1
            flow.bytes_o += d.size
            flow.flags_o |= d.flags
        if d.flags & (FIN | RST):
            self._tcp_end(flow, d.flags, reverse)
        return flow, reverse

    def _absorbed(self, key: Key, d: Decoded, ts: float) -> bool:
        """A trailing packet of a flow that ended (the last ACK, a repeated RST)?"""
        closed = self.closed
        tomb = key if key in closed else (key[0], key[3], key[4], key[1], key[2])
        ended = closed.get(tomb)
        if ended is None:
            return False
        if d.flags & (SYN | ACK) == SYN or ts - ended > self.linger:
            del closed[tomb]  # a new connection on the same 5-tuple
            return False
        self.absorbed += 1
        return True

    def _new(self, key: Key, d: Decoded, ts: float, index: int) -> tuple[Flow, bool]:
        reverse = d.proto == TCP_PROTO and d.flags & (SYN | ACK) == SYN | ACK
        if reverse:
            key = (key[0], key[3], key[4], key[1], key[2])
        flow = Flow(key, ts, index)
        flow.mac_o, flow.mac_r = (d.dst_mac, d.src_mac) if reverse else (d.src_mac, d.dst_mac)
        if len(self.flows) >= self.max_flows:
            self._evict()
        self.flows[key] = flow
        return flow, reverse

    def _tcp_end(self, flow: Flow, flags: int, reverse: bool) -> None:
        if flags & RST:
            self._end(flow, "rst")
            return
        flow.fin |= 2 if reverse else 1
        if flow.fin == 3:
            self._end(flow, "fin")

    def _end(self, flow: Flow, reason: str) -> None:
        """A flow ended by RST or FIN: emit it, leave a tombstone."""
        self.ended(flow, reason)
        flow.app = None
        del self.flows[flow.key]
        closed = self.closed
        closed[flow.key] = flow.last
        if len(closed) > self.max_flows:
            closed.popitem(last=False)

    def _evict(self) -> None:
        _, flow = self.flows.popitem(last=False)
        self.evicted += 1
        self.ended(flow, "evicted")

    def sweep(self, now: float) -> None:
        """End flows idle for ``idle_timeout`` and drop tombstones past ``linger``."""
        self.next_sweep = now + 1.0
        closed = self.closed
        while closed:
            key, ended = next(iter(closed.items()))
            if now - ended <= self.linger:
                break
            del closed[key]
        flows = self.flows
        while flows:
            flow = next(iter(flows.values()))
            if now - flow.last <= self.idle_timeout:
                return
            del flows[flow.key]
            self.ended(flow, "idle")

    def flush(self, limit: int | None = None) -> int:
        """End every open flow (end of input, shutdown), or the ``limit`` least recently seen;
        how many were ended."""
        flows = self.flows
        count = len(flows) if limit is None else min(limit, len(flows))
        for _ in range(count):
            _, flow = flows.popitem(last=False)
            self.ended(flow, "end_of_input")
        if not flows:
            self.closed.clear()
        return count
