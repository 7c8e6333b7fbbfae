"""An overlap-proof lock for cron passes: a kernel ``flock`` on a file in the data directory.

The kernel releases it when the process dies, even under ``kill -9``, so a crashed pass never leaves
a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from soc.errors import BusyError, StoreError


class PassLock:
    """``with PassLock(path):`` — raises :class:`BusyError` at once if another process holds it."""

    def __init__(self, path: Path, what: str = "collect") -> None:
        self.path = path
        self.what = what
        self._fh: IO[str] | None = None

    def acquire(self) -> str | None:
        """Take the lock without waiting: None, or who holds it when another process does."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {self.path}: {exc.strerror}",
                             hint="Check the data directory's permissions.") from exc
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            return holder
        self._fh = fh
        self._note_holder(fh)
        return None

    def _note_holder(self, fh: IO[str]) -> None:
        """Write who holds the lock, for the pass that finds it busy. Informative only: on a
        full disk the lock is held all the same, and the pass goes on to meet the real error
        where it matters (the store, exit code 4)."""
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}, soc {self.what}")
            fh.flush()
        except OSError:
            with suppress(OSError):
                fh.truncate(0)  # a part-written holder line says nothing useful

    def release(self) -> None:
        """Give the lock back (the kernel also does when the process dies). Never raises: it
        runs while an error may be on its way out, which it must not replace."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        with suppress(OSError):
            fh.truncate(0)
        with suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
        with suppress(OSError):
            fh.close()  # a buffered write that cannot be flushed fails here

    def __enter__(self) -> Self:
        holder = self.acquire()
        if holder is not None:
            raise BusyError(f"another pass holds {self.path.name} ({holder}); "
                            f"this '{self.what}' did nothing")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
