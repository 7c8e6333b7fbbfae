"""Periodic reports from the store: pick the period, compute the figures, build the document."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from soc.config import Config
from soc.ecs import format_ts
from soc.errors import NotFoundError
from soc.reports import kpis
from soc.reports.calendar import recipients_of
from soc.reports.forms import Document, apply_overrides
from soc.reports.monitoring import monitoring_document
from soc.reports.period import Period, containing, parse
from soc.reports.settings import load_settings
from soc.reports.summary import mau05_document, mau08_document
from soc.response.profiles import active_profile
from soc.state import StateStore
from soc.stores.base import Store

PERIODS = {"daily": "day", "weekly": "week", "monthly": "month", "half-year": "half",
           "mau05": "half", "mau08": "year"}


def check_scope(config: Config, scope: kpis.Scope) -> None:
    if scope.unit and config.unit(scope.unit) is None:
        raise NotFoundError(f"no unit {scope.unit!r} in the inventory",
                            hint="Check inventory.units in soc.yml.")
    if scope.system and config.system(scope.system) is None:
        raise NotFoundError(f"no system {scope.system!r} in the inventory",
                            hint="Check inventory.systems in soc.yml.")


def period_of(config: Config, kind: str, text: str | None, *, year: bool = False,
              now: datetime | None = None) -> Period:
    """The period of a report: ``--period`` text, a year for Mẫu 05/08, or the last complete."""
    if year and text:
        return parse("year", text, config.tz, now)
    if kind == "mau08":
        moment = (now or datetime.now(UTC)).astimezone(config.tz)
        return containing("year", moment.date(), config.tz) if not text else \
            parse("year", text, config.tz, now)
    return parse(PERIODS[kind], text, config.tz, now)


def periodic_document(store: Store, config: Config, kind: str, period: Period,
                      scope: kpis.Scope | None = None, *,
                      state: StateStore | None = None,
                      now: datetime | None = None,
                      values: Mapping[str, str] | None = None) -> Document:
    """The periodic report ``kind`` for ``period`` (and a unit or system); ``state``, the
    collecting host's pass records, gives the monitoring gaps as they were at the period's
    end."""
    now = now or datetime.now(UTC)
    scope = scope or kpis.Scope()
    check_scope(config, scope)
    settings = load_settings(config)
    recipients = recipients_of(config, active_profile(config), kind)
    if kind == "mau05":
        fig = kpis.Figures(period, scope)
        kpis.incident_figures(store, fig)
        doc = mau05_document(period, fig.incidents, config, settings, now)
    elif kind == "mau08":
        doc = mau08_document(period.start.year, config, settings, recipients, now)
    else:
        at = format_ts(kpis.judged_at(period, now))
        fig = kpis.compute(store, config, period, scope, now=now,
                           runs=state.runs_at(at) if state else None)
        doc = monitoring_document(kind, fig, config, settings, recipients, now)
    return apply_overrides(doc, values or {})
