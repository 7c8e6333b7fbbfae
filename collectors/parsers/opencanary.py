"""OpenCanary honeypot JSON lines → ``opencanary.log``.

OpenCanary's file and syslog handlers write one JSON object per alert (its ``opencanary.conf``
``logger`` section): ``{"dst_host": "10.0.0.5", "dst_port": 22, "local_time": "...",
"local_time_adjusted": "...", "logdata": {"USERNAME": "root", "PASSWORD": "..."}, "logtype": 4002,
"node_id": "opencanary-1", "src_host": "203.0.113.7", "src_port": 40123, "utc_time": "..."}``.
``logtype`` says what happened (its ``logger.py`` constants: 2000 FTP login attempt, 4002 SSH
login attempt, 5001 port SYN...). SigmaHQ's ``product: opencanary`` rules test ``logtype``: the
native fields stay as they are, ECS ``source.*``/``destination.*``, ``observer.name``,
``user.name``, ``event.code`` and ``event.action`` (the constant's name) are added; a touched
service (logtype 2000 and up) is ``event.kind: alert`` with ``rule.id``/``rule.name``, which soc
raises as a device alert even without SigmaHQ's rules. ``utc_time`` is the time (UTC);
``local_time`` (the honeypot's zone, taken as ``ctx.tz``) when it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

from collectors.parsers.jsonnative import NativeFormat, move_ecs_roots, put, put_ip
from soc.ecs import Event
from soc.pipeline.sources import ParseContext

LOGTYPES: Mapping[int, str] = {
    1000: "LOG_BASE_BOOT", 1001: "LOG_BASE_MSG", 1002: "LOG_BASE_DEBUG", 1003: "LOG_BASE_ERROR",
    1004: "LOG_BASE_PING", 1005: "LOG_BASE_CONFIG_SAVE", 1006: "LOG_BASE_EXAMPLE",
    2000: "LOG_FTP_LOGIN_ATTEMPT", 2001: "LOG_FTP_AUTH_ATTEMPT_INITIATED",
    3000: "LOG_HTTP_GET", 3001: "LOG_HTTP_POST_LOGIN_ATTEMPT",
    3002: "LOG_HTTP_UNIMPLEMENTED_METHOD", 3003: "LOG_HTTP_REDIRECT",
    4000: "LOG_SSH_NEW_CONNECTION", 4001: "LOG_SSH_REMOTE_VERSION_SENT",
    4002: "LOG_SSH_LOGIN_ATTEMPT", 5000: "LOG_SMB_FILE_OPEN", 5001: "LOG_PORT_SYN",
    5002: "LOG_PORT_NMAPOS", 5003: "LOG_PORT_NMAPNULL", 5004: "LOG_PORT_NMAPXMAS",
    5005: "LOG_PORT_NMAPFIN", 6001: "LOG_TELNET_LOGIN_ATTEMPT", 6002: "LOG_TELNET_CONNECTION_MADE",
    7001: "LOG_HTTPPROXY_LOGIN_ATTEMPT", 8001: "LOG_MYSQL_LOGIN_ATTEMPT",
    9001: "LOG_MSSQL_LOGIN_SQLAUTH", 9002: "LOG_MSSQL_LOGIN_WINAUTH",
    9003: "LOG_MYSQL_CONNECTION_MADE", 10001: "LOG_TFTP", 11001: "LOG_NTP_MONLIST",
    12001: "LOG_VNC", 13001: "LOG_SNMP_CMD", 14001: "LOG_RDP", 15001: "LOG_SIP_REQUEST",
    16001: "LOG_GIT_CLONE_REQUEST", 17001: "LOG_REDIS_COMMAND",
    18001: "LOG_TCP_BANNER_CONNECTION_MADE", 18002: "LOG_TCP_BANNER_KEEP_ALIVE_CONNECTION_MADE",
    18003: "LOG_TCP_BANNER_KEEP_ALIVE_SECRET_RECEIVED",
    18004: "LOG_TCP_BANNER_KEEP_ALIVE_DATA_RECEIVED", 18005: "LOG_TCP_BANNER_DATA_RECEIVED",
    19001: "LOG_LLMNR_QUERY_RESPONSE",
    **{99000 + n: f"LOG_USER_{n}" for n in range(10)},
}
"""OpenCanary's ``logtype`` constants (opencanary/logger.py)."""
FIRST_ALERT = 2000
"""Logtypes below are the honeypot's own life (boot, ping, errors, configuration); from here on,
someone touched a service."""


def detect(ev: Event) -> str | None:
    """``opencanary.log`` for a record with ``logtype`` and ``node_id``."""
    if "logtype" in ev and "node_id" in ev and ("src_host" in ev or "dst_host" in ev):
        return "opencanary.log"
    return None


def refine(ev: Event, ctx: ParseContext) -> None:
    """ECS fields beside the native ones."""
    move_ecs_roots(ev, "opencanary")
    ev.update({"event.kind": "event", "event.category": ["intrusion_detection"],
               "observer.vendor": "Thinkst", "observer.product": "OpenCanary",
               "observer.type": "honeypot"})
    put_ip(ev, "source.ip", ev.get("src_host"))
    put_ip(ev, "destination.ip", ev.get("dst_host"))
    for native, target in (("src_port", "source.port"), ("dst_port", "destination.port")):
        port = ev.get(native)
        if isinstance(port, int) and not isinstance(port, bool) and port >= 0:
            ev[target] = port
    put(ev, "observer.name", ev.get("node_id"))
    logtype = ev.get("logtype")
    if isinstance(logtype, int | str) and not isinstance(logtype, bool):
        ev["event.code"] = str(logtype)
        text = str(logtype)
        name = LOGTYPES.get(int(text)) if text.isdecimal() and len(text) < 9 else None
        if name:
            ev["event.action"] = name.removeprefix("LOG_").lower()
        if text.isdecimal() and len(text) < 9 and int(text) >= FIRST_ALERT:
            _alert(ev, text)
    put(ev, "user.name", ev.get("logdata.USERNAME"))


def _alert(ev: Event, logtype: str) -> None:
    """Something touched a decoy service: an alert of the honeypot's own, which soc raises as a
    device alert (rule id the logtype, title from its name: "OpenCanary ftp login attempt")."""
    ev["event.kind"] = "alert"
    ev["rule.id"] = logtype
    ev["rule.name"] = "OpenCanary " + str(ev.get("event.action", logtype)).replace("_", " ")


FORMAT = NativeFormat("opencanary", detect, ("utc_time",), refine, ("local_time",))
