"""The audit trail and incidents on Elasticsearch.

* ``soc-audit``: entry number ``seq`` is the ``_id``, written with ``op_type: create``. Two
  processes appending at once both aim at the same next number; the cluster takes one, the
  other gets 409, reads the winner (real-time get), re-seals its entry on it
  (:func:`soc.audit.seal`; the store seals every entry it appends) and takes the next
  number: the chain never forks.
* ``soc-incidents``: ``{id, opened, status, @timestamp, doc}``; the document is kept unindexed
  and comes back byte for byte, so ``soc audit verify`` hashes what was written. A replace names
  the version this handle read (:class:`ConflictError` when another analyst saved in between).
* An audited change (``update_alert_audited``, ``put_incident_audited``) keeps the Store
  defaults: two writes, the record then its entry. No transaction spans two documents here, so
  an append that fails leaves the record changed without its entry, and two processes changing
  one record can reach the trail in the other order: ``soc audit verify`` then reports a record
  that differs from its trail. With notifications routed, the change it causes (an alert
  acknowledged or closed, an incident opened or closed) is queued in the notification outbox
  before both (:mod:`soc.stores.es.outbox`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from elasticsearch import ConflictError as EsConflict

from soc import audit
from soc.errors import StoreError
from soc.models import AuditEntry
from soc.outbox import change_for_entry
from soc.stores.base import INCIDENT_HINT, ColumnDrift
from soc.stores.es.connection import es_errors
from soc.stores.es.outbox import OutboxMixin

APPEND_TRIES = 100  # appends lost to others in a row before giving up
AUDIT_SORT: list[dict[str, Any]] = [{"seq": "asc"}]
INCIDENT_SORT: list[dict[str, Any]] = [{"opened": "asc"}, {"id": "asc"}]


class RecordsMixin(OutboxMixin):
    """Audit trail and incidents of :class:`ElasticsearchStore` (the Store contract)."""

    # audit trail ---------------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Seal ``entry`` on the newest entry and append it as the next ``seq`` (``op_type:
        create``); on 409 re-seal on the winner and take the number after it."""
        self._writable("write the audit trail")
        seq, head = self._audit_head()
        for _ in range(APPEND_TRIES):
            entry = audit.seal(entry, head)
            with es_errors("cannot write the audit trail", self.options):
                try:
                    self.client.create(index=self._doc_index("audit"), id=str(seq + 1),
                                       document={**entry.to_dict(), "seq": seq + 1},
                                       refresh=self._visible)
                    return replace(entry, seq=seq + 1)
                except EsConflict:
                    seq, head = seq + 1, self._audit_entry(seq + 1)
        raise StoreError(f"cannot write the audit trail: {APPEND_TRIES} appends of other "
                         "processes came first", hint="Retry; see who writes so much with "
                                                      "'soc audit list'.")

    def _audit_head(self) -> tuple[int, AuditEntry | None]:
        """The newest entry the index shows (a 409 on the next number finds any newer one)."""
        for hit in self._scan("audit", {"match_all": {}}, [{"seq": "desc"}], 1,
                              action="cannot read the audit trail"):
            entry = AuditEntry.from_dict(hit["_source"])
            return entry.seq or 0, entry
        return 0, None

    def _audit_entry(self, seq: int) -> AuditEntry:
        doc = self._fetch("audit", str(seq))
        if doc is None:
            raise StoreError(f"audit entry #{seq} vanished while appending after it",
                             hint="Run 'soc audit verify'.")
        return AuditEntry.from_dict(doc)

    def audit_trail(self, subject: str | None = None, *,
                    limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first (of one subject, if given)."""
        query = {"term": {"subject": subject}} if subject is not None else {"match_all": {}}
        return [AuditEntry.from_dict(h["_source"]) for h in self._scan(
            "audit", query, AUDIT_SORT, limit, action="cannot read the audit trail")]

    def column_drift(self) -> list[ColumnDrift]:
        """Incidents whose indexed ``id``, ``opened`` or ``status`` are not what their document
        says (alerts and audit entries are one document each here: nothing to disagree)."""
        drift = []
        for hit in self._scan("incidents", {"match_all": {}}, INCIDENT_SORT,
                              action="cannot list incidents"):
            source, doc = hit["_source"], hit["_source"].get("doc") or {}
            drift += [ColumnDrift("incidents", str(hit["_id"]), field, source.get(field),
                                  doc[field])
                      for field in ("id", "opened", "status")
                      if field in doc and source.get(field) != doc[field]]
        return drift

    # incidents -----------------------------------------------------------------------------------

    def put_incident(self, incident_id: str, opened: str, status: str,
                     doc: dict[str, Any]) -> None:
        """Insert, or replace at the version this handle read (ConflictError when another
        analyst saved it since)."""
        self._writable("write incidents")
        if ("incidents", incident_id) not in self._versions:
            self._fetch("incidents", incident_id)  # never read here: replace what is there
        body = {"id": incident_id, "opened": opened, "status": status, "@timestamp": opened,
                "doc": doc}
        self._replace("incidents", incident_id, body, noun="incident", hint=INCIDENT_HINT)

    def put_incident_audited(self, incident_id: str, opened: str, status: str,
                             doc: dict[str, Any], entry: AuditEntry) -> AuditEntry:
        """The Store default's two writes (the incident, then its entry), the change an
        opening or a closing causes queued before them when notifications are routed."""
        self._writable("write incidents")
        change = change_for_entry(entry, doc) if self.tells else None
        if change is not None:
            self._queue([change])
        self.put_incident(incident_id, opened, status, doc)
        return self.append_audit(entry)

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident's document by id, or None."""
        found = self._fetch("incidents", incident_id)
        return dict(found["doc"]) if found is not None else None

    def list_incidents(self, status: str | None = None) -> list[dict[str, Any]]:
        """Incident documents (of one status, if given), oldest opened first."""
        query = {"term": {"status": status}} if status is not None else {"match_all": {}}
        return [dict(h["_source"]["doc"]) for h in self._scan(
            "incidents", query, INCIDENT_SORT, action="cannot list incidents", versions=True)]
