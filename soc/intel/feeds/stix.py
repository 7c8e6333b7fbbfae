"""STIX 2.1 bundles (and 2.0 ones, and TAXII envelopes) → indicators.

An ``indicator`` object gives one indicator per value its pattern compares with ``=``, ``IN`` or
``ISSUBSET`` on a path soc can match (:func:`kind_of_path`); comparisons negated (``NOT``,
``!=``), ordered or on other paths (``process:name``) are ignored, and an indicator left with
none is skipped with the paths it used. Context comes from the object: ``valid_from`` → first seen,
``valid_until`` (else now plus the feed's lifetime for the type), ``confidence``, ``labels`` and
``indicator_types`` → tags, ``name``/``description``, the first external reference's URL, and the
TLP of its ``object_marking_refs`` (granular markings are not read). Revoked objects are skipped;
of several versions of one object the newest (``modified``) counts.

A bundle with no indicator at all is read for its cyber-observable objects of the same types
(``ipv4-addr``, ``domain-name``, ``file`` hashes…), except those an ``observed-data`` object
refers to: those were seen, not reported as bad.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from soc.ecs import format_ts, parse_ts
from soc.intel.feeds.result import FeedResult
from soc.intel.feeds.stix_pattern import Comparison, PatternError, parse_pattern
from soc.intel.http import FeedError
from soc.intel.model import Indicator, IndicatorError, ip_kind, normalize, stricter_tlp, tlp_of

TLP_MARKINGS = {
    # TLP 1.0, predefined by STIX 2.1 (part 7.2.1.4)
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",  # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
    # TLP 2.0, OASIS extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
}
"""The marking-definition ids whose meaning is fixed: a bundle need not carry them."""

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

_VALUE_PATHS = {"ipv4-addr": "ipv4", "ipv6-addr": "ipv6", "domain-name": "domain", "url": "url",
                "email-addr": "email",
                # STIX has no object for TLS fingerprints: soc.intel.sightings writes these
                "x-ja3": "ja3", "x-ja4": "ja4"}
_HASHES = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256"}
_UA_PATH = ("network-traffic", "extensions", "http-request-ext", "request_header")
_ADDRESS = "address"  # a network-traffic ref's value: an IP or a domain, told by the value
_SCO_TYPES = (*_VALUE_PATHS, "file", "artifact")
_MAX_DESCRIPTION = 2000


@dataclass(frozen=True)
class _Context:
    source: str
    lifetimes: Mapping[str, timedelta | None] | None
    now: datetime
    markings: Mapping[str, str]

    def valid_until(self, kind: str, given: str | None) -> str | None:
        if given is not None or not self.lifetimes:
            return given
        life = self.lifetimes.get(kind)
        return None if life is None else format_ts(self.now + life)

    def tlp(self, obj: Mapping[str, Any]) -> str | None:
        tlp: str | None = None
        for ref in _strings(obj.get("object_marking_refs")):
            tlp = stricter_tlp(tlp, self.markings.get(ref))
        return tlp


def read_bundle(data: bytes | dict[str, Any], *, source: str,
                lifetimes: Mapping[str, timedelta | None] | None,
                now: datetime) -> FeedResult:
    """The indicators of a STIX bundle (JSON bytes or the parsed document; a TAXII envelope, a
    list of objects or a single object do too). ``lifetimes`` maps an indicator type to how long
    an indicator without ``valid_until`` lives (absent or None: no expiry). Raises
    :class:`FeedError` only when the document is no STIX at all; bad objects are skipped."""
    result = FeedResult()
    objects = _latest(_objects(data), result)
    ctx = _Context(source, lifetimes, now, _markings(objects))
    indicators = [o for o in objects if o.get("type") == "indicator"]
    if indicators:
        for obj in indicators:
            _read_indicator(obj, ctx, result)
        return result
    observed = {ref for o in objects if o.get("type") == "observed-data"
                for ref in _strings(o.get("object_refs"))}
    for obj in objects:
        if obj.get("type") in _SCO_TYPES and obj.get("id") not in observed:
            _read_sco(obj, ctx, result)
    return result


# --- the document -----------------------------------------------------------------------------


def _objects(data: bytes | dict[str, Any]) -> list[Any]:
    doc: Any = data
    if isinstance(data, bytes | bytearray):
        try:
            doc = json.loads(data)
        except ValueError as exc:  # UnicodeDecodeError included
            raise FeedError(f"not a STIX bundle: not JSON ({exc})",
                            hint="check that the feed's URL or file gives a STIX 2.1 bundle") \
                from None
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        if doc.get("type") == "bundle" or "objects" in doc or set(doc) <= {"more", "next"}:
            found = doc.get("objects", [])  # a bundle or a TAXII envelope, maybe empty
            if isinstance(found, list):
                return list(found)
        elif isinstance(doc.get("type"), str) and "--" in str(doc.get("id", "")):
            return [doc]  # one STIX object alone
    raise FeedError("not a STIX bundle: no 'objects' list",
                    hint="check that the feed's URL or file gives a STIX 2.1 bundle")


def _latest(objects: list[Any], result: FeedResult) -> list[dict[str, Any]]:
    """The objects, one per id: the newest version (``modified``, else ``created``)."""
    chosen: dict[str, dict[str, Any]] = {}
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            result.skipped.append((f"objects[{i}]", "not a JSON object"))
            continue
        key = str(obj.get("id") or f"objects[{i}]")
        if key not in chosen or _version(obj) > _version(chosen[key]):
            chosen[key] = obj
    return list(chosen.values())


def _version(obj: Mapping[str, Any]) -> str:
    try:
        return format_ts(parse_ts(str(obj.get("modified") or obj.get("created") or "")))
    except ValueError:
        return ""


def _markings(objects: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Marking id → TLP: the fixed ids, and TLP marking definitions the bundle carries (STIX 2.0
    producers mint their own ids; TLP 2.0 ones use the OASIS extension)."""
    found: dict[str, str] = {}
    for obj in objects:
        if obj.get("type") != "marking-definition":
            continue
        definition = obj.get("definition")
        extension = (obj.get("extensions") or {}).get(TLP2_EXTENSION) \
            if isinstance(obj.get("extensions"), dict) else None
        candidates = [definition.get("tlp") if isinstance(definition, dict) else None,
                      extension.get("tlp_2_0") if isinstance(extension, dict) else None,
                      obj.get("name")]
        tlp = next((t for t in (tlp_of(c) for c in candidates if isinstance(c, str)) if t), None)
        if tlp:
            found[str(obj.get("id"))] = tlp
    return {**found, **TLP_MARKINGS}


# --- indicators -------------------------------------------------------------------------------


def _read_indicator(obj: dict[str, Any], ctx: _Context, result: FeedResult) -> None:
    what = str(obj.get("id") or "indicator")
    reason = _refusal(obj)
    if reason:
        result.skipped.append((what, reason))
        return
    try:
        comparisons = parse_pattern(str(obj["pattern"]))
    except PatternError as exc:
        result.skipped.append((what, f"malformed pattern: {exc}"))
        return
    try:
        first = _ts(obj, "valid_from")
        until = _ts(obj, "valid_until")
    except ValueError as exc:
        result.skipped.append((what, str(exc)))
        return
    if first and until and until <= first:
        result.skipped.append((what, "valid_until is not after valid_from"))
        return
    wanted = _wanted(comparisons)
    if not wanted:
        used = sorted({f"{c.path_text} {c.operator}" for c in comparisons})
        result.skipped.append((what, f"nothing soc matches in the pattern ({', '.join(used)})"))
        return
    template = Indicator("", "", ctx.source, first_seen=first, valid_until=until,
                         confidence=_confidence(obj.get("confidence")), tlp=ctx.tlp(obj),
                         tags=_tags(obj), description=_description(obj),
                         reference=_reference(obj), extra={"stix_id": what})
    _emit(what, wanted, template, ctx, result)


def _refusal(obj: Mapping[str, Any]) -> str | None:
    if obj.get("revoked") is True:
        return "revoked"
    kind = obj.get("pattern_type", "stix")
    if str(kind).lower() != "stix":
        return f"pattern_type {kind!r} is not read (stix only)"
    if not isinstance(obj.get("pattern"), str):
        return "no pattern"
    return None


def _wanted(comparisons: Iterable[Comparison]) -> list[tuple[str, str, str]]:
    """(kind, raw value, path) of each positive comparison on a path soc matches."""
    found: list[tuple[str, str, str]] = []
    for c in comparisons:
        kind = kind_of_path(c.path)
        if kind is None or c.negated or c.operator not in ("=", "IN", "ISSUBSET"):
            continue
        if c.operator == "ISSUBSET" and kind not in ("ipv4", "ipv6", _ADDRESS):
            continue
        found.extend((kind, v, c.path_text) for v in c.values if isinstance(v, str))
    return found


def kind_of_path(path: tuple[str, ...]) -> str | None:
    """The indicator type an object path's values are, or None when soc does not match it
    (``address``: an IP or a domain, told by the value)."""
    head, rest = path[0], path[1:]
    if rest == ("value",):
        return _VALUE_PATHS.get(head)
    if head in ("file", "artifact") and len(rest) == 2 and rest[0] == "hashes":
        return _HASHES.get(rest[1].upper().replace("-", "").replace("_", ""))
    if path[:4] == _UA_PATH and len(rest) == 4 and rest[3].lower() == "user-agent":
        return "user-agent"
    if head == "network-traffic" and rest in (("src_ref", "value"), ("dst_ref", "value")):
        return _ADDRESS
    if head == "email-message" and rest in (("from_ref", "value"), ("sender_ref", "value")):
        return "email"
    return None


def _emit(what: str, wanted: Iterable[tuple[str, str, str]], template: Indicator,
          ctx: _Context, result: FeedResult) -> None:
    seen: set[tuple[str, str]] = set()
    for kind, raw, path in wanted:
        if kind == _ADDRESS:
            kind = ip_kind(raw) or "domain"
        try:
            value = normalize(kind, raw)
        except IndicatorError as exc:
            result.skipped.append((what, f"{path}: {exc}"))
            continue
        if (kind, value) in seen:
            continue
        seen.add((kind, value))
        result.indicators.append(Indicator(
            kind, value, ctx.source, first_seen=template.first_seen,
            valid_until=ctx.valid_until(kind, template.valid_until),
            confidence=template.confidence, tlp=template.tlp, tags=template.tags,
            description=template.description, reference=template.reference,
            extra=dict(template.extra)))


# --- cyber-observable objects -----------------------------------------------------------------


def _read_sco(obj: dict[str, Any], ctx: _Context, result: FeedResult) -> None:
    what = str(obj.get("id") or obj.get("type"))
    kind = str(obj.get("type"))
    if kind in _VALUE_PATHS:
        wanted = [(_VALUE_PATHS[kind], obj.get("value"), f"{kind}:value")]
    else:
        hashes = obj.get("hashes")
        hashes = hashes if isinstance(hashes, dict) else {}
        wanted = [(t, v, f"{kind}:hashes.'{k}'") for k, v in hashes.items()
                  if (t := kind_of_path((kind, "hashes", str(k))))]
        if not wanted:
            result.skipped.append((what, "no MD5, SHA-1 or SHA-256 hash"))
            return
    bad = [(k, v, p) for k, v, p in wanted if not isinstance(v, str)]
    if bad:
        result.skipped.append((what, f"{bad[0][2]}: not a string"))
        return
    template = Indicator("", "", ctx.source, tlp=ctx.tlp(obj), extra={"stix_id": what})
    _emit(what, [(k, str(v), p) for k, v, p in wanted], template, ctx, result)


# --- properties -------------------------------------------------------------------------------


def _ts(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    try:
        return format_ts(parse_ts(str(value)))
    except ValueError:
        raise ValueError(f"{name} is not a timestamp: {str(value)[:40]!r}") from None


def _confidence(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(value) if 0 <= value <= 100 else None


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _tags(obj: Mapping[str, Any]) -> tuple[str, ...]:
    found = _strings(obj.get("labels")) + _strings(obj.get("indicator_types"))
    return tuple(dict.fromkeys(t.strip() for t in found if t.strip()))


def _description(obj: Mapping[str, Any]) -> str:
    parts = [str(obj[k]).strip() for k in ("name", "description") if isinstance(obj.get(k), str)]
    text = ": ".join(dict.fromkeys(p for p in parts if p))
    return text if len(text) <= _MAX_DESCRIPTION else text[:_MAX_DESCRIPTION - 1] + "…"


def _reference(obj: Mapping[str, Any]) -> str:
    refs = obj.get("external_references")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and isinstance(ref.get("url"), str) and ref["url"].strip():
            return str(ref["url"]).strip()
    return ""
