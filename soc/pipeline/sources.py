"""What collectors and parsers exchange with the pipeline.

A collector yields :class:`Batch` es of :class:`RawRecord` s and is told to commit a batch's
checkpoint only after the store has committed its events. A parser turns one record's text into an
event; a collector that already holds the event (the network sensor) hands it over in
:attr:`RawRecord.event` instead. Both are plugins (entry point groups ``soc.collectors`` and
``soc.parsers``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from soc.ecs import Event
from soc.models import DeadLetter

if TYPE_CHECKING:
    from soc.config import Config, Source
    from soc.state import StateStore


@dataclass(slots=True)
class RawRecord:
    """One record as read: its text, its deterministic id, and what the transport knows of it.

    ``event``: an event the collector built itself (a flat ECS dict with at least
    ``@timestamp`` and ``event.dataset``). The pipeline then uses it instead of parsing
    ``text`` and completes it in place (the collector gives it away); ``text`` may be empty,
    and only a non-empty one becomes ``event.original``.
    """

    text: str
    id: str
    fields: dict[str, Any] = field(default_factory=dict)  # log.file.path, log.offset, host.name...
    origin: str = ""  # where it came from, for people: "path:offset", "udp 10.0.0.1:514"
    event: Event | None = None  # pre-built by the collector: no parsing


@dataclass(slots=True)
class Batch:
    """Records read together, the dead letters met while reading them, and the checkpoint that
    holds once all of them are stored."""

    records: list[RawRecord]
    checkpoint: Any
    dead_letters: list[DeadLetter] = field(default_factory=list)
    parser: str | None = None  # a parser the collector knows fits (e.g. from the file's format)


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser needs beyond the text: the zone of local times and the year they lack."""

    tz: tzinfo
    now: datetime  # aware; reference for year inference of syslog timestamps
    source: str = ""
    hostname: str | None = None
    stream: str = ""  # the stream within the source (a file path) that the record comes from

    @property
    def key(self) -> str:
        """Key for parser state kept per stream (IIS ``#Fields:`` layouts, auditd serials)."""
        return f"{self.source}\x1f{self.stream}"


class Parser(Protocol):
    """Turns the text of one record into an event (a flat ECS dict).

    ``parse`` returns at least ``@timestamp`` (canonical, see :func:`soc.ecs.format_ts`) and
    ``event.dataset``; it raises :class:`soc.errors.ParseError` with a reason otherwise. The
    pipeline adds ``event.id``, ``event.original``, ``event.ingested`` and the inventory fields.
    """

    name: ClassVar[str]
    priority: ClassVar[int]  # lower is tried first by auto-detection
    # Optional ``carrier: ClassVar[bool] = True`` marks a container format (syslog framing, JSON
    # lines) whose lines a more specific parser may claim: auto-detection then sniffs those first.
    # A carrier may also set ``generic_dataset: ClassVar[str]`` (syslog: ``"syslog"``): it then
    # parses first, and only its events of that dataset are offered to the specific parsers.
    # Optional ``markers: ClassVar[tuple[str, ...]]``: texts one of which is in every line whose
    # ``sniff`` is true. A carrier's lines are then offered to this parser only when one scan for
    # all the markers finds one of its own (:class:`soc.pipeline.parsing.Claims`); a parser
    # without markers is sniffed on every such line.

    def sniff(self, text: str) -> bool:
        """Cheap check: could this line be in my format? Used by auto-detection."""
        ...

    def parse(self, text: str, ctx: ParseContext) -> Event: ...


@runtime_checkable
class Collector(Protocol):
    """Reads one configured source from its checkpoint onwards."""

    def __init__(self, source: Source, state: StateStore, config: Config) -> None: ...

    def batches(self, size: int) -> Iterator[Batch]:
        """Batches of at most ``size`` records from the last committed checkpoint."""
        ...

    def commit(self, batch: Batch) -> None:
        """Make ``batch.checkpoint`` durable. Called only after the store committed the batch."""
        ...

    def lag(self) -> dict[str, Any]:
        """What is left to read (e.g. ``{"bytes": 1234, "files": 2}``), for ``soc status``."""
        ...
