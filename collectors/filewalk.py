"""Finding the files of a source: its globs, walked by us rather than by :func:`glob.glob`.

``glob.glob(recursive=True)`` descends into every symlinked directory under ``**`` (a link to
``/`` walks the whole disk while the pass holds its lock), returns links to any file (a link to
``/etc/shadow`` is read), and returns FIFOs (opening one blocks). This walk keeps glob's matching
(``*``, ``?``, ``[...]`` within a name, ``**`` for any depth, hidden names matched only by a
pattern that starts with a dot) and adds three rules:

* **Roots**: the fixed folder prefix of each glob, before its first wildcard (for a glob with
  none, the folder of the file), resolved. With ``symlinks: inside`` (the default) a symlink
  whose real path leaves every root of the source is reported and not followed; ``never``
  follows no symlink met below the roots; ``follow`` follows any (still bounded, loops cut).
* FIFOs, sockets and devices are reported, never opened.
* At most ``max_entries`` directory entries are looked at per pass; then the walk stops and
  says so.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from soc.errors import PartialError

SYMLINK_MODES = ("inside", "never", "follow")
MAX_WALK_ENTRIES = 100_000
"""Default bound on the directory entries one pass of a source looks at."""

SYMLINK_HINT = ("Point the glob at the real folder, set options.symlinks: follow if the link is "
                "meant, or add the path to options.exclude.")
SPECIAL_HINT = "Only regular files are read; add the path to options.exclude to silence this."
WALK_HINT = "Narrow the source's globs (fewer '**'), or raise options.max_walk_entries."


class Kind(StrEnum):
    """What a path is, as ``lstat`` tells (``LINK``), or ``stat`` after following it."""

    DIR = "directory"
    FILE = "regular file"
    LINK = "symlink"
    FIFO = "FIFO (named pipe)"
    SOCKET = "socket"
    DEVICE = "device"
    OTHER = "special file"


def kind_of(mode: int) -> Kind:
    """The :class:`Kind` of a ``st_mode``."""
    for test, kind in ((stat.S_ISLNK, Kind.LINK), (stat.S_ISDIR, Kind.DIR),
                       (stat.S_ISREG, Kind.FILE), (stat.S_ISFIFO, Kind.FIFO),
                       (stat.S_ISSOCK, Kind.SOCKET), (stat.S_ISCHR, Kind.DEVICE),
                       (stat.S_ISBLK, Kind.DEVICE)):
        if test(mode):
            return kind
    return Kind.OTHER


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A file that could not be read in this pass, with the reason (and what to do)."""

    path: str
    reason: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class Tree(Protocol):
    """What the walk needs of a file system (local disk, or a host over SFTP)."""

    def absolute(self, pattern: str) -> str:
        """``pattern`` as an absolute glob; raises :class:`~soc.errors.ConfigError` if it
        cannot be one."""
        ...

    def scan(self, path: str) -> list[tuple[str, Kind]]:
        """A folder's entries with their ``lstat`` kind; ``[]`` if it cannot be listed."""
        ...

    def kind(self, path: str, *, follow: bool = False) -> Kind | None:
        """What ``path`` is (``lstat``, or ``stat`` with ``follow``); ``None`` if nothing."""
        ...

    def realpath(self, path: str) -> str:
        """``path`` with every symlink resolved."""
        ...


@dataclass(frozen=True, slots=True)
class WalkRules:
    """The ``symlinks`` and ``max_walk_entries`` options of a source."""

    symlinks: str = "inside"
    max_entries: int = MAX_WALK_ENTRIES


@dataclass(slots=True)
class Found:
    """What the walk found: regular-file candidates, sorted, and what it would not read."""

    paths: list[str] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    complete: bool = True  # false when max_entries stopped the walk: some files were not seen


DEFAULT_RULES = WalkRules()


@dataclass(frozen=True, slots=True)
class _Node:
    path: str  # as matched (what log.file.path shows)
    real: str  # with every symlink resolved
    kind: Kind


class _Full(Exception):
    """The walk reached its bound."""


def root_of(pattern: str) -> str:
    """The fixed folder prefix of an absolute glob: up to its first wildcard, and never the
    last name (``/var/log/*.log`` → ``/var/log``; ``/var/log/auth.log`` → ``/var/log``)."""
    parts = pattern.split("/")[:-1]
    for i, part in enumerate(parts):
        if glob.has_magic(part):
            parts = parts[:i]
            break
    return "/".join(parts) or "/"


def _join(folder: str, name: str) -> str:
    return f"{folder}{name}" if folder.endswith("/") else f"{folder}/{name}"


@functools.lru_cache(maxsize=256)
def _matcher(name: str) -> Callable[[str], re.Match[str] | None]:
    """A glob name as a compiled match (case-sensitive, as glob is on POSIX)."""
    return re.compile(fnmatch.translate(name)).match


def walk(fs: Tree, patterns: Iterable[str], rules: WalkRules = DEFAULT_RULES) -> Found:
    """Every path the globs match, under the rules of the module doc."""
    absolute = [fs.absolute(p) for p in patterns]
    roots = tuple(dict.fromkeys(fs.realpath(root_of(p)) for p in absolute))
    walker = _Walker(fs, roots, rules)
    for pattern in absolute:
        try:
            walker.pattern(pattern)
        except _Full:
            walker.fail(pattern, f"directory walk stopped after {rules.max_entries} entries "
                                 "(max_walk_entries): files further on were not looked for",
                        WALK_HINT)
            return walker.result(complete=False)
    return walker.result(complete=True)


class _Walker:
    def __init__(self, fs: Tree, roots: tuple[str, ...], rules: WalkRules) -> None:
        self.fs = fs
        self.roots = roots
        self.rules = rules
        self.entries = 0
        self.found: set[str] = set()
        self.failures: dict[str, FileFailure] = {}

    def result(self, *, complete: bool) -> Found:
        return Found(sorted(self.found), sorted(self.failures.values(), key=lambda f: f.path),
                     complete)

    def fail(self, path: str, reason: str, hint: str) -> None:
        self.failures.setdefault(path, FileFailure(path, reason, hint))

    def pattern(self, pattern: str) -> None:
        root = root_of(pattern)
        names = [n for n in pattern[len(root):].split("/") if n]
        nodes = [_Node(root, self.fs.realpath(root), Kind.DIR)]
        for i, name in enumerate(names):
            last = i == len(names) - 1
            nodes = list(self._step(nodes, name, last=last))
        for node in nodes:
            self._final(node)

    def _final(self, node: _Node) -> None:
        if node.kind is Kind.FILE:
            self.found.add(node.path)
        elif node.kind is not Kind.DIR:
            self.fail(node.path, f"a {node.kind.value}, not a regular file: skipped, never "
                                 "opened", SPECIAL_HINT)

    # one name of the glob ----------------------------------------------------------------------

    def _step(self, nodes: list[_Node], name: str, *, last: bool) -> Iterator[_Node]:
        """The nodes one more name of the glob reaches from ``nodes`` (folders only, unless
        ``last``)."""
        if name == "**":
            seen: set[str] = set()  # real folders already walked: symlink loops end here
            for node in nodes:
                yield from self._deep(node, seen, last=last)
            return
        for node in nodes:
            for child in self._children(node, name, dirs_only=not last):
                if last or child.kind is Kind.DIR:
                    yield child

    def _children(self, node: _Node, name: str, *, dirs_only: bool) -> Iterator[_Node]:
        if not glob.has_magic(name):
            path = _join(node.path, name)
            kind = self.fs.kind(path)
            if kind is not None:
                yield from self._resolve(node, name, kind, dirs_only=dirs_only)
            return
        hidden_ok = name.startswith(".")
        match = _matcher(name)
        for entry, kind in self._scan(node):
            if (hidden_ok or not entry.startswith(".")) and match(entry):
                yield from self._resolve(node, entry, kind, dirs_only=dirs_only)

    def _deep(self, node: _Node, seen: set[str], *, last: bool) -> Iterator[_Node]:
        """``**``: the folder itself and every folder below it (and files, when ``last``);
        hidden names are skipped, as glob does."""
        if node.real in seen:
            return
        seen.add(node.real)
        yield node
        for entry, kind in self._scan(node):
            if entry.startswith(".") or not (last or kind is Kind.DIR or kind is Kind.LINK):
                continue
            for child in self._resolve(node, entry, kind, dirs_only=not last):
                if child.kind is Kind.DIR:
                    yield from self._deep(child, seen, last=last)
                elif last:
                    yield child

    def _scan(self, node: _Node) -> list[tuple[str, Kind]]:
        entries = self.fs.scan(node.path)
        self.entries += len(entries)
        if self.entries > self.rules.max_entries:
            raise _Full
        return sorted(entries)

    # symlinks ----------------------------------------------------------------------------------

    def _resolve(self, parent: _Node, name: str, kind: Kind, *,
                 dirs_only: bool) -> Iterator[_Node]:
        """The node for ``parent/name``: a symlink followed if the rules allow it. Where the
        glob wants folders only (``dirs_only``), a link to anything else is of no concern."""
        path = _join(parent.path, name)
        if kind is not Kind.LINK:
            yield _Node(path, _join(parent.real, name), kind)
            return
        target = self.fs.kind(path, follow=True)
        if target is None or (dirs_only and target is not Kind.DIR):
            return  # a dangling link holds nothing to read
        if self.rules.symlinks == "never":
            self.fail(path, "a symlink, not followed (symlinks: never)", SYMLINK_HINT)
            return
        real = self.fs.realpath(path)
        if self.rules.symlinks == "inside" and not self._inside(real):
            self.fail(path, f"a symlink to {real}, outside the source's folders "
                            f"({', '.join(self.roots)}): not followed", SYMLINK_HINT)
            return
        yield _Node(path, real, target)

    def _inside(self, real: str) -> bool:
        return any(real == root or real.startswith(root.rstrip("/") + "/")
                   for root in self.roots)


def expand(fs: Tree, paths: Iterable[str], *, suffixes: tuple[str, ...], recursive: bool,
           rules: WalkRules = DEFAULT_RULES) -> Found:
    """The files of a source whose ``paths`` are files, folders or globs (the ``evtx`` and
    ``pcap`` collectors): a folder stands for the files in it with one of ``suffixes`` (any
    depth when ``recursive``), under the same rules as the ``file`` collector's globs. Paths
    come back resolved (real paths), sorted, each once."""
    patterns: list[str] = []
    folders: set[str] = set()
    for raw in paths:
        path = fs.absolute(raw)
        if not glob.has_magic(path) and fs.kind(path, follow=True) is Kind.DIR:
            folder = path.rstrip("/") or "/"
            folders.add(folder)
            patterns.append(_join(folder, "**/*" if recursive else "*"))
        else:
            patterns.append(path)
    found = walk(fs, patterns, rules)
    wanted = tuple(s.lower() for s in suffixes)
    def wanted_path(path: str) -> bool:  # in a folder given, only the files of the suffixes
        return not _in_folder(path, folders) or path.lower().endswith(wanted)

    keep = sorted({fs.realpath(p) for p in found.paths if wanted_path(p)})
    failures = [f for f in found.failures if wanted_path(f.path) or glob.has_magic(f.path)]
    return Found(paths=keep, failures=failures, complete=found.complete)


def _in_folder(path: str, folders: set[str]) -> bool:
    return any(path.startswith(_join(folder, "")) for folder in folders)


def failures_error(failures: list[FileFailure], default_hint: str) -> PartialError:
    """The source's error for the files it could not read (the pass exits 5)."""
    names = "; ".join(str(f) for f in failures[:5])
    more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
    hint = " ".join(dict.fromkeys(f.hint or default_hint for f in failures))
    return PartialError(f"{len(failures)} file(s) not read: {names}{more}", hint=hint)
