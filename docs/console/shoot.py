"""Screenshots of the web console's main pages for docs/console.md.

Builds the same data directory as the browser tests (``soc demo`` plus three web attacks and the
users viewer1/analyst1/lead1: tests/web_console.py), starts ``soc web --port 0`` on it, logs in as
lead1 in Debian's headless Chromium (Playwright, ``executable_path``; never ``playwright
install``) and saves one PNG per page beside this script. Pages that are not there (404) are
skipped and named on stderr.

    python docs/console/shoot.py [--lang en|vi] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.web_console import ConsoleData, ConsoleServer, build, password  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 800
FULL = {"alert"}  # shot whole: its unfolded event runs past the window


def pages(data: ConsoleData) -> dict[str, str]:
    """File name (without .png) -> path of each page to shoot, in the order of docs/console.md."""
    return {
        "alerts": "/alerts",
        "alert": f"/alerts/{data.alerts['xss']}",
        "search": '/search?q=source.ip:"203.0.113.45"',
        "incidents": "/incidents",
        "incident": f"/incidents/{data.incident()}",
        "report": "",  # made by lead1 from the reports page's form: see generate()
        "reports": "/reports",
        "status": "/status",
        "rules": "/rules",
        "overview": "/overview",
        "users": "/users",
    }


def log_in(page: Page, url: str, name: str) -> None:
    page.goto(url + "login")
    page.screenshot(path=str(HERE / "login.png"))
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password(name))
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")


def generate(page: Page, url: str) -> str:
    """Generate this week's report (so far) from the reports page; the path of its preview."""
    page.goto(url + "reports")
    year, week, _ = datetime.now(UTC).isocalendar()
    page.fill("#periodic-form input[name=period]", f"{year}-W{week:02d}")
    with page.expect_navigation():
        page.locator("#periodic-form [type=submit]").click()
    return page.url.removeprefix(url.rstrip("/"))


def shoot(data: ConsoleData, url: str, lang: str, say: Callable[[str], None]) -> list[Path]:
    """Log in as lead1 and save each page that answers; returns the files written."""
    written = [HERE / "login.png"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        context.add_cookies([{"name": "lang", "value": lang, "url": url}])
        page = context.new_page()
        log_in(page, url, "lead1")
        for name, path in pages(data).items():
            if name == "report":
                path = generate(page, url)
            response = page.goto(url + path.lstrip("/"))
            if response is None or response.status >= 400:
                say(f"skipped {name}: {path} answered {response and response.status}")
                continue
            if name == "alert":  # its first event unfolded: the fields, the script as text
                page.locator("main details").first.evaluate("d => { d.open = true; }")
            target = HERE / f"{name}.png"
            page.screenshot(path=str(target), full_page=name in FULL)
            written.append(target)
        browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="en", choices=["en", "vi"])
    parser.add_argument("--keep", type=Path, help="Build the data directory here and keep it.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soc-shoot-") as tmp:
        data = build(args.keep or Path(tmp) / "console")
        server = ConsoleServer(data.config)
        url = server.start()
        try:
            written = shoot(data, url, args.lang, lambda text: print(text, file=sys.stderr))
        finally:
            server.stop()
    for path in written:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
