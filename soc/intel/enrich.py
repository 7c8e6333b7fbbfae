"""ECS threat fields on an event that matched indicators, so that Sigma rules and searches can
select on them ("an IoC address AND a successful login").

Two shapes, both JSON-able:

* ``threat.enrichments``: ECS's list of enrichments, one per indicator matched, as Elastic's
  indicator match rules write it: ``indicator.*`` (ECS type, name, the typed field such as
  ``indicator.ip`` or ``indicator.file.hash.sha256``, confidence as ECS's label, TLP marking,
  providers, first and last seen) and ``matched.*`` (``field``, ``atomic``, ``id`` of the
  indicator, ``type: indicator_match_rule``);
* flat fields a Sigma rule can select without walking a list: ``threat.indicator.matched``
  (true), ``threat.indicator.type`` (soc's type names, as ``soc intel list`` shows them),
  ``threat.indicator.provider`` (the feeds) and ``threat.indicator.confidence`` (the highest,
  0-100; absent when no feed gave one).

Annotating the same event again (``soc detect`` over stored events) replaces soc's own
enrichments and keeps those another tool wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from soc.ecs import Event
from soc.intel.matcher import Match
from soc.intel.model import IndicatorRecord

MATCH_TYPE = "indicator_match_rule"
"""``threat.enrichments.matched.type`` of soc's enrichments (ECS's value for an indicator match)."""

ECS_TYPES = {"ipv4": "ipv4-addr", "ipv6": "ipv6-addr", "domain": "domain-name", "url": "url",
             "md5": "file", "sha1": "file", "sha256": "file", "email": "email-addr"}
"""soc type → ECS ``threat.indicator.type``; ja3, ja4 and user-agent have no ECS type and keep
soc's name."""


def annotate(event: Event, matches: Sequence[Match]) -> None:
    """Set the threat fields of ``event`` (in place) for ``matches`` (see the module)."""
    if not matches:
        return
    old = event.get("threat.enrichments")
    kept = [e for e in (old if isinstance(old, list) else [old] if isinstance(old, dict) else [])
            if not (isinstance(e, dict) and _ours(e))]
    event["threat.enrichments"] = kept + [enrichment(m) for m in matches]
    records = [m.record for m in matches]
    event["threat.indicator.matched"] = True
    event["threat.indicator.type"] = sorted({r.type for r in records})
    event["threat.indicator.provider"] = sorted({s for r in records for s in r.sources})
    scores = [r.confidence for r in records if r.confidence is not None]
    if scores:
        event["threat.indicator.confidence"] = max(scores)
    else:
        event.pop("threat.indicator.confidence", None)


def enrichment(match: Match) -> dict[str, Any]:
    """One ECS ``threat.enrichments`` entry."""
    record = match.record
    indicator: dict[str, Any] = {"type": ECS_TYPES.get(record.type, record.type),
                                 "name": record.value, **_typed(record),
                                 "confidence": confidence_label(record.confidence),
                                 "provider": sorted(record.sources)}
    if record.tlp:
        indicator["marking"] = {"tlp": record.tlp.upper()}
    if record.first_seen:
        indicator["first_seen"] = record.first_seen
    if record.last_seen:
        indicator["last_seen"] = record.last_seen
    return {"indicator": indicator,
            "matched": {"atomic": match.atomic, "field": match.field, "id": record.id,
                        "type": MATCH_TYPE}}


def confidence_label(score: int | None) -> str:
    """ECS's confidence label for a 0-100 score, on STIX 2.1's None/Low/Med/High scale."""
    if score is None:
        return "Not Specified"
    if score <= 0:
        return "None"
    return "Low" if score < 30 else "Medium" if score < 70 else "High"


def _typed(record: IndicatorRecord) -> dict[str, Any]:
    """The ECS field of the indicator's own value (an address, not a network: ECS's ``ip``)."""
    kind, value = record.type, record.value
    if kind in ("ipv4", "ipv6"):
        return {} if "/" in value else {"ip": value}
    if kind == "domain":
        return {"url": {"domain": value}}
    if kind == "url":
        return {"url": {"full": value}}
    if kind in ("md5", "sha1", "sha256"):
        return {"file": {"hash": {kind: value}}}
    if kind == "email":
        return {"email": {"address": value}}
    return {}


def _ours(entry: dict[str, Any]) -> bool:
    matched = entry.get("matched")
    return isinstance(matched, dict) and matched.get("type") == MATCH_TYPE
