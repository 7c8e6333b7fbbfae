"""``soc rules list|check|test`` on a rules folder written here, and on the project's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soc.cli.main import main

GOOD = """\
title: Web scanner user agent
id: 00000000-0000-4000-8000-00000000e001
status: experimental
level: medium
logsource: {category: webserver}
detection:
  sel: {cs-user-agent|contains: sqlmap}
  condition: sel
"""
BAD = """\
title: Bad modifier
id: 00000000-0000-4000-8000-00000000e002
status: test
level: low
logsource: {category: webserver}
detection:
  sel: {cs-uri-query|nosuchmodifier: x}
  condition: sel
"""
CORR = """\
title: Scanner burst
id: 00000000-0000-4000-8000-00000000e003
status: test
level: high
correlation:
  type: event_count
  rules: [00000000-0000-4000-8000-00000000e001]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 2}
"""
LINE = ('203.0.113.9 - - [24/Nov/2026:08:00:0{s} +0700] "GET /?id=1 HTTP/1.1" 200 512 "-" '
        '"{ua}"\n')


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    (d / "tests" / "00000000-0000-4000-8000-00000000e001").mkdir(parents=True)
    (d / "pipelines").mkdir()
    (d / "pipelines" / "not-a-rule.yml").write_text("name: x\ntransformations: []\n")
    (d / "web.yml").write_text(GOOD, encoding="utf-8")
    (d / "corr.yml").write_text(CORR, encoding="utf-8")
    (d / "tests" / "00000000-0000-4000-8000-00000000e003").mkdir()
    samples = d / "tests" / "00000000-0000-4000-8000-00000000e001"
    (samples / "match.log").write_text(LINE.format(s=1, ua="sqlmap/1.7"), encoding="utf-8")
    (samples / "nomatch.log").write_text(LINE.format(s=1, ua="Mozilla/5.0"), encoding="utf-8")
    corr = d / "tests" / "00000000-0000-4000-8000-00000000e003"
    (corr / "match.log").write_text(LINE.format(s=1, ua="sqlmap") + LINE.format(s=2, ua="sqlmap"),
                                    encoding="utf-8")
    (corr / "nomatch-one.log").write_text(LINE.format(s=1, ua="sqlmap"), encoding="utf-8")
    return d


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(Path(args[-1]).parent / "data"), *args[:-1],
                 "--rules", args[-1]])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "rules", "list", "--nl", str(rules))
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": "00000000-0000-4000-8000-00000000e003", "title": "Scanner burst",
         "level": "high", "logsource": "correlation:event_count", "status": "test",
         "file": str(rules / "corr.yml")},
        {"id": "00000000-0000-4000-8000-00000000e001", "title": "Web scanner user agent",
         "level": "medium", "logsource": "webserver", "status": "experimental",
         "file": str(rules / "web.yml")},
    ]
    assert err == "1 rule(s), 1 correlation(s), 0 unusable (see 'soc rules check').\n"


def test_check(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "rules", "check", "--nl", str(rules))[:2] == (0, "")
    (rules / "bad.yml").write_text(BAD, encoding="utf-8")
    code, out, err = run(capsys, "rules", "check", "--nl", str(rules))
    assert code == 9
    (issue,) = [json.loads(line) for line in out.splitlines()]
    assert (issue["file"], issue["id"], issue["stage"]) == (
        str(rules / "bad.yml"), "00000000-0000-4000-8000-00000000e002", "load")
    assert "nosuchmodifier" in issue["reason"]
    assert err == "2 usable, 1 unusable.\n"


def test_samples_pass(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "rules", "test", "--nl", str(rules))
    assert code == 0, err
    got = sorted((Path(r["file"]).name, r["expect"], r["ok"], r["fired"])
                 for r in map(json.loads, out.splitlines()))
    assert got == [("match.log", "match", True, 1), ("match.log", "match", True, 1),
                   ("nomatch-one.log", "nomatch", True, 0), ("nomatch.log", "nomatch", True, 0)]
    assert err == "4 passed, 0 failed; 0 rule(s) without samples.\n"


def test_samples_fail_with_a_clear_reason(rules: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    samples = rules / "tests" / "00000000-0000-4000-8000-00000000e001"
    (samples / "nomatch-sqlmap.log").write_text(LINE.format(s=3, ua="sqlmap/1.8"),
                                                encoding="utf-8")
    (samples / "match-browser.log").write_text(LINE.format(s=4, ua="Firefox"), encoding="utf-8")
    code, _, err = run(capsys, "rules", "test", "00000000-0000-4000-8000-00000000e001",
                       str(rules))
    assert code == 9
    rid = "00000000-0000-4000-8000-00000000e001"
    assert (f"FAIL {rid} {samples / 'match-browser.log'}: expected the rule to fire, it did "
            "not (1 event(s) read, 0 unparsed; other rules fired: none)\n") in err
    assert (f"FAIL {rid} {samples / 'nomatch-sqlmap.log'}: expected no hit, got 1 (1 event(s) "
            f"read, 0 unparsed):\n  + {LINE.format(s=3, ua='sqlmap/1.8').rstrip()}\n") in err
    assert err.endswith("2 passed, 2 failed; 0 rule(s) without samples.\n")


def test_samples_of_an_unknown_rule_fail(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (rules / "tests" / "no-such-rule").mkdir()
    code, _, err = run(capsys, "rules", "test", str(rules))
    assert code == 9
    assert f"FAIL {rules / 'tests' / 'no-such-rule'}: samples for a rule that is not loaded" in err


def test_the_project_rules_pass_their_samples(root: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    if not (root / "rules" / "tests").is_dir():
        pytest.skip("the project has no rule samples yet")
    code = main(["--data-dir", str(tmp_path), "rules", "test", "--rules", str(root / "rules")])
    err = capsys.readouterr().err
    assert code == 0, err
