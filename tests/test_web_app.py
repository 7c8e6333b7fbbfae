"""The console's core over the real app (Starlette's TestClient) and a real SQLite store in
tmp_path: login, sessions, CSRF, roles, read-only mode, escaping of log data, the alert queue,
an alert, the search page, the JSON API; and ``soc web`` as a real subprocess."""

from __future__ import annotations

import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from soc.alerts import AlertSink, Finding
from soc.config import Config, parse_config
from soc.ecs import format_ts
from soc.models import Severity
from soc.stores.base import Store
from soc.stores.sqlite import SQLiteStore
from soc.timeutil import wait_event
from soc.web.accounts import Accounts
from soc.web.app import CSP, create_app
from tests.web_helpers import Clock, Site, csrf_of, password

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RULE = "33333333-3333-4333-8333-333333333333"
XSS_AGENT = "<script>alert(1)</script>"
XSS_TITLE = '"><img src=x onerror=alert(1)>'
USERS = {"viewer1": "viewer", "analyst1": "analyst", "lead1": "lead"}
ROOT = Path(__file__).resolve().parent.parent




def event(eid: str, minutes: float, **fields: object) -> dict[str, object]:
    return {"@timestamp": format_ts(T0 + timedelta(minutes=minutes)), "event.id": eid,
            "event.dataset": "apache.access", "host.name": "web01", **fields}


def finding(eid: str, minutes: float, ip: str, title: str = "Web scanner",
            level: Severity = Severity.HIGH) -> Finding:
    ts = format_ts(T0 + timedelta(minutes=minutes))
    entity = {"host.name": "web01", "source.ip": ip, "labels.system": "portal",
              "organization.id": "vp"}
    return Finding(rule_id=RULE, title=title, level=level, tags=("attack.t1595",), ts=ts,
                   anchor=ts, group=dict(entity), entity=entity, triggers=((eid, ts),),
                   event={"event.id": eid})


def make_config(data: Path, **web: Any) -> Config:
    return parse_config({"data_dir": str(data), "timezone": "Asia/Ho_Chi_Minh",
                         **({"web": web} if web else {})}, None, data.parent)


def seed(store: Store, data: Path) -> dict[str, str]:
    """Three alerts: a plain one, one titled with an XSS payload, one whose event's user agent
    is a script; and the three users."""
    store.write_events([
        event("e-plain", 0, **{"source.ip": "203.0.113.10", "user_agent.original": "curl/8"}),
        event("e-title", 1, **{"source.ip": "203.0.113.11"}),
        event("e-agent", 2, **{"source.ip": "203.0.113.12", "user_agent.original": XSS_AGENT,
                               "event.original": f'GET / "{XSS_AGENT}"'}),
    ])
    sink = AlertSink(store)
    ids = {}
    for key, f in (("plain", finding("e-plain", 0, "203.0.113.10")),
                   ("title", finding("e-title", 1, "203.0.113.11", title=XSS_TITLE)),
                   ("agent", finding("e-agent", 2, "203.0.113.12"))):
        (alert,) = sink.raise_alerts([f]).new
        ids[key] = alert.id
    accounts = Accounts(store, data_dir=data)
    for name, role in USERS.items():
        accounts.add(name, role, password(name), "admin")
    return ids


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One seeded data directory per module (argon2 hashes are slow on purpose); each test
    works on its own copy."""
    data = tmp_path_factory.mktemp("seeded") / "data"
    data.mkdir()
    with SQLiteStore.open_path(data / "store.db") as store:
        ids = seed(store, data)
    return data, ids


@pytest.fixture
def site(tmp_path: Path, seeded: tuple[Path, dict[str, str]]) -> Site:
    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    return Site(make_config(data), Clock(T0 + timedelta(hours=1)), dict(seeded[1]))



def login(client: TestClient, name: str, pw: str | None = None) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"username": name, "password": pw or password(name),
                                       "csrf": csrf_of(page.text)})


def logged_in(site: Site, name: str, **options: Any) -> TestClient:
    client = site.client(**options)
    answer = login(client, name)
    assert answer.status_code == 303, answer.text
    return client


def token(client: TestClient) -> str:
    return str(client.get("/api/me").json()["csrf"])


# --- login, sessions ----------------------------------------------------------------------------


def test_login_sets_a_session_and_goes_to_the_queue(site: Site) -> None:
    client = site.client()
    answer = login(client, "analyst1")
    assert answer.status_code == 303 and answer.headers["location"] == "/alerts"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("soc_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/api/me").json()["name"] == "analyst1"


def test_a_wrong_password_is_refused(site: Site) -> None:
    client = site.client()
    answer = login(client, "analyst1", "not the password at all")
    assert answer.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu." in answer.text
    assert client.get("/api/me").status_code == 401
    assert login(client, "nobody").status_code == 401


def test_pages_render_for_a_viewer(site: Site) -> None:
    client = logged_in(site, "viewer1")
    for url in ("/alerts", f"/alerts/{site.alerts['plain']}", "/search?from=2d",
                "/search?q=source.ip:203.0.113.10&from=2026-11-24"):
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.text)


def test_repeated_failures_are_throttled_with_retry_after(site: Site) -> None:
    client = site.client()
    codes = [login(client, "analyst1", "wrong password here").status_code for _ in range(6)]
    assert codes[:5] == [401] * 5
    answer = login(client, "analyst1")  # even the right password must wait now
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
    assert client.get("/api/me").status_code == 401
    site.clock.now += timedelta(minutes=20)
    assert login(client, "analyst1").status_code == 303


def test_no_page_or_api_route_answers_without_a_session(site: Site) -> None:
    app = site.app()
    client = TestClient(app, follow_redirects=False)
    client.get("/login")  # an anonymous session is no login
    public = {("/login", "GET"), ("/login", "POST")}
    checked = 0
    for route in app.routes:
        path = getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", None) or ()):
            if path == "/static" or (path, method) in public or method == "HEAD":
                continue
            url = path.replace("{alert_id}", site.alerts["plain"])
            answer = client.request(method, url)
            checked += 1
            if path.startswith("/api"):
                assert answer.status_code == 401, (method, url)
                assert answer.json()["error"] == "log in first"
            else:
                assert answer.status_code == 303, (method, url)
                assert answer.headers["location"].startswith("/login?next=")
    assert checked >= 19  # every route of this part; later pages only add to it


def test_unauthenticated_page_redirects_to_login_with_next(site: Site) -> None:
    answer = site.client().get("/alerts?status=open")
    assert answer.headers["location"] == "/login?next=%2Falerts%3Fstatus%3Dopen"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example", "javascript:alert(1)", "alerts",
                                    "/\t/evil.example"])
def test_next_never_leaves_the_site(site: Site, target: str) -> None:
    client = site.client()
    page = client.get("/login", params={"next": target})
    answer = client.post("/login", data={"username": "viewer1", "password": password("viewer1"),
                                         "csrf": csrf_of(page.text), "next": target})
    assert answer.status_code == 303 and answer.headers["location"] == "/alerts"


def test_next_to_a_page_of_the_site_is_followed(site: Site) -> None:
    client = site.client()
    page = client.get("/login", params={"next": "/search?q=host.name:web01"})
    assert 'value="/search?q=host.name:web01"' in page.text
    answer = client.post("/login", data={"username": "viewer1", "password": password("viewer1"),
                                         "csrf": csrf_of(page.text),
                                         "next": "/search?q=host.name:web01"})
    assert answer.headers["location"] == "/search?q=host.name:web01"


def test_session_fixation_a_new_id_at_login_and_the_old_one_is_dead(site: Site) -> None:
    client = site.client()
    page = client.get("/login")
    planted = client.cookies["soc_session"]
    client.post("/login", data={"username": "analyst1", "password": password("analyst1"),
                                "csrf": csrf_of(page.text)})
    fresh = client.cookies["soc_session"]
    assert fresh != planted and len(fresh) >= 40
    attacker = site.client()
    attacker.cookies.set("soc_session", planted)
    assert attacker.get("/api/me").status_code == 401
    assert client.get("/api/me").json()["name"] == "analyst1"


def test_logout_ends_the_session(site: Site) -> None:
    client = logged_in(site, "analyst1")
    sid = client.cookies["soc_session"]
    answer = client.post("/logout", data={"csrf": token(client)})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    replay = site.client()
    replay.cookies.set("soc_session", sid)
    assert replay.get("/api/me").status_code == 401


def test_sessions_expire_when_idle_and_at_their_maximum(site: Site) -> None:
    app = site.app()
    client = TestClient(app, follow_redirects=False)
    assert login(client, "viewer1").status_code == 303
    site.clock.now += timedelta(minutes=29)
    assert client.get("/api/me").status_code == 200  # used: idle time starts again
    site.clock.now += timedelta(minutes=29)
    assert client.get("/api/me").status_code == 200
    site.clock.now += timedelta(minutes=31)
    assert client.get("/api/me").status_code == 401  # idle too long
    assert login(client, "viewer1").status_code == 303
    for _ in range(25):  # busy all day: still ends 12 hours after login
        site.clock.now += timedelta(minutes=29)
        client.get("/api/me")
    assert client.get("/api/me").status_code == 401


# --- CSRF, roles, read-only ---------------------------------------------------------------------


def test_a_change_without_the_csrf_token_is_refused(site: Site) -> None:
    client = logged_in(site, "analyst1")
    alert = site.alerts["plain"]
    assert client.post(f"/alerts/{alert}/ack").status_code == 403
    assert client.post(f"/alerts/{alert}/ack", data={"csrf": "forged"}).status_code == 403
    assert client.post(f"/api/alerts/{alert}/ack", json={}).status_code == 403
    other = logged_in(site, "lead1")  # another session's token is no good either
    assert client.post(f"/alerts/{alert}/ack", data={"csrf": token(other)}).status_code == 403
    with site.store() as store:
        assert store.audit_trail(alert) == []
    assert client.post(f"/alerts/{alert}/ack", data={"csrf": token(client)}).status_code == 303
    assert client.post(f"/api/alerts/{alert}/ack", json={},
                       headers={"X-CSRF-Token": token(client)}).status_code == 200


def test_the_login_form_needs_its_csrf_token(site: Site) -> None:
    client = site.client()
    client.get("/login")
    answer = client.post("/login", data={"username": "analyst1",
                                         "password": password("analyst1")})
    assert answer.status_code == 403
    assert client.get("/api/me").status_code == 401


CHANGES = [("ack", {}), ("assign", {"user": "analyst1"}), ("close", {"reason": "test"}),
           ("comment", {"text": "seen"})]


@pytest.mark.parametrize(("action", "body"), CHANGES)
def test_a_viewer_may_read_but_not_triage(site: Site, action: str, body: dict[str, str]) -> None:
    client = logged_in(site, "viewer1")
    alert = site.alerts["plain"]
    assert client.get(f"/alerts/{alert}").status_code == 200
    assert client.get(f"/api/alerts/{alert}").status_code == 200
    page = client.post(f"/alerts/{alert}/{action}", data={**body, "csrf": token(client)})
    api = client.post(f"/api/alerts/{alert}/{action}", json=body,
                      headers={"X-CSRF-Token": token(client)})
    assert (page.status_code, api.status_code) == (403, 403)
    assert "Vai trò của bạn không được phép làm việc này." in page.text
    assert "viewer" in api.json()["error"]
    bulk = client.post("/alerts/bulk", data={"ids": [alert], "action": "ack",
                                             "csrf": token(client)})
    assert bulk.status_code == 403
    with site.store() as store:
        assert store.audit_trail(alert) == []


@pytest.mark.parametrize("name", ["analyst1", "lead1"])
@pytest.mark.parametrize(("action", "body"), CHANGES)
def test_analysts_and_leads_triage(site: Site, name: str, action: str,
                                   body: dict[str, str]) -> None:
    client = logged_in(site, name)
    alert = site.alerts["plain"]
    answer = client.post(f"/api/alerts/{alert}/{action}", json=body,
                         headers={"X-CSRF-Token": token(client)})
    assert answer.status_code == 200, answer.text
    with site.store() as store:
        (entry,) = store.audit_trail(alert)
    assert (entry.actor, entry.action) == (name, f"alert.{action}")


def test_the_audit_entry_of_an_ack_names_the_logged_in_user(site: Site) -> None:
    client = logged_in(site, "analyst1")
    alert = site.alerts["plain"]
    answer = client.post(f"/alerts/{alert}/ack", data={"csrf": token(client)})
    assert answer.status_code == 303 and answer.headers["location"] == f"/alerts/{alert}"
    with site.store() as store:
        (entry,) = store.audit_trail(alert)
        assert store.get_alert(alert).status.value == "acknowledged"  # type: ignore[union-attr]
    assert (entry.actor, entry.action, entry.details["after"]) == (
        "analyst1", "alert.ack", "acknowledged")
    page = client.get(f"/alerts/{alert}")
    assert re.search(r"<td>analyst1</td><td>alert\.ack</td>", page.text)


def test_read_only_console_refuses_every_change(site: Site) -> None:
    opened: list[bool] = []

    def factory(config: Config, readonly: bool) -> Store:
        opened.append(readonly)
        return SQLiteStore.open(config, readonly=readonly)

    client = logged_in(site, "lead1", read_only=True, store_factory=factory)
    alert = site.alerts["plain"]
    assert client.get("/alerts").status_code == 200
    page = client.post(f"/alerts/{alert}/ack", data={"csrf": token(client)})
    assert page.status_code == 409 and "chỉ đọc" in page.text
    api = client.post(f"/api/alerts/{alert}/close", json={"reason": "x"},
                      headers={"X-CSRF-Token": token(client)})
    assert api.status_code == 409 and "read-only" in api.json()["error"]
    assert opened and all(opened)  # the store was never opened for writing
    with site.store() as store:
        assert store.audit_trail(alert) == []


# --- escaping, headers, static files ------------------------------------------------------------


def test_log_data_renders_as_text_everywhere(site: Site) -> None:
    client = logged_in(site, "viewer1")
    pages = {"/alerts": XSS_TITLE, f"/alerts/{site.alerts['title']}": XSS_TITLE,
             f"/alerts/{site.alerts['agent']}": XSS_AGENT,
             "/search?q=*&from=2026-11-24": XSS_AGENT}
    for url, payload in pages.items():
        html = client.get(url).text
        assert payload not in html, url
        assert "<script>alert" not in html and "<img src=x" not in html, url
    queue = client.get("/alerts").text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in queue
    agent = client.get(f"/alerts/{site.alerts['agent']}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in agent
    api = client.get(f"/api/alerts/{site.alerts['title']}")
    assert api.json()["rule_title"] == XSS_TITLE  # JSON keeps the text as it is


def test_security_headers_and_a_csp_without_inline_code(site: Site) -> None:
    client = logged_in(site, "viewer1")
    for url in ("/login", "/alerts", "/api/alerts", "/static/console.css"):
        answer = client.get(url)
        assert answer.headers["content-security-policy"] == CSP, url
        assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-frame-options"] == "DENY"
    assert client.get("/alerts").headers["cache-control"] == "no-store"
    html = client.get(f"/alerts/{site.alerts['agent']}").text
    assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html)  # no inline script
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html)  # no inline style or handler


@pytest.mark.parametrize("url", ["/static/../app.py", "/static/%2e%2e/app.py",
                                 "/static/..%2fapp.py", "/static/%2e%2e%2f%2e%2e/config.py",
                                 "/static//etc/passwd", "/static/..%5capp.py"])
def test_static_files_cannot_reach_outside_their_folder(site: Site, url: str) -> None:
    answer = site.client().get(url)
    assert answer.status_code in (404, 303), url
    assert "create_app" not in answer.text and "root:" not in answer.text


def test_language_switch_and_local_times(site: Site) -> None:
    client = logged_in(site, "viewer1")
    assert "Hàng đợi cảnh báo" in client.get("/alerts").text
    english = client.get("/alerts?lang=en")
    assert "Alert queue" in english.text and english.cookies.get("lang") == "en"
    assert "Alert queue" in client.get("/alerts").text  # the cookie keeps it
    # 08:02 UTC is 15:02 in Asia/Ho_Chi_Minh (the configured zone)
    assert "2026-11-24 15:02:00" in client.get("/alerts").text


# --- the queue, an alert, search ----------------------------------------------------------------


def test_queue_filters_and_paging(site: Site) -> None:
    with site.store() as store:
        sink = AlertSink(store)
        for n in range(60):
            sink.raise_alerts([finding(f"p{n}", 10 + n, f"198.51.100.{n}",
                                       level=Severity.LOW)])
    client = logged_in(site, "viewer1")
    first = client.get("/alerts")
    assert first.text.count('name="ids"') == 50 and "page=2" in first.text
    second = client.get("/alerts?page=2")
    assert second.text.count('name="ids"') == 13 and "page=3" not in second.text
    high = client.get("/alerts?severity=high")
    assert high.text.count('name="ids"') == 3
    api = client.get("/api/alerts", params={"severity": "high", "limit": 2}).json()
    assert len(api["alerts"]) == 2 and api["more"] == 1 and api["next_offset"] == 2
    recent = client.get("/api/alerts", params={"since": "2026-11-24T09:00:00Z"}).json()
    assert len(recent["alerts"]) == 10  # last seen 09:00 to 09:09
    assert client.get("/api/alerts?status=bogus").status_code == 400
    assert client.get("/api/alerts?limit=0").status_code == 400


def test_bulk_ack_assign_close_from_the_queue(site: Site) -> None:
    client = logged_in(site, "analyst1")
    ids = [site.alerts["plain"], site.alerts["title"]]
    back = "/alerts?severity=high"
    answer = client.post("/alerts/bulk", data={"ids": ids, "action": "assign",
                                               "assignee": "lead1", "csrf": token(client),
                                               "back": back})
    assert answer.status_code == 303 and answer.headers["location"] == back
    client.post("/alerts/bulk", data={"ids": ids, "action": "close", "reason": "scanner",
                                      "csrf": token(client)})
    with site.store() as store:
        for alert_id in ids:
            alert = store.get_alert(alert_id)
            assert alert is not None and (alert.assignee, alert.status.value, alert.reason) == (
                "lead1", "closed", "scanner")
            assert [e.actor for e in store.audit_trail(alert_id)] == ["analyst1"] * 2
        untouched = store.get_alert(site.alerts["agent"])
        assert untouched is not None and untouched.status.value == "open"
    refused = client.post("/alerts/bulk", data={"ids": ids, "action": "close", "reason": " ",
                                                "csrf": token(client)})
    assert refused.status_code == 400


def test_alert_page_shows_events_entities_pivots_and_comments(site: Site) -> None:
    client = logged_in(site, "analyst1")
    alert = site.alerts["plain"]
    client.post(f"/alerts/{alert}/comment", data={"text": "looked at <b>it</b>",
                                                  "csrf": token(client)})
    html = client.get(f"/alerts/{alert}").text
    assert "curl/8" in html  # the linked event's fields
    assert 'href="/search?q=source.ip%3A%22203.0.113.10%22&amp;from=' in html
    assert "looked at &lt;b&gt;it&lt;/b&gt;" in html
    assert client.get("/alerts/doesnotexist").status_code == 404
    assert client.get("/api/alerts/doesnotexist").json()["error"] == "no alert 'doesnotexist'"


def test_a_pivot_searches_the_alerts_own_time_not_the_last_day(
        tmp_path: Path, seeded: tuple[Path, dict[str, str]]) -> None:
    """Ten days after the alert, its entity's pivot still finds its event."""
    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    later = Site(make_config(data), Clock(T0 + timedelta(days=10)), dict(seeded[1]))
    client = logged_in(later, "viewer1")
    html = client.get(f"/alerts/{later.alerts['plain']}").text
    link = re.search(r'href="(/search\?q=source.ip[^"]+)"', html)
    assert link, "no pivot link"
    url = link.group(1).replace("&amp;", "&")
    window = parse_qs(urlparse(url).query)
    assert window["from"] == [format_ts(T0 - timedelta(hours=1))]
    found = client.get(url).text
    assert found.count('<details class="event">') == 1 and "curl/8" in found
    assert client.get(url.split("&")[0]).text.count('<details class="event">') == 0


def test_pivot_links_quote_values_for_the_search_syntax(site: Site) -> None:
    from soc.web.render import lucene_term, pivot_url

    assert lucene_term("user.name", 'a "b" \\c') == 'user.name:"a \\"b\\" \\\\c"'
    assert lucene_term("Some Name", "x") == 'Some\\ Name:"x"'
    url = pivot_url('x" OR *:*', "user.name")
    assert parse_qs(urlparse(url).query)["q"] == ['user.name:"x\\" OR *:*"']
    with site.store() as store:
        store.write_events([event("e-quote", 3, **{"user.name": 'x" OR *:*'})])
    client = logged_in(site, "viewer1")
    found = client.get(url + "&from=2026-11-24").text
    assert found.count('<details class="event">') == 1  # the one event, not everything


def test_search_page_histogram_facets_and_errors(site: Site) -> None:
    client = logged_in(site, "viewer1")
    html = client.get("/search", params={"q": "host.name:web01", "from": "2026-11-24"}).text
    assert "3 sự kiện" in html
    assert html.count("<rect ") >= 1 and "<svg" in html
    # a facet value, searched in the same range
    assert 'href="/search?q=source.ip%3A%22203.0.113.12%22&amp;from=2026-11-24"' in html
    assert "3 sự kiện" in client.get("/search", params={"q": "host.name:web01"}).text
    site.clock.now += timedelta(days=1)  # the default window is the clock's last 24 hours
    later = logged_in(site, "viewer1")
    assert "0 sự kiện" in later.get("/search", params={"q": "host.name:web01"}).text
    bad = later.get("/search", params={"q": "source.ip:(", "from": "2026-11-24"})
    assert bad.status_code == 400 and 'class="error"' in bad.text


def test_api_search_and_me(site: Site) -> None:
    client = logged_in(site, "viewer1")
    found = client.get("/api/search", params={"q": "source.ip:203.0.113.12",
                                              "from": "2026-11-24"}).json()
    assert found["total"] == 1 and found["events"][0]["user_agent.original"] == XSS_AGENT
    assert client.get("/api/search", params={"q": "a:("}).status_code == 400
    me = client.get("/api/me").json()
    assert (me["name"], me["role"], me["via"]) == ("viewer1", "viewer", "session")


# --- API tokens, proxy auth, OpenAPI --------------------------------------------------------------


def test_a_bearer_token_works_on_the_api_without_cookie_or_csrf(site: Site) -> None:
    with site.store() as store:
        accounts = Accounts(store, data_dir=site.config.data_dir)
        secret = accounts.issue_token("analyst1", "script", "analyst1")
        viewer = accounts.issue_token("viewer1", "script", "viewer1")
    client = site.client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/me", headers=auth).json()["via"] == "token"
    alert = site.alerts["plain"]
    assert client.post(f"/api/alerts/{alert}/assign", json={"user": "lead1"},
                       headers=auth).json()["assignee"] == "lead1"
    refused = client.post(f"/api/alerts/{alert}/ack", json={},
                          headers={"Authorization": f"Bearer {viewer}"})
    assert refused.status_code == 403
    assert client.get("/alerts", headers=auth).status_code == 303  # pages need a login
    assert client.get("/api/me", headers={"Authorization": "Bearer soc_nope"}).status_code == 401
    with site.store() as store:
        Accounts(store, data_dir=site.config.data_dir).revoke_token("analyst1", "script",
                                                                    "lead1")
        assert store.audit_trail(alert)[-1].actor == "analyst1"
    assert client.get("/api/me", headers=auth).status_code == 401


def test_proxy_header_auth_only_from_trusted_addresses(tmp_path: Path,
                                                       seeded: tuple[Path, dict[str, str]]) -> None:
    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    config = make_config(data, proxy_auth={"header": "X-Remote-User",
                                           "trusted": ["127.0.0.1"]})
    app = create_app(config, clock=Clock(T0))
    proxy = TestClient(app, client=("127.0.0.1", 40000), follow_redirects=False)
    me = proxy.get("/api/me", headers={"X-Remote-User": "analyst1"})
    assert me.status_code == 200 and me.json()["via"] == "proxy"
    assert proxy.get("/api/me", headers={"X-Remote-User": "ghost"}).status_code == 401
    alert = seeded[1]["plain"]
    forged = proxy.post(f"/alerts/{alert}/ack", headers={"X-Remote-User": "analyst1"})
    assert forged.status_code == 403  # proxy sessions need the CSRF token too
    done = proxy.post(f"/alerts/{alert}/ack", headers={"X-Remote-User": "analyst1"},
                      data={"csrf": me.json()["csrf"]})
    assert done.status_code == 303
    outsider = TestClient(app, client=("192.0.2.9", 40000), follow_redirects=False)
    assert outsider.get("/api/me", headers={"X-Remote-User": "lead1"}).status_code == 401
    off = TestClient(create_app(make_config(data), clock=Clock(T0)),
                     client=("127.0.0.1", 40000))
    assert off.get("/api/me", headers={"X-Remote-User": "lead1"}).status_code == 401


def test_openapi_describes_every_api_route(site: Site) -> None:
    app = site.app()
    client = TestClient(app)
    assert client.get("/api/openapi.json").status_code == 401
    answer = logged_in(site, "viewer1").get("/api/openapi.json").json()
    assert answer["openapi"].startswith("3.")
    described = {(path, method.upper()) for path, ops in answer["paths"].items()
                 for method in ops}
    routes = {(r.path, m) for r in app.routes if getattr(r, "path", "").startswith("/api")
              for m in getattr(r, "methods", ()) if m != "HEAD"}
    assert described == routes
    for path, ops in answer["paths"].items():
        for op in ops.values():
            assert {"401", "403", "200"} <= set(op["responses"]), path
            assert op["security"] == [{"bearer": []}, {"session": []}]
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path))
    assert set(answer["components"]["securitySchemes"]) == {"bearer", "session"}


# --- scale: 100,000 open alerts -----------------------------------------------------------------


def test_the_queue_of_thousands_of_open_alerts_is_paged_by_the_store(
        tmp_path: Path, seeded: tuple[Path, dict[str, str]]) -> None:
    """A page at a time, counted by the store (how fast with 100,000: benchmarks/console.py)."""
    from soc.models import Alert

    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    with SQLiteStore.open_path(data / "store.db") as store:
        store.upsert_alerts([Alert(
            id=f"{n:032x}", rule_id=RULE, rule_title="Many", severity=Severity.MEDIUM,
            first_seen=format_ts(T0), last_seen=format_ts(T0 + timedelta(seconds=n)),
            count=1, dedup=f"d{n}", entity={"source.ip": "192.0.2.1"}, created="x",
            updated="x") for n in range(3_000)], {})
    site = Site(make_config(data), Clock(T0), {})
    client = logged_in(site, "viewer1")
    for url in ("/alerts", "/alerts?status=open&severity=medium", "/alerts?page=20",
                "/api/alerts?status=open"):
        assert client.get(url).status_code == 200, url
    first = client.get("/api/alerts?status=open").json()
    assert first["more"] == 3_003 - 50 and len(first["alerts"]) == 50
    deep = client.get("/alerts?page=20").text
    assert f"{3_000 - 1 - 19 * 50:032x}" in deep  # most recently seen first, 50 a page


# --- soc web, a real process --------------------------------------------------------------------


class Console:
    """``soc web`` as a real subprocess; ``url`` from its ``Console:`` line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "soc", *args, "web", "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.line = ""
        seen = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            self.line = self.proc.stdout.readline()
            seen.set()

        threading.Thread(target=read, daemon=True).start()
        if not wait_event(seen, 60):
            self.proc.kill()
            raise AssertionError("soc web printed no Console line")

    @property
    def url(self) -> str:
        found = re.fullmatch(r"Console: (https?://[^/]+/)\n", self.line)
        assert found, (self.line, self.proc.stderr.read() if self.proc.stderr else "")
        return found.group(1)

    def stop(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


def test_soc_web_prints_its_url_serves_and_stops_on_sigterm(
        tmp_path: Path, seeded: tuple[Path, dict[str, str]]) -> None:
    import httpx

    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    console = Console("--data-dir", str(data))
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", console.url)
        with httpx.Client(base_url=console.url, timeout=10) as http:
            page = http.get("/login")
            assert page.status_code == 200 and 'name="username"' in page.text
            assert http.get("/api/alerts").status_code == 401
            answer = http.post("/login", data={"username": "viewer1",
                                               "password": password("viewer1"),
                                               "csrf": csrf_of(page.text)})
            assert answer.status_code == 303
            assert http.get("/api/alerts").json()["more"] == 0
    finally:
        code, out, _ = console.stop()
    assert (code, out) == (0, "")


def test_an_upload_declared_too_large_is_refused_before_its_body_is_read(
        tmp_path: Path, seeded: tuple[Path, dict[str, str]]) -> None:
    """A real server, a raw socket: the headers say 50 GB and no body follows; the answer is
    413 at once, not a wait for 50 GB spooled to disk."""
    import socket

    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    with SQLiteStore.open_path(data / "store.db") as store:
        bearer = Accounts(store, data_dir=data).issue_token("analyst1", "upload", "admin")
    console = Console("--data-dir", str(data))
    try:
        url = urlparse(console.url)
        with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
            sock.sendall((
                "POST /api/incidents/INC-1/evidence HTTP/1.1\r\n"
                f"Host: {url.hostname}\r\nAuthorization: Bearer {bearer}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                "Content-Length: 50000000000\r\n\r\n").encode())
            head = sock.recv(4096).decode("latin-1")
        assert head.startswith("HTTP/1.1 413 "), head
    finally:
        console.stop()


def test_soc_web_refuses_a_public_address_without_tls(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "soc", "--data-dir", str(tmp_path), "web",
                           "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.splitlines()[0] == (
        "Error: refusing to serve the console on 0.0.0.0 without TLS")
    assert done.stderr.splitlines()[1].startswith("Hint: Set web.cert and web.key")


def test_soc_web_serves_tls_with_the_configured_certificate(
        tmp_path: Path, seeded: tuple[Path, dict[str, str]]) -> None:
    import httpx
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "console.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "console.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    (tmp_path / "soc.yml").write_text(
        f"data_dir: {data}\nweb:\n  host: 0.0.0.0\n  cert: console.pem\n  key: console.key\n")
    console = Console("-c", str(tmp_path / "soc.yml"))
    try:
        port = urlparse(console.url).port
        assert console.url == f"https://0.0.0.0:{port}/"
        trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with httpx.Client(verify=trusted, timeout=10) as http:
            page = http.get(f"https://127.0.0.1:{port}/login")
            assert page.status_code == 200
            assert "Secure" in page.headers["set-cookie"]
    finally:
        code, _, _ = console.stop()
    assert code == 0


@pytest.mark.parametrize(("web", "message"), [
    ({"port": 70000}, "web: port must be 0 to 65535, not 70000"),
    ({"cert": "a.pem"}, "web: cert and key go together (give both, or neither)"),
    ({"session_idle": "soon"}, "web: session_idle: not a duration"),
    ({"proxy_auth": {"header": "X-Remote-User"}}, "web.proxy_auth: trusted must list"),
    ({"proxy_auth": {"header": "X-User", "trusted": ["proxy"]}}, "'proxy' is not an address"),
    ({"colour": "blue"}, "web: unknown key 'colour'"),
])
def test_web_settings_are_checked(tmp_path: Path, web: dict[str, Any], message: str) -> None:
    from soc.errors import ConfigError
    from soc.web.config import load_web_config

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_web_config(make_config(tmp_path, **web))


def test_web_settings_defaults_and_values(tmp_path: Path) -> None:
    from soc.web.config import load_web_config

    default = load_web_config(make_config(tmp_path))
    assert (default.host, default.port, default.cert, default.proxy_auth) == (
        "127.0.0.1", 8080, None, None)
    assert default.session_idle == timedelta(minutes=30)
    assert default.session_max == timedelta(hours=12)
    custom = load_web_config(make_config(tmp_path, session_idle="10m", session_max="8h",
                                         proxy_auth={"header": "X-User",
                                                     "trusted": ["10.0.0.0/8"]}))
    assert (custom.session_idle, custom.session_max) == (timedelta(minutes=10),
                                                         timedelta(hours=8))
    assert custom.proxy_auth is not None and custom.proxy_auth.trusts("10.1.2.3")
    assert not custom.proxy_auth.trusts("192.0.2.1") and not custom.proxy_auth.trusts("x")


def test_a_disabled_account_is_logged_out_at_its_next_request(site: Site) -> None:
    client = logged_in(site, "analyst1")
    assert client.get("/api/me").status_code == 200
    with site.store() as store:
        Accounts(store, data_dir=site.config.data_dir).disable("analyst1", "lead1")
    assert client.get("/api/me").status_code == 401
    assert client.get("/alerts").status_code == 303


def test_bodies_over_a_mebibyte_are_refused(site: Site) -> None:
    client = logged_in(site, "analyst1")
    alert = site.alerts["plain"]
    big = "x" * (1 << 20)
    form = client.post(f"/alerts/{alert}/comment", data={"csrf": token(client), "text": big})
    api = client.post(f"/api/alerts/{alert}/comment", json={"text": big},
                      headers={"X-CSRF-Token": token(client)})
    assert (form.status_code, api.status_code) == (413, 413)
    with site.store() as store:
        assert store.audit_trail(alert) == []


def test_pages_carry_the_csrf_token_for_scripts(site: Site) -> None:
    client = logged_in(site, "viewer1")
    html = client.get("/alerts").text
    assert f'<meta name="csrf-token" content="{token(client)}">' in html
    assert 'name="ids"' in html and "/alerts/bulk" in html
    assert 'name="action"' not in html  # a viewer gets no bulk actions


def test_openapi_names_path_parameters_a_route_left_undescribed() -> None:
    from soc.web.context import Spec
    from soc.web.openapi import describe

    spec = Spec("/api/things/{thing_id}", lambda ctx: None)  # type: ignore[arg-type,return-value]
    (param,) = describe([spec])["paths"]["/api/things/{thing_id}"]["get"]["parameters"]
    assert (param["name"], param["in"], param["required"]) == ("thing_id", "path", True)


def test_a_flood_of_login_page_visits_never_evicts_a_logged_in_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from soc.web import sessions

    monkeypatch.setattr(sessions, "MAX_ANONYMOUS", 3)
    clock = Clock(T0)
    live = sessions.Sessions(clock, idle=timedelta(minutes=30), longest=timedelta(hours=12))
    analyst = live.login(None, "analyst1")
    visits = [live.anonymous() for _ in range(10)]
    assert live.get(analyst.id) is not None
    assert len(live) == 4 and live.get(visits[0].id) is None and live.get(visits[-1].id)
