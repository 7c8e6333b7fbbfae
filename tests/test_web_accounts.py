"""Console accounts (soc.web.accounts, ``soc users``) in both real stores (the embedded one;
Elasticsearch when ``$SOC_TEST_ES_URL`` points at a node, as in the contract suite): argon2id
hashes, log-in checks, roles, API tokens kept as digests, every change in the hash-chained audit
trail under its actor, the CLI through a real ``python -m soc`` with the password on standard
input, the login throttle on a fake clock, and a schema-6 store upgraded in place."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import soc.stores.sqlite.schema as sqlite_schema
import soc.web.accounts as accounts_module
from soc import audit
from soc.config import Config, StoreConfig
from soc.errors import ExitCode, StoreError
from soc.stores.base import Store
from soc.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from soc.web.accounts import ROLES, AccountError, Accounts, UnknownUser, User, allows
from soc.web.throttle import CAP, LoginThrottle
from tests.test_store_contract import _ES_RUN, _es_options, _remove_es_test_indices

__all__ = ["_remove_es_test_indices"]  # the contract suite's clean-up of the test cluster

SOC = [sys.executable, "-m", "soc"]
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
OTHER_PASSWORD = "staple tram glacier"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _embedded(tmp_path: Path, readonly: bool = False) -> Store:
    return SQLiteStore.open(Config(path=None, data_dir=tmp_path / "data"), readonly=readonly)


def _elasticsearch(tmp_path: Path, readonly: bool = False) -> Store:
    """The cluster store under the contract suite's per-test prefix (the same on reopen)."""
    url = os.environ.get("SOC_TEST_ES_URL")
    if not url:
        pytest.skip("SOC_TEST_ES_URL is not set: Elasticsearch account tests skipped")
    from soc.stores.es.store import ElasticsearchStore

    test = hashlib.blake2b(str(tmp_path).encode(), digest_size=4).hexdigest()
    # refresh=true: each write refreshed at once (wait_for waits up to a second a write, and
    # every account change is two writes, the account and its audit entry)
    options = {**_es_options(url), "index_prefix": f"{_ES_RUN}{test}-", "refresh": True,
               "replicas": 0}
    return ElasticsearchStore.open(Config(path=None, data_dir=tmp_path / "data",
                                          store=StoreConfig("elasticsearch", options)),
                                   readonly=readonly)


Factory = Callable[..., Store]
FACTORIES: dict[str, Factory] = {"embedded": _embedded, "elasticsearch": _elasticsearch}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Factory:
    return FACTORIES[request.param]


@pytest.fixture
def store(factory: Factory, tmp_path: Path) -> Iterator[Store]:
    with factory(tmp_path) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(store: Store, clock: Clock) -> Accounts:
    return Accounts(store, clock=clock)


# --- roles -----------------------------------------------------------------------------------


def test_each_role_includes_the_rights_of_the_ones_before() -> None:
    assert ROLES == ("viewer", "analyst", "lead")
    granted = {(role, need) for role in ROLES for need in ROLES if allows(role, need)}
    assert granted == {("viewer", "viewer"), ("analyst", "viewer"), ("analyst", "analyst"),
                       ("lead", "viewer"), ("lead", "analyst"), ("lead", "lead")}
    assert not allows("admin", "viewer") and not allows("lead", "admin")
    assert not allows("", "viewer") and not allows("Lead", "viewer")


# --- passwords ---------------------------------------------------------------------------------


def test_an_account_is_kept_with_an_argon2id_hash_and_logs_in_with_its_password(
        accounts: Accounts, store: Store, clock: Clock) -> None:
    user = accounts.add("An.Nguyen", "analyst", PASSWORD, "lead.admin")
    assert user == User("an.nguyen", "analyst", False, "2026-03-02T08:00:00.000Z",
                        "2026-03-02T08:00:00.000Z")
    doc = store.get_user("an.nguyen")
    assert doc is not None and doc["hash"].startswith("$argon2id$")
    assert PASSWORD not in json.dumps(doc)
    assert accounts.authenticate("an.nguyen", PASSWORD) == user
    assert accounts.authenticate("AN.NGUYEN", PASSWORD) == user  # names are case-folded
    assert accounts.get("An.Nguyen") == user
    assert accounts.authenticate("an.nguyen", PASSWORD.upper()) is None
    assert accounts.authenticate("an.nguyen", "") is None
    assert accounts.authenticate("nobody", PASSWORD) is None
    assert accounts.authenticate("not a name!", PASSWORD) is None
    assert accounts.get("nobody") is None


def test_unknown_names_cost_one_hash_verification_as_known_ones_do(
        accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts.add("binh", "viewer", PASSWORD, "lead.admin")

    class Counting(PasswordHasher):
        calls = 0

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            Counting.calls += 1
            return super().verify(hash, password)

    monkeypatch.setattr(accounts_module, "_hasher", Counting())
    for name in ("binh", "nobody", "Not A Name"):
        before = Counting.calls
        assert accounts.authenticate(name, "wrong password here") is None
        assert Counting.calls == before + 1, name


def test_a_disabled_account_cannot_log_in_until_enabled(accounts: Accounts, clock: Clock) -> None:
    accounts.add("chi", "analyst", PASSWORD, "root")
    clock.advance(60)
    accounts.disable("chi", "root")
    assert accounts.authenticate("chi", PASSWORD) is None
    assert accounts.get("chi") == User("chi", "analyst", True, "2026-03-02T08:00:00.000Z",
                                       "2026-03-02T08:01:00.000Z")
    accounts.enable("chi", "root")
    assert accounts.authenticate("chi", PASSWORD) is not None


def test_a_new_password_replaces_the_old_one_and_a_role_changes(
        accounts: Accounts, clock: Clock) -> None:
    accounts.add("dung", "viewer", PASSWORD, "root")
    clock.advance(3600)
    accounts.passwd("DUNG", OTHER_PASSWORD, "root")
    assert accounts.authenticate("dung", PASSWORD) is None
    assert accounts.authenticate("dung", OTHER_PASSWORD) is not None
    accounts.set_role("dung", "analyst", "root")
    assert accounts.list() == [User("dung", "analyst", False, "2026-03-02T08:00:00.000Z",
                                    "2026-03-02T09:00:00.000Z")]


def test_refused_names_roles_passwords_and_a_taken_name(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match=r"too short \(11 characters; at least 12") as short:
        accounts.add("em", "viewer", "x" * 11, "root")
    assert short.value.exit_code == ExitCode.USAGE and short.value.hint
    with pytest.raises(AccountError, match="too long"):
        accounts.add("em", "viewer", "x" * 1025, "root")
    with pytest.raises(AccountError, match="not a usable account name"):
        accounts.add("em gia", "viewer", PASSWORD, "root")
    with pytest.raises(AccountError, match="not a usable account name"):
        accounts.add("e" * 65, "viewer", PASSWORD, "root")
    with pytest.raises(AccountError, match="unknown role 'admin'"):
        accounts.add("em", "admin", PASSWORD, "root")
    accounts.add("em", "viewer", PASSWORD, "root")
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("EM", "lead", OTHER_PASSWORD, "root")
    with pytest.raises(UnknownUser, match="no account 'ghost'") as unknown:
        accounts.passwd("ghost", PASSWORD, "root")
    assert unknown.value.exit_code == ExitCode.NOT_FOUND
    assert accounts.list() == [accounts.get("em")]


def test_a_hash_of_weaker_parameters_is_replaced_at_the_next_login(
        accounts: Accounts, store: Store) -> None:
    accounts.add("giang", "viewer", PASSWORD, "root")
    doc = store.get_user("giang")
    assert doc is not None
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    store.put_user("giang", {**doc, "hash": weak})
    assert accounts.authenticate("giang", "wrong password here") is None
    assert store.get_user("giang") == {**doc, "hash": weak}  # a failure rehashes nothing
    assert accounts.authenticate("giang", PASSWORD) is not None
    rehashed = store.get_user("giang")
    assert rehashed is not None and rehashed["hash"] != weak
    assert not PasswordHasher().check_needs_rehash(rehashed["hash"])
    assert accounts.authenticate("giang", PASSWORD) is not None


# --- tokens ------------------------------------------------------------------------------------


def test_an_api_token_names_its_user_until_revoked(accounts: Accounts, store: Store,
                                                   clock: Clock) -> None:
    accounts.add("hoa", "analyst", PASSWORD, "root")
    token = accounts.issue_token("hoa", "ci-script", "root")
    assert token.startswith("soc_") and len(token) > 40
    assert accounts.user_for_token(token) == accounts.get("hoa")
    assert accounts.user_for_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert accounts.user_for_token("") is None
    assert accounts.user_for_token(token[4:]) is None
    doc = store.get_user("hoa")
    assert doc is not None and token not in json.dumps(doc)
    assert doc["tokens"][0]["sha256"] == hashlib.sha256(token.encode()).hexdigest()
    with pytest.raises(AccountError, match="has a token labelled 'ci-script' already"):
        accounts.issue_token("hoa", "ci-script", "root")
    with pytest.raises(AccountError, match="not a usable token label"):
        accounts.issue_token("hoa", "two words", "root")
    second = accounts.issue_token("hoa", "report-bot", "root")
    accounts.disable("hoa", "root")
    assert accounts.user_for_token(token) is None  # a disabled account's tokens stop too
    accounts.enable("hoa", "root")
    accounts.revoke_token("hoa", "ci-script", "root")
    assert accounts.user_for_token(token) is None
    assert accounts.user_for_token(second) == accounts.get("hoa")
    with pytest.raises(UnknownUser, match="has no token labelled 'ci-script'"):
        accounts.revoke_token("hoa", "ci-script", "root")
    assert [t["label"] for t in accounts.tokens("hoa")] == ["report-bot"]


def test_a_token_notes_when_it_was_last_used_at_most_hourly(accounts: Accounts,
                                                           clock: Clock) -> None:
    accounts.add("khanh", "viewer", PASSWORD, "root")
    token = accounts.issue_token("khanh", "bot", "root")
    assert accounts.tokens("khanh") == [{"label": "bot", "created": "2026-03-02T08:00:00.000Z",
                                         "last_used": None}]
    clock.advance(60)
    accounts.user_for_token(token)
    clock.advance(600)
    accounts.user_for_token(token)  # within the hour: not written again
    assert accounts.tokens("khanh")[0]["last_used"] == "2026-03-02T08:01:00.000Z"
    clock.advance(3600)
    accounts.user_for_token(token)
    assert accounts.tokens("khanh")[0]["last_used"] == "2026-03-02T09:11:00.000Z"


def test_neither_password_nor_token_is_at_rest_in_the_store_file(tmp_path: Path) -> None:
    with _embedded(tmp_path) as opened:
        accounts = Accounts(opened, clock=Clock())
        accounts.add("lan", "lead", PASSWORD, "root")
        accounts.passwd("lan", OTHER_PASSWORD, "root")
        token = accounts.issue_token("lan", "ci", "root")
        assert accounts.user_for_token(token) is not None
    files = sorted((tmp_path / "data").rglob("*"))
    assert (tmp_path / "data" / "store.db") in files
    raw = b"".join(f.read_bytes() for f in files if f.is_file())
    for secret in (PASSWORD, OTHER_PASSWORD, token, token[4:]):
        assert secret.encode() not in raw
    assert b"$argon2id$" in raw  # the hash is there: the file read is the right one
    assert hashlib.sha256(token.encode()).hexdigest().encode() in raw


# --- audit ---------------------------------------------------------------------------------------


def test_every_change_is_audited_under_its_actor_and_the_chain_verifies(
        store: Store, clock: Clock, tmp_path: Path) -> None:
    accounts = Accounts(store, clock=clock, data_dir=tmp_path)
    accounts.add("minh", "viewer", PASSWORD, "lead.one")
    clock.advance(1)
    accounts.passwd("minh", OTHER_PASSWORD, "lead.two")
    accounts.set_role("minh", "analyst", "lead.one")
    accounts.disable("minh", "lead.one")
    accounts.enable("minh", "lead.one")
    token = accounts.issue_token("minh", "ci", "lead.two")
    accounts.revoke_token("minh", "ci", "lead.two")
    accounts.authenticate("minh", OTHER_PASSWORD)  # a login is no change: not audited
    trail = store.audit_trail("user:minh")
    assert [(e.actor, e.action, e.details["before"], e.details["after"]) for e in trail] == [
        ("lead.one", "user.add", None, {"role": "viewer"}),
        ("lead.two", "user.passwd", None, None),
        ("lead.one", "user.role", "viewer", "analyst"),
        ("lead.one", "user.disable", "enabled", "disabled"),
        ("lead.one", "user.enable", "disabled", "enabled"),
        ("lead.two", "user.token", None, None),
        ("lead.two", "user.revoke", None, None)]
    assert [e.details.get("label") for e in trail][-2:] == ["ci", "ci"]
    assert [e.ts for e in trail][:2] == ["2026-03-02T08:00:00.000Z", "2026-03-02T08:00:01.000Z"]
    text = json.dumps([e.to_dict() for e in trail])
    for secret in (PASSWORD, OTHER_PASSWORD, token, "$argon2", "sha256\": \"" + token):
        assert secret not in text
    result = audit.verify_store(store, tmp_path)
    assert result.ok, result.problems
    assert result.entries == 7 and result.counts == {"user": 7}
    head = audit.read_head(tmp_path)
    assert head is not None and head.seq == 7  # the local head follows the trail


def test_a_read_only_store_lists_and_checks_but_changes_nothing(
        factory: Factory, tmp_path: Path) -> None:
    with factory(tmp_path) as writer:
        Accounts(writer, clock=Clock()).add("nam", "lead", PASSWORD, "root")
        doc = writer.get_user("nam")
        assert doc is not None
        weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
        writer.put_user("nam", {**doc, "hash": weak})
    with factory(tmp_path, readonly=True) as reader:
        accounts = Accounts(reader, clock=Clock())
        assert [u.name for u in accounts.list()] == ["nam"]
        assert accounts.authenticate("nam", PASSWORD) is not None  # no rehash written
        assert reader.get_user("nam") == {**doc, "hash": weak}
        with pytest.raises(StoreError, match="read-only"):
            accounts.add("oanh", "viewer", PASSWORD, "root")


# --- the CLI -------------------------------------------------------------------------------------


def _soc(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "soc.yml"
    if not config.exists():
        config.write_text("data_dir: data\n", encoding="utf-8")
    env = {**os.environ, "SOC_ACTOR": "lead.admin"}
    return subprocess.run([*SOC, "-c", str(config), "users", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_soc_users_with_the_password_on_standard_input(tmp_path: Path) -> None:
    added = _soc(tmp_path, "add", "Phuong", "--role", "analyst", stdin=PASSWORD + "\n")
    assert (added.returncode, added.stdout, added.stderr) == (0, "", "Added phuong (analyst).\n")
    short = _soc(tmp_path, "add", "quang", "--role", "viewer", stdin="short\r\n")
    assert short.returncode == ExitCode.USAGE
    assert short.stderr == ("Error: the password is too short (5 characters; at least 12 are "
                            "needed)\nHint: Choose a longer one; a few unrelated words make a "
                            "good one.\n")
    empty = _soc(tmp_path, "passwd", "phuong")
    assert empty.returncode == ExitCode.USAGE and "no password on standard input" in empty.stderr
    assert _soc(tmp_path, "passwd", "phuong", "--actor", "lead.two",
                stdin=OTHER_PASSWORD + "\n").returncode == 0
    assert _soc(tmp_path, "role", "phuong", "lead").returncode == 0
    token = _soc(tmp_path, "token", "phuong", "--label", "ci")
    assert token.returncode == 0 and token.stdout.startswith("soc_")
    assert "shown once" in token.stderr
    listed = _soc(tmp_path, "list", "--format", "json")
    [row] = json.loads(listed.stdout)
    assert sorted(row) == ["changed", "created", "disabled", "name", "role", "tokens"]
    assert (row["name"], row["role"], row["disabled"]) == ("phuong", "lead", False)
    assert [sorted(t) for t in row["tokens"]] == [["created", "label", "last_used"]]
    assert row["tokens"][0]["label"] == "ci"
    assert "argon2" not in listed.stdout and token.stdout.strip() not in listed.stdout
    missing = _soc(tmp_path, "disable", "ghost")
    assert missing.returncode == ExitCode.NOT_FOUND
    assert missing.stderr.startswith("Error: no account 'ghost'\nHint: List the accounts")
    assert _soc(tmp_path, "revoke", "phuong", "--label", "ci").returncode == 0
    last = _soc(tmp_path, "disable", "phuong")  # the only lead: nobody could manage accounts
    assert last.returncode == ExitCode.USAGE and "last enabled lead" in last.stderr
    assert _soc(tmp_path, "add", "an", "--role", "lead", stdin=PASSWORD + "\n").returncode == 0
    assert _soc(tmp_path, "disable", "phuong").returncode == 0
    table = _soc(tmp_path, "list")
    assert table.stdout.splitlines()[0].split() == ["NAME", "ROLE", "DISABLED", "CREATED",
                                                    "CHANGED", "TOKENS"]
    assert table.stdout.splitlines()[2].split()[:3] == ["phuong", "lead", "True"]
    with SQLiteStore.open(Config(path=None, data_dir=tmp_path / "data"), readonly=True) as st:
        accounts = Accounts(st)
        assert accounts.authenticate("phuong", OTHER_PASSWORD) is None  # disabled
        assert accounts.user_for_token(token.stdout.strip()) is None  # revoked
        trail = st.audit_trail()
        assert [(e.actor, e.action) for e in trail] == [
            ("lead.admin", "user.add"), ("lead.two", "user.passwd"), ("lead.admin", "user.role"),
            ("lead.admin", "user.token"), ("lead.admin", "user.revoke"),
            ("lead.admin", "user.add"), ("lead.admin", "user.disable")]
        assert audit.verify_store(st, tmp_path / "data").ok


# --- the login throttle ------------------------------------------------------------------------


def test_five_failures_are_free_then_the_wait_doubles_up_to_its_cap(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for _ in range(5):
        assert throttle.wait("an", "10.0.0.1") == 0.0
        throttle.failed("an", "10.0.0.1")
    assert throttle.wait("an", "10.0.0.1") == 1.0
    clock.advance(0.25)
    assert throttle.wait("an", "10.0.0.1") == 0.75
    waits = []
    for _ in range(14):
        clock.advance(throttle.wait("an", "10.0.0.1"))
        assert throttle.wait("an", "10.0.0.1") == 0.0
        throttle.failed("an", "10.0.0.1")
        waits.append(throttle.wait("an", "10.0.0.1"))
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, CAP, CAP, CAP, CAP,
                     CAP]
    assert CAP == 900.0


def test_the_name_and_the_address_count_apart(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for i in range(5):  # one address guessing five names
        throttle.failed(f"user{i}", "198.51.100.7")
    assert throttle.wait("someone-else", "198.51.100.7") == 1.0
    assert throttle.wait("someone-else", "198.51.100.8") == 0.0
    for i in range(5):  # five addresses guessing one name, in any case
        throttle.failed("Binh" if i % 2 else "binh", f"203.0.113.{i}")
    assert throttle.wait("BINH", "203.0.113.200") == 1.0
    throttle.succeeded("binh", "203.0.113.200")
    assert throttle.wait("binh", "203.0.113.1") == 0.0
    assert throttle.wait("user0", "198.51.100.7") == 1.0  # another address's count stays
    throttle.succeeded("user0", "198.51.100.7")
    assert throttle.wait("user1", "198.51.100.7") == 0.0


def test_counts_are_forgotten_after_a_quiet_day_and_memory_is_bounded(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for _ in range(7):
        throttle.failed("chi", "10.0.0.9")
    assert throttle.wait("chi", "10.0.0.9") == 4.0
    clock.advance(24 * 3600)
    assert throttle.wait("chi", "10.0.0.9") == 0.0
    throttle.failed("chi", "10.0.0.9")
    assert throttle.wait("chi", "10.0.0.9") == 0.0  # counting started over
    for i in range(6_000):  # 12,000 keys: names and addresses
        throttle.failed(f"n{i}", f"a{i}")
    assert len(throttle) == 10_000
    for _ in range(4):
        throttle.failed("n5999", "a5999")
    assert throttle.wait("n5999", "a5999") == 1.0  # the newest keys are the ones kept


# --- the schema ----------------------------------------------------------------------------------


def test_a_version_6_store_file_gets_the_accounts_table_in_place(tmp_path: Path) -> None:
    path = tmp_path / "data" / "store.db"
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    for migration in sqlite_schema.MIGRATIONS[:6]:
        migration(db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '6')")
    db.execute("INSERT INTO incidents(id, opened, status, doc) VALUES "
               "('INC-1', '2026-03-01T08:00:00.000Z', 'open', '{\"id\": \"INC-1\"}')")
    db.close()
    with pytest.raises(StoreError, match=r"has schema version 6; this soc needs 8$"):
        SQLiteStore.open_path(path, readonly=True)
    with _embedded(tmp_path) as upgraded:
        assert upgraded.stats()["schema_version"] == SCHEMA_VERSION == 8
        assert upgraded.get_incident("INC-1") == {"id": "INC-1"}
        assert upgraded.list_users() == []
        Accounts(upgraded, clock=Clock()).add("quynh", "lead", PASSWORD, "root")
    with _embedded(tmp_path, readonly=True) as reader:
        assert Accounts(reader).authenticate("quynh", PASSWORD) is not None
    with sqlite3.connect(path) as check:
        columns = check.execute("PRAGMA table_info(users)").fetchall()
    assert [(c[1], c[2], c[3], c[5]) for c in columns] == [("name", "TEXT", 0, 1),
                                                           ("doc", "TEXT", 1, 0)]

