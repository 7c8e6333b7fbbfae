"""The Store contract: one interface, an embedded (SQLite) and an Elasticsearch implementation.

Every implementation passes the same contract suite (tests/test_store_contract.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from soc.ecs import Event
from soc.models import DeadLetter

if TYPE_CHECKING:
    from soc.config import Config


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int  # new events stored
    duplicates: int  # events already there (same event.id): re-reads after a crash land here


@dataclass(frozen=True, slots=True)
class RetentionItem:
    """One partition of stored events (a UTC day at one security level) and its fate."""

    day: str  # YYYY-MM-DD
    level: int | None  # security level, None when the event matched no system
    events: int
    keep_days: int
    expired: bool


class Store(ABC):
    """Where events, dead letters, alerts, rule hits, incidents and the audit trail live."""

    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def open(cls, config: Config, *, readonly: bool = False) -> Self:
        """Open (and with ``readonly=False`` create or migrate) the store the config names."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # events ------------------------------------------------------------------------------------

    @abstractmethod
    def write_events(self, events: Sequence[Event]) -> WriteResult:
        """Store events durably, idempotent on ``event.id``. Returns once committed."""

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

    # housekeeping ------------------------------------------------------------------------------

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Counts and sizes for ``soc store stats`` and ``soc status``."""

    def doctor(self) -> list[dict[str, str]]:
        """Checks for ``soc store doctor``: ``{"check", "status" (ok|warn|fail), "detail"}``."""
        return []

    @abstractmethod
    def retention(self, keep_days: Callable[[int | None], int], *, now: datetime,
                  apply: bool = False) -> list[RetentionItem]:
        """Partitions and whether they are past their retention; ``apply`` drops those that are."""


def open_store(config: Config, *, readonly: bool = False) -> Store:
    """The store the configuration names, found through the ``soc.stores`` entry points."""
    from soc import registry

    cls: type[Store] = registry.load("store", config.store.type)
    return cls.open(config, readonly=readonly)
