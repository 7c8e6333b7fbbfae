"""The hot path: link, IP and transport headers of every packet, decoded with ``struct``.

No scapy here: scapy builds a Python object per layer and field, about a hundred times the cost of
the few ``unpack_from`` calls below. A packet becomes a :class:`Decoded` tuple of plain values; the
flow table and the application dissectors take it from there.

Link types: Ethernet (with 802.1Q/802.1ad VLAN tags), Linux cooked v1 and v2, raw IP, BSD
loopback (NULL/LOOP). IPv4 (options skipped, fragments: only the first carries ports) and IPv6
(hop-by-hop, routing, destination options and fragment headers walked).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

ETH = struct.Struct("!6s6sH")
VLAN = struct.Struct("!HH")
SLL = struct.Struct("!HHH8sH")
SLL2 = struct.Struct("!HHIHBB8s")
IPV4 = struct.Struct("!BBHHHBBH4s4s")
IPV6 = struct.Struct("!IHBB16s16s")
PORTS = struct.Struct("!HH")
TCP = struct.Struct("!HHIIBB")
ICMP = struct.Struct("!BB")
ARP = struct.Struct("!HHBBH6s4s6s4s")
U32_LE = struct.Struct("<I")
U32_BE = struct.Struct("!I")

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_ARP = 0x0806
VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100))
IPV6_EXT = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
IPV6_FRAG = 44

LINK_EN10MB = 1
LINK_NULL = 0
LINK_LOOP = 108
LINK_RAW = (101, 12, 14)
LINK_SLL = 113
LINK_SLL2 = 276
BSD_AF_INET6 = frozenset((10, 24, 28, 30))

TCP_PROTO = 6
UDP_PROTO = 17
ICMP_PROTO = 1
ICMP6_PROTO = 58


class Malformed(Exception):
    """A header that is not what it claims to be (the packet is counted, never fatal)."""


class Decoded(NamedTuple):
    """One IP packet's headers. ``src``/``dst`` are packed addresses (4 or 16 bytes)."""

    proto: int  # IANA number: 6 tcp, 17 udp, 1 icmp, 58 ipv6-icmp...
    src: bytes
    dst: bytes
    sport: int  # ICMP: type
    dport: int  # ICMP: code
    flags: int  # TCP flags (0 otherwise)
    size: int  # IP length on the wire (header included)
    payload: bytes  # transport payload as captured (may be cut short by the snap length)
    src_mac: bytes | None
    dst_mac: bytes | None
    fragment: bool = False  # a later IP fragment: no transport header, not in any flow


class ArpPacket(NamedTuple):
    """An Ethernet/IPv4 ARP packet."""

    op: int  # 1 request, 2 reply
    sender_mac: bytes
    sender_ip: bytes
    target_mac: bytes
    target_ip: bytes


def link(data: bytes, linktype: int) -> tuple[int, int, bytes | None, bytes | None]:
    """``(ethertype, offset of the network header, source MAC, destination MAC)``."""
    if linktype == LINK_EN10MB:
        dst, src, etype = ETH.unpack_from(data, 0)
        off = 14
        while etype in VLAN_TYPES:
            etype = VLAN.unpack_from(data, off)[1]
            off += 4
        return etype, off, src, dst
    if linktype in LINK_RAW:
        return _ip_version(data, 0), 0, None, None
    if linktype == LINK_SLL:
        _, hatype, halen, addr, etype = SLL.unpack_from(data, 0)
        return etype, 16, addr[:6] if hatype == 1 and halen == 6 else None, None
    if linktype == LINK_SLL2:
        etype, _, _, hatype, _, halen, addr = SLL2.unpack_from(data, 0)
        return etype, 20, addr[:6] if hatype == 1 and halen == 6 else None, None
    if linktype in (LINK_NULL, LINK_LOOP):
        family = (U32_BE if linktype == LINK_LOOP else U32_LE).unpack_from(data, 0)[0]
        if family > 0xFFFF:  # NULL is host order: a big-endian capture host
            family = U32_BE.unpack_from(data, 0)[0]
        return (ETHERTYPE_IPV6 if family in BSD_AF_INET6 else ETHERTYPE_IPV4), 4, None, None
    raise Malformed(f"unsupported link type {linktype}")


def _ip_version(data: bytes, off: int) -> int:
    version = data[off] >> 4
    if version == 4:
        return ETHERTYPE_IPV4
    if version == 6:
        return ETHERTYPE_IPV6
    raise Malformed(f"IP version {version}")


def ipv4(data: bytes, off: int) -> tuple[int, bytes, bytes, int, int, bool]:
    """``(proto, src, dst, transport offset, IP total length, carries the transport header)``."""
    vihl, _, total, _, frag, _, proto, _, src, dst = IPV4.unpack_from(data, off)
    ihl = (vihl & 15) * 4
    if total == 0:  # captured before TCP segmentation offload filled it in
        total = len(data) - off
    if vihl >> 4 != 4 or ihl < 20 or total < ihl:
        raise Malformed("bad IPv4 header")
    first = frag & 0x1FFF == 0
    return proto, src, dst, off + ihl, total, first


def ipv6(data: bytes, off: int) -> tuple[int, bytes, bytes, int, int, bool]:
    """Like :func:`ipv4`; extension headers are walked to the transport header."""
    vtc, plen, nxt, _, src, dst = IPV6.unpack_from(data, off)
    if vtc >> 28 != 6:
        raise Malformed("bad IPv6 header")
    pos = off + 40
    first = True
    for _ in range(8):
        if nxt in IPV6_EXT:
            nxt, hlen = data[pos], (data[pos + 1] + 1) * 8
            pos += hlen
        elif nxt == IPV6_FRAG:
            first = (data[pos + 2] << 8 | data[pos + 3]) & 0xFFF8 == 0
            nxt = data[pos]
            pos += 8
        else:
            break
    return nxt, src, dst, pos, plen + 40, first


def transport(data: bytes, proto: int, off: int, end: int,
              first: bool) -> tuple[int, int, int, bytes]:
    """``(source port or ICMP type, destination port or ICMP code, TCP flags, payload)``."""
    if not first:
        return 0, 0, 0, b""
    if proto == TCP_PROTO:
        sport, dport, _, _, doff, flags = TCP.unpack_from(data, off)
        hlen = (doff >> 4) * 4
        if hlen < 20:
            raise Malformed("bad TCP header length")
        return sport, dport, flags, data[off + hlen:end]
    if proto == UDP_PROTO:
        sport, dport = PORTS.unpack_from(data, off)
        return sport, dport, 0, data[off + 8:end]
    if proto in (ICMP_PROTO, ICMP6_PROTO):
        icmp_type, code = ICMP.unpack_from(data, off)
        return icmp_type, code, 0, data[off + 4:end]
    return 0, 0, 0, b""


def arp(data: bytes, off: int) -> ArpPacket | None:
    """An Ethernet/IPv4 ARP packet, or None for other hardware or protocol types."""
    htype, ptype, hlen, plen, op, smac, sip, tmac, tip = ARP.unpack_from(data, off)
    if htype != 1 or ptype != ETHERTYPE_IPV4 or hlen != 6 or plen != 4:
        return None
    return ArpPacket(op, smac, sip, tmac, tip)


def decode(data: bytes, linktype: int) -> Decoded | ArpPacket | None:
    """Headers of one captured frame; None for what the sensor does not follow (non-IP).

    Raises :class:`Malformed`, ``struct.error`` or ``IndexError`` for broken or cut headers.
    """
    etype, off, src_mac, dst_mac = link(data, linktype)
    if etype == ETHERTYPE_IPV4:
        proto, src, dst, l4, size, first = ipv4(data, off)
    elif etype == ETHERTYPE_IPV6:
        proto, src, dst, l4, size, first = ipv6(data, off)
    elif etype == ETHERTYPE_ARP:
        return arp(data, off)
    else:
        return None
    sport, dport, flags, payload = transport(data, proto, l4, off + size, first)
    return Decoded(proto, src, dst, sport, dport, flags, size, payload, src_mac, dst_mac,
                   not first)
