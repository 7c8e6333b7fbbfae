"""``soc demo``: the main job end to end on a small story written by the project.

The story: the provincial portal server (Cổng thông tin điện tử tỉnh, security level 3) is
scanned from 203.0.113.45 (a capture of the network sensor; the firewall denies the same source on
management ports), attacked through its public-service pages (scanners, SQL injection, a webshell:
:mod:`soc.demo.story`) and brute-forced over SSH; after many failures a password works; the
intruder uses sudo to add a user, puts it in the sudo group, and with it reaches the Windows file
server, installs a service and clears the security log. The demo writes the logs and a config
into a folder, runs a collect pass into a fresh embedded store, asks the store what happened,
opens an incident from the alerts and writes the notice and the weekly report.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from soc.alerts import summary_row
from soc.config import DEFAULT_TIMEZONE, Config, load_config
from soc.demo import story as demo_story
from soc.ecs import Event
from soc.models import AlertQuery
from soc.pipeline.collect import collect
from soc.pipeline.pipeline import PassReport
from soc.stores.base import open_store

ATTACKER = "203.0.113.45"
ADMIN_IP = "10.10.0.5"
HOST = "portal-web01"
TRIED_USERS = ["root", "admin", "quantri", "oracle", "test", "ubuntu", "postgres", "webadmin"]
VALID = {"root", "admin", "quantri", "postgres"}

DEMO_CONFIG = """\
# Written by 'soc demo'. A real deployment starts from 'soc init'.
data_dir: soc-data
timezone: {tz}
profile: mps-2026              # reporting duties: mps-2026 or legacy-mic-2017
inventory:
  units:
    - id: vp-ubnd
      name: Văn phòng UBND tỉnh
      contacts:
        - {{role: owner, name: Chánh Văn phòng, email: vanphong@example.gov.vn}}
        - {{role: operator, name: Trung tâm Thông tin - Công báo, email: ttcb@example.gov.vn}}
    - id: ca-tinh
      name: Công an tỉnh
      contacts:
        - {{role: mps_agency, name: Phòng An ninh mạng (PA05), email: pa05@example.gov.vn}}
  systems:
    - id: cong-ttdt
      name: Cổng thông tin điện tử tỉnh
      unit: vp-ubnd
      security_level: 3
      hosts: [{host}, 10.10.1.0/24]
      expected_sources: [portal-auth, portal-web]
    - id: may-chu-tep
      name: Máy chủ tệp dùng chung
      unit: vp-ubnd
      security_level: 2
      hosts: [FS01.vpubnd.local, 10.10.2.0/24]
sources:
  - name: portal-auth
    type: file
    paths: [logs/portal-web01/auth.log*]
    parser: auto
    system: cong-ttdt
    expected_interval: 1d
  - name: portal-web
    type: file
    paths: [logs/portal-web01/access.log*]
    parser: apache
    system: cong-ttdt
  - name: firewall
    type: file
    paths: [logs/fgt-ubnd/traffic.log*]
    parser: fortigate
  - name: file-server
    type: file
    paths: [logs/fs01/*.jsonl]
    parser: winlog
    system: may-chu-tep
{sensor}reports:                       # who reports; see docs/configuration.md (Reports)
  place: Hà Giang
  organization: {{name: Trung tâm Thông tin - Công báo, owner_agency: Văn phòng UBND tỉnh,
                 address: "1 Nguyễn Trãi, TP Hà Giang", phone: 0219 3860 000,
                 email: ttcb@example.gov.vn}}
  contact: {{name: Nguyễn Văn An, title: Chuyên viên giám sát, phone: 0912 000 111,
            email: an.nv@example.gov.vn}}
  signatory: {{authority: KT. GIÁM ĐỐC, title: PHÓ GIÁM ĐỐC, name: Trần Thị Bình}}
  systems:
    cong-ttdt: {{os: Ubuntu 22.04 LTS, services: [web], measures: [firewall],
                domains: [cong.example.gov.vn], purpose: Cổng thông tin điện tử của tỉnh}}
intel:                         # threat-intel feeds; see docs/threat-intel.md
  feeds:
    - {{name: ncsc-demo, type: csv, path: intel/ioc-ncsc.csv, confidence: 80, tlp: amber}}
notify:                        # see docs/notifications.md; a file shows what would be sent
  channels:
    journal: {{type: file, path: {sent}}}
  routes:
    - {{name: all, channels: [journal]}}
"""


SENT = "soc-data/notify/sent.jsonl"
"""The demo's notification channel: a file (beside soc.yml) of what would have been sent."""

SENSOR_SOURCE = """\
  - name: sensor
    type: pcap
    paths: [logs/sensor/*.pcap]
"""


def _syslog(ts: datetime, program: str, pid: int, message: str) -> str:
    return f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S} {HOST} {program}[{pid}]: {message}"


def story_lines(start: datetime) -> list[str]:
    """The auth log of the story, in local time, starting at ``start`` (aware, local zone)."""
    t = start
    pid = 21400
    lines = [_syslog(t, "sshd", pid, f"Accepted publickey for quantri from {ADMIN_IP} port 50122 "
                     "ssh2: RSA SHA256:q0tR3nQ1uYk8u1Gg2Qm0kqGxS2i8oZ0l0b5m1yXcVfU"),
             _syslog(t, "sshd", pid, "pam_unix(sshd:session): session opened for user quantri "
                     "by (uid=0)")]
    t += timedelta(minutes=20)
    for i in range(48):
        user = TRIED_USERS[i % len(TRIED_USERS)]
        pid += 1
        port = 40000 + i * 7
        t += timedelta(seconds=5)
        if user in VALID:
            lines.append(_syslog(t, "sshd", pid, f"Failed password for {user} from {ATTACKER} "
                                 f"port {port} ssh2"))
        else:
            lines.append(_syslog(t, "sshd", pid, f"Invalid user {user} from {ATTACKER} "
                                 f"port {port}"))
            lines.append(_syslog(t, "sshd", pid, f"Failed password for invalid user {user} "
                                 f"from {ATTACKER} port {port} ssh2"))
    pid += 1
    t += timedelta(seconds=9)
    lines += [
        _syslog(t, "sshd", pid, f"Accepted password for quantri from {ATTACKER} port 41999 ssh2"),
        _syslog(t, "sshd", pid, "pam_unix(sshd:session): session opened for user quantri by "
                "(uid=0)"),
    ]
    t += timedelta(minutes=2)
    lines += [
        _syslog(t, "sudo", 0, "quantri : TTY=pts/1 ; PWD=/home/quantri ; USER=root ; "
                "COMMAND=/usr/sbin/useradd -m -s /bin/bash backup1").replace("[0]", ""),
        _syslog(t, "useradd", pid + 3, "new user: name=backup1, UID=1002, GID=1002, "
                "home=/home/backup1, shell=/bin/bash, from=/dev/pts/1"),
        _syslog(t + timedelta(seconds=20), "usermod", pid + 4, "add 'backup1' to group 'sudo'"),
        _syslog(t + timedelta(seconds=40), "sshd", pid, f"Received disconnect from {ATTACKER} "
                "port 41999:11: disconnected by user"),
    ]
    return [line + "\n" for line in lines]


def write_story(directory: Path, now: datetime | None = None) -> Path:
    """Write the demo's logs and config under ``directory``; returns the config path."""
    tz = ZoneInfo(DEFAULT_TIMEZONE)
    now = now or datetime.now(UTC)
    start = (now - timedelta(hours=2)).astimezone(tz).replace(second=0, microsecond=0)
    logs = directory / "logs" / HOST
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "auth.log").write_text("".join(story_lines(start)), encoding="utf-8")
    demo_story.write_more(directory, start)
    feed = directory / "intel" / "ioc-ncsc.csv"
    feed.parent.mkdir(parents=True, exist_ok=True)
    feed.write_text(intel_feed(now), encoding="utf-8-sig")
    sensor = SENSOR_SOURCE if demo_story.capture_writer() is not None else ""
    config = directory / "soc.yml"
    config.write_text(DEMO_CONFIG.format(tz=DEFAULT_TIMEZONE, host=HOST, sensor=sensor,
                                         sent=SENT), encoding="utf-8")
    return config


def intel_feed(now: datetime) -> str:
    """The national centre's list as the demo's feed: a CSV with Vietnamese headers (as the
    spreadsheets come), the story's attacker among documentation addresses and names."""
    until = (now + timedelta(days=30)).astimezone(ZoneInfo(DEFAULT_TIMEZONE))
    rows = [(ATTACKER, "Địa chỉ IP", "Máy chủ dò quét, tấn công dò mật khẩu SSH"),
            ("198.51.100.77", "Địa chỉ IP", "Máy chủ điều khiển (C2)"),
            ("tai-lieu-cong-van.example", "Tên miền", "Tên miền lừa đảo giả mạo cơ quan")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["STT", "Giá trị", "Loại", "Mô tả", "Ngày hết hạn"])
    writer.writerows([i, value, kind, text, f"{until:%d/%m/%Y}"]
                     for i, (value, kind, text) in enumerate(rows, 1))
    return out.getvalue()


@dataclass
class DemoResult:
    """What the demo found, for the CLI to show."""

    directory: Path
    config: Path
    report: PassReport
    datasets: dict[str, int] = field(default_factory=dict)
    failures_by_ip: list[dict[str, Any]] = field(default_factory=list)
    success_after_failures: list[Event] = field(default_factory=list)
    privileged: list[Event] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # soc.alerts.summary_row
    incident: dict[str, Any] = field(default_factory=dict)  # opened from the alerts
    due: list[dict[str, Any]] = field(default_factory=list)  # soc.response.deadlines.DueItem rows
    reports: list[Path] = field(default_factory=list)  # the notice and the weekly report
    notifications: dict[str, Any] = field(default_factory=dict)  # count, subjects, path


def _failures(events: list[Event]) -> list[dict[str, Any]]:
    by_ip: Counter[str] = Counter()
    users: dict[str, set[str]] = {}
    for e in events:
        ip = str(e.get("source.ip"))
        by_ip[ip] += 1
        users.setdefault(ip, set()).add(str(e.get("user.name")))
    return [{"source.ip": ip, "failures": n, "users": sorted(users[ip])}
            for ip, n in by_ip.most_common()]


def run_demo(directory: Path) -> DemoResult:
    """Write the story, collect it into a fresh embedded store, and query what happened."""
    config_path = write_story(directory)
    config = load_config(config_path)
    pull_demo_intel(config)
    report = collect(config)
    result = DemoResult(directory=directory, config=config_path, report=report)
    with open_store(config, readonly=True) as store:
        stats = store.stats()
        result.datasets = dict(stats.get("datasets", {}))
        failed = list(store.search("event.outcome:failure AND event.category:authentication",
                                   limit=None))
        result.failures_by_ip = _failures(failed)
        noisy = {row["source.ip"] for row in result.failures_by_ip if row["failures"] >= 5}
        result.success_after_failures = [
            e for e in store.search("event.outcome:success AND event.category:authentication",
                                    limit=None, order="asc")
            if e.get("source.ip") in noisy
        ]
        result.privileged = list(store.search(
            "event.category:iam OR process.name:sudo", limit=None, order="asc"))
        result.alerts = [summary_row(a) for a in store.list_alerts(AlertQuery(limit=None))]
    if result.alerts:
        result.incident, result.due = open_demo_incident(config, [a["id"] for a in
                                                                  result.alerts])
        result.reports = write_demo_reports(config, directory / "reports",
                                            str(result.incident["id"]))
    result.notifications = notify_demo(config, directory / SENT)
    return result


def pull_demo_intel(config: Config) -> None:
    """``soc intel pull`` of the demo's feed, before the pass that matches events against it."""
    from soc.intel.pull import pull
    from soc.pipeline.collect import state_path
    from soc.state import StateStore

    with open_store(config) as store:
        state = StateStore(state_path(config))
        try:
            pull(config, store, state, now=datetime.now(UTC), hunt=False)
        finally:
            state.close()


def notify_demo(config: Config, sent: Path) -> dict[str, Any]:
    """Deliver the outbox once more (the incident was opened after the pass) and sum up what
    the demo's file channel got: how many messages, the first subjects, the file."""
    import json

    from soc.notify import ops

    ops.dispatch(config, now=datetime.now(UTC))
    lines = sent.read_text(encoding="utf-8").splitlines() if sent.exists() else []
    subjects = [str(json.loads(line).get("subject", "")) for line in lines]
    return {"count": len(lines), "subjects": subjects[:2], "path": str(sent)}


def write_demo_reports(config: Config, folder: Path, incident_id: str) -> list[Path]:
    """The story's incident notice (the next report due under the profile) and the weekly
    monitoring report of this week, as HTML and DOCX under ``folder``."""
    from soc.reports.incident import incident_document
    from soc.reports.period import containing
    from soc.reports.periodic import periodic_document
    from soc.reports.render import Format, render

    week = containing("week", datetime.now(UTC).astimezone(config.tz).date(), config.tz)
    written = []
    with open_store(config, readonly=True) as store:
        notice, duty = incident_document(store, config, incident_id)
        weekly = periodic_document(store, config, "weekly", week)
    folder.mkdir(parents=True, exist_ok=True)
    for doc, name in ((notice, f"{incident_id}-{duty.id}"), (weekly, f"weekly-{week.code}")):
        for fmt in (Format.HTML, Format.DOCX):
            path = folder / f"{name}.{fmt.value}"
            path.write_bytes(render(doc, fmt))
            written.append(path)
    return written


def open_demo_incident(config: Config, alert_ids: list[str]) -> tuple[dict[str, Any],
                                                                      list[dict[str, Any]]]:
    """Open an incident from the demo's alerts with the suggested playbook; what is due."""
    from soc.response import deadlines, incidents
    from soc.response.profiles import active_profile

    profile = active_profile(config)
    req = incidents.OpenRequest(alert_ids=tuple(alert_ids), actor="soc-demo")
    with open_store(config) as store:
        inc = incidents.open_incident(store, config, incidents.load_playbooks(config), profile,
                                      req)
    now = datetime.now(UTC)
    due = [item.to_dict(now) for item in deadlines.due([inc], {profile.id: profile})]
    header = {"id": inc.id, "title": inc.title, "playbook": inc.playbook,
              "classification": inc.classification, "t0": inc.t0, "profile": inc.profile}
    return header, due
