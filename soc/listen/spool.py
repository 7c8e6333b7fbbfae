"""The durable syslog spool: what ``soc listen`` accepted, on disk before it is parsed.

``<data_dir>/spool/<source>/`` holds ``spool.json`` (the spool's random id and the next segment
number, so ids are never reused even after every segment was drained and deleted) and append-only
``segment-NNNNNNNNN.log`` files of length-prefixed records::

    record := magic "\\xa5S" | u32 body length | u32 crc32(body) | body
    body   := f64 received (unix s) | u8 transport | u8 flags | u32 length | u16 port
              | u8 address length | address (ASCII) | message bytes

The writer appends a batch with one ``write`` and one ``fdatasync`` and starts a new segment when
the current one is full and at every start, so a segment that is not the newest is *sealed*:
nothing will be appended to it again. Readers stop at an incomplete record in the newest segment
(it is being written) and skip, as corruption, a damaged stretch of a sealed one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from soc.fsutil import fsync_dir
from soc.lock import PassLock

MAGIC = b"\xa5S"
HEAD = struct.Struct("<2sII")
BODY = struct.Struct("<dBBIHB")
MAX_BODY = (64 << 20) + 1024
TRANSPORTS = ("", "udp", "tcp", "tls")
TRANSPORT_CODE = {name: code for code, name in enumerate(TRANSPORTS) if name}
OVERSIZE = 1  # the message was longer than max_message_bytes: kept truncated, length is the full
TRUNCATED = 2  # the peer closed in the middle of an octet-counted frame: length was announced
META = "spool.json"
LOCK = "drain.lock"
_SEGMENT = re.compile(r"^segment-(\d{9})\.log$")
READ_CHUNK = 4 << 20


def spool_dir(data_dir: Path, source: str) -> Path:
    """Where the spool of ``source`` lives."""
    return data_dir / "spool" / source


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"segment-{number:09d}.log"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """``(number, path)`` of every segment, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(int(m[1]), directory / name) for name in names if (m := _SEGMENT.match(name))]
    return sorted(found)


def spool_bytes(directory: Path) -> tuple[int, int]:
    """``(bytes, segments)`` the spool holds on disk."""
    total = count = 0
    for _, path in list_segments(directory):
        try:
            total += path.stat().st_size
            count += 1
        except FileNotFoundError:
            continue  # drained and deleted meanwhile
    return total, count


class SpoolGauge:
    """What a spool holds on disk, measured with ``stat`` alone: unlike :func:`spool_bytes` it
    needs no descriptor, so it still measures when the process has none left. Segments are
    numbered in order and drained oldest first: the walk goes from the oldest one still there
    to the writer's current one."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.oldest: int | None = None

    def measure(self, newest: int) -> tuple[int, int]:
        """``(bytes, segments)`` up to segment ``newest``. Raises OSError if a segment cannot
        be looked at (not when it was drained and deleted meanwhile)."""
        if self.oldest is None:
            self.oldest = min((n for n, _ in list_segments(self.directory)), default=newest)
        total = count = 0
        first: int | None = None
        for number in range(self.oldest, newest + 1):
            try:
                size = os.stat(segment_path(self.directory, number)).st_size
            except FileNotFoundError:
                continue
            first = number if first is None else first
            total += size
            count += 1
        self.oldest = newest if first is None else first
        return total, count


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Peer:
    """Who sent a message, pre-encoded for the record body."""

    transport: str
    address: str
    port: int

    def tail(self) -> tuple[int, int, bytes]:
        addr = self.address.encode("ascii", "replace")[:255]
        return TRANSPORT_CODE[self.transport], self.port, addr


def encode(data: bytes, received: float, peer: tuple[int, int, bytes], flags: int = 0,
           length: int | None = None) -> bytes:
    """One spool record (``peer`` is :meth:`Peer.tail`)."""
    code, port, addr = peer
    full = len(data) if length is None else length
    body = BODY.pack(received, code, flags, full, port, len(addr)) + addr + data
    return HEAD.pack(MAGIC, len(body), zlib.crc32(body)) + body


def encode_many(frames: Iterable[tuple[bytes, int, int]], received: float,
                peer: tuple[int, int, bytes]) -> list[bytes]:
    """:func:`encode` for many ``(data, flags, length)`` frames of one peer and time: the
    receiver's hot path, one call per read instead of one per message."""
    code, port, addr = peer
    alen, pack, head, crc32 = len(addr), BODY.pack, HEAD.pack, zlib.crc32
    out = []
    for data, flags, full in frames:
        body = pack(received, code, flags, full, port, alen) + addr + data
        out.append(head(MAGIC, len(body), crc32(body)) + body)
    return out


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One accepted message and what the receiver knew of it."""

    data: bytes
    received: float
    transport: str
    address: str
    port: int
    flags: int = 0
    length: int = 0  # announced or real length (differs from len(data) when flagged)


def decode_body(body: bytes) -> SpoolRecord:
    received, code, flags, length, port, alen = BODY.unpack_from(body)
    start = BODY.size + alen
    address = body[BODY.size:start].decode("ascii", "replace")
    transport = TRANSPORTS[code] if code < len(TRANSPORTS) else "?"
    return SpoolRecord(body[start:], received, transport, address, port, flags, length)


@dataclass(frozen=True, slots=True)
class Entry:
    """A record (or a damaged stretch, ``record is None``) at ``[offset, end)`` of a segment."""

    offset: int
    end: int
    record: SpoolRecord | None
    damaged: bytes = b""


def read_segment(path: Path, offset: int, sealed: bool) -> Iterator[Entry]:
    """Records of one segment from ``offset``; see the module doc for incomplete records."""
    for start, end, body, damaged in read_bodies(path, offset, sealed):
        yield Entry(start, end, None, body) if damaged else Entry(start, end, decode_body(body))


Body = tuple[int, int, bytes, bool]
"""``(offset, end, body, damaged)``: a record's body, or (``damaged``) the bytes skipped."""


def read_bodies(path: Path, offset: int, sealed: bool) -> Iterator[Body]:
    """The fast form of :func:`read_segment`: bodies not decoded (see :func:`decode_body`)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        yield from _Scanner(fh, offset, sealed).bodies()


class _Scanner:
    """Walks a segment in big reads, keeping only the unparsed tail in memory."""

    def __init__(self, fh: IO[bytes], offset: int, sealed: bool) -> None:
        self.fh = fh
        self.base = offset  # file offset of buf[0]
        self.buf = b""
        self.pos = 0
        self.sealed = sealed

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos``; False at end of file."""
        while len(self.buf) - self.pos < need:
            chunk = self.fh.read(max(READ_CHUNK, need))
            if not chunk:
                return False
            self.base += self.pos
            self.buf = self.buf[self.pos:] + chunk
            self.pos = 0
        return True

    def bodies(self) -> Iterator[Body]:
        unpack, crc32, head = HEAD.unpack_from, zlib.crc32, HEAD.size
        while True:
            buf, pos = self.buf, self.pos
            if len(buf) - pos < head:
                if self._fill(head):
                    continue
                break
            magic, size, crc = unpack(buf, pos)
            if magic == MAGIC and BODY.size <= size <= MAX_BODY:
                end = pos + head + size
                if end > len(buf) and self._fill(head + size):
                    continue  # read more, then look again
                body = buf[pos + head:end]
                if end <= len(buf) and crc32(body) == crc:
                    self.pos = end
                    yield self.base + pos, self.base + end, body, False
                    continue
            if not self.sealed:
                return  # being written (or torn): never skip here; the next start seals it
            yield self._skip_damage()
        if self.sealed and self.pos < len(self.buf):
            yield self._skip_damage()

    def _skip_damage(self) -> Body:
        """Skip to the next magic that starts a valid record, or to the end of the segment."""
        rest = self.fh.read()  # a sealed segment is bounded, and damage is rare
        self.base += self.pos
        self.buf = self.buf[self.pos:] + rest
        self.pos = 0
        probe = self.buf.find(MAGIC, 1)
        while probe >= 0 and not self._valid_at(probe):
            probe = self.buf.find(MAGIC, probe + 1)
        end = len(self.buf) if probe < 0 else probe
        self.pos = end
        return self.base, self.base + end, self.buf[:end], True

    def _valid_at(self, at: int) -> bool:
        if len(self.buf) - at < HEAD.size:
            return False
        size: int
        crc: int
        _, size, crc = HEAD.unpack_from(self.buf, at)
        if not BODY.size <= size <= MAX_BODY or len(self.buf) - at < HEAD.size + size:
            return False
        return zlib.crc32(self.buf[at + HEAD.size:at + HEAD.size + size]) == crc


# --- metadata and the writer ---------------------------------------------------------------------


@dataclass(frozen=True)
class SpoolMeta:
    id: str
    next: int


def read_meta(directory: Path) -> SpoolMeta | None:
    """The spool's id and next segment number; None before the first start of a writer."""
    try:
        data = json.loads((directory / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return SpoolMeta(str(data["id"]), int(data["next"]))


def _write_meta(directory: Path, meta: SpoolMeta) -> None:
    tmp = directory / (META + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"id": meta.id, "next": meta.next}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / META)
    fsync_dir(directory)



class SpoolWriter:
    """Appends batches of encoded records durably. Not thread-safe: one writer thread."""

    def __init__(self, directory: Path, segment_bytes: int) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fd = -1
        self.number = 0
        self.size = 0
        self.meta: SpoolMeta | None = None

    def open(self) -> None:
        """Start a new segment (sealing whatever an earlier run left behind)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = read_meta(self.directory)
        if meta is None:
            meta = SpoolMeta(uuid.uuid4().hex, 1)
        newest = max((n for n, _ in list_segments(self.directory)), default=0)
        self.meta = SpoolMeta(meta.id, max(meta.next, newest + 1))
        self._start_segment()

    def _start_segment(self) -> None:
        """Open the next segment; on failure (no descriptor left...) the current one stays."""
        assert self.meta is not None
        number = self.meta.next
        self.meta = SpoolMeta(self.meta.id, number + 1)
        _write_meta(self.directory, self.meta)  # the number is taken before the file exists
        path = segment_path(self.directory, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self.fd, self.number, self.size = fd, number, os.fstat(fd).st_size
        fsync_dir(self.directory)

    def write(self, records: list[bytes]) -> int:
        """Append ``records`` and make them durable; returns the bytes written.

        On failure (disk full...) the segment is cut back to where it was, so that a retry of the
        same batch leaves no torn record behind; if that fails too, a new segment is started.
        """
        data = b"".join(records)
        before = self.size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
            os.fdatasync(self.fd)
        except OSError:
            self._undo(before)
            raise
        self.size = before + len(data)
        if self.size >= self.segment_bytes:
            # The batch is durable: a failure to start the next segment must not make it look
            # failed (a retry would spool it twice). This segment grows; the next write retries.
            with contextlib.suppress(OSError):
                self._rotate()
        return len(data)

    def _undo(self, size: int) -> None:
        try:
            os.ftruncate(self.fd, size)
            self.size = size
        except OSError:
            self._rotate()

    def _rotate(self) -> None:
        old = self.fd
        try:
            self._start_segment()  # the new one is open before the old one is closed
        finally:
            if self.fd != old and old >= 0:
                os.close(old)

    def close(self) -> None:
        if self.fd >= 0:
            os.fdatasync(self.fd)
            os.close(self.fd)
            self.fd = -1


def drain_lock(directory: Path, who: str) -> PassLock:
    """The spool's ``drain.lock``, so that ``soc listen`` and ``soc collect`` never drain
    together (``acquire()`` says who holds it instead of waiting)."""
    return PassLock(directory / LOCK, what=who)
