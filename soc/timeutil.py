"""Durations and relative times as users type them: ``90s``, ``15m``, ``24h``, ``30d``, ``2w``."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

from soc.ecs import parse_ts

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> timedelta:
    """``'15m'`` → 15 minutes. A bare number is seconds. Raises ValueError on anything else."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(seconds=text)
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 24h, 7d, 2w)")
    unit = (m.group(2) or "s").lower()
    return timedelta(seconds=float(m.group(1)) * _UNITS[unit])


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A point in time: a duration back from now (``24h``) or an ISO 8601 timestamp/date."""
    now = now or datetime.now(UTC)
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_ts(text)
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use a duration back from now such as 24h or 7d, "
            "or an ISO date such as 2026-11-24T08:00:00Z)"
        ) from None


def format_duration(td: timedelta) -> str:
    """A short human form: ``3d4h``, ``15m``, ``42s``."""
    secs = int(td.total_seconds())
    if secs < 0:
        return "-" + format_duration(-td)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            parts.append(f"{secs // size}{unit}")
            secs %= size
    if secs or not parts:
        parts.append(f"{secs}s")
    return "".join(parts[:2])


def wait_event(event: threading.Event, seconds: float, *, step: float = 0.05) -> bool:
    """``event.wait(seconds)`` in short relative sleeps: True when the event was set.

    A timed wait on a lock turns the timeout into a deadline on the process's clock, which
    the kernel then measures on its own; when the two disagree (a clock moved by libfaketime,
    which the suite runs under a year ahead and back) the wait outlasts its timeout by the
    difference. Relative sleeps do not depend on the clocks agreeing."""
    deadline = time.monotonic() + seconds
    while not event.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(step, left))
    return True
