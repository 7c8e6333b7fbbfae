"""``soc hunt`` on Elasticsearch: Sigma rules → the queries the cluster runs.

Rules are converted with pySigma's Elasticsearch Lucene backend through the **same** pipelines
the in-process matcher uses (placeholders, ``ecs_windows`` and ``rules/pipelines/``; only the
matcher's own last step, which strips ``.caseless``, is left out), then the Lucene text gets the
case-insensitive rewrite of :mod:`soc.stores.es.query` and is sent as a ``query_string`` with the
time window as a filter.

Field references (``|fieldref``) cannot be written in Lucene. Such a rule still gets a query: the
reference becomes "match everything" where it cannot exclude a match (under an even number of
NOTs) and "match nothing" where it could, so the query finds a superset of the matches. Its
:attr:`HuntQuery.exact` is False and the events it returns must go through the in-process
matcher, which evaluates the reference. Case-sensitive values (``|cased``) are widened the same
way: the case-insensitive match outside a NOT, "match nothing" inside one.

Regular expressions (``|re``) are searched in the value, a Lucene regexp must match the whole
term: each becomes ``field:/.*(...).*/`` on the field itself (never its lowercased ``.caseless``
sub-field) when :mod:`soc.stores.es.regex` can write it in Lucene's syntax, and is otherwise
widened: ``_exists_:field`` outside a NOT, "match nothing" inside one (the whole rule as above
for a keyword regex, or a field that holds no keyword: numbers, addresses, analysed text).

Field names are escaped by :func:`soc.stores.es.query.escape_field` wherever the backend writes
one (the backend's own escaping covers only whitespace and ``*``): ``winlog.event_data.Param(1)``
is ``winlog.event_data.Param\\(1\\)``, in ``_exists_`` tests too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.conditions import ConditionNOT
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag

from soc.detection.correlation_rules import rule_id_of
from soc.detection.pipelines import placeholder_pipeline, store_pipelines
from soc.search import QueryError
from soc.stores.es.query import build, escape_field, rewrite
from soc.stores.es.regex import lucene_regex
from soc.stores.es.templates import CASELESS, ecs_fields

MATCH_ALL = "*:*"
MATCH_NONE = "(NOT *:*)"


@dataclass(frozen=True, slots=True)
class HuntQuery:
    """The query of one rule, or why there is none."""

    rule_id: str  # the engine's id: the rule's UUID, else ``path#title``
    title: str
    lucene: str | None  # what pySigma's backend wrote
    query: str | None  # what is sent (after the case-insensitive rewrite)
    exact: bool = True  # False: re-check the returned events with the in-process matcher
    error: str | None = None

    def dsl(self, since: datetime | None = None,
            until: datetime | None = None) -> dict[str, Any]:
        """The query DSL sent to the cluster for this rule over ``[since, until)``."""
        if self.query is None:
            raise QueryError(f"rule {self.title!r} has no Elasticsearch query: {self.error}")
        return build(self.query, since, until)

    def to_dict(self, since: datetime | None = None,
                until: datetime | None = None) -> dict[str, Any]:
        """What ``soc hunt --show-queries`` prints: both query texts and the request body."""
        return {"rule_id": self.rule_id, "title": self.title, "exact": self.exact,
                "lucene": self.lucene, "query": self.query,
                "dsl": self.dsl(since, until) if self.query is not None else None,
                "error": self.error}


class SocLuceneBackend(LuceneBackend):
    """The Lucene backend, with field references turned into a superset (see module doc)."""

    inexact = False
    # a lone ' is a parse error for luqum (the parser of both stores); Lucene reads \' as '
    add_escaped = LuceneBackend.add_escaped + "'"

    def escape_and_quote_field(self, field_name: str) -> str:
        """Every field name the backend writes, escaped for query_string."""
        return escape_field(field_name)

    def convert_condition_not(self, cond: Any, state: ConversionState) -> Any:
        """``not field: null``: the backend's ``_exists_:field`` with the name escaped."""
        inner = cond.args[0]
        if self._is_field_null_condition(inner):
            return f"_exists_:{self.escape_and_quote_field(inner.field)}"
        return super().convert_condition_not(cond, state)

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> Any:
        return self._widened(cond, MATCH_ALL)

    def convert_condition_field_eq_val_str_case_sensitive(self, cond: Any,
                                                          state: ConversionState) -> Any:
        """``|cased``: the case-insensitive match is a superset (re-checked in-process)."""
        self.inexact = True
        if _negations(cond) % 2:
            return MATCH_NONE
        return self.convert_condition_field_eq_val_str(cond, state)

    def convert_condition_field_eq_val_re(self, cond: Any, state: ConversionState) -> Any:
        """``|re``: ``field:/.*(...).*/`` when it can be written (see module doc), else widened."""
        value: SigmaRegularExpression = cond.value
        field = _field_of(cond)
        flags = value.flags
        translated = lucene_regex(str(value.regexp),
                                  ignorecase=SigmaRegularExpressionFlag.IGNORECASE in flags,
                                  dotall=SigmaRegularExpressionFlag.DOTALL in flags)
        if translated is None or not _keyword(field):
            return self._exists(cond)
        self.inexact = self.inexact or not translated.exact
        return f"{self.escape_and_quote_field(field)}:/{translated.pattern}/"

    def convert_condition_field_eq_val_cidr(self, cond: Any, state: ConversionState) -> Any:
        """A network: the address field's own CIDR query for IPv4 (the rewrite keeps it on the
        field); elsewhere a term that would find nothing, so widened."""
        network = cond.value.network
        if _field_of(cond) in _typed_fields("ip") and network.version == 4:
            return self.cidr_expression.format(field=self.escape_and_quote_field(cond.field),
                                               network=network.network_address,
                                               prefixlen=network.prefixlen)
        return self._exists(cond)

    def convert_condition_field_eq_val_timestamp_part(self, cond: Any,
                                                      state: ConversionState) -> Any:
        """``|hour``, ``|minute``...: no Lucene form (the backend would compare the whole value)."""
        return self._exists(cond)

    def convert_condition_val_re(self, cond: Any, state: ConversionState) -> Any:
        """A keyword regex (no field): widened to every event."""
        return self._widened(cond, MATCH_ALL)

    def _widened(self, cond: Any, superset: str) -> str:
        """``superset`` of a test where it cannot exclude a match, "match nothing" where a NOT
        above it would make a superset exclude one."""
        self.inexact = True
        return superset if _negations(cond) % 2 == 0 else MATCH_NONE

    def _exists(self, cond: Any) -> str:
        """Widened to the events that have the condition's field."""
        return self._widened(cond, f"_exists_:{self.escape_and_quote_field(_field_of(cond))}")


def _field_of(cond: Any) -> str:
    """The condition's field, on the field itself rather than its ``.caseless`` sub-field."""
    return str(cond.field).removesuffix(f".{CASELESS}")


def _keyword(field: str) -> bool:
    """Whether a regexp query can run on the field: a keyword (fields the mapping does not
    name are strings mapped as keywords by the dynamic templates)."""
    return field not in _typed_fields() or field in _typed_fields("keyword")


@cache
def _typed_fields(kind: str | None = None) -> frozenset[str]:
    """The fields the explicit mapping gives type ``kind`` (None: any type)."""
    return frozenset(name for name, mapping in ecs_fields().items()
                     if kind is None or mapping.get("type") == kind)


def _negations(cond: Any) -> int:
    """How many NOTs are above a condition."""
    negations = 0
    node = getattr(cond, "parent", None)
    while node is not None:
        negations += isinstance(node, ConditionNOT)
        node = getattr(node, "parent", None)
    return negations


def hunt_pipeline(placeholders: Mapping[str, Iterable[str]] | None = None) -> ProcessingPipeline:
    """Placeholders and the store-neutral pipelines, in priority order."""
    parts = [placeholder_pipeline(placeholders or {}), *store_pipelines()]
    parts.sort(key=lambda p: p.priority)
    combined = ProcessingPipeline()
    for part in parts:
        combined = combined + part
    return combined


def convert_rule(rule: SigmaRule, pipeline: ProcessingPipeline) -> HuntQuery:
    """The hunt query of one rule; a conversion failure is reported, never raised."""
    rid = rule_id_of(rule)
    backend = SocLuceneBackend(processing_pipeline=pipeline)
    output = rule._output  # a correlation's base rule is not output: a hunt still needs it
    rule._output = True
    try:
        queries = [q for q in map(str, backend.convert_rule(rule)) if q.strip()]
    except (SigmaError, ValueError, TypeError, KeyError, NotImplementedError) as exc:
        return HuntQuery(rid, rule.title, None, None, error=str(exc).split("\n")[0])
    finally:
        rule._output = output
    if not queries:  # never "match everything" by accident
        return HuntQuery(rid, rule.title, None, None, error="the backend wrote no query")
    lucene = queries[0] if len(queries) == 1 else " OR ".join(f"({q})" for q in queries)
    if lucene != lucene.rstrip():  # ends with an escaped space (endswith: ' '): a strip() by a
        lucene = f"({lucene})"  # parser would leave a dangling backslash
    try:
        query = rewrite(lucene, hunt=True) or MATCH_ALL
    except QueryError as exc:
        return HuntQuery(rid, rule.title, lucene, None, error=exc.message)
    return HuntQuery(rid, rule.title, lucene, query, exact=not backend.inexact)


def hunt_queries(rules: Iterable[SigmaRule],
                 placeholders: Mapping[str, Iterable[str]] | None = None) -> list[HuntQuery]:
    """The hunt query of every rule (errors collected per rule)."""
    pipeline = hunt_pipeline(placeholders)
    return [convert_rule(rule, pipeline) for rule in rules]
