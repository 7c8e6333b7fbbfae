"""Lucene on Elasticsearch with the embedded store's semantics.

The query is parsed with luqum (the embedded store's parser: same syntax errors) and passed to
Elasticsearch as a ``query_string`` query after one rewrite, so that matching is
case-insensitive as on the embedded store and in the in-process Sigma matcher:

* ``field:term`` (words, wildcards, phrases, fuzzy terms) → ``field.caseless:term``, the
  lowercase-normalised sub-field every field has (``soc/stores/es/templates.py``);
* ranges, ``_exists_``, CIDR terms (``source.ip:10.0.0.0/8``, ``source.ip:"2001:db8::/32"``,
  also in a group: ``source.ip:(10.0.0.0/8 OR 1.2.3.4)``; an unescaped ``/`` is sent escaped),
  fields already ending in ``.caseless`` keep their field;
* words and phrases on the text fields (``message``...) are searched *inside* the value, as the
  embedded store does (``message:fail`` finds ``Failed password``, ``message:"a b"`` finds
  ``xa bx``): ``(message.caseless:*fail* OR message:fail)``, the second for values longer than
  the keyword's ``ignore_above``; other terms on them (ranges, regexes) keep the field;
* regular expressions: on ``soc search`` they go to ``.caseless`` with their letters lowercased
  (case-insensitive, like the embedded store); in hunts they keep the field (Sigma's ``|re`` is
  case-sensitive);
* a bare term searches inside every value of the event: ``denied`` → ``soc.values:*denied*``.

Field names are written again with :func:`escape_field`: luqum takes ``winlog.event_data.a/b``
(or ``a!b``) as one name, as the embedded store does, where Lucene would read ``/`` as the start of
a regexp. Unescaped ``*`` and ``?`` in a name stay wildcards (``winlog.event_data.*:admin``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

from luqum.tree import (
    FieldGroup,
    From,
    Fuzzy,
    Group,
    Item,
    OrOperation,
    Phrase,
    Range,
    Regex,
    SearchField,
    To,
    Word,
)
from luqum.visitor import TreeTransformer

from soc.ecs import format_ts
from soc.search import QueryError, cidr_network, parse_query, term_chunks
from soc.stores.es.templates import CASELESS, TEXT_FIELDS, VALUES_FIELD

_SPECIAL = re.compile(r'([+\-=&|!(){}\[\]<>^"~*?:\\/ ])')
# query_string's reserved characters and any whitespace; also ' (luqum, the parser of both stores,
# cannot read it at the start of a name). Not @: ``@timestamp`` is a plain term for Lucene.
_FIELD_SPECIAL = re.compile(r"""([+\-=&|!(){}\[\]<>^"'~*?:\\/]|\s)""")
_EXISTS = "_exists_"
_KEEP = {_EXISTS, "*"}
T = TypeVar("T", bound=Item)


def escape(text: str) -> str:
    """Escape every query_string special character (and spaces) of a literal."""
    return _SPECIAL.sub(r"\\\1", text)


def escape_field(name: str) -> str:
    """A field name as query_string must spell it: every reserved character and whitespace
    backslash-escaped (``Param(1)`` → ``Param\\(1\\)``, ``Some Name`` → ``Some\\ Name``)."""
    return _FIELD_SPECIAL.sub(r"\\\1", name)


def field_pattern(raw: str) -> str:
    """A name as luqum parsed it (escapes kept), escaped again by :func:`escape_field`;
    its unescaped ``*`` and ``?`` stay wildcards."""
    return "".join(text if wild else escape_field(text) for wild, text in term_chunks(raw))


def lower_regex(pattern: str) -> str:
    """Lowercase the letters of a regex, leaving escapes (``\\D``, ``\\W``) as written."""
    out: list[str] = []
    escaped = False
    for ch in pattern:
        out.append(ch if escaped else ch.lower())
        escaped = not escaped and ch == "\\"
    return "".join(out)


def _is_cidr(expr: Item) -> bool:
    """A CIDR term (word or phrase), or a group holding one: Elasticsearch matches those on the
    ``ip`` field itself (``.caseless`` is a keyword)."""
    if isinstance(expr, Word):
        chunks = term_chunks(expr.value)
        return (not any(wild for wild, _ in chunks)
                and cidr_network("".join(text for _, text in chunks)) is not None)
    if isinstance(expr, Phrase):
        return cidr_network(expr.value[1:-1]) is not None
    return any(_is_cidr(child) for child in expr.children)


def _slashes_escaped(expr: Item) -> Item:
    """``expr`` with every unescaped ``/`` of its words escaped (Lucene reads ``/`` as the start
    of a regular expression; luqum, and so the embedded store, as part of the word)."""
    if isinstance(expr, Word):
        escaped = "".join(text if wild else escape_field(text) for wild, text
                          in term_chunks(expr.value))
        word: Item = Word(escaped)
        return _spaced(word, expr)
    if not expr.children:
        return expr
    clone: Item = expr.clone_item()
    clone.children = [_slashes_escaped(child) for child in expr.children]
    return _spaced(clone, expr)


def _contains(value: str) -> str:
    """A wildcard that finds ``value`` (a raw Lucene term) inside a longer text."""
    start = "" if value.startswith("*") else "*"
    trailing_escape = len(value) - len(value.rstrip("\\"))
    end = "" if value.endswith("*") and trailing_escape % 2 == 0 else "*"
    return f"{start}{value}{end}"


class CaselessRewriter(TreeTransformer):  # type: ignore[misc]
    """The rewrite described in the module docstring (``hunt`` keeps regexes case-sensitive)."""

    def __init__(self, *, hunt: bool = False) -> None:
        super().__init__(track_parents=False)
        self.hunt = hunt

    def visit_search_field(self, node: SearchField, context: Any) -> Iterator[Item]:
        yield self._field(node)

    def _field(self, node: SearchField) -> Item:
        name, expr = field_pattern(node.name), node.expr
        if name in TEXT_FIELDS and _substring_terms(expr):
            return _inside_text(name, expr, node)
        keep = (name in _KEEP or name.endswith(f".{CASELESS}") or name in TEXT_FIELDS
                or isinstance(expr, Range | From | To) or (isinstance(expr, Regex) and self.hunt))
        if _is_cidr(expr):
            keep, expr = True, _slashes_escaped(expr)
        elif name == _EXISTS and isinstance(expr, Word):  # the term is a field name
            expr = _spaced(Word(field_pattern(expr.value)), expr)
        elif not keep and isinstance(expr, Regex):
            expr = _spaced(Regex(lower_regex(expr.value)), expr)
        return _spaced(SearchField(name if keep else f"{name}.{CASELESS}", expr), node)

    def visit_word(self, node: Word, context: Any) -> Iterator[Item]:
        yield self._bare(Word(_contains(node.value)), node)

    def visit_phrase(self, node: Phrase, context: Any) -> Iterator[Item]:
        yield self._bare(Word(_contains(escape(node.value[1:-1]))), node)

    def visit_fuzzy(self, node: Fuzzy, context: Any) -> Iterator[Item]:
        yield self._bare(node, node)

    def visit_regex(self, node: Regex, context: Any) -> Iterator[Item]:
        raise QueryError("a regular expression needs a field",
                         hint="Write field:/pattern/, e.g. user.name:/adm.n/")

    def visit_field_group(self, node: FieldGroup, context: Any) -> Iterator[Item]:
        yield node  # only reached inside a SearchField, which handles it whole

    @staticmethod
    def _bare(expr: Item, original: Item) -> SearchField:
        return _spaced(SearchField(VALUES_FIELD, expr), original)


def _substring_terms(expr: Item) -> bool:
    """Only words and phrases (not ``*`` alone), in groups or not: what a text field searches
    inside its values."""
    if isinstance(expr, Word):
        return str(expr.value) != "*"
    if isinstance(expr, Phrase):
        return True
    if isinstance(expr, Fuzzy | Regex | Range | From | To) or not expr.children:
        return False
    return all(_substring_terms(child) for child in expr.children)


def _as_contains(expr: Item) -> Item:
    """Each word and phrase of ``expr`` as a wildcard that finds it inside a value."""
    if isinstance(expr, Word):
        return _spaced(Word(_contains(expr.value)), expr)
    if isinstance(expr, Phrase):
        return _spaced(Word(_contains(escape(expr.value[1:-1]))), expr)
    clone: Item = expr.clone_item()
    clone.children = [_as_contains(child) for child in expr.children]
    return _spaced(clone, expr)


def _inside_text(name: str, expr: Item, node: SearchField) -> Group:
    """``(name.caseless:*term* OR name:term)``: the term inside the whole value (its keyword,
    lowercased), or as words of the text (values past ``ignore_above`` have no keyword)."""
    head, tail = node.head + expr.head, expr.tail + node.tail
    expr.head = expr.tail = ""
    inside = SearchField(f"{name}.{CASELESS}", _as_contains(expr))
    words = SearchField(name, expr)
    inside.tail, words.head = " ", " "
    group = Group(OrOperation(inside, words))
    group.head, group.tail = head, tail
    return group


def _spaced(new: T, old: Item) -> T:
    """``new`` with the whitespace around ``old`` (luqum keeps it on the nodes)."""
    new.head, new.tail = old.head, old.tail
    return new


def rewrite(query: str, *, hunt: bool = False) -> str | None:
    """The query_string text for a Lucene query; None when it matches everything."""
    tree = parse_query(query)
    if tree is None:
        return None
    return str(CaselessRewriter(hunt=hunt).visit(tree)).strip()


def query_string(text: str) -> dict[str, Any]:
    return {"query_string": {"query": text, "default_operator": "AND", "lenient": True,
                             "allow_leading_wildcard": True, "analyze_wildcard": True,
                             "default_field": VALUES_FIELD}}


def time_range(since: datetime | None, until: datetime | None) -> dict[str, Any] | None:
    """``[since, until)`` on ``@timestamp``, in UTC."""
    bounds: dict[str, Any] = {}
    if since is not None:
        bounds["gte"] = format_ts(since)
    if until is not None:
        bounds["lt"] = format_ts(until)
    if not bounds:
        return None
    return {"range": {"@timestamp": {**bounds, "format": "strict_date_optional_time"}}}


def build(text: str | None, since: datetime | None = None,
          until: datetime | None = None) -> dict[str, Any]:
    """The query DSL: the rewritten Lucene text and the time window, as filters."""
    filters = [query_string(text)] if text else []
    window = time_range(since, until)
    if window:
        filters.append(window)
    return {"bool": {"filter": filters}} if filters else {"match_all": {}}


def search_query(query: str, since: datetime | None = None,
                 until: datetime | None = None) -> dict[str, Any]:
    """The query DSL ``soc search`` sends for a Lucene query and a window."""
    return build(rewrite(query), since, until)
