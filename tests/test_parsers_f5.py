"""F5 BIG-IP: ASM remote logging (key-value format), APM sessions, logins, the tmsh audit
trail and TMM flows. Lines written here from F5's documentation of those messages."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.f5 import F5BigIpParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

ASM = ('<131>Nov 24 08:15:00 bigip1 ASM:unit_hostname="bigip1.sotttt.gov.vn",'
       'management_ip_address="10.0.0.245",http_class_name="/Common/portal",'
       'policy_name="/Common/portal",violations="Attack signature detected,Illegal meta character'
       ' in value",support_id="18205860747014045721",request_status="blocked",response_code="0",'
       'ip_client="203.0.113.9",route_domain="0",method="GET",protocol="HTTPS",'
       'query_string="id=1%27%20or%201=1",x_forwarded_for_header_value="198.51.100.23",'
       'sig_ids="200002147",sig_names="SQL-INJ expressions like ""\' or 1 --""",'
       'date_time="2026-11-24 08:14:59",severity="Error",attack_type="SQL-Injection",'
       'geo_location="N/A",username="N/A",session_id="a1b2c3d4e5f6",src_port="51234",'
       'dest_port="443",dest_ip="10.0.0.10",violation_rating="4",uri="/index.php",'
       'request="GET /index.php?id=1%27%20or%201=1 HTTP/1.1\\r\\nHost: portal.sotttt.gov.vn"')


def parse(line: str) -> dict[str, object]:
    return F5BigIpParser().parse(line, CTX)


def test_asm_blocked_request_is_a_waf_alert() -> None:
    ev = parse(ASM)
    assert {k: ev[k] for k in (
        "@timestamp", "event.dataset", "event.module", "observer.vendor", "observer.product",
        "observer.type", "observer.name", "observer.ip", "source.ip", "source.port",
        "destination.ip", "destination.port", "network.forwarded_ip", "http.request.method",
        "network.protocol", "url.path", "url.query", "rule.name", "rule.id", "rule.category",
        "rule.ruleset", "log.level", "event.risk_score", "event.kind", "event.category",
        "event.type", "event.outcome", "event.action", "f5.bigip.asm.violations")} == {
        "@timestamp": "2026-11-24T01:14:59.000Z", "event.dataset": "f5.bigip",
        "event.module": "f5", "observer.vendor": "F5", "observer.product": "BIG-IP",
        "observer.type": "waf", "observer.name": "bigip1.sotttt.gov.vn",
        "observer.ip": "10.0.0.245", "source.ip": "203.0.113.9", "source.port": 51234,
        "destination.ip": "10.0.0.10", "destination.port": 443,
        "network.forwarded_ip": "198.51.100.23", "http.request.method": "GET",
        "network.protocol": "https", "url.path": "/index.php", "url.query": "id=1%27%20or%201=1",
        "rule.name": "SQL-INJ expressions like \"' or 1 --\"", "rule.id": "200002147",
        "rule.category": "SQL-Injection", "rule.ruleset": "/Common/portal", "log.level": "error",
        "event.risk_score": 4, "event.kind": "alert",
        "event.category": ["web", "intrusion_detection"], "event.type": ["access", "denied"],
        "event.outcome": "failure", "event.action": "blocked",
        "f5.bigip.asm.violations": "Attack signature detected,Illegal meta character in value"}
    assert "user.name" not in ev and "http.response.status_code" not in ev


def test_asm_passed_request_without_violations_and_without_header() -> None:
    ev = parse('unit_hostname="bigip1",ip_client="10.10.1.5",request_status="passed",'
               'violations="",method="POST",uri="/login",response_code="302",username="nam.nv"')
    assert (ev["event.kind"], ev["event.category"], ev["event.outcome"], ev["user.name"],
            ev["http.response.status_code"], ev["@timestamp"]) == (
        "event", ["web"], "success", "nam.nv", 302, "2026-11-24T03:00:00.000Z")


def test_asm_in_cef_is_left_to_the_cef_parser() -> None:
    with pytest.raises(ParseError) as exc:
        parse("<131>Nov 24 08:15:00 bigip1 ASM:CEF:0|F5|ASM|16.1.0|200021069|Automated client "
              "access|5|dvchost=bigip1 ip_client=203.0.113.9")
    assert exc.value.message == "F5 log in the CEF format (the cef parser reads it)"


@pytest.mark.parametrize(("line", "expected"), [
    ("<134>Nov 24 08:15:01 bigip1 notice apmd[12345]: 01490500:5: /Common/ap_vpn:Common:"
     "1a2b3c4d: New session from client IP 203.0.113.20 (ST=/CC=VN/C=AS) at VIP 198.51.100.10 "
     "Listener /Common/vs_vpn_443 (Reputation=Unknown)",
     {"event.action": "session-started", "source.ip": "203.0.113.20",
      "destination.ip": "198.51.100.10", "event.category": ["session"],
      "f5.bigip.apm.session_id": "1a2b3c4d", "f5.bigip.apm.access_profile": "/Common/ap_vpn",
      "event.code": "01490500", "event.severity": 5, "process.name": "apmd",
      "observer.name": "bigip1", "f5.bigip.module": "APM"}),
    ("<134>Nov 24 08:15:02 bigip1 notice apmd[12345]: 01490010:5: /Common/ap_vpn:Common:"
     "1a2b3c4d: Username 'nam.nv'",
     {"event.action": "username", "user.name": "nam.nv"}),
    ("<131>Nov 24 08:15:03 bigip1 err apmd[12345]: 01490106:3: /Common/ap_vpn:Common:1a2b3c4d:"
     " AD module: authentication with 'nam.nv' failed: Preauthentication failed, principal "
     "name: nam.nv@SOTTTT.LOCAL. Password incorrect (-1765328360)",
     {"event.category": ["authentication"], "event.outcome": "failure", "user.name": "nam.nv",
      "log.level": "error"}),
    ("<134>Nov 24 08:15:04 bigip1 notice apmd[12345]: 01490102:5: /Common/ap_vpn:Common:"
     "1a2b3c4d: Access policy result: Logon_Deny_Page",
     {"event.action": "access-policy-result", "event.outcome": "failure"}),
    ("<134>Nov 24 08:15:04 bigip1 notice apmd[12345]: 01490102:5: /Common/ap_vpn:Common:"
     "1a2b3c4d: Access policy result: Network_Access",
     {"event.outcome": "success"}),
    ("<134>Nov 24 08:15:05 bigip1 notice apmd[12345]: 01490501:5: /Common/ap_vpn:Common:"
     "1a2b3c4d: Session deleted due to user logout request.",
     {"event.action": "session-deleted", "event.type": ["end"]}),
    # the GUI and SSH logins of the audit trail
    ("<133>Nov 24 08:15:06 bigip1 notice httpd[4321]: 01070417:5: AUDIT - user admin - RAW: "
     'httpd(pam_audit): User=admin tty=(unknown) host=10.0.0.5 attempts=1 start="Tue Nov 24 '
     '08:15:06 2026" end="Tue Nov 24 08:15:06 2026".',
     {"event.action": "login", "event.outcome": "success", "source.ip": "10.0.0.5",
      "user.name": "admin"}),
    ("<131>Nov 24 08:15:07 bigip1 err sshd(pam_audit)[4322]: 01070417:3: AUDIT - user root - "
     "RAW: sshd(pam_audit): user=root(root) partition=[All] level=Administrator tty=ssh "
     "host=203.0.113.9 failed to login after 1 attempts (start=\"x\" end=\"y\").",
     {"event.outcome": "failure", "source.ip": "203.0.113.9", "user.name": "root",
      "process.name": "sshd"}),
    ("<133>Nov 24 08:15:08 bigip1 notice tmsh[7777]: 01420002:5: AUDIT - pid=7777 user=admin "
     "folder=/Common module=(tmos)# status=[Command OK] cmd_data=delete ltm virtual vs_portal",
     {"event.category": ["configuration"], "user.name": "admin",
      "process.command_line": "delete ltm virtual vs_portal", "event.outcome": "success"}),
    ("<132>Nov 24 08:15:09 bigip1 warning tmm1[1234]: 01260013:4: SSL Handshake failed for TCP"
     " 203.0.113.30:49152 -> 10.0.0.10:443",
     {"event.action": "flow", "source.ip": "203.0.113.30", "source.port": 49152,
      "destination.ip": "10.0.0.10", "destination.port": 443}),
    ("<132>Nov 24 08:15:09 bigip1 warning tmm[1234]: 01260009:4: Connection error: "
     "ssl_passthru:4994: not SSL (40) 2001:db8::9.51000 -> 2001:db8:1::10.443",
     {"source.ip": "2001:db8::9", "destination.port": 443}),
    # no host: the level word comes first
    ("Nov 24 08:15:10 notice mcpd[6000]: 01070638:5: Pool /Common/p_web member "
     "/Common/10.0.0.11:80 monitor status down.",
     {"event.action": "log", "observer.name": None, "event.code": "01070638"}),
])
def test_daemon_messages(line: str, expected: dict[str, object]) -> None:
    ev = parse(line)
    assert {k: ev.get(k) for k in expected} == expected
    assert ev["event.dataset"] == "f5.bigip"


@pytest.mark.parametrize("line", [
    "Nov 24 08:15:00 bigip1 notice apmd[1]: something without an id",
    "garbage ]: 01",
    'ASM:violations="x"',
])
def test_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        parse(line)


def test_sniff() -> None:
    p = F5BigIpParser()
    assert p.sniff(ASM) and p.sniff("bigip1 notice apmd[1]: 01490500:5: x")
    assert not p.sniff("Nov 24 08:15:00 web01 sshd[1]: Accepted password for x from 1.2.3.4")
