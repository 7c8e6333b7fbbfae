"""Generic webhook: the message as JSON, POSTed, signed like GitHub's webhooks.

Headers: ``X-Soc-Idempotency-Key`` (the same on every attempt: a receiver drops repeats) and,
with ``secret``, ``X-Soc-Signature: sha256=<hex HMAC-SHA256 of the body>``. ``preset`` shapes the
body as Slack, Mattermost or Microsoft Teams incoming webhooks expect. 2xx is accepted;
408, 429, 5xx and no answer are retried; any other status is a permanent refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soc.config import Secret
from soc.notify import escape
from soc.notify.channels import _http
from soc.notify.channels._options import Options, document, failure, reveal, tls_context, where
from soc.notify.model import Message
from soc.notify.render import render

PRESETS = ("none", "slack", "mattermost", "teams")
KEYS = {"type", "url", "secret", "headers", "preset", "ca_file", "verify", "timeout",
        "templates"}
_OURS = {"content-type", "x-soc-idempotency-key", "x-soc-signature", "content-length"}


class WebhookChannel:
    type = "webhook"

    def __init__(self, name: str, spec: Mapping[str, Any], base_dir: Path | None) -> None:
        o = Options(name, spec, base_dir)
        o.check_keys(KEYS)
        self.name = name
        self.url = o.url()
        self.secret = o.secret("secret")
        self.preset = o.choice("preset", PRESETS, "none")
        self.timeout = o.number("timeout", 10.0)
        self.templates = o.file("templates")
        self.context = tls_context(o.file("ca_file"), verify=bool(o.get("verify", bool, True)))
        self.headers = _headers(o)

    def body(self, message: Message) -> bytes:
        """The body this channel POSTs for ``message``."""
        flavour = {"none": "text", "teams": "teams"}.get(self.preset, self.preset)
        r = render(message, flavour=flavour, templates=self.templates)
        doc: dict[str, Any]
        if self.preset in ("slack", "mattermost"):
            doc = {"text": r.markup}
        elif self.preset == "teams":
            doc = _adaptive_card(escape.markdown(r.subject), r.markup or "")
        else:
            doc = document(message, r.subject, r.text)
        return json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")

    def send(self, message: Message) -> str:
        body = self.body(message)
        url, secrets = reveal(self.url), self._secrets()
        headers = {k: reveal(v) for k, v in self.headers.items()}
        headers.update({"Content-Type": "application/json; charset=utf-8",
                        "X-Soc-Idempotency-Key": message.key})
        if self.secret is not None:
            headers["X-Soc-Signature"] = "sha256=" + sign(reveal(self.secret), body)
        try:
            reply = _http.post(url, body, headers, context=self.context, timeout=self.timeout)
        except _http.Unreachable as exc:
            hint = ("Check ca_file (the CA that signed the server's certificate)" if exc.tls
                    else "Check that the receiver is up and reachable from here, and url")
            raise failure(self, f"{where(url)}: {exc}", hint, secrets=secrets) from None
        return self._receipt(reply, url, secrets)

    def _receipt(self, reply: _http.Response, url: str, secrets: list[str]) -> str:
        if 200 <= reply.status < 300:
            return f"HTTP {reply.status}"
        said = escape.clean(reply.body.decode("utf-8", "replace"), limit=120)
        what = f"HTTP {reply.status} from {where(url)}" + (f": {said}" if said else "")
        if reply.status in (408, 429) or reply.status >= 500:
            raise failure(self, what, "The receiver is busy or failing; soc retries",
                          retry_after=reply.retry_after(), secrets=secrets)
        hint = ("Redirects are not followed: set url to the final address"
                if 300 <= reply.status < 400 else
                "Check url, secret and headers against the receiver's settings")
        raise failure(self, what, hint, retryable=False, secrets=secrets)

    def _secrets(self) -> list[str]:
        values = [reveal(self.url), reveal(self.secret)]
        values += [reveal(v) for v in self.headers.values() if isinstance(v, Secret)]
        return values


def sign(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` with ``secret`` (``X-Soc-Signature: sha256=<this>``)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _headers(o: Options) -> dict[str, Secret | str]:
    raw = o.get("headers", dict, {})
    out: dict[str, Secret | str] = {}
    for key, value in raw.items():
        name = str(key)
        if name.lower() in _OURS or not name.isascii() or any(c in name for c in ": \r\n"):
            raise o.error(f"{o.what}: headers: {name!r} cannot be set here", o.line_of("headers"))
        if not isinstance(value, Secret | str | int):
            raise o.error(f"{o.what}: headers: {name} must be text or a secret",
                          o.line_of("headers"))
        if isinstance(value, str | int) and any(c in str(value) for c in "\r\n"):
            raise o.error(f"{o.what}: headers: {name} holds a line break", o.line_of("headers"))
        out[name] = value if isinstance(value, Secret) else str(value)
    return out


def _adaptive_card(title: str, text: str) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card (what Teams workflow webhooks take)."""
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4",
            "body": [{"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
                      "wrap": True},
                     {"type": "TextBlock", "text": text, "wrap": True}]}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}
