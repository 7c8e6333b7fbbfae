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
from hashlib import blake2b
from pathlib import Path
from typing import Any

from soc.config import Config, Source
from soc.ecs import format_ts
from soc.errors import ConfigError
from soc.listen.spool import (
    BODY,
    OVERSIZE,
    TRUNCATED,
    SpoolMeta,
    SpoolRecord,
    decode_body,
    drain_lock,
    list_segments,
    read_bodies,
    read_meta,
    spool_dir,
)
from soc.models import DeadLetter
from soc.pipeline.sources import Batch, RawRecord
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
        lock = drain_lock(self.directory, f"draining {self.source.name}")
        self.holder = lock.acquire()
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

    def dead_letter(self, rid: str, rec: SpoolRecord, reason: str) -> DeadLetter:
        fields = _fields(rec)
        return DeadLetter(id=rid, source=self.source.name, origin=_origin(rec), reason=reason,
                          raw=rec.data, received=fields["event.created"],
                          fields=tuple(fields.items()))

    def damaged(self, rid: str, segment: int, offset: int, raw: bytes) -> DeadLetter:
        where = f"segment {segment} offset {offset}"
        return DeadLetter(
            id=rid, source=self.source.name, origin=f"spool {self.directory} {where}",
            reason=f"damaged spool: {len(raw)} byte(s) skipped at {where}",
            raw=raw[:1 << 20], received=format_ts(datetime.now(UTC)),
        )


class _Reader:
    """One drain: walks the segments from the checkpoint and cuts batches."""

    def __init__(self, owner: SpoolCollector, meta: SpoolMeta, size: int) -> None:
        self.owner = owner
        self.meta = meta
        self.size = size
        pos = owner.position(meta)
        self.at: tuple[int, int] = (pos["segment"], pos["offset"])  # read up to here
        self.records: list[RawRecord] = []
        self.dead: list[DeadLetter] = []
        self.bytes = 0
        self.peers: dict[bytes, tuple[dict[str, Any], str]] = {}  # by sender + time
        self.senders: dict[bytes, tuple[dict[str, Any], str]] = {}  # by sender

    def run(self) -> Iterator[Batch]:
        moved = False
        first, offset = self.at
        segments = [s for s in list_segments(self.owner.directory) if s[0] >= first]
        for index, (number, path) in enumerate(segments):
            sealed = index < len(segments) - 1
            start = offset if number == first else 0
            try:
                for _ in self._segment(number, path, start, sealed):
                    yield self._cut()
                    moved = False
            except FileNotFoundError:
                pass  # drained and deleted by an earlier commit of another drainer
            if sealed:
                self.at = (segments[index + 1][0], 0)
                moved = True
        if self.records or self.dead or moved:
            yield self._cut()

    def _segment(self, number: int, path: Path, start: int, sealed: bool) -> Iterator[None]:
        """Add the records of one segment; yields whenever a batch is full. The hot loop."""
        # a record's id: blake2b of the prefix and its offset; the prefix hashed once, copied
        ids = blake2b(f"syslog-spool\x1f{self.meta.id}\x1f{number}\x1f".encode(), digest_size=16)
        records, limit, errors = self.records, self.size, \
            "replace" if self.owner.replace else "strict"
        for offset, end, body, damaged in read_bodies(path, start, sealed):
            h = ids.copy()
            h.update(b"%d" % offset)
            rid = h.hexdigest()
            if damaged:
                self.dead.append(self.owner.damaged(rid, number, offset, body))
            else:
                head = BODY.size + body[BODY.size - 1]  # the last BODY field: address length
                try:
                    text = None if body[9] else body[head:].decode("utf-8", errors)  # 9: flags
                except UnicodeDecodeError as exc:
                    self._dead(rid, body, exc)
                else:
                    if text is None:
                        self._dead(rid, body, None)
                    else:
                        fields, origin = self._peer(body[:head])
                        records.append(RawRecord(text, rid, fields, origin))
                        self.bytes += len(body)
            self.at = (number, end)
            if len(records) + len(self.dead) >= limit or self.bytes >= BATCH_BYTES:
                yield
                records = self.records

    def _peer(self, head: bytes) -> tuple[dict[str, Any], str]:
        """Fields and origin shared by the records of one sender and receive time (read-only:
        the pipeline only copies them into events)."""
        key = head[:9] + head[14:]  # received, transport, port, address
        found = self.peers.get(key)
        if found is None:
            if len(self.peers) > 4096:
                self.peers.clear()
            base = self.senders.get(key[8:])
            if base is None:
                rec = decode_body(head)
                base = self.senders[key[8:]] = (_fields(rec), _origin(rec))
            received = BODY.unpack_from(head)[0]
            found = self.peers[key] = ({**base[0], "event.created": _created(received)},
                                       base[1])
        return found

    def _dead(self, rid: str, body: bytes, exc: UnicodeDecodeError | None) -> None:
        rec = decode_body(body)
        if exc is not None:
            reason = f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
        else:
            reason = _flag_reason(rec) or "flagged by the receiver"
        self.dead.append(self.owner.dead_letter(rid, rec, reason))
        self.bytes += len(body)

    def _cut(self) -> Batch:
        checkpoint = {"spool": self.meta.id, "segment": self.at[0], "offset": self.at[1]}
        batch = Batch(records=self.records, checkpoint=checkpoint,
                      dead_letters=self.dead, parser="syslog")
        self.records, self.dead, self.bytes = [], [], 0
        return batch


def _origin(rec: SpoolRecord) -> str:
    return f"{rec.transport} {rec.address}:{rec.port}"


def _created(received: float) -> str:
    """``event.created``: when ``soc listen`` received the message."""
    return format_ts(datetime.fromtimestamp(received, UTC))


def _fields(rec: SpoolRecord) -> dict[str, Any]:
    """What the transport knew: the sender (for the inventory), transport, receive time."""
    fields: dict[str, Any] = {
        "log.source.address": rec.address,
        "network.transport": "udp" if rec.transport == "udp" else "tcp",
        "event.created": _created(rec.received),
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
