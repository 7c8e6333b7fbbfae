"""The entities of a Windows event (who, which process, from where) as Winlogbeat's security and
sysmon modules set them: ``user.*`` is the account the event is about, ``process.name`` the file
name of ``process.executable``, ``source.ip`` only when there is an address.

:mod:`collectors.parsers.winlog` first sets the ECS fields pySigma's ``ecs_windows`` pipeline maps
Sigma names to; :func:`put_entities` then corrects the ones whose meaning differs from Winlogbeat
(4624 ``user.name`` is the account that logged on, not ``SubjectUserName``; 4688
``process.parent.name`` is a file name, not a path). The Sigma names whose ECS field changed
meaning are matched on their event data field instead (``soc/detection/pipelines.py``), so a
Sigma rule matches exactly what it matched before. See docs/windows.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Event = dict[str, Any]

SECURITY = "Security"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
SYSTEM = "System"
DEFENDER = "Microsoft-Windows-Windows Defender/Operational"

# The event id lists of Winlogbeat's security ingest pipeline (x-pack/winlogbeat/module/security).
# "Copy Target User": the target account is the user.
TARGET_IS_USER = frozenset({4624, 4625, 4634, 4647, 4648, 4768, 4769, 4770, 4771, 4776, 4964})
# "Copy Subject User from Event Data": the subject is the user (4648: it overrides the target).
SUBJECT_IS_USER = frozenset({
    4648, 4657, 4670, 4672, 4673, 4674, 4688, 4689, 4697, 4698, 4699, 4700, 4701, 4702, 4706,
    4707, 4713, 4716, 4717, 4718, 4719, 4720, 4722, 4723, 4724, 4725, 4726, 4727, 4728, 4729,
    4730, 4731, 4732, 4733, 4734, 4735, 4737, 4738, 4739, 4740, 4741, 4742, 4743, 4744, 4745,
    4746, 4747, 4748, 4749, 4750, 4751, 4752, 4753, 4754, 4755, 4756, 4757, 4758, 4759, 4760,
    4761, 4762, 4763, 4764, 4767, 4781, 4798, 4799, 4817, 4904, 4905, 4907, 4912,
})
# "Copy Target User to Target": the account acted on (created, reset, locked...).
TARGET_IS_TARGET = frozenset({4670, 4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740, 4767, 4798,
                              4817, 4907})
# "Copy Target User to Effective": the credentials used (4648) or the new process's account.
TARGET_IS_EFFECTIVE = frozenset({4648, 4688})
# "Copy MemberName to User and User to Group": group changes.
GROUP_EVENTS = frozenset({4727, 4728, 4729, 4730, 4731, 4732, 4733, 4734, 4735, 4737, 4744,
                          4745, 4746, 4747, 4748, 4749, 4750, 4751, 4752, 4753, 4754, 4755,
                          4756, 4757, 4758, 4759, 4760, 4761, 4762, 4763, 4764, 4799})
SESSION_EVENTS = frozenset({4778, 4779})
# "Rename Common Auth Fields": ProcessName/IpAddress/IpPort/WorkstationName of these events.
AUTH_FIELDS = frozenset({
    1100, 1102, 1104, 1105, 1108, 4624, 4648, 4625, 4670, 4673, 4674, 4689, 4697, 4719, 4720,
    4722, 4723, 4724, 4725, 4726, 4727, 4728, 4729, 4730, 4731, 4732, 4733, 4734, 4735, 4737,
    4738, 4740, 4741, 4742, 4743, 4744, 4745, 4746, 4747, 4748, 4749, 4750, 4751, 4752, 4753,
    4754, 4755, 4756, 4757, 4758, 4759, 4760, 4761, 4762, 4763, 4764, 4767, 4768, 4769, 4770,
    4771, 4798, 4799, 4817, 4904, 4905, 4907, 4912,
})
LOGON_TYPES: Mapping[str, str] = {
    "2": "Interactive", "3": "Network", "4": "Batch", "5": "Service", "7": "Unlock",
    "8": "NetworkCleartext", "9": "NewCredentials", "10": "RemoteInteractive",
    "11": "CachedInteractive",
}
_NONE = ("", "-")


def put_entities(ev: Event, channel: str, eid: int, data: Mapping[str, Any],
                 user_data: Mapping[str, Any]) -> None:
    """Set the entity fields of one event from its event data (``data``, ``user_data``)."""
    step = _STEPS.get(channel)
    if step is not None:
        step(ev, eid, data, user_data)
    _names(ev)
    _related(ev)


# --- Security ------------------------------------------------------------------------------------


def _security(ev: Event, eid: int, data: Mapping[str, Any], user_data: Mapping[str, Any]) -> None:
    related: list[str] = []
    if eid in SESSION_EVENTS:
        _session(ev, data, related)
    if eid in TARGET_IS_USER or eid in SUBJECT_IS_USER or eid == 1102:
        _drop_user(ev)
    if eid in TARGET_IS_USER:
        _account(ev, "user", data, "TargetUserSid", "TargetUserName", "TargetDomainName", related)
        if not _text(data.get("TargetUserSid")):
            _account(ev, "user", data, "TargetSid", "", "", related)
    if eid in GROUP_EVENTS:
        _group(ev, data, related)
    if eid in SUBJECT_IS_USER:
        _account(ev, "user", data, "SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                 related)
    elif eid == 1102:
        _account(ev, "user", user_data, "SubjectUserSid", "SubjectUserName",
                 "SubjectDomainName", related)
    elif eid in (4624,) and (name := _text(data.get("SubjectUserName"))):
        related.append(name)
    if eid in TARGET_IS_TARGET:
        _account(ev, "user.target", data, "TargetSid", "TargetUserName", "TargetDomainName",
                 related)
    if eid in TARGET_IS_EFFECTIVE:
        _account(ev, "user.effective", data, "TargetUserSid", "TargetUserName",
                 "TargetDomainName", related)
    if eid in AUTH_FIELDS or eid == 4688:
        _auth_source(ev, data)
    if eid == 4688:
        _process_created(ev, data)
    logon_type = LOGON_TYPES.get(_text(data.get("LogonType")))
    if logon_type is not None:
        ev["winlog.logon.type"] = logon_type
    if related:
        ev["related.user"] = _distinct(related)


def _drop_user(ev: Event) -> None:
    """Forget the ``user.*`` the Sigma mapping set (``SubjectUserName``...): Winlogbeat's are
    set next, from the fields that name the account the event is about."""
    for key in ("user.name", "user.domain", "user.id"):
        ev.pop(key, None)


def _account(ev: Event, prefix: str, data: Mapping[str, Any], sid: str, name: str,
             domain: str, related: list[str]) -> None:
    """``<prefix>.id/name/domain`` from three event data fields; a Kerberos ``user@REALM`` name
    keeps its user part, as Winlogbeat does. ``-`` and empty values are no account."""
    value = _text(data.get(sid)) if sid else ""
    if value:
        ev[f"{prefix}.id"] = value
    value = _text(data.get(name)) if name else ""
    if value:
        value = value.split("@", 1)[0] if "@" in value else value
        ev[f"{prefix}.name"] = value
        related.append(value)
    value = _text(data.get(domain)) if domain else ""
    if value:
        ev[f"{prefix}.domain"] = value


def _group(ev: Event, data: Mapping[str, Any], related: list[str]) -> None:
    """Group changes: the member is ``user.target`` (the first RDN of ``MemberName``), the group
    is ``group.*`` (``TargetUserName``, ``TargetSid``, ``TargetDomainName``)."""
    member = _text(data.get("MemberName"))
    if member:
        parts = member.split(",")
        name = parts[0].removeprefix("CN=").removeprefix("cn=")
        ev["user.target.name"] = name
        related.append(name)
        # the first DC= of the DN (Winlogbeat takes the fourth RDN, whatever it is)
        domain = next((p[3:] for p in parts if p[:3].upper() == "DC="), "")
        if domain:
            ev["user.target.domain"] = domain
    elif sid := _text(data.get("MemberSid")):
        ev["user.target.id"] = sid
    for field, key in (("group.id", "TargetSid"), ("group.id", "TargetUserSid"),
                       ("group.name", "TargetUserName"), ("group.domain", "TargetDomainName")):
        if value := _text(data.get(key)):
            ev[field] = value


def _session(ev: Event, data: Mapping[str, Any], related: list[str]) -> None:
    """4778/4779 (session reconnected, disconnected): ``AccountName`` is the user."""
    if name := _text(data.get("AccountName")):
        ev["user.name"] = name
        related.append(name)
    if domain := _text(data.get("AccountDomain")):
        ev["user.domain"] = domain
    if name := _text(data.get("ClientName")):
        ev["source.domain"] = name
    if logon := _text(data.get("LogonID")):
        ev["winlog.logon.id"] = logon


def _auth_source(ev: Event, data: Mapping[str, Any]) -> None:
    """No ``source.ip``/``source.port`` for ``-`` (no network logon)."""
    if _text(data.get("IpAddress")) == "" and ev.get("source.ip") in _NONE:
        ev.pop("source.ip", None)
    if _text(data.get("IpPort")) == "" and ev.get("source.port") in _NONE:
        ev.pop("source.port", None)


def _process_created(ev: Event, data: Mapping[str, Any]) -> None:
    """4688: the new process is ``process.*``, the creator ``process.parent.*``."""
    new_pid = _int(data.get("NewProcessId"))
    if new_pid is not None:
        ev["process.pid"] = new_pid
    parent_pid = _int(data.get("ProcessId"))
    if parent_pid is not None:
        ev["process.parent.pid"] = parent_pid
    if parent := _text(data.get("ParentProcessName")):
        ev["process.parent.executable"] = parent
        ev["process.parent.name"] = basename(parent)


# --- Sysmon, System, Defender --------------------------------------------------------------------


def _sysmon(ev: Event, eid: int, data: Mapping[str, Any], user_data: Mapping[str, Any]) -> None:
    """Sysmon's ``User`` is ``DOMAIN\\name``: ``user.name`` keeps it whole (Sigma's ``User`` is
    compared with it), ``user.domain`` and ``related.user`` get its parts."""
    user = _text(data.get("User"))
    if "\\" in user:
        domain, _, name = user.partition("\\")
        ev["user.domain"] = domain
        ev["related.user"] = [name]


def _system(ev: Event, eid: int, data: Mapping[str, Any], user_data: Mapping[str, Any]) -> None:
    """7045 (service installed): ``service.name``; ``AccountName`` is already ``user.name``."""
    if eid == 7045 and (name := _text(data.get("ServiceName"))):
        ev["service.name"] = name


def _defender(ev: Event, eid: int, data: Mapping[str, Any],
              user_data: Mapping[str, Any]) -> None:
    """Defender detections (1116, 1117...): the process and the user of the detection."""
    executable = _text(data.get("Process Name"))
    if executable and executable.lower() != "unknown" and "process.executable" not in ev:
        ev["process.executable"] = executable
    user = _text(data.get("Detection User"))
    if user and "user.name" not in ev:
        domain, _, name = user.rpartition("\\")
        ev["user.name"] = name
        if domain:
            ev["user.domain"] = domain


_STEPS: Mapping[str, Callable[[Event, int, Mapping[str, Any], Mapping[str, Any]], None]] = {
    SECURITY: _security, SYSMON: _sysmon, SYSTEM: _system, DEFENDER: _defender,
}


# --- every channel -------------------------------------------------------------------------------


def _names(ev: Event) -> None:
    """``process.name`` / ``process.parent.name``: the file name of the executable."""
    executable = ev.get("process.executable")
    if type(executable) is str and executable not in _NONE and "process.name" not in ev:
        ev["process.name"] = basename(executable)
    executable = ev.get("process.parent.executable")
    if (type(executable) is str and executable not in _NONE
            and "process.parent.name" not in ev):
        ev["process.parent.name"] = basename(executable)


def _related(ev: Event) -> None:
    """``related.ip`` from ``source.ip`` and ``destination.ip`` (one address each)."""
    found = [ip for ip in (ev.get("source.ip"), ev.get("destination.ip"))
             if type(ip) is str and ip not in _NONE]
    if found:
        ev["related.ip"] = _distinct(found)


def basename(path: str) -> str:
    """The file name of a Windows path (``C:\\Windows\\System32\\cmd.exe`` → ``cmd.exe``)."""
    return path.rpartition("\\")[2]


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _text(value: Any) -> str:
    """An event data value as text; ``-`` (Windows' "none") and non-strings are ``""``."""
    if type(value) is int:
        return str(value)
    if not isinstance(value, str) or value == "-":
        return ""
    return value


def _int(value: Any) -> int | None:
    text = _text(value).strip()
    try:
        return int(text, 16) if text[:2].lower() == "0x" else int(text)
    except ValueError:
        return None
