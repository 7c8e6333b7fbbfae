"""Syslog over UDP, TCP and TLS (asyncio): framing, a bounded intake queue, and counters.

TCP and TLS streams are framed per RFC 6587, detected frame by frame on the same connection: a
frame that starts with ``[1-9][0-9]* `` is octet-counted (``LEN SP MSG``), anything else ends at
``LF``. Each message becomes an encoded spool record (:func:`soc.listen.spool.encode`) in the
:class:`Intake`, which the spool pump empties. When the intake holds ``queue_bytes``, TCP readers
pause (the kernel then slows the senders down) and UDP datagrams are dropped and counted.
Who may connect, and for how long, is :mod:`soc.listen.admission`'s business.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import re
import socket
import ssl
import sys
import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from soc.errors import ConfigError
from soc.listen.admission import (
    Acceptor,
    Budget,
    Limits,
    Slot,
    TransportCounters,
    listening_sockets,
)
from soc.listen.config import Endpoint
from soc.listen.ratelimit import RateLimitedLog
from soc.listen.spool import OVERSIZE, TRUNCATED, Peer, encode, encode_many

log = logging.getLogger(__name__)
# Python's socket module lacks the constant; asm-generic's value, on the machines that use it.
_RCVBUFFORCE = 33 if sys.platform.startswith("linux") and platform.machine().startswith(
    ("x86", "i386", "i686", "aarch64", "arm", "riscv", "s390", "ppc64")) else None
MAX_COUNT_DIGITS = 10
_DIGIT_LINE = re.compile(rb"\n[1-9]")
Frame = tuple[bytes, int, int]  # (message, flags, full length)


# --- counters and the intake queue ---------------------------------------------------------------


@dataclass
class Intake:
    """Encoded records waiting for the spool, bounded by ``limit`` bytes."""

    limit: int
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    spooled: int = 0
    counters: dict[str, TransportCounters] = field(default_factory=dict)
    paused: set[asyncio.Transport] = field(default_factory=set)
    streams: set[asyncio.Transport] = field(default_factory=set)  # open TCP/TLS connections
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    blocked: bool = False  # the pump cannot write (spool full or failing): refuse UDP

    def count(self, transport: str) -> TransportCounters:
        found = self.counters.get(transport)
        if found is None:
            found = self.counters[transport] = TransportCounters()
        return found

    @property
    def full(self) -> bool:
        return self.pending_bytes >= self.limit

    def push(self, record: bytes) -> None:
        self.pending.append(record)
        self.pending_bytes += len(record)
        self.arrived.set()

    def extend(self, records: list[bytes]) -> None:
        self.pending += records
        self.pending_bytes += sum(map(len, records))
        self.arrived.set()

    def pause(self, transport: asyncio.Transport) -> None:
        """Stop reading from a TCP peer until the queue has room again."""
        if transport not in self.paused and not transport.is_closing():
            transport.pause_reading()
            self.paused.add(transport)

    def take(self) -> list[bytes]:
        batch, self.pending, self.pending_bytes = self.pending, [], 0
        self.arrived.clear()
        return batch

    def put_back(self, batch: list[bytes]) -> None:
        """A batch the spool could not take goes back in front of the queue."""
        self.pending[:0] = batch
        self.pending_bytes += sum(map(len, batch))
        self.arrived.set()

    def resume(self) -> None:
        """Called after a write: resume paused readers once the queue is below half its limit."""
        if self.paused and self.pending_bytes < self.limit // 2 and not self.blocked:
            for transport in self.paused:
                if not transport.is_closing():
                    transport.resume_reading()
            self.paused.clear()


# --- framing -------------------------------------------------------------------------------------


class FrameDecoder:
    """RFC 6587 framing of one stream; octet counting or LF decided per frame."""

    def __init__(self, max_bytes: int) -> None:
        self.max = max_bytes
        self.rest = b""
        self.need = 0  # octet frame in progress: bytes still to come
        self.length = 0  # octet frame in progress: its announced length
        self.frame = b""  # octet frame in progress, or the kept head of an oversize LF frame
        self.skipping = False  # an oversize LF frame: discarding up to the next LF
        self.skipped = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Frames completed by ``data``."""
        out: list[Frame] = []
        buf = self.rest + data if self.rest else data
        pos = 0
        end = len(buf)
        while pos < end:
            if self.need:
                pos = self._octets(buf, pos, out)
            elif self.skipping:
                pos = self._skip(buf, pos, out)
            elif 0x31 <= buf[pos] <= 0x39 and (start := self._count(buf, pos)) != pos:
                if start < 0:
                    break  # digits so far: wait for the space or a non-digit
                pos = start
            else:
                last = self._lines(buf, pos, out)
                if last < 0:
                    pos = self._partial_line(buf, pos)
                    break
                pos = last + 1
        self.rest = buf[pos:]
        return out

    def _lines(self, buf: bytes, pos: int, out: list[Frame]) -> int:
        """LF frames from ``pos`` up to the next line that starts with a digit (it may be an
        octet count) in one split; where the last LF taken is, -1 when there is none."""
        digit = _DIGIT_LINE.search(buf, pos)
        last = buf.rfind(b"\n", pos, digit.start() + 1 if digit else len(buf))
        if last >= 0:
            lines = buf[pos:last].split(b"\n")
            if max(map(len, lines)) <= self.max:
                out += [(line, 0, len(line)) for line in lines if line]
            else:
                out += [self._line(line) for line in lines if line]
        return last

    def _count(self, buf: bytes, pos: int) -> int:
        """Start an octet frame at ``pos``: returns where its message starts, ``pos`` when this
        is no octet count, -1 when more bytes are needed to tell."""
        sp = buf.find(b" ", pos, pos + MAX_COUNT_DIGITS + 1)
        if sp < 0:
            head = buf[pos:pos + MAX_COUNT_DIGITS + 1]
            return -1 if len(head) <= MAX_COUNT_DIGITS and head.isdigit() else pos
        if not buf[pos:sp].isdigit():
            return pos
        self.length = self.need = int(buf[pos:sp])
        self.frame = b""
        return sp + 1

    def _octets(self, buf: bytes, pos: int, out: list[Frame]) -> int:
        take = min(self.need, len(buf) - pos)
        room = self.max - len(self.frame)
        if room > 0:
            self.frame += buf[pos:pos + min(take, room)]
        self.need -= take
        if not self.need:
            flags = OVERSIZE if self.length > self.max else 0
            out.append((self.frame, flags, self.length))
            self.frame = b""
        return pos + take

    def _skip(self, buf: bytes, pos: int, out: list[Frame]) -> int:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            self.skipped += len(buf) - pos
            return len(buf)
        self.skipped += nl - pos
        out.append((self.frame, OVERSIZE, len(self.frame) + self.skipped))
        self.frame, self.skipping, self.skipped = b"", False, 0
        return nl + 1

    def _partial_line(self, buf: bytes, pos: int) -> int:
        """No LF yet: keep the tail, unless it already exceeds the limit."""
        if len(buf) - pos <= self.max:
            return pos
        self.frame = buf[pos:pos + self.max]
        self.skipping = True
        self.skipped = len(buf) - pos - self.max
        return len(buf)

    def _line(self, msg: bytes) -> Frame:
        if len(msg) > self.max:
            return msg[:self.max], OVERSIZE, len(msg)
        return msg, 0, len(msg)

    def close(self) -> Frame | None:
        """The end of the stream: an unfinished octet frame is truncated; an unterminated line
        is a message (senders often omit the last LF)."""
        frame: Frame | None = None
        if self.need:
            frame = (self.frame, TRUNCATED, self.length)
        elif self.skipping:
            frame = (self.frame, OVERSIZE, len(self.frame) + self.skipped)
        elif self.rest.strip():
            frame = self._line(self.rest)
        self.rest, self.need, self.frame, self.skipping = b"", 0, b"", False
        return frame


# --- protocols -----------------------------------------------------------------------------------


def _peer(transport: str, addr: Any) -> tuple[int, int, bytes]:
    host, port = (addr[0], addr[1]) if isinstance(addr, tuple) else ("unknown", 0)
    if isinstance(host, str) and host.startswith("::ffff:") and "." in host:
        host = host[7:]  # an IPv4 sender on a dual-stack socket
    return Peer(transport, str(host), int(port)).tail()


class StreamProtocol(asyncio.Protocol):
    """One TCP or TLS connection, admitted in ``slot`` (its limits were checked at accept)."""

    def __init__(self, intake: Intake, endpoint: Endpoint, max_bytes: int, slot: Slot) -> None:
        self.intake = intake
        self.name = endpoint.transport
        self.slot = slot
        self.counters = intake.count(self.name)
        self.decoder = FrameDecoder(max_bytes)
        self.transport: asyncio.Transport | None = None
        self.peer = _peer(self.name, slot.peer)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.slot.opened(transport)
        self.intake.streams.add(transport)

    def data_received(self, data: bytes) -> None:
        self.slot.touch()
        self._emit(self.decoder.feed(data))
        if self.intake.full and self.transport is not None:
            self.intake.pause(self.transport)

    def eof_received(self) -> bool:
        last = self.decoder.close()
        if last is not None:
            self._emit([last])
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return
        last = self.decoder.close()
        if last is not None:
            self._emit([last])
        self.slot.release()
        self.intake.paused.discard(self.transport)
        self.intake.streams.discard(self.transport)
        self.transport = None

    def _emit(self, frames: list[Frame]) -> None:
        if not frames:
            return
        self.intake.extend(encode_many(frames, time.time(), self.peer))
        c = self.counters
        c.received += len(frames)
        c.bytes += sum(map(len, map(itemgetter(0), frames)))
        for _, flags, _ in filter(_flagged, frames):
            c.oversize += flags == OVERSIZE
            c.truncated += flags == TRUNCATED


def _flagged(frame: Frame) -> bool:
    return frame[1] != 0


class DatagramReceiver:
    """UDP: one datagram is one message (a trailing LF or NUL is dropped).

    Reads up to ``BURST`` datagrams per wake-up of the event loop (asyncio's own datagram
    transport reads one), so a busy socket costs one loop iteration per burst, not per datagram.
    """

    BURST = 512

    def __init__(self, sock: socket.socket, intake: Intake, max_bytes: int,
                 ratelog: RateLimitedLog | None = None) -> None:
        self.sock = sock
        self.intake = intake
        self.max = max_bytes
        self.log = ratelog or RateLimitedLog(log)
        self.counters = intake.count("udp")
        size = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.counters.receive_buffer = min(self.counters.receive_buffer or size, size)
        self.peers: dict[Any, tuple[int, int, bytes]] = {}
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(sock.fileno(), self._ready)

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()

    def _ready(self) -> None:
        """Read what is waiting (up to ``BURST``), queue it with one extend."""
        recv, intake, c = self.sock.recvfrom, self.intake, self.counters
        now = time.time()
        records: list[bytes] = []
        room = intake.limit - intake.pending_bytes
        for _ in range(self.BURST):
            try:
                data, addr = recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # ICMP errors and the like: never stop receiving
                self.log.warning("udp", "udp socket error: %s", exc)
                break
            c.received += 1
            if room <= 0 or intake.blocked:
                c.dropped += 1
                continue
            record = self._record(data, addr, now)
            room -= len(record)
            records.append(record)
        if records:
            intake.extend(records)

    def _record(self, data: bytes, addr: Any, now: float) -> bytes:
        peer = self.peers.get(addr)
        if peer is None:
            if len(self.peers) > 65536:
                self.peers.clear()
            peer = self.peers[addr] = _peer("udp", addr)
        data = data.rstrip(b"\n\x00")
        flags, length = 0, len(data)
        if length > self.max:
            data, flags = data[:self.max], OVERSIZE
            self.counters.oversize += 1
        self.counters.bytes += len(data)
        return encode(data, now, peer, flags, length)


# --- servers -------------------------------------------------------------------------------------


@dataclass
class Listener:
    """A bound endpoint: its accept loop (TCP/TLS) or receiver (UDP) and the address it got."""

    endpoint: Endpoint
    server: Acceptor | None = None
    udp: DatagramReceiver | None = None
    bound: str = ""
    inode: int = 0  # UDP socket inode, to find its drops in /proc/net/udp

    def close(self) -> None:
        """Stop receiving; TLS handshakes in progress are cut."""
        if self.server is not None:
            self.server.shutdown()
        if self.udp is not None:
            self.udp.close()


def tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    """Server context: TLS 1.2+, the configured certificate, client certificates if asked.
    A :class:`ConfigError` names the file that cannot be used."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    password = endpoint.key_password.reveal() if endpoint.key_password else None
    assert endpoint.cert is not None and endpoint.key is not None
    try:
        ctx.load_cert_chain(endpoint.cert, endpoint.key, password=password)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"listen.tls: cannot use the certificate {endpoint.cert} and key "
                          f"{endpoint.key}: {exc}",
                          hint="Both must be PEM; the key must match the certificate "
                               "(and key_password must be right if the key is encrypted).",
                          ) from None
    if endpoint.ca is not None:
        try:
            ctx.load_verify_locations(cafile=str(endpoint.ca))
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"listen.tls: cannot use the CA file {endpoint.ca}: {exc}",
                              hint="It must hold PEM certificates.") from None
        ctx.verify_mode = ssl.CERT_REQUIRED if endpoint.require_client_cert else ssl.CERT_OPTIONAL
    return ctx


async def start(endpoint: Endpoint, intake: Intake, max_bytes: int, *,
                limits: Limits | None = None, budget: Budget | None = None,
                ratelog: RateLimitedLog | None = None) -> Listener:
    """Bind one endpoint and start receiving (raises OSError when the address cannot be bound).

    ``limits`` (TCP/TLS): the endpoint's connection limits and timeouts; ``budget``: the
    connections every listener may hold together (:func:`soc.listen.admission.descriptor_budget`);
    ``ratelog``: where refusals and socket errors are said."""
    listener = Listener(endpoint)
    ratelog = ratelog or RateLimitedLog(log)
    if endpoint.transport == "udp":
        sock = _udp_socket(endpoint)
        listener.udp = DatagramReceiver(sock, intake, max_bytes, ratelog)
        listener.inode = os.fstat(sock.fileno()).st_ino
        listener.bound = _label("udp", sock.getsockname())
        return listener

    def factory(slot: Slot) -> asyncio.Protocol:
        return StreamProtocol(intake, endpoint, max_bytes, slot)

    ctx = tls_context(endpoint) if endpoint.transport == "tls" else None
    sockets = listening_sockets(endpoint.address, endpoint.port)
    limits = limits or Limits(endpoint.max_connections, endpoint.max_connections_per_address)
    acceptor = Acceptor(sockets, endpoint.label, limits, intake.count(endpoint.transport),
                        factory, ctx=ctx, budget=budget or Budget(limits.max_connections),
                        log=ratelog, paused=intake.paused)
    acceptor.start()
    listener.server = acceptor
    listener.bound = ", ".join(_label(endpoint.transport, s.getsockname()) for s in sockets)
    return listener


def _udp_socket(endpoint: Endpoint) -> socket.socket:
    family = socket.AF_INET6 if ":" in endpoint.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        granted = set_receive_buffer(sock, endpoint.receive_buffer)
        sock.bind((endpoint.address, endpoint.port))
    except OSError:
        sock.close()
        raise
    if granted < endpoint.receive_buffer:
        log.warning("%s: receive_buffer %d asked, the kernel granted %d (net.core.rmem_max); "
                    "bursts beyond it are dropped by the kernel: raise it with 'sysctl -w "
                    "net.core.rmem_max=%d'", endpoint.label, endpoint.receive_buffer, granted,
                    endpoint.receive_buffer)
    sock.setblocking(False)
    return sock


def set_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for a ``size``-byte receive buffer; the bytes granted.

    ``SO_RCVBUFFORCE`` first: with CAP_NET_ADMIN (a daemon started as root) it may pass
    ``net.core.rmem_max``; without it, plain ``SO_RCVBUF``, which the kernel caps there. Linux
    reports twice what it granted (the other half is its bookkeeping)."""
    force = getattr(socket, "SO_RCVBUFFORCE", None) or _RCVBUFFORCE
    try:
        if force is None:
            raise PermissionError
        sock.setsockopt(socket.SOL_SOCKET, force, size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    reported: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return reported // 2 if sys.platform.startswith("linux") else reported


def _label(transport: str, sockname: Any) -> str:
    host, port = sockname[0], sockname[1]
    return f"{transport} [{host}]:{port}" if ":" in host else f"{transport} {host}:{port}"


def udp_kernel_drops(inodes: set[int], proc: tuple[str, ...] = ("/proc/net/udp",
                                                                 "/proc/net/udp6")) -> int | None:
    """Datagrams the kernel dropped for these sockets (receive queue full), from ``/proc``;
    None when no file could be read (no descriptor left: the count is unknown, not zero)."""
    total, read = 0, False
    for path in proc:
        try:
            with open(path, encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    cols = line.split()
                    if len(cols) > 12 and int(cols[9]) in inodes:
                        total += int(cols[-1])
            read = True
        except (OSError, ValueError):
            continue
    return total if read else None
