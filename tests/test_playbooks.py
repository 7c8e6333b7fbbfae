"""Playbook format v1: the shipped playbooks validate, reference only existing rule ids and report
kinds; invalid files give errors with file and line; profiles; suggestion; CACAO export."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from soc.ecs import parse_ts
from soc.errors import ConfigError
from soc.response.cacao import to_cacao
from soc.response.playbooks import (
    Playbook,
    PlaybookError,
    known_rule_ids,
    load_playbook,
    load_playbooks,
    playbook_files,
    suggest,
    validate_files,
)
from soc.response.profiles import load_profile, load_profile_file, report_kinds

SHIPPED = playbook_files()


@pytest.fixture(scope="module")
def books() -> dict[str, Playbook]:
    return load_playbooks()


@pytest.fixture(scope="module")
def rule_ids() -> set[str]:
    return known_rule_ids()
ISSUE_7 = {"web-defacement", "webshell", "ransomware", "phishing", "brute-force", "malware-c2",
           "ddos", "data-exfiltration", "dns-tunnelling", "public-app-exploit",
           "insider-misuse", "serious-incident"}

GOOD = """\
format: 1
id: {id}
version: "1.0"
reviewed: 2026-11-20
next_review: 2027-11-20
title: {{vi: Thử, en: Test}}
incident_type: other
severity: low
triggers: {{tags: [attack.t1110]}}
phases:
  - id: phat_hien
    steps:
      - id: a
        title: {{vi: Một, en: One}}
        kind: decision
        role: analyst
        choices:
          - {{answer: x, label: {{vi: X, en: X}}, next: c}}
          - {{answer: y, label: {{vi: Y, en: Y}}, next: b}}
      - id: b
        title: {{vi: Hai, en: Two}}
        kind: manual
        role: analyst
      - id: c
        title: {{vi: Ba, en: Three}}
        kind: report
        role: ir_lead
        report: bao_cao_72h
"""


def write(tmp_path: Path, text: str, name: str = "t.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_issue_playbooks_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} == ISSUE_7


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_playbook_validates(path: Path, rule_ids: set[str]) -> None:
    assert validate_files([path], known_rules=rule_ids,
                          report_kinds=report_kinds()) == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_playbook_references_exist(path: Path, books: dict[str, Playbook],
                                           rule_ids: set[str]) -> None:
    book = books[path.stem]
    assert set(book.triggers.rules) <= rule_ids
    kinds = report_kinds()
    assert {s.report for s in book.steps if s.report} <= kinds
    assert book.title.vi and book.title.en
    assert all(s.title.vi and s.title.en for s in book.steps)
    assert Playbook.from_dict(book.to_dict(), book.path) == book  # lossless round trip


def test_every_playbook_has_the_reporting_and_closing_phases(
        books: dict[str, Playbook]) -> None:
    for book in books.values():
        phases = [p.id for p in book.phases]
        assert phases[0] == "phat_hien" and phases[-1] == "tong_ket", book.id
        assert "bao_cao_ket_thuc" in {s.report for s in book.steps}, book.id


def test_titles_are_whole(tmp_path: Path) -> None:
    direction = load_profile("legacy-mic-2017").duty("xin_y_kien_chi_dao")
    assert direction is not None
    assert direction.title.vi == "Báo cáo xin ý kiến chỉ đạo, chỉ huy"
    broken = tmp_path / "p.yml"
    broken.write_text("format: 1\nid: p\ntitle: {vi: Một, hai, en: One}\nreports: []\n")
    with pytest.raises(ConfigError) as err:
        load_profile_file(broken)
    assert err.value.line == 3
    assert "unknown key(s) hai: quote a text that holds a comma" in err.value.message


def test_report_kinds_of_both_profiles() -> None:
    legacy, mps = load_profile("legacy-mic-2017"), load_profile("mps-2026")
    assert {d.id for d in legacy.duties} == {
        "thong_bao_su_co", "bao_cao_ban_dau", "bao_cao_dien_bien", "bao_cao_phuong_an",
        "xin_y_kien_chi_dao", "de_nghi_ho_tro", "bao_cao_ket_thuc"}
    assert {d.id for d in mps.duties} == {
        "bao_cao_ngay", "thong_bao_ban_dau", "bao_cao_72h", "bao_cao_cap_nhat",
        "thong_bao_dlcn", "bao_cao_ket_thuc"}
    t0 = parse_ts("2026-01-05T08:15:00Z")
    notice = legacy.duty("thong_bao_su_co")
    assert notice is not None and notice.subject_prefix == "[TBSC]"
    assert notice.to == ("owner", "coordinator", "response_unit", "network_member")
    assert notice.deadline(t0, None, None) == t0 + timedelta(days=5)
    final = legacy.duty("bao_cao_ket_thuc")
    assert final is not None and final.deadline(t0, None, None) is None
    assert final.deadline(t0, None, t0 + timedelta(days=2)) == t0 + timedelta(days=7)
    serious = mps.duty("thong_bao_ban_dau")
    assert serious is not None and serious.applies("serious", ()) \
        and not serious.applies("ordinary", ())
    assert serious.deadline(t0, None, None) == t0 + timedelta(hours=24)
    at_once = mps.duty("bao_cao_ngay")
    later = t0 + timedelta(hours=3)
    assert at_once is not None and at_once.deadline(t0, later, None) == later
    assert at_once.applies("ordinary", ("national_security",))
    assert all(d.to and all(r in p.roles for r in d.to) for p in (legacy, mps)
               for d in p.duties)


def test_invalid_playbook_errors_have_file_and_line(tmp_path: Path) -> None:
    text = GOOD.format(id="t").replace("severity: low", "severity: huge").replace(
        "        role: analyst\n      - id: c", "        role: analyst\n        colour: red\n"
        "      - id: c")
    path = write(tmp_path, text)
    issues = [str(i) for i in validate_files([path], report_kinds=report_kinds())]
    assert issues == [
        f"{path}:8: severity: must be one of informational, low, medium, high, critical, "
        'not "huge"',
        f"{path}:24: phases[0].steps[1].colour: unknown key (allowed: action, choices, details, "
        "due, evidence, id, kind, questions, raci, report, role, title, to, when)",
    ]
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    assert err.value.location == f"{path}:8"


def test_semantic_errors_have_file_and_line(tmp_path: Path) -> None:
    text = GOOD.format(id="other").replace("next: c}", "next: nowhere}").replace(
        "next: b}", "next: a}").replace("report: bao_cao_72h", "report: bao_cao_hang_tuan")
    path = write(tmp_path, text)
    issues = [str(i) for i in validate_files([path], known_rules=set(),
                                             report_kinds=report_kinds())]
    assert issues == [
        f"{path}:2: id: must equal the file name without extension ('t')",
        f"{path}:18: phases[0].steps[0].choices[0].next: no step 'nowhere' in this playbook",
        f"{path}:19: phases[0].steps[0].choices[1].next: branches go forward: name a later step",
        f"{path}:28: phases[0].steps[2].report: no report kind 'bao_cao_hang_tuan' in the "
        "regulatory profiles",
    ]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.format(id="t").replace("title: {vi: Thử, en: Test}",
                                                       "title: {vi: Thử?, en: Test"))
    (issue,) = validate_files([path])
    assert issue.path == str(path) and issue.line == 6
    assert issue.message.startswith("invalid YAML")


def test_unknown_rule_id_is_reported(tmp_path: Path, rule_ids: set[str]) -> None:
    text = GOOD.format(id="t").replace(
        "triggers: {tags: [attack.t1110]}",
        "triggers: {rules: [00000000-0000-0000-0000-000000000000]}")
    (issue,) = validate_files([write(tmp_path, text)], known_rules=rule_ids)
    assert issue.line == 9
    assert issue.message == ("triggers.rules[0]: no rule with id "
                             "00000000-0000-0000-0000-000000000000 in the rules")


def test_suggestion_prefers_rule_ids_then_tags(books: dict[str, Playbook]) -> None:
    ranked = suggest(books.values(), rule_ids={"bfc3592f-ef2a-437b-a626-46794a8b9a52"},
                     tags={"attack.credential-access", "attack.t1110.001"},
                     fields={"event.dataset": ["linux.auth"]})
    assert ranked[0][0].id == "brute-force"
    assert ranked[0][1] == 10 + 3 + 3 + 1
    ranked = suggest(books.values(), rule_ids=(), tags={"attack.t1486"}, fields={})
    assert [b.id for b, _ in ranked][:1] == ["ransomware"]
    assert suggest(books.values(), rule_ids=(), tags=(), fields={}) == []


def test_cacao_export_has_owners_order_and_branches(books: dict[str, Playbook]) -> None:
    book = books["brute-force"]
    doc = to_cacao(book)
    assert doc["type"] == "playbook" and doc["spec_version"] == "cacao-2.0"
    assert doc["id"].startswith("playbook--") and to_cacao(book) == doc  # stable ids
    flow = doc["workflow"]
    step = flow[doc["workflow_start"]]
    order = []
    while step["type"] != "end":
        nxt = step["on_completion"]
        step = flow[nxt]
        if step["type"] == "action":
            order.append(step["name"].split(":")[0])
        elif step["type"] == "switch-condition":
            assert set(step["cases"]) == {"serious", "ordinary", "default"}
            step = flow[step["cases"]["default"]]
            order.append(step["name"].split(":")[0])
    assert order == [s.id for s in book.steps]
    first = next(v for v in flow.values() if v.get("name", "").startswith("xac_nhan_canh_bao"))
    assert first["commands"][0]["type"] == "manual"
    assert first["timeout"] == 3600 * 1000
    assert doc["agent_definitions"][first["agent"]] == {
        "type": "group", "name": "Chuyên viên giám sát, phân tích (SOC analyst)"}
    decision = next(v for v in flow.values() if v.get("name", "").startswith("danh_gia_muc_do"))
    assert decision["out_args"] == ["__danh_gia_muc_do_answer__"]
    assert flow[decision["on_completion"]]["type"] == "switch-condition"


def test_cacao_conditional_steps(books: dict[str, Playbook]) -> None:
    doc = to_cacao(books["ransomware"])
    conditions = [v for v in doc["workflow"].values() if v["type"] == "if-condition"]
    assert {c["condition"] for c in conditions} == {"[__classification__:value = 'serious']"}
    assert len(conditions) == 2
