"""F5 BIG-IP syslog → ``f5.bigip`` events: ASM (WAF) remote logging, APM access sessions,
logins and the audit trail, and the LTM/TMM messages that carry a flow.

- **ASM**, remote logging profile in the key-value ("Splunk") format:
  ``ASM:unit_hostname="bigip1",management_ip_address="10.0.0.1",...,ip_client="203.0.113.9",
  src_port="51234",dest_ip="10.0.0.10",dest_port="443",method="GET",uri="/index.php",
  request_status="blocked",violations="Attack signature detected",sig_names="...",
  attack_type="SQL-Injection",date_time="2026-11-24 08:15:00",...``. A request with violations
  is an alert (``event.kind: alert``, categories ``web`` and ``intrusion_detection``), as in
  Elastic's ``f5_bigip`` integration; ``request_status`` is ``event.action`` (``blocked`` →
  ``denied``/``failure``, ``passed``/``alerted`` → ``allowed``/``success``). ASM in the
  ArcSight format (``ASM:CEF:0|F5|ASM|...``) is CEF: the ``cef`` parser reads it.
- **daemons** (``apmd``, ``mcpd``, ``tmsh``, ``httpd``, ``sshd``, ``tmm``...):
  ``<PRI>Nov 24 08:15:00 bigip1 notice apmd[12345]: 01490500:5: /Common/ap:Common:1a2b3c4d: New
  session from client IP 203.0.113.9 (ST=/CC=/C=) at VIP 198.51.100.10 Listener /Common/vs``.
  The 8-hex-digit message id is ``event.code``, the digit after it the severity. APM's access
  profile and session id (``/Common/ap:Common:1a2b3c4d``) go to ``f5.bigip.apm.*``;
  :data:`PATTERNS` reads new sessions (client and virtual addresses), user names, AD/LDAP/
  RADIUS authentication results, access policy results and session ends; the audit trail
  (``AUDIT - user admin - RAW: httpd(pam_audit): User=admin ... host=10.0.0.5 ...``, ``failed to
  login after N attempts``; tmsh ``AUDIT - pid=... user=... status=[Command OK]
  cmd_data=...``) gives logins and commands; any ``address:port -> address:port`` flows.

LTM request logging is a template the administrator writes, so it has no fixed form: it is not
read here (a ``key=value`` template is left to the generic parsers).
"""

from __future__ import annotations

import re
from typing import ClassVar

from collectors.parsers.devices import (
    EMPTY,
    event_time,
    field_name,
    ip_version,
    local_time,
    put_int,
    put_ip,
)
from collectors.parsers.network import SEVERITY, firewall_event, put_syslog
from collectors.parsers.syslog import parse_header
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

_ASM_PAIR = re.compile(r'(?:^|,)([A-Za-z_]\w*)="((?:[^"\\]|\\.|"")*)"')
_DAEMON = re.compile(r"(?<![\w.()-])(?:(?P<level>emerg|alert|crit|err|warning|notice|info|debug) )?"
                     r"(?P<prog>[\w.()-]{1,64}?)(?:\[(?P<pid>\d+)\])?: (?P<id>[0-9a-f]{8}):"
                     r"(?P<sev>[0-7]): ")
_APM_SESSION = re.compile(r"^(?P<profile>/[^:\s]+):(?P<partition>[^:\s]+):(?P<sid>[0-9a-f]{8,}):"
                          r" ")
_ASM_KEYS = {"unit_hostname": "observer.name", "method": "http.request.method",
             "uri": "url.path", "query_string": "url.query", "username": "user.name",
             "attack_type": "rule.category", "sig_names": "rule.name", "sig_ids": "rule.id",
             "policy_name": "rule.ruleset", "severity": "log.level",
             "geo_location": "source.geo.country_iso_code"}
_ASM_IPS = {"ip_client": "source", "dest_ip": "destination",
            "management_ip_address": "observer"}
_ASM_INTS = {"src_port": "source.port", "dest_port": "destination.port",
             "response_code": "http.response.status_code", "violation_rating": "event.risk_score"}

PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # (pattern over the message after the id, what it is); named groups: ip (client), vip,
    # user, result, failed, cmd, status
    (re.compile(r"New session from client IP (?P<ip>[0-9A-Fa-f.:]+)(?: \([^)]*\))? at VIP "
                r"(?P<vip>[0-9A-Fa-f.:]+)"), "session-started"),
    (re.compile(r"authenticat\w* with '(?P<user>[^']{0,256})' (?P<result>failed|successful)"),
     "authentication"),
    (re.compile(r"Access policy result: (?P<result>\S+)"), "access-policy-result"),
    (re.compile(r"Username '(?P<user>[^']{0,256})'"), "username"),
    (re.compile(r"Session deleted"), "session-deleted"),
    (re.compile(r"session\.user\.clientip is (?P<ip>[0-9A-Fa-f.:]+)"), "session-variable"),
    (re.compile(r"AUDIT - user (?P<user>\S+) - RAW: \S+?\(pam_audit\): [Uu]ser=(?P<user2>[^\s(]+)"
                r".{0,512}? host=(?P<ip>[0-9A-Fa-f.:]+) (?:(?P<failed>failed to login)|attempts=)"),
     "login"),
    (re.compile(r"AUDIT - pid=\d+ user=(?P<user>\S+) .{0,512}?status=\[(?P<status>[^\]]{0,64})"
                r"\] cmd_data=(?P<cmd>.*)$"), "command"),
    (re.compile(r"AUDIT - user (?P<user>\S+) - "), "audit"),
    (re.compile(r"client_?ip[=: ]+(?P<ip>[0-9A-Fa-f.:]+)"), "client"),
)
_DENY_RESULTS = ("deny", "denied", "failed", "logon_deny")
_LEVELS = frozenset(("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"))


class F5BigIpParser:
    """F5 BIG-IP ASM key-value logs and daemon messages (``01490500:5: ...``) → ``f5.bigip``."""

    name: ClassVar[str] = "f5"
    priority: ClassVar[int] = 12
    markers: ClassVar[tuple[str, ...]] = ("]: 01", "unit_hostname=", "ip_client=")

    def sniff(self, text: str) -> bool:
        """ASM's ``unit_hostname=`` or ``ip_client=``, or a daemon's ``]: 01`` message id."""
        return "]: 01" in text or "unit_hostname=" in text or "ip_client=" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        text = text.rstrip("\r\n")
        if "CEF:" in text[:200]:
            raise ParseError("F5 log in the CEF format (the cef parser reads it)")
        head, rest = parse_header(text, ctx)
        asm = rest.find("unit_hostname=")
        if asm < 0:
            asm = rest.find("ip_client=")
        if asm >= 0:
            return _asm(head, rest[rest.rfind(":", 0, asm) + 1:], ctx)
        daemon = _DAEMON.search(text)
        if daemon is None:
            raise ParseError("not an F5 BIG-IP log (no ASM key-value data and no 'daemon[pid]: "
                             "0123abcd:N:' message id)")
        return _daemon(head, daemon, text[daemon.end():], ctx)


def _base(head: Event, stamp: str, product_type: str) -> Event:
    ev = firewall_event(stamp, "f5.bigip", "F5", "BIG-IP")
    ev["event.module"] = "f5"
    ev["observer.type"] = product_type
    put_syslog(ev, head)
    host = head.get("host.name")
    if host and str(host) not in _LEVELS:  # "Nov 24 08:15:00 notice apmd[1]:": no host
        ev["observer.name"] = host
    return ev


# --- ASM -----------------------------------------------------------------------------------

def _asm(head: Event, data: str, ctx: ParseContext) -> Event:
    kv = {m[1]: m[2].replace('""', '"').replace('\\"', '"') for m in _ASM_PAIR.finditer(data)}
    if "ip_client" not in kv and "unit_hostname" not in kv:
        raise ParseError("not an F5 ASM key-value log (no ip_client or unit_hostname)")
    stamp = kv.get("date_time")
    ev = _base(head, local_time(stamp, ctx) if stamp else event_time(head, ctx), "waf")
    ev["f5.bigip.module"] = "ASM"
    for key, value in kv.items():
        value = value.strip()
        if value in EMPTY:
            continue
        if key in _ASM_IPS:
            put_ip(ev, _ASM_IPS[key], value)
        elif key in _ASM_INTS:
            if value != "0" or key != "response_code":  # 0: no response (a blocked request)
                put_int(ev, _ASM_INTS[key], value)
        elif key in _ASM_KEYS:
            ev[_ASM_KEYS[key]] = value.lower() if key == "severity" else value
        elif key == "protocol":
            ev["network.protocol"] = value.lower()
        elif key == "x_forwarded_for_header_value" and ip_version(value):
            ev["network.forwarded_ip"] = value
        elif key != "date_time":
            ev[f"f5.bigip.asm.{field_name(key)}"] = value
    _asm_verdict(ev, kv)
    return ev


def _asm_verdict(ev: Event, kv: dict[str, str]) -> None:
    status = kv.get("request_status", "").strip().lower()
    violations = kv.get("violations", "").strip()
    ev["event.category"] = ["web"]
    if violations and violations not in EMPTY:
        ev["event.kind"] = "alert"
        ev["event.category"] = ["web", "intrusion_detection"]
    ev["event.action"] = status or "request"
    if status == "blocked":
        ev.update({"event.type": ["access", "denied"], "event.outcome": "failure"})
    elif status in ("passed", "alerted", "legal"):
        ev.update({"event.type": ["access", "allowed"], "event.outcome": "success"})
    else:
        ev["event.type"] = ["access"]


# --- daemons -------------------------------------------------------------------------------

def _daemon(head: Event, m: re.Match[str], message: str, ctx: ParseContext) -> Event:
    program = m["prog"]
    ev = _base(head, event_time(head, ctx), "proxy")
    severity = int(m["sev"])
    ev.update({"event.code": m["id"], "event.severity": severity,
               "log.level": SEVERITY[severity], "f5.bigip.message_id": m["id"],
               "process.name": program.partition("(")[0], "message": message})
    if m["pid"]:
        put_int(ev, "process.pid", m["pid"])
    session = _APM_SESSION.match(message)
    if session is not None:
        ev.update({"f5.bigip.module": "APM", "f5.bigip.apm.access_profile": session["profile"],
                   "f5.bigip.apm.session_id": session["sid"]})
        message = message[session.end():]
    elif m["id"].startswith("0149"):
        ev["f5.bigip.module"] = "APM"
    for pattern, what in PATTERNS:
        found = pattern.search(message)
        if found is not None:
            _fill(ev, what, found.groupdict())
            break
    else:
        if not _flow(ev, message):
            ev.update({"event.action": "log", "event.category": ["host"],
                       "event.type": ["info"]})
    return ev


_ENDPOINT = re.compile(r"([0-9A-Fa-f.:]+)[:.](\d+)")


def _flow(ev: Event, message: str) -> bool:
    """TMM's ``203.0.113.9:51234 -> 10.0.0.10:443`` (IPv6: ``2001:db8::1.51234``): the words
    around the first `` -> ``."""
    arrow = message.find(" -> ")
    if arrow < 0:
        return False
    left = _ENDPOINT.fullmatch(message[:arrow].rpartition(" ")[2].strip("(),"))
    right = _ENDPOINT.fullmatch(message[arrow + 4:].partition(" ")[0].strip("(),"))
    if left is None or right is None or not put_ip(ev, "source", left[1]):
        return False
    put_int(ev, "source.port", left[2])
    if put_ip(ev, "destination", right[1]):
        put_int(ev, "destination.port", right[2])
    ev.update({"event.action": "flow", "event.category": ["network"],
               "event.type": ["connection"]})
    return True


def _fill(ev: Event, what: str, found: dict[str, str | None]) -> None:
    ev["event.action"] = what
    user = found.get("user2") or found.get("user")
    if user and user not in EMPTY:
        ev["user.name"] = user
    if found.get("ip"):
        put_ip(ev, "source", found["ip"])
    if found.get("vip"):
        put_ip(ev, "destination", found["vip"])
    if what == "session-started":
        ev.update({"event.category": ["session"], "event.type": ["start"]})
    elif what == "session-deleted":
        ev.update({"event.category": ["session"], "event.type": ["end"]})
    elif what in ("authentication", "access-policy-result", "login"):
        result = (found.get("result") or "").lower()
        failed = bool(found.get("failed")) or any(word in result for word in _DENY_RESULTS)
        ev.update({"event.category": ["authentication"], "event.type": ["start"],
                   "event.outcome": "failure" if failed else "success"})
    elif what == "command":
        ev.update({"event.category": ["configuration"], "event.type": ["change"],
                   "process.command_line": (found.get("cmd") or "").strip(),
                   "event.outcome": "success" if found.get("status") == "Command OK"
                   else "failure"})
    elif what == "audit":
        ev.update({"event.category": ["configuration"], "event.type": ["change"]})
    else:
        ev.update({"event.category": ["session"], "event.type": ["info"]})
