"""Streaming line splitting for the file collector: big reads, ``bytes.split``, flat memory.

:func:`read_lines` reads a binary file from an offset in chunks and yields the complete lines of
each chunk at once (a :class:`Chunk`), so the cost per line is a list element, not a Python loop
over bytes. A line longer than the limit comes out alone as a :class:`LongLine`, read in one
piece once its end is known, so memory holds that line and one chunk, nothing more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

CHUNK_BYTES = 1 << 20
KEEP_BYTES = 1 << 20
"""What a dead letter keeps of an over-long line: its head (the whole line is hashed)."""

_CONTROL = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x1B)) + bytes(range(0x1C, 0x20))
"""Control bytes that do not occur in text logs (TAB, LF, VT, FF, CR and ESC are allowed)."""


@dataclass(slots=True)
class Chunk:
    """Consecutive complete lines (without ``\\n``) starting at byte ``offset``."""

    offset: int
    lines: list[bytes]
    end: int  # offset just past the last line's newline (EOF for a final partial line)
    suspect: bool  # some line may hold binary data: check each one
    partial: bool = False  # the last line has no newline (read at the end of the data)


@dataclass(slots=True)
class LongLine:
    """One line longer than the limit, starting at ``offset``: its first :data:`KEEP_BYTES`
    (``raw``), its true ``length`` and the SHA-256 of all of it; never read whole (a 4 GiB
    line from a small ``.gz`` would take the memory and the store's BLOB limit)."""

    offset: int
    raw: bytes
    end: int
    length: int
    sha256: str


def suspect(data: bytes) -> bool:
    """Could some line of ``data`` be binary? (One C pass: far cheaper than a regex.)"""
    return len(data.translate(None, _CONTROL)) != len(data)


def is_binary(line: bytes) -> bool:
    """More than one byte in ten a control character that text never holds (NUL included).

    A text line with a few such bytes is still text: web servers that do not escape what the
    client sent log an attacker's ``GET /\x00.jsp`` (null-byte injection) as it came, and that
    line must reach the rules rather than the dead letters."""
    controls = len(line) - len(line.translate(None, _CONTROL))
    return controls * 10 > len(line)


def read_lines(f: IO[bytes], start: int, *, max_line: int, final: Callable[[], bool],
               chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk | LongLine]:
    """Complete lines of ``f`` from ``start`` on.

    A trailing partial line is left unread unless ``final()`` says, once EOF is reached, that the
    file will not grow any more (rotated away, deleted, compressed).
    """
    f.seek(start)
    pos = start  # offset of the first byte not yet yielded
    pending: list[bytes] = []  # a partial line's pieces, read but not yielded
    pending_len = 0
    while data := f.read(chunk_bytes):
        if b"\n" not in data:
            pending.append(data)
            pending_len += len(data)
            if pending_len > max_line:
                long = _long_line(f, pos, pos + pending_len, final, chunk_bytes)
                if long is None:
                    return
                yield long
                pos, pending, pending_len = long.end, [], 0
                f.seek(pos)
            continue
        if pending:
            data = b"".join([*pending, data])
            pending, pending_len = [], 0
        lines = data.split(b"\n")
        rest = lines.pop()
        end = pos + len(data) - len(rest)
        yield Chunk(pos, lines, end, suspect(data))
        pos = end
        if rest:
            pending, pending_len = [rest], len(rest)
    if pending and final():
        last = b"".join(pending)
        yield Chunk(pos, [last], pos + len(last), suspect(last), partial=True)


def _long_line(f: IO[bytes], start: int, scanned: int, final: Callable[[], bool],
               chunk_bytes: int) -> LongLine | None:
    """Find the end of the overlong line at ``start`` (``f`` is at ``scanned``), then read it
    in one piece. ``None`` if it has no end yet and the file may still grow."""
    while data := f.read(chunk_bytes):
        nl = data.find(b"\n")
        if nl >= 0:
            return _read_exact(f, start, scanned + nl, scanned + nl + 1)
        scanned += len(data)
    if not final():
        return None
    return _read_exact(f, start, scanned, scanned)


def _read_exact(f: IO[bytes], start: int, stop: int, end: int) -> LongLine:
    """The line from ``start`` to ``stop``, streamed: its head kept, all of it hashed."""
    f.seek(start)
    head = f.read(min(stop - start, KEEP_BYTES))
    digest = hashlib.sha256(head)
    left = stop - start - len(head)
    while left > 0 and (data := f.read(min(left, CHUNK_BYTES))):
        digest.update(data)
        left -= len(data)
    return LongLine(start, head, end, stop - start, digest.hexdigest())


class Bounded:
    """A decompressing reader that gives at most ``limit`` bytes of decompressed data, then
    behaves as if the data ended there: a small ``.gz`` can expand a thousandfold, and a pass
    must not spend minutes inflating one file. :attr:`exceeded` tells, once the bound is
    reached, whether the data went on past it. Offsets are those of the decompressed data."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.exceeded = False

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.inner.seek(min(offset, self.limit) if whence == 0 else offset, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def read(self, size: int = -1) -> bytes:
        left = self.limit - self.inner.tell()
        if left <= 0:
            if size != 0 and not self.exceeded:
                self.exceeded = bool(self.inner.read(1))
            return b""
        return self.inner.read(left if size < 0 else min(size, left))
