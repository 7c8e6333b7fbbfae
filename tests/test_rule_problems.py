"""A broken rule is never silent for the cron user: ``soc collect`` warns once and exits 5,
``soc status`` counts it; rules that merely do not apply here (cloud log sources) stay quiet.
Real ``python -m soc`` processes, real files, real SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from soc.config import load_config
from soc.errors import ExitCode
from soc.stores.base import open_store

GOOD = """\
title: User added
id: 00000000-0000-4000-8000-00000000e001
status: test
level: high
logsource: {product: linux, service: auth}
detection:
  sel: {event.action: user_added}
  condition: sel
"""
BROKEN = "title: Broken\ndetection: [unclosed\n"
UNKNOWN_MODIFIER = GOOD.replace("e001", "e002").replace("event.action:", "event.action|sorta:")
CLOUD = """\
title: Console login without MFA
id: 00000000-0000-4000-8000-00000000e003
status: test
level: medium
logsource: {product: acme-appliance, service: audit}
detection:
  sel: {eventName: ConsoleLogin}
  condition: sel
"""
LOG = ("Nov 24 08:26:09 web01 useradd[21452]: new user: name=backup1, UID=1002, GID=1002, "
       "home=/home/backup1, shell=/bin/bash, from=/dev/pts/1\n")


def project(tmp_path: Path, rules: dict[str, str]) -> Path:
    (tmp_path / "local").mkdir(parents=True)
    for name, text in rules.items():
        (tmp_path / "local" / name).write_text(text, encoding="utf-8")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "auth.log").write_text(LOG, encoding="utf-8")
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\ntimezone: UTC\nrules: {paths: [local]}\n"
                   "sources:\n  - {name: auth, type: file, paths: [logs/auth.log]}\n",
                   encoding="utf-8")
    return cfg


def soc(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soc", "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=300)


def test_collect_warns_once_and_exits_partial_on_a_broken_rule(tmp_path: Path) -> None:
    cfg = project(tmp_path, {"good.yml": GOOD, "broken.yml": BROKEN})
    done = soc(cfg, "collect")
    assert done.returncode == ExitCode.PARTIAL
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    broken = str(tmp_path / "local" / "broken.yml")
    assert lines[0].startswith(f"Warning: 1 rule file(s) could not be used: {broken}: cannot load")
    assert lines[0].endswith(". Hint: soc rules check")
    assert "good.yml" not in lines[0]
    with open_store(load_config(cfg), readonly=True) as store:
        assert store.stats()["events"] == 1
        assert [a.rule_id for a in store.list_alerts()
                if a.rule_id.startswith("00000000-0000-4000-8000-00000000e")] \
            == ["00000000-0000-4000-8000-00000000e001"]
    again = soc(cfg, "collect", "--json")  # every pass says it again, in the JSON too
    assert again.returncode == ExitCode.PARTIAL
    report = json.loads(again.stdout)
    assert (report["ok"], report["rule_errors"]) == (False, [broken])
    assert len(again.stderr.splitlines()) == 1


def test_status_counts_errors_and_not_applicable_rules(tmp_path: Path) -> None:
    cfg = project(tmp_path, {"good.yml": GOOD, "broken.yml": BROKEN,
                             "modifier.yml": UNKNOWN_MODIFIER, "cloud.yml": CLOUD})
    baseline = soc(project(tmp_path / "base", {}), "status", "--json")
    base = json.loads(baseline.stdout)["rules"]
    done = soc(cfg, "status", "--json")
    assert done.returncode == ExitCode.FINDINGS
    rules = json.loads(done.stdout)["rules"]
    assert rules == {
        "active": base["active"] + 1, "errors": base["errors"] + 2,
        "not_applicable": base["not_applicable"] + 1,
        "error_files": [str(tmp_path / "local" / "broken.yml"),
                        str(tmp_path / "local" / "modifier.yml")]}
    assert base["errors"] == 0 and baseline.returncode == ExitCode.OK
    table = soc(cfg, "status")
    assert (f"Rules: {base['active'] + 1} active, 2 error(s), "
            f"{base['not_applicable'] + 1} not applicable (see 'soc rules check')") in table.stderr
    assert "Warning: 2 rule file(s) could not be used" in table.stderr


def test_not_applicable_rules_keep_the_cron_job_silent(tmp_path: Path) -> None:
    cfg = project(tmp_path, {"good.yml": GOOD, "cloud.yml": CLOUD})
    done = soc(cfg, "collect")
    assert (done.returncode, done.stdout, done.stderr) == (ExitCode.OK, "", "")
    status = json.loads(soc(cfg, "status", "--json").stdout)["rules"]
    assert status["errors"] == 0 and status["not_applicable"] >= 1
