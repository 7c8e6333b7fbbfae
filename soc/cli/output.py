"""Rendering for the CLI: tables by default, ``--json`` and ``--nl`` for machines.

stdout carries data only; people-facing messages go to stderr. The format never depends on
whether stdout is a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
MAX_CELL = 80


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


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        text = ",".join(_cell(v) for v in value)
    elif isinstance(value, dict):
        text = _dumps(value)
    elif isinstance(value, float):
        text = f"{value:.2f}"
    else:
        text = str(value)
    text = text.replace("\n", "⏎").replace("\t", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
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
            click.echo(_dumps(row))
            n += 1
        return n
    listed = list(rows)
    if fmt is Format.JSON:
        click.echo(_dumps(listed, indent=2))
    elif listed:
        click.echo(table(listed, columns))
    return len(listed)


def emit_object(obj: Mapping[str, Any], fmt: Format | None = None) -> None:
    """Print one object: ``key: value`` lines as a table, or JSON."""
    fmt = fmt or current_format()
    if fmt is Format.JSON:
        click.echo(_dumps(obj, indent=2))
    elif fmt is Format.NL:
        click.echo(_dumps(obj))
    else:
        width = max((len(k) for k in obj), default=0)
        for key, value in obj.items():
            shown = _dumps(value) if isinstance(value, dict | list) else _cell(value)
            click.echo(f"{key.ljust(width)}  {shown}")


def info(message: str) -> None:
    """A message for people, on stderr."""
    click.echo(message, err=True)


def progress_enabled() -> bool:
    return sys.stderr.isatty()
