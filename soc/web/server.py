"""``soc web``: serve the console with uvicorn until SIGTERM or SIGINT.

Plain HTTP only on a loopback address; anywhere else the configured certificate and key are
required and served with TLS. The socket is bound here, before the server starts, so port 0
works and the ``Console: URL`` line names the real port once connections are accepted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import uvicorn

from soc.config import Config
from soc.errors import ConfigError, SocError
from soc.web.app import create_app
from soc.web.config import WebConfig


class ServeError(SocError):
    default_hint = "Pick another --port (0: any free one), or stop what holds it."


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_tls(settings: WebConfig, host: str) -> bool:
    """Whether to serve TLS: required (ConfigError without cert and key) off loopback."""
    if settings.cert and settings.key:
        for path in (settings.cert, settings.key):
            if not Path(path).is_file():
                raise ConfigError(f"web: the TLS file {path} does not exist",
                                  hint="Fix web.cert / web.key in soc.yml.")
        return True
    if not is_loopback(host):
        raise ConfigError(f"refusing to serve the console on {host} without TLS",
                          hint="Set web.cert and web.key in soc.yml (see docs/console.md), or "
                               "serve on loopback (--host 127.0.0.1) behind a TLS proxy.")
    return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, tls: bool) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn's server, announcing itself once listening and ending quietly on a signal
    (uvicorn would re-raise the signal after its shutdown, ending the process with it)."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None], *,
                 supervised: bool = False) -> None:
        super().__init__(config)
        self._announce = announce
        self._supervised = supervised

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._announce()

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def stop(sig: int, frame: FrameType | None) -> None:
            self.should_exit = True

        if self._supervised:  # the parent decides: it closes our stdin
            threading.Thread(target=self._stop_on_eof, daemon=True).start()
        handler = signal.SIG_IGN if self._supervised else stop
        before = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, previous in before.items():
                signal.signal(s, previous)

    def _stop_on_eof(self) -> None:
        """Stop once standard input ends: the supervising ``soc listen`` closed it, or died."""
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(65536):
                pass
        self.should_exit = True


def serve(config: Config, settings: WebConfig, *, host: str, port: int, read_only: bool,
          echo: Callable[[str], None], supervised: bool = False) -> None:
    """Serve the console until SIGTERM/SIGINT; ``echo`` gets the ``Console: URL`` line.
    ``supervised`` (a child of ``soc listen``): until standard input ends, signals ignored."""
    tls = check_tls(settings, host)
    app = create_app(config, read_only=read_only)
    sock = bind(host, port)
    server_config = uvicorn.Config(
        app, log_level=logging.WARNING, access_log=False, proxy_headers=False,
        server_header=False, lifespan="off", http="h11",
        ssl_certfile=settings.cert if tls else None, ssl_keyfile=settings.key if tls else None)
    server = _Server(server_config, lambda: echo(f"Console: {url_of(sock, tls)}"),
                     supervised=supervised)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
