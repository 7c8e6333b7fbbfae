"""Matches as findings: the ``intel-match`` alert.

* **rule id** ``intel-match``, ``kind: intel`` (``intel-retro`` for a retro-hunt's, whose
  time is the event's, not the hunt's);
* **level** from the indicator's type and confidence (:func:`severity_of`): a file hash or a
  URL names one thing and is trusted sooner than an address, which may be shared or reassigned;
  a fingerprint or a user agent is a weak signal on its own;
* **dedup** per indicator and entity (the event's host, user, addresses, system and unit): a
  listed address seen a thousand times from one host within ``rules.suppress`` is one alert;
* the indicator's context (feeds, confidence, TLP, tags, description, reference) and the
  matching field and value travel in the alert's group and event.
"""

from __future__ import annotations

from collections.abc import Iterable

from soc.alerts import Finding
from soc.ecs import Event
from soc.intel.matcher import Match
from soc.models import ENTITY_FIELDS, Severity

RULE_ID = "intel-match"
KIND = "intel"
RETRO_KIND = "intel-retro"
TAGS = ("intel",)
STRONG = frozenset({"md5", "sha1", "sha256", "url"})
WEAK = frozenset({"ja3", "ja4", "user-agent"})
DEFAULT_CONFIDENCE = 50


def severity_of(kind: str, confidence: int | None) -> Severity:
    """The alert's level for an indicator of ``kind`` with ``confidence`` (0-100)."""
    score = DEFAULT_CONFIDENCE if confidence is None else confidence
    if kind in STRONG:
        if score >= 90:
            return Severity.CRITICAL
        return Severity.HIGH if score >= 70 else Severity.MEDIUM if score >= 40 else Severity.LOW
    if kind in WEAK:
        return Severity.MEDIUM if score >= 80 else Severity.LOW
    return Severity.HIGH if score >= 80 else Severity.MEDIUM if score >= 40 else Severity.LOW


def intel_findings(event: Event, matches: Iterable[Match], *,
                   retrospective: bool = False) -> list[Finding]:
    """One finding per indicator the event matched (the first field it matched in)."""
    out: list[Finding] = []
    seen: set[str] = set()
    ts = str(event.get("@timestamp", ""))
    entity = {f: event[f] for f in ENTITY_FIELDS if event.get(f) not in (None, "", [])}
    for match in matches:
        record = match.record
        if record.id in seen:
            continue
        seen.add(record.id)
        group = {"threat.indicator.type": record.type, "threat.indicator.value": record.value,
                 **entity}
        title = f"Threat-intel indicator seen: {record.type} {_short(record.value)}" + (
            " (found in stored history)" if retrospective else "")
        feeds = sorted(record.sources)
        context = {
            "threat.indicator.matched.field": match.field,
            "threat.indicator.matched.atomic": match.atomic,
            "threat.indicator.provider": feeds,
            "threat.indicator.confidence": record.confidence,
            "threat.indicator.marking.tlp": record.tlp,
            "threat.indicator.valid_until": record.valid_until,
            "threat.indicator.description": "; ".join(
                d for d in dict.fromkeys(s.description for s in record.sources.values()) if d),
            "threat.indicator.reference": [s.reference for s in record.sources.values()
                                           if s.reference],
            "threat.indicator.retrospective": retrospective,
        }
        shown = {**event, **{k: v for k, v in context.items() if v not in (None, "", [])}}
        out.append(Finding(
            rule_id=RULE_ID, title=title, level=severity_of(record.type, record.confidence),
            tags=(*TAGS, *(f"intel.{t}" for t in record.tags[:10])), ts=ts, anchor=ts,
            group=group, entity=entity, triggers=((str(event.get("event.id", "")), ts),),
            kind=RETRO_KIND if retrospective else KIND, event=shown))
    return out


def _short(value: str, limit: int = 200) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"
