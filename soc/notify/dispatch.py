"""One dispatch: plan reminders and escalations, route the outbox's new changes to deliveries,
gather digests, and deliver what is due, channel by channel, in outbox order.

Nothing here holds state between runs: the store does (``outbox``, ``deliveries``), so a crash
anywhere is resumed by the next run. A message is marked delivered only after its channel
accepted it, so a crash between sending and marking re-sends it once, with the same
idempotency key (docs/notifications.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from soc.config import Config
from soc.ecs import format_ts, parse_ts
from soc.errors import SocError
from soc.models import Severity
from soc.notify import config as notify_config
from soc.notify.config import NotifyConfig, Route
from soc.notify.model import Channel, DeliveryError, Message
from soc.notify.routing import matches, plan
from soc.outbox import Change, Delivery
from soc.stores.base import Store
from soc.timeutil import format_duration

LATE = timedelta(minutes=5)
"""A message delivered this long after its change says how old it is (``age``)."""
PERSISTENT = 3
"""Attempts after which a channel's failure is worth telling the cron operator."""
_BATCH = 500
PRUNE = 1000
"""Rows of each outbox table one dispatch deletes at most (``notify.keep``): bounded work."""
_RANK = {s.value: s.rank for s in Severity}


@dataclass
class DispatchReport:
    """What one run did, and what went wrong (one line per channel)."""

    planned: int = 0  # reminders and escalations queued
    routed: int = 0  # changes routed
    deliveries: int = 0  # deliveries created (digests included)
    delivered: int = 0
    retrying: int = 0  # failed this run, to retry later
    failed: int = 0  # given up this run (refused for good, or too old)
    discarded: int = 0  # changes no route was configured to take
    pruned: int = 0  # finished deliveries and changes older than ``keep`` deleted
    problems: list[str] = field(default_factory=list)  # one line per failing channel
    persistent: list[str] = field(default_factory=list)  # failures to tell the operator of

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(store: Store, config: Config, *, now: datetime,
        channels: Mapping[str, Channel] | None = None,
        notify: NotifyConfig | None = None) -> DispatchReport:
    """Plan, route, gather digests and deliver, at ``now``. ``channels`` (by name) replaces
    the channels built from the configuration (tests, ``soc notify test``)."""
    notify = notify or notify_config.load(config)
    report = DispatchReport()
    if not notify.routes and channels is None:  # nobody to tell: nothing is kept for later
        report.discarded = discard(store)
        report.pruned = prune(store, notify, now)
        return report
    report.planned = _plan(store, config, notify, now)
    report.routed, report.deliveries = route(store, notify, now)
    report.deliveries += gather_digests(store, now)
    built = dict(channels) if channels is not None else build_channels(notify, report)
    deliver(store, notify, built, now, report)
    report.pruned = prune(store, notify, now)
    return report


def discard(store: Store) -> int:
    """Mark the changes not routed yet as routed, with no delivery: without routes nobody
    hears of them, and routes configured later must not flood people with old alerts."""
    done = 0
    while changes := store.outbox_changes(unrouted=True, limit=_BATCH):
        store.route_changes([c.seq for c in changes if c.seq is not None], [])
        done += len(changes)
    return done


def prune(store: Store, notify: NotifyConfig, now: datetime) -> int:
    """Delete what is finished and older than ``notify.keep`` (at most ``PRUNE`` rows of each
    table per run): the outbox does not grow without end."""
    return store.prune_outbox(format_ts(now - notify.keep), limit=PRUNE)


def _plan(store: Store, config: Config, notify: NotifyConfig, now: datetime) -> int:
    from soc.notify.planning import plan_duties, plan_escalations
    from soc.response import incidents as lib
    from soc.response.profiles import active_profile

    found = lib.list_incidents(store, None)
    profiles = lib.profiles_of(found, active_profile(config)) if found else {}
    return plan_duties(store, notify, found, profiles, now) + plan_escalations(store, notify, now)


def build_channels(notify: NotifyConfig, report: DispatchReport) -> dict[str, Channel]:
    """The configured channels; one that cannot be built is a problem of this run."""
    try:
        from soc.notify.channels import build_channel
    except ImportError as exc:  # a partial install: everything waits in the outbox
        line = f"channels: cannot load soc.notify.channels ({exc})"
        report.problems.append(line)
        report.persistent.append(line)
        return {}
    built: dict[str, Channel] = {}
    for name, spec in notify.channels.items():
        try:
            built[name] = build_channel(name, spec, base_dir=notify.base_dir)
        except SocError as exc:  # a missing secret, a bad option: nothing is sent until fixed
            report.problems.append(f"channel {name}: {exc.message}")
            report.persistent.append(f"channel {name}: {exc.message}")
    return built


# --- routing -------------------------------------------------------------------------------------


def route(store: Store, notify: NotifyConfig, now: datetime) -> tuple[int, int]:
    """Route the changes not routed yet, a batch at a time; returns (changes, deliveries)."""
    routes, made = 0, 0
    while changes := store.outbox_changes(unrouted=True, limit=_BATCH):
        passed: dict[str, int] = {}
        deliveries: list[Delivery] = []
        for change in changes:
            deliveries += _deliveries(store, notify, change, now, passed)
        made += store.route_changes([c.seq for c in changes if c.seq is not None], deliveries)
        routes += len(changes)
    return routes, made


def _deliveries(store: Store, notify: NotifyConfig, change: Change, now: datetime,
                passed: dict[str, int]) -> list[Delivery]:
    """The change's deliveries on every route that takes it (none when it is older than
    ``max_age``: it could only fail)."""
    if now - parse_ts(change.ts) > notify.max_age:
        return []
    if change.kind == "escalation":
        return _escalated(notify, change, now)
    out: list[Delivery] = []
    for r in notify.routes:
        if not matches(r.match, change):
            continue
        if r.name not in passed:
            passed[r.name] = _passed(store, r, now)
        status, next_at, window = plan(r, change, now, notify.timezone, passed[r.name])
        if status != "digested":
            passed[r.name] += 1
        out += [_delivery(change, r.name, ch, status, next_at, now, window) for ch in r.channels]
    return out


def _passed(store: Store, r: Route, now: datetime) -> int:
    """How many changes the route let through in its current throttle window."""
    if r.throttle is None:
        return 0
    from soc.notify.routing import window

    start, _ = window(now, r.throttle.per)
    sent = store.list_deliveries(route=r.name, since=format_ts(start))
    return len({d.seq for d in sent if d.status != "digested"})


def _escalated(notify: NotifyConfig, change: Change, now: datetime) -> list[Delivery]:
    r = next((r for r in notify.routes if r.name == change.doc.get("route")), None)
    if r is None or r.escalate is None:
        return []
    return [_delivery(change, r.name, ch, "queued", format_ts(now), now, None)
            for ch in r.escalate.channels]


def _context(change: Change) -> dict[str, Any]:
    context = dict(change.doc)
    if "link" not in context:
        if "alert" in context:
            context["link"] = f"soc alerts show {change.subject}"
        elif "incident" in context:
            context["link"] = f"soc incidents show {change.subject}"
    return context


def _delivery(change: Change, route_name: str, channel: str, status: str, next_at: str,
              now: datetime, window: str | None) -> Delivery:
    doc: dict[str, Any] = {"kind": change.kind, "severity": change.severity, "ts": change.ts,
                           "subject": change.subject, "context": _context(change)}
    if window is not None:
        doc["window"] = window
    assert change.seq is not None
    return Delivery(key=f"{change.key}/route:{route_name}/channel:{channel}", seq=change.seq,
                    route=route_name, channel=channel, status=status, next_at=next_at,
                    created=format_ts(now), doc=doc)


# --- digests -------------------------------------------------------------------------------------


def gather_digests(store: Store, now: datetime) -> int:
    """One "digest" delivery per route, channel and window that has ended, listing what the
    window kept back (the route's ``digest:``, or past its ``throttle``)."""
    groups: dict[tuple[str, str, str, str], list[Delivery]] = {}
    for d in store.digest_items(format_ts(now)):
        key = (d.route, d.channel, str(d.doc.get("window", "")), d.next_at)
        groups.setdefault(key, []).append(d)
    made = 0
    for (route_name, channel, start, end), items in groups.items():
        made += store.add_digest(_digest(route_name, channel, start, end, items, now),
                                 [d.key for d in items])
    return made


def _digest(route_name: str, channel: str, start: str, end: str, items: Sequence[Delivery],
            now: datetime) -> Delivery:
    severity = max((str(d.doc.get("severity", "")) for d in items),
                   key=lambda s: _RANK.get(s, -1))
    listed = [_item(d) for d in items]
    context = {"route": route_name, "window": {"from": start, "to": end},
               "count": len(listed), "items": listed, "link": "soc alerts list"}
    doc = {"kind": "digest", "severity": severity, "ts": end, "subject": route_name,
           "context": context}
    return Delivery(key=f"digest:{route_name}:{start}/channel:{channel}",
                    seq=max(d.seq for d in items), route=route_name, channel=channel,
                    status="queued", next_at=end, created=format_ts(now), doc=doc)


def _item(d: Delivery) -> dict[str, Any]:
    context: Mapping[str, Any] = d.doc.get("context") or {}
    alert = context.get("alert") or {}
    incident = context.get("incident") or {}
    title = alert.get("rule_title") or incident.get("title") or d.doc.get("subject", "")
    return {"kind": d.doc.get("kind"), "severity": d.doc.get("severity"),
            "ts": d.doc.get("ts"), "subject": d.doc.get("subject"), "title": title,
            "link": context.get("link", "")}


# --- delivering ----------------------------------------------------------------------------------


def deliver(store: Store, notify: NotifyConfig, channels: Mapping[str, Channel],
            now: datetime, report: DispatchReport) -> None:
    """Send what is due, channel by channel in outbox order; a channel that fails for now is
    left for the next run at its first failure, so its messages keep their order."""
    by_channel: dict[str, list[Delivery]] = {}
    for d in store.due_deliveries(format_ts(now)):
        by_channel.setdefault(d.channel, []).append(d)
    for name, due in by_channel.items():
        channel = channels.get(name)
        if channel is None:
            if not any(p.startswith(f"channel {name}:") for p in report.problems):
                report.problems.append(f"channel {name}: not configured; "
                                       f"{len(due)} message(s) wait for it")
            continue
        _deliver_channel(store, notify, channel, due, now, report)


def _deliver_channel(store: Store, notify: NotifyConfig, channel: Channel,
                     due: Sequence[Delivery], now: datetime, report: DispatchReport) -> None:
    for d in due:
        if now - parse_ts(str(d.doc.get("ts") or d.created)) > notify.max_age:
            _give_up(store, d, f"not delivered within max_age "
                               f"({format_duration(notify.max_age)})", now, report)
            continue
        if not _send(store, notify, channel, d, now, report):
            return


def message_of(d: Delivery, now: datetime, console_url: str | None = None) -> Message:
    """The message of a delivery: its key is the idempotency key, the same on every attempt;
    with ``console_url``, the link to the alert's or incident's page (``url``)."""
    created = str(d.doc.get("ts") or d.created)
    context = dict(d.doc.get("context") or {})
    late = now - parse_ts(created)
    if late >= LATE:
        context["age"] = format_duration(late)
    url = console_link(console_url, context)
    if url is not None:
        context["url"] = url
    return Message(key=d.key, kind=str(d.doc.get("kind", "")),
                   severity=str(d.doc.get("severity") or ""), created=created,
                   context=context, attempt=d.attempts + 1)


def console_link(console_url: str | None, context: Mapping[str, Any]) -> str | None:
    """``console_url`` with ``{type}`` and ``{id}`` of the alert (or else the incident) the
    message is about; None without either."""
    if console_url is None:
        return None
    for what in ("alert", "incident"):
        found = context.get(what)
        if isinstance(found, Mapping) and found.get("id"):
            return console_url.format(type=f"{what}s", id=quote(str(found["id"]), safe=""))
    return None


def _send(store: Store, notify: NotifyConfig, channel: Channel, d: Delivery, now: datetime,
          report: DispatchReport) -> bool:
    """Send one delivery and record the outcome; False when the channel is to be left alone
    until the next run."""
    stamp = format_ts(now)
    try:
        receipt = channel.send(message_of(d, now, notify.console_url))
    except DeliveryError as exc:
        if not exc.retryable:
            _give_up(store, d, exc.message, now, report)
            return True
        _retry(store, notify, d, exc.message, exc.retry_after, now, report)
        return False
    except Exception as exc:  # noqa: BLE001 - a broken channel must not stop the others
        _retry(store, notify, d, f"{type(exc).__name__}: {exc}", None, now, report)
        return False
    store.mark_delivery(d.key, status="delivered", attempts=d.attempts + 1,
                        receipt=str(receipt)[:200], delivered_at=stamp)
    report.delivered += 1
    return True


def _retry(store: Store, notify: NotifyConfig, d: Delivery, error: str,
           retry_after: float | None, now: datetime, report: DispatchReport) -> None:
    attempts = d.attempts + 1
    delay = min(notify.backoff_first * 2 ** (attempts - 1), notify.backoff_max)
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), notify.backoff_max))
    store.mark_delivery(d.key, status="queued", attempts=attempts,
                        next_at=format_ts(now + delay), error=error[:500],
                        failed_at=format_ts(now))
    report.retrying += 1
    line = (f"channel {d.channel}: {error} (attempt {attempts}; "
            f"next in {format_duration(delay)})")
    report.problems.append(line)
    if attempts >= PERSISTENT:
        report.persistent.append(line)


def _give_up(store: Store, d: Delivery, error: str, now: datetime,
             report: DispatchReport) -> None:
    store.mark_delivery(d.key, status="failed", attempts=d.attempts + 1, error=error[:500],
                        failed_at=format_ts(now))
    report.failed += 1
    line = f"channel {d.channel}: {d.key} failed for good: {error}"
    report.problems.append(line)
    report.persistent.append(line)
