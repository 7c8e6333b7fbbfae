"""The ``web:`` section of soc.yml → :class:`WebConfig` for ``soc web`` and the console.

Everything has a default, so a soc.yml without ``web:`` serves the console on loopback::

    web:
      host: 127.0.0.1            # where `soc web` listens (--host wins)
      port: 8080                 # (--port wins; 0 picks a free port)
      cert: pki/console.pem      # TLS certificate and key: required when host is not loopback
      key: pki/console.key
      session_idle: 30m          # a session unused this long ends
      session_max: 12h           # and any session ends this long after its login
      proxy_auth:                # single sign-on in front (off unless given)
        header: X-Remote-User
        trusted: [127.0.0.1]     # only requests from these addresses may name the user

Errors name the file and line, like the rest of the configuration.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from soc.config import Config, _abs, _Reader, duration_of

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
_KEYS = {"host", "port", "cert", "key", "session_idle", "session_max", "proxy_auth"}


@dataclass(frozen=True)
class ProxyAuth:
    """Reverse-proxy header authentication: ``header`` names the user, believed only from
    the ``trusted`` addresses."""

    header: str
    trusted: tuple[str, ...]

    def trusts(self, address: str | None) -> bool:
        """Whether a request from ``address`` may name its user in the header."""
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.trusted)


@dataclass(frozen=True)
class WebConfig:
    """The console's settings (``web:``)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    cert: str | None = None
    key: str | None = None
    session_idle: timedelta = timedelta(minutes=30)
    session_max: timedelta = timedelta(hours=12)
    proxy_auth: ProxyAuth | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "cert": self.cert, "key": self.key,
                "session_idle": int(self.session_idle.total_seconds()),
                "session_max": int(self.session_max.total_seconds()),
                "proxy_auth": None if self.proxy_auth is None else {
                    "header": self.proxy_auth.header,
                    "trusted": list(self.proxy_auth.trusted)}}


def load_web_config(config: Config) -> WebConfig:
    """Read ``config.raw['web']``; a :class:`soc.errors.ConfigError` names file and line."""
    data = config.raw.get("web")
    root = _Reader(data, config.path, "web", getattr(data, "line", None))
    root.check_keys(_KEYS)
    base = config.path.parent if config.path else Path.cwd()
    port = root.get("port", int, DEFAULT_PORT)
    if not 0 <= port <= 65535:
        raise root.error(f"web: port must be 0 to 65535, not {port}", root.line_of("port"))
    cert, key = root.get("cert", str), root.get("key", str)
    if (cert is None) != (key is None):
        raise root.error("web: cert and key go together (give both, or neither)",
                         root.line_of("cert" if cert else "key"))
    return WebConfig(
        host=str(root.get("host", str, DEFAULT_HOST)), port=port,
        cert=_abs(cert, base) if cert else None, key=_abs(key, base) if key else None,
        session_idle=duration_of(root, "session_idle", WebConfig.session_idle),
        session_max=duration_of(root, "session_max", WebConfig.session_max),
        proxy_auth=_proxy_auth(root))


def _proxy_auth(root: _Reader) -> ProxyAuth | None:
    data = root.data.get("proxy_auth")
    if data is None:
        return None
    r = _Reader(data, root.path, "web.proxy_auth", root.line_of("proxy_auth"))
    r.check_keys({"header", "trusted"})
    header = str(r.get("header", str, required=True)).strip()
    trusted = r.str_list("trusted")
    if not header:
        raise r.error("web.proxy_auth: header must name an HTTP header", r.line_of("header"))
    if not trusted:
        raise r.error("web.proxy_auth: trusted must list the proxy's addresses (e.g. "
                      "[127.0.0.1]); without them anyone could name any user",
                      r.line_of("trusted"))
    for net in trusted:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise r.error(f"web.proxy_auth: trusted: {net!r} is not an address or network",
                          r.line_of("trusted")) from None
    return ProxyAuth(header, trusted)
