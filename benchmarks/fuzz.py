"""The long fuzzing run: every parser and the syslog framing, with many more inputs than CI.

    python benchmarks/fuzz.py                       # 2000 inputs per parser and strategy
    python benchmarks/fuzz.py --examples 20000 --parsers fortigate auditd
    python benchmarks/fuzz.py --examples 500 --derandomize   # the same inputs on every run

It runs the hypothesis tests of tests/test_fuzz_parsers.py and tests/test_fuzz_framing.py (the
same strategies and property as the CI run, see tests/fuzz/harness.py) under a profile with
``--examples`` inputs per test, and prints, per parser, how many inputs each strategy tried
(shrinking included) and every crash found: the exception, where it was raised, and the minimal
input hypothesis shrank it to. Keep each crash as a regression test at the end of
tests/test_fuzz_parsers.py once it is fixed. Exit status 1 when a crash was found.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import settings  # noqa: E402 - after the path that finds tests/

from tests.fuzz.harness import STRATEGIES, parser_names  # noqa: E402

# The test modules, imported once the profile is loaded (a hypothesis test takes the default
# settings of when it is defined).
parsers: Any = None
framing: Any = None


def counted(test: Any) -> list[int]:
    """Count the inputs ``test`` (a hypothesis test) runs: a one-item list the count goes in."""
    box = [0]
    inner = test.hypothesis.inner_test

    def run(*args: Any, **kwargs: Any) -> Any:
        box[0] += 1
        return inner(*args, **kwargs)

    test.hypothesis.inner_test = run
    return box


def where(exc: BaseException) -> str:
    """The innermost frame of the project (not the tests) the exception went through."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/soc/" in f.filename or "/collectors/" in f.filename]
    frame = (ours or frames)[-1]
    return f"{Path(frame.filename).relative_to(ROOT) if ours else frame.filename}:{frame.lineno}"


def crashes(run: Callable[[], None]) -> list[str]:
    """Run one hypothesis test; each distinct failure as text (exception, place, input)."""
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
        found = exc.exceptions if isinstance(exc, ExceptionGroup) else (exc,)
        return [_describe(e) for e in found]
    return []


def _describe(exc: BaseException) -> str:
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith(("Draw", "Falsifying"))]
    shown = [n if len(n) <= 300 else f"{n[:250]}... ({len(n)} characters)" for n in notes]
    return "\n      ".join([f"{type(exc).__name__}: {message} at {where(exc)}", *shown])


def fuzz_parser(name: str) -> tuple[dict[str, int], list[str]]:
    """Inputs per strategy (``stream`` = several lines through one instance), and crashes."""
    counts: dict[str, int] = {}
    found: list[str] = []
    for strategy in sorted(STRATEGIES):
        test = parsers.test_parser_returns_an_event_or_a_parse_error
        box = counted(test)
        found += [f"[{strategy}] {c}" for c in crashes(partial(test, name=name,
                                                               strategy=strategy))]
        counts[strategy] = box[0]
    test = parsers.test_parser_state_survives_any_stream
    box = counted(test)
    found += [f"[stream] {c}" for c in crashes(partial(test, name=name))]
    counts["stream"] = box[0]
    return counts, found


def fuzz_framing() -> tuple[dict[str, int], list[str]]:
    counts: dict[str, int] = {}
    found: list[str] = []
    for test in (framing.test_messages_come_back_as_sent_however_split,
                 framing.test_any_stream_frames_the_same_however_split,
                 framing.test_an_oversize_frame_keeps_its_head_and_full_length):
        box = counted(test)
        found += crashes(test)
        counts[test.__name__.removeprefix("test_")] = box[0]
    return counts, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2000,
                    help="inputs per parser and strategy (hypothesis max_examples)")
    ap.add_argument("--parsers", nargs="*", default=None,
                    help="only these parsers (default: every registered one, and auto)")
    ap.add_argument("--no-framing", action="store_true", help="leave the syslog framing out")
    ap.add_argument("--derandomize", action="store_true", help="the same inputs on every run")
    args = ap.parse_args(argv)
    settings.register_profile("long", parent=settings.get_profile("ci"),
                              max_examples=args.examples, derandomize=args.derandomize)
    settings.load_profile("long")
    global parsers, framing
    parsers = importlib.import_module("tests.test_fuzz_parsers")
    framing = importlib.import_module("tests.test_fuzz_framing")
    names = args.parsers or parser_names()
    unknown = sorted(set(names) - set(parser_names()))
    if unknown:
        ap.error(f"unknown parser(s) {', '.join(unknown)}; known: {', '.join(parser_names())}")
    targets: list[tuple[str, Callable[[], tuple[dict[str, int], list[str]]]]] = [
        (name, lambda name=name: fuzz_parser(name)) for name in names]
    if not args.no_framing:
        targets.append(("framing", fuzz_framing))
    total_inputs = total_crashes = 0
    print(f"{'target':<14} {'inputs':>9} {'crashes':>8} {'seconds':>8}  inputs per strategy")
    for label, run in targets:
        start = time.monotonic()
        counts, found = run()
        spent = time.monotonic() - start
        inputs = sum(counts.values())
        per = ", ".join(f"{k} {v}" for k, v in counts.items())
        print(f"{label:<14} {inputs:>9} {len(found):>8} {spent:>8.1f}  {per}", flush=True)
        for crash in found:
            print(f"    {crash}", flush=True)
        total_inputs += inputs
        total_crashes += len(found)
    print(f"{'total':<14} {total_inputs:>9} {total_crashes:>8}")
    return 1 if total_crashes else 0


if __name__ == "__main__":
    sys.exit(main())
