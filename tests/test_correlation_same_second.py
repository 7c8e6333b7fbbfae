"""A login in the second the brute force reached its count raises the success-after alert.

Logs have one-second times: the brute-force window's match and the login that follows it can
share a second, and hits of one second are kept in id order, which says nothing about the log's
order. temporal_ordered takes the hits of one second in the order of the correlation's rules
(Sigma: "the events appear in the order provided"; one second does not order them otherwise),
so the chain holds whichever of the two sorts first. Checked on the project's SSH and Windows
rules: through the engine at every cut of the input, through ``soc collect`` on an auth.log, and
through ``soc ingest`` on Security events.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from soc.config import Config, load_config
from soc.detection.stage import Detector
from soc.pipeline.collect import collect, ingest
from soc.stores.sqlite import SQLiteStore
from tests.test_correlation_boundaries import ev, project, same_at_every_cut, summary

__all__ = ["project"]  # the fixture, imported for the tests below

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
SSH_SUCCESS_AFTER = "0a623f17-f72b-462e-8d4c-d45f282ce578"
SSH_BRUTE_FORCE = "bfc3592f-ef2a-437b-a626-46794a8b9a52"
WIN_SUCCESS_AFTER = "cd872744-d9f0-42be-91f4-6e838c78c0e9"
IPS = [f"203.0.113.{n}" for n in range(10, 22)]  # hit ids of one second sort every way


def test_a_login_in_the_closing_second_follows_the_brute_force_at_every_cut(
        project: Detector, tmp_path: Path) -> None:
    """Ten failures a second apart and the login in the tenth failure's second, for twelve
    sources (so the login's hit sorts before the window's in some, after it in others): each
    raises the high alert, in one pass, two passes cut anywhere, and batches of one."""
    for k, ip in enumerate(IPS[:4]):
        events = [ev(n, n, ip=ip) for n in range(10)] + [ev(10, 9, ip=ip, action="ssh_login")]
        for e in events:
            e["event.id"] = f"{ip}/{e['event.id']}"
        alerts = same_at_every_cut(project, events, tmp_path / f"store{k}.db")
        assert summary(alerts, [SSH_SUCCESS_AFTER]) == [("e578", "08:00:09", "08:00:09", 2)], ip


def test_a_login_in_the_closing_second_raises_the_alert_through_collect(tmp_path: Path) -> None:
    lines = []
    for k, ip in enumerate(IPS):
        base = k * 1000  # each source its own quarter of an hour
        lines += [_syslog(base + n, ip, f"Failed password for root from {ip} port {4000 + n} ssh2")
                  for n in range(10)]
        lines.append(_syslog(base + 9, ip, f"Accepted password for root from {ip} port 4100 ssh2"))
    config = _config(tmp_path, "auth.log", "".join(lines), parser="syslog")
    collect(config)
    high = _alerts(config, SSH_SUCCESS_AFTER)
    assert sorted(high) == sorted((ip, "high", _at(k * 1000 + 9)) for k, ip in enumerate(IPS))
    assert len(_alerts(config, SSH_BRUTE_FORCE)) == len(IPS)


def test_a_logon_in_the_closing_second_raises_the_windows_alert_through_ingest(
        tmp_path: Path) -> None:
    """The Windows equivalent: ten 4625 network logons and a 4624 in the tenth's second."""
    records = []
    for k, ip in enumerate(IPS):
        base = k * 1000
        records += [_security(4625, base + n, ip, 5000 + 20 * k + n) for n in range(10)]
        records.append(_security(4624, base + 9, ip, 5000 + 20 * k + 10))
    config = _config(tmp_path, "security.jsonl", "".join(records))
    ingest(config, [str(tmp_path / "logs" / "security.jsonl")])
    high = _alerts(config, WIN_SUCCESS_AFTER)
    assert sorted(high) == sorted((ip, "high", _at(k * 1000 + 9)) for k, ip in enumerate(IPS))


# --- helpers ------------------------------------------------------------------------------------


def _at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _syslog(seconds: int, ip: str, message: str) -> str:
    stamp = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp} web01 sshd[{seconds + 100}]: {message}\n"


def _security(event_id: int, seconds: int, ip: str, record: int) -> str:
    """An evtx_dump record of a network logon (4624) or failed logon (4625) from ``ip``."""
    stamp = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    data: dict[str, Any] = {
        "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "TargetUserName": "administrator",
        "TargetDomainName": "DVC-WEB01", "LogonType": 3, "LogonProcessName": "NtLmSsp ",
        "AuthenticationPackageName": "NTLM", "WorkstationName": "WIN-8R3K2Q",
        "IpAddress": ip, "IpPort": "0"}
    if event_id == 4625:
        data.update(Status="0xc000006d", SubStatus="0xc000006a", FailureReason="%%2313")
    system = {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing",
                                     "Guid": "54849625-5478-4994-A5BA-3E3B0328C30D"}},
        "EventID": event_id, "Version": 0, "Level": 0, "Task": 12544, "Opcode": 0,
        "Keywords": "0x8010000000000000", "TimeCreated": {"#attributes": {"SystemTime": stamp}},
        "EventRecordID": record, "Channel": "Security", "Computer": "DVC-WEB01.example.gov.vn"}
    return json.dumps({"Event": {"System": system, "EventData": data}}) + "\n"


def _config(tmp_path: Path, name: str, text: str, parser: str = "auto") -> Config:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / name).write_text(text, encoding="utf-8")
    (tmp_path / "soc.yml").write_text(
        "data_dir: data\ntimezone: UTC\n"
        f"sources:\n  - {{name: logs, type: file, paths: [logs/{name}], parser: {parser}}}\n",
        encoding="utf-8")
    return load_config(tmp_path / "soc.yml")


def _alerts(config: Config, rule_id: str) -> list[tuple[str, str, str]]:
    """(group value, severity, last seen) of the alerts of one rule."""
    with SQLiteStore.open(config) as store:
        return [(str(next(iter(a.group.values()))), a.severity.value, a.last_seen)
                for a in store.list_alerts() if a.rule_id == rule_id]
