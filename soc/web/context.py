"""What every console handler works with: the process-wide :class:`Web` state, the
per-request :class:`Ctx`, the route :class:`Spec` of the registry, and the shared helpers
(opening the store, rendering, paging, errors, safe redirects).

Handlers are plain synchronous functions ``handler(ctx) -> Response``: the guard
(:mod:`soc.web.guard`) has already authenticated the caller, checked the role, the CSRF token
and read-only mode, and parsed the body; it runs the handler in a worker thread, so handlers
may open the store and hash passwords without blocking the server.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from soc.config import Config
from soc.errors import ExitCode, SocError
from soc.stores.base import ConflictError, Store
from soc.web.accounts import Accounts, LoginThrottle, User, allows
from soc.web.config import WebConfig
from soc.web.i18n import t
from soc.web.sessions import Session, Sessions

StoreFactory = Callable[[Config, bool], Store]
"""``factory(config, readonly)``: an open store (a context manager) for one request."""
Handler = Callable[["Ctx"], Response]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PER_PAGE = 50
MAX_OFFSET = 10_000  # deeper pages of a search: narrow the query instead


class HttpError(SocError):
    """A request the console refuses: ``status`` is the HTTP status, ``key`` the i18n key of
    the page's message (the message itself is English, for the API)."""

    def __init__(self, status: int, message: str, *, key: str | None = None,
                 hint: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.key = key
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Param:
    """A query or path parameter of an API route (for the OpenAPI description)."""

    name: str
    schema: Mapping[str, Any]
    where: str = "query"
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class ApiDoc:
    """What the OpenAPI description says of a route: JSON schemas of body and answer."""

    summary: str
    params: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None
    response: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})


@dataclass(frozen=True)
class Spec:
    """One route of the console: who may call it (``need``: a role, None for the login page)
    and whether it changes anything (``change``: refused when the console is read-only)."""

    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    need: str | None = "viewer"
    change: bool = False
    doc: ApiDoc | None = None
    name: str | None = None

    @property
    def api(self) -> bool:
        return self.path == "/api" or self.path.startswith("/api/")


@dataclass
class Web:
    """The state of one console process, shared by every request."""

    config: Config
    settings: WebConfig
    store_factory: StoreFactory
    clock: Callable[[], datetime]
    read_only: bool
    sessions: Sessions
    throttle: LoginThrottle
    templates: jinja2.Environment
    nav: list[tuple[str, str]]
    specs: list[Spec]

    @contextmanager
    def store(self, *, write: bool = False) -> Iterator[Store]:
        """The store for one request, read-only unless ``write`` (never in read-only mode)."""
        with self.store_factory(self.config, self.read_only or not write) as store:
            yield store

    def accounts(self, store: Store) -> Accounts:
        return Accounts(store, clock=self.clock, data_dir=self.config.data_dir)


@dataclass
class Ctx:
    """One request as a handler sees it."""

    request: Request
    web: Web
    lang: str
    session: Session | None = None
    user: User | None = None
    via: str = ""  # how the caller proved who they are: session, proxy, token ("" if not)
    form: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None
    new_session: Session | None = None  # a session cookie to set on the response
    end_session: bool = False  # delete the session cookie

    @property
    def actor(self) -> str:
        """Who acts, for the audit trail: the logged-in user."""
        if self.user is None:
            raise HttpError(401, "log in first", hint="POST /login, or send a bearer token.")
        return self.user.name

    @property
    def address(self) -> str:
        """The peer's address ('' when unknown): what login throttling counts."""
        client = self.request.client
        return client.host if client else ""

    @property
    def csrf(self) -> str:
        session = self.new_session or self.session
        return session.csrf if session else ""

    def can(self, need: str) -> bool:
        """Whether the caller's role has the rights of ``need`` and the console may change
        things (templates show a change's form only then)."""
        return self.user is not None and not self.web.read_only and allows(self.user.role,
                                                                            need)

    def t(self, key: str, **values: Any) -> str:
        text = t(key, self.lang)
        return text.format(**values) if values else text

    def query(self, name: str, default: str | None = None) -> str | None:
        """A query parameter, stripped; None (or ``default``) when absent or empty."""
        value = self.request.query_params.get(name, "").strip()
        return value or default

    def field(self, name: str, default: str = "") -> str:
        """A field of the posted form or JSON object, as text."""
        source = self.body if isinstance(self.body, Mapping) else self.form
        value = source.get(name, default)
        return value if isinstance(value, str) else default

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        """A page: the template with the common values (words, user, CSRF token, nav)."""
        page = self.web.templates.get_template(template)
        html = page.render(ctx=self, t=self.t, can=self.can, lang=self.lang, user=self.user,
                           csrf=self.csrf, read_only=self.web.read_only, nav=self.web.nav,
                           path=self.request.url.path, **values)
        return HTMLResponse(html, status_code=status)


def redirect(url: str) -> RedirectResponse:
    """See other (303): after a POST the browser GETs the page."""
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None, default: str = "/alerts") -> str:
    """``value`` when it is a path of this site (``/alerts?x=1``), else ``default``: never an
    absolute URL, a scheme-relative ``//host`` or ``/\\host``, or a control character."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c == "\\" or ord(c) == 0x7F for c in value):
        return default
    return value


def json_error(status: int, message: str, hint: str | None = None,
               headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "hint": hint}, status_code=status,
                        headers=dict(headers or {}))


def status_of(exc: SocError) -> int:
    """The HTTP status of a library error."""
    if isinstance(exc, HttpError):
        return exc.status
    if isinstance(exc, ConflictError):
        return 409
    return {ExitCode.NOT_FOUND: 404, ExitCode.INPUT: 400, ExitCode.USAGE: 400,
            ExitCode.STORE: 503, ExitCode.BUSY: 503}.get(exc.exit_code, 500)


def paging(ctx: Ctx, per_page: int = PER_PAGE) -> tuple[int, int]:
    """``(page, offset)`` of the ``page`` query parameter (1-based), within MAX_OFFSET."""
    raw = ctx.query("page", "1") or "1"
    page = int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1
    page = max(1, min(page, MAX_OFFSET // per_page + 1))
    return page, (page - 1) * per_page


def page_url(ctx: Ctx, page: int) -> str:
    """This page's URL with ``page`` replaced (other query parameters kept)."""
    params = [(k, v) for k, v in ctx.request.query_params.multi_items() if k != "page"]
    return f"{ctx.request.url.path}?{urlencode([*params, ('page', str(page))])}"


def pages_of(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))
