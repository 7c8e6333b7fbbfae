"""The figures of a monitoring report for a period and an optional unit or system.

Event figures are aggregations the store computes (``Store.aggregate``: one grouped query per
figure, never a Python loop over events). Alerts and incidents are few and are summarised here:
by severity, rule, unit and system; by type and outcome; times to detect, acknowledge and
resolve; attacked objects, techniques with their evidence, attack sources; silent sources.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from soc.config import Config
from soc.ecs import format_ts, parse_ts
from soc.models import Alert, AlertQuery
from soc.reports.period import Period
from soc.response.incidents import list_incidents
from soc.response.records import Incident
from soc.stores.base import Store

ACK_SAMPLE = 500  # alerts whose audit trail is read for the time to acknowledge
CHANGE_QUERY = "event.category:(iam OR configuration)"
_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.I)


@dataclass(frozen=True)
class Scope:
    """A report for the whole province, one unit, or one system."""

    unit: str | None = None
    system: str | None = None

    def query(self, base: str = "*") -> str:
        parts = [] if base == "*" else [f"({base})"]
        if self.unit:
            parts.append(f'organization.id:"{self.unit}"')
        if self.system:
            parts.append(f'labels.system:"{self.system}"')
        return " AND ".join(parts) or "*"

    def alert(self, a: Alert) -> bool:
        return (not self.unit or a.unit == self.unit) and (not self.system or
                                                           a.system == self.system)

    def incident(self, inc: Incident) -> bool:
        return (not self.unit or self.unit in inc.units) and (
            not self.system or any(s["id"] == self.system for s in inc.systems))


@dataclass
class Figures:
    period: Period
    scope: Scope
    events_trend: list[tuple[str, int]] = field(default_factory=list)  # (bucket ts, count)
    events_by_dataset: list[tuple[str, int]] = field(default_factory=list)
    events_by_system: list[tuple[str, int]] = field(default_factory=list)
    events_by_unit: list[tuple[str, int]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    ack_times: list[timedelta] = field(default_factory=list)
    silent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events_total(self) -> int:
        return sum(c for _, c in self.events_trend)

    @property
    def alerts_about_earlier(self) -> int:
        """Alerts raised in the period about events from before it (older logs collected late,
        a backfill, ``soc ingest`` of copied files)."""
        since = format_ts(self.period.since)
        return sum(1 for a in self.alerts if a.first_seen < since)


def _pairs(rows: Iterable[Mapping[str, Any]], key: str) -> list[tuple[str, int]]:
    return [(str(r[key]), int(r["count"])) for r in rows]


def event_figures(store: Store, config: Config, fig: Figures) -> None:
    """Trend, volumes by dataset, unit and system, and changes: four store aggregations."""
    p, q = fig.period, fig.scope.query()
    since, until = p.since, p.until
    interval = "1h" if p.kind == "day" else "1d"
    found = dict(_pairs(store.aggregate(q, since=since, until=until, interval=interval,
                                        timezone=config.timezone), "@timestamp"))
    fig.events_trend = [(ts, found.get(ts, 0)) for ts in buckets(p, interval)]
    fig.events_by_dataset = _pairs(store.aggregate(q, since=since, until=until,
                                                   group_by=["event.dataset"]), "event.dataset")
    pairs = store.aggregate(q, since=since, until=until,
                            group_by=["organization.id", "labels.system"])
    units: Counter[str] = Counter()
    systems: Counter[str] = Counter()
    for row in pairs:
        units[str(row["organization.id"])] += int(row["count"])
        systems[str(row["labels.system"])] += int(row["count"])
    fig.events_by_unit = units.most_common()
    fig.events_by_system = systems.most_common()
    fig.changes = store.aggregate(fig.scope.query(CHANGE_QUERY), since=since, until=until,
                                  group_by=["labels.system", "event.action"], top=20)


def buckets(period: Period, interval: str) -> list[str]:
    """Every bucket start of the period (the store leaves empty buckets out)."""
    step = timedelta(hours=1) if interval == "1h" else timedelta(days=1)
    out, at = [], period.since.astimezone(UTC)
    while at < period.until:
        out.append(format_ts(at))
        at += step
    return out


def raised_at(a: Alert) -> str:
    """When soc raised an alert: ``created``, or for an alert stored without it, its first
    event's time."""
    return a.created or a.first_seen


def alert_figures(store: Store, fig: Figures) -> None:
    """Alerts raised in the period (``created`` in it), whatever the time of their events: an
    alert raised this week from last month's logs is this week's work. Each alert counts in
    exactly one period; :attr:`Figures.alerts_about_earlier` tells the late ones apart."""
    since, until = format_ts(fig.period.since), format_ts(fig.period.until)
    # no store filter on created: the alerts are listed and picked here (they are few)
    found = store.list_alerts(AlertQuery(limit=None))
    fig.alerts = sorted((a for a in found if since <= raised_at(a) < until
                         and fig.scope.alert(a)), key=lambda a: (a.first_seen, a.id))
    times = []
    for a in fig.alerts[:ACK_SAMPLE]:
        seen = [e for e in store.audit_trail(a.id)
                if e.action in ("alert.ack", "alert.attach", "alert.close")]
        if seen and a.created:
            times.append(parse_ts(seen[0].ts) - parse_ts(a.created))
    fig.ack_times = times


def incident_figures(store: Store, fig: Figures) -> None:
    """Incidents detected in the period, or still open during it."""
    since, until = format_ts(fig.period.since), format_ts(fig.period.until)
    fig.incidents = [i for i in list_incidents(store, None) if fig.scope.incident(i)
                     and i.t0 < until and (i.t0 >= since or not i.closed or i.closed >= since)]


def judged_at(period: Period, now: datetime) -> datetime:
    """When a report's monitoring gaps are judged: the period's end, or now for a period that
    has not ended (never later: a past period shows the gaps it had, not today's)."""
    return min(period.until, now)


def compute(store: Store, config: Config, period: Period, scope: Scope, *,
            runs: Mapping[str, dict[str, Any]] | None = None,
            now: datetime) -> Figures:
    """All the figures of a monitoring report. ``runs``: the sources' pass records as they
    stood at :func:`judged_at` (``StateStore.runs_at``)."""
    from soc.status import gaps, source_rows

    fig = Figures(period, scope)
    event_figures(store, config, fig)
    alert_figures(store, fig)
    incident_figures(store, fig)
    rows = source_rows(config, dict(runs or {}), now=judged_at(period, now))
    fig.silent = [r for r in gaps(rows) if not scope.system or r.get("system") == scope.system]
    return fig


# --- summaries of alerts and incidents ------------------------------------------------------------


def median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def detect_times(incidents: Iterable[Incident]) -> list[timedelta]:
    """From the first event of an incident's alerts to its T0 (detection)."""
    return [parse_ts(i.t0) - parse_ts(i.window[0]) for i in incidents if i.window[0]]


def resolve_times(incidents: Iterable[Incident]) -> list[timedelta]:
    return [parse_ts(i.closed) - parse_ts(i.t0) for i in incidents if i.closed]


def by(alerts: Iterable[Alert], key: str) -> list[tuple[str, int]]:
    """Alerts counted by ``severity``, ``rule``, ``unit`` or ``system``."""
    getters: dict[str, Callable[[Alert], str]] = {
        "severity": lambda a: a.severity.value, "rule": lambda a: a.rule_title or a.rule_id,
        "unit": lambda a: a.unit or "", "system": lambda a: a.system or ""}
    get = getters[key]
    counts = Counter(get(a) for a in alerts)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def target_of(a: Alert) -> str:
    e = a.entity
    return str(e.get("destination.ip") or e.get("host.name") or e.get("labels.system") or "")


def service_of(a: Alert) -> str:
    """What was attacked on the target, from the alert's first event."""
    e = a.event or {}
    if e.get("process.name") == "sshd" or "ssh" in str(e.get("event.action", "")):
        return "SSH"
    if e.get("url.path") or str(e.get("event.dataset", "")).startswith(("apache", "nginx",
                                                                           "iis", "tomcat")):
        return "Web (HTTP)"
    if e.get("destination.port"):
        return f"cổng {e['destination.port']}/{e.get('network.transport', 'tcp')}"
    return str(e.get("event.dataset") or "")


def techniques_of(a: Alert) -> list[str]:
    found = [m.group(1).upper() for t in a.tags if (m := _TECHNIQUE.match(t))]
    return found or ["(không gắn ATT&CK)"]


def evidence_of(a: Alert) -> str:
    """Evidence of a detection: the alert, its first event id, and an excerpt of the record."""
    e = a.event or {}
    excerpt = str(e.get("event.original") or e.get("message") or "")
    first = a.event_ids[0] if a.event_ids else ""
    return f"cảnh báo {a.id[:12]}; sự kiện {first[:12]}; {excerpt}".strip("; ")


def group_alerts(alerts: Iterable[Alert], key: str) -> dict[str, list[Alert]]:
    """Alerts by attack source (``source``), target (``target``) or technique."""
    out: dict[str, list[Alert]] = {}
    for a in alerts:
        if key == "source":
            keys = [str(a.entity["source.ip"])] if a.entity.get("source.ip") else []
        elif key == "target":
            keys = [target_of(a)] if target_of(a) else []
        else:
            keys = techniques_of(a)
        for k in keys:
            out.setdefault(k, []).append(a)
    return dict(sorted(out.items(), key=lambda kv: (-sum(a.count or 1 for a in kv[1]), kv[0])))
