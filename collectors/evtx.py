"""The ``evtx`` collector: Windows event log files (``.evtx``), parsed by the Rust ``evtx`` package.

Each record comes out as the JSON text ``evtx`` renders, decoded once here and turned into its
event by the ``winlog`` parser's :func:`winlog_event` (the text stays as ``event.original``; a
record it refuses is parsed again by the pipeline, which makes it a dead letter with the reason).
Its id is ``event_id(computer, channel, record id, time created)``, so the same record read from
a copy of the file, or again after a crash, gets the same id. Records the library
cannot parse, and the lost end of a file cut mid-chunk, become dead letters; the pass goes on.

Checkpoint per file (key: the absolute path): size and mtime (an unchanged file is not parsed at
all), the log it holds (computer and channel of its first record), an anchor (id and hash of its
first record: a cleared or replaced log starts over) and the record ids done, as ranges (a
circular log that wrapped is not in id order in the file).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import evtx

from collectors.fileplan import LOCAL
from collectors.filewalk import FileFailure, expand, failures_error
from collectors.parsers.winlog import winlog_event
from soc import jsonutil
from soc.config import Config, Source
from soc.ecs import event_id, now_ts
from soc.errors import ConfigError, ParseError
from soc.models import DeadLetter
from soc.pipeline.sources import Batch, RawRecord
from soc.state import StateStore

HEADER = 4096
CHUNK = 65536


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
        for lo, hi in self.done:  # noqa: SIM110 - a plain loop: once per record, no generator
            if lo <= rid <= hi:
                return True
        return False

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


READ_HINT = "Check the files' permissions for the user that runs 'soc collect'."


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
        self.failures: list[FileFailure] = []  # found but not read (symlink out, FIFO...)
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
        if self.failures:
            raise failures_error(self.failures, READ_HINT)

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
        walked = expand(LOCAL, self.source.paths, suffixes=(".evtx",),
                        recursive=self.recursive)
        self.failures = walked.failures
        found = set(walked.paths)
        return sorted(found)

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
        system = None
        if self.first:
            self.first = False
            system = _system(text)
            self._check_identity(rid, text, system)
        self.max_id = rid if self.max_id is None else max(self.max_id, rid)
        if self.st.is_done(rid):
            return None  # not decoded: a file read again mostly holds records already done
        self.st.add(rid)
        if system is None:
            system = _system(text)
        return RawRecord(text=text, id=record_id(system, rid, self.path),
                         fields={"log.file.path": self.path}, origin=f"{self.path}#{rid}",
                         event=_event(system))

    def _check_identity(self, rid: int, text: str, system: _System) -> None:
        """A file now holding another log, or the same log cleared, is read from the start."""
        log = f"{system.computer or ''}|{system.channel or ''}"
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                 digest_size=8).hexdigest()
        old = self.st.anchor
        restarted = old is not None and (rid < old[0] or (rid == old[0] and digest != old[1]))
        if log != self.st.log or restarted:
            self.st.done = []
        if old is None or log != self.st.log or restarted or rid != old[0]:
            self.st.anchor = (rid, digest)
        self.st.log = log


@dataclass(slots=True)
class _System:
    """What the collector needs of one record: its decoded JSON and the parts of its id."""

    record: dict[str, Any] | None  # None: the text is not a JSON object
    computer: str | None = None
    channel: str | None = None
    created: str = ""


def _system(text: str) -> _System:
    """The record's JSON decoded (once: the event is built from it) and its identity."""
    try:
        record = jsonutil.loads(text)
    except ValueError:
        return _System(None)
    if type(record) is not dict:
        return _System(None)
    event = record.get("Event")
    system = event.get("System") if type(event) is dict else None
    if type(system) is not dict:
        return _System(record)
    computer, channel = system.get("Computer"), system.get("Channel")
    created = system.get("TimeCreated")
    attrs = created.get("#attributes") if type(created) is dict else None
    when = attrs.get("SystemTime") if type(attrs) is dict else None
    return _System(record, computer if type(computer) is str else None,
                   channel if type(channel) is str else None,
                   when if type(when) is str else "")


def _event(system: _System) -> dict[str, Any] | None:
    """The record's event; None leaves it to the pipeline (which dead-letters what fails)."""
    if system.record is None:
        return None
    try:
        return winlog_event(system.record)
    except ParseError:
        return None


def record_id(system: _System, rid: int, path: str) -> str:
    """``event_id(computer, channel, record id, time created)``.

    The time is part of it because record ids restart at 1 when a log is cleared (and on
    machines reverted to a snapshot): the new records must not pass for the old ones. The file
    path stands in for computer and channel if the record names neither (never seen).
    """
    if system.computer is None or system.channel is None:
        return event_id("evtx-file", path, rid, system.created)
    return event_id(system.computer, system.channel, rid, system.created)
