"""The types shared by the notify stage: a message, the channel protocol and its one error.

Kept apart from the dispatcher and the channels so both sides can import it without importing
each other. ``build_channel`` (a channel from its config mapping) lives in
:mod:`soc.notify.channels`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from soc.errors import SocError

__all__ = ["Channel", "DeliveryError", "Message"]


@dataclass(frozen=True)
class Message:
    """One notification to deliver on one channel."""

    key: str  # idempotency key, stable across retries and re-sends
    kind: str  # "alert.new", "alert.grown", ..., "digest", "escalation", "test"
    severity: str  # "informational"|"low"|"medium"|"high"|"critical" ("" when none)
    created: str  # ISO 8601 UTC, when the change that caused it happened
    context: Mapping[str, Any]  # what the templates render ({"alert": {...}, "age": ..., ...})
    attempt: int = 1


class DeliveryError(SocError):
    """A channel refused or could not be reached.

    ``retryable=False`` for a permanent refusal (4xx except 408/429, bad credentials, bad
    recipient); ``retry_after`` (seconds) when the far end said how long to wait.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint or None)
        self.retryable = retryable
        self.retry_after = retry_after


class Channel(Protocol):
    """Somewhere a message can be sent: a webhook, a mailbox, a chat."""

    name: str
    type: str

    def send(self, message: Message) -> str:
        """Deliver ``message``; return a short receipt (e.g. "HTTP 200"). Raises DeliveryError."""
        ...

