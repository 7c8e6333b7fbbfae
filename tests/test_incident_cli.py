"""Acceptance of issue 7 through the CLI: alert → incident with the suggested playbook → steps
done and skipped → evidence → deadlines under both profiles → close; then the stored trail is
edited behind soc's back (raw sqlite3) and ``soc audit verify`` fails naming the entry."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from soc.cli.main import main
from soc.config import load_config
from soc.ecs import parse_ts
from soc.errors import ExitCode
from soc.models import Alert, Severity
from soc.stores.sqlite import SQLiteStore

BRUTE_FORCE = "bfc3592f-ef2a-437b-a626-46794a8b9a52"  # rules/linux/lnx_auth_ssh_brute_force.yml
SUCCESS_AFTER = "0a623f17-f72b-462e-8d4c-d45f282ce578"
CREATED = "2026-01-05T08:15:42.000Z"
T0 = "2026-01-05T08:15:00.000Z"

CONFIG = """\
data_dir: data
profile: {profile}
inventory:
  units:
    - id: vp-ubnd
      name: Văn phòng UBND tỉnh
      contacts:
        - {{role: owner, name: Chánh Văn phòng, email: vanphong@example.gov.vn}}
        - {{role: operator, name: Trung tâm Thông tin, email: ttcb@example.gov.vn}}
    - id: ca-tinh
      name: Công an tỉnh
      contacts:
        - {{role: mps_agency, name: Phòng An ninh mạng, email: pa05@example.gov.vn}}
        - {{role: coordinator, name: VNCERT/CC, email: ir@vncert.example.vn}}
  systems:
    - {{id: cong-ttdt, name: Cổng thông tin điện tử tỉnh, unit: vp-ubnd, security_level: 3,
       hosts: [portal-web01]}}
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def alert(rule_id: str, title: str, severity: Severity, tags: tuple[str, ...]) -> Alert:
    entity = {"host.name": "portal-web01", "source.ip": "203.0.113.45",
              "labels.system": "cong-ttdt", "organization.id": "vp-ubnd"}
    return Alert(id=hashlib.md5(rule_id.encode()).hexdigest(), rule_id=rule_id,
                 rule_title=title, severity=severity, first_seen="2026-01-05T08:02:05.000Z",
                 last_seen="2026-01-05T08:06:09.000Z", count=48, entity=entity, tags=tags,
                 created=CREATED, updated=CREATED)


def project(tmp_path: Path, profile: str) -> Path:
    folder = tmp_path / profile
    folder.mkdir()
    config = folder / "soc.yml"
    config.write_text(CONFIG.format(profile=profile), encoding="utf-8")
    with SQLiteStore.open(load_config(config)) as store:
        store.upsert_alerts([
            alert(BRUTE_FORCE, "SSH Brute Force From One Source", Severity.MEDIUM,
                  ("attack.credential-access", "attack.t1110.001")),
            alert(SUCCESS_AFTER, "SSH Login Succeeds After Brute Force", Severity.HIGH,
                  ("attack.credential-access", "attack.t1110.001", "attack.t1078")),
        ], {})
    return config


AT = "2026-02-01T00:00:00Z"  # what is due is judged at a fixed moment, never today


def due_rows(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    code, out, _ = run(["-c", str(config), "incidents", "due", "--json", "--at", AT], capsys)
    assert code in (ExitCode.OK, ExitCode.FINDINGS)
    return {str(r["step"]): r for r in json.loads(out)}


def open_incident(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    ids = [hashlib.md5(r.encode()).hexdigest()[:8] for r in (BRUTE_FORCE, SUCCESS_AFTER)]
    code, out, err = run(["-c", str(config), "incidents", "open", "-a", ids[0], "-a", ids[1],
                          *extra, "--actor", "an.nv", "--json"], capsys)
    assert code == ExitCode.OK, err
    header = json.loads(out)
    assert header["playbook"] == "brute-force v1.0"  # suggested by the rule ids and tags
    assert header["t0"] == T0  # detection time, to the minute
    assert header["systems"] == "cong-ttdt (cấp độ 3)"
    return str(header["id"])


def test_whole_incident_through_the_cli(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = project(tmp_path, "legacy-mic-2017")
    c = ["-c", str(config)]
    inc = open_incident(config, capsys)
    assert inc == "SC-2026-0001"

    # legacy profile: incident notice within 5 days of T0, to owner, VNCERT, response unit...
    rows = due_rows(config, capsys)
    notice = rows["thong_bao_su_co"]
    assert notice["deadline"] == "2026-01-10T08:15:00.000Z"
    assert notice["rule"] == "t0 + 5d"
    assert notice["to"] == ["owner: vanphong@example.gov.vn", "coordinator: ir@vncert.example.vn",
                            "response_unit (no contact configured)",
                            "network_member (no contact configured)"]
    assert rows["bao_cao_ket_thuc"]["deadline"] == "end + 5d"  # known once the response ends
    assert "bao_cao_72h" not in rows  # an mps-2026 duty: skipped under this profile

    # steps: done, started, skipped with a reason, a decision that branches
    assert run([*c, "incidents", "step", inc, "xac_nhan_canh_bao", "--done"], capsys)[0] == 0
    code, _, err = run([*c, "incidents", "step", inc, "chan_ip_nguon", "--skip", ""], capsys)
    assert code == ExitCode.INPUT and "a reason is needed" in err
    assert run([*c, "incidents", "step", inc, "chan_ip_nguon", "--skip",
                "blocked upstream by the ISP"], capsys)[0] == 0
    code, _, err = run([*c, "incidents", "step", inc, "khoa_tai_khoan", "--run"], capsys)
    assert code == ExitCode.ERROR and "runs only with --allow-actions" in err

    evidence = tmp_path / "auth.log"
    evidence.write_bytes(b"Nov 24 15:06:09 portal-web01 sshd[1]: Accepted password\n")
    code, out, _ = run([*c, "incidents", "evidence", inc, str(evidence), "--step",
                        "thu_thap_nhat_ky", "--actor", "binh.tt", "--json"], capsys)
    assert code == ExitCode.OK
    item = json.loads(out)
    assert item["sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert item["size"] == 56 and item["by"] == "binh.tt"
    stored = Path(item["stored"])
    assert stored.parent == config.parent / "data" / "evidence" / inc
    assert stored.read_bytes() == evidence.read_bytes()

    code, _, err = run([*c, "incidents", "close", inc, "--outcome", "contained"], capsys)
    assert code == ExitCode.INPUT and "still has open steps" in err
    code, out, _ = run([*c, "incidents", "show", inc, "--json"], capsys)
    steps = {s["spec"]["id"]: s for s in json.loads(out)["steps"]}
    for sid, s in steps.items():
        if s["state"] == "pending" and s["spec"]["kind"] != "report" and sid != "danh_gia_muc_do":
            assert run([*c, "incidents", "step", inc, sid, "--done"], capsys)[0] == 0
    code, _, err = run([*c, "incidents", "step", inc, "danh_gia_muc_do", "--answer", "ordinary"],
                       capsys)
    assert code == ExitCode.OK, err
    code, _, _ = run([*c, "incidents", "close", inc, "--outcome",
                      "account locked, password reset, source blocked"], capsys)
    assert code == ExitCode.OK
    code, out, _ = run([*c, "incidents", "show", inc, "--json"], capsys)
    shown = json.loads(out)
    assert shown["status"] == "closed"
    steps = {s["spec"]["id"]: s for s in shown["steps"]}
    assert steps["chan_ip_nguon"]["state"] == "skipped"
    assert steps["chan_ip_nguon"]["reason"] == "blocked upstream by the ISP"
    assert steps["thong_bao_ban_dau"]["reason"] == "not a duty under profile legacy-mic-2017"
    final = due_rows(config, capsys)["bao_cao_ket_thuc"]  # a duty survives the close
    closed = parse_ts(shown["closed"])
    assert final["deadline"] == (closed + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{closed.microsecond // 1000:03d}Z"

    code, out, _ = run([*c, "audit", "verify", "--json"], capsys)
    assert code == ExitCode.OK
    good = json.loads(out)
    assert good["ok"] is True and good["problems"] == []

    # behind soc's back: change who did something in one stored entry
    db = sqlite3.connect(config.parent / "data" / "store.db")
    seq, doc = db.execute("SELECT id, doc FROM audit WHERE action = 'incident.evidence'").fetchone()
    db.execute("UPDATE audit SET doc = ? WHERE id = ?",
               (doc.replace('"binh.tt"', '"someone.else"'), seq))
    db.commit()
    db.close()
    code, out, err = run([*c, "audit", "verify"], capsys)
    assert code == ExitCode.FINDINGS
    assert f"BROKEN: entry #{seq} (incident.evidence {inc}," in err
    assert "was edited after it was written" in err


def test_deleting_an_entry_or_editing_the_incident_is_caught(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = project(tmp_path, "legacy-mic-2017")
    c = ["-c", str(config)]
    inc = open_incident(config, capsys)
    run([*c, "incidents", "note", inc, "first note"], capsys)
    run([*c, "incidents", "note", inc, "second note"], capsys)
    db = sqlite3.connect(config.parent / "data" / "store.db")
    (middle,) = db.execute("SELECT id FROM audit ORDER BY id LIMIT 1 OFFSET 1").fetchone()
    db.execute("DELETE FROM audit WHERE id = ?", (middle,))
    db.execute("UPDATE incidents SET doc = replace(doc, 'ordinary', 'xxxxxxxx')")
    db.commit()
    db.close()
    code, out, _ = run([*c, "audit", "verify", "--json"], capsys)
    assert code == ExitCode.FINDINGS
    problems = [p["problem"] for p in json.loads(out)["problems"]]
    assert any(p.startswith(f"entry #{middle + 1} ") and "was deleted, inserted or reordered"
               in p for p in problems)
    assert f"entries #{middle} to #{middle} are missing" in problems
    assert any(p.startswith(f"record {inc} differs from its state") for p in problems)


def test_deadlines_under_mps_2026(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = project(tmp_path, "mps-2026")
    c = ["-c", str(config)]
    inc = open_incident(config, capsys)
    rows = due_rows(config, capsys)
    assert rows["bao_cao_72h"]["deadline"] == "2026-01-08T08:15:00.000Z"  # T0 + 72 h
    assert rows["bao_cao_72h"]["to"] == ["mps_agency: pa05@example.gov.vn"]
    assert "thong_bao_ban_dau" not in rows  # an ordinary incident has no 24 h notice
    assert "thong_bao_su_co" not in rows  # a legacy duty
    # the decision says serious: the 24 h notice applies, counted from T0
    code, _, err = run([*c, "incidents", "step", inc, "danh_gia_muc_do", "--answer", "serious"],
                       capsys)
    assert code == ExitCode.OK, err
    rows = due_rows(config, capsys)
    assert rows["thong_bao_ban_dau"]["deadline"] == "2026-01-06T08:15:00.000Z"  # T0 + 24 h
    assert rows["thong_bao_ban_dau"]["overdue"] is True
    code, _, _ = run([*c, "incidents", "due", "--at", AT], capsys)
    assert code == ExitCode.FINDINGS  # something is overdue
    # on the morning after T0, the 24 h notice has an hour left
    code, out, _ = run([*c, "incidents", "due", "--json", "--at", "2026-01-06T07:15:00Z"],
                       capsys)
    early = {r["step"]: r for r in json.loads(out)}["thong_bao_ban_dau"]
    assert (early["overdue"], early["left"]) == (False, "1h")
    assert run([*c, "audit", "verify"], capsys)[0] == ExitCode.OK
