"""Golden files: every report kind rendered from one fixed store must not change by accident.

The store is built here with fixed times (events of week 48 of 2026, four alerts, an incident
under each profile) and every document is rendered with a fixed ``now``. A difference fails with
the diff; refresh deliberately with ``SOC_UPDATE_GOLDEN=1 pytest tests/test_reports_golden.py``
and review the change like code.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from soc.config import Config, load_config
from soc.ecs import event_id, format_ts
from soc.models import Alert, AlertStatus, Severity
from soc.pipeline.collect import state_path
from soc.reports.forms import Document
from soc.reports.incident import build_incident_document, incident_kinds
from soc.reports.kpis import Scope
from soc.reports.period import parse
from soc.reports.periodic import periodic_document
from soc.reports.render import Format, render
from soc.response import incidents as lib
from soc.response.playbooks import load_playbooks
from soc.response.profiles import load_profile
from soc.state import StateStore
from soc.stores.sqlite import SQLiteStore

GOLDEN = Path(__file__).resolve().parent / "golden" / "reports"
NOW = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)  # 09:30 on 1/12/2026 in Hà Nội
ATTACKER, SCANNER = "203.0.113.45", "198.51.100.23"

CONFIG = """\
data_dir: data
profile: {profile}
inventory:
  units:
    - id: vp-ubnd
      name: Văn phòng UBND tỉnh
      contacts:
        - {{role: owner, name: Chánh Văn phòng, organization: Văn phòng UBND tỉnh,
           email: vp@example.gov.vn}}
        - {{role: operator, name: Trung tâm Thông tin - Công báo, email: ttcb@example.gov.vn}}
    - id: so-khcn
      name: Sở Khoa học và Công nghệ
      contacts:
        - {{role: response_unit, organization: Sở Khoa học và Công nghệ,
           email: attt@example.gov.vn}}
        - {{role: coordinator, organization: VNCERT/CC, email: ir@vncert.vn}}
        - {{role: network_member, organization: Đội ứng cứu sự cố tỉnh, email: ucsc@example.gov.vn}}
        - {{role: steering_committee, organization: Ban Chỉ đạo tỉnh, email: bcd@example.gov.vn}}
        - {{role: mps_agency, organization: Cục A05 - Bộ Công an, email: a05@example.gov.vn}}
        - {{role: provincial_police, organization: Công an tỉnh (PA05), email: pa05@example.gov.vn}}
        - {{role: ministry, organization: Bộ Khoa học và Công nghệ, email: bo@example.gov.vn}}
  systems:
    - {{id: cong-ttdt, name: Cổng thông tin điện tử tỉnh, unit: vp-ubnd, security_level: 3,
       owner: Ủy ban nhân dân tỉnh, operator: Trung tâm Thông tin - Công báo,
       hosts: [portal-web01, cong.example.gov.vn], expected_sources: [portal-auth]}}
    - {{id: dvc, name: Cổng dịch vụ công tỉnh, unit: so-khcn, security_level: 3,
       hosts: [dvc-web01]}}
sources:
  - {{name: portal-auth, type: file, paths: [auth.log], system: cong-ttdt, expected_interval: 1d}}
{reports}"""

REPORTS = """\
reports:
  place: Hà Giang
  organization: {name: Sở Khoa học và Công nghệ tỉnh Hà Giang, owner_agency: UBND tỉnh Hà Giang,
                 address: "1 Nguyễn Trãi, TP Hà Giang", phone: 0219 3860 000,
                 email: attt@example.gov.vn, member_code: UCSC-HG-01}
  contact: {name: Nguyễn Văn An, title: Trưởng phòng An toàn thông tin, phone: 0912 000 111,
            email: an.nv@example.gov.vn}
  signatory: {authority: KT. GIÁM ĐỐC, title: PHÓ GIÁM ĐỐC, name: Trần Thị Bình}
  owner: {name: Ủy ban nhân dân tỉnh Hà Giang, head: Chủ tịch UBND tỉnh, address: TP Hà Giang,
          phone: 0219 3866 000, email: ubnd@example.gov.vn,
          unit_name: Sở Khoa học và Công nghệ, unit_head: Giám đốc Sở,
          unit_address: TP Hà Giang, unit_phone: 0219 3860 000, unit_email: attt@example.gov.vn}
  systems:
    cong-ttdt: {os: Ubuntu 22.04 LTS, services: [web, database], measures: [firewall, ids],
                public_ips: [203.0.113.10], domains: [cong.example.gov.vn],
                purpose: Cung cấp thông tin của tỉnh, isp: VNPT Hà Giang,
                security_provider: Trung tâm Giám sát tỉnh, level_decision: QĐ 12/QĐ-UBND,
                type: Cổng thông tin, approval_status: Đã được phê duyệt,
                approval_decision: QĐ 12/QĐ-UBND ngày 10/3/2025, checks: Định kỳ,
                deployment: Đã triển khai đầy đủ}
"""


def _event(n: int, ts: datetime, **fields: Any) -> dict[str, Any]:
    event = {"@timestamp": format_ts(ts), "event.id": event_id("golden", n),
             "event.dataset": "linux.auth", "event.module": "system",
             "event.ingested": format_ts(ts), "host.name": "portal-web01",
             "organization.id": "vp-ubnd", "labels.system": "cong-ttdt",
             "labels.security_level": 3}
    event.update(fields)
    return event


def events() -> list[dict[str, Any]]:
    """Week 48 of 2026: logins every two hours, a brute force on 25/11, then a new sudo user."""
    start = datetime(2026, 11, 22, 17, tzinfo=UTC)  # 00:00 23/11 local
    out = [_event(i, start + timedelta(hours=2 * i), **{
        "event.category": ["authentication"], "event.outcome": "success",
        "user.name": "quantri", "source.ip": "10.10.0.5"}) for i in range(84)]
    attack = datetime(2026, 11, 24, 22, 3, tzinfo=UTC)
    out += [_event(100 + i, attack + timedelta(seconds=5 * i), **{
        "event.category": ["authentication"], "event.outcome": "failure",
        "user.name": ["root", "admin", "oracle"][i % 3], "source.ip": ATTACKER,
        "event.original": f"sshd[{21400 + i}]: Failed password for root from {ATTACKER}"})
        for i in range(48)]
    out += [_event(200, attack + timedelta(minutes=6), **{
        "event.category": ["iam"], "event.action": "user_added", "user.name": "backup1"}),
        _event(201, datetime(2026, 11, 26, 3, tzinfo=UTC), **{
            "host.name": "dvc-web01", "organization.id": "so-khcn", "labels.system": "dvc",
            "event.dataset": "apache.access", "source.ip": SCANNER, "url.path": "/.env",
            "event.outcome": "failure"})]
    return out


def alerts() -> list[Alert]:
    def alert(n: int, rule: str, title: str, sev: Severity, first: str, last: str, count: int,
              tags: tuple[str, ...], entity: dict[str, Any], original: str) -> Alert:
        eid = event_id("golden-alert", n)
        return Alert(id=f"{n:032x}", rule_id=rule, rule_title=title, severity=sev,
                     first_seen=first, last_seen=last, count=count, tags=tags, entity=entity,
                     event_ids=(eid,), created=last, updated=last,
                     event={"event.original": original, "process.name": entity.get("_p", ""),
                            "event.dataset": "linux.auth"})

    portal = {"host.name": "portal-web01", "labels.system": "cong-ttdt",
              "organization.id": "vp-ubnd"}
    return [
        alert(1, "bfc3592f-ef2a-437b-a626-46794a8b9a52", "SSH Brute Force From One Source",
              Severity.MEDIUM, "2026-11-24T22:03:00.000Z", "2026-11-24T22:06:55.000Z", 48,
              ("attack.credential-access", "attack.t1110.001"),
              {**portal, "source.ip": ATTACKER, "_p": "sshd"},
              f"sshd[21400]: Failed password for root from {ATTACKER} port 40000 ssh2"),
        alert(2, "9a818814-cdca-4dac-866c-720a0c2f8cd5", "SSH Login After Brute Force",
              Severity.HIGH, "2026-11-24T22:07:09.000Z", "2026-11-24T22:07:09.000Z", 2,
              ("attack.t1078",), {**portal, "source.ip": ATTACKER, "user.name": "quantri",
                                  "_p": "sshd"},
              f"sshd[21449]: Accepted password for quantri from {ATTACKER} port 41999 ssh2"),
        alert(3, "0a623f17-f72b-462e-8d4c-d45f282ce578", "Linux Local User Created",
              Severity.CRITICAL, "2026-11-24T22:09:09.000Z", "2026-11-24T22:09:09.000Z", 1,
              ("attack.t1136.001",), {**portal, "user.name": "backup1"},
              "useradd[21452]: new user: name=backup1, UID=1002"),
        alert(4, "7207ceee-248c-423f-ac68-43a12848d0ee", "Web Sensitive File Probe",
              Severity.LOW, "2026-11-26T03:00:00.000Z", "2026-11-26T03:00:00.000Z", 1,
              ("attack.t1595",), {"host.name": "dvc-web01", "labels.system": "dvc",
                                  "organization.id": "so-khcn", "source.ip": SCANNER},
              f'{SCANNER} - - "GET /.env HTTP/1.1" 404'),
    ]


def _fixed(store: SQLiteStore, inc: lib.Incident) -> lib.Incident:
    """The incident with every clock time replaced by a fixed one (for stable golden files)."""
    at = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    timeline = tuple(replace(e, ts=format_ts(at + timedelta(minutes=15 * i)))
                     for i, e in enumerate(inc.timeline))
    steps = tuple(replace(s, done_at=format_ts(at + timedelta(hours=1)) if s.done_at else None)
                  for s in inc.steps)
    fixed = replace(inc, opened=format_ts(at), timeline=timeline, steps=steps,
                    closed=format_ts(datetime(2026, 11, 27, 9, tzinfo=UTC)) if inc.closed
                    else None)
    store.put_incident(fixed.id, fixed.opened, fixed.status, fixed.to_dict())
    return fixed


def build_store(directory: Path, *, profile: str = "mps-2026",
                with_settings: bool = True) -> tuple[SQLiteStore, Config, list[lib.Incident]]:
    """The fixed store: events, alerts, an ordinary incident (mps-2026) and a serious one beyond
    capability (legacy-mic-2017, closed, with its notice sent)."""
    path = directory / "soc.yml"
    path.write_text(CONFIG.format(profile=profile, reports=REPORTS if with_settings else ""),
                    encoding="utf-8")
    config = load_config(path)
    store = SQLiteStore.open(config)
    store.write_events(events())
    store.upsert_alerts(alerts(), {})
    with mock.patch("soc.alerts.now_ts", return_value=ALERTS_TAKEN), \
            mock.patch("soc.audit.now_ts", return_value=ALERTS_TAKEN):
        # the alerts' changes (tied to the incidents, closed with one) at a fixed time
        return _with_incidents(store, config)


ALERTS_TAKEN = "2026-11-25T00:30:00.000Z"


def _with_incidents(store: SQLiteStore,
                    config: Config) -> tuple[SQLiteStore, Config, list[lib.Incident]]:
    books = load_playbooks()
    ordinary = lib.open_incident(store, config, books, load_profile("mps-2026"), lib.OpenRequest(
        alert_ids=(f"{1:032x}", f"{2:032x}", f"{3:032x}"), actor="an.nv"))
    ordinary = _fixed(store, ordinary)
    # an alert belongs to one incident: the serious one is opened from the same activity seen
    # again (alerts 5 and 6 are 1 and 3 under other ids)
    again = {new: store.get_alert(f"{old:032x}") for old, new in ((1, 5), (3, 6))}
    store.upsert_alerts([replace(a, id=f"{n:032x}", incident=None, status=AlertStatus.OPEN)
                         for n, a in again.items() if a is not None], {})
    serious = lib.open_incident(store, config, books, load_profile("legacy-mic-2017"),
                                lib.OpenRequest(alert_ids=(f"{5:032x}", f"{6:032x}"),
                                                actor="an.nv", serious=True,
                                                flags=("beyond_capability",),
                                                t0="2026-11-24T23:00:00.000Z"))
    for step in ("thong_bao_su_co", "report-bao_cao_ban_dau"):
        serious = lib.update_step(store, config, serious.id, step,
                                  lib.StepChange(state=lib.StepState.DONE), "an.nv")
    for rec in serious.steps:
        if rec.state in lib.OPEN_STATES and rec.spec.kind.value != "report":
            serious = lib.update_step(store, config, serious.id, rec.id, lib.StepChange(
                state=lib.StepState.SKIPPED, reason="golden fixture"), "an.nv")
    serious = lib.close_incident(store, config, serious.id, "Đã chặn IP nguồn, khóa tài khoản "
                                 "backup1, đổi mật khẩu; nguyên nhân: mật khẩu yếu.", "an.nv")
    serious = _fixed(store, serious)
    return store, config, [ordinary, serious]


PERIODS = {"daily": "2026-11-25", "weekly": "2026-W48", "monthly": "2026-11",
           "half-year": "2026-H2", "mau05": "2026-H2", "mau08": "2026"}
LAST_DATA = datetime(2026, 11, 27, tzinfo=UTC)  # portal-auth's last new data: silent after


def passes(config: Config) -> StateStore:
    """The collector's passes over portal-auth: every 6 hours from 20/11 to 30/11, with new
    data until 27/11 00:00 UTC. Each report judges the gap as it was at its period's end."""
    state = StateStore(state_path(config))
    at = datetime(2026, 11, 20, tzinfo=UTC)
    while at <= datetime(2026, 11, 30, 18, tzinfo=UTC):
        state.record_run("portal-auth", start=format_ts(at - timedelta(seconds=5)),
                         events=12 if at <= LAST_DATA else 0, dead=0, error=None,
                         last_event=None, lag=None, end=format_ts(at))
        at += timedelta(hours=6)
    return state


def periodic(store: SQLiteStore, config: Config, kind: str, state: StateStore | None,
             scope: Scope | None = None) -> Document:
    period = parse("year" if kind == "mau08" else {"daily": "day", "weekly": "week",
                                                   "monthly": "month"}.get(kind, "half"),
                   PERIODS[kind], config.tz)
    return periodic_document(store, config, kind, period, scope, state=state, now=NOW)


def all_documents(store: SQLiteStore, config: Config,
                  incs: list[lib.Incident]) -> dict[str, Document]:
    """Every report kind: each incident duty soc fills under both profiles, then the periodic."""
    docs: dict[str, Document] = {}
    for inc in incs:
        profile = load_profile(inc.profile)
        for duty in incident_kinds(profile):
            docs[f"{profile.id}.{duty.id}"] = build_incident_document(
                store_incident(store, inc.id), config, profile, duty, now=NOW)
    state = passes(config)
    try:
        for kind in PERIODS:
            docs[kind] = periodic(store, config, kind, state)
    finally:
        state.close()
    return docs


def store_incident(store: SQLiteStore, incident_id: str) -> lib.Incident:
    return lib.get(store, incident_id)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    store, config, incs = build_store(tmp_path_factory.mktemp("golden"))
    try:
        return all_documents(store, config, incs)
    finally:
        store.close()


CASES = [("mps-2026", d) for d in ("bao_cao_ngay", "thong_bao_ban_dau", "bao_cao_72h",
                                   "bao_cao_cap_nhat", "bao_cao_ket_thuc")] + \
        [("legacy-mic-2017", d) for d in ("thong_bao_su_co", "bao_cao_ban_dau",
                                          "bao_cao_dien_bien", "bao_cao_phuong_an",
                                          "xin_y_kien_chi_dao", "de_nghi_ho_tro",
                                          "bao_cao_ket_thuc")]
NAMES = [f"{p}.{d}" for p, d in CASES] + list(PERIODS)


def check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SOC_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(f"no golden file {path}: create it with SOC_UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            str(path), "rendered"))
        pytest.fail(f"{name} differs from its golden file (SOC_UPDATE_GOLDEN=1 to accept):\n"
                    f"{diff[:6000]}")


@pytest.mark.parametrize("name", NAMES)
def test_markdown_matches_golden(fixed: dict[str, Document], name: str) -> None:
    check(f"{name}.md", render(fixed[name], Format.MD).decode("utf-8"))


@pytest.mark.parametrize("name", ["weekly", "legacy-mic-2017.bao_cao_ban_dau"])
def test_html_matches_golden(fixed: dict[str, Document], name: str) -> None:
    check(f"{name}.html", render(fixed[name], Format.HTML).decode("utf-8"))


def test_every_kind_has_a_golden_case(fixed: dict[str, Document]) -> None:
    assert sorted(fixed) == sorted(NAMES)
