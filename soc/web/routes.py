"""The registry of console routes: one module per page group, each with ``ROUTES`` (a list of
:class:`soc.web.context.Spec`) and optionally ``NAV`` (``[(path, i18n key)]``, its entries in
the menu). A new page group is a new module named in :data:`MODULES`; nothing else changes.
"""

from __future__ import annotations

import importlib

from soc.web.context import Spec

MODULES = (
    "soc.web.pages.auth",
    "soc.web.pages.overview",
    "soc.web.pages.alerts",
    "soc.web.pages.search",
    "soc.web.pages.incidents",
    "soc.web.api.alerts",
    "soc.web.api.search",
    "soc.web.api.incidents",
    "soc.web.api.me",
    "soc.web.pages.reports",
    "soc.web.pages.status",
    "soc.web.pages.rules",
    "soc.web.api.status",
    "soc.web.api.rules",
    "soc.web.pages.users",
)


def specs() -> list[Spec]:
    """Every route of every module, in the order of :data:`MODULES`."""
    found: list[Spec] = []
    for name in MODULES:
        found.extend(importlib.import_module(name).ROUTES)
    return found


def nav() -> list[tuple[str, str]]:
    """The menu: the ``NAV`` entries of the modules, in order."""
    entries: list[tuple[str, str]] = []
    for name in MODULES:
        entries.extend(getattr(importlib.import_module(name), "NAV", []))
    return entries
