"""What the console's TestClient suites share (tests/test_web_{app,pages,incidents}.py): the
test users' passwords, a clock the tests move by hand (no test depends on today's date), the
CSRF token of a page, and a seeded console (:class:`Site`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from soc.config import Config
from soc.stores.base import Store, open_store
from soc.web.app import create_app


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


@dataclass
class Site:
    """A console over a seeded store: its configuration, clock and the ids of the seeded
    alerts; the store is the one ``config`` names (embedded or Elasticsearch)."""

    config: Config
    clock: Clock
    alerts: dict[str, str]

    def app(self, **options: Any) -> Any:
        return create_app(self.config, clock=self.clock, **options)

    def client(self, **options: Any) -> TestClient:
        return TestClient(self.app(**options), follow_redirects=False)

    def store(self) -> Store:
        return open_store(self.config)
