"""The tuning the CLI writes: ``<data_dir>/tuning.yml``, merged after soc.yml's ``rules.tuning``.

soc.yml is written by hand, with comments; the CLI never rewrites it. ``soc rules disable``,
``enable``, ``except`` and ``unexcept`` change this file instead, under a lock, atomically (a
temporary file, fsync, rename), and append one audit entry per change: who (``--actor``,
``$SOC_ACTOR``, the OS user), the reason and the expiry. The file has the shape of
``rules.tuning`` (without ``min_level``, which only soc.yml sets), so an entry can be moved into
soc.yml as it is.

Precedence (:meth:`soc.tuning.Tuning.merged`): the entries of both apply. soc.yml comes first: a
rule disabled in both, or an exception both hold, is shown with soc.yml's entry, and the CLI
cannot enable a rule or remove an exception that soc.yml holds (it says where to edit).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from soc import audit
from soc.config import Config, load_yaml, parse_tuning
from soc.ecs import format_ts
from soc.errors import InputError, NotFoundError
from soc.fsutil import fsync_dir
from soc.stores.base import Store
from soc.tuning import Condition, DisabledRule, Entry, RuleException, Tuning, expiry

TUNING_FILE = "tuning.yml"
LOCK_FILE = "tuning.lock"
HEADER = """\
# Written by 'soc rules disable|enable|except|unexcept' (every change is in the audit trail).
# Merged after rules.tuning of soc.yml; do not edit by hand while soc runs: edit soc.yml instead.
"""


def tuning_path(config: Config) -> Path:
    return config.data_dir / TUNING_FILE


def local_tuning(config: Config) -> Tuning:
    """The tuning file's tuning (empty when there is none)."""
    path = tuning_path(config)
    if not path.exists():
        return Tuning()
    return parse_tuning(load_yaml(path), path, config.timezone, what="tuning file",
                        min_level=False)


def effective_tuning(config: Config) -> Tuning:
    """The tuning in use: soc.yml's ``rules.tuning``, then the tuning file."""
    return config.rules.tuning.merged(local_tuning(config))


# --- changes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """Who changes the tuning, why, until when, and at what time (the clock, for tests)."""

    actor: str
    reason: str = ""
    expires: str | None = None
    now: datetime | None = None

    def at(self) -> datetime:
        return self.now or datetime.now(UTC)

    def entry(self, config: Config) -> dict[str, Any]:
        """The common fields of a new entry (ValueError: a bad or past expiry)."""
        out: dict[str, Any] = {"reason": self.reason, "author": self.actor,
                               "added": format_ts(self.at())}
        if self.expires:
            try:
                out["expires"], out["ends"] = expiry(self.expires, config.tz)
            except ValueError as exc:
                raise InputError(f"--expires: {exc}") from None
            if out["ends"] <= self.at():
                raise InputError(f"--expires {self.expires} is already past",
                                 hint="Give a later date, e.g. --expires 2027-03-01.")
        return out


def _need_reason(change: Change, what: str) -> None:
    if not change.reason.strip():
        raise InputError(f"a reason is needed to {what}",
                         hint="Say why: --reason 'duplicate of our own rule', "
                              "--reason 'our vulnerability scanner'.")


def disable(config: Config, store: Store, rule_id: str, change: Change) -> DisabledRule:
    """Disable a rule (or correlation); disabling it again changes its reason and expiry."""
    _need_reason(change, "disable a rule")
    new = DisabledRule(rule=rule_id, origin=TUNING_FILE, **change.entry(config))
    held = _held_in_config(config, rule_id)
    if held is not None:
        raise InputError(f"rule {rule_id} is disabled in {held.origin}",
                         hint="Change its entry there (the CLI never rewrites soc.yml).")
    with _locked(config) as current:
        before = next((d for d in current.disabled if d.rule == rule_id), None)
        kept = [d for d in current.disabled if d.rule != rule_id]
        after = replace(current, disabled=(*kept, new))
        _commit(config, store, after, change, "tuning.disable", rule_id,
                before.to_dict() if before else None, new.to_dict())
    return new


def enable(config: Config, store: Store, rule_id: str, change: Change) -> DisabledRule:
    """Run a disabled rule again (the tuning file's entry is removed)."""
    held = _held_in_config(config, rule_id)
    if held is not None:
        raise InputError(f"rule {rule_id} is disabled in {held.origin}",
                         hint="Remove its entry there (the CLI never rewrites soc.yml).")
    with _locked(config) as current:
        found = next((d for d in current.disabled if d.rule == rule_id), None)
        if found is None:
            raise NotFoundError(f"rule {rule_id} is not disabled",
                                hint="List the tuning with 'soc rules tuning'.")
        after = replace(current, disabled=tuple(d for d in current.disabled if d is not found))
        _commit(config, store, after, change, "tuning.enable", rule_id, found.to_dict(), None)
    return found


def add_exception(config: Config, store: Store, rule_id: str | None, where: Sequence[str],
                  change: Change) -> RuleException:
    """Add an exception for one rule (``rule_id``) or every rule (None)."""
    _need_reason(change, "add an exception")
    new = RuleException(where=parse_where(where), rule=rule_id, origin=TUNING_FILE,
                        **change.entry(config))
    with _locked(config) as current:
        same = next((e for e in config.rules.tuning.merged(current).exceptions
                     if e.id == new.id), None)
        if same is not None:
            raise InputError(f"exception {new.id} exists already ({same.origin}: "
                             f"{same.reason or 'no reason'})",
                             hint=f"Remove it first with 'soc rules unexcept {new.id}' to "
                                  "change its reason or expiry.")
        after = replace(current, exceptions=(*current.exceptions, new))
        _commit(config, store, after, change, "tuning.except", rule_id or "global", None,
                new.to_dict())
    return new


def remove_exception(config: Config, store: Store, exception_id: str,
                     change: Change) -> RuleException:
    """Remove an exception of the tuning file by its id."""
    held = next((e for e in config.rules.tuning.exceptions if e.id == exception_id), None)
    if held is not None:
        raise InputError(f"exception {exception_id} is in {held.origin}",
                         hint="Remove it there (the CLI never rewrites soc.yml).")
    with _locked(config) as current:
        found = next((e for e in current.exceptions if e.id == exception_id), None)
        if found is None:
            raise NotFoundError(f"no exception {exception_id!r}",
                                hint="List them with 'soc rules tuning'.")
        after = replace(current, exceptions=tuple(e for e in current.exceptions
                                                  if e is not found))
        _commit(config, store, after, change, "tuning.unexcept", found.rule or "global",
                found.to_dict(), None)
    return found


def parse_where(items: Sequence[str]) -> tuple[Condition, ...]:
    """``FIELD=VALUE`` items as conditions; a field given twice takes either value."""
    values: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value:
            raise InputError(f"--where {item!r} is not FIELD=VALUE",
                             hint="E.g. --where source.ip=10.0.5.20 --where 'user.name=svc_*'.")
        values.setdefault(name.strip(), []).append(value)
    if not values:
        raise InputError("an exception needs a condition",
                         hint="Give --where FIELD=VALUE (repeatable).")
    try:
        return tuple(Condition(name, tuple(v)) for name, v in values.items())
    except ValueError as exc:
        raise InputError(f"--where: {exc}") from None


def _held_in_config(config: Config, rule_id: str) -> DisabledRule | None:
    return next((d for d in config.rules.tuning.disabled if d.rule == rule_id), None)


# --- the file ------------------------------------------------------------------------------------


@contextmanager
def _locked(config: Config) -> Iterator[Tuning]:
    """The tuning file's tuning, read under an exclusive lock held until the change is written."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with open(config.data_dir / LOCK_FILE, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield local_tuning(config)


def _commit(config: Config, store: Store, tuning: Tuning, change: Change, action: str,
            subject: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """Write the new file beside the old one, append the audit entry, then put the file in
    place: a change is never in force without its entry (if the store fails, nothing changed)."""
    path = tuning_path(config)
    tmp = path.with_name(path.name + ".tmp")
    text = HEADER + yaml.safe_dump(_file_dict(tuning), sort_keys=False, allow_unicode=True,
                                   default_flow_style=False, width=100)
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        audit.record(store, actor=change.actor, action=action, subject=subject, before=before,
                     after=after, data_dir=config.data_dir, reason=change.reason or None,
                     expires=(after or {}).get("expires"))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _file_dict(tuning: Tuning) -> dict[str, Any]:
    out = tuning.to_dict()
    out.pop("min_level", None)
    return out


# --- listing -------------------------------------------------------------------------------------


def rows(tuning: Tuning, now: datetime) -> list[dict[str, Any]]:
    """The tuning as table rows: the minimum level, each disabled rule and exception, with its
    state at ``now`` (in force or expired) and where it is written."""
    out: list[dict[str, Any]] = []
    if tuning.min_level is not None:
        out.append({"kind": "min_level", "id": "", "rule": "", "where": tuning.min_level.value,
                    "state": "in force", "reason": "", "expires": None, "author": "",
                    "source": "soc.yml"})
    for d in tuning.disabled:
        out.append(_row(d, "disabled", "", d.rule, "", now))
    for e in tuning.exceptions:
        out.append(_row(e, "exception", e.id, e.rule or "(all rules)", e.condition_text(), now))
    return out


def _row(entry: Entry, kind: str, ident: str, rule: str, where: str,
         now: datetime) -> dict[str, Any]:
    return {"kind": kind, "id": ident, "rule": rule, "where": where,
            "state": "expired" if entry.expired(now) else "in force", "reason": entry.reason,
            "expires": entry.expires, "author": entry.author, "source": entry.origin}
