"""The channels a notification can go out on, one module each, built from their config.

``notify.channels.<name>: {type: <type>, ...options}``; the options of each type are in
docs/notifications.md. Secrets are revealed only while sending and never appear in an error,
a receipt or a log line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from soc.errors import ConfigError
from soc.notify.model import Channel

Builder = Callable[[str, Mapping[str, Any], Path | None], Channel]


def _builders() -> dict[str, Builder]:
    from soc.notify.channels.command import CommandChannel
    from soc.notify.channels.email import EmailChannel
    from soc.notify.channels.file import FileChannel
    from soc.notify.channels.syslog import SyslogChannel
    from soc.notify.channels.telegram import TelegramChannel
    from soc.notify.channels.webhook import WebhookChannel

    return {"email": EmailChannel, "telegram": TelegramChannel, "webhook": WebhookChannel,
            "syslog": SyslogChannel, "command": CommandChannel, "file": FileChannel}


TYPES = ("email", "telegram", "webhook", "syslog", "command", "file")


def build_channel(name: str, spec: Mapping[str, Any], *, base_dir: Path | None = None) -> Channel:
    """A channel from its config mapping (``type:`` + options; Secret values revealed only
    when sending). ConfigError (with ``notify.channels.<name>: ...``) for a bad spec."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"notify.channels.{name} must be a mapping, not "
                          f"{type(spec).__name__}")
    kind = spec.get("type")
    builders = _builders()
    if kind not in builders:
        raise ConfigError(f"notify.channels.{name}: unknown type {kind!r} "
                          f"(known: {', '.join(TYPES)})")
    return builders[str(kind)](name, spec, base_dir)
