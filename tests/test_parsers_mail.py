"""Mail servers: Postfix and Dovecot (refined syslog), Zimbra audit/mailbox logs, Exchange
message tracking. Lines written here from the vendors' documentation (Postfix's daemon manuals
and its logging in the README files, Dovecot's logging settings, Zimbra's audit.log and
Microsoft's "Message tracking logs" field list)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.mail import EXCHANGE_2010, EXCHANGE_2013, ExchangeParser, ZimbraParser
from collectors.parsers.syslog import SyslogParser
from soc.ecs import Event
from soc.errors import ParseError, SkipRecord
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                   source="mail", stream="mail.log")
TS = "2026-11-24T01:15:00.000Z"  # 08:15:00 in Hanoi


def syslog(line: str) -> Event:
    return SyslogParser().parse(line, CTX)


def pick(ev: Event, *keys: str) -> dict[str, Any]:
    return {k: ev.get(k) for k in keys}


# --------------------------------------------------------------------------- Postfix

SMTPD = "Nov 24 08:15:00 mx1 postfix/smtpd[2314]: "


def test_postfix_connect_and_disconnect() -> None:
    ev = syslog(SMTPD + "connect from mail.example.org[198.51.100.7]")
    assert pick(ev, "event.dataset", "event.module", "event.action", "event.category",
                "event.type", "source.ip", "source.domain", "process.name") == {
        "event.dataset": "postfix.log", "event.module": "postfix", "event.action": "connect",
        "event.category": ["network"], "event.type": ["connection", "start"],
        "source.ip": "198.51.100.7", "source.domain": "mail.example.org",
        "process.name": "postfix/smtpd"}
    ev = syslog(SMTPD + "disconnect from unknown[203.0.113.5] ehlo=1 auth=0/1 quit=1 "
                        "commands=2/3")
    assert pick(ev, "event.action", "source.ip", "source.domain") == {
        "event.action": "disconnect", "source.ip": "203.0.113.5", "source.domain": None}


@pytest.mark.parametrize(("message", "user", "reason"), [
    ("warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
     None, "UGFzc3dvcmQ6"),
    ("warning: unknown[203.0.113.5]: SASL PLAIN authentication failed: authentication failure, "
     "sasl_username=admin@example.gov.vn", "admin@example.gov.vn", "authentication failure"),
    ("warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: ", None, None),
])
def test_postfix_sasl_failures(message: str, user: str | None, reason: str | None) -> None:
    ev = syslog(SMTPD + message)
    assert pick(ev, "event.action", "event.category", "event.outcome", "source.ip",
                "user.name", "event.reason") == {
        "event.action": "sasl-authentication-failed", "event.category": ["authentication"],
        "event.outcome": "failure", "source.ip": "203.0.113.5", "user.name": user,
        "event.reason": reason}


def test_postfix_reject_with_envelope() -> None:
    ev = syslog(SMTPD + "NOQUEUE: reject: RCPT from unknown[203.0.113.5]: 554 5.7.1 "
                        "<x@example.net>: Relay access denied; from=<spam@example.net> "
                        "to=<x@example.net> proto=ESMTP helo=<WIN-ABC>")
    assert pick(ev, "event.action", "event.outcome", "source.ip", "email.from.address",
                "email.to.address", "postfix.helo", "event.reason", "email.local_id") == {
        "event.action": "reject", "event.outcome": "failure", "source.ip": "203.0.113.5",
        "email.from.address": ["spam@example.net"], "email.to.address": ["x@example.net"],
        "postfix.helo": "WIN-ABC",
        "event.reason": "RCPT from unknown[203.0.113.5]: 554 5.7.1 <x@example.net>: Relay "
                        "access denied", "email.local_id": None}


def test_postfix_postscreen_addresses_and_ports() -> None:
    line = ("Nov 24 08:15:00 mx1 postfix/postscreen[99]: CONNECT from [203.0.113.5]:51234 "
            "to [10.0.0.1]:25")
    assert pick(syslog(line), "event.action", "source.ip", "source.port", "destination.ip",
                "destination.port") == {
        "event.action": "connect", "source.ip": "203.0.113.5", "source.port": 51234,
        "destination.ip": "10.0.0.1", "destination.port": 25}
    line = "Nov 24 08:15:01 mx1 postfix/postscreen[99]: PASS NEW [2001:db8::5]:40000"
    assert pick(syslog(line), "event.action", "source.ip", "source.port") == {
        "event.action": "postscreen-pass-new", "source.ip": "2001:db8::5", "source.port": 40000}


def test_postfix_queue_and_delivery() -> None:
    queued = syslog("Nov 24 08:15:00 mx1 postfix/qmgr[77]: 4D5E6F7A8B: "
                    "from=<alice@example.gov.vn>, size=2048, nrcpt=2 (queue active)")
    assert pick(queued, "event.action", "email.local_id", "email.from.address",
                "postfix.size", "postfix.nrcpt", "source.ip") == {
        "event.action": "queued", "email.local_id": "4D5E6F7A8B",
        "email.from.address": ["alice@example.gov.vn"], "postfix.size": 2048,
        "postfix.nrcpt": 2, "source.ip": None}
    for status, outcome in (("sent", "success"), ("bounced", "failure"), ("deferred", None)):
        ev = syslog(f"Nov 24 08:15:01 mx1 postfix/smtp[78]: 4D5E6F7A8B: to=<bob@example.org>, "
                    f"relay=mx.example.org[198.51.100.7]:25, delay=1.2, "
                    f"delays=0.1/0/0.5/0.6, dsn=2.0.0, status={status} (250 2.0.0 OK)")
        assert pick(ev, "event.action", "event.outcome", "email.to.address",
                    "destination.ip", "destination.domain", "destination.port",
                    "source.ip") == {
            "event.action": status, "event.outcome": outcome,
            "email.to.address": ["bob@example.org"], "destination.ip": "198.51.100.7",
            "destination.domain": "mx.example.org", "destination.port": 25,
            "source.ip": None}


def test_postfix_submission_with_sasl_user_and_multi_instance() -> None:
    line = ("Nov 24 08:15:00 mx1 postfix-out/submission/smtpd[5]: 4Xb2Kx1YzGz9sTn: "
            "client=pc7.example.gov.vn[10.0.5.7], sasl_method=LOGIN, sasl_username=bob")
    assert pick(syslog(line), "event.dataset", "event.action", "event.outcome", "user.name",
                "source.ip", "email.local_id", "postfix.sasl_method") == {
        "event.dataset": "postfix.log", "event.action": "sasl-authenticated",
        "event.outcome": "success", "user.name": "bob", "source.ip": "10.0.5.7",
        "email.local_id": "4Xb2Kx1YzGz9sTn", "postfix.sasl_method": "LOGIN"}


def test_postfix_smtp_connect_to_is_the_destination() -> None:
    line = ("Nov 24 08:15:00 mx1 postfix/smtp[5]: connect to mx.example.org[198.51.100.7]:25: "
            "Connection timed out")
    assert pick(syslog(line), "source.ip", "destination.ip", "destination.port") == {
        "source.ip": None, "destination.ip": "198.51.100.7", "destination.port": 25}


@pytest.mark.parametrize("message", [
    "statistics: max connection rate 5/60s for (smtp:203.0.113.5) at Nov 24 08:10:00",
    "warning: hostname mail.example.net does not resolve to address 203.0.113.5",
    "lost connection after AUTH from unknown[203.0.113.5]",
])
def test_postfix_other_client_mentions(message: str) -> None:
    assert syslog("Nov 24 08:15:00 mx1 postfix/anvil[1]: " + message)["source.ip"] == (
        "203.0.113.5")


def test_a_postfix_line_not_understood_keeps_its_dataset() -> None:
    ev = syslog("Nov 24 08:15:00 mx1 postfix/master[1]: daemon started -- version 3.7.11")
    assert (ev["event.dataset"], "event.action" in ev) == ("postfix.log", False)


# --------------------------------------------------------------------------- Dovecot


def test_dovecot_login_and_failure() -> None:
    ok = syslog("Nov 24 08:15:00 mx1 dovecot: imap-login: Login: user=<bob@example.gov.vn>, "
                "method=PLAIN, rip=203.0.113.5, lip=10.0.0.1, mpid=2041, TLS, session=<ab12>")
    assert pick(ok, "event.dataset", "event.action", "event.outcome", "user.name", "source.ip",
                "destination.ip", "dovecot.service", "dovecot.method") == {
        "event.dataset": "dovecot.log", "event.action": "login", "event.outcome": "success",
        "user.name": "bob@example.gov.vn", "source.ip": "203.0.113.5",
        "destination.ip": "10.0.0.1", "dovecot.service": "imap-login",
        "dovecot.method": "PLAIN"}
    bad = syslog("Nov 24 08:15:01 mx1 dovecot[900]: pop3-login: Disconnected (auth failed, "
                 "3 attempts in 14 secs): user=<admin>, method=PLAIN, rip=203.0.113.5, "
                 "lip=10.0.0.1, rport=50123, lport=995, TLS, session=<cd34>")
    assert pick(bad, "event.action", "event.outcome", "user.name", "source.port",
                "destination.port", "event.reason") == {
        "event.action": "login-failed", "event.outcome": "failure", "user.name": "admin",
        "source.port": 50123, "destination.port": 995,
        "event.reason": "auth failed, 3 attempts in 14 secs"}


@pytest.mark.parametrize("message", [
    "auth: passwd-file(bob,203.0.113.5,<Xy12>): unknown user",
    "auth-worker(3120): sql(bob,203.0.113.5): Password mismatch",
    "auth: pam(bob,203.0.113.5): pam_authenticate() failed: Authentication failure",
])
def test_dovecot_passdb_failures(message: str) -> None:
    ev = syslog("Nov 24 08:15:00 mx1 dovecot: " + message)
    assert pick(ev, "event.action", "event.outcome", "user.name", "source.ip") == {
        "event.action": "authentication-failed", "event.outcome": "failure",
        "user.name": "bob", "source.ip": "203.0.113.5"}


def test_dovecot_logout_own_log_file_and_pam_lines() -> None:
    out = syslog("Nov 24 08:15:00 mx1 dovecot: imap(bob)<2041><ab12>: Logged out in=120 out=900")
    assert pick(out, "event.action", "user.name") == {"event.action": "logout",
                                                       "user.name": "bob"}
    own = syslog("Nov 24 08:15:00 mx1 imap-login: Info: Login: user=<bob>, method=PLAIN, "
                 "rip=203.0.113.5, lip=10.0.0.1")
    assert pick(own, "event.action", "log.level", "source.ip") == {
        "event.action": "login", "log.level": "info", "source.ip": "203.0.113.5"}
    pam = syslog("Nov 24 08:15:00 mx1 dovecot: pam_unix(dovecot:auth): authentication failure; "
                 "logname= uid=0 euid=0 tty=dovecot ruser=bob rhost=203.0.113.5  user=bob")
    assert pick(pam, "event.dataset", "event.action", "source.ip") == {
        "event.dataset": "linux.auth", "event.action": "pam_authentication_failure",
        "source.ip": "203.0.113.5"}


# --------------------------------------------------------------------------- Zimbra

AUTH_FAILED = ("2026-11-24 08:15:00,123 WARN  [qtp1851-204:https://mail.example.gov.vn/service/"
               "soap/AuthRequest] [name=bob@example.gov.vn;oip=203.0.113.5;oport=51288;"
               "ua=ZimbraWebClient - FF120 (Win)/9.0.0_GA_4546;] security - cmd=Auth; "
               "account=bob@example.gov.vn; protocol=soap; error=authentication failed for "
               "[bob@example.gov.vn], invalid password;")


def test_zimbra_failed_login() -> None:
    assert ZimbraParser().parse(AUTH_FAILED, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.123Z", "event.dataset": "zimbra.audit",
        "event.module": "zimbra", "event.kind": "event", "log.level": "warn",
        "log.logger": "security",
        "zimbra.thread": "qtp1851-204:https://mail.example.gov.vn/service/soap/AuthRequest",
        "message": "cmd=Auth; account=bob@example.gov.vn; protocol=soap; error=authentication "
                   "failed for [bob@example.gov.vn], invalid password;",
        "source.ip": "203.0.113.5", "source.port": 51288, "user.name": "bob@example.gov.vn",
        "user_agent.original": "ZimbraWebClient - FF120 (Win)/9.0.0_GA_4546",
        "network.protocol": "soap", "event.action": "auth",
        "event.category": ["authentication"], "event.type": ["info"],
        "event.outcome": "failure", "event.reason": "invalid password",
        "related.ip": ["203.0.113.5"]}


@pytest.mark.parametrize(("line", "fields"), [
    ("2026-11-24 08:15:00,001 INFO  [ImapSSLServer-7] [ip=10.0.0.9;oip=203.0.113.5;via=10.0.0.9"
     "(nginx/1.20.1);] security - cmd=Auth; account=bob@example.gov.vn; protocol=imap;",
     {"event.action": "auth", "event.outcome": "success", "source.ip": "203.0.113.5",
      "zimbra.proxy_ip": "10.0.0.9", "network.protocol": "imap"}),
    ("2026-11-24 08:15:00,001 INFO  [Pop3Server-3] [ip=198.51.100.20;] security - cmd=Auth; "
     "account=carol@example.gov.vn; protocol=pop3;",
     {"event.action": "auth", "source.ip": "198.51.100.20", "user.name": "carol@example.gov.vn"}),
    ("2026-11-24 08:15:00,001 INFO  [qtp1-2:https://mail:7071/service/admin/soap/] "
     "[name=admin@example.gov.vn;oip=10.0.0.2, 203.0.113.9;ua=zmprov;] security - "
     "cmd=CreateAccount; name=eve@example.gov.vn;",
     {"event.action": "createaccount", "event.category": ["iam"], "source.ip": "10.0.0.2",
      "user.name": "eve@example.gov.vn"}),
    ("2026-11-24 08:15:00,001 INFO  [qtp9-9:https://mail/service/soap/] [name=bob@x;oip="
     "203.0.113.5;] SoapEngine - handler exception: authentication failed for [bob@x], "
     "account not found",
     {"event.dataset": "zimbra.mailbox", "event.outcome": "failure", "user.name": "bob@x",
      "event.reason": "account not found"}),
    ("<14>Nov 24 08:15:00 mail01 zimbra: 2026-11-24 08:15:00,001 INFO  [Pop3Server-3] "
     "[ip=198.51.100.20;] security - cmd=Auth; account=carol@example.gov.vn; protocol=pop3;",
     {"event.dataset": "zimbra.audit", "host.name": "mail01", "source.ip": "198.51.100.20"}),
    ("2026-11-24 08:15:00,001 INFO  [GC] [] mailop - moving message 257 to folder 2",
     {"event.dataset": "zimbra.mailbox", "source.ip": None, "event.action": None}),
])
def test_zimbra_lines(line: str, fields: dict[str, Any]) -> None:
    ev = get_parser("zimbra").parse(line, CTX)
    assert pick(ev, *fields) == fields


@pytest.mark.parametrize("line", [
    "2026-11-24 08:15:00 INFO [x] [oip=1.2.3.4;] security - cmd=Auth;",  # no milliseconds
    "2026-13-24 08:15:00,001 INFO  [x] [oip=1.2.3.4;] security - cmd=Auth;",
    "[oip=1.2.3.4;] security - cmd=Auth; account=x;",
])
def test_zimbra_refuses_other_shapes(line: str) -> None:
    with pytest.raises(ParseError):
        ZimbraParser().parse(line, CTX)


# --------------------------------------------------------------------------- Exchange

FIELDS = "#Fields: " + ",".join(EXCHANGE_2013)
RECEIVE = ('2026-11-24T01:15:00.123Z,203.0.113.5,mail.example.net,10.0.0.20,EXCH01,'
           '08DC1DB12C345BE5;250 2.0.0 OK,EXCH01\\Default EXCH01,SMTP,RECEIVE,70912345566403,'
           '<a1@example.net>,1e6eb197-c6b4-1234-1b69-56dc1db88f50,'
           'bob@example.gov.vn;carol@example.gov.vn,,7229,2,,,"Invoice, November",'
           'spam@example.net,spam@example.net,,Incoming,,203.0.113.5,10.0.0.20,'
           'S:DeliveryPriority=Normal,Email,05503123-c5b9-46fe-1234-56dc1db88f8f,15.02.1118.007')


def exchange_stream(*lines: str) -> list[Event | str]:
    parser = ExchangeParser()
    out: list[Event | str] = []
    for line in lines:
        try:
            out.append(parser.parse(line, CTX))
        except SkipRecord as exc:
            out.append(f"skip: {exc.message}")
    return out


def test_exchange_header_then_receive() -> None:
    skipped, ev = exchange_stream("#Software: Microsoft Exchange Server", FIELDS, RECEIVE)[1:]
    assert skipped == "skip: message tracking directive #Fields (not an event)"
    assert isinstance(ev, dict)
    assert pick(ev, "@timestamp", "event.dataset", "event.action", "event.outcome",
                "source.ip", "source.domain", "destination.ip", "observer.name",
                "email.to.address", "email.from.address", "email.subject", "network.bytes",
                "email.local_id", "email.direction") == {
        "@timestamp": "2026-11-24T01:15:00.123Z", "event.dataset": "microsoft.exchange",
        "event.action": "receive", "event.outcome": "success", "source.ip": "203.0.113.5",
        "source.domain": "mail.example.net", "destination.ip": "10.0.0.20",
        "observer.name": "EXCH01",
        "email.to.address": ["bob@example.gov.vn", "carol@example.gov.vn"],
        "email.from.address": ["spam@example.net"], "email.subject": "Invoice, November",
        "network.bytes": 7229, "email.local_id": "1e6eb197-c6b4-1234-1b69-56dc1db88f50",
        "email.direction": "Incoming"}


def test_exchange_without_header_and_2010_layout_and_failures() -> None:
    ev = ExchangeParser().parse(RECEIVE, CTX)  # a pass resuming mid-file: the 2013+ layout
    assert ev["source.ip"] == "203.0.113.5"
    row = dict.fromkeys(EXCHANGE_2010, "")
    row.update({"date-time": "2026-11-24T01:15:00.000Z", "event-id": "FAIL",
                "sender-address": "<>", "recipient-address": "x@example.gov.vn"})
    fail = ExchangeParser().parse(",".join(row.values()), CTX)
    assert pick(fail, "event.action", "event.outcome", "email.from.address", "source.ip") == {
        "event.action": "fail", "event.outcome": "failure", "email.from.address": None,
        "source.ip": None}


@pytest.mark.parametrize(("line", "reason"), [
    ("2026-11-24T01:15:00.000Z,1,2,3", "4 columns fit no Exchange message tracking layout"),
    ("#Fields: date time s-ip cs-method", "a #Fields: header without date-time (not Exchange)"),
    ("#Software: Microsoft Internet Information Services 10.0",
     "a #Software: directive of another product"),
    ("2026-99-24T01:15:00.000Z" + "," * 29, "bad date-time '2026-99-24T01:15:00.000Z'"),
])
def test_exchange_refusals(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        ExchangeParser().parse(line, CTX)
    assert info.value.message == reason


def test_auto_detection_tells_exchange_from_iis() -> None:
    auto = get_parser("auto")
    results = []
    for line in ("#Software: Microsoft Exchange Server", "#Version: 15.02.1118.007", FIELDS,
                 RECEIVE):
        try:
            results.append(auto.parse(line, CTX)["event.dataset"])
        except SkipRecord:
            results.append("skip")
    assert results == ["skip", "skip", "skip", "microsoft.exchange"]
    iis = get_parser("auto")
    with pytest.raises(SkipRecord):
        iis.parse("#Software: Microsoft Internet Information Services 10.0", CTX)
    assert iis.last is not None and iis.last.name == "iis"
