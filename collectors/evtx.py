"""The ``evtx`` collector: Windows event log files (``.evtx``), parsed by the Rust ``evtx`` package.

Each record comes out as the JSON text ``evtx`` renders (the ``winlog`` parser turns it into an
event). Its id is ``event_id(computer, channel, record id, time created)``, so the same record
read from a copy of the file, or again after a crash, gets the same id. Records the library
cannot parse, and the lost end of a file cut mid-chunk, become dead letters; the pass goes on.

Checkpoint per file (key: the absolute path): size and mtime (an unchanged file is not parsed at
all), the log it holds (computer and channel of its first record), an anchor (id and hash of its
first record: a cleared or replaced log starts over) and the record ids done, as ranges (a
circular log that wrapped is not in id order in the file).
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import evtx

from soc.config import Config, Source
from soc.ecs import event_id, now_ts
from soc.errors import ConfigError
from soc.models import DeadLetter
from soc.sources import Batch, RawRecord
from soc.state import StateStore

HEADER = 4096
CHUNK = 65536
_COMPUTER = re.compile(r'"Computer":"((?:[^"\\]|\\.)*)"')
_CHANNEL = re.compile(r'"Channel":"((?:[^"\\]|\\.)*)"')
_TIME = re.compile(r'"SystemTime":"([^"]*)"')


@dataclass(slots=True)
class FileState:
    """The checkpoint of one EVTX file."""

    size: int = 0
    mtime: float = 0.0
    log: str = ""  # "computer|channel" of the first record
    anchor: tuple[int, str] | None = None  # first record: id and hash of its text
    done: list[list[int]] = field(default_factory=list)  # [[lo, hi], ...] record ids done
    complete: bool = False  # read to its end at (size, mtime)

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "mtime": self.mtime, "log": self.log,
                "anchor": list(self.anchor) if self.anchor else None, "done": self.done,
                "complete": self.complete}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FileState:
        if not data:
            return cls()
        anchor = data.get("anchor")
        return cls(size=data["size"], mtime=data["mtime"], log=data["log"],
                   anchor=(int(anchor[0]), str(anchor[1])) if anchor else None,
                   done=[list(r) for r in data["done"]], complete=bool(data["complete"]))

    def is_done(self, rid: int) -> bool:
        return any(lo <= rid <= hi for lo, hi in self.done)

    def add(self, rid: int) -> None:
        """Mark a record id done, growing the last range when ids come in order."""
        if self.done and self.done[-1][1] + 1 == rid:
            self.done[-1][1] = rid
        elif not self.is_done(rid):
            self.done.append([rid, rid])


@dataclass(slots=True)
class _Pending:
    """What one batch under construction holds."""

    records: list[RawRecord] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    files: dict[str, FileState] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records) + len(self.dead)


class EvtxCollector:
    """Reads the ``.evtx`` files of ``source.paths`` (files, directories, globs).

    Options: ``recursive`` (directories, default true), ``threads`` (the parser's worker threads,
    default 1; 0 lets the library use every core), ``ansi_codec`` (default windows-1252).
    """

    MAGIC = b"ElfFile\x00"

    @classmethod
    def sniff_file(cls, path: Path) -> bool:
        """Whether ``path`` is an EVTX file (its header magic), for ``soc ingest``."""
        try:
            with open(path, "rb") as fh:
                return fh.read(len(cls.MAGIC)) == cls.MAGIC
        except OSError:
            return False

    def __init__(self, source: Source, state: StateStore, config: Config) -> None:
        self.source = source
        self.state = state
        self.config = config
        opts = source.options
        self.recursive = bool(opts.get("recursive", True))
        self.threads = int(opts.get("threads", 1))
        self.ansi_codec = str(opts.get("ansi_codec", "windows-1252"))
        if not source.paths:
            raise ConfigError(f"source {source.name}: an evtx source needs 'paths'",
                              hint="Give .evtx files, directories or globs under 'paths'.")

    # --- the Collector protocol ----------------------------------------------------------------

    def batches(self, size: int) -> Iterator[Batch]:
        """Batches of at most ``size`` records (and dead letters), file after file."""
        known = self.state.all(self.source.name)
        pending = _Pending()
        for path in self.files():
            before = known.get(path)
            st = FileState.from_dict(before)
            for item in self._read(path, st):
                pending.files[path] = st
                if isinstance(item, RawRecord):
                    pending.records.append(item)
                else:
                    pending.dead.append(item)
                if len(pending) >= size:
                    yield self._batch(pending)
                    pending = _Pending()
            if st.to_dict() != before:
                pending.files[path] = st
        if pending.files or pending.records or pending.dead:
            yield self._batch(pending)

    def commit(self, batch: Batch) -> None:
        self.state.put(self.source.name, batch.checkpoint)

    def lag(self) -> dict[str, Any]:
        """Files and bytes not yet read to their end."""
        known = self.state.all(self.source.name)
        files = 0
        size = 0
        for path in self.files():
            st = FileState.from_dict(known.get(path))
            stat = os.stat(path)
            if not (st.complete and st.size == stat.st_size and st.mtime == stat.st_mtime):
                files += 1
                size += stat.st_size
        return {"files": files, "bytes": size}

    # --- finding files -------------------------------------------------------------------------

    def files(self) -> list[str]:
        """Absolute paths of the EVTX files the source names, sorted, each once."""
        found: set[str] = set()
        for pattern in self.source.paths:
            found.update(self._expand(pattern))
        return sorted(found)

    def _expand(self, pattern: str) -> Iterator[str]:
        p = Path(pattern)
        if p.is_dir():
            walk = p.rglob("*") if self.recursive else p.glob("*")
            yield from (str(f.resolve()) for f in walk if f.suffix.lower() == ".evtx"
                        and f.is_file())
        elif glob.has_magic(pattern):
            yield from (str(Path(f).resolve()) for f in glob.glob(pattern, recursive=True)
                        if Path(f).is_file())
        elif p.is_file():
            yield str(p.resolve())

    # --- reading one file ----------------------------------------------------------------------

    def _batch(self, pending: _Pending) -> Batch:
        checkpoint = {path: st.to_dict() for path, st in pending.files.items()}
        return Batch(records=pending.records, checkpoint=checkpoint, dead_letters=pending.dead,
                     parser="winlog")

    def _read(self, path: str, st: FileState) -> Iterator[RawRecord | DeadLetter]:
        """New records of one file; ``st`` is updated as they go (the batch copies it)."""
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return
        if st.complete and st.size == stat.st_size and st.mtime == stat.st_mtime:
            return
        st.complete = False
        reader = _FileReader(self, path, st)
        yield from reader.run(stat.st_size)
        st.size, st.mtime = stat.st_size, stat.st_mtime
        st.complete = True
        if reader.max_id is not None:
            st.done = [[0, max(reader.max_id, max((hi for _, hi in st.done), default=0))]]

    def _parser(self, target: str | io.BytesIO) -> evtx.PyEvtxParser:
        return evtx.PyEvtxParser(target, number_of_threads=self.threads,
                                 ansi_codec=self.ansi_codec)

    def dead(self, path: str, key: object, reason: str, raw: bytes) -> DeadLetter:
        return DeadLetter(id=event_id("evtx-error", path, key), source=self.source.name,
                          origin=path, reason=reason, raw=raw, received=now_ts(),
                          parser="winlog", fields=(("log.file.path", path),))


class _FileReader:
    """One pass over one EVTX file."""

    def __init__(self, collector: EvtxCollector, path: str, st: FileState) -> None:
        self.c = collector
        self.path = path
        self.st = st
        self.max_id: int | None = None
        self.first = True

    def run(self, size: int) -> Iterator[RawRecord | DeadLetter]:
        try:
            parser = self.c._parser(self.path)
        except (OSError, RuntimeError, ValueError) as exc:
            yield self.c.dead(self.path, ("open", size), f"not a readable EVTX file: {exc}",
                              str(exc).encode())
            return
        yield from self._records(parser)
        tail = (size - HEADER) % CHUNK if size > HEADER else 0
        if tail:
            yield from self._tail(size, tail)

    def _records(self, parser: evtx.PyEvtxParser) -> Iterator[RawRecord | DeadLetter]:
        it = parser.records_json()
        while True:
            try:
                rec = next(it)
            except StopIteration:
                return
            except RuntimeError as exc:  # one bad record or chunk: the iterator goes on
                yield self.c.dead(self.path, str(exc), f"EVTX: {exc}", str(exc).encode())
                continue
            raw = self._record(rec) if isinstance(rec, dict) else None
            if raw is not None:
                yield raw

    def _tail(self, size: int, tail: int) -> Iterator[RawRecord | DeadLetter]:
        """The library skips a chunk cut short: read what it holds from a zero-padded copy."""
        with open(self.path, "rb") as f:
            header = f.read(HEADER)
            f.seek(size - tail)
            data = f.read(tail)
        padded = io.BytesIO(header + data + b"\0" * (CHUNK - tail))
        before = self.max_id
        yield from self._records(self.c._parser(padded))
        got = "no record" if self.max_id == before else f"records up to {self.max_id}"
        reason = (f"EVTX file ends mid-chunk ({tail} of {CHUNK} bytes at offset {size - tail}): "
                  f"{got} recovered from that chunk, the rest is lost")
        yield self.c.dead(self.path, ("tail", size), reason, reason.encode())

    def _record(self, rec: dict[str, Any]) -> RawRecord | None:
        rid = int(rec["event_record_id"])
        text: str = rec["data"]
        if self.first:
            self.first = False
            self._check_identity(rid, text)
        self.max_id = rid if self.max_id is None else max(self.max_id, rid)
        if self.st.is_done(rid):
            return None
        self.st.add(rid)
        return RawRecord(text=text, id=record_id(text, rid, self.path),
                         fields={"log.file.path": self.path}, origin=f"{self.path}#{rid}")

    def _check_identity(self, rid: int, text: str) -> None:
        """A file now holding another log, or the same log cleared, is read from the start."""
        log = _log_of(text)
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                 digest_size=8).hexdigest()
        old = self.st.anchor
        restarted = old is not None and (rid < old[0] or (rid == old[0] and digest != old[1]))
        if log != self.st.log or restarted:
            self.st.done = []
        if old is None or log != self.st.log or restarted or rid != old[0]:
            self.st.anchor = (rid, digest)
        self.st.log = log


def _json_str(raw: str) -> str:
    if "\\" not in raw:
        return raw
    value: str = json.loads(f'"{raw}"')
    return value


def _log_of(text: str) -> str:
    computer = _COMPUTER.search(text)
    channel = _CHANNEL.search(text)
    return "|".join(_json_str(m.group(1)) if m else "" for m in (computer, channel))


def record_id(text: str, rid: int, path: str) -> str:
    """``event_id(computer, channel, record id, time created)``.

    The time is part of it because record ids restart at 1 when a log is cleared (and on
    machines reverted to a snapshot): the new records must not pass for the old ones. The file
    path stands in for computer and channel if the record names neither (never seen).
    """
    computer = _COMPUTER.search(text)
    channel = _CHANNEL.search(text)
    created = _TIME.search(text)
    when = created.group(1) if created else ""
    if computer is None or channel is None:
        return event_id("evtx-file", path, rid, when)
    return event_id(_json_str(computer.group(1)), _json_str(channel.group(1)), rid, when)
