"""Forwarding to another SIEM: RFC 5424 syslog over TCP (optionally TLS, RFC 5425), the message
as CEF (``format: cef``, default) or JSON (``format: json``).

Framing is octet counting (``<length> <message>``, RFC 6587; the default, safe for any content)
or a newline after each message (``framing: newline``; CEF escapes line breaks, JSON has none).
One connection per message: a collector restarted in between costs nothing.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soc.notify import escape
from soc.notify.channels._options import Options, document, failure, tls_context
from soc.notify.model import Message
from soc.notify.render import render

KEYS = {"type", "host", "port", "tls", "ca_file", "verify", "format", "framing", "facility",
        "hostname", "app_name", "timeout", "templates"}
SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "informational": 6}
ENTERPRISE = 32473  # the example enterprise number of RFC 5612, for the SD-ID


class SyslogChannel:
    type = "syslog"

    def __init__(self, name: str, spec: Mapping[str, Any], base_dir: Path | None) -> None:
        o = Options(name, spec, base_dir)
        o.check_keys(KEYS)
        self.name = name
        self.host = str(o.get("host", str, required=True))
        self.tls = bool(o.get("tls", bool, False))
        self.port = int(o.get("port", int, 6514 if self.tls else 514))
        self.format = o.choice("format", ("cef", "json"), "cef")
        self.framing = o.choice("framing", ("octet-counting", "newline"), "octet-counting")
        self.facility = int(o.get("facility", int, 4))  # security/authorization (auth)
        if not 0 <= self.facility <= 23:
            raise o.error(f"{o.what}: 'facility' must be 0-23", o.line_of("facility"))
        self.hostname = _token(str(o.get("hostname", str, socket.gethostname())))
        self.app = _token(str(o.get("app_name", str, "soc")))
        self.timeout = o.number("timeout", 10.0)
        self.templates = o.file("templates")
        self.context = (tls_context(o.file("ca_file"), verify=bool(o.get("verify", bool, True)))
                        if self.tls else None)

    def frame(self, message: Message) -> bytes:
        """One framed syslog message, as it goes on the wire."""
        line = self.line(message).encode("utf-8")
        if self.framing == "newline":
            return line + b"\n"
        return str(len(line)).encode() + b" " + line

    def line(self, message: Message) -> str:
        """``<PRI>1 TIMESTAMP HOST APP - MSGID [SD] MSG`` (RFC 5424)."""
        pri = self.facility * 8 + SEVERITY.get(message.severity, 5)
        r = render(message, flavour="cef", templates=self.templates)
        body = (r.markup or "" if self.format == "cef" else
                json.dumps(document(message, r.subject, r.text), ensure_ascii=False,
                           default=str))
        key = message.key.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
        sd = f'[soc@{ENTERPRISE} key="{escape.clean(key, limit=0)}"]'
        stamp = message.created or "-"
        return (f"<{pri}>1 {stamp} {self.hostname} {self.app} - {_token(message.kind)} {sd} "
                f"{body}")

    def send(self, message: Message) -> str:
        data = self.frame(message)
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as raw:
                if self.context is not None:
                    with self.context.wrap_socket(raw, server_hostname=self.host) as tls:
                        tls.sendall(data)
                else:
                    raw.sendall(data)
        except ssl.SSLCertVerificationError as exc:
            raise failure(self, f"{self.host}:{self.port}: TLS certificate not trusted "
                          f"({exc.verify_message})", "Check host and ca_file") from None
        except OSError as exc:
            reason = exc.strerror or ("timed out" if isinstance(exc, TimeoutError)
                                      else type(exc).__name__)
            raise failure(self, f"{self.host}:{self.port}: {reason}",
                          "Check that the collector listens on host:port (tls?)") from None
        return f"syslog {len(data)} bytes to {self.host}:{self.port}"


def _token(text: str) -> str:
    """A header field of RFC 5424: printable ASCII without spaces, ``-`` when empty."""
    kept = "".join(c for c in text if 33 <= ord(c) <= 126)[:48]
    return kept or "-"
