"""The ``soc`` command: global options, the command groups, and the one place errors become text."""

from __future__ import annotations

import os
import sys
import traceback

import click

from soc import __version__
from soc.cli.app import App
from soc.cli.output import escape
from soc.errors import ExitCode, SocError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-c", "--config", "config_path", metavar="FILE", envvar="SOC_CONFIG",
              help="Configuration file (default: ./soc.yml, or $SOC_CONFIG).")
@click.option("--data-dir", metavar="DIR", envvar="SOC_DATA_DIR",
              help="Data directory, overriding the config's data_dir.")
@click.option("-v", "--verbose", count=True, help="Say more on stderr (repeatable).")
@click.option("--traceback", "show_traceback", is_flag=True,
              help="Show the Python stack of an error.")
@click.version_option(__version__, prog_name="soc")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, data_dir: str | None, verbose: int,
        show_traceback: bool) -> None:
    """soc: collect logs, detect with Sigma rules, guide incident response, write reports.

    Exit codes: 0 ok, 1 error, 2 usage, 3 config, 4 store, 5 partial, 6 busy (another pass runs),
    7 not found, 8 input, 9 rules, 10 findings. See docs/exit-codes.md.
    """
    ctx.obj = App(config_path=config_path, data_dir=data_dir, verbose=verbose)
    ctx.meta["soc.traceback"] = show_traceback


def _register() -> None:
    from soc.cli import (
        alerts,
        audit,
        collect,
        detect,
        incidents,
        intel,
        listen,
        notify,
        playbooks,
        reports,
        rules,
        search,
        setup,
        status,
        store,
        users,
        web,
    )

    for module in (alerts, collect, detect, rules, search, setup, status, store, audit,
                   incidents, playbooks, listen, reports, notify, intel, users, web):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def _report(exc: SocError, show_traceback: bool) -> None:
    if show_traceback:
        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"Error: {escape(str(exc))}", err=True)
    if exc.hint:
        click.echo(f"Hint: {escape(exc.hint)}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: runs ``cli`` and turns errors into exit codes."""
    args = sys.argv[1:] if argv is None else argv
    show_traceback = "--traceback" in args
    try:
        result = cli.main(args=args, prog_name="soc", standalone_mode=False)
    except SocError as exc:
        _report(exc, show_traceback)
        return int(exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as exc:  # noqa: BLE001 - the last line of defence prints, then exits 1
        if show_traceback:
            traceback.print_exception(exc, file=sys.stderr)
        click.echo(f"Error: unexpected {type(exc).__name__}: {escape(str(exc))}", err=True)
        click.echo("Hint: this is a bug in soc; run again with --traceback and report it.",
                   err=True)
        return int(ExitCode.ERROR)
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


PRIVATE_UMASK = 0o077
"""Files soc creates (the data directory, the store, spools, state, caches, reports) are its
user's alone: collected logs hold what attackers and citizens typed. ``SOC_UMASK`` (octal,
e.g. ``027`` for a group of analysts) widens it."""


def run() -> None:
    """The console script (and ``python -m soc``): a private umask, then :func:`main`."""
    os.umask(_umask(os.environ.get("SOC_UMASK")))
    sys.exit(main())


def _umask(text: str | None) -> int:
    try:
        return int(text, 8) & 0o777 if text else PRIVATE_UMASK
    except ValueError:
        click.echo(f"Warning: SOC_UMASK={escape(text or '')!r} is not octal; using 077.",
                   err=True)
        return PRIVATE_UMASK


if __name__ == "__main__":
    run()
