"""Where the project's content lives: rules, playbooks and report templates.

In a checkout or an editable install they sit beside the package (``rules/``, ``playbooks/``,
``reports/``); an installed wheel puts them under ``<prefix>/share/soc/`` (setup.cfg
``data_files``).
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
SHARE = Path(sys.prefix) / "share" / "soc"
CONTENT = ("rules", "playbooks", "reports")


@cache
def content_dir(name: str) -> Path:
    """The folder of one kind of content (``rules``, ``playbooks``, ``reports``).

    Returns the checkout's folder when it exists, else the installed one (which may be missing
    if the package was installed without its data: callers report that with a hint).
    """
    if name not in CONTENT:
        raise ValueError(f"unknown content folder {name!r}")
    for base in (CHECKOUT, SHARE):
        if (base / name).is_dir():
            return base / name
    return SHARE / name
