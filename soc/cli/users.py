"""``soc users add|passwd|role|disable|enable|list|token|revoke``: the web console's accounts
(soc.web.accounts), every change audited under the acting user."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from soc.alerts import current_actor
from soc.cli.app import App, pass_app
from soc.cli.output import Format, current_format, emit_rows, format_options, info
from soc.errors import ExitCode
from soc.stores.base import open_store
from soc.web.accounts import ROLES, AccountError, Accounts

COLUMNS = ["name", "role", "disabled", "created", "changed", "tokens"]
_actor = click.option("--actor", metavar="NAME", envvar="SOC_ACTOR",
                      help="Who acts, for the audit trail (default: $SOC_ACTOR, else the OS "
                           "user).")
_role = click.Choice(ROLES)


@click.group("users")
def users_group() -> None:
    """Accounts of the web console: add, change, disable, list; API tokens.

    Roles: viewer (reads), analyst (also triages alerts and works incidents), lead (also
    reports, tuning and accounts). Every change is written to the audit trail.
    """


def read_password(prompt: str = "Password") -> str:
    """The new password: one line of standard input when it is not a terminal (its newline
    stripped), else asked twice without echo."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise AccountError("no password on standard input",
                               hint="Pipe it in: printf '%s\\n' \"$PASSWORD\" | soc users ...")
        return line.rstrip("\r\n")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True))


def _change(app: App, act: Callable[[Accounts], object], done: str) -> int:
    with open_store(app.config) as store:
        act(Accounts(store, data_dir=app.config.data_dir))
    info(done)
    return int(ExitCode.OK)


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=_role, required=True, help="What the account may do.")
@_actor
@pass_app
def add_cmd(app: App, name: str, role: str, actor: str | None) -> int:
    """Create the account NAME; its password (12 characters at least) comes from standard
    input when that is not a terminal, else from a hidden prompt.

    \b
    printf '%s\\n' "$PASSWORD" | soc users add an.nguyen --role analyst
    """
    who, password = current_actor(actor), read_password()
    return _change(app, lambda a: a.add(name, role, password, who),
                   f"Added {name.casefold()} ({role}).")


@users_group.command("passwd")
@click.argument("name")
@_actor
@pass_app
def passwd_cmd(app: App, name: str, actor: str | None) -> int:
    """Set a new password for NAME (read as 'add' reads it)."""
    who, password = current_actor(actor), read_password("New password")
    return _change(app, lambda a: a.passwd(name, password, who),
                   f"Changed the password of {name.casefold()}.")


@users_group.command("role")
@click.argument("name")
@click.argument("role", type=_role)
@_actor
@pass_app
def role_cmd(app: App, name: str, role: str, actor: str | None) -> int:
    """Give NAME another ROLE."""
    who = current_actor(actor)
    return _change(app, lambda a: a.set_role(name, role, who),
                   f"{name.casefold()} is now {role}.")


@users_group.command("disable")
@click.argument("name")
@_actor
@pass_app
def disable_cmd(app: App, name: str, actor: str | None) -> int:
    """Refuse NAME's logins and API tokens (the account stays, for the audit trail)."""
    who = current_actor(actor)
    return _change(app, lambda a: a.disable(name, who), f"Disabled {name.casefold()}.")


@users_group.command("enable")
@click.argument("name")
@_actor
@pass_app
def enable_cmd(app: App, name: str, actor: str | None) -> int:
    """Let a disabled NAME log in again."""
    who = current_actor(actor)
    return _change(app, lambda a: a.enable(name, who), f"Enabled {name.casefold()}.")


@users_group.command("list")
@click.option("--format", "fmt", type=click.Choice([f.value for f in Format]),
              help="table, json or nl (default: table; --json and --nl say the same).")
@format_options
@pass_app
def list_cmd(app: App, fmt: str | None) -> int:
    """The accounts: name, role, disabled, created, changed, token labels (never a hash)."""
    with open_store(app.config, readonly=True) as store:
        accounts = Accounts(store)
        rows = [_row(accounts, u.name, u.to_dict()) for u in accounts.list()]
    chosen = Format(fmt) if fmt else current_format()
    if chosen is Format.TABLE:
        rows = [{**r, "tokens": ", ".join(t["label"] for t in r["tokens"])} for r in rows]
    if not emit_rows(rows, COLUMNS, chosen) and chosen is Format.TABLE:
        info("No accounts yet: add one with 'soc users add NAME --role lead'.")
    return int(ExitCode.OK)


def _row(accounts: Accounts, name: str, user: dict[str, Any]) -> dict[str, Any]:
    return {**user, "tokens": accounts.tokens(name)}


@users_group.command("token")
@click.argument("name")
@click.option("--label", required=True, metavar="LABEL",
              help="What the token is for (a script's name); revoke it by this label.")
@_actor
@pass_app
def token_cmd(app: App, name: str, label: str, actor: str | None) -> int:
    """Issue an API token for NAME and print it, once: only its digest is kept.

    Scripts send it as 'Authorization: Bearer TOKEN' to the console's /api.
    """
    who = current_actor(actor)
    with open_store(app.config) as store:
        token = Accounts(store, data_dir=app.config.data_dir).issue_token(name, label, who)
    click.echo(token)
    info(f"Token {label!r} of {name.casefold()}: shown once, keep it now. "
         f"Withdraw it with 'soc users revoke {name.casefold()} --label {label}'.")
    return int(ExitCode.OK)


@users_group.command("revoke")
@click.argument("name")
@click.option("--label", required=True, metavar="LABEL", help="The token to withdraw.")
@_actor
@pass_app
def revoke_cmd(app: App, name: str, label: str, actor: str | None) -> int:
    """Withdraw NAME's API token LABEL."""
    who = current_actor(actor)
    return _change(app, lambda a: a.revoke_token(name, label, who),
                   f"Revoked the token {label!r} of {name.casefold()}.")


COMMANDS = [users_group]
