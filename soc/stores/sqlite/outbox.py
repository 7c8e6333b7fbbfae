"""The notification outbox on the embedded store: changes (``outbox``), written in the
transaction of the alert or incident write that causes them, and their ``deliveries``
(docs/notifications.md)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import Any

from soc.errors import NotFoundError
from soc.outbox import Change, Delivery
from soc.stores.sqlite.connection import ConnectionMixin
from soc.stores.sqlite.schema import _dumps, _loads

_DELIVERY_COLUMNS = ("key", "seq", "route", "channel", "status", "attempts", "next_at",
                     "last_error", "failed_at", "receipt", "delivered_at", "created", "doc")
_SELECT_DELIVERY = f"SELECT {', '.join(_DELIVERY_COLUMNS)} FROM deliveries"


def queue(db: sqlite3.Connection, changes: Iterable[Change]) -> list[Change]:
    """Insert changes inside the caller's transaction, idempotent on their key; returns those
    that were new, with their ``seq``."""
    written: list[Change] = []
    for c in changes:
        cur = db.execute(
            "INSERT OR IGNORE INTO outbox(key, kind, subject, severity, ts, doc) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (c.key, c.kind, c.subject, c.severity, c.ts, _dumps(dict(c.doc))))
        if cur.rowcount > 0:
            written.append(replace(c, seq=cur.lastrowid))
    return written


def _change(row: tuple[Any, ...]) -> Change:
    seq, key, kind, subject, severity, ts, doc = row
    return Change(key=key, kind=kind, subject=subject, severity=severity or "", ts=ts,
                  doc=_loads(doc), seq=seq)


def _delivery(row: tuple[Any, ...]) -> Delivery:
    values = dict(zip(_DELIVERY_COLUMNS, row, strict=True))
    values["doc"] = _loads(values["doc"])
    return Delivery(**values)


def _delivery_row(d: Delivery) -> tuple[Any, ...]:
    return (d.key, d.seq, d.route, d.channel, d.status, d.attempts, d.next_at, d.last_error,
            d.failed_at, d.receipt, d.delivered_at, d.created, _dumps(dict(d.doc)))


class OutboxMixin(ConnectionMixin):
    """The outbox part of :class:`~soc.stores.sqlite.store.SQLiteStore` (the Store
    contract's notification methods)."""

    def queue_change(self, change: Change) -> Change | None:
        """Queue one change on its own, idempotent on its key."""
        self._writable("queue notifications")
        with self._errors("cannot queue a notification"), self._transaction():
            written = queue(self.db, [change])
        return written[0] if written else None

    def outbox_changes(self, *, after_seq: int | None = None, unrouted: bool = False,
                       kinds: Collection[str] | None = None, since: str | None = None,
                       limit: int | None = None) -> list[Change]:
        """Changes in outbox order, filtered as asked."""
        where: list[str] = ["seq > ?"]
        params: list[object] = [after_seq or 0]
        if unrouted:
            where.append("routed = 0")
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        if kinds is not None:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        sql = (f"SELECT seq, key, kind, subject, severity, ts, doc FROM outbox "
               f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?")
        with self._errors("cannot read the notification outbox"):
            rows = self.db.execute(sql, (*params, -1 if limit is None else limit)).fetchall()
        return [_change(row) for row in rows]

    def route_changes(self, seqs: Sequence[int], deliveries: Sequence[Delivery]) -> int:
        """Insert deliveries and mark their changes routed, in one transaction."""
        self._writable("route notifications")
        with self._errors("cannot route notifications"), self._transaction():
            new = self._insert_deliveries(deliveries)
            self.db.executemany("UPDATE outbox SET routed = 1 WHERE seq = ?",
                                [(s,) for s in seqs])
        return new

    def _insert_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        new = 0
        for d in deliveries:
            cur = self.db.execute(
                f"INSERT OR IGNORE INTO deliveries({', '.join(_DELIVERY_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_DELIVERY_COLUMNS))})", _delivery_row(d))
            new += max(cur.rowcount, 0)
        return new

    def due_deliveries(self, now: str, *, channel: str | None = None,
                       limit: int | None = None) -> list[Delivery]:
        """Queued or held deliveries due by ``now``, in outbox order."""
        sql = (f"{_SELECT_DELIVERY} WHERE status IN ('queued', 'held') AND next_at <= ? "
               "AND (? IS NULL OR channel = ?) ORDER BY seq, key LIMIT ?")
        with self._errors("cannot read notification deliveries"):
            rows = self.db.execute(sql, (now, channel, channel,
                                         -1 if limit is None else limit)).fetchall()
        return [_delivery(row) for row in rows]

    def mark_delivery(self, key: str, *, status: str, attempts: int | None = None,
                      next_at: str | None = None, error: str | None = None,
                      receipt: str | None = None, delivered_at: str | None = None,
                      failed_at: str | None = None) -> None:
        """Record what became of one delivery."""
        self._writable("update notification deliveries")
        sets: list[str] = ["status = ?", "last_error = ?"]
        params: list[object] = [status, error]
        for column, value in (("attempts", attempts), ("next_at", next_at),
                              ("receipt", receipt), ("delivered_at", delivered_at),
                              ("failed_at", failed_at)):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        with self._errors("cannot update a notification delivery"), self._transaction():
            cur = self.db.execute(f"UPDATE deliveries SET {', '.join(sets)} WHERE key = ?",
                                  (*params, key))
            if cur.rowcount == 0:
                raise NotFoundError(f"no notification delivery {key!r}",
                                    hint="List them: soc notify outbox")

    def list_deliveries(self, *, status: str | None = None, route: str | None = None,
                        since: str | None = None,
                        limit: int | None = None) -> list[Delivery]:
        """Deliveries filtered as asked, in outbox order (the newest ``limit`` of them)."""
        sql = (f"SELECT * FROM ({_SELECT_DELIVERY} WHERE (? IS NULL OR status = ?) "
               "AND (? IS NULL OR route = ?) AND (? IS NULL OR created >= ?) "
               "ORDER BY seq DESC, key DESC LIMIT ?) ORDER BY seq, key")
        with self._errors("cannot read notification deliveries"):
            rows = self.db.execute(sql, (status, status, route, route, since, since,
                                         -1 if limit is None else limit)).fetchall()
        return [_delivery(row) for row in rows]

    def digest_items(self, until: str) -> list[Delivery]:
        """Digested deliveries whose window has ended and that no digest holds yet."""
        sql = (f"{_SELECT_DELIVERY} WHERE status = 'digested' AND receipt IS NULL "
               "AND next_at <= ? ORDER BY seq, key")
        with self._errors("cannot read notification deliveries"):
            rows = self.db.execute(sql, (until,)).fetchall()
        return [_delivery(row) for row in rows]

    def add_digest(self, digest: Delivery, items: Sequence[str]) -> bool:
        """The digest delivery and its items' note, in one transaction."""
        self._writable("write notification digests")
        with self._errors("cannot write a notification digest"), self._transaction():
            new = self._insert_deliveries([digest])
            self.db.executemany("UPDATE deliveries SET receipt = ? WHERE key = ?",
                                [(f"in {digest.key}", k) for k in items])
        return new > 0

    def prune_outbox(self, before: str, *, limit: int) -> int:
        """Finished deliveries and routed changes older than ``before``, ``limit`` of each at
        most (a dispatch's work stays bounded; the next one goes on)."""
        self._writable("prune the notification outbox")
        deliveries = """DELETE FROM deliveries WHERE key IN (SELECT key FROM deliveries
            WHERE (status IN ('delivered', 'failed') OR (status = 'digested' AND receipt IS
            NOT NULL)) AND coalesce(delivered_at, failed_at, created) < ? LIMIT ?)"""
        changes = """DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox o
            WHERE routed = 1 AND ts < ? AND NOT EXISTS (SELECT 1 FROM deliveries d
            WHERE d.seq = o.seq AND (d.status IN ('queued', 'held')
            OR (d.status = 'digested' AND d.receipt IS NULL))) ORDER BY seq LIMIT ?)"""
        with self._errors("cannot prune the notification outbox"), self._transaction():
            gone = self.db.execute(deliveries, (before, limit)).rowcount
            gone += self.db.execute(changes, (before, limit)).rowcount
        return max(gone, 0)

    def delivery_summary(self) -> list[dict[str, Any]]:
        """Per channel: counts, last success, last failure and its error."""
        sql = """SELECT channel,
                   sum(status IN ('queued', 'held')), sum(status = 'failed'),
                   sum(status = 'delivered'), max(delivered_at),
                   max(failed_at)
                 FROM deliveries GROUP BY channel ORDER BY channel"""
        with self._errors("cannot read notification deliveries"):
            rows = self.db.execute(sql).fetchall()
            out = []
            for channel, queued, failed, delivered, success, failure in rows:
                error = self.db.execute(
                    "SELECT last_error FROM deliveries WHERE channel = ? AND failed_at IS NOT "
                    "NULL ORDER BY failed_at DESC LIMIT 1", (channel,)).fetchone()
                out.append({"channel": channel, "queued": queued, "failed": failed,
                            "delivered": delivered, "last_success": success,
                            "last_failure": failure, "last_error": error[0] if error else None})
        return out
