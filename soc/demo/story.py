"""The rest of the demo's story, beyond the portal's auth log (see :mod:`soc.demo.demo`).

Before the SSH brute force, the attacker scans the portal (a capture of the network sensor, when
the sensor plugin is installed), probes the public-service pages with scanners and SQL injection,
and uploads a webshell; the province's firewall denies the same source on management ports. After
the break-in, the ``backup1`` account logs on to the Windows file server from the portal, a
service is installed from a temporary folder, and the security log is cleared.
All of it is written by the project, with documentation addresses (RFC 5737).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from soc import registry

ATTACKER = "203.0.113.45"
PORTAL_IP = "10.10.1.11"
FILE_SERVER = "FS01.vpubnd.local"
FILE_SERVER_IP = "10.10.2.20"
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36")
WEB_REQUESTS = [  # (method, path and query, status, user agent)
    ("GET", "/", 200, "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)"),
    ("GET", "/admin/", 404, "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000114)"),
    ("GET", "/dich-vu-cong/tra-cuu?maHoSo=1%27%20UNION%20SELECT%20username,password%20FROM"
     "%20users--", 500, "sqlmap/1.8.11#stable (https://sqlmap.org)"),
    ("GET", "/dich-vu-cong/tai-lieu?file=../../../../etc/passwd", 400, BROWSER),
    ("GET", "/tin-tuc?q=%3Cscript%3Ealert(1)%3C/script%3E", 200, BROWSER),
    ("POST", "/UploadFiles/TinTuc/anh-dai-dien.php", 200, BROWSER),
    ("GET", "/UploadFiles/TinTuc/anh-dai-dien.php?cmd=id", 200, BROWSER),
    ("GET", "/UploadFiles/TinTuc/anh-dai-dien.php?cmd=cat%20/etc/shadow", 200, BROWSER),
]
DENIED_PORTS = [(22, "SSH"), (3389, "RDP"), (445, "SMB"), (8443, "HTTPS-ALT")]


def web_lines(start: datetime) -> list[str]:
    """The portal's Apache access log: scanning, injection attempts, a webshell upload and use."""
    lines = []
    for i, (method, target, status, agent) in enumerate(WEB_REQUESTS):
        t = start + timedelta(seconds=20 * i)
        stamp = t.strftime("%d/%b/%Y:%H:%M:%S %z")
        lines.append(f'{ATTACKER} - - [{stamp}] "{method} {target} HTTP/1.1" {status} '
                     f'{512 + 37 * i} "-" "{agent}"\n')
    return lines


def firewall_lines(start: datetime) -> list[str]:
    """FortiGate traffic logs: the attacker denied on management ports, allowed on HTTPS."""
    lines = []
    for i, (port, service) in enumerate([*DENIED_PORTS, (443, "HTTPS")]):
        t = start + timedelta(seconds=3 * i)
        action = "accept" if port == 443 else "deny"
        lines.append(
            f'date={t:%Y-%m-%d} time={t:%H:%M:%S} devname="FGT-UBND" devid="FG100FTK21000001" '
            f'tz="{t:%z}" logid="0000000013" type="traffic" subtype="forward" level="notice" '
            f'vd="root" srcip={ATTACKER} srcport={51000 + i} srcintf="wan1" srcintfrole="wan" '
            f'dstip={PORTAL_IP} dstport={port} dstintf="dmz" dstintfrole="dmz" '
            f'sessionid={81234500 + i} proto=6 action="{action}" policyid={0 if port != 443 else 7}'
            f' service="{service}" duration=0 sentbyte=0 rcvdbyte=0\n')
    return lines


def _win(event_id: int, record: int, when: datetime, channel: str, provider: str,
         data: dict[str, Any], section: str = "EventData") -> str:
    system = {"Provider": {"#attributes": {"Name": provider}}, "EventID": event_id,
              "TimeCreated": {"#attributes": {"SystemTime": when.astimezone(UTC).strftime(
                  "%Y-%m-%dT%H:%M:%S.%fZ")}},
              "EventRecordID": record, "Channel": channel, "Computer": FILE_SERVER}
    return json.dumps({"Event": {"System": system, section: data}}, ensure_ascii=False) + "\n"


def windows_lines(start: datetime) -> list[str]:
    """The file server's events (evtx_dump JSON lines): the new account logs on from the portal,
    a service is installed from a temporary folder, the security log is cleared."""
    security, provider = "Security", "Microsoft-Windows-Security-Auditing"
    logon = {"TargetUserName": "backup1", "TargetDomainName": "VPUBND", "LogonType": "3",
             "IpAddress": PORTAL_IP, "IpPort": "49852", "WorkstationName": "PORTAL-WEB01",
             "AuthenticationPackageName": "NTLM", "LogonProcessName": "NtLmSsp"}
    service = {"ServiceName": "WinUpdSvc", "ImagePath": "C:\\Windows\\Temp\\wupd.exe",
               "ServiceType": "user mode service", "StartType": "auto start",
               "AccountName": "LocalSystem"}
    cleared = {"LogFileCleared": {"SubjectUserName": "backup1", "SubjectDomainName": "VPUBND",
                                  "SubjectLogonId": "0x5e21f"}}
    return [
        _win(4624, 91001, start, security, provider, logon),
        _win(7045, 5120, start + timedelta(minutes=1), "System", "Service Control Manager",
             service),
        _win(1102, 91007, start + timedelta(minutes=3), security,
             "Microsoft-Windows-Eventlog", cleared, "UserData"),
    ]


def capture_writer() -> Callable[[Path, str, str, datetime], int] | None:
    """The network sensor's demo capture writer, when that plugin is installed."""
    if "scan-capture" not in registry.available("sample"):
        return None
    writer: Callable[[Path, str, str, datetime], int] = registry.load("sample", "scan-capture")
    return writer


def write_more(directory: Path, start: datetime) -> None:
    """Write the web, firewall, Windows and capture parts of the story under ``directory``."""
    logs = directory / "logs"
    for folder, name, lines in (
        ("portal-web01", "access.log", web_lines(start - timedelta(minutes=40))),
        ("fgt-ubnd", "traffic.log", firewall_lines(start - timedelta(minutes=55))),
        ("fs01", "security.jsonl", windows_lines(start + timedelta(minutes=30))),
    ):
        (logs / folder).mkdir(parents=True, exist_ok=True)
        (logs / folder / name).write_text("".join(lines), encoding="utf-8")
    writer = capture_writer()
    if writer is not None:
        (logs / "sensor").mkdir(parents=True, exist_ok=True)
        writer(logs / "sensor" / "scan.pcap", ATTACKER, PORTAL_IP, start - timedelta(hours=1))
