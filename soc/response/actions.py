"""Steps that change another system (block an IP, disable an account): run only when allowed.

A playbook step may name an action (``action: {name: block-ip, params: {ip: "%source.ip%"}}``).
It runs only when the operator configured that action's command in soc.yml and passes
``--allow-actions``; otherwise the step stays a manual checklist item. The command is an argument
list (never a shell line); each ``{param}`` is a whole argument, and soc passes the parameters
after ``--`` (added before the first one unless the command has it), so a value can never be
read as an option::

    incidents:
      actions:
        block-ip:
          command: [/usr/local/sbin/soc-block-ip, "{ip}"]   # runs: soc-block-ip -- 203.0.113.45
          params: {ip: ip}                                  # the type of each parameter
          timeout: 30s

The values come from the alerts, so from log lines an attacker writes: each is checked against its
parameter's type (:func:`check_value`) before anything runs, and a value that fails is refused with
a one-line reason. A parameter with several values (two source addresses) makes several targets,
each run on its own (:func:`plan`, :func:`attempt`). Every run (and every refusal) is recorded by
the caller on the incident's timeline and in the audit trail.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import re
import string
import subprocess
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from soc.config import Config
from soc.ecs import now_ts
from soc.errors import ConfigError, SocError
from soc.response.playbooks import ActionRef
from soc.response.records import TargetResult
from soc.timeutil import parse_duration

DEFAULT_TIMEOUT = timedelta(seconds=60)
OUTPUT_LIMIT = 4000
MAX_TARGETS = 100  # a step over more values than this is refused: do it by hand, or in bulk
MAX_USER, MAX_HOST, MAX_TEXT = 128, 253, 256
SHOWN_VALUE = 80  # a refused value is quoted up to this many characters


class ActionRefused(SocError):
    """An action that may not run; the step stays a manual checklist item."""

    default_hint = "Do the step by hand and mark it done, or configure incidents.actions."


class ParamType(StrEnum):
    """What a parameter of an action may hold."""

    IP = "ip"  # one IPv4 or IPv6 address
    CIDR = "cidr"  # an address or a network (198.51.100.0/24)
    USER = "user"  # a user name
    HOST = "host"  # a host or domain name, or an IP address
    TEXT = "text"  # free text on one line


BUILTIN_PARAMS: Mapping[str, Mapping[str, ParamType]] = {
    "block-ip": {"ip": ParamType.IP},
    "disable-account": {"user": ParamType.USER, "host": ParamType.HOST},
    "isolate-host": {"host": ParamType.HOST},
    "sinkhole-domain": {"domain": ParamType.HOST},
}
"""The types of the parameters of the actions the shipped playbooks name (``params:`` in soc.yml
adds to them or overrides them)."""

NOUNS = {ParamType.IP: "IP address", ParamType.CIDR: "IP network", ParamType.USER: "user name",
         ParamType.HOST: "host name", ParamType.TEXT: "value"}
USER_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]*")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_PATTERN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
PLACEHOLDER = re.compile(r"%([A-Za-z0-9_.@-]+)%")  # a playbook's %field%
WHOLE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # a command's {param}


# --- checking values -----------------------------------------------------------------------------


def check_value(kind: ParamType, value: str) -> str:
    """The value as passed to the command (addresses normalised); ValueError says why not."""
    if not value:
        raise ValueError("empty")
    if value.startswith("-"):
        raise ValueError(f"a {NOUNS[kind]} may not start with '-'")
    return _CHECKS[kind](value)


def _ip(value: str) -> str:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("not an IP address") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id is not None:
        raise ValueError("an address with a zone (%...) is refused")
    if addr.is_unspecified:
        raise ValueError("the unspecified address")
    return str(addr)


def _cidr(value: str) -> str:
    if "%" in value:
        raise ValueError("an address with a zone (%...) is refused")
    try:
        net = ipaddress.ip_network(value)
    except ValueError:
        raise ValueError("not an IP address or network (host bits set?)") from None
    if net.prefixlen == 0:
        raise ValueError("the whole address space")
    return str(net)


def _user(value: str) -> str:
    if len(value) > MAX_USER:
        raise ValueError(f"longer than {MAX_USER} characters")
    if not USER_PATTERN.fullmatch(value):
        raise ValueError("a user name may hold only letters, digits and . _ @ - "
                         "(no spaces, control or shell characters)")
    return value


def _host(value: str) -> str:
    try:
        return _ip(value)
    except ValueError:
        pass
    if len(value) > MAX_HOST or not HOST_PATTERN.fullmatch(value):
        raise ValueError("not a host name (letters, digits, '-' and '_' in dot-separated labels "
                         "that neither start nor end with '-') nor an IP address")
    return value


def _free_text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT} characters")
    bad = next((c for c in value if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"}), None)
    if bad is not None:
        raise ValueError(f"holds a control character ({bad!r})")
    return value


_CHECKS = {ParamType.IP: _ip, ParamType.CIDR: _cidr, ParamType.USER: _user,
           ParamType.HOST: _host, ParamType.TEXT: _free_text}


def shown(value: str) -> str:
    """A value quoted for a one-line reason: control characters escaped, long ones cut."""
    return repr(value) if len(value) <= SHOWN_VALUE else repr(value[:SHOWN_VALUE]) + "…"


# --- the configured actions ----------------------------------------------------------------------


@dataclass(frozen=True)
class ActionConfig:
    name: str
    command: tuple[str, ...]
    timeout: timedelta = DEFAULT_TIMEOUT
    params: Mapping[str, ParamType] = field(default_factory=dict)

    @property
    def fields(self) -> list[str]:
        """The parameters the command takes, in order."""
        return [m.group(1) for part in self.command if (m := WHOLE_PARAM.fullmatch(part))]


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
    return {str(name): _action(config, str(name), spec, _line(actions, str(name)))
            for name, spec in actions.items()}


def _action(config: Config, name: str, spec: Any, where: int | None) -> ActionConfig:
    command = spec.get("command") if isinstance(spec, dict) else None
    if not isinstance(command, list) or not command or \
            not all(isinstance(c, str | int) for c in command):
        raise ConfigError(f"incidents.actions.{name}.command must be a list of arguments",
                          path=config.path, line=where)
    parts = tuple(str(c) for c in command)
    _check_command(name, parts, config, _line(spec, "command") or where)
    try:
        timeout = parse_duration(spec.get("timeout", 60))
    except ValueError as exc:
        raise ConfigError(f"incidents.actions.{name}: {exc}", path=config.path,
                          line=_line(spec, "timeout")) from None
    action = ActionConfig(name, parts, timeout, _types(config, name, spec))
    for param in action.fields:
        if param not in action.params:
            raise ConfigError(f"incidents.actions.{name}: parameter {param!r} has no type",
                              path=config.path, line=where,
                              hint=f"Declare it: params: {{{param}: ip|cidr|user|host|text}} "
                                   "(docs/incident-response.md).")
    return action


def _check_command(name: str, parts: Sequence[str], config: Config, line: int | None) -> None:
    """Each parameter a whole argument; no option after the first parameter (it goes after --)."""
    seen_param = False
    for part in parts:
        try:
            named = any(f is not None for _, f, _, _ in string.Formatter().parse(part))
        except ValueError as exc:
            raise ConfigError(f"incidents.actions.{name}.command: {part!r}: {exc}",
                              path=config.path, line=line) from None
        if named and not WHOLE_PARAM.fullmatch(part):
            raise ConfigError(f"incidents.actions.{name}.command: {part!r}: a parameter must be "
                              'a whole argument ("{name}")', path=config.path, line=line,
                              hint="Pass the option and the value as two arguments: "
                                   '[cmd, --user, "{user}"] becomes [cmd, "{user}"].')
        if not named and seen_param and part.startswith("-"):
            raise ConfigError(f"incidents.actions.{name}.command: {part!r} comes after a "
                              "parameter; soc passes the parameters after '--'",
                              path=config.path, line=line,
                              hint="Put the options before the first {param}, or wrap the "
                                   "command in a script that takes the values as arguments.")
        seen_param = seen_param or named


def _types(config: Config, name: str, spec: Mapping[str, Any]) -> dict[str, ParamType]:
    declared = spec.get("params") or {}
    if not isinstance(declared, dict):
        raise ConfigError(f"incidents.actions.{name}.params must map parameters to types",
                          path=config.path, line=_line(spec, "params"))
    out = dict(BUILTIN_PARAMS.get(name, {}))
    for param, kind in declared.items():
        try:
            out[str(param)] = ParamType(str(kind))
        except ValueError:
            raise ConfigError(f"incidents.actions.{name}.params.{param}: unknown type {kind!r} "
                              f"(types: {', '.join(ParamType)})", path=config.path,
                              line=_line(declared, str(param)) or _line(spec, "params")) from None
    return out


def argv(action: ActionConfig, params: Mapping[str, str]) -> list[str]:
    """The command line: options first, then ``--``, then the parameters (checked values)."""
    out: list[str] = []
    for part in action.command:
        m = WHOLE_PARAM.fullmatch(part)
        if m is None:
            out.append(part.format_map({}))  # a literal ({{ and }} unescaped)
            continue
        if not params.get(m.group(1)):
            raise ActionRefused(f"action {action.name}: parameter {m.group(1)!r} has no value")
        if "--" not in out:
            out.append("--")
        out.append(params[m.group(1)])
    return out


def prepare(config: Config, ref: ActionRef, *, allow: bool) -> ActionConfig:
    """The configured action; :class:`ActionRefused` when it may not run."""
    if not allow:
        raise ActionRefused(f"action {ref.name} changes another system: it runs only with "
                            "--allow-actions", hint="Pass --allow-actions, or do it by hand.")
    action = configured_actions(config).get(ref.name)
    if action is None:
        raise ActionRefused(f"action {ref.name} is not configured in incidents.actions")
    return action


# --- targets -------------------------------------------------------------------------------------


def plan(action: ActionConfig, ref: ActionRef,
         fields: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """The targets: one per combination of the values the alerts give the command's parameters
    (two source addresses: two targets). Refused when a parameter has no value or too many."""
    choices = []
    for param in action.fields:
        template = ref.params.get(param)
        if template is None:
            raise ActionRefused(f"action {action.name}: the playbook step gives no {param!r}",
                                hint="Do it by hand, or give the step the parameter.")
        choices.append(_expand(action.name, param, template, fields))
    count = math.prod(len(c) for c in choices)
    if count > MAX_TARGETS:
        raise ActionRefused(f"action {action.name}: {count} targets, more than {MAX_TARGETS}",
                            hint="Do it by hand, in bulk, and mark the step done.")
    return [dict(zip(action.fields, combo, strict=True))
            for combo in itertools.product(*choices)]


def _expand(name: str, param: str, template: str,
            fields: Mapping[str, Sequence[str]]) -> list[str]:
    names = list(dict.fromkeys(PLACEHOLDER.findall(template)))
    missing = [n for n in names if not fields.get(n)]
    if missing:
        raise ActionRefused(f"action {name}: parameter {param!r} has no value (the alerts "
                            f"have no {', '.join(missing)})")
    out = [_put(template, dict(zip(names, combo, strict=True)))
           for combo in itertools.product(*(fields[n] for n in names))]
    return list(dict.fromkeys(out))


def _put(template: str, chosen: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: chosen[m.group(1)], template)


def describe(params: Mapping[str, str]) -> str:
    """``host web01 user root``: a target in a reason (its values were checked)."""
    return " ".join(f"{k} {v}" for k, v in params.items())


def attempt(action: ActionConfig, params: Mapping[str, str]) -> tuple[TargetResult,
                                                                      dict[str, Any]]:
    """Check one target's values and, when they pass, run the command for it.
    Returns the target's result (for the step) and what happened (for the timeline)."""
    checked: dict[str, str] = {}
    for param, value in params.items():
        try:
            checked[param] = check_value(action.params[param], value)
        except ValueError as exc:
            reason = f"{param} {shown(value)} refused: {exc}"
            return (TargetResult(dict(params), "refused", reason, None, now_ts()),
                    {"action": action.name, "params": dict(params), "refused": reason})
    done = run(action, argv(action, checked))
    detail = f"exit code {done.exit_code}" if done.exit_code is not None else "did not finish"
    if not done.ok:
        last = next((s for s in reversed(done.stderr.splitlines()) if s.strip()), "")
        detail = f"{describe(params)}: {detail}" + (f": {last.strip()[:200]}" if last else "")
    return (TargetResult(dict(params), "ok" if done.ok else "failed", detail, done.exit_code,
                         done.started), done.to_dict())


# --- running -------------------------------------------------------------------------------------


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


def run(action: ActionConfig, command: list[str]) -> ActionRun:
    """Run the command (no shell), with the action's timeout; output kept, truncated."""
    started, clock = now_ts(), time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              check=False, timeout=action.timeout.total_seconds())
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
