"""A log that a hostile peer cannot flood: per kind of line, a burst, then a count.

The daemon's problems come from outside (peers, the kernel's limits) and repeat as fast as the
outside repeats them: one line per refused connection or failed ``accept`` filled disks with
117,000 tracebacks in 15 seconds. Each kind of line (``key``) is logged ``burst`` times per
``period``; what is left out is counted and said in one line when the period is over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Window:
    start: float
    logged: int = 0
    left_out: int = 0


class RateLimitedLog:
    """``warning(key, msg, *args)`` / ``error(...)``: at most ``burst`` lines of one ``key``
    per ``period`` seconds (``clock``: monotonic seconds)."""

    def __init__(self, logger: logging.Logger, *, period: float = 60.0, burst: int = 5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.period = period
        self.burst = burst
        self.clock = clock
        self.windows: dict[str, _Window] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        self.log(logging.WARNING, key, msg, *args)

    def error(self, key: str, msg: str, *args: object) -> None:
        self.log(logging.ERROR, key, msg, *args)

    def log(self, level: int, key: str, msg: str, *args: object) -> None:
        """Log the line unless ``key`` had its burst in this period (then count it)."""
        now = self.clock()
        window = self.windows.get(key)
        if window is None or now - window.start >= self.period:
            if window is not None:
                self._summary(level, key, window, now)
            window = self.windows[key] = _Window(now)
        if window.logged < self.burst:
            window.logged += 1
            self.logger.log(level, msg, *args)
        else:
            window.left_out += 1

    def flush(self, level: int = logging.WARNING) -> None:
        """Say what was left out in the periods that are over (the daemon's housekeeping calls
        this, so that a count is not held back until the next line of its kind)."""
        now = self.clock()
        for key, window in list(self.windows.items()):
            if now - window.start >= self.period:
                self._summary(level, key, window, now)
                del self.windows[key]

    def _summary(self, level: int, key: str, window: _Window, now: float) -> None:
        if window.left_out:
            self.logger.log(level, "%s: %d more line(s) like these in the last %.0fs", key,
                            window.left_out, now - window.start)
