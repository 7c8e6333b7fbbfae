"""Accounts in the console over the real app (Starlette's TestClient) and a real SQLite store:
a lead adds, demotes, disables and re-keys accounts on ``/users`` (audited under the lead, the
affected sessions ended); anyone changes their own password and API tokens on ``/account``;
the last enabled lead cannot be demoted or disabled (console and CLI); no account change is
made with an API token; names and labels are escaped."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.config import Config, parse_config
from soc.stores.sqlite import SQLiteStore
from soc.web.accounts import AccountError, Accounts
from tests.web_helpers import Clock, Site, csrf_of, password

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
USERS = {"viewer1": "viewer", "analyst1": "analyst", "lead1": "lead"}
NEW_PASSWORD = "a brand new passphrase"


def make_config(data: Path) -> Config:
    return parse_config({"data_dir": str(data), "timezone": "Asia/Ho_Chi_Minh"}, None,
                        data.parent)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("users") / "data"
    data.mkdir()
    with SQLiteStore.open_path(data / "store.db") as store:
        accounts = Accounts(store, data_dir=data)
        for name, role in USERS.items():
            accounts.add(name, role, password(name), "admin")
    return data


@pytest.fixture
def site(tmp_path: Path, seeded: Path) -> OneConsole:
    data = tmp_path / "data"
    shutil.copytree(seeded, data)
    return OneConsole(make_config(data), Clock(T0), {})



@dataclass
class OneConsole(Site):
    """A site whose browsers all talk to one app (sessions live in the app)."""

    console: Any = None

    def browser(self) -> TestClient:
        if self.console is None:
            self.console = self.app()
        return TestClient(self.console, follow_redirects=False)


def logged_in(site: OneConsole, name: str, pw: str | None = None) -> TestClient:
    """A browser of its own, logged in to the site's one console."""
    client = site.browser()
    page = client.get("/login")
    answer = client.post("/login", data={"username": name, "password": pw or password(name),
                                         "csrf": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    return client


def post(client: TestClient, page: str, url: str, **fields: str) -> Any:
    return client.post(url, data={"csrf": csrf_of(client.get(page).text), **fields})


def users(site: OneConsole) -> dict[str, dict[str, Any]]:
    with site.store() as store:
        return {u.name: u.to_dict() for u in Accounts(store).list()}


def trail(site: OneConsole, name: str) -> list[tuple[str, str]]:
    with site.store() as store:
        return [(e.actor, e.action) for e in store.audit_trail(f"user:{name}")]


def test_a_lead_adds_an_account_that_can_log_in(site: OneConsole) -> None:
    lead = logged_in(site, "lead1")
    page = lead.get("/users?lang=en")
    assert page.status_code == 200 and 'data-user="analyst1"' in page.text
    answer = post(lead, "/users", "/users", name="Tuan.Le", role="analyst",
                  password="tuan has a long passphrase")
    assert answer.status_code == 303 and answer.headers["location"] == "/users"
    assert users(site)["tuan.le"]["role"] == "analyst"
    assert trail(site, "tuan.le") == [("lead1", "user.add")]
    assert logged_in(site, "tuan.le", "tuan has a long passphrase").get("/alerts") \
        .status_code == 200
    # refused values: a short password, an unknown role, a name taken
    for fields in ({"name": "x1", "role": "analyst", "password": "short"},
                   {"name": "x2", "role": "admin", "password": "long enough passphrase"},
                   {"name": "tuan.le", "role": "viewer", "password": "long enough passphrase"}):
        refused = post(lead, "/users", "/users", **fields)
        assert refused.status_code == 400, fields
    assert set(users(site)) == {*USERS, "tuan.le"}


def test_a_lead_demotes_and_the_change_holds_at_the_next_request(site: OneConsole) -> None:
    analyst = logged_in(site, "analyst1")
    assert analyst.get("/alerts").status_code == 200
    lead = logged_in(site, "lead1")
    assert post(lead, "/users", "/users/analyst1/role", role="viewer").status_code == 303
    assert users(site)["analyst1"]["role"] == "viewer"
    assert trail(site, "analyst1")[-1] == ("lead1", "user.role")
    # the open session now has the viewer's rights only
    csrf = analyst.get("/api/me").json()["csrf"]
    assert analyst.get("/api/me").json()["role"] == "viewer"
    refused = analyst.post("/api/alerts/x/ack", json={}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403


def test_disabling_or_resetting_ends_the_sessions_at_once(site: OneConsole) -> None:
    analyst = logged_in(site, "analyst1")
    viewer = logged_in(site, "viewer1")
    lead = logged_in(site, "lead1")
    assert post(lead, "/users", "/users/analyst1/disable").status_code == 303
    assert analyst.get("/alerts").status_code == 303  # back to the login page
    assert users(site)["analyst1"]["disabled"] is True
    page = lead.get("/users?lang=en").text
    assert 'action="/users/analyst1/enable"' in page
    assert post(lead, "/users", "/users/analyst1/enable").status_code == 303
    assert logged_in(site, "analyst1").get("/alerts").status_code == 200
    assert post(lead, "/users", "/users/viewer1/password",
                password=NEW_PASSWORD).status_code == 303
    assert viewer.get("/alerts").status_code == 303
    logged_in(site, "viewer1", NEW_PASSWORD)
    assert [a for _, a in trail(site, "analyst1")][-2:] == ["user.disable", "user.enable"]
    assert trail(site, "viewer1")[-1] == ("lead1", "user.passwd")


def test_the_last_lead_cannot_be_demoted_or_disabled(site: OneConsole) -> None:
    lead = logged_in(site, "lead1")
    for url, fields in (("/users/lead1/role", {"role": "analyst"}),
                        ("/users/lead1/disable", {})):
        refused = post(lead, "/users", url, **fields)
        assert refused.status_code == 400
        assert "last enabled lead" in refused.text
    assert users(site)["lead1"] == {**users(site)["lead1"], "role": "lead", "disabled": False}
    # with a second lead, the first may step down
    assert post(lead, "/users", "/users/analyst1/role", role="lead").status_code == 303
    assert post(lead, "/users", "/users/lead1/role", role="analyst").status_code == 303
    with site.store() as store:
        accounts = Accounts(store)
        with pytest.raises(AccountError, match="last enabled lead"):
            accounts.disable("analyst1", "admin")


def test_the_cli_keeps_the_last_lead_too(site: OneConsole, tmp_path: Path) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text(f"data_dir: {site.config.data_dir}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "soc", "-c", str(cfg), "users", "disable",
                           "lead1"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "last enabled lead" in done.stderr and "soc users role NAME lead" in done.stderr
    assert users(site)["lead1"]["disabled"] is False


def test_analysts_and_viewers_may_not_manage_accounts(site: OneConsole) -> None:
    for name in ("analyst1", "viewer1"):
        client = logged_in(site, name)
        assert client.get("/users").status_code == 403
        assert 'href="/users"' not in client.get("/alerts").text
        csrf = csrf_of(client.get("/alerts").text)
        for url, fields in (("/users", {"name": "evil", "role": "lead",
                                        "password": "long enough passphrase"}),
                            ("/users/lead1/disable", {}),
                            (f"/users/{name}/role", {"role": "lead"})):
            assert client.post(url, data={"csrf": csrf, **fields}).status_code == 403
    assert users(site)["lead1"]["disabled"] is False
    assert "evil" not in users(site)
    assert users(site)["analyst1"]["role"] == "analyst"


def test_a_user_changes_their_own_password(site: OneConsole) -> None:
    other = logged_in(site, "analyst1")  # another session of the same user
    client = logged_in(site, "analyst1")
    old_cookie = client.cookies.get("soc_session")
    page = client.get("/account?lang=en")
    assert page.status_code == 200 and "analyst1 (analyst)" in page.text
    wrong = post(client, "/account", "/account/password", current="not it",
                 password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert wrong.status_code == 403 and "The current password is wrong." in wrong.text
    differ = post(client, "/account", "/account/password", current=password("analyst1"),
                  password=NEW_PASSWORD, confirm=NEW_PASSWORD + "!")
    assert differ.status_code == 400
    done = post(client, "/account", "/account/password", current=password("analyst1"),
                password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert done.status_code == 200
    assert client.cookies.get("soc_session") not in (None, old_cookie)  # a new session id
    assert client.get("/alerts").status_code == 200  # this one goes on
    assert other.get("/alerts").status_code == 303  # the other one ended
    logged_in(site, "analyst1", NEW_PASSWORD)
    assert trail(site, "analyst1")[-1] == ("analyst1", "user.passwd")


def test_guessing_the_current_password_is_throttled(site: OneConsole) -> None:
    client = logged_in(site, "viewer1")
    codes = [post(client, "/account", "/account/password", current=f"guess {n}",
                  password=NEW_PASSWORD, confirm=NEW_PASSWORD).status_code for n in range(7)]
    assert codes[:5] == [403] * 5 and 429 in codes[5:]
    # even the right one waits until the throttle allows it
    late = post(client, "/account", "/account/password", current=password("viewer1"),
                password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert late.status_code == 429 and "Retry-After" in late.headers
    site.clock.advance(60)  # the waits of 7 failures are over (the session is not)
    assert post(client, "/account", "/account/password", current=password("viewer1"),
                password=NEW_PASSWORD, confirm=NEW_PASSWORD).status_code == 200


def test_own_tokens_are_issued_once_used_and_revoked(site: OneConsole) -> None:
    client = logged_in(site, "viewer1")
    issued = post(client, "/account", "/account/tokens", label="nightly-export")
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    token = issued.text.split('<code class="token">', 1)[1].split("</code>", 1)[0]
    assert token.startswith("soc_")
    api = site.browser()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/me", headers=bearer).json()["name"] == "viewer1"
    # a token cannot change accounts, even its own user's (pages take sessions only)
    for url, fields in (("/account/tokens", {"label": "more"}),
                        ("/account/password", {"current": password("viewer1"),
                                               "password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})):
        refused = api.post(url, data=fields, headers=bearer)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    with site.store() as store:
        assert [t["label"] for t in Accounts(store).tokens("viewer1")] == ["nightly-export"]
    logged_in(site, "viewer1")  # the password is unchanged
    page = client.get("/account").text
    assert token not in page  # shown once
    assert 'data-token="nightly-export"' in page
    assert post(client, "/account", "/account/tokens/nightly-export/revoke").status_code == 303
    assert api.get("/api/me", headers=bearer).status_code == 401
    assert [a for _, a in trail(site, "viewer1")][-2:] == ["user.token", "user.revoke"]


def test_a_lead_revokes_a_users_token(site: OneConsole) -> None:
    with site.store() as store:
        token = Accounts(store).issue_token("analyst1", "script", "admin")
    lead = logged_in(site, "lead1")
    assert "/users/analyst1/tokens/script/revoke" in lead.get("/users").text
    assert post(lead, "/users", "/users/analyst1/tokens/script/revoke").status_code == 303
    api = site.browser()
    assert api.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_read_only_console_shows_but_changes_no_account(site: OneConsole) -> None:
    client = site.client(read_only=True)
    page = client.get("/login")
    client.post("/login", data={"username": "lead1", "password": password("lead1"),
                                "csrf": csrf_of(page.text)})
    listing = client.get("/users")
    assert listing.status_code == 200 and 'action="/users"' not in listing.text
    refused = client.post("/users/viewer1/disable", data={"csrf": csrf_of(listing.text)})
    assert refused.status_code == 409
    assert users(site)["viewer1"]["disabled"] is False


def test_names_and_labels_are_escaped(site: OneConsole) -> None:
    lead = logged_in(site, "lead1")
    answer = post(lead, "/users", "/users", name="<b>x</b>", role="viewer",
                  password="long enough passphrase")
    assert answer.status_code == 400 and "<b>x</b>" not in answer.text
    client = logged_in(site, "viewer1")
    refused = post(client, "/account", "/account/tokens", label='"><script>1</script>')
    assert refused.status_code == 400 and "<script>1</script>" not in refused.text


def test_expiry_still_applies(site: OneConsole) -> None:
    client = logged_in(site, "viewer1")
    site.clock.advance(timedelta(hours=13).total_seconds())
    assert client.get("/account").status_code == 303
