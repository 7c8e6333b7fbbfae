"""DNS messages: a hand-written wire-format reader for the hot path, scapy's tables for names.

scapy's ``DNS()`` takes 100 µs for a query and up to a millisecond for an answer with compressed
names (measured, scapy 2.8), too slow for a resolver's traffic at line rate; the format is simple
enough to read with ``struct``. Record data of the common types is rendered as text (addresses,
names, MX, SRV, SOA, TXT); other types use the RFC 3597 generic form ``\\# <length> <hex>``.
Type and class names come from scapy's ``dnstypes``/``dnsclasses``.
"""

from __future__ import annotations

import math
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

HEADER = struct.Struct("!6H")
QTAIL = struct.Struct("!HH")
RRTAIL = struct.Struct("!HHIH")
U16 = struct.Struct("!H")
SOA = struct.Struct("!5I")
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
FLAGS = ((0x0400, "AA"), (0x0200, "TC"), (0x0100, "RD"), (0x0080, "RA"), (0x0020, "AD"),
         (0x0010, "CD"))
MAX_ANSWERS = 64
# second-level labels under which registrations happen (a small public-suffix stand-in)
SECOND_LEVEL = frozenset(("com", "net", "org", "gov", "edu", "ac", "co", "info", "int", "mil",
                          "name", "biz", "health", "pro"))


class DnsError(ValueError):
    """Not a well-formed DNS message."""


@dataclass(slots=True)
class Message:
    """The parts of a DNS message the sensor reports."""

    id: int
    response: bool
    opcode: int
    rcode: int
    flags: list[str]
    qname: str = ""
    qtype: int = 0
    qclass: int = 1
    answers: list[tuple[str, int, int, int, str]] = field(default_factory=list)


@cache
def _names() -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """scapy's DNS tables, imported at the first DNS message: importing scapy costs seconds,
    which ``soc ingest`` and ``soc collect`` of other formats must not pay."""
    from scapy.layers.dns import dnsclasses, dnsqtypes, dnstypes

    return dnstypes, dnsqtypes, dnsclasses


@cache
def type_name(value: int) -> str:
    types, qtypes, _ = _names()
    name = types.get(value) or qtypes.get(value)  # query-only types: AXFR, ANY...
    return name if isinstance(name, str) else f"TYPE{value}"


@cache
def class_name(value: int) -> str:
    name = _names()[2].get(value)
    return name if isinstance(name, str) else f"CLASS{value}"


def read_name(msg: bytes, off: int) -> tuple[str, int]:
    """A possibly compressed name at ``off``: ``(name without the final dot, next offset)``."""
    labels: list[str] = []
    end = -1
    jumps = 0
    total = 0
    while True:
        length = msg[off]
        if length >= 0xC0:
            if jumps > 32:
                raise DnsError("name compression loop")
            if end < 0:
                end = off + 2
            off = (length & 0x3F) << 8 | msg[off + 1]
            jumps += 1
            continue
        if length > 63:
            raise DnsError("bad label length")
        off += 1
        if length == 0:
            break
        label = msg[off:off + length]
        if len(label) < length:
            raise DnsError("name cut short")
        labels.append(label.decode("ascii", "backslashreplace"))
        total += length + 1
        if total > 255:
            raise DnsError("name longer than 255")
        off += length
    return ".".join(labels), end if end >= 0 else off


def parse(msg: bytes) -> Message:
    """Header, first question and answer records of one DNS message."""
    if len(msg) < 12:
        raise DnsError("shorter than a DNS header")
    ident, flags, qdcount, ancount, _, _ = HEADER.unpack_from(msg)
    out = Message(ident, bool(flags & 0x8000), flags >> 11 & 15, flags & 15,
                  [name for bit, name in FLAGS if flags & bit])
    off = 12
    try:
        for i in range(qdcount):
            name, off = read_name(msg, off)
            qtype, qclass = QTAIL.unpack_from(msg, off)
            off += 4
            if i == 0:
                out.qname, out.qtype, out.qclass = name, qtype, qclass
        for _ in range(min(ancount, MAX_ANSWERS)):
            off = _answer(msg, off, out.answers)
    except (IndexError, struct.error) as exc:
        raise DnsError(f"DNS message cut short ({exc})") from None
    return out


def _answer(msg: bytes, off: int, answers: list[tuple[str, int, int, int, str]]) -> int:
    name, off = read_name(msg, off)
    rtype, rclass, ttl, rdlen = RRTAIL.unpack_from(msg, off)
    off += 10
    rdlen = int(rdlen)
    if off + rdlen > len(msg):
        raise DnsError("record data cut short")
    if rtype != 41:  # OPT pseudo-records are no answers
        answers.append((name, rtype, rclass, ttl, rdata(msg, off, rtype, rdlen)))
    return off + rdlen


def rdata(msg: bytes, off: int, rtype: int, rdlen: int) -> str:
    """Record data as text (zone-file style for the common types)."""
    data = msg[off:off + rdlen]
    if rtype == 1 and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, data)
    if rtype == 28 and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, data)
    if rtype in (2, 5, 12, 39):  # NS, CNAME, PTR, DNAME
        return read_name(msg, off)[0]
    if rtype == 15:  # MX
        pref: int = U16.unpack_from(msg, off)[0]
        return f"{pref} {read_name(msg, off + 2)[0]}"
    if rtype == 33:  # SRV
        prio, weight, port = struct.unpack_from("!3H", msg, off)
        return f"{prio} {weight} {port} {read_name(msg, off + 6)[0]}"
    if rtype == 6:  # SOA
        mname, pos = read_name(msg, off)
        rname, pos = read_name(msg, pos)
        return " ".join([mname, rname, *map(str, SOA.unpack_from(msg, pos))])
    if rtype == 16:  # TXT
        return _txt(data)
    return f"\\# {rdlen} {data.hex()}"


def _txt(data: bytes) -> str:
    parts = []
    pos = 0
    while pos < len(data):
        length = data[pos]
        parts.append(data[pos + 1:pos + 1 + length].decode("utf-8", "backslashreplace"))
        pos += 1 + length
    return "".join(parts)


def split_name(name: str) -> tuple[str, str, str]:
    """``(registered domain, subdomain, top-level domain)`` of a query name (lowercase).

    Registered domain: the last two labels, or three under a known second-level label
    (``portal.hagiang.gov.vn`` → ``hagiang.gov.vn``); an approximation of the public suffix list.
    """
    labels = name.lower().rstrip(".").split(".")
    if len(labels) < 2:
        return "", "", labels[0] if labels else ""
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in SECOND_LEVEL else 2
    return ".".join(labels[-keep:]), ".".join(labels[:-keep]), labels[-1]


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character (0 for empty text)."""
    if not text:
        return 0.0
    n = len(text)
    return 0.0 - sum(c / n * math.log2(c / n) for c in Counter(text).values())
