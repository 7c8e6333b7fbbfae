"""Rule hits, alerts, the audit trail and incidents on the embedded store, each alert and
incident written at the version its handle read (:class:`~soc.stores.base.ConflictError`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from soc import audit
from soc.ecs import format_ts, parse_ts
from soc.errors import NotFoundError
from soc.models import Alert, AlertQuery, AuditEntry, RuleHit
from soc.outbox import change_for_entry, changes_for_alert
from soc.stores import alert_groups
from soc.stores.base import ALERT_HINT, INCIDENT_HINT, ColumnDrift, conflict, reconcile
from soc.stores.sqlite.connection import ConnectionMixin
from soc.stores.sqlite.outbox import queue
from soc.stores.sqlite.schema import _dumps, _loads


class StateMixin(ConnectionMixin):
    """Rule hits, alerts, audit and incidents of :class:`~soc.stores.sqlite.store.SQLiteStore`
    (the Store contract)."""

    _versions: dict[tuple[str, str], int]  # (table, id) -> version read/written

    # rule hits, alerts, audit ------------------------------------------------------------------

    def write_hits(self, hits: Sequence[RuleHit]) -> int:
        """Keep hits for correlation windows (``rule_id`` column: the correlation)."""
        self._writable("write rule hits")
        rows = [(h.id, h.ts, h.correlation, h.group_key, h.event_id, h.rule_id, h.value,
                 _dumps(h.to_dict())) for h in hits]
        with self._errors("cannot write rule hits"), self._transaction():
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO rule_hits(id, ts, rule_id, group_key, event_id, base_rule, "
                "value, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return max(cur.rowcount, 0)

    def hits(self, correlation: str, *, since: str, until: str,
             groups: Collection[str] | None = None) -> list[RuleHit]:
        """Hits of a correlation in ``[since, until]``, of ``groups`` if given, oldest first."""
        sql = "SELECT doc FROM rule_hits WHERE rule_id = ? AND ts >= ? AND ts <= ?"
        with self._errors("cannot read rule hits"):
            if groups is None:
                rows = self.db.execute(sql + " ORDER BY ts, id", (correlation, since, until))
                return [RuleHit.from_dict(_loads(doc)) for (doc,) in rows]
            found: list[RuleHit] = []
            keys = sorted(set(groups))
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(f"{sql} AND group_key IN ({marks})",
                                       (correlation, since, until, *chunk))
                found.extend(RuleHit.from_dict(_loads(doc)) for (doc,) in rows)
        return sorted(found, key=lambda h: (h.ts, h.id))

    def prune_hits(self, correlation: str, before: str) -> int:
        """Forget the hits of a correlation older than ``before``."""
        self._writable("prune rule hits")
        with self._errors("cannot prune rule hits"), self._transaction():
            cur = self.db.execute("DELETE FROM rule_hits WHERE rule_id = ? AND ts < ?",
                                  (correlation, before))
            return max(cur.rowcount, 0)

    def find_alert(self, dedup: str, ts: str, window: timedelta) -> Alert | None:
        """The latest alert of this dedup key whose seen range, widened by ``window``, holds ts."""
        moment = parse_ts(ts)
        low, high = format_ts(moment - window), format_ts(moment + window)
        with self._errors("cannot read alerts"):
            row = self.db.execute(
                "SELECT id, version, doc FROM alerts WHERE dedup = ? AND last_seen >= ? "
                "AND first_seen <= ? ORDER BY last_seen DESC, id LIMIT 1",
                (dedup, low, high)).fetchone()
        return self._alert(row) if row else None

    def _alert(self, row: tuple[str, int, str]) -> Alert:
        """The alert of an ``(id, version, doc)`` row, its version remembered."""
        self._versions[("alerts", row[0])] = row[1]
        return Alert.from_dict(_loads(row[2]))

    def _stored_version(self, table: str, row_id: str) -> int | None:
        row = self.db.execute(f"SELECT version FROM {table} WHERE id = ?", (row_id,)).fetchone()
        return int(row[0]) if row else None

    def upsert_alerts(self, alerts: Sequence[Alert],
                      links: Mapping[str, Sequence[tuple[str, str]]]) -> list[Alert]:
        """Write alerts and their event links; ``count`` = distinct linked events. An alert
        stored at another version than this handle read is reconciled with it (the analyst's
        status, assignee and reason kept), as on Elasticsearch."""
        self._writable("write alerts")
        stored: list[Alert] = []
        versions: dict[tuple[str, str], int] = {}
        with self._errors("cannot write alerts"), self._transaction():
            for alert in alerts:
                self.db.executemany(
                    "INSERT OR IGNORE INTO alert_events(alert_id, event_id, ts) VALUES (?, ?, ?)",
                    [(alert.id, eid, ts) for eid, ts in links.get(alert.id, ())])
                count = self._scalar_args(
                    "SELECT count(*) FROM alert_events WHERE alert_id = ?", (alert.id,))
                final, version, before = self._over_stored(replace(alert, count=int(count)))
                versions[("alerts", final.id)] = self._put_alert(final, version)
                if self.tells:
                    queue(self.db, changes_for_alert(before, final))  # told iff written
                stored.append(final)
        self._versions.update(versions)
        return stored

    def _over_stored(self, ours: Alert) -> tuple[Alert, int | None, Alert | None]:
        """``ours`` as detection may write it, the stored version and the stored alert:
        reconciled with the stored alert when that is not the version this handle read (an
        ack since ``find_alert`` is never undone)."""
        row = self.db.execute("SELECT version, doc FROM alerts WHERE id = ?",
                              (ours.id,)).fetchone()
        if row is None:
            return ours, None, None
        before = Alert.from_dict(_loads(row[1]))
        if row[0] == self._versions.get(("alerts", ours.id)):
            return ours, row[0], before
        return reconcile(ours, before), row[0], before

    def _put_alert(self, a: Alert, stored: int | None) -> int:
        """Insert or replace the alert's row one version past ``stored``; returns that version,
        for the caller to remember once committed (not a version a rollback undid)."""
        version = (stored or 0) + 1
        columns = _alert_columns(a)
        self.db.execute(
            f"INSERT OR REPLACE INTO alerts(id, {', '.join(columns)}, doc, version) "
            f"VALUES (?, {', '.join('?' * len(columns))}, ?, ?)",
            (a.id, *columns.values(), _dumps(a.to_dict()), version))
        return version

    def linked_events(self, alert_id: str, event_ids: Collection[str]) -> set[str]:
        """Which of ``event_ids`` are linked to the alert already."""
        ids = list(event_ids)
        found: set[str] = set()
        with self._errors("cannot read alerts"):
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                rows = self.db.execute(
                    f"SELECT event_id FROM alert_events WHERE alert_id = ? AND event_id IN "
                    f"({','.join('?' * len(chunk))})", (alert_id, *chunk))
                found.update(eid for (eid,) in rows)
        return found

    def alert_links(self, alert_id: str) -> list[tuple[str, str]]:
        """Every (event id, event time) linked to the alert, by time, then id."""
        with self._errors("cannot read alert links"):
            rows = self.db.execute("SELECT event_id, ts FROM alert_events WHERE alert_id = ? "
                                   "ORDER BY ts, event_id", (alert_id,)).fetchall()
        return [(str(eid), str(ts)) for eid, ts in rows]

    def count_alerts(self, query: AlertQuery | None = None) -> int:
        """How many alerts match the filters (the limit aside)."""
        where, params = _alert_filters(query or AlertQuery())
        with self._errors("cannot count alerts"):
            return int(self._scalar_args(f"SELECT count(*) FROM alerts WHERE {where}", params))

    def alert_counts(self, query: AlertQuery | None = None, *, group_by: Sequence[str] = (),
                     day_offset: int | None = None) -> list[dict[str, Any]]:
        """Grouped alert counts (see :meth:`Store.alert_counts`), counted by SQLite: one
        query, no alert read."""
        fields = alert_groups.checked(group_by)  # column names, checked against a fixed list
        where, params = _alert_filters(query or AlertQuery())
        keys = list(fields)
        if day_offset is not None:
            keys.append("strftime('%Y-%m-%d', last_seen, ?)")
            params = [f"{int(day_offset):+d} seconds", *params]
        grouped = f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}" if keys else ""
        sql = f"SELECT {', '.join([*keys, 'count(*)'])} FROM alerts WHERE {where}{grouped}"
        with self._errors("cannot count alerts"):
            found = self.db.execute(sql, params).fetchall()
        return alert_groups.rows(((tuple(r)[:-1], tuple(r)[-1]) for r in found), fields,
                                 day_offset)

    def list_alerts(self, query: AlertQuery | None = None) -> list[Alert]:
        """Alerts matching the filters, most recently seen first."""
        q = query or AlertQuery()
        where, params = _alert_filters(q)
        # the page's rows chosen from the indexes first, then their documents read: sorting
        # the matching rows with their documents (40,000 open alerts of high severity) took
        # half a second
        sql = ("SELECT id, version, doc FROM alerts WHERE rowid IN (SELECT rowid FROM alerts "
               f"WHERE {where} ORDER BY last_seen DESC, id LIMIT ?) ORDER BY last_seen DESC, id")
        with self._errors("cannot list alerts"):
            rows = self.db.execute(sql, (*params, -1 if q.limit is None else q.limit))
            return [self._alert(row) for row in rows]

    def get_alert(self, alert_id: str) -> Alert | None:
        """One alert by id or by a unique prefix (6 characters or more)."""
        with self._errors("cannot read alerts"):
            row = self.db.execute("SELECT id, version, doc FROM alerts WHERE id = ?",
                                  (alert_id,)).fetchone()
            if row is None and len(alert_id) >= 6:
                rows = self.db.execute(
                    "SELECT id, version, doc FROM alerts WHERE id >= ? AND id < ? LIMIT 2",
                    (alert_id, alert_id + "\uffff")).fetchall()
                row = rows[0] if len(rows) == 1 else None
        return self._alert(row) if row else None

    def update_alert(self, alert: Alert) -> None:
        """Replace an alert's document (status, assignee, reason...) at the version this handle
        read; ConflictError when someone else changed it since, NotFoundError when absent."""
        self._writable("update alerts")
        with self._errors("cannot update alerts"), self._transaction():
            version = self._replace_alert(alert)
        self._versions[("alerts", alert.id)] = version

    def update_alert_audited(self, alert: Alert, entry: AuditEntry) -> AuditEntry:
        """:meth:`update_alert` and :meth:`append_audit` in one transaction: both or neither,
        and no other writer between them."""
        self._writable("update alerts")
        with self._errors("cannot update alerts"), self._transaction():
            version = self._replace_alert(alert)
            written = self._append_for_change(entry)
            if self.tells:
                queue(self.db, [c for c in [change_for_entry(entry, alert)] if c])
        self._versions[("alerts", alert.id)] = version
        return written

    def _replace_alert(self, alert: Alert) -> int:
        stored = self._stored_version("alerts", alert.id)
        if stored is None:
            raise NotFoundError(f"no alert {alert.id}", hint="List them: soc alerts list")
        self._check_version("alerts", alert.id, stored, "alert", ALERT_HINT)
        return self._put_alert(alert, stored)

    def _check_version(self, table: str, row_id: str, stored: int | None, noun: str,
                       hint: str) -> None:
        """ConflictError when the stored row is not the version this handle read (a row it
        never read is replaced as it is)."""
        known = self._versions.get((table, row_id))
        if known is not None and known != stored:
            del self._versions[(table, row_id)]
            raise conflict(noun, row_id, hint)

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Seal ``entry`` on the newest entry and append it, in one write transaction (``BEGIN
        IMMEDIATE``: no other process appends between the read and the insert); returns the
        entry as written, with its sequence number. Reads one row, not the trail."""
        self._writable("write the audit trail")
        with self._errors("cannot write the audit trail"), self._transaction():
            return self._append(entry)

    def _append(self, entry: AuditEntry) -> AuditEntry:
        """Seal and insert ``entry``, inside the caller's write transaction."""
        head = self.db.execute("SELECT id, doc FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        sealed = audit.seal(entry, _audit_entry(*head) if head else None)
        cur = self.db.execute(
            "INSERT INTO audit(ts, actor, action, subject, doc) VALUES (?, ?, ?, ?, ?)",
            (sealed.ts, sealed.actor, sealed.action, sealed.subject, _dumps(sealed.to_dict())))
        return replace(sealed, seq=cur.lastrowid)

    def _append_for_change(self, entry: AuditEntry) -> AuditEntry:
        """:meth:`_append` of a change's entry: its failure rolls the change back too."""
        with self._errors("cannot write the audit entry, so nothing was changed"):
            return self._append(entry)

    def audit_trail(self, subject: str | None = None, *,
                    limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first."""
        with self._errors("cannot read the audit trail"):
            rows = self.db.execute(
                "SELECT id, doc FROM audit WHERE ? IS NULL OR subject = ? ORDER BY id LIMIT ?",
                (subject, subject, -1 if limit is None else limit)).fetchall()
        return [_audit_entry(seq, doc) for seq, doc in rows]

    def column_drift(self) -> list[ColumnDrift]:
        """Alerts, incidents and audit entries whose columns (what lists and filters use)
        disagree with their document (what soc reads and the audit hashes)."""
        with self._errors("cannot read alerts, incidents and the audit trail"):
            drift = [d for row in self.db.execute(
                f"SELECT id, {', '.join(ALERT_COLUMNS)}, doc FROM alerts ORDER BY id")
                for d in _alert_drift(row)]
            for table, columns in (("incidents", INCIDENT_COLUMNS), ("audit", AUDIT_COLUMNS)):
                rows = self.db.execute(f"SELECT id, {', '.join(columns)}, doc FROM {table} "
                                       "ORDER BY id")
                drift += [d for row in rows for d in _doc_drift(table, columns, row)]
        return drift

    # incidents -----------------------------------------------------------------------------------

    def put_incident(self, incident_id: str, opened: str, status: str,
                     doc: dict[str, Any]) -> None:
        """Insert, or replace at the version this handle read (ConflictError when another
        analyst saved it since; an incident this handle never read is replaced as it is)."""
        self._writable("write incidents")
        with self._errors("cannot write incidents"), self._transaction():
            version = self._put_incident(incident_id, opened, status, doc)
        self._versions[("incidents", incident_id)] = version

    def put_incident_audited(self, incident_id: str, opened: str, status: str,
                             doc: dict[str, Any], entry: AuditEntry) -> AuditEntry:
        """:meth:`put_incident` and :meth:`append_audit` in one transaction: both or neither,
        and no other writer between them."""
        self._writable("write incidents")
        with self._errors("cannot write incidents"), self._transaction():
            version = self._put_incident(incident_id, opened, status, doc)
            written = self._append_for_change(entry)
            if self.tells:
                queue(self.db, [c for c in [change_for_entry(entry, doc)] if c])
        self._versions[("incidents", incident_id)] = version
        return written

    def _put_incident(self, incident_id: str, opened: str, status: str,
                      doc: dict[str, Any]) -> int:
        stored = self._stored_version("incidents", incident_id)
        self._check_version("incidents", incident_id, stored, "incident", INCIDENT_HINT)
        version = (stored or 0) + 1
        self.db.execute(
            "INSERT OR REPLACE INTO incidents(id, opened, status, doc, version) "
            "VALUES (?, ?, ?, ?, ?)", (incident_id, opened, status, _dumps(doc), version))
        return version

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident's document by id, or None."""
        with self._errors("cannot read incidents"):
            row = self.db.execute("SELECT id, version, doc FROM incidents WHERE id = ?",
                                  (incident_id,)).fetchone()
        return self._incident(row) if row else None

    def _incident(self, row: tuple[str, int, str]) -> dict[str, Any]:
        self._versions[("incidents", row[0])] = row[1]
        return _loads(row[2])

    def list_incidents(self, status: str | None = None) -> list[dict[str, Any]]:
        """Incident documents (of one status, if given), oldest opened first."""
        with self._errors("cannot list incidents"):
            rows = self.db.execute("SELECT id, version, doc FROM incidents "
                                   "WHERE ? IS NULL OR status = ? ORDER BY opened, id",
                                   (status, status)).fetchall()
        return [self._incident(row) for row in rows]


# --- helpers -------------------------------------------------------------------------------------


ALERT_COLUMNS = ("ts", "rule_id", "severity", "status", "dedup", "first_seen", "last_seen",
                 "severity_rank", "system", "unit", "assignee")
INCIDENT_COLUMNS = ("opened", "status")
AUDIT_COLUMNS = ("ts", "actor", "action", "subject")
_LATER_COLUMNS = frozenset({"dedup", "first_seen", "last_seen", "severity_rank", "system",
                            "unit"})  # migration 2 added them empty to the alerts already there


def _alert_columns(a: Alert) -> dict[str, object]:
    """The indexed columns of an alert's row, from the alert (:data:`ALERT_COLUMNS` order)."""
    return {"ts": a.first_seen, "rule_id": a.rule_id, "severity": a.severity.value,
            "status": a.status.value, "dedup": a.dedup, "first_seen": a.first_seen,
            "last_seen": a.last_seen, "severity_rank": a.severity.rank, "system": a.system,
            "unit": a.unit, "assignee": a.assignee}


def _alert_drift(row: tuple[Any, ...]) -> list[ColumnDrift]:
    """The columns of an alerts row that are not what its document makes them."""
    rid, doc = row[0], row[-1]
    try:
        expected = _alert_columns(Alert.from_dict(_loads(doc)))
    except (ValueError, KeyError, TypeError) as exc:
        return [ColumnDrift("alerts", rid, "doc", doc[:60], f"unreadable: {exc}")]
    return [ColumnDrift("alerts", rid, c, v, expected[c])
            for c, v in zip(ALERT_COLUMNS, row[1:-1], strict=True)
            if v != expected[c] and not (v is None and c in _LATER_COLUMNS)]


def _doc_drift(table: str, columns: Sequence[str], row: tuple[Any, ...]) -> list[ColumnDrift]:
    """The columns of an incidents or audit row that are not what its document says (fields
    the document does not hold are not compared)."""
    rid = str(row[0])
    try:
        doc: Any = _loads(row[-1])
    except ValueError as exc:
        return [ColumnDrift(table, rid, "doc", str(row[-1])[:60], f"unreadable: {exc}")]
    if not isinstance(doc, dict):
        return [ColumnDrift(table, rid, "doc", str(row[-1])[:60], "not a JSON object")]
    return [ColumnDrift(table, rid, c, v, doc[c])
            for c, v in zip(columns, row[1:-1], strict=True) if c in doc and v != doc[c]]


def _audit_entry(seq: int, doc: str) -> AuditEntry:
    """The audit entry of an ``(id, doc)`` row."""
    return replace(AuditEntry.from_dict(_loads(doc)), seq=seq)


def _alert_filters(q: AlertQuery) -> tuple[str, list[object]]:
    """The WHERE clause of ``list_alerts``. The queue's filters each have an index (migrations
    2 and 8); when a narrow one is given (rule, system, unit, assignee), the status and the
    severity are written ``+status``, which keeps SQLite (no statistics) from choosing the
    status index and checking 100,000 open alerts' rows one by one."""
    parts: list[str] = ["1"]
    params: list[object] = []
    narrow = any(v is not None for v in (q.rule, q.system, q.unit, q.assignee))
    wide = "+" if narrow else ""
    for column, value in ((wide + "status", q.status.value if q.status else None),
                          ("rule_id", q.rule), ("system", q.system), ("unit", q.unit),
                          ("assignee", q.assignee)):
        if value is not None:
            parts.append(f"{column} = ?")
            params.append(value)
    if q.incident is not None:  # a rare filter: read from the document, no column
        parts.append("json_extract(doc, '$.incident') = ?")
        params.append(q.incident)
    if q.min_severity is not None:
        parts.append(f"{wide}severity_rank >= ?")
        params.append(q.min_severity.rank)
    if q.since is not None:
        parts.append("last_seen >= ?")
        params.append(q.since)
    return " AND ".join(parts), params
