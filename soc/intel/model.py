"""The indicator: a (type, value) pair and what one feed says of it.

Values are normalised once, by :func:`normalize`, wherever they come from (a feed, a CSV typed by
hand, the command line) so that the matcher compares like with like: addresses and networks in
:mod:`ipaddress`'s compressed form, domains lower-case without the trailing dot and in IDNA
(``xn--``) form, hashes lower-case hex, URLs with scheme and host lower-cased.

An indicator is deduplicated by :attr:`Indicator.key`, ``(type, value)``; the store keeps each
feed's context beside the others (:mod:`soc.intel.store`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

TYPES = ("ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256", "email", "ja3", "ja4",
         "user-agent")
"""Indicator types. ``ipv4``/``ipv6`` hold an address or a network (CIDR)."""

HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "ja3": 32}
TLPS = ("clear", "green", "amber", "amber+strict", "red")
"""TLP 2.0 labels, least to most restrictive (TLP 1.0's ``white`` is read as ``clear``)."""

_HEX = re.compile(r"[0-9a-f]+")
_JA4 = re.compile(r"[tqd][0-9a-z]{9}_[0-9a-f]{12}_[0-9a-f]{12}")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


class IndicatorError(ValueError):
    """A value that is not an indicator of the type it is given as."""


@dataclass(frozen=True)
class Indicator:
    """One feed's word on one indicator. Times are canonical UTC strings (``soc.ecs.format_ts``)
    or None; ``confidence`` is 0-100 (None: the feed gave none)."""

    type: str
    value: str
    source: str
    first_seen: str | None = None
    last_seen: str | None = None
    valid_until: str | None = None
    confidence: int | None = None
    tlp: str | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    reference: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.value)


def normalize(kind: str, value: str) -> str:
    """The canonical form of ``value`` as an indicator of type ``kind``; raises
    :class:`IndicatorError` with the reason when it is not one."""
    text = value.strip()
    if not text:
        raise IndicatorError(f"empty {kind} value")
    if kind in ("ipv4", "ipv6"):
        return _network(kind, text)
    if kind == "domain":
        return normalize_domain(text)
    if kind == "url":
        return normalize_url(text)
    if kind in HASH_LENGTHS:
        low = text.lower()
        if len(low) != HASH_LENGTHS[kind] or not _HEX.fullmatch(low):
            raise IndicatorError(f"not a {kind}: {text[:80]!r}")
        return low
    if kind == "ja4":
        low = text.lower()
        if not _JA4.fullmatch(low):
            raise IndicatorError(f"not a JA4 fingerprint: {text[:80]!r}")
        return low
    if kind == "email":
        local, sep, domain = text.rpartition("@")
        if not sep or not local:
            raise IndicatorError(f"not an e-mail address: {text[:80]!r}")
        return f"{local.lower()}@{normalize_domain(domain)}"
    if kind == "user-agent":
        return text
    raise IndicatorError(f"unknown indicator type {kind!r} (one of {', '.join(TYPES)})")


def _network(kind: str, text: str) -> str:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise IndicatorError(f"not an IP address or network: {text[:80]!r}") from None
    if (kind == "ipv4") != (net.version == 4):
        raise IndicatorError(f"not an {kind} address: {text[:80]!r}")
    if net.num_addresses == 1:
        return str(net.network_address)
    return str(net)


def ip_kind(text: str) -> str | None:
    """``ipv4`` or ``ipv6`` when ``text`` is an address or a network, else None."""
    try:
        return "ipv4" if ipaddress.ip_network(text.strip(), strict=False).version == 4 else "ipv6"
    except ValueError:
        return None


def normalize_domain(text: str) -> str:
    """Lower-case, no trailing dot, IDNA; raises :class:`IndicatorError` when it is no name."""
    name = text.strip().rstrip(".").lower()
    if name.startswith("*."):
        name = name[2:]  # a wildcard means the domain and its subdomains, as any listed domain
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise IndicatorError(f"not a domain name: {text[:80]!r}") from None
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 253 or not all(_LABEL.fullmatch(x) for x in labels) \
            or labels[-1].isdigit():
        raise IndicatorError(f"not a domain name: {text[:80]!r}")
    return name


def normalize_url(text: str) -> str:
    """Scheme and host lower-case, default port dropped, fragment dropped; path and query as
    given (servers differ on their case). A URL without a scheme is taken as ``http://``."""
    raw = text.strip()
    if "://" not in raw:
        raw = "http://" + raw
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise IndicatorError(f"not a URL: {text[:80]!r}") from None
    if not host:
        raise IndicatorError(f"not a URL: {text[:80]!r}")
    scheme = parts.scheme.lower()
    if ip_kind(host) is None:
        host = normalize_domain(host)
    elif ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def guess_type(value: str) -> str | None:
    """The type a bare value most likely is (plain lists, CSV without a type column)."""
    text = value.strip()
    kind = ip_kind(text)
    if kind:
        return kind
    low = text.lower()
    if _HEX.fullmatch(low):
        return {32: "md5", 40: "sha1", 64: "sha256"}.get(len(low))
    if "://" in text:
        return "url"
    if "@" in text and " " not in text:
        return "email"
    if _JA4.fullmatch(low):
        return "ja4"
    if "/" in text and " " not in text:
        return "url"
    try:
        normalize_domain(text)
    except IndicatorError:
        return None
    return "domain"


def tlp_of(label: str) -> str | None:
    """A TLP label (``TLP:AMBER+STRICT``, ``tlp:white``, ``amber``) → one of :data:`TLPS`."""
    low = label.strip().lower()
    if low.startswith("tlp:"):
        low = low[4:]
    low = low.strip()
    if low == "white":
        return "clear"
    return low if low in TLPS else None


def stricter_tlp(a: str | None, b: str | None) -> str | None:
    """The more restrictive of two TLP labels (None is unknown, the least of all)."""
    if a is None or b is None:
        return a or b
    return a if TLPS.index(a) >= TLPS.index(b) else b


@dataclass
class IndicatorRecord:
    """What the store keeps of one (type, value): each feed's word on it (``sources``, keyed by
    feed name) and the summary matching uses, derived from them by :meth:`settle`.

    ``added`` is when soc first stored it and ``updated`` when a feed last changed it (a
    retro-hunt looks for what was added or updated since its last run); ``expired`` is set by
    ``soc intel expire`` and wins over every feed's ``valid_until``.
    """

    type: str
    value: str
    sources: dict[str, Indicator]
    added: str
    updated: str
    expired: str | None = None
    valid_until: str | None = None
    confidence: int | None = None
    tlp: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.value)

    @property
    def id(self) -> str:
        """A stable document id for the store: the digest of the key."""
        return indicator_id(self.type, self.value)

    def live(self, now: str) -> bool:
        """Matches at ``now``: not expired by hand, and some feed still vouches for it."""
        if self.expired is not None and self.expired <= now:
            return False
        return self.valid_until is None or self.valid_until > now

    def settle(self) -> IndicatorRecord:
        """Recompute the summary from the sources (call after changing them)."""
        found = list(self.sources.values())
        untils = [i.valid_until for i in found]
        self.valid_until = None if any(u is None for u in untils) else max(
            u for u in untils if u is not None)
        scores = [i.confidence for i in found if i.confidence is not None]
        self.confidence = max(scores) if scores else None
        tlp: str | None = None
        for item in found:
            tlp = stricter_tlp(tlp, item.tlp)
        self.tlp = tlp
        firsts = [i.first_seen for i in found if i.first_seen]
        lasts = [i.last_seen for i in found if i.last_seen]
        self.first_seen = min(firsts) if firsts else None
        self.last_seen = max(lasts) if lasts else None
        self.tags = tuple(dict.fromkeys(t for i in found for t in i.tags))
        return self

    def merge(self, item: Indicator, now: str) -> bool:
        """Take a feed's (new) word on this indicator; True when anything changed."""
        if self.sources.get(item.source) == item:
            return False
        self.sources[item.source] = item
        self.updated = now
        self.settle()
        return True

    @classmethod
    def first(cls, item: Indicator, now: str) -> IndicatorRecord:
        return cls(item.type, item.value, {item.source: item}, added=now, updated=now).settle()

    def to_doc(self) -> dict[str, object]:
        """The record as a JSON-able document (both stores keep this shape)."""
        return {
            "id": self.id, "type": self.type, "value": self.value, "added": self.added,
            "updated": self.updated, "expired": self.expired, "valid_until": self.valid_until,
            "confidence": self.confidence, "tlp": self.tlp, "first_seen": self.first_seen,
            "last_seen": self.last_seen, "tags": list(self.tags),
            "sources": [_source_doc(i) for i in self.sources.values()],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, object]) -> IndicatorRecord:
        sources = [_source_of(str(doc["type"]), str(doc["value"]), s)
                   for s in doc.get("sources") or [] if isinstance(s, dict)]  # type: ignore[attr-defined]
        record = cls(str(doc["type"]), str(doc["value"]), {i.source: i for i in sources},
                     added=str(doc.get("added") or ""), updated=str(doc.get("updated") or ""),
                     expired=_opt(doc.get("expired")))
        return record.settle()


def indicator_id(kind: str, value: str) -> str:
    return hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=16).hexdigest()


def _opt(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _source_doc(item: Indicator) -> dict[str, object]:
    return {"source": item.source, "first_seen": item.first_seen, "last_seen": item.last_seen,
            "valid_until": item.valid_until, "confidence": item.confidence, "tlp": item.tlp,
            "tags": list(item.tags), "description": item.description,
            "reference": item.reference, "extra": dict(item.extra)}


def _source_of(kind: str, value: str, doc: dict[str, object]) -> Indicator:
    confidence = doc.get("confidence")
    tags = doc.get("tags")
    extra = doc.get("extra")
    return Indicator(
        kind, value, str(doc.get("source") or ""), first_seen=_opt(doc.get("first_seen")),
        last_seen=_opt(doc.get("last_seen")), valid_until=_opt(doc.get("valid_until")),
        confidence=confidence if isinstance(confidence, int) else None,
        tlp=_opt(doc.get("tlp")), tags=tuple(str(t) for t in tags) if isinstance(tags, list)
        else (), description=str(doc.get("description") or ""),
        reference=str(doc.get("reference") or ""),
        extra={str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {})
