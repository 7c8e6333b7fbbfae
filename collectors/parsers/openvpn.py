"""OpenVPN server logs → ``openvpn.log`` events.

OpenVPN prefixes a client's messages with its real address (``203.0.113.5:51234 TLS: ...``) and,
once the certificate or user name is known, with its common name (``bob/203.0.113.5:51234
MULTI: ...``). :func:`openvpn_fields` reads that prefix (``source.ip``/``.port``, ``user.name``)
and the messages that carry a meaning:

* ``tls-initial-packet`` (``TLS: Initial packet from [AF_INET]IP:PORT``): network, start;
* ``certificate-verified`` / ``certificate-verify-failed`` (``VERIFY OK: depth=0, CN=bob``,
  ``VERIFY ERROR: ...``): authentication, success / failure; depth 0 names the client;
* ``authentication-succeeded`` (``TLS: Username/Password authentication succeeded for
  username 'bob'``, the auth plugin's ``status=0``): authentication, start, success;
* ``authentication-failed`` (``TLS Auth Error: ...``, ``SENT CONTROL [bob]: 'AUTH_FAILED'``, a
  failed auth plugin or ``--auth-user-pass-verify`` script): authentication, failure;
* ``peer-connection-initiated`` (``[bob] Peer Connection Initiated with [AF_INET]IP:PORT``):
  session, start, success;
* ``virtual-ip-assigned`` (``MULTI_sva: pool returned IPv4=10.8.0.6``, ``MULTI: Learn: ...``,
  ``MULTI: primary virtual IP for ...``): network, connection;
* ``client-disconnected`` (``client-instance exiting``/``restarting``, ``Connection reset``,
  ``Inactivity timeout``): session, end;
* ``tls-error`` (``TLS Error: TLS handshake failed``...): network, failure.

The client's address in the tunnel is ``openvpn.virtual_ip`` (and in ``related.ip``).
Lines come in syslog (program ``openvpn``, or ``ovpn-<instance>`` as Debian's units name it:
:data:`REFINERS`) or in OpenVPN's own log file (``--log``: ``2026-11-24 08:15:00 ...`` or
``Tue Nov 24 08:15:00 2026 ...``, local time): :class:`OpenVpnParser`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from collectors.parsers import generic, linux_auth
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

Refiner = Callable[[Event, str, str, str], None]

_PREFIX = re.compile(r"(?:([^\s/\[\]]{1,256})/)?(?:\[AF_INET6?\])?([0-9A-Fa-f:.]+?)"
                     r"(?::(\d{1,5}))? ")
_PEER = re.compile(r"\[AF_INET6?\]([0-9A-Fa-f:.]+?):(\d{1,5})\b")
_QUOTED = re.compile(r"'([^']*)'")
_CN = re.compile(r"CN=([^,/]+)")
_VIP = re.compile(r"(?:IPv4=|Learn: |primary virtual IP for \S+: )([0-9A-Fa-f:.]+)")
AUTH, SESSION, NET = ("authentication",), ("session",), ("network",)
# (test on the message, event.action, category, type, outcome)
_MEANINGS: tuple[tuple[Callable[[str], bool], str, tuple[str, ...], tuple[str, ...],
                       str | None], ...] = (
    (lambda m: m.startswith("TLS: Initial packet from"), "tls-initial-packet", NET,
     ("connection", "start"), None),
    (lambda m: m.startswith("VERIFY OK"), "certificate-verified", AUTH, ("info",), "success"),
    (lambda m: m.startswith("VERIFY ERROR") or m.startswith("VERIFY X509NAME ERROR"),
     "certificate-verify-failed", AUTH, ("info",), "failure"),
    (lambda m: "authentication succeeded for username" in m or (
        "PLUGIN_AUTH_USER_PASS_VERIFY status=0" in m), "authentication-succeeded", AUTH,
     ("start",), "success"),
    (lambda m: m.startswith("TLS Auth Error") or "AUTH_FAILED" in m or (
        "PLUGIN_AUTH_USER_PASS_VERIFY" in m and ("failed" in m or "status=1" in m)) or (
        "Failed running command (--auth-user-pass-verify)" in m),
     "authentication-failed", AUTH, ("info",), "failure"),
    (lambda m: "Peer Connection Initiated with" in m, "peer-connection-initiated", SESSION,
     ("start",), "success"),
    (lambda m: m.startswith(("MULTI_sva: pool returned", "MULTI: Learn:",
                             "MULTI: primary virtual IP")),
     "virtual-ip-assigned", NET, ("connection",), None),
    (lambda m: "client-instance exiting" in m or "client-instance restarting" in m or (
        m.startswith(("Connection reset", "Inactivity timeout"))),
     "client-disconnected", SESSION, ("end",), None),
    (lambda m: m.startswith(("TLS Error", "TLS_ERROR")), "tls-error", NET, ("connection",),
     "failure"),
)


def openvpn_fields(ev: Event, message: str) -> None:
    """What an OpenVPN message says (its client prefix, then its meaning), into ``ev``."""
    ev["event.dataset"] = "openvpn.log"
    ev["event.module"] = "openvpn"
    ev["event.kind"] = "event"
    ev["observer.product"] = "OpenVPN"
    ev["observer.type"] = "vpn"
    rest = _prefix(ev, message)
    if rest.startswith("[") and (bracket := rest.find("] ")) > 1:
        # "[bob] Peer Connection Initiated", "[bob] Inactivity timeout"
        ev.setdefault("user.name", rest[1:bracket])
        rest = rest[bracket + 2:]
    for test, action, category, kind, outcome in _MEANINGS:
        if test(rest):
            ev["event.action"] = action
            ev["event.category"] = list(category)
            ev["event.type"] = list(kind)
            if outcome is not None:
                ev["event.outcome"] = outcome
            break
    _details(ev, rest)
    ips = [ev[k] for k in ("source.ip", "openvpn.virtual_ip") if k in ev]
    if ips:
        ev["related.ip"] = ips
    if "user.name" in ev:
        ev["related.user"] = [ev["user.name"]]


def _prefix(ev: Event, message: str) -> str:
    """``[cn/]ip:port `` first: the client's real address and name; the rest of the message."""
    m = _PREFIX.match(message)
    if m is None:
        return message
    cn, address, port = m.groups()
    if not generic.is_ip(address):
        if port and generic.is_ip(f"{address}:{port}"):  # an IPv6 address without a port
            address, port = f"{address}:{port}", None
        else:
            return message
    ev["source.ip"] = address
    generic.put_port(ev, "source.port", port)
    if cn and cn != "UNDEF":
        ev["user.name"] = cn
    return message[m.end():]


def _details(ev: Event, rest: str) -> None:
    action = ev.get("event.action")
    if action in ("authentication-succeeded", "authentication-failed", "certificate-verified",
                  "certificate-verify-failed"):
        quoted = _QUOTED.search(rest) if "username" in rest else None
        if quoted is not None and quoted[1]:
            ev["user.name"] = quoted[1]
        elif action.startswith("certificate") and "depth=0" in rest:
            cn = _CN.search(rest)
            if cn is not None:
                ev["tls.client.x509.subject.common_name"] = cn[1]
                ev.setdefault("user.name", cn[1])
        if "SENT CONTROL [" in rest:
            ev.setdefault("user.name", rest.split("SENT CONTROL [", 1)[1].split("]", 1)[0])
        if action.endswith("failed"):
            ev["event.reason"] = rest
    elif action == "virtual-ip-assigned":
        vip = _VIP.search(rest)
        if vip is not None and generic.is_ip(vip[1]):
            ev["openvpn.virtual_ip"] = vip[1]
        if rest.startswith("MULTI: Learn:") and " -> " in rest:
            _prefix(ev, rest.split(" -> ", 1)[1] + " ")
    if "source.ip" not in ev and (peer := _PEER.search(rest)) is not None \
            and generic.is_ip(peer[1]):
        ev["source.ip"] = peer[1]
        generic.put_port(ev, "source.port", peer[2])
    if rest.startswith("MULTI: new connection by client"):
        quoted = _QUOTED.search(rest)
        if quoted is not None:
            ev["user.name"] = quoted[1]


def refine_openvpn(ev: Event, program: str, tag: str, message: str) -> None:
    """Refiner of the ``openvpn`` (``ovpn-*``) syslog programs; PAM's lines (the auth-pam
    plugin) go to :mod:`.linux_auth` as any program's do."""
    if message.startswith("pam_") or "(pam" in tag:
        linux_auth.refine(ev, program, tag, message)
        return
    openvpn_fields(ev, message)


REFINERS: dict[str, Refiner] = {"openvpn": refine_openvpn, "openvpn-server": refine_openvpn}
"""Program → refiner, for :data:`collectors.parsers.syslog.REFINERS`."""
PREFIX_REFINERS: dict[str, Refiner] = {"ovpn-": refine_openvpn}
"""Program prefix → refiner (Debian's ``openvpn@NAME`` units log as ``ovpn-NAME``)."""

# --------------------------------------------------------------------------- the log file

_ISO = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? (?:us=\d+ )?")
_CTIME = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) +(\d{1,2}) "
                    r"(\d\d:\d\d:\d\d) (\d{4}) (?:us=\d+ )?")
_MARKERS = ("TLS", "VERIFY", "MULTI", "AUTH_FAILED", "Peer Connection", "[AF_INET",
            "client-instance", "PLUGIN_CALL", "Initialization Sequence")


class OpenVpnParser:
    """OpenVPN's own log file lines (``--log``/``--log-append``) → ``openvpn.log``; times are
    local (``ctx.tz``). A line without a time (``--suppress-timestamps``) is stamped with the
    time of reading. Syslog lines whose program is not one of :data:`REFINERS` (a custom
    ident, ``--syslog NAME``) are claimed by the markers only OpenVPN writes (``[AF_INET]``,
    ``AUTH_FAILED``, ``Peer Connection Initiated``)."""

    name: ClassVar[str] = "openvpn"
    priority: ClassVar[int] = 14  # before IIS (15), whose sniff takes "yyyy-mm-dd hh:mm:ss a b"
    markers: ClassVar[tuple[str, ...]] = (*_MARKERS, "[AF_INET", "AUTH_FAILED",
                                          "Peer Connection Init")

    def sniff(self, text: str) -> bool:
        """An ISO or ctime time first, then one of OpenVPN's marker words."""
        dated = (text[4:5] == "-" and text[10:11] == " " and text[:4].isdigit()) or (
            text[3:4] == " " and text[7:8] == " " and text[:3] in _DAYS)
        if dated:
            return any(map(text.__contains__, _MARKERS))
        return "[AF_INET" in text or "AUTH_FAILED" in text or "Peer Connection Init" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` for a line with neither time nor marker."""
        line = text.rstrip("\r\n")
        m = _ISO.match(line)
        if m is not None:
            stamp = _local(m[1], "%Y-%m-%d %H:%M:%S", ctx)
        elif (c := _CTIME.match(line)) is not None:
            m = c
            stamp = _local(f"{c[4]} {c[1]} {c[2]} {c[3]}", "%Y %b %d %H:%M:%S", ctx)
        else:
            return _framed(line, ctx)
        ev: Event = {"@timestamp": stamp}
        openvpn_fields(ev, line[m.end():])
        ev["message"] = line[m.end():]
        return ev


def _framed(line: str, ctx: ParseContext) -> Event:
    """A line in syslog framing (any program), or with no time at all."""
    if not any(marker in line for marker in _MARKERS):
        raise ParseError("not an OpenVPN log line")
    from collectors.parsers.syslog import parse_header  # syslog imports this module

    head, message = parse_header(line, ctx)
    message = message.lstrip()
    ev: Event = {"@timestamp": head.get("@timestamp") or format_ts(ctx.now)}
    for key in ("host.name", "host.hostname", "process.name", "process.pid"):
        if key in head:
            ev[key] = head[key]
    openvpn_fields(ev, message)
    ev["message"] = message
    return ev


_DAYS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))


def _local(value: str, layout: str, ctx: ParseContext) -> str:
    try:
        return format_ts(datetime.strptime(value, layout).replace(tzinfo=ctx.tz))
    except (ValueError, OverflowError):
        raise ParseError(f"bad OpenVPN time {value[:30]!r}") from None
