"""What one read of a feed gives: the indicators, what was skipped and why, and the cursor the
next increment starts from. Every feed reader returns it, so ``soc intel pull`` stores, reports
and dead-letters the same way whatever the feed's format."""

from __future__ import annotations

from dataclasses import dataclass, field

from soc.intel.model import Indicator


@dataclass
class FeedResult:
    """``skipped`` holds ``(what, reason)`` pairs: what names the record (an object id, a row
    number, an attribute uuid) so that the report can point at it. ``cursor`` is opaque to the
    caller, who keeps it for the feed and hands it back on the next pull (None: no increment)."""

    indicators: list[Indicator] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cursor: str | None = None
