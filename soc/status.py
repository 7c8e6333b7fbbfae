"""``soc status``: per source, the last pass, volumes, lag, dead letters, errors, and gaps.

A source silent for longer than its ``expected_interval`` is flagged: a monitoring gap is itself a
finding (REGULATIONS.md, R1). So is a source a system expects that no configuration provides.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from soc.config import Config, Source
from soc.ecs import parse_ts
from soc.errors import SocError
from soc.timeutil import format_duration

if TYPE_CHECKING:
    from soc.stores.base import Store

COLUMNS = ["source", "type", "system", "state", "last_pass", "last_data", "events", "last",
           "lag", "dead", "errors", "note"]


def _age(ts: str | None, now: datetime) -> timedelta | None:
    return now - parse_ts(ts) if ts else None


def _state(source: Source, run: dict[str, Any] | None, now: datetime) -> tuple[str, str]:
    if not source.enabled:
        return "disabled", ""
    if run is None:
        return "never", "no pass has read this source yet"
    if run.get("last_error"):
        return "error", str(run["last_error"])
    silent_for = _age(run.get("last_new_data"), now)
    if source.expected_interval is not None:
        if silent_for is None:
            return "silent", "no data received yet"
        if silent_for > source.expected_interval:
            return "silent", (f"no new data for {format_duration(silent_for)} "
                              f"(expected every {format_duration(source.expected_interval)})")
    return "ok", ""


def _lag_text(lag: dict[str, Any] | None) -> str:
    if not lag:
        return ""
    return " ".join(f"{v}{'B' if k == 'bytes' else ' ' + k}" for k, v in lag.items())


def source_rows(config: Config, runs: dict[str, dict[str, Any]],
                now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per configured source, plus one per expected source no config provides."""
    now = now or datetime.now(UTC)
    rows = []
    for source in config.sources:
        run = runs.get(source.name)
        state, note = _state(source, run, now)
        rows.append({
            "source": source.name, "type": source.type, "system": source.system or "",
            "state": state, "last_pass": (run or {}).get("last_end"),
            "last_data": (run or {}).get("last_new_data"),
            "events": (run or {}).get("events_total", 0), "last": (run or {}).get("last_events", 0),
            "lag": _lag_text((run or {}).get("lag")), "dead": (run or {}).get("dead_total", 0),
            "errors": (run or {}).get("errors_total", 0), "note": note,
        })
    configured = {s.name for s in config.sources}
    for system in config.systems:
        for name in system.expected_sources:
            if name not in configured:
                rows.append({"source": name, "type": "", "system": system.id, "state": "missing",
                             "note": f"system {system.id} expects this source; none is configured"})
    return rows


def rules_summary(config: Config) -> dict[str, Any] | None:
    """Active rules, errors (to fix) and not-applicable ones (expected), through the rule cache;
    None when detection is not installed."""
    try:
        from soc.detection.stage import rule_health
    except ImportError:
        return None
    return rule_health(config).to_dict()


def rules_line(summary: dict[str, Any]) -> str:
    """The status line about rules."""
    line = (f"Rules: {summary['active']} active, {summary['errors']} error(s), "
            f"{summary['not_applicable']} not applicable")
    if summary["errors"] or summary["not_applicable"]:
        line += " (see 'soc rules check')"
    return line


def gaps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that are findings: silent, failing or missing sources."""
    return [r for r in rows if r["state"] in {"silent", "error", "missing"}]


def channel_rows(config: Config, store: Store) -> list[dict[str, Any]] | None:
    """Each configured notification channel: last success, last failure and its error,
    deliveries waiting and given up (None when soc.yml configures none)."""
    section = config.raw.get("notify")
    channels = section.get("channels") if isinstance(section, Mapping) else None
    if not isinstance(channels, Mapping) or not channels:
        return None
    try:
        found = {row["channel"]: row for row in store.delivery_summary()}
    except SocError as exc:
        return [{"channel": name, "error": exc.message} for name in channels]
    empty = {"queued": 0, "failed": 0, "delivered": 0, "last_success": None,
             "last_failure": None, "last_error": None}
    return [{"channel": str(name), **empty, **found.get(str(name), {})} for name in channels]
