"""The ``sftp`` collector against a real SSH server on loopback.

The server is Debian's OpenSSH ``sshd``, started here on a free port with a host key and an
authorized key made for the test (``internal-sftp``, no PAM). Where ``sshd`` is not installed the
same tests run against paramiko's SFTP server in a thread (``SOC_TEST_SFTP_SERVER=paramiko``
forces it). Remote paths are this machine's
``tmp_path``: the server sees the same files. Hosts that are down or hang are a closed port, a
listener that never speaks, and a proxy that stops forwarding in the middle of a transfer.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

paramiko = pytest.importorskip("paramiko")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

from collectors.sftp import RemoteError, SftpCollector, SftpOptions  # noqa: E402
from soc import registry  # noqa: E402
from soc.config import Config, Secret, Source, load_config  # noqa: E402
from soc.errors import ConfigError  # noqa: E402
from soc.pipeline.collect import collect  # noqa: E402
from soc.pipeline.sources import Batch, Collector  # noqa: E402
from soc.state import StateStore  # noqa: E402
from soc.stores.base import open_store  # noqa: E402
from tests.conftest import SSHD  # noqa: E402

# --- keys and servers --------------------------------------------------------------------------


def make_key(path: Path, passphrase: bytes | None = None) -> str:
    """Write an Ed25519 private key (OpenSSH format) to ``path``; return its public line."""
    key = ed25519.Ed25519PrivateKey.generate()
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase
        else serialization.NoEncryption())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH, enc))
    path.chmod(0o600)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                return s.recv(4).startswith(b"SSH-")
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class Server:
    kind: str  # "openssh" or "paramiko"
    port: int
    user: str
    key: Path  # the client's private key (authorized on the server)
    known_hosts: Path
    host_pub: str  # "ssh-ed25519 AAAA..."

    @property
    def fingerprint(self) -> str:
        return str(paramiko.PKey.from_type_string(*self._pub_parts()).fingerprint)

    def _pub_parts(self) -> tuple[str, bytes]:
        import base64

        kind, blob = self.host_pub.split()[:2]
        return kind, base64.b64decode(blob)


def start_openssh(d: Path, host_key: Path, client_pub: str) -> subprocess.Popen[bytes] | None:
    if not os.access(SSHD, os.X_OK):
        return None
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    (d / "authorized_keys").write_text(client_pub + "\n")
    port = free_port()
    (d / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile none
AuthorizedKeysFile {d / 'authorized_keys'}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel ERROR
""")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if wait_port(port, time.monotonic() + 10):
        proc.port = port  # type: ignore[attr-defined]
        return proc
    proc.kill()
    proc.wait()
    return None


class _LocalSftp(paramiko.SFTPServerInterface):  # type: ignore[misc]
    """paramiko's SFTP server over this machine's files, read-only (the fallback server)."""

    def _attrs(self, path: str, name: str | None = None) -> Any:
        try:
            attrs = paramiko.SFTPAttributes.from_stat(os.stat(path))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        if name is not None:
            attrs.filename = name
        return attrs

    def stat(self, path: str) -> Any:
        return self._attrs(path)

    lstat = stat

    def list_folder(self, path: str) -> Any:
        try:
            names = os.listdir(path)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        return [self._attrs(os.path.join(path, n), n) for n in names]

    def open(self, path: str, flags: int, attr: Any) -> Any:
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the handle
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        handle = _Handle(flags)
        handle.readfile, handle.filename = fh, path
        return handle


class _Handle(paramiko.SFTPHandle):  # type: ignore[misc]
    def stat(self) -> Any:
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))


class _Auth(paramiko.ServerInterface):  # type: ignore[misc]
    def __init__(self, authorized: str) -> None:
        self.authorized = authorized.split()[1]

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: Any) -> int:
        ok = key.get_base64() == self.authorized
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class ParamikoServer:
    """An SFTP server in a thread, for machines without OpenSSH's sshd."""

    def __init__(self, host_key: Path, client_pub: str) -> None:
        self.key = paramiko.Ed25519Key.from_path(host_key)
        self.client_pub = client_pub
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.transports: list[Any] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            t = paramiko.Transport(conn)
            t.add_server_key(self.key)
            t.set_subsystem_handler("sftp", paramiko.SFTPServer, _LocalSftp)
            self.transports.append(t)
            try:
                t.start_server(server=_Auth(self.client_pub))
            except (paramiko.SSHException, EOFError, OSError):
                continue

    def close(self) -> None:
        self.listener.close()
        for t in self.transports:
            t.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("sshd")
    host_pub = make_key(d / "host_key")
    client_pub = make_key(d / "client_key")
    user = __import__("getpass").getuser()
    forced = os.environ.get("SOC_TEST_SFTP_SERVER") == "paramiko"  # to test the fallback
    proc = None if forced else start_openssh(d, d / "host_key", client_pub)
    if proc is not None:
        port: int = proc.port  # type: ignore[attr-defined]
        kind = "openssh"
    else:
        fallback = ParamikoServer(d / "host_key", client_pub)
        port, kind = fallback.port, "paramiko"
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    try:
        yield Server(kind, port, user, d / "client_key", known, host_pub)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        else:
            fallback.close()


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(tmp_path / "state" / "state.db")
    yield store
    store.close()


def options(server: Server, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"host": "127.0.0.1", "port": server.port, "user": server.user,
                            "key": str(server.key), "known_hosts": str(server.known_hosts),
                            "connect_timeout": 5, "read_timeout": 5}
    base.update(extra)
    return base


def collector(state: StateStore, server: Server, *paths: Path | str,
              **extra: Any) -> SftpCollector:
    source = Source(name="remote", type="sftp", paths=tuple(str(p) for p in paths),
                    options=MappingProxyType(options(server, **extra)))
    return SftpCollector(source, state, Config(path=None, data_dir=state.path.parent))


def run(c: SftpCollector, size: int = 1000) -> list[Batch]:
    out = []
    for batch in c.batches(size):
        out.append(batch)
        c.commit(batch)
    return out


def texts(batches: Iterable[Batch]) -> list[str]:
    return [r.text for b in batches for r in b.records]


def lines(prefix: str, n: int, start: int = 0) -> bytes:
    return b"".join(b"%s %06d some log text\n" % (prefix.encode(), i)
                    for i in range(start, start + n))


# --- reading, resuming, rotation ---------------------------------------------------------------


def test_is_a_collector(state: StateStore, server: Server, tmp_path: Path) -> None:
    assert isinstance(collector(state, server, tmp_path / "*.log"), Collector)


def test_first_read_and_resume(state: StateStore, server: Server, tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"first line\r\nsecond\nhalf")
    batches = run(collector(state, server, tmp_path / "*.log"))
    assert texts(batches) == ["first line", "second"]
    record = batches[0].records[1]
    assert record.fields == {"log.file.path": str(log), "log.offset": 12}
    assert record.origin == f"{log}:12"
    first_ids = [r.id for b in batches for r in b.records]

    with log.open("ab") as fh:
        fh.write(b" done\nthird\n")
    again = run(collector(state, server, tmp_path / "*.log"))
    assert texts(again) == ["half done", "third"]
    assert run(collector(state, server, tmp_path / "*.log")) == []
    assert len(set(first_ids + [r.id for b in again for r in b.records])) == 4


def test_ids_are_those_of_a_repeated_pass(state: StateStore, server: Server,
                                          tmp_path: Path) -> None:
    """A pass that dies before commit is repeated with the same ids."""
    log = tmp_path / "a.log"
    log.write_bytes(lines("x", 50))
    c = collector(state, server, log)
    uncommitted = list(c.batches(20))
    again = run(collector(state, server, log), size=20)
    assert [r.id for b in again for r in b.records] == [
        r.id for b in uncommitted for r in b.records]


def test_rename_rotation_and_compression(state: StateStore, server: Server,
                                         tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(lines("a", 5))
    assert len(texts(run(collector(state, server, f"{tmp_path}/auth.log*")))) == 5
    with log.open("ab") as fh:
        fh.write(lines("a", 3, start=5))  # written just before the rotation, never read yet
    log.rename(tmp_path / "auth.log.1")
    log.write_bytes(lines("b", 4))
    got = texts(run(collector(state, server, f"{tmp_path}/auth.log*")))
    assert got == [f"a {i:06d} some log text" for i in range(5, 8)] + [
        f"b {i:06d} some log text" for i in range(4)]
    rotated = tmp_path / "auth.log.1"
    with rotated.open("rb") as src, gzip.open(tmp_path / "auth.log.2.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    rotated.unlink()
    assert texts(run(collector(state, server, f"{tmp_path}/auth.log*"))) == []  # known, read
    assert run(collector(state, server, f"{tmp_path}/auth.log*")) == []


def test_copytruncate(state: StateStore, server: Server, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(lines("a", 5))
    run(collector(state, server, f"{tmp_path}/app.log*"))
    with log.open("ab") as fh:
        fh.write(lines("a", 2, start=5))
    shutil.copyfile(log, tmp_path / "app.log.1")
    log.write_bytes(lines("c", 2))  # truncated, then written again
    got = texts(run(collector(state, server, f"{tmp_path}/app.log*")))
    assert sorted(got) == sorted([f"a {i:06d} some log text" for i in (5, 6)]
                                 + [f"c {i:06d} some log text" for i in (0, 1)])


def test_gz_never_seen_is_read_once(state: StateStore, server: Server, tmp_path: Path) -> None:
    with gzip.open(tmp_path / "old.log.3.gz", "wb") as fh:
        fh.write(lines("z", 100))
    assert len(texts(run(collector(state, server, tmp_path / "*.gz")))) == 100
    assert run(collector(state, server, tmp_path / "*.gz")) == []


def test_recursive_glob_and_dead_letters(state: StateStore, server: Server,
                                         tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.log").write_bytes(b"ok\n\xff\xfe bad\n")
    (tmp_path / "a" / "y.txt").write_bytes(b"not matched\n")
    batches = run(collector(state, server, f"{tmp_path}/**/*.log"))
    assert texts(batches) == ["ok"]
    assert [d.reason for b in batches for d in b.dead_letters] == [
        "invalid UTF-8 at byte 0; invalid start byte"]


def test_streaming_memory_is_flat(state: StateStore, server: Server, tmp_path: Path) -> None:
    """Peak memory while reading does not follow the file's size."""
    if server.kind != "openssh":
        pytest.skip("runs against OpenSSH's sshd (the in-process server's memory would count "
                    "too): apt-get install openssh-server")
    peaks = []
    for n, name in ((1000, "small.log"), (4000, "large.log")):  # 4 MB and 16 MB
        (tmp_path / name).write_bytes((name.encode() + b"x" * 4000 + b"\n") * n)
        c = collector(state, server, tmp_path / name)
        tracemalloc.start()
        count = 0
        for batch in c.batches(200):
            count += len(batch.records)
            c.commit(batch)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count == n
    assert peaks[1] < peaks[0] * 1.3 + (1 << 20), peaks
    assert peaks[1] < 8 << 20, peaks  # a 1 MiB read, its lines and one batch; not the file


# --- keys and host keys ------------------------------------------------------------------------


def test_key_from_secret_file_with_passphrase(state: StateStore, server: Server, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    enc = tmp_path / "enc_key"
    pub = make_key(enc, passphrase=b"correct horse")
    auth = server.key.parent / "authorized_keys"
    if server.kind != "openssh":
        pytest.skip("runs against OpenSSH's sshd (the in-process server authorizes one key): "
                    "apt-get install openssh-server")
    original = auth.read_text()
    auth.write_text(original + pub + "\n")
    try:
        monkeypatch.setenv("SFTP_PASS", "correct horse")
        (tmp_path / "a.log").write_bytes(b"hello\n")
        c = collector(state, server, tmp_path / "a.log", key=Secret("file", str(enc)),
                      passphrase=Secret("env", "SFTP_PASS"))
        assert texts(run(c)) == ["hello"]
        monkeypatch.setenv("SFTP_PASS", "wrong passphrase value")
        with pytest.raises(ConfigError) as err:
            run(collector(state, server, tmp_path / "a.log", key=Secret("file", str(enc)),
                          passphrase=Secret("env", "SFTP_PASS")))
        assert "wrong passphrase" in str(err.value)
        assert "wrong passphrase value" not in str(err.value)
        assert "PRIVATE KEY" not in str(err.value)
    finally:
        auth.write_text(original)


def test_unknown_host_key_is_refused(state: StateStore, server: Server, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    c = collector(state, server, tmp_path / "*.log", known_hosts=str(empty))
    with pytest.raises(RemoteError) as err:
        run(c)
    assert str(err.value) == (
        f"host [127.0.0.1]:{server.port} is not in {empty}: it offered ssh-ed25519 key "
        f"{server.fingerprint}; refused (host keys are never accepted automatically)")
    assert empty.read_text() == ""  # never written


def test_changed_host_key_is_refused(state: StateStore, server: Server, tmp_path: Path) -> None:
    other = make_key(tmp_path / "other")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{server.port} {other}\n")
    expected = paramiko.Ed25519Key.from_path(tmp_path / "other").fingerprint
    with pytest.raises(RemoteError) as err:
        run(collector(state, server, tmp_path / "*.log", known_hosts=str(known)))
    assert str(err.value) == (
        f"host key of [127.0.0.1]:{server.port} does NOT match {known}: it offered "
        f"ssh-ed25519 key {server.fingerprint}, expected ssh-ed25519 key {expected}; refused "
        "(the key changed, or someone is in the middle)")


def test_key_not_authorized(state: StateStore, server: Server, tmp_path: Path) -> None:
    make_key(tmp_path / "stranger")
    with pytest.raises(RemoteError, match="the key was not accepted"):
        run(collector(state, server, tmp_path / "*.log", key=str(tmp_path / "stranger")))


def test_options_are_checked(state: StateStore, server: Server, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'passphrase' must be a secret"):
        collector(state, server, tmp_path / "*.log", passphrase="plain text")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) hostname"):
        collector(state, server, tmp_path / "*.log", hostname="x")
    with pytest.raises(ConfigError, match="'host' is required"):
        collector(state, server, tmp_path / "*.log", host=None)
    opts = SftpOptions.from_source(
        Source(name="r", type="sftp", options=MappingProxyType(
            options(server, read_timeout="2m", start_at="end")), paths=("/x",)),
        Config(path=None, data_dir=tmp_path))
    assert (opts.read_timeout, opts.file.start_at, opts.address) == (
        120.0, "end", f"[127.0.0.1]:{server.port}")


# --- hosts that are down or hang ---------------------------------------------------------------


def test_host_down(state: StateStore, server: Server, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there any more
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match=rf"@\[127.0.0.1\]:{port}: cannot connect: "):
        run(collector(state, server, tmp_path / "*.log", port=port))
    assert time.monotonic() - t0 < 5


def test_host_that_never_speaks_times_out(state: StateStore, server: Server,
                                          tmp_path: Path) -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(RemoteError, match=r"no SSH answer within 1s \(connect_timeout\)"):
            run(collector(state, server, tmp_path / "*.log", port=port, connect_timeout=1))
        assert time.monotonic() - t0 < 6


class FreezingProxy:
    """Forwards 127.0.0.1:port to the server; stops forwarding the server's bytes (sockets held
    open) once ``freeze_after`` bytes went through: a host that hangs mid-transfer."""

    def __init__(self, target: int, freeze_after: int) -> None:
        self.target = target
        self.freeze_after = freeze_after
        self.sent = 0
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [down, up]
            threading.Thread(target=self._pump, args=(down, up, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while data := src.recv(65536):
                if counted:
                    self.sent += len(data)
                    while self.sent > self.freeze_after and not self.stop.is_set():
                        time.sleep(0.02)
                if self.stop.is_set():
                    return
                dst.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for s in self.sockets:
            s.close()


@pytest.mark.real_clock
def test_host_hanging_mid_transfer(state: StateStore, server: Server, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(lines("h", 200_000))  # ~5 MiB
    proxy = FreezingProxy(server.port, freeze_after=2_500_000)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{proxy.port} {server.host_pub}\n")
    c = collector(state, server, log, port=proxy.port, known_hosts=str(known), read_timeout=1)
    got: list[Batch] = []
    t0 = time.monotonic()
    try:
        with pytest.raises(RemoteError, match=r"no data for 1s while reading .*big.log"):
            for batch in c.batches(5000):
                got.append(batch)
                c.commit(batch)
    finally:
        proxy.close()
    assert time.monotonic() - t0 < 15
    done = texts(got)
    assert 0 < len(done) < 200_000
    assert len(done) % 5000 == 0  # only whole batches were handed over, and committed
    rest = texts(run(collector(state, server, log), size=5000))
    assert done + rest == [f"h {i:06d} some log text" for i in range(200_000)]


# --- one pass of the pipeline ------------------------------------------------------------------


@pytest.fixture
def sftp_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the collector when the installed metadata predates it (``pip install -e .``)."""
    found = registry.available("collector")
    if "sftp" not in found:
        ep = EntryPoint(name="sftp", value="collectors.sftp:SftpCollector",
                        group="soc.collectors")
        monkeypatch.setitem(found, "sftp", ep)


def test_pass_goes_on_when_one_host_is_down(server: Server, tmp_path: Path,
                                            sftp_registered: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "auth.log").write_text(
        "Nov 24 08:00:01 web01 sshd[1]: Failed password for root from 203.0.113.9 port 5 ssh2\n"
        "Nov 24 08:00:02 web01 sshd[1]: Accepted password for admin from 10.1.1.1 port 6 ssh2\n")
    down = free_port()
    (tmp_path / "soc.yml").write_text(f"""\
data_dir: data
sources:
  - name: down
    type: sftp
    paths: [{logs}/*.log]
    options: {{host: 127.0.0.1, port: {down}, user: {server.user}, key: {server.key},
              known_hosts: {server.known_hosts}, connect_timeout: 2}}
  - name: web01
    type: sftp
    paths: [{logs}/*.log]
    parser: syslog
    options: {{host: 127.0.0.1, port: {server.port}, user: {server.user}, key: {server.key},
              known_hosts: {server.known_hosts}}}
""")
    config = load_config(tmp_path / "soc.yml")
    report = collect(config, detect=False)
    by_name = {s.source: s for s in report.sources}
    assert by_name["down"].error is not None and "cannot connect" in by_name["down"].error
    assert by_name["web01"].error is None
    assert by_name["web01"].events == 2
    assert by_name["web01"].lag == {"bytes": 0, "files": 0}
    assert not report.ok  # exit code 5 (PARTIAL) at the CLI
    with open_store(config, readonly=True) as store:
        assert len(list(store.search("*", limit=None))) == 2
    again = collect(config, ["web01"], detect=False)
    assert again.events == 0 and again.ok
