"""The prefilter: which rules of a route can possibly match this event, from literal anchors.

One :class:`Prefilter` per route bucket. Anchors (see :mod:`soc.detection.routing`) are indexed by
field: ``eq`` literals in a dict; ``prefix``/``suffix`` literals (cut to :data:`AFFIX` characters)
in dicts probed with the event's first/last n characters for each indexed length n; ``contains``
literals by their longest whole word (a word run bounded by non-word characters inside the
literal, so it is a whole token of any text containing the literal), probed with the event text's
tokens; literals with no whole word by one of their 4-grams (the least shared one), probed with the
text's 4-grams (or, for a text much longer than the index, by testing each 4-gram with ``in``);
every literal found this way is then checked with ``in``. Literals under 4 characters are indexed by
their first character, probed with the text's characters.
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
GRAM = 4
_WORD = re.compile(r"\w+")


def whole_words(lit: str) -> set[str]:
    """Word runs of ``lit`` bounded on both sides by non-word characters of ``lit``: any text
    containing ``lit`` has each of them as a whole token."""
    return {m.group() for m in _WORD.finditer(lit) if m.start() > 0 and m.end() < len(lit)}


def whole_word(lit: str) -> str | None:
    """The longest of :func:`whole_words` (None if there is none)."""
    return max(sorted(whole_words(lit)), key=len, default=None)


def _keys(lit: str, grams_only: bool) -> tuple[set[str], set[str]]:
    words = set() if grams_only else whole_words(lit)
    grams = set() if words else {lit[i:i + GRAM] for i in range(len(lit) - GRAM + 1)}
    return words, grams


class FieldIndex:
    """The anchors of one field."""

    __slots__ = ("_pending", "eq", "grams", "grams_only", "prefix", "prefix_lens", "short",
                 "suffix", "suffix_lens", "words")

    def __init__(self, *, grams_only: bool = False) -> None:
        self.grams_only = grams_only
        self.eq: dict[str, set[int]] = defaultdict(set)
        self.prefix: dict[str, set[int]] = defaultdict(set)
        self.suffix: dict[str, set[int]] = defaultdict(set)
        self.prefix_lens: tuple[int, ...] = ()
        self.suffix_lens: tuple[int, ...] = ()
        self.words: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.grams: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.short: dict[str, list[tuple[str, int]]] = {}
        self._pending: list[tuple[str, int]] = []

    def add(self, kind: str, lit: str, rule: int) -> None:
        if kind == "eq":
            self.eq[lit].add(rule)
        elif kind == "prefix":
            self.prefix[lit[:AFFIX]].add(rule)
        elif kind == "suffix":
            self.suffix[lit[-AFFIX:]].add(rule)
        elif len(lit) < GRAM and whole_word(lit) is None:
            self.short.setdefault(lit[0], []).append((lit, rule))
        else:
            self._pending.append((lit, rule))

    def freeze(self) -> None:
        """Index the ``contains`` literals by their least shared word (or 4-gram)."""
        self._index_contains()
        self.prefix_lens = tuple(sorted({len(k) for k in self.prefix}))
        self.suffix_lens = tuple(sorted({len(k) for k in self.suffix}))
        self.eq, self.prefix, self.suffix = dict(self.eq), dict(self.prefix), dict(self.suffix)
        self.words, self.grams = dict(self.words), dict(self.grams)

    def _index_contains(self) -> None:
        keys = {lit: _keys(lit, self.grams_only) for lit, _ in self._pending}
        shared: dict[str, int] = defaultdict(int)
        for words, grams in keys.values():
            for k in words or grams:
                shared[k] += 1
        for lit, rule in self._pending:
            words, grams = keys[lit]
            if words:
                self.words[min(words, key=lambda w: (shared[w], -len(w), w))].append((lit, rule))
            elif not grams:  # shorter than a gram
                self.short.setdefault(lit[0], []).append((lit, rule))
            else:
                self.grams[min(grams, key=lambda g: (shared[g], g))].append((lit, rule))
        self._pending = []

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
        if self.grams:
            self._probe_grams(value, out)
        if self.short:
            short = self.short
            for ch in set(value):
                entries = short.get(ch)
                if entries:
                    for lit, rule in entries:
                        if lit in value:
                            out.add(rule)

    def _probe_grams(self, value: str, out: set[int]) -> None:
        grams = self.grams
        if len(value) < 4 * len(grams):
            keys: Iterable[str] = {value[i:i + GRAM] for i in range(len(value) - GRAM + 1)}
        else:
            keys = [g for g in grams if g in value]
        for gram in keys:
            entries = grams.get(gram)
            if entries:
                for lit, rule in entries:
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
                if key not in fields:  # keyword text is long: no tokenising, grams only
                    fields[key] = FieldIndex(grams_only=key == ALL)
                fields[key].add(kind, lit, rule)
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
            if key == ALL:  # keyword anchors are all "contains": one probe of all the text
                index.probe("\n".join(value), out)
            elif value.__class__ is str:
                index.probe(value, out)
            else:
                for v in value:
                    index.probe(v, out)
        return out
