"""The prefilter: which rules of a route can possibly match this event, from literal anchors.

One :class:`Prefilter` per route bucket. Anchors (see :mod:`soc.detection.routing`) are indexed by
field: ``eq`` literals in a dict; ``prefix``/``suffix`` literals (cut to :data:`AFFIX` characters)
in dicts probed with the event's first/last n characters for each indexed length n; ``contains``
literals by their longest whole word (a word run bounded by non-word characters inside the
literal, so it is a whole token of any text containing the literal), probed with the event text's
tokens and then checked with ``in``; literals with no whole word are checked with ``in`` directly.
Rules without anchors are always candidates. A candidate is then evaluated in full, so the
prefilter only has to be right about "cannot match", which it is by construction.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from soc.detection.routing import Anchor
from soc.detection.values import ALL, Folded

AFFIX = 10
_WORD = re.compile(r"\w+")


def whole_word(lit: str) -> str | None:
    """The longest word run of ``lit`` bounded on both sides by non-word characters of ``lit``."""
    best = None
    for m in _WORD.finditer(lit):
        inner = m.start() > 0 and m.end() < len(lit)
        if inner and (best is None or len(m.group()) > len(best)):
            best = m.group()
    return best


class FieldIndex:
    """The anchors of one field."""

    __slots__ = ("eq", "prefix", "prefix_lens", "scan", "suffix", "suffix_lens", "words")

    def __init__(self) -> None:
        self.eq: dict[str, set[int]] = defaultdict(set)
        self.prefix: dict[str, set[int]] = defaultdict(set)
        self.suffix: dict[str, set[int]] = defaultdict(set)
        self.prefix_lens: tuple[int, ...] = ()
        self.suffix_lens: tuple[int, ...] = ()
        self.words: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.scan: list[tuple[str, int]] = []

    def add(self, kind: str, lit: str, rule: int) -> None:
        if kind == "eq":
            self.eq[lit].add(rule)
        elif kind == "prefix":
            self.prefix[lit[:AFFIX]].add(rule)
        elif kind == "suffix":
            self.suffix[lit[-AFFIX:]].add(rule)
        else:
            word = whole_word(lit)
            if word is not None:
                self.words[word].append((lit, rule))
            else:
                self.scan.append((lit, rule))

    def freeze(self) -> None:
        self.prefix_lens = tuple(sorted({len(k) for k in self.prefix}))
        self.suffix_lens = tuple(sorted({len(k) for k in self.suffix}))
        self.eq, self.prefix, self.suffix = dict(self.eq), dict(self.prefix), dict(self.suffix)
        self.words = dict(self.words)

    def probe(self, value: str, out: set[int]) -> None:
        """Add the rules whose anchor on this field holds for ``value`` (casefolded text)."""
        hit = self.eq.get(value)
        if hit:
            out |= hit
        if self.prefix:
            for n in self.prefix_lens:
                hit = self.prefix.get(value[:n])
                if hit:
                    out |= hit
        if self.suffix:
            for n in self.suffix_lens:
                hit = self.suffix.get(value[-n:])
                if hit:
                    out |= hit
        if self.words:
            words = self.words
            for token in set(_WORD.findall(value)):
                entries = words.get(token)
                if entries:
                    for lit, rule in entries:
                        if lit in value:
                            out.add(rule)
        for lit, rule in self.scan:
            if lit in value:
                out.add(rule)


class Prefilter:
    """Candidates for one route bucket."""

    __slots__ = ("always", "fields")

    def __init__(self, entries: Iterable[tuple[int, list[Anchor] | None]]) -> None:
        always: set[int] = set()
        fields: dict[str, FieldIndex] = {}
        for rule, found in entries:
            if found is None:
                always.add(rule)
                continue
            for kind, field, lit in found:
                key = ALL if field is None else field
                fields.setdefault(key, FieldIndex()).add(kind, lit, rule)
        for index in fields.values():
            index.freeze()
        self.always = frozenset(always)
        self.fields = fields

    def candidates(self, f: Folded) -> set[int]:
        """Rules of this bucket that may match the event."""
        out = set(self.always)
        for key, index in self.fields.items():
            value = f[key]
            if value is None:
                continue
            if value.__class__ is str:
                index.probe(value, out)
            else:
                for v in value:
                    index.probe(v, out)
        return out
