"""OpenVPN server logs, in syslog and in OpenVPN's own log file. Lines written here from
OpenVPN's manual (--log, --verb, --auth-user-pass-verify, the management of client instances)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.openvpn import OpenVpnParser
from collectors.parsers.syslog import SyslogParser
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
HEAD = "Nov 24 08:15:00 vpn01 openvpn[2210]: "


def pick(ev: Event, *keys: str) -> dict[str, Any]:
    return {k: ev.get(k) for k in keys}


def test_openvpn_password_accepted() -> None:
    ev = SyslogParser().parse(HEAD + "203.0.113.5:51234 TLS: Username/Password authentication "
                                     "succeeded for username 'bob' [CN SET]", CTX)
    assert pick(ev, "event.dataset", "event.module", "event.action", "event.category",
                "event.outcome", "source.ip", "source.port", "user.name",
                "observer.product") == {
        "event.dataset": "openvpn.log", "event.module": "openvpn",
        "event.action": "authentication-succeeded", "event.category": ["authentication"],
        "event.outcome": "success", "source.ip": "203.0.113.5", "source.port": 51234,
        "user.name": "bob", "observer.product": "OpenVPN"}


@pytest.mark.parametrize(("message", "fields"), [
    ("203.0.113.5:51234 TLS: Initial packet from [AF_INET]203.0.113.5:51234, sid=5e943ab8 "
     "40ab9fed", {"event.action": "tls-initial-packet", "source.ip": "203.0.113.5"}),
    ("203.0.113.5:51234 VERIFY OK: depth=0, CN=bob",
     {"event.action": "certificate-verified", "user.name": "bob",
      "tls.client.x509.subject.common_name": "bob"}),
    ("203.0.113.5:51234 VERIFY OK: depth=1, CN=Example CA",
     {"event.action": "certificate-verified", "user.name": None}),
    ("203.0.113.5:51234 VERIFY ERROR: depth=0, error=certificate has expired: CN=eve",
     {"event.action": "certificate-verify-failed", "event.outcome": "failure",
      "user.name": "eve"}),
    ("203.0.113.5:51234 TLS Auth Error: Auth Username/Password verification failed for peer",
     {"event.action": "authentication-failed", "event.outcome": "failure",
      "source.ip": "203.0.113.5"}),
    ("eve/203.0.113.5:51234 SENT CONTROL [eve]: 'AUTH_FAILED' (status=1)",
     {"event.action": "authentication-failed", "user.name": "eve"}),
    ("203.0.113.5:51234 PLUGIN_CALL: POST /usr/lib/openvpn/openvpn-plugin-auth-pam.so/"
     "PLUGIN_AUTH_USER_PASS_VERIFY status=1", {"event.action": "authentication-failed"}),
    ("203.0.113.5:51234 [bob] Peer Connection Initiated with [AF_INET]203.0.113.5:51234",
     {"event.action": "peer-connection-initiated", "user.name": "bob",
      "event.category": ["session"]}),
    ("bob/203.0.113.5:51234 MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)",
     {"event.action": "virtual-ip-assigned", "openvpn.virtual_ip": "10.8.0.6",
      "related.ip": ["203.0.113.5", "10.8.0.6"]}),
    ("bob/203.0.113.5:51234 SIGTERM[soft,remote-exit] received, client-instance exiting",
     {"event.action": "client-disconnected", "user.name": "bob"}),
    ("bob/2001:db8::5:51234 [bob] Inactivity timeout (--ping-restart), restarting",
     {"event.action": "client-disconnected", "source.ip": "2001:db8::5",
      "source.port": 51234}),
    ("203.0.113.5:51234 TLS Error: TLS handshake failed",
     {"event.action": "tls-error", "event.outcome": "failure"}),
    ("MULTI: new connection by client 'bob' will cause previous active sessions by this "
     "client to be dropped.", {"user.name": "bob", "source.ip": None}),
    ("Initialization Sequence Completed", {"event.dataset": "openvpn.log",
                                           "event.action": None}),
])
def test_openvpn_messages(message: str, fields: dict[str, Any]) -> None:
    assert pick(SyslogParser().parse(HEAD + message, CTX), *fields) == fields


def test_openvpn_debian_unit_and_pam_plugin() -> None:
    ev = SyslogParser().parse("Nov 24 08:15:00 vpn01 ovpn-office[9]: 203.0.113.5:1194 TLS: "
                              "Initial packet from [AF_INET]203.0.113.5:1194, sid=1 2", CTX)
    assert ev["event.dataset"] == "openvpn.log"
    pam = SyslogParser().parse(HEAD + "pam_unix(openvpn:auth): authentication failure; logname="
                                      " uid=0 euid=0 tty= ruser= rhost=  user=bob", CTX)
    assert (pam["event.dataset"], pam["user.name"]) == ("linux.auth", "bob")


@pytest.mark.parametrize(("line", "fields"), [
    ("2026-11-24 08:15:00 203.0.113.5:51234 [bob] Peer Connection Initiated with "
     "[AF_INET]203.0.113.5:51234 (via [AF_INET]10.0.0.1%eth0)",
     {"@timestamp": "2026-11-24T01:15:00.000Z", "user.name": "bob",
      "event.action": "peer-connection-initiated"}),
    ("Tue Nov 24 08:15:00 2026 us=551235 bob/203.0.113.5:51234 MULTI: Learn: 10.8.0.6 -> "
     "bob/203.0.113.5:51234", {"@timestamp": "2026-11-24T01:15:00.000Z",
                               "openvpn.virtual_ip": "10.8.0.6", "source.ip": "203.0.113.5"}),
    ("<29>Nov 24 08:15:00 gw1 vpn-custom[12]: 203.0.113.5:5 SENT CONTROL [eve]: 'AUTH_FAILED' "
     "(status=1)", {"host.name": "gw1", "user.name": "eve", "source.ip": "203.0.113.5",
                    "event.outcome": "failure"}),
    ("203.0.113.5:51234 TLS: Initial packet from [AF_INET]203.0.113.5:51234, sid=1 2",
     {"@timestamp": "2026-11-24T03:00:00.000Z", "source.ip": "203.0.113.5"}),
])
def test_openvpn_log_file_and_framed_lines(line: str, fields: dict[str, Any]) -> None:
    assert pick(OpenVpnParser().parse(line, CTX), *fields) == fields


@pytest.mark.parametrize("line", ["2026-11-31 08:15:00 1.2.3.4:5 TLS: x", "just words"])
def test_openvpn_refusals(line: str) -> None:
    with pytest.raises(ParseError):
        OpenVpnParser().parse(line, CTX)


def test_auto_detection_openvpn_file_lines_not_iis() -> None:
    auto = get_parser("auto")
    line = "2026-11-24 08:15:00 203.0.113.5:51234 TLS: Initial packet from [AF_INET]203.0.113.5:1"
    assert auto.parse(line, CTX)["event.dataset"] == "openvpn.log"
