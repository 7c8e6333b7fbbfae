"""The embedded store's write guard: before a pass moves its checkpoints, proof that what it
wrote is in the file that every other process opens (docs/store.md, "Loss is signalled").

A writer keeps writing to a store file that was deleted (its open descriptor keeps the old file
alive) and commits into one that was truncated (the log still holds the latest pages): both look
like success until the next process opens the file and finds it empty or damaged. So
:meth:`WriteGuard.confirm` checks, each time:

* the file at the store's path is the one opened (device and inode recorded at open), and so
  is its log (``store.db-wal``, which SQLite keeps while any connection is open: a new process
  would start a log of its own, without this writer's commits);
* it did not shrink: only retention's vacuum shrinks it, and that is counted in ``meta``
  (``vacuums``); the writer copies its log into the file only here (``wal_autocheckpoint`` is
  off), so a copy into a truncated file cannot cover the truncation up;
* a write marker written now (a ``meta`` row of this writer's own) reads back, with the
  schema, through a fresh connection.

Any failure is a :class:`~soc.errors.StoreError` (exit code 4) raised before the checkpoints move:
the next pass reads the same records again, and event ids make that harmless.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from contextlib import suppress
from pathlib import Path

from soc.errors import StoreError
from soc.stores.sqlite.schema import (
    BUSY_TIMEOUT_S,
    SCHEMA_VERSION,
    SQLITE_HEADER,
    schema_version,
    sqlite_errors,
)

MARKER_PREFIX = "write_marker:"  # one key per writer: two writers never read each other's
VACUUMS_KEY = "vacuums"
_NOT_MOVED = "the checkpoints were not moved"
_HINT = ("Nothing read in this pass is lost: the next pass reads it again. Run 'soc store "
         "doctor'; restore store.db from a backup, or move the damaged file aside so that the "
         "next pass starts a new one.")
_GONE_HINT = ("Nothing read in this pass is lost: the next pass reads it again into a new "
              "store. Find what removed the file (a clean-up job?); older events are only in "
              "your backups.")


def vacuums(db: sqlite3.Connection) -> int:
    """How many times retention gave pages back to the file system (the file shrank)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (VACUUMS_KEY,)).fetchone()
    return int(row[0]) if row else 0


def count_vacuum(db: sqlite3.Connection) -> None:
    """Record, inside retention's transaction, that the file is about to shrink."""
    db.execute("INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE "
               "SET value = CAST(value AS INTEGER) + 1", (VACUUMS_KEY,))


class WriteGuard:
    """What a writer knows of its file since it opened it; :meth:`confirm` checks it."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self._key = MARKER_PREFIX + secrets.token_hex(8)
        self._marked = False
        with sqlite_errors(path, "cannot open the store"):
            self._vacuums = vacuums(db)
        self._log = Path(f"{path}-wal")
        info = self._stat()
        self._identity = (info.st_dev, info.st_ino)
        self._size = info.st_size
        self._log_identity = self._log_id()

    def confirm(self) -> None:
        """Raise :class:`StoreError` unless everything this writer committed is in the file at
        its path (see the module's docstring); copy the log into the file meanwhile."""
        self._check_file()
        token = secrets.token_hex(8)
        with sqlite_errors(self.path, f"cannot confirm the store's writes; {_NOT_MOVED}"):
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                            (self._key, token))
            self._marked = True
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self._check_file()
        self._read_back(token)

    def forget(self) -> None:
        """Remove this writer's marker (when the store is closed); never raises."""
        if self._marked:
            with suppress(sqlite3.Error):
                self.db.execute("DELETE FROM meta WHERE key = ?", (self._key,))
            self._marked = False

    def _stat(self) -> os.stat_result:
        try:
            return os.stat(self.path)
        except FileNotFoundError:
            raise StoreError(f"the store file {self.path} was removed during this pass; "
                             f"{_NOT_MOVED}", hint=_GONE_HINT) from None
        except OSError as exc:
            raise StoreError(f"cannot check the store file {self.path}: {exc.strerror}; "
                             f"{_NOT_MOVED}", hint=_HINT) from exc

    def _log_id(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self._log)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def _check_file(self) -> None:
        info = self._stat()
        if (info.st_dev, info.st_ino) != self._identity:
            raise StoreError(f"the store file {self.path} was replaced by another file during "
                             f"this pass; {_NOT_MOVED}", hint=_GONE_HINT)
        if self._log_identity is not None and self._log_id() != self._log_identity:
            raise StoreError(f"the store's log {self._log} was removed or replaced during this "
                             f"pass; {_NOT_MOVED}", hint=_HINT)
        if info.st_size < self._size and not self._vacuumed(info.st_size):
            raise StoreError(f"the store file {self.path} was truncated during this pass (from "
                             f"{self._size} to {info.st_size} bytes); {_NOT_MOVED}", hint=_HINT)
        self._size = info.st_size

    def _vacuumed(self, size: int) -> bool:
        """Whether retention shrank the file since the last check (not someone else)."""
        if size < SQLITE_HEADER:
            return False
        with sqlite_errors(self.path, f"cannot check the store; {_NOT_MOVED}"):
            count = vacuums(self.db)
        if count == self._vacuums:
            return False
        self._vacuums = count
        return True

    def _read_back(self, token: str) -> None:
        """What another process opening the path now would see: the schema and the marker."""
        action = f"the store file {self.path} cannot be read back; {_NOT_MOVED}"
        with sqlite_errors(self.path, action):
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                 timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                version = schema_version(db)
                row = db.execute("SELECT value FROM meta WHERE key = ?",
                                 (self._key,)).fetchone() if version else None
            finally:
                with suppress(sqlite3.Error):
                    db.close()
        if version != SCHEMA_VERSION or row is None or row[0] != token:
            found = "no soc schema" if not version else (
                f"schema version {version}, " + ("no write marker" if row is None
                                                  else "an older write marker"))
            raise StoreError(f"the store file {self.path} does not hold this pass's writes "
                             f"({found}); {_NOT_MOVED}", hint=_HINT)
