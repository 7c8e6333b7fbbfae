"""What every channel needs: its options read with precise errors, secrets kept out of every
message, and TLS contexts that verify certificates.

Secrets (``{$env: NAME}``, ``{$file: path}``) stay :class:`~soc.config.Secret` objects until a
message is sent. Every error a channel raises goes through :func:`scrub`, which replaces each
revealed secret with ``***``, and names servers by ``host:port`` only (the path and query of an
incoming-webhook URL are its password).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from soc.config import Secret, _Reader
from soc.errors import ConfigError
from soc.notify.model import DeliveryError

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class Options(_Reader):
    """One channel's mapping: ``notify.channels.<name>: ...`` in every error."""

    def __init__(self, name: str, spec: Mapping[str, Any], base_dir: Path | None) -> None:
        data = spec if isinstance(spec, dict) else dict(spec)  # a YAML node keeps its lines
        super().__init__(data, None, f"notify.channels.{name}")
        self.name = name
        self.base_dir = base_dir

    def secret(self, key: str, *, required: bool = False) -> Secret | str | None:
        """A secret option: a ``Secret``, or (discouraged) text written in clear."""
        value = self.get(key, (Secret, str), None, required=required)
        return value if value != "" else None

    def number(self, key: str, default: float, *, low: float = 0.001) -> float:
        value = float(self.get(key, (int, float), default))
        if value < low:
            raise self.error(f"{self.what}: '{key}' must be at least {low}", self.line_of(key))
        return value

    def choice(self, key: str, choices: Iterable[str], default: str) -> str:
        allowed = tuple(choices)
        value = str(self.get(key, str, default))
        if value not in allowed:
            raise self.error(f"{self.what}: '{key}' must be one of {', '.join(allowed)}, "
                             f"not {value!r}", self.line_of(key))
        return value

    def file(self, key: str, *, required: bool = False) -> Path | None:
        value = self.get(key, str, None, required=required)
        if value is None:
            return None
        p = Path(value).expanduser()
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        return p

    def url(self, key: str = "url") -> Secret | str:
        """An http(s) URL (a ``Secret`` is checked when sent: its text is unknown here)."""
        value = self.secret(key, required=True)
        assert value is not None
        if isinstance(value, str):
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise self.error(f"{self.what}: '{key}' must be an http:// or https:// URL",
                                 self.line_of(key))
        return value


def reveal(value: Secret | str | None) -> str:
    return "" if value is None else value.reveal() if isinstance(value, Secret) else value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (of 4 characters or more) replaced by ``***``."""
    for s in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def where(url: str) -> str:
    """``host:port`` of a URL, never its user, path or query."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def tls_context(ca_file: Path | None, *, verify: bool = True) -> ssl.SSLContext:
    """A client context that verifies the server's certificate and name (against ``ca_file``
    when given: a private CA), unless ``verify`` is false."""
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot read ca_file {ca_file}: {exc}",
                          hint="Point ca_file at the PEM file of the CA that signed the "
                               "server's certificate.") from exc
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def failure(channel: Any, what: str, hint: str, *, retryable: bool = True,
            retry_after: float | None = None, secrets: Iterable[str] = ()) -> DeliveryError:
    """A one-line :class:`DeliveryError` naming the channel, with every secret scrubbed."""
    hidden = list(secrets)
    message = scrub(f"{channel.type} channel {channel.name}: {what}", hidden)
    message = " ".join(message.split())
    full_hint = scrub(f"{hint} (notify.channels.{channel.name})", hidden)
    return DeliveryError(message, hint=full_hint, retryable=retryable, retry_after=retry_after)


def document(message: Any, subject: str, text: str) -> dict[str, Any]:
    """The message as JSON (webhook body, command stdin, file line): what happened and the
    rendered text, the context as the templates saw it (raw values: the reader escapes)."""
    return {"key": message.key, "kind": message.kind, "severity": message.severity,
            "created": message.created, "attempt": message.attempt, "subject": subject,
            "text": text, "context": dict(message.context)}
