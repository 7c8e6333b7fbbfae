"""Typed domain objects. Events stay plain dicts (see soc.ecs)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """Alert severity, from the Sigma rule level."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not become an event, kept with the reason so it can be replayed."""

    id: str  # the id the event would have had: replaying it can never double it
    source: str
    origin: str  # "path:offset", "tcp 10.0.0.5:51514"...
    reason: str
    raw: bytes
    received: str  # canonical timestamp
    parser: str | None = None
    fields: tuple[tuple[str, Any], ...] = ()  # what the transport knew (log.file.path, ...)

    def text(self) -> str:
        return self.raw.decode("utf-8", "backslashreplace")

    def to_dict(self, *, raw_limit: int | None = 2000) -> dict[str, Any]:
        raw = self.raw if raw_limit is None else self.raw[:raw_limit]
        try:
            shown: str = raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            shown = base64.b64encode(raw).decode("ascii")
            encoding = "base64"
        return {
            "id": self.id, "source": self.source, "origin": self.origin, "reason": self.reason,
            "parser": self.parser, "received": self.received, "size": len(self.raw),
            "raw": shown, "raw_encoding": encoding, "truncated": len(raw) < len(self.raw),
        }
