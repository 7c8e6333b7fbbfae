"""Retro-hunt: new indicators looked for in stored history.

When a pull or an import brings indicators that were not live before, the events of the last
``intel.lookback`` (30 days unless set) may already hold them. The store is asked, per type and
in queries of at most :data:`MAX_CLAUSES` terms, for the events whose fields hold one of the
values (terms on both stores; networks as CIDR terms, a listed domain also as ``*.domain``);
each event returned is confirmed by the same matcher the pipeline uses, so the query only has
to be broad enough.

Findings are collapsed per indicator and entity into one ``intel-retro`` alert whose time is the
first event's, not the hunt's. Its id is deterministic, so a second hunt over the same history
finds the alert it raised and raises nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from soc.alerts import AlertSink, Finding
from soc.ecs import format_ts
from soc.errors import StoreError
from soc.intel.findings import intel_findings
from soc.intel.matcher import FIELDS, IndicatorIndex
from soc.intel.model import IndicatorRecord
from soc.stores.base import Store

MAX_CLAUSES = 1000
"""Terms in one query (fields × values): well within Elasticsearch's clause limit at any heap."""
MAX_TRIGGERS = 50
QUERY_KINDS: dict[str, tuple[str, ...]] = {
    "ip": ("ip", "host"), "domain": ("host",), "url": ("host",), "hash": ("hash",),
    "hash-text": ("hashes",), "email": ("email",), "ja3": ("ja3",), "ja4": ("ja4",),
    "user-agent": ("user-agent",),
}
"""Which of the matcher's field kinds (:data:`soc.intel.matcher.FIELDS`) the store is asked to
look in for each group of terms (a URL by its host); the matcher confirms each event."""


def query_fields(group: str) -> tuple[str, ...]:
    kinds = QUERY_KINDS[group]
    return tuple(f for f, kind in FIELDS.items() if kind in kinds)


_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/ ])')
Raise = Callable[[Sequence[Finding], Store], int]


@dataclass
class RetroReport:
    indicators: int = 0
    queries: int = 0
    events: int = 0
    alerts: int = 0
    since: str = ""
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"indicators": self.indicators, "queries": self.queries, "events": self.events,
                "alerts": self.alerts, "since": self.since, "errors": self.errors}


def escape(value: str) -> str:
    """A value as one Lucene term (every special character escaped)."""
    return _SPECIAL.sub(r"\\\1", value)


def queries(records: Iterable[IndicatorRecord]) -> list[str]:
    """The Lucene queries that find every event one of ``records`` may match."""
    terms: dict[str, list[str]] = {}
    for r in records:
        if r.type in ("ipv4", "ipv6"):
            terms.setdefault("ip", []).append(
                escape(r.value).replace("\\/", "/") if "/" in r.value else escape(r.value))
        elif r.type == "domain":
            terms.setdefault("domain", []).extend([escape(r.value), "*." + escape(r.value)])
        elif r.type == "url":
            host = r.value.split("://", 1)[-1].split("/", 1)[0].split(":")[0].strip("[]")
            terms.setdefault("url", []).append(escape(host))
        elif r.type in ("md5", "sha1", "sha256"):
            terms.setdefault("hash", []).append(escape(r.value))
            terms.setdefault("hash-text", []).append(f"*{r.value}*")
        elif r.type in QUERY_KINDS:
            terms.setdefault(r.type, []).append(escape(r.value))
    out: list[str] = []
    for group, values in terms.items():
        unique = list(dict.fromkeys(values))
        fields = query_fields(group)
        size = max(1, MAX_CLAUSES // len(fields))
        for start in range(0, len(unique), size):
            chunk = " OR ".join(unique[start:start + size])
            out.append(" OR ".join(f"{f}:({chunk})" for f in fields))
    return out


def retro_hunt(store: Store, records: Sequence[IndicatorRecord], *, now: datetime,
               lookback: timedelta, raise_alerts: Raise | None = None,
               suppress: timedelta = timedelta(hours=1)) -> RetroReport:
    """Look for ``records`` (the live ones) in the events of ``[now - lookback, now)`` and raise
    one retrospective alert per indicator and entity."""
    stamp = format_ts(now)
    live = [r for r in records if r.live(stamp)]
    report = RetroReport(indicators=len(live), since=format_ts(now - lookback))
    if not live:
        return report
    index = IndicatorIndex.build(live, stamp)
    collapsed: dict[str, Finding] = {}
    seen_events: set[str] = set()
    for query in queries(live):
        report.queries += 1
        try:
            events = store.search(query, since=now - lookback, until=now, limit=None,
                                  order="asc")
            for event in events:
                eid = str(event.get("event.id", ""))
                if eid in seen_events:
                    continue
                found = index.match(event)
                if not found:
                    continue
                seen_events.add(eid)
                report.events += 1
                for finding in intel_findings(event, found, retrospective=True):
                    _collapse(collapsed, finding)
        except StoreError as exc:
            report.errors.append(str(exc))
    if collapsed:
        findings = list(collapsed.values())
        if raise_alerts is not None:
            report.alerts = raise_alerts(findings, store)
        else:
            report.alerts = len(AlertSink(store, suppress=suppress).raise_alerts(findings).new)
    return report


def _collapse(collapsed: dict[str, Finding], finding: Finding) -> None:
    """One finding per indicator and entity: the first event anchors it, later ones join."""
    held = collapsed.get(finding.dedup)
    if held is None:
        collapsed[finding.dedup] = finding
        return
    if len(held.triggers) >= MAX_TRIGGERS:
        return
    first, other = (held, finding) if held.ts <= finding.ts else (finding, held)
    collapsed[finding.dedup] = replace(
        first, triggers=tuple(dict.fromkeys((*first.triggers, *other.triggers))))
