"""Detection wired into the pipeline: collect, ingest, a crash between stage and commit, hunts
over stored history, and the demo's alerts. Real files, real SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soc.cli.main import main
from soc.config import Config, load_config
from soc.demo.demo import run_demo
from soc.detection import hunt as hunt_module
from soc.detection.hunt import hunt_query, read_events
from soc.detection.stage import DetectionStage, config_detector, detection_stage
from soc.pipeline.collect import collect, ingest
from soc.stores.sqlite import SQLiteStore

RULES = """\
title: Sudo to root
id: 00000000-0000-4000-8000-00000000f001
status: test
level: medium
logsource: {product: linux, service: sudo}
detection:
  sel: {event.action: sudo, user.effective.name: root}
  condition: sel
---
title: User added
id: 00000000-0000-4000-8000-00000000f002
status: test
level: high
tags: [attack.persistence, attack.t1136.001]
logsource: {product: linux, service: auth}
detection:
  sel: {event.action: user_added}
  condition: sel
"""
LOG = (
    "Nov 24 08:26:09 web01 sudo: quantri : TTY=pts/1 ; PWD=/home/quantri ; USER=root ; "
    "COMMAND=/usr/sbin/useradd -m backup1\n"
    "Nov 24 08:26:09 web01 useradd[21452]: new user: name=backup1, UID=1002, GID=1002, "
    "home=/home/backup1, shell=/bin/bash, from=/dev/pts/1\n"
    "Nov 24 08:30:00 web01 sudo: quantri : TTY=pts/1 ; PWD=/home/quantri ; USER=root ; "
    "COMMAND=/bin/ls\n"
)
MINE = ("00000000-0000-4000-8000-00000000f001", "00000000-0000-4000-8000-00000000f002")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(RULES, encoding="utf-8")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "auth.log").write_text(LOG, encoding="utf-8")
    (tmp_path / "soc.yml").write_text(
        "data_dir: data\ntimezone: UTC\nrules: {paths: [rules]}\n"
        "inventory:\n  units: [{id: vp, name: VP}]\n"
        "  systems: [{id: portal, unit: vp, security_level: 3, hosts: [web01]}]\n"
        "sources:\n  - {name: auth, type: file, paths: [logs/auth.log], system: portal}\n",
        encoding="utf-8")
    return load_config(tmp_path / "soc.yml")


def mine(store: SQLiteStore) -> list[tuple[str, int, str | None, str | None]]:
    return sorted((a.rule_id[-4:], a.count, a.system, a.unit)
                  for a in store.list_alerts() if a.rule_id in MINE)


def test_collect_raises_alerts_once(config: Config) -> None:
    report = collect(config)
    assert report.sources[0].alerts >= 2
    with SQLiteStore.open(config) as store:
        assert mine(store) == [("f001", 2, "portal", "vp"), ("f002", 1, "portal", "vp")]
        (added,) = [a for a in store.list_alerts() if a.rule_id == MINE[1]]
        assert added.attack == ("attack.persistence", "attack.t1136.001")
        assert added.entity["user.name"] == "backup1"
        event = store.get_event(added.event_ids[0], ts=added.first_seen)
        assert event is not None and event["user.name"] == "backup1"
    assert collect(config).sources[0].alerts == 0  # nothing new to read
    with SQLiteStore.open(config) as store:
        assert mine(store) == [("f001", 2, "portal", "vp"), ("f002", 1, "portal", "vp")]


def test_a_batch_read_again_after_a_crash_doubles_nothing(config: Config) -> None:
    (events,) = list(read_events(config, [str(config.data_dir.parent / "logs" / "auth.log")]))
    with SQLiteStore.open(config) as store:
        stage = detection_stage(config, store)
        assert isinstance(stage, DetectionStage)
        first = stage.process(events, store)
        # the pass dies before the events and the checkpoint are written; the next one
        # reads the same records (same ids) again
        assert stage.process(events, store) == 0
        assert first >= 2
        assert mine(store) == [("f001", 2, "portal", "vp"), ("f002", 1, "portal", "vp")]


def test_ingest_and_the_cli_summary(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    log = str(config.data_dir.parent / "logs" / "auth.log")
    report = ingest(config, [log])
    assert report.sources[0].alerts >= 2
    code = main(["-c", str(config.path), "ingest", "--again", log, "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["sources"][0]["alerts"] == 0


def test_hunt_over_stored_history(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    collect(config, detect=False)
    with SQLiteStore.open(config) as store:
        assert mine(store) == []
    base = ["-c", str(config.path), "hunt", "--since", "3650d"]
    code = main([*base, MINE[1], "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 10
    assert (out["rules"], out["events"], out["hits"], len(out["new_alerts"])) == (
        [MINE[1]], 3, 1, 1)
    with SQLiteStore.open(config) as store:
        assert mine(store) == [("f002", 1, "portal", "vp")]
    # a file of rules: both; the alert already raised is updated, not doubled
    code = main([*base, str(config.data_dir.parent / "rules" / "r.yml"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert (code, len(out["new_alerts"]), len(out["updated_alerts"])) == (10, 1, 1)
    with SQLiteStore.open(config) as store:
        assert mine(store) == [("f001", 2, "portal", "vp"), ("f002", 1, "portal", "vp")]
    code = main([*base, "no-such-rule"])
    assert code == 7
    assert "no usable rule with id no-such-rule" in capsys.readouterr().err


def test_a_hunt_reports_each_alert_once(config: Config, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An alert raised by one batch of the hunt and widened by a later one is new, once, and
    not also updated: the report does not depend on the batching (the Elasticsearch store
    pages events per rule, the embedded store in BATCH events)."""
    collect(config, detect=False)
    monkeypatch.setattr(hunt_module, "BATCH", 1)
    code = main(["-c", str(config.path), "hunt", "--since", "3650d",
                 str(config.data_dir.parent / "rules" / "r.yml"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 10 and out["events"] == 3
    with SQLiteStore.open(config) as store:
        assert mine(store) == [("f001", 2, "portal", "vp"), ("f002", 1, "portal", "vp")]
        raised = sorted(a.id for a in store.list_alerts() if a.rule_id in MINE)
    assert (sorted(out["new_alerts"]), out["updated_alerts"]) == (raised, [])


def test_hunt_query_follows_the_rules_routes(config: Config) -> None:
    detector = config_detector(config)
    assert hunt_query(detector, {MINE[0]}) == 'event.dataset:"linux.auth"'
    assert hunt_query(detector, set()) == "*"


def test_the_demo_shows_alerts(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo")
    assert sum(s.alerts for s in result.report.sources) >= len(result.alerts) > 0


BRUTE_FORCE = "bfc3592f-ef2a-437b-a626-46794a8b9a52"  # rules/linux/lnx_auth_ssh_brute_force.yml


def brute_force_alerts(config: Config, db: str, sizes: list[int]) -> list[tuple[object, ...]]:
    """The project's SSH brute-force alerts after the stage saw the log in batches of
    ``sizes`` (one stage, as one process, per size), on one store."""
    log = config.data_dir.parent / "logs" / "ssh.log"
    (events,) = list(read_events(config, [str(log)]))
    with SQLiteStore.open_path(config.data_dir / db) as store:
        done = 0
        for size in sizes:
            stage = detection_stage(config, store)
            assert isinstance(stage, DetectionStage)
            for i in range(done, min(done + size * 3, len(events)), size):
                stage.process(events[i:min(i + size, done + size * 3)], store)
            done = min(done + size * 3, len(events))
        return sorted((a.id, a.count, a.first_seen, a.last_seen, a.group)
                      for a in store.list_alerts() if a.rule_id == BRUTE_FORCE)


def test_a_brute_force_is_one_alert_whatever_the_batches_and_passes(config: Config) -> None:
    lines = [f"Nov 24 08:{m // 6:02d}:{m % 6 * 10:02d} web01 sshd[{900 + m}]: Failed password "
             f"for root from 203.0.113.45 port {40000 + m} ssh2\n" for m in range(40)]
    lines += [f"Nov 24 09:{m:02d}:00 web01 sshd[{990 + m}]: Failed password for admin from "
              f"198.51.100.{m} port 22 ssh2\n" for m in range(12)]  # scattered: no alert
    (config.data_dir.parent / "logs" / "ssh.log").write_text("".join(lines), encoding="utf-8")
    whole = brute_force_alerts(config, "whole.db", [100])
    assert [(count, group) for _, count, _, _, group in whole] == [
        (40, {"source.ip": "203.0.113.45"})]
    assert brute_force_alerts(config, "small.db", [1, 2, 3, 5, 100]) == whole
    assert brute_force_alerts(config, "passes.db", [7, 7, 7, 100]) == whole
