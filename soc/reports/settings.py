"""The ``reports:`` section of soc.yml: who reports (the sender block of every form), the
signatory, the place on the date line, a folder of template overrides, and per-system details the
forms ask for that the inventory does not hold (docs/configuration.md, docs/reports.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from soc.config import Config
from soc.errors import ConfigError

ORG_KEYS = ("name", "owner_agency", "address", "phone", "fax", "email", "website", "member_code")
PERSON_KEYS = ("name", "title", "phone", "email")
SIGNATORY_KEYS = ("authority", "title", "name")
SYSTEM_KEYS = ("os", "services", "measures", "public_ips", "domains", "purpose", "isp",
               "security_provider", "level_decision", "approval_status", "approval_decision",
               "security_rules", "expected_approval", "deployment", "expected_deployment",
               "checks", "type")
TOP_KEYS = ("templates", "place", "organization", "contact", "signatory", "systems", "owner",
            "confidential", "number_prefix")


@dataclass(frozen=True)
class ReportSettings:
    """What the forms need beyond the inventory; every text may be empty (shown as such)."""

    organization: Mapping[str, str] = field(default_factory=dict)
    contact: Mapping[str, str] = field(default_factory=dict)
    signatory: Mapping[str, str] = field(default_factory=dict)
    owner: Mapping[str, str] = field(default_factory=dict)  # Mẫu 08 §2: owner, dedicated unit
    systems: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    place: str = ""
    templates: Path | None = None
    confidential: bool = True
    number_prefix: str = "BC"

    def org(self, key: str) -> str:
        return str(self.organization.get(key, ""))

    def system(self, system_id: str) -> Mapping[str, Any]:
        return self.systems.get(system_id, {})


def _mapping(value: Any, what: str, keys: tuple[str, ...], path: Path | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"reports.{what} must be a mapping", path=path,
                          line=getattr(value, "line", None))
    unknown = sorted(set(map(str, value)) - set(keys))
    if unknown:
        raise ConfigError(f"reports.{what}: unknown key(s) {', '.join(unknown)} "
                          f"(allowed: {', '.join(keys)})", path=path,
                          line=getattr(value, "line", None))
    return {str(k): v if isinstance(v, list | bool) else ("" if v is None else str(v))
            for k, v in value.items()}


def load_settings(config: Config) -> ReportSettings:
    """Read ``reports:`` (a missing section gives empty settings: forms mark what is missing)."""
    raw = config.raw.get("reports") or {}
    path = config.path
    section = _mapping(raw, "", TOP_KEYS, path) if raw else {}
    raw_systems = raw.get("systems") or {} if isinstance(raw, dict) else {}
    if not isinstance(raw_systems, dict):
        raise ConfigError("reports.systems must map system ids to details", path=path)
    systems = {str(k): MappingProxyType(_mapping(v, f"systems.{k}", SYSTEM_KEYS, path))
               for k, v in raw_systems.items()}
    base = config.path.parent if config.path else Path.cwd()
    templates = section.get("templates")
    return ReportSettings(
        organization=_mapping(raw.get("organization"), "organization", ORG_KEYS, path),
        contact=_mapping(raw.get("contact"), "contact", PERSON_KEYS, path),
        signatory=_mapping(raw.get("signatory"), "signatory", SIGNATORY_KEYS, path),
        owner=_mapping(raw.get("owner"), "owner",
                       ("name", "decision", "head", "address", "phone", "email", "unit_name",
                        "unit_decision", "unit_head", "unit_address", "unit_phone",
                        "unit_email"), path),
        systems=systems, place=str(section.get("place", "")),
        templates=base / str(templates) if templates else None,
        confidential=bool(raw.get("confidential", True)),
        number_prefix=str(section.get("number_prefix") or "BC"),
    )
