"""Linux authentication messages (sshd, PAM, sudo, su, shadow-utils, logind, login) → ECS fields.

Not a parser of its own: :class:`collectors.parsers.syslog.SyslogParser` hands it the program and
message of every line whose program is in :data:`PROGRAMS` (or whose tag or message is PAM's), and
:func:`refine` adds ``event.dataset`` ``linux.auth`` plus whatever the message says (action,
outcome, user, source...). A message it does not know keeps the syslog fields and gets no
``event.action``.

Messages are matched by a table: the first word of the message selects a few precompiled patterns,
and the named groups of the pattern that matches say which ECS field each value goes to
(:data:`_FIELDS`), so adding a variant is one line of the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from soc.ecs import Event

DATASET = "linux.auth"

AUTHENTICATION = ("authentication",)
SESSION = ("session",)
IAM = ("iam",)
NETWORK = ("network",)


@dataclass(frozen=True, slots=True)
class Spec:
    """What a recognised message means: ``event.action``, ``.category``, ``.type``, ``.outcome``."""

    action: str
    category: tuple[str, ...]
    type: tuple[str, ...]
    outcome: str | None = None
    fields: tuple[tuple[str, object], ...] = ()  # constant fields the message implies
    constants: dict[str, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One dict.update per event; the lists are placeholders, replaced by fresh copies.
        constants: dict[str, object] = {"event.action": self.action, "event.category": None,
                                        "event.type": None}
        if self.outcome is not None:
            constants["event.outcome"] = self.outcome
        constants.update(self.fields)
        object.__setattr__(self, "constants", constants)


Put = str | Callable[[Event, str], None]
"""Where a captured value goes: an event key (the value as is), or a function that puts it."""


def _ip_like(value: str) -> bool:
    return bool(_IPV4.fullmatch(value)) or (":" in value and bool(_IPV6.fullmatch(value)))


_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+(?:%\w+)?")
_PAM_KV = re.compile(r"(\w+)=(\S*)")
_HOST_KEYS: dict[str, str] = {}  # remote host → "source.ip" or "source.domain"; hosts repeat


def _host_key(value: str) -> str:
    key = _HOST_KEYS.get(value)
    if key is None:
        if len(_HOST_KEYS) >= 4096:
            _HOST_KEYS.clear()
        key = _HOST_KEYS[value] = "source.ip" if _ip_like(value) else "source.domain"
    return key


def _put_host(ev: Event, value: str) -> None:
    """A remote host as written: an address goes to ``source.ip``, a name to ``source.domain``."""
    if value:
        ev[_host_key(value)] = value


def _put_addr(ev: Event, value: str) -> None:
    """Like :func:`_put_host` but ignores what is not an address (login's ``FROM tty1``)."""
    if _ip_like(value):
        ev["source.ip"] = value


def _put_pam_kv(ev: Event, value: str) -> None:
    """PAM's ``logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root``."""
    kv = dict(_PAM_KV.findall(value))
    if kv.get("user"):
        ev["user.name"] = kv["user"]
    _put_host(ev, kv.get("rhost", ""))
    if kv.get("ruser"):
        _add_related(ev, kv["ruser"])


def _add_related(ev: Event, user: str) -> None:
    """A user the message names besides ``user.name`` (sudo's invoker, PAM's ruser)."""
    if user:
        ev.setdefault("related.user", []).append(user)


def _put_reason(ev: Event, value: str) -> None:
    ev["event.reason"] = value.removesuffix(" [preauth]")


# Named group of a pattern → how its value lands in the event: under an event key as is, as an
# int (_INTS), or through a function. Functions run after the plain keys of the same rule.
_FIELDS: dict[str, Put] = {
    "user": "user.name",
    "uid": "user.id",
    "target": "user.effective.name",
    "group": "group.name",
    "gid": "group.id",
    "ip": _put_host,
    "addr": _put_addr,
    "domain": "source.domain",
    "dip": "destination.ip",
    "method": "system.auth.ssh.method",
    "sig": "system.auth.ssh.signature",
    "reason": _put_reason,
    "kv": _put_pam_kv,
    "by": _add_related,
    "ruser": _add_related,
}
FAILURES = "system.auth.pam.failures"
"""How many failed attempts a pam_unix line reports: 1 for ``authentication failure`` (the first
failure of a PAM session), N for ``PAM N more authentication failures`` (the others, logged when
the session ends), times rsyslog's ``message repeated M times``. Their sum per source address is
the number of attempts PAM saw, whether or not sshd logged its own ``Failed password`` lines."""
_INTS = {"port": "source.port", "dport": "destination.port", "failures": FAILURES}


Fill = Callable[[Event, tuple[str | None, ...]], None]
"""``fill(event, match.groups())``: puts a matched rule's values and meaning into the event."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A message pattern whose named groups are field names of :data:`_FIELDS`, and its meaning,
    with the function that fills an event from a match (:func:`_filler`)."""

    pattern: re.Pattern[str]
    spec: Spec | None
    fill: Fill


Table = dict[str, list[Rule]]


def _rule(pattern: str, spec: Spec | None) -> Rule:
    compiled = re.compile(pattern)
    names = sorted(compiled.groupindex, key=compiled.groupindex.__getitem__)
    if len(names) != compiled.groups:
        raise ValueError(f"unnamed group in {pattern!r}")
    return Rule(compiled, spec, _filler(names, spec))


def _filler(names: list[str], spec: Spec | None) -> Fill:
    """The fill function of a rule, written out as straight-line code.

    Plain keys first (the value as is), then integers, then the putter functions, then the
    spec's constants and fresh category/type lists. Generated once per rule at import, like
    ``dataclasses`` does for ``__init__``: a loop over (index, key) pairs cost more than the
    match itself on the hot path.
    """
    plain, ints, calls = [], [], []
    scope: dict[str, object] = {}
    for i, name in enumerate(names):
        if name in _INTS:
            # no port has more than 18 digits; int() refuses more than 4300
            ints.append(f"    v = g[{i}]\n    if v and len(v) <= 18:\n"
                        f"        ev[{_INTS[name]!r}] = int(v)")
            continue
        put = _FIELDS[name]
        if isinstance(put, str):
            plain.append(f"    v = g[{i}]\n    if v:\n        ev[{put!r}] = v")
        else:
            scope[f"put{i}"] = put
            calls.append(f"    v = g[{i}]\n    if v:\n        put{i}(ev, v)")
    lines = [*plain, *ints, *calls]
    if spec is not None:
        scope["constants"] = spec.constants
        lines.append(f"    ev.update(constants)\n    ev['event.category'] = {list(spec.category)!r}"
                     f"\n    ev['event.type'] = {list(spec.type)!r}")
    source = "def fill(ev, g):\n" + ("\n".join(lines) or "    pass") + "\n"
    exec(source, scope)  # our own text, built from the literals of this module
    fill: Fill = scope["fill"]  # type: ignore[assignment]
    return fill


PREAUTH = r"(?: \[preauth\])?$"
# The user name is the client's choice and may contain " from 6.6.6.6 port 1": a pattern anchored
# at the end of the line takes the address sshd wrote last, which is the real one. The user is
# lazy (cheaper for short names) where that is the same: the tails after the user (FROM, "IP port
# N") hold no second place to split, so at most one split matches. Not so after Accepted, whose
# key signature may hold anything: that user stays greedy.
FROM = r" from (?P<ip>\S+)(?: port (?P<port>\d+))?(?: ssh2)?" + PREAUTH
KIND = r"(?:(?:invalid|authenticating) user |user )"

LOGIN_OK = Spec("ssh_login", ("authentication", "session"), ("start",), "success")
FAILED_PASSWORD = Spec("ssh_failed_password", AUTHENTICATION, ("info",), "failure")
FAILED_AUTH = Spec("ssh_failed_auth", AUTHENTICATION, ("info",), "failure")
DISCONNECT = Spec("ssh_disconnect", SESSION, ("end",))
CLOSED = Spec("ssh_connection_closed", SESSION, ("end",))
TOO_MANY = Spec("ssh_too_many_auth_failures", AUTHENTICATION, ("info",), "failure")
REVERSE = Spec("ssh_reverse_mapping_failed", NETWORK, ("info",))
PAM_MORE = Spec("pam_more_authentication_failures", AUTHENTICATION, ("info",), "failure")
# pam_unix: "logname=%s uid=%d euid=%d tty=%s ruser=%s rhost=%s[  user=%s]"
PAM_FIELDS = r".*? ruser=(?P<ruser>\S*) rhost=(?P<ip>\S*)(?:\s+user=(?P<user>\S*))?\s*$"
PAM_FAILURE = Spec("pam_authentication_failure", AUTHENTICATION, ("info",), "failure",
                   ((FAILURES, 1),))

SSH: Table = {
    "Accepted": [_rule(
        r"Accepted (?P<method>\S+) for (?P<user>.+) from (?P<ip>\S+) port (?P<port>\d+)"
        r"(?: ssh2)?(?:: (?P<sig>.+))?$", LOGIN_OK)],
    "Failed": [
        _rule(r"Failed (?:password|keyboard-interactive/pam) for (?:invalid user )?(?P<user>.*?)"
              + FROM, FAILED_PASSWORD),
        _rule(r"Failed (?P<method>\S+) for (?:invalid user )?(?P<user>.*?)" + FROM, FAILED_AUTH),
    ],
    "Invalid": [_rule(r"Invalid user (?P<user>.*?)" + FROM,
                      Spec("ssh_invalid_user", AUTHENTICATION, ("info",), "failure"))],
    "input_userauth_request:": [_rule(
        r"input_userauth_request: invalid user (?P<user>.*?)" + PREAUTH,
        Spec("ssh_invalid_user_request", AUTHENTICATION, ("info",), "failure"))],
    "Received": [_rule(
        r"Received disconnect from (?P<ip>[^\s:]+|\S+?)(?: port (?P<port>\d+))?: ?\d+: "
        r"(?P<reason>.*)", DISCONNECT)],
    "Disconnected": [
        _rule(r"Disconnected from " + KIND + r"(?P<user>.*?) (?P<ip>\S+) port (?P<port>\d+)"
              + PREAUTH, DISCONNECT),
        _rule(r"Disconnected from (?P<ip>\S+)(?: port (?P<port>\d+))?" + PREAUTH, DISCONNECT),
    ],
    "Connection": [
        _rule(r"Connection (?:closed|reset) by " + KIND + r"(?P<user>.*?) (?P<ip>\S+) "
              r"port (?P<port>\d+)" + PREAUTH, CLOSED),
        _rule(r"Connection (?:closed|reset) by (?P<ip>\S+)(?: port (?P<port>\d+))?" + PREAUTH,
              CLOSED),
        _rule(r"Connection from (?P<ip>\S+) port (?P<port>\d+) on (?P<dip>\S+) port (?P<dport>\d+)",
              Spec("ssh_connection", NETWORK, ("start",))),
    ],
    "maximum": [_rule(
        r"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?)" + FROM,
        Spec("ssh_max_auth_attempts_exceeded", AUTHENTICATION, ("info",), "failure"))],
    "Disconnecting:": [_rule(
        r"Disconnecting: Too many authentication failures(?: for (?:invalid user )?(?P<user>.+?))?"
        + PREAUTH, TOO_MANY)],
    "Disconnecting": [_rule(
        r"Disconnecting " + KIND + r"(?P<user>.*?) (?P<ip>\S+) port (?P<port>\d+): "
        r"Too many authentication failures" + PREAUTH, TOO_MANY)],
    "reverse": [_rule(
        r"reverse mapping checking getaddrinfo for (?P<domain>\S+) \[(?P<ip>[^\]]+)\] failed",
        REVERSE)],
    "Address": [_rule(r"Address (?P<addr>\S+) maps to (?P<domain>[^\s,]+), but this does not map",
                      REVERSE)],
    "Did": [_rule(r"Did not receive identification string from (?P<ip>\S+)"
                  r"(?: port (?P<port>\d+))?$",
                  Spec("ssh_no_identification", NETWORK, ("info",)))],
    "PAM": [
        _rule(r"PAM (?P<failures>\d+) more authentication failures?;" + PAM_FIELDS, PAM_MORE),
        _rule(r"PAM (?P<failures>\d+) more authentication failures?; (?P<kv>.*)$", PAM_MORE),
    ],
    "User": [_rule(r"User (?P<user>\S+) from (?P<ip>\S+) not allowed because (?P<reason>.+)$",
                   Spec("ssh_user_not_allowed", AUTHENTICATION, ("info",), "failure"))],
}

PAM: Table = {
    "authentication": [
        _rule(r"authentication failure;" + PAM_FIELDS, PAM_FAILURE),
        _rule(r"authentication failure; (?P<kv>.*)$", PAM_FAILURE),  # another order
    ],
    "check": [_rule(r"check pass; user unknown$",
                    Spec("pam_user_unknown", AUTHENTICATION, ("info",), "failure"))],
    "session": [
        _rule(r"session opened for user (?P<user>[^\s(]+)(?:\(uid=(?P<uid>\d+)\))?"
              r"(?: by (?P<by>[^\s(]*))?",
              Spec("session_opened", SESSION, ("start",), "success")),
        _rule(r"session closed for user (?P<user>[^\s(]+)",
              Spec("session_closed", SESSION, ("end",), "success")),
    ],
    "password": [_rule(r"password changed for (?P<user>\S+)",
                       Spec("password_changed", IAM, ("user", "change"), "success"))],
}

USER_ADDED = Spec("user_added", IAM, ("user", "creation"), "success")
GROUP_ADDED = Spec("group_added", IAM, ("group", "creation"), "success")
ADDED_TO_GROUP = Spec("user_added_to_group", IAM, ("group", "change"), "success")
REMOVED_FROM_GROUP = Spec("user_removed_from_group", IAM, ("group", "change"), "success")
PASSWORD_CHANGED = Spec("password_changed", IAM, ("user", "change"), "success")

SHADOW: Table = {
    "new": [
        _rule(r"new user: name=(?P<user>[^,]+), UID=(?P<uid>\d+), GID=(?P<gid>\d+)", USER_ADDED),
        _rule(r"new group: name=(?P<group>[^,]+), GID=(?P<gid>\d+)", GROUP_ADDED),
    ],
    "add": [_rule(r"add '(?P<user>[^']+)' to group '(?P<group>[^']+)'", ADDED_TO_GROUP)],
    "delete": [
        _rule(r"delete user '(?P<user>[^']+)'",
              Spec("user_deleted", IAM, ("user", "deletion"), "success")),
        _rule(r"delete '(?P<user>[^']+)' from group '(?P<group>[^']+)'", REMOVED_FROM_GROUP),
    ],
    "group": [_rule(r"group '(?P<group>[^']+)' removed$",
                    Spec("group_deleted", IAM, ("group", "deletion"), "success"))],
    "change": [_rule(r"change user '(?P<user>[^']+)' password", PASSWORD_CHANGED)],
    "lock": [_rule(r"lock user '(?P<user>[^']+)' password",
                   Spec("user_locked", IAM, ("user", "change"), "success"))],
    "unlock": [_rule(r"unlock user '(?P<user>[^']+)' password",
                     Spec("user_unlocked", IAM, ("user", "change"), "success"))],
    "password": [_rule(r"password for '(?P<user>[^']+)' changed by '(?P<by>[^']+)'",
                       PASSWORD_CHANGED)],
    "user": [
        _rule(r"user (?P<user>\S+) added by (?P<by>\S+) to group (?P<group>\S+)", ADDED_TO_GROUP),
        _rule(r"user (?P<user>\S+) removed by (?P<by>\S+) from group (?P<group>\S+)",
              REMOVED_FROM_GROUP),
    ],
}

SU_OK = Spec("su", AUTHENTICATION, ("start",), "success")
SU_FAILED = Spec("su", AUTHENTICATION, ("info",), "failure")

SU: Table = {
    "(to": [_rule(r"\(to (?P<target>[^)]+)\) (?P<user>\S+) on \S+", SU_OK)],
    "FAILED": [
        _rule(r"FAILED SU \(to (?P<target>[^)]+)\) (?P<user>\S+) on \S+", SU_FAILED),
        _rule(r"FAILED su for (?P<target>\S+) by (?P<user>\S+)", SU_FAILED),
    ],
    "Successful": [_rule(r"Successful su for (?P<target>\S+) by (?P<user>\S+)", SU_OK)],
    "+": [_rule(r"\+ \S+ (?P<user>[^:\s]+):(?P<target>\S+)", SU_OK)],
    "-": [_rule(r"- \S+ (?P<user>[^:\s]+):(?P<target>\S+)", SU_FAILED)],
}

LOGIND: Table = {
    "New": [_rule(r"New session \S+ of user (?P<user>[^\s]+?)\.?$",
                  Spec("logind_session_opened", SESSION, ("start",), "success"))],
    "Removed": [_rule(r"Removed session \S+?\.?$",
                      Spec("logind_session_closed", SESSION, ("end",), "success"))],
}

LOGIN_SPEC = Spec("login", AUTHENTICATION, ("start",), "success")
LOGIN: Table = {
    "ROOT": [_rule(r"ROOT LOGIN (?:ON|on) \S+(?: FROM (?P<addr>\S+))?",
                   Spec("login", AUTHENTICATION, ("start",), "success", (("user.name", "root"),)))],
    "LOGIN": [_rule(r"LOGIN ON \S+ BY (?P<user>\S+)(?: FROM (?P<addr>\S+))?", LOGIN_SPEC)],
    "FAILED": [_rule(r"FAILED LOGIN \d+ (?:FROM (?P<addr>\S+) )?FOR (?P<user>[^,\s]+), "
                     r"(?P<reason>.+)",
                     Spec("login", AUTHENTICATION, ("info",), "failure"))],
}

SUDO_OK = Spec("sudo", ("process",), ("start",), "success")
SUDO_FAILED = Spec("sudo", AUTHENTICATION, ("info",), "failure")
_SUDO = re.compile(r"\s*(?P<user>\S+) : (?P<rest>.*)")
_SUDO_KEYS = {"USER": "user.effective.name", "GROUP": "user.effective.group.name",
              "PWD": "process.working_directory"}
_PAM_PREFIX = re.compile(r"pam_\w+\([^:)]+:[^)]+\): ")


def _apply(ev: Event, table: Table, message: str) -> None:
    """Match ``message`` against the rules its first word selects; the first hit fills ``ev``."""
    word = message[:message.find(" ")]
    if word == "error:":
        message = message[7:]
        word = message[:message.find(" ")]
    rules = table.get(word)
    if not rules:
        return
    for rule in rules:
        m = rule.pattern.match(message)
        if m is not None:
            rule.fill(ev, m.groups())
            return


def _put_spec(ev: Event, spec: Spec) -> None:
    ev.update(spec.constants)
    ev["event.category"] = [*spec.category]
    ev["event.type"] = [*spec.type]


def _sudo(ev: Event, message: str) -> None:
    """``alice : [reason ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash``."""
    m = _SUDO.match(message)
    if m is None:
        return
    ev["user.name"] = m["user"]
    head, sep, command = m["rest"].partition("COMMAND=")
    if sep:
        ev["process.command_line"] = command
    reason = None
    for item in head.split(" ; "):
        key, eq, value = item.strip().partition("=")
        if not eq:
            reason = reason or item.strip() or None
        elif key in _SUDO_KEYS:
            ev[_SUDO_KEYS[key]] = value
    if reason:
        ev["event.reason"] = reason
    _put_spec(ev, SUDO_FAILED if reason else SUDO_OK)


def _pam(ev: Event, message: str) -> None:
    """``pam_unix(sshd:auth): <body>`` or, from old ``prog(pam_unix)`` tags, the bare body."""
    m = _PAM_PREFIX.match(message)
    _apply(ev, PAM, message[m.end():] if m else message)


TABLES: dict[str, Table] = {
    "sshd": SSH, "sshd-session": SSH, "su": SU, "systemd-logind": LOGIND, "login": LOGIN,
    **dict.fromkeys(("useradd", "groupadd", "usermod", "userdel", "groupdel", "groupmod",
                     "passwd", "chpasswd", "gpasswd", "chage", "newusers"), SHADOW),
}
"""Program → the table of its messages (PAM's messages are understood for every program)."""
PROGRAMS = frozenset({*TABLES, "sudo"})


def is_auth(program: str, tag: str, message: str) -> bool:
    """Whether a syslog line belongs to ``linux.auth``: a known program, or PAM speaking."""
    return program in PROGRAMS or "(pam" in tag or message.startswith("pam_")


def refine(ev: Event, program: str, tag: str, message: str) -> None:
    """Add the ``linux.auth`` fields a message carries to a syslog event (in place)."""
    refiner = REFINERS.get(program)
    if refiner is not None:
        refiner(ev, program, tag, message)
    else:  # PAM speaking for another program
        ev["event.dataset"] = DATASET
        _pam(ev, message)
        if FAILURES in ev:
            _repeated(ev)
        _related(ev)


def _refiner(table: Table) -> Callable[[Event, str, str, str], None]:
    """The refiner of a program whose messages ``table`` knows (besides PAM's)."""
    def refine_program(ev: Event, program: str, tag: str, message: str) -> None:
        ev["event.dataset"] = DATASET
        if message.startswith("pam_") or "(pam" in tag:
            _pam(ev, message)
        else:
            _apply(ev, table, message)
        if FAILURES in ev:
            _repeated(ev)
        _related(ev)

    return refine_program


def _refine_sudo(ev: Event, program: str, tag: str, message: str) -> None:
    ev["event.dataset"] = DATASET
    if message.startswith("pam_") or "(pam" in tag:
        _pam(ev, message)
        if FAILURES in ev:
            _repeated(ev)
    else:
        _sudo(ev, message)
    _related(ev)


def _repeated(ev: Event) -> None:
    """rsyslog's ``message repeated M times: [...]`` stands for M lines: M times the failures."""
    times = ev.get("log.syslog.repeat_count")
    if isinstance(times, int) and times > 1:
        ev[FAILURES] = int(ev[FAILURES]) * times


REFINERS = {**{program: _refiner(table) for program, table in TABLES.items()},
            "sudo": _refine_sudo}
"""Program → its refiner, chosen once per line by :mod:`.syslog` (no second dispatch here)."""


def _related(ev: Event) -> None:
    """``related.user`` and ``related.ip`` from the fields set. Hot: the common cases are cheap."""
    user = ev.get("user.name")
    effective = ev.get("user.effective.name")
    extra = ev.get("related.user")
    if effective is None and extra is None:
        if user is not None:
            ev["related.user"] = [user]
    else:
        users = [u for u in (user, effective, *(extra or ())) if u]
        ev["related.user"] = list(dict.fromkeys(users))
    ip = ev.get("source.ip")
    if "destination.ip" in ev:
        ev["related.ip"] = list(dict.fromkeys(x for x in (ip, ev["destination.ip"]) if x))
    elif ip is not None:
        ev["related.ip"] = [ip]

