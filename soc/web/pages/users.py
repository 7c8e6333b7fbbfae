"""``/users`` (a lead manages the accounts) and ``/account`` (anyone changes their own password
and API tokens).

The same library calls as ``soc users add|passwd|role|disable|enable|token|revoke``
(:class:`soc.web.accounts.Accounts`), audited under the logged-in user with the console's clock.
What changes who may act ends their sessions at once: a password set by a lead or by the user
(who keeps the session of this request, under a new id), a disabled account. The last enabled
lead cannot be disabled or demoted (:meth:`Accounts.disable`, :meth:`Accounts.set_role`), so
the accounts never lose their manager.

Account changes are made from a logged-in session only, never with an API token: a token that
leaked must not be able to mint more tokens or change a password.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from soc.web import i18n
from soc.web.accounts import ROLES, Accounts, User, user_name
from soc.web.context import Ctx, HttpError, Spec, redirect
from soc.web.guard import retry_after

MAX_FIELD = 1024

i18n.add({
    "nav.users": ("Tài khoản", "Accounts"),
    "nav.account": ("Tài khoản của tôi", "My account"),
    "users.title": ("Quản lý tài khoản", "Accounts"),
    "users.name": ("Tên đăng nhập", "User name"),
    "users.role": ("Vai trò", "Role"),
    "users.state": ("Trạng thái", "State"),
    "users.enabled": ("đang dùng", "enabled"),
    "users.disabled": ("đã khóa", "disabled"),
    "users.created": ("Tạo lúc", "Created"),
    "users.changed": ("Sửa lúc", "Changed"),
    "users.tokens": ("Token API", "API tokens"),
    "users.set_role": ("Đổi vai trò", "Set role"),
    "users.disable": ("Khóa", "Disable"),
    "users.enable": ("Mở khóa", "Enable"),
    "users.revoke": ("Thu hồi", "Revoke"),
    "users.password": ("Mật khẩu", "Password"),
    "users.new_password": ("Mật khẩu mới (ít nhất 12 ký tự)",
                           "New password (12 characters at least)"),
    "users.set_password": ("Đặt mật khẩu", "Set password"),
    "users.add": ("Thêm tài khoản", "Add an account"),
    "users.none": ("Chưa có tài khoản nào.", "No accounts yet."),
    "users.roles_note": ("viewer: chỉ xem; analyst: xử lý cảnh báo và sự cố; lead: thêm báo "
                         "cáo, tinh chỉnh luật, quản lý tài khoản.",
                         "viewer reads; analyst also triages and works incidents; lead also "
                         "reports, tunes the rules and manages the accounts."),
    "account.title": ("Tài khoản của tôi", "My account"),
    "account.current": ("Mật khẩu hiện tại", "Current password"),
    "account.confirm": ("Nhập lại mật khẩu mới", "New password again"),
    "account.change": ("Đổi mật khẩu", "Change password"),
    "account.changed": ("Đã đổi mật khẩu; các phiên khác của bạn đã kết thúc.",
                        "Password changed; your other sessions have ended."),
    "account.throttled": ("Sai mật khẩu quá nhiều lần: hãy thử lại sau.",
                          "Too many wrong passwords: try again later."),
    "account.wrong": ("Mật khẩu hiện tại không đúng.", "The current password is wrong."),
    "account.mismatch": ("Hai lần nhập mật khẩu mới không khớp.",
                         "The two new passwords differ."),
    "account.label": ("Nhãn (tên script dùng token)", "Label (the script it is for)"),
    "account.issue": ("Tạo token", "Issue a token"),
    "account.token_once": ("Token mới, chỉ hiện một lần: hãy lưu lại ngay. Gửi kèm "
                           "'Authorization: Bearer TOKEN' tới /api.",
                           "The new token, shown once: keep it now. Send it as "
                           "'Authorization: Bearer TOKEN' to /api."),
    "account.no_tokens": ("Chưa có token.", "No tokens."),
    "account.last_used": ("Dùng lần cuối", "Last used"),
})


def _session_only(ctx: Ctx) -> None:
    if ctx.via == "token":
        raise HttpError(403, "accounts are changed from a logged-in session, not with a token",
                        hint="Log in to the console, or use 'soc users' on the server.")


def _text(ctx: Ctx, name: str) -> str:
    value = ctx.field(name)
    if len(value) > MAX_FIELD:
        raise HttpError(400, f"{name} is too long", hint=f"At most {MAX_FIELD} characters.")
    return value


def _accounts_rows(accounts: Accounts) -> list[dict[str, Any]]:
    return [{**user.to_dict(), "tokens": accounts.tokens(user.name)}
            for user in accounts.list()]


# --- /users (lead) -----------------------------------------------------------------------------


def users_page(ctx: Ctx) -> Response:
    """Every account, its role, state and token labels; the lead's forms."""
    with ctx.web.store() as store:
        rows = _accounts_rows(ctx.web.accounts(store))
    return ctx.render("users.html", users=rows, roles=ROLES)


def _on_account(ctx: Ctx, change: Callable[[Accounts, str, str], object], *,
                ends_sessions: bool = False) -> Response:
    """``change(accounts, name, actor)`` on the account in the path, then back to the list;
    ``ends_sessions``: whoever is logged in as it must log in again."""
    _session_only(ctx)
    name = str(ctx.request.path_params["name"])
    with ctx.web.store(write=True) as store:
        change(ctx.web.accounts(store), name, ctx.actor)
    if ends_sessions:
        ctx.web.sessions.drop_user(user_name(name))
    return redirect("/users")


def set_role(ctx: Ctx) -> Response:
    role = _text(ctx, "role")
    return _on_account(ctx, lambda a, name, actor: a.set_role(name, role, actor))


def disable(ctx: Ctx) -> Response:
    return _on_account(ctx, Accounts.disable, ends_sessions=True)


def enable(ctx: Ctx) -> Response:
    return _on_account(ctx, Accounts.enable)


def set_password(ctx: Ctx) -> Response:
    password = _text(ctx, "password")
    return _on_account(ctx, lambda a, name, actor: a.passwd(name, password, actor),
                       ends_sessions=True)


def revoke_users_token(ctx: Ctx) -> Response:
    label = str(ctx.request.path_params["label"])
    return _on_account(ctx, lambda a, name, actor: a.revoke_token(name, label, actor))


def add_user(ctx: Ctx) -> Response:
    """``soc users add NAME --role ROLE`` with the password of the form."""
    _session_only(ctx)
    with ctx.web.store(write=True) as store:
        ctx.web.accounts(store).add(_text(ctx, "name").strip(), _text(ctx, "role"),
                                    _text(ctx, "password"), ctx.actor)
    return redirect("/users")


# --- /account (anyone logged in) ---------------------------------------------------------------


def account_page(ctx: Ctx, *, token: str | None = None, message: str | None = None,
                 error: str | None = None, status: int = 200) -> Response:
    """The caller's account: their tokens, the password form, the token form."""
    user = _me(ctx)
    with ctx.web.store() as store:
        tokens = ctx.web.accounts(store).tokens(user.name)
    return ctx.render("account.html", status=status, me=user, tokens=tokens, token=token,
                      message=message, error=error)


def _me(ctx: Ctx) -> User:
    if ctx.user is None:
        raise HttpError(401, "log in first")
    return ctx.user


def change_password(ctx: Ctx) -> Response:
    """The caller's new password, after the current one; every other session of theirs ends
    and this one goes on under a new id."""
    _session_only(ctx)
    me = _me(ctx)
    new = _text(ctx, "password")
    if new != _text(ctx, "confirm"):
        return account_page(ctx, error=ctx.t("account.mismatch"), status=400)
    web, address = ctx.web, ctx.address
    wait = web.throttle.wait(me.name, address)  # a stolen session may not guess at will
    if wait > 0:
        raise HttpError(429, f"too many wrong passwords: wait {math.ceil(wait)} s",
                        key="account.throttled", hint="Try again later.",
                        headers=retry_after(wait))
    with web.store(write=True) as store:
        accounts = web.accounts(store)
        if accounts.authenticate(me.name, _text(ctx, "current")) is None:
            web.throttle.failed(me.name, address)
            return account_page(ctx, error=ctx.t("account.wrong"), status=403)
        accounts.passwd(me.name, new, me.name)
    web.throttle.succeeded(me.name, address)
    web.sessions.drop_user(me.name)
    ctx.new_session = web.sessions.login(None, me.name)
    return account_page(ctx, message=ctx.t("account.changed"))


def issue_token(ctx: Ctx) -> Response:
    """A new API token of the caller's, shown once on the page that answers."""
    _session_only(ctx)
    me = _me(ctx)
    with ctx.web.store(write=True) as store:
        token = ctx.web.accounts(store).issue_token(me.name, _text(ctx, "label").strip(),
                                                    me.name)
    response = account_page(ctx, token=token)
    response.headers["Cache-Control"] = "no-store"
    return response


def revoke_token(ctx: Ctx) -> Response:
    """Withdraw one of the caller's tokens."""
    _session_only(ctx)
    me = _me(ctx)
    with ctx.web.store(write=True) as store:
        ctx.web.accounts(store).revoke_token(me.name, str(ctx.request.path_params["label"]),
                                             me.name)
    return redirect("/account")


ROUTES = [
    Spec("/users", users_page, need="lead", name="users"),
    Spec("/users", add_user, methods=("POST",), need="lead", change=True, name="users-add"),
    Spec("/users/{name}/role", set_role, methods=("POST",), need="lead", change=True,
         name="user-role"),
    Spec("/users/{name}/disable", disable, methods=("POST",), need="lead",
         change=True, name="user-disable"),
    Spec("/users/{name}/enable", enable, methods=("POST",), need="lead",
         change=True, name="user-enable"),
    Spec("/users/{name}/password", set_password, methods=("POST",), need="lead",
         change=True, name="user-password"),
    Spec("/users/{name}/tokens/{label}/revoke", revoke_users_token, methods=("POST",),
         need="lead", change=True, name="user-revoke"),
    Spec("/account", account_page, name="account"),
    Spec("/account/password", change_password, methods=("POST",), change=True,
         name="account-password"),
    Spec("/account/tokens", issue_token, methods=("POST",), change=True,
         name="account-token"),
    Spec("/account/tokens/{label}/revoke", revoke_token, methods=("POST",), change=True,
         name="account-revoke"),
]
