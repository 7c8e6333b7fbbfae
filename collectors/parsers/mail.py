"""Mail servers → ECS events: Postfix and Dovecot (refined syslog), Zimbra's mailbox and audit
logs, Microsoft Exchange message tracking logs.

* **Postfix** (``postfix/smtpd[123]:``, ``postfix/qmgr``, ``postfix/smtp``, ``postfix/postscreen``,
  multi-instance ``postfix-out/smtp``...) and **Dovecot** (``dovecot:``, ``imap-login:``...) write
  to syslog: :data:`REFINERS` and :data:`PREFIX_REFINERS` plug into the syslog parser as
  :mod:`.linux_auth` does, and every line of those programs becomes ``postfix.log`` or
  ``dovecot.log`` (a message not recognised keeps its syslog fields, without ``event.action``).
  Postfix writes its facts as ``key=value`` items in any order, so they are read one by one
  (client ``host[ip]``, ``from=<>``, ``to=<>``, ``relay=``, ``status=``, ``sasl_username=``...)
  rather than by one pattern per message.
* **Zimbra** mailbox.log and audit.log lines (``2026-11-24 08:15:00,123 WARN [thread]
  [name=...;oip=...;ua=...;] security - cmd=Auth; account=...; error=authentication failed
  for [...], invalid password;``): :class:`ZimbraParser` → ``zimbra.audit`` (the ``security``
  logger) or ``zimbra.mailbox`` (the others).
* **Exchange** message tracking logs (CSV with a ``#Fields:`` header): :class:`ExchangeParser` →
  ``microsoft.exchange``, the header remembered per stream as the IIS parser does.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from collectors.parsers import generic, linux_auth
from soc.ecs import Event, format_ts
from soc.errors import ParseError, SkipRecord
from soc.pipeline.sources import ParseContext

Refiner = Callable[[Event, str, str, str], None]

# --------------------------------------------------------------------------- Postfix

_QUEUE_ID = re.compile(r"([0-9A-F]{5,12}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,16}|NOQUEUE): ")
_CLIENT = re.compile(r"([\w.-]*)\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?")
_FROM = re.compile(r"(?:^|[\s,;])from=<([^>]*)>")
_TO = re.compile(r"(?:^|[\s,;])to=<([^>]*)>")
_ORIG_TO = re.compile(r"(?:^|[\s,;])orig_to=<([^>]*)>")
_RELAY = re.compile(r"relay=([^\s,\[]+)(?:\[([^\]]*)\](?::(\d{1,5}))?)?")
_STATUS = re.compile(r"status=(\w+)(?: \((.*)\))?")
_ITEM = re.compile(r"(?:^|[\s,])(size|nrcpt|dsn|delay|sasl_method|sasl_username|helo|proto|"
                   r"message-id)=(<[^>]*>|[^\s,]+)")
_SASL_FAILED = re.compile(r"SASL (\S+) authentication failed: ?([^,]*)")
_UNRESOLVED = re.compile(r"address ([0-9A-Fa-f:.]+)")
_ANVIL = re.compile(r"for \(\w+:([0-9A-Fa-f:.]+)\)")
_AFTER = re.compile(r"^(lost connection|timeout|too many errors|improper command pipelining)"
                    r" after (\S+)")
_POSTSCREEN = re.compile(r"^(PASS NEW|PASS OLD|DNSBL rank|PREGREET|HANGUP|COMMAND PIPELINING|"
                         r"COMMAND TIME LIMIT|BARE NEWLINE|NON-SMTP COMMAND|WHITELISTED|"
                         r"ALLOWLISTED|DENYLISTED|BLACKLISTED)\b")
_VERDICT = re.compile(r"(reject|milter-reject|discard|hold|warn|filter|redirect|"
                      r"reject_warning): ")
_REFUSED = frozenset(("reject", "milter-reject", "discard"))
_DELIVERED = frozenset(("sent", "delivered", "deliverable"))
_UNDELIVERED = frozenset(("bounced", "expired", "undeliverable"))
_ITEM_KEYS = {"size": "postfix.size", "nrcpt": "postfix.nrcpt", "dsn": "postfix.dsn",
              "delay": "postfix.delay", "sasl_method": "postfix.sasl_method",
              "helo": "postfix.helo", "proto": "postfix.proto",
              "message-id": "email.message_id"}
EMAIL = ("email",)
NETWORK = ("network",)
AUTHENTICATION = ("authentication",)


def _meaning(ev: Event, action: str, category: tuple[str, ...], kind: tuple[str, ...],
             outcome: str | None = None) -> None:
    ev["event.action"] = action
    ev["event.category"] = list(category)
    ev["event.type"] = list(kind)
    if outcome is not None:
        ev["event.outcome"] = outcome


def refine_postfix(ev: Event, program: str, tag: str, message: str) -> None:
    """A Postfix daemon's line → ``postfix.log`` fields (see the module's notes)."""
    ev["event.dataset"] = "postfix.log"
    ev["event.module"] = "postfix"
    ev["event.kind"] = "event"
    rest = message
    queue = _QUEUE_ID.match(message)
    if queue is not None:
        if queue[1] != "NOQUEUE":
            ev["email.local_id"] = queue[1]
        rest = message[queue.end():]
    _postfix_items(ev, rest)
    _postfix_client(ev, rest)
    _postfix_action(ev, rest, program)
    if "source.ip" in ev:
        ev["related.ip"] = [ev["source.ip"]]


def _postfix_items(ev: Event, rest: str) -> None:
    if "from=<" in rest and (m := _FROM.search(rest)) is not None and m[1]:
        ev["email.from.address"] = [m[1]]
    if "to=<" in rest:
        if (m := _TO.search(rest)) is not None and m[1]:
            ev["email.to.address"] = [m[1]]
        if (m := _ORIG_TO.search(rest)) is not None and m[1]:
            ev["postfix.orig_to"] = m[1]
    if "relay=" in rest and (m := _RELAY.search(rest)) is not None:
        host, ip, port = m.groups()
        if host not in ("none", "local", "virtual"):
            ev["destination.domain"] = host
        if ip and generic.is_ip(ip):
            ev["destination.ip"] = ip
            generic.put_port(ev, "destination.port", port)
    if "=" in rest:
        for key, value in _ITEM.findall(rest):
            if key == "sasl_username":
                ev["user.name"] = value
            elif key in ("size", "nrcpt") and value.isascii() and value.isdigit() \
                    and len(value) <= 18:
                ev[_ITEM_KEYS[key]] = int(value)
            else:
                ev[_ITEM_KEYS[key]] = value.strip("<>") if value[:1] == "<" else value


def _postfix_client(ev: Event, rest: str) -> None:
    """The client: the first ``host[ip]`` that is not the relay, ``[ip]:port`` (postscreen),
    ``(smtp:ip)`` (anvil) or ``address ip`` (a hostname that does not resolve)."""
    for m in _CLIENT.finditer(rest):
        before = rest[max(0, m.start() - 6):m.start()]
        if before == "relay=" or not generic.is_ip(m[2]):
            continue
        if before.endswith("to "):  # "connect to host[ip]:25", "CONNECT from ... to [ip]:25"
            if "destination.ip" not in ev:
                ev["destination.ip"] = m[2]
                generic.put_port(ev, "destination.port", m[3])
            continue
        if "source.ip" in ev:
            continue
        ev["source.ip"] = m[2]
        if m[1] and m[1] != "unknown":
            ev["source.domain"] = m[1]
        generic.put_port(ev, "source.port", m[3])
    if "source.ip" in ev:
        return
    for pattern in (_ANVIL, _UNRESOLVED):
        found = pattern.search(rest)
        if found is not None and generic.is_ip(found[1]):
            ev["source.ip"] = found[1]
            return


def _postfix_action(ev: Event, rest: str, program: str) -> None:
    status = _STATUS.search(rest) if "status=" in rest else None
    if status is not None:
        word = status[1]
        outcome = ("success" if word in _DELIVERED else "failure" if word in _UNDELIVERED
                   else None)
        _meaning(ev, word, EMAIL, ("info",), outcome)
        if status[2]:
            ev["event.reason"] = status[2]
    elif (sasl := _SASL_FAILED.search(rest)) is not None:
        _meaning(ev, "sasl-authentication-failed", AUTHENTICATION, ("info",), "failure")
        ev["postfix.sasl_method"] = sasl[1]
        if sasl[2]:
            ev["event.reason"] = sasl[2]
    elif (verdict := _VERDICT.match(rest)) is not None:
        word = verdict[1]
        _meaning(ev, word, EMAIL, ("info",), "failure" if word in _REFUSED else None)
        ev["event.reason"] = rest[verdict.end():].split("; from=<", 1)[0]
    elif rest.startswith("client="):
        if "user.name" in ev:
            _meaning(ev, "sasl-authenticated", ("authentication", "email"), ("info",),
                     "success")
        else:
            _meaning(ev, "client", EMAIL, ("info",))
    else:
        _postfix_other(ev, rest, program)


def _postfix_other(ev: Event, rest: str, program: str) -> None:
    if rest.startswith(("connect from ", "CONNECT from ")):
        _meaning(ev, "connect", NETWORK, ("connection", "start"))
    elif rest.startswith("disconnect from "):
        _meaning(ev, "disconnect", NETWORK, ("connection", "end"))
    elif (after := _AFTER.match(rest)) is not None:
        _meaning(ev, after[1].replace(" ", "-"), NETWORK, ("connection",))
        ev["postfix.after_command"] = after[2]
    elif (screen := _POSTSCREEN.match(rest)) is not None:
        _meaning(ev, "postscreen-" + screen[1].lower().replace(" ", "-"), NETWORK,
                 ("connection",))
    elif rest.startswith("from=<") and "size=" in rest:
        _meaning(ev, "queued", EMAIL, ("info",))
    elif rest.startswith("message-id="):
        _meaning(ev, "message-id", EMAIL, ("info",))
    elif rest == "removed":
        _meaning(ev, "removed", EMAIL, ("info",))
    elif rest.startswith("warning: hostname ") and "does not resolve" in rest:
        _meaning(ev, "reverse-lookup-failed", NETWORK, ("info",))


# --------------------------------------------------------------------------- Dovecot

_DOVECOT_LEVELS = frozenset(("Debug", "Info", "Warning", "Warn", "Error", "Fatal", "Panic"))
_DOVECOT_LEVEL = re.compile(r"(Debug|Info|Warning|Warn|Error|Fatal|Panic): ")
_DOVECOT_PROC = re.compile(r"([\w-]+)(?:\(([^)]*)\))?(?:<[^>]*>)*: ")
_DOVECOT_KV = re.compile(r"(?:^|[\s,])(user|method|rip|lip|rport|lport|session)="
                         r"(<[^>]*>|[^\s,]*)")
_PASSDB = re.compile(r"(?:[\w-]+\(\d+\): )?([\w-]+)\(([^,()]*),([0-9A-Fa-f:.]*)(?:,<[^>]*>)?\)"
                     r": (.*)")
_AUTH_FAILURE = re.compile(r"(?i)unknown user|password mismatch|authentication fail|"
                           r"auth failed|invalid password|failed")


def refine_dovecot(ev: Event, program: str, tag: str, message: str) -> None:
    """A Dovecot line (``dovecot: imap-login: Login: user=<...>, method=..., rip=..., lip=...``,
    ``auth: passwd-file(user,ip): unknown user``, ``imap(user): Logged out``...) → ``dovecot.log``
    fields."""
    if message.startswith("pam_") or "(pam" in tag:  # PAM speaking through dovecot's auth
        linux_auth.refine(ev, program, tag, message)
        return
    ev["event.dataset"] = "dovecot.log"
    ev["event.module"] = "dovecot"
    ev["event.kind"] = "event"
    level = _DOVECOT_LEVEL.match(message)
    if level is not None:  # dovecot's own log file: "Info: imap-login: ..."
        ev["log.level"] = level[1].lower()
        message = message[level.end():]
    proc = _DOVECOT_PROC.match(message)
    service = program
    rest = message
    if proc is not None and proc[1] in _DOVECOT_LEVELS:  # 2.x file: "imap-login: Info: ..."
        ev["log.level"] = proc[1].lower()
        proc = None
        rest = message.partition(": ")[2]
    elif proc is not None and not proc[1][0].islower() and proc[2] is None:
        proc = None  # "Login: user=<...>": a message, not a process (those are lower case)
    if proc is not None:
        service, rest = proc[1], message[proc.end():]
        if proc[2] and not proc[2].isdigit() and service not in ("auth", "auth-worker"):
            ev["user.name"] = proc[2]  # imap(bob)
    ev["dovecot.service"] = service
    _dovecot_items(ev, rest)
    if service.startswith(("auth", "auth-worker")) or "(" in rest[:40]:
        passdb = _PASSDB.match(rest)
        if passdb is not None:
            _dovecot_passdb(ev, passdb)
            return
    _dovecot_action(ev, rest)


def _dovecot_items(ev: Event, rest: str) -> None:
    for key, raw in _DOVECOT_KV.findall(rest):
        value = raw.strip("<>")
        if not value:
            continue
        if key == "user":
            ev["user.name"] = value
        elif key in ("rip", "lip"):
            if generic.is_ip(value):
                ev["source.ip" if key == "rip" else "destination.ip"] = value
        elif key in ("rport", "lport"):
            generic.put_port(ev, "source.port" if key == "rport" else "destination.port", value)
        else:
            ev[f"dovecot.{key}"] = value
    if "source.ip" in ev:
        ev["related.ip"] = [ev["source.ip"]]


def _dovecot_passdb(ev: Event, m: re.Match[str]) -> None:
    """``passdb(user,ip[,<session>]): reason`` from the auth process."""
    backend, user, ip, reason = m.groups()
    if user:
        ev["user.name"] = user
    if generic.is_ip(ip):
        ev["source.ip"] = ip
        ev["related.ip"] = [ip]
    ev["dovecot.passdb"] = backend
    ev["event.reason"] = reason
    if _AUTH_FAILURE.search(reason) is not None:
        _meaning(ev, "authentication-failed", AUTHENTICATION, ("info",), "failure")


def _dovecot_action(ev: Event, rest: str) -> None:
    if rest.startswith("Login: "):
        _meaning(ev, "login", ("authentication", "session"), ("start",), "success")
    elif "auth failed" in rest or "authentication failed" in rest.lower():
        _meaning(ev, "login-failed", AUTHENTICATION, ("info",), "failure")
        ev["event.reason"] = _parenthesis(rest)
    elif rest.startswith(("Logged out", "Disconnected: Logged out")):
        _meaning(ev, "logout", ("session",), ("end",), "success")
    elif rest.startswith(("Disconnected", "Aborted login", "Login aborted")):
        _meaning(ev, "disconnected", NETWORK, ("connection", "end"))
        reason = _parenthesis(rest)
        if reason:
            ev["event.reason"] = reason


def _parenthesis(text: str) -> str:
    start = text.find("(")
    end = text.find(")", start + 1)
    return text[start + 1:end] if 0 <= start < end else ""


REFINERS: dict[str, Refiner] = {
    "dovecot": refine_dovecot, "imap-login": refine_dovecot, "pop3-login": refine_dovecot,
    "submission-login": refine_dovecot, "managesieve-login": refine_dovecot,
}
"""Program → refiner, for :data:`collectors.parsers.syslog.REFINERS`."""
PREFIX_REFINERS: dict[str, Refiner] = {"postfix": refine_postfix}
"""Program prefix → refiner: ``postfix/smtpd``, ``postfix-out/smtp``, ``postfix/submission/smtpd``
..."""


def _header(text: str, ctx: ParseContext) -> tuple[Event, str]:
    """:func:`collectors.parsers.syslog.parse_header`, imported on first use: the syslog parser
    imports this module for its refiners."""
    from collectors.parsers.syslog import parse_header

    return parse_header(text, ctx)


# --------------------------------------------------------------------------- Zimbra

_ZIMBRA = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) +([A-Z]+) +\[([^\]]*)\] "
                     r"\[([^\]]*)\] (\S+) - ?(.*)")
_ZIMBRA_KV = re.compile(r"(\w+)=([^;]*);?")
_ZIMBRA_AUTH = frozenset(("auth", "adminauth", "authrequest", "preauth", "authtoken"))
_ZIMBRA_IAM = ("createaccount", "deleteaccount", "renameaccount", "modifyaccount",
               "setpassword", "changepassword", "adddistributionlistmember",
               "removedistributionlistmember", "createdistributionlist", "grantright",
               "revokeright")
_ZIMBRA_ERROR = re.compile(r"authentication failed for \[([^\]]*)\],? ?(.*)")


class ZimbraParser:
    """Zimbra mailbox.log / audit.log lines → ``zimbra.audit`` (``security`` logger: logins,
    admin logins, account changes) or ``zimbra.mailbox``. Times are the server's local time
    (``ctx.tz``); ``oip`` (the originating client, behind the proxy) is ``source.ip``, else
    ``ip``."""

    name: ClassVar[str] = "zimbra"
    priority: ClassVar[int] = 16
    markers: ClassVar[tuple[str, ...]] = ("oip=", "security - cmd=")  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """``security - cmd=``, ``;oip=`` or ``[oip=`` appears."""
        return "oip=" in text or "security - cmd=" in text

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ParseError` otherwise."""
        m = _ZIMBRA.match(text)
        head: Event = {}
        if m is None:
            head, rest = _header(text.rstrip("\r\n"), ctx)
            m = _ZIMBRA.match(rest.lstrip()) if head else None
            if m is None:
                raise ParseError("not a Zimbra mailbox/audit log line")
        day, millis, level, thread, context, logger, message = m.groups()
        security = logger == "security"
        ev: Event = {"@timestamp": _local_time(f"{day}.{millis}", ctx),
                     "event.dataset": "zimbra.audit" if security else "zimbra.mailbox",
                     "event.module": "zimbra", "event.kind": "event",
                     "log.level": level.lower(), "log.logger": logger,
                     "zimbra.thread": thread, "message": message}
        if "host.name" in head:
            ev["host.name"] = ev["host.hostname"] = head["host.name"]
        _zimbra_context(ev, context)
        if security:
            _zimbra_security(ev, message)
        elif (failed := _ZIMBRA_ERROR.search(message)) is not None:  # SoapEngine, imap...
            _meaning(ev, "auth", AUTHENTICATION, ("info",), "failure")
            ev["user.name"] = failed[1]
            if failed[2]:
                ev["event.reason"] = failed[2]
        if "source.ip" in ev:
            ev["related.ip"] = [ev["source.ip"]]
        return ev


def _local_time(text: str, ctx: ParseContext) -> str:
    try:
        dt = datetime.fromisoformat(text)
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=ctx.tz))
    except (ValueError, OverflowError):
        raise ParseError(f"bad time {text[:30]!r}") from None


def _zimbra_context(ev: Event, context: str) -> None:
    """``name=bob@x;mid=1;ip=10.0.0.5;oip=203.0.113.5;ua=ZimbraWebClient...;``."""
    kv = dict(_ZIMBRA_KV.findall(context))
    for key in ("oip", "ip"):
        address = kv.get(key, "").split(",")[0].strip()
        if address and generic.is_ip(address):
            ev["source.ip"] = address
            break
    if kv.get("ip") and "source.ip" in ev and kv["ip"] != ev["source.ip"]:
        ev["zimbra.proxy_ip"] = kv["ip"]
    if kv.get("name"):
        ev["user.name"] = kv["name"]
    if kv.get("ua"):
        ev["user_agent.original"] = kv["ua"]
    generic.put_port(ev, "source.port", kv.get("oport") or kv.get("port"))
    for key in ("mid", "aname", "via", "soapId", "oproto"):
        if kv.get(key):
            ev[f"zimbra.{key.lower()}"] = kv[key]


def _zimbra_security(ev: Event, message: str) -> None:
    """``cmd=Auth; account=bob@x; protocol=soap; error=authentication failed for [bob@x],
    invalid password;``."""
    kv = {k: v.strip() for k, v in _ZIMBRA_KV.findall(message)}
    cmd = kv.get("cmd", "")
    account = kv.get("account") or kv.get("name")
    if account:
        ev["user.name"] = account
    if kv.get("protocol"):
        ev["network.protocol"] = kv["protocol"].lower()
    error = kv.get("error")
    lower = cmd.lower()
    category = AUTHENTICATION if lower in _ZIMBRA_AUTH else ("iam",) if lower in _ZIMBRA_IAM \
        else ("configuration",)
    _meaning(ev, lower or "unknown", category,
             ("start",) if category == AUTHENTICATION else ("change",),
             "failure" if error else "success")
    if error:
        failed = _ZIMBRA_ERROR.match(error)
        ev["event.reason"] = failed[2] if failed is not None and failed[2] else error
        if failed is not None and failed[1]:
            ev["user.name"] = failed[1]
        ev["event.type"] = ["info"]


# --------------------------------------------------------------------------- Exchange

EXCHANGE_2013 = (
    "date-time", "client-ip", "client-hostname", "server-ip", "server-hostname",
    "source-context", "connector-id", "source", "event-id", "internal-message-id",
    "message-id", "network-message-id", "recipient-address", "recipient-status", "total-bytes",
    "recipient-count", "related-recipient-address", "reference", "message-subject",
    "sender-address", "return-path", "message-info", "directionality", "tenant-id",
    "original-client-ip", "original-server-ip", "custom-data", "transport-traffic-type",
    "log-id", "schema-version")
EXCHANGE_2010 = tuple(f for f in EXCHANGE_2013 if f not in (
    "network-message-id", "transport-traffic-type", "log-id", "schema-version"))
_EXCHANGE_LAYOUTS = {len(EXCHANGE_2013): EXCHANGE_2013, len(EXCHANGE_2010): EXCHANGE_2010}
_EXCHANGE_KEYS = {
    "client-hostname": "source.domain", "server-hostname": "destination.domain",
    "message-id": "email.message_id", "network-message-id": "email.local_id",
    "message-subject": "email.subject", "sender-address": "email.sender.address",
    "return-path": "microsoft.exchange.return_path", "directionality": "email.direction",
    "connector-id": "microsoft.exchange.connector_id", "source": "microsoft.exchange.source",
    "source-context": "microsoft.exchange.source_context",
    "recipient-status": "microsoft.exchange.recipient_status",
    "internal-message-id": "microsoft.exchange.internal_message_id",
    "tenant-id": "microsoft.exchange.tenant_id", "reference": "microsoft.exchange.reference",
    "message-info": "microsoft.exchange.message_info",
    "custom-data": "microsoft.exchange.custom_data",
    "transport-traffic-type": "microsoft.exchange.transport_traffic_type",
    "log-id": "microsoft.exchange.log_id", "schema-version": "microsoft.exchange.schema_version",
    "related-recipient-address": "microsoft.exchange.related_recipient_address",
}
_EXCHANGE_FAILED = frozenset(("FAIL", "DSN", "DROP", "BADMAIL", "POISONMESSAGE", "DEFER",
                              "HAREDIRECTFAIL", "SENDEXTERNALFAIL"))
_EXCHANGE_DONE = frozenset(("DELIVER", "SEND", "SENDEXTERNAL", "RECEIVE", "SUBMIT",
                            "TRANSFER", "RESUBMIT", "EXPAND", "REDIRECT", "DUPLICATEDELIVER"))
_MAX_STREAMS = 1024


class ExchangeParser:
    """Exchange Server message tracking log lines → ``microsoft.exchange``.

    The ``#Fields:`` header names the columns; directives raise :class:`SkipRecord` (no event)
    and the layout is kept per stream (``ctx.key``). A line met before any header takes the
    Exchange 2013+ (30 columns) or 2010 (26) layout by its column count. ``client-ip`` is
    ``source.ip``, ``server-ip`` ``destination.ip``; the recipients (``;``-separated) are
    ``email.to.address``; ``event-id`` (RECEIVE, SEND, DELIVER, FAIL...) is ``event.action``.
    """

    name: ClassVar[str] = "exchange"
    priority: ClassVar[int] = 14  # before IIS (15), whose sniff takes W3C directives too
    markers: ClassVar[tuple[str, ...]] = ("#", "Z,")  # see Parser.markers

    def __init__(self) -> None:
        self._layouts: dict[str, tuple[str, ...]] = {}

    def sniff(self, text: str) -> bool:
        """``#Software: Microsoft Exchange``, ``#Fields: date-time,``, or a line that starts
        with an ISO time in UTC and a comma."""
        if text[:1] == "#":
            return text.startswith(("#Software: Microsoft Exchange", "#Fields: date-time,",
                                    "#Log-type: Message Tracking"))
        return text[4:5] == "-" and text[10:11] == "T" and "Z," in text[19:30]

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`SkipRecord` for directives."""
        line = text.rstrip("\r\n")
        if line[:1] == "#":
            self._directive(line, ctx.key)
        try:
            values = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            raise ParseError("not a CSV line") from None
        layout = self._layouts.get(ctx.key)
        if layout is None or len(layout) != len(values):
            layout = _EXCHANGE_LAYOUTS.get(len(values))
            if layout is None:
                raise ParseError(f"{len(values)} columns fit no Exchange message tracking "
                                 "layout")
        return _exchange_event(dict(zip(layout, values, strict=True)))

    def _directive(self, line: str, source: str) -> None:
        key, _, value = line[1:].partition(": ")
        if key == "Fields":
            names = tuple(n.strip() for n in value.split(","))
            if "date-time" not in names:
                raise ParseError("a #Fields: header without date-time (not Exchange)")
            if len(self._layouts) >= _MAX_STREAMS and source not in self._layouts:
                del self._layouts[next(iter(self._layouts))]
            self._layouts[source] = names
        elif key == "Software" and "Exchange" not in value:
            raise ParseError("a #Software: directive of another product")
        raise SkipRecord(f"message tracking directive #{key[:20]} (not an event)")


def _exchange_event(row: dict[str, str]) -> Event:
    stamp = row.get("date-time", "")
    try:
        when = format_ts(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise ParseError(f"bad date-time {stamp[:30]!r}") from None
    ev: Event = {"@timestamp": when, "event.dataset": "microsoft.exchange",
                 "event.module": "microsoft", "event.kind": "event",
                 "event.category": ["email"], "event.type": ["info"],
                 "observer.vendor": "Microsoft", "observer.product": "Exchange Server"}
    for column, key in (("client-ip", "source"), ("server-ip", "destination")):
        if row.get(column):
            generic.put_address(ev, key, row[column])
    for column, target in _EXCHANGE_KEYS.items():
        value = row.get(column)
        if value:
            ev[target] = value
    _exchange_people(ev, row)
    action = row.get("event-id", "")
    if action:
        ev["event.action"] = action.lower()
        if action in _EXCHANGE_FAILED:
            ev["event.outcome"] = "failure"
        elif action in _EXCHANGE_DONE:
            ev["event.outcome"] = "success"
    if row.get("server-hostname"):
        ev["observer.name"] = row["server-hostname"]
    ips = [ev[k] for k in ("source.ip", "destination.ip") if k in ev]
    if ips:
        ev["related.ip"] = list(dict.fromkeys(ips))
    return ev


def _exchange_people(ev: Event, row: dict[str, str]) -> None:
    recipients = [r for r in row.get("recipient-address", "").split(";") if r]
    if recipients:
        ev["email.to.address"] = recipients
    sender = row.get("sender-address")
    if sender and sender != "<>":
        ev["email.from.address"] = [sender]
    size = row.get("total-bytes", "")
    if size.isascii() and size.isdigit() and len(size) <= 18:
        ev["network.bytes"] = int(size)
    count = row.get("recipient-count", "")
    if count.isascii() and count.isdigit() and len(count) <= 18:
        ev["microsoft.exchange.recipient_count"] = int(count)
