"""Field names with Lucene's reserved characters in the ``query_string`` queries Elasticsearch gets.

ECS names from Winlogbeat's EventData (``winlog.event_data.Some Name``, ``...Param(1)``) and Sigma
rules can hold characters the query_string syntax reserves. Each query is checked twice: its exact
text, and luqum's parse of it (the parser both stores share), whose field names, un-escaped, must
be the intended fields: an unescaped ``(`` is a syntax error (HTTP 400), an unescaped space or
colon silently names another field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from luqum.tree import SearchField, Word
from luqum.visitor import TreeVisitor
from pytest_httpserver import HTTPServer
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from soc.cli.main import main
from soc.search import parse_query
from soc.stores.es.hunt import HuntQuery, hunt_queries
from soc.stores.es.query import escape_field, rewrite
from tests.test_es_store import API_KEY, Peer, config

EVENT_DATA = "winlog.event_data."
SECURITY = "winlog.channel.caseless:Security"


class _Fields(TreeVisitor):  # type: ignore[misc]
    """The field names a query names, as Lucene reads them (escapes removed)."""

    def __init__(self) -> None:
        super().__init__(track_parents=False)
        self.names: list[str] = []

    def visit_search_field(self, node: SearchField, context: object) -> object:
        name = node.name
        if name == "_exists_" and isinstance(node.expr, Word):
            name = node.expr.value  # the field is the term: _exists_:field
        self.names.append(re.sub(r"\\(.)", r"\1", name))
        yield from self.generic_visit(node, context)


def fields_of(query: str) -> list[str]:
    """Field names of ``query`` in order, parsed with luqum and un-escaped."""
    visitor = _Fields()
    visitor.visit(parse_query(query))
    return visitor.names


def convert(text: str) -> HuntQuery:
    (query,) = hunt_queries([r for r in SigmaCollection.from_yaml(text).rules
                             if isinstance(r, SigmaRule)])
    return query


# --- the helper -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "escaped"), [
    ("winlog.event_data.Some Name", "winlog.event_data.Some\\ Name"),
    ("winlog.event_data.Param(1)", "winlog.event_data.Param\\(1\\)"),
    ("url/path", "url\\/path"),
    ("Key:Value", "Key\\:Value"),
    ("a-b+c!d", "a\\-b\\+c\\!d"),
    ('a"b\'c', 'a\\"b\\\'c'),
    ("a[b]{c}<d>=e", "a\\[b\\]\\{c\\}\\<d\\>\\=e"),
    ("a^b~c*d?e&f|g", "a\\^b\\~c\\*d\\?e\\&f\\|g"),
    ("back\\slash", "back\\\\slash"),
    ("tab\there", "tab\\\there"),
    ("@timestamp", "@timestamp"),  # not reserved by query_string: left as Kibana writes it
    ("source.ip", "source.ip"),
])
def test_escape_field(name: str, escaped: str) -> None:
    assert escape_field(name) == escaped
    assert fields_of(f"{escape_field(name)}:x") == [name]


# --- soc hunt: pySigma's backend through our pipelines ----------------------------------------

SPECIAL_RULE = """\
title: Fields whose names Lucene reserves characters in
id: 6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e51
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4688
    Some Name: adm
    Param(1): x
    Dir/Path|endswith: '.ps1'
    Key:Value: [alpha, beta]
    Count(n)|gte: 5
  condition: selection
"""
SPECIAL_LUCENE = (
    "winlog.channel:Security AND (event.code:4688 AND winlog.event_data.Some\\ Name:adm AND "
    "winlog.event_data.Param\\(1\\):x AND winlog.event_data.Dir\\/Path:*.ps1 AND "
    "(winlog.event_data.Key\\:Value:(alpha OR beta)) AND winlog.event_data.Count\\(n\\):>=5)")
SPECIAL_QUERY = (
    f"{SECURITY} AND (event.code.caseless:4688 AND winlog.event_data.Some\\ Name.caseless:adm "
    "AND winlog.event_data.Param\\(1\\).caseless:x AND "
    "winlog.event_data.Dir\\/Path.caseless:*.ps1 AND "
    "(winlog.event_data.Key\\:Value.caseless:(alpha OR beta)) AND "
    "winlog.event_data.Count\\(n\\):>=5)")
SPECIAL_FIELDS = ["winlog.channel.caseless", "event.code.caseless",
                  f"{EVENT_DATA}Some Name.caseless", f"{EVENT_DATA}Param(1).caseless",
                  f"{EVENT_DATA}Dir/Path.caseless", f"{EVENT_DATA}Key:Value.caseless",
                  f"{EVENT_DATA}Count(n)"]


def test_hunt_query_escapes_field_names() -> None:
    query = convert(SPECIAL_RULE)
    assert (query.lucene, query.query, query.exact, query.error) == (
        SPECIAL_LUCENE, SPECIAL_QUERY, True, None)
    assert fields_of(query.query) == SPECIAL_FIELDS


WIDENED_RULE = """\
title: Widened tests on fields with reserved characters
id: 6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e52
logsource: {product: windows, service: security}
detection:
  pattern:
    Param(1)|re: '\\d+'
  network:
    Dir/Path|cidr: 10.0.0.0/8
  empty:
    Key:Value: null
  unset:
    Other Name: null
  condition: pattern or network or empty or not unset
"""
WIDENED_QUERY = (
    f"{SECURITY} AND (_exists_:winlog.event_data.Param\\(1\\) OR "
    "_exists_:winlog.event_data.Dir\\/Path OR (NOT _exists_:winlog.event_data.Key\\:Value) OR "
    "_exists_:winlog.event_data.Other\\ Name)")


def test_widened_exists_tests_escape_field_names() -> None:
    """The ``_exists_`` re-check queries (``|re``, ``|cidr``) and the null tests."""
    query = convert(WIDENED_RULE)
    assert (query.query, query.exact, query.error) == (WIDENED_QUERY, False, None)
    assert fields_of(query.query) == ["winlog.channel.caseless", f"{EVENT_DATA}Param(1)",
                                      f"{EVENT_DATA}Dir/Path", f"{EVENT_DATA}Key:Value",
                                      f"{EVENT_DATA}Other Name"]


def test_regex_on_a_field_with_reserved_characters() -> None:
    query = convert(WIDENED_RULE.replace("'\\d+'", "'ab+c'"))
    assert query.query is not None and query.error is None
    assert query.query.startswith(f"{SECURITY} AND (winlog.event_data.Param\\(1\\):/.*(ab+c).*/ ")
    assert fields_of(query.query)[1] == f"{EVENT_DATA}Param(1)"


def test_show_queries_through_the_cli(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "soc.yml").write_text(  # nothing listens on port 9: no cluster is needed
        "data_dir: data\nstore: {type: elasticsearch, hosts: ['http://127.0.0.1:9']}\n",
        encoding="utf-8")
    rules = tmp_path / "special.yml"
    rules.write_text(SPECIAL_RULE, encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "hunt", str(rules), "--show-queries",
                 "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (row["lucene"], row["query"], row["error"]) == (SPECIAL_LUCENE, SPECIAL_QUERY, None)
    assert row["dsl"]["bool"]["filter"][0]["query_string"]["query"] == SPECIAL_QUERY


# --- soc search: the query the user wrote ------------------------------------------------------


@pytest.mark.parametrize(("query", "sent", "fields"), [
    # escaped by the user: kept
    ("winlog.event_data.Some\\ Name:adm", "winlog.event_data.Some\\ Name.caseless:adm",
     [f"{EVENT_DATA}Some Name.caseless"]),
    ("winlog.event_data.Param\\(1\\):x", "winlog.event_data.Param\\(1\\).caseless:x",
     [f"{EVENT_DATA}Param(1).caseless"]),
    ("_exists_:winlog.event_data.Key\\:Value", "_exists_:winlog.event_data.Key\\:Value",
     [f"{EVENT_DATA}Key:Value"]),
    # luqum (and the embedded store) read a / or ! inside a name as part of it; Lucene does not
    ("winlog.event_data.Dir/Path:x", "winlog.event_data.Dir\\/Path.caseless:x",
     [f"{EVENT_DATA}Dir/Path.caseless"]),
    ("_exists_:winlog.event_data.Dir/Path", "_exists_:winlog.event_data.Dir\\/Path",
     [f"{EVENT_DATA}Dir/Path"]),
    ("a!b:[1 TO 2]", "a\\!b:[1 TO 2]", ["a!b"]),
    # unescaped wildcards in a name stay wildcards (any field whose name matches)
    ("winlog.event_data.*:admin", "winlog.event_data.*.caseless:admin",
     [f"{EVENT_DATA}*.caseless"]),
    ("@timestamp:[2026-11-24 TO *]", "@timestamp:[2026-11-24 TO *]", ["@timestamp"]),
])
def test_search_rewrite_escapes_field_names(query: str, sent: str, fields: list[str]) -> None:
    assert rewrite(query) == sent
    assert fields_of(sent) == fields


def test_soc_search_through_the_scripted_peer(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        peer = Peer(server)
        hit = {"@timestamp": "2026-11-24T08:00:01.000Z", "event.id": "e1",
               f"{EVENT_DATA}Dir/Path": "C:\\x.ps1"}
        peer.routes[("POST", "/logs-*-*/_search")] = (
            200, {"hits": {"hits": [{"_source": hit, "sort": [1, "e1"]}]}})
        server.expect_request(re.compile(".*")).respond_with_handler(peer.handle)
        monkeypatch.setenv("SOC_TEST_API_KEY", API_KEY)
        cfg = config(tmp_path, peer)
        code = main(["-c", str(cfg.path), "search",
                     "winlog.event_data.Some\\ Name:adm AND winlog.event_data.Dir/Path:*.ps1",
                     "--json"])
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 0 and json.loads(out)[0]["event.id"] == "e1"
    body = peer.bodies("POST", "/logs-*-*/_search")["/logs-*-*/_search"]
    sent = body["query"]["bool"]["filter"][0]["query_string"]["query"]
    assert sent == ("winlog.event_data.Some\\ Name.caseless:adm AND "
                    "winlog.event_data.Dir\\/Path.caseless:*.ps1")
    assert fields_of(sent) == [f"{EVENT_DATA}Some Name.caseless",
                               f"{EVENT_DATA}Dir/Path.caseless"]


def test_values_keep_their_escaping() -> None:
    """Only names change: values are escaped as before (by pySigma, or by the user)."""
    assert rewrite('"a (b) c/d"') == "soc.values:*a\\ \\(b\\)\\ c\\/d*"
    assert rewrite("file.path:C\\:\\\\Windows\\\\*") == "file.path.caseless:C\\:\\\\Windows\\\\*"
    query = convert(SPECIAL_RULE.replace("Param(1): x", "Param(1): 'a (b):c/d'")
                    .replace("Some Name: adm", "Some Name: x(y)"))
    assert query.query is not None
    assert ("winlog.event_data.Some\\ Name.caseless:x\\(y\\) AND "
            'winlog.event_data.Param\\(1\\).caseless:"a \\(b\\)\\:c\\/d" AND ') in query.query



def test_rewritten_terms_keep_the_spaces_around_them() -> None:
    """A lowercased regex (and an ``_exists_`` name) keeps the space before the next operator."""
    assert rewrite("user.name:/Adm/ AND x:y") == "user.name.caseless:/adm/ AND x.caseless:y"
    assert rewrite("_exists_:a/b OR x:y") == "_exists_:a\\/b OR x.caseless:y"
