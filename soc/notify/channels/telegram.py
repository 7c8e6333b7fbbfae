"""Telegram Bot API ``sendMessage`` (``parse_mode: HTML``, link previews off).

The token is part of the URL (``/bot<token>/sendMessage``): it is scrubbed from every error and
never logged. 429 with ``parameters.retry_after`` is retried after that many seconds; 400, 401,
403 and 404 are permanent (bad chat, bad token, bot blocked or removed); 5xx and no answer are
retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soc.notify import escape
from soc.notify.channels import _http
from soc.notify.channels._options import Options, failure, reveal, tls_context, where
from soc.notify.model import Message
from soc.notify.render import render

DEFAULT_BASE = "https://api.telegram.org"
KEYS = {"type", "token", "chat_id", "base_url", "ca_file", "timeout", "templates",
        "disable_notification"}


class TelegramChannel:
    type = "telegram"

    def __init__(self, name: str, spec: Mapping[str, Any], base_dir: Path | None) -> None:
        o = Options(name, spec, base_dir)
        o.check_keys(KEYS)
        self.name = name
        self.token = o.secret("token", required=True)
        self.chat_id = str(o.get("chat_id", (str, int), required=True))
        self.base_url = str(o.get("base_url", str, DEFAULT_BASE)).rstrip("/")
        if not self.base_url.startswith(("https://", "http://")):
            raise o.error(f"{o.what}: 'base_url' must be an http(s) URL", o.line_of("base_url"))
        self.silent = bool(o.get("disable_notification", bool, False))
        self.timeout = o.number("timeout", 10.0)
        self.templates = o.file("templates")
        self.context = tls_context(o.file("ca_file"))

    def payload(self, message: Message) -> dict[str, Any]:
        r = render(message, flavour="telegram", templates=self.templates)
        return {"chat_id": self.chat_id, "text": r.markup, "parse_mode": "HTML",
                "disable_web_page_preview": True, "disable_notification": self.silent}

    def send(self, message: Message) -> str:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        token = reveal(self.token)
        url = f"{self.base_url}/bot{token}/sendMessage"
        try:
            reply = _http.post(url, body, {"Content-Type": "application/json"},
                               context=self.context, timeout=self.timeout)
        except _http.Unreachable as exc:
            raise failure(self, f"{where(url)}: {exc}",
                          "Check that this host reaches base_url (a proxy?) and ca_file",
                          secrets=[token]) from None
        return self._receipt(reply, token)

    def _receipt(self, reply: _http.Response, token: str) -> str:
        try:
            answer = json.loads(reply.body or b"{}")
        except ValueError:
            answer = {}
        answer = answer if isinstance(answer, dict) else {}
        if reply.status == 200 and answer.get("ok"):
            result = answer.get("result") or {}
            return f"telegram message_id={result.get('message_id', '?')}"
        said = escape.clean(answer.get("description") or "", limit=120)
        what = f"Bot API answered {reply.status}" + (f": {said}" if said else "")
        params = answer.get("parameters") or {}
        if reply.status == 429:
            wait = params.get("retry_after") if isinstance(params, dict) else None
            after = float(wait) if isinstance(wait, int | float) else reply.retry_after()
            raise failure(self, what, "Telegram limits how fast a bot sends; soc waits and "
                          "retries", retry_after=after, secrets=[token])
        if reply.status in (400, 401, 403, 404):
            hint = {401: "Check token (from @BotFather)", 404: "Check token and base_url",
                    403: "The bot was blocked or removed from the chat: add it back"}.get(
                reply.status, "Check chat_id (the bot must be a member of that chat)")
            raise failure(self, what, hint, retryable=False, secrets=[token])
        raise failure(self, what, "Telegram failed for now; soc retries", secrets=[token])
