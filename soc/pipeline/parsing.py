"""Choosing a parser and turning one raw record into a complete event.

The pipeline asks :func:`get_parser` for a parser by name (``auto`` detects the format line by
line) and calls :func:`parse_record` for every record. Parsers are plugins (``soc.parsers``),
so this module never imports ``collectors``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from ahocorasick_rs import AhoCorasick

from soc import registry
from soc.ecs import Event, TooBig, bound_event, now_ts
from soc.errors import ParseError, SkipRecord, SocError
from soc.pipeline.sources import ParseContext, Parser, RawRecord

REQUIRED = ("@timestamp", "event.dataset")
"""What every parser must produce; the pipeline adds the rest of :data:`soc.ecs.ALWAYS`."""


class Claims:
    """Whether a parser more specific than a carrier claims a line, in one scan.

    Sniffing each of 30 device parsers on every generic syslog line costs 30 calls; most lines
    are claimed by none. Parsers declare ``markers`` (texts one of which is in every line their
    ``sniff`` accepts): one Aho-Corasick scan finds the markers a line holds, and only the
    parsers owning one are sniffed. Parsers without markers are sniffed on every line.
    """

    __slots__ = ("_automaton", "_owners", "_unmarked")

    def __init__(self, parsers: Sequence[Parser]) -> None:
        self._unmarked: list[Callable[[str], bool]] = [
            p.sniff for p in parsers if not getattr(p, "markers", ())]
        owners: dict[str, list[Callable[[str], bool]]] = {}
        for p in parsers:
            for marker in getattr(p, "markers", ()):
                if p.sniff not in owners.setdefault(marker, []):
                    owners[marker].append(p.sniff)
        self._owners = list(owners.values())
        self._automaton = AhoCorasick(list(owners)) if owners else None

    def __call__(self, text: str) -> bool:
        for sniff in self._unmarked:  # a plain loop: cheaper than any()
            if sniff(text):
                return True
        if self._automaton is None:
            return False
        found = self._automaton.find_matches_as_indexes(text, overlapping=True)
        if not found:
            return False
        tried: set[Callable[[str], bool]] = set()
        for index, *_ in found:
            for owner in self._owners[index]:
                if owner not in tried:
                    tried.add(owner)
                    if owner(text):
                        return True
        return False


class AutoParser:
    """Picks the parser per line: the last one that worked first, then every parser whose
    ``sniff`` accepts the line, in priority order. Keeps state: one instance per source."""

    name: ClassVar[str] = "auto"
    priority: ClassVar[int] = 0

    def __init__(self, parsers: Sequence[Parser]) -> None:
        self.parsers = list(parsers)
        self.last: Parser | None = None
        self._before: Claims | None = None  # the parsers more specific than ``last`` when it
        # is a carrier format: they get first say
        self._generic: str | None = None  # ``last``'s generic dataset, when it declares one

    def _remember(self, parser: Parser) -> None:
        if parser is not self.last:
            self.last = parser
            # Only a container format (syslog framing, JSON lines: ``carrier = True``) carries
            # lines that a more specific parser should take; after a specific parser (an access
            # log, an ASA line) nothing needs to be sniffed before it, which keeps the hot path
            # at one parse per line.
            before = [p for p in self.parsers if p.priority < parser.priority]
            self._before = (Claims(before) if before and getattr(parser, "carrier", False)
                            else None)
            self._generic = (getattr(parser, "generic_dataset", None)
                             if self._before is not None else None)

    def _claimed(self, text: str) -> bool:
        """Whether a parser more specific than the last one claims the line."""
        return self._before is not None and self._before(text)

    def sniff(self, text: str) -> bool:
        """Whether any parser might take the line."""
        return any(p.sniff(text) for p in self.parsers)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """Parse with the first parser that succeeds; :class:`ParseError` naming each one tried."""
        last = self.last
        reasons: dict[str, str] = {}
        if last is not None and self._generic is not None:
            # A carrier that names its generic dataset parses first; only a line it leaves
            # generic is offered to the more specific parsers (an ASA line in a file of sshd
            # lines must not stay generic syslog, and an sshd line is never an ASA one). A
            # claimed line goes through the loop below, the carrier last among equals.
            try:
                event = last.parse(text, ctx)
            except SkipRecord:
                raise
            except ParseError as exc:
                reasons[last.name] = exc.message
            else:
                if event.get("event.dataset") != self._generic or not self._claimed(text):
                    return event
            last = None
        # The last parser that worked goes first, unless a more specific one claims the line
        # (an ASA line in a file of sshd lines must not stay generic syslog).
        if last is not None and not self._claimed(text):
            try:
                return last.parse(text, ctx)
            except SkipRecord:
                raise
            except ParseError as exc:
                reasons[last.name] = exc.message
        for parser in self.parsers:
            if parser.name in reasons:
                continue
            if not parser.sniff(text):
                reasons[parser.name] = ""
                continue
            try:
                event = parser.parse(text, ctx)
            except SkipRecord:
                self._remember(parser)
                raise
            except ParseError as exc:
                reasons[parser.name] = exc.message
                continue
            self._remember(parser)
            return event
        tried = ", ".join(f"{n} ({r})" if r else n for n, r in reasons.items())
        raise ParseError(f"no parser recognises this line (tried: {tried})")


def get_parser(name: str) -> Parser:
    """The parser registered as ``name``, or a new :class:`AutoParser` over all of them for
    ``auto``. Named parsers are shared instances; an unknown name raises :class:`SocError`."""
    found = registry.parsers()
    if name == "auto":
        return AutoParser(list(found.values()))
    if name not in found:
        known = ", ".join(["auto", *found])
        raise SocError(f"no parser named {name!r} (known: {known})",
                       hint="Use one of the known names, or 'auto' to detect the format.")
    parser: Parser = found[name]
    return parser


def parse_record(
    parser: Parser,
    record: RawRecord,
    ctx: ParseContext,
    keep_original: bool = True,
    ingested: str | None = None,
) -> Event:
    """Parse ``record`` and complete the event for the store.

    A record that carries an event its collector built (:attr:`RawRecord.event`) is not
    parsed: that event is checked and completed in place. Adds ``event.id`` (``record.id``),
    ``event.original`` (the text, when there is one and ``keep_original`` is true),
    ``event.ingested`` (``ingested``, a canonical timestamp the caller computes once per batch;
    now if None) and ``record.fields`` for the keys the event does not set itself.
    Holds the event to the bounds of :func:`soc.ecs.bound_event` (over-long values cut).
    Raises :class:`ParseError` when the parser does, when the event lacks ``@timestamp`` or
    ``event.dataset``, or when it is past those bounds (too many fields, too deep).
    """
    event = record.event
    if event is None:
        event = parser.parse(record.text, ctx)
        if not (event.get("@timestamp") and event.get("event.dataset")):
            _check(event, f"parser {parser.name!r} gave")
    else:
        _check(event, "the collector's event has")
    try:
        bound_event(event)  # event.original, added below, is bounded by the collector's line
    except TooBig as exc:
        raise ParseError(f"{exc} (see the bounds in docs/security.md)") from None
    for key, value in record.fields.items():
        if key not in event:  # the parser knows better than the transport
            event[key] = value
    event["event.id"] = record.id
    if keep_original and record.text:
        event["event.original"] = record.text
    event["event.ingested"] = ingested or now_ts()
    return event


def _check(event: Event, who: str) -> None:
    if not (event.get("@timestamp") and event.get("event.dataset")):
        missing = [key for key in REQUIRED if not event.get(key)]
        raise ParseError(f"{who} no {' and no '.join(missing)}")
