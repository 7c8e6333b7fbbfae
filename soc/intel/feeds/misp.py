"""MISP → indicators: MISP feeds (a ``manifest.json`` and one ``<uuid>.json`` per event, over
HTTPS or in a folder) and the MISP REST API (``/attributes/restSearch``).

What an attribute becomes (docs/threat-intel.md, "MISP"):

* **types** (:data:`ATTRIBUTE_TYPES`): addresses, ``…|port``, domains and host names, ``domain|ip``
  (two indicators), URLs (a ``uri`` only when it holds a host), md5/sha1/sha256 and their
  ``filename|…`` forms, e-mail addresses, JA3, user agents, and JA4 from the ``ja4-plus`` object
  (MISP has no JA4 attribute type: the object's ``ja4-fingerprint`` is a ``text`` attribute).
  Other types (``link``, ``comment``, ``text``, ``filename``…) name no matchable thing and are
  passed over without a word; a value that is not what its type says is skipped with the reason.
* only ``to_ids`` attributes (MISP's own "use for detection" flag) unless ``all_attributes``;
  ``deleted`` attributes and objects never;
* **first/last seen** from the attribute's ``first_seen``/``last_seen`` when set, else the event's
  ``date`` and ``timestamp``; **valid until** now + the type's lifetime (MISP gives no end);
* **TLP** from the attribute's ``tlp:`` tags, else the event's (the stricter when there are two);
* **confidence** from a ``misp:confidence-level`` tag (the taxonomy's numerical values 100, 75,
  50, 25, 0), else an ``estimative-language:confidence-in-analytic-judgment`` tag, else the event's
  ``threat_level_id``; the last two on STIX 2.1's Low/Med/High scale (appendix A): high 85,
  moderate/medium 50, low 15 (threat level 4, "undefined", gives none). The attribute's tags win
  over the event's;
* **tags**: every other tag and galaxy cluster of the event and the attribute; **description**: the
  event's ``info``; **reference**: ``misp:event/<uuid>``.

Increments: a feed's cursor is the newest manifest ``timestamp`` read; the next pull fetches only
the events whose timestamp is newer. An event that cannot be fetched (unreachable, HTTP error,
missing file) holds the cursor below its timestamp so the next pull tries it again; one that is
fetched but unreadable is skipped for good. The API's cursor is the newest attribute
``timestamp`` seen, sent back as restSearch's ``timestamp`` filter (inclusive: the attributes of
that second come again, which the store's merge makes harmless).
"""

from __future__ import annotations

import json
import os
import re
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from soc.ecs import format_ts, normalize_ts
from soc.intel.feeds.result import FeedResult
from soc.intel.http import FeedError, fetch, where
from soc.intel.model import Indicator, IndicatorError, ip_kind, normalize, stricter_tlp, tlp_of

ATTRIBUTE_TYPES: Mapping[str, tuple[str, ...]] = {
    "ip-src": ("ip",), "ip-dst": ("ip",), "ip-src|port": ("ip", "port"),
    "ip-dst|port": ("ip", "port"), "domain": ("domain",), "hostname": ("domain",),
    "hostname|port": ("domain", "port"), "domain|ip": ("domain", "ip"), "url": ("url",),
    "uri": ("uri",), "md5": ("md5",), "sha1": ("sha1",), "sha256": ("sha256",),
    "filename|md5": ("filename", "md5"), "filename|sha1": ("filename", "sha1"),
    "filename|sha256": ("filename", "sha256"), "email": ("email",), "email-src": ("email",),
    "email-dst": ("email",), "ja3-fingerprint-md5": ("ja3",), "user-agent": ("user-agent",),
}
"""MISP attribute type → what each ``|``-separated part of its value is (``port`` and
``filename`` parts go to the indicator's ``extra``)."""

THREAT_LEVELS = {"1": 85, "2": 50, "3": 15}
"""``threat_level_id`` (1 high, 2 medium, 3 low, 4 undefined) → confidence."""
CONFIDENCE_TAGS = {
    ("misp", "confidence-level"): {"completely-confident": 100, "usually-confident": 75,
                                   "fairly-confident": 50, "rarely-confident": 25,
                                   "unconfident": 0},
    ("estimative-language", "confidence-in-analytic-judgment"): {"high": 85, "moderate": 50,
                                                                 "low": 15},
}
PAGE_SIZE = 1000
MAX_PAGES = 10_000

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TAG = re.compile(r'([^:="]+):([^="]+)="?([^"]*)"?')


@dataclass(frozen=True)
class _Options:
    """What every attribute of one read shares."""

    source: str
    now: datetime
    lifetimes: Mapping[str, timedelta] | None
    all_attributes: bool
    confidence: int | None
    tlp: str | None


@dataclass(frozen=True)
class _Event:
    """The event an attribute belongs to, as far as its indicators need it."""

    uuid: str
    info: str = ""
    first_seen: str | None = None
    last_seen: str | None = None
    tags: tuple[str, ...] = ()
    threat_level: str = ""
    org: str = ""


# --- MISP feeds ----------------------------------------------------------------------------


def read_feed(base: str, *, source: str, since_cursor: str | None = None,
              lifetimes: Mapping[str, timedelta] | None = None, now: datetime,
              context: ssl.SSLContext | None = None, headers: Mapping[str, str] | None = None,
              timeout: float = 60.0, all_attributes: bool = False,
              confidence: int | None = None, tlp: str | None = None) -> FeedResult:
    """Read the events of the MISP feed at ``base`` (an http(s) URL or a folder) newer than
    ``since_cursor``. ``confidence`` and ``tlp`` are the feed's defaults for attributes that give
    none. Raises :class:`FeedError` when the manifest cannot be read."""
    opts = _Options(source, now, lifetimes, all_attributes, confidence, tlp)
    get = _getter(base, context=context, headers=headers, timeout=timeout)
    since = _cursor(since_cursor)
    result = FeedResult()
    manifest = _json(get("manifest.json"), f"{_show(base)}/manifest.json")
    if not isinstance(manifest, dict):
        raise FeedError(f"{_show(base)}/manifest.json is not a MISP feed manifest",
                        hint="point the feed at the folder or URL holding manifest.json")
    done: list[int] = []
    held: list[int] = []
    for stamp, uuid, meta in _pending(manifest, since, result):
        try:
            raw = get(f"{uuid}.json")
        except FeedError as exc:
            held.append(stamp)
            result.skipped.append((f"event {uuid}", exc.message))
            continue
        done.append(stamp)
        _read_event(raw, uuid, meta, opts, result)
    limit = min(held) if held else None
    newest = max((s for s in done if limit is None or s < limit), default=since)
    result.cursor = str(newest) if newest is not None else None
    return result


def _getter(base: str, *, context: ssl.SSLContext | None,
            headers: Mapping[str, str] | None, timeout: float) -> Callable[[str], bytes]:
    """A function name → bytes reading the feed's files over HTTP(S) or from its folder."""
    if base.startswith(("http://", "https://")):
        root = base.rstrip("/")

        def get_url(name: str) -> bytes:
            return fetch(f"{root}/{name}", headers=headers, context=context,
                         timeout=timeout).body
        return get_url
    folder = Path(base)

    def get_file(name: str) -> bytes:
        try:
            return (folder / name).read_bytes()
        except OSError as exc:
            raise FeedError(f"cannot read {folder / name}: {exc.strerror or exc}",
                            hint="check the feed's path and its permissions") from None
    return get_file


def _cursor(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise FeedError(f"MISP cursor {text[:40]!r} is not a UNIX time",
                        hint="reset the feed's cursor to pull it whole again") from None


def _pending(manifest: dict[str, Any], since: int | None,
             result: FeedResult) -> list[tuple[int, str, dict[str, Any]]]:
    """The manifest's events newer than ``since``, oldest first."""
    found = []
    for uuid, meta in manifest.items():
        if not _UUID.fullmatch(str(uuid)) or not isinstance(meta, dict):
            result.skipped.append((f"manifest entry {str(uuid)[:60]!r}", "not an event uuid"))
            continue
        stamp = _int(meta.get("timestamp"))
        if stamp is None:
            result.skipped.append((f"event {uuid}", "no timestamp in the manifest"))
            continue
        if since is None or stamp > since:
            found.append((stamp, str(uuid), meta))
    return sorted(found, key=lambda x: (x[0], x[1]))


def _read_event(raw: bytes, uuid: str, meta: dict[str, Any], opts: _Options,
                result: FeedResult) -> None:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        result.skipped.append((f"event {uuid}", f"not JSON: {exc}"))
        return
    _one_event(doc, uuid, meta, opts, result)


def _one_event(doc: Any, uuid: str, meta: dict[str, Any], opts: _Options,
               result: FeedResult) -> None:
    data = doc.get("Event", doc) if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        result.skipped.append((f"event {uuid}", "no Event object"))
        return
    event = _event(data, uuid, meta)
    for attr, obj in _attributes(data):
        _take(attr, obj, event, opts, result, inherited=False)


def read_event(data: bytes, *, source: str, lifetimes: Mapping[str, timedelta] | None = None,
               now: datetime, all_attributes: bool = False, confidence: int | None = None,
               tlp: str | None = None) -> FeedResult:
    """A MISP export read once (``soc intel add``): one event (``{"Event": …}``, a feed's
    ``<uuid>.json``), a list of them or an events restSearch answer (``{"response": […]}``), or
    an attributes restSearch answer. Raises :class:`FeedError` when it is none of these."""
    opts = _Options(source, now, lifetimes, all_attributes, confidence, tlp)
    doc = _json(data, "the MISP document")
    result = FeedResult()
    answer = doc.get("response") if isinstance(doc, dict) and "response" in doc else doc
    if isinstance(answer, dict) and isinstance(answer.get("Attribute"), list) \
            and "Event" not in answer and "uuid" not in answer:
        for attr in answer["Attribute"]:
            _take(attr, None, _api_event(attr), opts, result, inherited=True)
        return result
    events = answer if isinstance(answer, list) else [answer]
    if not all(isinstance(e, dict) and ("Event" in e or "Attribute" in e) for e in events):
        raise FeedError("not a MISP event, event list or restSearch answer",
                        hint="export the event as MISP JSON")
    for number, doc_event in enumerate(events, 1):
        _one_event(doc_event, _event_uuid(doc_event) or f"#{number}", {}, opts, result)
    return result


def _event_uuid(doc: dict[str, Any]) -> str:
    data = doc.get("Event", doc)
    return str(data.get("uuid") or "") if isinstance(data, dict) else ""


def _event(data: dict[str, Any], uuid: str, meta: dict[str, Any]) -> _Event:
    tags = _tag_names(data.get("Tag")) or _tag_names(meta.get("Tag"))
    org = data.get("Orgc") or meta.get("Orgc")
    return _Event(
        uuid=str(data.get("uuid") or uuid), info=str(data.get("info") or meta.get("info") or ""),
        first_seen=_date(data.get("date") or meta.get("date")),
        last_seen=_stamp(data.get("timestamp") or meta.get("timestamp")),
        tags=tags + _galaxy_tags(data.get("Galaxy")),
        threat_level=str(data.get("threat_level_id") or meta.get("threat_level_id") or ""),
        org=str(org.get("name") or "") if isinstance(org, dict) else "")


def _attributes(data: dict[str, Any]) -> Iterator[tuple[Any, dict[str, Any] | None]]:
    """The event's attributes and its objects', each with its object (None: loose)."""
    for attr in _list(data.get("Attribute")):
        yield attr, None
    for obj in _list(data.get("Object")):
        if not isinstance(obj, dict) or _true(obj.get("deleted")):
            continue
        for attr in _list(obj.get("Attribute")):
            yield attr, obj


# --- MISP REST API -------------------------------------------------------------------------


def read_api(url: str, *, api_key: str | None = None, api_key_env: str | None = None,
             source: str, since_cursor: str | None = None,
             lifetimes: Mapping[str, timedelta] | None = None, now: datetime,
             context: ssl.SSLContext | None = None, timeout: float = 60.0,
             all_attributes: bool = False, confidence: int | None = None,
             tlp: str | None = None, page_size: int = PAGE_SIZE) -> FeedResult:
    """The attributes of the MISP instance at ``url`` changed since ``since_cursor``, through
    ``POST /attributes/restSearch`` page by page until a short page. The API key is ``api_key``,
    else read from the environment variable named ``api_key_env``."""
    key = api_key or (os.environ.get(api_key_env, "") if api_key_env else "")
    if not key:
        name = api_key_env or "api_key_env"
        raise FeedError(f"no MISP API key: the environment variable {name} is not set",
                        hint=f"export {name} for the job that pulls (cron, systemd unit)")
    opts = _Options(source, now, lifetimes, all_attributes, confidence, tlp)
    since = _cursor(since_cursor)
    result = FeedResult()
    newest = since
    for page in _pages(url, key, since, all_attributes, page_size, context, timeout):
        for attr in page:
            stamp = _int(attr.get("timestamp")) if isinstance(attr, dict) else None
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
            _take(attr, None, _api_event(attr), opts, result, inherited=True)
    result.cursor = str(newest) if newest is not None else None
    return result


def _pages(url: str, key: str, since: int | None, all_attributes: bool, size: int,
           context: ssl.SSLContext | None, timeout: float) -> Iterator[list[Any]]:
    endpoint = url.rstrip("/") + "/attributes/restSearch"
    headers = {"Authorization": key, "Accept": "application/json",
               "Content-Type": "application/json"}
    seen: set[str] = set()
    for number in range(1, MAX_PAGES + 1):
        query: dict[str, Any] = {"returnFormat": "json", "page": number, "limit": size,
                                 "includeEventTags": True, "includeEventUuid": True}
        if not all_attributes:
            query["to_ids"] = True
        if since is not None:
            query["timestamp"] = str(since)
        answer = fetch(endpoint, method="POST", body=json.dumps(query).encode(), headers=headers,
                       context=context, timeout=timeout)
        page = _page(answer.body, endpoint)
        ids = {str(a.get("uuid")) for a in page if isinstance(a, dict) and a.get("uuid")}
        if number > 1 and ids and ids <= seen:
            raise FeedError(f"{where(endpoint)} sends the same attributes on every page",
                            hint="the MISP instance ignores paging: upgrade it")
        seen |= ids
        yield page
        if len(page) < size:
            return
    raise FeedError(f"{where(endpoint)}: more than {MAX_PAGES} pages",
                    hint="pull with a cursor (timestamp) or a larger page")


def _page(body: bytes, endpoint: str) -> list[Any]:
    doc = _json(body, where(endpoint))
    answer = doc.get("response") if isinstance(doc, dict) else None
    if isinstance(answer, dict) and isinstance(answer.get("Attribute", []), list):
        return list(answer.get("Attribute") or [])
    if isinstance(answer, list):  # older instances: a list of {"Attribute": {...}}
        return [x.get("Attribute") for x in answer if isinstance(x, dict)]
    raise FeedError(f"{where(endpoint)} answered something else than a restSearch result",
                    hint="check that the feed's url is the MISP instance's base URL")


def _api_event(attr: Any) -> _Event:
    data = attr.get("Event") if isinstance(attr, dict) else None
    data = data if isinstance(data, dict) else {}
    uuid = str(data.get("uuid") or (attr.get("event_uuid") if isinstance(attr, dict) else "")
               or "")
    return _Event(uuid=uuid, info=str(data.get("info") or ""),
                  first_seen=_date(data.get("date")), last_seen=_stamp(data.get("timestamp")),
                  threat_level=str(data.get("threat_level_id") or ""))


# --- one attribute -------------------------------------------------------------------------


def _take(attr: Any, obj: dict[str, Any] | None, event: _Event, opts: _Options,
          result: FeedResult, *, inherited: bool) -> None:
    """Add ``attr``'s indicators to ``result`` (or the reason to its skipped)."""
    if not isinstance(attr, dict):
        result.skipped.append((f"event {event.uuid}", "an attribute that is not an object"))
        return
    what = f"attribute {attr.get('uuid') or '?'} (event {event.uuid})"
    try:
        result.indicators += _indicators(attr, obj, event, opts, inherited=inherited)
    except IndicatorError as exc:
        result.skipped.append((what, str(exc)))


def _indicators(attr: dict[str, Any], obj: dict[str, Any] | None, event: _Event,
                opts: _Options, *, inherited: bool = False) -> list[Indicator]:
    """The indicators one attribute gives (none for a type that names no matchable thing, a
    deleted attribute, or one not meant for detection); :class:`IndicatorError` for a bad
    value. ``inherited``: the attribute's tags hold its event's, marked ``inherited`` (API)."""
    if _true(attr.get("deleted")) or not (opts.all_attributes or _true(attr.get("to_ids"))):
        return []
    found = _values(str(attr.get("type") or ""), attr.get("value"), attr, obj)
    if not found:
        return []
    own, from_event = _split_tags(attr.get("Tag"), inherited)
    base = _base(attr, event, opts, own, from_event + event.tags)
    out = []
    for kind, value, extra in found:
        out.append(replace(base, type=kind, value=value,
                           valid_until=_until(kind, opts), extra={**base.extra, **extra}))
    return out


def _values(kind: str, value: Any, attr: dict[str, Any],
            obj: dict[str, Any] | None) -> list[tuple[str, str, dict[str, str]]]:
    """``(type, normalised value, extra)`` for each indicator in the attribute's value."""
    if kind == "text" and attr.get("object_relation") == "ja4-fingerprint":
        return _ja4(value, obj)
    parts_of = ATTRIBUTE_TYPES.get(kind)
    if parts_of is None:
        return []
    if not isinstance(value, str):
        raise IndicatorError(f"{kind}: the value is not a string")
    parts = value.rsplit("|", len(parts_of) - 1) if len(parts_of) > 1 else [value]
    if len(parts) != len(parts_of):
        raise IndicatorError(f"{kind}: not {len(parts_of)} values separated by '|': "
                             f"{value[:80]!r}")
    out: list[tuple[str, str, dict[str, str]]] = []
    extra: dict[str, str] = {}
    for part_kind, part in zip(parts_of, parts, strict=True):
        if part_kind in ("port", "filename"):
            extra[part_kind] = part.strip()
        elif part_kind == "ip":
            ip = ip_kind(part)
            if ip is None:
                raise IndicatorError(f"{kind}: not an IP address: {part[:80]!r}")
            out.append((ip, normalize(ip, part), {}))
        elif part_kind == "uri":
            if "://" not in part:
                raise IndicatorError(f"uri without a host cannot be matched: {part[:80]!r}")
            out.append(("url", normalize("url", part), {}))
        else:
            out.append((part_kind, normalize(part_kind, part), {}))
    return [(k, v, {**extra, **e}) for k, v, e in out]


def _ja4(value: Any, obj: dict[str, Any] | None) -> list[tuple[str, str, dict[str, str]]]:
    """A ``ja4-plus`` object's fingerprint, when it is a TLS client's (``ja4-type`` JA4)."""
    variant = "JA4"
    if obj is not None:
        for sibling in _list(obj.get("Attribute")):
            if isinstance(sibling, dict) and sibling.get("object_relation") == "ja4-type":
                variant = str(sibling.get("value") or "").strip().upper()
    if variant != "JA4" or not isinstance(value, str):
        return []
    return [("ja4", normalize("ja4", value), {})]


def _base(attr: dict[str, Any], event: _Event, opts: _Options, own: tuple[str, ...],
          from_event: tuple[str, ...]) -> Indicator:
    extra = {"misp_type": str(attr.get("type") or "")}
    if attr.get("category"):
        extra["category"] = str(attr["category"])
    if attr.get("uuid"):
        extra["attribute"] = str(attr["uuid"])
    if attr.get("comment"):
        extra["comment"] = str(attr["comment"])[:500]
    if event.org:
        extra["org"] = event.org
    tags = own + from_event + _galaxy_tags(attr.get("Galaxy"))
    confidence = _confidence(own)
    if confidence is None:
        confidence = _confidence(from_event)
    if confidence is None:
        confidence = THREAT_LEVELS.get(event.threat_level, opts.confidence)
    return Indicator(
        type="", value="", source=opts.source,
        first_seen=_stamp(attr.get("first_seen")) or event.first_seen,
        last_seen=_stamp(attr.get("last_seen")) or event.last_seen or _stamp(attr.get("timestamp")),
        confidence=confidence, tlp=_tlp(own) or _tlp(from_event) or opts.tlp,
        tags=tuple(dict.fromkeys(t for t in tags if not t.lower().startswith("tlp:"))),
        description=event.info, reference=f"misp:event/{event.uuid}" if event.uuid else "",
        extra=extra)


def _until(kind: str, opts: _Options) -> str | None:
    life = (opts.lifetimes or {}).get(kind)
    return format_ts(opts.now + life) if life else None


def _split_tags(tags: Any, inherited: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The attribute's own tag names, and those it inherits from its event (API answers)."""
    own: list[str] = []
    parent: list[str] = []
    for tag in _list(tags):
        if isinstance(tag, dict) and tag.get("name"):
            (parent if inherited and _true(tag.get("inherited")) else own).append(
                str(tag["name"]))
    return tuple(own), tuple(parent)


def _tag_names(tags: Any) -> tuple[str, ...]:
    return tuple(str(t["name"]) for t in _list(tags) if isinstance(t, dict) and t.get("name"))


def _galaxy_tags(galaxies: Any) -> tuple[str, ...]:
    names = []
    for galaxy in _list(galaxies):
        for cluster in _list(galaxy.get("GalaxyCluster") if isinstance(galaxy, dict) else None):
            if isinstance(cluster, dict) and cluster.get("tag_name"):
                names.append(str(cluster["tag_name"]))
    return tuple(names)


def _tlp(tags: tuple[str, ...]) -> str | None:
    found: str | None = None
    for tag in tags:
        if tag.lower().startswith("tlp:"):
            found = stricter_tlp(found, tlp_of(tag))
    return found


def _confidence(tags: tuple[str, ...]) -> int | None:
    for tag in tags:
        m = _TAG.fullmatch(tag.strip())
        if m:
            scale = CONFIDENCE_TAGS.get((m.group(1).lower(), m.group(2).lower()))
            if scale is not None and m.group(3).lower() in scale:
                return scale[m.group(3).lower()]
    return None


# --- small readers -------------------------------------------------------------------------


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FeedError(f"{what} is not JSON: {exc}",
                        hint="check the feed's URL or path (a login page answers HTML)") from None


def _show(base: str) -> str:
    return where(base.rstrip("/")) if base.startswith(("http://", "https://")) else base


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str | int) and str(value).lower() in ("1", "true"))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _stamp(value: Any) -> str | None:
    """MISP's times: UNIX seconds, microseconds (the API's first_seen) or ISO 8601."""
    if value in (None, ""):
        return None
    number = _int(value)
    try:
        if number is not None:
            seconds = number / 1_000_000 if abs(number) >= 10**14 else number
            return format_ts(datetime.fromtimestamp(seconds, UTC))
        return normalize_ts(str(value))
    except (ValueError, OverflowError, OSError):
        return None


def _date(value: Any) -> str | None:
    """An event's ``date`` (``YYYY-MM-DD``) as the start of that day, UTC."""
    try:
        return format_ts(datetime.strptime(str(value)[:10], "%Y-%m-%d").replace(tzinfo=UTC))
    except ValueError:
        return None
