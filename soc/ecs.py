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
