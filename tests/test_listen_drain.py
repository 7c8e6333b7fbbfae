"""The drain of ``soc listen`` (:class:`soc.listen_drain.Drainer`) on a real spool and store:
it drains again at once only while the spool is deep, so a trickle is drained in batches."""

from __future__ import annotations

import time
from pathlib import Path

from soc.config import load_config
from soc.listen_drain import Drainer, drained_sources
from soc.spool import Peer, SpoolWriter, encode, spool_dir


def spooled(tmp_path: Path, n: int, *, start: int = 0) -> None:
    config = load_config(str(tmp_path / "soc.yml"))
    writer = SpoolWriter(spool_dir(config.data_dir, "syslog"), 1 << 20)
    writer.open()
    peer, now = Peer("tcp", "127.0.0.1", 40000).tail(), time.time()
    stamp = time.strftime("%b %d %H:%M:%S")
    writer.write([encode(f"<86>{stamp} web01 sshd[{i}]: Connection closed by 203.0.113.9 "
                         f"port {1024 + i}".encode(), now, peer) for i in range(start, start + n)])
    writer.close()


def drainer(tmp_path: Path) -> Drainer:
    (tmp_path / "soc.yml").write_text("data_dir: data\nlisten:\n  tcp: 127.0.0.1:0\n",
                                      encoding="utf-8")
    config = load_config(str(tmp_path / "soc.yml"))
    return Drainer(config, drained_sources(config), detect=False, interval=0.5)


def test_the_drain_goes_again_at_once_only_after_a_full_batch(tmp_path: Path) -> None:
    d = drainer(tmp_path)
    spooled(tmp_path, 25)
    d._open().batch_size = 10
    try:
        assert d.drain_once() == (True, True)
        assert (d.stats.events, d.deep) == (25, True)
        assert d._next_delay(0.0, True, True) == 0.0  # more may be waiting
        spooled(tmp_path, 3, start=25)
        assert d.drain_once() == (True, True)
        assert (d.stats.events, d.deep) == (28, False)
        assert d._next_delay(0.0, True, True) == 0.5  # a trickle waits for the interval
        assert d.drain_once() == (False, True)
        assert d._next_delay(0.0, False, True) == 0.5
        assert d._next_delay(0.5, False, False) == 1.0  # failures back off
    finally:
        d._close()
