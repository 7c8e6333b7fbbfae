"""Rendering for the CLI: tables by default, ``--json`` and ``--nl`` for machines.

stdout carries data only; people-facing messages go to stderr. The format never depends on
whether stdout is a terminal. Tables show times in the configured ``timezone`` with the offset
(``2026-11-24 14:03:07 +07``); ``--json`` and ``--nl`` keep the stored ISO 8601 UTC text.

Tables written to a terminal fit its width (``$COLUMNS`` when set, else the terminal's own),
the widest columns cut first with ``…``; a table written to a pipe or a file keeps every column
whole (each cell cut at ``MAX_CELL``) whatever ``$COLUMNS`` says (readline exports it into
children), and ``--wide`` shows everything in full.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from soc.config import DEFAULT_TIMEZONE
from soc.ecs import parse_ts
from soc.errors import SocError
from soc.textsafe import UNSAFE

F = TypeVar("F", bound=Callable[..., Any])
MAX_CELL = 80
MIN_COLUMN = 5  # a column is never cut narrower (a table too wide even so runs past the edge)
_SEP = "  "
_UTC_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]00:?00)",
                       re.IGNORECASE)
"""A cell that is a UTC timestamp as soc stores them (and nothing else)."""


_UNSAFE = UNSAFE
"""What a terminal acts on instead of showing: C0 and C1 controls (ESC starts CSI, OSC 52 writes
the clipboard, OSC 0 the title; CR overwrites a line) and the bidirectional overrides that
reorder what is shown. Tab and newline are left to the callers (cells show them as a space
and ⏎)."""
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""What JSON leaves raw (it escapes only C0 controls): escaped as ``\\uXXXX``, still valid JSON."""


def _shown(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` safe for a terminal: every control or reordering character shown as text
    (``\\x1b``, ``\\u202e``). Everything a log line can carry goes through this before it
    is printed, in tables, lines and error messages."""
    return _UNSAFE.sub(_shown, text) if _UNSAFE.search(text) else text


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    NL = "nl"


def format_options(func: F) -> F:
    """Add ``--json`` / ``--nl`` / ``--wide`` to a command (read by :func:`current_format`
    and :func:`table_width`)."""

    def pick(ctx: click.Context, param: click.Parameter, value: bool) -> Any:
        if value:
            ctx.meta["soc.fmt"] = Format(param.name)
        return value

    def widen(ctx: click.Context, param: click.Parameter, value: bool) -> Any:
        if value:
            ctx.meta["soc.wide"] = True
        return value

    func = click.option("--wide", is_flag=True, expose_value=False, callback=widen,
                        help="Tables: every column and cell in full, not fitted to the "
                             "screen.")(func)
    func = click.option("--nl", is_flag=True, expose_value=False, callback=pick,
                        help="One JSON object per line.")(func)
    func = click.option("--json", "json", is_flag=True, expose_value=False, callback=pick,
                        help="JSON on stdout.")(func)
    return func


def current_format() -> Format:
    ctx = click.get_current_context(silent=True)
    return Format(ctx.meta.get("soc.fmt", Format.TABLE)) if ctx else Format.TABLE


def is_wide() -> bool:
    """``--wide`` was given: tables show every cell in full."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get("soc.wide"))


def table_width() -> int | None:
    """The width tables fit when stdout is a terminal: ``$COLUMNS``, else the terminal's; None
    (no fitting) with ``--wide`` or when stdout is a pipe or a file."""
    if is_wide() or not _stdout_is_terminal():
        return None
    return shutil.get_terminal_size(fallback=(0, 0)).columns or None


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def fit_widths(widths: Sequence[int], width: int) -> list[int]:
    """Column widths that fit ``width`` characters with their separators: the widest columns
    are cut to one shared cap (never below ``MIN_COLUMN``), the narrower ones are kept whole."""
    room = width - len(_SEP) * (len(widths) - 1)
    if sum(widths) <= room:
        return list(widths)
    left, cap = room, 0
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    for done, i in enumerate(order):
        share = left // (len(widths) - done)
        if widths[i] > share:
            cap = share
            break
        left -= widths[i]
    cap = max(cap, MIN_COLUMN)
    extra = max(left - cap * sum(1 for w in widths if w > cap), 0)
    fitted: list[int] = []
    for w in widths:
        grow = 1 if w > cap and extra > 0 else 0
        extra -= grow
        fitted.append(min(w, cap + grow))
    return fitted


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one ``…`` when something was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def json_text(value: Any, indent: int | None = None) -> str:
    """JSON for stdout: UTF-8 kept readable, the controls and overrides JSON leaves raw escaped."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=str)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def display_zone() -> tzinfo:
    """The zone tables show times in: the configuration's ``timezone``.

    The configuration of the running command when it can be loaded, else the default zone."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return ZoneInfo(DEFAULT_TIMEZONE)
    zone = ctx.meta.get("soc.tz")
    if zone is None:
        try:
            zone = ctx.find_root().obj.config.tz
        except (SocError, AttributeError):
            zone = ZoneInfo(DEFAULT_TIMEZONE)
        ctx.meta["soc.tz"] = zone
    return zone


def local_time(value: str | datetime, zone: tzinfo | None = None) -> str:
    """``2026-11-24 14:03:07 +07``: a stored UTC time as analysts read it (offset shown)."""
    moment = parse_ts(value) if isinstance(value, str) else value
    local = moment.astimezone(zone or display_zone())
    return f"{local:%Y-%m-%d %H:%M:%S} {_offset(local.utcoffset())}"


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta(0)).total_seconds() // 60)
    hours, rest = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else '+'}{hours:02d}" + (f":{rest:02d}" if rest else "")


def _time_cell(value: Any, zone: tzinfo) -> str | None:
    """The local form of a cell that is a time, None for any other cell."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return local_time(value, zone)
    if isinstance(value, str) and _UTC_TEXT.fullmatch(value):
        try:
            return local_time(value, zone)
        except ValueError:
            return None
    return None


def _cell(value: Any, zone: tzinfo | None = None, limit: int | None = MAX_CELL) -> str:
    if value is None:
        return ""
    shown = _time_cell(value, zone) if zone is not None else None
    if shown is not None:
        return shown
    if isinstance(value, list | tuple):
        text = ",".join(_cell(v, zone) for v in value)
    elif isinstance(value, dict):
        text = json_text(value)
    elif isinstance(value, float):
        text = f"{value:.2f}"
    else:
        text = str(value)
    text = text.replace("\n", "⏎").replace("\t", " ")
    return escape(text if limit is None else clip(text, limit))


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
          zone: tzinfo | None = None, *, width: int | None = None,
          wide: bool = False) -> str:
    """A plain aligned text table; times in ``zone`` (default: :func:`display_zone`). With
    ``width``, columns are cut (:func:`fit_widths`) so that each line fits it; ``wide`` keeps
    cells longer than ``MAX_CELL`` whole. Cells are escaped before they are cut."""
    zone = zone or display_zone()
    limit = None if wide else MAX_CELL
    cells = [[_cell(row.get(c), zone, limit) for c in columns] for row in rows]
    heads = [escape(c.upper()) for c in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(heads)]
    if width is not None:
        widths = fit_widths(widths, width)
    return "\n".join(_SEP.join(clip(v, w).ljust(w) for v, w in zip(r, widths, strict=True))
                     .rstrip() for r in [heads, *cells])


def emit_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
              fmt: Format | None = None) -> int:
    """Print rows in the chosen format; ``--nl`` streams. Returns how many rows were printed."""
    fmt = fmt or current_format()
    if fmt is Format.NL:
        n = 0
        for row in rows:
            click.echo(json_text(row))
            n += 1
        return n
    listed = list(rows)
    if fmt is Format.JSON:
        click.echo(json_text(listed, indent=2))
    elif listed:
        click.echo(table(listed, columns, width=table_width(), wide=is_wide()))
    return len(listed)


def emit_object(obj: Mapping[str, Any], fmt: Format | None = None) -> None:
    """Print one object: ``key: value`` lines as a table, or JSON."""
    fmt = fmt or current_format()
    if fmt is Format.JSON:
        click.echo(json_text(obj, indent=2))
    elif fmt is Format.NL:
        click.echo(json_text(obj))
    else:
        width = max((len(k) for k in obj), default=0)
        zone = display_zone()
        for key, value in obj.items():
            shown = json_text(value) if isinstance(value, dict | list) else _cell(value, zone)
            click.echo(escape(f"{key.ljust(width)}  {shown}"))


def field_table(obj: Mapping[str, Any], indent: int = 2) -> str:
    """``field  value`` lines, indented, the values aligned and whole (an event for people):
    ``@timestamp`` first, then the fields by name; times local; every field and value
    escaped, a list as ``a,b``, an object as JSON."""
    keys = sorted(obj, key=lambda k: (k != "@timestamp", k))
    names = [escape(str(k)) for k in keys]
    width = max((len(n) for n in names), default=0)
    zone = display_zone()
    return "\n".join(f"{' ' * indent}{n.ljust(width)}  {_cell(obj[k], zone, None)}".rstrip()
                     for n, k in zip(names, keys, strict=True))


def info(message: str) -> None:
    """A message for people, on stderr (escaped: it may quote what a log line said)."""
    click.echo(escape(message), err=True)


def progress_enabled() -> bool:
    return sys.stderr.isatty()
