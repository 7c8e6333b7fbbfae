"""Regulatory profiles: who must be told, within how long, with which form (data, not code).

A profile is a YAML file under ``playbooks/profiles/`` (``legacy-mic-2017``, ``mps-2026``); the
config's ``profile`` key picks the active one. Recipients are roles; the people who hold a role
are the contacts of the config's inventory (``inventory.units[].contacts[].role``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from soc.config import Config, Contact, load_yaml
from soc.errors import ConfigError, NotFoundError
from soc.response.playbooks import PLAYBOOK_DIR, Text, format_duration
from soc.timeutil import parse_duration

PROFILE_DIR = PLAYBOOK_DIR / "profiles"
CONDITIONS = ("always", "ordinary", "serious", "beyond_capability", "national_security",
              "personal_data")
FLAGS = ("beyond_capability", "national_security", "personal_data")
AFTER = ("t0", "condition", "end")
_DUTY_KEYS = {"id", "title", "form", "template", "basis", "when", "sender", "to", "due",
              "subject_prefix", "repeat"}


@dataclass(frozen=True)
class Duty:
    """One reporting duty: a report kind, when it applies, to whom, by when."""

    id: str
    title: Text
    when: tuple[str, ...]
    to: tuple[str, ...]
    sender: str = "operator"
    form: str = ""
    template: str | None = None
    basis: str = ""
    after: str = "t0"  # t0 (detection), condition (when it started to apply), end (of response)
    within: timedelta | None = None  # None: no legal deadline
    subject_prefix: str = ""
    repeat: bool = False

    def applies(self, classification: str, flags: Iterable[str]) -> bool:
        """Whether the duty applies to an incident of this classification with these flags."""
        have = {"always", classification, *flags}
        return any(c in have for c in self.when)

    def deadline(self, t0: datetime, since: datetime | None,
                 ended: datetime | None) -> datetime | None:
        """The deadline, given T0, when the condition began to hold, and the end of response."""
        if self.within is None:
            return None
        start = {"t0": t0, "condition": since or t0, "end": ended}[self.after]
        return start + self.within if start is not None else None

    def to_dict(self) -> dict[str, Any]:
        due: dict[str, str] = {"after": self.after}
        if self.within is not None:
            due["within"] = format_duration(self.within)
        return {"id": self.id, "title": self.title.to_dict(), "form": self.form,
                "template": self.template, "basis": self.basis, "when": list(self.when),
                "sender": self.sender, "to": list(self.to), "due": due,
                "subject_prefix": self.subject_prefix, "repeat": self.repeat}


@dataclass(frozen=True)
class Profile:
    id: str
    title: Text
    basis: tuple[str, ...]
    roles: Mapping[str, Text]
    duties: tuple[Duty, ...]
    path: str | None = field(default=None, compare=False)

    def duty(self, kind: str) -> Duty | None:
        for d in self.duties:
            if d.id == kind:
                return d
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, "id": self.id, "title": self.title.to_dict(),
                "basis": list(self.basis),
                "roles": {k: v.to_dict() for k, v in self.roles.items()},
                "reports": [d.to_dict() for d in self.duties]}


def _fail(message: str, path: Path, node: Any, key: str | None = None) -> ConfigError:
    line = getattr(node, "key_lines", {}).get(key) if key else None
    return ConfigError(f"profile: {message}", path=path, line=line or getattr(node, "line", None))


def _text(value: Any, path: Path, node: Any, key: str) -> Text:
    if not isinstance(value, dict) or not {"vi", "en"} <= set(value):
        raise _fail(f"'{key}' must have 'vi' and 'en'", path, node, key)
    extra = sorted(str(k) for k in value if k not in ("vi", "en"))
    if extra:  # an unquoted comma in a flow mapping makes a stray key of the text after it
        raise _fail(f"'{key}' has unknown key(s) {', '.join(extra)}: quote a text that holds a "
                    "comma", path, node, key)
    return Text.from_dict(value)


def _duty(d: Any, path: Path, roles: Mapping[str, Text]) -> Duty:
    if not isinstance(d, dict) or "id" not in d:
        raise _fail("each report needs an 'id'", path, d)
    for key in d:
        if key not in _DUTY_KEYS:
            raise _fail(f"report {d['id']}: unknown key '{key}'", path, d, str(key))
    when = tuple(d.get("when", "always") if isinstance(d.get("when"), list)
                 else [d.get("when", "always")])
    for c in when:
        if c not in CONDITIONS:
            raise _fail(f"report {d['id']}: 'when' must be among {', '.join(CONDITIONS)}",
                        path, d, "when")
    to = tuple(d.get("to") or ())
    for role in (*to, d.get("sender", "operator")):
        if role not in roles:
            raise _fail(f"report {d['id']}: role {role!r} is not in the profile's roles",
                        path, d, "to")
    due = d.get("due") or {}
    if due.get("after", "t0") not in AFTER:
        raise _fail(f"report {d['id']}: due.after must be t0, condition or end", path, due)
    try:
        within = parse_duration(due["within"]) if "within" in due else None
    except ValueError as exc:
        raise _fail(f"report {d['id']}: {exc}", path, due, "within") from None
    return Duty(id=str(d["id"]), title=_text(d.get("title"), path, d, "title"), when=when, to=to,
                sender=str(d.get("sender", "operator")), form=str(d.get("form", "")),
                template=d.get("template"), basis=str(d.get("basis", "")),
                after=str(due.get("after", "t0")), within=within,
                subject_prefix=str(d.get("subject_prefix", "")), repeat=bool(d.get("repeat")))


def load_profile_file(path: Path) -> Profile:
    """Load one profile file; errors name the file and line."""
    data = load_yaml(path)
    if not isinstance(data, dict) or data.get("format") != 1 or "id" not in data:
        raise _fail("must be a mapping with 'format: 1' and an 'id'", path, data)
    roles_raw = data.get("roles") or {}
    roles = {str(k): _text(v, path, roles_raw, str(k)) for k, v in roles_raw.items()}
    duties = tuple(_duty(d, path, roles) for d in data.get("reports") or ())
    ids = [d.id for d in duties]
    if len(ids) != len(set(ids)):
        raise _fail("report ids must be unique", path, data, "reports")
    return Profile(id=str(data["id"]), title=_text(data.get("title"), path, data, "title"),
                   basis=tuple(data.get("basis") or ()), roles=MappingProxyType(roles),
                   duties=duties, path=str(path))


def profile_files(directory: Path = PROFILE_DIR) -> list[Path]:
    return sorted(directory.glob("*.yml"))


def load_profile(name: str | Path) -> Profile:
    """A profile by id (``mps-2026``) from ``playbooks/profiles/``, or by path."""
    path = Path(name)
    if not path.suffix:
        path = PROFILE_DIR / f"{name}.yml"
    if not path.is_file():
        known = ", ".join(p.stem for p in profile_files()) or "none"
        raise NotFoundError(f"no regulatory profile {str(name)!r} (known: {known})",
                            hint="Set 'profile:' in soc.yml to one of them.")
    return load_profile_file(path)


def active_profile(config: Config) -> Profile:
    """The profile the config picks (``profile:``; a path to a custom file also works)."""
    return load_profile(config.profile)


def report_kinds() -> set[str]:
    """Every report kind of every shipped profile (what playbooks may name)."""
    return {d.id for f in profile_files() for d in load_profile_file(f).duties}


@dataclass(frozen=True)
class Recipient:
    """A role and the contacts configured for it (none: the role is not configured)."""

    role: str
    label: Text | None
    contacts: tuple[Contact, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "label": str(self.label) if self.label else self.role,
                "contacts": [c.to_dict() for c in self.contacts]}


def resolve(config: Config, roles: Iterable[str], units: Iterable[str] = (),
            profile: Profile | None = None) -> list[Recipient]:
    """Contacts for roles: those of the affected units first, else any unit's."""
    unit_ids = list(units)
    out = []
    for role in roles:
        own = [c for u in config.units if u.id in unit_ids for c in u.contacts if c.role == role]
        anywhere = [c for u in config.units for c in u.contacts if c.role == role]
        label = profile.roles.get(role) if profile else None
        out.append(Recipient(role, label, tuple(own or anywhere)))
    return out
