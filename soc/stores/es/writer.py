"""Bulk writes: deterministic ``_id`` with ``op_type: create``, retries, quarantine.

Per document, from the bulk response: 200/201 stored; **409** already there (a re-read after a
crash, another collector host): a duplicate, not an error; **429 and 5xx** retried with
exponential backoff; anything else (mapping or parsing errors, 400) goes to the quarantine
index with the status and reason, never dropped. A whole request refused with 429/5xx is retried
the same way; a cluster that cannot be reached, or still refuses after ``max_retries``, raises
:class:`ClusterUnavailable` and the caller spools the batch.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

from soc.ecs import event_id, format_ts
from soc.errors import StoreError
from soc.stores.es.spool import Action

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger("soc.stores.es")
CHUNK = 1000


def retryable(status: int) -> bool:
    """429 (too many requests, queues full) and any 5xx are worth another try."""
    return status == 429 or status >= 500


class ClusterUnavailable(StoreError):
    """The cluster cannot take the batch now (unreachable, or still refusing after retries)."""


@dataclass
class Outcome:
    created: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def add(self, other: Outcome) -> None:
        self.created += other.created
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined


@dataclass(frozen=True)
class Reject:
    action: Action
    status: int
    error_type: str
    reason: str


class BulkWriter:
    """Sends actions with the bulk API and reports what became of each."""

    def __init__(self, client: Elasticsearch, quarantine_index: str, *, max_retries: int = 8,
                 backoff: float = 0.5, backoff_max: float = 30.0, refresh: str | bool = False,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.client = client
        self.quarantine_index = quarantine_index
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.refresh = refresh
        self.sleep = sleep
        self.jitter = jitter

    def delay(self, attempt: int) -> float:
        """Pause before retry ``attempt`` (1-based): doubling, capped, with up to 50 % jitter."""
        cap = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        return float(cap * (0.5 + self.jitter() / 2))

    def send(self, actions: Sequence[Action]) -> Outcome:
        """Write ``actions`` (``op_type: create``) in chunks; quarantine the rejected ones."""
        outcome = Outcome()
        for start in range(0, len(actions), CHUNK):
            outcome.add(self._send_chunk(list(actions[start:start + CHUNK])))
        return outcome

    def _send_chunk(self, pending: list[Action]) -> Outcome:
        outcome = Outcome()
        attempt = 0
        while pending:
            items, attempt = self._bulk(pending, attempt)
            retry: list[Action] = []
            rejects: list[Reject] = []
            for action, item in zip(pending, items, strict=True):
                self._classify(action, item, outcome, retry, rejects)
            if rejects:
                outcome.quarantined += self.quarantine(rejects)
            pending = retry
            if pending:
                attempt = self._pause(attempt, f"{len(pending)} document(s) refused")
        return outcome

    @staticmethod
    def _classify(action: Action, item: dict[str, Any], outcome: Outcome, retry: list[Action],
                  rejects: list[Reject]) -> None:
        result = next(iter(item.values()))
        status = int(result.get("status", 0))
        if status in (200, 201):
            outcome.created += 1
        elif status == 409:
            outcome.duplicates += 1
        elif retryable(status):
            retry.append(action)
        else:
            error = result.get("error") or {}
            if not isinstance(error, dict):
                error = {"reason": str(error)}
            rejects.append(Reject(action, status, str(error.get("type", "")),
                                  _full_reason(error)))

    def _bulk(self, pending: list[Action],
              attempt: int) -> tuple[list[dict[str, Any]], int]:
        """One bulk request, retrying whole-request 429/5xx: the per-item results and the
        retries used so far (one count per chunk, whatever was refused)."""
        while True:
            try:
                resp = self.client.bulk(operations=_operations(pending), refresh=self.refresh)
                items: list[dict[str, Any]] = resp["items"]
                return items, attempt
            except (TransportConnectionError, ConnectionTimeout) as exc:
                raise ClusterUnavailable(f"the cluster is unreachable: {exc.message}") from exc
            except ApiError as exc:
                if not retryable(exc.meta.status):
                    raise StoreError(f"bulk write refused: {exc.meta.status} {exc.message}",
                                     hint="Check the role's privileges on the indices; "
                                          "'soc store doctor'.") from exc
                attempt = self._pause(attempt, f"bulk request refused ({exc.meta.status})")

    def _pause(self, attempt: int, why: str) -> int:
        attempt += 1
        if attempt > self.max_retries:
            raise ClusterUnavailable(f"{why} after {self.max_retries} retries")
        pause = self.delay(attempt)
        log.info("%s; retry %d in %.2fs", why, attempt, pause)
        self.sleep(pause)
        return attempt

    def quarantine(self, rejects: Sequence[Reject]) -> int:
        """Keep rejected documents, with the reason, in the quarantine index."""
        now = format_ts(datetime.now(UTC))
        actions = [(self.quarantine_index, event_id("quarantine", r.action[0], r.action[1]),
                    {"@timestamp": now, "target": r.action[0], "doc_id": r.action[1],
                     "status": r.status, "error_type": r.error_type, "reason": r.reason,
                     "document": json.dumps(r.action[2], ensure_ascii=False, default=str)})
                   for r in rejects]
        for r in rejects:
            log.warning("document %s rejected by %s (%s: %s): quarantined", r.action[1],
                        r.action[0], r.error_type, r.reason)
        items, _ = self._bulk(actions, 0)
        failed = [i for i in items if next(iter(i.values())).get("status") not in (200, 201, 409)]
        if failed:
            raise StoreError(f"{len(failed)} rejected document(s) could not be quarantined",
                             hint="Check the quarantine index with 'soc store doctor'.")
        return len(rejects)


def _operations(actions: Sequence[Action]) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    for index, doc_id, source in actions:
        ops.append({"create": {"_index": index, "_id": doc_id}})
        ops.append(source)
    return ops


def _full_reason(error: dict[str, Any]) -> str:
    reason = str(error.get("reason", ""))
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        reason += f" (caused by {cause.get('type', '')}: {cause['reason']})"
    return reason
