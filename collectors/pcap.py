"""The ``pcap`` collector (capture files, read once) and the ``netcapture`` collector (the spool
that live capture fills).

``pcap``: files and directories of pcap/pcapng (``paths``; directories are walked for
``.pcap``, ``.pcapng``, ``.cap``, ``.dmp``). Each file goes through its own
:class:`~collectors.netsensor.Sensor`, whose events the records carry as they are
(:attr:`soc.pipeline.sources.RawRecord.event`: nothing to parse, and no ``event.original``:
a packet has no text).
Checkpoint per file, keyed by its identity (a hash of its first 64 KiB, so a copy or a renamed file
is not read again): the frames done, whether it was read to its end, and the sensor's counters.
A pass interrupted inside a file decodes that file again from its first frame and drops the events
emitted before the checkpoint: decoding is deterministic, so the result is exactly that of an
uninterrupted pass (flows spanning the checkpoint included), and event ids
(file identity + frame index, or + flow key and start) make any overlap a no-op.

Options: ``recursive`` (default true), ``min_age`` (skip files modified more recently, e.g.
``2m`` for a directory that ``tcpdump -G`` is still writing; default 0), and the sensor limits of
the ``network:`` section (``max_flows``, ``idle_timeout``...), which they override.

``netcapture``: the spool holds the events as JSON (it is bytes on disk, shared with another
process); each is loaded once, straight into the record's event.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson

from collectors.fileplan import LOCAL
from collectors.filewalk import FileFailure, expand, failures_error
from collectors.netsensor import Sensor, SensorConfig
from collectors.netsensor.capfile import SUFFIXES, CaptureFileError, frames, identity, is_capture
from collectors.netsensor.events import MODULE
from collectors.spool import SpoolCollector
from soc.config import Config, Source, _Reader
from soc.ecs import event_id, now_ts
from soc.errors import ConfigError
from soc.listen.capture import SENSOR_KEYS, load_network_config, sensor_limits
from soc.models import DeadLetter
from soc.pipeline.sources import Batch, RawRecord
from soc.state import StateStore
from soc.timeutil import parse_duration

PARSER = "netevent"


def new_sensor(ident: str, limits: dict[str, Any], observer: dict[str, Any] | None) -> Sensor:
    return Sensor(ident, SensorConfig(**limits), observer)


READ_HINT = "Check the files' permissions for the user that runs 'soc collect'."


class PcapCollector:
    """Reads the capture files of ``source.paths`` once each (see the module doc)."""

    def __init__(self, source: Source, state: StateStore, config: Config) -> None:
        self.source = source
        self.state = state
        if not source.paths:
            raise ConfigError(f"source {source.name}: a pcap source needs 'paths'",
                              hint="Give capture files, directories or globs under 'paths'.")
        opts = _Reader(dict(source.options), config.path, f"source {source.name}: options")
        opts.check_keys({*SENSOR_KEYS, "recursive", "min_age"})
        self.limits = {**load_network_config(config).sensor, **sensor_limits(opts)}
        self.recursive = bool(opts.get("recursive", bool, True))
        self.failures: list[FileFailure] = []  # found but not read (symlink out, FIFO...)
        self.min_age = parse_duration(opts.get("min_age", (str, int), 0)).total_seconds()

    @classmethod
    def sniff_file(cls, path: Path) -> bool:
        """For ``soc ingest``: a pcap or pcapng file, whatever its name."""
        return is_capture(path)

    # --- the Collector protocol ----------------------------------------------------------------

    def batches(self, size: int) -> Iterator[Batch]:
        """Batches of at most about ``size`` events, file after file."""
        known = self.state.all(self.source.name)
        for path in self.files():
            try:
                fid = identity(Path(path))
            except OSError:
                continue
            done = known.get(fid) or {}
            if done.get("complete"):
                continue
            yield from _FileReader(self, path, fid, int(done.get("frames", 0))).run(size)
        if self.failures:
            raise failures_error(self.failures, READ_HINT)

    def commit(self, batch: Batch) -> None:
        self.state.put(self.source.name, batch.checkpoint)

    def lag(self) -> dict[str, Any]:
        """Files not read to their end, their bytes, and the sensor counters of all files."""
        known = self.state.all(self.source.name)
        files = size = 0
        totals: dict[str, int] = {}
        for path in self.files():
            try:
                fid = identity(Path(path))
                length = os.stat(path).st_size
            except OSError:
                continue
            entry = known.get(fid) or {}
            for key, value in (entry.get("stats") or {}).items():
                totals[key] = totals.get(key, 0) + int(value)
            if not entry.get("complete"):
                files += 1
                size += length
        return {"files": files, "bytes": size, **totals}

    # --- finding files -------------------------------------------------------------------------

    def files(self) -> list[str]:
        """Absolute paths of the capture files the source names, sorted, each once."""
        walked = expand(LOCAL, self.source.paths, suffixes=tuple(SUFFIXES),
                        recursive=self.recursive)
        self.failures = walked.failures
        found = set(walked.paths)
        if self.min_age:
            limit = time.time() - self.min_age
            found = {p for p in found if _mtime(p) <= limit}
        return sorted(found)

    def dead(self, path: str, fid: str, key: object, reason: str) -> DeadLetter:
        return DeadLetter(id=event_id("pcap-error", fid, key), source=self.source.name,
                          origin=path, reason=reason, raw=reason.encode(), received=now_ts(),
                          parser=PARSER, fields=(("log.file.path", path),))


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


class _FileReader:
    """One pass over one capture file, from its first frame; events before ``skip`` frames
    were stored by an earlier pass."""

    def __init__(self, owner: PcapCollector, path: str, fid: str, skip: int) -> None:
        self.owner = owner
        self.path = path
        self.fid = fid
        self.skip = skip
        self.sensor = new_sensor(fid, owner.limits, None)
        self.field = {"log.file.path": path}
        self.records: list[RawRecord] = []
        self.dead: list[DeadLetter] = []

    def run(self, size: int) -> Iterator[Batch]:
        sensor = self.sensor
        try:
            for frame in frames(Path(self.path)):
                sensor.feed(frame.ts, frame.data, frame.linktype, frame.wirelen)
                if frame.cut:
                    self._cut_file()
                if sensor.events:
                    self._take()
                    if len(self.records) >= size:
                        yield self._batch(complete=False)
        except CaptureFileError as exc:
            self.dead.append(self.owner.dead(self.path, self.fid, "open", str(exc)))
        yield from self._flush(size)

    def _flush(self, size: int) -> Iterator[Batch]:
        """End the flows still open, ``size`` at a time: at the end of a capture with 100k open
        flows, one batch of them all would hold 100k events at once."""
        while not self.sensor.flush(size):
            self._take(final=True)
            if len(self.records) >= size:
                yield self._batch(complete=False)
        self._take(final=True)
        yield self._batch(complete=True)

    def _take(self, final: bool = False) -> None:
        events = self.sensor.take()
        if self.sensor.index <= self.skip and not final:
            return  # stored by an earlier pass
        fields, path = self.field, self.path
        self.records.extend(RawRecord("", ev["event.id"], fields, path, ev) for ev in events)

    def _cut_file(self) -> None:
        index = self.sensor.index - 1
        reason = f"capture file ends inside frame {index} (the file was cut short)"
        self.dead.append(self.owner.dead(self.path, self.fid, ("cut", index), reason))

    def _batch(self, *, complete: bool) -> Batch:
        state = {"path": self.path, "frames": self.sensor.index, "complete": complete,
                 "stats": self.sensor.stats.to_dict()}
        batch = Batch(records=self.records, checkpoint={self.fid: state},
                      dead_letters=self.dead, parser=PARSER)
        self.records, self.dead = [], []
        return batch


class CaptureSpoolCollector(SpoolCollector):
    """Drains the spool that :func:`soc.listen.capture.run_capture` fills (source type
    ``netcapture``): the syslog spool's reader, with the sensor's events loaded from their
    JSON into the records (their own ids, no sender fields: the sender of a captured event is
    the capture itself). A record that is not a sensor event keeps its text, which the
    ``netevent`` parser then turns into a dead letter with the reason."""

    parser: ClassVar[str] = PARSER

    @staticmethod
    def sensor(ident: str, limits: dict[str, Any], observer: dict[str, Any]) -> Sensor:
        """A sensor for live capture (``soc.listen.capture`` finds it through this entry point)."""
        return new_sensor(ident, limits, observer)

    def batches(self, size: int) -> Iterator[Batch]:
        for batch in super().batches(size):
            for record in batch.records:
                record.fields = {"event.created": record.fields.get("event.created")}
                _load_event(record)
            batch.parser = PARSER
            yield batch


def _load_event(record: RawRecord) -> None:
    """The sensor event a spooled record holds, into ``record.event`` (its text then goes:
    the event is all there is to keep)."""
    try:
        event = orjson.loads(record.text)
    except orjson.JSONDecodeError:
        return
    if isinstance(event, dict) and event.get("event.module") == MODULE:
        record.event = event
        record.id = event.get("event.id") or record.id
        record.text = ""
