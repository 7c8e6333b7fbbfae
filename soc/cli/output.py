"""Rendering for the CLI: tables by default, ``--json`` and ``--nl`` for machines.

stdout carries data only; people-facing messages go to stderr. The format never depends on
whether stdout is a terminal. Tables show times in the configured ``timezone`` with the offset
(``2026-11-24 14:03:07 +07``); ``--json`` and ``--nl`` keep the stored ISO 8601 UTC text.
"""

from __future__ import annotations

import json
import re
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

F = TypeVar("F", bound=Callable[..., Any])
MAX_CELL = 80
_UTC_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]00:?00)",
                       re.IGNORECASE)
"""A cell that is a UTC timestamp as soc stores them (and nothing else)."""


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
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
    """Add ``--json`` / ``--nl`` to a command; it receives ``fmt: Format``."""

    def pick(ctx: click.Context, param: click.Parameter, value: bool) -> Any:
        if value:
            ctx.meta["soc.fmt"] = Format(param.name)
        return value

    func = click.option("--nl", is_flag=True, expose_value=False, callback=pick,
                        help="One JSON object per line.")(func)
    func = click.option("--json", "json", is_flag=True, expose_value=False, callback=pick,
                        help="JSON on stdout.")(func)
    return func


def current_format() -> Format:
    ctx = click.get_current_context(silent=True)
    return Format(ctx.meta.get("soc.fmt", Format.TABLE)) if ctx else Format.TABLE


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


def _cell(value: Any, zone: tzinfo | None = None) -> str:
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
    return escape(text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…")


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
          zone: tzinfo | None = None) -> str:
    """A plain aligned text table; times in ``zone`` (default: :func:`display_zone`)."""
    zone = zone or display_zone()
    cells = [[_cell(row.get(c), zone) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for r in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


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
        click.echo(table(listed, columns))
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


def info(message: str) -> None:
    """A message for people, on stderr (escaped: it may quote what a log line said)."""
    click.echo(escape(message), err=True)


def progress_enabled() -> bool:
    return sys.stderr.isatty()
