"""Linux audit records (``type=... msg=audit(ts:serial): ...``) → ``auditd.log`` events.

One event per record line, raw or behind a syslog header (audispd, ``audit:`` kernel lines). Every
field of the record lands under ``auditd.data.<name>`` (quotes removed, hex-encoded strings
decoded: EXECVE's ``a0..aN``, ``proctitle``, ``name``, ``cwd``, ``exe``...), with
``auditd.message_type`` (``EXECVE``, ``SYSCALL``...) and ``auditd.sequence`` (the serial), so that
SigmaHQ's auditd rules (``type: EXECVE``, ``a0: ...``) mapped by ``rules/pipelines/linux.yml``
find them. ECS fields come on top: ``process.*``, ``user.id``/``user.audit.id``, ``event.action``
(the type, lower case), ``event.outcome`` (``success=``/``res=``), ``source.ip`` (``addr=``).

Records of one serial describe one action (SYSCALL, then EXECVE, CWD, PATH, PROCTITLE). The
parser remembers the ECS process and user fields of the last :data:`MAX_SERIALS` SYSCALL records
per source and adds them to the later records of the same serial, so an EXECVE event carries the
executable, pids and users next to its command line: bounded memory, still one event per line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import ClassVar

from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

MAX_SERIALS = 256
"""SYSCALL summaries kept per source for joining the records that follow them."""

_RECORD = re.compile(
    r"(?:node=(\S+) )?type=(\w+) (?:msg=)?audit\(([0-9]+)\.([0-9]+):([0-9]{1,18})\): ?(.*)$",
    re.S)  # ASCII digits: the fraction is copied into @timestamp; int() takes 18 of them
# A key starts a word: tried inside a long word, each start would rescan it (quadratic time).
_KV = re.compile(r"""(?<![\w-])([\w-]++(?:\[\d+\])?)=("[^"]*"|'[^']*'|\S*)""")
_HEX = re.compile(r"(?:[0-9A-F]{2})+")
_ARG = re.compile(r"a([0-9]{1,9})(?:\[([0-9]{1,9})\])?")  # a longer one is no argument
HEX_FIELDS = frozenset(("proctitle", "name", "cwd", "exe", "comm", "acct", "path", "cmd",
                        "data", "new", "old"))
"""Fields auditd hex-encodes (writing them unquoted) when they contain spaces or odd bytes."""

ECS_FIELDS = {
    "pid": ("process.pid", int), "ppid": ("process.parent.pid", int),
    "uid": ("user.id", str), "auid": ("user.audit.id", str), "euid": ("user.effective.id", str),
    "gid": ("group.id", str), "exe": ("process.executable", str), "comm": ("process.name", str),
    "cwd": ("process.working_directory", str), "acct": ("user.name", str),
    "addr": ("source.ip", str), "hostname": ("source.domain", str), "ses": ("auditd.session", str),
    "key": ("auditd.key", str), "terminal": ("process.tty.name", str),
}
ENRICHED = {"UID": "user.name", "AUID": "user.audit.name", "EUID": "user.effective.name",
            "GID": "group.name"}
JOINED = ("process.pid", "process.parent.pid", "process.executable", "process.name", "user.id",
          "user.audit.id", "user.effective.id", "group.id", "user.name", "user.audit.name",
          "auditd.session", "auditd.key", "event.outcome")
CATEGORY = {
    "EXECVE": "process", "USER_CMD": "process", "USER_LOGIN": "authentication",
    "USER_AUTH": "authentication", "USER_ERR": "authentication", "USER_START": "session",
    "USER_END": "session", "CRED_ACQ": "authentication", "ADD_USER": "iam", "DEL_USER": "iam",
    "ADD_GROUP": "iam", "DEL_GROUP": "iam", "USER_CHAUTHTOK": "iam", "USER_MGMT": "iam",
    "SERVICE_START": "process", "SERVICE_STOP": "process",
}
_UNSET = frozenset(("?", "(null)", "(none)", "unset", "4294967295", "-1", ""))
_OUTCOME = {"yes": "success", "success": "success", "1": "success", "no": "failure",
            "failed": "failure", "0": "failure"}


class AuditdParser:
    """auditd log lines → ``auditd.log`` events (see the module docstring)."""

    name: ClassVar[str] = "auditd"
    priority: ClassVar[int] = 14
    markers: ClassVar[tuple[str, ...]] = ("audit(",)  # see Parser.markers

    def __init__(self) -> None:
        self._syscalls: dict[tuple[str, str], Event] = {}

    def sniff(self, text: str) -> bool:
        """``type=`` and ``audit(`` both appear."""
        return "type=" in text and "audit(" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One record → event; :class:`ParseError` when the line is no audit record."""
        start = text.find("type=")
        node_at = text.rfind("node=", 0, start) if start > 0 else -1
        m = _RECORD.match(text, node_at if node_at >= 0 else max(start, 0))
        if m is None:
            raise ParseError("not an audit record (type=... msg=audit(ts:serial): ...)")
        node, kind, sec, frac, serial, body = m.groups()
        body, _, enriched = body.partition("\x1d")
        ev: Event = {
            "@timestamp": _epoch(sec, frac),
            "event.dataset": "auditd.log", "event.module": "auditd", "event.kind": "event",
            "event.action": kind.lower(), "auditd.message_type": kind,
            "auditd.sequence": int(serial),
        }
        if kind in CATEGORY:
            ev["event.category"] = [CATEGORY[kind]]
        if node:
            ev["host.name"] = node
        data = _fields(body, kind)
        _put_data(ev, data)
        if enriched:
            _put_enriched(ev, enriched)
        self._join(ev, ctx.key, serial, kind)
        return ev

    def _join(self, ev: Event, source: str, serial: str, kind: str) -> None:
        key = (source, serial)
        if kind == "SYSCALL":
            if len(self._syscalls) >= MAX_SERIALS:
                del self._syscalls[next(iter(self._syscalls))]
            self._syscalls[key] = {k: ev[k] for k in JOINED if k in ev}
            return
        summary = self._syscalls.get(key)
        if summary is not None:
            for k, v in summary.items():
                ev.setdefault(k, v)


def _epoch(sec: str, frac: str) -> str:
    try:
        dt = datetime.fromtimestamp(int(sec), UTC)
    except (OverflowError, OSError, ValueError):
        raise ParseError(f"audit time out of range: {sec}") from None
    return format_ts(dt)[:-4] + (frac + "00")[:3] + "Z"


def _fields(body: str, kind: str) -> dict[str, str]:
    """The record's ``key=value`` pairs, unquoted and decoded; ``msg='...'`` flattened in."""
    data: dict[str, str] = {}
    for key, raw in _KV.findall(body):
        if raw[:1] == "'":
            data.update(_fields(raw[1:-1], kind))
        elif raw[:1] == '"':
            data[key] = raw[1:-1]
        elif (key in HEX_FIELDS or (kind == "EXECVE" and key[0] == "a" and key[1:2].isdigit())
              ) and _HEX.fullmatch(raw):
            data[key] = _unhex(raw, key == "proctitle")
        else:
            data[key] = raw
    return data


def _unhex(value: str, nul_is_space: bool) -> str:
    text = bytes.fromhex(value).decode("utf-8", "backslashreplace")
    return text.replace("\x00", " ").rstrip() if nul_is_space else text


def _put_data(ev: Event, data: dict[str, str]) -> None:
    for key, value in data.items():
        ev[f"auditd.data.{key}"] = value
        mapped = ECS_FIELDS.get(key)
        if mapped is not None and value not in _UNSET:
            target, convert = mapped
            try:
                ev[target] = convert(value)
            except ValueError:
                continue
    outcome = _OUTCOME.get(data.get("success") or data.get("res") or "")
    if outcome:
        ev["event.outcome"] = outcome
    if ev["auditd.message_type"] == "EXECVE":
        _put_command(ev, data)
    elif "proctitle" in data:
        ev["process.title"] = data["proctitle"]
    if "name" in data and ev["auditd.message_type"] == "PATH":
        ev["file.path"] = data["name"]


def _put_command(ev: Event, data: dict[str, str]) -> None:
    """EXECVE ``a0..aN`` (long ones split as ``aN[i]``) → ``process.args`` and
    ``process.command_line``."""
    parts: dict[int, list[tuple[int, str]]] = {}
    for key, value in data.items():
        m = _ARG.fullmatch(key)
        if m is not None:
            parts.setdefault(int(m[1]), []).append((int(m[2] or 0), value))
    args = ["".join(v for _, v in sorted(parts[i])) for i in sorted(parts)]
    if args:
        ev["process.args"] = args
        ev["process.command_line"] = " ".join(args)


def _put_enriched(ev: Event, enriched: str) -> None:
    """``log_format=ENRICHED`` adds ``UID="root" AUID="alice" SYSCALL=execve`` after a GS."""
    for key, raw in _KV.findall(enriched):
        value = raw[1:-1] if raw[:1] == '"' else raw
        ev[f"auditd.data.{key}"] = value
        if key in ENRICHED and value not in _UNSET:
            ev[ENRICHED[key]] = value
