"""``soc listen``: the syslog and live-capture daemon. Receive → durable spool → the pipeline of
``soc collect``.

These parts run together (see docs/listen.md):

- the asyncio servers of :mod:`soc.listen.syslog_server` put each message, framed and encoded, in a
  bounded in-memory intake;
- the *pump* appends what the intake holds to the spool (:class:`soc.listen.spool.SpoolWriter`) with
  one ``fdatasync`` per batch (every ``flush_messages`` messages or ``flush_interval``);
- one :class:`soc.listen.capture.CaptureThread` per ``network.capture`` interface turns frames into
  sensor events and appends them to the spool of its ``netcapture`` source;
- the *drain* child process (:mod:`soc.listen.drain`) runs
  :meth:`soc.pipeline.pipeline.Pipeline.run_source` over the ``syslog-spool`` source and the capture
  sources, exactly as ``soc collect --source NAME`` does, whenever there is something to drain.

SIGTERM or SIGINT: stop accepting, let connected peers finish for ``shutdown_grace``, spool what
is in memory, stop the captures (their open flows are ended and spooled), drain the spools through
the pipeline, write the status file, return.

SIGHUP: check soc.yml and the rules in a child process (:mod:`soc.listen.reload`); when they bring
no new problem, the drain process drains what it holds and is replaced by one that reads them
again. Otherwise one error is logged and the running rules stay. Receiving never stops.

At start and after each reload, rule files that cannot be used are named in one warning (the line
``soc collect`` prints); the daemon runs with the rules that load.

Hostile peers (see docs/listen.md, "Hostile peers"): connections are admitted by
:mod:`soc.listen.admission` (limits per listener, per address and for the descriptors; handshake
and idle timeouts); the housekeeping task survives any failure of its steps; the spool's size is
measured without a descriptor (:class:`soc.listen.spool.SpoolGauge`) before it is called full;
problems caused from outside are logged through a :class:`soc.listen.ratelimit.RateLimitedLog`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soc.config import Config
from soc.ecs import format_ts, parse_ts
from soc.errors import BusyError, ConfigError, ExitCode, SocError, StoreError
from soc.listen.admission import RESERVE, Budget, Limits, descriptor_budget
from soc.listen.capture import (
    CaptureThread,
    NetworkConfig,
    capture_source,
    check_capture_config,
    open_captures,
)
from soc.listen.config import Endpoint, ListenConfig, load_listen_config, spool_source
from soc.listen.console import ConsoleProcess, check_console
from soc.listen.drain import DrainProcess, drained_sources
from soc.listen.ratelimit import RateLimitedLog
from soc.listen.reload import refusal, rule_warning, run_check
from soc.listen.spool import SpoolGauge, SpoolWriter, spool_dir
from soc.listen.syslog_server import Intake, Listener, start, tls_context, udp_kernel_drops
from soc.lock import PassLock

log = logging.getLogger("soc.listen")
STATUS_FILE = "listen.json"
STALE_AFTER = 60.0  # seconds without a status rewrite before a "running" daemon counts as dead
MAX_BACKOFF = 30.0
NOTIFY_INTERVAL = 5.0  # seconds between two deliveries of the notification outbox
INTEL_INTERVAL = 60.0  # seconds between two looks at which threat-intel feeds are due
TIDY_INTERVAL = 300.0  # without notify: seconds between two prunings of what is left of it


def status_path(config: Config) -> Path:
    """Where the running daemon writes its counters (``soc status`` reads it)."""
    return config.data_dir / STATUS_FILE


def read_status(config: Config) -> dict[str, Any] | None:
    """The daemon's last status, or None if it never ran here."""
    try:
        data: dict[str, Any] = json.loads(status_path(config).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def status_summary(config: Config, now: datetime | None = None) -> dict[str, Any] | None:
    """One line of ``soc status`` for the daemon, or None if it never ran with this data dir.

    ``state`` is ``running``, ``stopped``, or ``dead`` (the status says running but it has not
    been rewritten for a while: the daemon was killed); ``problem`` says what needs a look.
    """
    status = read_status(config)
    if status is None:
        return None
    now = now or datetime.now(UTC)
    age = (now - parse_ts(status["updated"])).total_seconds()
    state = status["state"]
    stale = max(STALE_AFTER, 5 * float(status.get("status_interval", 0)))
    if state in ("running", "starting", "stopping") and age > stale:
        state = "dead"
    drain = status.get("drain", {})
    peers = _peer_counters(status)
    problems = [p for p in (
        "not running" if state != "running" else "",
        f"{status['dropped']} message(s) dropped" if status.get("dropped") else "",
        f"{peers['refused']} connection(s) refused" if peers["refused"] else "",
        f"{peers['accept_errors']} accept(s) failed for lack of descriptors"
        if peers["accept_errors"] else "",
        "spool full" if status.get("spool", {}).get("full") else "",
        f"drain: {drain['last_error']}" if drain.get("last_error") else "",
        *(_capture_problem(c) for c in status.get("captures", ())),
        _console_problem(status.get("console")),
    ) if p]
    return {
        "state": state, "pid": status["pid"], "updated": status["updated"],
        "listeners": status["listeners"], "received": status["received"],
        "spooled": status["spooled"], "stored": drain.get("events", 0),
        "dead_letters": drain.get("dead_letters", 0), "dropped": status.get("dropped", 0),
        "lost": status.get("dropped", 0) + status.get("unspooled", 0), **peers,
        "spool_bytes": status.get("spool", {}).get("bytes", 0),
        "captures": [c["interface"] for c in status.get("captures", ())],
        "captured": sum(c["events"] for c in status.get("captures", ())),
        "console": (status.get("console") or {}).get("url"),
        "problem": "; ".join(problems),
    }


def _console_problem(console: dict[str, Any] | None) -> str:
    """What ``soc status`` says of a console that ``soc listen`` serves and that is down."""
    if not console or console.get("state") != "restarting":
        return ""
    return f"console: exited with {console.get('last_exit')}, restarting"


def _peer_counters(status: dict[str, Any]) -> dict[str, int]:
    """Refusals, timeouts and failures of every transport, added up for ``soc status``."""
    t = status.get("transports", {}).values()

    def total(*keys: str) -> int:
        return sum(int(c.get(k, 0)) for c in t for k in keys)

    return {"refused": total("refused", "refused_per_address"),
            "timeouts": total("handshake_timeouts", "idle_timeouts"),
            "handshake_failures": total("handshake_failures"),
            "accept_errors": total("accept_errors")}


def _capture_problem(capture: dict[str, Any]) -> str:
    """What needs a look in one capture's status: it failed, or the kernel dropped packets."""
    if capture.get("error"):
        return f"capture {capture['interface']}: {capture['error']}"
    if capture.get("kernel_drops"):
        return f"capture {capture['interface']}: {capture['kernel_drops']} packet(s) dropped"
    return ""


# --- the daemon ----------------------------------------------------------------------------------


@dataclass
class ReloadStats:
    """SIGHUP counters (``reloads`` in ``listen.json``)."""

    requested: int = 0
    done: int = 0
    refused: int = 0
    last: str | None = None  # when the last reload was decided
    error: str | None = None  # why the last one was refused


class Daemon:
    """Servers, captures, pump, drainer, status file and signals of one ``soc listen``.

    ``captures``: the capture threads, their sockets open
    (:func:`soc.listen.capture.open_captures`); the daemon starts them and finishes them."""

    def __init__(self, config: Config, listen: ListenConfig, *, detect: bool = True,
                 captures: list[CaptureThread] | None = None) -> None:
        self.config = config
        self.listen = listen
        self.console = ConsoleProcess(config) if listen.web else None
        self.captures = list(captures or [])
        self.source = spool_source(config, listen)
        self.drained_sources = drained_sources(config)  # as the drain process computes them
        self.directory = spool_dir(config.data_dir, self.source.name)
        self.writer = SpoolWriter(self.directory, listen.spool.segment_bytes)
        self.intake = Intake(limit=listen.queue_bytes)
        self.detect = detect
        self.drain = DrainProcess(config, detect=detect, interval=listen.drain_interval)
        self.drain_lock = asyncio.Lock()  # a reload replaces the drain; shutdown waits for it
        self.reloads = ReloadStats()
        self.running_rules: dict[str, Any] | None = None  # the check of the rules in use
        self._checks: set[asyncio.Task[dict[str, Any]]] = set()  # running rule checks
        self._baseline: asyncio.Task[dict[str, Any]] | None = None  # the rules at start-up
        self._reloading: asyncio.Task[None] | None = None
        self._reload_again = False
        self.listeners: list[Listener] = []
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soc-spool")
        self.notify_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soc-notify")
        self.stop = asyncio.Event()
        self.closing = False
        self.state = "starting"
        self.started = format_ts(datetime.now(UTC))
        self.gauge = SpoolGauge(self.directory)
        self.spool_used = 0  # measured by the housekeeping, plus what was written since
        self.spool_segments = 0
        self.ratelog = RateLimitedLog(log)
        self.budget = Budget(0)
        self.unspooled = 0
        self.drained = False
        self._warned_full = False
        self.failed_captures: list[CaptureThread] = []

    async def serve(self) -> bool:
        """Run until SIGTERM/SIGINT; True when everything received reached the store."""
        await self._start()
        housekeeping = asyncio.create_task(self._housekeeping())
        pump = asyncio.create_task(self._pump())
        notifier = asyncio.create_task(self._deliver_notifications())
        intel = asyncio.create_task(self._pull_intel())
        await self.stop.wait()
        notifier.cancel()
        intel.cancel()
        console = asyncio.create_task(self.console.finish()) if self.console else None
        self.state = "stopping"
        _notify("STOPPING=1")
        log.info("stopping: no new connections; draining the spool")
        await self._close_listeners()
        self.closing = True
        self.intake.arrived.set()
        await pump
        housekeeping.cancel()
        await asyncio.get_running_loop().run_in_executor(self.executor, self.writer.close)
        self.executor.shutdown()
        await self._finish_captures()
        await loop_shutdown(self.notify_executor)  # a delivery under way finishes
        for check in list(self._checks):
            check.cancel()  # a reload not yet restarting the drain is dropped
        async with self.drain_lock:
            self.drained = await self.drain.finish()
        if console is not None:
            await console
        self.state = "stopped"
        self._write_status()
        return self.drained and not self.unspooled

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        loop.set_exception_handler(self._loop_error)
        if self.listen.endpoints:
            self.writer.open()
        self._measure_spool()
        self.budget = self._descriptor_budget()
        for endpoint in self.listen.endpoints:
            self.intake.count(endpoint.transport)
            self.listeners.append(await _bind(endpoint, self.intake, self.listen,
                                              self._limits(endpoint), self.budget, self.ratelog))
        for capture in self.captures:
            capture.start()
        await self.drain.start()
        if self.console is not None:
            self.console.start()
        if self.detect:
            self._baseline = self._check()
            self._baseline.add_done_callback(_warn_rules)
        self.state = "running"
        self._write_status()
        for listener in self.listeners:
            log.info("listening on %s", listener.bound)
        for capture in self.captures:
            log.info("capturing on %s into %s", capture.capture.interface, capture.source.name)
        _notify("READY=1")

    def _descriptor_budget(self) -> Budget:
        """The connections all TCP/TLS listeners may hold together; a warning when the
        descriptor limit allows fewer than their ``max_connections``."""
        wanted = sum(e.max_connections for e in self.listen.endpoints if e.transport != "udp")
        reserve = len(self.listen.endpoints) + len(self.captures)
        allowed, limit = descriptor_budget(wanted, RESERVE + reserve)
        if allowed < wanted:
            log.warning("the descriptor limit (%d) allows %d TCP/TLS connections, not the %d of "
                        "max_connections: more are refused (raise LimitNOFILE= of the service)",
                        limit, allowed, wanted)
        return Budget(allowed)

    def _limits(self, endpoint: Endpoint) -> Limits:
        return Limits(endpoint.max_connections, endpoint.max_connections_per_address,
                      self.listen.handshake_timeout, self.listen.idle_timeout)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's errors (a callback that failed...): one rate-limited line, no traceback
        (``-vv`` shows it)."""
        exc = context.get("exception")
        self.ratelog.error("asyncio", "%s: %s", context.get("message", "event loop error"),
                           exc if exc is not None else "")
        if log.isEnabledFor(logging.DEBUG):
            loop.default_exception_handler(context)

    async def _finish_captures(self) -> None:
        """Stop every capture: its open flows are ended and spooled before the last drain."""
        for capture in self.captures:
            await asyncio.to_thread(capture.finish)
        self._check_captures()

    async def _close_listeners(self) -> None:
        for listener in self.listeners:
            if listener.server is not None:
                listener.server.close()
        deadline = time.monotonic() + self.listen.shutdown_grace
        while self.intake.streams and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for transport in list(self.intake.streams):
            transport.abort()  # its partial frame becomes a message or a dead letter
        for listener in self.listeners:
            listener.close()
        await asyncio.sleep(0)  # let connection_lost callbacks run

    # the pump ----------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Move the intake to the spool, one fsync per batch."""
        intake, spool = self.intake, self.listen.spool
        failures = 0
        while True:
            if not intake.pending:
                if self.closing:
                    return
                await intake.arrived.wait()
                intake.arrived.clear()
                continue
            if len(intake.pending) < spool.flush_messages and not self.closing:
                await asyncio.sleep(spool.flush_interval)  # group commit
            if self._spool_full():
                await asyncio.sleep(0.2)
                continue
            if await self._write(intake.take()):
                failures = 0
            else:
                failures += 1
                if self.closing and failures >= 3:
                    self._give_up()
                    return
                await asyncio.sleep(min(5.0, 0.5 * failures))

    async def _write(self, batch: list[bytes]) -> bool:
        loop = asyncio.get_running_loop()
        try:
            written = await loop.run_in_executor(self.executor, self.writer.write, batch)
        except OSError as exc:
            self.intake.put_back(batch)
            self.intake.blocked = True
            self.ratelog.error("spool write", "cannot write the spool %s (%d messages wait in "
                               "memory): %s", self.directory, len(self.intake.pending), exc)
            return False
        self.spool_used += written
        self.intake.spooled += len(batch)
        self.intake.blocked = False
        self.intake.resume()
        return True

    def _spool_full(self) -> bool:
        """Full only by a measure taken now: what was written since the last one may have
        been drained already."""
        limit = self.listen.spool.max_bytes
        full = self.spool_used >= limit and not self.closing
        if full and self._measure_spool():
            full = self.spool_used >= limit
        self.intake.blocked = full
        if full and not self._warned_full:
            log.warning("the spool %s is full (%d bytes, listen.spool.max_bytes): TCP senders "
                        "are paused and UDP datagrams dropped until the drain catches up",
                        self.directory, self.spool_used)
        self._warned_full = full
        return full

    def _measure_spool(self) -> bool:
        """Set ``spool_used`` to what the spool holds on disk; False when it cannot be told."""
        try:
            self.spool_used, self.spool_segments = self.gauge.measure(self.writer.number)
        except OSError as exc:
            self.ratelog.warning("spool size", "cannot measure the spool %s: %s",
                                 self.directory, exc)
            return False
        return True

    def _give_up(self) -> None:
        self.unspooled = len(self.intake.pending)
        log.error("%d received messages could not be spooled at shutdown and are lost",
                  self.unspooled)

    # SIGHUP ------------------------------------------------------------------------------------

    def request_reload(self) -> None:
        """SIGHUP: reload the rules (one reload at a time; signals during one make another)."""
        self.reloads.requested += 1
        if self.closing or self.state != "running":
            log.warning("SIGHUP ignored: the daemon is %s", self.state)
        elif self._reloading is not None and not self._reloading.done():
            self._reload_again = True
        else:
            self._reloading = asyncio.create_task(self._reload_loop())

    async def _reload_loop(self) -> None:
        again = True
        while again and not self.closing:
            self._reload_again = False
            try:
                await self.reload()
            except Exception:  # a failed reload must not stop the receiver
                log.exception("reload failed; the running rules stay")
            again = self._reload_again

    async def reload(self) -> bool:
        """Check soc.yml and the rules; when they may replace the running ones, restart the
        drain process on them. True when reloaded."""
        if not self.detect:
            log.warning("SIGHUP: detection is off (--no-detect); there are no rules to reload")
            return False
        log.info("SIGHUP: checking soc.yml and the rules")
        _notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            return await self._reload()
        finally:
            _notify("READY=1")

    async def _reload(self) -> bool:
        if self.running_rules is None and self._baseline is not None:
            self.running_rules = await self._baseline
        candidate = await self._check()
        why = refusal(self.running_rules, candidate)
        self.reloads.last = format_ts(datetime.now(UTC))
        if why is not None:
            self.reloads.refused += 1
            self.reloads.error = why
            log.error("reload refused, the running rules stay: %s", why)
            return False
        async with self.drain_lock:
            if self.closing:
                return False
            await self._restart_drain()
        self.running_rules = candidate
        self.reloads.done += 1
        self.reloads.error = None
        log.info("reloaded: %d rules, %d correlations; the drain process was restarted on them",
                 candidate["rules"], candidate["correlations"])
        _log_rule_warning(candidate)
        return True

    def _check(self) -> asyncio.Task[dict[str, Any]]:
        """:func:`soc.listen.reload.run_check` as a task that a shutdown cancels."""
        task = asyncio.create_task(run_check(self.config))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)
        return task

    async def _restart_drain(self) -> None:
        """The drain process stores what it holds with the old rules and exits; a new one starts
        with soc.yml and the rules as they are now. Its counters continue the old one's."""
        old = self.drain
        await old.finish()
        new = DrainProcess(self.config, detect=self.detect, interval=self.listen.drain_interval)
        new.base, new.stats = old.base, dict(old.stats)
        self.drain = new
        await new.start()

    async def _deliver_notifications(self) -> None:
        """Every ``NOTIFY_INTERVAL`` seconds, deliver the outbox (what the drain's alerts
        queued), in a thread of its own so a slow channel never holds the receiver. A run
        that fails is logged (rate-limited) and the next one tries again; soc.yml without
        ``notify:`` only prunes what an older configuration left, every ``TIDY_INTERVAL``; a
        store without an outbox (a store plugin) is said once and runs nothing."""
        from soc.notify import ops

        if not ops.keeps_outbox(self.config):
            if ops.enabled(self.config):
                self.ratelog.warning("notify", "notifications: %s",
                                     ops.unsupported(self.config).message)
            return
        loop = asyncio.get_running_loop()
        while True:
            enabled = ops.enabled(self.config)  # soc.yml as last (re)loaded
            await asyncio.sleep(NOTIFY_INTERVAL if enabled else TIDY_INTERVAL)
            try:
                done = await loop.run_in_executor(self.notify_executor, _dispatch, self.config)
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any failure
                self.ratelog.error("notify", "notifications failed: %s", exc)
                continue
            for line in done.persistent if done is not None else ():
                self.ratelog.warning("notify", "notifications: %s", line)

    async def _pull_intel(self) -> None:
        """Every ``INTEL_INTERVAL`` seconds, pull the threat-intel feeds that are due
        (``intel.feeds[].interval``) and retro-hunt what they bring, in the notification
        thread; a cron ``soc intel pull`` running meanwhile makes it skip its turn."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(INTEL_INTERVAL)
            try:
                done = await loop.run_in_executor(self.notify_executor, _pull_intel, self.config)
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any failure
                self.ratelog.error("intel", "threat-intel pull failed: %s", exc)
                continue
            for feed in done.errors if done is not None else ():
                self.ratelog.warning("intel", "threat-intel feed %s: %s", feed.feed, feed.error)

    # status ------------------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Every second at most: measure the spool, read the kernel's drops, check the
        captures, write the status. A step that fails is logged (rate-limited) and the others
        go on: nothing stops this task but the end of the daemon."""
        next_status = 0.0
        steps = (self._measure_spool, self._read_kernel_drops, self._check_captures,
                 self.ratelog.flush)
        while True:
            await asyncio.sleep(min(1.0, self.listen.status_interval))
            for step in steps:
                self._step(step)
            if time.monotonic() >= next_status:
                self._step(self._write_status)
                next_status = time.monotonic() + self.listen.status_interval

    def _step(self, step: Any) -> None:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - the housekeeping must outlive any failure
            self.ratelog.error("housekeeping", "housekeeping (%s) failed: %s",
                               getattr(step, "__name__", step), exc)

    def _read_kernel_drops(self) -> None:
        """The kernel's UDP drops; kept when ``/proc`` cannot be read (they never go down)."""
        inodes = {li.inode for li in self.listeners if li.inode}
        drops = udp_kernel_drops(inodes) if inodes else None
        if drops is not None:
            counters = self.intake.count("udp")
            counters.kernel_drops = max(counters.kernel_drops, drops)

    def _check_captures(self) -> None:
        """Log, once, a capture that failed (the interface went away, the spool cannot be
        written...)."""
        for capture in self.captures:
            if capture.error is not None and capture not in self.failed_captures:
                self.failed_captures.append(capture)
                log.error("capture on %s failed: %s", capture.capture.interface,
                          capture.status()["error"])

    def status(self) -> dict[str, Any]:
        """What ``<data_dir>/listen.json`` holds."""
        size, segments = self.spool_used, self.spool_segments
        counters = {k: v.to_dict() for k, v in sorted(self.intake.counters.items())}
        return {
            "pid": os.getpid(), "state": self.state, "started": self.started,
            "status_interval": self.listen.status_interval,
            "updated": format_ts(datetime.now(UTC)), "source": self.source.name,
            "listeners": [li.bound for li in self.listeners],
            "received": sum(c["received"] for c in counters.values()),
            "spooled": self.intake.spooled,
            "dropped": sum(c["dropped"] + c["kernel_drops"] for c in counters.values()),
            "unspooled": self.unspooled,
            "queued": len(self.intake.pending), "paused_connections": len(self.intake.paused),
            "connection_budget": self.budget.limit,
            "transports": counters,
            "spool": {"path": str(self.directory), "bytes": size, "segments": segments,
                      "max_bytes": self.listen.spool.max_bytes, "full": self.intake.blocked},
            "drain": {**self.drain.stats, "pid": self.drain.pid},
            "reloads": dataclasses.asdict(self.reloads),
            "captures": [capture.status() for capture in self.captures],
            "console": self.console.status() if self.console is not None else None,
        }

    def _write_status(self) -> None:
        path = status_path(self.config)
        tmp = path.with_suffix(".json.tmp")
        try:
            tmp.write_text(json.dumps(self.status(), indent=1, default=str), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            self.ratelog.warning("status", "cannot write %s: %s", path, exc)


def _pull_intel(config: Config) -> Any:
    """The threat-intel feeds that are due (None when none is, or another pull runs)."""
    from soc.intel.pull import pull_due

    return pull_due(config, now=datetime.now(UTC))


def _dispatch(config: Config) -> Any:
    """One delivery of the outbox (None when ``soc notify run`` or a pass is at it)."""
    from soc.notify import ops

    return ops.dispatch(config, now=datetime.now(UTC), wait=False)


async def loop_shutdown(executor: ThreadPoolExecutor) -> None:
    """Shut ``executor`` down without blocking the event loop."""
    await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)


def _warn_rules(check: asyncio.Task[dict[str, Any]]) -> None:
    """When the start-up check of the rules is done: name the broken rule files."""
    if not check.cancelled() and check.exception() is None:
        _log_rule_warning(check.result())


def _log_rule_warning(result: dict[str, Any]) -> None:
    """One line about the rule files the running rules leave out (as 'soc collect' warns);
    receiving and detecting with the others go on."""
    line = rule_warning(result)
    if line is not None:
        log.warning("%s", line)


async def _bind(endpoint: Endpoint, intake: Intake, listen: ListenConfig, limits: Limits,
                budget: Budget, ratelog: RateLimitedLog) -> Listener:
    try:
        return await start(endpoint, intake, listen.max_message_bytes, limits=limits,
                           budget=budget, ratelog=ratelog)
    except PermissionError as exc:
        raise SocError(f"cannot listen on {endpoint.label}: {exc.strerror}",
                       hint="Ports below 1024 need root: listen on 5514/6514 and redirect 514 "
                            "(docs/listen.md), or grant CAP_NET_BIND_SERVICE.") from exc
    except OSError as exc:
        raise SocError(f"cannot listen on {endpoint.label}: {exc.strerror or exc}",
                       hint="Is another syslog daemon using the port? Check with 'ss -lntup'.",
                       ) from exc


def _notify(state: str) -> None:
    """Tell systemd (``Type=notify``) how we are; nothing when not started by systemd."""
    target = os.environ.get("NOTIFY_SOCKET")
    if not target:
        return
    address = "\0" + target[1:] if target.startswith("@") else target
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(state.encode(), address)


@contextlib.contextmanager
def _daemon_lock(config: Config) -> Iterator[None]:
    """One daemon per data directory (a kernel flock: a killed daemon leaves no stale lock)."""
    try:
        lock = PassLock(config.data_dir / "listen.lock", what="listen").__enter__()
    except BusyError as exc:
        raise BusyError(exc.message, hint="Another 'soc listen' uses this data directory; "
                        "stop it first (systemctl stop soc-listen).") from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def daemon_settings(config: Config, *, web: bool | None = None,
                    ) -> tuple[ListenConfig, NetworkConfig]:
    """The ``listen:`` and ``network:`` settings of the daemon; :class:`ConfigError` when they
    are invalid, or give it nothing to do. ``web``: serve the console or not, whatever
    ``listen.web`` says (None: as it says); its ``web:`` settings are checked when it is on."""
    settings = load_listen_config(config)
    if web is not None:
        settings = dataclasses.replace(settings, web=web)
    if settings.web:
        check_console(config)
    network = check_capture_config(config)
    if not settings.endpoints and not network.captures:
        raise ConfigError("listen: no listener and no capture is configured",
                          hint="Add listen.udp, listen.tcp or listen.tls, or network.capture, "
                               "to soc.yml (see docs/listen.md, docs/network-sensor.md).",
                          path=config.path)
    for capture in network.captures:
        if capture.source == settings.source:
            raise ConfigError(f"network.capture: {capture.interface} drains into "
                              f"'{capture.source}', the source of listen.source",
                              hint="Name another source in network.capture.source.",
                              path=config.path)
    return settings, network


def check_listen(config: Config, *, web: bool | None = None) -> dict[str, Any]:
    """Validate the ``listen:`` settings (TLS certificates included), the captures of
    ``network:`` and, when the console is served, ``web:``; the effective settings."""
    settings, network = daemon_settings(config, web=web)
    for endpoint in settings.endpoints:
        if endpoint.transport == "tls":
            tls_context(endpoint)
    captures = [{**dataclasses.asdict(c), "source": capture_source(c, config).name}
                for c in network.captures]
    console = check_console(config).to_dict() if settings.web else None
    return {**settings.to_dict(), "captures": captures, "console": console}


def listen(config: Config, *, detect: bool = True, web: bool | None = None) -> dict[str, Any]:
    """Run the daemon until SIGTERM/SIGINT; returns its final status.

    Raises :class:`ConfigError` when nothing is configured, :class:`BusyError` when another
    ``soc listen`` uses this data directory, :class:`soc.listen.capture.CaptureError` when a capture
    cannot start (no CAP_NET_RAW, no such interface, a bad filter), :class:`StoreError` when
    the final drain could not write the store, :class:`SocError` when it or a capture failed
    otherwise (the spools keep what was not stored; the next start drains it). ``web``:
    serve the console (None: as ``listen.web`` says).
    """
    settings, network = daemon_settings(config, web=web)
    with _daemon_lock(config):
        captures = open_captures(config, network.captures)
        try:
            daemon = Daemon(config, settings, detect=detect, captures=captures)
            ok = asyncio.run(daemon.serve())
        finally:
            for capture in captures:
                capture.finish()
    final = daemon.status()
    if daemon.unspooled:
        raise SocError(f"{daemon.unspooled} received message(s) could not be written to the "
                       f"spool {daemon.directory} and are lost",
                       hint="Check the free space and permissions of the data directory.")
    if not ok:
        _undrained(daemon, final)
    for capture in daemon.failed_captures:
        raise SocError(f"live capture on {capture.capture.interface} failed: "
                       f"{capture.status()['error']}",
                       hint="What it captured until then is stored; see the log above.")
    return final


def _undrained(daemon: Daemon, final: dict[str, Any]) -> None:
    """Raise what the failed final drain left behind, and how to drain it later."""
    names = [s.name for s in daemon.drained_sources]
    where = (f"{final['spool']['bytes']} bytes stay in {daemon.directory}"
             if daemon.listen.endpoints else
             f"what was not stored stays in {daemon.config.data_dir / 'spool'}")
    message = f"the spool could not be drained completely: {final['drain']['last_error']}; {where}"
    again = f"'soc listen' (or 'soc collect --source {' / '.join(names)}')"
    if daemon.drain.returncode == ExitCode.STORE:
        raise StoreError(message, hint=f"The next {again} drains them once the store is back.")
    raise SocError(message, hint=f"Nothing is lost: after a fix, the next {again} drains "
                                 "them. Run with --traceback or see the log above.")
