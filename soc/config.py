"""soc.yml → frozen dataclasses: store, inventory of units and systems, sources, retention.

Errors name the file and line. Secrets are written ``{$env: NAME}`` or ``{$file: path}`` and stay
:class:`Secret` objects that never print their value.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from soc.errors import ConfigError
from soc.models import Severity
from soc.timeutil import parse_duration
from soc.tuning import Condition, DisabledRule, RuleException, Tuning, expiry

DEFAULT_RETENTION_DAYS: Mapping[int, int] = MappingProxyType({1: 30, 2: 35, 3: 100, 4: 190, 5: 400})
"""Days online per security level (REGULATIONS.md: TT 03/2017 minimums plus a margin)."""
UNKNOWN_LEVEL_RETENTION_DAYS = 100
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
CONFIG_ENV = "SOC_CONFIG"
DEFAULT_CONFIG_NAME = "soc.yml"


# --- YAML with line numbers -------------------------------------------------------------------


class _Node(dict[str, Any]):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """Line-aware mappings; the pure-Python scanner, whose error marks are the precise ones."""


class _FastLineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same with libyaml's scanner (about 10x faster), used first."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Node:
    loader.flatten_mapping(node)
    out = _Node()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[str(key)] = key_node.start_mark.line + 1
    return out


class _Seq(list[Any]):
    """A list that remembers the line of each item (1-based)."""

    item_lines: list[int]


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


for _loader in (_LineLoader, _FastLineLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path) -> Any:
    """Load a YAML file whose mappings remember their lines; errors carry file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}", path=path,
                          hint="Run 'soc init' to write one.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=path) from exc
    try:
        return yaml.load(text, Loader=_FastLineLoader)
    except yaml.YAMLError:
        pass  # parse again with the Python scanner for the exact place of the error
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", path=path, line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=path) from exc


# --- secrets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A value from the environment or a file, read when needed, never printed."""

    source: str  # "env" or "file"
    ref: str

    def reveal(self) -> str:
        if self.source == "env":
            value = os.environ.get(self.ref)
            if value is None:
                raise ConfigError(
                    f"secret environment variable {self.ref} is not set",
                    hint=f"Export {self.ref} in the environment of the job.",
                )
            return value
        try:
            return Path(self.ref).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {self.ref}: {exc.strerror}") from exc

    def __repr__(self) -> str:
        return f"<secret ${self.source}:{self.ref}>"

    __str__ = __repr__


def _resolve_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        keys = set(value)
        if keys in ({"$env"}, {"$file"}):
            kind = next(iter(keys))
            return Secret(kind[1:], str(value[kind]))
        return {k: _resolve_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v) for v in value]
    return value


def redact(value: Any) -> Any:
    """A plain, printable copy of config data with every secret shown as ``***``."""
    if isinstance(value, Secret):
        return f"*** (${value.source}: {value.ref})"
    if isinstance(value, Mapping):
        return {str(k): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


SECRET_KEYS = frozenset({"password", "token", "secret", "api_key", "key_password",
                         "authorization", "bot_token", "hmac_secret", "webhook_secret"})
"""Option names whose values are secrets even when written in clear in soc.yml."""
_URL_SECRET = re.compile(r"^([a-z][a-z0-9+.-]*://)(?:[^/@]*@)?([^/?#]*)([/?#].+)$", re.I)


def redact_notify(value: Any, key: str = "") -> Any:
    """:func:`redact` of the ``notify:`` section, stricter: values of secret-named options and
    the path and query of URLs (an incoming-webhook URL is its own password) become ``***``."""
    if isinstance(value, Mapping):
        if set(value) in ({"$env"}, {"$file"}):
            kind = next(iter(value))
            return f"*** (${kind[1:]}: {value[kind]})"
        return {str(k): redact_notify(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_notify(v, key) for v in value]
    if isinstance(value, str) and key.lower() in SECRET_KEYS:
        return "***"
    if isinstance(value, str) and key.lower().endswith("url"):
        m = _URL_SECRET.match(value)
        return f"{m.group(1)}{m.group(2)}/***" if m else value
    return redact(value)


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    role: str
    name: str = ""
    email: str = ""
    phone: str = ""
    organization: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Unit:
    """An agency (đơn vị) of the province."""

    id: str
    name: str
    contacts: tuple[Contact, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "contacts": [c.to_dict() for c in self.contacts]}


@dataclass(frozen=True)
class System:
    """An information system (hệ thống thông tin) with its security level (cấp độ 1-5)."""

    id: str
    name: str
    unit: str
    security_level: int
    owner: str = ""
    operator: str = ""
    hostnames: tuple[str, ...] = ()
    addresses: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    expected_sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "unit": self.unit,
            "security_level": self.security_level,
            "owner": self.owner,
            "operator": self.operator,
            "hosts": list(self.hostnames) + [str(a) for a in self.addresses],
            "expected_sources": list(self.expected_sources),
        }


@dataclass(frozen=True)
class Source:
    """A configured log source read by ``soc collect``."""

    name: str
    type: str
    paths: tuple[str, ...] = ()
    parser: str = "auto"
    system: str | None = None
    expected_interval: timedelta | None = None
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    original: bool = True  # keep each record's text as event.original

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "paths": list(self.paths),
            "parser": self.parser,
            "system": self.system,
            "expected_interval": (
                int(self.expected_interval.total_seconds()) if self.expected_interval else None
            ),
            "enabled": self.enabled,
            "original": self.original,
            "options": redact(dict(self.options)),
        }


@dataclass(frozen=True)
class StoreConfig:
    type: str = "embedded"
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class RulesConfig:
    paths: tuple[Path, ...] = ()
    placeholders: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    suppress: timedelta = timedelta(hours=1)  # repeats of a rule+group within it update one alert
    tuning: Tuning = field(default_factory=Tuning)  # rules.tuning (merged with the tuning file)
    device_alerts: bool = True  # alerts devices raised (event.kind: alert) become soc alerts


@dataclass(frozen=True)
class Config:
    """The whole configuration. Relative paths were resolved against the config file's folder."""

    path: Path | None
    data_dir: Path
    timezone: str = DEFAULT_TIMEZONE
    store: StoreConfig = field(default_factory=StoreConfig)
    units: tuple[Unit, ...] = ()
    systems: tuple[System, ...] = ()
    sources: tuple[Source, ...] = ()
    retention: Mapping[int, int] = field(default_factory=lambda: DEFAULT_RETENTION_DAYS)
    retention_unknown: int = UNKNOWN_LEVEL_RETENTION_DAYS
    rules: RulesConfig = field(default_factory=RulesConfig)
    profile: str = "mps-2026"
    data_group: str | None = None  # the group that may read the data directory
    raw: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def source(self, name: str) -> Source:
        for src in self.sources:
            if src.name == name:
                return src
        from soc.errors import NotFoundError

        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise NotFoundError(f"no source named {name!r} (known: {known})",
                            hint="List them with 'soc status'.")

    def system(self, system_id: str) -> System | None:
        for s in self.systems:
            if s.id == system_id:
                return s
        return None

    def unit(self, unit_id: str) -> Unit | None:
        for u in self.units:
            if u.id == unit_id:
                return u
        return None

    def retention_days(self, level: int | None) -> int:
        if level is None or level not in self.retention:
            return self.retention_unknown
        return self.retention[level]

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration, secrets redacted (``soc config show``)."""
        return {
            "config_file": str(self.path) if self.path else None,
            "data_dir": str(self.data_dir),
            "timezone": self.timezone,
            "profile": self.profile,
            "store": {"type": self.store.type, **redact(dict(self.store.options))},
            "inventory": {
                "units": [u.to_dict() for u in self.units],
                "systems": [s.to_dict() for s in self.systems],
            },
            "sources": [s.to_dict() for s in self.sources],
            "retention": {**{str(k): v for k, v in self.retention.items()},
                          "unknown": self.retention_unknown},
            "rules": {
                "paths": [str(p) for p in self.rules.paths],
                "placeholders": {k: list(v) for k, v in self.rules.placeholders.items()},
                "suppress": int(self.rules.suppress.total_seconds()),
                "tuning": self.rules.tuning.to_dict(),
                "device_alerts": self.rules.device_alerts,
            },
            **({"notify": redact_notify(self.raw["notify"])} if self.raw.get("notify") else {}),
            **({"intel": redact_notify(self.raw["intel"])} if self.raw.get("intel") else {}),
        }


# --- building the model from YAML ----------------------------------------------------------------


class _Reader:
    """Reads one YAML mapping with precise errors (file:line of the offending key)."""

    def __init__(self, data: Any, path: Path | None, what: str, line: int | None = None) -> None:
        self.path = path
        self.what = what
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise self.error(f"{what} must be a mapping, not {type(data).__name__}",
                             getattr(data, "line", line))
        self.data: dict[str, Any] = data
        self.line: int | None = getattr(data, "line", None) or line

    def error(self, message: str, line: int | None = None) -> ConfigError:
        return ConfigError(message, path=self.path, line=line if line is not None else self.line)

    def line_of(self, key: str) -> int | None:
        lines = getattr(self.data, "key_lines", None)
        return lines.get(key, self.line) if lines else self.line

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None,
            required: bool = False) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                raise self.error(f"{self.what}: '{key}' is required")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            names = (kind.__name__ if isinstance(kind, type)
                     else " or ".join(k.__name__ for k in kind))
            raise self.error(f"{self.what}: '{key}' must be {names}, not {value!r}",
                             self.line_of(key))
        return value

    def str_list(self, key: str) -> tuple[str, ...]:
        value = self.get(key, (list, str), [])
        items = [value] if isinstance(value, str) else value
        for item in items:
            if not isinstance(item, str | int):
                raise self.error(f"{self.what}: '{key}' must be a list of strings",
                                 self.line_of(key))
        return tuple(str(i) for i in items)

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                close = ", ".join(sorted(allowed))
                raise self.error(f"{self.what}: unknown key '{key}' (allowed: {close})",
                                 self.line_of(str(key)))

    def items(self, key: str, what: str) -> list[_Reader]:
        value = self.get(key, list, [])
        return [_Reader(v, self.path, f"{what} #{i + 1}", self.line_of(key))
                for i, v in enumerate(value)]


def positive_duration(where: _Reader, key: str, value: Any) -> timedelta:
    """``value`` of ``key`` as a duration (``15m``, ``7d``, seconds) more than 0, or a
    ConfigError naming the file and line."""
    from soc.timeutil import parse_duration

    try:
        found = parse_duration(value)
    except ValueError as exc:
        raise where.error(f"{where.what}: {key}: {exc}", where.line_of(key)) from None
    if found <= timedelta(0):
        raise where.error(f"{where.what}: {key}: must be more than 0", where.line_of(key))
    return found


def duration_of(where: _Reader, key: str, default: timedelta) -> timedelta:
    """The duration under ``key`` (:func:`positive_duration`), ``default`` when absent."""
    value = where.get(key, (str, int, float), None)
    return default if value is None else positive_duration(where, key, value)


def _hosts(reader: _Reader) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    names: list[str] = []
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for host in reader.str_list("hosts"):
        try:
            nets.append(ipaddress.ip_network(host, strict=False))
        except ValueError:
            names.append(host.lower())
    return tuple(names), tuple(nets)


def _units(root: _Reader) -> tuple[Unit, ...]:
    inv = _Reader(root.data.get("inventory"), root.path, "inventory", root.line_of("inventory"))
    inv.check_keys({"units", "systems"})
    units = []
    for r in inv.items("units", "unit"):
        r.check_keys({"id", "name", "contacts"})
        contacts = []
        for c in r.items("contacts", f"contact of unit {r.data.get('id')}"):
            c.check_keys({"role", "name", "email", "phone", "organization"})
            contacts.append(Contact(
                role=str(c.get("role", str, required=True)), name=str(c.get("name", str, "")),
                email=str(c.get("email", str, "")), phone=str(c.get("phone", (str, int), "")),
                organization=str(c.get("organization", str, "")),
            ))
        units.append(Unit(id=str(r.get("id", (str, int), required=True)),
                          name=str(r.get("name", str, "")), contacts=tuple(contacts)))
    return tuple(units)


def _systems(root: _Reader, units: tuple[Unit, ...]) -> tuple[System, ...]:
    inv = _Reader(root.data.get("inventory"), root.path, "inventory", root.line_of("inventory"))
    unit_ids = {u.id for u in units}
    systems = []
    for r in inv.items("systems", "system"):
        r.check_keys({"id", "name", "unit", "security_level", "owner", "operator", "hosts",
                      "expected_sources"})
        sid = str(r.get("id", (str, int), required=True))
        level = r.get("security_level", int, required=True)
        if not 1 <= level <= 5:
            raise r.error(f"system {sid}: security_level must be 1 to 5, not {level}",
                          r.line_of("security_level"))
        unit = str(r.get("unit", (str, int), required=True))
        if unit_ids and unit not in unit_ids:
            raise r.error(f"system {sid}: unit '{unit}' is not in inventory.units",
                          r.line_of("unit"))
        names, nets = _hosts(r)
        systems.append(System(
            id=sid, name=str(r.get("name", str, "")), unit=unit, security_level=level,
            owner=str(r.get("owner", str, "")), operator=str(r.get("operator", str, "")),
            hostnames=names, addresses=nets, expected_sources=r.str_list("expected_sources"),
        ))
    return tuple(systems)


def _sources(root: _Reader, base: Path, systems: tuple[System, ...]) -> tuple[Source, ...]:
    system_ids = {s.id for s in systems}
    seen: set[str] = set()
    sources = []
    for r in root.items("sources", "source"):
        r.check_keys({"name", "type", "paths", "path", "parser", "system", "expected_interval",
                      "enabled", "original", "options"})
        name = str(r.get("name", (str, int), required=True))
        if name in seen:
            raise r.error(f"source name '{name}' is used twice", r.line_of("name"))
        seen.add(name)
        system = r.get("system", (str, int))
        if system is not None and str(system) not in system_ids:
            raise r.error(f"source {name}: system '{system}' is not in inventory.systems",
                          r.line_of("system"))
        interval = r.get("expected_interval", (str, int))
        try:
            expected = parse_duration(interval) if interval is not None else None
        except ValueError as exc:
            raise r.error(f"source {name}: {exc}", r.line_of("expected_interval")) from None
        paths = r.str_list("paths") + r.str_list("path")
        sources.append(Source(
            name=name, type=str(r.get("type", str, "file")),
            paths=tuple(_abs(p, base) for p in paths), parser=str(r.get("parser", str, "auto")),
            system=str(system) if system is not None else None, expected_interval=expected,
            enabled=bool(r.get("enabled", bool, True)),
            original=bool(r.get("original", bool, True)),
            options=MappingProxyType(_resolve_secrets(dict(r.get("options", dict, {})))),
        ))
    return tuple(sources)


def _abs(path: str, base: Path) -> str:
    p = Path(os.path.expanduser(path))
    return str(p if p.is_absolute() else base / p)


def _retention(root: _Reader) -> tuple[dict[int, int], int]:
    r = _Reader(root.data.get("retention"), root.path, "retention", root.line_of("retention"))
    days = dict(DEFAULT_RETENTION_DAYS)
    unknown = UNKNOWN_LEVEL_RETENTION_DAYS
    for key, value in r.data.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise r.error(f"retention: days must be a positive integer, not {value!r}",
                          r.line_of(str(key)))
        if str(key) == "unknown":
            unknown = value
        elif str(key) in {"1", "2", "3", "4", "5"}:
            days[int(key)] = value
        else:
            raise r.error(f"retention: unknown key '{key}' (security levels 1-5, or unknown)",
                          r.line_of(str(key)))
    return days, unknown


def _rules(root: _Reader, base: Path, tz: str) -> RulesConfig:
    r = _Reader(root.data.get("rules"), root.path, "rules", root.line_of("rules"))
    r.check_keys({"paths", "placeholders", "suppress", "tuning", "device_alerts"})
    placeholders_raw = r.get("placeholders", dict, {})
    placeholders = {}
    for key, value in placeholders_raw.items():
        values = value if isinstance(value, list) else [value]
        placeholders[str(key)] = tuple(str(v) for v in values)
    suppress_raw = r.get("suppress", (str, int), "1h")
    try:
        suppress = parse_duration(suppress_raw)
    except ValueError as exc:
        raise r.error(f"rules: suppress: {exc}", r.line_of("suppress")) from None
    tuning = _tuning(_Reader(r.data.get("tuning"), r.path, "rules.tuning", r.line_of("tuning")),
                     tz)
    return RulesConfig(paths=tuple(Path(_abs(p, base)) for p in r.str_list("paths")),
                       placeholders=MappingProxyType(placeholders), suppress=suppress,
                       tuning=tuning, device_alerts=bool(r.get("device_alerts", bool, True)))


# --- rules.tuning (and the tuning file, soc.tuning_file) ----------------------------------------

TUNING_KEYS = {"min_level", "disabled", "exceptions"}
_ENTRY_KEYS = {"reason", "expires", "author", "added"}


def parse_tuning(data: Any, path: Path | None, tz: str, *, what: str = "rules.tuning",
                 min_level: bool = True) -> Tuning:
    """A tuning mapping (``rules.tuning`` of soc.yml, or the tuning file, where ``min_level``
    is not allowed) as :class:`~soc.tuning.Tuning`; errors name the file and line."""
    return _tuning(_Reader(data, path, what), tz, min_level=min_level)


def _tuning(r: _Reader, tz: str, *, min_level: bool = True) -> Tuning:
    r.check_keys(TUNING_KEYS if min_level else TUNING_KEYS - {"min_level"})
    level = r.get("min_level", str)
    if level is not None and level not in {s.value for s in Severity}:
        raise r.error(f"{r.what}: min_level must be one of "
                      f"{', '.join(s.value for s in Severity)}, not {level!r}",
                      r.line_of("min_level"))
    disabled: dict[str, DisabledRule] = {}
    for line, item in _tuning_items(r, "disabled"):
        entry = _disabled(item, r, line, tz)
        if entry.rule in disabled:
            raise r.error(f"{r.what}: rule {entry.rule} is disabled twice", line)
        disabled[entry.rule] = entry
    exceptions: dict[str, RuleException] = {}
    for line, item in _tuning_items(r, "exceptions"):
        if isinstance(item, str | int):
            raise r.error(f"{r.what}: an exception is a mapping with 'where' (and 'rule', "
                          "'reason', 'expires'), not {item!r}", line)
        exc = _exception(_Reader(item, r.path, f"{r.what}: exception", line), tz)
        if exc.id in exceptions:
            raise r.error(f"{r.what}: exception {exc.id} is written twice (same rule and "
                          "condition)", line)
        exceptions[exc.id] = exc
    return Tuning(tuple(disabled.values()), tuple(exceptions.values()),
                  Severity(level) if level is not None else None)


def _tuning_items(r: _Reader, key: str) -> list[tuple[int | None, Any]]:
    """The items of a list, each with its line (a scalar item: the list's line)."""
    items = r.get(key, list, [])
    lines = getattr(items, "item_lines", None) or [r.line_of(key)] * len(items)
    return list(zip(lines, items, strict=True))


def _origin(r: _Reader, line: int | None) -> str:
    return f"{r.path.name}:{line}" if r.path is not None and line else str(r.what)


def _disabled(item: Any, parent: _Reader, line: int | None, tz: str) -> DisabledRule:
    if isinstance(item, str | int) and not isinstance(item, bool):
        return DisabledRule(rule=str(item), origin=_origin(parent, line))
    r = _Reader(item, parent.path, f"{parent.what}: disabled rule", line)
    r.check_keys({"rule"} | _ENTRY_KEYS)
    rule = str(r.get("rule", (str, int), required=True))
    return DisabledRule(rule=rule, origin=_origin(r, r.line), **_entry(r, tz))


def _entry(r: _Reader, tz: str) -> dict[str, Any]:
    """reason, expires (and when it ends), author, added of a tuning entry."""
    out: dict[str, Any] = {"reason": str(r.get("reason", (str, int), "")),
                           "author": str(r.get("author", (str, int), "")),
                           "added": str(r.get("added", str, ""))}
    if r.data.get("expires") is not None:
        try:
            out["expires"], out["ends"] = expiry(r.data["expires"], ZoneInfo(tz))
        except ValueError as exc:
            raise r.error(f"{r.what}: expires: {exc}", r.line_of("expires")) from None
    return out


def _exception(r: _Reader, tz: str) -> RuleException:
    r.check_keys({"id", "rule", "where"} | _ENTRY_KEYS)
    where = _Reader(r.get("where", dict, required=True), r.path, f"{r.what}: where",
                    r.line_of("where"))
    if not where.data:
        raise r.error(f"{r.what}: 'where' needs at least one field: value", r.line_of("where"))
    conditions = tuple(_condition(where, str(key)) for key in where.data)
    rule = r.get("rule", (str, int))
    given = r.get("id", (str, int))
    return RuleException(where=conditions, rule=str(rule) if rule is not None else None,
                         id=str(given) if given is not None else "", origin=_origin(r, r.line),
                         **_entry(r, tz))


def _condition(where: _Reader, key: str) -> Condition:
    value = where.data[key]
    values = value if isinstance(value, list) else [value]
    if not values or any(v is None or isinstance(v, dict | list) for v in values):
        raise where.error(f"{where.what}: {key} must be a value or a list of values, "
                          f"not {value!r}", where.line_of(key))
    texts = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)
    try:
        return Condition(key, texts)
    except ValueError as exc:
        raise where.error(f"{where.what}: {key}: {exc}", where.line_of(key)) from None


TOP_KEYS = {"data_dir", "timezone", "store", "inventory", "sources", "retention", "rules",
            "profile", "incidents", "reports", "listen", "network", "data_group", "notify",
            "intel", "web"}


def parse_config(data: Any, path: Path | None, base: Path) -> Config:
    """Build a :class:`Config` from loaded YAML (``path`` is for error messages)."""
    root = _Reader(data, path, "configuration")
    root.check_keys(TOP_KEYS)
    tz = str(root.get("timezone", str, DEFAULT_TIMEZONE))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise root.error(f"unknown timezone {tz!r} (use an IANA name such as Asia/Ho_Chi_Minh)",
                         root.line_of("timezone")) from None
    store_r = _Reader(root.data.get("store"), path, "store", root.line_of("store"))
    store_type = str(store_r.get("type", str, "embedded"))
    if store_type not in {"embedded", "elasticsearch"}:
        raise store_r.error(f"store: type must be embedded or elasticsearch, not {store_type!r}",
                            store_r.line_of("type"))
    store_opts = {k: v for k, v in store_r.data.items() if k != "type"}
    if store_type == "embedded" and store_opts:  # e.g. `kind: elasticsearch` for `type:`
        first = next(iter(store_opts))
        raise store_r.error(f"store: the embedded store takes no option {first!r} (its only key "
                            "is type; the Elasticsearch store is `type: elasticsearch`)",
                            store_r.line_of(first))
    units = _units(root)
    systems = _systems(root, units)
    retention, unknown = _retention(root)
    data_dir = Path(_abs(str(root.get("data_dir", str, "soc-data")), base))
    return Config(
        path=path, data_dir=data_dir, timezone=tz,
        store=StoreConfig(store_type, MappingProxyType(_resolve_secrets(store_opts))),
        units=units, systems=systems, sources=_sources(root, base, systems),
        retention=MappingProxyType(retention), retention_unknown=unknown,
        rules=_rules(root, base, tz), profile=str(root.get("profile", str, "mps-2026")),
        data_group=_data_group(root), raw=MappingProxyType(dict(root.data)),
    )


def _data_group(root: _Reader) -> str | None:
    value = root.get("data_group", (str, int), None)
    if value is None:
        return None
    text = str(value).strip()
    if not text or any(c.isspace() or c == ":" for c in text):
        raise root.error(f"data_group must be a group name or number, not {value!r}",
                         root.line_of("data_group"))
    return text


def find_config(explicit: str | Path | None = None) -> Path | None:
    """The config file to use: ``--config``, then ``$SOC_CONFIG``, then ``./soc.yml`` if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    default = Path.cwd() / DEFAULT_CONFIG_NAME
    return default if default.exists() else None


def load_config(path: str | Path | None = None, *, data_dir: str | Path | None = None) -> Config:
    """Load the configuration; with no file at all, an empty one with ``./soc-data``."""
    found = find_config(path)
    if found is None:
        config = parse_config({}, None, Path.cwd())
    else:
        found = found.resolve()
        config = parse_config(load_yaml(found), found, found.parent)
    if data_dir is not None:
        from dataclasses import replace

        config = replace(config, data_dir=Path(data_dir).resolve())
    return config
