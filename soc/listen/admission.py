"""Who may connect to the TCP and TLS listeners of ``soc listen``, and for how long.

The daemon accepts connections itself (not through :meth:`asyncio.loop.create_server`) so that
every connection is held against the limits from ``accept`` on, its TLS handshake included:

- ``max_connections`` per listener and ``max_connections_per_address`` per peer address: over
  either, a new connection is reset at once and counted (``refused``, ``refused_per_address``);
- the descriptor budget (:class:`Budget`): the connections of all listeners together never take
  the descriptors the daemon needs for its spool, status file and children; over it, refused;
- ``handshake_timeout``: a TLS peer that has not finished its handshake by then is cut
  (``handshake_timeouts``); a failed handshake is counted too (``handshake_failures``);
- ``idle_timeout``: a connection that sent nothing for that long is closed (``idle_timeouts``);
  what it sent of an unfinished frame is kept, as when a peer closes;
- when ``accept`` fails for lack of descriptors or memory, the listener stops accepting for a
  moment (up to two seconds) and tries again (``accept_errors``); the connections waiting in the
  kernel's backlog are accepted then. The budget shrinks to what the process could really open
  less ``SPARE`` descriptors for the daemon itself, and the connections idle longest are closed
  down to it (``evicted``): the spool, the status file and the drain process need descriptors
  too. The budget is whole again after a minute without a shortage.

Every refusal and failure is counted; the log says so through a :class:`RateLimitedLog`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import resource
import socket
import ssl
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from soc.listen.ratelimit import RateLimitedLog

ACCEPT_BURST = 64  # accepts per wake-up of the loop
RETRY_MIN, RETRY_MAX = 0.1, 2.0  # accept paused after a failure: first and longest pause
RESERVE = 64  # descriptors kept for the daemon itself: spool, status file, children's pipes
SPARE = 16  # after accept ran out of descriptors: how many the budget leaves free
RESTORE_AFTER = 60.0  # seconds without a shortage before the budget is whole again
_SHORTAGE = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close with RST, no TIME_WAIT


@dataclass
class TransportCounters:
    """What one transport saw. ``dropped`` = UDP datagrams refused because the queue was full."""

    received: int = 0
    bytes: int = 0
    oversize: int = 0
    truncated: int = 0
    dropped: int = 0
    kernel_drops: int = 0  # UDP: the socket's receive queue overflowed (/proc/net/udp)
    receive_buffer: int = 0  # UDP: SO_RCVBUF as the kernel reports it (Linux: twice the grant)
    connections: int = 0  # open now, TLS handshakes in progress included
    handshaking: int = 0  # TLS: handshakes in progress
    refused: int = 0  # over max_connections or the descriptor budget
    refused_per_address: int = 0  # over max_connections_per_address
    handshake_timeouts: int = 0  # TLS: no finished handshake after handshake_timeout
    handshake_failures: int = 0  # TLS: the handshake failed (no or a bad certificate, not TLS)
    idle_timeouts: int = 0  # closed after idle_timeout without data
    accept_errors: int = 0  # accept() failed (no descriptor or memory left): accepting paused
    evicted: int = 0  # closed after such a failure, to give the daemon descriptors back

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Limits:
    """The limits of one listener."""

    max_connections: int = 1024
    per_address: int = 64
    handshake_timeout: float = 10.0
    idle_timeout: float = 600.0


class Budget:
    """The connections all listeners may hold together: what the descriptor limit leaves."""

    def __init__(self, limit: int) -> None:
        self.whole = self.limit = limit
        self.held = 0
        self.short_at: float | None = None  # loop time of the last shortage
        self.acceptors: list[Acceptor] = []

    @property
    def full(self) -> bool:
        return self.held >= self.limit

    def shortage(self, now: float) -> None:
        """``accept`` found no descriptor: hold ``SPARE`` fewer connections than are open now,
        closing those idle longest (of every listener)."""
        self.limit = max(0, min(self.limit, self.held - SPARE))
        self.short_at = now
        slots = sorted((slot for a in self.acceptors for slot in a.slots), key=_idle_since)
        for slot in slots[:max(0, self.held - self.limit)]:
            slot.evict()

    def restore(self, now: float) -> None:
        """Whole again once no shortage was seen for ``RESTORE_AFTER`` seconds."""
        if self.short_at is not None and now - self.short_at >= RESTORE_AFTER:
            self.limit, self.short_at = self.whole, None


def descriptor_budget(wanted: int, reserve: int = RESERVE) -> tuple[int, int]:
    """``(connections, descriptor limit)``: how many of ``wanted`` connections the process can
    hold and keep ``reserve`` descriptors for itself. The soft ``RLIMIT_NOFILE`` is raised
    toward the hard one when that is needed (systemd's soft default is 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + reserve
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted, soft
    return max(0, min(wanted, soft - reserve)), soft


class Slot:
    """One admitted connection, held from ``accept`` until it is closed."""

    def __init__(self, acceptor: Acceptor, address: str, peer: Any) -> None:
        self.acceptor = acceptor
        self.address = address
        self.peer = peer  # the peer's socket address, as accept() returned it
        self.transport: asyncio.Transport | None = None  # once the handshake is done
        self.last = acceptor.loop.time()
        self.released = False

    def opened(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.touch()

    def touch(self) -> None:
        """Data arrived: not idle."""
        self.last = self.acceptor.loop.time()

    def evict(self) -> None:
        """Close the connection to free its descriptor (counted as ``evicted``)."""
        if self.released:
            return
        self.acceptor.counters.evicted += 1
        if self.transport is not None:
            self.transport.abort()  # its unfinished frame is kept, as when the peer closes
        else:
            self.acceptor.cancel(self)

    def release(self) -> None:
        """The connection is gone (idempotent)."""
        if not self.released:
            self.released = True
            self.acceptor.release(self)


ProtocolFactory = Callable[[Slot], asyncio.Protocol]


class Acceptor:
    """The accept loop of one TCP or TLS endpoint over its listening ``sockets``."""

    def __init__(self, sockets: list[socket.socket], label: str, limits: Limits,
                 counters: TransportCounters, factory: ProtocolFactory, *,
                 ctx: ssl.SSLContext | None, budget: Budget, log: RateLimitedLog,
                 paused: set[asyncio.Transport]) -> None:
        self.sockets = sockets
        self.label = label
        self.limits = limits
        self.counters = counters
        self.factory = factory
        self.ctx = ctx
        self.budget = budget
        self.log = log
        self.paused = paused  # transports not read from (backpressure): never idle
        self.loop = asyncio.get_running_loop()
        self.slots: set[Slot] = set()
        self.by_address: Counter[str] = Counter()
        self.tasks: dict[Slot, asyncio.Task[None]] = {}  # connections being set up
        self.retry = RETRY_MIN
        self.accepting = False
        self._sweeper: asyncio.TimerHandle | None = None
        budget.acceptors.append(self)

    def start(self) -> None:
        self.accepting = True
        for sock in self.sockets:
            self.loop.add_reader(sock.fileno(), self._ready, sock)
        self._sweep()

    def close(self) -> None:
        """Stop accepting; connections already open stay."""
        self.accepting = False
        for sock in self.sockets:
            if sock.fileno() >= 0:
                self.loop.remove_reader(sock.fileno())
                sock.close()

    def shutdown(self) -> None:
        """Stop accepting and cut the handshakes in progress."""
        self.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self.tasks.values()):
            task.cancel()

    def cancel(self, slot: Slot) -> None:
        """Cut a connection still being set up (its TLS handshake)."""
        task = self.tasks.get(slot)
        if task is not None:
            task.cancel()

    # accepting -------------------------------------------------------------------------------

    def _ready(self, sock: socket.socket) -> None:
        for _ in range(ACCEPT_BURST):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                self._accept_failed(sock, exc)
                return
            self.retry = RETRY_MIN
            self._admit(conn, addr)

    def _accept_failed(self, sock: socket.socket, exc: OSError) -> None:
        """No descriptor (or memory) left: pause this socket, shrink the budget, retry later."""
        self.counters.accept_errors += 1
        if exc.errno not in _SHORTAGE:
            self.log.warning("accept", "%s: accept failed: %s", self.label, exc)
            return
        self.budget.shortage(self.loop.time())
        self.loop.remove_reader(sock.fileno())
        self.loop.call_later(self.retry, self._resume, sock)
        self.log.error("accept", "%s: cannot accept connections: %s; paused for %.1fs, "
                       "%d connection(s) open (raise LimitNOFILE= or lower max_connections)",
                       self.label, exc.strerror or exc, self.retry, self.budget.held)
        self.retry = min(RETRY_MAX, self.retry * 2)

    def _resume(self, sock: socket.socket) -> None:
        if self.accepting and sock.fileno() >= 0:
            self.loop.add_reader(sock.fileno(), self._ready, sock)

    def _admit(self, conn: socket.socket, addr: Any) -> None:
        host = _host(addr)
        why = self._refusal(host)
        if why is not None:
            _reset(conn)
            self.log.warning("refused", "%s: connection from %s refused: over %s", self.label,
                             host, why)
            return
        conn.setblocking(False)
        slot = Slot(self, host, addr)
        self.slots.add(slot)
        self.by_address[host] += 1
        self.budget.held += 1
        self.counters.connections += 1
        self.counters.handshaking += self.ctx is not None
        task = self.tasks[slot] = self.loop.create_task(self._open(conn, slot))
        task.add_done_callback(functools.partial(self._set_up, conn, slot))

    def _refusal(self, host: str) -> str | None:
        """Why a connection from ``host`` is refused (the counter is incremented), or None."""
        if len(self.slots) >= self.limits.max_connections or self.budget.full:
            self.counters.refused += 1
            return "max_connections" if not self.budget.full else "the descriptor limit"
        if self.by_address[host] >= self.limits.per_address:
            self.counters.refused_per_address += 1
            return "max_connections_per_address"
        return None

    async def _open(self, conn: socket.socket, slot: Slot) -> None:
        """The transport of an admitted connection, after its TLS handshake if any."""
        started = self.loop.time()
        timeout = self.limits.handshake_timeout if self.ctx is not None else None
        try:
            await self.loop.connect_accepted_socket(lambda: self.factory(slot), conn,
                                                    ssl=self.ctx, ssl_handshake_timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - whatever a peer did, the listener goes on
            self._failed(exc, slot, self.loop.time() - started)

    def _set_up(self, conn: socket.socket, slot: Slot, task: asyncio.Task[None]) -> None:
        """The connection is set up, failed, or was cut before (even before :meth:`_open`
        started: a task cancelled then never runs). Without a transport the descriptor and the
        slot are released here (asyncio no longer watches the socket by then)."""
        self.tasks.pop(slot, None)
        self.counters.handshaking -= self.ctx is not None
        if slot.transport is None:
            conn.close()
            slot.release()

    def _failed(self, exc: Exception, slot: Slot, elapsed: float) -> None:
        if self.ctx is None:
            return  # the peer was gone before the connection was set up
        if isinstance(exc, ConnectionAbortedError) and elapsed >= self.limits.handshake_timeout:
            self.counters.handshake_timeouts += 1
            self.log.warning("handshake", "%s: %s did not finish its TLS handshake in %gs",
                             self.label, slot.address, self.limits.handshake_timeout)
        else:
            self.counters.handshake_failures += 1
            self.log.warning("handshake", "%s: TLS handshake with %s failed: %s", self.label,
                             slot.address, exc)

    def release(self, slot: Slot) -> None:
        self.slots.discard(slot)
        self.by_address[slot.address] -= 1
        if self.by_address[slot.address] <= 0:
            del self.by_address[slot.address]
        self.budget.held -= 1
        self.counters.connections -= 1

    # idle connections ------------------------------------------------------------------------

    def _sweep(self) -> None:
        """Close the connections idle for ``idle_timeout``; a paused one is not idle."""
        now = self.loop.time()
        self.budget.restore(now)
        for slot in list(self.slots):
            transport = slot.transport
            if transport is None or transport.is_closing():
                continue
            if transport in self.paused:
                slot.last = now
            elif now - slot.last >= self.limits.idle_timeout:
                self.counters.idle_timeouts += 1
                transport.abort()  # its unfinished frame is kept, as when the peer closes
        step = min(1.0, self.limits.idle_timeout / 4)
        self._sweeper = self.loop.call_later(step, self._sweep)


def _idle_since(slot: Slot) -> float:
    return slot.last


def _host(addr: Any) -> str:
    host = addr[0] if isinstance(addr, tuple) and addr else "unknown"
    if isinstance(host, str) and host.startswith("::ffff:") and "." in host:
        host = host[7:]  # an IPv4 sender on a dual-stack socket
    return str(host)


def _reset(conn: socket.socket) -> None:
    """Refuse an accepted connection: RST at once (the sender sees it on its next write)."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    conn.close()


def listening_sockets(address: str, port: int, backlog: int = 1024) -> list[socket.socket]:
    """Bound, listening, non-blocking TCP sockets for ``address`` (every address it resolves
    to; IPv6 ones are IPv6 only, as asyncio's servers make them). Raises OSError."""
    infos = socket.getaddrinfo(address or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, kind, proto, _, sockaddr in infos:
            if (family, sockaddr) in seen:
                continue
            seen.add((family, sockaddr))
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks
