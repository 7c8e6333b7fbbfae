"""Firewall parsers: FortiGate, netfilter (pfSense: test_parsers_pfsense.py; Cisco:
test_parsers_cisco.py). Lines made up here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.cisco import CiscoAsaParser
from collectors.parsers.network import (
    FortiGateParser,
    IptablesParser,
)
from collectors.parsers.pfsense import PfSenseParser
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
TS = "2026-11-24T01:15:00.000Z"  # 08:15:00 in Hanoi


def fw(dataset: str, vendor: str, product: str, module: str, **more: Any) -> Event:
    ev: Event = {
        "@timestamp": TS, "event.dataset": dataset, "event.module": module,
        "event.kind": "event", "event.category": ["network"], "observer.vendor": vendor,
        "observer.product": product, "observer.type": "firewall",
    }
    ev.update({k.replace("__", "."): v for k, v in more.items()})
    return ev


def pri(facility: int, severity: int, name: str, level: str) -> dict[str, Any]:
    """The fields of a ``<PRI>`` (as ``**`` arguments of :func:`fw`: dots spelt ``__``)."""
    return {"log__syslog__priority": facility * 8 + severity,
            "log__syslog__facility__code": facility, "log__syslog__facility__name": name,
            "log__syslog__severity__code": severity, "log__syslog__severity__name": level}


LOCAL4_INFO = pri(20, 6, "local4", "Informational")
DENIED = {"event.type": ["connection", "denied"], "event.outcome": "failure"}
ALLOWED = {"event.type": ["connection", "allowed"], "event.outcome": "success"}

# --------------------------------------------------------------------------- FortiGate


def test_fortigate_traffic_with_tz_field() -> None:
    line = ('<189>date=2026-11-24 time=08:15:00 devname="FGT-HG-01" devid="FG100FTK20000001" '
            'eventtime=1795482900123456789 tz="+0700" logid="0000000013" type="traffic" '
            'subtype="forward" level="notice" vd="root" srcip=10.10.1.5 srcport=51234 '
            'srcintf="port1" dstip=203.0.113.10 dstport=443 dstintf="wan1" proto=6 '
            'action="deny" policyid=12 policyname="Chan \\"IoT\\"" service="HTTPS" sentbyte=0')
    assert FortiGateParser().parse(line, CTX) == fw(
        "fortigate.traffic", "Fortinet", "FortiGate", "fortinet", **DENIED,
        **pri(23, 5, "local7", "Notice"),
        observer__name="FGT-HG-01", observer__serial_number="FG100FTK20000001",
        event__code="0000000013", fortinet__firewall__subtype="forward", log__level="notice",
        fortinet__firewall__vd="root", source__ip="10.10.1.5", source__port=51234,
        observer__ingress__interface__name="port1", destination__ip="203.0.113.10",
        destination__port=443, observer__egress__interface__name="wan1", rule__id="12",
        rule__name='Chan "IoT"', source__bytes=0, fortinet__firewall__type="traffic",
        network__iana_number="6", network__transport="tcp", network__protocol="https",
        event__action="deny")


def test_fortigate_event_after_syslog_header_in_local_time() -> None:
    line = ('Nov 24 08:15:02 10.0.0.1 date=2026-11-24 time=08:15:00 devname="FGT-HG-01" '
            'devid="FG100FTK20000001" logid="0101039426" type="event" subtype="vpn" '
            'level="alert" logdesc="SSL VPN login fail" action="ssl-login-fail" '
            'remip=203.0.113.20 user="canbo01" status="failure" msg="SSL user failed to logged in"')
    ev = FortiGateParser().parse(line, CTX)
    assert ev["@timestamp"] == TS and ev["event.dataset"] == "fortigate.event"
    assert (ev["source.ip"], ev["user.name"], ev["event.outcome"], ev["event.action"]) == (
        "203.0.113.20", "canbo01", "failure", "ssl-login-fail")


def test_fortigate_pri_after_a_relay_header() -> None:
    line = ('<190>Nov 24 08:15:02 10.0.0.1 date=2026-11-24 time=08:15:00 devid="FG1" '
            'logid="0000000013" type="traffic" action="accept"')
    ev = FortiGateParser().parse(line, CTX)
    assert (ev["@timestamp"], ev["log.syslog.severity.name"], ev["log.syslog.facility.code"],
            ev["event.outcome"]) == (TS, "Informational", 23, "success")


def test_fortigate_utm_dataset() -> None:
    line = ('date=2026-11-24 time=08:15:00 devid="FG1" logid="0419016384" type="utm" '
            'subtype="ips" attack="Apache.Log4j.Error.Log.Remote.Code.Execution" '
            'attackid=51006 srcip=203.0.113.5 dstip=10.20.0.10 action="dropped"')
    ev = FortiGateParser().parse(line, CTX)
    assert (ev["event.dataset"], ev["rule.name"], ev["rule.id"], ev["event.outcome"]) == (
        "fortigate.utm", "Apache.Log4j.Error.Log.Remote.Code.Execution", "51006", "failure")


@pytest.mark.parametrize("line", [
    "garbage", 'devname="x" logid="1" devid="y"',
    'date=2026-11-24 time=25:99:00 devid="FG1" logid="1" type="traffic"',
])
def test_fortigate_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        FortiGateParser().parse(line, CTX)


# --------------------------------------------------------------------------- pfSense, netfilter


# The filterlog protocols are in tests/test_parsers_pfsense.py.


def test_pfsense_and_netfilter_keep_the_pri() -> None:
    pf = PfSenseParser().parse("<134>Nov 24 08:15:00 pfsense filterlog[1]: 5,,,1000000103,igb1,"
                               "match,pass,out,4,0x0,,64,1,0,DF,17,udp,60,10.0.0.1,10.0.0.2,1,53,"
                               "40", CTX)
    nf = IptablesParser().parse("<4>Nov 24 08:15:00 web01 kernel: IN=eth0 OUT= SRC=1.2.3.4 "
                                "DST=5.6.7.8 PROTO=UDP SPT=1 DPT=2", CTX)
    assert (pf["log.syslog.priority"], pf["destination.port"]) == (134, 53)
    assert (nf["log.syslog.facility.name"], nf["log.syslog.severity.name"]) == (
        "kernel", "Warning")


def test_netfilter_kernel_line() -> None:
    line = ("Nov 24 08:15:00 web01 kernel: [123456.789012] [UFW BLOCK] IN=eth0 OUT= "
            "MAC=00:16:3e:aa:bb:cc SRC=203.0.113.5 DST=10.20.0.10 LEN=60 TTL=50 DF PROTO=TCP "
            "SPT=51234 DPT=22 WINDOW=64240 SYN URGP=0")
    assert IptablesParser().parse(line, CTX) == fw(
        "iptables.log", "Linux", "netfilter", "iptables", **DENIED, observer__name="web01",
        rule__name="[UFW BLOCK]", event__action="block",
        observer__ingress__interface__name="eth0", iptables__mac="00:16:3e:aa:bb:cc",
        source__ip="203.0.113.5", destination__ip="10.20.0.10", iptables__len="60",
        iptables__ttl="50", network__transport="tcp", source__port=51234,
        destination__port=22, iptables__window="64240", iptables__urgp="0",
        iptables__flags=["DF", "SYN"])


@pytest.mark.parametrize("line", ["IN=eth0 SRC=1.2.3.4 DST=5.6.7.8",
                                  "Nov 24 08:15:00 web01 kernel: eth0: link up SRC=1 DST=2"])
def test_netfilter_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        IptablesParser().parse(line, CTX)


def test_sniffs_are_specific() -> None:
    fgt, asa_, pf, nf = FortiGateParser(), CiscoAsaParser(), PfSenseParser(), IptablesParser()
    plain = "Nov 24 08:15:00 web01 sshd[1]: Accepted password for root from 1.2.3.4 port 2 ssh2"
    assert not any(p.sniff(plain) for p in (fgt, asa_, pf, nf))
    assert asa_.sniff("<166>%ASA-6-302013: Built") and not fgt.sniff("<166>%ASA-6-302013: Built")
    assert pf.sniff("Nov 24 08:15:00 pfsense filterlog[1]: 5,,")
    assert nf.sniff("kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP")
