"""Shared fixtures. Tests that read the public corpora skip when $SOC_CORPUS is unset.

Tests that need a system package skip where it is absent, with the Debian line that installs
it as the reason: mark them with ``needs_libpcap``, ``needs_sshd``, ``needs_iproute2``,
``needs_faketime`` or ``needs_chromium`` from here (``from tests.conftest import needs_libpcap``).
The README's ``apt-get install`` line and .ci/run install all of them; keep them in step.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Debian's OpenSSH server (tests/test_sftp.py runs a real sshd when it is there).
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def needs(package: str, what: str, present: bool) -> pytest.MarkDecorator:
    """Skip where the Debian ``package`` (which provides ``what``) is not installed."""
    return pytest.mark.skipif(not present, reason=f"needs {what}: apt-get install {package}")


# BPF filters of live capture are compiled with libpcap (through scapy).
needs_libpcap = needs("libpcap0.8", "libpcap", ctypes.util.find_library("pcap") is not None)
needs_sshd = needs("openssh-server", "OpenSSH's sshd", os.access(SSHD, os.X_OK))
# `ip netns` / `ip link` make the veth pairs of the live-capture tests (tests/netns.py).
needs_iproute2 = needs("iproute2", "ip (iproute2)", shutil.which("ip") is not None)
# libfaketime moves a child process's clock (.ci/run runs the suite under it, too).
FAKETIME_LIB = next((str(p) for p in Path("/usr/lib").glob("*/faketime/libfaketime.so.1")), "")
needs_faketime = needs("libfaketime", "libfaketime", bool(FAKETIME_LIB))
# The web console's browser tests drive Debian's Chromium with Playwright (never
# `playwright install`).
CHROMIUM = "/usr/bin/chromium"
needs_chromium = needs("chromium", "Debian's Chromium", os.access(CHROMIUM, os.X_OK))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The public test corpora (``$SOC_CORPUS``); skips the test when absent."""
    value = os.environ.get("SOC_CORPUS")
    if not value or not Path(value).is_dir():
        pytest.skip("SOC_CORPUS is not set: corpus tests skipped")
    return Path(value).resolve()


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT

