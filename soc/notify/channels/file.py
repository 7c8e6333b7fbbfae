"""Append each message as one JSON line to a file: the demo's channel, a test double with no
mock in it, and an audit of what would have been sent."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soc.notify.channels._options import Options, document, failure
from soc.notify.model import Message
from soc.notify.render import render

KEYS = {"type", "path", "flavour", "templates"}


class FileChannel:
    type = "file"

    def __init__(self, name: str, spec: Mapping[str, Any], base_dir: Path | None) -> None:
        o = Options(name, spec, base_dir)
        o.check_keys(KEYS)
        self.name = name
        path = o.file("path", required=True)
        assert path is not None
        self.path = path
        self.flavour = o.choice("flavour", ("text", "telegram", "slack", "mattermost", "teams",
                                            "cef"), "text")
        self.templates = o.file("templates")

    def send(self, message: Message) -> str:
        r = render(message, flavour=self.flavour, templates=self.templates)
        doc = {"channel": self.name, **document(message, r.subject, r.text)}
        if r.markup is not None:
            doc["markup"] = r.markup
        line = json.dumps(doc, ensure_ascii=False, default=str) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))  # one write: lines never interleave
            finally:
                os.close(fd)
        except OSError as exc:
            raise failure(self, f"cannot write {self.path}: {exc.strerror}",
                          "Check path and the permissions of its folder") from None
        return f"appended to {self.path.name}"
