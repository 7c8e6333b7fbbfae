"""``soc store doctor`` on the embedded store: every check runs on its own, on a file opened
without the usual schema checks, so that a damaged store still says what is left of it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

from soc.stores.sqlite.schema import SCHEMA_VERSION, schema_version

Check = tuple[bool, str]  # (ok, detail)
Finding = dict[str, str]
HEADER = b"SQLite format 3\x00"
INTEGRITY_LIMIT = 20  # problems listed by PRAGMA integrity_check
_RESTORE = "restore store.db from a backup, or save what is readable with 'sqlite3 .recover'"


def finding(name: str, ok: bool, detail: str) -> Finding:
    return {"check": name, "status": "ok" if ok else "fail", "detail": detail}


def diagnose_path(path: Path) -> list[Finding]:
    """The checks of a store file that may be missing, truncated or damaged."""
    present = _file_check(path)
    if not present[0]:
        return [finding("file", *present)]
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                             isolation_level=None)
    except sqlite3.Error as exc:
        return [finding("file", *present), finding("open", False, f"cannot open: {exc}")]
    try:
        return [finding("file", *present), *run_checks(db)]
    finally:
        with suppress(sqlite3.Error):
            db.close()


def run_checks(db: sqlite3.Connection) -> list[Finding]:
    """Each check on its own: one that fails to run is a failed check, not the end."""
    checks: tuple[tuple[str, Callable[[sqlite3.Connection], Check]], ...] = (
        ("schema", _schema), ("journal mode", _pragma("journal_mode", "wal")),
        ("auto vacuum", _pragma("auto_vacuum", 2)), ("integrity", _integrity),
        ("partitions", _partitions), ("readable", _readable))
    return [finding(name, *_guarded(check, db)) for name, check in checks]


def _guarded(check: Callable[[sqlite3.Connection], Check], db: sqlite3.Connection) -> Check:
    try:
        return check(db)
    except sqlite3.Error as exc:
        return False, f"cannot run: {exc} - {_RESTORE}"


def _file_check(path: Path) -> Check:
    """The file is there and starts like a database. Read before SQLite opens it: closing
    another descriptor of the file would drop the locks of a connection of this process."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(HEADER))
        size = path.stat().st_size
    except FileNotFoundError:
        return False, f"no store at {path} - 'soc store init' creates it (check data_dir)"
    except OSError as exc:
        return False, f"cannot read {path}: {exc.strerror}"
    if head != HEADER:
        return False, (f"{path} ({size} bytes) is not a SQLite database (truncated or "
                       f"overwritten){_log_note(path)} - {_RESTORE}")
    return True, f"{path}, {size} bytes"


def _log_note(path: Path) -> str:
    """What the log beside a damaged file still holds: the recent commits."""
    try:
        logged = Path(f"{path}-wal").stat().st_size
    except OSError:
        return ""
    return f"; its log {path.name}-wal holds {logged} bytes of recent commits" if logged else ""


def _schema(db: sqlite3.Connection) -> Check:
    version = schema_version(db)
    return version == SCHEMA_VERSION, f"version {version} (this soc: {SCHEMA_VERSION})"


def _pragma(name: str, expected: object) -> Callable[[sqlite3.Connection], Check]:
    def check(db: sqlite3.Connection) -> Check:
        value = db.execute(f"PRAGMA {name}").fetchone()[0]
        return value == expected, f"{value} (expected {expected})"
    return check


def _integrity(db: sqlite3.Connection) -> Check:
    problems = [r[0] for r in db.execute(f"PRAGMA integrity_check({INTEGRITY_LIMIT})")]
    if problems == ["ok"]:
        return True, "integrity_check ok"
    more = " (first ones)" if len(problems) >= INTEGRITY_LIMIT else ""
    return False, f"{len(problems)} problem(s){more}: " + "; ".join(problems) + f" - {_RESTORE}"


def _partitions(db: sqlite3.Connection) -> Check:
    catalog = {n for (n,) in db.execute("SELECT name FROM partitions")}
    actual = set(_tables(db, "ev\\_%"))
    if catalog == actual:
        return True, f"{len(actual)} partition tables, catalog consistent"
    missing, extra = sorted(catalog - actual), sorted(actual - catalog)
    return False, f"in the catalog but missing: {missing}; tables not in the catalog: {extra}"


def _readable(db: sqlite3.Connection) -> Check:
    """Which tables can be read to the end: what a recovery can still save."""
    tables = list(_tables(db, "%"))
    broken = []
    for table in tables:
        try:
            # NOT INDEXED: walk the table's own pages, not a smaller index of it
            db.execute(f'SELECT count(*) FROM "{table}" NOT INDEXED').fetchone()
        except sqlite3.Error as exc:
            broken.append(f"{table} ({exc})")
    if not broken:
        return True, f"all {len(tables)} tables readable"
    return False, (f"{len(tables) - len(broken)} of {len(tables)} tables readable; "
                   f"unreadable: {', '.join(broken)} - {_RESTORE}")


def _tables(db: sqlite3.Connection, like: str) -> Iterator[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? "
                      "ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                      (like,))
    for (name,) in rows:
        yield name

