"""Lucene queries compiled to SQL: the exact SQL of each form, and what it matches in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from soc.errors import ExitCode, SocError
from soc.search import QueryError, compile_query, fold, setup_connection

DOCS: dict[str, dict[str, object]] = {
    "ssh-root": {
        "@timestamp": "2026-11-24T08:00:00.000Z", "event.dataset": "linux.auth",
        "user.name": "root", "source.ip": "10.0.0.5", "source.port": 51514,
        "event.outcome": "failure", "event.category": ["authentication", "session"],
        "event.original": "Failed password for root from 10.0.0.5 port 51514 ssh2",
        "tls.established": False,
    },
    "vn-user": {
        "@timestamp": "2026-11-24T09:30:00.000Z", "event.dataset": "windows.security",
        "user.name": "NGUYỄN Văn Ánh", "winlog.event_data.TargetUserName": "nguyễn.văn.ánh",
        "event.code": "4625", "winlog.event_id": 4625, "source.ip": "10.0.0.6",
        "event.risk_score": 7.5, "tags": ["VPN", "Hà Nội"], "tls.established": True,
    },
    "web": {
        "@timestamp": "2026-11-25T00:00:00.000Z", "event.dataset": "apache.access",
        "url.path": "/admin/login.php", "http.response.status_code": 404,
        "file.path": "C:\\Windows\\System32\\cmd.exe", "message": 'GET "quoted" path',
        "user.name": None, "source.ip": "192.168.1.10",
    },
}


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    setup_connection(conn)
    conn.execute("CREATE TABLE ev (id TEXT, ts TEXT, doc TEXT)")
    conn.executemany("INSERT INTO ev VALUES (?, ?, ?)",
                     [(k, d["@timestamp"], json.dumps(d, ensure_ascii=False))
                      for k, d in DOCS.items()])
    yield conn
    conn.close()


def match(db: sqlite3.Connection, query: str) -> list[str]:
    where, params = compile_query(query, columns={"@timestamp": "ts"})
    return sorted(r[0] for r in db.execute(f"SELECT id FROM ev WHERE {where}", params))


# --- the SQL itself ------------------------------------------------------------------------------


def test_match_all() -> None:
    assert compile_query("*") == ("1", [])
    assert compile_query("  ") == ("1", [])


def test_field_value_sql() -> None:
    assert compile_query("source.ip:10.0.0.5") == (
        "EXISTS (SELECT 1 FROM json_each(doc, ?) AS v WHERE soc_fold(v.value, v.type) = ?)",
        ['$."source.ip"', "10.0.0.5"],
    )


def test_number_sql_also_compares_numerically() -> None:
    assert compile_query("winlog.event_id:4625") == (
        "EXISTS (SELECT 1 FROM json_each(doc, ?) AS v WHERE (soc_fold(v.value, v.type) = ? "
        "OR (v.type IN ('integer', 'real') AND v.value = ?)))",
        ['$."winlog.event_id"', "4625", 4625.0],
    )


def test_boolean_operators_sql() -> None:
    sql, params = compile_query("a:1 OR NOT b:x* c")
    assert sql == (
        "((EXISTS (SELECT 1 FROM json_each(doc, ?) AS v WHERE (soc_fold(v.value, v.type) = ? "
        "OR (v.type IN ('integer', 'real') AND v.value = ?))) OR NOT (EXISTS (SELECT 1 FROM "
        "json_each(doc, ?) AS v WHERE soc_fold(v.value, v.type) GLOB ?))) AND soc_any(doc, ?, ?))"
    )
    assert params == ['$."a"', "1", 1.0, '$."b"', "x*", "c", "s:c"]


def test_timestamp_range_uses_the_column() -> None:
    assert compile_query("@timestamp:[2026-11-24T08:00:00Z TO 2026-11-25}",
                         columns={"@timestamp": "ts"}) == (
        "(ts >= ? AND ts < ?)", ["2026-11-24T08:00:00.000Z", "2026-11-25"])


def test_numeric_range_sql() -> None:
    assert compile_query("n:>=5") == (
        "EXISTS (SELECT 1 FROM json_each(doc, ?) AS v WHERE soc_num(v.value, v.type) >= ?)",
        ['$."n"', 5.0])


# --- what matches --------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ("user.name:root", ["ssh-root"]),
    ("user.name:ROOT", ["ssh-root"]),
    ("source.ip:10.0.0.5", ["ssh-root"]),
    ("source.ip:10.0.0", []),  # keyword fields match whole values
    ("event.code:4625", ["vn-user"]),  # a string that spells the number
    ("winlog.event_id:4625", ["vn-user"]),  # a JSON number
    ("winlog.event_id:4625.0", ["vn-user"]),
    ("http.response.status_code:404", ["web"]),
    ("tls.established:false", ["ssh-root"]),
    ("tls.established:TRUE", ["vn-user"]),
    ("event.risk_score:7.5", ["vn-user"]),
    ("nosuch.field:x", []),
])
def test_field_value(db: sqlite3.Connection, query: str, expected: list[str]) -> None:
    assert match(db, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ('user.name:"nguyễn văn ánh"', ["vn-user"]),
    ("user.name:NGUYỄN*", ["vn-user"]),
    ("user.name:nguyễn*", ["vn-user"]),
    ("winlog.event_data.TargetUserName:NGUYỄN.VĂN.ÁNH", ["vn-user"]),
    ("tags:\"hà nội\"", ["vn-user"]),
    ("tags:HÀ*", ["vn-user"]),
    ("Ánh", ["vn-user"]),
    ("nguyen*", []),  # no accent folding: ễ is not e
])
def test_case_insensitive_vietnamese(db: sqlite3.Connection, query: str,
                                     expected: list[str]) -> None:
    assert match(db, query) == expected


def test_fold_normalises_decomposed_text() -> None:
    decomposed = "NGUYE\u0302\u0303N"  # E + combining circumflex + combining tilde
    assert fold(decomposed) == fold("nguyễn") == "nguyễn"


@pytest.mark.parametrize(("query", "expected"), [
    ("event.category:session", ["ssh-root"]),
    ("event.category:authentication AND event.category:session", ["ssh-root"]),
    ("tags:vpn", ["vn-user"]),
    ("tags:v?n", ["vn-user"]),
    ("event.category:(network OR session)", ["ssh-root"]),
])
def test_arrays_match_any_element(db: sqlite3.Connection, query: str,
                                  expected: list[str]) -> None:
    assert match(db, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("url.path:\\/admin*", ["web"]),
    ('url.path:"/admin/login.php"', ["web"]),
    ("url.path:*login.php", ["web"]),
    ("url.path:*LOGIN*", ["web"]),
    ("user.name:r??t", ["ssh-root"]),
    ("user.name:r?t", []),
    ("source.ip:10.0.0.*", ["ssh-root", "vn-user"]),
    ("file.path:C\\:\\\\Windows\\\\*", ["web"]),
    ("file.path:*\\[*", []),  # an escaped [ is literal, not a GLOB class
    ("user.name:*", ["ssh-root", "vn-user"]),  # exists: null does not count
    ("_exists_:user.name", ["ssh-root", "vn-user"]),
    ("NOT _exists_:user.name", ["web"]),
    ("-user.name:*", ["web"]),
    ("winlog.event_data.*:nguyễn*", ["vn-user"]),
])
def test_wildcards_and_exists(db: sqlite3.Connection, query: str, expected: list[str]) -> None:
    assert match(db, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("source.port:[50000 TO 51514]", ["ssh-root"]),
    ("source.port:[50000 TO 51514}", []),
    ("source.port:{51514 TO *]", []),
    ("source.port:>=51514", ["ssh-root"]),
    ("source.port:>51514", []),
    ("event.code:[4000 TO 5000]", ["vn-user"]),  # numeric strings compare as numbers
    ("http.response.status_code:<500", ["web"]),
    ("event.risk_score:{7 TO 8}", ["vn-user"]),
    ("@timestamp:[2026-11-24T08:00:00Z TO 2026-11-24T09:30:00Z}", ["ssh-root"]),
    ("@timestamp:>=2026-11-24T09:30:00.000Z", ["vn-user", "web"]),
    ("@timestamp:<2026-11-25", ["ssh-root", "vn-user"]),
    ("event.dataset:[apache TO linux]", ["web"]),  # strings compare as strings
    ("source.port:[* TO *]", ["ssh-root"]),
])
def test_ranges(db: sqlite3.Connection, query: str, expected: list[str]) -> None:
    assert match(db, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("root", ["ssh-root"]),
    ("ROOT", ["ssh-root"]),
    ('"password for root"', ["ssh-root"]),
    ("51514", ["ssh-root"]),
    ("pass*d", ["ssh-root"]),
    ("System32", ["web"]),
    ('"\\"quoted\\""', ["web"]),
    ("source", []),  # keys are not searched, only values
    ("message:quoted", ["web"]),  # free-text fields find words inside
    ("event.original:PASSWORD", ["ssh-root"]),
    ("event.original:fail*ssh2", ["ssh-root"]),
])
def test_bare_terms_and_text_fields(db: sqlite3.Connection, query: str,
                                    expected: list[str]) -> None:
    assert match(db, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("user.name:root OR user.name:nobody", ["ssh-root"]),
    ("user.name:root AND source.ip:10.0.0.6", []),
    ("user.name:root source.ip:10.0.0.5", ["ssh-root"]),  # implicit AND
    ("source.ip:10.0.0.* NOT user.name:root", ["vn-user"]),
    ("source.ip:10.0.0.* -user.name:root", ["vn-user"]),
    ("+source.ip:10.0.0.* +tags:vpn", ["vn-user"]),
    ("(user.name:root OR tags:vpn) AND tls.established:true", ["vn-user"]),
    ("user.name:(root OR nobody)", ["ssh-root"]),
    ("user.name:(NOT root)", ["vn-user", "web"]),
    ("NOT (user.name:root OR http.response.status_code:404)", ["vn-user"]),
    ("user.name:root^2", ["ssh-root"]),  # boosts are ignored
    ("user.name:/r.*t/", ["ssh-root"]),
    ("user.name:/ro/", []),  # regexes match whole values
])
def test_boolean_logic(db: sqlite3.Connection, query: str, expected: list[str]) -> None:
    assert match(db, query) == expected


# --- bad queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "message", "hint"), [
    ("user.name:(root", "cannot parse query 'user.name:(root': Syntax error in input : "
     "unexpected end of expression (maybe due to unmatched parenthesis) at the end!",
     'Quote values with spaces or special characters: user.name:"Nguyễn Văn A".'),
    ('user.name:"root', "cannot parse query 'user.name:\"root': Illegal character "
     "'\"root' at position 10", 'Close every quote, or escape it: field:"say \\"hi\\"".'),
    ("url.path:/admin*", "cannot parse query 'url.path:/admin*': Illegal character "
     "'/admin*' at position 9",
     'Escape slashes or quote the value: url.path:\\/admin* or url.path:"/admin".'),
    ("a:b:c", "field 'b' inside the group of field 'a'",
     "Write a:(a OR b) with bare values inside."),
    ("user.name:rot~", "fuzzy and proximity search (rot~0.5) is not supported",
     "Use wildcards instead: user.name:adm*n"),
    ("[1 TO 5]", "range [1 TO 5] has no field", "Name the field: event.severity:[3 TO 5]"),
    ("_exists_:user.*", "_exists_ needs a field name",
     "Write _exists_:source.ip, or source.ip:*"),
    ("/ro+t/", "a regular expression needs a field",
     "Write field:/pattern/, e.g. user.name:/adm.n/"),
    ("user.name:/(/", "bad regular expression /(/: missing ), unterminated subpattern at "
     "position 0", 'Quote values with spaces or special characters: user.name:"Nguyễn Văn A".'),
])
def test_bad_queries(query: str, message: str, hint: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query)
    assert info.value.message == message
    assert info.value.hint == hint
    assert "\n" not in str(info.value)


def test_query_error_is_a_usage_error() -> None:
    assert issubclass(QueryError, SocError)
    assert QueryError.exit_code == ExitCode.USAGE


# --- value columns: the same answers from a column as from the document ---------------------------

COLUMN_DOCS: dict[str, dict[str, object]] = {
    "portal": {
        "labels.system": "Cổng TTĐT Tỉnh", "organization.id": "SỞ-KHCN",
        "event.action": "ssh_failed_password", "event.category": ["authentication"],
        "event.outcome": "failure", "source.ip": "10.0.0.5", "host.name": "MÁY-CHỦ-Web01"},
    "iam": {
        "labels.system": "dvc", "organization.id": "vp-ubnd", "event.action": "user_added",
        "event.category": ["IAM", "Configuration"], "event.outcome": None,
        "source.ip": ["10.0.0.6", "203.0.113.9"], "host.name": 42},
    "odd": {
        "labels.system": True, "event.category": "network", "event.outcome": "Thành công",
        "host.name": {"nested": "x"}, "event.action": 7.5},
    "bare": {},
}
COLUMN_QUERIES: list[tuple[str, list[str]]] = [
    ('labels.system:"cổng ttđt tỉnh"', ["portal"]),
    ("labels.system:CỔNG*", ["portal"]),
    ("labels.system:*ttđt*", ["portal"]),
    ('labels.system:"Cổng"', []),  # keyword fields match whole values
    ("labels.system:true", ["odd"]),
    ("labels.system:DVC", ["iam"]),
    ("labels.system:/dv./", ["iam"]),
    ("labels.system:[a TO e]", ["iam"]),
    ("NOT labels.system:dvc", ["bare", "odd", "portal"]),
    ("organization.id:sở-khcn", ["portal"]),
    ("organization.id:VP-UBND", ["iam"]),
    ("organization.id:(vp-ubnd OR sở-khcn)", ["iam", "portal"]),
    ("_exists_:organization.id", ["iam", "portal"]),
    ("event.action:SSH_FAILED_PASSWORD", ["portal"]),
    ("event.action:7.5", ["odd"]),
    ("event.action:>=7", ["odd"]),
    ("event.action:ssh_*", ["portal"]),
    ("event.category:iam", ["iam"]),
    ("event.category:(iam OR configuration)", ["iam"]),
    ("event.category:CONFIG*", ["iam"]),
    ("event.category:network", ["odd"]),
    ("event.category:authentication AND NOT event.category:iam", ["portal"]),
    ("event.category:*", ["iam", "odd", "portal"]),
    ("event.outcome:failure", ["portal"]),
    ('event.outcome:"THÀNH CÔNG"', ["odd"]),
    ("event.outcome:*", ["odd", "portal"]),  # null is not a value
    ("NOT _exists_:event.outcome", ["bare", "iam"]),
    ("source.ip:10.0.0.6", ["iam"]),
    ("source.ip:203.0.113.9", ["iam"]),
    ("source.ip:10.0.0.*", ["iam", "portal"]),
    ("source.ip:[10.0.0.0 TO 10.0.0.5]", ["portal"]),
    ("host.name:máy-chủ-web01", ["portal"]),
    ("host.name:42", ["iam"]),
    ("host.name:[40 TO 50]", ["iam"]),
    ("host.name:*", ["iam", "odd", "portal"]),
    ("host.name:x", ["odd"]),  # json_each walks an object's members, in both
    ("host.*:máy*", ["portal"]),  # wildcard field names read the document
]


@pytest.fixture(scope="module")
def column_db() -> Iterator[sqlite3.Connection]:
    from soc.stores.sqlite import VALUE_COLUMNS, column_value

    conn = sqlite3.connect(":memory:")
    setup_connection(conn)
    cols = list(VALUE_COLUMNS.values())
    conn.execute(f"CREATE TABLE ev (id TEXT, ts TEXT, doc TEXT, {', '.join(cols)})")
    conn.executemany(
        f"INSERT INTO ev VALUES (?, '2026-11-24T08:00:00.000Z', ?{', ?' * len(cols)})",
        [(k, json.dumps(d, ensure_ascii=False), *(column_value(d.get(f)) for f in VALUE_COLUMNS))
         for k, d in COLUMN_DOCS.items()])
    yield conn
    conn.close()


@pytest.mark.parametrize(("query", "expected"), COLUMN_QUERIES)
def test_value_columns_answer_as_the_document(column_db: sqlite3.Connection, query: str,
                                              expected: list[str]) -> None:
    from soc.stores.sqlite import VALUE_COLUMNS

    def ids(value_columns: dict[str, str]) -> list[str]:
        where, params = compile_query(query, value_columns=value_columns)
        return sorted(r[0] for r in column_db.execute(f"SELECT id FROM ev WHERE {where}", params))

    assert ids({}) == expected  # the document
    assert ids(VALUE_COLUMNS) == expected  # the columns


def test_value_column_sql() -> None:
    assert compile_query("labels.system:dvc", value_columns={"labels.system": "system"}) == (
        "(CASE typeof(system) WHEN 'blob' THEN EXISTS (SELECT 1 FROM json_each(CAST(system AS "
        "TEXT)) AS v WHERE soc_fold(v.value, v.type) = ?) WHEN 'null' THEN 0 "
        "ELSE (soc_fold(system, typeof(system)) = ?) END)", ["dvc", "dvc"])


def test_value_column_group_keys_equal_json_extract(column_db: sqlite3.Connection) -> None:
    from soc.stores.sqlite import VALUE_COLUMNS, _key_sql

    for field, column in VALUE_COLUMNS.items():
        path = f'$."{field}"'
        rows = column_db.execute(f"SELECT {_key_sql(field)}, json_extract(doc, ?), "
                                 f"typeof({column}) FROM ev ORDER BY id", (path,)).fetchall()
        assert [r[0] for r in rows] == [r[1] for r in rows], field
    assert column_db.execute("SELECT typeof(category), CAST(category AS TEXT) FROM ev "
                             "WHERE id = 'iam'").fetchone() == (
        "blob", '["IAM","Configuration"]')
