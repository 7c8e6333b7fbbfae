"""A dispatcher process for the kill -9 test (tests/test_notify_crash.py): one run of
:func:`soc.notify.dispatch.run` with a minimal webhook channel over ``urllib``.

``python -m tests.notify_child DATA_DIR URL`` (a module, so the child runs the code under test,
not a copy of it)."""

from __future__ import annotations

import json
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from soc.config import Config
from soc.notify.dispatch import run
from soc.notify.model import Message
from soc.stores.sqlite import SQLiteStore

NOTIFY = {"channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1/"}},
          "routes": [{"channels": ["hook"]}]}


class Hook:
    """POSTs the message as JSON, its idempotency key in a header."""

    name = "hook"
    type = "webhook"

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, message: Message) -> str:
        body = json.dumps({"key": message.key, "kind": message.kind}).encode()
        req = urllib.request.Request(self.url, data=body, headers={
            "Content-Type": "application/json", "Idempotency-Key": message.key})
        with urllib.request.urlopen(req, timeout=60) as answer:
            return f"HTTP {answer.status}"


def main() -> None:
    data_dir, url = sys.argv[1:3]
    config = Config(path=None, data_dir=Path(data_dir),
                    raw=MappingProxyType({"notify": NOTIFY}))
    with SQLiteStore.open(config) as store:
        report = run(store, config, now=datetime.now(UTC), channels={"hook": Hook(url)})
    print(json.dumps(report.to_dict()))


if __name__ == "__main__":
    main()
