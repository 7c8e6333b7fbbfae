"""The drain child of ``soc listen`` when the daemon is killed under it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_the_drain_child_ends_quietly_when_the_daemon_is_gone(tmp_path: Path) -> None:
    """Killed daemon: stdin reaches its end and stdout is a broken pipe. The child printed a
    BrokenPipeError traceback; it drains once more, says nothing and exits 0."""
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\nlisten:\n  udp: 127.0.0.1:0\n")
    proc = subprocess.Popen([sys.executable, "-m", "soc.listen.drain", "--config", str(cfg),
                             "--data-dir", str(tmp_path / "data"), "--interval", "0.05",
                             "--no-detect"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"{")  # it reports while the daemon listens
    proc.stdout.close()  # the daemon dies: its end of both pipes closes
    proc.stdin.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
