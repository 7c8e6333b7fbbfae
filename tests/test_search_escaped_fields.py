"""Field names written with Lucene's backslash escapes, as Elasticsearch needs them.

``winlog.event_data.Some\\ Name:x`` and ``winlog.event_data.Param\\(1\\):x`` are how a query names
fields whose names hold a space or a reserved character (``soc.stores.es.query.escape_field``
writes them so). Both stores must find the same events with them: the contract cases run on the
embedded store and, when ``$SOC_TEST_ES_URL`` is set, on Elasticsearch (the fixtures of
``test_store_contract.py``). The embedded store un-escapes the name as Lucene does and looks the
field up as usual; the SQL keeps every name a bound parameter.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from soc.cli.main import main
from soc.ecs import Event
from soc.search import compile_query, setup_connection
from soc.stores.base import Store
from tests.test_store_contract import (  # the session fixture removes ES test indices
    FACTORIES,
    _embedded,
    _remove_es_test_indices,  # noqa: F401
    ev,
    ns,
)

ED = "winlog.event_data."
EVENTS = [
    ev(1, "2026-11-24T08:00:01.000Z", **{f"{ED}Some Name": "Administrator"}),
    ev(2, "2026-11-24T08:00:02.000Z", **{f"{ED}Param(1)": "X", f"{ED}Count(n)": 7}),
    ev(3, "2026-11-24T08:00:03.000Z", **{f"{ED}Dir/Path": "C:\\Temp\\run.ps1"}),
    # decoys: the names a query would name if an escape were lost
    ev(4, "2026-11-24T08:00:04.000Z", **{f"{ED}Some": "Name", f"{ED}Param": "x",
                                        f"{ED}Dir": "x", "Name": "administrator"}),
]


# --- both stores --------------------------------------------------------------------------------


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = FACTORIES[request.param](tmp_path)
    opened.write_events(EVENTS)
    yield opened
    opened.close()



@pytest.mark.parametrize(("query", "expected"), [
    (f"{ED}Some\\ Name:administrator", [1]),
    (f"{ED}Some\\ Name:adm*", [1]),
    (f'{ED}Some\\ Name:"ADMINISTRATOR"', [1]),
    (f"{ED}Param\\(1\\):x", [2]),
    (f"{ED}Param\\(1\\):/x/", [2]),
    (f"{ED}Count\\(n\\):>=5", [2]),
    (f"{ED}Count\\(n\\):[1 TO 7]", [2]),
    (f"{ED}Dir\\/Path:*.ps1", [3]),
    (f"{ED}Dir/Path:*.ps1", [3]),  # luqum reads an unescaped / inside a name as part of it
    (f"_exists_:{ED}Some\\ Name", [1]),
    (f"_exists_:{ED}Param\\(1\\)", [2]),
    (f"NOT _exists_:{ED}Dir\\/Path", [4, 2, 1]),
    (f"{ED}Some\\ Name:adm* OR {ED}Param\\(1\\):x", [2, 1]),
])
def test_escaped_field_names(store: Store, query: str, expected: list[int]) -> None:
    assert ns(store.search(query)) == expected
    assert store.count(query) == len(expected)


# --- the embedded store -------------------------------------------------------------------------

ODD: list[Event] = [
    ev(1, "2026-11-24T08:00:01.000Z", **{'say "hi"': "a", "back\\slash": "b", "a*b": "c"}),
    ev(2, "2026-11-24T08:00:02.000Z", **{"axxb": "c", "it's": ["d", "e"], "t(x)": True}),
]


@pytest.mark.parametrize(("query", "expected"), [
    ('say\\ \\"hi\\":A', [1]),
    ("back\\\\slash:b", [1]),
    ("it\\'s:e", [2]),
    ("t\\(x\\):true", [2]),
    ("a\\*b:c", [1]),  # an escaped * is a literal character of the name
    ("a*b:c", [2, 1]),  # an unescaped one is a wildcard, as before
    ("a?b:c", [1]),
    ("_exists_:a\\*b", [1]),
    ('_exists_:say\\ \\"hi\\"', [1]),
    ("_exists_:back\\\\slash", [1]),
    ("back\\\\*:b", [1]),  # escapes and wildcards together: a pattern over names
    ("say\\ *:a", [1]),
    ("t\\(*:true", [2]),
])
def test_names_with_quotes_backslashes_and_wildcards(tmp_path: Path, query: str,
                                                     expected: list[int]) -> None:
    embedded = _embedded(tmp_path)
    try:
        embedded.write_events(ODD)
        assert ns(embedded.search(query)) == expected
    finally:
        embedded.close()


@pytest.mark.parametrize("query", [
    'say\\ \\"hi\\"\\)\\ OR\\ 1\\=1\\ \\-\\-:a',
    "x\\'\\)\\ OR\\ \\(\\'1\\'\\=\\'1:a",
    "back\\\\slash\\\"*:b",
])
def test_names_stay_bound_parameters(query: str) -> None:
    """The un-escaped name is a parameter (or inside one): never part of the SQL text."""
    sql, params = compile_query(query)
    assert "OR 1=1" not in sql and "'1'='1" not in sql and "slash" not in sql
    conn = sqlite3.connect(":memory:")
    setup_connection(conn)
    conn.execute("CREATE TABLE ev (doc TEXT)")
    conn.execute("INSERT INTO ev VALUES (?)", [json.dumps({"a": 1})])
    assert conn.execute(f"SELECT count(*) FROM ev WHERE {sql}", params).fetchone() == (0,)
    conn.close()


def test_soc_search_on_the_embedded_store(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    embedded = _embedded(tmp_path)
    embedded.write_events(EVENTS)
    embedded.close()
    (tmp_path / "soc.yml").write_text("data_dir: data\n", encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "search",
                 f"{ED}Some\\ Name:adm* OR {ED}Param\\(1\\):x OR _exists_:{ED}Dir\\/Path",
                 "--json", "--fields", "labels.n"])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    assert json.loads(captured.out) == [{"labels.n": 3}, {"labels.n": 2}, {"labels.n": 1}]
