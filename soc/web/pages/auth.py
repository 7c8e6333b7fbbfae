"""``/login`` and ``/logout``: a password login with throttling and a fresh session id.

GET ``/login`` gives the visitor an anonymous session holding the form's CSRF token. POST
checks that token, asks :class:`LoginThrottle` whether this name and address must wait (429
with ``Retry-After``), then :meth:`Accounts.authenticate`; a success drops the old session and
starts a new one under a new id (no session fixation), then goes to ``next`` when it is a path
of this site.
"""

from __future__ import annotations

from starlette.responses import Response

from soc.web.context import Ctx, HttpError, Spec, redirect, safe_next
from soc.web.guard import retry_after

MAX_NAME = 200
MAX_PASSWORD = 1024


def login_form(ctx: Ctx) -> Response:
    """The login page (already logged in: on to ``next``)."""
    if ctx.user is not None:
        return redirect(safe_next(ctx.query("next")))
    if ctx.session is None:
        ctx.new_session = ctx.web.sessions.anonymous()
    return ctx.render("login.html", next=safe_next(ctx.query("next")), error=None, name="")


def login(ctx: Ctx) -> Response:
    """Check the password; on success a new session, on failure the form again."""
    web = ctx.web
    name = ctx.field("username").strip()[:MAX_NAME]
    password = ctx.field("password")[:MAX_PASSWORD]
    target = safe_next(ctx.field("next") or ctx.query("next"))
    address = ctx.address
    wait = web.throttle.wait(name, address)
    if wait > 0:
        page = ctx.render("login.html", status=429, next=target, name=name,
                          error=ctx.t("login.throttled", seconds=int(wait + 0.999)))
        page.headers.update(retry_after(wait))
        return page
    with web.store(write=True) as store:  # a hash with old parameters is renewed
        user = web.accounts(store).authenticate(name, password)
    if user is None:
        web.throttle.failed(name, address)
        return ctx.render("login.html", status=401, next=target, name=name,
                          error=ctx.t("login.failed"))
    web.throttle.succeeded(name, address)
    ctx.new_session = web.sessions.login(ctx.session.id if ctx.session else None, user.name)
    return redirect(target)


def logout(ctx: Ctx) -> Response:
    """End the session; back to the login page."""
    if ctx.session is None:
        raise HttpError(401, "no session to end")
    ctx.web.sessions.drop(ctx.session.id)
    ctx.end_session = True
    return redirect("/login")


def home(ctx: Ctx) -> Response:
    return redirect("/overview")


ROUTES = [
    Spec("/login", login_form, need=None, name="login"),
    Spec("/login", login, methods=("POST",), need=None, name="login-post"),
    Spec("/logout", logout, methods=("POST",), name="logout"),
    Spec("/", home, name="home"),
]
