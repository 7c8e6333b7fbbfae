"""Sightings shared upstream: what matched, as STIX 2.1, MISP sightings or the centre's CSV.

A :class:`Sighting` is one indicator seen on our side over a window (first/last time, how many
times, on which systems and units, in which event fields). Whoever builds them (from the alert
store) hands them to an exporter:

* :func:`to_stix`: a STIX 2.1 bundle, one ``identity`` (the provincial SOC, the sighter), one
  ``indicator`` per sighted indicator and one ``sighting`` per sighting;
* :func:`to_misp`: the bodies MISP's ``/sightings/add`` takes, one per sighting;
* :func:`to_csv`: the spreadsheet layout the national centre asks for, Vietnamese headers,
  local times, UTF-8 with a BOM so that Excel reads the diacritics.

**TLP:RED is never exported.** An indicator whose record is marked ``red`` (the strictest of its
feeds' labels) was shared for its recipients' eyes only, and so is the fact that we saw it: every
exporter drops such sightings itself (:func:`exportable` tells the caller how many it held back),
so a caller that forgets to filter still leaks nothing.

Ids are deterministic (uuid5 in :data:`NAMESPACE`), so the same SOC exporting the same indicator
twice produces the same ``identity`` and ``indicator`` ids, and a sighting that grew since the
last export keeps its id and gets a newer ``modified``: a receiver updates it in place instead of
counting it twice.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from soc.ecs import format_ts, parse_ts
from soc.errors import ConfigError
from soc.intel.model import IndicatorRecord

NAMESPACE = uuid.UUID("5b0e3d1c-7a52-5d1e-9f0a-2c6f4e8b9a31")
"""The uuid5 namespace of soc's STIX ids. Never change it: receivers deduplicate by id."""

STIX_COUNT_MAX = 999_999_999
"""The largest ``count`` a STIX 2.1 Sighting may carry."""

IDENTITY_CREATED = "2020-01-01T00:00:00.000Z"
"""``created``/``modified`` of the sighter's identity: fixed, because an object's ``created``
must not change between versions and the identity (a name) never does."""

TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
"""OASIS's TLP 2.0 extension (cti-stix-common-objects); its marking ids are the standard ones."""

TLP_MARKINGS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
"""TLP 2.0 label → the standard STIX 2.1 marking-definition id."""

_TLP_CREATED = "2022-10-01T00:00:00.000Z"

CSV_HEADER = ("STT", "Chỉ số IoC", "Loại", "Thời điểm phát hiện đầu tiên",
              "Thời điểm phát hiện cuối cùng", "Số lần", "Hệ thống", "Đơn vị")
"""The national centre's columns: row number, indicator, type, first/last seen, count, system,
unit."""

TYPE_LABELS = {
    "ipv4": "IPv4", "ipv6": "IPv6", "domain": "Tên miền", "url": "URL", "md5": "MD5",
    "sha1": "SHA1", "sha256": "SHA256", "email": "Email", "ja3": "JA3", "ja4": "JA4",
    "user-agent": "User-Agent",
}
"""Indicator type → the label in the CSV's ``Loại`` column."""

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
CSV_TIME = "%d/%m/%Y %H:%M:%S"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_IDENTITY_ID = re.compile(
    r"identity--[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

_OBJECT_PATHS = {
    "ipv4": "ipv4-addr:value", "ipv6": "ipv6-addr:value", "domain": "domain-name:value",
    "url": "url:value", "email": "email-addr:value", "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'", "sha256": "file:hashes.'SHA-256'",
    # STIX has no object for TLS fingerprints: custom object types, as the patterning spec allows
    "ja3": "x-ja3:value", "ja4": "x-ja4:value",
    "user-agent": "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
}


@dataclass(frozen=True)
class Sighting:
    """One indicator seen on our side: first/last time (canonical UTC strings), how many times,
    on which systems (``labels.system``) and units (``organization.id``/``.name``), in which
    event fields; ``retrospective`` when a retro-hunt found it in stored history."""

    record: IndicatorRecord
    first_seen: str
    last_seen: str
    count: int
    systems: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    retrospective: bool = False

    @property
    def span(self) -> tuple[str, str]:
        """(first, last) in canonical form and in order, whatever order they were given in."""
        first, last = format_ts(parse_ts(self.first_seen)), format_ts(parse_ts(self.last_seen))
        return (first, last) if first <= last else (last, first)


def exportable(sightings: Iterable[Sighting]) -> tuple[list[Sighting], int]:
    """The sightings that may leave the SOC, and how many were held back for being TLP:RED."""
    kept: list[Sighting] = []
    held = 0
    for item in sightings:
        if item.record.tlp == "red":
            held += 1
        else:
            kept.append(item)
    return kept, held


# --- STIX 2.1 ---------------------------------------------------------------------------------


def to_stix(sightings: Iterable[Sighting], *, identity_name: str, identity_id: str | None = None,
            now: datetime) -> dict[str, object]:
    """A STIX 2.1 bundle of the (exportable) sightings, sighted by the SOC ``identity_name``.

    ``identity_id`` is the SOC's id as the receiver knows it (``identity--<uuid>``); without it
    one is derived from the name. Raises :class:`ConfigError` for an id that is no STIX id.
    """
    kept, _ = exportable(sightings)
    ident = _identity(identity_name, identity_id)
    stamp = format_ts(now)
    indicators: dict[str, dict[str, object]] = {}
    relations: list[dict[str, object]] = []
    for item in kept:
        indicator = _indicator(item.record, ident["id"], stamp)
        indicators.setdefault(str(indicator["id"]), indicator)
        relations.append(_sighting(item, str(indicator["id"]), str(ident["id"]), stamp))
    used = sorted({item.record.tlp for item in kept if item.record.tlp in TLP_MARKINGS})
    objects: list[dict[str, object]] = [ident, *(_marking(t) for t in used),
                                        *indicators.values(), *relations]
    seed = "|".join([stamp, *(str(o["id"]) for o in objects)])
    return {"type": "bundle", "id": f"bundle--{uuid.uuid5(NAMESPACE, seed)}", "objects": objects}


def stix_pattern(kind: str, value: str) -> str:
    """The STIX pattern that says "this indicator": an equality on the type's object path, or
    ``ISSUBSET`` for a network; the value quoted as the patterning spec wants (``\\`` and ``'``
    escaped with a backslash)."""
    path = _OBJECT_PATHS.get(kind)
    if path is None:
        raise ValueError(f"no STIX pattern for indicator type {kind!r}")
    operator = "ISSUBSET" if kind in ("ipv4", "ipv6") and "/" in value else "="
    return f"[{path} {operator} '{stix_quote(value)}']"


def stix_quote(value: str) -> str:
    """``value`` as the inside of a STIX pattern string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def stix_id(kind: str, *parts: str) -> str:
    """A deterministic ``kind--<uuid5>`` id from ``parts``."""
    return f"{kind}--{uuid.uuid5(NAMESPACE, chr(0x1F).join(parts))}"


def _identity(name: str, given: str | None) -> dict[str, object]:
    if given is not None and not _IDENTITY_ID.fullmatch(given):
        raise ConfigError(f"not a STIX identity id: {given[:80]!r}",
                          hint="Give it as identity--<uuid>, or leave it out to derive one from "
                               "the SOC's name.")
    return {"type": "identity", "spec_version": "2.1",
            "id": given or stix_id("identity", "identity", name),
            "created": IDENTITY_CREATED, "modified": IDENTITY_CREATED, "name": name,
            "identity_class": "organization"}


def _marking(tlp: str) -> dict[str, object]:
    return {"type": "marking-definition", "spec_version": "2.1", "id": TLP_MARKINGS[tlp],
            "created": _TLP_CREATED, "name": f"TLP:{tlp.upper()}",
            "extensions": {TLP_EXTENSION: {"extension_type": "property-extension",
                                           "tlp_2_0": tlp}}}


def _indicator(record: IndicatorRecord, identity: object, now: str) -> dict[str, object]:
    """Our restatement of the indicator: created when soc first stored it, modified when a feed
    last changed it, valid from the feeds' first sighting."""
    created = _ts(record.added) or now
    modified = max(created, _ts(record.updated) or created)
    valid_from = _ts(record.first_seen) or created
    out: dict[str, object] = {
        "type": "indicator", "spec_version": "2.1",
        "id": stix_id("indicator", record.type, record.value), "created_by_ref": identity,
        "created": created, "modified": modified, "name": f"{record.type}: {record.value}"[:250],
        "pattern": stix_pattern(record.type, record.value), "pattern_type": "stix",
        "valid_from": valid_from}
    until = _ts(record.valid_until)
    if until and until > valid_from:
        out["valid_until"] = until
    if record.confidence is not None:
        out["confidence"] = max(0, min(100, record.confidence))
    _mark(out, record.tlp)
    return out


def _sighting(item: Sighting, indicator: str, identity: str, now: str) -> dict[str, object]:
    """The sighting SRO. Its id is fixed by (indicator, sighter, first time seen), so a later
    export of the same, grown, sighting is a newer version of it (same ``created``)."""
    first, last = item.span
    out: dict[str, object] = {
        "type": "sighting", "spec_version": "2.1", "id": stix_id("sighting", indicator, identity,
                                                                  first),
        "created_by_ref": identity, "created": first, "modified": max(first, now),
        "sighting_of_ref": indicator, "where_sighted_refs": [identity],
        "first_seen": first, "last_seen": last,
        "count": max(0, min(STIX_COUNT_MAX, item.count)), "description": describe(item)}
    _mark(out, item.record.tlp)
    return out


def describe(item: Sighting) -> str:
    """One line naming where it was seen: systems, units, event fields; retro-hunts said so."""
    parts = [f"Seen {item.count} time{'s' if item.count != 1 else ''}"]
    if item.systems:
        parts.append(f"on systems {', '.join(item.systems)}")
    if item.units:
        parts.append(f"of units {', '.join(item.units)}")
    if item.fields:
        parts.append(f"in fields {', '.join(item.fields)}")
    text = " ".join(parts)
    if item.retrospective:
        text += " (found by a retro-hunt in stored history)"
    return text + "."


def _mark(obj: dict[str, object], tlp: str | None) -> None:
    if tlp in TLP_MARKINGS:
        obj["object_marking_refs"] = [TLP_MARKINGS[str(tlp)]]


def _ts(value: str | None) -> str | None:
    """A canonical timestamp (milliseconds and ``Z``), None for a missing or unreadable one."""
    if not value:
        return None
    try:
        return format_ts(parse_ts(value))
    except ValueError:
        return None


# --- MISP -------------------------------------------------------------------------------------


def to_misp(sightings: Iterable[Sighting], *, source: str) -> list[dict[str, object]]:
    """One ``/sightings/add`` body per (exportable) sighting: by value, type ``"0"`` (a
    sighting; 1 is a false positive, 2 an expiration), at the last time seen, from ``source``.

    MISP counts sightings as rows and takes no count: one body says "seen, last at T", however
    many times it was seen.
    """
    kept, _ = exportable(sightings)
    return [{"value": item.record.value, "type": "0", "source": source,
             "timestamp": int(parse_ts(item.span[1]).timestamp())} for item in kept]


# --- CSV for the national centre ----------------------------------------------------------------


def to_csv(sightings: Iterable[Sighting], *, system_default: str = "", unit_default: str = "",
           timezone: str | tzinfo = DEFAULT_TIMEZONE) -> str:
    """The national centre's spreadsheet: :data:`CSV_HEADER`, one row per (exportable)
    sighting in order of first time seen, times in ``timezone`` as ``dd/mm/yyyy HH:MM:SS``.

    The text starts with a BOM (write it with ``encoding="utf-8"``, not ``utf-8-sig``) so Excel
    reads the diacritics; a cell that would start a formula gets a leading apostrophe, since
    values come from feeds and logs.
    """
    zone = _zone(timezone)
    kept, _ = exportable(sightings)
    kept.sort(key=lambda s: (s.span[0], s.record.type, s.record.value))
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for number, item in enumerate(kept, 1):
        first, last = item.span
        writer.writerow([
            number, _cell(item.record.value),
            _cell(TYPE_LABELS.get(item.record.type, item.record.type)),
            _local(first, zone), _local(last, zone), item.count,
            _cell(", ".join(item.systems) or system_default),
            _cell(", ".join(item.units) or unit_default)])
    return out.getvalue()


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run: ``=1+1``, ``@SUM(..)``, ``-2+3`` get a ``'``."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _local(ts: str, zone: tzinfo) -> str:
    return parse_ts(ts).astimezone(zone).strftime(CSV_TIME)


def _zone(timezone: str | tzinfo) -> tzinfo:
    if not isinstance(timezone, str):
        return timezone
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {timezone!r}",
                          hint="Give an IANA zone name such as Asia/Ho_Chi_Minh.") from None

