"""Scripted peers on loopback for the threat-intel tests: real HTTP(S) servers in a thread.

* :class:`Peer`: an HTTPS (or plain HTTP) server on 127.0.0.1 under a test CA (trustme) that
  answers every request through :meth:`Peer.handle` (override it, or pass a handler) and keeps
  the requests it got in :attr:`Peer.requests` for the test to look at;
* :class:`TaxiiServer`: a TAXII 2.1 server on it (discovery, API roots, collections, objects and
  manifest with ``limit``/``next``/``more`` and ``added_after``, the ``X-TAXII-Date-Added-*``
  headers), requiring Basic auth or an API key.

Use them as context managers (``with TaxiiServer(ca) as taxii: ...``); :func:`ca_file` writes the
CA for the client's ``ca_file``. Nothing here reads the clock: the TAXII server's ``date_added``
values are the ones the test gives.
"""

from __future__ import annotations

import base64
import itertools
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import trustme

from soc.ecs import parse_ts


@dataclass(frozen=True)
class Request:
    """One request a peer received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, doc: Any, status: int = 200, *, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(doc).encode(), {"Content-Type": content_type,
                                                      **(headers or {})})


def ca_file(ca: trustme.CA, directory: Path) -> Path:
    """The CA's certificate as a PEM file in ``directory`` (a feed's ``ca_file``)."""
    path = directory / "intel-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context trusting ``ca`` only."""
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


class Peer:
    """A server on 127.0.0.1 (a free port) answering through :meth:`handle`. With a CA it speaks
    TLS under a certificate for ``127.0.0.1`` and ``localhost``; without one, plain HTTP."""

    def __init__(self, ca: trustme.CA | None = None,
                 handler: Callable[[Request], Reply] | None = None) -> None:
        self.ca = ca
        self.handler = handler
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self._server = _Server(self)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ca else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, request: Request) -> Reply:
        if self.handler is None:
            return Reply(404, b"not found")
        return self.handler(request)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, peer: Peer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.peer = peer
        self.tls: ssl.SSLContext | None = None
        if peer.ca is not None:
            self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            peer.ca.issue_cert("127.0.0.1", "localhost").configure_cert(self.tls)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:  # the handshake happens in the request's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        error = sys.exc_info()[1]
        if error is not None:
            self.peer.errors.append(error)  # a refused handshake lands here: the test looks


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parts.path, parse_qs(parts.query), self.headers, body)
        peer = self.server.peer
        peer.requests.append(request)
        reply = peer.handle(request)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- TAXII 2.1 --------------------------------------------------------------------------------

TAXII = "application/taxii+json;version=2.1"


@dataclass
class Collection:
    id: str
    title: str
    root: str = "api1"
    alias: str | None = None
    can_read: bool = True
    entries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (date_added, obj)

    def info(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "title": self.title, "can_read": self.can_read,
                               "can_write": False, "media_types": [TAXII]}
        if self.alias:
            doc["alias"] = self.alias
        return doc


class TaxiiServer(Peer):
    """A TAXII 2.1 server (OASIS TAXII 2.1, sections 4 and 5) on loopback.

    Discovery at ``/taxii2/``, API roots at ``/<root>/``; every request needs the ``Accept``
    media type (406 otherwise) and the credentials (401 otherwise): Basic ``username`` and
    ``password``, or, when ``api_key`` is given as ``(header, value)``, that header instead.
    Pages hold at most ``max_limit`` objects. ``date_header=False`` leaves out the
    ``X-TAXII-Date-Added-*`` headers, ``next_tokens=False`` the ``next`` tokens (clients then page
    with ``added_after``), as some servers do.
    """

    def __init__(self, ca: trustme.CA | None, *, username: str = "soc",
                 password: str = "taxii-Pa55", api_key: tuple[str, str] | None = None,
                 max_limit: int = 100, date_header: bool = True,
                 next_tokens: bool = True) -> None:
        super().__init__(ca)
        self.username, self.password, self.api_key = username, password, api_key
        self.max_limit = max_limit
        self.date_header = date_header
        self.next_tokens = next_tokens
        self.collections: list[Collection] = []
        self._pages: dict[str, tuple[str, str | None, int]] = {}
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/taxii2/"

    def root_url(self, root: str = "api1") -> str:
        return f"{self.base_url}/{root}/"

    def add_collection(self, id: str, title: str, **options: Any) -> Collection:
        collection = Collection(id, title, **options)
        self.collections.append(collection)
        return collection

    def add_objects(self, collection_id: str, date_added: str, *objects: dict[str, Any]) -> None:
        """Objects added to the collection at ``date_added`` (a TAXII timestamp)."""
        target = next(c for c in self.collections if c.id == collection_id)
        with self._lock:
            target.entries.extend((date_added, obj) for obj in objects)
            target.entries.sort(key=lambda e: parse_ts(e[0]))

    def object_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/objects/")]

    # --- answering ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if TAXII.split(";")[0] not in request.headers.get("Accept", ""):
            return _error(406, "Not Acceptable", "Accept application/taxii+json;version=2.1")
        if not self._authorised(request):
            return _error(401, "Unauthorized", "credentials required",
                          {"WWW-Authenticate": 'Basic realm="taxii"'})
        parts = [p for p in request.path.split("/") if p]
        if parts == ["taxii2"]:
            return self._discovery()
        roots = {c.root for c in self.collections} | {"api1"}
        if not parts or parts[0] not in roots:
            return _error(404, "Not Found", "no such API root")
        return self._in_root(parts[0], parts[1:], request)

    def _authorised(self, request: Request) -> bool:
        if self.api_key is not None:
            return request.headers.get(self.api_key[0]) == self.api_key[1]
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {token}"

    def _discovery(self) -> Reply:
        roots = sorted({c.root for c in self.collections} | {"api1"})
        return _taxii({"title": "Scripted TAXII", "default": self.root_url("api1"),
                       "api_roots": [self.root_url(r) for r in roots]})

    def _in_root(self, root: str, rest: list[str], request: Request) -> Reply:
        if not rest:
            return _taxii({"title": f"root {root}", "versions": [TAXII],
                           "max_content_length": 10 * 2**20})
        mine = [c for c in self.collections if c.root == root]
        if rest == ["collections"]:
            return _taxii({"collections": [c.info() for c in mine]} if mine else {})
        found = next((c for c in mine if len(rest) >= 2 and c.id == rest[1]), None)
        if rest[0] != "collections" or found is None:
            return _error(404, "Not Found", "no such collection")
        if len(rest) == 2:
            return _taxii(found.info())
        if rest[2:] == ["objects"]:
            return self._page(found, request, lambda e: e[1])
        if rest[2:] == ["manifest"]:
            return self._page(found, request, _manifest_entry)
        return _error(404, "Not Found", "no such endpoint")

    def _page(self, found: Collection, request: Request,
              shape: Callable[[tuple[str, dict[str, Any]]], dict[str, Any]]) -> Reply:
        limit = min(int(request.arg("limit") or self.max_limit), self.max_limit)
        token = request.arg("next")
        with self._lock:
            if token is not None:
                if token not in self._pages:
                    return _error(400, "Bad Request", "unknown next")
                _collection, after, offset = self._pages[token]
            else:
                after, offset = request.arg("added_after"), 0
            chosen = [e for e in found.entries
                      if after is None or parse_ts(e[0]) > parse_ts(after)]
            page = chosen[offset:offset + limit]
            more = offset + limit < len(chosen)
            doc: dict[str, Any] = {"more": more}
            if page:
                doc["objects"] = [shape(e) for e in page]
            if more and self.next_tokens:
                doc["next"] = f"p{next(self._tokens)}"
                self._pages[doc["next"]] = (found.id, after, offset + limit)
        headers = {}
        if page and self.date_header:
            headers = {"X-TAXII-Date-Added-First": page[0][0],
                       "X-TAXII-Date-Added-Last": page[-1][0]}
        return _taxii(doc, headers)


def _manifest_entry(entry: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    obj = entry[1]
    return {"id": obj.get("id"), "date_added": entry[0],
            "version": obj.get("modified") or obj.get("created"), "media_type": TAXII}


def _taxii(doc: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply.json(doc, content_type=TAXII, headers=headers)


def _error(status: int, title: str, description: str,
           headers: dict[str, str] | None = None) -> Reply:
    return Reply.json({"title": title, "description": description, "http_status": str(status)},
                      status, content_type=TAXII, headers=headers)


# --- MISP -------------------------------------------------------------------------------------


def folder_handler(root: Path) -> Callable[[Request], Reply]:
    """A handler answering ``GET /<name>`` with the file ``root/<name>`` (a MISP feed folder, as
    a web server publishes it), 404 for anything else."""

    def answer(request: Request) -> Reply:
        name = request.path.lstrip("/")
        path = root / name
        if request.method != "GET" or "/" in name or not path.is_file():
            return Reply(404, b"not found")
        return Reply(200, path.read_bytes(), {"Content-Type": "application/json"})
    return answer


class MispServer(Peer):
    """The MISP REST API's ``POST /attributes/restSearch`` (MISP OpenAPI, restSearchAttributes)
    over the ``attributes`` the test gives: the ``Authorization`` header must be ``api_key``
    (403 otherwise, as MISP answers), ``Accept`` JSON (406 otherwise); ``to_ids``, ``timestamp``
    (attributes changed at or after it), ``page`` (from 1) and ``limit`` are honoured, unless
    ``ignore_paging`` (a broken instance sending every attribute on every page)."""

    def __init__(self, ca: trustme.CA | None, *, api_key: str,
                 attributes: list[dict[str, Any]], ignore_paging: bool = False) -> None:
        super().__init__(ca)
        self.api_key = api_key
        self.attributes = attributes
        self.ignore_paging = ignore_paging

    def searches(self) -> list[dict[str, Any]]:
        """The JSON bodies of the restSearch requests received, in order."""
        return [json.loads(r.body) for r in self.requests
                if r.path == "/attributes/restSearch"]

    def handle(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != self.api_key:
            return Reply.json({"name": "Authentication failed. Please make sure you pass the "
                               "API key of an API enabled user along in the Authorization "
                               "header.", "message": "Authentication failed.",
                               "url": request.path}, 403)
        if "application/json" not in (request.headers.get("Accept") or ""):
            return Reply.json({"message": "Accept application/json"}, 406)
        if request.method != "POST" or request.path != "/attributes/restSearch":
            return Reply.json({"message": "Not Found"}, 404)
        query = json.loads(request.body)
        found = [a for a in self.attributes
                 if (not query.get("to_ids") or a.get("to_ids") is True)
                 and ("timestamp" not in query
                      or int(a["timestamp"]) >= int(query["timestamp"]))]
        if not self.ignore_paging and "limit" in query:
            size, page = int(query["limit"]), int(query.get("page") or 1)
            found = found[(page - 1) * size:page * size]
        return Reply.json({"response": {"Attribute": found}})
