"""The Store contract: one interface, an embedded (SQLite) and an Elasticsearch implementation.

Every implementation passes the same contract suite (tests/test_store_contract.py).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from soc.ecs import Event
from soc.errors import StoreError
from soc.models import MAX_IDS, Alert, AlertQuery, AuditEntry, DeadLetter, RuleHit
from soc.outbox import Change, Delivery

if TYPE_CHECKING:
    from soc.config import Config
    from soc.intel.model import IndicatorRecord as IndicatorRecord  # the stores' one door to it


ALERT_HINT = "Show it again with 'soc alerts show ID' and redo the change."
INCIDENT_HINT = "Show it again with 'soc incidents show ID' and redo the change."


class ConflictError(StoreError):
    """A write named a version of an alert or incident that is no longer the stored one: another
    process changed it since this handle read it (exit code 4). Nothing was written."""

    default_hint = "Someone changed it meanwhile: show it again and redo the change."


def conflict(noun: str, doc_id: str, hint: str | None = None) -> ConflictError:
    """The error of a lost race on one alert or incident."""
    return ConflictError(f"the {noun} {doc_id} was changed by someone else; re-read it",
                         hint=hint)


def reconcile(ours: Alert, stored: Alert) -> Alert:
    """Detection's widening of an alert over the version stored meanwhile: seen range and
    event ids united, the analyst's status, assignee, reason, incident and comments kept."""
    def united(a: Sequence[str], b: Sequence[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*b, *a]))[:MAX_IDS]

    return replace(ours, first_seen=min(ours.first_seen, stored.first_seen),
                   last_seen=max(ours.last_seen, stored.last_seen),
                   event_ids=united(ours.event_ids, stored.event_ids),
                   contributing=united(ours.contributing, stored.contributing),
                   status=stored.status, assignee=stored.assignee, reason=stored.reason,
                   incident=stored.incident, comments=stored.comments)


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int  # new events stored
    duplicates: int  # events already there (same event.id): re-reads after a crash land here


@dataclass(frozen=True, slots=True)
class ColumnDrift:
    """An indexed copy of a record's field (a column beside its document) that says something
    else than the document: edited in the store behind soc's back (``soc audit verify``)."""

    table: str  # "alerts", "incidents", "audit"
    id: str  # the record's id; the entry number for the audit trail
    column: str
    stored: Any  # what the column holds
    document: Any  # what the document (or the sealed entry) says


@dataclass(frozen=True, slots=True)
class RetentionItem:
    """One partition of stored events (a UTC day at one security level) and its fate."""

    day: str  # YYYY-MM-DD
    level: int | None  # security level, None when the event matched no system
    events: int
    keep_days: int
    expired: bool
    held: int = 0  # of an expired partition's events, how many holds keep (distinct events)
    kept: tuple[tuple[str, int], ...] = ()  # (incident, its events here), by incident


@dataclass(frozen=True, slots=True)
class Hold:
    """A legal hold: the events of one incident that retention must keep, whatever their age.

    ``alerts`` are the incident's alerts (their linked events are held: ``alert_links``);
    ``events`` are event ids the incident records itself. ``why`` says why it holds, for the
    report (``open``, or the hold's reason). Built by :mod:`soc.response.holds`; the store only
    keeps these events out of what it deletes."""

    incident: str
    why: str
    alerts: tuple[str, ...] = ()
    events: tuple[str, ...] = ()


class Store(ABC):
    """Where events, dead letters, alerts, rule hits, incidents and the audit trail live."""

    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def open(cls, config: Config, *, readonly: bool = False) -> Self:
        """Open (and with ``readonly=False`` create or migrate) the store the config names."""

    @abstractmethod
    def close(self) -> None: ...

    @classmethod
    def diagnose(cls, config: Config) -> list[dict[str, str]]:
        """``soc store doctor``: :meth:`doctor` on the store opened read-only. A store that may
        be too damaged to open normally overrides this to check what it can."""
        with cls.open(config, readonly=True) as store:
            return store.doctor()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
            return
        try:  # a close that fails too (a full disk) must not hide the error that ended the work
            self.close()
        except Exception as failed:  # noqa: BLE001 - the first error is the one to report
            exc.add_note(f"closing the store failed as well: {failed}")

    # events ------------------------------------------------------------------------------------

    @abstractmethod
    def write_events(self, events: Sequence[Event]) -> WriteResult:
        """Store events durably, idempotent on ``event.id``. Returns once committed."""

    def confirm_writes(self) -> None:
        """Raise :class:`StoreError` unless what this handle committed is still in the store
        others read; the pipeline calls it before a source's checkpoints move.

        The embedded store checks its file (removed, replaced, truncated, unreadable: see
        :mod:`soc.stores.sqlite.guard`). This default does nothing, which suits a store whose
        every write is acknowledged where it lands: Elasticsearch answers each bulk request
        document by document, and an index deleted meanwhile is a cluster-side loss that no
        client check in a pass can see."""
        return None

    @abstractmethod
    def search(
        self,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 100,
        order: Literal["asc", "desc"] = "desc",
    ) -> Iterator[Event]:
        """Events matching a Lucene query in ``[since, until)``, by ``@timestamp``."""

    @abstractmethod
    def count(self, query: str = "*", *, since: datetime | None = None,
              until: datetime | None = None) -> int: ...

    @abstractmethod
    def get_event(self, event_id: str, *, ts: str | None = None) -> Event | None:
        """One event by id (``ts``, its ``@timestamp``, makes the look-up direct)."""

    def aggregate(self, query: str = "*", *, since: datetime | None = None,
                  until: datetime | None = None, group_by: Sequence[str] = (),
                  interval: str | None = None, top: int | None = None,
                  timezone: str = "UTC") -> list[dict[str, Any]]:
        """Count the events matching a Lucene query in ``[since, until)``, grouped in the store.

        One row per group: the ``group_by`` fields with their values, ``@timestamp`` (the
        bucket's start, canonical) when ``interval`` (``1h``, ``1d``...) is given, and
        ``count``. Buckets are aligned to midnight in ``timezone`` (its UTC offset at ``since``);
        empty buckets are left out. An event without a value for a ``group_by`` field is not
        counted (Elasticsearch ``terms`` semantics); group by single-valued fields. ``top`` keeps
        the groups with the most events over the whole window (ties: smaller values first).
        Rows come sorted by :func:`aggregate_order`.
        """
        raise self._unsupported("aggregate events")

    # dead letters ------------------------------------------------------------------------------

    @abstractmethod
    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep records that could not be parsed, idempotent on their id. Returns how many new."""

    @abstractmethod
    def dead_letters(self, *, source: str | None = None,
                     limit: int | None = None) -> list[DeadLetter]: ...

    @abstractmethod
    def remove_dead_letters(self, ids: Sequence[str]) -> int:
        """Forget dead letters (after a successful replay)."""

    # rule hits (correlation windows), alerts, audit ---------------------------------------
    # Not abstract: a store without them still stores events; detection says what is missing.

    def write_hits(self, hits: Sequence[RuleHit]) -> int:
        """Keep base-rule hits for correlation windows, idempotent on ``hit.id``. Returns new."""
        raise self._unsupported("keep rule hits")

    def hits(self, correlation: str, *, since: str, until: str,
             groups: Collection[str] | None = None) -> list[RuleHit]:
        """Hits of one correlation with ``since <= ts <= until`` (of ``groups`` only, if given),
        oldest first."""
        raise self._unsupported("read rule hits")

    def prune_hits(self, correlation: str, before: str) -> int:
        """Forget hits of ``correlation`` older than ``before`` (past its longest window)."""
        raise self._unsupported("prune rule hits")

    def find_alert(self, dedup: str, ts: str, window: timedelta) -> Alert | None:
        """The latest alert with this dedup key whose [first_seen - window, last_seen + window]
        holds ``ts`` (any status), or None."""
        raise self._unsupported("find alerts")

    def upsert_alerts(self, alerts: Sequence[Alert],
                      links: Mapping[str, Sequence[tuple[str, str]]]) -> list[Alert]:
        """Write alerts (insert or replace by id) and link each to its events
        (``links[alert.id]``: (event id, event time) pairs, idempotent); ``count`` becomes the
        number of distinct linked events. Returns the alerts as stored.

        An alert stored at another version than the one this handle read (an analyst acked it
        since ``find_alert``) is not replaced blindly: it is written :func:`reconcile`-d over the
        stored one, so the analyst's status, assignee and reason are kept."""
        raise self._unsupported("write alerts")

    def linked_events(self, alert_id: str, event_ids: Collection[str]) -> set[str]:
        """Which of ``event_ids`` are already linked to the alert."""
        raise self._unsupported("read alerts")

    def list_alerts(self, query: AlertQuery | None = None) -> list[Alert]:
        """Alerts matching ``query``, most recently seen first."""
        raise self._unsupported("list alerts")

    def count_alerts(self, query: AlertQuery | None = None) -> int:
        """How many alerts match ``query``, its ``limit`` aside. This default lists them all;
        a store that can count where it keeps them overrides it."""
        return len(self.list_alerts(replace(query or AlertQuery(), limit=None)))

    def alert_counts(self, query: AlertQuery | None = None, *, group_by: Sequence[str] = (),
                     day_offset: int | None = None) -> list[dict[str, Any]]:
        """How many alerts match ``query`` (its ``limit`` aside), grouped by alert fields
        (:data:`~soc.stores.alert_groups.ALERT_GROUPS`) and, when ``day_offset`` (seconds east
        of UTC) is given, by the local day of ``last_seen`` (``day``): one row per group with
        ``count``, sorted (see :func:`~soc.stores.alert_groups.rows`). This default lists the
        alerts; a store that can group where it keeps them overrides it."""
        from soc.stores import alert_groups

        fields = alert_groups.checked(group_by)
        found = self.list_alerts(replace(query or AlertQuery(), limit=None))
        counts = alert_groups.count(found, fields, day_offset)
        return alert_groups.rows(counts.items(), fields, day_offset)

    def alert_links(self, alert_id: str) -> list[tuple[str, str]]:
        """Every event linked to the alert (triggering or contributing), as (event id, event
        time) pairs by time, then id: all of them, not the first ``MAX_IDS`` its document
        keeps."""
        raise self._unsupported("read alert links")

    def get_alert(self, alert_id: str) -> Alert | None:
        """One alert by id, or by a unique prefix of at least 6 characters; None when absent."""
        raise self._unsupported("read alerts")

    def update_alert(self, alert: Alert) -> None:
        """Replace a stored alert's document (status, assignee...) at the version this handle
        read (an alert it never read: at the stored one). :class:`ConflictError` when another
        handle changed it since; NotFoundError if absent."""
        raise self._unsupported("update alerts")

    def update_alert_audited(self, alert: Alert, entry: AuditEntry) -> AuditEntry:
        """:meth:`update_alert`, then :meth:`append_audit` of ``entry`` (the change's audit
        entry, unsealed); returns the entry as written. The embedded store does both in one
        transaction (both or neither); this default, which the Elasticsearch store keeps (no
        transactions across documents), writes the alert first, so an append that fails leaves
        it changed without its entry."""
        self.update_alert(alert)
        return self.append_audit(entry)

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Append one entry to the audit trail (the only way anything writes it): the store
        seals ``entry`` (:func:`soc.audit.seal`) onto the newest entry *as it writes it*, so two
        processes appending at once never chain onto the same predecessor. Returns the entry
        as written: sealed, with its sequence number."""
        raise self._unsupported("write the audit trail")

    def audit_trail(self, subject: str | None = None, *,
                    limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first (of one subject, if given)."""
        raise self._unsupported("read the audit trail")

    def column_drift(self) -> list[ColumnDrift]:
        """Alerts, incidents and audit entries whose indexed columns disagree with their
        document, for ``soc audit verify``. None on a store that keeps each one as a single
        document."""
        return []

    # incidents (soc.response.records owns the model; the store keeps documents) -------------------

    def put_incident(self, incident_id: str, opened: str, status: str,
                     doc: dict[str, Any]) -> None:
        """Insert or replace an incident's document, at the version this handle read (one it
        never read: whatever is stored). :class:`ConflictError` when another handle saved it
        since."""
        raise self._unsupported("keep incidents")

    def put_incident_audited(self, incident_id: str, opened: str, status: str,
                             doc: dict[str, Any], entry: AuditEntry) -> AuditEntry:
        """:meth:`put_incident`, then :meth:`append_audit` of ``entry``; returns the entry as
        written. One transaction on the embedded store; in this order, two writes, on
        Elasticsearch (see :meth:`update_alert_audited`)."""
        self.put_incident(incident_id, opened, status, doc)
        return self.append_audit(entry)

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident's document by id, or None."""
        raise self._unsupported("read incidents")

    def list_incidents(self, status: str | None = None) -> list[dict[str, Any]]:
        """Incident documents (of one status, if given), oldest opened first."""
        raise self._unsupported("list incidents")

    # the notification outbox (soc.outbox: changes and deliveries; soc.notify routes and sends) --
    # upsert_alerts, update_alert_audited and put_incident_audited queue the changes they cause
    # (soc.outbox.changes_for_alert, change_for_entry) in their own transaction.

    def queue_change(self, change: Change) -> Change | None:
        """Queue a change made outside an alert or incident write (a reminder, an
        escalation), idempotent on ``change.key``; returns it with its ``seq``, or None when
        that key was queued already."""
        raise self._unsupported("keep a notification outbox")

    def outbox_changes(self, *, after_seq: int | None = None, unrouted: bool = False,
                       kinds: Collection[str] | None = None, since: str | None = None,
                       limit: int | None = None) -> list[Change]:
        """Changes in outbox order (``seq``): after ``after_seq``, not routed yet, of
        ``kinds``, that happened at ``since`` or later, as asked."""
        raise self._unsupported("read the notification outbox")

    def route_changes(self, seqs: Sequence[int], deliveries: Sequence[Delivery]) -> int:
        """Insert ``deliveries`` (idempotent on their key) and mark the changes ``seqs`` routed,
        in one transaction: a crash routes a change fully or not at all. Returns how many
        deliveries were new."""
        raise self._unsupported("route notifications")

    def due_deliveries(self, now: str, *, channel: str | None = None,
                       limit: int | None = None) -> list[Delivery]:
        """Queued or held deliveries whose ``next_at`` is not after ``now``, in outbox order
        (``seq``, then key)."""
        raise self._unsupported("read notification deliveries")

    def mark_delivery(self, key: str, *, status: str, attempts: int | None = None,
                      next_at: str | None = None, error: str | None = None,
                      receipt: str | None = None, delivered_at: str | None = None,
                      failed_at: str | None = None) -> None:
        """Record what became of one delivery (the fields given; ``error`` replaces the last
        one). NotFoundError when no delivery has this key."""
        raise self._unsupported("update notification deliveries")

    def list_deliveries(self, *, status: str | None = None, route: str | None = None,
                        since: str | None = None,
                        limit: int | None = None) -> list[Delivery]:
        """Deliveries (of a status, of a route, created at ``since`` or later), newest change
        last."""
        raise self._unsupported("read notification deliveries")

    def digest_items(self, until: str) -> list[Delivery]:
        """Digested deliveries whose window ended by ``until`` and that no digest holds yet."""
        raise self._unsupported("read notification deliveries")

    def add_digest(self, digest: Delivery, items: Sequence[str]) -> bool:
        """Insert the digest delivery (idempotent on its key) and note in the deliveries
        ``items`` that it holds them, in one transaction. False when it was there already."""
        raise self._unsupported("write notification digests")

    def delivery_summary(self) -> list[dict[str, Any]]:
        """Per channel: ``channel``, ``queued`` (queued or held), ``failed``, ``delivered``,
        ``last_success``, ``last_failure`` and ``last_error`` (``soc status``)."""
        raise self._unsupported("read notification deliveries")

    def prune_outbox(self, before: str, *, limit: int) -> int:
        """Delete at most ``limit`` finished deliveries (delivered, failed, or told in a
        digest) and at most ``limit`` routed changes no delivery still waits for, from before
        ``before``; returns how many rows went."""
        raise self._unsupported("prune the notification outbox")

    keeps_outbox = False
    """Whether this store keeps the notification outbox (the methods above)."""

    # threat-intel indicators (soc.intel merges the feeds' words; the store keeps whole records) --

    def put_indicators(self, records: Sequence[IndicatorRecord]) -> int:
        """Insert or replace each record by ``record.id`` (its whole document and its sources:
        a feed no longer named is gone from it), in one transaction on the embedded store.
        Records are stored as given, settled (:meth:`IndicatorRecord.settle`); of several with
        one id the last wins. Returns how many were written."""
        raise self._unsupported("keep threat-intel indicators")

    def get_indicators(self, ids: Collection[str]) -> dict[str, IndicatorRecord]:
        """The stored records of ``ids``, by id; an id with no record is left out."""
        raise self._unsupported("read threat-intel indicators")

    def list_indicators(self, *, kind: str | None = None, source: str | None = None,
                        live_at: str | None = None, changed_since: str | None = None,
                        value: str | None = None) -> Iterator[IndicatorRecord]:
        """Records by (type, value), streamed page by page (100,000 never come in one
        answer): of type ``kind``; that the feed ``source`` vouches for (among its sources);
        live at ``live_at`` (:meth:`IndicatorRecord.live`, decided by the store's query on the
        summary's ``valid_until`` and ``expired``); updated at ``changed_since`` or later; with
        exactly this (normalised) ``value``. Times are canonical UTC strings."""
        raise self._unsupported("list threat-intel indicators")

    def indicator_keys(self, *, live_at: str | None = None) -> Iterator[IndicatorRecord]:
        """The records live at ``live_at`` (all without it) without their sources: type,
        value, ``valid_until`` and ``expired`` only (:func:`indicator_key`), in no particular
        order. What the matcher's index is built from, cheaply; :meth:`get_indicators` gives
        the whole record of a match.
        A store without it is read through :meth:`list_indicators`."""
        return self.list_indicators(live_at=live_at)

    def indicators_version(self) -> str | None:
        """A token that changes whenever the stored indicators change (a write or a removal),
        or None when the store cannot tell: the matcher keeps its built index on disk under it
        (:mod:`soc.intel.index_cache`) and rebuilds only when it differs."""
        return None

    def count_indicators(self, *, live_at: str | None = None) -> int:
        """How many records are stored (live at ``live_at`` only, if given)."""
        raise self._unsupported("count threat-intel indicators")

    def remove_indicators(self, ids: Collection[str]) -> int:
        """Forget the records of ``ids`` (``soc intel remove``; expiry keeps them for history).
        Returns how many were there."""
        raise self._unsupported("remove threat-intel indicators")

    # console accounts (soc.web.accounts decides what a document holds; the store keeps it) ------

    def put_user(self, name: str, doc: dict[str, Any]) -> None:
        """Insert or replace the account ``name`` (its whole document), visible to the next
        read of any handle."""
        raise self._unsupported("keep console accounts")

    def get_user(self, name: str) -> dict[str, Any] | None:
        """The document of the account ``name``, or None (real-time: no refresh needed)."""
        raise self._unsupported("read console accounts")

    def list_users(self) -> list[dict[str, Any]]:
        """Every account's document, by name (a team's few accounts: one answer)."""
        raise self._unsupported("list console accounts")

    def _unsupported(self, what: str) -> StoreError:
        return StoreError(f"the {self.kind} store cannot {what} yet",
                          hint="Use the embedded store for detection and alerts.")

    # housekeeping ------------------------------------------------------------------------------

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Counts and sizes for ``soc store stats`` and ``soc status``."""

    def install(self, kibana_url: str | None = None) -> list[str]:
        """Create or update what the store needs beyond ``open`` (templates, policies, Kibana
        objects); returns what it did. The embedded store needs nothing more."""
        if kibana_url:
            from soc.errors import SocError

            raise SocError(f"Kibana objects need the Elasticsearch store, not {self.kind}",
                           hint="Set 'store: {type: elasticsearch}' in soc.yml.")
        return []

    def doctor(self) -> list[dict[str, str]]:
        """Checks for ``soc store doctor``: ``{"check", "status" (ok|warn|fail), "detail"}``."""
        return []

    @abstractmethod
    def retention(self, keep_days: Callable[[int | None], int], *, now: datetime,
                  apply: bool = False, holds: Sequence[Hold] = ()) -> list[RetentionItem]:
        """Partitions and whether they are past their retention; ``apply`` deletes the events
        of those that are, except the events ``holds`` keep. Each expired item says how many
        of its events the holds keep (``held``) and for which incidents (``kept``)."""


# --- aggregations: what every store computes the same way ----------------------------------------


def bucket_seconds(interval: str) -> int:
    """The length of an aggregation bucket in whole seconds (``1h`` → 3600)."""
    from soc.timeutil import parse_duration

    try:
        seconds = int(parse_duration(interval).total_seconds())
    except ValueError as exc:
        raise StoreError(f"bad aggregation interval: {exc}") from None
    if seconds < 1:
        raise StoreError(f"bad aggregation interval {interval!r}: at least 1s")
    return seconds


def utc_offset(timezone: str, at: datetime | None) -> int:
    """Seconds east of UTC of ``timezone`` at ``at`` (now when None): buckets align to its
    midnight."""
    from datetime import UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise StoreError(f"unknown time zone {timezone!r}",
                         hint="Use an IANA name such as Asia/Ho_Chi_Minh.") from None
    offset = (at or datetime.now(UTC)).astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def aggregate_order(row: Mapping[str, Any], group_by: Sequence[str]) -> tuple[Any, ...]:
    """Rows by bucket, then most events first, then by their values as text."""
    return (str(row.get("@timestamp", "")), -int(row["count"]),
            tuple(str(row[f]) for f in group_by))


KEY_FIELDS = ("type", "value", "valid_until", "expired")
"""What :meth:`Store.indicator_keys` reads of each record."""


def indicator_key(kind: str, value: str, valid_until: str | None,
                  expired: str | None) -> IndicatorRecord:
    """A record without its sources, from its :data:`KEY_FIELDS` (the matcher's index)."""
    return _record_class()(kind, value, {}, added="", updated="", expired=expired or None,
                           valid_until=valid_until or None)


@functools.cache
def _record_class() -> type[IndicatorRecord]:
    # imported once: an import statement in indicator_key cost 1 µs a record, a sixth of the
    # time 100,000 indicators take to load
    from soc.intel.model import IndicatorRecord

    return IndicatorRecord


def indicator_of(doc: Mapping[str, Any]) -> IndicatorRecord:
    """The indicator record a stored document holds (:meth:`IndicatorRecord.from_doc`). The
    stores reach :mod:`soc.intel.model` (plain data, no stage logic) through this module only
    (docs/architecture.md)."""
    from soc.intel.model import IndicatorRecord

    return IndicatorRecord.from_doc(dict(doc))


def diagnose_store(config: Config) -> list[dict[str, str]]:
    """The checks of ``soc store doctor`` for the store the configuration names."""
    from soc import registry

    cls: type[Store] = registry.load("store", config.store.type)
    return cls.diagnose(config)


def routes_notifications(config: Config) -> bool:
    """Whether soc.yml routes notifications (``notify.routes`` names at least one route):
    only then do alert and incident writes queue the changes they cause."""
    section = config.raw.get("notify")
    return isinstance(section, Mapping) and bool(section.get("routes"))


def open_store(config: Config, *, readonly: bool = False) -> Store:
    """The store the configuration names, found through the ``soc.stores`` entry points."""
    from soc import registry

    cls: type[Store] = registry.load("store", config.store.type)
    return cls.open(config, readonly=readonly)
