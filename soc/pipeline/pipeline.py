"""collector → parse → enrich → detect → store, with checkpoint discipline.

For every batch: parse each record (a failure becomes a dead letter, never an exception), enrich
with the inventory, hand the events to the detection stage, write events, dead letters and alerts
to the store, confirm that the store file still holds them (``Store.confirm_writes``: not
removed, replaced or truncated meanwhile), and only then let the collector commit its checkpoint.
A crash or a failed confirmation anywhere means the next pass re-reads from the last checkpoint;
deterministic event ids make the re-write a no-op.
"""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from soc import registry
from soc.config import Config, Source
from soc.ecs import Event, format_ts
from soc.errors import SkipRecord, SocError, StoreError
from soc.models import DeadLetter
from soc.pipeline.inventory import Inventory
from soc.pipeline.parsing import get_parser, parse_record
from soc.pipeline.sources import Batch, Collector, ParseContext, Parser, RawRecord
from soc.state import StateStore
from soc.stores.base import Store, WriteResult

DEFAULT_BATCH = 5000


class Stage(Protocol):
    """A step after enrichment that sees every batch before it is committed (detection)."""

    def process(self, events: Sequence[Event], store: Store) -> int:
        """Handle a batch of stored-to-be events; returns how many findings it produced."""
        ...


@dataclass
class SourceReport:
    """What one pass did for one source."""

    source: str
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    skipped: int = 0
    alerts: int = 0
    batches: int = 0
    error: str | None = None
    hint: str | None = None  # what to do about ``error``
    lag: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    last_event: str | None = None
    trace: str | None = field(default=None, repr=False)  # the stack of an unexpected error

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "trace"}


@dataclass
class PassReport:
    """What one pass did, source by source."""

    sources: list[SourceReport] = field(default_factory=list)
    started: str = ""
    seconds: float = 0.0
    rule_errors: list[str] = field(default_factory=list)  # rule files that failed to load
    rule_warning: str | None = None  # the one line to print about them
    notify: dict[str, Any] | None = None  # the dispatch at the end of the pass (soc.notify)
    notify_warnings: list[str] = field(default_factory=list)  # failures that persist

    @property
    def events(self) -> int:
        return sum(s.events for s in self.sources)

    @property
    def dead_letters(self) -> int:
        return sum(s.dead_letters for s in self.sources)

    @property
    def errors(self) -> list[SourceReport]:
        return [s for s in self.sources if s.error]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.dead_letters and not self.rule_errors

    def summary(self) -> str:
        parts = [f"{len(self.sources)} source(s)", f"{self.events} new event(s)"]
        dup = sum(s.duplicates for s in self.sources)
        if dup:
            parts.append(f"{dup} already stored")
        alerts = sum(s.alerts for s in self.sources)
        if alerts:
            parts.append(f"{alerts} alert(s)")
        parts.append(f"{self.dead_letters} dead letter(s)")
        parts.append(f"{len(self.errors)} error(s)")
        return ", ".join(parts) + f" in {self.seconds:.2f}s"

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": self.started, "seconds": round(self.seconds, 3), "ok": self.ok,
            "events": self.events, "dead_letters": self.dead_letters,
            "errors": len(self.errors), "rule_errors": self.rule_errors,
            "sources": [s.to_dict() for s in self.sources],
            **({"notify": self.notify} if self.notify is not None else {}),
        }


@dataclass(slots=True)
class _Work:
    """One batch on its way through the pipeline."""

    batch: Batch
    events: list[Event]
    dead: list[DeadLetter]
    alerts: int = 0


class Pipeline:
    """Runs sources through parse → enrich → detect → store.

    A store whose ``background_writes`` attribute is true is written on a worker thread while
    the next batch is read and parsed; see :meth:`_run_overlapped`.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        state: StateStore,
        *,
        stages: Iterable[Stage] = (),
        batch_size: int = DEFAULT_BATCH,
        keep_original: bool = True,
        progress: Callable[[SourceReport], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.state = state
        self.stages = list(stages)
        self.batch_size = batch_size
        self.keep_original = keep_original
        self.progress = progress
        self.inventory = Inventory(config)

    def run(self, sources: Iterable[Source]) -> PassReport:
        """One pass over ``sources``. Errors of one source never stop the others; a store that
        cannot be written stops the pass (nothing more can be made durable)."""
        report = PassReport(started=format_ts(datetime.now(UTC)))
        t0 = time.perf_counter()
        for source in sources:
            report.sources.append(self.run_source(source))
        report.seconds = time.perf_counter() - t0
        return report

    def run_source(self, source: Source) -> SourceReport:
        rep = SourceReport(source.name)
        start = format_ts(datetime.now(UTC))
        t0 = time.perf_counter()
        collector: Collector | None = None
        stopped: StoreError | None = None  # the store failed: the pass ends with exit code 4
        try:
            collector = self._collector(source)
            parser = get_parser(source.parser)
            if getattr(self.store, "background_writes", False):
                self._run_overlapped(source, collector, parser, rep)
            else:
                for batch in collector.batches(self.batch_size):
                    self._run_batch(source, collector, batch, parser, rep)
        except StoreError as exc:
            stopped = exc
            rep.error, rep.hint = str(exc), exc.hint  # 'soc status' shows why the source stopped
            raise
        except SocError as exc:
            rep.error, rep.hint = str(exc), exc.hint
        except OSError as exc:
            rep.error = f"{exc.strerror or exc} ({exc.filename or source.name})"
            rep.hint = "Check the path and that the user running soc may read it."
        except Exception as exc:  # noqa: BLE001 - one source's failure, never the pass's
            rep.error, rep.hint = unexpected(exc, source.name)
            rep.trace = "".join(traceback.format_exception(exc))
        finally:
            rep.seconds = time.perf_counter() - t0
            if collector is not None:
                rep.lag = _safe_lag(collector)
            self._record_run(source.name, start, rep, stopped)
        return rep

    def _record_run(self, name: str, start: str, rep: SourceReport,
                    stopped: StoreError | None) -> None:
        """Record the source's pass. When the store already failed, a state that cannot be
        written either (the same full disk) is noted on that error, never raised over it."""
        try:
            self.state.record_run(name, start=start, events=rep.events, dead=rep.dead_letters,
                                  error=rep.error, last_event=rep.last_event, lag=rep.lag)
        except StoreError as failed:
            if stopped is None:
                raise
            stopped.add_note(f"recording the pass failed as well: {failed}")

    def _collector(self, source: Source) -> Collector:
        cls = registry.load("collector", source.type)
        collector: Collector = cls(source, self.state, self.config)
        return collector

    def _run_batch(self, source: Source, collector: Collector, batch: Batch, parser: Parser,
                   rep: SourceReport) -> None:
        with _collection_paused():
            work = self._staged(self._parse(source, batch, parser, rep))
            result = self._write(work)
        self._finish(collector, work, result, rep)

    def _run_overlapped(self, source: Source, collector: Collector, parser: Parser,
                        rep: SourceReport) -> None:
        """:meth:`_run_batch` for every batch, each batch's store write running on a worker
        thread while the next batch is read and parsed (for stores that wait without the GIL). Only
        one store call is ever in flight: the write of batch N is waited for before batch
        N+1's stages run, and batch N's checkpoint is committed then, after its write and
        before batch N+1's: the same order of durable steps as one batch at a time."""
        pending: tuple[_Work, Future[WriteResult | None]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="soc-store-writer") as pool:
            try:
                for batch in collector.batches(self.batch_size):
                    work = self._parse(source, batch, parser, rep)
                    if pending is not None:
                        (done, future), pending = pending, None
                        self._finish(collector, done, future.result(), rep)
                    self._staged(work)
                    pending = (work, pool.submit(self._write, work))
            finally:
                if pending is not None:  # a read or parse failed: what was read still counts
                    self._finish(collector, pending[0], pending[1].result(), rep)

    def _parse(self, source: Source, batch: Batch, parser: Parser, rep: SourceReport) -> _Work:
        if batch.parser and source.parser == "auto":
            parser = get_parser(batch.parser)
        events, dead, skipped = self.parse_batch(batch, parser, source)
        rep.skipped += skipped
        dead.extend(batch.dead_letters)
        return _Work(batch, events, dead)

    def _staged(self, work: _Work) -> _Work:
        """Run the stages (detection) over a parsed batch; their findings count as alerts."""
        for stage in self.stages:
            work.alerts += stage.process(work.events, self.store)
        return work

    def _write(self, work: _Work) -> WriteResult | None:
        """The store writes of one batch: events, then dead letters."""
        result = self.store.write_events(work.events) if work.events else None
        if work.dead:
            self.store.write_dead_letters(work.dead)
        return result

    def _finish(self, collector: Collector, work: _Work, result: WriteResult | None,
                rep: SourceReport) -> None:
        """Confirm that a written batch is in the store others read (else StoreError, exit
        code 4, with the checkpoint where it was), count it, then commit its checkpoint."""
        self.store.confirm_writes()
        if result is not None:
            rep.events += result.written
            rep.duplicates += result.duplicates
            rep.last_event = max(rep.last_event or "",
                                 max(e["@timestamp"] for e in work.events))
        rep.dead_letters += len(work.dead)
        rep.alerts += work.alerts
        rep.batches += 1
        collector.commit(work.batch)
        if self.progress:
            self.progress(rep)

    def parse_batch(self, batch: Batch, parser: Parser,
                    source: Source) -> tuple[list[Event], list[DeadLetter], int]:
        """Parse and enrich every record of a batch: (events, dead letters, records skipped
        because they are no events, such as W3C headers)."""
        now = datetime.now(UTC)
        ingested = format_ts(now)
        ctx = ParseContext(tz=self.config.tz, now=now, source=source.name)
        bound = self.inventory.systems.get(source.system) if source.system else None
        enrich = self.inventory.enrich
        events: list[Event] = []
        dead: list[DeadLetter] = []
        keep = self.keep_original and source.original
        skipped = 0
        stream = ""
        for record in batch.records:
            path = record.fields.get("log.file.path", "")
            if path != stream:  # parsers keep state per file (IIS #Fields, auditd serials)
                stream = path
                ctx = replace(ctx, stream=path)
            try:
                event = parse_record(parser, record, ctx, keep_original=keep, ingested=ingested)
            except SkipRecord:
                skipped += 1
                continue
            except Exception as exc:  # noqa: BLE001 - any parser failure is a dead letter
                reason = str(exc) if isinstance(exc, SocError) else f"{type(exc).__name__}: {exc}"
                dead.append(DeadLetter(
                    id=record.id, source=source.name, origin=record.origin, reason=reason,
                    raw=_raw(record), received=ingested,
                    parser=parser.name, fields=tuple(record.fields.items()),
                ))
                continue
            enrich(event, bound)
            events.append(event)
        return events, dead, skipped


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while one batch is parsed and stored.

    A batch allocates tens of thousands of dicts and lists that refcounting frees; with the
    collector on, its young generation is scanned every 700 allocations and the events still in
    the batch are promoted and scanned again (3-5 % of a line's instructions). The count of
    tracked objects still alive keeps growing while paused (the batch's events, and any cycle
    made in it, such as a parser's exception), so the first allocation after the batch runs
    the collection it missed: those cycles are freed then, once per batch."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _raw(record: RawRecord) -> bytes:
    """What a dead letter keeps of a record: its text, or the collector's pre-built event."""
    if record.text or record.event is None:
        return record.text.encode("utf-8", "surrogateescape")
    return orjson.dumps(record.event, default=str)


ERROR_CHARS = 500
"""How much of an unexpected exception's message a source's error keeps (one line)."""


def unexpected(exc: Exception, source: str) -> tuple[str, str]:
    """A source's error and hint for an exception no layer turned into a :class:`SocError`
    (an ``OverflowError`` from the store driver, a ``MemoryError``, a plugin's bug): one line,
    so that ``soc status`` and the pass report can show it."""
    text = " ".join(str(exc).split())
    if len(text) > ERROR_CHARS:
        text = text[:ERROR_CHARS] + "..."
    error = f"unexpected {type(exc).__name__}: {text}" if text else \
        f"unexpected {type(exc).__name__}"
    hint = (f"The other sources are not affected; this one stays at its last checkpoint. Run "
            f"'soc --traceback collect -s {source}' to see where it fails, and report it.")
    return error, hint


def _safe_lag(collector: Collector) -> dict[str, Any]:
    try:
        return dict(collector.lag())
    except Exception:  # noqa: BLE001 - lag is informative only
        return {}
