"""HTTP for feeds: GET or POST with urllib, the certificate verified (a configured CA file, else
the system's), a timeout, a size limit, and redirects followed only on the same scheme and host
(a redirect elsewhere would carry the feed's API key with it).

Failures raise :class:`FeedError` with a one-line reason that never holds the URL's query or the
headers (they can carry a token), and a hint.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message as Headers
from http.client import HTTPMessage
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from soc import __version__
from soc.errors import SocError
from soc.notify.channels._http import _reason

USER_AGENT = f"soc/{__version__} (intel)"
MAX_BODY = 512 * 1024 * 1024
"""The largest answer read (a full MISP or STIX export of a national centre stays well below)."""


class FeedError(SocError):
    """A feed that cannot be read: unreachable, refused, or not what it says it is."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Headers
    body: bytes


def tls_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """A verifying client context, trusting ``ca_file`` when given (else the system's CAs)."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise FeedError(f"cannot read the CA file {ca_file}: {exc}",
                        hint="set the feed's ca_file to a PEM file of the CA") from None


def where(url: str) -> str:
    """The URL without query, user or password: what messages may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: HTTPMessage, newurl: str) -> urllib.request.Request | None:
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            return None  # the 3xx comes back as an error, with its status
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, *, method: str = "GET", body: bytes | None = None,
          headers: Mapping[str, str] | None = None, context: ssl.SSLContext | None = None,
          timeout: float = 60.0, accept: tuple[int, ...] = (200,)) -> Response:
    """One request; an answer whose status is not in ``accept`` raises :class:`FeedError`."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FeedError(f"not an http(s) URL: {where(url)}", hint="feeds are fetched over HTTPS")
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context or tls_context()), _SameOrigin())
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        with opener.open(request, timeout=timeout) as reply:
            answer = Response(reply.status, reply.headers, _body(reply, url))
    except urllib.error.HTTPError as exc:
        raise FeedError(f"{where(url)} answered HTTP {exc.code}", hint=_hint(exc.code)) from None
    except urllib.error.URLError as exc:
        raise FeedError(f"{where(url)} unreachable: {_reason(exc.reason)}",
                        hint="check the URL, the network and the feed's ca_file") from None
    except TimeoutError:
        raise FeedError(f"{where(url)}: no answer within {timeout:g}s",
                        hint="raise the feed's timeout or try later") from None
    except (OSError, ValueError) as exc:
        raise FeedError(f"{where(url)}: {_reason(exc)}", hint="try later") from None
    if answer.status not in accept:
        raise FeedError(f"{where(url)} answered HTTP {answer.status}", hint=_hint(answer.status))
    return answer


def _body(reply: IO[bytes], url: str) -> bytes:
    data = reply.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise FeedError(f"{where(url)}: answer larger than {MAX_BODY // 2**20} MiB",
                        hint="page the feed or fetch a smaller collection")
    return data


def _hint(status: int) -> str:
    if status in (401, 403):
        return "check the feed's credentials (api_key_env / password_env) and its permissions"
    if status == 404:
        return "check the feed's URL (collection id, path)"
    if status == 429 or status >= 500:
        return "the server is busy or failing: the next pull retries"
    return "check the feed's URL and settings"
