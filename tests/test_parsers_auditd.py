"""auditd parser: records, hex decoding, ECS fields, joining a serial. Lines made up here."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collectors.parsers.auditd import MAX_SERIALS, AuditdParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=UTC, now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC), source="web01")
SYSCALL = ("node=web01 type=SYSCALL msg=audit(1795482900.123:4567): arch=c000003e syscall=59 "
           "success=yes exit=0 a0=55d5 a1=55d6 a2=55d7 a3=0 items=2 ppid=812 pid=9001 "
           "auid=1001 uid=33 gid=33 euid=33 ses=7 tty=(none) comm=\"sh\" exe=\"/usr/bin/dash\" "
           "key=\"webshell\"")
# a2 is hex: "id;uname -a" contains a space
EXECVE = ("node=web01 type=EXECVE msg=audit(1795482900.123:4567): argc=3 a0=\"sh\" a1=\"-c\" "
          "a2=69643B756E616D65202D61")


def test_syscall_record() -> None:
    assert AuditdParser().parse(SYSCALL, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.123Z", "event.dataset": "auditd.log",
        "event.module": "auditd", "event.kind": "event", "event.action": "syscall",
        "auditd.message_type": "SYSCALL", "auditd.sequence": 4567, "host.name": "web01",
        "auditd.data.arch": "c000003e", "auditd.data.syscall": "59",
        "auditd.data.success": "yes", "auditd.data.exit": "0", "auditd.data.a0": "55d5",
        "auditd.data.a1": "55d6", "auditd.data.a2": "55d7", "auditd.data.a3": "0",
        "auditd.data.items": "2", "auditd.data.ppid": "812", "process.parent.pid": 812,
        "auditd.data.pid": "9001", "process.pid": 9001, "auditd.data.auid": "1001",
        "user.audit.id": "1001", "auditd.data.uid": "33", "user.id": "33",
        "auditd.data.gid": "33", "group.id": "33", "auditd.data.euid": "33",
        "user.effective.id": "33", "auditd.data.ses": "7", "auditd.session": "7",
        "auditd.data.tty": "(none)", "auditd.data.comm": "sh", "process.name": "sh",
        "auditd.data.exe": "/usr/bin/dash", "process.executable": "/usr/bin/dash",
        "auditd.data.key": "webshell", "auditd.key": "webshell", "event.outcome": "success",
    }


def test_execve_decodes_arguments_and_joins_its_syscall() -> None:
    parser = AuditdParser()
    parser.parse(SYSCALL, CTX)
    assert parser.parse(EXECVE, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.123Z", "event.dataset": "auditd.log",
        "event.module": "auditd", "event.kind": "event", "event.action": "execve",
        "auditd.message_type": "EXECVE", "auditd.sequence": 4567, "event.category": ["process"],
        "host.name": "web01", "auditd.data.argc": "3", "auditd.data.a0": "sh",
        "auditd.data.a1": "-c", "auditd.data.a2": "id;uname -a",
        "process.args": ["sh", "-c", "id;uname -a"], "process.command_line": "sh -c id;uname -a",
        # joined from the SYSCALL record of serial 4567
        "process.pid": 9001, "process.parent.pid": 812, "process.executable": "/usr/bin/dash",
        "process.name": "sh", "user.id": "33", "user.audit.id": "1001",
        "user.effective.id": "33", "group.id": "33", "auditd.session": "7",
        "auditd.key": "webshell", "event.outcome": "success",
    }


def test_execve_alone_split_argument_and_proctitle() -> None:
    parser = AuditdParser()
    ev = parser.parse('type=EXECVE msg=audit(1795482900.5:9): argc=2 a0="cat" a1_len=8 '
                      'a1[0]="/etc/" a1[1]="pas" a1[2]="swd"', CTX)
    assert ev["process.command_line"] == "cat /etc/passwd"
    assert "process.pid" not in ev and ev["@timestamp"] == "2026-11-24T01:15:00.500Z"
    title = parser.parse("type=PROCTITLE msg=audit(1795482900.5:9): "
                         "proctitle=636174002F6574632F706173737764", CTX)
    assert title["process.title"] == "cat /etc/passwd"


def test_user_record_with_nested_msg_and_enriched_names() -> None:
    line = ("type=USER_LOGIN msg=audit(1795482900.000:88): pid=1 uid=0 auid=4294967295 "
            "ses=4294967295 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? "
            "addr=203.0.113.9 terminal=sshd res=failed'\x1dUID=\"root\" AUID=\"unset\"")
    ev = AuditdParser().parse(line, CTX)
    assert {k: ev.get(k) for k in ("user.name", "source.ip", "event.outcome", "event.category",
                                   "user.audit.id", "auditd.data.AUID", "process.executable",
                                   "source.domain")} == {
        "user.name": "root", "source.ip": "203.0.113.9", "event.outcome": "failure",
        "event.category": ["authentication"], "user.audit.id": None,
        "auditd.data.AUID": "unset", "process.executable": "/usr/sbin/sshd",
        "source.domain": None}


def test_syslog_framed_record() -> None:
    line = ("Nov 24 08:15:00 web01 audispd: node=web01 type=CWD "
            "msg=audit(1795482900.123:4567): cwd=\"/var/www/html/portal\"")
    ev = AuditdParser().parse(line, CTX)
    assert (ev["host.name"], ev["process.working_directory"]) == ("web01", "/var/www/html/portal")


def test_memory_for_joining_is_bounded() -> None:
    parser = AuditdParser()
    for serial in range(MAX_SERIALS * 3):
        parser.parse(SYSCALL.replace(":4567)", f":{serial})"), CTX)
    assert len(parser._syscalls) == MAX_SERIALS
    ev = parser.parse(EXECVE.replace(":4567)", ":0)"), CTX)
    assert "process.pid" not in ev  # serial 0 was forgotten


@pytest.mark.parametrize("line", ["", "garbage", "type=SYSCALL msg=audit(abc:1): x",
                                  "type=SYSCALL msg=audit(99999999999999999999.1:1): x"])
def test_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        AuditdParser().parse(line, CTX)


def test_sniff() -> None:
    assert AuditdParser().sniff(SYSCALL)
    assert not AuditdParser().sniff("Nov 24 08:15:00 web01 sshd[1]: type=1")
