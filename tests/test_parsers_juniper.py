"""Juniper SRX security logs, structured (RFC 5424 ``[junos@2636...]``) and plain. Lines written
here from Junos' system log message reference (RT_FLOW, RT_IDP, RT_IDS, RT_UTM, RT_AAMW,
RT_SECINTEL) and the firewall filter log format."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.juniper import JuniperSrxParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
SD = "junos@2636.1.1.1.2.129"

CREATE = (f'<14>1 2026-11-24T08:15:00.123+07:00 srx-hg RT_FLOW - RT_FLOW_SESSION_CREATE [{SD} '
          'source-address="10.10.1.5" source-port="51234" destination-address="93.184.216.34" '
          'destination-port="443" connection-tag="0" service-name="junos-https" '
          'nat-source-address="203.0.113.1" nat-source-port="40001" '
          'nat-destination-address="93.184.216.34" nat-destination-port="443" '
          'src-nat-rule-type="source rule" src-nat-rule-name="r1" dst-nat-rule-type="N/A" '
          'dst-nat-rule-name="N/A" protocol-id="6" policy-name="trust-to-untrust" '
          'source-zone-name="trust" destination-zone-name="untrust" session-id-32="1234" '
          'username="nam.nv" roles="N/A" packet-incoming-interface="ge-0/0/1.0" '
          'application="SSL" nested-application="UNKNOWN" encrypted="UNKNOWN"]')


def parse(line: str) -> dict[str, object]:
    return JuniperSrxParser().parse(line, CTX)


def test_session_create_structured() -> None:
    ev = parse(CREATE)
    assert {k: ev[k] for k in (
        "@timestamp", "event.dataset", "event.module", "observer.vendor", "observer.product",
        "observer.name", "source.ip", "source.port", "destination.ip", "destination.port",
        "source.nat.ip", "source.nat.port", "destination.nat.ip", "network.transport",
        "network.iana_number", "network.application", "rule.name", "user.name",
        "observer.ingress.zone", "observer.egress.zone", "observer.ingress.interface.name",
        "event.action", "event.type", "event.outcome", "juniper.srx.tag",
        "juniper.srx.process", "juniper.srx.session_id_32", "juniper.srx.src_nat_rule_name",
        "log.syslog.priority")} == {
        "@timestamp": "2026-11-24T01:15:00.123Z", "event.dataset": "juniper.srx",
        "event.module": "juniper", "observer.vendor": "Juniper", "observer.product": "SRX",
        "observer.name": "srx-hg", "source.ip": "10.10.1.5", "source.port": 51234,
        "destination.ip": "93.184.216.34", "destination.port": 443,
        "source.nat.ip": "203.0.113.1", "source.nat.port": 40001,
        "destination.nat.ip": "93.184.216.34", "network.transport": "tcp",
        "network.iana_number": "6", "network.application": "ssl",
        "rule.name": "trust-to-untrust", "user.name": "nam.nv", "observer.ingress.zone": "trust",
        "observer.egress.zone": "untrust", "observer.ingress.interface.name": "ge-0/0/1.0",
        "event.action": "flow_started", "event.type": ["connection", "start", "allowed"],
        "event.outcome": "success", "juniper.srx.tag": "RT_FLOW_SESSION_CREATE",
        "juniper.srx.process": "RT_FLOW", "juniper.srx.session_id_32": "1234",
        "juniper.srx.src_nat_rule_name": "r1", "log.syslog.priority": 14}
    assert "juniper.srx.dst_nat_rule_name" not in ev  # N/A sets nothing


def test_close_and_deny_structured() -> None:
    close = parse(f'<14>1 2026-11-24T01:16:00Z srx-hg RT_FLOW - RT_FLOW_SESSION_CLOSE [{SD} '
                  'reason="TCP FIN" source-address="10.10.1.5" source-port="51234" '
                  'destination-address="93.184.216.34" destination-port="443" protocol-id="6" '
                  'policy-name="trust-to-untrust" packets-from-client="8" '
                  'bytes-from-client="1024" packets-from-server="6" bytes-from-server="2048" '
                  'elapsed-time="60"]')
    deny = parse(f'<14>1 2026-11-24T01:16:01Z srx-hg RT_FLOW - RT_FLOW_SESSION_DENY_LS [{SD} '
                 'source-address="203.0.113.9" source-port="4444" destination-address='
                 '"10.10.1.20" destination-port="3389" protocol-id="6" icmp-type="0" '
                 'policy-name="default-deny" reason="Denied by policy"]')
    assert (close["event.action"], close["event.type"], close["event.reason"],
            close["source.bytes"], close["destination.packets"], close["event.duration"]) == (
        "flow_close", ["connection", "end", "allowed"], "TCP FIN", 1024, 6, 60_000_000_000)
    assert (deny["event.action"], deny["event.type"], deny["event.outcome"],
            deny["rule.name"], deny["juniper.srx.tag"]) == (
        "flow_deny", ["connection", "denied"], "failure", "default-deny",
        "RT_FLOW_SESSION_DENY_LS")


def test_idp_attack_is_an_alert_named_by_the_attack() -> None:
    ev = parse(f'<165>1 2026-11-24T01:15:00Z srx-hg RT_IDP - IDP_ATTACK_LOG_EVENT [{SD} '
               'epoch-time="1795482900" message-type="SIG" source-address="203.0.113.9" '
               'source-port="51234" destination-address="10.10.1.20" destination-port="80" '
               'protocol-name="TCP" service-name="SERVICE_IDP" application-name="HTTP" '
               'rule-name="3" rulebase-name="IPS" policy-name="Recommended" export-id="20175" '
               'repeat-count="0" action="DROP" threat-severity="HIGH" '
               'attack-name="HTTP:STC:APACHE:STRUTS2-RCE" username="unknown-user"]')
    assert (ev["event.kind"], ev["event.category"], ev["event.type"], ev["event.outcome"],
            ev["rule.name"], ev["rule.ruleset"], ev["rule.id"], ev["network.transport"],
            ev["juniper.srx.threat_severity"], "user.name" in ev) == (
        "alert", ["intrusion_detection", "network"], ["connection", "denied"], "failure",
        "HTTP:STC:APACHE:STRUTS2-RCE", "Recommended", "3", "tcp", "HIGH", False)


@pytest.mark.parametrize(("action", "outcome"), [("drop", "failure"),
                                                  ("alarm-without-drop", None)])
def test_screen(action: str, outcome: str | None) -> None:
    ev = parse(f'<11>1 2026-11-24T01:15:00Z srx-hg RT_IDS - RT_SCREEN_TCP [{SD} '
               'attack-name="TCP port scan!" source-address="2001:db8::9" source-port="50630" '
               'destination-address="2001:db8:1::20" destination-port="10778" '
               f'source-zone-name="untrust" interface-name="ge-0/0/0.0" action="{action}"]')
    assert (ev["rule.name"], ev["source.ip"], ev["event.kind"], ev.get("event.outcome"),
            ev["observer.ingress.interface.name"]) == (
        "TCP port scan!", "2001:db8::9", "alert", outcome, "ge-0/0/0.0")


@pytest.mark.parametrize(("tag", "params", "category", "outcome", "field", "value"), [
    ("WEBFILTER_URL_BLOCKED", 'category="Enhanced_Gambling" reason="BY_PRE_DEFINED" '
     'profile="wf1" url="casino.example" obj="/" username="nam.nv" roles="N/A"',
     ["web", "network"], "failure", "url.domain", "casino.example"),
    ("WEBFILTER_URL_PERMITTED", 'category="Enhanced_News" url="vnexpress.net" obj="/"',
     ["web", "network"], "success", "url.path", "/"),
    ("AV_VIRUS_DETECTED_MT", 'source-zone-name="untrust" filename="eicar.com" '
     'name="EICAR-Test-File"', ["malware", "network"], None, "file.name", "eicar.com"),
    ("CONTENT_FILTERING_BLOCKED_MT", 'protocol="http" profile-name="cf1" action="drop" '
     'reason="blocked due to file extension block list" filename="x.cmd"', ["web", "network"],
     "failure", "network.protocol", "http"),
])
def test_utm(tag: str, params: str, category: list[str], outcome: str | None, field: str,
             value: str) -> None:
    ev = parse(f'<12>1 2026-11-24T01:15:00Z srx-hg RT_UTM - {tag} [{SD} '
               'source-address="10.10.1.5" source-port="58071" destination-address="203.0.113.7"'
               f' destination-port="80" {params}]')
    assert (ev["event.category"], ev.get("event.outcome"), ev[field], ev["source.ip"],
            ev["juniper.srx.process"]) == (category, outcome, value, "10.10.1.5", "RT_UTM")


def test_aamw_and_secintel() -> None:
    aamw = parse(f'<14>1 2026-11-24T01:15:00Z srx-hg RT_AAMW - AAMW_MALWARE_EVENT_LOG [{SD} '
                 'timestamp="Tue Nov 24 01:15:00 2026" tenant-id="T1" sample-sha256="ab12" '
                 'client-ip="10.10.1.5" verdict-number="9" malware-info="Eicar:TestVirus" '
                 'username="nam.nv" hostname="pc-ketoan"]')
    secintel = parse(f'<14>1 2026-11-24T01:15:00Z srx-hg RT_SECINTEL - SECINTEL_ACTION_LOG '
                     f'[{SD} category="secintel" sub-category="CC" action="BLOCK" '
                     'source-address="10.10.1.5" source-port="36612" destination-address='
                     '"198.51.100.66" destination-port="80" protocol-id="6" feed-name="cc_url"]')
    assert (aamw["event.kind"], aamw["source.ip"], aamw["file.hash.sha256"],
            aamw["source.domain"], aamw["user.name"]) == (
        "alert", "10.10.1.5", "ab12", "pc-ketoan", "nam.nv")
    assert (secintel["event.kind"], secintel["event.category"], secintel["event.outcome"]) == (
        "alert", ["threat", "network"], "failure")


def test_curly_quotes_some_releases_write() -> None:
    """The syslog header reader refuses such structured data; the line still parses."""
    ev = parse(f'<14>1 2026-11-24T01:15:00Z srx-hg RT_FLOW - APPTRACK_SESSION_VOL_UPDATE [{SD} '
               'source-address="10.10.1.5" source-port="33040" destination-address='
               '"93.184.216.34" destination-port="80" username="nam.nv" '
               'destination-interface-name=”st0.0” apbr-rule-type=”default”]')
    assert (ev["@timestamp"], ev["observer.name"], ev["observer.egress.interface.name"],
            ev["juniper.srx.apbr_rule_type"], ev["event.action"]) == (
        "2026-11-24T01:15:00.000Z", "srx-hg", "st0.0", "default", "flow_started")


BRIEF = [
    ("<14>Nov 24 08:15:00 srx-hg RT_FLOW: RT_FLOW_SESSION_CREATE: session created "
     "10.10.1.5/51234->93.184.216.34/443 0x0 junos-https 203.0.113.1/40001->93.184.216.34/443 "
     "0x0 source rule r1 N/A N/A 6 trust-to-untrust trust untrust 1234 nam.nv(N/A) ge-0/0/1.0 "
     "UNKNOWN UNKNOWN UNKNOWN",
     {"source.ip": "10.10.1.5", "destination.port": 443, "source.nat.ip": "203.0.113.1",
      "rule.name": "trust-to-untrust", "observer.egress.zone": "untrust",
      "user.name": "nam.nv", "observer.ingress.interface.name": "ge-0/0/1.0",
      "event.action": "flow_started"}),
    # an older release: no connection tags, no rule types
    ("Nov 24 08:15:00 srx-hg RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed TCP FIN: "
     "10.10.1.5/51234->93.184.216.34/443 junos-https 10.10.1.5/51234->93.184.216.34/443 None "
     "None 6 trust-to-untrust trust untrust 1234 8(1024) 6(2048) 3 HTTP UNKNOWN N/A(N/A) "
     "ge-0/0/1.0 No",
     {"event.reason": "TCP FIN", "source.bytes": 1024, "destination.bytes": 2048,
      "observer.ingress.interface.name": "ge-0/0/1.0", "event.action": "flow_close"}),
    # no syslog header at all (a relay that strips it): the time of parsing
    ("RT_FLOW: RT_FLOW_SESSION_DENY: session denied 203.0.113.9/4444->10.10.1.20/22 0x0 "
     "junos-ssh 6(0) default-deny untrust trust UNKNOWN UNKNOWN N/A(N/A) ge-0/0/0.0 No",
     {"@timestamp": "2026-11-24T03:00:00.000Z", "source.ip": "203.0.113.9",
      "rule.name": "default-deny", "event.outcome": "failure", "network.transport": "tcp"}),
    ("<11>Nov 24 08:15:00 srx-hg RT_IDS: RT_SCREEN_TCP: TCP port scan! source: "
     "203.0.113.9:50630, destination: 10.10.1.20:10778, zone name: untrust, interface name: "
     "ge-0/0/0.0, action: drop",
     {"rule.name": "TCP port scan!", "source.port": 50630, "event.outcome": "failure"}),
    ("<11>Nov 24 08:15:00 srx-hg RT_IDS: RT_SCREEN_ICMP: ICMP flood! source: 203.0.113.9, "
     "zone name: untrust, interface name: ge-0/0/0.0, action: drop",
     {"source.ip": "203.0.113.9", "event.kind": "alert"}),
    ("<165>Nov 24 08:15:00 srx-hg RT_IDP: IDP_ATTACK_LOG_EVENT: IDP: at 1795482900, SIG "
     "Attack log <203.0.113.9/51234->10.10.1.20/80> for TCP protocol and service SERVICE_IDP "
     "application HTTP by rule 3 of rulebase IPS in policy Recommended. attack: id=20175, "
     "repeat=0, action=DROP, threat-severity=HIGH, name=HTTP:MISC:GENERIC-DIR-TRAVERSAL, NAT "
     "<0.0.0.0:0->0.0.0.0:0>, time-elapsed=0",
     {"source.ip": "203.0.113.9", "rule.name": "HTTP:MISC:GENERIC-DIR-TRAVERSAL",
      "event.outcome": "failure", "event.kind": "alert"}),
    ('<12>Nov 24 08:15:00 srx-hg RT_UTM: WEBFILTER_URL_BLOCKED: WebFilter: ACTION="URL '
     'Blocked" 10.10.1.5(58071)->203.0.113.7(80) CATEGORY="Enhanced_Gambling" '
     'REASON="BY_PRE_DEFINED" PROFILE="wf1" URL=casino.example OBJ=/ USERNAME=nam.nv '
     "ROLES=N/A",
     {"source.ip": "10.10.1.5", "destination.port": 80, "url.domain": "casino.example",
      "user.name": "nam.nv", "event.outcome": "failure"}),
    # a firewall filter term with "then syslog"
    ("<158>Nov 24 08:15:00 srx-hg PFE_FW_SYSLOG_IP: FW: ge-0/0/0.0 D tcp 203.0.113.9 "
     "10.10.1.20 51234 23 (1 packets)",
     {"source.ip": "203.0.113.9", "destination.port": 23, "event.action": "discard",
      "event.outcome": "failure", "network.packets": 1}),
    ("<158>Nov 24 08:15:00 srx-hg kernel: FW: reth1.31 A pim 203.0.113.9 10.10.1.20 0 0",
     {"source.ip": "203.0.113.9", "network.transport": "pim", "event.outcome": "success"}),
]


@pytest.mark.parametrize(("line", "expected"), BRIEF)
def test_plain_text_forms(line: str, expected: dict[str, object]) -> None:
    ev = parse(line)
    assert {k: ev.get(k) for k in expected} == expected
    assert ev["event.dataset"] == "juniper.srx"


def test_a_truncated_structured_line_keeps_its_first_parameters() -> None:
    ev = parse(CREATE[:CREATE.index(" connection-tag")])
    assert (ev["source.ip"], ev["destination.port"], ev["event.action"]) == (
        "10.10.1.5", 443, "flow_started")


@pytest.mark.parametrize("line", [
    "Nov 24 08:15:00 srx-hg RT_FLOW: something else entirely",
    "<14>1 2026-11-24T01:15:00Z srx-hg sshd 12 - - Accepted password for root",
    "RT_ALERT_X",
])
def test_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        parse(line)


def test_sniff() -> None:
    p = JuniperSrxParser()
    assert p.sniff(CREATE) and p.sniff("srx RT_UTM: WEBFILTER_URL_BLOCKED: ...")
    assert not p.sniff("Nov 24 08:15:00 web01 kernel: RESTART_X done")
