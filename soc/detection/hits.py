"""What the engine emits when a rule matches an event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from soc.ecs import Event
from soc.models import Severity


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule matched an event: the rule's identity, the event, and the fields that matched."""

    rule_id: str
    title: str
    level: Severity | None
    tags: tuple[str, ...]
    event: Event = field(repr=False)
    fields: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def attack_tags(self) -> tuple[str, ...]:
        """The ATT&CK tags (``attack.*``) of the rule."""
        return tuple(t for t in self.tags if t.startswith("attack."))

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "title": self.title,
                "level": self.level.value if self.level else None, "tags": list(self.tags),
                "fields": self.fields, "event": self.event}


def severity(level: str | None) -> Severity | None:
    """The Severity of a Sigma level name (None when the rule has none)."""
    if level is None:
        return None
    try:
        return Severity(level)
    except ValueError:
        return None
