"""Console accounts: local users, their roles, their API tokens, and the login throttle.

The store keeps one document per account (``Store.put_user``/``get_user``/``list_users``):
role, whether it is disabled, the argon2id hash of the password (argon2-cffi's defaults;
rehashed at the next login when those change), created/changed times, and the API tokens as
label plus sha256 (a token is random, 256 bits: a fast digest is enough, and lets a request find
its user without a slow hash per account). Neither a password nor a token is stored, logged or
written to the audit trail in clear. Every change appends one entry to the hash-chained audit
trail under the acting user (subject ``user:NAME``).

Roles are ordered: each includes the rights of those before it (:func:`allows`).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from soc import audit
from soc.ecs import format_ts, parse_ts
from soc.errors import ExitCode, SocError
from soc.stores.base import Store
from soc.web.throttle import LoginThrottle, utc_now

__all__ = ["ROLES", "AccountError", "Accounts", "LoginThrottle", "UnknownUser", "User", "allows",
           "utc_now"]

ROLES = ("viewer", "analyst", "lead")
"""viewer reads; analyst also triages and works incidents; lead also reports, tunes, manages."""
NAME = re.compile(r"[a-z0-9._-]{1,64}")
LABEL = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" is only a way to burn CPU
TOKEN_PREFIX = "soc_"
LAST_USED_EVERY = timedelta(hours=1)
"""A token's ``last_used`` is written at most this often (not one store write per request)."""

_hasher = PasswordHasher()
_decoy: str | None = None  # a hash to verify against for unknown names: same time, no oracle


def allows(role: str, need: str) -> bool:
    """True when ``role`` has the rights of ``need``; False for anything not in :data:`ROLES`."""
    if role not in ROLES or need not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(need)


class AccountError(SocError):
    """A console account cannot be made or changed as asked (bad name, role, password...)."""

    exit_code = ExitCode.USAGE
    default_hint = "See 'soc users --help' and docs/console.md."


class UnknownUser(AccountError):
    exit_code = ExitCode.NOT_FOUND
    default_hint = "List the accounts with 'soc users list'."


@dataclass(frozen=True)
class User:
    """An account as the console sees it: no hash, no tokens."""

    name: str
    role: str
    disabled: bool
    created: str
    changed: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> User:
        return cls(name=str(doc["name"]), role=str(doc["role"]),
                   disabled=bool(doc.get("disabled")), created=str(doc["created"]),
                   changed=str(doc["changed"]))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "disabled": self.disabled,
                "created": self.created, "changed": self.changed}


def user_name(name: str) -> str:
    """``name`` case-folded; AccountError unless it is 1 to 64 of ``a-z 0-9 . _ -``."""
    folded = name.strip().casefold()
    if not NAME.fullmatch(folded):
        raise AccountError(f"{name!r} is not a usable account name",
                           hint="Use 1 to 64 letters a-z, digits, '.', '_' or '-'.")
    return folded


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}", hint=f"Use one of: {', '.join(ROLES)}.")
    return role


def check_password(password: str) -> str:
    """The password if the policy accepts it: :data:`MIN_PASSWORD` characters at least."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short ({len(password)} characters; at least "
                           f"{MIN_PASSWORD} are needed)",
                           hint="Choose a longer one; a few unrelated words make a good one.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long (more than {MAX_PASSWORD} characters)",
                           hint="Choose a shorter one.")
    return password


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _decoy_hash() -> str:
    global _decoy
    if _decoy is None:
        _decoy = _hasher.hash(secrets.token_urlsafe(16))
    return _decoy


class Accounts:
    """The accounts of one store; ``clock`` dates the changes and their audit entries, and
    ``data_dir`` (when given) keeps the audit trail's local head file up to date."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utc_now,
                 data_dir: Path | None = None) -> None:
        self.store = store
        self.clock = clock
        self.data_dir = data_dir

    # reading ---------------------------------------------------------------------------------

    def get(self, name: str) -> User | None:
        """The account ``name`` (any case), or None."""
        doc = self._doc(name)
        return None if doc is None else User.from_doc(doc)

    def list(self) -> builtins.list[User]:
        """Every account, by name."""
        return [User.from_doc(d) for d in self.store.list_users()]

    def tokens(self, name: str) -> builtins.list[dict[str, Any]]:
        """The API tokens of ``name``: label, created, last_used (never their digests)."""
        return [{k: t.get(k) for k in ("label", "created", "last_used")}
                for t in self._existing(name).get("tokens", [])]

    # changes (each audited) ------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, actor: str) -> User:
        """Create an account; AccountError when the name is taken or a value is refused."""
        folded, now = user_name(name), self._now()
        check_role(role)
        check_password(password)
        if self.store.get_user(folded) is not None:
            raise AccountError(f"the account {folded!r} exists already",
                               hint=f"Change it with 'soc users passwd {folded}' or "
                                    f"'soc users role {folded} ROLE'.")
        doc = {"name": folded, "role": role, "disabled": False, "hash": _hasher.hash(password),
               "created": now, "changed": now, "tokens": []}
        self._write(doc, actor, "user.add", None, {"role": role})
        return User.from_doc(doc)

    def passwd(self, name: str, password: str, actor: str) -> None:
        """Set a new password."""
        doc = self._existing(name)
        check_password(password)
        self._write({**doc, "hash": _hasher.hash(password)}, actor, "user.passwd", None, None)

    def set_role(self, name: str, role: str, actor: str) -> None:
        """Give the account another role."""
        doc = self._existing(name)
        check_role(role)
        if role != "lead":
            self._keep_a_lead(doc, "demote")
        self._write({**doc, "role": role}, actor, "user.role", doc["role"], role)

    def disable(self, name: str, actor: str) -> None:
        """Refuse the account's logins and tokens from now on (kept for the audit trail)."""
        doc = self._existing(name)
        self._keep_a_lead(doc, "disable")
        self._write({**doc, "disabled": True}, actor, "user.disable",
                    _state(doc), "disabled")

    def enable(self, name: str, actor: str) -> None:
        """Let a disabled account log in again."""
        doc = self._existing(name)
        self._write({**doc, "disabled": False}, actor, "user.enable", _state(doc), "enabled")

    def issue_token(self, name: str, label: str, actor: str) -> str:
        """A new API token for ``name`` under ``label``: returned once, stored as its sha256."""
        doc = self._existing(name)
        if not LABEL.fullmatch(label):
            raise AccountError(f"{label!r} is not a usable token label",
                               hint="Use 1 to 64 letters, digits, '.', '_' or '-'.")
        if any(t["label"] == label for t in doc.get("tokens", [])):
            raise AccountError(f"{doc['name']} has a token labelled {label!r} already",
                               hint=f"Revoke it first: soc users revoke {doc['name']} "
                                    f"--label {label}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        entry = {"label": label, "sha256": token_digest(token), "created": self._now()}
        self._write({**doc, "tokens": [*doc.get("tokens", []), entry]}, actor, "user.token",
                    None, None, label=label)
        return token

    def revoke_token(self, name: str, label: str, actor: str) -> None:
        """Withdraw the token labelled ``label``."""
        doc = self._existing(name)
        kept = [t for t in doc.get("tokens", []) if t["label"] != label]
        if len(kept) == len(doc.get("tokens", [])):
            raise UnknownUser(f"{doc['name']} has no token labelled {label!r}",
                              hint=f"See its tokens: soc users list --json (labels of "
                                   f"{doc['name']}).")
        self._write({**doc, "tokens": kept}, actor, "user.revoke", None, None, label=label)

    # checking ----------------------------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs and the account is enabled, else None. Always
        costs one argon2 verification, so the time says nothing of whether the name exists."""
        try:
            doc = self._doc(name)
        except AccountError:
            doc = None
        if doc is None or len(password) > MAX_PASSWORD:
            _verify(_decoy_hash(), password[:MAX_PASSWORD])
            return None
        if not _verify(str(doc["hash"]), password) or doc.get("disabled"):
            return None
        if _hasher.check_needs_rehash(str(doc["hash"])) and not self._readonly():
            self.store.put_user(doc["name"], {**doc, "hash": _hasher.hash(password)})
        return User.from_doc(doc)

    def user_for_token(self, token: str) -> User | None:
        """The enabled user holding this API token, else None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = token_digest(token)
        for doc in self.store.list_users():
            for held in doc.get("tokens", []):
                if hmac.compare_digest(str(held.get("sha256", "")), digest):
                    if doc.get("disabled"):
                        return None
                    self._touch(doc, held)
                    return User.from_doc(doc)
        return None

    # internals ---------------------------------------------------------------------------------

    def _now(self) -> str:
        return format_ts(self.clock())

    def _readonly(self) -> bool:
        return bool(getattr(self.store, "readonly", False))

    def _doc(self, name: str) -> dict[str, Any] | None:
        return self.store.get_user(user_name(name))

    def _keep_a_lead(self, doc: dict[str, Any], what: str) -> None:
        """Refuse to take the lead role from the last enabled lead: nobody could manage the
        accounts, sign the reports or tune the rules from the console any more."""
        if doc.get("role") != "lead" or doc.get("disabled"):
            return
        if any(d.get("role") == "lead" and not d.get("disabled") and d["name"] != doc["name"]
               for d in self.store.list_users()):
            return
        raise AccountError(f"cannot {what} {doc['name']}: it is the last enabled lead",
                           hint="Make another account lead first (soc users role NAME lead).")

    def _existing(self, name: str) -> dict[str, Any]:
        doc = self._doc(name)
        if doc is None:
            raise UnknownUser(f"no account {user_name(name)!r}")
        return doc

    def _write(self, doc: dict[str, Any], actor: str, action: str, before: Any, after: Any,
               **extra: Any) -> None:
        """Store the account, then its audit entry (never the hash, never a token)."""
        now = self._now()
        self.store.put_user(doc["name"], {**doc, "changed": now})
        entry = audit.new_entry(actor=actor, action=action, subject=f"user:{doc['name']}",
                                before=before, after=after, **extra)
        audit.write_head(self.data_dir, self.store.append_audit(replace(entry, ts=now)))

    def _touch(self, doc: dict[str, Any], held: dict[str, Any]) -> None:
        """Note when a token was last used, at most every :data:`LAST_USED_EVERY`."""
        if self._readonly():
            return
        now = self.clock()
        last = held.get("last_used")
        if last and now - parse_ts(str(last)) < LAST_USED_EVERY:
            return
        used = format_ts(now)
        tokens = [{**t, "last_used": used} if t is held else t for t in doc["tokens"]]
        self.store.put_user(doc["name"], {**doc, "tokens": tokens})


def _state(doc: dict[str, Any]) -> str:
    return "disabled" if doc.get("disabled") else "enabled"
