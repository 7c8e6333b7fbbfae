"""SIGHUP reloads the rules of a running ``soc listen`` (a real subprocess on loopback); a broken
rule file keeps the running rules and is named in one error."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soc.config import load_config
from soc.listen.reload import check, refusal
from soc.models import Alert
from soc.stores.base import open_store
from tests.listen_daemon import ListenProcess

RULE = """\
title: Reload canary
id: 00000000-0000-4000-8000-0000000c0a01
status: test
level: high
logsource: {product: linux, service: sudo}
detection:
  sel: {event.action: sudo, user.effective.name: root, process.command_line|contains: canary}
  condition: sel
"""
BROKEN = "title: Broken\nid: [not, closed\ndetection: {\n"
CANARY = ("<38>Nov 24 08:26:{s:02d} web01 sudo: quantri : TTY=pts/1 ; PWD=/home/quantri ; "
          "USER=root ; COMMAND=/usr/bin/canary --run {s}")


class Listener(ListenProcess):
    """A ``soc listen`` subprocess with one UDP listener, and what it stored."""

    def __init__(self, tmp_path: Path) -> None:
        self.rules = tmp_path / "rules"
        self.rules.mkdir()
        cfg = tmp_path / "soc.yml"
        cfg.write_text("data_dir: data\ntimezone: Asia/Ho_Chi_Minh\n"
                       "rules: {paths: [rules]}\n"
                       "listen:\n  status_interval: 100ms\n  drain_interval: 100ms\n"
                       "  udp: 127.0.0.1:0\n", encoding="utf-8")
        super().__init__(cfg)
        status = self.start()
        self.port = int(status["listeners"][0].rsplit(":", 1)[1])
        self.sent = 0

    def send(self) -> None:
        """One canary message; returns once the drain stored it."""
        self.sent += 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(CANARY.format(s=self.sent).encode(), ("127.0.0.1", self.port))
        self.wait(lambda s: s["drain"]["events"] >= self.sent, f"{self.sent} stored")

    def hup(self, outcome: str, n: int) -> dict[str, Any]:
        os.kill(self.pid, signal.SIGHUP)  # the main process, as systemd's ExecReload does
        return self.wait(lambda s: s.get("reloads", {}).get(outcome) == n, f"reload {outcome}")

    def alerts(self) -> list[Alert]:
        with open_store(load_config(self.cfg), readonly=True) as store:
            return store.list_alerts()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    daemon = Listener(tmp_path)
    yield daemon
    daemon.kill()


@pytest.mark.real_clock
def test_sighup_loads_a_new_rule_and_a_broken_file_keeps_the_running_rules(
        listener: Listener) -> None:
    listener.send()
    assert listener.alerts() == []  # no rule matches the canary yet

    (listener.rules / "canary.yml").write_text(RULE, encoding="utf-8")
    status = listener.hup("done", 1)
    assert status["reloads"]["error"] is None
    listener.send()
    [alert] = listener.alerts()
    assert (alert.rule_title, alert.count) == ("Reload canary", 1)

    (listener.rules / "broken.yml").write_text(BROKEN, encoding="utf-8")
    status = listener.hup("refused", 1)
    assert status["reloads"]["done"] == 1
    assert status["reloads"]["error"].startswith("1 new rule problem(s): ")
    assert "broken.yml" in status["reloads"]["error"]
    listener.send()  # still receiving, still detecting with the canary rule
    [alert] = listener.alerts()
    assert alert.count == 2

    code, err = listener.stop()
    assert code == 0, err
    refused = [line for line in err.splitlines() if "reload refused" in line]
    assert len(refused) == 1 and refused[0].startswith("ERROR soc.listen: reload refused, the "
                                                       "running rules stay: 1 new rule problem")
    assert "broken.yml" in refused[0]


def test_refusal_compares_with_the_running_rules(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "broken.yml").write_text(BROKEN, encoding="utf-8")
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\nrules: {paths: [rules]}\nlisten: {udp: 127.0.0.1:5514}\n",
                   encoding="utf-8")
    data = str(tmp_path / "data")
    running = check(str(cfg), data)
    assert any(i["file"].endswith("broken.yml") for i in running["issues"])

    (tmp_path / "rules" / "canary.yml").write_text(RULE, encoding="utf-8")
    added = check(str(cfg), data)
    assert added["rules"] == running["rules"] + 1
    assert refusal(running, added) is None  # the broken file was there before: not a reason

    cfg.write_text(cfg.read_text().replace("5514", "5515"), encoding="utf-8")
    assert refusal(added, check(str(cfg), data)) == (
        "data_dir, store, listen, network changed in soc.yml: those apply only on a restart "
        "(systemctl restart soc-listen)")

    cfg.write_text("data_dir: data\nrules: {paths: [rules]\n", encoding="utf-8")
    why = refusal(added, check(str(cfg), data))
    assert why is not None and why.startswith("soc.yml: ")
