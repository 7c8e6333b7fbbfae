"""``soc intel pull`` and ``soc intel add`` as library calls: read feeds, merge what they say
into the store, and retro-hunt what is new.

Each feed is read on its own: one that fails (unreachable, refused, not what it says it is) is
reported with its reason and hint and the others go on; its cursor does not move, so the next
pull asks again from where the last good one ended. Records a feed holds that are not usable
indicators are skipped and counted, with examples, never a reason to stop.

Cursors and the time of each feed's last good pull are kept in the collectors' state file
(``state.db``) under ``intel:<feed>``; ``soc listen`` pulls a feed when its ``interval`` has
passed since then.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from soc.config import Config
from soc.ecs import format_ts, parse_ts
from soc.errors import InputError, SocError, UsageError
from soc.intel import library
from soc.intel.config import Feed, IntelConfig
from soc.intel.config import load as load_intel
from soc.intel.feeds.result import FeedResult
from soc.intel.http import FeedError, fetch, tls_context
from soc.intel.model import Indicator
from soc.intel.retro import RetroReport, retro_hunt
from soc.state import StateStore, existing
from soc.stores.base import Store

FORMATS = ("auto", "stix", "misp", "csv", "list")
MAX_KEPT_SKIPPED = 100
"""Records of a feed's last pull that were not usable, kept with their reasons in the state."""


@dataclass
class FeedReport:
    feed: str
    ingest: library.IngestReport = field(default_factory=library.IngestReport)
    cursor: str | None = None
    error: str | None = None
    hint: str | None = None
    skipped_by_reader: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"feed": self.feed, **self.ingest.to_dict(), "cursor": self.cursor,
                "error": self.error, "hint": self.hint}


@dataclass
class PullReport:
    feeds: list[FeedReport] = field(default_factory=list)
    retro: RetroReport | None = None

    @property
    def errors(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.error]

    @property
    def changed(self) -> list[str]:
        return [i for f in self.feeds for i in f.ingest.changed]

    def to_dict(self) -> dict[str, Any]:
        return {"feeds": [f.to_dict() for f in self.feeds],
                "retro_hunt": self.retro.to_dict() if self.retro else None}


def state_key(feed: str) -> str:
    return f"intel:{feed}"


def due(feed: Feed, state: StateStore, now: datetime) -> bool:
    """Whether ``feed``'s interval has passed since its last good pull."""
    last = state.get(state_key(feed.name), "pulled")
    if not last:
        return True
    try:
        return parse_ts(str(last)) + feed.interval <= now
    except ValueError:
        return True


def pull(config: Config, store: Store, state: StateStore, *, names: Sequence[str] = (),
         now: datetime, hunt: bool = True, only_due: bool = False) -> PullReport:
    """Pull the configured feeds (``names``, else all enabled ones) and retro-hunt."""
    intel = load_intel(config)
    feeds = _chosen(intel, names)
    report = PullReport()
    for feed in feeds:
        if only_due and not due(feed, state, now):
            continue
        report.feeds.append(pull_feed(config, feed, store, state, now=now))
    if hunt and intel.retro_hunt:
        report.retro = hunt_changed(config, store, report.changed, now=now, intel=intel)
    return report


def _chosen(intel: IntelConfig, names: Sequence[str]) -> list[Feed]:
    if not names:
        return [f for f in intel.feeds if f.enabled]
    known = {f.name: f for f in intel.feeds}
    missing = [n for n in names if n not in known]
    if missing:
        from soc.errors import NotFoundError
        raise NotFoundError(f"no feed named {', '.join(missing)} "
                            f"(configured: {', '.join(known) or 'none'})",
                            hint="Feeds are listed under intel.feeds in soc.yml "
                                 "(docs/threat-intel.md).")
    return [known[n] for n in names]


def pull_feed(config: Config, feed: Feed, store: Store, state: StateStore, *,
              now: datetime) -> FeedReport:
    """Read one feed from its cursor, merge it, move the cursor."""
    report = FeedReport(feed.name)
    key = state_key(feed.name)
    cursor = state.get(key, "cursor")
    try:
        result = read_feed(config, feed, cursor=str(cursor) if cursor else None, now=now)
    except SocError as exc:
        report.error, report.hint = str(exc), exc.hint
        state.put(key, {"error": str(exc), "failed": format_ts(now)})
        return report
    report.ingest.skipped.extend(result.skipped)
    library.ingest(store, _defaults(result.indicators, feed), format_ts(now), report.ingest)
    report.cursor = result.cursor or (str(cursor) if cursor else None)
    skipped = [{"what": w, "reason": r} for w, r in report.ingest.skipped[:MAX_KEPT_SKIPPED]]
    state.put(key, {"pulled": format_ts(now), "skipped": skipped,
                    **({"cursor": result.cursor} if result.cursor else {})},
              remove=("error", "failed"))
    return report


def _defaults(items: list[Indicator], feed: Feed) -> list[Indicator]:
    """The feed's configured confidence and TLP where its records give none."""
    if feed.confidence is None and feed.tlp is None:
        return items
    return [replace(i, confidence=i.confidence if i.confidence is not None else feed.confidence,
                    tlp=i.tlp or feed.tlp) for i in items]


def read_feed(config: Config, feed: Feed, *, cursor: str | None, now: datetime) -> FeedResult:
    """What ``feed`` publishes now (from ``cursor`` on, for the feeds that page by time)."""
    context = tls_context(feed.ca_file) if feed.ca_file else None
    if feed.type == "taxii":
        from soc.intel.feeds import taxii
        password = _secret(feed.password_env)
        api_key = _secret(feed.api_key_env)
        return taxii.pull_collection(
            str(feed.url), str(feed.collection), added_after=cursor, username=feed.username,
            password=password, api_key=api_key, api_key_header=feed.api_key_header,
            context=context, now=now, lifetimes=feed.lifetimes, source=feed.name,
            timeout=feed.timeout)
    if feed.type == "misp-feed":
        from soc.intel.feeds import misp
        return misp.read_feed(feed.location, source=feed.name, since_cursor=cursor,
                              lifetimes=feed.lifetimes, now=now, context=context,
                              all_attributes=feed.all_attributes, timeout=feed.timeout)
    if feed.type == "misp-api":
        from soc.intel.feeds import misp
        return misp.read_api(str(feed.url), api_key=_secret(feed.api_key_env) or "",
                             source=feed.name, since_cursor=cursor, lifetimes=feed.lifetimes,
                             now=now, context=context, all_attributes=feed.all_attributes,
                             timeout=feed.timeout)
    data = _document(feed, context)
    return parse_document(data, feed.type, source=feed.name, config=config, feed=feed, now=now)


def parse_document(data: bytes, fmt: str, *, source: str, config: Config, now: datetime,
                   feed: Feed | None = None, kind: str | None = None) -> FeedResult:
    """A document already read (a file, standard input, a fetched URL) in ``fmt``."""
    intel = load_intel(config)
    lifetimes = feed.lifetimes if feed else intel.lifetimes
    if fmt == "auto":
        fmt = sniff(data)
    if fmt == "stix":
        from soc.intel.feeds import stix
        return stix.read_bundle(data, source=source, lifetimes=lifetimes, now=now)
    if fmt in ("misp", "misp-feed"):
        from soc.intel.feeds import misp
        return misp.read_event(data, source=source, lifetimes=lifetimes, now=now,
                               all_attributes=feed.all_attributes if feed else False)
    if fmt in ("csv", "list"):
        from soc.intel.feeds import table
        tz = (feed.timezone if feed and feed.timezone else None) or config.timezone
        if fmt == "list":
            return table.read_list(data, source=source, kind=(feed.kind if feed else kind),
                                   lifetimes=lifetimes, now=now)
        return table.read_table(data, source=source,
                                columns=dict(feed.columns) if feed and feed.columns else None,
                                kind=feed.kind if feed else kind, lifetimes=lifetimes, now=now,
                                timezone=tz, delimiter=feed.delimiter if feed else None)
    raise UsageError(f"unknown indicator format {fmt!r} (one of {', '.join(FORMATS)})")


def sniff(data: bytes) -> str:
    """``stix``, ``misp``, ``csv`` or ``list`` from the first bytes of a document."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        if b'"Event"' in data[:65536] or b'"Attribute"' in data[:65536]:
            return "misp"
        return "stix"
    text = head.decode("utf-8", "replace")
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    return "csv" if any(d in first for d in (",", ";", "\t")) else "list"


def _document(feed: Feed, context: Any) -> bytes:
    if feed.path is not None:
        try:
            return Path(feed.path).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read feed {feed.name} at {feed.path}: {exc.strerror}",
                             hint="check intel.feeds path and its permissions") from None
    headers: dict[str, str] = {}
    api_key = _secret(feed.api_key_env)
    if api_key:
        headers[feed.api_key_header or "Authorization"] = api_key
    password = _secret(feed.password_env)
    if feed.username and password is not None:
        token = base64.b64encode(f"{feed.username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return fetch(str(feed.url), headers=headers, context=context, timeout=feed.timeout).body


def _secret(env: str | None) -> str | None:
    if not env:
        return None
    value = os.environ.get(env)
    if value is None:
        raise FeedError(f"the environment variable {env} is not set",
                        hint="export it for the job that pulls (cron, systemd unit)")
    return value


def hunt_changed(config: Config, store: Store, ids: Sequence[str], *, now: datetime,
                 intel: IntelConfig | None = None) -> RetroReport:
    """Retro-hunt the indicators of ``ids`` (those a pull or an import just added or changed)."""
    intel = intel or load_intel(config)
    from soc.detection.stage import detection_stage, suppress_window
    unique = list(dict.fromkeys(ids))
    records = [r for start in range(0, len(unique), library.BATCH)
               for r in store.get_indicators(unique[start:start + library.BATCH]).values()]
    if not records:
        return RetroReport()
    stage = detection_stage(config, store)  # the tuning applies to retrospective alerts too
    return retro_hunt(store, records, now=now, lookback=intel.lookback,
                      raise_alerts=stage.raise_alerts if stage else None,
                      suppress=suppress_window(config))


def pull_due(config: Config, *, now: datetime) -> PullReport | None:
    """What ``soc listen`` runs every minute: the feeds whose interval has passed, under the
    intel lock (None, doing nothing, when a ``soc intel`` command holds it or no feed is
    configured)."""
    from soc.lock import PassLock
    from soc.stores.base import open_store

    intel = load_intel(config)
    if not any(f.enabled for f in intel.feeds):
        return None
    lock = PassLock(config.data_dir / "intel.lock", what="intel (soc listen)")
    if lock.acquire() is not None:
        return None
    try:
        state = StateStore(config.data_dir / "state.db")
        try:
            if not any(due(f, state, now) for f in intel.feeds if f.enabled):
                return None
            with open_store(config) as store:
                return pull(config, store, state, now=now, only_due=True)
        finally:
            state.close()
    finally:
        lock.release()


STALE_AFTER = 3
"""A feed with no good pull for this many of its intervals is a gap of ``soc status``."""


def feed_status(config: Config, now: datetime) -> list[dict[str, Any]] | None:
    """:func:`feed_rows` read from the state file, which it neither creates nor leaves open
    (``soc status`` and the console's status page)."""
    with existing(config.data_dir / "state.db") as state:
        return feed_rows(config, state, now)


def feed_rows(config: Config, state: StateStore | None,
              now: datetime) -> list[dict[str, Any]] | None:
    """Each configured feed for ``soc status``: its last good pull, its last error, how many
    records it skipped, and its state (``ok``, ``never`` pulled, ``failing``, ``stale``: no
    good pull for :data:`STALE_AFTER` intervals); None when soc.yml configures none."""
    intel = load_intel(config)
    if not intel.feeds:
        return None
    rows: list[dict[str, Any]] = []
    for feed in intel.feeds:
        kept = state.all(state_key(feed.name)) if state is not None else {}
        pulled = kept.get("pulled")
        error = kept.get("error")
        if not feed.enabled:
            status = "disabled"
        elif error:
            status = "failing"
        elif not pulled:
            status = "never"
        elif parse_ts(str(pulled)) + feed.interval * STALE_AFTER < now:
            status = "stale"
        else:
            status = "ok"
        rows.append({"feed": feed.name, "type": feed.type, "state": status,
                     "pulled": pulled, "error": error, "failed": kept.get("failed"),
                     "skipped": len(kept.get("skipped") or ())})
    return rows
