"""A broken rule file is named on the stderr of ``soc listen`` (one line, as ``soc collect`` does)
when it starts and after each reload, and the daemon keeps receiving and detecting with the rules
that load. A real ``soc listen`` subprocess on loopback."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from soc.config import load_config
from soc.stores.base import open_store
from tests.listen_daemon import ListenProcess
from tests.test_listen_reload import BROKEN, CANARY, RULE

PREFIX = "WARNING soc.listen: 1 rule file(s) could not be used: "


class Daemon(ListenProcess):
    """``soc listen`` on one UDP port, over a rules folder with a good and a broken file; its
    stderr read as it comes."""

    def __init__(self, tmp_path: Path) -> None:
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "canary.yml").write_text(RULE, encoding="utf-8")
        (rules / "broken.yml").write_text(BROKEN, encoding="utf-8")
        self.broken = rules / "broken.yml"
        cfg = tmp_path / "soc.yml"
        cfg.write_text("data_dir: data\nrules: {paths: [rules]}\n"
                       "listen:\n  status_interval: 100ms\n  drain_interval: 100ms\n"
                       "  udp: 127.0.0.1:0\n", encoding="utf-8")
        super().__init__(cfg)
        self.err = b""

    def warnings(self, count: int, timeout: float = 90) -> list[str]:
        """The rule warnings on stderr, once there are ``count`` of them."""
        assert self.proc is not None and self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        os.set_blocking(fd, False)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                found = [line for line in self.err.decode().splitlines()
                         if "rule file(s)" in line]
                if len(found) >= count:
                    return found
                assert self.proc.poll() is None, self.err.decode()
                try:
                    self.err += os.read(fd, 65536)
                except BlockingIOError:
                    time.sleep(0.05)
        finally:
            os.set_blocking(fd, True)
        pytest.fail(f"no {count} rule warning(s) on stderr:\n{self.err.decode()}")

    def send(self, port: int, n: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(CANARY.format(s=n).encode(), ("127.0.0.1", port))
        self.wait(lambda s: s["drain"]["events"] >= n, f"{n} stored")

    def alert_count(self) -> int:
        with open_store(load_config(self.cfg), readonly=True) as store:
            return sum(a.count for a in store.list_alerts() if a.rule_title == "Reload canary")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    listening = Daemon(tmp_path)
    yield listening
    listening.kill()


@pytest.mark.real_clock
def test_listen_names_a_broken_rule_file_at_start_and_on_reload(daemon: Daemon) -> None:
    port = int(daemon.start()["listeners"][0].rsplit(":", 1)[1])
    [line] = daemon.warnings(1)
    assert line.startswith(f"{PREFIX}{daemon.broken}: cannot load"), line
    assert line.endswith(". Hint: soc rules check")
    assert "canary.yml" not in line

    daemon.send(port, 1)  # still receiving, and the rule that loads still detects
    assert daemon.alert_count() == 1

    os.kill(daemon.pid, signal.SIGHUP)  # the broken file was there at start: the reload is done
    daemon.wait(lambda s: s["reloads"]["done"] == 1, "the reload")
    assert daemon.warnings(2)[1] == line
    daemon.send(port, 2)
    assert daemon.alert_count() == 2

    code, rest = daemon.stop()
    assert code == 0, rest
    assert [x for x in (daemon.err.decode() + rest).splitlines() if "rule file(s)" in x] \
        == [line, line]
