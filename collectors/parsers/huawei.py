"""Huawei USG / HiSecEngine / NGFW and VRP (AR, S switches) information-center logs →
``huawei.usg`` events.

A Huawei log is ``%%<version><MODULE>/<severity>/<BRIEF>(<type>)[<seq>]:<body>``, after a
syslog header the device writes in one of its ``info-center`` forms: ``<190>Nov 24 2026
08:15:00 USG6000 %%01...``, ``Nov 24 2026 08:15:00+07:00 USG6000 %%01...`` (an offset glued to
the time), ``<190>2026-11-24 08:15:00 USG6000E %%01...``, a host alone (``<190>USG6000E
%%01...``, ``<190>USG6000E %%: %%01...``) or nothing (``<190>%%: %%01...``). The body is one
of:

- ``key=value`` separated by commas (session logs, default content format:
  ``IPVer=4,Protocol=tcp,SourceIP=10.1.1.1,DestinationIP=...,SourcePort=...``; policy logs:
  ``vsys=public, protocol=6, source-ip=..., source-port=..., rule-name=...``);
- a sentence and ``(Key=Value, Key="Value", ...)`` (threat, content-security and login logs:
  ``An intrusion was detected. (SyslogId=1, VSys="public", Policy="ips", SrcIp=...)``,
  ``The SSH user failed to login. (ServiceType=stelnet, UserName=admin, UserAddress=...)``);
- the "mtn" sentence of session logs (``Built an udp session, 10.1.1.1:1 (trust) to
  10.1.1.2:1 (trust).``), or free text with an address after ``from``.

Keys are matched without case, ``-`` or ``_`` (``SourceIP``, ``source-ip``, ``SrcIp`` are one
key): :data:`KEYS` maps them to ECS; the others stay under ``huawei.usg.<key>``.
``event.action`` is the brief in lower case (``session_teardown``, ``policydeny``,
``ssh_user_login_fail``); :func:`_classify` gives the categories from the module and brief.
"""

from __future__ import annotations

import re
from typing import ClassVar

from collectors.parsers.devices import (
    EMPTY,
    epoch_time,
    field_name,
    local_time,
    put_int,
    put_ip,
    split_host_port,
)
from collectors.parsers.network import IANA, SEVERITY, firewall_event, put_syslog, put_verdict
from collectors.parsers.syslog import MONTHS, parse_header
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

_LOG = re.compile(r"%%(?P<ver>\d\d)?(?P<module>[A-Z][A-Z0-9_-]*)/(?P<sev>[0-7])/"
                  r"(?P<brief>[A-Za-z0-9_-]+)(?:\((?P<kind>[a-z]+)\))?(?:\[(?P<seq>\d+)\])?: ?")
# Huawei's own header when the syslog reader cannot take it: an offset glued to the time.
_OWN_TIME = re.compile(r"(?:<\d{1,3}>)?([A-Z][a-z]{2}) +(\d{1,2}) (\d{4}) (\d\d:\d\d:\d\d)"
                       r"(?:\.\d+)?([+-]\d\d:\d\d)?(?: DST)?\s+(\S+)\s")
_OWN_ISO = re.compile(r"(?:<\d{1,3}>)?\s*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+(\S+)\s")
_PAIR = re.compile(r'(?<![\w-])([A-Za-z][\w-]*)=("[^"]*"|[^,]*)')
# Starts only at a word's start, and zones are short: each search stays linear in the line.
_MTN = re.compile(r"(?<!\S)(?P<src>\S+?):(?P<sport>\d+) \((?P<szone>[^)]{0,64})\) to "
                  r"(?P<dst>\S+?):(?P<dport>\d+) \((?P<dzone>[^)]{0,64})\)")
_FROM = re.compile(r"\bfrom (?:IP )?(?:address )?\[?([0-9A-Fa-f.:]{7,39})\]?")

KEYS = {
    # key without case, "-" and "_" → ECS field ("ip:" sides put through put_ip)
    "sourceip": "ip:source", "srcip": "ip:source", "sourceaddress": "ip:source",
    "useraddress": "ip:source", "remoteip": "ip:source", "remoteaddress": "ip:source",
    "clientip": "ip:source", "userip": "ip:source", "ip": "ip:source", "ipaddress": "ip:source",
    "peeraddress": "ip:source", "peerip": "ip:source",
    "destinationip": "ip:destination", "dstip": "ip:destination",
    "destinationaddress": "ip:destination", "localaddress": "ip:destination",
    "localip": "ip:destination",
    "sourcenatip": "ip:source.nat", "srcnatip": "ip:source.nat", "natsourceip": "ip:source.nat",
    "destinationnatip": "ip:destination.nat", "dstnatip": "ip:destination.nat",
    "natdestinationip": "ip:destination.nat",
    "sourceport": "int:source.port", "srcport": "int:source.port",
    "destinationport": "int:destination.port", "dstport": "int:destination.port",
    "sourcenatport": "int:source.nat.port", "srcnatport": "int:source.nat.port",
    "destinationnatport": "int:destination.nat.port", "dstnatport": "int:destination.nat.port",
    "sendbytes": "int:source.bytes", "rcvbytes": "int:destination.bytes",
    "sendpkts": "int:source.packets", "rcvpkts": "int:destination.packets",
    "username": "user.name", "user": "user.name", "srcuser": "user.name",
    "policyname": "rule.name", "rulename": "rule.name", "policy": "rule.ruleset",
    "signname": "rule.name", "signid": "rule.id", "virusname": "rule.name",
    "category": "rule.category", "sourcezone": "observer.ingress.zone",
    "srczone": "observer.ingress.zone", "destinationzone": "observer.egress.zone",
    "dstzone": "observer.egress.zone", "application": "network.application",
    "applicationname": "network.application", "filename": "file.name", "host": "url.domain",
    "page": "url.path", "referer": "http.request.referrer", "closereason": "event.reason",
    "reason": "event.reason", "command": "process.command_line",
    "vsys": "huawei.usg.vsys", "vpninstancename": "huawei.usg.vpn_instance",
}
_NO_USER = frozenset(("unknown", "Unknown", "anonymous"))
_LOGIN = ("LOGIN", "LOGOUT", "LOGON", "AUTH", "PASSWORD")
_THREATS = frozenset(("IPS", "AV", "ANTIVIRUS", "APT", "ATK", "ANTI-DDOS", "DDOS", "CDN",
                      "FILEFILTER", "DLP", "MAIL", "SANDBOX", "WEBPROXY", "BOTNET"))


class HuaweiParser:
    """Huawei ``%%01MODULE/severity/BRIEF(l)[n]:`` logs (USG/NGFW firewalls, VRP devices) →
    ``huawei.usg``."""

    name: ClassVar[str] = "huawei"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = ("%%",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """``%%`` appears."""
        return "%%" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One log → event; :class:`ParseError` otherwise."""
        text = text.rstrip("\r\n")
        m = _LOG.search(text)
        if m is None:
            return _mtn_only(text, ctx)
        head, host, stamp = _header(text, m.start(), ctx)
        module, brief = m["module"], m["brief"]
        ev = firewall_event(stamp or format_ts(ctx.now), "huawei.usg", "Huawei", "USG")
        ev["event.module"] = "huawei"
        put_syslog(ev, head)
        if host:
            ev["observer.name"] = host
        severity = int(m["sev"])
        ev.update({"event.code": f"{module}/{m['sev']}/{brief}", "event.severity": severity,
                   "log.level": SEVERITY[severity], "huawei.usg.module": module,
                   "huawei.usg.brief": brief, "event.action": brief.lower()})
        if m["kind"]:
            ev["huawei.usg.log_type"] = m["kind"]
        body = text[m.end():].strip()
        if body:
            ev["message"] = body
        _body(ev, body)
        if stamp is None:
            ev["@timestamp"] = _body_time(ev, ctx)
        _classify(ev, module, brief.upper(), body)
        ev["event.action"] = brief.lower()
        return ev


def _mtn_only(text: str, ctx: ParseContext) -> Event:
    """``<190>USG6000E %%: Built an udp session, 10.1.1.1:1 (trust) to 10.1.1.2:1 (trust).``:
    the "host-name" header with the "mtn" content format carries no module or brief."""
    at = text.find("%%: ")
    mtn = _MTN.search(text, at) if at >= 0 else None
    if mtn is None:
        raise ParseError("not a Huawei log (no %%nnMODULE/severity/BRIEF: after the header)")
    head, host, stamp = _header(text, at, ctx)
    ev = firewall_event(stamp or format_ts(ctx.now), "huawei.usg", "Huawei", "USG")
    ev["event.module"] = "huawei"
    put_syslog(ev, head)
    if host:
        ev["observer.name"] = host
    body = text[at + 4:].strip()
    ev["message"] = body
    _body(ev, body)
    verb = body.split(" ", 1)[0].upper()
    _classify(ev, "SECLOG", {"BUILT": "SESSION_BUILT", "TEARDOWN": "SESSION_TEARDOWN"}.get(
        verb, verb), body)
    ev["event.action"] = "session"
    return ev


def _body_time(ev: Event, ctx: ParseContext) -> str:
    """No time in the header: the policy log's ``time=2026/11/24 08:15:00`` (local), the
    session log's ``BeginTime`` (seconds since 1970), else the time of parsing."""
    clock = ev.get("huawei.usg.time")
    if isinstance(clock, str):
        try:
            return local_time(clock, ctx)
        except ParseError:
            pass
    begin = ev.get("huawei.usg.endtime") or ev.get("huawei.usg.begintime")
    return (epoch_time(begin) if isinstance(begin, str) else None) or format_ts(ctx.now)


def _header(text: str, end: int, ctx: ParseContext) -> tuple[Event, str | None, str | None]:
    """The syslog header before the log (``text[:end]``): its fields, the device's name and the
    time (the header's, Huawei's own ``Mmm dd yyyy hh:mm:ss+hh:mm`` or ``<190> yyyy-mm-dd
    hh:mm:ss``, local unless an offset follows; None when the header has no time)."""
    head, rest = parse_header(text, ctx)
    host = head.get("host.name")
    if "@timestamp" in head:
        return head, str(host) if host else None, str(head["@timestamp"])
    own = _OWN_TIME.match(text)
    if own is not None and own.end() <= end + 1:
        mon, day, year, clock, zone, host = own.groups()
        month = MONTHS.get(mon)
        if month is None:
            raise ParseError(f"unknown month {mon!r}")
        stamp = local_time(f"{year}-{month:02d}-{int(day):02d} {clock}", ctx, zone)
        return head, host, stamp
    iso = _OWN_ISO.match(text)
    if iso is not None and iso.end() <= end + 1:
        return head, iso[2], local_time(iso[1], ctx)
    words = rest[:max(0, len(rest) - (len(text) - end))].removesuffix("%%: ").split()
    if len(words) == 1 and not words[0].startswith("%"):
        host = words[0]  # "<190>USG6000E %%01...": a host and no time
    return head, str(host) if host else None, None


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _body(ev: Event, body: str) -> None:
    pairs = list(_PAIR.finditer(body))
    for i, m in enumerate(pairs):
        value = m[2].strip()
        if value.startswith('"') and value.endswith('"') and len(value) > 1:
            value = value[1:-1]
        elif i == len(pairs) - 1:
            value = value.rstrip(" .")
            if value.count(")") > value.count("("):
                value = value[:value.rfind(")")].rstrip(" .")
        _put(ev, m[1], value.strip())
    if "source.ip" in ev:
        return
    mtn = _MTN.search(body)
    if mtn is not None:
        for side, key in (("source", "src"), ("destination", "dst")):
            put_ip(ev, side, mtn[key])
            put_int(ev, f"{side}.port", mtn[f"{key[0]}port"])
        ev["observer.ingress.zone"] = mtn["szone"]
        ev["observer.egress.zone"] = mtn["dzone"]
        return
    found = _FROM.search(body)
    if found is not None:
        host, port = split_host_port(found[1].rstrip(".:"))
        if put_ip(ev, "source", host):
            put_int(ev, "source.port", port)


def _put(ev: Event, name: str, value: str) -> None:
    if value in EMPTY:
        return
    key = _key(name)
    target = KEYS.get(key)
    if target is None:
        if key == "protocol":
            ev["network.transport"] = IANA.get(value, value.lower())
            if value.isdecimal():
                ev["network.iana_number"] = value
        elif key == "action":
            ev["huawei.usg.action"] = value
        elif key == "ipver" and value in ("4", "6"):
            ev["network.type"] = f"ipv{value}"
        else:
            ev[f"huawei.usg.{field_name(name)}"] = value
        return
    kind, _, field = target.partition(":")
    if not field:
        if target == "user.name" and value in _NO_USER:
            return
        ev.setdefault(target, value.lower() if target == "network.application" else value)
    elif kind == "ip":
        if field == "source" and "source.ip" in ev:
            return
        host, port = split_host_port(value)  # "PeerAddress=203.0.113.1:179"
        if put_ip(ev, field, host) and port:
            put_int(ev, f"{field}.port", port)
    else:
        put_int(ev, field, value)


def _classify(ev: Event, module: str, brief: str, body: str) -> None:
    action = str(ev.get("huawei.usg.action", "")).lower()
    if module in ("SECLOG", "POLICY", "SESSION", "FW-LOG", "FWLOG", "NAT"):
        if "DENY" in brief or "DROP" in brief or "BLOCK" in brief:
            put_verdict(ev, "deny")
        elif "TEARDOWN" in brief or "END" in brief or "CLOSE" in brief:
            ev.update({"event.type": ["connection", "end", "allowed"], "event.outcome": "success"})
        elif "PERMIT" in brief or "BUILT" in brief or "CREATE" in brief:
            ev.update({"event.type": ["connection", "start", "allowed"],
                       "event.outcome": "success"})
        else:
            ev["event.type"] = ["connection"]
        return
    if module in _THREATS:
        ev["event.kind"] = "alert"
        ev["event.category"] = ["malware" if module in ("AV", "ANTIVIRUS", "SANDBOX")
                                else "intrusion_detection", "network"]
    elif module in ("URL", "URLFILTER", "WEB"):
        ev["event.category"] = ["web", "network"]
    elif any(word in brief for word in _LOGIN) or module in ("SSH", "TELNET", "AAA"):
        _login(ev, brief, body)
        return
    elif module == "SHELL" or "CMD" in brief or "CFG" in brief or "CONFIG" in brief:
        ev.update({"event.category": ["configuration"], "event.type": ["change"]})
        return
    else:
        ev.update({"event.category": ["host"], "event.type": ["info"]})
        return
    if action:
        put_verdict(ev, "block" if action in ("block", "blocked", "reset") else action,
                    "connection" if "source.ip" in ev else "info")
    else:
        ev["event.type"] = ["info"]


def _login(ev: Event, brief: str, body: str) -> None:
    lowered = body.lower()
    failed = "FAIL" in brief or "failed" in lowered or "fail to" in lowered
    out = "LOGOUT" in brief or "logged out" in lowered or "logout" in lowered
    ev["event.category"] = ["authentication"]
    ev["event.type"] = ["end"] if out and not failed else ["start"]
    ev["event.outcome"] = "failure" if failed else "success"
