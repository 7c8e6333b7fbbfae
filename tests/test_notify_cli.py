"""``soc notify outbox|retry|run|test`` and ``soc status`` through the real CLI, on a real
store; the channel here is a webhook to a closed loopback port, so everything waits."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from soc.cli.main import main
from soc.config import load_config
from soc.ecs import now_ts
from soc.models import Alert, Severity
from soc.stores.sqlite import SQLiteStore


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "soc.yml"
    (tmp_path / "auth.log").write_text("", encoding="utf-8")
    path.write_text(
        "data_dir: data\nsources: [{name: auth, paths: [auth.log]}]\nnotify:\n  channels:\n"
        f"    oncall: {{type: webhook, url: 'http://127.0.0.1:{closed_port()}/hook'}}\n"
        "  routes: [{channels: [oncall]}]\n", encoding="utf-8")
    with SQLiteStore.open(load_config(path)) as store:
        now = now_ts()
        store.upsert_alerts([Alert(id="ab" * 16, rule_id="r", rule_title="t",
                                   severity=Severity.HIGH, first_seen=now, last_seen=now,
                                   created=now, updated=now)], {})
    return path


def test_run_keeps_what_it_cannot_send_and_says_so(cfg: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--config", str(cfg), "notify", "run", "--json"], capsys)
    assert code == 5, err
    assert json.loads(out)["routed"] == 1
    assert err.startswith("Warning: channel")
    code, out, _ = run(["--config", str(cfg), "notify", "outbox", "--json"], capsys)
    (row,) = json.loads(out)
    assert code == 0 and row["status"] == "queued" and row["kind"] == "alert.new"
    assert row["key"] == f"alert.new:{'ab' * 16}/route:route1/channel:oncall"
    code, out, _ = run(["--config", str(cfg), "notify", "outbox", "--failed", "--json"], capsys)
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run(["--config", str(cfg), "status", "--json"], capsys)
    (channel,) = json.loads(out)["channels"]
    assert channel["channel"] == "oncall" and channel["queued"] == 1
    assert channel["last_success"] is None


def test_retry_names_a_delivery_or_all_failed(cfg: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run(["--config", str(cfg), "notify", "run"], capsys)
    code, _, err = run(["--config", str(cfg), "notify", "retry"], capsys)
    assert code == 2 and "--all-failed" in err
    code, _, err = run(["--config", str(cfg), "notify", "retry", "nosuch"], capsys)
    assert code == 7 and "no notification delivery 'nosuch'" in err
    key = f"alert.new:{'ab' * 16}/route:route1/channel:oncall"
    code, out, _ = run(["--config", str(cfg), "notify", "retry", key, "--json"], capsys)
    assert (code, json.loads(out)) == (0, [{"key": key, "status": "queued"}])


def test_test_names_an_unknown_channel(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--config", str(cfg), "notify", "test", "pager"], capsys)
    assert code == 7
    assert "no notification channel 'pager' (known: oncall)" in err


def test_collect_delivers_and_a_channel_down_does_not_fail_the_pass(
        cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):  # the third failure in a row is worth a line for cron
        code, _, err = run(["--config", str(cfg), "collect"], capsys)
        assert code == 0
        with SQLiteStore.open(load_config(cfg)) as store:  # due again now, not in 30s
            for d in store.list_deliveries():
                store.mark_delivery(d.key, status="queued", next_at=now_ts())
    assert "Warning: notifications: channel" in err or "channels: cannot load" in err
