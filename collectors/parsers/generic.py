"""The generic fallback: addresses, ports, users and actions from lines no specific parser reads.

An unknown device should never be a blank. What it writes usually names its peers in one of a few
ways: ``key=value`` pairs (``src=10.0.0.5 dst=203.0.113.9 sport=51234 user=bob action=deny``,
``SourceIP=...``, ``src_ip=...``, ``srcip=1.2.3.4:443``), JSON objects (``{"src_ip": ...}``), or
prose (``from 203.0.113.9 port 22``, ``10.0.0.5:51234 -> 203.0.113.9:443``, ``client 1.2.3.4``,
``user 'bob'``). :func:`extract` reads those into ECS fields; three doors lead to it:

* **syslog lines** that no refiner knew (:func:`enrich`, called by the syslog parser): the fields
  are added and the dataset stays ``syslog``, so that a specific parser (an ASA, a FortiGate...)
  still claims the line in auto-detection, and every rule and pipeline written for ``syslog``
  (Linux ``service: syslog``, ``vsftpd``, ``clamav``...) still sees it;
* **JSON objects** without ``event.dataset`` whose keys name an address: the JSON lines parser
  files them as ``generic.kv`` (:func:`json_dataset`, :func:`refine_json`) instead of ``json``;
* **lines with no header at all** (a relay that strips it) and JSON without a time:
  :class:`GenericKvParser`, the last parser auto-detection tries, makes a ``generic.kv`` event
  stamped with the time of reading (or the line's own ``time=``/``timestamp=`` when it is ISO 8601
  or epoch seconds).

An address goes to ``source.ip`` only when something says it is the source (a key like ``src``,
``client``, ``rhost``; ``from`` before it; the left side of an arrow): a lone address on a line
may as well be the device's own, so it is left out. Values are checked: ``src=gw.example.vn``
gives ``source.domain``, ``src=gateway`` and ``src=999.1.1.1`` nothing. ``related.ip`` and
``related.user`` list what was found.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from soc import jsonutil
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

DATASET = "generic.kv"

# Normalised key (lower case, without "_", "-" and ".") → its role.
_ROLES: dict[str, str] = {}
for _kind, _keys in {
    "src": ("src", "srcip", "srcaddr", "srcaddress", "source", "sourceip", "sourceaddr",
            "sourceaddress", "saddr", "sip", "ipsrc", "client", "clientip", "clientaddr",
            "clientaddress", "cip", "remoteip", "remoteaddr", "remoteaddress", "remotehost",
            "rhost", "rip", "fromip", "peerip", "peeraddr", "attackerip", "callingstationid"),
    "sport": ("sport", "spt", "srcport", "sourceport", "clientport", "remoteport", "rport",
              "peerport", "srcprt"),
    "dst": ("dst", "dstip", "dstaddr", "dstaddress", "dest", "destip", "destaddr",
            "destination", "destinationip", "destinationaddress", "daddr", "dip", "ipdst",
            "serverip", "serveraddr", "localip", "lip", "targetip", "toip"),
    "dport": ("dport", "dpt", "dstport", "destport", "destinationport", "serverport",
              "localport", "lport", "targetport", "dstprt"),
    "user": ("user", "usr", "username", "uname", "login", "loginname", "account",
             "accountname", "suser", "srcuser", "sourceuser", "userid", "logonuser"),
    "action": ("action", "act"),
    "outcome": ("outcome", "result", "status"),
    "proto": ("proto", "protocol", "transport", "ipproto"),
    "snat": ("natsrc", "natsrcip", "srcnat", "srcnatip", "xlatesrc", "transip", "natsource",
             "sourcetranslatedaddress"),
    "snatport": ("natsport", "natsrcport", "srcnatport", "xlatesport"),
    "dnat": ("natdst", "natdstip", "dstnat", "dstnatip", "xlatedst", "natdestination",
             "destinationtranslatedaddress"),
    "dnatport": ("natdport", "natdstport", "dstnatport", "xlatedport"),
    "smac": ("smac", "srcmac", "sourcemac", "clientmac"),
    "dmac": ("dmac", "dstmac", "destinationmac"),
}.items():
    for _key in _keys:
        _ROLES[_key] = _kind

_ADDRESS_ROLES = {"src": "source", "dst": "destination", "snat": "source.nat",
                  "dnat": "destination.nat"}
_PORT_ROLES = {"sport": "source.port", "dport": "destination.port",
               "snatport": "source.nat.port", "dnatport": "destination.nat.port"}
_MAC_ROLES = {"smac": "source.mac", "dmac": "destination.mac"}
_ALLOWED = frozenset(("accept", "accepted", "allow", "allowed", "permit", "permitted", "pass",
                      "passed", "success", "succeeded", "successful", "ok", "granted"))
_DENIED = frozenset(("deny", "denied", "drop", "dropped", "block", "blocked", "reject",
                     "rejected", "fail", "failed", "failure", "refused", "error"))
_IANA = {"1": "icmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp", "58": "ipv6-icmp",
         "132": "sctp"}
_TRANSPORTS = frozenset(("tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "gre", "esp", "ah",
                         "sctp", "igmp"))
_DROP = str.maketrans("", "", "_-.")

# A key starts a word (so a long word is not rescanned at every character); the value is quoted
# or runs to a blank, comma, semicolon or quote.
_KV = re.compile(r"(?<![\w.-])([A-Za-z][\w.-]{0,40}+)=(?:\"([^\"]*+)\"|'([^']*+)'|"
                 r"([^\s,;\"']*+))")
# Prose: the addresses are found first (cheap: an address starts with a digit or holds "::"),
# then the words just before each say what it is.
_V4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")  # its edges checked in _addresses
_V6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:\.\d{1,3}){0,3}")
_SOURCE_WORDS = frozenset(("from", "src", "source", "client", "remote", "peer", "rhost",
                           "attacker"))
_DEST_WORDS = frozenset(("to", "dst", "destination", "dest", "server"))
_NOUNS = frozenset(("ip", "address", "addr", "host"))
_SEPARATORS = " :=\"'"
_SOURCE_HINTS = ("from", "src", "source", "client", "remote", "peer", "rhost", "attacker", "->",
                 "=>", "→")  # in the lower-cased text: without one, no address is a source
_ARROW_BETWEEN = re.compile(r"(?:[:/#]\d{1,5})? ?(?:->|=>|-->|→) ?$")
_PORT_AFTER = re.compile(r"\]?(?:[:/#]| port )(\d{1,5})\b")
_USER = re.compile(r"(?i)\b(?:(?:user(?:name)?|login|account)(?:[:=] ?|\s+(?=['\"<\[]))|"
                   r"(?:for|by) (?:invalid |illegal |unknown )?user )"
                   r"['\"<\[]?([^\s'\"<>\[\],;]{1,128})")
_USER_WORDS = ("user", "login", "account", "User", "Login", "Account", "USER", "LOGIN")
_IP_HINT = re.compile(r"\d\.\d{1,3}\.\d")


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def is_ip(value: str) -> bool:
    """An IPv4 address in dotted decimal (ASCII digits) or an IPv6 address."""
    if ":" not in value:
        return _IPV4.fullmatch(value) is not None
    try:
        ipaddress.IPv6Address(value.partition("%")[0])
    except ValueError:
        return False
    return True


def split_address(value: str) -> tuple[str | None, str | None]:
    """``1.2.3.4``, ``1.2.3.4:443``, ``1.2.3.4/443``, ``1.2.3.4:443:X1`` (SonicWall's zone),
    ``[2001:db8::1]:443``, ``2001:db8::1`` → (address, port); (None, None) when the value holds
    no address."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest[:1] in (":", ".") else ""
        return (host, port or None) if is_ip(host) else (None, None)
    if is_ip(value):
        return value, None
    if value.count(":") >= 2 and "." not in value:  # IPv6 with a port glued on: ambiguous
        return None, None
    host, sep, rest = value.replace("/", ":", 1).partition(":")
    if sep and is_ip(host):
        port = rest.partition(":")[0]
        return host, port if port.isascii() and port.isdigit() else None
    return None, None


def put_port(ev: Event, key: str, value: str | int | None) -> None:
    """A port number 0-65535 under ``key``; anything else is left out."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 5):
            return
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
        ev[key] = value


def put_address(ev: Event, prefix: str, value: str, port: str | None = None) -> bool:
    """An address value under ``prefix`` (``source``...): ``.ip`` (and ``.port`` when the value
    carries one, unless ``port`` says otherwise), else ``.domain`` for a host name. Whether an
    address was put."""
    ip, own_port = split_address(value)
    if ip is not None:
        ev[f"{prefix}.ip"] = ip
        put_port(ev, f"{prefix}.port", port or own_port)
        return True
    if prefix in ("source", "destination") and "." in value and _HOSTNAME.fullmatch(value):
        ev[f"{prefix}.domain"] = value
    return False


_HOSTNAME = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.?){1,8}")


def _role(key: str) -> str | None:
    """The role of a key in any spelling (``SourceIP``, ``src_ip``, ``source-ip``)."""
    try:
        return _KEY_ROLES[key]
    except KeyError:
        if len(_KEY_ROLES) >= 4096:  # keys repeat; attacker-chosen ones must not grow it
            _KEY_ROLES.clear()
        role = _ROLES.get(key.lower().translate(_DROP))
        if role is None and "." in key:  # a nested JSON key: httpRequest.clientIp
            role = _ROLES.get(key.rsplit(".", 1)[1].lower().translate(_DROP))
        _KEY_ROLES[key] = role
        return role


_KEY_ROLES: dict[str, str | None] = {}


def _verdict(ev: Event, value: str) -> None:
    word = value.lower()
    if word in _ALLOWED:
        ev["event.outcome"] = "success"
    elif word in _DENIED:
        ev["event.outcome"] = "failure"


def _put(ev: Event, role: str, value: str) -> None:
    """One recognised pair into the event; the first pair of a role wins."""
    if not value or value in ("-", "N/A", "n/a", "none", "null"):
        return
    prefix = _ADDRESS_ROLES.get(role)
    if prefix is not None:
        if f"{prefix}.ip" not in ev:
            put_address(ev, prefix, value)
    elif role in _PORT_ROLES:
        if _PORT_ROLES[role] not in ev:
            put_port(ev, _PORT_ROLES[role], value)
    elif role == "user":
        ev.setdefault("user.name", value[:256])
    elif role == "action":
        if "event.action" not in ev:
            ev["event.action"] = value[:128]
            _verdict(ev, value)
    elif role == "outcome":
        if "event.outcome" not in ev:
            _verdict(ev, value)
    elif role == "proto":
        proto = _IANA.get(value, value.lower())
        if proto in _TRANSPORTS:
            ev.setdefault("network.transport", proto)
    elif role in _MAC_ROLES:
        ev.setdefault(_MAC_ROLES[role], value.upper().replace(":", "-"))


def from_pairs(pairs: Iterator[tuple[str, str]]) -> Event:
    """The ECS fields the ``(key, value)`` pairs give (keys in any spelling of :data:`_ROLES`)."""
    ev: Event = {}
    for key, value in pairs:
        role = _role(key)
        if role is not None:
            _put(ev, role, value)
    return ev


def _kv_pairs(text: str) -> Iterator[tuple[str, str]]:
    for m in _KV.finditer(text):
        value = m[2] if m[2] is not None else m[3] if m[3] is not None else m[4]
        yield m[1], value


def _prose(ev: Event, text: str) -> None:
    """``from IP [port N]``, ``IP:port -> IP:port``, ``to IP``, ``user 'bob'`` for what the pairs
    did not give."""
    if "source.ip" not in ev:
        low = text.lower()
        found = _addresses(text)
        if found and any(map(low.__contains__, _SOURCE_HINTS)):
            _roles_of(ev, text, low, found)
        if found and "source.ip" not in ev and "destination.ip" not in ev:
            _first_is_source(ev, text, found)
    if "user.name" not in ev and any(map(text.__contains__, _USER_WORDS)):
        user = _USER.search(text)
        if user is not None:
            ev["user.name"] = user[1]


def _addresses(text: str) -> list[tuple[int, int, str]]:
    """(start, end, address) of every address in the text, in order."""
    found = [(m.start(), m.end(), m[0]) for m in _V4.finditer(text)
             if is_ip(m[0]) and not _glued(text, m.start(), m.end())]
    if "::" in text or text.count(":") >= 7:
        found.extend((m.start(), m.end(), m[0]) for m in _V6.finditer(text)
                     if ":" in m[0] and is_ip(m[0]))
        found.sort()
    return found[:32]


def _roles_of(ev: Event, text: str, low: str, found: list[tuple[int, int, str]]) -> None:
    """The source (after ``from``/``src``/``client``..., or left of an arrow) and the
    destination (after ``to``/``dst``..., or right of an arrow) among the addresses."""
    for i, (start, _end, ip) in enumerate(found):
        before = low[max(0, start - 40):start]
        if i and _ARROW_BETWEEN.search(text[found[i - 1][1]:start]) is not None:
            _put_ip(ev, "source", found[i - 1], text)
            _put_ip(ev, "destination", found[i], text)
            return
        if "source.ip" not in ev and _named(before, _SOURCE_WORDS):
            _put_ip(ev, "source", found[i], text)
        elif "source.ip" in ev and "destination.ip" not in ev and ip != ev["source.ip"] \
                and _named(before, _DEST_WORDS):
            _put_ip(ev, "destination", found[i], text)
    if "source.ip" not in ev:
        ev.pop("destination.ip", None)


def _first_is_source(ev: Event, text: str, found: list[tuple[int, int, str]]) -> None:
    """No word names a role, but the line reads as a flow (two addresses, each with its port:
    ``WF ALER SQL_INJECTION 203.0.113.11 51234 10.0.0.5 443``): devices write the peer first,
    so the first is taken as the source and the other as the destination, and
    ``generic.guessed: source`` says it was a guess, not a reading. A line that only lists
    addresses (``has 10.0.0.1, gateway 10.0.0.254``) gets no roles."""
    other = next((item for item in found[1:] if item[2] != found[0][2]), None)
    if other is None:
        return
    ports = [_FLOW_PORT.match(text, item[1]) for item in (found[0], other)]
    if not all(ports):
        return
    for prefix, item, port in zip(("source", "destination"), (found[0], other), ports,
                                  strict=True):
        ev[f"{prefix}.ip"] = item[2]
        put_port(ev, f"{prefix}.port", port[1] if port else None)
    ev["generic.guessed"] = "source"


_FLOW_PORT = re.compile(r"[ :/#](\d{1,5})\b(?![.:]\d)")


def _glued(text: str, start: int, end: int) -> bool:
    """Whether a dotted quad is part of a longer token (``1.2.3.4.5``, ``v1.2.3.4``)."""
    before = text[start - 1:start] if start else ""
    after = text[end:end + 2]
    return (before.isalnum() or before == ".") or (after[:1] == "." and after[1:].isdigit()) \
        or after[:1].isalnum()


def _named(before: str, words: frozenset[str]) -> bool:
    """Whether the (lower-case) text before an address ends with one of ``words``, maybe then
    ``ip``/``address``/``host``, and a separator: ``from ``, ``src=``, ``client: '``, ``source
    ip ``, ``from host.example[`` (Postfix), ``from [af_inet]`` (OpenVPN)."""
    if before.endswith("[af_inet]") or before.endswith("[af_inet6]"):
        before = before[:before.rfind("[")]
    elif before.endswith("[") and before[-2:-1] not in ("", " "):
        before = before[:before.rfind(" ", 0, len(before) - 1) + 1]  # "from host.example["
    elif before.endswith("["):
        before = before[:-1]
    tail = before.rstrip(_SEPARATORS)
    if len(tail) == len(before):
        return False  # glued to a word: "xfrom1.2.3.4"
    last = tail[tail.rfind(" ") + 1:]
    if last in _NOUNS:
        tail = tail[:-len(last)].rstrip()
        last = tail[tail.rfind(" ") + 1:]
    return last in words


def _put_ip(ev: Event, prefix: str, found: tuple[int, int, str], text: str) -> None:
    _start, end, ip = found
    ev[f"{prefix}.ip"] = ip
    port = _PORT_AFTER.match(text, end)
    if port is not None:
        put_port(ev, f"{prefix}.port", port[1])


def _related(ev: Event) -> None:
    ips = [ev[k] for k in ("source.ip", "destination.ip", "source.nat.ip",
                           "destination.nat.ip") if k in ev]
    if ips:
        ev["related.ip"] = list(dict.fromkeys(ips))
    if "user.name" in ev:
        ev["related.user"] = [ev["user.name"]]


def extract(text: str) -> Event:
    """The fields a message gives: its ``key=value`` pairs, a JSON object, then its prose."""
    stripped = text.strip()
    if stripped[:1] == "{":
        obj = _json(stripped)
        if obj is not None:
            found = from_pairs(_walk(obj))
            _related(found)
            return found
    found = from_pairs(_kv_pairs(text)) if "=" in text else {}
    _prose(found, text)
    _related(found)
    return found


def enrich(ev: Event, message: str) -> None:
    """Add what :func:`extract` finds in a syslog message to its event, keeping what the event
    already has. The dataset is left as it is (see the module's notes)."""
    if _IP_HINT.search(message) is None and "::" not in message \
            and not any(map(message.__contains__, _USER_WORDS)):
        return  # no address and no user named: nothing worth finding (most lines, cheaply)
    for key, value in extract(message).items():
        ev.setdefault(key, value)


def _json(text: str) -> dict[str, Any] | None:
    try:
        obj = jsonutil.loads(text)
    except ValueError:  # json.JSONDecodeError is one
        return None
    return obj if isinstance(obj, dict) else None


def _walk(obj: Mapping[str, Any], prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """(key, value) of a JSON object's scalars: the full dotted path, then its last part."""
    if depth > 8:
        return
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _walk(value, f"{path}.", depth + 1)
        elif isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value)
            yield (path if _role(path) else key), text


# --------------------------------------------------------------------------- JSON lines


def json_dataset(ev: Event) -> str | None:
    """Detector for :class:`~collectors.parsers.jsonl.JsonLinesParser`: ``generic.kv`` for a JSON
    object (flattened, without ``event.dataset``) that names an address in a key of its own (not
    ECS's ``source.ip``, which needs no help)."""
    for key, value in ev.items():
        if isinstance(value, str) and key not in _ECS_KEYS and _role(key) in _ADDRESS_ROLES \
                and split_address(value)[0] is not None:
            return DATASET
    return None


_ECS_KEYS = frozenset(("source.ip", "destination.ip", "source.address", "destination.address",
                       "client.ip", "server.ip", "source.nat.ip", "destination.nat.ip"))


def refine_json(ev: Event, ctx: ParseContext) -> None:
    """Refiner of ``generic.kv`` JSON events: ECS fields from the object's own keys, without
    overwriting any field it already has."""
    pairs = ((k, str(v)) for k, v in list(ev.items())
             if isinstance(v, str | int) and not isinstance(v, bool) and k not in _ECS_KEYS)
    found = from_pairs(pairs)
    _related(found)
    for key, value in found.items():
        ev.setdefault(key, value)
    ev.setdefault("event.kind", "event")


# --------------------------------------------------------------------------- raw lines

_TIME_KEYS = ("timestamp", "time", "datetime", "eventtime", "ts", "rt")


class GenericKvParser:
    """Lines no other parser reads, with ``key=value`` pairs or a JSON object that name an
    address, a port or a user → ``generic.kv``. Tried last: it is a carrier of every other
    format, so that a line a specific parser claims is never kept generic."""

    name: ClassVar[str] = "generic"
    priority: ClassVar[int] = 90
    carrier: ClassVar[bool] = True
    generic_dataset: ClassVar[str] = DATASET

    def sniff(self, text: str) -> bool:
        """An ``=``, or a ``{`` first."""
        return "=" in text or text.lstrip()[:1] == "{"

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` when nothing in it names an address or user."""
        from collectors.parsers.syslog import parse_header  # syslog imports this module

        head, rest = parse_header(text.strip(), ctx)
        rest = rest.strip()
        obj = _json(rest) if rest[:1] == "{" else None
        if obj is not None:
            pairs = list(_walk(obj))
        elif "=" in rest:
            pairs = list(_kv_pairs(rest))
        else:
            raise ParseError("no key=value pairs or JSON object (generic fallback)")
        found = from_pairs(iter(pairs))
        if obj is None:
            _prose(found, rest)
        if not any(k in found for k in ("source.ip", "destination.ip", "user.name")):
            raise ParseError("no address or user among its keys (generic fallback)")
        _related(found)
        ev: Event = {"@timestamp": head.get("@timestamp") or _own_time(pairs, ctx),
                     "event.dataset": DATASET, "event.module": "generic", "event.kind": "event"}
        ev.update({k: v for k, v in head.items() if k != "@timestamp"})
        ev.update(found)
        ev["message"] = rest
        return ev


def _own_time(pairs: list[tuple[str, str]], ctx: ParseContext) -> str:
    """The line's ``timestamp=``/``time=``... when it is ISO 8601 or epoch seconds or
    milliseconds; else the time of reading."""
    values = {k.lower(): v for k, v in pairs}
    if "date" in values and "time" in values:
        values["datetime"] = f"{values['date']}T{values['time']}"
    for key in ("datetime", *_TIME_KEYS):
        value = values.get(key)
        if value:
            stamp = _stamp(value, ctx)
            if stamp is not None:
                return stamp
    return format_ts(ctx.now)


def _stamp(value: str, ctx: ParseContext) -> str | None:
    try:
        if value.isascii() and value.isdigit() and 9 <= len(value) <= 13:
            seconds = int(value) / (1000 if len(value) > 10 else 1)
            return format_ts(datetime.fromtimestamp(seconds, UTC))
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=ctx.tz))
    except (ValueError, OverflowError, OSError):
        return None
