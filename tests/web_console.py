"""The web console as a real subprocess, for the browser and API tests and for the screenshots
(docs/console/shoot.py).

:func:`build` writes a data directory with real content: ``soc demo`` (its story collected into an
embedded store, an incident opened, reports written), then three more web attacks from sources of
their own collected by ``soc collect``, so that each one raises an open alert of its own: one to
triage, one that a viewer must not be able to change, one to open an incident from, and one
whose user agent is a script (it must render as text). The users viewer1, analyst1 and lead1 are
made with ``soc users add`` (the password on standard input). :class:`ConsoleServer` runs ``soc
web --port 0`` and reads the ``Console: URL`` line it prints once it accepts connections.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from soc.alerts import get as get_alert
from soc.config import load_config
from soc.models import Alert, AlertQuery
from soc.stores.base import open_store
from soc.timeutil import wait_event

SOC = [sys.executable, "-m", "soc"]
ROLES = {"viewer1": "viewer", "analyst1": "analyst", "lead1": "lead"}
XSS_AGENT = "<script>window.__xss=1</script>"
SQLI = "/dich-vu-cong/tra-cuu?maHoSo=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"
BROWSER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/131.0.0.0 Safari/537.36")
# One source per open alert the tests need (the SQL injection rule groups by source.ip).
SOURCES = {"xss": ("198.51.100.23", XSS_AGENT), "triage": ("198.51.100.24", BROWSER_AGENT),
           "refused": ("198.51.100.25", BROWSER_AGENT),
           "incident": ("198.51.100.26", BROWSER_AGENT)}


def password(name: str) -> str:
    """The test password of ``name`` (long enough for the password policy)."""
    return f"{name}: a long test passphrase"


@dataclass
class ConsoleData:
    """A data directory ready for the console: its config and the open alerts the tests use."""

    directory: Path
    config: Path
    alerts: dict[str, str] = field(default_factory=dict)  # a key of SOURCES -> its alert id
    _incident: str = ""

    def alert(self, alert_id: str) -> Alert:
        """The alert as the store has it now (read-only, so it never waits on the server)."""
        with open_store(load_config(self.config), readonly=True) as store:
            return get_alert(store, alert_id)

    def soc(self, *args: str, stdin: str | None = None) -> str:
        """``soc -c CONFIG ARGS...`` as a real subprocess; its stdout (fails on a non-zero exit)."""
        done = subprocess.run([*SOC, "-c", str(self.config), *args], input=stdin, text=True,
                              capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            raise AssertionError(f"soc {' '.join(args)} exited with {done.returncode}:\n"
                                 f"{done.stderr}")
        return done.stdout

    def audit_count(self) -> int:
        """How many entries the audit trail holds, over every subject."""
        with open_store(load_config(self.config), readonly=True) as store:
            return len(store.audit_trail())

    def reports(self) -> set[str]:
        """The files of the data directory's reports folder."""
        folder = load_config(self.config).data_dir / "reports"
        return {p.name for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()

    def incident(self) -> str:
        """The id of the incident the demo opened (asked once)."""
        if not self._incident:
            found = json.loads(self.soc("incidents", "list", "--json"))
            self._incident = str(found[0]["id"])
        return self._incident

    def token(self, name: str, label: str) -> str:
        """A new API token of ``name`` from ``soc users token`` (printed once, last line)."""
        lines = [line.strip() for line in self.soc("users", "token", name, "--label", label)
                 .splitlines() if line.strip()]
        return lines[-1].split()[-1]


def access_line(ip: str, agent: str, when: datetime) -> str:
    """An Apache combined log line of a SQL injection attempt from ``ip``."""
    return (f'{ip} - - [{when:%d/%b/%Y:%H:%M:%S %z}] "GET {SQLI} HTTP/1.1" 200 512 "-" '
            f'"{agent}"\n')


def _alert_ids(data: ConsoleData) -> dict[str, str]:
    """The open alert of each of the extra sources."""
    by_ip = {ip: key for key, (ip, _) in SOURCES.items()}
    with open_store(load_config(data.config), readonly=True) as store:
        found = store.list_alerts(AlertQuery(limit=None))
    ids = {by_ip[str(a.entity.get("source.ip"))]: a.id for a in found
           if str(a.entity.get("source.ip")) in by_ip}
    missing = set(SOURCES) - set(ids)
    assert not missing, f"no alert raised for {missing}"
    return ids


def build(directory: Path, *, now: datetime | None = None) -> ConsoleData:
    """The demo's data directory under ``directory`` plus the extra attacks and the users."""
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([*SOC, "demo", "--dir", str(directory)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, f"soc demo exited with {done.returncode}:\n{done.stderr}"
    data = ConsoleData(directory, directory / "soc.yml")
    zone = load_config(data.config).tz
    when = (now or datetime.now(UTC)).astimezone(zone).replace(microsecond=0)
    log = directory / "logs" / "portal-web01" / "access.log"
    with log.open("a", encoding="utf-8") as out:
        for i, (ip, agent) in enumerate(SOURCES.values()):
            out.write(access_line(ip, agent, when - timedelta(minutes=30 - i)))
    data.soc("collect")
    for name, role in ROLES.items():
        data.soc("users", "add", name, "--role", role, stdin=password(name) + "\n")
    data.alerts = _alert_ids(data)
    return data


class ConsoleServer:
    """``soc web --port 0`` on ``config`` as a real subprocess (its own process group)."""

    def __init__(self, config: Path, *args: str) -> None:
        self.config, self.args = config, args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._line: list[str] = []
        self._got_line = threading.Event()

    def start(self, timeout: float = 60) -> str:
        """Start the console; returns its URL (ending in /) once it accepts connections."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([*SOC, "-c", str(self.config), "web", "--port", "0",
                                      *self.args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env,
                                     start_new_session=True)
        threading.Thread(target=self._read_first_line, daemon=True).start()
        if not wait_event(self._got_line, timeout) or not self._line[0].startswith("Console: "):
            _, err = self.stop()
            raise AssertionError(f"soc web printed {self._line!r}, not 'Console: URL':\n{err}")
        self.url = self._line[0].removeprefix("Console: ").strip()
        return self.url

    def _read_first_line(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        self._line.append(self.proc.stdout.readline())
        self._got_line.set()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
        """Signal the console and wait for it; returns its exit code and stderr."""
        if self.proc is None:
            return 0, ""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            _, err = self.proc.communicate()
            err += f"\n(still running {timeout} s after signal {sig}: killed)"
        return self.proc.returncode, err


def wait_until(check: object, timeout: float = 10) -> None:
    """Poll the callable ``check`` until it returns true (fails after ``timeout`` seconds)."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
