"""Multi-line records in files: ModSecurity's native serial audit log, framed for the collector.

A serial audit record spans many lines, from ``--<id>-A--`` to ``--<id>-Z--`` (v3:
``---<id>---A--``). :class:`AuditFramer` takes the lines :func:`collectors.filelines.read_lines`
gives and hands over whole records, each known by the offset of its A line (so its event id is
the same on every reading). What it guarantees:

* **resumable**: while a record is open, :attr:`AuditFramer.resume` is its start, and the file
  collector never advances a checkpoint past it; the next pass reads the record again, whole;
* **memory-bounded**: a record keeps at most ``max_bytes``, and each part at most
  :data:`PART_BYTES`; lines past that are dropped, counted in :attr:`Framed.cut` (the body
  then falls short of its ``Content-Length``, which the parser flags) while the boundaries and
  the H part (the verdict, written after the bodies) still fit;
* **cut records**: a record whose Z never came (the writer died) ends at the next A line, or at
  the end of a file that will not grow; the parser reads it as incomplete;
* lines outside any record (JSON audit lines in the same file, stray text) pass one by one, as
  the line reader would give them; blank lines between records are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from collectors.filelines import LongLine, read_lines

PART_BYTES = 256 << 10
"""What one part of a record keeps (a request body is the part that grows)."""
_BOUNDARY = re.compile(rb"-{2,3}([0-9A-Za-z]{6,40})-{1,3}([A-Z])--[ \t\r]*$")
PEEK_BYTES = 512
"""How much :func:`starts_record` looks at."""


@dataclass(slots=True)
class Framed:
    """A record (or a line outside records) starting at byte ``offset``; ``end`` is the offset
    just past it. ``multi``: a framed record, not a lone line."""

    offset: int
    lines: list[bytes]
    end: int
    multi: bool
    cut: int = 0  # bytes dropped by the bounds

    @property
    def data(self) -> bytes:
        return b"\n".join(self.lines)


@dataclass(slots=True)
class _Open:
    offset: int
    boundary: bytes
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    part: int = 0  # bytes kept of the current part
    cut: int = 0


def boundary(line: bytes) -> tuple[bytes, bytes] | None:
    """``(id, letter)`` of a part's boundary line, else None."""
    if not line.startswith(b"--"):
        return None
    m = _BOUNDARY.match(line)
    return None if m is None else (m[1], m[2])


def starts_record(head: bytes) -> bool | None:
    """Whether data read at a position starts (after blank lines) with an A boundary; None when
    it holds nothing but blank lines so far."""
    rest = head.lstrip(b"\r\n")
    if not rest:
        return None
    found = boundary(rest.split(b"\n", 1)[0])
    return found is not None and found[1] == b"A"


class AuditFramer:
    """Lines in, records out (see the module's docstring)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.part_bytes = min(PART_BYTES, max(1, max_bytes // 4))
        self.open: _Open | None = None

    @property
    def resume(self) -> int | None:
        """Where the open record starts: no checkpoint may pass it."""
        return None if self.open is None else self.open.offset

    def feed(self, line: bytes, start: int, end: int) -> Framed | None:
        """One line (without its ``\\n``) from ``start`` to ``end``; a record or lone line when
        one is complete. A new A line closes an open record first: call :meth:`cut_short`
        before feeding it (:meth:`opens`)."""
        rec = self.open
        if rec is None:
            if not line.strip(b"\r\t "):
                return None
            ident = self.opens(line)
            if ident is not None:
                self.open = _Open(start, ident, [line], len(line) + 1)
                return None
            return Framed(start, [line], end, False)
        found = boundary(line)
        if found is not None and found[0] == rec.boundary:
            rec.lines.append(line)
            rec.size += len(line) + 1
            rec.part = 0
            if found[1] == b"Z":
                self.open = None
                return Framed(rec.offset, rec.lines, end, True, rec.cut)
            return None
        self._keep(rec, line)
        return None

    def opens(self, line: bytes) -> bytes | None:
        """The id of the record ``line`` opens (an A boundary), else None."""
        found = boundary(line)
        return found[0] if found is not None and found[1] == b"A" else None

    def cut_short(self, end: int) -> Framed | None:
        """Close the open record without its Z part (a new A line came, or the file ends)."""
        rec, self.open = self.open, None
        if rec is None:
            return None
        return Framed(rec.offset, rec.lines, end, True, rec.cut)

    def _keep(self, rec: _Open, line: bytes) -> None:
        room = min(self.part_bytes - rec.part, self.max_bytes - rec.size)
        if len(line) + 1 <= room:
            rec.lines.append(line)
            rec.size += len(line) + 1
            rec.part += len(line) + 1
        elif room > 1 and not rec.cut:  # the head of the first line that does not fit
            rec.lines.append(line[:room - 1])
            rec.size += room
            rec.part += room
            rec.cut += len(line) + 1 - room
        else:
            rec.cut += len(line) + 1


def records(f: IO[bytes], start: int, *, max_line: int, final: Callable[[], bool]
            ) -> Iterator[tuple[Framed | None, int]]:
    """The records and lone lines of ``f`` from ``start`` on, each with the offset a checkpoint
    may then hold (the open record's start while one is open); ``(None, offset)`` after lines
    that complete nothing. A record still open at the end is given, cut short, only when
    ``final()`` says the file will not grow; else the next pass reads it again."""
    framer = AuditFramer(max_line)
    end = start
    for piece in read_lines(f, start, max_line=max_line, final=final):
        if isinstance(piece, LongLine):  # its head stands for it: the bounds cut it anyway
            found = list(_step(framer, piece.raw, piece.offset, piece.end))
        else:
            found = list(_lines(framer, piece.lines, piece.offset, piece.end))
        end = piece.end
        for item in found:
            yield item, _safe(framer, item.end)
        yield None, _safe(framer, end)
    if framer.open is not None and final():
        last = framer.cut_short(end)
        if last is not None:
            yield last, end


def _safe(framer: AuditFramer, end: int) -> int:
    resume = framer.resume
    return end if resume is None else min(resume, end)


def _lines(framer: AuditFramer, lines: list[bytes], offset: int, stop: int
           ) -> Iterator[Framed]:
    for line in lines:
        end = min(offset + len(line) + 1, stop)  # a final line without newline ends at EOF
        yield from _step(framer, line, offset, end)
        offset = end


def _step(framer: AuditFramer, line: bytes, start: int, end: int) -> Iterator[Framed]:
    if line.endswith(b"\r"):
        line = line[:-1]
    if framer.open is not None and framer.opens(line) is not None:
        done = framer.cut_short(start)
        if done is not None:
            yield done
    framed = framer.feed(line, start, end)
    if framed is not None:
        yield framed
