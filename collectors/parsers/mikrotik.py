"""MikroTik RouterOS syslog → ``mikrotik.routeros`` events: firewall rules with ``log=yes``
and the router's own logins.

A firewall line (``/ip firewall filter`` or ``nat`` ... ``log=yes log-prefix=...``), after the
syslog header and the topics RouterOS may print (``firewall,info``):

``DROP-SSH input: in:ether1 out:(unknown 0), connection-state:new src-mac 00:0c:29:aa:bb:cc,
proto TCP (SYN), 203.0.113.9:51234->192.168.88.1:22, len 60``

- the log prefix (``DROP-SSH``, may be empty) is ``rule.name``; its verdict word (drop, reject,
  block, deny, accept, allow) is ``event.action``, as for netfilter;
- the chain (``input``, ``forward``, ``output``, ``srcnat``, ``dstnat`` or a custom one) is
  ``mikrotik.chain``; ``in:``/``out:`` the interfaces (``(unknown 0)`` is none);
- ``proto TCP (SYN)`` the transport and TCP flags; ``proto ICMP (type 8, code 0)`` the ICMP
  type and code; the flow ``address:port->address:port`` (no port for ICMP; IPv6 in
  brackets, or bare without a port);
- ``NAT (a:p->b:p)->c:p`` (source NAT: a translated to b) or ``NAT a:p->(b:p->c:p)``
  (destination NAT: b translated to c) fill ``source.nat.*``/``destination.nat.*``;
- ``len N`` is ``network.bytes``.

Logins (topics ``system,info,account`` or ``system,error,critical``): ``user admin logged in
from 192.168.88.10 via winbox``, ``user admin logged out from ... via ssh``, ``login failure
for user admin from 203.0.113.9 via ssh`` → ``authentication`` events with ``user.name``,
``source.ip`` and ``network.protocol`` (the service).
"""

from __future__ import annotations

import re
from typing import ClassVar

from collectors.parsers.devices import event_time, put_int, put_ip, split_host_port
from collectors.parsers.network import firewall_event, put_syslog, put_verdict
from collectors.parsers.syslog import parse_header
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

_RULE = re.compile(r"(?:^|\s)(?P<chain>[\w-]+): in:(?P<in>\(unknown \d+\)|\S*?) "
                   r"out:(?P<out>\(unknown \d+\)|\S*?),")
_PROTO = re.compile(r"proto (?P<proto>[\w-]+)(?: \((?P<info>[^)]{0,64})\))?, "
                    r"(?P<src>[^\s,>-]+)(?:->(?P<dst>[^\s,]+))?")
_SRC_NAT = re.compile(r"NAT \((?P<a>[^\s,]+?)->(?P<b>[^\s,)]+)\)->(?P<c>[^\s,]+)")
_DST_NAT = re.compile(r"NAT (?P<a>[^\s,(]+?)->\((?P<b>[^\s,]+?)->(?P<c>[^\s,)]+)\)")
_MAC = re.compile(r"src-mac (?P<mac>[0-9A-Fa-f:]{17})")
_LEN = re.compile(r", len (?P<len>\d+)")
_STATE = re.compile(r"connection-state:(?P<state>[\w,]+)")
_ICMP = re.compile(r"type (?P<type>\d+), code (?P<code>\d+)")
_VERDICT = re.compile(r"(?i)(?<![a-z])(drop|reject|block|deny|accept|allow)")
_LOGIN = re.compile(r"(?:(?P<failure>login failure for user) (?P<user>.{1,64}?)|user "
                    r"(?P<user2>.{1,64}?) "
                    r"logged (?P<inout>in|out)) (?:from (?P<ip>[0-9A-Fa-f.:\[\]]+) )?"
                    r"via (?P<via>[\w-]+)")
_TOPICS = re.compile(r"^(?:[a-z]+,){1,4}[a-z]+ ")  # "firewall,info ", "system,error,critical "


class MikroTikParser:
    """RouterOS firewall log lines and login messages → ``mikrotik.routeros``."""

    name: ClassVar[str] = "mikrotik"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = (" in:", " via ")  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """A rule's `` in:``, `` out:`` and ``proto``, or a login ``via`` a service."""
        if " in:" in text and " out:" in text and "proto " in text:
            return True
        return " via " in text and ("login failure for user " in text or " logged " in text)

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        text = text.rstrip("\r\n")
        head, rest = parse_header(text, ctx)
        start = len(text) - len(rest)
        rule = _RULE.search(text)  # in the whole line: a header reader takes "input:" for a tag
        if rule is not None:
            ev = _event(head, ctx)
            prefix = _TOPICS.sub("", text[start:rule.start()].lstrip(), count=1)
            _firewall(ev, prefix, text[rule.end():], rule)
            return ev
        login = _LOGIN.search(_TOPICS.sub("", rest, count=1))
        if login is not None:
            ev = _event(head, ctx)
            _login(ev, login)
            return ev
        raise ParseError("not a MikroTik firewall or login line (no 'chain: in:... out:...,' "
                         "and no 'logged in/out ... via' or 'login failure for user')")


def _event(head: Event, ctx: ParseContext) -> Event:
    ev = firewall_event(event_time(head, ctx), "mikrotik.routeros", "MikroTik", "RouterOS")
    ev["event.module"] = "mikrotik"
    ev["observer.type"] = "router"
    put_syslog(ev, head)
    host = head.get("host.name")
    if host and "," not in str(host):  # "firewall,info" read as a host: a line without one
        ev["observer.name"] = host
    return ev


def _firewall(ev: Event, prefix: str, tail: str, rule: re.Match[str]) -> None:
    prefix = prefix.strip().rstrip(":")
    ev["mikrotik.chain"] = rule["chain"]
    ev["event.type"] = ["connection"]
    ev["event.action"] = "log"
    if prefix:
        ev["rule.name"] = prefix
        verdict = _VERDICT.search(prefix)
        if verdict is not None:
            put_verdict(ev, verdict[1].lower())
    for side, name in (("ingress", rule["in"]), ("egress", rule["out"])):
        if name and not name.startswith("(unknown"):
            ev[f"observer.{side}.interface.name"] = name
    _flow(ev, tail)
    for regex, key, field in ((_MAC, "mac", "source.mac"),
                              (_STATE, "state", "mikrotik.connection_state")):
        found = regex.search(tail)
        if found is not None:
            ev[field] = found[key]
    length = _LEN.search(tail)
    if length is not None:
        put_int(ev, "network.bytes", length["len"])


def _flow(ev: Event, tail: str) -> None:
    proto = _PROTO.search(tail)
    if proto is None:
        return
    ev["network.transport"] = _transport(proto["proto"])
    info = proto["info"] or ""
    icmp = _ICMP.search(info)
    if icmp is not None:
        ev["mikrotik.icmp.type"] = int(icmp["type"])
        ev["mikrotik.icmp.code"] = int(icmp["code"])
    elif info:
        ev["mikrotik.tcp_flags"] = info
    _endpoint(ev, "source", proto["src"])
    if proto["dst"]:  # none when syslog cut the line short
        _endpoint(ev, "destination", proto["dst"])
    src_nat = _SRC_NAT.search(tail, proto.end())
    if src_nat is not None:
        _endpoint(ev, "source.nat", src_nat["b"])
    dst_nat = _DST_NAT.search(tail, proto.end())
    if dst_nat is not None:
        _endpoint(ev, "destination.nat", dst_nat["c"])


def _transport(proto: str) -> str:
    lowered = proto.lower()
    return {"icmpv6": "ipv6-icmp", "ipv6-icmp": "ipv6-icmp"}.get(lowered, lowered)


def _endpoint(ev: Event, side: str, value: str) -> None:
    host, port = split_host_port(value)
    if put_ip(ev, side, host):
        put_int(ev, f"{side}.port", port)


def _login(ev: Event, m: re.Match[str]) -> None:
    user = m["user"] or m["user2"]
    ev["user.name"] = user
    ev["event.category"] = ["authentication"]
    ev["network.protocol"] = m["via"].lower()
    if m["ip"]:
        put_ip(ev, "source", m["ip"].strip("[]"))
    if m["failure"]:
        ev.update({"event.action": "login-failure", "event.type": ["start"],
                   "event.outcome": "failure"})
    elif m["inout"] == "in":
        ev.update({"event.action": "logged-in", "event.type": ["start"],
                   "event.outcome": "success"})
    else:
        ev.update({"event.action": "logged-out", "event.type": ["end"],
                   "event.outcome": "success"})
