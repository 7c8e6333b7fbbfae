"""Lucene query syntax (parsed with luqum) compiled to a SQL WHERE fragment over JSON documents.

The embedded store keeps each event as a JSON object with flat dotted keys in a ``doc`` column;
``compile_query`` turns ``source.ip:10.0.0.5 AND NOT user.name:adm*`` into a fragment such as
``(EXISTS (SELECT 1 FROM json_each(doc, ?) AS v WHERE ...) AND NOT (...))`` plus its parameters.
Matching is case-insensitive (Unicode case folding after NFC normalisation, so ``nguyễn`` finds
``NGUYỄN``) and multi-valued fields match when any element does. The SQL functions the fragment
calls are registered on a connection by :func:`setup_connection`. Field names are un-escaped as
Lucene reads them (``Some\\ Name``, ``Param\\(1\\)``) and stay bound parameters. See docs/search.md.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from luqum.exceptions import IllegalCharacterError, ParseError
from luqum.parser import parser as _luqum_parser
from luqum.tree import (
    AndOperation,
    BaseApprox,
    Boost,
    FieldGroup,
    From,
    Group,
    Item,
    Not,
    OrOperation,
    Phrase,
    Plus,
    Prohibit,
    Range,
    Regex,
    SearchField,
    To,
    Word,
)
from luqum.utils import UnknownOperationResolver

from soc import jsonutil
from soc.ecs import normalize_ts
from soc.errors import ExitCode, SocError

Fragment = tuple[str, list[object]]
"""A SQL boolean expression with ``?`` placeholders and its parameters, in order."""

MATCH_ALL: Fragment = ("1", [])
EXISTS_FIELD = "_exists_"
TEXT_FIELDS = frozenset({"message", "event.original", "error.message"})
"""Free-text fields: ``message:denied`` finds the word inside the text, like a text field in ES."""

_SYNTAX_HINT = 'Quote values with spaces or special characters: user.name:"Nguyễn Văn A".'
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_ELEMENT = "soc_fold({v}, {t})"
_CIDR_SHAPE = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)/\d{1,3}$")
"""An IPv4 or IPv6 network in CIDR notation (``192.168.4.0/24``, ``2001:db8::/32``)."""
# Characters a JSON key holds escaped. SQLite compares a path label with the key as written
# (3.40: ``$."a\\b"`` misses the key ``a\b``), so names with one are looked up by key instead.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_resolve_implicit = UnknownOperationResolver(resolve_to=AndOperation)


class QueryError(SocError):
    """A search query that cannot be parsed or compiled."""

    exit_code = ExitCode.USAGE
    default_hint = _SYNTAX_HINT


# --- text folding and wildcards (shared by the compiler and the SQL functions) -------------------


def fold(text: str) -> str:
    """Case-insensitive form of a text: NFC normalised, then Unicode case folded."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", text).casefold()


def term_chunks(raw: str) -> list[tuple[bool, str]]:
    """Split a Lucene term into (is_wildcard, text) chunks; ``\\x`` is a literal ``x``."""
    out: list[tuple[bool, str]] = []
    literal: list[str] = []
    chars = iter(raw)
    for ch in chars:
        if ch == "\\":
            literal.append(next(chars, "\\"))
        elif ch in "*?":
            if literal:
                out.append((False, "".join(literal)))
                literal = []
            out.append((True, ch))
        else:
            literal.append(ch)
    if literal:
        out.append((False, "".join(literal)))
    return out


def _glob(chunks: list[tuple[bool, str]], case: Callable[[str], str] = fold) -> str:
    """A SQLite GLOB pattern: literal text through ``case`` (folded for values), its ``*?[``
    bracketed; wildcards as they are."""
    return "".join(text if wild else re.sub(r"([*?\[])", r"[\1]", case(text))
                   for wild, text in chunks)


@dataclass(frozen=True)
class Field:
    """A field a query names: ``name`` un-escaped, or, when the name has unescaped ``*`` or
    ``?``, ``glob``: a GLOB pattern over the event's keys (``name`` is then as written)."""

    name: str
    glob: str | None = None

    @property
    def text(self) -> bool:
        """A free-text field (``TEXT_FIELDS``): its values are searched for words."""
        return self.glob is None and self.name in TEXT_FIELDS


def parse_field(raw: str) -> Field:
    """A field name as luqum keeps it, escapes included, read as Lucene does: ``\\x`` is a
    literal ``x`` (``Some\\ Name`` is ``Some Name``, ``a\\*b`` is ``a*b``)."""
    chunks = term_chunks(raw)
    if any(wild for wild, _ in chunks):
        return Field(raw, _glob(chunks, case=str))
    return Field("".join(text for _, text in chunks))


def _regex(chunks: list[tuple[bool, str]]) -> str:
    """A Python regex over folded text, unanchored (the bare-term matcher searches inside)."""
    return "".join(
        (".*" if text == "*" else ".") if wild else re.escape(fold(text))
        for wild, text in chunks
    )


# --- SQL functions -------------------------------------------------------------------------------


def _sql_fold(value: object, kind: str | None) -> str | None:
    """soc_fold(value, type) over a json_each row: the folded text form of one JSON value."""
    if value is None:
        return None
    if kind == "true" or kind == "false":
        return kind
    if isinstance(value, str):
        return fold(value)
    return str(value)


def _sql_num(value: object, kind: str | None) -> float | int | None:
    """soc_num(value, type): a JSON number, or a text that spells a number; else NULL."""
    if isinstance(value, int | float) and kind in ("integer", "real"):
        return value
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


@lru_cache(maxsize=256)
def _compiled_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


def _sql_regexp(pattern: str, value: object) -> bool:
    """soc_regexp(pattern, value): Lucene regexes match the whole value."""
    if value is None:
        return False
    return _compiled_regex(pattern).fullmatch(str(value)) is not None


def _text_values(value: object) -> list[str]:
    if isinstance(value, list):
        return [t for item in value for t in _text_values(item)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if value is None or isinstance(value, dict):
        return []
    return [fold(value) if isinstance(value, str) else str(value)]


@lru_cache(maxsize=256)
def _value_test(spec: str) -> Callable[[str], bool]:
    """``s:text`` tests that a value contains the text; ``w:regex`` searches the regex in it."""
    if spec.startswith("s:"):
        term = spec[2:]
        return lambda text: term in text
    pattern = re.compile(spec[2:], re.DOTALL)
    return lambda text: pattern.search(text) is not None


def _sql_any(doc: str | None, needle: str, spec: str) -> bool:
    """soc_any(doc, needle, spec): some value of the event (not a key) matches a bare term.

    ``needle`` (folded, JSON-escaped) must occur in the document text: a cheap first test.
    """
    if doc is None or needle not in fold(doc):
        return False
    test = _value_test(spec)
    values = jsonutil.loads(doc).values()
    return any(test(text) for value in values for text in _text_values(value))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def cidr_network(literal: str) -> Network | None:
    """The network a CIDR term names (``10.0.0.0/8``, ``2001:db8::/32``), None when the term
    is not shaped as one. Host bits are allowed (``10.1.2.3/8`` is ``10.0.0.0/8``), as on
    Elasticsearch; a CIDR-shaped term that is no network is a :class:`QueryError`."""
    if not _CIDR_SHAPE.match(literal):
        return None
    try:
        return ipaddress.ip_network(literal, strict=False)
    except ValueError as exc:
        hint = ('Write networks as source.ip:192.168.4.0/24 (IPv4 prefixes up to /32) or '
                'source.ip:"2001:db8::/32" (IPv6, up to /128).')
        raise QueryError(f"bad network {literal!r}: {exc}", hint=hint) from None


@lru_cache(maxsize=256)
def _network(spec: str) -> Network:
    return ipaddress.ip_network(spec, strict=False)


def _sql_cidr(spec: str, value: object) -> bool:
    """soc_cidr(network, value): the value is an IP address inside the network (an IPv4-mapped
    IPv6 address counts as its IPv4 address, as on Elasticsearch), or is the network's text."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "/" in text and fold(text) == spec
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address in _network(spec)


def setup_connection(conn: sqlite3.Connection) -> None:
    """Register the SQL functions that compiled queries call (once per connection)."""
    conn.create_function("soc_fold", 2, _sql_fold, deterministic=True)
    conn.create_function("soc_cidr", 2, _sql_cidr, deterministic=True)
    conn.create_function("soc_num", 2, _sql_num, deterministic=True)
    conn.create_function("soc_regexp", 2, _sql_regexp, deterministic=True)
    conn.create_function("soc_any", 3, _sql_any, deterministic=True)


# --- the compiler --------------------------------------------------------------------------------


def parse_query(query: str) -> Item | None:
    """The luqum tree of a query (implicit operators resolved to AND); None matches everything."""
    text = query.strip()
    if not text or text == "*":
        return None
    try:
        tree = _luqum_parser.parse(text)
    except IllegalCharacterError as exc:
        raise QueryError(f"cannot parse query {text!r}: {exc}",
                         hint=_illegal_hint(str(exc))) from None
    except ParseError as exc:
        raise QueryError(f"cannot parse query {text!r}: {exc}") from None
    resolved: Item = _resolve_implicit(tree)
    return resolved


def _illegal_hint(message: str) -> str:
    if "'\"" in message:
        return 'Close every quote, or escape it: field:"say \\"hi\\"".'
    if "'/" in message:
        return "Escape slashes or quote the value: url.path:\\/admin* or url.path:\"/admin\"."
    return _SYNTAX_HINT


def compile_query(query: str, *, columns: Mapping[str, str] | None = None,
                  value_columns: Mapping[str, str] | None = None) -> Fragment:
    """Compile a Lucene query to a SQL WHERE fragment over a JSON ``doc`` column.

    ``columns`` names SQL columns that hold a field's value verbatim (``{"@timestamp": "ts"}``):
    string ranges on those fields use the column, and so its index. ``value_columns`` names
    columns that hold a field's value as ``json_extract`` reads it from the document, except
    booleans, arrays and objects, held as their JSON text in a BLOB (the storage type marks
    them): tests on those fields read the column instead of the document, with the same results.
    """
    tree = parse_query(query)
    if tree is None:
        return MATCH_ALL
    return _Compiler(columns or {}, value_columns or {}).node(tree, None)


def _column_test(column: str, cond: str, params: list[object]) -> Fragment:
    """``_field_test`` on a value column: the condition on the value itself, or on each element
    of an array (a JSON BLOB); false when the field is missing or null, as in the document."""
    each = cond.format(v="v.value", t="v.type")
    scalar = cond.format(v=column, t=f"typeof({column})")
    return (f"(CASE typeof({column}) WHEN 'blob' THEN EXISTS (SELECT 1 FROM "
            f"json_each(CAST({column} AS TEXT)) AS v WHERE {each}) WHEN 'null' THEN 0 "
            f"ELSE ({scalar}) END)", [*params, *params])


class _Compiler:
    """Walks a luqum tree; ``field`` is the field the enclosing ``field:(...)`` names, if any."""

    def __init__(self, columns: Mapping[str, str], value_columns: Mapping[str, str]) -> None:
        self.columns = columns
        self.value_columns = value_columns

    def test(self, field: Field, cond: str, params: list[object]) -> Fragment:
        """Some element of ``field`` satisfies ``cond`` (``{v}``: the value, ``{t}``: its
        JSON type): on its value column when it has one, else in the document."""
        column = self.value_columns.get(field.name) if field.glob is None else None
        if column is not None:
            return _column_test(column, cond, params)
        return _field_test(field, cond, params)

    def node(self, node: Item, field: Field | None) -> Fragment:
        if isinstance(node, AndOperation | OrOperation):
            return self._operation(node, field)
        if isinstance(node, Not | Prohibit):
            sql, params = self.node(node.a, field)
            return f"NOT ({sql})", params
        if isinstance(node, Plus):
            return self.node(node.a, field)
        if isinstance(node, Group | FieldGroup):
            sql, params = self.node(node.expr, field)
            return f"({sql})", params
        if isinstance(node, Boost):
            return self.node(node.expr, field)
        if isinstance(node, SearchField):
            return self._search_field(node, field)
        return self._leaf(node, field)

    def _operation(self, node: AndOperation | OrOperation, field: Field | None) -> Fragment:
        joiner = " AND " if isinstance(node, AndOperation) else " OR "
        parts = [self.node(operand, field) for operand in node.operands]
        return "(" + joiner.join(sql for sql, _ in parts) + ")", [p for _, ps in parts for p in ps]

    def _search_field(self, node: SearchField, outer: Field | None) -> Fragment:
        if outer is not None:
            raise QueryError(f"field {node.name!r} inside the group of field {outer.name!r}",
                             hint=f"Write {outer.name}:(a OR b) with bare values inside.")
        if node.name == EXISTS_FIELD:
            if not isinstance(node.expr, Word) or parse_field(node.expr.value).glob:
                raise QueryError("_exists_ needs a field name",
                                 hint="Write _exists_:source.ip, or source.ip:*")
            return self.test(parse_field(node.expr.value), "{t} <> 'null'", [])
        return self.node(node.expr, parse_field(node.name))

    def _leaf(self, node: Item, field: Field | None) -> Fragment:
        if isinstance(node, Range | From | To):
            if field is None:
                raise QueryError(f"range {node} has no field",
                                 hint="Name the field: event.severity:[3 TO 5]")
            return self._range(field, *_bounds(node))
        if isinstance(node, Phrase):
            literal = re.sub(r"\\(.)", r"\1", node.value[1:-1])
            return _literal(self.test, field, literal)
        if isinstance(node, Word):
            return _word(self.test, field, node.value)
        if isinstance(node, Regex):
            return _regex_term(self.test, field, node.value[1:-1])
        if isinstance(node, BaseApprox):
            raise QueryError(f"fuzzy and proximity search ({node}) is not supported",
                             hint="Use wildcards instead: user.name:adm*n")
        raise QueryError(f"unsupported query element {node}")

    def _range(self, field: Field, low: Bound, high: Bound) -> Fragment:
        if low is None and high is None:
            return self.test(field, "{t} <> 'null'", [])
        values = [b[0] for b in (low, high) if b is not None]
        numeric = all(_NUMBER.match(v) for v in values)
        conds: list[str] = []
        params: list[object] = []
        column = self.columns.get(field.name) if not numeric and field.glob is None else None
        target = "soc_num({v}, {t})" if numeric else (column or "{v}")
        for bound, op in ((low, ">"), (high, "<")):
            if bound is not None:
                value, inclusive = bound
                conds.append(f"{target} {op}{'=' if inclusive else ''} ?")
                params.append(float(value) if numeric else _canonical(value))
        if column is not None:
            return "(" + " AND ".join(conds) + ")", params
        if not numeric:
            conds.insert(0, "{t} = 'text'")
        return self.test(field, " AND ".join(conds), params)


Bound = tuple[str, bool] | None
"""One end of a range: (value, inclusive), or None when open (``*``)."""


def _bounds(node: Range | From | To) -> tuple[Bound, Bound]:
    if isinstance(node, From):
        return _bound(node.a, node.include), None
    if isinstance(node, To):
        return None, _bound(node.a, node.include)
    return _bound(node.low, node.include_low), _bound(node.high, node.include_high)


def _bound(term: Item, inclusive: bool) -> Bound:
    if isinstance(term, Phrase):
        return re.sub(r"\\(.)", r"\1", term.value[1:-1]), inclusive
    if isinstance(term, Word):
        return (None if term.value == "*" else (term.unescaped_value, inclusive))
    raise QueryError(f"bad range bound {term}", hint="Write ranges as field:[low TO high]")


def _canonical(value: str) -> str:
    """Full ISO timestamps become canonical (``...T08:00:00.000Z``) so they compare as stored."""
    if "T" in value and value[:4].isdigit():
        try:
            return normalize_ts(value)
        except ValueError:
            return value
    return value


def _field_test(field: Field, cond: str, params: list[object]) -> Fragment:
    """Some element of ``field`` (a scalar or each item of an array) satisfies ``cond``: found
    by its JSON path, or by its key among the document's (a pattern, or a name JSON escapes)."""
    if field.glob is None and not _JSON_ESCAPED.search(field.name):
        each = cond.format(v="v.value", t="v.type")
        return (f"EXISTS (SELECT 1 FROM json_each(doc, ?) AS v WHERE {each})",
                [f'$."{field.name}"', *params])
    key = "f.key = ?" if field.glob is None else "f.key GLOB ?"
    each, scalar = cond.format(v="v.value", t="v.type"), cond.format(v="f.value", t="f.type")
    return (f"EXISTS (SELECT 1 FROM json_each(doc) AS f WHERE {key} AND CASE WHEN f.type IN "
            f"('array', 'object') THEN EXISTS (SELECT 1 FROM json_each(f.value) AS v WHERE "
            f"{each}) ELSE ({scalar}) END)", [field.glob or field.name, *params, *params])


FieldTest = Callable[[Field, str, list[object]], Fragment]
"""``test(field, cond, params)``: some element of the field satisfies the condition."""


def _word(test: FieldTest, field: Field | None, raw: str) -> Fragment:
    if raw == "*":
        return MATCH_ALL if field is None else test(field, "{t} <> 'null'", [])
    chunks = term_chunks(raw)
    if not any(wild for wild, _ in chunks):
        return _literal(test, field, "".join(text for _, text in chunks))
    if field is None:
        longest = max((text for wild, text in chunks if not wild), key=len, default="")
        return "soc_any(doc, ?, ?)", [_needle(longest), "w:" + _regex(chunks)]
    pattern = _glob(chunks)
    if field.text:
        pattern = f"*{pattern}*"
    return test(field, f"{_ELEMENT} GLOB ?", [pattern])


def _literal(test: FieldTest, field: Field | None, literal: str) -> Fragment:
    """An exact value (case-insensitive); numbers also match JSON numbers numerically; a CIDR
    network matches the IP addresses inside it."""
    folded = fold(literal)
    if field is None:
        return "soc_any(doc, ?, ?)", [_needle(literal), "s:" + folded]
    if field.text:
        return test(field, f"instr({_ELEMENT}, ?) > 0", [folded])
    if cidr_network(literal) is not None:
        return test(field, "{t} = 'text' AND soc_cidr(?, {v})", [folded])
    if _NUMBER.match(literal):
        cond = f"({_ELEMENT} = ? OR ({{t}} IN ('integer', 'real') AND {{v}} = ?))"
        return test(field, cond, [folded, float(literal)])
    return test(field, f"{_ELEMENT} = ?", [folded])


def _needle(literal: str) -> str:
    """How a literal appears, folded, inside a JSON document's text."""
    return json.dumps(fold(literal), ensure_ascii=False)[1:-1]


def _regex_term(test: FieldTest, field: Field | None, pattern: str) -> Fragment:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise QueryError(f"bad regular expression /{pattern}/: {exc}") from None
    if field is None:
        raise QueryError("a regular expression needs a field",
                         hint="Write field:/pattern/, e.g. user.name:/adm.n/")
    return test(field, "{t} = 'text' AND soc_regexp(?, {v})", [pattern])
