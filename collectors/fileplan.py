"""Planning one pass of the file collector: which files, matched to which checkpoints, from where.

Matching order: a file on the inode of a known entry whose fingerprint still matches continues it
(rename rotation keeps the inode); an entry whose inode now holds other content (truncation,
copytruncate, inode reuse) is detached and the file starts afresh; a file on an unknown inode that
starts like a detached or vanished entry continues it (the copy made by copytruncate, a compressed
copy); anything else is new. Planning changes no read position, so its result may be saved at once.
"""

from __future__ import annotations

import errno
import fnmatch
import gzip
import os
import stat
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Protocol

from collectors.fileid import (
    FP_BYTES,
    Entry,
    fingerprint,
    is_compressed,
    new_fid,
    rotation_group,
    rotation_order,
)
from collectors.filewalk import (
    DEFAULT_RULES,
    FileFailure,
    Found,
    Kind,
    Tree,
    WalkRules,
    kind_of,
    walk,
)
from soc.ecs import format_ts, parse_ts

TAIL_BYTES = 1 << 20
"""How far back ``start_at: end`` looks for the end of the last complete line."""


@dataclass(frozen=True, slots=True)
class FileStat:
    """What planning needs to know of a file: where it lives, how big it is, what it is."""

    dev: int
    ino: int
    size: int
    regular: bool


class FileSystem(Tree, Protocol):
    """Where a source's files live: the local disk, or a remote host (``collectors.sftp``).

    ``stable_inodes`` is false when ``ino`` is only a stand-in (a hash of the path, for servers
    that give no inode): a file that shrank is then taken for a new one. The globs are walked
    through the :class:`~collectors.filewalk.Tree` methods.
    """

    stable_inodes: bool

    def stat(self, path: str) -> FileStat:
        """Follows symlinks; raises :class:`FileNotFoundError` (or another ``OSError``)."""
        ...

    def open(self, path: str) -> IO[bytes]:
        """Open a regular file for binary reading, seekable; anything else (a FIFO put in its
        place since it was looked at) raises ``OSError`` without blocking."""
        ...


class LocalFS:
    """The local disk."""

    stable_inodes = True

    def absolute(self, pattern: str) -> str:
        return pattern if pattern.startswith("/") else os.path.join(os.getcwd(), pattern)

    def scan(self, path: str) -> list[tuple[str, Kind]]:
        try:
            with os.scandir(path) as it:
                return [(e.name, _entry_kind(e)) for e in it]
        except OSError:
            return []  # missing or unreadable folder: its files are simply not matched

    def kind(self, path: str, *, follow: bool = False) -> Kind | None:
        try:
            return kind_of((os.stat if follow else os.lstat)(path).st_mode)
        except (OSError, ValueError):
            return None

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def stat(self, path: str) -> FileStat:
        st = os.stat(path)
        return FileStat(st.st_dev, st.st_ino, st.st_size, stat.S_ISREG(st.st_mode))

    def open(self, path: str) -> IO[bytes]:
        # O_NONBLOCK: opening a FIFO for reading would wait for a writer, holding the pass
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise OSError(errno.EINVAL, f"a {kind_of(mode).value}, not a regular file")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise


def _entry_kind(entry: os.DirEntry[str]) -> Kind:
    """The ``lstat`` kind of a folder entry (no system call for the common kinds)."""
    if entry.is_symlink():
        return Kind.LINK
    if entry.is_dir(follow_symlinks=False):
        return Kind.DIR
    if entry.is_file(follow_symlinks=False):
        return Kind.FILE
    try:
        return kind_of(entry.stat(follow_symlinks=False).st_mode)
    except OSError:
        return Kind.OTHER


LOCAL = LocalFS()


@dataclass(slots=True)
class Seen:
    """A file found by the globs, with its first bytes (decompressed for ``.gz``)."""

    path: str
    dev: int
    ino: int
    size: int
    gz: bool
    head: bytes


@dataclass(slots=True)
class Work:
    """One file to read in this pass, from ``entry.offset`` on."""

    path: str
    entry: Entry
    gz: bool
    rotated: bool  # a newer file of its rotation group exists: it will not grow any more
    dev: int
    ino: int
    size: int


@dataclass(slots=True)
class Plan:
    """What one pass will read, and the checkpoint changes that planning made."""

    work: list[Work] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    changed: dict[str, Entry] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)


def find_files(patterns: Iterable[str], exclude: Iterable[str], fs: FileSystem = LOCAL,
               rules: WalkRules = DEFAULT_RULES) -> Found:
    """Regular-file candidates matching the globs, minus the excluded ones, sorted; and the
    paths not read for what they are (symlinks leaving the roots, FIFOs, devices; see
    :mod:`collectors.filewalk`), minus the excluded ones too."""
    excluded = tuple(exclude)
    found = walk(fs, patterns, rules)
    found.paths = [p for p in found.paths if not _excluded(p, excluded)]
    found.failures = [f for f in found.failures if not _excluded(f.path, excluded)]
    return found


def _excluded(path: str, patterns: tuple[str, ...]) -> bool:
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def look(path: str, fs: FileSystem = LOCAL) -> Seen | FileFailure | None:
    """Stat a file and read its first bytes; ``None`` if it vanished or is not a regular file."""
    try:
        st = fs.stat(path)
        if not st.regular:
            return None
        gz = is_compressed(path)
        head = _head(fs, path, gz)
    except FileNotFoundError:
        return None
    except (OSError, EOFError, zlib.error) as exc:
        return FileFailure(path, describe(exc))
    return Seen(path, st.dev, st.ino, st.size, gz, head)


def _head(fs: FileSystem, path: str, gz: bool) -> bytes:
    with fs.open(path) as raw:
        if gz:
            with gzip.GzipFile(fileobj=raw, mode="rb") as zf:
                return zf.read(FP_BYTES)
        return raw.read(FP_BYTES)


def describe(exc: BaseException) -> str:
    """A short reason for a read failure: ``permission denied``, ``not a gzip file``..."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, gzip.BadGzipFile):
        return f"not a valid gzip file ({exc})"
    if isinstance(exc, EOFError | zlib.error):
        return f"corrupt or incomplete gzip data ({exc})"
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.strerror or errno.errorcode.get(exc.errno, str(exc))
    return str(exc)


class Planner:
    """Matches the files found to the stored entries of one source."""

    def __init__(self, entries: dict[str, Entry], *, start_at_end: bool,
                 forget_after: timedelta, now: datetime | None = None,
                 fs: FileSystem = LOCAL) -> None:
        self.fs = fs
        self.entries = entries
        self.start_at_end = start_at_end
        self.forget_after = forget_after
        self.now = now or datetime.now(UTC)
        self.claimed: dict[str, str] = {}  # fid → kind of file that claimed it ("plain", "gz")
        self.plan = Plan()
        self.inodes: dict[tuple[int, int, bool], Entry] = {
            (e.dev, e.ino, e.gz): e for e in entries.values() if e.ino is not None
        }
        self.replaced: dict[tuple[int, int, bool], str] = {}  # inode → fid of what it held

    def run(self, found: Found) -> Plan:
        """Plan a pass over what the walk found; an incomplete walk forgets no file."""
        self.plan.failures.extend(found.failures)
        seen: list[Seen] = []
        for path in found.paths:
            item = look(path, self.fs)
            if isinstance(item, FileFailure):
                self.plan.failures.append(item)
                self._claim_inode(path)
            elif item is not None:
                seen.append(item)
        plain = [s for s in seen if not s.gz]
        fresh = [s for s in plain if not self._by_inode(s)]  # all inode matches go first
        for s in fresh:
            here = self._on_inode(s.dev, s.ino, gz=False)
            if here is not None and here.fid in self.claimed:
                continue  # a new file found by two paths: the first one took it
            if self._by_content(s, here):
                continue
            if here is not None:
                self._take(here, s, "plain")
            else:
                self._new(s)
        for s in seen:
            if s.gz:
                self._compressed(s)
        live = {s.path for s in plain}
        for w in self.plan.work:
            base, n = rotation_group(w.path)
            w.rotated = w.gz or (n is not None and base in live)
        self.plan.work.sort(key=lambda w: rotation_order(w.path))
        if found.complete:  # files the walk did not reach are not gone
            self._forget()
        return self.plan

    # matching ------------------------------------------------------------------------------

    def _by_inode(self, s: Seen) -> bool:
        """Continue the entry on this inode if it still starts the same; else detach it."""
        entry = self._on_inode(s.dev, s.ino, gz=False)
        if entry is None:
            return False
        if entry.fid in self.claimed:
            return True  # the same file by another path (symlink, hard link): read it once
        if entry.matches(s.head) and s.size >= entry.offset and self._not_shrunk(entry, s):
            if entry.offset == 0:
                return False  # nothing read yet: a copy of a known file is checked for first
            self._take(entry, s, "plain")
            return True
        self._detach(entry)  # the inode holds something else now: truncated or reused
        return False

    def _not_shrunk(self, entry: Entry, s: Seen) -> bool:
        """Without real inodes, a file smaller than when last seen was truncated: a new one."""
        return self.fs.stable_inodes or s.size >= entry.size

    def _by_content(self, s: Seen, here: Entry | None) -> bool:
        """A file that starts like an unclaimed entry is a copy of it.

        ``here`` is the entry already on the file's inode, of which nothing was read yet (an
        empty file matches any content): a copy of a file read partly wins over it.
        """
        entry = self._content_match(s.head, s.size, exclude=here)
        if entry is None or entry.fid in self.claimed:
            return False
        if here is not None and entry.offset == 0:
            return False
        if here is not None:
            self._detach(here)
        self._detach(entry)
        entry.dev, entry.ino = s.dev, s.ino
        self.inodes[(s.dev, s.ino, False)] = entry
        self._take(entry, s, "plain")
        return True

    def _compressed(self, s: Seen) -> None:
        """A .gz seen before, a compressed copy of a known file, or one never seen."""
        entry = self._on_inode(s.dev, s.ino, gz=True)
        if entry is None or entry.fp_len != len(s.head) or not entry.matches(s.head):
            entry = self._content_match(s.head, None)  # a .gz never changes: same head or new
        if entry is None:
            self._new(s)
        elif entry.fid not in self.claimed:  # else the original is still there and goes first
            self._take(entry, s, "gz")

    def _new(self, s: Seen) -> None:
        old = self._on_inode(s.dev, s.ino, gz=s.gz)
        if old is not None:
            self._detach(old)
        predecessor = self.replaced.get((s.dev, s.ino, s.gz))
        fid = new_fid(gz=s.gz, dev=s.dev, ino=s.ino, head=s.head, predecessor=predecessor)
        while fid in self.entries:  # never reuse a key, whatever the history of the inode
            fid = new_fid(gz=s.gz, dev=s.dev, ino=s.ino, head=s.head, predecessor=fid)
        entry = Entry(fid=fid, path=s.path, dev=s.dev, ino=s.ino, fp=fingerprint(s.head),
                      fp_len=len(s.head), offset=0, size=s.size, gz=s.gz)
        if self.start_at_end:
            self._skip_history(entry, s)
        self.entries[fid] = entry
        self.inodes[(s.dev, s.ino, s.gz)] = entry
        self._take(entry, s, "gz" if s.gz else "plain")
        self.plan.changed[fid] = entry

    def _skip_history(self, entry: Entry, s: Seen) -> None:
        if s.gz:
            entry.done = True
        else:
            entry.offset = last_line_end(s.path, s.size, self.fs)

    def _take(self, entry: Entry, s: Seen, kind: str) -> None:
        self.claimed[entry.fid] = kind
        before = entry.to_dict()
        entry.refresh(s.path, s.head, s.size)
        if entry.to_dict() != before:
            self.plan.changed[entry.fid] = entry
        if not (s.gz and entry.done):
            self.plan.work.append(Work(s.path, entry, s.gz, False, s.dev, s.ino, s.size))

    # look-ups ------------------------------------------------------------------------------

    def _on_inode(self, dev: int, ino: int, *, gz: bool) -> Entry | None:
        return self.inodes.get((dev, ino, gz))

    def _detach(self, entry: Entry) -> None:
        if entry.ino is not None:
            self.inodes.pop((entry.dev, entry.ino, entry.gz), None)
            self.replaced[(entry.dev, entry.ino, entry.gz)] = entry.fid
            entry.ino = None
            self.plan.changed[entry.fid] = entry

    def _content_match(self, head: bytes, size: int | None,
                       exclude: Entry | None = None) -> Entry | None:
        """The entry a file on an unknown inode starts like (longest fingerprint wins).

        Entries claimed in this pass count too: the caller decides what a match with a file
        that is still there means.
        """
        best: Entry | None = None
        prints: dict[int, str] = {}  # fingerprint of head by length: hash each prefix once
        for e in self.entries.values():
            if e.fp_len == 0 or e.fp_len > len(head) or e is exclude:
                continue
            if e.fp_len not in prints:
                prints[e.fp_len] = fingerprint(head[: e.fp_len])
            if prints[e.fp_len] != e.fp:
                continue
            if size is not None and size < e.offset:
                continue
            if best is None or e.fp_len > best.fp_len:
                best = e
        return best

    def _claim_inode(self, path: str) -> None:
        """A file we cannot read still exists: its entry must not be taken for gone."""
        try:
            st = self.fs.stat(path)
        except OSError:
            return
        entry = self._on_inode(st.dev, st.ino, gz=is_compressed(path))
        if entry is not None:
            self.claimed[entry.fid] = "failed"

    def _forget(self) -> None:
        """Mark entries no file matched as gone; drop those gone for longer than allowed."""
        for e in self.entries.values():
            if e.fid in self.claimed:
                continue
            if e.gone is None:
                e.gone = format_ts(self.now)
                self.plan.changed[e.fid] = e
            elif self.now - parse_ts(e.gone) > self.forget_after:
                self.plan.removed.append(e.fid)
                self.plan.changed.pop(e.fid, None)


def last_line_end(path: str, size: int, fs: FileSystem = LOCAL) -> int:
    """The offset just past the last newline (``start_at: end``): history is skipped, a line
    being written is not cut. With no newline in the last MiB, the file's size."""
    with fs.open(path) as f:
        start = max(0, size - TAIL_BYTES)
        f.seek(start)
        tail = f.read(size - start)
    nl = tail.rfind(b"\n")
    if nl >= 0:
        return start + nl + 1
    return 0 if start == 0 else size
