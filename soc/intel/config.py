"""The ``intel:`` section of soc.yml → frozen dataclasses (docs/threat-intel.md).

::

    intel:
      lookback: 30d                  # how far back a retro-hunt looks
      lifetimes: {ipv4: 30d, domain: 90d, sha256: 365d}   # defaults per type, for every feed
      sightings: {identity: "SOC tỉnh X", system: cong-dich-vu-cong, unit: so-tttt}
      feeds:
        - name: ncsc
          type: csv                  # stix, taxii, misp-feed, misp-api, csv, list
          url: https://ti.example.vn/ioc.csv      # or path: /srv/intel/ioc.csv
          lifetimes: {ipv4: 7d}
          ca_file: /etc/soc/ncsc-ca.pem
          interval: 1h               # soc listen pulls it when due
          confidence: 70             # what the feed's indicators get when they give none
          tlp: amber

Secrets (``password_env``, ``api_key_env``) name environment variables; the values are read
when the feed is pulled, never written to the configuration or the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

from soc.config import Config, _Reader
from soc.config import duration_of as _dur
from soc.intel.model import TLPS, TYPES, tlp_of

FEED_TYPES = ("stix", "taxii", "misp-feed", "misp-api", "csv", "list")
DEFAULT_LIFETIMES: Mapping[str, timedelta] = MappingProxyType({
    "ipv4": timedelta(days=30), "ipv6": timedelta(days=30), "domain": timedelta(days=90),
    "url": timedelta(days=90), "email": timedelta(days=180), "md5": timedelta(days=365),
    "sha1": timedelta(days=365), "sha256": timedelta(days=365), "ja3": timedelta(days=180),
    "ja4": timedelta(days=180), "user-agent": timedelta(days=90),
})
"""How long an indicator matches when its feed gives no end: addresses change hands quickly,
a file's hash names that file for ever (a year keeps the list bounded)."""

_FEED_KEYS = {"name", "type", "url", "path", "collection", "columns", "kind", "lifetimes",
              "ca_file", "username", "password_env", "api_key_env", "api_key_header",
              "timeout", "interval", "confidence", "tlp", "all_attributes", "enabled",
              "delimiter", "timezone"}
_TOP_KEYS = {"feeds", "lifetimes", "lookback", "sightings", "retro_hunt"}


@dataclass(frozen=True)
class Feed:
    """One configured feed."""

    name: str
    type: str
    url: str | None = None
    path: Path | None = None
    collection: str | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    kind: str | None = None  # list feeds: the type of every line (else guessed per line)
    lifetimes: Mapping[str, timedelta] = field(default_factory=lambda: DEFAULT_LIFETIMES)
    ca_file: Path | None = None
    username: str | None = None
    password_env: str | None = None
    api_key_env: str | None = None
    api_key_header: str | None = None
    timeout: float = 60.0
    interval: timedelta = timedelta(hours=1)
    confidence: int | None = None
    tlp: str | None = None
    all_attributes: bool = False
    enabled: bool = True
    delimiter: str | None = None
    timezone: str | None = None

    @property
    def location(self) -> str:
        return self.url or str(self.path or "")


@dataclass(frozen=True)
class IntelConfig:
    feeds: tuple[Feed, ...] = ()
    lifetimes: Mapping[str, timedelta] = field(default_factory=lambda: DEFAULT_LIFETIMES)
    lookback: timedelta = timedelta(days=30)
    retro_hunt: bool = True
    identity: str = "soc"
    system: str = ""
    unit: str = ""

    def feed(self, name: str) -> Feed | None:
        return next((f for f in self.feeds if f.name == name), None)


def load(config: Config) -> IntelConfig:
    """Read ``config.raw['intel']``; ConfigError (file:line) for anything wrong."""
    data = config.raw.get("intel")
    root = _Reader(data, config.path, "intel", getattr(data, "line", None))
    root.check_keys(_TOP_KEYS)
    base = config.path.parent if config.path is not None else Path.cwd()
    lifetimes = _lifetimes(root, DEFAULT_LIFETIMES)
    feeds = tuple(_feed(r, base, lifetimes) for r in root.items("feeds", "intel.feeds"))
    names = [f.name for f in feeds]
    for name in names:
        if names.count(name) > 1:
            raise root.error(f"intel.feeds: two feeds are named {name!r}", root.line_of("feeds"))
    sight = _Reader(root.data.get("sightings"), config.path, "intel.sightings",
                    root.line_of("sightings"))
    sight.check_keys({"identity", "system", "unit"})
    return IntelConfig(
        feeds=feeds, lifetimes=lifetimes, lookback=_dur(root, "lookback", timedelta(days=30)),
        retro_hunt=bool(root.get("retro_hunt", bool, True)),
        identity=str(sight.get("identity", str, "") or _identity(config)),
        system=str(sight.get("system", str, "")), unit=str(sight.get("unit", str, "")))


def _identity(config: Config) -> str:
    return config.units[0].name if config.units and config.units[0].name else "soc"


def _feed(r: _Reader, base: Path, defaults: Mapping[str, timedelta]) -> Feed:
    r.check_keys(_FEED_KEYS)
    name = str(r.get("name", str, required=True))
    r.what = f"intel.feeds.{name}"
    kind = str(r.get("type", str, required=True))
    if kind not in FEED_TYPES:
        raise r.error(f"{r.what}: type must be one of {', '.join(FEED_TYPES)}, not {kind!r}",
                      r.line_of("type"))
    url = r.get("url", str, None)
    path = r.get("path", str, None)
    if (url is None) == (path is None):
        raise r.error(f"{r.what}: give exactly one of url and path", r.line)
    if url is not None and not str(url).startswith(("http://", "https://")):
        raise r.error(f"{r.what}: url must be http:// or https://", r.line_of("url"))
    if kind in ("taxii", "misp-api") and url is None:
        raise r.error(f"{r.what}: a {kind} feed needs a url", r.line)
    if kind == "taxii" and not r.get("collection", str, None):
        raise r.error(f"{r.what}: a taxii feed needs a collection (its id or title)", r.line)
    columns = r.get("columns", dict, {})
    line_kind = r.get("kind", str, None)
    if line_kind is not None and line_kind not in TYPES:
        raise r.error(f"{r.what}: kind must be one of {', '.join(TYPES)}", r.line_of("kind"))
    confidence = r.get("confidence", int, None)
    if confidence is not None and not 0 <= confidence <= 100:
        raise r.error(f"{r.what}: confidence must be 0 to 100", r.line_of("confidence"))
    tlp_text = r.get("tlp", str, None)
    tlp = tlp_of(tlp_text) if tlp_text is not None else None
    if tlp_text is not None and tlp is None:
        raise r.error(f"{r.what}: tlp must be one of {', '.join(TLPS)}", r.line_of("tlp"))
    timeout = r.get("timeout", (int, float), 60.0)
    return Feed(
        name=name, type=kind, url=url, path=_path(path, base),
        collection=r.get("collection", str, None),
        columns=MappingProxyType({str(k): str(v) for k, v in columns.items()}),
        kind=line_kind, lifetimes=_lifetimes(r, defaults),
        ca_file=_path(r.get("ca_file", str, None), base), username=r.get("username", str, None),
        password_env=r.get("password_env", str, None), api_key_env=r.get("api_key_env", str, None),
        api_key_header=r.get("api_key_header", str, None), timeout=float(timeout),
        interval=_dur(r, "interval", timedelta(hours=1)), confidence=confidence, tlp=tlp,
        all_attributes=bool(r.get("all_attributes", bool, False)),
        enabled=bool(r.get("enabled", bool, True)), delimiter=r.get("delimiter", str, None),
        timezone=r.get("timezone", str, None))


def _path(value: str | None, base: Path) -> Path | None:
    if value is None:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _lifetimes(r: _Reader, defaults: Mapping[str, timedelta]) -> Mapping[str, timedelta]:
    given = r.get("lifetimes", dict, None)
    if not given:
        return defaults
    out = dict(defaults)
    where = _Reader(given, r.path, f"{r.what}.lifetimes", r.line_of("lifetimes"))
    where.check_keys(set(TYPES))
    for key in where.data:
        out[str(key)] = _dur(where, str(key), timedelta(0))
    return MappingProxyType(out)


