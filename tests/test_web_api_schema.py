"""The console's JSON API against its own OpenAPI description (``/api/openapi.json``), with
schemathesis over the real ASGI app on a real store (``soc demo`` plus the users viewer1,
analyst1 and lead1, each with an API token from ``soc users token``: tests/web_console.py).

- Every ``/api`` route of the app is described, with the role it needs.
- No route answers without credentials, or with a token that is not one (401).
- A role below the one a route needs is refused (403) and changes nothing (the audit trail does
  not grow); a role that has it is let through.
- Fuzzed as each role (a few examples per operation, derandomised): no 5xx, and every answer
  conforms to the description (status code, content type, body schema); the audit chain still
  verifies afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from soc.config import load_config
from soc.models import AlertStatus
from soc.web.accounts import ROLES as ROLE_ORDER
from soc.web.accounts import allows
from soc.web.app import create_app
from tests.web_console import ROLES, ConsoleData, build

EXAMPLES = 8  # per operation and role: the module stays well under a minute
# A schema-valid value may still be refused with a documented 400: a Lucene query that does not
# parse, a time that is not one ("since" is any string in the description). The other default
# checks run: no 5xx, documented status codes, content types, headers and bodies, negative data
# rejected, authentication not ignored.
LENIENT = [schemathesis.checks.positive_data_acceptance]
BODIES = {"assign": {"user": "analyst1"}, "close": {"reason": "test"}, "comment": {"text": "x"}}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ConsoleData:
    return build(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def tokens(data: ConsoleData) -> dict[str, str]:
    return {role: data.token(name, "schema") for name, role in ROLES.items()}


@pytest.fixture(scope="module")
def app(data: ConsoleData) -> Any:
    return create_app(load_config(data.config))


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[Any]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def description(client: Any, tokens: dict[str, str]) -> dict[str, Any]:
    answer = client.get("/api/openapi.json", headers=bearer(tokens["viewer"]))
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


@pytest.fixture(scope="module")
def schema(description: dict[str, Any], app: Any) -> Any:
    loaded = schemathesis.openapi.from_dict(description)
    loaded.app = app
    return loaded


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_routes(app: Any) -> list[tuple[str, str, str]]:
    """(method, path, role needed) of every ``/api`` route the app serves."""
    return [(method, spec.path, spec.need) for spec in app.state.web.specs if spec.api
            for method in spec.methods]


def concrete(path: str, data: ConsoleData, alert: str) -> str:
    """``path`` with its parameters filled: the alert ``alert`` ("triage" or "refused"), the
    demo's incident, and a placeholder for any other (a 404 is as good as a 200 here)."""
    values = {"alert_id": data.alerts[alert]}
    if "{incident_id}" in path:
        values["incident_id"] = data.incident()
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "no-such-thing"), path)


def call(client: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    body = BODIES.get(path.rsplit("/", 1)[-1]) if method == "POST" else None
    return client.request(method, path, json=body, headers=headers)


def test_every_api_route_is_described_with_its_role(app: Any,
                                                    description: dict[str, Any]) -> None:
    served = {(m.lower(), p): need for m, p, need in api_routes(app)}
    described = {(m, p): op for p, ops in description["paths"].items() for m, op in ops.items()}
    assert set(described) == set(served)
    assert len(served) >= 8  # the queue, an alert, its four actions, search, me, this document
    for key, op in described.items():
        assert f"Needs the role {served[key]}." in op["description"], key
        assert {"401", "403"} <= set(op["responses"]), key
        assert op["security"] == [{"bearer": []}, {"session": []}], key


def test_no_route_answers_without_credentials(app: Any, client: Any,
                                              data: ConsoleData) -> None:
    for method, path, _ in api_routes(app):
        url = concrete(path, data, "refused")
        for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic dmlld2VyMTp4"}):
            answer = call(client, method, url, headers)
            assert answer.status_code == 401, (method, url, headers)
            assert "error" in answer.json()
    assert data.alert(data.alerts["refused"]).status is AlertStatus.OPEN


def test_roles_below_the_need_are_refused(app: Any, client: Any, data: ConsoleData,
                                          tokens: dict[str, str]) -> None:
    audited = data.audit_count()
    count = 0
    for method, path, need in api_routes(app):
        for role in ROLE_ORDER:
            if allows(role, need):
                continue
            answer = call(client, method, concrete(path, data, "refused"), bearer(tokens[role]))
            assert answer.status_code == 403, (role, method, path, answer.text)
            assert "error" in answer.json()
            count += 1
    assert count >= 4  # the viewer, on the four triage actions at least
    assert data.audit_count() == audited  # nothing was changed, on any subject
    alert = data.alert(data.alerts["refused"])
    assert (alert.status, alert.assignee, alert.comments) == (AlertStatus.OPEN, None, ())


def test_roles_with_the_need_are_let_through(app: Any, client: Any, data: ConsoleData,
                                             tokens: dict[str, str]) -> None:
    for method, path, need in api_routes(app):
        for role in ROLE_ORDER:
            if not allows(role, need):
                continue
            answer = call(client, method, concrete(path, data, "triage"), bearer(tokens[role]))
            assert answer.status_code not in (401, 403), (role, method, path, answer.text)
            assert answer.status_code < 500, (role, method, path, answer.text)
    alert = data.alert(data.alerts["triage"])  # the analyst's and lead's calls did act
    assert (alert.status, alert.assignee) == (AlertStatus.CLOSED, "analyst1")
    assert [c["actor"] for c in alert.comments] == ["analyst1", "lead1"]


@pytest.mark.parametrize("role", ROLE_ORDER)
def test_fuzzed_answers_conform_to_the_description(schema: Any, tokens: dict[str, str],
                                                   data: ConsoleData, role: str) -> None:
    headers = bearer(tokens[role])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            answer = case.call(headers=headers)
            assert answer.status_code < 500, (case.method, case.formatted_path, answer.text)
            case.validate_response(answer, headers=headers, excluded_checks=LENIENT)

        fuzz()

    data.soc("audit", "verify")  # whatever the calls changed, the hash chain still holds
