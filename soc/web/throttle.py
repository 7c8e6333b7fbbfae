"""Login throttling: exponential back-off per account name and per client address.

After :data:`FREE_FAILURES` failed logins in a row, a name (or an address) must wait before
its next try: 1 s, then twice as long after each further failure, at most :data:`CAP`. A
success resets the name's and the address's counters; a key left alone for :data:`FORGET` is
forgotten. Counting both keys stops one address guessing many names and many addresses
guessing one name. Memory is bounded: the least recently touched keys go beyond
:data:`MAX_KEYS`. Time comes from an injected clock, so tests need no sleeps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FREE_FAILURES = 5
"""Failures in a row allowed without a wait."""
FIRST = 1.0
"""Seconds to wait after the failure that ends the free ones."""
CAP = 15 * 60.0
"""The longest wait, in seconds."""
FORGET = timedelta(days=1)
"""A key with no failure for this long starts over."""
MAX_KEYS = 10_000
"""Keys remembered at most (names and addresses together)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Count:
    failures: int
    last: datetime  # the newest failure
    until: datetime  # no try before this


def delay(failures: int) -> float:
    """Seconds to wait after ``failures`` failures in a row."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(FIRST * 2.0 ** min(failures - FREE_FAILURES, 32), CAP)


class LoginThrottle:
    """Failed-login counters per name and per address (thread-safe, bounded)."""

    def __init__(self, clock: Callable[[], datetime] = utc_now, *,
                 max_keys: int = MAX_KEYS) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._counts: OrderedDict[tuple[str, str], _Count] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, name: str, address: str) -> float:
        """Seconds still to wait before this name may try from this address (0: now)."""
        now = self.clock()
        with self._lock:
            counts = [self._current(key, now) for key in _keys(name, address)]
        return max([(c.until - now).total_seconds() for c in counts if c] + [0.0])

    def failed(self, name: str, address: str) -> None:
        """Count a failed login of ``name`` from ``address``."""
        now = self.clock()
        with self._lock:
            for key in _keys(name, address):
                count = self._current(key, now)
                failures = count.failures + 1 if count else 1
                self._counts[key] = _Count(failures, now, now + timedelta(seconds=delay(failures)))
                self._counts.move_to_end(key)
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)

    def succeeded(self, name: str, address: str) -> None:
        """A login of ``name`` from ``address`` succeeded: both start over."""
        with self._lock:
            for key in _keys(name, address):
                self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)

    def _current(self, key: tuple[str, str], now: datetime) -> _Count | None:
        count = self._counts.get(key)
        if count is not None and now - count.last >= FORGET:
            del self._counts[key]
            return None
        return count


def _keys(name: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("name", name.strip().casefold()), ("address", address)
