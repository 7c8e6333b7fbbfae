"""The ``file`` collector: tails log files matched by globs, across rotations, from checkpoints.

Every file is known by device, inode and a fingerprint of its first bytes (see
:mod:`collectors.fileid`); rename and copytruncate rotations, inode reuse and ``.gz`` copies of
files already read are recognised (see :mod:`collectors.fileplan`). Lines are split on ``\\n`` in
big chunks (see :mod:`collectors.filelines`). A record's id is ``event_id(fid, offset)``: reading
the same bytes again gives the same ids, so a pass that dies before :meth:`FileCollector.commit`
is repeated without doubles.
"""

from __future__ import annotations

import codecs
import gzip
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, cast

from collectors.fileid import Entry, id_hasher
from collectors.filelines import Bounded, Chunk, LongLine, is_binary, read_lines
from collectors.fileplan import (
    LOCAL,
    FileSystem,
    Plan,
    Planner,
    Work,
    describe,
    find_files,
)
from collectors.filerecords import PEEK_BYTES, Framed, records, starts_record
from collectors.filewalk import (
    MAX_WALK_ENTRIES,
    SYMLINK_MODES,
    FileFailure,
    WalkRules,
    failures_error,
)
from soc.config import Config, Source
from soc.ecs import event_id, now_ts
from soc.errors import ConfigError
from soc.models import DeadLetter
from soc.pipeline.sources import Batch, RawRecord
from soc.state import StateStore
from soc.timeutil import parse_duration

META_KEY = "_source"
"""Checkpoint key holding facts about the source itself (not a file)."""
DEAD_BYTES_PER_BATCH = 16 << 20
"""A batch is cut early once its dead letters hold this many raw bytes (binary files)."""


@dataclass(frozen=True)
class FileOptions:
    """``options:`` of a ``type: file`` source."""

    max_line_bytes: int = 1 << 20
    start_at: str = "beginning"  # or "end": skip what files hold on the source's first pass
    exclude: tuple[str, ...] = ()
    encoding: str = "utf-8"
    forget_after: timedelta = timedelta(days=7)
    complete: bool = False  # the files will not grow: a last line without a newline is read
    max_decompressed_bytes: int = 1 << 30  # a .gz is read up to this many bytes, not beyond
    symlinks: str = "inside"  # or "never", "follow": see collectors.filewalk
    max_walk_entries: int = MAX_WALK_ENTRIES  # folder entries one pass looks at, at most

    @property
    def walk(self) -> WalkRules:
        """How the source's globs are walked."""
        return WalkRules(self.symlinks, self.max_walk_entries)

    @classmethod
    def from_source(cls, source: Source) -> FileOptions:
        """Validate a source's options; a :class:`ConfigError` names the bad one."""
        opts = dict(source.options)
        unknown = set(opts) - {"max_line_bytes", "start_at", "exclude", "encoding",
                               "forget_after", "complete", "max_decompressed_bytes",
                               "symlinks", "max_walk_entries"}
        if unknown:
            raise _bad(source, f"unknown option(s) {', '.join(sorted(unknown))}")
        max_line = opts.get("max_line_bytes", cls.max_line_bytes)
        if not isinstance(max_line, int) or isinstance(max_line, bool) or max_line < 1:
            raise _bad(source, f"max_line_bytes must be a positive integer, not {max_line!r}")
        start_at = opts.get("start_at", cls.start_at)
        if start_at not in ("beginning", "end"):
            raise _bad(source, f"start_at must be beginning or end, not {start_at!r}")
        exclude = opts.get("exclude", ())
        exclude = (exclude,) if isinstance(exclude, str) else tuple(str(p) for p in exclude)
        complete = opts.get("complete", cls.complete)
        if not isinstance(complete, bool):
            raise _bad(source, f"complete must be true or false, not {complete!r}")
        return cls(max_line, start_at, exclude, _encoding(source, opts.get("encoding")),
                   _duration(source, opts.get("forget_after")), complete,
                   _positive(source, opts, "max_decompressed_bytes"),
                   symlinks=_symlinks(source, opts.get("symlinks", cls.symlinks)),
                   max_walk_entries=_positive(source, opts, "max_walk_entries"))


def _bad(source: Source, message: str) -> ConfigError:
    return ConfigError(f"options: {message}",
                       hint=f"Fix the options of source {source.name}; see docs/collectors.md.")


def _positive(source: Source, opts: dict[str, Any], name: str) -> int:
    value = opts.get(name, getattr(FileOptions, name))
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _bad(source, f"{name} must be a positive integer, not {value!r}")
    return value


def _symlinks(source: Source, value: Any) -> str:
    if value not in SYMLINK_MODES:
        raise _bad(source, f"symlinks must be {', '.join(SYMLINK_MODES)}, not {value!r}")
    return str(value)


def _encoding(source: Source, value: Any) -> str:
    if value is None:
        return FileOptions.encoding
    try:
        name = codecs.lookup(str(value)).name
    except LookupError:
        raise _bad(source, f"unknown encoding {value!r}") from None
    if "\n\r".encode(name, "replace") != b"\n\r":  # UTF-16 and the like cannot be split on \n
        raise _bad(source, f"encoding {value!r} is not supported (lines are split on byte \\n)")
    return name


def _duration(source: Source, value: Any) -> timedelta:
    if value is None:
        return FileOptions.forget_after
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _bad(source, f"forget_after: {exc}") from None


class FileCollector:
    """Reads the files of a ``type: file`` source from their checkpoints (see module doc).

    Files that cannot be read are listed in :attr:`failures`; once every other file was read,
    :meth:`batches` raises :class:`PartialError` naming them, so the pass counts an error for
    the source and nothing readable is held back.

    Subclasses reading files elsewhere (``collectors.sftp``) set :attr:`fs` and override
    :meth:`open_work` and :meth:`is_final`.
    """

    fs: FileSystem = LOCAL

    def __init__(self, source: Source, state: StateStore, config: Config) -> None:
        self.source = source
        self.state = state
        self.config = config
        self.options = FileOptions.from_source(source)
        self.failures: list[FileFailure] = []
        self.plan: Plan | None = None

    # the Collector protocol -------------------------------------------------------------------

    def batches(self, size: int) -> Iterator[Batch]:
        """Batches of at most ``size`` records (and dead letters) from the stored checkpoints."""
        self.plan = plan = self._plan()
        self._save_plan(plan)
        self.failures = list(plan.failures)
        reader = _Pass(self, max(1, size))
        yield from reader.run(plan.work)
        self.failures.extend(reader.failures)
        if self.failures:
            hint = "Check the files' permissions for the user that runs 'soc collect'."
            if reader.past_bound:
                hint = (f"Raise options.max_decompressed_bytes of source {self.source.name} "
                        "to read on from where it stopped, or exclude the file.")
            raise failures_error(self.failures, hint)

    def commit(self, batch: Batch) -> None:
        """Write the positions reached by ``batch`` in one transaction."""
        checkpoint: dict[str, Any] = batch.checkpoint
        self.state.put(self.source.name, checkpoint["files"])

    def lag(self) -> dict[str, Any]:
        """Bytes not read yet over all files (compressed size for a ``.gz`` not read to its
        end), and how many files hold them."""
        plan = self._plan()
        unread = [_unread(w) for w in plan.work]
        return {"bytes": sum(unread), "files": sum(1 for n in unread if n > 0)}

    # planning ----------------------------------------------------------------------------------

    def _plan(self) -> Plan:
        stored = self.state.all(self.source.name)
        first_pass = META_KEY not in stored
        entries = {k: Entry.from_dict(k, v) for k, v in stored.items() if k != META_KEY}
        planner = Planner(entries, start_at_end=first_pass and self.options.start_at == "end",
                          forget_after=self.options.forget_after, fs=self.fs)
        return planner.run(find_files(self.source.paths, self.options.exclude, self.fs,
                                      self.options.walk))

    def _save_plan(self, plan: Plan) -> None:
        """New files, detached inodes, paths and forgotten files: no read position moves, so
        this is saved before reading (ids of new files are fixed from here on)."""
        values: dict[str, Any] = {fid: e.to_dict() for fid, e in plan.changed.items()}
        if self.state.get(self.source.name, META_KEY) is None:
            values[META_KEY] = {"first_pass": now_ts()}
        if values or plan.removed:
            self.state.put(self.source.name, values, remove=tuple(plan.removed))

    # reading -----------------------------------------------------------------------------------

    def open_work(self, w: Work) -> _Opened | None:
        """Open a planned file, or ``None`` if its path now holds another file."""
        return _open(w)

    def is_final(self, f: IO[bytes], w: Work) -> Callable[[], bool]:
        """A check for EOF: will this file never grow again? (Else a last line without newline
        waits for the next pass.)"""
        if self.options.complete:
            return lambda: True
        return _final_check(f, w)


def _unread(w: Work) -> int:
    if w.gz:  # not read to its end yet (never, interrupted, or stopped at its bound)
        return w.size
    return max(0, w.size - w.entry.offset)


class _Pass:
    """The reading half of one pass: files in order, lines into batches."""

    def __init__(self, owner: FileCollector, size: int) -> None:
        self.owner = owner
        self.name = owner.source.name
        self.max_line = owner.options.max_line_bytes
        self.max_gz = owner.options.max_decompressed_bytes
        self.past_bound = False  # a .gz expanded past max_decompressed_bytes
        self.encoding = owner.options.encoding
        self.framing = _framing(owner.source.parser)
        self.size = size
        self.failures: list[FileFailure] = []
        self.records: list[RawRecord] = []
        self.dead: list[DeadLetter] = []
        self.dead_bytes = 0
        self.dirty: dict[str, Entry] = {}

    def run(self, work: list[Work]) -> Iterator[Batch]:
        for w in work:
            yield from self._file(w)
        if self.records or self.dead or self.dirty:
            yield self._flush()

    def _file(self, w: Work) -> Iterator[Batch]:
        if w.gz and w.entry.offset >= self.max_gz:  # stopped there before: no inflating again
            self._bound_failure(w)
            return
        try:
            f = self.owner.open_work(w)
        except FileNotFoundError:
            return  # vanished since planning: nothing to read
        except OSError as exc:
            self.failures.append(FileFailure(w.path, describe(exc)))
            return
        if f is None:
            return  # another file took the path since planning: the next pass sees it
        reader = Bounded(f.reader, self.max_gz) if w.gz else None
        try:
            with f:
                yield from self._read(cast(IO[bytes], reader or f.reader), w, reader)
        except (OSError, EOFError, zlib.error) as exc:
            self.failures.append(FileFailure(w.path, describe(exc)))
            return
        if reader is not None and reader.exceeded:
            self._dead(w.entry.fid, w.path, self.max_gz, b"", _past_bound(self.max_gz))
            self._bound_failure(w)
            return
        if w.gz:
            w.entry.done = True
            self.dirty[w.entry.fid] = w.entry

    def _bound_failure(self, w: Work) -> None:
        self.past_bound = True
        self.failures.append(FileFailure(
            w.path, f"decompressed data goes past max_decompressed_bytes ({self.max_gz}): "
                    f"read up to there, the rest not read"))

    def _read(self, f: IO[bytes], w: Work, bounded: Bounded | None) -> Iterator[Batch]:
        final = self.owner.is_final(f, w)
        if self.framing is not None and self._framed(f, w.entry.offset):
            yield from self._records(f, w, final)
            return
        for piece in read_lines(f, w.entry.offset, max_line=self.max_line, final=final):
            if isinstance(piece, LongLine):
                self._long(piece, w)
                if self._full():
                    yield self._flush_at(w.entry, piece.end)
            elif piece.partial and bounded is not None and bounded.exceeded:
                line = piece.lines[0]  # cut by the bound: not a whole record
                self._dead(w.entry.fid, w.path, piece.offset, line,
                           f"line cut after {len(line)} bytes by max_decompressed_bytes "
                           f"({self.max_gz})")
            else:
                yield from self._chunk(piece, w)
            w.entry.offset = piece.end
            self.dirty[w.entry.fid] = w.entry

    def _chunk(self, chunk: Chunk, w: Work) -> Iterator[Batch]:
        """The hot loop: a few µs per line."""
        fid, path, enc, max_line = w.entry.fid, w.path, self.encoding, self.max_line
        ids = id_hasher(fid)
        records, size = self.records, self.size
        suspect = chunk.suspect
        off = chunk.offset
        for line in chunk.lines:
            start = off
            off += len(line) + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > max_line:
                self._dead(fid, path, start, line, _too_long(len(line), max_line))
            elif suspect and is_binary(line):
                self._dead(fid, path, start, line, "binary data")
            else:
                try:
                    text = line.decode(enc)
                except UnicodeDecodeError as exc:
                    self._dead(fid, path, start, line, _undecodable(enc, exc))
                else:
                    h = ids.copy()  # == event_id(fid, start), without its generic overhead
                    h.update(b"%d" % start)
                    records.append(RawRecord(text, h.hexdigest(),
                                             {"log.file.path": path, "log.offset": start},
                                             f"{path}:{start}"))
                    if len(records) < size:
                        continue
            if self._full():
                yield self._flush_at(w.entry, min(off, chunk.end))
                records = self.records

    # multi-line records (ModSecurity's serial audit log: see collectors.filerecords) ---------

    def _framed(self, f: IO[bytes], offset: int) -> bool:
        """Read this file as records? Always for ``parser: modsec_audit``; for ``auto`` when it
        goes on, from ``offset``, with a record's A part (or blank lines only, so far)."""
        if self.framing == "always":
            return True
        f.seek(offset)
        starts = starts_record(f.read(PEEK_BYTES))
        return starts is None or starts

    def _records(self, f: IO[bytes], w: Work, final: Callable[[], bool]) -> Iterator[Batch]:
        for item, safe in records(f, w.entry.offset, max_line=self.max_line, final=final):
            if item is not None:
                self._record(item, w)
                if self._full():
                    yield self._flush_at(w.entry, safe)
                    continue
            w.entry.offset = safe
            self.dirty[w.entry.fid] = w.entry

    def _record(self, item: Framed, w: Work) -> None:
        """A framed record (decoded leniently: a body may be binary), or a lone line (held to
        the line reader's rules)."""
        fid, path, data = w.entry.fid, w.path, item.data
        if not item.multi:
            if len(data) > self.max_line:
                self._dead(fid, path, item.offset, data, _too_long(len(data), self.max_line))
                return
            if is_binary(data):
                self._dead(fid, path, item.offset, data, "binary data")
                return
        try:
            text = data.decode(self.encoding, "replace" if item.multi else "strict")
        except UnicodeDecodeError as exc:
            self._dead(fid, path, item.offset, data, _undecodable(self.encoding, exc))
            return
        fields: dict[str, Any] = {"log.file.path": path, "log.offset": item.offset}
        if item.cut:
            fields["modsecurity.cut_bytes"] = item.cut
        self.records.append(RawRecord(text, event_id(fid, item.offset), fields,
                                      f"{path}:{item.offset}"))

    def _long(self, piece: LongLine, w: Work) -> None:
        raw, length = piece.raw, piece.length
        if length == len(raw) and raw.endswith(b"\r"):
            raw, length = raw[:-1], length - 1
        reason = _too_long(length, self.max_line)
        if length > len(raw):
            reason += f"; the first {len(raw)} bytes kept, sha256 of the line {piece.sha256}"
        self._dead(w.entry.fid, w.path, piece.offset, raw, reason)

    def _dead(self, fid: str, path: str, offset: int, raw: bytes, reason: str) -> None:
        self.dead.append(DeadLetter(
            id=event_id(fid, offset), source=self.name, origin=f"{path}:{offset}",
            reason=reason, raw=raw, received=now_ts(),
            fields=(("log.file.path", path), ("log.offset", offset)),
        ))
        self.dead_bytes += len(raw)

    def _full(self) -> bool:
        return (len(self.records) + len(self.dead) >= self.size
                or self.dead_bytes >= max(DEAD_BYTES_PER_BATCH, self.max_line))

    def _flush_at(self, entry: Entry, offset: int) -> Batch:
        """The batch so far, with ``entry`` read up to ``offset``."""
        entry.offset = offset
        self.dirty[entry.fid] = entry
        return self._flush()

    def _flush(self) -> Batch:
        checkpoint = {"files": {fid: e.to_dict() for fid, e in self.dirty.items()}}
        batch = Batch(records=self.records, checkpoint=checkpoint, dead_letters=self.dead)
        self.records, self.dead, self.dead_bytes, self.dirty = [], [], 0, {}
        return batch


class _Opened:
    """A file opened for reading; for ``.gz`` the decompressing reader over it."""

    def __init__(self, raw: IO[bytes], gz: bool) -> None:
        self.raw = raw
        self.reader: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]

    def __enter__(self) -> _Opened:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()
        self.raw.close()


def _open(w: Work) -> _Opened | None:
    """Open the planned file, or ``None`` if the path now holds another file."""
    raw = LOCAL.open(w.path)  # never blocks on a FIFO put in the file's place
    st = os.fstat(raw.fileno())
    if (st.st_dev, st.st_ino) != (w.dev, w.ino):
        raw.close()
        return None
    return _Opened(raw, w.gz)


def _framing(parser: str) -> str | None:
    """How a source's files are framed: ``always`` as audit records, ``sniff`` per file, or
    None (lines)."""
    return {"modsec_audit": "always", "auto": "sniff"}.get(parser)


def _final_check(f: IO[bytes], w: Work) -> Callable[[], bool]:
    """At EOF: will this file grow any more? Compressed, rotated away, or deleted: no."""
    if w.rotated:
        return lambda: True
    return lambda: os.fstat(f.fileno()).st_nlink == 0


def _past_bound(limit: int) -> str:
    return (f"the decompressed data goes on past max_decompressed_bytes ({limit}): "
            "nothing after that offset was read")


def _too_long(length: int, limit: int) -> str:
    return f"line of {length} bytes exceeds max_line_bytes ({limit})"


def _undecodable(encoding: str, exc: UnicodeDecodeError) -> str:
    name = "UTF-8" if encoding == "utf-8" else encoding
    return f"invalid {name} at byte {exc.start}; {exc.reason}"

