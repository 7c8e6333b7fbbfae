"""The in-memory index of the live indicators that every event is looked up in, as it streams.

It is the hot path of the pipeline: every event of every pass goes through :meth:`match`, and the
cost of an event that matches nothing must not grow with the number of indicators (about 2-3 µs
an event on this project's machine, 1 µs when the event is still in the CPU's cache: see
``benchmarks/intel_match.py`` and docs/benchmarks.md):

* only the fields of :data:`FIELDS` that the event has *and* that some loaded indicator type can
  match are looked at (one C-level intersection of the event's keys with a set);
* every look-up is a dict or set probe: an address against one table of network numbers per
  prefix length present (100,000 CIDRs cost as many probes as there are distinct prefix lengths,
  and the /20-and-longer ones a single probe of the /24s they cover when none of them holds the
  address), a name against itself and its parent domains;
* each text is looked up once: the answer (usually "no indicator") is kept in a bounded cache per
  kind of value, emptied when full (:data:`CACHE_SIZE`);
* a URL is normalised (:func:`~soc.intel.model.normalize_url`) only when its host and path are
  those of a listed URL.

The index is immutable once built (a new set of indicators makes a new index), so what it
remembers never goes stale.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Sequence
from socket import AF_INET, AF_INET6, inet_pton
from typing import Any, NamedTuple

from soc.ecs import Event
from soc.intel.model import IndicatorError, IndicatorRecord, normalize_url

FIELDS: dict[str, str] = {
    # addresses: ipv4/ipv6 indicators (a CIDR matches every address inside it)
    "source.ip": "ip", "destination.ip": "ip", "client.ip": "ip", "server.ip": "ip",
    "source.nat.ip": "ip", "destination.nat.ip": "ip", "dns.resolved_ip": "ip",
    "host.ip": "ip", "related.ip": "ip",
    # names: domain indicators match the name and every subdomain of it; an address written in
    # one of these fields (url.domain of http://10.0.0.1/) is looked up as an address
    "dns.question.name": "host", "url.domain": "host", "destination.domain": "host",
    "source.domain": "host", "server.domain": "host", "client.domain": "host",
    "tls.client.server_name": "host", "dns.answers.name": "host", "dns.answers.data": "host",
    "winlog.event_data.QueryResults": "answers",
    # URLs: url.full, else url.original (a path-only one completed from url.domain), else
    # url.domain + url.path + url.query
    "url.full": "url", "url.original": "url", "url.path": "url",
    # file hashes (md5, sha1, sha256 indicators)
    "file.hash.md5": "hash", "file.hash.sha1": "hash", "file.hash.sha256": "hash",
    "process.hash.md5": "hash", "process.hash.sha1": "hash", "process.hash.sha256": "hash",
    "process.parent.hash.md5": "hash", "process.parent.hash.sha1": "hash",
    "process.parent.hash.sha256": "hash", "dll.hash.md5": "hash", "dll.hash.sha1": "hash",
    "dll.hash.sha256": "hash", "tls.server.hash.md5": "hash", "tls.server.hash.sha1": "hash",
    "tls.server.hash.sha256": "hash", "related.hash": "hash",
    "winlog.event_data.Hashes": "hashes", "winlog.event_data.Hash": "hashes",
    # e-mail addresses
    "email.from.address": "email", "email.sender.address": "email",
    "email.reply_to.address": "email", "email.to.address": "email", "email.cc.address": "email",
    "email.bcc.address": "email", "source.user.email": "email",
    "destination.user.email": "email", "user.email": "email",
    # TLS client fingerprints and user agents (exact; a user agent is case-sensitive)
    "tls.client.ja3": "ja3", "tls.client.ja4": "ja4", "netsensor.tls.ja4": "ja4",
    "user_agent.original": "user-agent",
}
"""Event field → what it holds; the order is the order matches are reported in (the first field an
indicator matched in names it in the alert: ``source.ip`` before ``related.ip``). Lists are
looked into item by item; values that are not text are ignored. ``hashes`` is Sysmon's
``SHA1=..,MD5=..,SHA256=..,IMPHASH=..`` (the IMPHASH is no file hash and is not looked up);
``answers`` is Sysmon's DNS ``QueryResults`` (``type:  5 cdn.example;::ffff:192.0.2.7;``)."""

KIND_TYPES: dict[str, frozenset[str]] = {
    "ip": frozenset({"ipv4", "ipv6"}), "host": frozenset({"domain", "ipv4", "ipv6"}),
    "answers": frozenset({"domain", "ipv4", "ipv6"}), "url": frozenset({"url"}),
    "hash": frozenset({"md5", "sha1", "sha256"}), "hashes": frozenset({"md5", "sha1", "sha256"}),
    "email": frozenset({"email"}), "ja3": frozenset({"ja3"}), "ja4": frozenset({"ja4"}),
    "user-agent": frozenset({"user-agent"}),
}
"""Which indicator types a field of each kind can match: a field no loaded type can match is not
looked at."""

CACHE_SIZE = 1 << 16
"""Distinct texts whose answer is kept, per kind (addresses and names, hashes, e-mail addresses,
JA3, JA4, user agents); a cache is emptied when full (cheaper than an LRU order kept on every
hit, and a stream soon fills it again with what it sees most)."""

_ORDER = {name: n for n, name in enumerate(FIELDS)}
_HASH_NAMES = frozenset({"MD5", "SHA1", "SHA256"})
_URL_PARTS = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^:/?#]*)(?::[0-9]*)?([^?#]*)")
"""An absolute URL's host and path (the parts :func:`normalize_url` leaves as they are but for
the host's case)."""
_NO: tuple[int, ...] = ()
_NARROW = 20  # IPv4 networks this long or longer are found through their /24s (16 at most)

Records = tuple[int, ...]
"""What a look-up found: positions in the index's list of keys (its records are made from them
when an event matches, so that an index read back from disk makes no 100,000 objects)."""
Key = tuple[str, str, "str | None", "str | None"]
"""A record as the index keeps it: type, value, valid until, expired (``indicator_key``)."""
Check = Callable[[str, Event], Records]
Expand = Callable[[str], list[str]]


class Match(NamedTuple):
    """An indicator an event matched: in which field, and the value there that matched (for a
    subdomain of a listed domain the subdomain; for Sysmon's ``Hashes`` the one hash)."""

    record: IndicatorRecord
    field: str
    atomic: str


class IndicatorIndex:
    """The live indicators, indexed for :meth:`match`. Build it with :meth:`build`."""

    def __init__(self) -> None:
        self._keys: list[Key] = []
        self._made: dict[int, IndicatorRecord] = {}  # position → its record, once made
        self._types: frozenset[str] = frozenset()
        # per prefix length, most specific first: (shift, network number >> shift → records);
        # IPv4 split at /20: the narrow ones are probed only when the address's /24 is covered
        self._v4_narrow: list[tuple[int, dict[int, Records]]] = []
        self._v4_wide: list[tuple[int, dict[int, Records]]] = []
        self._v4_cover: set[int] = set()  # the /24s (address >> 8) narrow networks overlap
        self._v6: list[tuple[int, dict[int, Records]]] = []
        self._domains: dict[str, Records] = {}
        self._urls: dict[str, Records] = {}  # normalised URL without its scheme → records
        self._url_hosts: set[str] = set()  # the hosts and the paths of the listed URLs
        self._url_paths: set[str] = set()
        self._hashes: dict[str, Records] = {}
        self._emails: dict[str, Records] = {}
        self._ja3: dict[str, Records] = {}
        self._ja4: dict[str, Records] = {}
        self._agents: dict[str, Records] = {}
        # field → the cache of its kind's answers (text → records): one per kind, shared by
        # the fields of that kind; the URL fields and the values made of several have none
        self._caches: dict[str, dict[str, Records]] = {}
        self._host_cache: dict[str, Records] = {}  # the one of addresses and names
        self._lookups: dict[str, Callable[[str], Records]] = {}  # field → answer on a miss
        self._checks: dict[str, tuple[Check, Expand]] = {}  # values made of several
        self._clean: set[str] = set()  # values made of several that match nothing
        self._watched: frozenset[str] = frozenset()  # fields looked at but the URL ones
        self._url_on = False
        self.unusable: list[tuple[IndicatorRecord, str]] = []
        """Live records whose value could not be indexed, with the reason (a store written by
        hand or an older version); they do not match."""

    @classmethod
    def build(cls, records: Iterable[IndicatorRecord], now: str) -> IndicatorIndex:
        """The index of the ``records`` live at ``now`` (canonical UTC, ``soc.ecs.format_ts``)."""
        # a few hundred thousand new containers, none in a cycle: with the collector on, it
        # walks them again and again (3/4 of the time of a build of 100,000 indicators)
        paused = gc.isenabled()
        gc.disable()
        try:
            return cls._build(records, now)
        finally:
            if paused:
                gc.enable()

    @classmethod
    def _build(cls, records: Iterable[IndicatorRecord], now: str) -> IndicatorIndex:
        index = cls()
        nets: dict[tuple[int, int], dict[int, Records]] = {}  # (version, length) → networks
        tables = {"domain": index._domains, "url": index._urls, "md5": index._hashes,
                  "sha1": index._hashes, "sha256": index._hashes, "email": index._emails,
                  "ja3": index._ja3, "ja4": index._ja4, "user-agent": index._agents}
        for record in records:
            if not record.live(now):
                continue
            try:
                table, key = index._place(record, nets, tables)
            except (IndicatorError, ValueError) as exc:
                index.unusable.append((record, str(exc) or "not indexable"))
                continue
            found = table.get(key)
            at = len(index._keys)
            table[key] = (at,) if found is None else (*found, at)
            index._keys.append((record.type, record.value, record.valid_until, record.expired))
            index._made[at] = record
        v4 = {plen: t for (version, plen), t in nets.items() if version == 4}
        index._v4_narrow = _buckets({n: t for n, t in v4.items() if n >= _NARROW}, 32)
        index._v4_wide = _buckets({n: t for n, t in v4.items() if n < _NARROW}, 32)
        index._v4_cover = {c for plen, t in v4.items() if plen >= _NARROW for net in t
                           for c in _covered(net, plen)}
        index._v6 = _buckets({plen: t for (version, plen), t in nets.items() if version == 6},
                             128)
        index._types = frozenset(kind for kind, _, _, _ in index._keys)
        index._wire()
        return index

    # --- kept on disk between passes (soc.intel.index_cache) -----------------------------

    def to_plain(self) -> dict[str, Any]:
        """The index as plain data (dicts, lists, tuples, sets, text and numbers: what
        :mod:`marshal` writes), without its caches: :meth:`from_plain` reads it back in a tenth
        of the time a build takes."""
        return {"keys": self._keys, "types": set(self._types),
                "v4_narrow": self._v4_narrow, "v4_wide": self._v4_wide,
                "v4_cover": self._v4_cover, "v6": self._v6, "domains": self._domains,
                "urls": self._urls, "url_hosts": self._url_hosts, "url_paths": self._url_paths,
                "hashes": self._hashes, "emails": self._emails, "ja3": self._ja3,
                "ja4": self._ja4, "agents": self._agents,
                "unusable": [(r.type, r.value, r.valid_until, r.expired, why)
                             for r, why in self.unusable]}

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> IndicatorIndex:
        """The index :meth:`to_plain` gave (raises KeyError or TypeError on other data)."""
        index = cls()
        index._keys = list(plain["keys"])
        index._types = frozenset(plain["types"])
        for name in ("v4_narrow", "v4_wide", "v6"):
            setattr(index, "_" + name, [(int(shift), dict(table)) for shift, table in plain[name]])
        index._v4_cover = set(plain["v4_cover"])
        for name in ("domains", "urls", "hashes", "emails", "ja3", "ja4", "agents"):
            setattr(index, "_" + name, dict(plain[name]))
        index._url_hosts = set(plain["url_hosts"])
        index._url_paths = set(plain["url_paths"])
        index.unusable = [(_record((kind, value, until, expired)), why)
                          for kind, value, until, expired, why in plain["unusable"]]
        index._wire()
        return index

    def _record(self, at: int) -> IndicatorRecord:
        """The record at position ``at``, made on first use."""
        record = self._made.get(at)
        if record is None:
            record = self._made[at] = _record(self._keys[at])
        return record

    def _matches(self, hit: Records, field: str, atomic: str) -> list[Match]:
        return [Match(self._record(at), field, atomic) for at in hit]

    def _place(self, record: IndicatorRecord, nets: dict[tuple[int, int], dict[int, Records]],
               tables: dict[str, dict[str, Records]]) -> tuple[dict[Any, Records], Any]:
        """The table ``record`` goes in, and its key there."""
        kind, value = record.type, record.value
        if kind in ("ipv4", "ipv6"):
            version, number, plen = _network(value)
            if version == 6 and plen >= 96 and number >> 32 == 0xFFFF:  # ::ffff:a.b.c.d/n
                version, number, plen = 4, number & 0xFFFFFFFF, plen - 96
            table = nets.get((version, plen))
            if table is None:
                table = nets[(version, plen)] = {}
            return table, number >> ((32 if version == 4 else 128) - plen)
        if kind not in tables:
            raise IndicatorError(f"unknown indicator type {kind!r}")
        if kind != "url":
            return tables[kind], value
        parts = _URL_PARTS.match(value)
        if parts is None or not parts.group(1):
            raise IndicatorError(f"not a URL: {value[:80]!r}")
        self._url_hosts.add(_bare(parts.group(1)))
        self._url_paths.add(parts.group(2) or "/")
        return tables[kind], value[value.find("://") + 3:]

    def _wire(self) -> None:
        """How each field is looked up, for the fields some loaded indicator type can match."""
        types = self._types
        self._checks = {"winlog.event_data.QueryResults": (self._host, _query_results),
                        "winlog.event_data.Hashes": (self._hash, _sysmon_hashes),
                        "winlog.event_data.Hash": (self._hash, _sysmon_hashes)}
        lookups: dict[str, Callable[[str], Records]] = {
            "ip": self._host_lookup, "host": self._host_lookup,
            "hash": lambda t: self._hashes.get(t.strip().lower(), _NO),
            "email": lambda t: self._emails.get(t.strip(" <>").lower(), _NO),
            "ja3": lambda t: self._ja3.get(t.strip().lower(), _NO),
            "ja4": lambda t: self._ja4.get(t.strip().lower(), _NO),
            "user-agent": lambda t: self._agents.get(t, _NO)}
        caches: dict[str, dict[str, Records]] = {k: {} for k in lookups}
        caches["ip"] = self._host_cache = caches["host"]  # an address is one in either kind
        watched = [f for f, k in FIELDS.items() if KIND_TYPES[k] & types and k != "url"]
        cached = [f for f in watched if FIELDS[f] in lookups and f not in self._checks]
        self._caches = {f: caches[FIELDS[f]] for f in cached}
        self._lookups = {f: lookups[FIELDS[f]] for f in cached}
        self._watched = frozenset(watched)
        self._url_on = "url" in types

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def empty(self) -> bool:
        return not self._keys

    @property
    def records(self) -> Sequence[IndicatorRecord]:
        """The indexed (live, usable) records."""
        return [self._record(at) for at in range(len(self._keys))]

    def next_end(self, now: str) -> str | None:
        """The soonest end of validity (``valid_until``, or an ``expired`` after ``now``) among
        the indexed records: the index stands until then."""
        ends = [k[2] for k in self._keys if k[2] is not None]
        ends += [k[3] for k in self._keys if k[3] is not None and k[3] > now]
        return min(ends) if ends else None

    def match(self, event: Event) -> list[Match]:
        """The indicators ``event`` matches, in :data:`FIELDS` order, each indicator once (in the
        first field it matched in). Never raises on odd values: what is not text is skipped."""
        found: list[Match] = []
        if self._url_on:  # a web server's request line has no host: no URL to look up
            original = event.get("url.original")
            if "url.domain" in event or "url.full" in event or (
                    original.__class__ is str and "://" in original):
                self._url(event, found)
        fields = self._watched.intersection(event)
        if not fields:
            return found
        caches = self._caches
        # the cache look-ups inline: a call would cost as much as the look-up itself
        for field in fields:
            value = event[field]
            cache = caches.get(field)
            if cache is None:
                self._other(field, value, event, found)
            elif value.__class__ is str:
                hit = cache.get(value)
                if hit is None:
                    hit = self._miss(field, value)
                if hit:
                    found += self._matches(hit, field, value)
            elif value.__class__ is list:
                for item in value:
                    if item.__class__ is str:
                        hit = cache.get(item)
                        if hit is None:
                            hit = self._miss(field, item)
                        if hit:
                            found += self._matches(hit, field, item)
        if len(found) > 1:
            return _ordered(found)
        return found

    def _miss(self, field: str, text: str) -> Records:
        """Look ``text`` up for real, and remember the answer."""
        cache = self._caches[field]
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        hit = cache[text] = self._lookups[field](text)
        return hit

    def _other(self, field: str, value: object, event: Event, found: list[Match]) -> None:
        """A value made of several (Sysmon's ``Hashes`` and ``QueryResults``); one that matched
        nothing is remembered as such (the same binaries run again and again)."""
        clean = self._clean
        if isinstance(value, str):
            if value in clean:
                return
            texts = [value]
        elif isinstance(value, list):
            texts = [v for v in value if isinstance(v, str) and v not in clean]
        else:
            return
        check, expand = self._checks[field]
        for text in texts:
            before = len(found)
            for item in expand(text):
                hit = check(item, event)
                if hit:
                    found += self._matches(hit, field, item)
            if len(found) == before:
                if len(clean) >= CACHE_SIZE:
                    clean.clear()
                clean.add(text)  # the index never changes: nor does the answer

    def _url(self, event: Event, found: list[Match]) -> None:
        """``url.full`` when absolute, else ``url.original`` (a path-only one on ``url.domain``),
        else ``url.domain`` + ``url.path`` + ``url.query``."""
        full = event.get("url.full")
        if isinstance(full, str) and "://" in full:
            field, atomic, hit = "url.full", full, self._absolute(full)
        elif isinstance(original := event.get("url.original"), str):
            field, atomic = "url.original", original
            hit = self._absolute(original) if "://" in original \
                else self._relative(original, event)
        elif isinstance(path := event.get("url.path"), str):
            query = event.get("url.query")
            field, atomic = "url.path", path
            hit = self._relative(f"{path}?{query}" if isinstance(query, str) and query else path,
                                 event)
        else:
            return
        if hit:
            found += self._matches(hit, field, atomic)

    # --- the checks: a text value of the event → the records it matches -------------------

    def _host(self, text: str, event: Event) -> Records:
        """An address or a name (of Sysmon's ``QueryResults``), through the cache."""
        hit = self._host_cache.get(text)
        if hit is None:
            hit = _remember(self._host_cache, text, self._host_lookup(text))
        return hit

    def _ip_lookup(self, version: int, number: int) -> Records:
        found = _NO  # a new tuple only on a hit: most addresses match nothing
        if version == 4 or number >> 32 == 0xFFFF:  # an IPv4-mapped address is its IPv4 one
            v4 = number & 0xFFFFFFFF
            if v4 >> 8 in self._v4_cover:  # one probe instead of one per prefix length
                for shift, nets in self._v4_narrow:
                    hit = nets.get(v4 >> shift)
                    if hit:
                        found += hit
            for shift, nets in self._v4_wide:
                hit = nets.get(v4 >> shift)
                if hit:
                    found += hit
        if version == 6:
            for shift, nets in self._v6:
                hit = nets.get(number >> shift)
                if hit:
                    found += hit
        return found

    def _host_lookup(self, text: str) -> Records:
        """What an address or a name matches (the cache's miss)."""
        if text[-1:].isdigit():  # an IPv4 address as parsers write it: the common case first
            try:
                return self._ip_lookup(4, int.from_bytes(inet_pton(AF_INET, text), "big"))
            except (OSError, ValueError):
                pass  # no top-level domain is all digits: an odd address, or junk
        elif ":" in text:
            parsed = _address(text)
            if parsed is not None:
                return self._ip_lookup(*parsed)
        name = text.strip().rstrip(".").lower()
        if not name or len(name) > 253:
            return _NO
        if name[0] == "[" or ":" in name or name[-1].isdigit():
            parsed = _address(name)
            if parsed is not None:
                return self._ip_lookup(*parsed)
            head, _, port = name.rpartition(":")  # name:port
            if head and port.isdigit():
                name = head.rstrip(".")
        if not name.isascii():
            try:
                name = name.encode("idna").decode("ascii")
            except UnicodeError:
                return _NO
        return self._domain_walk(name) if self._domains else _NO

    def _domain_walk(self, name: str) -> Records:
        """``name`` and its parents down to two labels (``a.b.evil.com``, ``b.evil.com``,
        ``evil.com``): a listed domain covers its subdomains, never its parents."""
        found: list[int] = []
        domains = self._domains
        while True:
            found += domains.get(name, _NO)
            dot = name.find(".")
            if dot < 0 or name.find(".", dot + 1) < 0:
                break
            name = name[dot + 1:]
        return tuple(found) if found else _NO

    def _absolute(self, url: str) -> Records:
        parts = _URL_PARTS.match(url)
        if parts is None or (parts.group(2) or "/") not in self._url_paths \
                or _bare(parts.group(1)) not in self._url_hosts:
            return _NO  # the cheap test that spares normalising every URL
        return self._url_lookup(url)

    def _relative(self, path: str, event: Event) -> Records:
        """A path-only URL (a web server's request line) on the event's ``url.domain``."""
        domain = event.get("url.domain")
        if not isinstance(domain, str):
            return _NO  # an access log's request line: no host, nothing to complete it with
        path = path if path.startswith("/") else "/" + path
        end = len(path)
        for sep in "?#":
            at = path.find(sep)
            end = at if 0 <= at < end else end
        if path[:end] not in self._url_paths or _bare(domain) not in self._url_hosts:
            return _NO
        port = event.get("url.port")
        scheme = event.get("url.scheme")
        if not isinstance(scheme, str) or not scheme:
            scheme = "https" if str(port) == "443" else "http"
        netloc = f"{domain}:{port}" if isinstance(port, (int, str)) and port else domain
        return self._url_lookup(f"{scheme}://{netloc}{path}")

    def _url_lookup(self, url: str) -> Records:
        try:
            norm = normalize_url(url)
        except IndicatorError:
            return _NO
        key = norm[norm.find("://") + 3:]  # the scheme does not count: logs often lack it
        found = self._urls.get(key, _NO)
        if "?" in key:  # a listed URL without a query matches the URL with any query
            found += self._urls.get(key[:key.find("?")], _NO)
        return found

    def _hash(self, text: str, event: Event) -> Records:
        return self._hashes.get(text.lower(), _NO)


def _record(key: Key) -> IndicatorRecord:
    kind, value, until, expired = key
    return IndicatorRecord(kind, value, {}, added="", updated="", expired=expired,
                           valid_until=until)


def _remember(cache: dict[str, Records], text: str, hit: Records) -> Records:
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[text] = hit
    return hit


def _buckets(table: dict[int, dict[int, Records]],
             bits: int) -> list[tuple[int, dict[int, Records]]]:
    """Per prefix length, most specific first: (shift, network number >> shift → records)."""
    return [(bits - plen, table[plen]) for plen in sorted(table, reverse=True)]


def _covered(net: int, plen: int) -> range:
    """The /24s (address >> 8) of the IPv4 network ``net >> (32 - plen)``/``plen`` (at most 16:
    only networks of /20 and longer are covered this way)."""
    first = net << (32 - plen) >> 8
    return range(first, first + (1 << max(0, 24 - plen)))


def _network(text: str) -> tuple[int, int, int]:
    """(4 or 6, the network's first address as a number, the prefix length) of an address or a
    CIDR; raises :class:`IndicatorError`. (:mod:`ipaddress` takes ten times as long: a build of
    100,000 indicators is timed in every pass.)"""
    address, slash, length = text.partition("/")
    parsed = _address(address)
    if parsed is None:
        raise IndicatorError(f"not an IP address or network: {text[:80]!r}")
    version, number = parsed
    bits = 32 if version == 4 else 128
    plen = int(length) if slash and length.isdigit() and len(length) <= 3 else -1 if slash \
        else bits
    if not 0 <= plen <= bits:
        raise IndicatorError(f"not an IP network: {text[:80]!r}")
    return version, number >> (bits - plen) << (bits - plen), plen


def _address(text: str) -> tuple[int, int] | None:
    """(4 or 6, the address as a number) of an address text, else None."""
    try:
        if ":" in text:
            text = text.strip("[]")
            if "%" in text:  # fe80::1%eth0: the zone names no other address
                text = text[:text.find("%")]
            return 6, int.from_bytes(inet_pton(AF_INET6, text), "big")
        return 4, int.from_bytes(inet_pton(AF_INET, text), "big")
    except (OSError, ValueError):
        return None


def _bare(host: str) -> str:
    """A URL's host as :func:`normalize_url` writes it, without brackets or trailing dot."""
    return host.strip("[]").rstrip(".").lower()


def _sysmon_hashes(text: str) -> list[str]:
    """The file hashes of Sysmon's ``Hashes`` (``SHA1=..,MD5=..,SHA256=..,IMPHASH=..``); a bare
    hash is itself."""
    if "=" not in text:
        return [text.strip()]
    out = []
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip().upper() in _HASH_NAMES:
            out.append(value.strip())
    return out


def _query_results(text: str) -> list[str]:
    """The names and addresses of Sysmon's DNS ``QueryResults``: ``type:  5 cdn.example;
    ::ffff:192.0.2.7;`` (a CNAME's target is written after its record type)."""
    out = []
    for part in text.split(";"):
        part = part.strip()
        if part.startswith("type:"):
            part = part.rsplit(" ", 1)[-1] if " " in part[5:].strip() else ""
        if part:
            out.append(part)
    return out


def _ordered(found: list[Match]) -> list[Match]:
    """``found`` in :data:`FIELDS` order, each record once (in its first field)."""
    found.sort(key=lambda m: _ORDER[m.field])
    seen: set[int] = set()
    out = []
    for match in found:
        if id(match.record) not in seen:
            seen.add(id(match.record))
            out.append(match)
    return out

