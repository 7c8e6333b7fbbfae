"""One HTTP POST with urllib (stdlib): certificate verified, a timeout, redirects not followed
(a redirect would carry the signature and custom headers somewhere nobody configured).

Connection failures come back as :class:`Unreachable` with the reason only: urllib's own
messages can carry the URL, and a URL can carry a token.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message as Headers
from typing import IO, Any

from soc import __version__

USER_AGENT = f"soc/{__version__} (notify)"
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    headers: Headers
    body: bytes

    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds (the form with seconds only)."""
        value = self.headers.get("Retry-After", "")
        try:
            return max(0.0, float(value))
        except ValueError:
            return None


class Unreachable(Exception):
    """No HTTP answer: refused, timed out, TLS failed. ``str()`` never holds the URL."""

    def __init__(self, reason: str, *, tls: bool = False) -> None:
        super().__init__(reason)
        self.tls = tls


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Headers, newurl: str) -> urllib.request.Request | None:
        return None  # the 3xx comes back as an HTTPError with its status


def post(url: str, body: bytes, headers: Mapping[str, str], *, context: ssl.SSLContext,
         timeout: float) -> Response:
    """POST ``body``; any HTTP status comes back as a :class:`Response`."""
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                         _NoRedirect())
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"User-Agent": USER_AGENT, **headers})
    try:
        with opener.open(request, timeout=timeout) as reply:
            return Response(reply.status, reply.headers, reply.read(MAX_BODY))
    except urllib.error.HTTPError as exc:
        data = _read(exc)
        return Response(exc.code, exc.headers, data)
    except urllib.error.URLError as exc:
        raise Unreachable(_reason(exc.reason), tls=isinstance(exc.reason, ssl.SSLError)) \
            from None
    except TimeoutError:
        raise Unreachable(f"no answer within {timeout:g}s") from None
    except ssl.SSLError as exc:
        raise Unreachable(_reason(exc), tls=True) from None
    except (OSError, ValueError) as exc:  # reset by peer, a malformed answer
        raise Unreachable(_reason(exc)) from None


def _read(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(MAX_BODY)
    except (OSError, ValueError):
        return b""


def _reason(reason: Any) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({reason.verify_message})"
    if isinstance(reason, ssl.SSLError):
        return f"TLS failed ({reason.reason or reason})"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return type(reason).__name__ if not isinstance(reason, str) else reason
