"""``soc listen`` as it really runs: a subprocess, real sockets on loopback, SIGTERM and SIGKILL.

Every test starts the daemon with ``python -m soc -c CFG listen`` on ephemeral ports (read back
from ``<data_dir>/listen.json``) and checks what reached the store.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from soc.config import load_config
from soc.errors import ExitCode
from soc.listen.config import Endpoint
from soc.listen.daemon import status_summary
from soc.listen.spool import OVERSIZE
from soc.listen.syslog_server import FrameDecoder, Intake, start
from soc.stores.base import open_store
from tests.listen_daemon import ListenProcess

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FAST = "  status_interval: 100ms\n  drain_interval: 100ms\n"


# --- running the daemon --------------------------------------------------------------------------


def _registered() -> tuple[bool, bool]:
    """(is ``soc listen`` a command, is ``syslog-spool`` a collector) in this installation."""
    from soc import registry
    from soc.cli.main import cli

    return "listen" in cli.commands, "syslog-spool" in registry.available("collector")


@pytest.fixture(scope="session")
def soc_argv(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run ``soc`` with ``listen`` available.

    Until setup.cfg and soc/cli/main.py register them, a dist-info on PYTHONPATH declares the
    collector entry point and a two-line runner adds the command; then plain ``-m soc`` is used.
    """
    command, collector = _registered()
    env = dict(os.environ)
    argv = [sys.executable, "-m", "soc"]
    shim = tmp_path_factory.mktemp("shim")
    if not collector:
        info = shim / "soc_listen_shim-0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: soc-listen-shim\n"
                                       "Version: 0\n")
        (info / "entry_points.txt").write_text(
            "[soc.collectors]\nsyslog-spool = collectors.spool:SpoolCollector\n")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim),
                                                          env.get("PYTHONPATH", "")]))
    if not command:
        argv = [sys.executable, "-c",
                "import sys; from soc.cli.main import cli, main; "
                "from soc.cli.listen import listen_cmd; cli.add_command(listen_cmd); "
                "sys.exit(main(sys.argv[1:]))"]
    return argv, env


class Daemon(ListenProcess):
    """A ``soc listen`` subprocess and what it stored."""

    def __init__(self, tmp_path: Path, runner: tuple[list[str], dict[str, str]],
                 listen: str, top: str = "") -> None:
        cfg = tmp_path / "soc.yml"
        cfg.write_text(f"data_dir: data\ntimezone: Asia/Ho_Chi_Minh\n{top}"
                       f"listen:\n{FAST}{listen}", encoding="utf-8")  # later keys win
        argv, env = runner
        super().__init__(cfg, argv=argv, env=env)
        self.ports: dict[str, int] = {}

    def start(self) -> dict[str, Any]:
        status = super().start()
        for bound in status["listeners"]:
            transport, address = bound.split(" ")
            self.ports.setdefault(transport, int(address.rsplit(":", 1)[1]))
            self.ports[f"{transport} {address.rsplit(':', 1)[0]}"] = int(address.rsplit(":")[-1])
        return status

    def dead_letters(self) -> list[Any]:
        with open_store(load_config(self.cfg), readonly=True) as store:
            return store.dead_letters()

    def count(self) -> int:
        with open_store(load_config(self.cfg), readonly=True) as store:
            return store.count()

    def wait_count(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {n} events in the store ({self.count()})")
            time.sleep(0.1)

    def wait_stored(self, n: int, timeout: float = 120) -> dict[str, Any]:
        return self.wait(lambda s: s["drain"]["events"] + s["drain"]["dead_letters"] >= n,
                         f"{n} stored", timeout)


@pytest.fixture
def daemons(tmp_path: Path, soc_argv: tuple[list[str], dict[str, str]]
            ) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def make(listen: str, top: str = "", path: Path = tmp_path) -> Daemon:
        d = Daemon(path, soc_argv, listen, top)
        started.append(d)  # killed at the end even if it fails to start
        d.start()
        return d

    yield make
    for d in started:
        d.kill()


def octet(message: bytes) -> bytes:
    return b"%d %s" % (len(message), message)


def tcp_send(port: int, data: bytes, host: str = "127.0.0.1") -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.connect((host, port))
        sock.sendall(data)


def udp_send(port: int, messages: list[bytes], host: str = "127.0.0.1") -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for m in messages:
            sock.sendto(m, (host, port))


def by_message(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["message"]: e for e in events}


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# --- framing (no sockets) ------------------------------------------------------------------------


def test_frames_octet_counted_and_lf_mixed_byte_by_byte() -> None:
    stream = octet(b"<13>one\nwith LF inside") + b"<13>two\n" + octet(b"2026 starts with digits") \
        + b"2026-11-24T08:00:00Z host app: iso\n\n" + octet(b"x" * 20) + b"<13>last"
    frames = []
    dec = FrameDecoder(max_bytes=10)
    for i in range(len(stream)):
        frames.extend(dec.feed(stream[i:i + 1]))
    frames.append(dec.close())  # type: ignore[arg-type]
    assert frames == [(b"<13>one\nwi", 1, 22), (b"<13>two", 0, 7), (b"2026 start", 1, 23),
                      (b"2026-11-24", 1, 34), (b"x" * 10, 1, 20), (b"<13>last", 0, 8)]


def test_frames_truncated_by_the_peer() -> None:
    dec = FrameDecoder(max_bytes=1000)
    assert dec.feed(b"5 <13>a<13>no final LF") == [(b"<13>a", 0, 5)]
    assert dec.close() == (b"<13>no final LF", 0, 15)
    dec = FrameDecoder(max_bytes=1000)
    assert dec.feed(b"100 <13>partial") == []
    assert dec.close() == (b"<13>partial", 2, 100)


# --- formats and transports ----------------------------------------------------------------------


def variants() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """Message → (wire bytes, fields the stored event must have)."""
    now = datetime.now(TZ)
    bsd = f"{now:%b} {now.day:2d} 08:30:00"
    day = f"{now:%Y-%m-%d}"
    return {
        "bsd no year": (f"<34>{bsd} web01 sshd[42]: bsd no year".encode(), {
            "@timestamp": f"{day}T01:30:00.000Z", "host.name": "web01", "process.pid": 42,
            "log.syslog.facility.name": "auth", "log.syslog.severity.name": "Critical"}),
        "bsd no pri": (f"{bsd} web01 cron: bsd no pri".encode(), {"process.name": "cron"}),
        "iso with zone": (f"<13>{day}T08:30:00.250+07:00 web01 app: iso with zone".encode(),
                          {"@timestamp": f"{day}T01:30:00.250Z"}),
        "5424 with sd": (f'<165>1 {day}T01:30:00.003Z fw1 evntslog - ID47 [exampleSDID@32473 '
                         f'iut="3" eventSource="App\\"x\\""] 5424 with sd'.encode(), {
                             "@timestamp": f"{day}T01:30:00.003Z", "log.syslog.msgid": "ID47",
                             "log.syslog.structured_data.exampleSDID@32473.eventSource":
                                 'App"x"', "log.syslog.version": "1"}),
        "5424 with bom": (f"<14>1 {day}T08:30:00+07:00 fw1 app 7 - - \ufeff5424 with bom".encode(),
                          {"@timestamp": f"{day}T01:30:00.000Z", "process.pid": 7}),
        "5424 nil ts": (b"<14>1 - fw1 app - - [a@1 k=\"v\"][b@2 z=\"y\"] 5424 nil ts",
                        {"log.syslog.structured_data.b@2.z": "y"}),
        "Đăng nhập thất bại": (f"<14>{bsd} web01 app: Đăng nhập thất bại".encode(), {}),
    }


def test_rfc3164_and_5424_over_tcp_both_framings_and_udp(
        daemons: Callable[..., Daemon]) -> None:
    six = has_ipv6()
    d = daemons("  udp: [127.0.0.1:0" + (", '[::1]:0'" if six else "") + "]\n"
                "  tcp: 127.0.0.1:0\n")
    cases = variants()
    wire = [w for w, _ in cases.values()]
    stream = b"".join(octet(w) if i % 2 else w + b"\n" for i, w in enumerate(wire))
    tcp_send(d.ports["tcp"], stream)
    udp_send(d.ports["udp"], [w.replace(b"bsd no year", b"udp bsd") for w in wire[:1]])
    if six:
        udp_send(d.ports["udp [::1]"], [wire[2].replace(b"iso with", b"v6 iso")], "::1")
    d.wait_stored(len(cases) + 1 + six)
    rc, err = d.stop()
    assert rc == 0, err
    events = by_message(d.events())
    for name, (_, expected) in cases.items():
        event = events[name]
        assert {k: event.get(k) for k in expected} == expected, name
        assert event["network.transport"] == "tcp"
        assert event["log.source.address"] == "127.0.0.1"
    assert events["udp bsd"]["network.transport"] == "udp"
    if six:
        assert events["v6 iso zone"]["log.source.address"] == "::1"
    assert d.dead_letters() == []


def test_bsd_timestamp_with_a_year(daemons: Callable[..., Daemon]) -> None:
    d = daemons("  tcp: 127.0.0.1:0\n")
    tcp_send(d.ports["tcp"], b"<189>Nov 24 2026 08:30:00 rtr1 %SYS-5-CONFIG_I: with year\n")
    d.wait_stored(1)
    d.stop()
    assert [e["@timestamp"] for e in d.events()] == ["2026-11-24T01:30:00.000Z"]


def test_tls_with_client_certificates(daemons: Callable[..., Daemon], tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    server.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    d = daemons("  tls: {address: 127.0.0.1, port: 0, cert: server.pem, key: server.pem,\n"
                "        ca: ca.pem, require_client_cert: true}\n")
    client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    ca.issue_cert("agent.example.gov.vn").configure_cert(client)
    with socket.create_connection(("127.0.0.1", d.ports["tls"])) as raw, \
            client.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(octet(b"<13>Nov 24 08:00:00 web01 app: over tls") + b"<13>Nov 24 08:00:01 "
                    b"web01 app: lf over tls\n")
    anonymous = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    try:
        with socket.create_connection(("127.0.0.1", d.ports["tls"])) as raw, \
                anonymous.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"<13>Nov 24 08:00:02 web01 app: no client cert\n")
            assert tls.recv(1) == b""  # TLS 1.3: the refusal arrives after the handshake
    except (ssl.SSLError, ConnectionError):
        pass
    d.wait_stored(2)
    rc, err = d.stop()
    assert rc == 0, err
    events = by_message(d.events())
    assert sorted(events) == ["lf over tls", "over tls"]
    assert events["over tls"]["tls.established"] is True


def test_truncated_frame_large_message_oversize_and_invalid_utf8(
        daemons: Callable[..., Daemon]) -> None:
    d = daemons("  tcp: 127.0.0.1:0\n  udp: 127.0.0.1:0\n")
    big = b"<13>Nov 24 08:00:00 web01 app: " + b"A" * (1_000_000 - 31)
    huge = b"<13>Nov 24 08:00:00 web01 app: " + b"B" * (2 << 20)
    tcp_send(d.ports["tcp"], octet(big) + huge + b"\n" + b"<13>Nov 24 08:00:00 web01 app: "
             b"caf\xe9\n" + octet(b"<13>Nov 24 08:00:00 web01 app: after") + b"500 <13>Nov 24 "
             b"08:00:00 web01 app: cut")
    udp_send(d.ports["udp"], [b"<13>Nov 24 08:00:00 web01 app: udp \xc3\x28\n"])
    d.wait_stored(6)
    rc, err = d.stop()
    assert rc == 0, err
    events = d.events()
    small, large = sorted(events, key=lambda e: len(e["message"]))
    assert small["message"] == "after"
    # a 1 MB message is received whole; its message field is cut at the event bound (128 KiB,
    # docs/security.md) and flagged, and event.original, when kept, holds all of it
    assert large["message"].startswith("A" * 1000)
    assert large["message"].endswith(f"…[truncated from {1_000_000 - 31} bytes]")
    assert "truncated" in large["log.flags"]
    assert len(large.get("event.original", big.decode())) == len(big)
    dead = {d.reason: d for d in d.dead_letters()}
    assert sorted(dead) == [
        "invalid UTF-8 at byte 34: unexpected end of data",
        "invalid UTF-8 at byte 35: invalid continuation byte",
        f"message of {len(huge)} bytes exceeds listen.max_message_bytes; its first 1048576 "
        f"bytes are kept",
        "truncated frame: the peer closed the connection after 34 of the 500 bytes it announced",
    ]
    assert dead["invalid UTF-8 at byte 34: unexpected end of data"].raw.endswith(b"caf\xe9")
    status = d.status()["transports"]
    assert (status["tcp"]["oversize"], status["tcp"]["truncated"]) == (1, 1)


@pytest.mark.parametrize("size", [1, 2, 5, 16, 64, 1 << 20])
def test_frames_the_same_whatever_the_reads(size: int) -> None:
    """Many lines per read take the split fast path up to the next line that starts with a
    digit (it may be an octet count); the frames are those of byte-by-byte reads."""
    stream = (b"<13>a\n\n<13>bb\n" + octet(b"<13>oc\nt") + b"<13>after octet\n"
              + b"2026-11-24T08:00:00Z h app: iso\n<13>" + b"y" * 50 + b"\n<13>c\n"
              + b"17x not a count\n" + octet(b"9" * 12) + b"<13>tail")
    expected = [(b"<13>a", 0, 5), (b"<13>bb", 0, 6), (b"<13>oc\nt", 0, 8),
                (b"<13>after octet", 0, 15), (b"2026-11-24T08:00:00Z h app: iso", 0, 31),
                (b"<13>" + b"y" * 36, OVERSIZE, 54), (b"<13>c", 0, 5),
                (b"17x not a count", 0, 15), (b"9" * 12, 0, 12), (b"<13>tail", 0, 8)]
    dec = FrameDecoder(max_bytes=40)
    frames = [f for i in range(0, len(stream), size) for f in dec.feed(stream[i:i + size])]
    assert [*frames, dec.close()] == expected


# --- the UDP socket ------------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="net.core.rmem_max is Linux's")
def test_udp_receive_buffer_is_granted_past_rmem_max_when_privileged(
        caplog: pytest.LogCaptureFixture) -> None:
    """A daemon with CAP_NET_ADMIN gets the receive_buffer it asks for, past
    net.core.rmem_max (SO_RCVBUFFORCE); one without gets the cap and a warning naming the
    sysctl. The counters (listen.json) say what the kernel granted."""
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    ask = 2 * rmem_max

    async def bind() -> int:
        intake = Intake(limit=1 << 20)
        listener = await start(Endpoint("udp", "127.0.0.1", 0, receive_buffer=ask), intake, 2048)
        listener.close()
        return intake.count("udp").receive_buffer

    reported = asyncio.run(bind())
    if _cap_net_admin():
        assert reported == 2 * ask  # Linux reports twice the grant
        assert "rmem_max" not in caplog.text
    else:
        assert reported == 2 * rmem_max
        assert f"sysctl -w net.core.rmem_max={ask}" in caplog.text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="net.core.rmem_max is Linux's")
def test_udp_receive_buffer_without_cap_net_admin_is_capped_with_a_warning() -> None:
    """The other branch, in a real process without CAP_NET_ADMIN (through setpriv when the
    suite runs as root): the kernel's cap, and a warning naming the sysctl that lifts it."""
    prefix: list[str] = []
    if _cap_net_admin():
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("CAP_NET_ADMIN cannot be dropped here (no setpriv)")
        prefix = [setpriv, "--bounding-set=-net_admin"]
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    code = (
        "import asyncio, logging\n"
        "from soc.listen.config import Endpoint\n"
        "from soc.listen.syslog_server import Intake, start\n"
        "logging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
        "async def main() -> None:\n"
        "    intake = Intake(limit=1 << 20)\n"
        f"    ep = Endpoint('udp', '127.0.0.1', 0, receive_buffer={2 * rmem_max})\n"
        "    (await start(ep, intake, 2048)).close()\n"
        "    print(intake.count('udp').receive_buffer)\n"
        "asyncio.run(main())\n")
    out = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == 2 * rmem_max  # Linux reports twice the grant
    assert (f"receive_buffer {2 * rmem_max} asked, the kernel granted {rmem_max} "
            f"(net.core.rmem_max)") in out.stderr
    assert f"sysctl -w net.core.rmem_max={2 * rmem_max}" in out.stderr


def _cap_net_admin() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 12 & 1)  # CAP_NET_ADMIN is bit 12
    return False


# --- load ----------------------------------------------------------------------------------------


def test_udp_flood_every_datagram_is_stored_or_counted(daemons: Callable[..., Daemon]) -> None:
    d = daemons("  udp: {address: 127.0.0.1, port: 0, receive_buffer: 65536}\n"
                "  queue_bytes: 256KiB\n")
    sent = 30_000
    msg = b"<13>Nov 24 08:00:00 web01 app: flood %d"
    udp_send(d.ports["udp"], [msg % i for i in range(sent)])

    def accounted(s: dict[str, Any]) -> int:
        udp = s["transports"]["udp"]
        return int(s["drain"]["events"] + udp["dropped"] + udp["kernel_drops"])

    status = d.wait(lambda s: accounted(s) >= sent, "every datagram to be accounted for")
    rc, err = d.stop()
    assert rc == 0, err
    assert accounted(status) == sent
    assert len(d.events()) == status["drain"]["events"]


def test_tcp_flood_with_backpressure_loses_nothing(daemons: Callable[..., Daemon]) -> None:
    d = daemons("  tcp: 127.0.0.1:0\n  queue_bytes: 64KiB\n")
    per, conns = 10_000, 4
    socks = [socket.create_connection(("127.0.0.1", d.ports["tcp"])) for _ in range(conns)]
    for n, sock in enumerate(socks):
        sock.sendall(b"".join(b"<13>Nov 24 08:00:00 web01 app: c%d m%d\n" % (n, i)
                              for i in range(per)))
    for sock in socks:
        sock.close()
    d.wait_stored(per * conns)
    rc, err = d.stop()
    assert rc == 0, err
    assert len(by_message(d.events())) == per * conns


# --- durability ----------------------------------------------------------------------------------


def lines(start: int, n: int) -> bytes:
    return b"".join(octet(b"<13>Nov 24 08:00:00 web01 app: n%d" % i) for i in range(start,
                                                                                 start + n))


def test_store_outage_and_sigkill_lose_and_double_nothing(
        daemons: Callable[..., Daemon], tmp_path: Path) -> None:
    n = 20_000
    d = daemons("  tcp: 127.0.0.1:0\n")
    tcp_send(d.ports["tcp"], lines(0, n // 2))
    d.wait(lambda s: s["drain"]["events"] > 0, "a first drain")
    blocker = sqlite3.connect(tmp_path / "data" / "store.db", timeout=30)
    blocker.execute("BEGIN IMMEDIATE")  # the store cannot be written any more
    tcp_send(d.ports["tcp"], lines(n // 2, n // 2))
    d.wait(lambda s: s["spooled"] == n, "everything spooled while the store is blocked")
    rc, _ = d.stop(signal.SIGKILL)  # in the middle of a drain that waits for the store
    assert rc == -signal.SIGKILL
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert status_summary(load_config(d.cfg), later)["state"] == "dead"  # type: ignore[index]
    blocker.rollback()
    blocker.close()
    again = daemons("  tcp: 127.0.0.1:0\n")
    again.wait_count(n)
    rc, err = again.stop()
    assert rc == 0, err
    ids = [e["event.id"] for e in again.events()]
    assert len(ids) == len(set(ids)) == n
    assert len(by_message(again.events())) == n
    assert sorted(p.name for p in (tmp_path / "data" / "spool" / "syslog").glob("seg*")) == [
        "segment-000000002.log"]  # the first run's segment was drained and deleted


def test_sigterm_flushes_and_drains_everything(daemons: Callable[..., Daemon]) -> None:
    n = 20_000
    d = daemons("  tcp: 127.0.0.1:0\n  drain_interval: 1h\n")
    tcp_send(d.ports["tcp"], lines(0, n))
    rc, err = d.stop()
    assert rc == 0, err
    assert f"{n} received, {n} spooled, {n} stored" in err
    assert len(d.events()) == n
    summary = status_summary(load_config(d.cfg))
    assert summary is not None
    assert {k: summary[k] for k in ("state", "received", "spooled", "stored", "dropped",
                                    "problem")} == {
        "state": "stopped", "received": n, "spooled": n, "stored": n, "dropped": 0,
        "problem": "not running"}


def test_refuses_without_listeners_and_when_already_running(
        daemons: Callable[..., Daemon], tmp_path: Path,
        soc_argv: tuple[list[str], dict[str, str]]) -> None:
    argv, env = soc_argv
    empty = tmp_path / "empty.yml"
    empty.write_text("data_dir: data\n")
    out = subprocess.run([*argv, "-c", str(empty), "listen"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == ExitCode.CONFIG
    assert f"Error: {empty}: listen: no listener and no capture is configured" in out.stderr
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("data_dir: data\nlisten:\n  tls: {port: 0, cert: bad.pem, key: bad.pem}\n")
    out = subprocess.run([*argv, "-c", str(bad), "listen", "--check"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == ExitCode.CONFIG
    assert f"Error: listen.tls: cannot use the certificate {tmp_path / 'bad.pem'}" in out.stderr
    d = daemons("  tcp: 127.0.0.1:0\n")
    out = subprocess.run([*argv, "-c", str(d.cfg), "listen"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == ExitCode.BUSY, out.stderr
    assert "Hint: Another 'soc listen' uses this data directory" in out.stderr


def test_a_failing_drain_keeps_the_spool_for_soc_collect(
        daemons: Callable[..., Daemon], tmp_path: Path,
        soc_argv: tuple[list[str], dict[str, str]]) -> None:
    sources = "sources:\n  - {name: syslog, type: syslog-spool, parser: %s}\n"
    d = daemons("  tcp: 127.0.0.1:0\n", top=sources % "nosuch")
    tcp_send(d.ports["tcp"], lines(0, 10))
    d.wait(lambda s: s["spooled"] == 10, "10 spooled")
    rc, err = d.stop()
    assert rc == ExitCode.ERROR, err
    assert "Error: the spool could not be drained completely: no parser named 'nosuch'" in err
    assert "Hint: Nothing is lost: after a fix, the next 'soc listen' (or 'soc collect " \
           "--source syslog') drains them." in err
    d.cfg.write_text(d.cfg.read_text().replace("nosuch", "syslog"))
    argv, env = soc_argv
    out = subprocess.run([*argv, "-c", str(d.cfg), "collect", "--source", "syslog"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(by_message(d.events())) == 10


def test_the_drain_yields_the_cpu_to_the_receiver(daemons: Callable[..., Daemon]) -> None:
    """The drain process runs at ``drain_nice`` below the daemon, and says how much CPU it used."""
    d = daemons("  udp: {address: 127.0.0.1, port: 0}\n  drain_nice: 7\n")
    status = d.wait(lambda s: s["drain"].get("pid") and s["drain"]["passes"] >= 1,
                    "the drain's first pass")

    def nice(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])

    assert d.proc is not None
    assert nice(status["drain"]["pid"]) == min(19, nice(d.proc.pid) + 7)
    assert status["drain"]["cpu_seconds"] > 0
    assert status["transports"]["udp"]["receive_buffer"] > 0
    rc, err = d.stop()
    assert rc == 0, err
