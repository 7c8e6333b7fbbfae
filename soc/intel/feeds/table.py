"""CSV tables and plain lists → indicators: the national centres' spreadsheets exported as CSV
(Vietnamese or English headers) and one-value-a-line lists.

* **Encoding**: a BOM decides (UTF-8, UTF-16 as Excel's "Unicode text", UTF-32); else UTF-8;
  else Windows-1258 (cp1258, the legacy Vietnamese code page, whose tone marks are combining
  characters: the text is put in NFC). A file that is mostly UTF-8 with a few broken bytes stays
  UTF-8 (the broken cells hold U+FFFD and their rows are skipped): reading it as cp1258 would
  garble every Vietnamese header and value instead of a few.
* **Shape**: with a column map (``columns: {value: "Giá trị", type: "Loại"}``) the file is a table
  whose header holds those names; without one, a first row naming a value column
  (:data:`HEADERS`) makes it a table, anything else is a plain list. Header names match in any
  case, with or without diacritics, NFC or NFD. The delimiter (``,`` ``;`` tab) is the one the
  header holds most of, or Excel's ``sep=`` line, or the configured one.
* **Values** are refanged (:func:`refang`) and typed by the type cell (English or Vietnamese:
  :data:`TYPE_WORDS`), else the feed's ``kind``, else :func:`~soc.intel.model.guess_type`.
* **Dates** (ISO 8601, ``dd/mm/yyyy`` and ``dd/mm/yyyy HH:MM[:SS]``: always day first, as written
  in Vietnam) without a zone are in the feed's ``timezone`` (default Asia/Ho_Chi_Minh). A date
  alone as ``valid until`` means to the end of that day.
* **Confidence**: 0-100 (``80``, ``80%``) or a word (high/cao 85, medium/trung bình 50, low/thấp
  15: STIX 2.1's Low/Med/High scale). **TLP**: ``TLP:AMBER``, ``amber`` or the Vietnamese colour
  names; an unknown label skips the row rather than share it under a guessed one.

A row that cannot be read (no value, a value that is not its type, a bad date, confidence or
TLP) is skipped with its row number (the spreadsheet's: the header is row 1) and the reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from soc.config import DEFAULT_TIMEZONE
from soc.ecs import format_ts
from soc.intel.feeds.result import FeedResult
from soc.intel.http import FeedError
from soc.intel.model import (
    TYPES,
    Indicator,
    IndicatorError,
    guess_type,
    ip_kind,
    normalize,
    tlp_of,
)

FIELDS = ("value", "type", "description", "confidence", "valid_until", "first_seen",
          "last_seen", "source", "tlp", "tags", "reference")
"""The keys of a column map."""

HEADERS: Mapping[str, tuple[str, ...]] = {
    "value": ("Giá trị", "Chỉ số", "Chỉ báo", "Dấu hiệu", "IOC", "IoC value", "Indicator",
              "Indicator value", "Value", "Observable"),
    "type": ("Loại", "Kiểu", "Loại IOC", "Loại chỉ số", "Phân loại", "Type", "IOC type",
             "Indicator type"),
    "description": ("Mô tả", "Ghi chú", "Description", "Comment", "Notes"),
    "confidence": ("Độ tin cậy", "Mức độ tin cậy", "Confidence"),
    "valid_until": ("Ngày hết hạn", "Hiệu lực đến", "Hết hạn", "Valid until", "Expiry",
                    "Expires", "Expiration"),
    "first_seen": ("Ngày phát hiện", "Phát hiện lần đầu", "Thời gian phát hiện", "First seen"),
    "last_seen": ("Lần cuối", "Phát hiện lần cuối", "Last seen"),
    "source": ("Nguồn", "Nguồn tin", "Source"),
    "tlp": ("TLP", "Mức độ chia sẻ"),
    "tags": ("Nhãn", "Thẻ", "Tags", "Tag"),
    "reference": ("Tham chiếu", "Reference", "References"),
}
"""Header names recognised without a column map (matched folded: any case, no diacritics)."""

TYPE_WORDS: Mapping[str, tuple[str, ...]] = {
    "ip": ("IP", "Địa chỉ IP", "IP address", "IPv4", "IPv6", "CIDR", "Dải IP", "Subnet"),
    "domain": ("Tên miền", "Domain", "Domain name", "Hostname", "Host", "FQDN"),
    "url": ("URL", "Đường dẫn", "Link", "URI"),
    "md5": ("MD5", "Mã băm MD5", "Hash MD5"),
    "sha1": ("SHA1", "SHA-1", "Mã băm SHA1", "Hash SHA1"),
    "sha256": ("SHA256", "SHA-256", "Mã băm SHA256", "Hash SHA256"),
    "hash": ("Mã băm", "Hash", "File hash", "Mã băm tệp"),
    "email": ("Email", "E-mail", "Thư điện tử", "Địa chỉ email", "Email address"),
    "ja3": ("JA3",), "ja4": ("JA4",),
    "user-agent": ("User-Agent", "User agent", "UA"),
}
"""Words of a type cell → a type (``ip`` and ``hash``: the value's shape tells which)."""

CONFIDENCE_WORDS = {"cao": 85, "high": 85, "trungbinh": 50, "medium": 50, "moderate": 50,
                    "thap": 15, "low": 15}
TLP_WORDS = {"do": "red", "hophach": "amber", "vang": "amber", "xanh": "green",
             "xanhla": "green", "trang": "clear"}

_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"
                  r"(?:[ T,]+(\d{1,2})[:h](\d{2})(?::(\d{2}))?)?")
_YMD = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_REFANG = [
    (re.compile(r"^h(?:xx|XX|\*\*|xX|Xx)p(s?)(?=\[?:)", re.I), r"http\1"),
    (re.compile(r"^fxp(?=\[?:)", re.I), "ftp"),
    (re.compile(r"\[:\]//|\[://\]"), "://"),
    (re.compile(r"\[(?:\.|dot)\]|\((?:\.|dot)\)|\{(?:\.|dot)\}", re.I), "."),
    (re.compile(r"\[(?:@|at)\]|\((?:@|at)\)|\{(?:@|at)\}", re.I), "@"),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[/\]"), "/"),
]


def read_table(data: bytes, *, source: str, columns: Mapping[str, str] | None = None,
               kind: str | None = None, lifetimes: Mapping[str, timedelta] | None = None,
               now: datetime, timezone: str | None = None, delimiter: str | None = None,
               confidence: int | None = None, tlp: str | None = None) -> FeedResult:
    """The indicators of a CSV table or a plain list (see the module's docstring). ``kind`` is
    the type of every value without a type cell; ``confidence`` and ``tlp`` the feed's defaults.
    Raises :class:`FeedError` for a column map that does not fit the file, or bytes that are no
    text."""
    if kind is not None and kind not in TYPES:
        raise FeedError(f"unknown indicator type {kind!r}", hint=f"use one of {', '.join(TYPES)}")
    ctx = _Context(source, now, lifetimes or {}, _zone(timezone), kind, confidence, tlp)
    text = decode(data)
    lines = text.splitlines()
    sep, skip = _excel_sep(lines)
    if columns:
        return _table(text, skip, sep or delimiter, dict(columns), ctx)
    head = next((x for x in lines[skip:] if x.strip()), "")
    sep = sep or delimiter or _sniff(head)
    cells = next(csv.reader([head], delimiter=sep), [])
    if _value_column(cells) is not None:
        return _table(text, skip, sep, None, ctx)
    return _plain(lines, ctx)


def read_list(data: bytes, *, source: str, kind: str | None = None,
              lifetimes: Mapping[str, timedelta] | None = None, now: datetime,
              confidence: int | None = None, tlp: str | None = None) -> FeedResult:
    """A plain list (one value a line), even when a line looks like a CSV header."""
    if kind is not None and kind not in TYPES:
        raise FeedError(f"unknown indicator type {kind!r}", hint=f"use one of {', '.join(TYPES)}")
    ctx = _Context(source, now, lifetimes or {}, _zone(None), kind, confidence, tlp)
    return _plain(decode(data).splitlines(), ctx)


@dataclass(frozen=True)
class _Context:
    """What every row of one read shares."""

    source: str
    now: datetime
    lifetimes: Mapping[str, timedelta]
    zone: tzinfo
    kind: str | None
    confidence: int | None
    tlp: str | None


# --- bytes → text --------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of ``data`` (see the module's docstring for the order tried), in NFC."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return unicodedata.normalize("NFC", data.decode(codec, errors="replace"))
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    loose = data.decode("utf-8", errors="replace")
    broken = loose.count("\ufffd")
    if sum(1 for c in loose if ord(c) > 0x7F) - broken > broken:
        return unicodedata.normalize("NFC", loose)
    try:
        return unicodedata.normalize("NFC", data.decode("cp1258"))
    except UnicodeDecodeError:
        raise FeedError("the file is neither UTF-8, UTF-16 nor Windows-1258 text",
                        hint="save the spreadsheet as CSV UTF-8") from None


def _excel_sep(lines: list[str]) -> tuple[str | None, int]:
    """Excel's ``sep=;`` first line: the delimiter, and 1 line to skip."""
    if lines and re.fullmatch(r"\s*sep=(.)\s*", lines[0]):
        return lines[0].strip()[4], 1
    return None, 0


def _sniff(head: str) -> str:
    counts = {sep: head.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


# --- tables --------------------------------------------------------------------------------


def fold(text: str) -> str:
    """A header or a word compared loosely: no diacritics, case, spaces or punctuation."""
    plain = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "d")
    return "".join(c for c in plain.casefold() if c.isalnum() and not unicodedata.combining(c))


_HEADER_OF = {fold(name): key for key, names in HEADERS.items() for name in names}
_TYPE_OF = {fold(word): kind for kind, words in TYPE_WORDS.items() for word in words}


def _value_column(cells: list[str]) -> int | None:
    """The index of the value column of a header row found without a column map."""
    names = [_HEADER_OF.get(fold(c)) for c in cells]
    if "value" in names:
        return names.index("value")
    return next((i for i, c in enumerate(cells) if fold(c) in _TYPE_OF), None)


def _layout(header: list[str], columns: dict[str, str] | None) -> dict[str, int]:
    """Field → column index, from the column map or the header's own names."""
    folded = [fold(c) for c in header]
    if columns is not None:
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            raise FeedError(f"unknown column map keys: {', '.join(unknown)}",
                            hint=f"the feed's columns map {', '.join(FIELDS)} to header names")
        if "value" not in columns:
            raise FeedError("the column map has no value column",
                            hint="add value: <the header of the indicator column>")
        out = {}
        for key, name in columns.items():
            if fold(name) not in folded:
                raise FeedError(f"column {name!r} ({key}) is not in the header: "
                                f"{', '.join(header)[:200]}",
                                hint="fix the feed's columns to the file's header names")
            out[key] = folded.index(fold(name))
        return out
    out = {}
    for i, name in enumerate(folded):
        found = _HEADER_OF.get(name)
        if found is not None and found not in out:
            out[found] = i
    if "value" not in out:
        out["value"] = _value_column(header) or 0
    return out


def _table(text: str, skip: int, sep: str | None, columns: dict[str, str] | None,
           ctx: _Context) -> FeedResult:
    body = "\n".join(text.splitlines()[skip:])
    rows = _rows(body, sep or _sniff(next((x for x in body.splitlines() if x.strip()), "")))
    result = FeedResult()
    header: list[str] | None = None
    implied: str | None = None
    layout: dict[str, int] = {}
    for number, cells, problem in rows:
        if problem:
            result.skipped.append((f"row {number + skip}", problem))
            continue
        if header is None:
            if any(c.strip() for c in cells):
                header = cells
                layout = _layout(header, columns)
                implied = _TYPE_OF.get(fold(header[layout["value"]]))
            continue
        _row(cells, number + skip, layout, implied, ctx, result)
    return result


def _rows(body: str, sep: str) -> Iterator[tuple[int, list[str], str]]:
    """(row number, cells, problem) for each physical row: a row the csv module refuses (a
    cell over its size limit) comes with the reason instead of ending the read."""
    reader = csv.reader(io.StringIO(body), delimiter=sep)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, [], f"unreadable CSV: {exc}"
            start = reader.line_num + 1
            continue
        yield start, cells, ""
        start = reader.line_num + 1


def _row(cells: list[str], number: int, layout: dict[str, int], implied: str | None,
         ctx: _Context, result: FeedResult) -> None:
    if not any(c.strip() for c in cells):
        return
    get = {key: (cells[i].strip() if i < len(cells) else "") for key, i in layout.items()}
    try:
        result.indicators.append(_indicator(get, implied, ctx))
    except IndicatorError as exc:
        result.skipped.append((f"row {number}", str(exc)))


def _indicator(cell: dict[str, str], implied: str | None, ctx: _Context) -> Indicator:
    value = refang(cell.get("value", ""))
    if not value:
        raise IndicatorError("no value")
    if "\ufffd" in value:
        raise IndicatorError(f"undecodable bytes in the value: {value[:80]!r}")
    kind = _kind(value, cell.get("type", ""), implied, ctx.kind)
    life = ctx.lifetimes.get(kind)
    until = _when(cell.get("valid_until", ""), ctx.zone, "valid until", end_of_day=True)
    extra = {"origin": cell["source"]} if cell.get("source") else {}
    return Indicator(
        type=kind, value=normalize(kind, value), source=ctx.source,
        first_seen=_when(cell.get("first_seen", ""), ctx.zone, "first seen"),
        last_seen=_when(cell.get("last_seen", ""), ctx.zone, "last seen"),
        valid_until=until or (format_ts(ctx.now + life) if life else None),
        confidence=_confidence(cell.get("confidence", ""), ctx.confidence),
        tlp=_tlp(cell.get("tlp", ""), ctx.tlp),
        tags=tuple(dict.fromkeys(t.strip() for t in re.split(r"[,;|]", cell.get("tags", ""))
                                 if t.strip())),
        description=cell.get("description", ""), reference=refang(cell.get("reference", "")),
        extra=extra)


def _kind(value: str, word: str, implied: str | None, forced: str | None) -> str:
    """The type of ``value``: its type cell, else the value column's, the feed's, a guess."""
    said = _TYPE_OF.get(fold(word)) if word else None
    said = said or implied or forced
    if said == "ip":
        found = ip_kind(value)
        if found is None:
            raise IndicatorError(f"not an IP address or network: {value[:80]!r}")
        return found
    if said == "hash":
        said = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(value))
        if said is None:
            raise IndicatorError(f"not an md5, sha1 or sha256: {value[:80]!r}")
    if said:
        return said
    guessed = guess_type(value)
    if guessed is None:
        what = f"type {word!r} unknown and " if word else ""
        raise IndicatorError(f"{what}cannot tell what {value[:80]!r} is")
    return guessed


# --- plain lists ---------------------------------------------------------------------------


def _plain(lines: list[str], ctx: _Context) -> FeedResult:
    """One value a line, up to the first space (the rest is a comment, as in Spamhaus' lists;
    a user-agent list takes the whole line); lines starting with ``#`` or ``;`` are comments."""
    result = FeedResult()
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith(("#", ";")):
            continue
        if ctx.kind != "user-agent":
            text = text.split(None, 1)[0]
        try:
            result.indicators.append(_indicator({"value": text}, None, ctx))
        except IndicatorError as exc:
            result.skipped.append((f"line {number}", str(exc)))
    return result


# --- cells ---------------------------------------------------------------------------------


def refang(text: str) -> str:
    """``hxxp://evil[.]com``, ``1.2.3[.]4``, ``a[at]b(.)vn`` → the real value."""
    out = text.strip()
    for pattern, real in _REFANG:
        out = pattern.sub(real, out)
    return out


def _zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise FeedError(f"unknown timezone {name!r}",
                        hint="use an IANA name such as Asia/Ho_Chi_Minh") from None


def parse_when(text: str, zone: tzinfo, *, end_of_day: bool = False) -> str | None:
    """A date or time as written in a table (ISO 8601, ``dd/mm/yyyy[ HH:MM[:SS]]``) → canonical
    UTC; naive ones are in ``zone``. A date alone is its day's start (``end_of_day``: the next
    day's start, for an end of validity). None when ``text`` is empty; ValueError when bad."""
    raw = text.strip()
    if not raw:
        return None
    m = _DMY.fullmatch(raw)
    if m:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        clock = time(int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)) if m.group(4) \
            else None
        return _local(date(year, month, day), clock, zone, end_of_day)
    m = _YMD.fullmatch(raw)
    if m:
        return _local(date(int(m.group(1)), int(m.group(2)), int(m.group(3))), None, zone,
                      end_of_day)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return _local(date.fromisoformat(raw), None, zone, end_of_day)
    found = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1] in "Zz" else raw)
    return format_ts(found if found.tzinfo else found.replace(tzinfo=zone))


def _local(day: date, clock: time | None, zone: tzinfo, end_of_day: bool) -> str:
    if clock is None and end_of_day:
        day += timedelta(days=1)
    return format_ts(datetime.combine(day, clock or time(0), tzinfo=zone))


def _when(text: str, zone: tzinfo, what: str, *, end_of_day: bool = False) -> str | None:
    try:
        return parse_when(text, zone, end_of_day=end_of_day)
    except ValueError:
        raise IndicatorError(f"{what}: not a date (dd/mm/yyyy or ISO 8601): "
                             f"{text[:40]!r}") from None


def _confidence(text: str, default: int | None) -> int | None:
    raw = text.strip().rstrip("%").strip()
    if not raw:
        return default
    if fold(raw) in CONFIDENCE_WORDS:
        return CONFIDENCE_WORDS[fold(raw)]
    try:
        number = float(raw.replace(",", "."))
    except ValueError:
        raise IndicatorError(f"confidence: not 0-100 nor high/medium/low: {text[:40]!r}") \
            from None
    if 0 < number < 1 and "." in raw.replace(",", "."):
        number *= 100  # 0.8 is 80 %
    if not 0 <= number <= 100:
        raise IndicatorError(f"confidence: not 0-100: {text[:40]!r}")
    return round(number)


def _tlp(text: str, default: str | None) -> str | None:
    raw = text.strip()
    if not raw:
        return default
    found = tlp_of(raw) or TLP_WORDS.get(fold(raw.split(":", 1)[-1]))
    if found is None:
        raise IndicatorError(f"TLP: unknown label {text[:40]!r}")
    return found
