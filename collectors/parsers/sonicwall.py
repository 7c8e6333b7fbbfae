"""SonicWall SonicOS syslog ("default" enhanced format) → ``sonicwall.firewall`` events.

``id=firewall sn=0017C5... time="2026-11-24 08:15:00 UTC" fw=203.0.113.1 pri=6 c=1024 m=537
msg="Connection Closed" n=123 src=10.0.0.5:51234:X0:pc01 dst=93.184.216.34:443:X1
proto=tcp/https sent=1234 rcvd=5678 usr="nam" rule="15 (LAN->WAN)"``

- ``src``/``dst`` are ``address[:port[:interface[:host]]]``. An IPv6 address comes in
  ``srcV6``/``dstV6``, and ``src``/``dst`` then start with ``:`` (``src=:51234:X0``);
  ``natSrc``/``natDst`` (and their ``V6`` forms) are ``address[:port]``.
- ``m`` is the message id of SonicWall's log event reference. :data:`MESSAGES` gives, for the
  ids that Elastic's ``sonicwall_firewall`` integration classifies, the ``event.action``
  (``connection-start``, ``packet-dropped``, ``login-failure``, ``attack-blocked``...) and from
  it :data:`ACTIONS` the kind, category, type and outcome. Ids it does not know keep the
  device's ``fw_action`` (``drop`` → ``packet-dropped``...) when there is one.
- ``proto=tcp/https`` is ``network.transport`` and ``network.protocol`` (a number after the
  slash is a port, not a protocol).

Time: the ``time`` field (UTC when it says so, else local in the configured zone), else the
syslog header's, else the time of parsing. Other keys stay under ``sonicwall.firewall.<key>``.
"""

from __future__ import annotations

from typing import ClassVar

from collectors.parsers.devices import (
    EMPTY,
    event_time,
    field_name,
    local_time,
    put_int,
    put_ip,
    scan_kv,
    split_host_port,
)
from collectors.parsers.network import SEVERITY, firewall_event, put_syslog
from collectors.parsers.syslog import parse_header
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

_IDS = {
    "connection-start": "98",
    "connection-end": "537 36",
    "connection-info": "734 45 815 182 188 597 598 1255 1256 1431 1458 1197 16 999 1001 1002 "
                       "1003 1004 1005 1006 1081",
    "connection-denied": "1198 1199 1474 1475 173 524 712 713 760 14 797 798 58",
    "packet-dropped": "646 647 735 428 1473 1573 1576 41 46 347 590 714 1304 883 884 885 886 "
                      "1448 1449 38 63 175 523 1254 1257 1433 28 522 910 1301 1302 1303 1429 "
                      "1430 651 652 653 1253 683 690 694 1233 339 1436 48 181 580 708 709 887 "
                      "888 889 890 891 892 893 894 895 896 1029 1030 1031 1384 1385 1628 1629",
    "attack-blocked": "22 23 27 81 267 606 1376 1387 229 1099 446 527 528 538 790 609 864 898 "
                      "901 1180 1366 1200 1201 1476 1477 1518 1519",
    "attack-detected": "82 83 177 178 179 1316 1373 1374 1375 1471 1098 1593 789 608 25 859 "
                       "860 897 904 905 1213 1214 1369 1450 1451 1452 879 1363 546 548 1195",
    "malware-info": "794 795 796 123 124 125 159 408 482 1559 1560 1561 1562 1154 1155 793 "
                    "1654",
    "login-success": "29 31 199 235 236 237 238 1080",
    "login-failure": "30 32 33 34 35 200 246 329 486 549 557 583 759 986 987 1035 1048 1117 "
                     "1118 1119 1120 1121 1122 1123 1243 1517 1572 1585 1655 1672 243 244 245 "
                     "744 745 746 747 748 749 750 751 753 754 755 756 757 988 989 990 991",
    "logout": "24 261 262 263 264 265 520 1008 1124",
    "session-start": "994 996 997",
    "session-end": "550 551 564 995 998",
    "user-account-created": "558 1333",
    "user-account-deleted": "559 562 1158 1335",
    "user-account-disabled": "560 1157 1627",
    "user-account-enabled": "561",
    "user-account-locked": "1570",
    "user-account-unlocked": "438 439 1571",
    "user-account-changed": "1334 1341 1342 1337 1338",
    "user-account-change-failure": "1011",
    "admin-account-changed": "328",
    "config-add": "1313 1599 440",
    "config-change": "1314 1600 1601 856 857 858 862 863 506 507 508 509 728 729 441 340 341 "
                     "1269 1336 1339 1340 1432 1332 1382 1674",
    "config-change-failure": "1383",
    "config-delete": "1315 442",
    "config-info": "1590",
    "internal-log-success": "1511 1513 1515 1046 1047 1392 1393 1049 1065 1494 1520 1565 1567 "
                            "4 521 1495 1496",
    "internal-log-failure": "1512 1514 1516 93 94 95 164 599 600 601 573 574 1066 1160 1161 "
                            "1268 1521 1566 1568 1636 1637 1149 1152 53 1107 1196",
}
MESSAGES = {mid: action for action, ids in _IDS.items() for mid in ids.split()}
"""Message id (``m``) → ``event.action``, from SonicWall's log event reference as Elastic's
integration classifies it."""

ACTIONS: dict[str, tuple[str, str, tuple[str, ...], str | None]] = {
    # event.action → (kind, category, type, outcome); denied traffic is a failure, as for
    # every firewall dataset here
    "connection-start": ("event", "network", ("connection", "start", "allowed"), "success"),
    "connection-end": ("event", "network", ("connection", "end", "allowed"), "success"),
    "connection-info": ("event", "network", ("connection", "info"), None),
    "connection-denied": ("event", "network", ("connection", "denied"), "failure"),
    "packet-dropped": ("event", "network", ("connection", "denied"), "failure"),
    "packet-forwarded": ("event", "network", ("connection", "allowed"), "success"),
    "packet-management": ("event", "network", ("connection", "info"), None),
    "attack-blocked": ("alert", "intrusion_detection", ("denied",), "failure"),
    "attack-detected": ("alert", "intrusion_detection", ("info",), None),
    "malware-info": ("alert", "malware", ("info",), None),
    "login-success": ("event", "authentication", ("start",), "success"),
    "login-failure": ("event", "authentication", ("start",), "failure"),
    "logout": ("event", "authentication", ("end",), "success"),
    "session-start": ("event", "session", ("start",), "success"),
    "session-end": ("event", "session", ("end",), "success"),
    "user-account-created": ("event", "iam", ("user", "creation"), "success"),
    "user-account-deleted": ("event", "iam", ("user", "deletion"), "success"),
    "user-account-disabled": ("event", "iam", ("user", "change"), "success"),
    "user-account-enabled": ("event", "iam", ("user", "change"), "success"),
    "user-account-locked": ("event", "iam", ("user", "change"), "success"),
    "user-account-unlocked": ("event", "iam", ("user", "change"), "success"),
    "user-account-changed": ("event", "iam", ("user", "change"), "success"),
    "user-account-change-failure": ("event", "iam", ("user", "change"), "failure"),
    "admin-account-changed": ("event", "iam", ("user", "change", "admin"), "success"),
    "config-add": ("event", "configuration", ("creation",), "success"),
    "config-change": ("event", "configuration", ("change",), "success"),
    "config-change-failure": ("event", "configuration", ("change",), "failure"),
    "config-delete": ("event", "configuration", ("deletion",), "success"),
    "config-info": ("event", "configuration", ("info",), None),
    "internal-log-success": ("event", "host", ("info",), "success"),
    "internal-log-failure": ("event", "host", ("info",), "failure"),
}
_FW_ACTIONS = {"forward": "packet-forwarded", "drop": "packet-dropped",
               "mgmt": "packet-management"}

_STRINGS = {"dstname": "url.domain", "arg": "url.path", "srcMac": "source.mac",
            "dstMac": "destination.mac", "srcZone": "observer.ingress.zone",
            "dstZone": "observer.egress.zone", "sn": "observer.serial_number",
            "msg": "message", "id": "observer.name", "sid": "rule.id", "ipscat": "rule.name",
            "n": "event.sequence", "m": "event.code", "note": "event.reason"}
_INTS = {"sent": "source.bytes", "rcvd": "destination.bytes", "spkt": "source.packets",
         "rpkt": "destination.packets"}
_HANDLED = frozenset(("src", "dst", "srcV6", "dstV6", "natSrc", "natDst", "natSrcV6",
                      "natDstV6", "proto", "time", "pri", "usr", "user", "fw", "rule", "op",
                      "appName", "fw_action", "cdur", "dur", *_STRINGS, *_INTS))
_METHODS = {"1": "GET", "2": "POST", "3": "HEAD"}


class SonicWallParser:
    """SonicWall SonicOS ``id=... sn=... fw=... m=... msg=...`` syslog → ``sonicwall.firewall``."""

    name: ClassVar[str] = "sonicwall"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = (" sn=",)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """`` sn=`` and `` fw=`` both present."""
        return " sn=" in text and " fw=" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        head, rest = parse_header(text.rstrip("\r\n"), ctx)
        kv = scan_kv(rest)
        if "sn" not in kv or "fw" not in kv or not ("m" in kv or "msg" in kv):
            raise ParseError("not a SonicWall log (no sn=, fw= and m= or msg=)")
        stamp = kv.get("time")
        ev = firewall_event(local_time(stamp, ctx) if stamp else event_time(head, ctx),
                            "sonicwall.firewall", "SonicWall", "SonicOS")
        ev["event.module"] = "sonicwall"
        put_syslog(ev, head)
        _endpoints(ev, kv)
        _fields(ev, kv)
        _classify(ev, kv)
        return ev


def _endpoints(ev: Event, kv: dict[str, str]) -> None:
    """``src``/``dst`` as address, port, interface, host; ``srcV6``/``dstV6`` for IPv6."""
    for key, side, iface in (("src", "source", "ingress"), ("dst", "destination", "egress")):
        parts = kv.get(key, "").split(":")
        v6 = kv.get(f"{key}V6")
        if v6 and v6 not in EMPTY:
            put_ip(ev, side, v6)
        elif len(parts) > 4:  # an IPv6 address written in src/dst itself: no port to tell
            put_ip(ev, side, kv[key])
            parts = []
        else:
            put_ip(ev, side, parts[0])
        if len(parts) > 1:
            put_int(ev, f"{side}.port", parts[1])
        if len(parts) > 2 and parts[2]:
            ev[f"observer.{iface}.interface.name"] = parts[2]
        if len(parts) > 3 and parts[3]:
            ev[f"{side}.domain"] = ":".join(parts[3:])
        nat = kv.get(f"nat{key.title()}V6") or kv.get(f"nat{key.title()}")
        if nat and nat not in EMPTY:
            host, port = split_host_port(nat)
            put_ip(ev, f"{side}.nat", host)
            put_int(ev, f"{side}.nat.port", port)


def _fields(ev: Event, kv: dict[str, str]) -> None:
    for key, target in _STRINGS.items():
        value = kv.get(key)
        if value and value not in EMPTY:
            ev[target] = value
    for key, target in _INTS.items():
        put_int(ev, target, kv.get(key))
    pri = kv.get("pri", "")
    if pri.isdecimal() and int(pri) < len(SEVERITY):
        ev["event.severity"] = int(pri)
        ev["log.level"] = SEVERITY[int(pri)]
    proto, _, service = kv.get("proto", "").partition("/")
    if proto and proto not in EMPTY:
        ev["network.transport"] = proto.lower()
    if service and not service.isdecimal():
        ev["network.protocol"] = service.lower()
    user = kv.get("usr") or kv.get("user")
    if user and user not in EMPTY and not user.startswith("Unknown ("):
        ev["user.name"] = user
    fw = kv.get("fw", "")
    if not put_ip(ev, "observer", fw) and fw and fw not in EMPTY:
        ev["observer.hostname"] = fw
    rule = kv.get("rule")
    if rule and rule not in EMPTY:
        ev["rule.name"] = rule
        number = rule.split(" ", 1)[0]
        if number.isdecimal():
            ev["rule.id"] = number
    app = kv.get("appName")
    if app and app not in EMPTY:
        ev["network.application"] = app.lower()
    if kv.get("op") in _METHODS:
        ev["http.request.method"] = _METHODS[kv["op"]]
    put_int(ev, "event.duration", kv.get("dur", "") + "000000000" if kv.get("dur") else None)
    put_int(ev, "event.duration", kv.get("cdur", "") + "000000" if kv.get("cdur") else None)
    for key, value in kv.items():
        if key not in _HANDLED and value not in EMPTY:
            ev[f"sonicwall.firewall.{field_name(key)}"] = value


def _classify(ev: Event, kv: dict[str, str]) -> None:
    action = MESSAGES.get(kv.get("m", "")) or _FW_ACTIONS.get(kv.get("fw_action", "").lower())
    if action is None:
        ev["event.action"] = "log"
        ev["event.type"] = ["info"]
        return
    kind, category, types, outcome = ACTIONS[action]
    ev.update({"event.action": action, "event.kind": kind, "event.category": [category],
               "event.type": list(types)})
    if outcome:
        ev["event.outcome"] = outcome
