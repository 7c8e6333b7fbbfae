"""macOS native JSON: Endpoint Security events (``eslogger``) and the unified log.

* **eslogger** (macOS 13+, ``eslogger exec create rename ... > es.json``) writes one Endpoint
  Security message per line: ``{"event_type": 9, "time": "...", "mach_time": ..., "process":
  {...the process that acted...}, "event": {"exec": {"target": {...}, "args": [...]}}, ...}``.
  → ``macos.eslogger``, ``event.action`` the message's event name (``exec``, ``create``,
  ``rename``...). The message stays under ``eslogger.*`` (its ``process`` and ``event`` objects
  are ECS's own names); ECS fields are added for what SigmaHQ's ``product: macos`` rules test:
  on ``exec``, ``process.executable``/``.args``/``.command_line`` (the args joined by spaces),
  ``process.pid``, ``process.working_directory``, and as the parent the process that called
  exec (``process.parent.executable``: the image before the exec, the shell that forked for a
  command; ``process.parent.pid`` its ``ppid``); on file events, ``file.path`` (the created file,
  a rename's destination) and ``process.executable`` (the acting process).
* **Unified log** (``log show --style ndjson`` / ``log stream --style ndjson``) →
  ``macos.unified_log`` with ``message``, ``process.executable``, ``process.pid``,
  ``log.level``.
"""

from __future__ import annotations

from typing import Any

from collectors.parsers.jsonnative import NativeFormat, move_ecs_roots, put
from soc.ecs import Event
from soc.pipeline.sources import ParseContext

ES_PREFIX = "eslogger."
_FILE_TARGETS = ("destination.existing_file.path", "target.path", "file.path",
                 "source.path")
"""Where an Endpoint Security file event names its file, under ``event.<name>.``."""


def detect_eslogger(ev: Event) -> str | None:
    if "event_type" in ev and "mach_time" in ev and "process.executable.path" in ev:
        return "macos.eslogger"
    return None


def refine_eslogger(ev: Event, ctx: ParseContext) -> None:
    native = {k: ev.pop(k) for k in list(ev) if not k.startswith(("event.dataset",
                                                                   "event.module", "@"))}
    name = _event_name(native)
    for key, value in native.items():
        ev[ES_PREFIX + key] = value
    ev.update({"event.kind": "event", "observer.vendor": "Apple",
               "observer.product": "Endpoint Security"})
    if name:
        ev["event.action"] = name
    actor = native.get("process.executable.path")
    pid = native.get("process.audit_token.pid")
    if name == "exec":
        _exec(ev, native, actor, native.get("process.ppid"))
    else:
        put(ev, "process.executable", actor)
        put(ev, "process.pid", pid)
        _file(ev, native, name)
    put(ev, "user.id", _text(native.get("process.audit_token.euid")))


def _event_name(native: dict[str, Any]) -> str:
    for key in native:
        if key.startswith("event."):
            return key.split(".", 2)[1]
    return ""


def _exec(ev: Event, native: dict[str, Any], parent: Any, ppid: Any) -> None:
    ev["event.category"] = ["process"]
    ev["event.type"] = ["start"]
    put(ev, "process.executable", native.get("event.exec.target.executable.path"))
    put(ev, "process.pid", native.get("event.exec.target.audit_token.pid"))
    put(ev, "process.working_directory", native.get("event.exec.cwd.path"))
    args = native.get("event.exec.args")
    if isinstance(args, list) and all(isinstance(a, str) for a in args):
        put(ev, "process.args", args)
        put(ev, "process.command_line", " ".join(args))
    put(ev, "process.parent.executable", parent)
    put(ev, "process.parent.pid", ppid)
    path = ev.get("process.executable")
    if isinstance(path, str):
        ev["process.name"] = path.rsplit("/", 1)[-1]


def _file(ev: Event, native: dict[str, Any], name: str) -> None:
    prefix = f"event.{name}."
    path = next((native[prefix + t] for t in _FILE_TARGETS if prefix + t in native), None)
    if path is None:  # a new file: its directory and name
        folder = native.get(prefix + "destination.new_path.dir.path")
        base = native.get(prefix + "destination.new_path.filename")
        if isinstance(folder, str) and isinstance(base, str):
            path = f"{folder.rstrip('/')}/{base}"
    if isinstance(path, str):
        ev["file.path"] = path
        ev["file.name"] = path.rsplit("/", 1)[-1]
        ev["event.category"] = ["file"]
        ev["event.type"] = ["creation" if name == "create" else "change"]


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else str(value)


ESLOGGER = NativeFormat("eslogger", detect_eslogger, ("time",), refine_eslogger)


# --- unified log ---------------------------------------------------------------------------------

def detect_unified(ev: Event) -> str | None:
    if "eventMessage" in ev and "machTimestamp" in ev and "processImagePath" in ev:
        return "macos.unified_log"
    return None


def refine_unified(ev: Event, ctx: ParseContext) -> None:
    move_ecs_roots(ev, "macos")
    ev.setdefault("event.kind", "event")
    put(ev, "message", ev.get("eventMessage"))
    put(ev, "process.executable", ev.get("processImagePath"))
    put(ev, "process.pid", ev.get("processID"))
    put(ev, "log.level", ev.get("messageType"))
    put(ev, "log.logger", ev.get("subsystem"))


UNIFIED_LOG = NativeFormat("unified_log", detect_unified, ("timestamp",), refine_unified)

FORMATS = (ESLOGGER, UNIFIED_LOG)
