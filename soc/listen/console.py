"""The web console served by ``soc listen`` (``listen.web: true`` or ``soc listen --web``).

The console runs as a child process, ``soc web --supervised``, beside the drain: a page that
reads 100,000 alerts then never holds the receiver's event loop (nor its GIL), and a console
that fails is restarted without touching what is received. The child:

* serves what ``soc web`` serves, with the ``web:`` settings (checked when the daemon starts:
  a console bound off loopback without TLS is a configuration error, not a restart loop);
* ignores SIGTERM and SIGINT, as the drain does: the daemon decides when it stops, by closing
  its standard input (and a daemon killed outright closes it too, so no console outlives it);
* prints ``Console: URL`` once it listens, which the daemon logs and keeps in ``listen.json``.

A child that exits on its own is restarted after 1 s, doubling to 30 s while it keeps failing
(a port held by another program, a store that cannot be opened), each time logged as an error;
one that had run for a minute is restarted after 1 s again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from typing import Any

from soc.config import Config
from soc.web.config import WebConfig, load_web_config

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
STOP_GRACE = 10.0
"""Seconds the console has to finish its requests once told to stop; then it is killed."""
STEADY = 60.0
"""A console that ran this long before it exited is restarted after 1 s again."""
PREFIX = b"Console: "


def check_console(config: Config) -> WebConfig:
    """The ``web:`` settings the console would serve with; :class:`ConfigError` when they are
    wrong (a bad value, TLS files missing, no TLS off loopback)."""
    from soc.web.server import check_tls  # uvicorn and the app: only when the console is on

    settings = load_web_config(config)
    check_tls(settings, settings.host)
    return settings


class ConsoleProcess:
    """Starts ``soc web --supervised``, restarts it when it dies, stops it at the end."""

    def __init__(self, config: Config) -> None:
        self.argv = [sys.executable, "-m", "soc", "--data-dir", str(config.data_dir)]
        if config.path is not None:
            self.argv += ["--config", str(config.path)]
        self.argv += ["web", "--supervised"]
        self.proc: asyncio.subprocess.Process | None = None
        self.url: str | None = None
        self.state = "starting"  # running (its URL known), restarting, stopped
        self.restarts = 0
        self.last_exit: int | None = None
        self._done = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    def status(self) -> dict[str, Any]:
        """The console's part of ``listen.json``."""
        return {"state": self.state, "url": self.url,
                "pid": self.proc.pid if self.proc is not None and self.proc.returncode is None
                else None,
                "restarts": self.restarts, "last_exit": self.last_exit}

    async def _supervise(self) -> None:
        delay = 1.0
        while not self._done:
            self.url = None
            started = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            if self._done and self.proc.stdin is not None:
                self.proc.stdin.close()  # told to stop while it was being started
            await self._read(self.proc)
            code = self.last_exit = await self.proc.wait()
            self.url = None
            if self._done:
                break
            self.state = "restarting"
            if time.monotonic() - started >= STEADY:
                delay = 1.0  # it ran well for a while: not a failure that repeats
            log.error("the console (soc web) exited with %s; restarting it in %.0fs", code, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            delay = min(MAX_BACKOFF, delay * 2)
            if not self._done:
                self.restarts += 1
        self.state = "stopped"

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        """Its ``Console: URL`` line (it prints nothing else on stdout; its messages go to
        stderr, which it shares with the daemon)."""
        assert proc.stdout is not None
        async for line in proc.stdout:
            if line.startswith(PREFIX) and self.url is None:
                self.url = line[len(PREFIX):].decode("utf-8", "replace").strip()
                self.state = "running"
                log.info("console at %s", self.url)

    async def finish(self) -> None:
        """Tell the console to stop (its stdin closes) and wait for it; killed after
        :data:`STOP_GRACE` seconds."""
        self._done = True
        self._wake.set()
        proc = self.proc
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE)
        except TimeoutError:
            if proc is not None and proc.returncode is None:
                log.error("the console did not stop within %.0fs; killing it", STOP_GRACE)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await self._task
