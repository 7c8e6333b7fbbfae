"""The drain of ``soc listen``: the spool sources through the pipeline, in a child process.

The receiver and the pipeline run in two processes so that parsing and storing (CPU-bound Python)
never hold the receiver's GIL: UDP sockets are read on time, and a machine with two cores uses
both. The child runs exactly what ``soc collect --source NAME`` runs
(:meth:`soc.pipeline.pipeline.Pipeline.run_source`) over the ``syslog-spool`` source (when syslog is
received) and the ``netcapture`` source of every live capture (:func:`drained_sources`), in a
loop, prints its cumulative counters as one JSON line after every pass, and ignores SIGTERM and
SIGINT: when
its stdin closes (the daemon is done spooling, or died) it drains once more and exits: 0 when that
last drain succeeded, 4 when the store could not be written, 1 when it failed otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from soc.config import Config, Source, load_config
from soc.ecs import format_ts
from soc.errors import ExitCode, SocError, StoreError
from soc.listen.capture import capture_source, load_network_config
from soc.listen.config import load_listen_config, spool_source
from soc.pipeline.pipeline import Pipeline, SourceReport
from soc.state import StateStore
from soc.stores.base import Store, open_store
from soc.timeutil import wait_event

log = logging.getLogger("soc.listen")
MAX_BACKOFF = 30.0


@dataclass
class DrainStats:
    """Cumulative counters of the drain (``drain`` in ``listen.json``)."""

    passes: int = 0
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    alerts: int = 0
    cpu_seconds: float = 0.0  # of the drain processes (user + system), for benchmarks and capacity
    last_drain: str | None = None
    last_error: str | None = None
    lag: dict[str, Any] = field(default_factory=dict)

    def add(self, reps: list[SourceReport]) -> None:
        """Count one pass over every source; ``lag`` sums theirs, ``last_error`` names the
        source when there are several."""
        self.passes += 1
        self.events += sum(rep.events for rep in reps)
        self.duplicates += sum(rep.duplicates for rep in reps)
        self.dead_letters += sum(rep.dead_letters for rep in reps)
        self.alerts += sum(rep.alerts for rep in reps)
        self.last_drain = format_ts(datetime.now(UTC))
        errors = [(rep.source, rep.error) for rep in reps if rep.error]
        self.last_error = ("; ".join(e if len(reps) == 1 else f"{n}: {e}" for n, e in errors)
                           or None)
        self.lag = _sum_lags([rep.lag for rep in reps])

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _sum_lags(lags: list[dict[str, Any]]) -> dict[str, Any]:
    """What is left in every source: numbers add up, the first of any other value is kept."""
    out: dict[str, Any] = {}
    for lag in lags:
        for key, value in lag.items():
            if isinstance(value, int | float) and isinstance(out.get(key, 0), int | float):
                out[key] = out.get(key, 0) + value
            else:
                out.setdefault(key, value)
    return out


def drained_sources(config: Config) -> list[Source]:
    """What ``soc listen`` drains: the syslog spool when it receives syslog, and the spool of
    every live capture (``network.capture``)."""
    settings = load_listen_config(config)
    sources = [spool_source(config, settings)] if settings.endpoints else []
    captures = load_network_config(config).captures
    return sources + [capture_source(c, config) for c in captures]


class Drainer:
    """Drains until :meth:`finish`, then once more; survives store outages with a backoff."""

    def __init__(self, config: Config, sources: list[Source], *, detect: bool,
                 interval: float, report: Any = None) -> None:
        self.config = config
        self.sources = sources
        self.detect = detect
        self.interval = interval
        self.report = report  # called with the stats after every pass
        self.wake = threading.Event()
        self.finishing = threading.Event()
        self.stats = DrainStats()
        self.store_down = False  # the last failure was the store's (not a bug)
        self._store: Store | None = None
        self._state: StateStore | None = None
        self._pipeline: Pipeline | None = None

    def finish(self) -> None:
        """Drain what is left, then stop."""
        self.finishing.set()
        self.wake.set()

    def run(self) -> bool:
        """Loop until :meth:`finish`; True when the last drain succeeded."""
        delay = 0.0
        try:
            while not self.finishing.is_set():
                if delay:
                    wait_event(self.wake, delay)  # set by finish()
                worked, ok = self.drain_once()
                delay = 0.0 if worked else (self.interval if ok else self._backoff(delay))
            return self.drain_once()[1]
        finally:
            self._close()

    def _backoff(self, delay: float) -> float:
        return min(MAX_BACKOFF, max(self.interval, delay * 2))

    def drain_once(self) -> tuple[bool, bool]:
        """One pass over every spool source: ``(did it store anything, did it succeed)``."""
        reps: list[SourceReport] = []
        try:
            pipeline = self._pipeline or self._open()
            for source in self.sources:
                reps.append(pipeline.run_source(source))
        except Exception as exc:  # noqa: BLE001 - the drain outlives a store outage or a bug
            self._failed(exc)
            return False, False
        before = self.stats.last_error
        self.stats.add(reps)
        if self.stats.last_error and self.stats.last_error != before:
            log.warning("draining %s: %s", self._names, self.stats.last_error)
        if self.report is not None:
            self.report(self.stats)
        worked = any(rep.events or rep.duplicates or rep.dead_letters for rep in reps)
        return worked, not any(rep.error for rep in reps)

    @property
    def _names(self) -> str:
        return ", ".join(source.name for source in self.sources)

    def _failed(self, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, SocError) else f"{type(exc).__name__}: {exc}"
        self.store_down = isinstance(exc, StoreError)
        if message != self.stats.last_error:
            log.warning("draining %s failed (the spool keeps everything; retrying): %s",
                        self._names, message, exc_info=not isinstance(exc, SocError))
        self.stats.last_error = message
        if self.report is not None:
            self.report(self.stats)
        self._close()

    def _open(self) -> Pipeline:
        from soc.pipeline.collect import default_stages, state_path

        self._store = open_store(self.config)
        self._state = StateStore(state_path(self.config))
        stages = default_stages(self.config, self._store) if self.detect else []
        self._pipeline = Pipeline(self.config, self._store, self._state, stages=stages)
        return self._pipeline

    def _close(self) -> None:
        for thing in (self._state, self._store):
            with contextlib.suppress(Exception):
                if thing is not None:
                    thing.close()
        self._store = self._state = self._pipeline = None


# --- the child process ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m soc.listen.drain [--config FILE] --data-dir DIR --interval S [--no-detect]``."""
    ap = argparse.ArgumentParser(prog="soc-listen-drain")
    ap.add_argument("--config")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--no-detect", action="store_true")
    args = ap.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)  # the daemon decides when we stop: stdin closes
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    config = load_config(args.config, data_dir=args.data_dir)
    _yield_cpu(config)
    drainer = Drainer(config, drained_sources(config), detect=not args.no_detect,
                      interval=args.interval, report=_print_stats)
    threading.Thread(target=_finish_on_eof, args=(drainer,), daemon=True).start()
    if drainer.run():
        return int(ExitCode.OK)
    return int(ExitCode.STORE if drainer.store_down else ExitCode.ERROR)


def _yield_cpu(config: Config) -> None:
    """Lower our priority by ``listen.drain_nice``: on a busy core the receiver, which cannot
    slow UDP senders down, comes first; what the drain does later is in the spool meanwhile."""
    nice = load_listen_config(config).drain_nice
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)


def _print_stats(stats: DrainStats) -> None:
    stats.cpu_seconds = round(time.process_time(), 3)
    try:
        sys.stdout.write(json.dumps(stats.to_dict(), default=str) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # the daemon is gone (killed): the drain goes on to its end without reporting; stdout
        # points at /dev/null so that the interpreter's last flush does not fail either
        _report_nowhere()


def _report_nowhere() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _finish_on_eof(drainer: Drainer) -> None:
    for _ in sys.stdin:
        pass
    drainer.finish()


# --- the parent side -----------------------------------------------------------------------------


class DrainProcess:
    """Starts the child, keeps its latest counters, restarts it if it dies, finishes it."""

    def __init__(self, config: Config, *, detect: bool, interval: float) -> None:
        self.argv = [sys.executable, "-m", "soc.listen.drain", "--data-dir",
                     str(config.data_dir), "--interval", str(interval)]
        if config.path is not None:
            self.argv += ["--config", str(config.path)]
        if not detect:
            self.argv.append("--no-detect")
        self.stats: dict[str, Any] = DrainStats().to_dict()
        self.proc: asyncio.subprocess.Process | None = None
        self.done = False
        self.base = DrainStats()  # counters of children that died, added to the current one's
        self._task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        delay, last_chances = 1.0, 3
        while True:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            if self.done and self.proc.stdin is not None:
                self.proc.stdin.close()  # finishing while it was restarted: one last drain
            await self._read(self.proc)
            code = await self.proc.wait()
            self._carry()
            if self.done and (code >= 0 or last_chances == 0):
                return
            if self.done:  # a signal meant for the daemon reached it before it ignored them
                last_chances -= 1
                continue
            log.error("the drain process exited with %s; restarting it in %.0fs", code, delay)
            await asyncio.sleep(delay)
            delay = min(MAX_BACKOFF, delay * 2)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            with contextlib.suppress(ValueError):
                current = json.loads(line)
                self.stats = {k: (v + getattr(self.base, k) if k in _SUMMED else v)
                              for k, v in current.items()}

    def _carry(self) -> None:
        for key in _SUMMED:
            setattr(self.base, key, self.stats.get(key, 0))

    async def finish(self) -> bool:
        """Close the child's stdin (its signal to drain once more), wait; True when it stored
        everything."""
        self.done = True
        if self.proc is None or self._task is None:
            return False
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        await self._task
        return self.proc.returncode == 0


_SUMMED = ("passes", "events", "duplicates", "dead_letters", "alerts", "cpu_seconds")


if __name__ == "__main__":
    raise SystemExit(main())
