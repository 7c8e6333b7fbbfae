"""``soc web``: the web console (alert queue, alert pages, event search, JSON API)."""

from __future__ import annotations

import click

from soc.cli.app import App, pass_app
from soc.errors import ExitCode


@click.command("web")
@click.option("--host", metavar="HOST",
              help="Address to listen on (default: web.host, else 127.0.0.1). Any address but "
                   "loopback needs web.cert and web.key (TLS).")
@click.option("--port", type=click.IntRange(0, 65535), metavar="N",
              help="Port (default: web.port, else 8080; 0 picks a free one).")
@click.option("--read-only", is_flag=True,
              help="Open the store read-only; every change is refused (409).")
@click.option("--supervised", is_flag=True, hidden=True,
              help="Run as soc listen's child: stop when standard input ends, ignore signals.")
@pass_app
def web_cmd(app: App, host: str | None, port: int | None, read_only: bool,
            supervised: bool) -> int:
    """Serve the console until SIGTERM or SIGINT; prints 'Console: URL' once listening.

    Log in with an account of 'soc users add'. See docs/console.md.
    """
    from soc.web.config import load_web_config
    from soc.web.server import serve

    settings = load_web_config(app.config)
    serve(app.config, settings, host=host or settings.host,
          port=settings.port if port is None else port, read_only=read_only,
          echo=lambda line: click.echo(line), supervised=supervised)
    return int(ExitCode.OK)


COMMANDS = [web_cmd]
