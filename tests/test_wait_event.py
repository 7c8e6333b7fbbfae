"""Timed waits that hold when the process's clock is moved (libfaketime, as .ci/run does)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from soc.timeutil import wait_event
from tests.conftest import FAKETIME_LIB, ROOT, needs_faketime


def test_wait_event_returns_when_set_and_times_out_when_not() -> None:
    event = threading.Event()
    threading.Thread(target=lambda: (time.sleep(0.1), event.set()), daemon=True).start()
    started = time.monotonic()
    assert wait_event(event, 10.0) is True
    assert time.monotonic() - started < 5.0
    started = time.monotonic()
    assert wait_event(threading.Event(), 0.2) is False
    assert 0.15 <= time.monotonic() - started < 5.0


# The drain's idle wait: work arriving after the drain went idle must be picked up. Before
# wait_event it was threading.Event.wait(delay), which under a moved clock slept a year.
CHILD = """
import threading, time
from soc.timeutil import wait_event
late = threading.Event()
threading.Thread(target=lambda: (time.sleep(0.2), late.set()), daemon=True).start()
t = time.monotonic()
assert wait_event(late, 30.0)
assert not wait_event(threading.Event(), 0.3)
print(round(time.monotonic() - t, 1))
"""


@needs_faketime
@pytest.mark.parametrize("shift", ["+365d", "-365d"])
def test_wait_event_under_a_moved_clock(shift: str) -> None:
    env = {**os.environ, "FAKETIME": shift, "LD_PRELOAD": FAKETIME_LIB}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 10.0
