"""Making text from a log line safe for each place a notification goes.

Everything an attacker can write (a user agent, a user name, a URL) reaches a message through an
alert. :func:`clean` takes out what acts instead of showing, in every flavour: ANSI escape
sequences, C0/C1 controls and the bidirectional overrides that reorder text (the same set
``soc.cli.output.escape`` shows as ``\\x1b`` on a terminal; here they are dropped, since a chat
or a mailbox shows nothing useful for them), and cuts long values. The flavour functions then
escape what the target reads as markup:

- Telegram (``parse_mode: HTML``): ``<``, ``>`` and ``&`` (the Bot API's own list);
- Slack mrkdwn: ``<``, ``>`` and ``&`` (so ``<!channel>``, ``<@U123>`` and ``<http://x|y>``
  show as text), and ``@`` before a word gets a word joiner (no ``@channel`` / ``@here``);
- Mattermost and Teams (Markdown): every Markdown punctuation character backslash-escaped
  (``[x](http://evil)``, ``![](http://tracker)`` and raw HTML show as text), mentions broken;
- CEF: ``\\`` and ``|`` in header fields; ``\\``, ``=`` and line breaks in extension values.
"""

from __future__ import annotations

import re
from typing import Any

from soc.textsafe import UNSAFE

MAX_VALUE = 300
"""A value from a log line is cut at this many characters (with ``…``)."""

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = UNSAFE
_BREAKS = re.compile(r"[\r\n\t]+")
_MENTION = re.compile(r"@(?=\w)")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>&])")
_CEF_KEY = re.compile(r"[^A-Za-z0-9]")


def clean(value: Any, *, limit: int = MAX_VALUE, lines: bool = False) -> str:
    """``value`` as text with escape sequences and control or reordering characters removed;
    line breaks become spaces unless ``lines`` (a template's own text keeps them); cut at
    ``limit`` characters (0: no cut)."""
    text = "" if value is None else str(value)
    text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n") if lines else _BREAKS.sub(" ", text)
    text = _CONTROL.sub("", text)  # keeps \n and \t (\r was made \n or a space above)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def telegram(text: str) -> str:
    """Text for a Telegram message sent with ``parse_mode: HTML``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(text: str) -> str:
    """Text for Slack mrkdwn: no markup, no link, no mention can come through."""
    return _MENTION.sub("@\u2060", telegram(text))


def markdown(text: str) -> str:
    """Text for Markdown readers (Mattermost, Teams): every Markdown punctuation character
    (``<``, ``>`` and ``&`` too: no raw HTML) backslash-escaped, mentions broken."""
    return _MENTION.sub("@\u2060", _MARKDOWN.sub(r"\\\1", text))


def cef_header(text: str) -> str:
    """A CEF header field (vendor, product, signature, name): ``\\`` and ``|`` escaped."""
    return clean(text).replace("\\", "\\\\").replace("|", "\\|")


def cef_value(value: Any, *, limit: int = MAX_VALUE) -> str:
    """A CEF extension value: ``\\`` and ``=`` escaped, line breaks as ``\\n``/``\\r``."""
    text = clean(value, limit=limit, lines=True)
    text = text.replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\n", "\\n")


def cef_key(name: str) -> str:
    """A CEF extension key: letters and digits only."""
    return _CEF_KEY.sub("", name)
