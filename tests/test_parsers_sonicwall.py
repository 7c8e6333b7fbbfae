"""SonicWall SonicOS syslog. Lines written here from SonicWall's log event reference (message
ids, categories) and its syslog field list (``src=ip:port:zone[:host]``, ``srcV6``...)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.sonicwall import ACTIONS, MESSAGES, SonicWallParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

CLOSED = ('<134>Nov 24 08:15:09 10.0.0.1 id=firewall sn=0017C5123456 time="2026-11-24 01:15:00 '
          'UTC" fw=203.0.113.1 pri=6 c=1024 gcat=6 m=537 msg="Connection Closed" '
          'src=10.0.0.5:51234:X0:pc-ketoan natSrc=203.0.113.1:40001 dst=93.184.216.34:443:X1 '
          'natDst=93.184.216.34:443 srcMac=00:16:3e:aa:bb:cc srcZone=LAN dstZone=WAN '
          'usr="nam.nv" proto=tcp/https sent=1234 rcvd=5678 spkt=10 rpkt=8 cdur=30016 '
          'rule="15 (LAN->WAN)" app=49177 appName=\'General HTTPS\' n=123456 fw_action="NA"')


def parse(line: str) -> dict[str, object]:
    return SonicWallParser().parse(line, CTX)


def test_connection_closed_every_field() -> None:
    ev = parse(CLOSED)
    assert {k: ev[k] for k in (
        "@timestamp", "event.dataset", "event.module", "observer.vendor", "observer.product",
        "observer.name", "observer.serial_number", "observer.ip", "source.ip", "source.port",
        "source.domain", "source.nat.ip", "source.nat.port", "destination.ip",
        "destination.port", "destination.nat.ip", "observer.ingress.interface.name",
        "observer.egress.interface.name", "observer.ingress.zone", "user.name",
        "network.transport", "network.protocol", "network.application", "source.bytes",
        "destination.bytes", "source.packets", "destination.packets", "event.duration",
        "rule.name", "rule.id", "event.code", "event.severity", "log.level", "message",
        "event.action", "event.category", "event.type", "event.outcome")} == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "sonicwall.firewall",
        "event.module": "sonicwall", "observer.vendor": "SonicWall",
        "observer.product": "SonicOS", "observer.name": "firewall",
        "observer.serial_number": "0017C5123456", "observer.ip": "203.0.113.1",
        "source.ip": "10.0.0.5", "source.port": 51234, "source.domain": "pc-ketoan",
        "source.nat.ip": "203.0.113.1", "source.nat.port": 40001,
        "destination.ip": "93.184.216.34", "destination.port": 443,
        "destination.nat.ip": "93.184.216.34", "observer.ingress.interface.name": "X0",
        "observer.egress.interface.name": "X1", "observer.ingress.zone": "LAN",
        "user.name": "nam.nv", "network.transport": "tcp", "network.protocol": "https",
        "network.application": "general https", "source.bytes": 1234,
        "destination.bytes": 5678, "source.packets": 10, "destination.packets": 8,
        "event.duration": 30_016_000_000, "rule.name": "15 (LAN->WAN)", "rule.id": "15",
        "event.code": "537", "event.severity": 6, "log.level": "informational",
        "message": "Connection Closed", "event.action": "connection-end",
        "event.category": ["network"], "event.type": ["connection", "end", "allowed"],
        "event.outcome": "success"}
    assert ev["sonicwall.firewall.gcat"] == "6" and ev["log.syslog.priority"] == 134


def test_local_time_without_zone_and_no_syslog_header() -> None:
    ev = parse('id=firewall sn=0017C5123456 time="2026-11-24 08:15:00" fw=203.0.113.1 pri=1 '
               'c=32 m=30 msg="Administrator login denied due to bad credentials" n=7 '
               'src=203.0.113.9:36701:X1 dst=203.0.113.1:443:X1 usr="admin"')
    assert (ev["@timestamp"], ev["event.category"], ev["event.outcome"], ev["event.action"],
            ev["user.name"], ev["source.ip"]) == (
        "2026-11-24T01:15:00.000Z", ["authentication"], "failure", "login-failure", "admin",
        "203.0.113.9")


def test_ipv6_addresses_come_in_srcv6_and_dstv6() -> None:
    ev = parse('id=firewall sn=X time="2026-11-24 01:15:00 UTC" fw=10.0.0.1 pri=6 m=98 '
               'msg="Connection Opened" src=:51234:X0:laptop srcV6=2001:db8::5 dst=::X1 '
               'dstV6=2001:db8:1::53 proto=udp/dns')
    assert (ev["source.ip"], ev["source.port"], ev["source.domain"], ev["destination.ip"],
            ev["observer.egress.interface.name"], ev["event.action"]) == (
        "2001:db8::5", 51234, "laptop", "2001:db8:1::53", "X1", "connection-start")
    assert "destination.port" not in ev


@pytest.mark.parametrize(("mid", "extra", "action", "kind", "category", "outcome"), [
    ("609", 'msg="IPS Prevention Alert: WEB-ATTACKS Apache Log4j2 JNDI" sid=2307 '
     'ipscat="WEB-ATTACKS Apache Log4j2 JNDI" ipspri=2 fw_action="drop"',
     "attack-blocked", "alert", ["intrusion_detection"], "failure"),
    ("608", 'msg="IPS Detection Alert: ICMP Echo Reply" sid=316 ipscat="ICMP Echo Reply"',
     "attack-detected", "alert", ["intrusion_detection"], None),
    ("14", 'msg="Web site access denied" dstname=casino.example arg=/ code=49 '
     'Category="Gambling"', "connection-denied", "event", ["network"], "failure"),
    ("1200", 'msg="Suspected Botnet initiator blocked: 198.51.100.66"', "attack-blocked",
     "alert", ["intrusion_detection"], "failure"),
    ("236", 'msg="WAN zone administrator login allowed" usr="admin"', "login-success", "event",
     ["authentication"], "success"),
    ("82", 'msg="Possible port scan detected"', "attack-detected", "alert",
     ["intrusion_detection"], None),
    ("1382", 'msg="Configuration succeeded: Access rule added" usr="admin"', "config-change",
     "event", ["configuration"], "success"),
])
def test_message_ids_classify(mid: str, extra: str, action: str, kind: str,
                              category: list[str], outcome: str | None) -> None:
    ev = parse(f'<129>id=firewall sn=X time="2026-11-24 01:15:00 UTC" fw=10.0.0.1 pri=1 c=32 '
               f'm={mid} {extra} src=203.0.113.9:54192:X1 dst=10.0.0.20:8080:X0')
    assert (ev["event.action"], ev["event.kind"], ev["event.category"],
            ev.get("event.outcome"), ev["source.ip"]) == (
        action, kind, category, outcome, "203.0.113.9")


def test_ips_signature_is_the_rule() -> None:
    ev = parse('id=firewall sn=X time="2026-11-24 01:15:00 UTC" fw=10.0.0.1 pri=1 m=609 '
               'msg="IPS Prevention Alert" sid=2307 ipscat="WEB-ATTACKS Log4j2" '
               'src=203.0.113.9:1:X1 dst=10.0.0.20:80:X0')
    assert (ev["rule.id"], ev["rule.name"]) == ("2307", "WEB-ATTACKS Log4j2")


def test_an_unknown_message_id_keeps_the_device_action() -> None:
    drop = parse('id=firewall sn=X time="2026-11-24 01:15:00 UTC" fw=10.0.0.1 pri=5 m=99999 '
                 'msg="Something new" src=203.0.113.9:1:X1 dst=10.0.0.20:80:X0 fw_action="drop"')
    unknown = parse('id=firewall sn=X fw=10.0.0.1 m=99999 msg="Something new"')
    assert (drop["event.action"], drop["event.outcome"]) == ("packet-dropped", "failure")
    assert (unknown["event.action"], unknown["event.type"], unknown["@timestamp"]) == (
        "log", ["info"], "2026-11-24T03:00:00.000Z")


def test_unknown_sso_user_is_no_user_and_bad_numbers_are_left_out() -> None:
    ev = parse('id=firewall sn=X fw=10.0.0.1 m=98 msg="Connection Opened" '
               'src=10.0.0.3:52379:X0 natSrc=10.0.0.2:x dst=216.160.83.61:443:X1 '
               'usr="Unknown (SSO failed)" proto=tcp/443 sent=99999999999999999999999')
    assert "user.name" not in ev and "source.bytes" not in ev and "source.nat.port" not in ev
    assert (ev["network.transport"], "network.protocol" in ev) == ("tcp", False)


def test_truncated_and_reordered() -> None:
    ev = parse('msg="Connection Opened" m=98 fw=10.0.0.1 sn=X id=firewall src=10.0.0.5:51')
    assert (ev["source.ip"], ev["source.port"]) == ("10.0.0.5", 51)


def test_every_message_id_has_a_classification() -> None:
    assert set(MESSAGES.values()) <= set(ACTIONS)
    assert len(MESSAGES) > 300 and MESSAGES["537"] == "connection-end"


@pytest.mark.parametrize(("line", "reason"), [
    ("id=firewall time=x", "not a SonicWall log (no sn=, fw= and m= or msg=)"),
    ('id=firewall sn=X fw=1 m=98 time="2026-02-30 08:00:00"', "bad time '2026-02-30 08:00:00'"),
])
def test_garbage(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(line)
    assert exc.value.message == reason


def test_sniff() -> None:
    assert SonicWallParser().sniff(CLOSED)
    assert not SonicWallParser().sniff('device="SFW" log_id=1 log_type="Firewall"')
