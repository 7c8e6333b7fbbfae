"""Steps that change another system (block an IP, disable an account): run only when allowed.

A playbook step may name an action (``action: {name: block-ip, params: {ip: "%source.ip%"}}``).
It runs only when the operator configured that action's command in soc.yml and passes
``--allow-actions``; otherwise the step stays a manual checklist item. The command is an argument
list (never a shell line) whose ``{param}`` parts take the step's parameters::

    incidents:
      actions:
        block-ip:
          command: [/usr/local/sbin/soc-block-ip, "{ip}"]
          timeout: 30s

Every run (and every refusal) is recorded by the caller on the incident's timeline and in the
audit trail.
"""

from __future__ import annotations

import string
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from soc.config import Config
from soc.ecs import now_ts
from soc.errors import ConfigError, SocError
from soc.response.playbooks import ActionRef
from soc.timeutil import parse_duration

DEFAULT_TIMEOUT = timedelta(seconds=60)
OUTPUT_LIMIT = 4000


class ActionRefused(SocError):
    """An action that may not run; the step stays a manual checklist item."""

    default_hint = "Do the step by hand and mark it done, or configure incidents.actions."


@dataclass(frozen=True)
class ActionConfig:
    name: str
    command: tuple[str, ...]
    timeout: timedelta = DEFAULT_TIMEOUT


def _line(node: Any, key: str | None = None) -> int | None:
    if key is not None:
        line = getattr(node, "key_lines", {}).get(key)
        if line:
            return int(line)
    return getattr(node, "line", None)


def configured_actions(config: Config) -> dict[str, ActionConfig]:
    """The actions of ``incidents.actions`` in soc.yml; errors name the file and line."""
    section = config.raw.get("incidents") or {}
    actions = section.get("actions") if isinstance(section, dict) else None
    if not actions:
        return {}
    if not isinstance(actions, dict):
        raise ConfigError("incidents.actions must be a mapping of action names",
                          path=config.path, line=_line(section, "actions"))
    out = {}
    for name, spec in actions.items():
        where = _line(actions, str(name))
        command = spec.get("command") if isinstance(spec, dict) else None
        if not isinstance(command, list) or not command or \
                not all(isinstance(c, str | int) for c in command):
            raise ConfigError(f"incidents.actions.{name}.command must be a list of arguments",
                              path=config.path, line=where)
        try:
            timeout = parse_duration(spec.get("timeout", 60))
        except ValueError as exc:
            raise ConfigError(f"incidents.actions.{name}: {exc}", path=config.path,
                              line=_line(spec, "timeout")) from None
        out[str(name)] = ActionConfig(str(name), tuple(str(c) for c in command), timeout)
    return out


def argv(action: ActionConfig, params: Mapping[str, str]) -> list[str]:
    """The command line with the step's parameters put in; refuses unknown or empty ones."""
    out = []
    for part in action.command:
        names = [f for _, f, _, _ in string.Formatter().parse(part) if f]
        for name in names:
            if not params.get(name):
                raise ActionRefused(f"action {action.name}: parameter {name!r} has no value")
        out.append(part.format_map(dict(params)))
    return out


@dataclass(frozen=True)
class ActionRun:
    """What one run of an action did."""

    name: str
    argv: tuple[str, ...]
    started: str
    seconds: float
    exit_code: int | None  # None: did not finish in time or could not start
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.name, "argv": list(self.argv), "started": self.started,
                "seconds": round(self.seconds, 3), "exit_code": self.exit_code,
                "ok": self.ok, "stdout": self.stdout, "stderr": self.stderr}


def prepare(config: Config, ref: ActionRef, params: Mapping[str, str], *,
            allow: bool) -> tuple[ActionConfig, list[str]]:
    """The configured action and its command line; :class:`ActionRefused` when it may not run."""
    if not allow:
        raise ActionRefused(f"action {ref.name} changes another system: it runs only with "
                            "--allow-actions", hint="Pass --allow-actions, or do it by hand.")
    action = configured_actions(config).get(ref.name)
    if action is None:
        raise ActionRefused(f"action {ref.name} is not configured in incidents.actions")
    return action, argv(action, params)


def run(action: ActionConfig, command: list[str]) -> ActionRun:
    """Run the command (no shell), with the action's timeout; output kept, truncated."""
    started, clock = now_ts(), time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=action.timeout.total_seconds())
        code: int | None = done.returncode
        out, err = done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = None, _text(exc.stdout), f"timed out after {action.timeout}"
    except OSError as exc:
        code, out, err = None, "", f"cannot start: {exc}"
    return ActionRun(action.name, tuple(command), started, time.monotonic() - clock, code,
                     out[-OUTPUT_LIMIT:], err[-OUTPUT_LIMIT:])


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
