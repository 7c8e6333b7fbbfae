"""The prefilter: which rules of a route can possibly match this event, from literal anchors.

One :class:`Prefilter` per route bucket. Each rule of the bucket owns one bit; a probe returns the
bits of the rules one of whose anchors (see :mod:`soc.detection.routing`) holds. Anchors are
indexed by field:

* ``eq`` literals in a dict: one lookup of the whole (casefolded) value;
* ``prefix``, ``suffix`` and ``contains`` literals in one Aho-Corasick automaton per field, run
  once over ``STX + value + ETX``: a prefix is the pattern ``STX + literal``, a suffix
  ``literal + ETX``, a contains literal itself. Every occurrence is reported (overlapping matches),
  so every anchor that holds is found in one pass over the text, whatever the number of literals.

A ``present`` anchor (a comparison, a CIDR: the field must have a value) holds when the event has
the field. A hit is exact (the literal does occur), and the sentinels only add hits (a value that
itself holds ``STX``/``ETX``), never lose one. Rules without anchors are always candidates. A
candidate is then evaluated in full, so the prefilter only has to be right about "cannot match",
which it is by construction.

The automaton is `ahocorasick_rs`_ (Rust: a few ns a character, whatever the number of patterns,
plus a fixed cost per call). Without it, :class:`NaiveMatcher` tests each pattern with ``in``: the
same answers, slowly.

.. _ahocorasick_rs: https://pypi.org/project/ahocorasick-rs/
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Protocol

from soc.detection.routing import Anchor
from soc.detection.values import JOINED, Folded

STX = "\x02"
ETX = "\x03"

try:
    from ahocorasick_rs import AhoCorasick
    HAVE_AUTOMATON = True
except ImportError:  # pragma: no cover - the tests run NaiveMatcher directly
    HAVE_AUTOMATON = False


class Matcher(Protocol):
    """Multi-pattern search, as ``ahocorasick_rs.AhoCorasick`` does it: a tuple starting with the
    pattern's index for every occurrence in ``haystack``."""

    def find_matches_as_indexes(self, haystack: str,
                                overlapping: bool = ...) -> list[tuple[int, int, int]]: ...


class NaiveMatcher:
    """The fallback: each pattern tested with ``in`` (exact, but linear in the patterns)."""

    __slots__ = ("patterns",)

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns

    def find_matches_as_indexes(self, haystack: str,
                                overlapping: bool = False) -> list[tuple[int, int, int]]:
        return [(i, 0, 0) for i, p in enumerate(self.patterns) if p in haystack]


@functools.lru_cache(maxsize=512)
def make_matcher(patterns: tuple[str, ...]) -> Matcher:
    """A matcher for ``patterns`` (shared between buckets that index the same literals)."""
    if not HAVE_AUTOMATON:
        return NaiveMatcher(patterns)
    # the library's choice of automaton: a full DFA for the large literal sets of process
    # creation took 100 MB more than its contiguous NFA, for no measurable speed
    return AhoCorasick(list(patterns))


def pattern(kind: str, lit: str) -> str:
    """The automaton pattern of a ``prefix``/``suffix``/``contains`` anchor."""
    if kind == "prefix":
        return STX + lit
    if kind == "suffix":
        return lit + ETX
    return lit


class FieldIndex:
    """The anchors of one field: rule bits by equal value, an automaton for the affixes, and
    the bits of the rules that only need the field to have a value (``present``)."""

    __slots__ = ("affixes", "eq", "masks", "matcher", "present")

    def __init__(self, eq: dict[str, int], patterns: dict[str, int],
                 make: Callable[[tuple[str, ...]], Matcher] = make_matcher,
                 present: int = 0) -> None:
        self.present = present
        self.eq = eq or None
        keys = tuple(sorted(patterns))
        self.masks = tuple(patterns[k] for k in keys)
        self.matcher = make(keys) if keys else None
        self.affixes = any(k.startswith(STX) or k.endswith(ETX) for k in keys)

    def probe(self, value: str) -> int:
        """The bits of the rules whose anchor on this field holds for ``value`` (casefolded)."""
        bits = self.present | (self.eq.get(value, 0) if self.eq is not None else 0)
        if self.matcher is not None:
            masks = self.masks
            text = STX + value + ETX if self.affixes else value
            for m in self.matcher.find_matches_as_indexes(text, True):
                bits |= masks[m[0]]
        return bits


Requirement = tuple[list[Anchor], ...]
"""A rule's anchor groups (:func:`soc.detection.routing.anchor_groups`): one anchor of each group
must hold; no group: the rule is always a candidate."""


class Prefilter:
    """Candidates for one route bucket.

    Rule ``i`` of the entries (in order) owns bit ``i`` for its first anchor group and bit
    ``n + i`` for its second (``n`` rules): a probe ORs the bits of the anchors that hold, and a
    rule is a candidate when both its bits are set (or it has a single group and the first is).
    """

    __slots__ = ("always", "fields", "full", "keywords", "probes", "rules", "single", "width")

    def __init__(self, entries: Iterable[tuple[int, Requirement]],
                 make: Callable[[tuple[str, ...]], Matcher] = make_matcher) -> None:
        listed = list(entries)
        n = len(listed)
        self.rules = tuple(rule for rule, _ in listed)
        self.width, self.full = n, (1 << n) - 1
        self.always = self.single = 0
        eqs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        pats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        present: dict[str, int] = defaultdict(int)
        for pos, (_, groups) in enumerate(listed):
            if not groups:
                self.always |= 1 << pos
            elif len(groups) == 1:
                self.single |= 1 << pos
            for g, group in enumerate(groups[:2]):
                bit = 1 << (pos + g * n)
                for kind, field, lit in group:
                    if field is None:  # keyword: searched in all the text, all kinds as contains
                        pats[JOINED][lit] |= bit
                    elif kind == "present":
                        present[field] |= bit
                    elif kind == "eq":
                        eqs[field][lit] |= bit
                    else:
                        pats[field][pattern(kind, lit)] |= bit
        self.fields = tuple(
            (key, FieldIndex(dict(eqs.get(key, {})), dict(pats.get(key, {})), make,
                             present.get(key, 0)))
            for key in sorted({*eqs, *pats, *present}))
        self.keywords = next((index for key, index in self.fields if key == JOINED), None)
        self.probes = tuple(
            (key, index, index.eq, index.matcher.find_matches_as_indexes if index.matcher else None,
             index.masks, index.affixes, index.present)
            for key, index in self.fields if key != JOINED)

    def bits(self, f: Folded) -> int:
        """The candidate rules of this event, as bits (rule ``i``: bit ``i``)."""
        bits = 0 if self.keywords is None else self.keywords.probe(f[JOINED])  # type: ignore[arg-type]
        get = f.event.get
        for key, index, eq, find, masks, affixes, present in self.probes:  # FieldIndex.probe
            raw = get(key)
            if raw is None:
                continue
            bits |= present
            if raw.__class__ is not str:  # numbers, lists: as the predicates see them
                for v in _values(f[key]):
                    bits |= index.probe(v)
                continue
            value = raw.casefold()  # not kept in f: few events have candidates that read it
            if eq is not None:
                bits |= eq.get(value, 0)
            if find is not None:
                for m in find(STX + value + ETX if affixes else value, True):
                    bits |= masks[m[0]]
        return self.always | (bits & self.full & ((bits >> self.width) | self.single))

    def candidates(self, f: Folded) -> set[int]:
        """Rules of this bucket that may match the event."""
        return {self.rules[i] for i in iter_bits(self.bits(f))}


def _values(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def iter_bits(bits: int) -> Iterable[int]:
    """The positions of the set bits, lowest first."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low



