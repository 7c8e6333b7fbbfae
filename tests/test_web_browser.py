"""The web console in a real headless Chromium (Debian's, driven by Playwright): log in, triage an
alert from the queue, pivot to its events, open an incident from an alert and upload evidence to
it, generate a report, preview it and download its DOCX, log out; each as a role that may, and
refused for one that may not (no control shown, a forged POST answered 403, nothing changed in
the store); a script in a log line rendered as text; no Content-Security-Policy violation.

One data directory (``soc demo`` plus four web attacks, tests/web_console.py), one ``soc web``
subprocess and one browser serve the whole module; each test has a fresh browser context (its own
cookies). Marked real_clock: Chromium and libfaketime do not mix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Page, Response, sync_playwright

from soc.models import AlertStatus
from tests.conftest import CHROMIUM, needs_chromium
from tests.web_console import XSS_AGENT, ConsoleData, ConsoleServer, build, password

pytestmark = [pytest.mark.real_clock, needs_chromium]

# Every page also reports its CSP violations as console errors (besides Chromium's own messages).
REPORT_CSP = """document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`));"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ConsoleData:
    return build(tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def url(data: ConsoleData) -> Iterator[str]:
    server = ConsoleServer(data.config)
    yield server.start()
    code, err = server.stop()
    assert code == 0, f"soc web exited with {code} on SIGTERM:\n{err}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


class Console:
    """One browser context on the console, with what the browser reported along the way."""

    def __init__(self, page: Page, url: str) -> None:
        self.page, self.url = page, url
        self.console: list[str] = []
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))

    def goto(self, path: str) -> Response | None:
        return self.page.goto(self.url + path.lstrip("/"))

    def login(self, name: str, secret: str | None = None) -> None:
        """Log in from the login page the queue sends a stranger to; lands on the queue."""
        self.goto("/alerts")
        assert_path(self.page, "/login")
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", password(name) if secret is None else secret)
        with self.page.expect_navigation():
            self.page.press("input[name=password]", "Enter")

    def logout(self) -> None:
        with self.page.expect_navigation():
            self.page.locator("form[action$='/logout'] [type=submit]").click()

    def submit(self, action: str, **fields: str) -> None:
        """Fill and submit the page's form posting to ``action``; waits for the next page."""
        form = self.page.locator(f"form[action='{action}']")
        for name, value in fields.items():
            form.locator(f"[name={name}]").fill(value)
        with self.page.expect_navigation():
            form.locator("[type=submit]").click()

    def post(self, path: str, body: str) -> int:
        """POST a form body with fetch() from the page, as a forged form would; the status."""
        status: int = self.page.evaluate(
            """([path, body]) => fetch(path, {method: "POST", body: body, redirect: "manual",
                headers: {"Content-Type": "application/x-www-form-urlencoded"}})
                .then(r => r.status)""", [path, body])
        return status

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m or "Refused to" in m
                or "CSP violation" in m]


@pytest.fixture
def console(browser: Browser, url: str) -> Iterator[Console]:
    context = browser.new_context()
    context.add_init_script(REPORT_CSP)
    seen = Console(context.new_page(), url)
    yield seen
    context.close()
    assert seen.csp_violations() == []


def assert_path(page: Page, path: str) -> None:
    assert re.match(r"https?://[^/]+" + re.escape(path) + r"(\?|$)", page.url), page.url


def test_login_lands_on_the_queue(console: Console, data: ConsoleData) -> None:
    console.login("analyst1")
    assert_path(console.page, "/alerts")
    body = console.page.inner_text("body")
    assert console.page.locator(f"a[href='/alerts/{data.alerts['refused']}']").count() == 1
    assert "analyst1" in body


def test_wrong_password_stays_on_the_login_page(console: Console) -> None:
    console.login("analyst1", "not the password at all")
    assert_path(console.page, "/login")
    console.goto("/alerts")
    assert_path(console.page, "/login")


def test_logout_sends_the_queue_back_to_login(console: Console) -> None:
    console.login("viewer1")
    assert_path(console.page, "/alerts")
    console.logout()
    console.goto("/alerts")
    assert_path(console.page, "/login")


def test_script_from_a_log_line_renders_as_text(console: Console, data: ConsoleData) -> None:
    console.login("viewer1")
    for path in (f"/alerts/{data.alerts['xss']}", '/search?q=source.ip:"198.51.100.23"'):
        console.goto(path)
        console.page.locator("details.event summary").first.click()  # unfold its fields
        field = console.page.locator("table.kv tr", has_text="user_agent.original")
        assert field.inner_text().split("\t")[-1].strip() == XSS_AGENT, path
        assert console.page.evaluate("typeof window.__xss") == "undefined", path
    assert console.csp_violations() == []


def test_analyst_triages_an_alert_from_the_queue(console: Console, data: ConsoleData) -> None:
    alert_id = data.alerts["triage"]
    console.login("analyst1")
    with console.page.expect_navigation():
        console.page.click(f"a[href='/alerts/{alert_id}']")
    assert_path(console.page, f"/alerts/{alert_id}")
    console.submit(f"/alerts/{alert_id}/ack")
    assert data.alert(alert_id).status is AlertStatus.ACKNOWLEDGED
    console.submit(f"/alerts/{alert_id}/assign", user="analyst1")
    console.submit(f"/alerts/{alert_id}/close", reason="blocked at the firewall")
    alert = data.alert(alert_id)
    assert (alert.status, alert.assignee, alert.reason) == (
        AlertStatus.CLOSED, "analyst1", "blocked at the firewall")
    # The alert's audit trail on its page names the logged-in analyst, not the OS user.
    console.goto(f"/alerts/{alert_id}")
    trail = console.page.locator("table.grid").last.inner_text()
    assert [line.split("\t")[2:4] for line in trail.splitlines()[1:]][-3:] == [
        ["analyst1", "alert.ack"], ["analyst1", "alert.assign"], ["analyst1", "alert.close"]]


def test_pivot_from_an_alert_to_its_events(console: Console, data: ConsoleData) -> None:
    console.login("viewer1")
    console.goto(f"/alerts/{data.alerts['refused']}")
    with console.page.expect_navigation():
        console.page.click("a.pivot:text-is('198.51.100.25')")
    assert_path(console.page, "/search")
    assert "198.51.100.25" in console.page.input_value("input[name=q]")
    results = console.page.inner_text("main")
    assert "198.51.100.25" in results and "/dich-vu-cong/tra-cuu" in results
    assert "203.0.113.45" not in results  # only the pivoted source's events


def test_viewer_cannot_triage(console: Console, data: ConsoleData) -> None:
    alert_id = data.alerts["refused"]
    console.login("viewer1")
    console.goto(f"/alerts/{alert_id}")
    assert console.page.locator("form[action$='/ack'], form[action$='/close']").count() == 0
    console.goto("/alerts")
    assert console.page.locator("fieldset.bulk").count() == 0
    # Forged anyway, with the session's own CSRF token: refused, and the store is unchanged.
    token = console.page.input_value("form[action='/logout'] input[name=csrf]")
    for action, extra in (("ack", ""), ("close", "&reason=x"), ("assign", "&user=viewer1")):
        assert console.post(f"/alerts/{alert_id}/{action}", f"csrf={token}{extra}") == 403
    alert = data.alert(alert_id)
    assert (alert.status, alert.assignee, alert.reason) == (AlertStatus.OPEN, None, None)


def test_no_csp_violation_on_the_main_pages(console: Console, data: ConsoleData) -> None:
    console.login("lead1")
    for path in ("/alerts", f"/alerts/{data.alerts['xss']}", "/search?q=*", "/search?lang=en"):
        response = console.goto(path)
        assert response is not None and response.status == 200, path
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
    assert console.csp_violations() == []


def test_analyst_opens_an_incident_and_uploads_evidence(console: Console,
                                                        data: ConsoleData) -> None:
    alert_id = data.alerts["incident"]
    console.login("analyst1")
    console.goto(f"/alerts/{alert_id}")
    console.submit("/incidents")
    incident = data.alert(alert_id).incident
    assert incident is not None and incident != data.incident()
    assert_path(console.page, f"/incidents/{incident}")
    assert console.page.locator(f"a[href='/alerts/{alert_id}']").count() == 1
    # Evidence: uploaded from the browser, its sha256 shown, and the same bytes downloaded back.
    content = b"tcpdump -w portal.pcap: the attacker's session\n" * 100
    upload = console.page.locator(f"form[action='/incidents/{incident}/evidence']")
    notes: FilePayload = {"name": "session-notes.txt", "mimeType": "text/plain", "buffer": content}
    upload.locator("input[type=file]").set_input_files(files=[notes])
    with console.page.expect_navigation():
        upload.locator("[type=submit]").click()
    row = console.page.locator("table.evidence tr", has_text="session-notes.txt")
    assert row.locator("code.sha256").inner_text() == hashlib.sha256(content).hexdigest()
    with console.page.expect_download() as download:
        row.locator("a[download]").click()
    assert Path(download.value.path()).read_bytes() == content
    assert download.value.suggested_filename == "session-notes.txt"
    trail = console.page.locator("table.timeline").inner_text()
    assert "analyst1" in trail


def test_viewer_cannot_work_an_incident(console: Console, data: ConsoleData) -> None:
    incident = data.incident()
    audited = data.audit_count()
    console.login("viewer1")
    console.goto(f"/incidents/{incident}")
    assert incident in console.page.inner_text("h1")
    forms = console.page.locator(f"main form[action^='/incidents/{incident}']")
    assert forms.count() == 0
    console.goto(f"/alerts/{data.alerts['refused']}")
    assert console.page.locator("form[action='/incidents']").count() == 0
    token = console.page.input_value("form[action='/logout'] input[name=csrf]")
    for path, body in ((f"/incidents/{incident}/note", f"csrf={token}&text=x"),
                       (f"/incidents/{incident}/close", f"csrf={token}&outcome=x"),
                       ("/incidents", f"csrf={token}&alerts={data.alerts['refused']}")):
        assert console.post(path, body) == 403, path
    assert data.audit_count() == audited


def test_lead_generates_previews_and_downloads_a_report(console: Console) -> None:
    console.login("lead1")
    console.goto("/reports")
    with console.page.expect_navigation():
        console.page.locator("#periodic-form [type=submit]").click()
    assert re.search(r"/reports/view/[^/?]+", console.page.url), console.page.url
    preview = console.page.frame_locator("iframe.report-preview").locator("body")
    assert preview.inner_text().strip()  # the report's HTML, rendered in its sandboxed frame
    with console.page.expect_download() as download:
        console.page.locator("a[download][href$='.docx']").click()
    assert download.value.suggested_filename.endswith(".docx")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"  # a DOCX is a zip


@pytest.mark.parametrize("name", ["viewer1", "analyst1"])  # reports are a lead's
def test_only_a_lead_generates_reports(console: Console, data: ConsoleData, name: str) -> None:
    reports = data.reports()
    console.login(name)
    console.goto("/reports")
    assert console.page.locator("form[action='/reports']").count() == 0
    token = console.page.input_value("form[action='/logout'] input[name=csrf]")
    assert console.post("/reports", f"csrf={token}&source=periodic&kind=weekly") == 403
    assert data.reports() == reports
