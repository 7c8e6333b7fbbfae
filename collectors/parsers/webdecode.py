"""Decode a request's path and query the way web servers and applications do, before matching.

Attackers encode what a rule looks for: ``%2e%2e%2f``, ``%252e`` (decoded twice by a proxy and an
application), ``%u002e`` (IIS), overlong UTF-8 ``%c0%af``, ``+`` for spaces, HTML entities, NUL
bytes that cut a C string, backslashes IIS takes for slashes, ``/./`` and ``//``. Each function
here undoes one family, and :func:`decode_path` / :func:`decode_value` chain them until the text
is stable, so that detectors see what the server saw.

The work is bounded per line: at most :data:`MAX_ROUNDS` rounds of percent-decoding, and no field
is decoded past :data:`MAX_CHARS` characters (a 1 MiB URL costs the same as an 8 KiB one; what
lies past the cap is not looked at, and :func:`decode_query` says so). Every step is linear.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import unquote_to_bytes

MAX_ROUNDS = 4
"""Percent-decoding rounds: servers decode once, a proxy and an application twice; no known
stack decodes four times, so a fifth round would only serve obfuscation to nobody."""
MAX_CHARS = 8192
"""Characters decoded per field (path, query, each value); longer input is cut first."""
MAX_PARAMS = 64
"""Parameters split out of one query; the whole decoded query still holds the rest."""

_U_ESCAPE = re.compile(r"%u([0-9a-fA-F]{4})")
_PERCENT = re.compile(r"%(?:[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})")
# Overlong UTF-8: the same character in more bytes than needed, refused by strict decoders and
# taken by old IIS and Tomcat (%c0%af for "/", %e0%80%ae for ".").
_OVERLONG2 = re.compile(rb"[\xc0\xc1][\x80-\xbf]")
_OVERLONG3 = re.compile(rb"\xe0[\x80-\x9f][\x80-\xbf]")
# Entities with their semicolon, or numeric ones without (browsers accept ``&#60`` too); a bare
# ``&lt`` is left alone, for in a query it is more often a parameter called ``lt``.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")
_DOT_SEGMENT = re.compile(r"/(?:\.(?=/|$))+")
_SLASHES = re.compile(r"/{2,}")


def _overlong2(m: re.Match[bytes]) -> bytes:
    b0, b1 = m[0]
    return bytes([((b0 & 0x1F) << 6) | (b1 & 0x3F)])


def _overlong3(m: re.Match[bytes]) -> bytes:
    b0, b1, b2 = m[0]
    code = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
    return chr(code).encode("utf-8")


def _u_escape(m: re.Match[str]) -> str:
    code = int(m[1], 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)


def percent_decode_once(text: str) -> str:
    """One round: ``%XX`` (as UTF-8 bytes, overlong forms folded), ``%uXXXX``."""
    if "%u" in text or "%U" in text:
        text = _U_ESCAPE.sub(_u_escape, text)
    raw = unquote_to_bytes(text)
    if b"\xc0" in raw or b"\xc1" in raw or b"\xe0" in raw:
        raw = _OVERLONG3.sub(_overlong3, _OVERLONG2.sub(_overlong2, raw))
    return raw.decode("utf-8", "replace")


def percent_decode(text: str) -> str:
    """Percent-decoding repeated until stable, at most :data:`MAX_ROUNDS` rounds."""
    for _ in range(MAX_ROUNDS):
        if "%" not in text or _PERCENT.search(text) is None:
            break
        text = percent_decode_once(text)
    return text


def _entity(m: re.Match[str]) -> str:
    return html.unescape(m[0])


def entity_decode(text: str) -> str:
    """HTML entities (named with ``;``, numeric with or without it), twice at most."""
    for _ in range(2):
        if "&" not in text:
            break
        text = _ENTITY.sub(_entity, text)
    return text


def _clean(text: str) -> str:
    """NUL bytes out, and compatibility forms folded (fullwidth ``＜`` is ``<`` to IIS's best-fit
    mapping; NFKC also makes NFD Vietnamese NFC)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text


def decode_path(path: str) -> str:
    """``url.path`` as the server resolves it, with ``../`` kept visible."""
    text = percent_decode(path[:MAX_CHARS])
    text = _clean(text)
    if "\\" in text:
        text = text.replace("\\", "/")
    if "//" in text:
        text = _SLASHES.sub("/", text)
    if "/." in text:
        text = _DOT_SEGMENT.sub("", text) or "/"
    return text


def decode_value(value: str) -> str:
    """A query parameter (name or value) as the application reads it."""
    text = value[:MAX_CHARS]
    if "+" in text:
        text = text.replace("+", " ")
    return _clean(entity_decode(percent_decode(text)))


def decode_query(query: str) -> tuple[str, list[str], list[str], bool]:
    """``url.query`` → (the whole query decoded, parameter names, parameter values, whether the
    query was cut at :data:`MAX_CHARS`)."""
    cut = len(query) > MAX_CHARS
    raw = query[:MAX_CHARS]
    names: list[str] = []
    values: list[str] = []
    for part in raw.split("&", MAX_PARAMS)[:MAX_PARAMS]:
        if not part:
            continue
        name, sep, value = part.partition("=")
        names.append(decode_value(name))
        if sep:
            values.append(decode_value(value))
        elif name:
            values.append(names[-1])  # ``?<script>``: a bare word is what the page reads
    return decode_value(raw), names, values, cut


NUL_MARKERS = ("%00", "%u0000", "\x00", "%2500", "%c0%80")


def has_nul(raw: str) -> bool:
    """Whether a raw field carries a NUL byte in one of its encodings (decoding drops it)."""
    if "%" not in raw and "\x00" not in raw:
        return False
    low = raw.lower()
    return any(marker in low for marker in NUL_MARKERS)
