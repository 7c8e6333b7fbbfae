"""The console on the Elasticsearch store (when ``$SOC_TEST_ES_URL`` points at a node; skipped
otherwise): a data directory whose ``soc.yml`` names the cluster (under the contract suite's
per-run index prefix), seeded as tests/test_web_pages.py seeds the embedded store, plus a page
and more of open alerts; and an embedded data directory seeded the same way beside it. Over
Starlette's TestClient: login, the queue with its filters and pages, an alert, an ack through
its page (audited under the logged-in user), the overview, event search and the JSON API, each
answering as on the embedded store."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.alerts import AlertSink
from soc.config import load_config
from soc.models import AlertQuery, AlertStatus, Severity
from soc.stores.base import open_store
from tests.test_store_contract import _ES_RUN, _es_options, _remove_es_test_indices
from tests.test_web_pages import CONFIG, RULE, T0, finding, logged_in, post, seed
from tests.web_helpers import Clock, Site

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

__all__ = ["_remove_es_test_indices"]  # the contract suite's clean-up of the test cluster

QUEUE = 60  # open low alerts of "mail" two days back: more than a page (50) of the queue


def make_site(root: Path, store: dict[str, Any] | None) -> Site:
    """A data directory under ``root`` with its ``soc.yml`` (naming ``store`` if given),
    seeded."""
    data = root / "data"
    data.mkdir(parents=True)
    settings = {"data_dir": str(data), **CONFIG, **({"store": store} if store else {})}
    (root / "soc.yml").write_text(json.dumps(settings), encoding="utf-8")  # YAML's subset
    config = load_config(root / "soc.yml")
    with open_store(config) as opened:
        ids = seed(opened, data)  # type: ignore[arg-type]  # any Store, not only SQLite
        AlertSink(opened).raise_alerts([
            finding(f"e-queue-{n}", T0 - timedelta(days=2, minutes=n), Severity.LOW, "mail")
            for n in range(QUEUE)])
    return Site(config, Clock(T0 + timedelta(hours=1)), ids)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, Site]:
    """(the cluster's console, the embedded one), seeded alike (argon2 hashes and the
    cluster's templates are slow: once per module)."""
    url = os.environ.get("SOC_TEST_ES_URL")
    if not url:
        pytest.skip("SOC_TEST_ES_URL is not set: the console on Elasticsearch is not tested")
    root = tmp_path_factory.mktemp("web-es")
    # refresh: true, not wait_for: each seeding write visible at once, not after a second
    cluster = {"type": "elasticsearch", **_es_options(url), "index_prefix": f"{_ES_RUN}web-",
               "refresh": True, "replicas": 0}
    return make_site(root / "es", cluster), make_site(root / "embedded", None)


@pytest.fixture
def es(sites: tuple[Site, Site]) -> Site:
    return sites[0]


def both(sites: tuple[Site, Site], name: str) -> Iterator[TestClient]:
    """A client of each console, logged in as ``name``."""
    for site in sites:
        yield logged_in(site, name)


def ids_of(html: str) -> list[str]:
    """The alert ids a queue page links to, in its order."""
    return re.findall(r'<td><a href="/alerts/([0-9a-f]+)">', html)


def test_the_store_is_the_cluster(es: Site) -> None:
    with es.store() as store:
        assert type(store).__name__ == "ElasticsearchStore"
        assert store.count_alerts() == 4 + QUEUE


@pytest.mark.parametrize("query", [
    "", "status=open", "status=open&severity=high", "severity=medium", "system=mail",
    "system=portal&status=closed", "unit=vp", "since=2026-11-23", "offset=50",
    "system=mail&offset=10"])
def test_the_api_lists_alerts_as_on_the_embedded_store(sites: tuple[Site, Site],
                                                       query: str) -> None:
    answers = [c.get(f"/api/alerts?{query}").json() for c in both(sites, "viewer1")]
    on_es, embedded = ([(a["id"], a["status"]) for a in x["alerts"]] for x in answers)
    assert on_es == embedded and on_es, query
    assert {k: v for k, v in answers[0].items() if k != "alerts"} == \
        {k: v for k, v in answers[1].items() if k != "alerts"}


def test_the_queue_filters_and_pages_on_the_cluster(es: Site) -> None:
    client = logged_in(es, "viewer1")
    with es.store() as store:
        mail = [a.id for a in store.list_alerts(AlertQuery(system="mail", limit=None))]
    first, second = (client.get(f"/alerts?lang=en&system=mail&page={n}") for n in (1, 2))
    assert first.status_code == second.status_code == 200
    assert ids_of(first.text) + ids_of(second.text) == mail and len(mail) == QUEUE + 1
    assert "(11 more)" in first.text and "more)" not in second.text
    rule = client.get(f"/alerts?rule={RULE}&severity=high&status=open")
    assert ids_of(rule.text) == [es.alerts["today"]]
    assert client.get("/alerts?severity=urgent").status_code == 400


def test_an_alert_page_and_an_ack_through_it_audited_under_the_user(
        sites: tuple[Site, Site]) -> None:
    es = sites[0]
    alert = es.alerts["late"]
    for site in sites:  # both stores acked alike, so the other tests compare equal stores
        client = logged_in(site, "analyst1")
        page = client.get(f"/alerts/{alert}?lang=en")
        assert page.status_code == 200 and "e-late" in page.text
        answer = post(client, f"/alerts/{alert}", f"/alerts/{alert}/ack")
        assert answer.status_code == 303 and answer.headers["location"] == f"/alerts/{alert}"
    with es.store() as store:
        assert store.get_alert(alert).status is AlertStatus.ACKNOWLEDGED  # type: ignore[union-attr]
        entry = store.audit_trail(alert)[-1]
    assert (entry.actor, entry.action, entry.details["after"]) == (
        "analyst1", "alert.ack", "acknowledged")
    shown = logged_in(es, "viewer1").get(f"/alerts/{alert}").text
    assert re.search(r"<td>analyst1</td><td>alert\.ack</td>", shown)


def test_the_overview_counts_as_on_the_embedded_store(sites: tuple[Site, Site]) -> None:
    on_es, embedded = (c.get("/api/overview").json() for c in both(sites, "viewer1"))
    assert on_es == embedded
    days = {d["day"]: d for d in on_es["days"]}
    # 18:30 UTC on the 23rd is the 24th in Hanoi
    assert days["2026-11-24"]["counts"]["medium"] == 1
    assert days["2026-11-22"]["counts"]["low"] == QUEUE
    assert on_es["systems"] == [{"system": "mail", "count": QUEUE + 1},
                                {"system": "portal", "count": 2}]
    page = logged_in(sites[0], "viewer1").get("/overview?lang=en")
    assert page.status_code == 200 and f'<span id="week-total">{QUEUE + 3}</span>' in page.text


def test_search_finds_the_events_on_the_cluster(es: Site) -> None:
    client = logged_in(es, "viewer1")
    page = client.get('/search?lang=en&q=source.ip:"203.0.113.10"')
    assert page.status_code == 200
    assert sorted(set(re.findall(r"\bev[0-9]\b", page.text))) == ["ev0", "ev1", "ev2"]
    assert client.get("/search?q=source.ip:(").status_code == 400
