"""The device parsers together: one syslog stream carrying every vendor is routed line by line
to the right dataset, each sniff leaves the others' lines alone, and Sigma's ``category:
firewall`` rules run on all of them through ``soc detect``. Lines made up here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from soc import registry
from soc.cli.main import main
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

# One RDP attempt from 203.0.113.9 denied by each vendor's firewall, as a relay writes them.
RDP = {
    "sophos.xg": '<30>Nov 24 08:15:00 fw-sophos device="SFW" date=2026-11-24 time=08:15:00 '
                 'log_id=010102600002 log_type="Firewall" log_component="Firewall Rule" '
                 'log_subtype="Denied" status="Deny" src_ip=203.0.113.9 dst_ip=10.10.1.20 '
                 'protocol="TCP" src_port=40001 dst_port=3389',
    "sonicwall.firewall": '<134>Nov 24 08:15:01 fw-sonic id=firewall sn=0017C5 time="2026-11-24'
                          ' 08:15:01" fw=203.0.113.1 pri=6 m=173 msg="TCP connection from LAN '
                          'denied" src=203.0.113.9:40002:X1 dst=10.10.1.20:3389:X0 proto=tcp/3389',
    "juniper.srx": '<14>1 2026-11-24T08:15:02+07:00 fw-srx RT_FLOW - RT_FLOW_SESSION_DENY '
                   '[junos@2636.1.1.1.2.129 source-address="203.0.113.9" source-port="40003" '
                   'destination-address="10.10.1.20" destination-port="3389" protocol-id="6" '
                   'policy-name="deny-all"]',
    "huawei.usg": "<188>Nov 24 2026 08:15:03 fw-usg %%01POLICY/6/POLICYDENY(l)[1]:vsys=public, "
                  "protocol=6, source-ip=203.0.113.9, source-port=40004, destination-ip="
                  "10.10.1.20, destination-port=3389, source-zone=untrust, rule-name=deny-rdp.",
    "mikrotik.routeros": "<134>Nov 24 08:15:04 fw-mikrotik firewall,info DROP-RDP forward: "
                         "in:ether1 out:bridge, proto TCP (SYN), 203.0.113.9:40005->"
                         "10.10.1.20:3389, len 52",
    "pfsense.filterlog": "<134>Nov 24 08:15:05 fw-pfsense filterlog[1]: 5,,,1000000103,igb0,match,"
                         "block,in,4,0x0,,64,1,0,DF,6,tcp,52,203.0.113.9,10.10.1.20,40006,3389,0,S,"
                         "1,,64240,,mss",
}
OTHERS = {
    "f5.bigip": "<134>Nov 24 08:15:06 bigip1 notice apmd[1]: 01490500:5: /Common/ap:Common:"
                "1a2b3c4d: New session from client IP 203.0.113.9 (ST=/CC=/C=) at VIP "
                "198.51.100.10 Listener /Common/vs",
    "linux.auth": "Nov 24 08:15:07 web01 sshd[9]: Failed password for root from 203.0.113.9 "
                  "port 40007 ssh2",
}


def test_one_stream_every_vendor_routed_to_its_dataset() -> None:
    parser = get_parser("auto")
    lines = {**OTHERS, **RDP}
    got = {}
    for dataset, line in [*lines.items(), *lines.items()]:  # twice: the last parser goes first
        got[dataset] = parser.parse(line, CTX)["event.dataset"]
    assert got == {dataset: dataset for dataset in lines}
    assert all(parser.parse(line, CTX)["source.ip"] == "203.0.113.9" for line in lines.values())


# The same payloads without a header and without a time of their own, for the header forms below.
PAYLOADS = {
    "sophos.xg": 'device_name="SFW" log_id="010102600002" log_type="Firewall" '
                 'log_subtype="Denied" src_ip="203.0.113.9" dst_ip="10.10.1.20"',
    "sonicwall.firewall": 'id=firewall sn=X fw=10.0.0.1 m=98 msg="Connection Opened" '
                          "src=203.0.113.9:1:X1 dst=10.10.1.20:3389:X0",
    "juniper.srx": "RT_FLOW: RT_FLOW_SESSION_DENY: session denied 203.0.113.9/1->10.10.1.20/3389"
                   " 0x0 junos-rdp 6(0) deny-all untrust trust",
    "huawei.usg": "%%01POLICY/6/POLICYDENY(l)[1]:source-ip=203.0.113.9, "
                  "destination-ip=10.10.1.20, rule-name=deny-rdp.",
    "mikrotik.routeros": "DROP forward: in:ether1 out:bridge, proto TCP (SYN), "
                         "203.0.113.9:1->10.10.1.20:3389, len 52",
    "pfsense.filterlog": "filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0,,64,1,0,DF,6,tcp,52,"
                         "203.0.113.9,10.10.1.20,1,3389",
    "f5.bigip": "notice apmd[1]: 01490500:5: /Common/ap:Common:1a2b3c4d: New session from client"
                " IP 203.0.113.9 (ST=/CC=/C=) at VIP 10.10.1.20 Listener /Common/vs",
}
HEADERS = {  # header → the event time it gives (none: the time of parsing)
    "": "2026-11-24T03:00:00.000Z",
    "<134>": "2026-11-24T03:00:00.000Z",
    "<134>Nov 24 08:15:00 relay01 ": "2026-11-24T01:15:00.000Z",
    "Nov 24 2026 08:15:00 relay01 ": "2026-11-24T01:15:00.000Z",
    "<134>1 2026-11-24T08:15:00+07:00 relay01 - - - - ": "2026-11-24T01:15:00.000Z",
    "2026-11-24T01:15:00Z relay01 ": "2026-11-24T01:15:00.000Z",
}


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("dataset", PAYLOADS)
def test_every_header_form_or_none(dataset: str, header: str) -> None:
    """RFC 3164 (with and without a year), RFC 5424, ISO, a bare PRI, or nothing at all."""
    ev = get_parser("auto").parse(header + PAYLOADS[dataset], CTX)
    assert (ev["event.dataset"], ev["@timestamp"], ev["source.ip"], ev["destination.ip"]) == (
        dataset, HEADERS[header], "203.0.113.9", "10.10.1.20")
    assert ("log.syslog.priority" in ev) == header.startswith("<")


MINE = ("sophos", "sonicwall", "juniper", "huawei", "mikrotik", "pfsense", "f5")
OWNER = {"sophos.xg": "sophos", "sonicwall.firewall": "sonicwall", "juniper.srx": "juniper",
         "huawei.usg": "huawei", "mikrotik.routeros": "mikrotik", "pfsense.filterlog": "pfsense",
         "f5.bigip": "f5"}


@pytest.mark.parametrize("name", MINE)
def test_each_sniff_takes_its_own_lines_only(name: str) -> None:
    parser = registry.parsers()[name]
    claimed = {dataset for dataset, line in {**RDP, **OTHERS}.items() if parser.sniff(line)}
    assert claimed == {dataset for dataset, owner in OWNER.items() if owner == name}


RULE = """\
title: RDP from outside denied by a firewall
id: 00000000-0000-4000-8000-00000000f001
status: test
level: medium
logsource: {category: firewall}
detection:
  sel: {dst_port: 3389, src_ip: 203.0.113.9}
  condition: sel
"""


def test_sigma_firewall_rules_run_on_every_vendor(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rdp.yml").write_text(RULE, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: Asia/Ho_Chi_Minh\n",
                                      encoding="utf-8")
    log = tmp_path / "firewalls.log"
    log.write_text("\n".join([*OTHERS.values(), *RDP.values()]) + "\n", encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "-r", str(tmp_path / "rules"),
                 "--nl", str(log)])
    out = capsys.readouterr().out
    findings = [json.loads(line) for line in out.splitlines()]
    assert code == 10
    assert sorted(f["event"]["event.dataset"] for f in findings) == sorted(RDP)
