"""The durable local spool: batches the cluster could not take, kept in order until it can.

``<spool_dir>/batch-NNNNNNNNNNNN.json`` holds one batch of bulk actions (JSON: ``kind`` and
``actions``, each ``[index, id, source]``). A batch is written to a temporary file, fsynced,
renamed into place and the directory fsynced, so a file that exists is complete: the collector
checkpoint may move as soon as :meth:`Spool.append` returns. Numbers grow, so replay in name
order is write order. The spool is bounded by ``max_bytes``: it warns at 50, 80 and 95 % and
refuses a batch that would pass the bound (the pass then stops and its checkpoint stays).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soc.errors import StoreError
from soc.fsutil import fsync_dir

log = logging.getLogger("soc.stores.es")
_BATCH = re.compile(r"^batch-(\d{12})\.json$")
WARN_AT = (0.5, 0.8, 0.95)
LOCK = ".lock"

Action = tuple[str, str, dict[str, Any]]  # (index, _id, _source)


class SpoolFullError(StoreError):
    default_hint = ("The cluster has been unreachable for long: bring it back (the spool is "
                    "replayed by the next write), or raise store.spool_max_mb.")


@dataclass(frozen=True)
class SpooledBatch:
    number: int
    path: Path
    kind: str
    actions: list[Action]


class Spool:
    """A directory of spooled batches, oldest first."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._warned = 0.0

    def _files(self) -> list[tuple[int, Path]]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted((int(m[1]), self.directory / n) for n in names if (m := _BATCH.match(n)))

    def size(self) -> tuple[int, int]:
        """``(bytes, batches)`` on disk."""
        total = count = 0
        for _, path in self._files():
            try:
                total += path.stat().st_size
                count += 1
            except FileNotFoundError:
                continue
        return total, count

    def __bool__(self) -> bool:
        return bool(self._files())

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the spool among the processes of this host."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / LOCK).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def append(self, kind: str, actions: list[Action]) -> int:
        """Write a batch durably; returns its number. Raises :class:`SpoolFullError`."""
        data = json.dumps({"kind": kind, "actions": actions}, ensure_ascii=False,
                          separators=(",", ":"), default=str).encode()
        with self.locked():
            used, _ = self.size()
            if used + len(data) > self.max_bytes:
                raise SpoolFullError(
                    f"the local spool {self.directory} is full ({used} of {self.max_bytes} "
                    f"bytes): the batch was not accepted")
            files = self._files()
            number = files[-1][0] + 1 if files else 1
            _write_durably(self.directory / f"batch-{number:012d}.json", data)
        self._warn(used + len(data))
        return number

    def _warn(self, used: int) -> None:
        share = used / self.max_bytes if self.max_bytes else 1.0
        passed = [w for w in WARN_AT if share >= w]
        if passed and passed[-1] > self._warned:
            self._warned = passed[-1]
            log.warning("Elasticsearch spool %s is %d%% full (%d of %d bytes); the cluster is "
                        "unreachable", self.directory, int(share * 100), used, self.max_bytes)

    def batches(self) -> Iterator[SpooledBatch]:
        """Spooled batches, oldest first (a file that vanished meanwhile is skipped)."""
        for number, path in self._files():
            try:
                data = json.loads(path.read_bytes())
            except FileNotFoundError:
                continue
            actions = [(str(i), str(d), s) for i, d, s in data["actions"]]
            yield SpooledBatch(number, path, str(data["kind"]), actions)

    def remove(self, batch: SpooledBatch) -> None:
        """Forget a batch the cluster has taken."""
        with suppress(FileNotFoundError):
            batch.path.unlink()
        fsync_dir(self.directory)
        if not self:
            self._warned = 0.0


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)

