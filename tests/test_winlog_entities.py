"""Windows entities as Winlogbeat's security and sysmon modules set them (issue #15): who
(``user.*``, ``related.user``), which process (``process.name``, ``process.parent.*``), from where
(``source.ip``), per event id. Fixtures are the event XML as Microsoft documents each event,
written here; the corpus tests check the same table on the public EVTX samples."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from collectors.parsers.winlog import winlog_event
from soc.config import load_config
from soc.detection.engine import Engine
from soc.ecs import event_id
from soc.errors import ParseError
from soc.response.playbooks import load_playbooks
from soc.stores.sqlite import SQLiteStore

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
SECURITY = ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}",
            "Security")
SYSMON = ("Microsoft-Windows-Sysmon", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
          "Microsoft-Windows-Sysmon/Operational")


def xml_event(source: tuple[str, str, str], eid: int, data: str, *, computer: str = "PC01",
              keywords: str = "0x8020000000000000", user_data: str = "") -> str:
    """An event in the XML Windows writes (the layout of Microsoft's event documentation)."""
    provider, guid, channel = source
    body = user_data or f"<EventData>{data}</EventData>"
    return (f'<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
            f'<Provider Name="{provider}" Guid="{guid}" /><EventID>{eid}</EventID>'
            f'<Version>2</Version><Level>0</Level><Keywords>{keywords}</Keywords>'
            f'<TimeCreated SystemTime="2026-11-24T01:15:30.123456Z" />'
            f'<EventRecordID>{eid}</EventRecordID><Execution ProcessID="4" ThreadID="96" />'
            f'<Channel>{channel}</Channel><Computer>{computer}</Computer><Security />'
            f'</System>{body}</Event>')


def evtx_record(xml: str) -> dict[str, Any]:
    """The XML as the ``evtx`` package renders a record (``{"Event": {"System": ...}}``)."""
    root = ET.fromstring(xml)
    system: dict[str, Any] = {}
    for node in root.find(f"{NS}System") or ():
        name = node.tag.removeprefix(NS)
        value: Any = {"#attributes": dict(node.attrib)} if node.attrib else node.text
        system[name] = int(value) if name in ("EventID", "EventRecordID", "Version",
                                              "Level") else value
    event: dict[str, Any] = {"System": system}
    data = root.find(f"{NS}EventData")
    if data is not None:
        event["EventData"] = {d.get("Name"): d.text or "" for d in data}
    user = root.find(f"{NS}UserData")
    if user is not None:
        (element,) = list(user)
        event["UserData"] = {element.tag.removeprefix(NS).split("}")[-1]: {
            c.tag.split("}")[-1]: c.text or "" for c in element}}
    return {"Event": event}


def d(**fields: str) -> str:
    return "".join(f'<Data Name="{k}">{v}</Data>' for k, v in fields.items())


SUBJECT_SYSTEM = d(SubjectUserSid="S-1-5-18", SubjectUserName="PC01$",
                   SubjectDomainName="EXAMPLE", SubjectLogonId="0x3e7")
SUBJECT_ADMIN = d(SubjectUserSid="S-1-5-21-1-2-3-500", SubjectUserName="Administrator",
                  SubjectDomainName="EXAMPLE", SubjectLogonId="0x4d2")

# The event that opened issue #15: an RDP logon from localhost, named after PC01$.
X4624 = xml_event(SECURITY, 4624, SUBJECT_SYSTEM + d(
    TargetUserSid="S-1-5-21-1-2-3-1108", TargetUserName="admin01", TargetDomainName="EXAMPLE",
    TargetLogonId="0x14a321", LogonType="10", LogonProcessName="User32 ",
    AuthenticationPackageName="Negotiate", WorkstationName="PC01",
    LogonGuid="{00000000-0000-0000-0000-000000000000}", TransmittedServices="-",
    LmPackageName="-", KeyLength="0", ProcessId="0x4b8",
    ProcessName="C:\\Windows\\System32\\winlogon.exe", IpAddress="127.0.0.1",
    IpPort="49274", ImpersonationLevel="%%1833"))
X4625 = xml_event(SECURITY, 4625, d(
    SubjectUserSid="S-1-0-0", SubjectUserName="-", SubjectDomainName="-", SubjectLogonId="0x0",
    TargetUserSid="S-1-0-0", TargetUserName="administrator", TargetDomainName="EXAMPLE",
    Status="0xc000006d", FailureReason="%%2313", SubStatus="0xc000006a", LogonType="3",
    LogonProcessName="NtLmSsp ", AuthenticationPackageName="NTLM",
    WorkstationName="KALI", TransmittedServices="-", LmPackageName="-", KeyLength="0",
    ProcessId="0x0", ProcessName="-", IpAddress="203.0.113.9", IpPort="0"),
    keywords="0x8010000000000000")
# A logon with explicit credentials (runas /user:, PsExec -u): the subject acts as the target.
X4648 = xml_event(SECURITY, 4648, d(
    SubjectUserSid="S-1-5-21-1-2-3-1106", SubjectUserName="user01",
    SubjectDomainName="EXAMPLE", SubjectLogonId="0x2ed80",
    LogonGuid="{00000000-0000-0000-0000-000000000000}", TargetUserName="admin01",
    TargetDomainName="EXAMPLE", TargetLogonGuid="{00000000-0000-0000-0000-000000000000}",
    TargetServerName="DC01.example.corp", TargetInfo="DC01.example.corp",
    ProcessId="0x4", ProcessName="", IpAddress="10.0.0.5", IpPort="445"))
X4672 = xml_event(SECURITY, 4672, d(
    SubjectUserSid="S-1-5-21-1-2-3-1108", SubjectUserName="admin01",
    SubjectDomainName="EXAMPLE", SubjectLogonId="0x14a321",
    PrivilegeList="SeDebugPrivilege\n\t\t\tSeBackupPrivilege"))
# The webshell of issue #15: w3wp.exe starts cmd.exe /c net user.
X4688 = xml_event(SECURITY, 4688, d(
    SubjectUserSid="S-1-5-82-1", SubjectUserName="DefaultAppPool",
    SubjectDomainName="IIS APPPOOL", SubjectLogonId="0x2b1c4", NewProcessId="0x1fc",
    NewProcessName="C:\\Windows\\System32\\cmd.exe", TokenElevationType="%%1936",
    ProcessId="0x9a4", CommandLine="cmd.exe /c net user", TargetUserSid="S-1-0-0",
    TargetUserName="-", TargetDomainName="-", TargetLogonId="0x0",
    ParentProcessName="C:\\Windows\\System32\\inetsrv\\w3wp.exe",
    MandatoryLabel="S-1-16-8192"), computer="WEB01")
X4720 = xml_event(SECURITY, 4720, SUBJECT_ADMIN + d(
    TargetUserName="backup$", TargetDomainName="EXAMPLE", TargetSid="S-1-5-21-1-2-3-1200",
    PrivilegeList="-", SamAccountName="backup$", UserPrincipalName="-"))
X4728 = xml_event(SECURITY, 4728, SUBJECT_ADMIN + d(
    MemberName="CN=backup,CN=Users,DC=example,DC=corp", MemberSid="S-1-5-21-1-2-3-1200",
    TargetUserName="Domain Admins", TargetDomainName="EXAMPLE",
    TargetSid="S-1-5-21-1-2-3-512", PrivilegeList="-"))
X4732 = xml_event(SECURITY, 4732, SUBJECT_ADMIN + d(
    MemberName="-", MemberSid="S-1-5-21-1-2-3-1200", TargetUserName="Administrators",
    TargetDomainName="Builtin", TargetSid="S-1-5-32-544", PrivilegeList="-"))
X1102 = xml_event(("Microsoft-Windows-Eventlog", "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}",
                   "Security"), 1102, "", user_data=(
    '<UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/08/windows/'
    'eventlog"><SubjectUserSid>S-1-5-21-1-2-3-500</SubjectUserSid>'
    '<SubjectUserName>Administrator</SubjectUserName><SubjectDomainName>EXAMPLE'
    '</SubjectDomainName><SubjectLogonId>0x4d2</SubjectLogonId></LogFileCleared></UserData>'))
X7045 = xml_event(("Service Control Manager", "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
                   "System"), 7045, d(
    ServiceName="PSEXESVC", ImagePath="%SystemRoot%\\PSEXESVC.exe",
    ServiceType="user mode service", StartType="demand start", AccountName="LocalSystem"),
    keywords="0x8080000000000000")
XSYSMON_1 = xml_event(SYSMON, 1, d(
    RuleName="-", UtcTime="2026-11-24 01:15:30.120",
    ProcessGuid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}", ProcessId="4242",
    Image="C:\\Windows\\System32\\cmd.exe", FileVersion="10.0", Description="Windows Command "
    "Processor", Product="Microsoft Windows", Company="Microsoft Corporation",
    OriginalFileName="Cmd.Exe", CommandLine="cmd.exe /c whoami",
    CurrentDirectory="C:\\inetpub\\wwwroot\\", User="IIS APPPOOL\\DefaultAppPool",
    LogonGuid="{00000000-0000-0000-0000-000000000000}", LogonId="0x2b1c4",
    TerminalSessionId="0", IntegrityLevel="High", Hashes="SHA256=AB",
    ParentProcessGuid="{5770385f-c22a-43e0-bf4c-06f5698ffbd8}", ParentProcessId="2468",
    ParentImage="C:\\Windows\\System32\\inetsrv\\w3wp.exe",
    ParentCommandLine="c:\\windows\\system32\\inetsrv\\w3wp.exe -ap DefaultAppPool",
    ParentUser="IIS APPPOOL\\DefaultAppPool"), keywords="0x8000000000000000",
    computer="WEB01")
XSYSMON_3 = xml_event(SYSMON, 3, d(
    RuleName="-", UtcTime="2026-11-24 01:15:30.120", ProcessGuid="{0}", ProcessId="3324",
    Image="C:\\Users\\user01\\Desktop\\plink.exe", User="EXAMPLE\\user01", Protocol="tcp",
    Initiated="true", SourceIsIpv6="false", SourceIp="10.0.0.21", SourceHostname="PC01",
    SourcePort="50112", SourcePortName="-", DestinationIsIpv6="false",
    DestinationIp="198.51.100.7", DestinationHostname="-", DestinationPort="22",
    DestinationPortName="ssh"), keywords="0x8000000000000000")
XSYSMON_11 = xml_event(SYSMON, 11, d(
    RuleName="-", UtcTime="2026-11-24 01:15:30.120", ProcessGuid="{0}", ProcessId="2468",
    Image="C:\\Windows\\System32\\inetsrv\\w3wp.exe",
    TargetFilename="C:\\inetpub\\wwwroot\\shell.aspx",
    CreationUtcTime="2026-11-24 01:15:30.120", User="IIS APPPOOL\\DefaultAppPool"),
    keywords="0x8000000000000000")
XSYSMON_13 = xml_event(SYSMON, 13, d(
    RuleName="-", EventType="SetValue", UtcTime="2026-11-24 01:15:30.120", ProcessGuid="{0}",
    ProcessId="3324", Image="C:\\Windows\\regedit.exe",
    TargetObject="HKU\\S-1-5-21-1-2-3-1106\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
    "\\updater", Details="C:\\Users\\user01\\AppData\\updater.exe", User="EXAMPLE\\user01"),
    keywords="0x8000000000000000")

ENTITIES: dict[str, tuple[str, dict[str, Any]]] = {
    "4624": (X4624, {
        "user.name": "admin01", "user.domain": "EXAMPLE", "user.id": "S-1-5-21-1-2-3-1108",
        "related.user": ["admin01", "PC01$"], "winlog.logon.type": "RemoteInteractive",
        "winlog.logon.id": ["0x3e7", "0x14a321"], "source.ip": "127.0.0.1",
        "source.port": 49274, "source.domain": "PC01", "related.ip": ["127.0.0.1"],
        "process.name": "winlogon.exe", "process.executable": "C:\\Windows\\System32\\"
        "winlogon.exe", "process.pid": 1208, "host.name": "PC01"}),
    "4625": (X4625, {
        "user.name": "administrator", "user.domain": "EXAMPLE", "user.id": "S-1-0-0",
        "related.user": ["administrator"], "winlog.logon.type": "Network",
        "source.ip": "203.0.113.9", "source.port": 0, "source.domain": "KALI",
        "process.name": None, "event.outcome": "failure"}),
    "4648": (X4648, {
        "user.name": "user01", "user.domain": "EXAMPLE", "user.id": "S-1-5-21-1-2-3-1106",
        "user.effective.name": "admin01", "user.effective.domain": "EXAMPLE",
        "related.user": ["admin01", "user01"], "source.ip": "10.0.0.5", "source.port": 445,
        "process.pid": 4}),
    "4672": (X4672, {
        "user.name": "admin01", "user.domain": "EXAMPLE", "user.id": "S-1-5-21-1-2-3-1108",
        "related.user": ["admin01"], "winlog.logon.id": "0x14a321"}),
    "4688": (X4688, {
        "user.name": "DefaultAppPool", "user.domain": "IIS APPPOOL", "user.id": "S-1-5-82-1",
        "user.effective.name": None, "related.user": ["DefaultAppPool"],
        "process.name": "cmd.exe", "process.executable": "C:\\Windows\\System32\\cmd.exe",
        "process.pid": 508, "process.command_line": "cmd.exe /c net user",
        "process.parent.name": "w3wp.exe", "process.parent.pid": 2468,
        "process.parent.executable": "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
        "host.name": "WEB01"}),
    "4720": (X4720, {
        "user.name": "Administrator", "user.domain": "EXAMPLE", "user.id": "S-1-5-21-1-2-3-500",
        "user.target.name": "backup$", "user.target.id": "S-1-5-21-1-2-3-1200",
        "user.target.domain": "EXAMPLE", "related.user": ["Administrator", "backup$"]}),
    "4728": (X4728, {
        "user.name": "Administrator", "user.target.name": "backup",
        "user.target.domain": "example", "group.name": "Domain Admins",
        "group.id": "S-1-5-21-1-2-3-512", "group.domain": "EXAMPLE",
        "related.user": ["backup", "Administrator"]}),
    "4732": (X4732, {
        "user.name": "Administrator", "user.target.id": "S-1-5-21-1-2-3-1200",
        "user.target.name": None, "group.name": "Administrators", "group.id": "S-1-5-32-544",
        "group.domain": "Builtin", "related.user": ["Administrator"]}),
    "1102": (X1102, {
        "user.name": "Administrator", "user.domain": "EXAMPLE", "user.id": "S-1-5-21-1-2-3-500",
        "related.user": ["Administrator"], "winlog.logon.id": "0x4d2"}),
    "7045": (X7045, {
        "service.name": "PSEXESVC", "user.name": "LocalSystem", "host.name": "PC01"}),
    "sysmon-1": (XSYSMON_1, {
        "process.name": "cmd.exe", "process.pid": 4242, "process.command_line":
        "cmd.exe /c whoami", "process.parent.name": "w3wp.exe", "process.parent.pid": 2468,
        "process.parent.executable": "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
        # user.name stays whole: Sigma's User (``User|contains: 'AUTHORI'``) is compared with it
        "user.name": "IIS APPPOOL\\DefaultAppPool", "user.domain": "IIS APPPOOL",
        "related.user": ["DefaultAppPool"], "host.name": "WEB01"}),
    "sysmon-3": (XSYSMON_3, {
        "process.name": "plink.exe", "process.pid": 3324, "source.ip": "10.0.0.21",
        "source.port": 50112, "destination.ip": "198.51.100.7", "destination.port": 22,
        "network.direction": "egress", "related.ip": ["10.0.0.21", "198.51.100.7"],
        "user.name": "EXAMPLE\\user01", "related.user": ["user01"]}),
    "sysmon-11": (XSYSMON_11, {
        "process.name": "w3wp.exe", "process.pid": 2468,
        "file.path": "C:\\inetpub\\wwwroot\\shell.aspx"}),
    "sysmon-13": (XSYSMON_13, {
        "process.name": "regedit.exe", "process.pid": 3324, "registry.path":
        "HKU\\S-1-5-21-1-2-3-1106\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\updater",
        "user.domain": "EXAMPLE"}),
}


@pytest.mark.parametrize("name", list(ENTITIES))
def test_entities_per_event_id(name: str) -> None:
    xml, expected = ENTITIES[name]
    event = winlog_event(evtx_record(xml))
    assert {k: event.get(k) for k in expected} == expected


def test_the_same_entities_from_a_log_analytics_row() -> None:
    # SecurityEvent rows carry the same event data as XML: the same who, what and where
    data = ET.tostring(ET.fromstring(X4624).find(f"{NS}EventData") or ET.Element("x"),
                       encoding="unicode").replace("ns0:", "").replace(":ns0", "")
    row = {"TimeGenerated": "2026-11-24T01:15:30.5Z", "Type": "SecurityEvent", "EventID": 4624,
           "Channel": "Security", "Computer": "PC01", "EventData": data,
           "EventSourceName": "Microsoft-Windows-Security-Auditing"}
    event = winlog_event(row)
    assert (event["user.name"], event["process.name"], event["source.ip"],
            event["winlog.logon.type"]) == ("admin01", "winlogon.exe", "127.0.0.1",
                                            "RemoteInteractive")


def test_no_network_address_is_no_source_ip() -> None:
    # a local logon says IpAddress "-": Winlogbeat sets no source.ip (an "ip" field in ES)
    xml = X4624.replace(">127.0.0.1<", ">-<").replace(">49274<", ">-<")
    event = winlog_event(evtx_record(xml))
    assert "source.ip" not in event and "source.port" not in event
    assert event["winlog.event_data.IpAddress"] == "-"


# --- Sigma rules match what they matched before ---------------------------------------------------

RULES = {
    # SubjectUserName is the machine account on this 4624, the user is admin01
    "subject_machine_account": ("service: security", "EventID: 4624\n"
                                "    SubjectUserName|endswith: '$'"),
    "subject_domain": ("service: security", "EventID: 4624\n    SubjectDomainName: EXAMPLE\n"
                       "    SubjectUserSid: S-1-5-18"),
    "target_domain": ("service: security", "TargetDomainName: EXAMPLE\n    EventID: 4624"),
    "parent_path": ("category: process_creation",
                    "ParentProcessName|endswith: '\\inetsrv\\w3wp.exe'"),
    "parent_image": ("category: process_creation", "ParentImage|endswith: '\\w3wp.exe'"),
    "no_address": ("service: security", "EventID: 4624\n    IpAddress: '-'"),
    "loopback": ("service: security", "EventID: 4624\n    IpAddress|cidr: 127.0.0.0/8"),
    "sysmon_user": ("category: process_creation", "User|startswith: 'IIS APPPOOL\\'"),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    directory = tmp_path_factory.mktemp("rules")
    for n, (name, (logsource, selection)) in enumerate(RULES.items(), 1):
        (directory / f"{name}.yml").write_text(
            f"title: {name}\nid: 00000000-0000-0000-0000-{n:012d}\nstatus: test\nlevel: high\n"
            f"logsource:\n  product: windows\n  {logsource}\ndetection:\n  sel:\n"
            f"    {selection}\n  condition: sel\n", encoding="utf-8")
    return Engine.from_paths([directory], cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize(("xml", "fired"), [
    (X4624, {"subject_machine_account", "subject_domain", "target_domain", "loopback"}),
    (X4624.replace(">127.0.0.1<", ">-<"), {"subject_machine_account", "subject_domain",
                                            "target_domain", "no_address"}),
    (X4688, {"parent_path", "parent_image"}),
    (XSYSMON_1, {"parent_image", "sysmon_user"}),
])
def test_sigma_names_keep_their_meaning(engine: Engine, xml: str, fired: set[str]) -> None:
    event = winlog_event(evtx_record(xml))
    assert {hit.title for hit in engine.match(event)} == fired


# --- the webshell playbook's hunt -----------------------------------------------------------------


def test_the_webshell_playbook_hunt_finds_w3wp_starting_cmd(tmp_path: Path) -> None:
    (tmp_path / "soc.yml").write_text("data_dir: data\n", encoding="utf-8")
    store = SQLiteStore.open(load_config(tmp_path / "soc.yml"))
    events = []
    for n, xml in enumerate((X4688, XSYSMON_1, X4624), 1):
        event = winlog_event(evtx_record(xml))
        event.update({"event.id": event_id("w", n), "event.ingested": event["@timestamp"]})
        events.append(event)
    store.write_events(events)
    step = next(s for phase in load_playbooks()["webshell"].phases for s in phase.steps
                if s.id == "san_tim_tuong_tu")
    query = step.questions[0].query
    found = list(store.search(query, limit=10))
    assert sorted(e["winlog.event_id"] for e in found) == [1, 4688]
    assert {e["process.parent.name"] for e in found} == {"w3wp.exe"}


# --- the public corpora ---------------------------------------------------------------------------


def _basename(path: str) -> str:
    return path.rpartition("\\")[2]


def _related(ev: dict[str, Any]) -> list[Any]:
    return list(ev.get("related.user") or [])


def _data(ev: dict[str, Any], name: str) -> Any:
    return ev.get(f"winlog.event_data.{name}")


# No 4728 is in the corpora (4732 is): the fixture above covers it.
CHECKS: dict[tuple[str, int], Any] = {
    ("Security", 4624): lambda e: e["user.name"] == _data(e, "TargetUserName").split("@")[0]
    and e["winlog.logon.type"] and e["process.name"] == _basename(_data(e, "ProcessName"))
    if _data(e, "ProcessName") not in ("-", "") else e["user.name"] in _related(e),
    ("Security", 4625): lambda e: e["user.name"] == _data(e, "TargetUserName").split("@")[0]
    and e.get("source.ip") != "-",
    ("Security", 4648): lambda e: e["user.name"] == _data(e, "SubjectUserName")
    and e["user.effective.name"] == _data(e, "TargetUserName").split("@")[0],
    ("Security", 4672): lambda e: e["user.name"] == _data(e, "SubjectUserName"),
    ("Security", 4688): lambda e: e["process.name"] == _basename(_data(e, "NewProcessName"))
    and "\\" not in e.get("process.parent.name", "")
    and e["user.name"] == _data(e, "SubjectUserName"),
    ("Security", 4720): lambda e: e["user.name"] == _data(e, "SubjectUserName")
    and e["user.target.name"] == _data(e, "TargetUserName"),
    ("Security", 4732): lambda e: e["group.name"] == _data(e, "TargetUserName")
    and e["user.name"] == _data(e, "SubjectUserName"),
    ("Security", 1102): lambda e: e.get("user.name") == e.get("winlog.user_data.SubjectUserName"),
    ("System", 7045): lambda e: e["service.name"] == _data(e, "ServiceName"),
    (SYSMON[2], 1): lambda e: e["process.name"] == _basename(_data(e, "Image"))
    and e.get("process.parent.name") == (_basename(_data(e, "ParentImage"))
                                         if _data(e, "ParentImage") != "-" else None),
    (SYSMON[2], 3): lambda e: e["process.name"] == _basename(_data(e, "Image"))
    and e["source.ip"] == _data(e, "SourceIp"),
    (SYSMON[2], 11): lambda e: e["process.name"] == _basename(_data(e, "Image")),
    (SYSMON[2], 13): lambda e: e["process.name"] == _basename(_data(e, "Image")),
}


def _corpus_events(corpus: Path) -> list[dict[str, Any]]:
    from evtx import PyEvtxParser
    events = []
    for path in sorted((corpus / "evtx-attack-samples").rglob("*.evtx")):
        try:
            records = [json.loads(r["data"]) for r in PyEvtxParser(str(path)).records_json()]
        except (OSError, RuntimeError):
            continue  # a damaged sample: the EVTX collector's tests cover those
        events.extend(winlog_event(r) for r in records)
    for path in sorted((corpus / "mordor").rglob("*.json")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(winlog_event(json.loads(line)))
            except (ValueError, ParseError):
                continue  # not a Windows event (Linux auditd, Zeek...)
    return events


@pytest.fixture(scope="module")
def corpus_events(corpus: Path) -> list[dict[str, Any]]:
    return _corpus_events(corpus)


@pytest.mark.parametrize("key", list(CHECKS), ids=[f"{c.split('/')[0]}-{i}" for c, i in CHECKS])
def test_entities_on_the_public_corpora(corpus_events: list[dict[str, Any]],
                                        key: tuple[str, int]) -> None:
    events = [e for e in corpus_events
              if (e["winlog.channel"], e["winlog.event_id"]) == key]
    assert events, f"no {key} event in the corpora"
    wrong = [e for e in events if not CHECKS[key](e)]
    assert not wrong, wrong[0]
