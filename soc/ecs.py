"""Event conventions: flat dicts keyed by ECS dotted names, UTC timestamps, deterministic ids."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]
"""An event: a flat dict keyed by ECS dotted names (``source.ip``, ``winlog.event_data.User``)."""

ALWAYS = ("@timestamp", "event.id", "event.dataset", "event.module", "event.ingested")


def format_ts(dt: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``: ``2026-11-24T08:15:00.123Z``.

    A naive datetime is taken to be UTC already.
    """
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}.{dt.microsecond // 1000:03d}Z"
    )


def parse_ts(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or an offset; naive = UTC) into an aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def normalize_ts(value: str) -> str:
    """Any ISO 8601 timestamp → the canonical form of :func:`format_ts`."""
    return format_ts(parse_ts(value))


def now_ts() -> str:
    return format_ts(datetime.now(UTC))


def event_id(*parts: object) -> str:
    """A deterministic event id from the identity of the record (source identity and position).

    The same record read twice gets the same id, so a re-read after a crash writes nothing new.
    """
    key = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogateescape")
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def day_of(ts: str) -> str:
    """The UTC day (``YYYY-MM-DD``) of a canonical timestamp."""
    return ts[:10]


# --- bounds on what an input controls ------------------------------------------------------------

MAX_FIELDS = 2000
"""Fields an event may have (nested objects' keys included); more makes it a dead letter. The
widest real records (Suricata stats) hold a few hundred; the Elasticsearch store's index allows
5000 fields in all."""
MAX_DEPTH = 20
"""How deep objects and arrays may nest in an event; deeper makes it a dead letter.
Elasticsearch's default ``index.mapping.depth.limit``."""
MAX_KEY_CHARS = 1024
"""Characters of a field name; a longer one makes the event a dead letter."""
MAX_VALUE_BYTES = 128 << 10
"""UTF-8 bytes of a text value; a longer one is cut (see :func:`bound_event`). Well above the
longest real values (PowerShell logs a script block in parts of about 32 thousand characters)."""
MAX_ITEMS = 1000
"""Items of one array; the rest are cut."""
TRUNCATED = "truncated"
"""The ``log.flags`` entry of an event some value of which was cut."""
_SAFE_CHARS = MAX_VALUE_BYTES // 4  # no text this short can exceed MAX_VALUE_BYTES in UTF-8


class TooBig(ValueError):
    """An event past :data:`MAX_FIELDS`, :data:`MAX_DEPTH` or :data:`MAX_KEY_CHARS`."""


def bound_event(event: Event) -> bool:
    """Hold ``event`` to the bounds above, in place: over-long texts and arrays are cut (the
    text ends with ``…[truncated from N bytes]``, ``log.flags`` gets ``truncated``); too many
    fields, too deep a nesting or too long a field name raise :class:`TooBig`. Returns whether
    something was cut. Within the bounds it costs a type check a field: the hot path."""
    if len(event) > MAX_FIELDS:
        raise TooBig(f"event has {len(event)} fields, more than {MAX_FIELDS}")
    longest = max(map(len, event), default=0)
    if longest > MAX_KEY_CHARS:
        raise TooBig(f"field name of {longest} characters, more than {MAX_KEY_CHARS}")
    for value in event.values():
        kind = value.__class__
        if kind is str:
            if len(value) > _SAFE_CHARS:
                break
        elif kind is list:
            if len(value) > MAX_ITEMS or not _plain(value):
                break
        elif kind is dict:
            break
    else:
        return False
    return _walk(event)


def _walk(event: Event) -> bool:
    """:func:`bound_event` for an event with some long text, long array or nested value."""
    budget = _Budget(MAX_FIELDS - len(event))
    for key, value in event.items():
        event[key] = budget.item(value, key.count("."))
    if budget.cut:
        flags = event.get("log.flags")
        flags = [] if flags is None else list(flags) if isinstance(flags, list) else [flags]
        if TRUNCATED not in flags:
            event["log.flags"] = [*flags, TRUNCATED]
    return budget.cut


def _plain(items: list[Any]) -> bool:
    """Only short texts and scalars (the common array: ``event.category``, ``related.ip``)."""
    for item in items:
        kind = item.__class__
        if kind is str:
            if len(item) > _SAFE_CHARS:
                return False
        elif kind is list or kind is dict:
            return False
    return True


class _Budget:
    """What is left of the field budget while the values of one event are walked."""

    def __init__(self, fields: int) -> None:
        self.fields = fields
        self.cut = False

    def text(self, value: str) -> str:
        data = value.encode("utf-8", "surrogatepass")
        if len(data) <= MAX_VALUE_BYTES:
            return value
        self.cut = True
        head = data[:MAX_VALUE_BYTES].decode("utf-8", "ignore")  # no character split in two
        return f"{head}…[truncated from {len(data)} bytes]"

    def container(self, value: list[Any] | dict[str, Any], depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise TooBig(f"nested deeper than {MAX_DEPTH} levels")
        if value.__class__ is dict:
            self.fields -= len(value)
            if self.fields < 0:
                raise TooBig(f"event has more than {MAX_FIELDS} fields")
            if any(len(k) > MAX_KEY_CHARS for k in value):
                raise TooBig(f"a field name longer than {MAX_KEY_CHARS} characters")
            return {k: self.item(v, depth) for k, v in value.items()}
        items: list[Any] = value  # type: ignore[assignment]
        if len(items) > MAX_ITEMS:
            self.cut = True
            items = items[:MAX_ITEMS]
        return [self.item(v, depth) for v in items]

    def item(self, value: Any, depth: int) -> Any:
        kind = value.__class__
        if kind is str:
            return self.text(value) if len(value) > _SAFE_CHARS else value
        if kind is list or kind is dict:
            return self.container(value, depth + 1)
        return value
