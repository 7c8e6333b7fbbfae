"""What must be sent and when: the periodic reports of ``reports/calendar.yml`` for the active
profile, and the report duties of the incidents (``soc incidents due``), in one list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from soc.config import Config, load_yaml
from soc.content import content_dir
from soc.errors import ConfigError
from soc.reports import fmt
from soc.reports.period import KINDS, Period, containing
from soc.response import deadlines, incidents
from soc.response.playbooks import Text
from soc.response.profiles import Profile
from soc.stores.base import Store
from soc.timeutil import format_duration, parse_duration

REPORT_KINDS = ("daily", "weekly", "monthly", "half-year", "mau05", "mau08")


@dataclass(frozen=True)
class Periodic:
    """One periodic duty: a report kind for a kind of period, its deadline and recipients."""

    id: str
    kind: str
    title: Text
    period: str
    to: tuple[str, ...]
    sender: str = "operator"
    basis: str = ""
    within: timedelta | None = None  # after the end of the period
    on: tuple[int, int] | None = None  # (month, day) in the period's first year

    def deadline(self, period: Period) -> datetime | None:
        if self.within is not None:
            return period.until + self.within
        if self.on is not None:
            month, day = self.on
            due = datetime(period.start.year, month, day, tzinfo=period.tz) + timedelta(days=1)
            return due if due > period.since else None
        return None


def calendar_path(config: Config) -> Path:
    """``reports.templates``/calendar.yml when present, else the shipped one."""
    from soc.reports.settings import load_settings

    own = load_settings(config).templates
    if own is not None and (own / "calendar.yml").is_file():
        return own / "calendar.yml"
    return content_dir("reports") / "calendar.yml"


def _entry(d: Any, path: Path, roles: Mapping[str, Text]) -> Periodic:
    line = getattr(d, "line", None)
    if not isinstance(d, dict) or d.get("kind") not in REPORT_KINDS or d.get("period") \
            not in KINDS:
        raise ConfigError(f"calendar: each report needs an id, a kind among "
                          f"{', '.join(REPORT_KINDS)} and a period among {', '.join(KINDS)}",
                          path=path, line=line)
    for role in (*d.get("to", ()), d.get("sender", "operator")):
        if role not in roles:
            raise ConfigError(f"calendar: report {d.get('id')}: unknown role {role!r}",
                              path=path, line=line)
    due = d.get("due") or {}
    on = None
    if "day" in due:  # not "on": YAML 1.1 reads that key as true
        month, day = str(due["day"]).split("-")
        on = (int(month), int(day))
    return Periodic(id=str(d["id"]), kind=str(d["kind"]), title=Text.from_dict(d["title"]),
                    period=str(d["period"]), to=tuple(d.get("to") or ()),
                    sender=str(d.get("sender", "operator")), basis=str(d.get("basis", "")),
                    within=parse_duration(due["within"]) if "within" in due else None, on=on)


def load_calendar(config: Config, profile: Profile) -> tuple[list[Periodic], dict[str, Text]]:
    """The periodic duties of ``profile`` and every role label (the profile's and the extra)."""
    path = calendar_path(config)
    data = load_yaml(path)
    section = ((data or {}).get("profiles") or {}).get(profile.id) or {}
    roles = {**profile.roles, **{str(k): Text.from_dict(v)
                                 for k, v in (section.get("roles") or {}).items()}}
    return [_entry(d, path, roles) for d in section.get("reports") or ()], roles


def role_lines(config: Config, roles: Iterable[str], labels: Mapping[str, Text]) -> tuple[
        str, ...]:
    """``Label (contact organisations)`` for the "Kính gửi" and "Nơi nhận" lines."""
    out = []
    for role in roles:
        names = [c.organization or c.name for u in config.units for c in u.contacts
                 if c.role == role and (c.organization or c.name)]
        label = labels[role].vi if role in labels else role
        out.append(label + (f" ({', '.join(dict.fromkeys(names))})" if names else ""))
    return tuple(out)


def recipients_of(config: Config, profile: Profile, kind: str) -> tuple[str, ...]:
    """The recipients of the first periodic duty of ``kind`` under the profile."""
    duties, labels = load_calendar(config, profile)
    for d in duties:
        if d.kind == kind:
            return role_lines(config, d.to, labels)
    return ()


def _contacts(config: Config, roles: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(c.email for u in config.units for c in u.contacts
                                   if c.role in roles and c.email))


def periodic_due(config: Config, profile: Profile, now: datetime,
                 horizon: timedelta) -> list[dict[str, Any]]:
    """The next deadline of each periodic duty, and its later ones within ``horizon``."""
    duties, labels = load_calendar(config, profile)
    today: date = now.astimezone(config.tz).date()
    rows = []
    for d in duties:
        period = containing(d.period, today, config.tz).previous()
        listed = 0
        for _ in range(400):
            when = d.deadline(period)
            if when is not None and when >= now:
                if listed and when > now + horizon:
                    break
                rows.append(_row(config, d, period, when, now, labels))
                listed += 1
                if d.period == "day":
                    break
            elif period.start > today + horizon:
                break
            period = period.next()
    return rows


def _row(config: Config, d: Periodic, period: Period, when: datetime, now: datetime,
         labels: Mapping[str, Text]) -> dict[str, Any]:
    flag = "--year" if d.kind == "mau08" else "--period"
    value = str(period.start.year) if d.kind == "mau08" else period.code
    return {"deadline": fmt.datetime_vn(when, config.tz), "left": format_duration(when - now),
            "report": d.id, "about": period.label, "title": d.title.vi,
            "to": "; ".join(role_lines(config, d.to, labels)),
            "contacts": _contacts(config, d.to), "basis": d.basis,
            "command": f"soc report {d.kind} {flag} {value}", "_at": when}


def due(store: Store, config: Config, profile: Profile, *, now: datetime | None = None,
        horizon: timedelta = timedelta(days=40)) -> list[dict[str, Any]]:
    """Incident report duties still open, then periodic reports, soonest first."""
    now = now or datetime.now(UTC)
    incs = [i for i in incidents.list_incidents(store, None)]
    profiles = incidents.profiles_of(incs, profile)
    rows = []
    for item in deadlines.due(incs, profiles):
        if item.kind != "report":
            continue
        p = profiles[next(i.profile for i in incs if i.id == item.incident)]
        _, labels = load_calendar(config, p)
        when = item.deadline
        rows.append({"deadline": fmt.datetime_vn(when, config.tz) if when else item.rule,
                     "left": format_duration(when - now) if when else "",
                     "report": item.report or item.step, "about": item.incident,
                     "title": item.title.vi, "to": "; ".join(role_lines(config, item.to,
                                                                          labels)),
                     "contacts": _contacts(config, item.to), "basis": item.rule,
                     "command": f"soc report incident {item.incident} {item.report}",
                     "_at": when or datetime.max.replace(tzinfo=UTC)})
    rows += periodic_due(config, profile, now, horizon)
    rows.sort(key=lambda r: (r["_at"], r["report"]))
    return [{k: v for k, v in r.items() if k != "_at"} for r in rows]
