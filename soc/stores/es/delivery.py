"""Delivery in order: the spool first, then the new batch; the spool when the cluster is away.

:meth:`Delivery.deliver` returns only when the cluster or the spool has the batch, so the caller
(the pipeline) may move the collector checkpoint then. A new batch never overtakes a spooled
one: while anything is spooled, new batches join the end of the spool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from soc.stores.es.spool import Action, Spool
from soc.stores.es.writer import BulkWriter, ClusterUnavailable, Outcome

log = logging.getLogger("soc.stores.es")


@dataclass
class Delivered:
    outcome: Outcome
    spooled: int = 0  # documents that went to the spool instead


class Delivery:
    """The bulk writer and the spool, used together."""

    def __init__(self, writer: BulkWriter, spool: Spool,
                 reconnect: Callable[[], None] = lambda: None) -> None:
        self.writer = writer
        self.spool = spool
        self.reconnect = reconnect
        self.replayed = Outcome()

    def deliver(self, kind: str, actions: list[Action]) -> Delivered:
        """Write ``actions`` to the cluster, or durably to the spool."""
        if not actions:
            return Delivered(Outcome())
        try:
            self.reconnect()
            self.drain()
            return Delivered(self.writer.send(actions))
        except ClusterUnavailable as exc:
            number = self.spool.append(kind, actions)
            log.warning("Elasticsearch unavailable (%s): %d %s spooled as batch %d",
                        exc.message, len(actions), kind, number)
            return Delivered(Outcome(), spooled=len(actions))

    def drain(self) -> int:
        """Replay spooled batches, oldest first; each is removed once the cluster took it.
        Raises :class:`ClusterUnavailable` (the rest stays spooled) when it cannot."""
        if not self.spool:
            return 0
        sent = 0
        with self.spool.locked():
            for batch in self.spool.batches():
                self.replayed.add(self.writer.send(batch.actions))
                self.spool.remove(batch)
                sent += 1
        if sent:
            log.warning("replayed %d spooled batch(es) into Elasticsearch", sent)
        return sent
