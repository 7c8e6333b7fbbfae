"""The in-memory index of the live indicators that every event is looked up in, as it streams.

It is the hot path of the pipeline: every event of every pass goes through :meth:`match`, and the
cost of an event that matches nothing must not grow with the number of indicators (about 2-3 µs
an event on this project's machine, 1 µs when the event is still in the CPU's cache: see
``benchmarks/intel_match.py`` and docs/benchmarks.md):

* only the fields of :data:`FIELDS` that the event has *and* that some loaded indicator type can
  match are looked at: which ones, each with its kind's cache and look-up, and whether the event
  has a URL to look at, is remembered per shape of event (its keys in their order: a source
  writes a few shapes); an event costs a tuple of its keys and one probe (about what one
  intersection of its keys with those fields cost), and no probe per field or URL field;
* every look-up is a dict or set probe: an IPv4 address by its text against the listed addresses,
  then, without converting it, its /24's text against the /24s that the /20-to-/31 networks
  cover (those networks are probed only then), and the wider networks by number, one probe per
  prefix length present (100,000 CIDRs cost as many probes as there are distinct prefix
  lengths); an IPv6 address by number per prefix length; a name against itself and its parent
  domains;
* each text is looked up once: the answer (usually "no indicator") is kept in a bounded cache per
  kind of value, emptied when full (:data:`CACHE_SIZE`);
* a URL is normalised (:func:`~soc.intel.model.normalize_url`) only when its host and path are
  those of a listed URL.

The index is immutable once built (a new set of indicators makes a new index), so what it
remembers never goes stale. It is also cheap to read back from disk (:meth:`to_plain`,
:mod:`soc.intel.index_cache`): its records are four columns whose repeated texts are one object
each, and a table holds the position of its usual single record as an int, not a tuple.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Sequence
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton
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

SHAPES = 4096
"""Distinct shapes of event (their keys) whose watched fields are kept; emptied when full."""

_ORDER = {name: n for n, name in enumerate(FIELDS)}
_HASH_NAMES = frozenset({"MD5", "SHA1", "SHA256"})
_URL_PARTS = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^:/?#]*)(?::[0-9]*)?([^?#]*)")
"""An absolute URL's host and path (the parts :func:`normalize_url` leaves as they are but for
the host's case)."""
_NO: tuple[int, ...] = ()
_URL, _ABSOLUTE = 1, 2  # an event's URL: looked at; looked at when url.original is absolute
_NARROW = 20  # IPv4 networks this long or longer are found through their /24s (16 at most)

Records = tuple[int, ...]
"""What a look-up found: positions in the index's columns of records (its records are made from
them when an event matches, so that an index read back from disk makes no 100,000 objects)."""
Slot = int | tuple[int, ...]
"""The positions a table holds for one key: the one int of the usual single record (no tuple to
make when the index is read back), a tuple when several records share the key (:func:`_at`)."""
Key = tuple[str, str, "str | None", "str | None"]
"""A record as the index keeps it: type, value, valid until, expired (``indicator_key``)."""
Check = Callable[[str, Event], Records]
Plan = tuple[int, tuple[tuple[str, "dict[str, Records] | None", Callable[[str], Records]], ...]]
"""How an event of one shape is looked up (:meth:`IndicatorIndex._plan`)."""
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
        # the records, in columns (position → type, value, valid until, expired): the texts
        # that repeat (types, validity ends) are one object each, which the kept file stores
        # once (marshal writes a reference to an object it has already written)
        self._kinds: list[str] = []
        self._values: list[str] = []
        self._until: list[str | None] = []
        self._expired: list[str | None] = []
        self._made: dict[int, IndicatorRecord] = {}  # position → its record, once made
        self._types: frozenset[str] = frozenset()
        # IPv4 addresses (/32) by their text as inet_pton accepts it (one form per address):
        # the address an event names is looked up as it is written, without a conversion
        self._v4_exact: dict[str, Slot] = {}
        # networks per prefix length, most specific first: (shift, network number >> shift →
        # records); IPv4 split at /20: the narrow ones (/20-/31) are probed only when the
        # address's /24 is covered, which its text tells ("192.0.2" of "192.0.2.7")
        self._v4_narrow: list[tuple[int, dict[int, Slot]]] = []
        self._v4_wide: list[tuple[int, dict[int, Slot]]] = []
        self._v4_cover: set[str] = set()  # the /24s ("a.b.c") narrow networks overlap
        self._v6: list[tuple[int, dict[int, Slot]]] = []
        self._domains: dict[str, Slot] = {}
        self._urls: dict[str, Slot] = {}  # normalised URL without its scheme → records
        self._url_hosts: set[str] = set()  # the hosts and the paths of the listed URLs
        self._url_paths: set[str] = set()
        self._hashes: dict[str, Slot] = {}
        self._emails: dict[str, Slot] = {}
        self._ja3: dict[str, Slot] = {}
        self._ja4: dict[str, Slot] = {}
        self._agents: dict[str, Slot] = {}
        # field → the cache of its kind's answers (text → records): one per kind, shared by
        # the fields of that kind; the URL fields and the values made of several have none
        self._caches: dict[str, dict[str, Records]] = {}
        self._host_cache: dict[str, Records] = {}  # the one of addresses and names
        self._lookups: dict[str, Callable[[str], Records]] = {}  # field → answer on a miss
        self._checks: dict[str, tuple[Check, Expand]] = {}  # values made of several
        self._clean: set[str] = set()  # values made of several that match nothing
        self._watched: frozenset[str] = frozenset()  # fields looked at but the URL ones
        # the event's keys (in their order) → the watched fields among them: events of a source
        # share a few shapes, and a tuple of the keys is cheaper than intersecting them again
        self._shapes: dict[tuple[str, ...], Plan] = {}
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
        nets: dict[tuple[int, int], dict[int, Slot]] = {}  # (version, length) → networks
        tables = {"domain": index._domains, "url": index._urls, "md5": index._hashes,
                  "sha1": index._hashes, "sha256": index._hashes, "email": index._emails,
                  "ja3": index._ja3, "ja4": index._ja4, "user-agent": index._agents}
        shared: dict[str, str] = {}  # one object per distinct type and end of validity
        for record in records:
            if not record.live(now):
                continue
            try:
                table, key = index._place(record, nets, tables)
            except (IndicatorError, ValueError) as exc:
                index.unusable.append((record, str(exc) or "not indexable"))
                continue
            found = table.get(key)
            at = len(index._values)
            table[key] = at if found is None else (*_at(found), at)
            index._kinds.append(shared.setdefault(record.type, record.type))
            index._values.append(record.value)
            until, expired = record.valid_until, record.expired
            index._until.append(None if until is None else shared.setdefault(until, until))
            index._expired.append(None if expired is None else shared.setdefault(expired, expired))
            index._made[at] = record
        v4 = {plen: t for (version, plen), t in nets.items() if version == 4}
        index._v4_narrow = _buckets({n: t for n, t in v4.items() if n >= _NARROW}, 32)
        index._v4_wide = _buckets({n: t for n, t in v4.items() if n < _NARROW}, 32)
        index._v4_cover = {f"{c >> 16}.{c >> 8 & 255}.{c & 255}" for plen, t in v4.items()
                           if plen >= _NARROW for net in t for c in _covered(net, plen)}
        index._v6 = _buckets({plen: t for (version, plen), t in nets.items() if version == 6},
                             128)
        index._types = frozenset(index._kinds)
        index._wire()
        return index

    # --- kept on disk between passes (soc.intel.index_cache) -----------------------------

    def to_plain(self) -> dict[str, Any]:
        """The index as plain data (dicts, lists, tuples, sets, text and numbers: what
        :mod:`marshal` writes), without its caches: :meth:`from_plain` reads it back in a tenth
        of the time a build takes."""
        return {"kinds": self._kinds, "values": self._values, "until": self._until,
                "expired": self._expired, "types": set(self._types),
                "v4_exact": self._v4_exact, "v4_narrow": self._v4_narrow,
                "v4_wide": self._v4_wide,
                "v4_cover": self._v4_cover, "v6": self._v6, "domains": self._domains,
                "urls": self._urls, "url_hosts": self._url_hosts, "url_paths": self._url_paths,
                "hashes": self._hashes, "emails": self._emails, "ja3": self._ja3,
                "ja4": self._ja4, "agents": self._agents,
                "unusable": [(r.type, r.value, r.valid_until, r.expired, why)
                             for r, why in self.unusable]}

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> IndicatorIndex:
        """The index :meth:`to_plain` gave (raises KeyError, TypeError or ValueError on other
        data). What marshal made is used as it is (checked, not copied: copies of 100,000
        entries are a tenth of the read)."""
        index = cls()
        columns = [_typed(plain[name], list) for name in ("kinds", "values", "until", "expired")]
        if len({len(column) for column in columns}) != 1:
            raise ValueError("columns of different lengths")
        index._kinds, index._values, index._until, index._expired = columns
        index._types = frozenset(plain["types"])
        for name in ("v4_narrow", "v4_wide", "v6"):
            setattr(index, "_" + name, [(int(shift), _typed(table, dict))
                                        for shift, table in plain[name]])
        index._v4_cover = _typed(plain["v4_cover"], set)
        for name in ("v4_exact", "domains", "urls", "hashes", "emails", "ja3", "ja4", "agents"):
            setattr(index, "_" + name, _typed(plain[name], dict))
        index._url_hosts = _typed(plain["url_hosts"], set)
        index._url_paths = _typed(plain["url_paths"], set)
        index.unusable = [(_record((kind, value, until, expired)), why)
                          for kind, value, until, expired, why in plain["unusable"]]
        index._wire()
        return index

    def _record(self, at: int) -> IndicatorRecord:
        """The record at position ``at``, made on first use."""
        record = self._made.get(at)
        if record is None:
            record = self._made[at] = _record(
                (self._kinds[at], self._values[at], self._until[at], self._expired[at]))
        return record

    def _matches(self, hit: Records, field: str, atomic: str) -> list[Match]:
        return [Match(self._record(at), field, atomic) for at in hit]

    def _place(self, record: IndicatorRecord, nets: dict[tuple[int, int], dict[int, Slot]],
               tables: dict[str, dict[str, Slot]]) -> tuple[dict[Any, Slot], Any]:
        """The table ``record`` goes in, and its key there."""
        kind, value = record.type, record.value
        if kind in ("ipv4", "ipv6"):
            version, number, plen = _network(value)
            if version == 6 and plen >= 96 and number >> 32 == 0xFFFF:  # ::ffff:a.b.c.d/n
                version, number, plen = 4, number & 0xFFFFFFFF, plen - 96
            if version == 4 and plen == 32:
                text = inet_ntop(AF_INET, number.to_bytes(4, "big"))
                return self._v4_exact, value if value == text else text
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
            "hash": lambda t: _at(self._hashes.get(t.strip().lower())),
            "email": lambda t: _at(self._emails.get(t.strip(" <>").lower())),
            "ja3": lambda t: _at(self._ja3.get(t.strip().lower())),
            "ja4": lambda t: _at(self._ja4.get(t.strip().lower())),
            "user-agent": lambda t: _at(self._agents.get(t))}
        caches: dict[str, dict[str, Records]] = {k: {} for k in lookups}
        caches["ip"] = self._host_cache = caches["host"]  # an address is one in either kind
        watched = [f for f, k in FIELDS.items() if KIND_TYPES[k] & types and k != "url"]
        cached = [f for f in watched if FIELDS[f] in lookups and f not in self._checks]
        self._caches = {f: caches[FIELDS[f]] for f in cached}
        self._lookups = {f: lookups[FIELDS[f]] for f in cached}
        self._watched = frozenset(watched)
        self._url_on = "url" in types

    def __len__(self) -> int:
        return len(self._values)

    @property
    def empty(self) -> bool:
        return not self._values

    @property
    def records(self) -> Sequence[IndicatorRecord]:
        """The indexed (live, usable) records."""
        return [self._record(at) for at in range(len(self._values))]

    def next_end(self, now: str) -> str | None:
        """The soonest end of validity (``valid_until``, or an ``expired`` after ``now``) among
        the indexed records: the index stands until then."""
        ends = [until for until in self._until if until is not None]
        ends += [gone for gone in self._expired if gone is not None and gone > now]
        return min(ends) if ends else None

    def match(self, event: Event) -> list[Match]:
        """The indicators ``event`` matches, in :data:`FIELDS` order, each indicator once (in the
        first field it matched in). Never raises on odd values: what is not text is skipped."""
        found: list[Match] = []
        shape = tuple(event)
        plan = self._shapes.get(shape)
        if plan is None:
            plan = self._plan(shape)
        url, fields = plan
        # a web server's request line has no host: no URL to look up
        if url and (url == _URL or ((original := event["url.original"]).__class__ is str
                                    and "://" in original)):
            self._url(event, found)
        # the cache look-ups inline: a call would cost as much as the look-up itself
        for field, cache, lookup in fields:
            value = event[field]
            if cache is None:
                self._other(field, value, event, found)
            elif value.__class__ is str:
                hit = cache.get(value)
                if hit is None:
                    hit = _remember(cache, value, lookup(value))
                if hit:
                    found += self._matches(hit, field, value)
            elif value.__class__ is list:
                for item in value:
                    if item.__class__ is str:
                        hit = cache.get(item)
                        if hit is None:
                            hit = _remember(cache, item, lookup(item))
                        if hit:
                            found += self._matches(hit, field, item)
        if len(found) > 1:
            return _ordered(found)
        return found

    def _plan(self, shape: tuple[str, ...]) -> Plan:
        """How to look up an event whose keys are ``shape``, remembered for the next event of
        that shape: whether it has a URL to look at (:data:`_URL`: a host or a full URL;
        :data:`_ABSOLUTE`: ``url.original`` only, looked at when absolute), and its watched
        fields, each with its kind's cache and look-up (none for the values made of several)."""
        shapes = self._shapes
        if len(shapes) >= SHAPES:
            shapes.clear()
        url = 0
        if self._url_on:
            url = _URL if "url.domain" in shape or "url.full" in shape \
                else _ABSOLUTE if "url.original" in shape else 0
        plan = shapes[shape] = (url, tuple(
            (f, self._caches.get(f), self._lookups.get(f, _nothing))
            for f in shape if f in self._watched))
        return plan

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

    def _v4(self, text: str, packed: bytes) -> Records:
        """An IPv4 address: ``text`` as inet_pton accepts it (no leading zero, no space: one
        text per address), ``packed`` its four bytes."""
        hit = self._v4_exact.get(text)
        found = _NO if hit is None else _at(hit)  # a new tuple only on a hit: most match nothing
        if self._v4_narrow and text[:text.rfind(".")] in self._v4_cover:
            v4 = int.from_bytes(packed, "big")  # one probe instead of one per prefix length
            for shift, nets in self._v4_narrow:
                hit = nets.get(v4 >> shift)
                if hit is not None:
                    found += _at(hit)
        if self._v4_wide:
            v4 = int.from_bytes(packed, "big")
            for shift, nets in self._v4_wide:
                hit = nets.get(v4 >> shift)
                if hit is not None:
                    found += _at(hit)
        return found

    def _ip_lookup(self, version: int, number: int) -> Records:
        """An address given as a number (IPv6, or an IPv4 one written oddly)."""
        found = _NO
        if version == 4 or number >> 32 == 0xFFFF:  # an IPv4-mapped address is its IPv4 one
            packed = (number & 0xFFFFFFFF).to_bytes(4, "big")
            found = self._v4(inet_ntop(AF_INET, packed), packed)
        if version == 6:
            for shift, nets in self._v6:
                hit = nets.get(number >> shift)
                if hit is not None:
                    found += _at(hit)
        return found

    def _host_lookup(self, text: str) -> Records:
        """What an address or a name matches (the cache's miss)."""
        if text[-1:].isdigit():  # an IPv4 address as parsers write it: the common case first
            try:
                packed = inet_pton(AF_INET, text)
            except (OSError, ValueError):
                pass  # no top-level domain is all digits: an odd address, or junk
            else:
                return self._v4(text, packed)
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
            hit = domains.get(name)
            if hit is not None:
                found += _at(hit)
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
        found = _at(self._urls.get(key))
        if "?" in key:  # a listed URL without a query matches the URL with any query
            found += _at(self._urls.get(key[:key.find("?")]))
        return found

    def _hash(self, text: str, event: Event) -> Records:
        return _at(self._hashes.get(text.lower()))


def _record(key: Key) -> IndicatorRecord:
    kind, value, until, expired = key
    return IndicatorRecord(kind, value, {}, added="", updated="", expired=expired,
                           valid_until=until)


def _at(slot: Slot | None) -> Records:
    """The positions a table's ``slot`` holds (none for a key it does not hold)."""
    if slot is None:
        return _NO
    return (slot,) if isinstance(slot, int) else slot


def _typed(value: Any, kind: type) -> Any:
    """``value``, which must be a ``kind`` (a kept file is checked as it is read)."""
    if not isinstance(value, kind):
        raise TypeError(f"{kind.__name__} expected, not {type(value).__name__}")
    return value


def _nothing(text: str) -> Records:
    """The look-up of the fields that have none of their own (values made of several)."""
    return _NO


def _remember(cache: dict[str, Records], text: str, hit: Records) -> Records:
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[text] = hit
    return hit


def _buckets(table: dict[int, dict[int, Slot]],
             bits: int) -> list[tuple[int, dict[int, Slot]]]:
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

