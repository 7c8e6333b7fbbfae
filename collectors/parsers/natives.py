"""Every native JSON export the JSON lines parser recognises, in the order it tries them.

Each is a :class:`~collectors.parsers.jsonnative.NativeFormat`: see :mod:`~collectors.parsers.zeek`,
:mod:`~collectors.parsers.opencanary`, :mod:`~collectors.parsers.cloud`,
:mod:`~collectors.parsers.saas` and :mod:`~collectors.parsers.macos`. Detection looks at a few
keys of the flattened record, so the order matters only between exports that share keys (none
do today).
"""

from __future__ import annotations

from collectors.parsers import cloud, macos, opencanary, saas, zeek
from collectors.parsers.jsonnative import NativeFormat

ZEEK = NativeFormat("zeek", zeek.detect, ("ts",), zeek.refine)

FORMATS: tuple[NativeFormat, ...] = (ZEEK, opencanary.FORMAT, *cloud.FORMATS, *saas.FORMATS,
                                     *macos.FORMATS)
