"""The ``listen:`` section of soc.yml → frozen dataclasses for ``soc listen``.

Every listener is off unless configured. Errors name the file and line, like the rest of the
configuration (the reader is :class:`soc.config._Reader`)::

    listen:
      source: syslog                      # the syslog-spool source the daemon feeds
      udp: 0.0.0.0:5514                   # "address:port", a port, a mapping, or a list
      tcp: {address: "::", port: 5514, max_connections: 512, max_connections_per_address: 64}
      tls: {port: 6514, cert: pki/server.pem, key: pki/server.key, ca: pki/ca.pem,
            require_client_cert: true}
      max_message_bytes: 1MiB
      spool: {max_bytes: 2GiB, segment_bytes: 16MiB, flush_messages: 2000, flush_interval: 20ms}
      drain_nice: 10                      # the drain process's niceness (0: the receiver's)
      handshake_timeout: 10s              # TLS: a handshake not finished by then is cut
      idle_timeout: 10m                   # TCP/TLS: a connection silent that long is closed
      web: true                           # serve the console too (the web: settings)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soc.config import Config, Secret, Source, _abs, _Reader, _resolve_secrets
from soc.timeutil import parse_duration

SPOOL_TYPE = "syslog-spool"
"""Source type (collector entry point) of the spool that ``soc listen`` fills."""
DEFAULT_ADDRESS = "0.0.0.0"
MAX_MESSAGE_CAP = 64 << 20
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "kib": 1 << 10, "mb": 1000**2, "mib": 1 << 20, "gb": 1000**3,
          "gib": 1 << 30, "tb": 1000**4, "tib": 1 << 40}
_ENDPOINT_KEYS = {
    "udp": {"address", "port", "receive_buffer"},
    "tcp": {"address", "port", "max_connections", "max_connections_per_address"},
    "tls": {"address", "port", "max_connections", "max_connections_per_address", "cert", "key",
            "ca", "key_password", "require_client_cert"},
}


def parse_size(value: str | int) -> int:
    """``'16MiB'`` → 16777216; a bare number is bytes. Raises ValueError on anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"not a size: {value!r} (use e.g. 65536, 64KiB, 16MiB, 2GiB)")
    return int(m.group(1)) * _UNITS[(m.group(2) or "b").lower()]


@dataclass(frozen=True)
class Endpoint:
    """One listening socket: ``transport`` is udp, tcp or tls."""

    transport: str
    address: str
    port: int
    max_connections: int = 1024  # tcp/tls: more are refused (and counted)
    max_connections_per_address: int = 64  # tcp/tls: from one peer address; more are refused
    receive_buffer: int = 8 << 20  # udp: SO_RCVBUF asked for (the kernel may cap it)
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    key_password: Secret | None = None
    require_client_cert: bool = False

    @property
    def label(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.transport} {host}:{self.port}"


@dataclass(frozen=True)
class SpoolConfig:
    """The durable spool between the sockets and the pipeline."""

    max_bytes: int = 2 << 30  # full: TCP readers pause, UDP datagrams are dropped (counted)
    segment_bytes: int = 16 << 20
    flush_messages: int = 2000  # fsync once this many are waiting ...
    flush_interval: float = 0.02  # ... or this many seconds after the first one arrived


@dataclass(frozen=True)
class ListenConfig:
    """Everything ``soc listen`` needs beyond the rest of the configuration."""

    source: str = "syslog"
    endpoints: tuple[Endpoint, ...] = ()
    max_message_bytes: int = 1 << 20
    queue_bytes: int = 32 << 20  # in memory, not yet spooled; beyond it TCP readers pause
    spool: SpoolConfig = field(default_factory=SpoolConfig)
    drain_interval: float = 1.0
    drain_nice: int = 10  # the drain process yields the CPU to the receiver (UDP is read on time)
    shutdown_grace: float = 2.0  # after SIGTERM, how long open TCP peers may still send
    status_interval: float = 2.0
    handshake_timeout: float = 10.0  # TLS: a peer that has not finished its handshake is cut
    idle_timeout: float = 600.0  # TCP/TLS: a connection that sent nothing for this long is closed
    web: bool = False  # serve the console (soc web) as a supervised child, with web: settings

    def to_dict(self) -> dict[str, Any]:
        """The effective settings (no secret values), for ``soc listen --check``."""
        return {
            "source": self.source,
            "listeners": [e.label for e in self.endpoints],
            "max_message_bytes": self.max_message_bytes, "queue_bytes": self.queue_bytes,
            "spool": dict(self.spool.__dict__), "drain_interval": self.drain_interval,
            "drain_nice": self.drain_nice,
            "shutdown_grace": self.shutdown_grace, "status_interval": self.status_interval,
            "handshake_timeout": self.handshake_timeout, "idle_timeout": self.idle_timeout,
            "web": self.web,
        }


def load_listen_config(config: Config) -> ListenConfig:
    """Read ``config.raw['listen']``; a :class:`soc.errors.ConfigError` names file and line."""
    data = config.raw.get("listen")
    root = _Reader(data, config.path, "listen", getattr(data, "line", None))
    root.check_keys({"source", "udp", "tcp", "tls", "max_message_bytes", "queue_bytes", "spool",
                     "drain_interval", "drain_nice", "shutdown_grace", "status_interval",
                     "handshake_timeout", "idle_timeout", "web"})
    base = config.path.parent if config.path else Path.cwd()
    endpoints = tuple(ep for kind in ("udp", "tcp", "tls") for ep in _endpoints(root, kind, base))
    max_message = _size(root, "max_message_bytes", ListenConfig.max_message_bytes)
    if not 480 <= max_message <= MAX_MESSAGE_CAP:
        raise root.error(f"listen: max_message_bytes must be 480 to {MAX_MESSAGE_CAP}, "
                         f"not {max_message}", root.line_of("max_message_bytes"))
    listen = ListenConfig(
        source=str(root.get("source", (str, int), ListenConfig.source)),
        endpoints=endpoints, max_message_bytes=max_message,
        queue_bytes=_size(root, "queue_bytes", ListenConfig.queue_bytes),
        spool=_spool(root), drain_interval=_seconds(root, "drain_interval", 1.0),
        drain_nice=_nice(root),
        shutdown_grace=_seconds(root, "shutdown_grace", 2.0),
        status_interval=_seconds(root, "status_interval", 2.0),
        handshake_timeout=_seconds(root, "handshake_timeout", ListenConfig.handshake_timeout),
        idle_timeout=_seconds(root, "idle_timeout", ListenConfig.idle_timeout),
        web=bool(root.get("web", bool, False)),
    )
    _check_source(config, listen, root)
    return listen


def spool_source(config: Config, listen: ListenConfig) -> Source:
    """The source the daemon drains: the configured one of that name, else a default one."""
    for source in config.sources:
        if source.name == listen.source:
            return source
    return Source(name=listen.source, type=SPOOL_TYPE, parser="syslog")


def _check_source(config: Config, listen: ListenConfig, root: _Reader) -> None:
    for source in config.sources:
        if source.name == listen.source and source.type != SPOOL_TYPE:
            raise root.error(
                f"listen: source '{listen.source}' is configured with type '{source.type}'; "
                f"the daemon needs a '{SPOOL_TYPE}' source (name another one in listen.source)",
                root.line_of("source"))


def _size(reader: _Reader, key: str, default: int) -> int:
    value = reader.get(key, (str, int), default)
    try:
        size = parse_size(value)
    except ValueError as exc:
        raise reader.error(f"{reader.what}: {key}: {exc}", reader.line_of(key)) from None
    if size < 1:
        raise reader.error(f"{reader.what}: {key} must be positive", reader.line_of(key))
    return size


def _count(reader: _Reader, key: str, default: int) -> int:
    value = int(reader.get(key, int, default))
    if value < 1:
        raise reader.error(f"{reader.what}: {key} must be at least 1, not {value}",
                           reader.line_of(key))
    return value


def _nice(root: _Reader) -> int:
    nice = int(root.get("drain_nice", int, ListenConfig.drain_nice))
    if not 0 <= nice <= 19:
        raise root.error(f"listen: drain_nice must be 0 to 19, not {nice}",
                         root.line_of("drain_nice"))
    return nice


def _seconds(reader: _Reader, key: str, default: float) -> float:
    value = reader.get(key, (str, int, float), default)
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise reader.error(f"{reader.what}: {key}: {exc}", reader.line_of(key)) from None
    if seconds <= 0:
        raise reader.error(f"{reader.what}: {key} must be positive", reader.line_of(key))
    return seconds


def _spool(root: _Reader) -> SpoolConfig:
    r = _Reader(root.data.get("spool"), root.path, "listen.spool", root.line_of("spool"))
    r.check_keys({"max_bytes", "segment_bytes", "flush_messages", "flush_interval"})
    flush = r.get("flush_messages", int, SpoolConfig.flush_messages)
    if flush < 1:
        raise r.error("listen.spool: flush_messages must be positive", r.line_of("flush_messages"))
    return SpoolConfig(
        max_bytes=_size(r, "max_bytes", SpoolConfig.max_bytes),
        segment_bytes=_size(r, "segment_bytes", SpoolConfig.segment_bytes),
        flush_messages=flush, flush_interval=_seconds(r, "flush_interval", 0.02),
    )


def _endpoints(root: _Reader, kind: str, base: Path) -> list[Endpoint]:
    """``udp: 5514``, ``udp: {port: 5514}`` or a list of those (several addresses)."""
    value = root.data.get(kind)
    if value is None or value is False:
        return []
    values = value if isinstance(value, list) else [value]
    return [_endpoint(root, kind, item, base) for item in values]


def _endpoint(root: _Reader, kind: str, value: Any, base: Path) -> Endpoint:
    line = getattr(value, "line", None) or root.line_of(kind)
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = _split_address(root, kind, value, line)
    r = _Reader(value, root.path, f"listen.{kind}", line)
    r.check_keys(_ENDPOINT_KEYS[kind])
    port = r.get("port", int, required=True)
    if not 0 <= port <= 65535:
        raise r.error(f"listen.{kind}: port must be 0 to 65535, not {port}", r.line_of("port"))
    ep = Endpoint(
        transport=kind, address=str(r.get("address", str, DEFAULT_ADDRESS)), port=port,
        max_connections=_count(r, "max_connections", Endpoint.max_connections),
        max_connections_per_address=_count(r, "max_connections_per_address",
                                           Endpoint.max_connections_per_address),
        receive_buffer=_size(r, "receive_buffer", Endpoint.receive_buffer),
    )
    return _tls(r, ep, base) if kind == "tls" else ep


def _split_address(root: _Reader, kind: str, value: str | int, line: int | None) -> dict[str, Any]:
    """``5514``, ``"0.0.0.0:5514"`` or ``"[::1]:5514"`` → ``{address, port}``."""
    text = str(value).strip()
    if text.isdigit():
        return {"port": int(text)}
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise root.error(f"listen.{kind}: expected ADDRESS:PORT or a mapping, not {value!r}",
                         line)
    return {"address": host.strip("[]"), "port": int(port)}


def _tls(r: _Reader, ep: Endpoint, base: Path) -> Endpoint:
    def path(key: str, required: bool) -> Path | None:
        value = r.get(key, str, required=required)
        if value is None:
            return None
        found = Path(_abs(value, base))
        if not found.is_file():
            raise r.error(f"listen.tls: {key} file not found: {found}", r.line_of(key))
        return found

    require = bool(r.get("require_client_cert", bool, False))
    ca = path("ca", required=require)
    password = _resolve_secrets(r.data.get("key_password"))
    if password is not None and not isinstance(password, Secret | str):
        raise r.error("listen.tls: key_password must be {$env: NAME} or {$file: PATH}",
                      r.line_of("key_password"))
    if isinstance(password, str):
        raise r.error("listen.tls: key_password must not be written in the file; "
                      "use {$env: NAME} or {$file: PATH}", r.line_of("key_password"))
    return Endpoint(
        transport="tls", address=ep.address, port=ep.port, max_connections=ep.max_connections,
        max_connections_per_address=ep.max_connections_per_address,
        cert=path("cert", required=True), key=path("key", required=True), ca=ca,
        key_password=password, require_client_cert=require,
    )
