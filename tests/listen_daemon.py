"""``soc listen`` as a real subprocess for tests: started in its own process group (as under
systemd), watched through its status file ``<data_dir>/listen.json``, stopped by signal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from soc.config import load_config
from soc.stores.base import open_store

SOC = [sys.executable, "-m", "soc"]


class ListenProcess:
    """One ``soc listen`` daemon on the config ``cfg`` (data directory ``data`` beside it)."""

    def __init__(self, cfg: Path, *, argv: Sequence[str] = SOC,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.cfg = cfg
        self.status_file = cfg.parent / "data" / "listen.json"
        self.argv, self.env, self.cwd = list(argv), env, cwd
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> dict[str, Any]:
        """Start the daemon; returns its first status that says it is running."""
        self.proc = subprocess.Popen([*self.argv, "-c", str(self.cfg), "listen"], cwd=self.cwd,
                                     env=None if self.env is None else dict(self.env),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        return self.wait(lambda s: s.get("state") == "running", "the daemon to start")

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the daemon was not started"
        return self.proc.pid

    def status(self) -> dict[str, Any]:
        """The status file as last written; {} while it is missing or half-written."""
        try:
            data: dict[str, Any] = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}
        return data

    def wait(self, ok: Callable[[dict[str, Any]], bool], what: str,
             timeout: float = 90) -> dict[str, Any]:
        """The first status of this daemon (not a previous one's file) for which ``ok`` holds;
        fails the test if the daemon exits or time runs out first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status.get("pid") == self.pid and ok(status):
                return status
            if self.proc is not None and self.proc.poll() is not None:
                _, err = self.proc.communicate()
                pytest.fail(f"soc listen exited with {self.proc.returncode} waiting for "
                            f"{what}:\n{err}")
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}; status: {self.status()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120) -> tuple[int, str]:
        """Signal the daemon and its drain process together (as systemd's default
        KillMode=control-group does, and as the OOM killer or a power cut would); returns its
        exit code and stderr."""
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def kill(self) -> None:
        """Make sure nothing is left running (fixture teardown)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.communicate()

    def events(self) -> list[dict[str, Any]]:
        with open_store(load_config(self.cfg), readonly=True) as store:
            return list(store.search("*", limit=None))
