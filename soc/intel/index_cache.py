"""The matcher's index kept on disk between passes, so that a cron pass does not rebuild it.

Building the index of 100,000 indicators (reading them from the store, then placing each one)
takes about half a second, in every ``soc collect`` pass: more than a pass of a few thousand
events costs in all. The index only changes when the stored indicators do, or when one of them
reaches its end of validity, so it is written to ``<data_dir>/intel-index.cache`` after a build,
under the store's :meth:`~soc.stores.base.Store.indicators_version`, and read back (a tenth of
the time) by the next pass while that version stands and no indexed indicator has expired.

The file is :mod:`marshal` data (plain containers only: reading it runs no code, unlike a
pickle), tagged with the Python version that wrote it and a format number. Anything odd about
it (absent, truncated, another version, another store's token, a clock gone back before its
build) means a build from the store, never an error: it is a cache.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import sys
from pathlib import Path
from typing import Any

from soc.intel.matcher import IndicatorIndex

log = logging.getLogger(__name__)

FILE_NAME = "intel-index.cache"
FORMAT = 2
"""Changes whenever :meth:`IndicatorIndex.to_plain` does (2: the records in columns, a table's
single position an int)."""


class Cached:
    """An index read back, with what it was built under."""

    __slots__ = ("built_at", "index", "next_end")

    def __init__(self, index: IndicatorIndex, built_at: str, next_end: str | None) -> None:
        self.index = index
        self.built_at = built_at
        self.next_end = next_end


def _tag() -> str:
    return f"soc-intel-index/{FORMAT}/{sys.implementation.cache_tag}"


def load(path: Path, version: str, now: str) -> Cached | None:
    """The index kept at ``path`` if it was built under ``version`` and still stands at
    ``now`` (canonical UTC), else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        plain: Any = marshal.loads(data)
        if not isinstance(plain, dict) or plain.get("tag") != _tag() \
                or plain.get("version") != version:
            return None
        built_at, next_end = plain["built_at"], plain["next_end"]
        if not isinstance(built_at, str) or not built_at <= now \
                or (next_end is not None and not now < str(next_end)):
            return None  # the clock went back before the build, or an indicator expired
        return Cached(IndicatorIndex.from_plain(plain["index"]), built_at, next_end)
    except (EOFError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.info("rebuilding the threat-intel index: %s is unreadable (%s)", path, exc)
        return None


def save(path: Path, version: str, built_at: str, index: IndicatorIndex,
         next_end: str | None) -> None:
    """Keep ``index`` at ``path`` (written whole, then renamed into place: a reader never sees
    half a file), with its ``next_end`` (:meth:`IndicatorIndex.next_end` at ``built_at``: the
    pass that reads it back need not walk every record for it). A failure is logged and
    otherwise ignored: the next pass builds again."""
    plain = {"tag": _tag(), "version": version, "built_at": built_at,
             "next_end": next_end, "index": index.to_plain()}
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        part.write_bytes(marshal.dumps(plain))
        os.replace(part, path)
    except (OSError, ValueError) as exc:
        log.info("cannot keep the threat-intel index in %s: %s", path, exc)
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
