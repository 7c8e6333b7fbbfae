"""The small defects of the analyst's day (issue 15): the command ``soc init`` suggests runs, the
README's crontab line runs under cron's PATH, a wrong decision answer gets a hint about the answer,
the 72-hour report lists no decision question as a measure taken, timeline texts show no Python
values, and the periodic reports count the alerts raised in the period (by ``created``)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soc.cli.main import main
from soc.config import Config, load_config
from soc.ecs import event_id
from soc.errors import ExitCode
from soc.models import Alert, Severity
from soc.reports.forms import Document
from soc.reports.incident import build_incident_document
from soc.reports.kpis import Scope
from soc.reports.period import parse
from soc.reports.periodic import periodic_document
from soc.response import incidents as lib
from soc.response.cacao import to_cacao
from soc.response.playbooks import load_playbooks
from soc.response.profiles import load_profile
from soc.stores.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)  # reports are written at a fixed moment
CONFIG = """\
data_dir: data
profile: mps-2026
inventory:
  units: [{id: vp, name: VP, contacts: [{role: owner, email: o@example.gov.vn}]}]
  systems: [{id: portal, name: Cổng, unit: vp, security_level: 3, hosts: [web01]}]
"""
ENTITY = {"source.ip": "203.0.113.45", "host.name": "web01", "labels.system": "portal",
          "organization.id": "vp"}


def _alert(n: int, first: str, last: str, created: str,
           severity: Severity = Severity.MEDIUM) -> Alert:
    return Alert(id=f"{n:032x}", rule_id="bfc3592f-ef2a-437b-a626-46794a8b9a52",
                 rule_title="SSH Brute Force From One Source", severity=severity,
                 first_seen=first, last_seen=last, count=3, tags=("attack.t1110.001",),
                 entity=dict(ENTITY), event_ids=(event_id("smalls", n),), created=created,
                 updated=created)


@pytest.fixture
def env(tmp_path: Path) -> tuple[SQLiteStore, Config]:
    path = tmp_path / "soc.yml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path)
    store = SQLiteStore.open(config)
    store.write_events([{
        "@timestamp": "2026-01-05T08:03:00.000Z", "event.id": event_id("e", 1),
        "event.dataset": "linux.auth", "event.module": "linux",
        "event.ingested": "2026-01-05T08:03:01.000Z", "event.category": "authentication",
        "event.outcome": "failure", "source.ip": "203.0.113.45", "host.name": "web01",
        "user.name": "root"}])
    store.upsert_alerts([_alert(0xA, "2026-01-05T08:02:00.000Z", "2026-01-05T08:06:00.000Z",
                                "2026-01-05T08:07:30.000Z")], {})
    return store, config


def open_one(store: SQLiteStore, config: Config) -> lib.Incident:
    req = lib.OpenRequest(alert_ids=(f"{0xA:032x}",), actor="an.nv")
    return lib.open_incident(store, config, load_playbooks(), load_profile("mps-2026"), req)


# --- soc init's next command ----------------------------------------------------------------------


def test_the_command_soc_init_suggests_runs(tmp_path: Path) -> None:
    # it said 'soc -c soc.yml collect -v', and '-v' is an option of soc, not of collect (exit 2)
    folder = tmp_path / "with space"
    done = subprocess.run([sys.executable, "-m", "soc", "init", str(folder)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    suggested = done.stderr.strip().split("then run: ", 1)[1]
    argv = shlex.split(suggested)
    # edit the sources as it says: the starter's auth log becomes one of ours
    log = tmp_path / "auth.log"
    log.write_text("Nov 24 22:03:00 portal-web01 sshd[2140]: Failed password for root from "
                   "203.0.113.45 port 40000 ssh2\n", encoding="utf-8")
    config = folder / "soc.yml"
    starter = config.read_text(encoding="utf-8")
    assert "[/var/log/auth.log*]" in starter
    config.write_text(starter.replace("[/var/log/auth.log*]", f"['{log}']"), encoding="utf-8")
    assert argv[0] == "soc"
    ran = subprocess.run([sys.executable, "-m", "soc", *argv[1:]], capture_output=True,
                         text=True, check=False, cwd=tmp_path)
    assert ran.returncode == ExitCode.OK, ran.stderr
    assert "No such option" not in ran.stderr
    assert re.match(r"^1 source\(s\), 1 new event\(s\), 0 dead letter", ran.stderr)  # -v


# --- the README's crontab line -------------------------------------------------------------------


def test_readme_crontab_line_runs_under_crons_path() -> None:
    # cron's PATH is /usr/bin:/bin: a bare 'soc' is not found there (docs/cron.md says so)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^(?:[\d*/,-]+ ){5}.*$", readme, re.M)
    assert lines, "the README shows a crontab line"
    cron_doc = (ROOT / "docs" / "cron.md").read_text(encoding="utf-8").splitlines()
    for line in lines:
        words = line.split()[5:]
        command = words[words.index("-c") - 1]  # the word that runs: soc, or its full path
        assert command.startswith("/"), f"{line}: cron would not find {command} on its PATH"
        assert line in cron_doc  # the line docs/cron.md explains (and its tests parse)


# --- a wrong decision answer ---------------------------------------------------------------------


def test_a_wrong_decision_answer_gets_a_hint_about_answers(
        env: tuple[SQLiteStore, Config], capsys: pytest.CaptureFixture[str]) -> None:
    store, config = env
    inc = open_one(store, config)
    store.close()
    assert config.path is not None
    code = main(["-c", str(config.path), "incidents", "step", inc.id, "danh_gia_muc_do",
                 "--answer", "maybe"])
    err = capsys.readouterr().err
    assert code == ExitCode.INPUT
    assert err.splitlines() == [
        "Error: step danh_gia_muc_do has no answer 'maybe' (answers: serious, ordinary)",
        f"Hint: Answer with one of them: soc incidents step {inc.id} danh_gia_muc_do "
        "--answer serious",
    ]


def test_an_answer_to_a_step_that_is_no_decision(env: tuple[SQLiteStore, Config]) -> None:
    store, config = env
    inc = open_one(store, config)
    with pytest.raises(lib.InputError) as caught:
        lib.update_step(store, config, inc.id, "tra_cuu_nguon", lib.StepChange(answer="yes"),
                        "an.nv")
    assert caught.value.message == "step tra_cuu_nguon is no decision: it takes no --answer"
    assert caught.value.hint is not None and "--format" not in caught.value.hint
    assert "--done" in caught.value.hint


# --- the 72-hour report's measures ---------------------------------------------------------------


def _field(doc: Document, field_id: str) -> str:
    return next(f.value for f in doc.fields() if f.id == field_id)


def test_72_hour_report_lists_no_decision_question_as_a_measure(
        env: tuple[SQLiteStore, Config]) -> None:
    store, config = env
    inc = open_one(store, config)
    inc = lib.update_step(store, config, inc.id, "danh_gia_muc_do",
                          lib.StepChange(answer="ordinary"), "an.nv")
    inc = lib.update_step(store, config, inc.id, "tra_cuu_nguon",
                          lib.StepChange(state=lib.StepState.DONE), "an.nv")
    profile = load_profile("mps-2026")
    duty = profile.duty("bao_cao_72h")
    assert duty is not None
    measures = _field(build_incident_document(inc, config, profile, duty, now=NOW), "measures")
    assert "Đã thực hiện: Tra cứu hoạt động của địa chỉ nguồn." in measures
    assert "Sự cố có nghiêm trọng không?" not in measures
    # and a decision still to take is no measure planned either
    inc = lib.update_step(store, config, inc.id, "danh_gia_muc_do",
                          lib.StepChange(state=lib.StepState.PENDING), "an.nv")
    measures = _field(build_incident_document(inc, config, profile, duty, now=NOW), "measures")
    assert "Sẽ thực hiện:" in measures and "Sự cố có nghiêm trọng không?" not in measures


# --- messages with Python values -----------------------------------------------------------------


def test_query_step_texts_show_no_python_values(env: tuple[SQLiteStore, Config]) -> None:
    # the alert has no user.name: the step's first question is not run
    store, config = env
    inc = open_one(store, config)
    inc, results = lib.run_step(store, config, inc.id, "hoat_dong_sau_dang_nhap", "an.nv")
    assert [r["count"] for r in results] == [None, 0]
    text = inc.timeline[-1].text
    assert "None" not in text
    assert text == ("step hoat_dong_sau_dang_nhap: ran 2 question(s), events found: "
                    "not run (the alerts have no user.name), 0")
    # a count that reached the question's limit says there may be more
    assert lib._found({"count": 500, "limited": True}) == "500+"


def test_step_change_texts_show_no_python_values(env: tuple[SQLiteStore, Config]) -> None:
    store, config = env
    inc = open_one(store, config)
    inc = lib.update_step(store, config, inc.id, "tra_cuu_nguon",
                          lib.StepChange(assignee="binh.tt"), "an.nv")
    assert inc.timeline[-1].text == "step tra_cuu_nguon: assignee (none) → binh.tt"
    inc = lib.classify(store, config, inc.id, "an.nv", classification="serious",
                       flags=("personal_data",))
    text = inc.timeline[-1].text
    assert "{" not in text and "[" not in text and "'" not in text
    assert text == ("classified: classification serious, flags personal_data, "
                    "type unauthorized_access")


def test_cacao_export_shows_question_ranges_as_durations() -> None:
    # it said 'from alert time - 1 day, 0:00:00 to + 1:00:00' (a Python timedelta)
    doc = to_cacao(load_playbooks()["brute-force"])
    step = next(v for v in doc["workflow"].values()
                if v.get("name", "").startswith("tra_cuu_nguon"))
    questions = [line for c in step["commands"] for line in c["command"].splitlines()
                 if line.startswith("Question:")]
    assert len(questions) == 3
    assert questions[0].endswith("(from alert time - 1d to + 1h)")
    assert not any(":00:00" in q or "day," in q for q in questions)


# --- periodic reports count the alerts raised in the period --------------------------------------


def _kpis(doc: Document) -> dict[str, str]:
    return dict(doc.sections[0].kpis)


def test_weekly_report_counts_alerts_raised_in_the_week(env: tuple[SQLiteStore, Config]) -> None:
    # week 48 of 2026 is 23/11 00:00 to 30/11 24:00 in Hà Nội (22/11 17:00 to 29/11 17:00 UTC)
    store, config = env
    store.upsert_alerts([
        # raised this week from logs of October collected late: counted, as about earlier events
        _alert(1, "2026-10-02T01:00:00.000Z", "2026-10-02T01:05:00.000Z",
               "2026-11-25T03:00:00.000Z", Severity.HIGH),
        _alert(2, "2026-10-03T01:00:00.000Z", "2026-10-03T01:05:00.000Z",
               "2026-11-25T03:00:01.000Z"),
        # raised this week about this week's events
        _alert(3, "2026-11-24T22:03:00.000Z", "2026-11-24T22:06:00.000Z",
               "2026-11-24T22:07:00.000Z"),
        # events of this week, but raised the week after: next week's report counts it
        _alert(4, "2026-11-29T10:00:00.000Z", "2026-11-29T10:01:00.000Z",
               "2026-11-29T17:00:00.000Z"),
        # raised the week before, about events of the week before
        _alert(5, "2026-11-20T10:00:00.000Z", "2026-11-20T10:01:00.000Z",
               "2026-11-20T10:02:00.000Z"),
    ], {})
    week = parse("week", "2026-W48", config.tz)
    doc = periodic_document(store, config, "weekly", week, Scope(), now=NOW)
    figures = _kpis(doc)
    assert figures["Cảnh báo phát sinh trong kỳ"] == "3"
    assert figures["Trong đó về sự kiện trước kỳ"] == "2"
    assert figures["Cảnh báo mức cao, nghiêm trọng"] == "1"
    alerts = next(s for s in doc.sections if s.title == "3. Cảnh báo")
    assert "theo thời điểm phát sinh" in alerts.text
    # the attackers table shows when the events were: the first one is of 02/10
    attackers = next(s for s in doc.sections if s.title == "6. Đối tượng tấn công")
    assert attackers.table is not None
    assert attackers.table.rows[0][:2] == ("203.0.113.45", "3")
    assert attackers.table.rows[0][3] == "08:00 ngày 02/10/2026"
    # the week after counts the one raised on Monday; the week before the one of 20/11
    after = periodic_document(store, config, "weekly", parse("week", "2026-W49", config.tz),
                              Scope(), now=datetime(2026, 12, 8, 2, tzinfo=UTC))
    assert (_kpis(after)["Cảnh báo phát sinh trong kỳ"],
            _kpis(after)["Trong đó về sự kiện trước kỳ"]) == ("1", "1")
    before = periodic_document(store, config, "weekly", parse("week", "2026-W47", config.tz),
                               Scope(), now=NOW)
    assert (_kpis(before)["Cảnh báo phát sinh trong kỳ"],
            _kpis(before)["Trong đó về sự kiện trước kỳ"]) == ("1", "0")


def test_an_alert_without_created_counts_by_its_first_event(
        env: tuple[SQLiteStore, Config]) -> None:
    # alerts stored before 'created' was kept: their first event time stands in for it
    store, config = env
    store.upsert_alerts([_alert(1, "2026-11-24T22:03:00.000Z", "2026-11-24T22:06:00.000Z", "")],
                        {})
    doc = periodic_document(store, config, "weekly", parse("week", "2026-W48", config.tz),
                            Scope(), now=NOW)
    assert _kpis(doc)["Cảnh báo phát sinh trong kỳ"] == "1"
