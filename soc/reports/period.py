"""Reporting periods in local time: a day, an ISO week (Monday to Sunday), a month, a half year,
a year. ``parse`` reads ``2026-11-24``, ``2026-W48``, ``2026-11``, ``2026-H1``, ``2026``; without
text the last complete period before now is meant (the one a report is written for)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from soc.errors import InputError

KINDS = ("day", "week", "month", "half", "year")
_FORMS = {"day": "YYYY-MM-DD", "week": "YYYY-Www", "month": "YYYY-MM", "half": "YYYY-H1/H2",
          "year": "YYYY"}


@dataclass(frozen=True)
class Period:
    kind: str
    start: date  # first day, local
    end: date  # first day after the period, local
    tz: ZoneInfo

    @property
    def since(self) -> datetime:
        """Local midnight of the first day, as an aware datetime."""
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=self.tz)

    @property
    def until(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=self.tz)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        """``ngày 24/11/2026``, ``tuần 48 năm 2026 (từ 23/11/2026 đến 29/11/2026)``..."""
        span = f"từ {self.start:%d/%m/%Y} đến {self.last_day:%d/%m/%Y}"
        if self.kind == "day":
            return f"ngày {self.start:%d/%m/%Y}"
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"tuần {week} năm {year} ({span})"
        if self.kind == "month":
            return f"tháng {self.start:%m/%Y}"
        if self.kind == "half":
            which = "đầu" if self.start.month == 1 else "cuối"
            return f"6 tháng {which} năm {self.start.year} ({span})"
        return f"năm {self.start.year}"

    @property
    def code(self) -> str:
        """The text ``parse`` reads back (file names, ``--period``)."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "half":
            return f"{self.start.year}-H{1 if self.start.month == 1 else 2}"
        return str(self.start.year)

    def previous(self) -> Period:
        return containing(self.kind, self.start - timedelta(days=1), self.tz)

    def next(self) -> Period:
        return containing(self.kind, self.end, self.tz)


def containing(kind: str, day: date, tz: ZoneInfo) -> Period:
    """The period of ``kind`` that holds ``day``."""
    if kind == "day":
        return Period(kind, day, day + timedelta(days=1), tz)
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=7), tz)
    if kind == "month":
        start = day.replace(day=1)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return Period(kind, start, end, tz)
    if kind == "half":
        first = day.month <= 6
        start = date(day.year, 1 if first else 7, 1)
        end = date(day.year, 7, 1) if first else date(day.year + 1, 1, 1)
        return Period(kind, start, end, tz)
    if kind == "year":
        return Period(kind, date(day.year, 1, 1), date(day.year + 1, 1, 1), tz)
    raise InputError(f"unknown period kind {kind!r} (kinds: {', '.join(KINDS)})")


def last_complete(kind: str, tz: ZoneInfo, now: datetime | None = None) -> Period:
    """The latest period of ``kind`` that has ended."""
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    return containing(kind, today, tz).previous()


def parse(kind: str, text: str | None, tz: ZoneInfo, now: datetime | None = None) -> Period:
    """A period from its text (see the module doc), or the last complete one."""
    if not text:
        return last_complete(kind, tz, now)
    try:
        if kind == "week":
            m = re.fullmatch(r"(\d{4})-W(\d{1,2})", text.strip(), re.I)
            if m:
                return containing(kind, date.fromisocalendar(int(m[1]), int(m[2]), 1), tz)
        elif kind == "half":
            m = re.fullmatch(r"(\d{4})-H([12])", text.strip(), re.I)
            if m:
                return containing(kind, date(int(m[1]), 1 if m[2] == "1" else 7, 1), tz)
        elif kind == "month" and re.fullmatch(r"\d{4}-\d{2}", text.strip()):
            return containing(kind, date.fromisoformat(text.strip() + "-01"), tz)
        elif kind == "year" and re.fullmatch(r"\d{4}", text.strip()):
            return containing(kind, date(int(text), 1, 1), tz)
        return containing(kind, date.fromisoformat(text.strip()), tz)
    except ValueError:
        pass
    raise InputError(f"not a {kind} period: {text!r}",
                     hint=f"Write it {_FORMS.get(kind, 'YYYY-MM-DD')} (or a date inside it).")
