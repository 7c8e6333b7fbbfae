"""Sigma's ``|re`` (a Python regex, *searched* in the value) → a Lucene regexp (matched against
the *whole* term) that finds a superset of the same values.

``X`` becomes ``.*(X').*``, where ``X'`` is ``X`` written in Lucene's syntax: every literal that
is not a letter or digit escaped (Lucene reserves ``# @ & < > ~`` too), ``(?:`` and named groups as
plain groups, lazy and possessive quantifiers as greedy ones, ``{,n}`` as ``{0,n}``. With ``|i``
each letter becomes the class of the characters Python's ``re.IGNORECASE`` takes for it
(``k`` → ``[kKK]``). Anchors (``^ $ \\A \\Z \\b \\B``) are dropped: zero-width tests removed only
widen the match. ``.`` is kept; Lucene's also matches a newline, which Python's only does with
``|s``.

Anything else has no faithful Lucene form here (``\\d \\w \\s``, which are Unicode-wide in Python;
lookarounds, back-references, inline flags, escapes of control characters, non-ASCII letters
under ``|i``...): :func:`lucene_regex` returns None and the caller widens the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CASE_EXTRA = {"i": "İı", "k": "\u212a", "s": "ſ"}
"""Non-ASCII characters ``re.IGNORECASE`` matches with an ASCII letter."""
_QUANTIFIER = re.compile(r"\{(\d*)(,(\d*))?\}")
_ZERO_WIDTH = frozenset("AZbB")
_LITERAL_ESCAPES = frozenset("\\.^$*+?{}[]()|/-#@&<>~\"' !%,:;=_`")


class Untranslatable(Exception):
    """A construct with no faithful Lucene form (the message says which)."""


@dataclass(frozen=True, slots=True)
class LuceneRegex:
    """A Lucene regexp body (``/`` escaped) and whether it matches exactly Python's values."""

    pattern: str
    exact: bool


def lucene_regex(pattern: str, *, ignorecase: bool = False,
                 dotall: bool = False) -> LuceneRegex | None:
    """The Lucene regexp finding every value ``re.search(pattern)`` finds; None if none is
    written (see the module docstring)."""
    try:
        body, exact = _Translator(pattern, ignorecase, dotall).run()
    except Untranslatable:
        return None
    return LuceneRegex(f".*({body}).*", exact)


def _literal(ch: str, ignorecase: bool) -> str:
    """One literal character in Lucene's syntax, outside a class."""
    if ignorecase and ch.isalpha():
        return "[" + "".join(_escaped(c) for c in _case_variants(ch)) + "]"
    return _escaped(ch)


def _escaped(ch: str) -> str:
    """A character taken literally by Lucene: letters and digits as they are, all else escaped."""
    if ch.isascii() and ch.isalnum():
        return ch
    if not ch.isprintable():
        raise Untranslatable(f"control character {ch!r}")
    return "\\" + ch


def _case_variants(ch: str) -> str:
    if not ch.isascii():
        raise Untranslatable(f"non-ASCII letter {ch!r} under |i")
    low = ch.lower()
    return low + low.upper() + _CASE_EXTRA.get(low, "")


class _Translator:
    """A single left-to-right pass over the Python pattern."""

    def __init__(self, pattern: str, ignorecase: bool, dotall: bool) -> None:
        self.src, self.i = pattern, 0
        self.ignorecase = ignorecase
        self.exact = True
        self.dotall = dotall
        self.out: list[str] = []
        self.prev = "start"  # start | open | alt | atom | quant

    def run(self) -> tuple[str, bool]:
        depth = 0
        while self.i < len(self.src):
            ch = self.src[self.i]
            self.i += 1
            if ch == "\\":
                self._escape()
            elif ch == "[":
                self._atom(self._klass())
            elif ch == "(":
                self._group()
                depth += 1
            elif ch == ")":
                if depth == 0 or self.prev in ("open", "alt"):
                    raise Untranslatable("unbalanced or empty group")
                depth -= 1
                self._atom(")")
            elif ch == "|":
                if self.prev in ("start", "open", "alt"):
                    raise Untranslatable("empty alternative")
                self.out.append("|")
                self.prev = "alt"
            elif ch in "*+?":
                self._quantifier(ch)
            elif ch == "{" and (m := _QUANTIFIER.match(self.src, self.i - 1)) and (
                    m.group(1) or m.group(3)):  # {} and {,} are literals in Python
                self.i = m.end()
                self._quantifier("{" + (m.group(1) or "0") + (m.group(2) or "") + "}")
            elif ch in "^$":
                self.exact = False  # an anchor dropped: a wider match
            elif ch == ".":
                self.exact = self.exact and self.dotall
                self._atom(".")
            else:
                self._atom(_literal(ch, self.ignorecase))
        if depth or self.prev in ("start", "alt", "open"):
            raise Untranslatable("empty or unbalanced pattern")
        return "".join(self.out), self.exact

    def _atom(self, text: str) -> None:
        self.out.append(text)
        self.prev = "atom"

    def _quantifier(self, text: str) -> None:
        if self.prev != "atom":
            raise Untranslatable("quantifier without an atom")
        self.out.append(text)
        self.prev = "quant"
        if self.i < len(self.src) and self.src[self.i] in "?+":  # lazy: same values; possessive
            self.exact = self.exact and self.src[self.i] == "?"  # matches fewer: wider here
            self.i += 1

    def _group(self) -> None:
        rest = self.src[self.i:]
        if rest.startswith("?:"):
            self.i += 2
        elif rest.startswith("?P<"):
            end = rest.find(">")
            if end < 0:
                raise Untranslatable("bad group name")
            self.i += end + 1
        elif rest.startswith("?"):
            raise Untranslatable("lookaround, inline flag or other (?...) group")
        self.out.append("(")
        self.prev = "open"

    def _escape(self) -> None:
        if self.i >= len(self.src):
            raise Untranslatable("trailing backslash")
        ch = self.src[self.i]
        self.i += 1
        if ch in _ZERO_WIDTH:
            self.exact = False
        elif ch in _LITERAL_ESCAPES:
            self._atom(_literal(ch, self.ignorecase))
        else:
            raise Untranslatable(f"escape \\{ch}")

    def _klass(self) -> str:
        """A ``[...]`` class from after its ``[``, as a Lucene class."""
        negated = self.src.startswith("^", self.i)
        self.i += negated
        items: list[str] = []
        first = True
        while True:
            if self.i >= len(self.src):
                raise Untranslatable("unterminated class")
            ch = self._class_char(first)
            first = False
            if ch is None:
                break
            if self.src.startswith("-", self.i) and not self.src.startswith("-]", self.i):
                self.i += 1
                end = self._class_char(False)
                if end is None or end < ch:
                    raise Untranslatable("bad range")
                items += self._range(ch, end)
            else:
                items += [_escaped(c) for c in self._variants(ch)]
        if not items:
            raise Untranslatable("empty class")
        return "[" + ("^" if negated else "") + "".join(items) + "]"

    def _class_char(self, first: bool) -> str | None:
        """The next member character of a class; None at its closing ``]``."""
        ch = self.src[self.i]
        self.i += 1
        if ch == "]" and not first:
            return None
        if ch == "[":
            raise Untranslatable("nested set syntax")
        if ch != "\\":
            return ch
        if self.i >= len(self.src):
            raise Untranslatable("trailing backslash")
        esc = self.src[self.i]
        self.i += 1
        if esc in _LITERAL_ESCAPES:
            return esc
        raise Untranslatable(f"escape \\{esc} in a class")

    def _variants(self, ch: str) -> str:
        return _case_variants(ch) if self.ignorecase and ch.isalpha() else ch

    def _range(self, start: str, end: str) -> list[str]:
        out = [f"{_escaped(start)}-{_escaped(end)}"]
        if not self.ignorecase:
            return out
        if not (start.isascii() and end.isascii()):
            raise Untranslatable("non-ASCII range under |i")
        for lo, hi in (("a", "z"), ("A", "Z")):  # the other case of the letters it covers
            first, last = max(start, lo), min(end, hi)
            if first <= last:
                out.append(f"{first.swapcase()}-{last.swapcase()}")
                out += [_escaped(c) for low in map(str.lower, _span(first, last))
                        for c in _CASE_EXTRA.get(low, "")]
        return out


def _span(first: str, last: str) -> list[str]:
    return [chr(c) for c in range(ord(first), ord(last) + 1)]
