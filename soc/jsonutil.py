"""Fast JSON for the hot paths (orjson), with the standard library where orjson refuses."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(text: str | bytes) -> Any:
    """Decode JSON; NaN, Infinity and integers past 64 bits fall back to the standard decoder,
    which raises :class:`json.JSONDecodeError` for text that is not JSON at all, and
    :class:`ValueError` for JSON nested past orjson's 1024 levels (the standard decoder would
    recurse until it fails) or a number past ``int()``'s 4300 digits."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except RecursionError:
            raise ValueError("nested too deeply") from None
