"""How Cisco messages are read: a small template language, its field vocabulary, and what each
kind of message means in ECS terms. The tables themselves are in :mod:`.cisco_asa_messages` (ASA,
FTD, PIX, FWSM) and :mod:`.cisco_ios` (IOS).

A **template** is a regular expression, matched at the start of the message text, in which
``{name}`` stands for a field of :data:`VOCABULARY` with its usual pattern (``{src}`` an address,
``{sport}`` a port, ``{src_if}`` an interface name...) and ``{name:regex}`` for the same field with
a pattern of its own (``'{user:[^']*}'``). A literal space matches one or more spaces (Cisco pads
some messages: ``flags SYN  on interface``), unless a quantifier follows it (`` ?``). Each field
knows where its value goes: ``{src}`` becomes ``source.ip`` when it is an address and
``source.domain`` when it is a name (ASA network objects, FQDNs), ``{user}`` becomes ``user.name``
and ``source.user.name``... so that a table entry is one line a reader can check against Cisco's
message reference and extend.

A :class:`Message` adds the message's ``event.action`` and its :class:`Kind` (``event.category``,
``event.type``, ``event.outcome``); ``{verdict}`` in a template (``permitted``/``denied``...)
overrides the outcome, and ``swap=True`` marks the messages whose ``outbound`` form names the
inside end second (``Built outbound TCP connection``): the ends are swapped so that ``source``
is always the end that started the connection.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from collectors.parsers.network import IANA
from soc.ecs import Event

Setter = Callable[[Event, str, str], None]
"""``set(event, namespace, value)``: puts one matched value into the event; ``namespace`` is the
dataset's own prefix (``cisco.asa``, ``cisco.ftd``, ``cisco.ios``)."""

# An IPv6 address (two colons at least), else a word without the characters that delimit
# addresses in Cisco messages (``/port``, ``(mapped)``, ``if:addr``, ``<ip>``, quotes).
ADDR = r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*|[^\s/(),:<>\[\]'\"=]+"
# An interface name (ASA ``nameif``: ``outside``, ``NP Identity Ifc``), never the first groups
# of an IPv6 address (``fe80:1::5`` is no interface ``fe80``).
IFACE = r"(?![0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{0,4}:)[^:/()\s,][^:/(),]*?"
PORT = r"\d{1,5}"
USER = r"[^()]*(?:\([^()]*\)[^()]*)?"  # an identity firewall user: LOCAL\u, DOM\u, "u, 12:Tag"

_EMPTY_USERS = frozenset(("", "none", "(none)", "unknown", "not found", "n/a", "-",
                          "no authentication required"))
_NOT_ADDRESSES = frozenset(("none", "unknown", "console", "n/a", "-", "any", "serial"))
_OK = frozenset(("permitted", "permit", "est-allowed", "allowed", "allow", "accept", "accepted",
                 "succeeded", "successful", "success", "passed", "ok", "trust", "fastpath",
                 "granted"))
_FAIL = frozenset(("denied", "deny", "rejected", "failed", "failure", "dropped", "drop", "block",
                   "blocked", "reset", "reject", "discarded"))


@lru_cache(maxsize=8192)
def ip_version(value: str) -> int:
    """4 or 6 for an IP address, 0 for anything else (Elasticsearch's ``ip`` type refuses it)."""
    if not value or len(value) > 45 or not (value[0].isdigit() or ":" in value):
        return 0
    try:
        return ipaddress.ip_address(value).version
    except ValueError:
        return 0


def put_address(ev: Event, side: str, value: str) -> bool:
    """``<side>.ip`` for an address, ``<side>.domain`` for a name (an ASA network object or an
    FQDN); nothing for the words Cisco writes for "no address". True when an IP was put."""
    value = value.rstrip(".")  # the end of a sentence: "Connection from 10.0.0.5."
    if ip_version(value):
        ev[f"{side}.ip"] = value
        return True
    if value.lower() not in _NOT_ADDRESSES and not value.isdecimal():
        ev[f"{side}.domain"] = value
    return False


def put_user(ev: Event, prefix: str, value: str) -> str | None:
    """An identity as Cisco writes it (``LOCAL\\admin``, ``CORP\\jdoe``, ``jdoe@corp.vn``,
    ``jdoe, 12:Staff``) → ``<prefix>.name`` (and ``.domain``, ``.email``); the name, or None for
    an empty or masked one (``*****``, ``???``)."""
    name = value.strip().strip("'\"").strip()
    if "," in name:  # a Security Group Tag follows the user: "jdoe, 12:Staff"
        name = name.split(",", 1)[0].strip()
    if name.lower() in _EMPTY_USERS or not name.strip("*?"):
        return None
    domain = None
    if "\\" in name:
        domain, _, name = name.rpartition("\\")
        domain = domain.rpartition("\\")[2]  # LOCAL\CORP\jdoe
        if domain.upper() == "LOCAL":
            domain = None
    elif "@" in name and not name.startswith("@"):
        ev[f"{prefix}.email"] = name
        name, _, domain = name.partition("@")
    if not name:
        return None
    ev[f"{prefix}.name"] = name
    if domain:
        ev[f"{prefix}.domain"] = domain
    return name


def put_transport(ev: Event, value: str) -> None:
    """``network.transport`` (lower case; an IANA number becomes its name as well)."""
    proto = value.lower()
    if proto.isdecimal():
        ev["network.iana_number"] = proto
        proto = IANA.get(proto, proto)
    elif proto in ("icmp6", "icmpv6"):
        proto = "ipv6-icmp"
    if proto not in ("ip", "ipv4", "ipv6"):  # "Deny IP spoof": no transport
        ev["network.transport"] = proto


def hms_seconds(value: str) -> int | None:
    """``1:23:45``, ``0h:05m:12s``, ``12`` → seconds."""
    total = 0
    for part in value.replace(" ", "").split(":"):
        digits = part.rstrip("hmsd")
        if not digits.isdecimal() or len(digits) > 12:
            return None
        total = total * 60 + int(digits)
    return total


# --------------------------------------------------------------------------- the vocabulary


def _to(key: str) -> Setter:
    def put(ev: Event, ns: str, value: str) -> None:
        ev[key] = value
    return put


def _ns(key: str) -> Setter:
    def put(ev: Event, ns: str, value: str) -> None:
        ev[f"{ns}.{key}"] = value
    return put


def _int(key: str, own: bool = False) -> Setter:
    def put(ev: Event, ns: str, value: str) -> None:
        if value.isdecimal() and len(value) <= 18:
            ev[f"{ns}.{key}" if own else key] = int(value)
    return put


def _addr(side: str) -> Setter:
    def put(ev: Event, ns: str, value: str) -> None:
        put_address(ev, side, value)
    return put


def _if_unset(side: str) -> Setter:
    """An address for ``side`` unless the template already gave one (an AAA server)."""
    def put(ev: Event, ns: str, value: str) -> None:
        if f"{side}.ip" not in ev and f"{side}.domain" not in ev:
            put_address(ev, side, value)
        ev[f"{ns}.aaa_server"] = value
    return put


def _domain(side: str) -> Setter:
    def put(ev: Event, ns: str, value: str) -> None:
        value = value.strip()
        if "." in value and "/" not in value and not ip_version(value):
            ev[f"{side}.domain"] = value
    return put


def _user(ev: Event, ns: str, value: str) -> None:
    name = put_user(ev, "user", value)
    if name is not None:
        ev["source.user.name"] = name


def _side_user(side: str) -> Setter:
    def put(ev: Event, ns: str, value: str) -> None:
        put_user(ev, f"{side}.user", value)
    return put


def _admin(ev: Event, ns: str, value: str) -> None:
    """The administrator who did something on the device: ``server.user.name`` (as Elastic
    names it) and ``user.name`` unless the message names a subject user too."""
    name = put_user(ev, "server.user", value)
    if name is not None:
        ev.setdefault("user.name", name)


def _aaa_user(ev: Event, ns: str, value: str) -> None:
    put_user(ev, "user", value)


def _proto(ev: Event, ns: str, value: str) -> None:
    put_transport(ev, value)


def _direction(ev: Event, ns: str, value: str) -> None:
    ev["network.direction"] = value.lower()


def _duration(ev: Event, ns: str, value: str) -> None:
    seconds = hms_seconds(value)
    if seconds is not None:
        ev["event.duration"] = seconds * 1_000_000_000


def _service(ev: Event, ns: str, value: str) -> None:
    """``/ssh`` or ``/22`` after an address: a port when it is a number, else the protocol."""
    if value.isdecimal():
        _int("destination.port")(ev, ns, value)
    else:
        ev["network.protocol"] = value.lower()


def _reason(ev: Event, ns: str, value: str) -> None:
    value = value.strip().rstrip(".").strip()
    if value:
        ev["event.reason"] = value


def _tls(ev: Event, ns: str, value: str) -> None:
    m = re.fullmatch(r"([A-Za-z]+?)v?([\d.]*)", value)
    if m is not None:
        ev["tls.version_protocol"] = m[1].lower()
        if m[2]:
            ev["tls.version"] = m[2]


def _object(ev: Event, ns: str, value: str) -> None:
    """The object of a threat-detection drop rate (733100): a host (the source of the dropped
    packets), or a kind of drop (``Scanning``, ``SYN attck``, ``RDP 3389``)."""
    ev[f"{ns}.burst.object"] = value
    if ip_version(value):
        ev["source.ip"] = value


def _dap(ev: Event, ns: str, value: str) -> None:
    records = [r.strip() for r in value.split(",") if r.strip()]
    if records:
        ev[f"{ns}.dap_records"] = records


def _verdict(ev: Event, ns: str, value: str) -> None:
    ev["_verdict"] = value  # applied by categorise(), after the message's own kind


VOCABULARY: dict[str, tuple[str, Setter]] = {
    # the two ends of a connection: interface, address, port, mapped (NAT) address and port,
    # identity-firewall user
    "src_if": (IFACE, _to("observer.ingress.interface.name")),
    "dst_if": (IFACE, _to("observer.egress.interface.name")),
    "src": (ADDR, _addr("source")),
    "dst": (ADDR, _addr("destination")),
    "sport": (PORT, _int("source.port")),
    "dport": (PORT, _int("destination.port")),
    "src_nat": (ADDR, _addr("source.nat")),
    "dst_nat": (ADDR, _addr("destination.nat")),
    "src_nat_port": (PORT, _int("source.nat.port")),
    "dst_nat_port": (PORT, _int("destination.nat.port")),
    "src_user": (USER, _side_user("source")),
    "dst_user": (USER, _side_user("destination")),
    "src_domain": (r"[^,\s]+", _domain("source")),
    "dst_domain": (r"[^,\s]+", _domain("destination")),
    "mac": (r"[0-9A-Fa-f.:-]{11,17}", _to("source.mac")),
    "service": (r"[\w-]+", _service),
    "proto": (r"[\w-]+", _proto),
    "dir": (r"[Ii]nbound|[Oo]utbound", _direction),
    # who: the user the message is about, an administrator, an AAA name after a connection,
    # the remote end of a VPN (its client or peer: the source), the AAA server asked
    "user": (r"\S+", _user),
    "admin": (r"\S+", _admin),
    "aaa_user": (r"[^()]*", _aaa_user),
    "peer": (ADDR, _addr("source")),
    "server": (ADDR, _if_unset("destination")),
    "group": (r"[^,\s]+", _to("source.user.group.name")),
    # the connection and the verdict
    "conn": (r"\d+", _ns("connection_id")),
    "duration": (r"\d+:\d\d:\d\d|[\dhms:]+", _duration),
    "bytes": (r"\d+", _int("network.bytes")),
    "bytes_in": (r"\d+", _int("source.bytes")),
    "bytes_out": (r"\d+", _int("destination.bytes")),
    "verdict": (r"[\w-]+", _verdict),
    "acl": (r"[^\s\"]+", _to("rule.name")),
    "filter_list": (r"\S+", _to("rule.ruleset")),
    "reason": (r".+", _reason),
    "initiator": (r"\S+", _ns("termination_initiator")),
    "icmp_type": (r"\d+", _int("icmp_type", own=True)),
    "icmp_code": (r"\d+", _int("icmp_code", own=True)),
    "url": (r"\S+", _to("url.original")),
    "file": (r".+", _to("file.path")),
    "ua": (r".+", _to("user_agent.original")),
    "tls": (r"\S+", _tls),
    # threat detection, botnet filter, IPS signatures
    "sig": (r"\d+", _to("rule.id")),
    "signame": (r".+?", _to("rule.name")),
    "threat_level": (r"[^,]+", _ns("threat_level")),
    "threat_category": (r".+", _ns("threat_category")),
    "object": (r"[^\]]*?", _object),
    "rate_id": (r"\S+", _ns("burst.id")),
    # configuration, accounts, VPN sessions
    "cmd": (r".*", _ns("command_line_arguments")),
    "priv_old": (r"\d+", _int("privilege.old", own=True)),
    "priv_new": (r"\d+", _int("privilege.new", own=True)),
    "policy": (r"[^\s()]+", _ns("group_policy")),
    "aaa_group": (r"\S+", _ns("aaa_server_group")),
    "session_type": (r"[^,.\s]+", _ns("session_type")),
    "session": (r"\S+", _ns("session_id")),
    "assigned": (ADDR, _ns("assigned_ip")),
    "assigned6": (r"[0-9A-Fa-f:.]*", _ns("assigned_ipv6")),
    "pool": (r"\S+", _ns("pool_name")),
    "dap": (r".+", _dap),
    "peer_type": (r"\S+", _ns("peer_type")),
    "unit": (r"Primary|Secondary", _ns("failover_unit")),
    "iface": (r"[^,\s]+", _ns("interface_name")),
    "state": (r"[\w ]+?", _ns("state")),
    "cfgsrc": (r"\S+", _ns("config_source")),
    "applet": (r"[^:]+", _ns("eem.applet")),
    "applet_text": (r".*", _ns("eem.text")),
}
"""Field name → (its usual pattern, where its value goes)."""

_TOKEN = re.compile(r"\{([a-z_0-9]+)(?::((?:[^{}]|\{\d*,?\d*\})+))?\}")


def compile_template(template: str) -> re.Pattern[str]:
    """A template → its regular expression (see the module's docstring)."""
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        out.append(_spaces(template[pos:m.start()]))
        name, own = m[1], m[2]
        if name not in VOCABULARY:
            raise ValueError(f"unknown field {{{name}}} in template {template!r}")
        out.append(f"(?P<{name}>{own if own is not None else VOCABULARY[name][0]})")
        pos = m.end()
    out.append(_spaces(template[pos:]))
    return re.compile("".join(out))


def _spaces(literal: str) -> str:
    return re.sub(r" (?![?*+{])", " +", literal)


# --------------------------------------------------------------------------- meanings


@dataclass(frozen=True)
class Kind:
    """``event.category``, ``event.type`` and ``event.outcome`` of a kind of message;
    ``alert``: ``event.kind`` is ``alert`` (a signature or threat-detection hit)."""

    category: tuple[str, ...]
    type: tuple[str, ...]
    outcome: str | None = None
    alert: bool = False


DENY = Kind(("network",), ("connection", "denied"), "failure")
ALLOW = Kind(("network",), ("connection", "allowed"), "success")
START = Kind(("network",), ("connection", "start", "allowed"), "success")
END = Kind(("network",), ("connection", "end"))
CONN = Kind(("network",), ("connection", "info"))
CONN_FAIL = Kind(("network",), ("connection", "info"), "failure")
INFO = Kind(("network",), ("info",))
INFO_FAIL = Kind(("network",), ("info",), "failure")
LOGIN = Kind(("authentication",), ("start",), "success")
LOGIN_FAIL = Kind(("authentication",), ("info",), "failure")
AUTH_INFO = Kind(("authentication",), ("info",))
AUTH_OK = Kind(("authentication",), ("info",), "success")
SESSION_START = Kind(("authentication", "session"), ("start",), "success")
SESSION_END = Kind(("session",), ("end",))
VPN_START = Kind(("network", "session"), ("connection", "start"), "success")
VPN_END = Kind(("network", "session"), ("connection", "end"))
VPN_INFO = Kind(("network", "session"), ("connection", "info"))
VPN_FAIL = Kind(("network", "session"), ("connection", "denied"), "failure")
CONFIG = Kind(("configuration",), ("change",), "success")
CONFIG_INFO = Kind(("configuration",), ("info",), "success")
USER_ADDED = Kind(("iam",), ("user", "creation"), "success")
USER_DELETED = Kind(("iam",), ("user", "deletion"), "success")
USER_CHANGED = Kind(("iam",), ("user", "change"), "success")
NAT = Kind(("network",), ("connection", "creation"), "success")
NAT_END = Kind(("network",), ("connection", "deletion"), "success")
THREAT = Kind(("intrusion_detection", "network"), ("info",), alert=True)
THREAT_DENY = Kind(("intrusion_detection", "network"), ("denied",), "failure", alert=True)
WEB_ALLOW = Kind(("network", "web"), ("access", "allowed"), "success")
WEB_DENY = Kind(("network", "web"), ("access", "denied"), "failure")
FILE_ACCESS = Kind(("network", "file"), ("access",), "success")
HOST_INFO = Kind(("host",), ("info",))
HOST_CHANGE = Kind(("host",), ("change",))
HOST_ERROR = Kind(("host",), ("error",), "failure")


@dataclass(frozen=True)
class Message:
    """One message id: its ``event.action``, its :class:`Kind`, its templates (tried in order),
    whether its ``outbound`` form is swapped, fields it always sets (``const``), and the
    ``rule.name`` of an alert that names no signature (``title``; ``rule.id`` is then the
    message id), so that the device's alert has a stable title."""

    kind: Kind
    action: str
    patterns: tuple[re.Pattern[str], ...] = ()
    swap: bool = False
    const: Mapping[str, str] = field(default_factory=dict)
    title: str | None = None


def msg(kind: Kind, action: str, *templates: str, swap: bool = False,
        const: Mapping[str, str] | None = None, title: str | None = None) -> Message:
    """A :class:`Message` from its templates."""
    return Message(kind, action, tuple(compile_template(t) for t in templates), swap,
                   dict(const or {}), title)


def same(ids: Iterable[str], message: Message) -> dict[str, Message]:
    """The same message for several ids (``302013``/``302015``/``302035``: TCP, UDP, SCTP)."""
    return dict.fromkeys(ids, message)


# --------------------------------------------------------------------------- applying


def put_groups(ev: Event, ns: str, m: re.Match[str]) -> None:
    """Every field a template matched, through its setter."""
    for name, value in m.groupdict().items():
        if value:
            VOCABULARY[name][1](ev, ns, value)


def categorise(ev: Event, kind: Kind | None, action: str | None) -> None:
    """``event.category``/``.type``/``.outcome``/``.action`` of a message; a ``{verdict}``
    the template matched decides the outcome (and, for traffic, ``allowed``/``denied``)."""
    if kind is not None:
        ev["event.category"] = list(kind.category)
        ev["event.type"] = list(kind.type)
        if kind.outcome:
            ev["event.outcome"] = kind.outcome
        if kind.alert:
            ev["event.kind"] = "alert"
    if action:
        ev["event.action"] = action
    verdict = ev.pop("_verdict", None)
    if verdict is not None:
        _apply_verdict(ev, str(verdict))


def _apply_verdict(ev: Event, verdict: str) -> None:
    word = verdict.split()[0].lower() if verdict.split() else ""
    outcome = "success" if word in _OK else "failure" if word in _FAIL else None
    if outcome is None:
        return
    ev["event.outcome"] = outcome
    categories = ev.get("event.category") or []
    if "network" in categories or "web" in categories:
        types = [t for t in ev.get("event.type") or [] if t not in ("allowed", "denied")]
        types.append("allowed" if outcome == "success" else "denied")
        ev["event.type"] = types


_SWAP = (("source.", "destination."), ("observer.ingress.", "observer.egress."))


def swap_ends(ev: Event) -> None:
    """Exchange source and destination (with their NAT, user and interface fields)."""
    for a, b in _SWAP:
        moved = {k: ev.pop(k) for k in [k for k in ev if k.startswith((a, b))]}
        for key, value in moved.items():
            ev[b + key[len(a):] if key.startswith(a) else a + key[len(b):]] = value


def drop_untranslated(ev: Event) -> None:
    """The mapped address and port Cisco writes even without NAT (``10.0.0.5/80
    (10.0.0.5/80)``): ``*.nat.*`` only when something was translated (as Elastic does)."""
    for side in ("source", "destination"):
        if (f"{side}.nat.ip" in ev and ev[f"{side}.nat.ip"] == ev.get(f"{side}.ip")
                and ev.get(f"{side}.nat.port") == ev.get(f"{side}.port")):
            ev.pop(f"{side}.nat.ip")
            ev.pop(f"{side}.nat.port", None)


def settle_peer(ev: Event) -> None:
    """A LAN-to-LAN tunnel group is named by its peer's address (``Group = 203.0.113.5``): that
    address is the source when the message names no other."""
    group = ev.get("source.user.group.name")
    if "source.ip" not in ev and isinstance(group, str) and ip_version(group):
        ev["source.ip"] = group


def settle_user(ev: Event) -> None:
    """``user.name`` from the source's (else the destination's) identity-firewall user."""
    if "user.name" not in ev:
        for side in ("source", "destination"):
            name = ev.get(f"{side}.user.name")
            if name:
                ev["user.name"] = name
                if f"{side}.user.domain" in ev:
                    ev["user.domain"] = ev[f"{side}.user.domain"]
                return
