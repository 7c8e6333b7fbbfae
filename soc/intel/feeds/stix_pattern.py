"""The STIX 2.1 patterning language (OASIS STIX 2.1, part 9), read far enough to list every
comparison a pattern makes.

soc does not evaluate patterns: it matches single values as events stream. So the reader checks
the whole grammar (observation expressions joined by ``AND``/``OR``/``FOLLOWEDBY``, parentheses,
the ``WITHIN``/``REPEATS``/``START … STOP`` qualifiers, comparison expressions joined by
``AND``/``OR`` inside brackets, every operator and literal) and returns the comparisons found,
flat, with their object path, operator and negation; :mod:`soc.intel.feeds.stix` picks those
that name a value an event can carry.

Two leniencies, because producers in the field emit them and a strict reader would drop whole
indicators for them: keywords are read in any case (the grammar wants ``AND``, feeds write
``and``), and a backslash before anything but ``'`` or ``\\`` in a string is kept as it is
(the grammar knows only those two escapes; regular expressions in ``MATCHES`` carry others).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<typed>[tbh]'(?:[^'\\]|\\.)*')
  | (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<num>[+-]?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op><=|>=|!=|<>|[=<>\[\]():.,*])
""", re.VERBOSE | re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_ORDER_OPS = ("=", "!=", "<>", "<", "<=", ">", ">=")
_STRING_OPS = ("LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET")


class PatternError(ValueError):
    """A pattern the grammar does not allow; the message says where and what was expected."""


@dataclass(frozen=True)
class Typed:
    """A timestamp (``t'…'``), binary (``b'…'``) or hex (``h'…'``) literal."""

    kind: str
    text: str


Literal = str | int | float | bool | Typed


@dataclass(frozen=True)
class Comparison:
    """One comparison: ``path`` is the object type then each component (quoted keys unquoted,
    list indexes as ``[0]`` or ``[*]``); ``operator`` is upper case (``!=`` stands for ``<>``
    too); ``values`` holds one literal, or the set of ``IN``; ``negated`` is a ``NOT``
    before the operator."""

    path: tuple[str, ...]
    operator: str
    values: tuple[Literal, ...]
    negated: bool = False

    @property
    def path_text(self) -> str:
        """The path as a pattern writes it: ``file:hashes.'SHA-256'``."""
        head, *rest = self.path
        text = head + ":"
        for i, part in enumerate(rest):
            if part.startswith("["):
                text += part
                continue
            shown = part if _PLAIN.fullmatch(part) else "'" + part.replace("'", "\\'") + "'"
            text += shown if i == 0 else "." + shown
        return text


@dataclass(frozen=True)
class _Token:
    kind: str  # typed, str, num, word, op, end
    text: str
    at: int


def parse_pattern(text: str) -> list[Comparison]:
    """Every comparison of the pattern, in order; raises :class:`PatternError`."""
    parser = _Parser(_tokens(text))
    parser.pattern()
    return parser.found


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None:
            quote = " (a string not closed?)" if text[at] == "'" else ""
            raise PatternError(f"unexpected {text[at]!r} at {at}{quote}")
        kind = m.lastgroup or ""
        if kind != "space":
            found.append(_Token(kind, m.group(), at))
        at = m.end()
    found.append(_Token("end", "", len(text)))
    return found


def _unquote(quoted: str) -> str:
    """The text of a ``'…'`` literal: ``\\'`` and ``\\\\`` unescaped, other backslashes kept."""
    return _ESCAPE.sub(lambda m: m.group(1) if m.group(1) in "'\\" else m.group(), quoted[1:-1])


class _Parser:
    """Recursive descent over the tokens. Precedence is not kept: the caller wants the flat
    list of comparisons, and the grammar is checked all the same."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.found: list[Comparison] = []

    # --- tokens -------------------------------------------------------------------------------

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def is_op(self, op: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text == op

    def keyword(self, *names: str) -> str | None:
        """Take the next token when it is one of ``names`` (any case); its upper-case form."""
        token = self.peek()
        if token.kind == "word" and token.text.upper() in names:
            self.take()
            return token.text.upper()
        return None

    def expect(self, op: str) -> None:
        if not self.is_op(op):
            raise self.error(f"{op!r}")
        self.take()

    def error(self, wanted: str) -> PatternError:
        token = self.peek()
        found = repr(token.text) if token.kind != "end" else "the end"
        return PatternError(f"expected {wanted} at {token.at}, found {found}")

    # --- observation expressions --------------------------------------------------------------

    def pattern(self) -> None:
        self.observations()
        if self.peek().kind != "end":
            raise self.error("AND, OR, FOLLOWEDBY or a qualifier")

    def observations(self) -> None:
        self.observation()
        while self.keyword("AND", "OR", "FOLLOWEDBY"):
            self.observation()

    def observation(self) -> None:
        if self.is_op("["):
            self.take()
            self.comparisons()
            self.expect("]")
        elif self.is_op("("):
            self.take()
            self.observations()
            self.expect(")")
        else:
            raise self.error("'[' or '('")
        while self.qualifier():
            pass

    def qualifier(self) -> bool:
        word = self.keyword("WITHIN", "REPEATS", "START")
        if word == "WITHIN":
            self.number(positive=True)
            self.require("SECONDS")
        elif word == "REPEATS":
            self.number(positive=True, integer=True)
            self.require("TIMES")
        elif word == "START":
            self.timestamp()
            self.require("STOP")
            self.timestamp()
        return word is not None

    def require(self, word: str) -> None:
        if not self.keyword(word):
            raise self.error(word)

    def number(self, *, positive: bool = False, integer: bool = False) -> None:
        token = self.peek()
        if token.kind != "num" or (integer and "." in token.text) or \
                (positive and float(token.text) <= 0):
            raise self.error("a positive integer" if integer else "a positive number")
        self.take()

    def timestamp(self) -> None:
        token = self.peek()
        if token.kind != "typed" or token.text[0] != "t":
            raise self.error("a timestamp t'…'")
        self.take()

    # --- comparison expressions ---------------------------------------------------------------

    def comparisons(self) -> None:
        self.comparison()
        while self.keyword("AND", "OR"):
            self.comparison()

    def comparison(self) -> None:
        if self.is_op("("):
            self.take()
            self.comparisons()
            self.expect(")")
            return
        if self.keyword("EXISTS"):
            self.found.append(Comparison(self.path(), "EXISTS", ()))
            return
        path = self.path()
        negated = self.keyword("NOT") is not None
        token = self.take()
        if token.kind == "op" and token.text in _ORDER_OPS:
            operator = "!=" if token.text == "<>" else token.text
            values: tuple[Literal, ...] = (self.literal(),)
        elif token.kind == "word" and token.text.upper() == "IN":
            operator, values = "IN", self.literal_set()
        elif token.kind == "word" and token.text.upper() in _STRING_OPS:
            operator, values = token.text.upper(), (self.string(),)
        else:
            self.i -= 1
            raise self.error("a comparison operator")
        self.found.append(Comparison(path, operator, values, negated))

    def path(self) -> tuple[str, ...]:
        token = self.peek()
        if token.kind != "word":
            raise self.error("an object path such as ipv4-addr:value")
        self.take()
        self.expect(":")
        parts = [token.text, self.component()]
        while True:
            if self.is_op("."):
                self.take()
                parts.append(self.component())
            elif self.is_op("["):
                self.take()
                index = self.take()
                if not (index.kind == "op" and index.text == "*") and not (
                        index.kind == "num" and index.text.isdigit()):
                    self.i -= 1
                    raise self.error("a list index or '*'")
                self.expect("]")
                parts.append(f"[{index.text}]")
            else:
                return tuple(parts)

    def component(self) -> str:
        token = self.peek()
        if token.kind == "word":
            return self.take().text
        if token.kind == "str":
            return _unquote(self.take().text)
        raise self.error("a property name")

    def string(self) -> str:
        if self.peek().kind != "str":
            raise self.error("a string '…'")
        return _unquote(self.take().text)

    def literal(self) -> Literal:
        token = self.peek()
        if token.kind == "str":
            return _unquote(self.take().text)
        if token.kind == "num":
            self.take()
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "typed":
            self.take()
            return Typed(token.text[0], _unquote(token.text[1:]))
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            self.take()
            return token.text.lower() == "true"
        raise self.error("a literal")

    def literal_set(self) -> tuple[Literal, ...]:
        self.expect("(")
        values = [self.literal()]
        while self.is_op(","):
            self.take()
            values.append(self.literal())
        self.expect(")")
        return tuple(values)
