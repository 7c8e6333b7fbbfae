"""The ``syslog-spool`` collector: what ``soc listen`` spooled, into the pipeline.

The daemon drains its spool through this collector every second; ``soc collect --source NAME``
drains it through the very same code (a ``drain.lock`` in the spool keeps the two from running
together: the one that finds it taken reads nothing this time). The checkpoint is the spool's id,
a segment number and an offset; segments before the checkpoint are deleted once it is committed.
A record's id is ``event_id("syslog-spool", spool id, segment, offset)``.

Options (``sources: [{name: syslog, type: syslog-spool, options: {...}}]``):
``invalid_utf8``: ``dead_letter`` (default: the raw bytes are kept as a dead letter) or
``replace`` (undecodable bytes become U+FFFD and the message is parsed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from soc.config import Config, Source
from soc.ecs import event_id, format_ts
from soc.errors import ConfigError
from soc.models import DeadLetter
from soc.sources import Batch, RawRecord
from soc.spool import (
    OVERSIZE,
    TRUNCATED,
    DrainLock,
    Entry,
    SpoolMeta,
    SpoolRecord,
    list_segments,
    read_meta,
    read_segment,
    spool_dir,
)
from soc.state import StateStore

KEY = "position"
BATCH_BYTES = 32 << 20
"""A batch is cut early once its messages hold this many bytes (1 MiB messages exist)."""


class SpoolCollector:
    """Reads a syslog spool from its checkpoint (see the module doc)."""

    def __init__(self, source: Source, state: StateStore, config: Config) -> None:
        self.source = source
        self.state = state
        self.directory = spool_dir(config.data_dir, source.name)
        self.replace = _invalid_utf8(source) == "replace"
        self.holder: str | None = None  # who held the drain lock when we found it taken

    # the Collector protocol -------------------------------------------------------------------

    def batches(self, size: int) -> Iterator[Batch]:
        """Batches of at most ``size`` records (or ``BATCH_BYTES``) from the checkpoint."""
        meta = read_meta(self.directory)
        if meta is None:
            return  # nothing was ever spooled here
        lock = DrainLock(self.directory)
        self.holder = lock.acquire(f"draining {self.source.name}")
        if self.holder is not None:
            return
        try:
            yield from _Reader(self, meta, max(1, size)).run()
        finally:
            lock.release()

    def commit(self, batch: Batch) -> None:
        """Store the position, then delete the segments it has left behind."""
        position: dict[str, Any] = batch.checkpoint
        self.state.put(self.source.name, {KEY: position})
        for number, path in list_segments(self.directory):
            if number >= position["segment"]:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def lag(self) -> dict[str, Any]:
        """Bytes and segments not drained yet."""
        meta = read_meta(self.directory)
        if meta is None:
            return {}
        pos = self.position(meta)
        total = segments = 0
        for number, path in list_segments(self.directory):
            if number < pos["segment"]:
                continue
            with contextlib.suppress(FileNotFoundError):
                size = path.stat().st_size - (pos["offset"] if number == pos["segment"] else 0)
                total += max(0, size)
                segments += 1 if size > 0 else 0
        out: dict[str, Any] = {"bytes": total, "segments": segments}
        if self.holder:
            out["drained_by"] = self.holder
        return out

    # helpers -----------------------------------------------------------------------------------

    def position(self, meta: SpoolMeta) -> dict[str, Any]:
        """The committed position; the start of the spool when none is, or when the spool was
        recreated (another id) since."""
        stored = self.state.get(self.source.name, KEY)
        if isinstance(stored, dict) and stored.get("spool") == meta.id:
            return stored
        return {"spool": meta.id, "segment": 0, "offset": 0}

    def record(self, meta: SpoolMeta, segment: int, entry: Entry) -> RawRecord | DeadLetter:
        """A spool entry → a record for the parser, or a dead letter."""
        rid = event_id("syslog-spool", meta.id, segment, entry.offset)
        rec = entry.record
        if rec is None:
            return self._damaged(rid, segment, entry)
        fields = _fields(rec)
        origin = f"{rec.transport} {rec.address}:{rec.port}"
        reason = _flag_reason(rec)
        if reason is None:
            try:
                text = rec.data.decode("utf-8", "replace" if self.replace else "strict")
            except UnicodeDecodeError as exc:
                reason = f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
            else:
                return RawRecord(text=text, id=rid, fields=fields, origin=origin)
        return DeadLetter(id=rid, source=self.source.name, origin=origin, reason=reason,
                          raw=rec.data, received=fields["event.created"],
                          parser=None, fields=tuple(fields.items()))

    def _damaged(self, rid: str, segment: int, entry: Entry) -> DeadLetter:
        where = f"segment {segment} offset {entry.offset}"
        return DeadLetter(
            id=rid, source=self.source.name, origin=f"spool {self.directory} {where}",
            reason=f"damaged spool: {entry.end - entry.offset} byte(s) skipped at {where}",
            raw=entry.damaged[:1 << 20], received=format_ts(datetime.now(UTC)),
        )


class _Reader:
    """One drain: walks the segments from the checkpoint and cuts batches."""

    def __init__(self, owner: SpoolCollector, meta: SpoolMeta, size: int) -> None:
        self.owner = owner
        self.meta = meta
        self.size = size
        self.pos = owner.position(meta)
        self.records: list[RawRecord] = []
        self.dead: list[DeadLetter] = []
        self.bytes = 0

    def run(self) -> Iterator[Batch]:
        moved = False
        segments = [s for s in list_segments(self.owner.directory) if s[0] >= self.pos["segment"]]
        for index, (number, path) in enumerate(segments):
            sealed = index < len(segments) - 1
            start = self.pos["offset"] if number == self.pos["segment"] else 0
            try:
                for entry in read_segment(path, start, sealed):
                    self._add(number, entry)
                    if len(self.records) + len(self.dead) >= self.size or \
                            self.bytes >= BATCH_BYTES:
                        yield self._cut()
                        moved = False
            except FileNotFoundError:
                pass  # drained and deleted by an earlier commit of another drainer
            if sealed:
                self._move(segments[index + 1][0], 0)
                moved = True
        if self.records or self.dead or moved:
            yield self._cut()

    def _add(self, segment: int, entry: Entry) -> None:
        item = self.owner.record(self.meta, segment, entry)
        if isinstance(item, RawRecord):
            self.records.append(item)
            self.bytes += len(item.text)
        else:
            self.dead.append(item)
            self.bytes += len(item.raw)
        self._move(segment, entry.end)

    def _move(self, segment: int, offset: int) -> None:
        self.pos = {"spool": self.meta.id, "segment": segment, "offset": offset}

    def _cut(self) -> Batch:
        batch = Batch(records=self.records, checkpoint=dict(self.pos),
                      dead_letters=self.dead, parser="syslog")
        self.records, self.dead, self.bytes = [], [], 0
        return batch


def _fields(rec: SpoolRecord) -> dict[str, Any]:
    """What the transport knew: the sender (for the inventory), transport, receive time."""
    fields: dict[str, Any] = {
        "log.source.address": rec.address,
        "network.transport": "udp" if rec.transport == "udp" else "tcp",
        "event.created": format_ts(datetime.fromtimestamp(rec.received, UTC)),
    }
    if rec.transport == "tls":
        fields["tls.established"] = True
    return fields


def _flag_reason(rec: SpoolRecord) -> str | None:
    if rec.flags & TRUNCATED:
        return (f"truncated frame: the peer closed the connection after {len(rec.data)} of "
                f"the {rec.length} bytes it announced")
    if rec.flags & OVERSIZE:
        return (f"message of {rec.length} bytes exceeds listen.max_message_bytes; "
                f"its first {len(rec.data)} bytes are kept")
    return None


def _invalid_utf8(source: Source) -> str:
    opts = dict(source.options)
    unknown = set(opts) - {"invalid_utf8"}
    if unknown:
        raise ConfigError(f"source {source.name}: unknown option(s) {', '.join(sorted(unknown))}",
                          hint="A syslog-spool source knows: invalid_utf8 (see docs/listen.md).")
    value = str(opts.get("invalid_utf8", "dead_letter"))
    if value not in ("dead_letter", "replace"):
        raise ConfigError(f"source {source.name}: invalid_utf8 must be dead_letter or replace, "
                          f"not {value!r}", hint="See docs/listen.md.")
    return value
