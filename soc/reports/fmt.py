"""Formatting for Vietnamese official documents: dd/mm/yyyy dates, local times (UTC+7),
numbers with ``.`` thousands, checkboxes, the mark of a field left empty, and labels."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from soc.ecs import parse_ts

EMPTY = "(chưa có thông tin)"
"""What a form shows for a field nobody filled: explicit, never a silent blank."""
CHECKED, UNCHECKED = "☒", "☐"
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"

SEVERITY_VI = {"critical": "Nghiêm trọng", "high": "Cao", "medium": "Trung bình",
               "low": "Thấp", "informational": "Thông tin"}
SEVERITY_ORDER = ("critical", "high", "medium", "low", "informational")
CLASSIFICATION_VI = {"ordinary": "Sự cố thông thường", "serious": "Sự cố nghiêm trọng"}
STATUS_VI = {"open": "Đang xử lý", "closed": "Đã kết thúc ứng phó",
             "acknowledged": "Đã tiếp nhận"}
WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def local(ts: str | datetime | None, tz: ZoneInfo) -> datetime | None:
    """A timestamp (canonical text or datetime) in the report's zone."""
    if ts is None or ts == "":
        return None
    moment = parse_ts(ts) if isinstance(ts, str) else ts
    return moment.astimezone(tz)


def date_vn(ts: str | datetime | None, tz: ZoneInfo) -> str:
    """``24/11/2026`` (empty text when unknown)."""
    moment = local(ts, tz)
    return f"{moment:%d/%m/%Y}" if moment else ""


def time_vn(ts: str | datetime | None, tz: ZoneInfo) -> str:
    """``15:04`` in the report's zone."""
    moment = local(ts, tz)
    return f"{moment:%H:%M}" if moment else ""


def datetime_vn(ts: str | datetime | None, tz: ZoneInfo) -> str:
    """``15:04 ngày 24/11/2026``."""
    moment = local(ts, tz)
    return f"{moment:%H:%M} ngày {moment:%d/%m/%Y}" if moment else ""


def place_date(place: str, when: datetime, tz: ZoneInfo) -> str:
    """The line under the national heading: ``Hà Giang, ngày 05 tháng 12 năm 2026``."""
    moment = when.astimezone(tz)
    where = f"{place}, " if place else ""
    return f"{where}ngày {moment:%d} tháng {moment:%m} năm {moment:%Y}"


def zone_label(tz: ZoneInfo, at: datetime) -> str:
    """``UTC+7`` for the note that says which time the document uses."""
    offset = at.astimezone(tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_words(label: str) -> str:
    """How a document names its time: ``giờ Việt Nam`` at UTC+7, else ``giờ UTC+0``."""
    return "giờ Việt Nam" if label == "UTC+7" else f"giờ {label}"


def number(value: int | float) -> str:
    """``1.234.567`` (Vietnamese thousands separator); one decimal with a comma for floats."""
    if isinstance(value, float) and not value.is_integer():
        whole, frac = f"{value:,.1f}".split(".")
        return whole.replace(",", ".") + "," + frac
    return f"{int(value):,}".replace(",", ".")


def duration_vn(td: timedelta | None) -> str:
    """``2 ngày 3 giờ``, ``4 giờ 12 phút``, ``35 phút``; empty when unknown."""
    if td is None:
        return ""
    minutes = max(int(td.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [(days, "ngày"), (hours, "giờ"), (mins, "phút")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "dưới 1 phút"


def box(checked: bool) -> str:
    return CHECKED if checked else UNCHECKED


def or_empty(value: object) -> str:
    """The value as text, or :data:`EMPTY`."""
    text = "" if value is None else str(value).strip()
    return text or EMPTY


def short(text: str, limit: int = 160) -> str:
    """One line of at most ``limit`` characters (evidence excerpts)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
