"""The ``sftp`` collector: pulls log files from hosts that cannot run an agent, over SSH/SFTP.

It is the ``file`` collector reading through an SFTP session instead of the local disk: the same
planning (identity by fingerprint of the first bytes, rotation, copytruncate, ``.gz`` read once),
the same line splitting and dead letters, the same checkpoints. Only what the remote side can
tell differs: SFTP (v3, as OpenSSH and paramiko speak it) gives no inode, so a file's path stands
in for it and a file that shrank since the last pass is taken for a new one (see
:class:`RemoteFS`).

Security: key-based authentication only; the server's host key must already be in the
``known_hosts`` file of the source (unknown or changed key: refused, naming its fingerprint;
never auto-accepted). Secrets (the key and its passphrase) are never logged or shown.

paramiko is used rather than asyncssh: the collector protocol is synchronous (a generator of
batches), paramiko's blocking API fits it without an event loop, and its per-channel timeouts
bound every read.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import paramiko

from collectors.file import FileCollector, FileOptions, _Opened, _unread
from collectors.fileid import FP_BYTES
from collectors.fileplan import FileStat, FileSystem, Work
from collectors.filewalk import Kind, kind_of
from soc.config import Config, Secret, Source
from soc.errors import ConfigError, ExitCode, SocError
from soc.pipeline.sources import Batch
from soc.state import StateStore
from soc.timeutil import parse_duration

FILE_OPTIONS = frozenset({"max_line_bytes", "start_at", "exclude", "encoding", "forget_after",
                          "symlinks", "max_walk_entries"})
SSH_OPTIONS = frozenset({"host", "port", "user", "key", "passphrase", "known_hosts",
                         "connect_timeout", "read_timeout"})
WINDOW_REQUEST = 32768
"""Bytes per SFTP read request; a read of 1 MiB sends 32 of them at once (pipelined)."""


class RemoteError(SocError):
    """A remote host could not be reached, refused us, or stopped answering."""

    exit_code = ExitCode.PARTIAL
    default_hint = "Check that the host is up and reachable over SSH; other sources were read."


# --- options -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SftpOptions:
    """``options:`` of a ``type: sftp`` source (the ``file`` options apply too)."""

    host: str
    user: str
    key: Secret | Path
    known_hosts: Path
    port: int = 22
    passphrase: Secret | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    file: FileOptions = field(default_factory=FileOptions)

    @property
    def address(self) -> str:
        """``host`` or ``[host]:port``, as known_hosts writes it."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    @classmethod
    def from_source(cls, source: Source, config: Config) -> SftpOptions:
        """Validate a source's options; a :class:`ConfigError` names the bad one."""
        opts = dict(source.options)
        unknown = set(opts) - FILE_OPTIONS - SSH_OPTIONS
        if unknown:
            raise _bad(source, f"unknown option(s) {', '.join(sorted(unknown))}")
        base = config.path.parent if config.path else Path.cwd()
        file_opts = {k: v for k, v in opts.items() if k in FILE_OPTIONS}
        return cls(
            host=_text(source, opts, "host"), user=_text(source, opts, "user"),
            key=_key_option(source, opts.get("key"), base),
            known_hosts=_path(base, _text(source, opts, "known_hosts")),
            port=_port(source, opts.get("port", 22)),
            passphrase=_passphrase(source, opts.get("passphrase")),
            connect_timeout=_seconds(source, opts, "connect_timeout", cls.connect_timeout),
            read_timeout=_seconds(source, opts, "read_timeout", cls.read_timeout),
            file=FileOptions.from_source(replace(source, options=MappingProxyType(file_opts))),
        )


def _bad(source: Source, message: str) -> ConfigError:
    return ConfigError(f"options: {message}",
                       hint=f"Fix the options of source {source.name}; see docs/collectors.md.")


def _text(source: Source, opts: dict[str, Any], key: str) -> str:
    value = opts.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(source, f"'{key}' is required (a string) for a source of type sftp")
    return value


def _path(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _key_option(source: Source, value: Any, base: Path) -> Secret | Path:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value:
        return _path(base, value)
    raise _bad(source, "'key' is required: a private key file path, or {$file: path}")


def _passphrase(source: Source, value: Any) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    raise _bad(source, "'passphrase' must be a secret ({$env: NAME} or {$file: path}), "
                       "never written in the config")


def _port(source: Source, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    raise _bad(source, f"port must be 1 to 65535, not {value!r}")


def _seconds(source: Source, opts: dict[str, Any], key: str, default: float) -> float:
    if key not in opts:
        return default
    try:
        seconds = parse_duration(opts[key]).total_seconds()
    except ValueError as exc:
        raise _bad(source, f"{key}: {exc}") from None
    if seconds <= 0:
        raise _bad(source, f"{key} must be positive")
    return seconds


# --- connecting --------------------------------------------------------------------------------


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """Never accept a host key that is not in known_hosts; say which key was offered."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        raise RemoteError(
            f"host {hostname} is not in {self.known_hosts}: it offered {_describe_key(key)}; "
            "refused (host keys are never accepted automatically)",
            hint="Check the fingerprint with the server's administrator, then add the key to "
                 f"{self.known_hosts} (e.g. from 'ssh-keyscan' run on a trusted network).",
        )


def _describe_key(key: paramiko.PKey) -> str:
    return f"{key.get_name()} key {key.fingerprint}"


def load_key(value: Secret | Path, passphrase: Secret | None) -> paramiko.PKey:
    """The private key, from a file path or a secret; errors never show key material."""
    password = passphrase.reveal() if passphrase is not None else None
    try:
        if isinstance(value, Path):
            key: paramiko.PKey = paramiko.PKey.from_path(value, password)
            return key
        return _key_from_text(value.reveal() + "\n", password)
    except paramiko.PasswordRequiredException:
        raise ConfigError(f"the private key {_key_name(value)} is encrypted and no passphrase "
                          "was given", hint="Set options.passphrase: {$env: NAME}.") from None
    except (OSError, ValueError, TypeError, paramiko.SSHException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"cannot load the private key {_key_name(value)}: {reason} "
                          "(wrong passphrase, or not a private key)") from None


def _key_name(value: Secret | Path) -> str:
    return str(value) if isinstance(value, Path) else repr(value)


def _key_from_text(text: str, password: str | None) -> paramiko.PKey:
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            key: paramiko.PKey = cls.from_private_key(io.StringIO(text), password)
            return key
        except paramiko.PasswordRequiredException:
            raise
        except (paramiko.SSHException, ValueError):
            continue
    raise ValueError("no supported key type")


@contextmanager
def connect(opts: SftpOptions) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session to the source's host, host key checked; closed on exit."""
    client = paramiko.SSHClient()
    try:
        client.load_system_host_keys(str(opts.known_hosts))  # read only: never written back
    except OSError as exc:
        raise ConfigError(f"cannot read known_hosts {opts.known_hosts}: {exc.strerror}",
                          hint="options.known_hosts must name the file with the host's key.",
                          ) from None
    client.set_missing_host_key_policy(_RefuseUnknown(opts.known_hosts))
    key = load_key(opts.key, opts.passphrase)
    try:
        _open_session(client, opts, key)
        sftp = client.open_sftp()
        channel = sftp.get_channel()
        assert channel is not None
        channel.settimeout(opts.read_timeout)
        yield sftp
    finally:
        client.close()


def _open_session(client: paramiko.SSHClient, opts: SftpOptions, key: paramiko.PKey) -> None:
    t = opts.connect_timeout
    where = f"{opts.user}@{opts.address}"
    try:
        client.connect(opts.host, opts.port, opts.user, pkey=key, timeout=t, banner_timeout=t,
                       auth_timeout=t, channel_timeout=t, look_for_keys=False,
                       allow_agent=False)
    except paramiko.BadHostKeyException as exc:
        raise RemoteError(
            f"host key of {opts.address} does NOT match {opts.known_hosts}: it offered "
            f"{_describe_key(exc.key)}, expected {_describe_key(exc.expected_key)}; refused "
            "(the key changed, or someone is in the middle)",
            hint="Check with the server's administrator before changing known_hosts.",
        ) from None
    except paramiko.AuthenticationException:
        raise RemoteError(f"{where}: the key was not accepted",
                          hint="Add the public key to the user's authorized_keys.") from None
    except TimeoutError:
        raise RemoteError(f"{where}: no answer within {t:g}s (connect_timeout)") from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        if isinstance(exc, paramiko.SSHException) and not _spoke_ssh(client):
            raise RemoteError(f"{where}: no SSH answer within {t:g}s (connect_timeout)",
                              hint="The port is open but the service does not speak SSH, or "
                                   "the host hangs.") from None
        raise RemoteError(f"{where}: cannot connect: {_reason(exc)}") from None


def _spoke_ssh(client: paramiko.SSHClient) -> bool:
    """Did the server send its SSH banner (paramiko hides a banner timeout in its message)?"""
    transport = client.get_transport()
    return bool(transport is not None and transport.remote_version)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


# --- the remote files --------------------------------------------------------------------------


class RemoteFS:
    """The files of one host as the file collector's :class:`~collectors.fileplan.FileSystem`.

    ``dev`` is a hash of ``host:port`` (so identical files on two hosts get different ids) and
    ``ino`` a hash of the path. Errors that concern one file (no such file, permission denied)
    are ``OSError`` s as on the local disk; a connection that fails or stops answering raises
    :class:`RemoteError`, which ends the source's pass.
    """

    stable_inodes = False

    def __init__(self, sftp: paramiko.SFTPClient, opts: SftpOptions) -> None:
        self.sftp = sftp
        self.opts = opts
        self.dev = _hash_int(f"{opts.host}:{opts.port}")

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Turn connection failures into :class:`RemoteError`; let file errors through."""
        try:
            yield
        except TimeoutError:
            raise RemoteError(f"{self.opts.address}: no data for {self.opts.read_timeout:g}s "
                              f"while {what} (read_timeout)") from None
        except OSError as exc:
            if exc.errno is None and not self._alive():
                raise RemoteError(f"{self.opts.address}: connection lost while {what}") from None
            raise
        except (EOFError, paramiko.SSHException) as exc:
            raise RemoteError(f"{self.opts.address}: connection lost while {what}: "
                              f"{_reason(exc)}") from None

    def _alive(self) -> bool:
        channel = self.sftp.get_channel()
        return channel is not None and not channel.closed and channel.get_transport().is_active()

    # the walk (collectors.filewalk): the server lists entries with lstat's modes, as OpenSSH
    # does, so a symlink shows as one and is followed only as the source's rules allow

    def absolute(self, pattern: str) -> str:
        if not pattern.startswith("/"):
            raise ConfigError(f"remote path {pattern!r} is not absolute",
                              hint="Give sftp sources absolute paths such as /var/log/*.log.")
        return pattern

    def scan(self, path: str) -> list[tuple[str, Kind]]:
        try:
            with self.guard(f"listing {path}"):
                attrs = self.sftp.listdir_attr(path)
        except OSError:
            return []  # missing or unreadable folder: its files are simply not matched
        return [(a.filename, kind_of(a.st_mode or 0)) for a in attrs]

    def kind(self, path: str, *, follow: bool = False) -> Kind | None:
        try:
            with self.guard(f"looking at {path}"):
                st = self.sftp.stat(path) if follow else self.sftp.lstat(path)
        except OSError:
            return None
        return kind_of(st.st_mode or 0)

    def realpath(self, path: str) -> str:
        try:
            with self.guard(f"resolving {path}"):
                return str(self.sftp.normalize(path))
        except OSError:
            return posixpath.normpath(path)  # a dangling link: nothing there to read anyway

    def stat(self, path: str) -> FileStat:
        with self.guard(f"looking at {path}"):
            st = self.sftp.stat(path)
        return FileStat(self.dev, _hash_int(path), st.st_size or 0,
                        stat.S_ISREG(st.st_mode or 0))

    def open(self, path: str) -> IO[bytes]:
        with self.guard(f"opening {path}"):
            f = self.sftp.open(path, "rb")
            size = f.stat().st_size or 0
        return RemoteReader(f, size, self, path)  # type: ignore[return-value]


def _hash_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogateescape"),
                                          digest_size=6).digest(), "big")


class RemoteReader(io.RawIOBase):
    """A seekable binary reader over an open SFTP file whose reads are pipelined.

    Each ``read(n)`` sends ``n / 32 KiB`` requests at once (paramiko's ``readv``) and returns
    when all came back, joined once: the link's round trip is paid once per read, not once per
    32 KiB, and memory holds one read's worth. Reads stop at the size the file had when it was
    opened: what is written while it is read is left for the next pass.
    """

    def __init__(self, f: paramiko.SFTPFile, size: int, fs: RemoteFS, path: str) -> None:
        super().__init__()
        self.f = f
        self.size = size
        self.fs = fs
        self.path = path
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for ``-1``), fetched by pipelined requests."""
        left = self.size - self.pos
        n = left if size is None or size < 0 else min(size, left)
        if n <= 0:
            return b""
        spans = [(off, min(WINDOW_REQUEST, self.pos + n - off))
                 for off in range(self.pos, self.pos + n, WINDOW_REQUEST)]
        with self.fs.guard(f"reading {self.path}"):
            data = b"".join(self.f.readv(spans))
        self.pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                with self.fs.guard(f"closing {self.path}"):
                    self.f.close()
            finally:
                super().close()


class _NotConnected:
    """The file system of a collector outside its pass: every use is a bug, said clearly."""

    stable_inodes = False

    def absolute(self, pattern: str) -> str:
        raise _unconnected()

    def scan(self, path: str) -> list[tuple[str, Kind]]:
        raise _unconnected()

    def kind(self, path: str, *, follow: bool = False) -> Kind | None:
        raise _unconnected()

    def realpath(self, path: str) -> str:
        raise _unconnected()

    def stat(self, path: str) -> FileStat:
        raise _unconnected()

    def open(self, path: str) -> IO[bytes]:
        raise _unconnected()


def _unconnected() -> RemoteError:
    return RemoteError("the sftp collector has no connection outside batches()")


NOT_CONNECTED: FileSystem = _NotConnected()


# --- the collector -----------------------------------------------------------------------------


class SftpCollector(FileCollector):
    """Reads the files of a ``type: sftp`` source from their checkpoints (see module doc).

    One SSH connection per pass, opened when the pass starts reading and closed when it ends.
    A host that is down, refuses the key or stops answering makes :meth:`batches` raise
    :class:`RemoteError` after the batches already complete: those are stored and committed,
    the one being read is not, and the pass goes on with the other sources.
    """

    fs: FileSystem = NOT_CONNECTED

    def __init__(self, source: Source, state: StateStore, config: Config) -> None:
        self.remote = SftpOptions.from_source(source, config)
        super().__init__(replace(source, options=MappingProxyType({})), state, config)
        self.source = source
        self.options = self.remote.file
        self._lag: dict[str, Any] = {}

    def batches(self, size: int) -> Iterator[Batch]:
        """Connect, then read as the file collector does; the connection ends with the pass."""
        with connect(self.remote) as sftp:
            self.fs = RemoteFS(sftp, self.remote)
            try:
                yield from super().batches(size)
            finally:
                self._lag = self._lag_of_plan()
                self.fs = NOT_CONNECTED

    def lag(self) -> dict[str, Any]:
        """What the last pass left unread (asking the host again would mean reconnecting)."""
        return dict(self._lag)

    def _lag_of_plan(self) -> dict[str, Any]:
        if self.plan is None:
            return {}
        unread = [_unread(w) for w in self.plan.work]
        return {"bytes": sum(unread), "files": sum(1 for n in unread if n > 0)}

    def open_work(self, w: Work) -> _Opened | None:
        """Open a planned file, or ``None`` if it no longer starts as planned (rotated since)."""
        raw = self.fs.open(w.path)
        if w.gz or _starts_as_planned(raw, w):
            return _Opened(raw, w.gz)
        raw.close()
        return None

    def is_final(self, f: IO[bytes], w: Work) -> Callable[[], bool]:
        """Only a rotated or compressed file is known not to grow (SFTP shows no link count)."""
        return lambda: w.rotated


def _starts_as_planned(raw: IO[bytes], w: Work) -> bool:
    """Without inodes, the file's first bytes tell whether the path still holds it."""
    head = raw.read(min(FP_BYTES, w.entry.fp_len))
    raw.seek(0)
    return w.entry.matches(head)
