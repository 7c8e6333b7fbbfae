"""What the console's TestClient suites share (tests/test_web_{app,pages,incidents}.py): the
test users' passwords, a clock the tests move by hand (no test depends on today's date), and
the CSRF token of a page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta


def password(name: str) -> str:
    """The password the suites give the user ``name`` (long enough for the policy)."""
    return f"{name} has a long passphrase"


class Clock:
    """The console's clock, moved by the tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def csrf_of(html: str) -> str:
    """The ``csrf`` hidden field of a page's form."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)
