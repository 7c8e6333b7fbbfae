"""pfSense and OPNsense ``filterlog`` → ``pfsense.filterlog`` events.

The packet filter's log is one CSV line per packet (pfSense's "Filter Log Format"; OPNsense
writes the same columns, its tracker a 32-digit hex label):

``<rule>,<sub rule>,<anchor>,<tracker>,<interface>,<reason>,<action>,<direction>,<IP version>,``
then for IPv4 ``<TOS>,<ECN>,<TTL>,<ID>,<offset>,<flags>,<protocol id>,<protocol>,<length>,
<source>,<destination>,`` and for IPv6 ``<class>,<flow label>,<hop limit>,<protocol>,
<protocol id>,<length>,<source>,<destination>,``; then what the protocol carries:

=========  ================================================================================
tcp        source port, destination port, data length, flags, sequence, ack, window, urg,
           options
udp        source port, destination port, data length
icmp       type, then by type: ``request``/``reply``/``tstamp`` id, sequence; ``tstampreply``
           id, sequence, originate, receive, transmit; ``unreachproto`` destination,
           protocol; ``unreachport`` destination, protocol, port; ``needfrag`` destination,
           MTU; ``unreach``/``timexceed``/``paramprob``/``redirect``/``maskreply`` a text
carp       type, TTL, VHID, version, advertising skew, advertising base
others     ``datalength=N`` (igmp, ipv6-icmp, gre, esp, ah, pim, ospf...)
=========  ================================================================================

``rule.id`` is the tracker (the rule's stable id), ``pfsense.rule_number`` the rule number;
``event.action`` the action (``pass``, ``block``, ``reject``...), ``event.reason`` the reason
(``match``...); ``network.direction`` ``ingress``/``egress`` and the interface on that side;
``network.bytes`` the IP length. The line may come in BSD or RFC 5424 framing, with or without
a host, or with no header at all (``filterlog[123]: ...``, read at the time of parsing).
"""

from __future__ import annotations

import re
from typing import ClassVar

from collectors.parsers.devices import event_time, put_int, put_ip
from collectors.parsers.network import IANA, firewall_event, put_syslog, put_verdict
from collectors.parsers.syslog import parse_header
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

V4 = ("tos", "ecn", "ttl", "id", "offset", "flags", "protoid", "proto", "length", "src", "dst")
V6 = ("class", "flowlabel", "hoplimit", "proto", "protoid", "length", "src", "dst")
TCP = ("sport", "dport", "length", "flags", "seq", "ack", "window", "urg", "options")
UDP = ("sport", "dport", "length")
CARP = ("type", "ttl", "vhid", "version", "advskew", "advbase")
ICMP = {  # ICMP type → the columns after it
    "request": ("id", "seq"), "reply": ("id", "seq"), "tstamp": ("id", "seq"),
    "tstampreply": ("id", "seq", "otime", "rtime", "ttime"),
    "unreachproto": ("destination.ip", "protocol"),
    "unreachport": ("destination.ip", "protocol", "port"),
    "needfrag": ("destination.ip", "mtu"),
}
_BARE = re.compile(r"(?:<\d{1,3}>)?\s*filterlog(?:\[\d+\])?: ")


class PfSenseParser:
    """pfSense / OPNsense ``filterlog`` CSV, every protocol → ``pfsense.filterlog``."""

    name: ClassVar[str] = "pfsense"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = ("filterlog",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """The ``filterlog`` program name appears."""
        return "filterlog" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        text = text.rstrip("\r\n")
        head, message = parse_header(text, ctx)
        if head.get("process.name") != "filterlog":
            bare = _BARE.match(message)  # a relay that dropped the time (and maybe the host)
            if bare is None:
                raise ParseError("not a pfSense filterlog line")
            message = message[bare.end():]
        cols = message.split(",")
        if len(cols) < 9 or cols[8] not in ("4", "6"):
            raise ParseError("filterlog CSV too short or of an unknown IP version")
        ev = firewall_event(event_time(head, ctx), "pfsense.filterlog", "Netgate", "pfSense")
        if "host.name" in head:
            ev["observer.name"] = head["host.name"]
        put_syslog(ev, head)
        _filterlog(ev, cols)
        return ev


def _filterlog(ev: Event, cols: list[str]) -> None:
    rule, _sub, anchor, tracker, iface, reason, action, direction, version = cols[:9]
    names = V4 if version == "4" else V6
    ip = dict(zip(names, cols[9:9 + len(names)], strict=False))
    ev["rule.id"] = tracker or rule
    ev["pfsense.rule_number"] = rule
    if anchor:
        ev["pfsense.anchor"] = anchor
    ev["event.reason"] = reason
    ingress = direction == "in"
    ev["network.direction"] = "ingress" if ingress else "egress"
    ev[f"observer.{'ingress' if ingress else 'egress'}.interface.name"] = iface
    ev["network.type"] = f"ipv{version}"
    put_verdict(ev, action)
    proto = ip.get("proto", "").lower()
    protoid = ip.get("protoid", "")
    if proto or protoid:
        ev["network.transport"] = proto or IANA.get(protoid, protoid)
        ev["network.iana_number"] = protoid
    put_ip(ev, "source", ip.get("src"))
    put_ip(ev, "destination", ip.get("dst"))
    put_int(ev, "network.bytes", ip.get("length"))
    for key in ("tos", "ecn", "ttl", "id", "offset", "flags", "class", "flowlabel", "hoplimit"):
        if ip.get(key):
            ev[f"pfsense.ip.{key}"] = ip[key]
    _protocol(ev, proto or IANA.get(protoid, ""), cols[9 + len(names):])


def _protocol(ev: Event, proto: str, rest: list[str]) -> None:
    """The columns after the IP header: ports and flags (TCP, UDP), type and its data (ICMP),
    CARP's advertisement, or another protocol's ``datalength=N``."""
    if rest and rest[0].startswith("datalength="):
        put_int(ev, "pfsense.data_length", rest[0].partition("=")[2])
    elif proto in ("tcp", "udp"):
        names = TCP if proto == "tcp" else UDP
        found = dict(zip(names, rest, strict=False))
        put_int(ev, "source.port", found.get("sport"))
        put_int(ev, "destination.port", found.get("dport"))
        for key in names[2:]:
            if found.get(key):
                ev[f"pfsense.{proto}.{key}"] = found[key]
    elif proto == "icmp" and rest:
        kind = rest[0]
        ev["pfsense.icmp.type"] = kind
        data = ICMP.get(kind)
        if data is None:
            if len(rest) > 1 and rest[1]:
                ev["pfsense.icmp.description"] = ",".join(rest[1:])
            return
        for key, value in zip(data, rest[1:], strict=False):
            if value:
                ev[f"pfsense.icmp.{key}"] = value
    elif proto == "carp":
        for key, value in zip(CARP, rest, strict=False):
            if value:
                ev[f"pfsense.carp.{key}"] = value
