"""The console's jinja2 environment: templates shipped in the package, autoescape always on.

Everything that comes from logs reaches a page as text and is escaped by jinja2; no template
marks event data ``|safe``. Filters: ``local`` (a stored UTC time in the configured zone),
``pivot`` (the search URL of ``field:"value"``), ``lucene`` (that query), ``json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2

from soc.ecs import parse_ts

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
_FIELD_SPECIAL = re.compile(r'([+\-=&|><!(){}\[\]^"~*?:\\/\s])')


def environment(zone: tzinfo) -> jinja2.Environment:
    """The template environment, times shown in ``zone``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["local"] = lambda value: local(value, zone)
    env.filters["pivot"] = pivot_url
    env.filters["lucene"] = lucene_term
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, indent=1,
                                                   default=str)
    return env


def local(value: Any, zone: tzinfo) -> str:
    """``2026-11-24 15:03:07``: a stored time in the console's zone ('' for none)."""
    if value in (None, ""):
        return ""
    try:
        moment = value if isinstance(value, datetime) else parse_ts(str(value))
    except ValueError:
        return str(value)
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S}"


def lucene_term(field: str, value: Any) -> str:
    """``field:"value"`` in the search syntax: special characters of the field name escaped,
    ``\\`` and ``"`` of the value escaped inside the phrase."""
    name = _FIELD_SPECIAL.sub(r"\\\1", field)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}:"{text}"'


def pivot_url(value: Any, field: str, window: Mapping[str, str] | None = None) -> str:
    """``/search?q=field%3A%22value%22``: one click from a value to its events; ``window``
    (``from``/``to``) the time range to search, an alert's own (else the search's last 24 h,
    where an older alert's events are not)."""
    chosen = {k: v for k, v in (window or {}).items() if v}
    return "/search?" + urlencode({"q": lucene_term(field, value), **chosen})
