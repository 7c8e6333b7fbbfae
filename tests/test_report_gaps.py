"""Monitoring gaps in a report are those of its period, judged at the period's end from the
collector's pass history; never what is true on the day the report is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from soc.config import load_config
from soc.ecs import format_ts
from soc.reports.kpis import Scope
from soc.reports.period import Period, parse
from soc.reports.periodic import periodic_document
from soc.reports.render import Format, render
from soc.state import HISTORY, HISTORY_STEP, StateStore
from soc.status import source_rows
from soc.stores.sqlite import SQLiteStore

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def ts(hours: float) -> str:
    return format_ts(T0 + timedelta(hours=hours))


def record(state: StateStore, hours: float, events: int, error: str | None = None) -> None:
    state.record_run("fw", start=ts(hours - 0.01), events=events, dead=0, error=error,
                     last_event=None, lag=None, end=ts(hours))


def test_runs_at_is_the_record_as_it_stood_then(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    for h in range(0, 48, 6):  # data every 6 h for two days, then nothing, then an error
        record(state, h, 10)
    for h in range(48, 96, 6):
        record(state, h, 0)
    record(state, 100, 0, error="permission denied")
    then = state.runs_at(ts(30))["fw"]
    assert (then["last_end"], then["last_new_data"], then["events_total"]) == (ts(30), ts(30), 60)
    later = state.runs_at(ts(90))["fw"]
    assert (later["last_end"], later["last_new_data"], later["last_error"]) == (ts(90), ts(42),
                                                                                None)
    assert state.runs_at(ts(100))["fw"]["last_error"] == "permission denied"
    assert state.runs_at(ts(-1)) == {}  # before the first pass: nothing known
    now = state.runs()["fw"]
    assert (now["last_new_data"], now["last_error"]) == (ts(42), "permission denied")


def test_alike_passes_share_a_row_and_old_ones_are_forgotten(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    step = HISTORY_STEP.total_seconds() / 3600
    for i in range(600):  # a drain pass every second for ten minutes, all with data
        record(state, i / 3600, 1)
    rows = state.db.execute("SELECT COUNT(*), SUM(events) FROM source_passes").fetchone()
    assert rows == (int(600 / 3600 / step) + 1, 600)
    record(state, HISTORY.total_seconds() / 3600 + 1, 0)  # a year on: the old rows go
    assert state.db.execute("SELECT COUNT(*) FROM source_passes").fetchone() == (1,)


def test_silence_is_judged_at_the_moment_given(tmp_path: Path) -> None:
    (tmp_path / "soc.yml").write_text(
        "data_dir: data\nsources:\n  - {name: fw, paths: [fw.log], expected_interval: 12h}\n",
        encoding="utf-8")
    config = load_config(tmp_path / "soc.yml")
    state = StateStore(tmp_path / "state.db")
    for h in range(0, 48, 6):
        record(state, h, 10)
    for h in range(48, 96, 6):
        record(state, h, 0)
    at = T0 + timedelta(hours=50)
    assert source_rows(config, state.runs_at(format_ts(at)), now=at)[0]["state"] == "ok"
    at = T0 + timedelta(hours=90)
    row = source_rows(config, state.runs_at(format_ts(at)), now=at)[0]
    assert (row["state"], row["note"]) == ("silent", "no new data for 2d (expected every 12h)")


def test_a_past_weekly_report_is_the_same_whenever_it_is_written(tmp_path: Path) -> None:
    (tmp_path / "soc.yml").write_text(
        "data_dir: data\ntimezone: Asia/Ho_Chi_Minh\n"
        "sources:\n  - {name: fw, paths: [fw.log], expected_interval: 1d}\n", encoding="utf-8")
    config = load_config(tmp_path / "soc.yml")
    state = StateStore(tmp_path / "state.db")
    for h in range(0, 24 * 20, 6):  # data for three days of week 10, then silence for weeks
        record(state, h, 5 if h <= 72 else 0)
    week10 = parse("week", "2026-W10", config.tz)
    week12 = parse("week", "2026-W12", config.tz)
    with SQLiteStore.open(config) as store:
        def silent(period: Period, now: datetime) -> list[str]:
            doc = periodic_document(store, config, "weekly", period, Scope(), state=state,
                                    now=now)
            text = render(doc, Format.MD).decode("utf-8")
            return [line for line in text.splitlines() if "nguồn fw" in line]

        first = silent(week10, T0 + timedelta(days=8))
        assert len(first) == 1 and "no new data for 3d17h (expected every 1d)" in first[0]
        for today in (T0 + timedelta(days=14), T0 + timedelta(days=20), T0 + timedelta(days=400)):
            assert silent(week10, today) == first
        assert "no new data for 17d17h" in silent(week12, T0 + timedelta(days=30))[0]
        # a week that has not ended is judged now
        assert "no new data for 16d" in silent(week12, T0 + timedelta(days=19))[0]
