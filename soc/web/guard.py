"""The one door every console route goes through (:func:`endpoint`).

In order: who is calling (a bearer token on ``/api``, the reverse proxy's header from a trusted
address, or the session cookie); no caller, no page (a redirect to ``/login?next=``) and no API
(401); the role the route needs (403); on a change, the session's CSRF token in the form field
``csrf`` or the header ``X-CSRF-Token`` (403; bearer calls carry no cookie and need none); a
read-only console refuses changes (409). The handler then runs in a worker thread.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from soc.errors import SocError
from soc.web.accounts import User, allows
from soc.web.context import (
    SAFE_METHODS,
    Ctx,
    HttpError,
    Spec,
    Web,
    json_error,
    redirect,
    status_of,
)
from soc.web.evidence import max_upload
from soc.web.i18n import LANGS, pick
from soc.web.sessions import Session

SESSION_COOKIE = "soc_session"
LANG_COOKIE = "lang"
CSRF_HEADER = "X-CSRF-Token"
MAX_BODY = 1 << 20


def endpoint(spec: Spec, web: Web) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of ``spec``: the checks above, then its handler."""

    async def serve(request: Request) -> Response:
        ctx = Ctx(request, web, pick(request.query_params.get("lang"),
                                     request.cookies.get(LANG_COOKIE)))
        try:
            response = await _checked(spec, ctx)
        except SocError as exc:
            response = failure(ctx, spec, exc)
        finally:
            form = ctx.form
            if hasattr(form, "close"):
                await form.close()
        return _cookies(ctx, response)

    return serve


async def _checked(spec: Spec, ctx: Ctx) -> Response:
    request, web = ctx.request, ctx.web
    await run_in_threadpool(_authenticate, spec, ctx)
    if spec.need is not None and ctx.user is None:
        return _unauthenticated(spec, ctx)
    if spec.need is not None and ctx.user is not None and not allows(ctx.user.role, spec.need):
        raise HttpError(403, f"the role {ctx.user.role!r} may not do this (needs {spec.need})",
                        key="error.forbidden", hint="Ask a lead for a role with this right.")
    if request.method not in SAFE_METHODS:
        await _read_body(ctx)
        if ctx.via != "token":
            _check_csrf(ctx)
        if spec.change and web.read_only:
            raise HttpError(409, "the console is read-only (soc web --read-only)",
                            key="error.read_only",
                            hint="Make changes with a console started without --read-only.")
    return await run_in_threadpool(spec.handler, ctx)


def _authenticate(spec: Spec, ctx: Ctx) -> None:
    """Find the caller: bearer token (API only), proxy header, then the session cookie."""
    request, web = ctx.request, ctx.web
    ctx.session = web.sessions.get(request.cookies.get(SESSION_COOKIE))
    bearer = _bearer(request)
    if bearer is not None and spec.api:
        with web.store(write=True) as store:  # the token's last use is noted now and then
            ctx.user = _enabled(web.accounts(store).user_for_token(bearer))
        if ctx.user is None:
            raise HttpError(401, "the bearer token is unknown, revoked or its user disabled",
                            hint="Ask for a new token: soc users token NAME LABEL",
                            headers={"WWW-Authenticate": "Bearer"})
        ctx.via = "token"
        return
    proxy = web.settings.proxy_auth
    named = request.headers.get(proxy.header) if proxy else None
    if proxy is not None and named and proxy.trusts(request.client.host if request.client
                                                   else None):
        _proxy_login(ctx, named.strip())
        return
    if ctx.session is not None and ctx.session.user is not None:
        with web.store() as store:
            ctx.user = _enabled(web.accounts(store).get(ctx.session.user))
        if ctx.user is None:  # disabled or removed since login
            web.sessions.drop(ctx.session.id)
            ctx.session = None
            return
        ctx.via = ctx.session.via


def _proxy_login(ctx: Ctx, name: str) -> None:
    """The user the trusted proxy names, if they exist and are enabled; they get a session of
    their own (so CSRF tokens work as for a login)."""
    web = ctx.web
    with web.store() as store:
        ctx.user = _enabled(web.accounts(store).get(name))
    if ctx.user is None:
        return
    if ctx.session is None or ctx.session.user != ctx.user.name:
        ctx.session = ctx.new_session = web.sessions.login(
            ctx.session.id if ctx.session else None, ctx.user.name, via="proxy")
    ctx.via = "proxy"


def _enabled(user: User | None) -> User | None:
    return None if user is None or user.disabled else user


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _unauthenticated(spec: Spec, ctx: Ctx) -> Response:
    if spec.api:
        return json_error(401, "log in first", "Use the console's session (POST /login) or "
                          "an API token: Authorization: Bearer TOKEN",
                          {"WWW-Authenticate": "Bearer"})
    url = ctx.request.url
    target = url.path + (f"?{url.query}" if url.query else "")
    return redirect(f"/login?{urlencode({'next': target})}")


async def _read_body(ctx: Ctx) -> None:
    """The posted form or JSON object. Forms and JSON are read up to MAX_BODY (413 past it);
    multipart forms (uploads) are parsed by Starlette, which spools files to disk."""
    request = ctx.request
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        declared = request.headers.get("content-length", "")
        most = max_upload(ctx.web.config) + MAX_BODY  # the file, and the form's other fields
        if declared.isdigit() and int(declared) > most:  # refused before a byte is spooled
            raise HttpError(413, f"the upload is too large ({most:,} bytes at most)",
                            hint="Raise incidents.max_upload in soc.yml, or attach the file "
                                 "with soc incidents evidence on the server.")
        ctx.form = await request.form()
    elif kind == "application/x-www-form-urlencoded":
        text = (await _limited(request)).decode("utf-8", "replace")
        fields: list[tuple[str, str | UploadFile]] = list(parse_qsl(text,
                                                                     keep_blank_values=True))
        ctx.form = FormData(fields)
    elif kind == "application/json":
        raw = await _limited(request)
        try:
            ctx.body = json.loads(raw) if raw else {}
        except ValueError:
            raise HttpError(400, "the body is not valid JSON") from None
        if not isinstance(ctx.body, dict):
            raise HttpError(400, "the body must be a JSON object")


async def _limited(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HttpError(413, "the body is too large (1 MiB at most)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HttpError(413, "the body is too large (1 MiB at most)")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_csrf(ctx: Ctx) -> None:
    """A change with a cookie session must carry that session's token."""
    given = ctx.request.headers.get(CSRF_HEADER) or ctx.form.get("csrf")
    session = ctx.session
    if session is None or not isinstance(given, str) or \
            not secrets.compare_digest(given.encode(), session.csrf.encode()):
        raise HttpError(403, "the CSRF token is missing or wrong", key="error.csrf",
                        hint=f"Send the page's token in the form field 'csrf' or the header "
                             f"{CSRF_HEADER}; reload the page if it expired.")


def failure(ctx: Ctx, spec: Spec, exc: SocError) -> Response:
    """A refusal or a library error as JSON (API) or as the error page."""
    status = status_of(exc)
    headers = exc.headers if isinstance(exc, HttpError) else {}
    if spec.api:
        return json_error(status, exc.message, exc.hint, headers)
    key = exc.key if isinstance(exc, HttpError) else None
    response = ctx.render("error.html", status=status,
                          message=ctx.t(key) if key else exc.message, hint=exc.hint)
    response.headers.update(headers)
    return response


def _cookies(ctx: Ctx, response: Response) -> Response:
    """The session and language cookies the request earned."""
    secure = ctx.request.url.scheme == "https"
    if ctx.new_session is not None:
        set_session_cookie(response, ctx.new_session, secure=secure)
    elif ctx.end_session:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True,
                               samesite="strict")
    lang = ctx.request.query_params.get("lang")
    if lang in LANGS and lang != ctx.request.cookies.get(LANG_COOKIE):
        response.set_cookie(LANG_COOKIE, str(lang), max_age=365 * 86400, path="/",
                            secure=secure, httponly=True, samesite="strict")
    return response


def set_session_cookie(response: Response, session: Session, *, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, session.id, path="/", secure=secure, httponly=True,
                        samesite="strict")


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def params(ctx: Ctx) -> dict[str, Any]:
    """The request's query parameters (last value of each)."""
    return dict(ctx.request.query_params)
