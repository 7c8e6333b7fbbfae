"""The console application: :func:`create_app` assembles the routes of the registry
(:mod:`soc.web.routes`), each behind the guard (:mod:`soc.web.guard`), the static files, and the
security headers every answer carries.

The console offers the CLI's actions through the same library calls (``soc.alerts``,
``soc.pivots``, the store's search), acting as the logged-in user, whom the audit trail records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from soc.config import Config
from soc.stores.base import Store, open_store
from soc.web import routes
from soc.web.accounts import LoginThrottle
from soc.web.config import load_web_config
from soc.web.context import StoreFactory, Web
from soc.web.guard import endpoint
from soc.web.render import STATIC, environment
from soc.web.sessions import Sessions

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'")
HEADERS = [(b"content-security-policy", CSP.encode()),
           (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY")]


def utc_now() -> datetime:
    return datetime.now(UTC)


def default_store(config: Config, readonly: bool) -> Store:
    """The store the configuration names, as ``soc`` commands open it."""
    return open_store(config, readonly=readonly)


def create_app(config: Config, *, store_factory: StoreFactory = default_store,
               clock: Callable[[], datetime] = utc_now, read_only: bool = False) -> Starlette:
    """The console for ``config``: ``store_factory(config, readonly)`` opens the store for each
    request, ``clock`` times sessions, login throttling and relative search ranges, and
    ``read_only`` refuses every change (the store is then only ever opened read-only)."""
    settings = load_web_config(config)
    web = Web(config=config, settings=settings, store_factory=store_factory, clock=clock,
              read_only=read_only,
              sessions=Sessions(clock, idle=settings.session_idle, longest=settings.session_max),
              throttle=LoginThrottle(clock), templates=environment(config.tz),
              nav=routes.nav(), specs=routes.specs())
    table: list[BaseRoute] = [
        Route(spec.path, endpoint(spec, web), methods=list(spec.methods),
              name=spec.name or f"{spec.methods[0].lower()} {spec.path}")
        for spec in web.specs]
    table.append(Mount("/static", app=StaticFiles(directory=STATIC), name="static"))
    app = Starlette(routes=table)
    app.state.web = web
    app.add_middleware(SecurityHeaders)
    return app


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every answer (an answer that sets one of
    them itself keeps its own: the sandboxed report preview), and ``Cache-Control:
    no-store`` to all but the static files (pages hold log data and CSRF tokens)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() != b"cache-control"]
                own = {h[0].lower() for h in headers}  # a response's own policy stays
                headers.extend(h for h in HEADERS if h[0] not in own)
                headers.append((b"cache-control", b"max-age=3600" if static else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
