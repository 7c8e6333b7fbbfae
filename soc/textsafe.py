"""What a log line may carry that acts instead of showing, for every place soc shows it.

One character class, shared by the terminal (:mod:`soc.cli.output` shows them as ``\\x1b``),
the reports (:mod:`soc.reports.render`, the same) and the notifications (:mod:`soc.notify.escape`
drops them): C0 and C1 controls (ESC starts CSI; OSC 52 writes the clipboard, OSC 0 the title;
CR overwrites a line) and the bidirectional marks and overrides that reorder what is shown. Tab
and newline are left to the callers.
"""

from __future__ import annotations

import re

UNSAFE_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""The class's ranges, for a caller that builds a larger class around them."""
UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")
