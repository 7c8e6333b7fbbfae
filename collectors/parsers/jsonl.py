"""JSON lines: one JSON object per line → a flat ECS event.

Nested objects become dotted keys (``{"source": {"ip": "1.2.3.4"}}`` → ``source.ip``); keys that are
already dotted pass through, arrays stay lists. ``@timestamp`` is normalised to the canonical form,
taken from the first of :data:`TIME_KEYS` present. ``event.dataset`` is kept, else the record
is recognised as a native export (:mod:`collectors.parsers.natives`: CloudTrail, Azure, GCP,
Microsoft 365, Okta, GitHub, Kubernetes audit, Zeek, OpenCanary, macOS...), which names the
dataset and the time and adds ECS fields beside the native ones, else guessed by
:attr:`JsonLinesParser.detectors`, else ``json``; a dataset with an entry in
:attr:`JsonLinesParser.refiners` is then refined (the place for Winlogbeat, Suricata EVE...).
A whole export file on one line (``{"Records": [...]}``) is a :class:`ParseError` that says how
to split it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from collectors.parsers import generic
from soc import jsonutil
from soc.ecs import MAX_DEPTH, Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

if TYPE_CHECKING:
    from collectors.parsers.jsonnative import NativeFormat

TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "TimeCreated", "EventTime")
"""Where the time of an event is looked for, in order."""

Refiner = Callable[[Event, ParseContext], None]
Detector = Callable[[Event], str | None]


def is_field_name(key: str) -> bool:
    """No empty part between dots (``""``, ``".a"``, ``"a."``, ``"a..b"``): no store takes
    such a name (Elasticsearch refuses the document)."""
    return bool(key) and key[0] != "." and key[-1] != "." and ".." not in key


def flatten(obj: dict[str, Any], prefix: str = "", out: Event | None = None,
            depth: int = 1) -> Event:
    """Nested objects → dotted keys; lists and scalars kept as they are, empty objects dropped.
    :class:`ParseError` past :data:`~soc.ecs.MAX_DEPTH` levels of objects."""
    if depth > MAX_DEPTH:
        raise ParseError(f"JSON objects nested deeper than {MAX_DEPTH} levels")
    flat: Event = {} if out is None else out
    for key, value in obj.items():
        if not is_field_name(key):
            raise ParseError(f"{(prefix + key)[:80]!r} is no field name: a part between dots "
                             "is empty")
        if isinstance(value, dict):
            flatten(value, f"{prefix}{key}.", flat, depth + 1)
        else:
            flat[prefix + key] = value
    return flat


def to_timestamp(value: object, naive_tz: tzinfo) -> str:
    """An ISO 8601 string, or epoch seconds/milliseconds/micro/nanoseconds (number or numeric
    string) → canonical. Naive ISO times are taken to be in ``naive_tz``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return _from_epoch(float(text))
        except ValueError:
            return _from_iso(text, naive_tz)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(float(value))
    raise ParseError(f"timestamp is a {type(value).__name__}, not a string or number")


def _from_epoch(value: float) -> str:
    for limit in (1e11, 1e14, 1e17):  # above: milli-, micro-, nanoseconds
        if abs(value) < limit:
            break
        value /= 1000
    try:
        return format_ts(datetime.fromtimestamp(value, UTC))
    except (OverflowError, OSError, ValueError):
        raise ParseError(f"epoch timestamp out of range: {value}") from None


def _from_iso(text: str, naive_tz: tzinfo) -> str:
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=naive_tz))
    except (ValueError, OverflowError):  # overflow: before year 1 or after 9999 in UTC
        raise ParseError(f"bad timestamp {text[:40]!r}") from None


class JsonLinesParser:
    """One JSON object per line → a flat event."""

    name: ClassVar[str] = "jsonl"
    priority: ClassVar[int] = 10
    markers: ClassVar[tuple[str, ...]] = ("{",)  # see Parser.markers
    carrier: ClassVar[bool] = True  # JSON lines may hold Suricata EVE or Windows events
    refiners: ClassVar[dict[str, Refiner]] = {generic.DATASET: generic.refine_json}
    """``event.dataset`` → a function adding that dataset's fields to the event in place."""
    detectors: ClassVar[list[Detector]] = [generic.json_dataset]
    """Tried in order on events without ``event.dataset``: the first non-None answer is it."""

    def sniff(self, text: str) -> bool:
        """Starts with ``{`` (after blanks)."""
        return text.lstrip()[:1] == "{"

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` for invalid JSON, a non-object or no time."""
        try:
            obj = jsonutil.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
        except ValueError as exc:  # nested too deeply, or a number past int()'s 4300 digits
            raise ParseError(f"invalid JSON: {str(exc).split(':')[0]}") from None
        if not isinstance(obj, dict):
            raise ParseError(f"not a JSON object but {_kind(obj)}")
        _check_bundle(obj)
        ev = flatten(obj)
        native: NativeFormat | None = None
        dataset = ev.get("event.dataset")
        if not isinstance(dataset, str) or not dataset:
            native, found = _native(ev)
            dataset = ev["event.dataset"] = found or self._detect(ev)
        ev["@timestamp"] = self._timestamp(ev, ctx, native)
        ev.setdefault("event.module", dataset.split(".", 1)[0])
        if native is not None:
            native.refine(ev, ctx)
        refine = self.refiners.get(dataset)
        if refine is not None:
            refine(ev, ctx)
        return ev

    def _detect(self, ev: Event) -> str:
        for detect in self.detectors:
            found = detect(ev)
            if found:
                return found
        return "json"

    @staticmethod
    def _timestamp(ev: Event, ctx: ParseContext, native: NativeFormat | None = None) -> str:
        """A native export's own time keys first (naive = UTC, or ``ctx.tz`` for its local
        ones), then ``@timestamp`` (naive = UTC, as ECS means it) or an alternative (naive =
        ``ctx.tz``)."""
        if native is not None:
            for keys, tz in ((native.time_keys, UTC), (native.local_time_keys, ctx.tz)):
                for key in keys:
                    value = ev.get(key)
                    if value is not None and value != "":
                        return to_timestamp(value, tz)
        for key in TIME_KEYS:
            value = ev.get(key)
            if value is not None and value != "":
                return to_timestamp(value, UTC if key == "@timestamp" else ctx.tz)
        raise ParseError(f"no timestamp (looked for {', '.join(TIME_KEYS)})")


@cache
def native_formats() -> tuple[NativeFormat, ...]:
    """The native exports (:mod:`collectors.parsers.natives`), imported on first use: their
    modules import this one."""
    from collectors.parsers.natives import FORMATS

    return FORMATS


def _native(ev: Event) -> tuple[NativeFormat | None, str | None]:
    """The native export a record without ``event.dataset`` comes from, and its dataset."""
    for native in native_formats():
        found = native.detect(ev)
        if found:
            return native, found
    return None, None


BUNDLES = {"Records": "CloudTrail's S3 files", "records": "Azure's storage and Event Hub records"}


def _check_bundle(obj: dict[str, Any]) -> None:
    """A whole export file on one line (``{"Records": [...]}``) is no event: say how to split
    it, rather than store one event holding every record."""
    for key, what in BUNDLES.items():
        if len(obj) == 1 and isinstance(obj.get(key), list):
            raise ParseError(f"a {{\"{key}\": [...]}} bundle ({what}), not one record: "
                             f"split it into one record per line, e.g. jq -c '.{key}[]'")


def _kind(obj: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(obj), type(obj).__name__)
