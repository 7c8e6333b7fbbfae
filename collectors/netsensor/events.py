"""What every sensor event shares: ECS base fields, address and time formatting, ids,
Community ID flow hashes."""

from __future__ import annotations

import base64
import hashlib
import math
import socket
import struct
from datetime import UTC, datetime
from typing import Any

from soc.ecs import Event, event_id, format_ts

MODULE = "netsensor"
TRANSPORTS = {6: "tcp", 17: "udp", 1: "icmp", 58: "ipv6-icmp", 47: "gre", 50: "esp",
              51: "ah", 132: "sctp", 2: "igmp"}
# ICMP types that pair up for Community ID (request → reply), v4 and v6
_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10}
_ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131,
                131: 130, 144: 145, 145: 144}
_PORTS = struct.Struct("!HH")


def ip_str(packed: bytes) -> str:
    """Packed IPv4 or IPv6 address → text."""
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


def mac_str(packed: bytes) -> str:
    """MAC address in the ECS form: ``00-00-5E-00-53-23``."""
    return packed.hex("-").upper()


_SECOND: list[Any] = [None, ""]  # the last whole second formatted, and its text


def ts_str(ts: float) -> str:
    """Epoch seconds → canonical ``@timestamp`` (as :func:`soc.ecs.format_ts` of the datetime;
    the text of the second is cached: events come in bursts within one second)."""
    sec = math.floor(ts)
    micro = round((ts - sec) * 1e6)
    if micro >= 1_000_000:
        sec, micro = sec + 1, micro - 1_000_000
    if sec != _SECOND[0]:
        _SECOND[0], _SECOND[1] = sec, format_ts(datetime.fromtimestamp(sec, UTC))[:-5]
    return f"{_SECOND[1]}.{micro // 1000:03d}Z"


def transport_name(proto: int) -> str:
    return TRANSPORTS.get(proto, str(proto))


def base_event(dataset: str, ts: float, ident: str, *types: str) -> Event:
    """The fields every sensor event starts with (key order matters: the ``netevent`` parser
    sniffs the first ones)."""
    return {"@timestamp": ts_str(ts), "event.dataset": dataset, "event.module": MODULE,
            "event.id": ident, "event.kind": "event", "event.category": ["network"],
            "event.type": list(types) or ["protocol"]}


def make_id(*parts: object) -> str:
    """A deterministic event id (see :func:`soc.ecs.event_id`)."""
    return event_id(*parts)


def community_id(proto: int, src: bytes, dst: bytes, sport: int, dport: int,
                 seed: int = 0) -> str:
    """Community ID v1 of a flow (https://github.com/corelight/community-id-spec).

    For ICMP, ``sport``/``dport`` are type and code: request/reply types pair up (both ends
    get the same id); other types are one-way, hashed as seen.
    """
    one_way = False
    if proto in (1, 58):
        pairs = _ICMP4_PAIRS if proto == 1 else _ICMP6_PAIRS
        one_way = sport not in pairs
        if not one_way:
            dport = pairs[sport]
    if not one_way and (src, sport) > (dst, dport):
        src, dst, sport, dport = dst, src, dport, sport
    has_ports = proto in (6, 17, 132, 1, 58)
    data = struct.pack("!H", seed) + src + dst + bytes((proto, 0))
    if has_ports:
        data += _PORTS.pack(sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")
