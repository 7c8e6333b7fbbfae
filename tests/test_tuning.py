"""Tuning as data: ``rules.tuning`` in soc.yml, the tuning file the CLI writes (audited), and
detection through it (collect, a stage with a clock, soc detect, soc hunt). Real files, real
SQLite, the real CLI; times come from a clock or from the log lines, never from today."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from soc.cli.main import main
from soc.config import Config, load_config
from soc.detection.gate import BELOW, TuningGate, below
from soc.detection.hunt import read_events
from soc.detection.stage import DetectionStage, config_detector
from soc.errors import ConfigError, InputError, StoreError
from soc.listen.reload import check
from soc.models import Severity
from soc.pipeline.collect import collect
from soc.stores.sqlite import SQLiteStore
from soc.tuning import Condition, DisabledRule, RuleException, Tuning
from soc.tuning_file import Change, add_exception, disable, effective_tuning, tuning_path

FAILED = "00000000-0000-4000-8000-0000000000a1"  # low: a failed SSH password
SUDO = "00000000-0000-4000-8000-0000000000a2"  # medium: sudo to root
GUESSING = "00000000-0000-4000-8000-0000000000c1"  # high: 3 failures from one address in 5m
RULES = f"""\
title: Failed login
id: {FAILED}
name: failed
status: test
level: low
logsource: {{product: linux, service: sshd}}
detection:
  sel: {{event.action: ssh_failed_password}}
  condition: sel
---
title: Sudo to root
id: {SUDO}
status: test
level: medium
logsource: {{product: linux, service: sudo}}
detection:
  sel: {{event.action: sudo, user.effective.name: root}}
  condition: sel
---
title: Password guessing
id: {GUESSING}
status: test
level: high
correlation:
  type: event_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 5m
  condition: {{gte: 3}}
  generate: true
"""
SCANNER, ATTACKER = "10.0.5.20", "203.0.113.9"
SCANNER_RULE = f"{{rule: {FAILED}, where: {{source.ip: {SCANNER}}}, reason: our scanner"
EVERY_ALERT = [(FAILED, SCANNER), (FAILED, ATTACKER), (SUDO, None), (GUESSING, SCANNER),
               (GUESSING, ATTACKER)]


def auth_log() -> str:
    """Three failed passwords from the attacker and three from our scanner, then a sudo."""
    lines = []
    for i in range(3):
        lines.append(f"2026-11-24T08:00:0{i}+07:00 web01 sshd[100{i}]: Failed password for "
                     f"root from {ATTACKER} port 4{i}22 ssh2")
        lines.append(f"2026-11-24T08:00:0{i}+07:00 web01 sshd[200{i}]: Failed password for "
                     f"admin from {SCANNER} port 5{i}22 ssh2")
    lines.append("2026-11-24T08:01:00+07:00 web01 sudo: quantri : TTY=pts/1 ; "
                 "PWD=/home/quantri ; USER=root ; COMMAND=/bin/ls")
    return "\n".join(lines) + "\n"


def setup(tmp_path: Path, tuning: str = "") -> Config:
    (tmp_path / "rules").mkdir(parents=True, exist_ok=True)
    (tmp_path / "rules" / "r.yml").write_text(RULES, encoding="utf-8")
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / "auth.log").write_text(auth_log(), encoding="utf-8")
    (tmp_path / "soc.yml").write_text(
        "data_dir: data\ntimezone: Asia/Ho_Chi_Minh\n"
        f"rules:\n  paths: [rules]\n{tuning}"
        "sources:\n  - {name: auth, type: file, paths: [logs/auth.log]}\n", encoding="utf-8")
    return load_config(tmp_path / "soc.yml")


def alerts(config: Config) -> list[tuple[str, str | None]]:
    """(rule id, source.ip) of every stored alert."""
    with SQLiteStore.open(config, readonly=True) as store:
        return sorted((a.rule_id, a.entity.get("source.ip")) for a in store.list_alerts())


def soc(config: Config, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-c", str(config.path), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- rules.tuning in soc.yml ---------------------------------------------------------------------

GOOD = f"""\
  tuning:
    min_level: medium
    disabled:
      - {SUDO}
      - {{rule: {GUESSING}, reason: duplicate of our rule, expires: 2027-03-01}}
    exceptions:
      - rule: {FAILED}
        where: {{source.ip: {SCANNER}}}
        reason: our vulnerability scanner
        expires: 2027-03-01T18:00:00+00:00
        author: nam
      - where:
          source.ip: [10.0.9.0/24, "2001:db8::/32"]
          user.name: svc_*
        reason: backup job
"""


def test_config_reads_the_tuning(tmp_path: Path) -> None:
    tuning = setup(tmp_path, GOOD).rules.tuning
    assert tuning.min_level is Severity.MEDIUM
    assert [(d.rule, d.reason, d.expires, d.origin) for d in tuning.disabled] == [
        (SUDO, "", None, "soc.yml:8"),
        (GUESSING, "duplicate of our rule", "2027-03-01", "soc.yml:9")]
    # a date ends at the start of that day in the configured zone (UTC+7)
    assert tuning.disabled[1].ends == datetime(2027, 2, 28, 17, 0, tzinfo=UTC)
    scanner, backup = tuning.exceptions
    assert (scanner.rule, scanner.where, scanner.author, scanner.origin) == (
        FAILED, (Condition("source.ip", (SCANNER,)),), "nam", "soc.yml:11")
    assert scanner.ends == datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
    assert backup.rule is None and len(backup.id) == 8
    assert backup.to_dict() == {"id": backup.id, "where": {
        "source.ip": ["10.0.9.0/24", "2001:db8::/32"], "user.name": "svc_*"},
        "reason": "backup job"}
    shown = setup(tmp_path, GOOD).to_dict()["rules"]["tuning"]
    assert shown["min_level"] == "medium" and len(shown["exceptions"]) == 2


@pytest.mark.parametrize(("tuning", "line", "message"), [
    ("  tuning:\n    min_level: urgent\n", 6,
     "rules.tuning: min_level must be one of informational, low, medium, high, critical, "
     "not 'urgent'"),
    ("  tuning:\n    disabled: [a]\n    exceptions:\n      - {rule: x, reason: r}\n", 8,
     "rules.tuning: exception: 'where' is required"),
    ("  tuning:\n    exceptions:\n      - rule: x\n        where:\n"
     "          source.ip: 10.0.5.0/33\n", 9,
     "rules.tuning: exception: where: source.ip: not a network: '10.0.5.0/33'"),
    ("  tuning:\n    exceptions:\n      - where: {host.name: a}\n        expires: tomorrow\n", 8,
     "rules.tuning: exception: expires: not a date or time: 'tomorrow'"),
    ("  tuning:\n    exceptions:\n      - where: {host.name: a}\n        rules: x\n", 8,
     "rules.tuning: exception: unknown key 'rules'"),
    ("  tuning:\n    disabled:\n      - {rule: a, reason: one}\n      - {rule: a, reason: two}\n",
     8, "rules.tuning: rule a is disabled twice"),
    ("  tuning:\n    disabled:\n      - {rule: a}\n    minlevel: high\n", 8,
     "rules.tuning: unknown key 'minlevel'"),
    ("  tuning:\n    exceptions:\n      - where: {host.name: [a, {b: c}]}\n", 7,
     "rules.tuning: exception: where: host.name must be a value or a list of values"),
])
def test_config_errors_name_the_line(tmp_path: Path, tuning: str, line: int,
                                     message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        setup(tmp_path, tuning)
    assert caught.value.location == f"{tmp_path / 'soc.yml'}:{line}"
    assert caught.value.message.startswith(message)


def test_tuning_file_errors_name_its_line(tmp_path: Path) -> None:
    config = setup(tmp_path)
    config.data_dir.mkdir()
    path = tuning_path(config)
    path.write_text("disabled:\n  - {rule: a}\nmin_level: low\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        effective_tuning(config)
    assert (caught.value.location, caught.value.message.split(" (")[0]) == (
        f"{path}:3", "tuning file: unknown key 'min_level'")
    path.write_text("exceptions:\n  - where: {host.name: [a\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        effective_tuning(config)
    assert caught.value.location == f"{path}:3"
    assert caught.value.message.startswith("invalid YAML")


# --- conditions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "event", "holds"), [
    ("10.0.5.20", "10.0.5.20", True),
    ("10.0.5.20", "10.0.5.21", False),
    ("10.0.5.0/24", "10.0.5.200", True),
    ("10.0.5.0/24", "10.0.6.1", False),
    ("10.0.5.0/24", "::ffff:10.0.5.7", True),  # an IPv4-mapped address is its IPv4 address
    ("2001:db8::/32", "2001:DB8:0:0::1", True),
    ("2001:db8::1", "2001:0db8::0001", True),
    ("10.0.5.0/24", "scanner.example", False),
    ("svc_*", "SVC_Backup", True),  # case-insensitive, Sigma's wildcard
    ("svc_?", "svc_ab", False),
    ("svc_?", "svc_a", True),
    ("C:\\Windows\\\\*.exe", "c:\\windows\\cmd.exe", True),  # \\ then a wildcard
    ("a\\*b", "a*b", True),  # \* is a literal star
    ("a\\*b", "axxb", False),
    ("4624", 4624, True),  # numbers compare as their text
    ("true", True, True),
    ("Nguyễn Văn A", "NGUYỄN VĂN A", True),
    ("root", ["admin", "root"], True),  # a multi-valued field: any value
    ("root", None, False),
])
def test_condition_values(value: str, event: Any, holds: bool) -> None:
    assert Condition("f", (value,)).holds({"f": event}) is holds


def test_an_exception_needs_every_field_and_any_value() -> None:
    exc = RuleException(where=(Condition("source.ip", ("10.0.5.20", "10.0.5.21")),
                               Condition("user.name", ("svc_*",))), reason="backup")
    assert exc.matches({"source.ip": "10.0.5.21", "user.name": "svc_bk"})
    assert not exc.matches({"source.ip": "10.0.5.21", "user.name": "root"})
    assert not exc.matches({"user.name": "svc_bk"})


# --- the CLI: the tuning file and the audit trail ------------------------------------------------


def test_cli_changes_are_written_to_the_file_and_audited(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = setup(tmp_path)
    monkeypatch.setenv("SOC_ACTOR", "nam")
    assert soc(config, capsys, "rules", "disable", SUDO, "--reason", "noisy on jump hosts",
               "--expires", "2999-01-01")[0] == 0
    code, _, err = soc(config, capsys, "rules", "except", FAILED, "--where",
                       f"source.ip={SCANNER}", "--where", "source.ip=10.0.5.21",
                       "--reason", "our vulnerability scanner", "--actor", "lan")
    assert code == 0
    exc_id = err.split("Exception ")[1].split()[0]
    assert soc(config, capsys, "rules", "except", "--global", "--where", "user.name=svc_*",
               "--where", "host.name=bk01", "--reason", "backup job")[0] == 0
    written = yaml.safe_load(tuning_path(config).read_text(encoding="utf-8"))
    assert [{k: v for k, v in d.items() if k != "added"} for d in written["disabled"]] == [
        {"rule": SUDO, "reason": "noisy on jump hosts", "expires": "2999-01-01",
         "author": "nam"}]
    assert [{k: v for k, v in e.items() if k != "added"} for e in written["exceptions"]] == [
        {"id": exc_id, "rule": FAILED, "where": {"source.ip": [SCANNER, "10.0.5.21"]},
         "reason": "our vulnerability scanner", "author": "lan"},
        {"id": written["exceptions"][1]["id"], "where": {"user.name": "svc_*",
                                                         "host.name": "bk01"},
         "reason": "backup job", "author": "nam"}]
    assert soc(config, capsys, "rules", "enable", SUDO, "--reason", "fixed upstream")[0] == 0
    assert soc(config, capsys, "rules", "unexcept", exc_id)[0] == 0
    written = yaml.safe_load(tuning_path(config).read_text(encoding="utf-8"))
    assert written["disabled"] == [] and len(written["exceptions"]) == 1
    with SQLiteStore.open(config, readonly=True) as store:
        trail = [(e.actor, e.action, e.subject, e.details.get("reason"),
                  e.details.get("expires")) for e in store.audit_trail()]
    assert trail == [
        ("nam", "tuning.disable", SUDO, "noisy on jump hosts", "2999-01-01"),
        ("lan", "tuning.except", FAILED, "our vulnerability scanner", None),
        ("nam", "tuning.except", "global", "backup job", None),
        ("nam", "tuning.enable", SUDO, "fixed upstream", None),
        ("nam", "tuning.unexcept", FAILED, None, None)]
    assert soc(config, capsys, "audit", "verify")[0] == 0


def test_cli_tuning_lists_both_sources(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = setup(tmp_path, "  tuning:\n    min_level: medium\n    disabled:\n"
                             "      - {rule: no-such-rule, reason: typo}\n")
    assert soc(config, capsys, "rules", "disable", FAILED, "--reason", "feeds only")[0] == 0
    code, out, err = soc(config, capsys, "rules", "tuning", "--nl")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["kind"], r["rule"], r["where"], r["state"], r["source"]) for r in rows] == [
        ("min_level", "", "medium", "in force", "soc.yml"),
        ("disabled", "no-such-rule", "", "in force", "soc.yml:8"),
        ("disabled", FAILED, "", "in force", "tuning.yml:4")]
    assert "Warning: disabled no-such-rule: no loaded rule or correlation has this id" in err
    assert (f"Warning: correlation {GUESSING} counts the disabled rule {FAILED}: it gets no "
            "hits from it") in err


def test_cli_refuses_what_it_cannot_do(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = setup(tmp_path, f"  tuning:\n    disabled: [{SUDO}]\n")
    code, _, err = soc(config, capsys, "rules", "enable", SUDO)
    assert (code, err.splitlines()) == (8, [
        f"Error: rule {SUDO} is disabled in soc.yml:6",
        "Hint: Remove its entry there (the CLI never rewrites soc.yml)."])
    code, _, err = soc(config, capsys, "rules", "enable", FAILED)
    assert (code, err.splitlines()[0]) == (7, f"Error: rule {FAILED} is not disabled")
    code, _, err = soc(config, capsys, "rules", "except", FAILED, "--global", "--where",
                       "host.name=a", "--reason", "x")
    assert code == 2 and "give a rule ID or --global (not both)" in err
    code, _, err = soc(config, capsys, "rules", "except", FAILED, "--where", "host.name",
                       "--reason", "x")
    assert code == 8 and "--where 'host.name' is not FIELD=VALUE" in err
    code, _, err = soc(config, capsys, "rules", "except", FAILED, "--where",
                       "source.ip=10.0.0.0/40", "--reason", "x")
    assert code == 8 and "not a network" in err
    assert soc(config, capsys, "rules", "except", FAILED, "--where", "host.name=a",
               "--reason", "x")[0] == 0
    code, _, err = soc(config, capsys, "rules", "except", FAILED, "--where", "host.name=a",
                       "--reason", "again")
    assert code == 8 and "exists already" in err
    code, _, err = soc(config, capsys, "rules", "unexcept", "ffffffff")
    assert code == 7 and "no exception 'ffffffff'" in err


def test_library_checks_reason_and_expiry_against_its_clock(tmp_path: Path) -> None:
    config = setup(tmp_path)
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    with SQLiteStore.open(config) as store:
        with pytest.raises(InputError, match="a reason is needed"):
            disable(config, store, SUDO, Change(actor="nam", now=now))
        with pytest.raises(InputError, match="--expires 2026-11-01 is already past"):
            disable(config, store, SUDO, Change("nam", "noisy", "2026-11-01", now))
        entry = disable(config, store, SUDO, Change("nam", "noisy", "2026-12-01", now))
        assert (entry.added, entry.ends) == ("2026-11-24T08:00:00.000Z",
                                             datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
        # disabling again changes the entry; the trail keeps both
        disable(config, store, SUDO, Change("nam", "still noisy", "2027-01-01", now))
        assert [d.reason for d in effective_tuning(config).disabled] == ["still noisy"]
        assert [e.details["before"] is None for e in store.audit_trail()] == [True, False]


def test_no_change_without_its_audit_entry(tmp_path: Path) -> None:
    config = setup(tmp_path)
    SQLiteStore.open(config).close()
    with SQLiteStore.open(config, readonly=True) as store, pytest.raises(StoreError,
                                                                         match="read-only"):
        add_exception(config, store, FAILED, [f"source.ip={SCANNER}"], Change("nam", "scan"))
    assert not tuning_path(config).exists()
    assert sorted(p.name for p in config.data_dir.iterdir() if "tuning" in p.name) == [
        "tuning.lock"]


# --- detection through the tuning ----------------------------------------------------------------


def test_an_exception_stops_the_scanner_and_not_the_attacker(tmp_path: Path) -> None:
    config = setup(tmp_path, f"  tuning:\n    exceptions:\n      - {SCANNER_RULE}}}\n")
    collect(config)
    assert alerts(config) == [(FAILED, ATTACKER), (SUDO, None), (GUESSING, ATTACKER)]
    # without the exception the scanner raises both
    config = setup(tmp_path / "untuned")
    collect(config)
    assert alerts(config) == EVERY_ALERT


def test_a_global_exception_and_a_disabled_rule(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = setup(tmp_path)
    assert soc(config, capsys, "rules", "except", "--global", "--where",
               "source.ip=10.0.5.0/24", "--reason", "scanner subnet")[0] == 0
    assert soc(config, capsys, "rules", "disable", SUDO, "--reason", "noisy")[0] == 0
    collect(config)
    assert alerts(config) == [(FAILED, ATTACKER), (GUESSING, ATTACKER)]


def stage_alerts(config: Config, tuning: Tuning, clocks: list[datetime]) -> list[list[str]]:
    """The new alerts of each batch one stage (one process) raises, its clock at each time in
    turn: every batch is the log's events again, with new event ids ("a1 10.0.5.20": rule and
    source address)."""
    (events,) = list(read_events(config, [str(config.data_dir.parent / "logs" / "auth.log")]))
    now = [clocks[0]]
    out: list[list[str]] = []
    with SQLiteStore.open(config) as store:
        stage = DetectionStage(config_detector(config), tuning=tuning, clock=lambda: now[0])
        for n, at in enumerate(clocks):
            now[0] = at
            before = {a.id for a in store.list_alerts()}
            stage.process([{**e, "event.id": f"{e['event.id']}-{n}"} for e in events], store)
            out.append(sorted(f"{a.rule_id[-2:]} {a.entity.get('source.ip')}"
                              for a in store.list_alerts() if a.id not in before))
    return out


def test_an_expired_exception_no_longer_applies(tmp_path: Path) -> None:
    config = setup(tmp_path, f"  tuning:\n    exceptions:\n      - {SCANNER_RULE}, "
                             "expires: 2026-12-01}\n")
    tuning = effective_tuning(config)
    ends = tuning.exceptions[0].ends
    assert ends == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # the start of the day, UTC+7
    before, after = ends - timedelta(seconds=1), ends
    # one process: the exception applies, then expires between two batches
    first, second = stage_alerts(config, tuning, [before, after])
    assert first == ["a1 203.0.113.9", "a2 None", "c1 203.0.113.9"]
    assert second == ["a1 10.0.5.20", "c1 10.0.5.20"]
    assert TuningGate(tuning, clock=lambda: after).excepted(FAILED, {"source.ip": SCANNER}) \
        is None


def test_a_disabled_rule_is_not_run_until_its_entry_expires(tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 24, tzinfo=UTC)
    tuning = Tuning(disabled=(DisabledRule(rule=SUDO, reason="noisy",
                                           ends=t0 + timedelta(days=1)),))
    config = setup(tmp_path)
    stage = DetectionStage(config_detector(config), tuning=tuning, clock=lambda: t0)
    assert SUDO not in {r.ir.id for r in stage.detector.engine.rules}
    assert SUDO in {r.ir.id for r in config_detector(config).engine.rules}  # the cached one
    first, second = stage_alerts(config, tuning, [t0, t0 + timedelta(days=1)])
    assert first == ["a1 10.0.5.20", "a1 203.0.113.9", "c1 10.0.5.20", "c1 203.0.113.9"]
    assert second == ["a2 None"]


def test_min_level_keeps_low_hits_out_of_the_queue_and_in_correlations(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = setup(tmp_path, "  tuning:\n    min_level: medium\n")
    collect(config)
    # the six low failures are not alerts; the correlation counted them all the same
    assert alerts(config) == [(SUDO, None), (GUESSING, SCANNER), (GUESSING, ATTACKER)]
    with SQLiteStore.open(config, readonly=True) as store:
        kept = below(store)
        assert store.hits(BELOW, since="", until="9") == list(reversed(kept))
    assert sorted((h.rule_id, h.value, h.entity["source.ip"]) for h in kept) == [
        (FAILED, "low", SCANNER)] * 3 + [(FAILED, "low", ATTACKER)] * 3
    code, out, _ = soc(config, capsys, "rules", "hits", FAILED, "--since", "2026-11-24",
                       "--until", "2026-11-25", "-n", "2", "--nl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(r["timestamp"], r["level"], r["title"], r["host"]) for r in rows] == [
        ("2026-11-24T01:00:02.000Z", "low", "Failed login", "web01")] * 2
    # the same events read again change nothing
    assert main(["-c", str(config.path), "ingest", "--again", str(tmp_path / "logs" /
                                                                  "auth.log")]) == 0
    with SQLiteStore.open(config, readonly=True) as store:
        assert len(below(store)) == 6


def test_below_hits_are_pruned_past_the_window(tmp_path: Path) -> None:
    config = setup(tmp_path, "  tuning:\n    min_level: medium\n")
    (events,) = list(read_events(config, [str(config.data_dir.parent / "logs" / "auth.log")]))
    late = datetime(2027, 1, 1, tzinfo=UTC)
    with SQLiteStore.open(config) as store:
        DetectionStage(config_detector(config), tuning=effective_tuning(config),
                       clock=lambda: late, keep_below=timedelta(days=60)).process(events, store)
        assert len(below(store)) == 6  # 38 days old: kept
        DetectionStage(config_detector(config), tuning=effective_tuning(config),
                       clock=lambda: late, keep_below=timedelta(days=30)).process(
            [{**e, "event.id": e["event.id"] + "-2"} for e in events], store)
        assert len(below(store)) == 0  # written, then pruned with the older ones


def test_soc_detect_applies_the_tuning(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = setup(tmp_path, f"  tuning:\n    min_level: medium\n    exceptions:\n"
                             f"      - {SCANNER_RULE}}}\n")
    log = str(tmp_path / "logs" / "auth.log")

    def fired(*flags: str) -> list[tuple[str, str | None]]:
        code, out, err = soc(config, capsys, "detect", log, "--nl", *flags)
        assert code == 10, err
        return sorted((f["rule_id"][-2:], f["entity"].get("source.ip"))
                      for f in map(json.loads, out.splitlines()))

    assert fired() == [("a2", None), ("c1", ATTACKER)]
    assert fired("--min-level", "low") == [("a1", ATTACKER)] * 3 + [("a2", None),
                                                                   ("c1", ATTACKER)]
    assert fired("--no-tuning") == sorted([("a1", ATTACKER)] * 3 + [("a1", SCANNER)] * 3 + [
        ("a2", None), ("c1", ATTACKER), ("c1", SCANNER)])
    code, _, err = soc(config, capsys, "detect", log)
    assert code == 10
    assert "Tuning: 0 disabled rule(s), 1 exception(s), min_level medium" in err
    assert "2 finding(s), 3 dropped by the tuning, 3 below min_level" in err


def test_soc_hunt_applies_the_tuning(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = setup(tmp_path, f"  tuning:\n    min_level: medium\n    disabled: [{SUDO}]\n"
                             f"    exceptions:\n      - {SCANNER_RULE}}}\n")
    collect(config, detect=False)
    hunt = ["hunt", "--since", "2026-11-01", "--until", "2026-12-01"]
    code, out, err = soc(config, capsys, *hunt, str(tmp_path / "rules"), "--json")
    report = json.loads(out)
    assert (code, report["disabled"], report["tuned"], report["below"]) == (10, [SUDO], 4, 3)
    assert "1 rule(s) disabled by the tuning were not hunted" in err
    assert alerts(config) == [(GUESSING, ATTACKER)]
    with SQLiteStore.open(config, readonly=True) as store:
        assert len(below(store)) == 3
    assert soc(config, capsys, *hunt, "--no-tuning", str(tmp_path / "rules"))[0] == 10
    assert alerts(config) == EVERY_ALERT


def test_a_listen_reload_refuses_a_broken_tuning_file(tmp_path: Path) -> None:
    config = setup(tmp_path)
    assert "error" not in check(str(config.path), str(config.data_dir))
    config.data_dir.mkdir(exist_ok=True)
    tuning_path(config).write_text("disabled: [a]\nmin_level: low\n", encoding="utf-8")
    result = check(str(config.path), str(config.data_dir))
    assert result["error"].startswith(f"{tuning_path(config)}:2: tuning file: unknown key "
                                      "'min_level'")

