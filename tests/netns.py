"""A veth pair whose far end lives in a network namespace made for the test (root only).

Shared by the live-capture tests: traffic sent from the near end to ``far_ip`` stays inside the
namespace, so nothing leaves the machine.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True,
                          timeout=10).stdout


@contextmanager
def veth_pair(prefix: str, near_ip: str, far_ip: str) -> Iterator[tuple[str, str, str]]:
    """``(near interface, its MAC, the far end's MAC)``; skips the test if namespaces cannot be
    made. The far end answers ``near_ip`` without ARP."""
    tag = f"{os.getpid() % 100000}"
    ns, near, far = f"{prefix}{tag}", f"{prefix}{tag}a", f"{prefix}{tag}b"
    try:
        ip("netns", "add", ns)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot create a network namespace: {exc}")
    try:
        ip("link", "add", near, "type", "veth", "peer", "name", far)
        ip("link", "set", far, "netns", ns)
        Path(f"/proc/sys/net/ipv6/conf/{near}/disable_ipv6").write_text("1")
        ip("link", "set", near, "up")
        ip("-n", ns, "addr", "add", f"{far_ip}/24", "dev", far)
        ip("-n", ns, "link", "set", far, "up")
        mac = Path(f"/sys/class/net/{near}/address").read_text().strip()
        ip("-n", ns, "neigh", "add", near_ip, "lladdr", mac, "dev", far)  # replies need no ARP
        far_mac = ip("-n", ns, "-o", "link", "show", far).split("link/ether ")[1].split()[0]
        time.sleep(0.2)
        yield near, mac, far_mac
    finally:
        subprocess.run(["ip", "link", "del", near], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
