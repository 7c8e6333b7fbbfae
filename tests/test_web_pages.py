"""The console's reports, status, rules and overview pages (and their API) over the real app
(Starlette's TestClient) and a real SQLite store in tmp_path: generating, previewing and
downloading reports by role, path traversal refused, a silent source and an escaped dead letter,
rule tuning by a lead through soc.tuning_file, and the dashboard's counts in the configured zone.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc import tuning_file
from soc.alerts import AlertSink, Finding, close
from soc.config import Config, parse_config
from soc.ecs import format_ts
from soc.errors import StoreError
from soc.models import Alert, AlertQuery, AlertStatus, DeadLetter, Severity
from soc.state import StateStore
from soc.stores.alert_groups import ALERT_GROUPS
from soc.stores.base import Store
from soc.stores.es import alert_counts as es_alert_counts
from soc.stores.sqlite import SQLiteStore
from soc.web.accounts import Accounts
from soc.web.app import CSP
from soc.web.pages.reports import PREVIEW_CSP
from tests.test_store_contract import _elasticsearch, _remove_es_test_indices
from tests.web_helpers import Clock, Site, csrf_of, password

__all__ = ["_remove_es_test_indices"]  # the contract suite's clean-up of the test cluster

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 15:00 in Hanoi
RULE = "44444444-4444-4444-8444-444444444444"
USERS = {"viewer1": "viewer", "analyst1": "analyst", "lead1": "lead"}
XSS_RAW = b'<script>alert("dead")</script> GET /admin HTTP/1.1'
CONFIG = {
    "timezone": "Asia/Ho_Chi_Minh",
    "inventory": {"units": [{"id": "vp", "name": "VP"}],
                  "systems": [{"id": "portal", "unit": "vp", "security_level": 3},
                              {"id": "mail", "unit": "vp", "security_level": 2}]},
    "sources": [{"name": "portal-web", "paths": ["logs/access.log"], "system": "portal",
                 "expected_interval": "1h"}],
}




def finding(eid: str, at: datetime, level: Severity, system: str | None) -> Finding:
    ts = format_ts(at)
    entity: dict[str, Any] = {"source.ip": "203.0.113.10", "organization.id": "vp"}
    if system:
        entity["labels.system"] = system
    return Finding(rule_id=RULE, title=f"Seeded {level.value}", level=level, tags=(), ts=ts,
                   anchor=ts, group={**entity, "event.id": eid}, entity=entity,
                   triggers=((eid, ts),), event={"event.id": eid})


# (key, time, severity, system): the overview's counts follow from these
ALERTS = (
    ("today", T0, Severity.HIGH, "portal"),
    ("yesterday", T0 - timedelta(days=1), Severity.CRITICAL, "portal"),
    # 18:30 UTC on the 23rd is 01:30 on the 24th in Hanoi: a day of the zone, not of UTC
    ("late", datetime(2026, 11, 23, 18, 30, tzinfo=UTC), Severity.MEDIUM, "mail"),
    ("old", T0 - timedelta(days=10), Severity.LOW, None),
)


def seed_alerts(store: Store, data: Path) -> dict[str, str]:
    """The :data:`ALERTS`, the one of yesterday closed; their ids by key."""
    ids = {}
    sink = AlertSink(store)
    for key, at, level, system in ALERTS:
        (alert,) = sink.raise_alerts([finding(f"e-{key}", at, level, system)]).new
        ids[key] = alert.id
    close(store, ids["yesterday"], "handled", "lead1", data_dir=data)
    return ids


def seed(store: SQLiteStore, data: Path) -> dict[str, str]:
    """Alerts (one closed), events with addresses, a dead letter with a script, the users."""
    ids = seed_alerts(store, data)
    store.write_events([
        {"@timestamp": format_ts(T0 - timedelta(hours=n)), "event.id": f"ev{n}",
         "event.dataset": "apache.access", "source.ip": "203.0.113.10" if n < 3 else
         "198.51.100.7", "destination.ip": "10.0.0.5"} for n in range(4)])
    store.write_dead_letters([DeadLetter(
        id="dl-1", source="portal-web", origin="logs/access.log:42",
        reason="no parser matched", raw=XSS_RAW, received=format_ts(T0 - timedelta(hours=2)))])
    accounts = Accounts(store, data_dir=data)
    for name, role in USERS.items():
        accounts.add(name, role, password(name), "admin")
    return ids


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("pages")
    data = root / "data"
    data.mkdir()
    with SQLiteStore.open_path(data / "store.db") as store:
        ids = seed(store, data)
    state = StateStore(data / "state.db")  # the source's last new data: 3 hours before T0
    state.record_run("portal-web", start=format_ts(T0 - timedelta(hours=3, minutes=1)),
                     events=5, dead=1, error=None, last_event=None, lag=None,
                     end=format_ts(T0 - timedelta(hours=3)))
    state.close()
    return data, ids


def make_config(data: Path) -> Config:
    return parse_config({"data_dir": str(data), **CONFIG}, None, data.parent)


@pytest.fixture
def site(tmp_path: Path, seeded: tuple[Path, dict[str, str]]) -> Site:
    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    return Site(make_config(data), Clock(T0 + timedelta(hours=1)), dict(seeded[1]))



def logged_in(site: Site, name: str, **options: Any) -> TestClient:
    client = site.client(**options)
    page = client.get("/login")
    answer = client.post("/login", data={"username": name, "password": password(name),
                                         "csrf": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    return client


def post(client: TestClient, page: str, url: str, **fields: str) -> Any:
    """A form of ``page`` posted to ``url`` with the page's CSRF token."""
    return client.post(url, data={"csrf": csrf_of(client.get(page).text), **fields})


# --- reports ------------------------------------------------------------------------------------


def test_a_lead_generates_previews_and_downloads_a_report(site: Site) -> None:
    client = logged_in(site, "lead1")
    answer = post(client, "/reports", "/reports", source="periodic", kind="weekly",
                  period="2026-W47")
    assert answer.status_code == 303, answer.text
    view = answer.headers["location"].split("?")[0]
    assert view == "/reports/view/weekly-2026-W47"
    folder = site.config.data_dir / "reports"
    assert sorted(p.name for p in folder.iterdir()) == ["weekly-2026-W47.docx",
                                                         "weekly-2026-W47.html"]
    page = client.get(view)
    assert page.status_code == 200
    assert '<iframe class="report-preview" sandbox="" src="/reports/raw/weekly-2026-W47"' \
        in page.text
    assert page.headers["content-security-policy"] == CSP
    framed = client.get("/reports/raw/weekly-2026-W47")
    assert framed.status_code == 200 and framed.headers["content-type"].startswith("text/html")
    assert framed.headers.get_list("content-security-policy") == [PREVIEW_CSP]
    assert framed.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert "<style>" in framed.text and "<script" not in framed.text
    docx = client.get("/reports/files/weekly-2026-W47.docx")
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    assert docx.headers["content-disposition"] == \
        'attachment; filename="weekly-2026-W47.docx"'
    listing = client.get("/reports?lang=en").text
    assert 'href="/reports/view/weekly-2026-W47"' in listing
    # the list shows when it was written in the configured zone (+07:00)
    stamp = (folder / "weekly-2026-W47.html").stat().st_mtime
    local = datetime.fromtimestamp(stamp, UTC) + timedelta(hours=7)
    assert f"{local:%Y-%m-%d %H:%M:%S}" in listing


def test_viewers_and_analysts_may_not_generate_but_may_download(site: Site) -> None:
    folder = site.config.data_dir / "reports"
    folder.mkdir()
    (folder / "weekly-2026-W46.docx").write_bytes(b"PK\x03\x04 a report")
    (folder / "weekly-2026-W46.html").write_text("<p>report</p>", encoding="utf-8")
    for name in ("viewer1", "analyst1"):
        client = logged_in(site, name)
        page = client.get("/reports")
        assert page.status_code == 200 and 'action="/reports"' not in page.text
        refused = client.post("/reports", data={"csrf": csrf_of(page.text),
                                                "source": "periodic", "kind": "weekly"})
        assert refused.status_code == 403, name
        answer = client.get("/reports/files/weekly-2026-W46.docx")
        assert answer.status_code == 200 and answer.content == b"PK\x03\x04 a report"
        assert answer.headers["content-disposition"].startswith("attachment;")
        assert client.get("/reports/view/weekly-2026-W46").status_code == 200
    assert sorted(p.name for p in folder.iterdir()) == ["weekly-2026-W46.docx",
                                                         "weekly-2026-W46.html"]


def test_only_files_of_the_reports_folder_are_served(site: Site) -> None:
    folder = site.config.data_dir / "reports"
    folder.mkdir()
    (folder / "inside.html").write_text("<p>ok</p>", encoding="utf-8")
    (folder / "notes.txt").write_text("not a report", encoding="utf-8")
    (site.config.data_dir / "secret.html").write_text("<p>secret</p>", encoding="utf-8")
    (folder / "link.html").symlink_to(site.config.data_dir / "secret.html")
    client = logged_in(site, "viewer1")
    assert client.get("/reports/files/inside.html").status_code == 200
    for url in ("/reports/files/..%2Fsecret.html", "/reports/files/%2E%2E%2Fstore.db",
                "/reports/files/%2E%2E", "/reports/files/link.html", "/reports/files/notes.txt",
                "/reports/files/store.db", "/reports/raw/..%2Fsecret",
                "/reports/view/..%2Fsecret", "/reports/raw/link", "/reports/files/%2Fetc%2Fpasswd",
                "/reports/files/....%2F%2Fsecret.html"):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert "secret" not in answer.text


def test_an_unknown_incident_or_kind_is_refused_with_a_hint(site: Site) -> None:
    client = logged_in(site, "lead1")
    missing = post(client, "/reports", "/reports", source="incident", incident="INC-0000-9999")
    assert missing.status_code == 404 and "INC-0000-9999" in missing.text
    bad = post(client, "/reports", "/reports", source="periodic", kind="yearly")
    assert bad.status_code == 400
    assert not (site.config.data_dir / "reports").exists()


# --- status -------------------------------------------------------------------------------------


def test_status_shows_a_silent_source_and_an_escaped_dead_letter(site: Site) -> None:
    client = logged_in(site, "viewer1")
    page = client.get("/status?lang=en")
    assert page.status_code == 200
    assert '<span class="state state-silent">silent</span>' in page.text
    assert "no new data for 4h (expected every 1h)" in page.text
    assert "1 source(s) need a look" in page.text
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;dead&#34;)&lt;/script&gt; GET /admin HTTP/1.1" in page.text
    # times in the configured zone: the pass ended 05:00 UTC, 12:00 in Hanoi
    assert "2026-11-24 12:00:00" in page.text
    answer = client.get("/api/status").json()
    (source,) = answer["sources"]
    assert (source["source"], source["state"], source["dead"]) == ("portal-web", "silent", 1)
    assert answer["gaps"] == 1
    assert [d["raw"] for d in answer["dead_letters"]] == [XSS_RAW.decode()]
    assert answer["store"]["dead_letters"] == 1


# --- rules --------------------------------------------------------------------------------------


def _a_rule(client: TestClient) -> str:
    rules = client.get("/api/rules").json()["rules"]
    assert rules and all(r["enabled"] for r in rules)
    return str(rules[0]["id"])


def test_a_lead_disables_and_enables_a_rule(site: Site) -> None:
    client = logged_in(site, "lead1")
    rule = _a_rule(client)
    answer = post(client, "/rules", f"/rules/{rule}/disable", reason="noisy here",
                  back=f"/rules?q={rule}")
    assert answer.status_code == 303 and answer.headers["location"] == f"/rules?q={rule}"
    page = client.get(f"/rules?q={rule}&lang=en").text
    row = re.search(rf'<tr class="(rule-\w+)" data-rule="{rule}">.*?</tr>', page, re.S)
    assert row and row.group(1) == "rule-disabled"
    assert '<td class="rule-state">disabled</td>' in row.group(0)
    tuning = tuning_file.effective_tuning(site.config)
    assert rule in tuning.disabled_ids(site.clock())
    (entry,) = tuning.disabled
    assert (entry.reason, entry.author, entry.added) == ("noisy here", "lead1",
                                                         format_ts(site.clock()))
    with site.store() as store:
        assert [(e.actor, e.action) for e in store.audit_trail(rule)] == \
            [("lead1", "tuning.disable")]
    csrf = client.get("/api/me").json()["csrf"]
    enabled = client.post(f"/api/rules/{rule}/enable", json={"reason": "fixed"},
                          headers={"X-CSRF-Token": csrf})
    assert enabled.status_code == 200 and enabled.json()["rule"] == rule
    assert rule not in tuning_file.effective_tuning(site.config).disabled_ids(site.clock())


def test_a_lead_adds_and_removes_an_exception(site: Site) -> None:
    client = logged_in(site, "lead1")
    answer = post(client, "/rules", "/rules/exceptions", rule="", reason="our scanner",
                  where="source.ip=10.0.5.0/24\n")
    assert answer.status_code == 303
    (exc,) = tuning_file.effective_tuning(site.config).exceptions
    assert (exc.rule, exc.reason, exc.author) == (None, "our scanner", "lead1")
    assert f'action="/rules/exceptions/{exc.id}/remove"' in client.get("/rules").text
    removed = post(client, "/rules", f"/rules/exceptions/{exc.id}/remove")
    assert removed.status_code == 303
    assert tuning_file.effective_tuning(site.config).exceptions == ()


def test_analysts_and_viewers_may_not_tune(site: Site) -> None:
    lead = logged_in(site, "lead1")
    rule = _a_rule(lead)
    for name in ("analyst1", "viewer1"):
        client = logged_in(site, name)
        page = client.get("/rules")
        assert page.status_code == 200 and "/disable" not in page.text
        refused = client.post(f"/rules/{rule}/disable",
                              data={"csrf": csrf_of(page.text), "reason": "no"})
        assert refused.status_code == 403
        api = client.post(f"/api/rules/{rule}/disable", json={"reason": "no"},
                          headers={"X-CSRF-Token": client.get("/api/me").json()["csrf"]})
        assert api.status_code == 403
    assert tuning_file.effective_tuning(site.config).disabled == ()


def test_a_rule_shows_its_alerts_of_the_last_7_days(site: Site) -> None:
    with site.store() as store:  # three of the seeded alerts are within 7 days of the clock
        counts = store.alert_counts(
            AlertQuery(since=format_ts(site.clock() - timedelta(days=7))), group_by=["rule_id"])
    assert counts == [{"rule_id": RULE, "count": 3}]


# --- overview -----------------------------------------------------------------------------------


@contextmanager
def listing_refused(store: Store) -> Iterator[None]:
    """``store.list_alerts`` refused meanwhile: a count that reads the alerts fails."""
    def refuse(query: AlertQuery | None = None) -> list[Alert]:
        raise AssertionError(f"the alerts were listed to count them ({query})")

    setattr(store, "list_alerts", refuse)  # noqa: B010 - on the instance, for this block only
    try:
        yield
    finally:
        delattr(store, "list_alerts")


@pytest.fixture(params=["embedded", "elasticsearch"])
def counted(request: pytest.FixtureRequest, site: Site, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The seeded alerts in each store: the site's embedded one, and a cluster store (when
    ``$SOC_TEST_ES_URL`` is set) whose composite aggregation pages two groups at a time, so
    that its paging is exercised too."""
    if request.param == "embedded":
        with site.store() as store:
            yield store
        return
    monkeypatch.setattr(es_alert_counts, "PAGE", 2)
    with _elasticsearch(tmp_path / "es") as store:
        seed_alerts(store, site.config.data_dir)
        yield store


def test_grouped_alert_counts_agree_with_the_listing_default(counted: Store) -> None:
    """Each store's grouped counts (SQLite's GROUP BY, the cluster's composite aggregation)
    answer what the contract's default (which lists the alerts and counts them) answers, days
    in the zone's offset included."""
    since = AlertQuery(since=format_ts(T0 - timedelta(days=30)))
    store = counted
    for group_by, offset in ((["severity"], 7 * 3600), (["system", "status"], None),
                             ([], 0), ([], None), (["unit", "rule_id"], -3600),
                             (["status"], 7 * 3600), (list(ALERT_GROUPS), 7 * 3600)):
        listed = Store.alert_counts(store, since, group_by=group_by, day_offset=offset)
        with listing_refused(store):
            grouped = store.alert_counts(since, group_by=group_by, day_offset=offset)
        assert grouped == listed, group_by
    assert store.alert_counts(since, group_by=["system"]) == [
        {"system": None, "count": 1}, {"system": "mail", "count": 1},
        {"system": "portal", "count": 2}]
    # 18:30 UTC on the 23rd is the 24th in Hanoi, the 23rd in UTC
    assert store.alert_counts(since, group_by=["severity"], day_offset=7 * 3600)[:3] == [
        {"severity": "critical", "day": "2026-11-23", "count": 1},
        {"severity": "high", "day": "2026-11-24", "count": 1},
        {"severity": "low", "day": "2026-11-14", "count": 1}]
    assert {"severity": "medium", "day": "2026-11-23", "count": 1} in \
        store.alert_counts(since, group_by=["severity"], day_offset=0)
    with listing_refused(store):
        assert store.alert_counts(AlertQuery(status=AlertStatus.OPEN)) == [{"count": 3}]
        assert store.count_alerts(AlertQuery(status=AlertStatus.OPEN, system="portal")) == 1
    with pytest.raises(StoreError, match="cannot group alerts by doc"):
        store.alert_counts(since, group_by=["doc"])



def test_home_leads_to_the_overview(site: Site) -> None:
    client = logged_in(site, "viewer1")
    assert client.get("/").headers["location"] == "/overview"


def test_the_overview_counts_the_seeded_alerts_by_local_day(site: Site) -> None:
    client = logged_in(site, "viewer1")
    facts = client.get("/api/overview").json()
    days = {d["day"]: d for d in facts["days"]}
    assert list(days) == [f"2026-11-{n}" for n in range(18, 25)]
    assert days["2026-11-24"]["counts"] == {"informational": 0, "low": 0, "medium": 1,
                                            "high": 1, "critical": 0}
    assert days["2026-11-23"]["counts"]["critical"] == 1 and days["2026-11-23"]["total"] == 1
    assert facts["total"] == 3 and facts["since"] == "2026-11-17T17:00:00.000Z"
    assert facts["open"] == {"critical": 0, "high": 1, "medium": 1, "low": 1,
                             "informational": 0}
    assert facts["open_total"] == 3
    assert facts["systems"] == [{"system": "portal", "count": 2},
                                {"system": "mail", "count": 1}]
    assert facts["sources"] == [{"value": "203.0.113.10", "count": 3},
                                {"value": "198.51.100.7", "count": 1}]
    assert facts["targets"] == [{"value": "10.0.0.5", "count": 4}]
    assert facts["incidents"] == [] and facts["due"] == []
    page = client.get("/overview?lang=en").text
    assert '<a href="/alerts?status=open" id="open-total">3</a>' in page
    assert '<span id="week-total">3</span>' in page
    assert ('<tr data-day="2026-11-24"><td>2026-11-24</td><td>0</td><td>1</td><td>1</td>'
            '<td>0</td><td>0</td><td>2</td></tr>') in page


def test_the_overview_counts_thousands_of_open_alerts_in_the_store(site: Site) -> None:
    """Counted by the store, not listed (how fast with 100,000: benchmarks/console.py)."""
    with site.store() as store:
        store.upsert_alerts([Alert(
            id=f"{n:032x}", rule_id=RULE, rule_title="Many", severity=Severity.MEDIUM,
            first_seen=format_ts(T0), last_seen=format_ts(T0 - timedelta(seconds=n * 5)),
            count=1, dedup=f"d{n}", entity={"labels.system": f"s{n % 40}"}, created="x",
            updated="x") for n in range(3_000)], {})
    client = logged_in(site, "viewer1")
    assert client.get("/overview").status_code == 200
    facts = client.get("/api/overview").json()
    assert facts["open_total"] == 3_003
    assert facts["total"] == 3_003  # 3,000 alerts over the last 7 days (5 s apart)
