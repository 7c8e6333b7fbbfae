"""A log file the collector may not read: the pass goes on, names it, and exits PARTIAL.

Root reads any file through the DAC-override capabilities, so when the suite runs as root (CI
does) the real ``soc collect`` runs through ``setpriv`` with ``cap_dac_override`` and
``cap_dac_read_search`` dropped from its bounding set: still uid 0, but the kernel now refuses
it a mode-0 file like anyone else. As any other user it runs as that user. Either way a real
process meets a real EACCES.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from soc.config import load_config
from soc.errors import ExitCode
from soc.stores.base import open_store

LINE = ("Nov 24 08:00:{s:02d} portal-web01 sshd[4242]: Failed password for root from "
        "203.0.113.{n} port 40000 ssh2\n")


def without_file_override() -> list[str] | None:
    """The argv prefix under which file permissions apply to us; None when impossible here."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search", "true"],
                           capture_output=True, timeout=30)
    return None if probe.returncode else [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_file_is_named_and_the_others_are_collected(tmp_path: Path) -> None:
    prefix = without_file_override()
    if prefix is None:
        pytest.skip("running as root and cannot drop the file-override capabilities")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(LINE.format(s=i, n=i) for i in range(3)),
                                encoding="utf-8")
    (logs / "b.log").write_text("".join(LINE.format(s=i, n=100 + i) for i in range(2)),
                                encoding="utf-8")
    (logs / "a.log").chmod(0)
    cfg = tmp_path / "soc.yml"
    cfg.write_text("sources:\n  - {name: auth, paths: [logs/*.log], parser: syslog}\n",
                   encoding="utf-8")

    done = subprocess.run([*prefix, sys.executable, "-m", "soc", "-c", str(cfg), "collect"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert done.returncode == ExitCode.PARTIAL, done.stderr
    assert "a.log: permission denied" in done.stderr
    assert "Hint:" in done.stderr
    with open_store(load_config(cfg), readonly=True) as store:
        got = sorted(e["source.ip"] for e in store.search("*", limit=None))
    assert got == ["203.0.113.100", "203.0.113.101"]
