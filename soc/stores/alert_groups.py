"""Grouped alert counts (``Store.alert_counts``): which alert fields may be grouped by, and the
rows every store answers, so that a dashboard counts 100,000 alerts without listing them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from soc.ecs import parse_ts
from soc.errors import StoreError
from soc.models import Alert

ALERT_GROUPS = ("severity", "status", "system", "unit", "rule_id")
"""The alert fields a count can be grouped by (each a column of the embedded store)."""
DAY = "day"
"""The key of the local day of ``last_seen`` (``YYYY-MM-DD``) in a grouped row."""

Key = tuple[Any, ...]


def checked(group_by: Sequence[str]) -> list[str]:
    """``group_by`` when every field is one of :data:`ALERT_GROUPS` (else StoreError)."""
    unknown = [f for f in group_by if f not in ALERT_GROUPS]
    if unknown:
        raise StoreError(f"cannot group alerts by {', '.join(unknown)}",
                         hint="Group by: " + ", ".join(ALERT_GROUPS))
    return list(dict.fromkeys(group_by))


def local_day(ts: str, day_offset: int) -> str:
    """The day (``YYYY-MM-DD``) of a stored UTC time, ``day_offset`` seconds east of UTC."""
    return f"{parse_ts(ts) + timedelta(seconds=day_offset):%Y-%m-%d}"


def alert_key(alert: Alert, fields: Sequence[str], day_offset: int | None) -> Key:
    """The group of one alert: its values of ``fields``, then its local day when asked."""
    values = [str(getattr(alert, f)) if getattr(alert, f) is not None else None for f in fields]
    if day_offset is not None:
        values.append(local_day(alert.last_seen, day_offset))
    return tuple(values)


def count(alerts: Iterable[Alert], fields: Sequence[str], day_offset: int | None) -> Counter[Key]:
    """Alerts counted per group (what a store without grouped counts does)."""
    return Counter(alert_key(a, fields, day_offset) for a in alerts)


def rows(counts: Iterable[tuple[Key, int]], fields: Sequence[str],
         day_offset: int | None) -> list[dict[str, Any]]:
    """One row per group (``fields``, ``day`` when by day, ``count``), sorted by its key
    (None first)."""
    names = [*fields, *([DAY] if day_offset is not None else [])]
    out = [{**dict(zip(names, key, strict=True)), "count": int(n)} for key, n in counts if n]
    return sorted(out, key=lambda r: tuple((r[k] is not None, r[k] or "") for k in names))
