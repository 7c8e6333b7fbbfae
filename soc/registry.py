"""Plugins through entry points: stores, collectors and parsers.

The built-ins register through ``setup.cfg`` exactly as a third-party package would, and nothing is
imported before it is asked for.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from soc.errors import SocError

GROUPS = {"store": "soc.stores", "collector": "soc.collectors", "parser": "soc.parsers",
          "sample": "soc.samples"}  # sample: writers of demo data that only a plugin can make


@cache
def available(kind: str) -> dict[str, EntryPoint]:
    """Entry points of one kind (``store``, ``collector``, ``parser``) by name."""
    return {ep.name: ep for ep in entry_points(group=GROUPS[kind])}


def load(kind: str, name: str) -> Any:
    """The class registered as ``name`` for ``kind``; a clear error if there is none."""
    eps = available(kind)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise SocError(
            f"no {kind} named {name!r} (known: {known})",
            hint="Is the package that provides it installed? 'pip install -e .' registers ours.",
        )
    try:
        return eps[name].load()
    except ImportError as exc:
        raise SocError(f"the {kind} {name!r} cannot be loaded: {exc}") from exc


@cache
def parsers() -> dict[str, Any]:
    """One instance of every registered parser, by name, in auto-detection order."""
    found = {name: load("parser", name)() for name in available("parser")}
    return dict(sorted(found.items(), key=lambda kv: (kv[1].priority, kv[0])))
