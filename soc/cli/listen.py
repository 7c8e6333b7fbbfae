"""``soc listen``: the syslog receiver (UDP, TCP, TLS) and live-capture daemon."""

from __future__ import annotations

import logging

import click

from soc.cli.app import App, pass_app
from soc.cli.output import Format, current_format, emit_object, format_options, info
from soc.errors import ExitCode
from soc.listen.daemon import check_listen, listen


def _logging(verbose: int) -> None:
    """Daemon messages on stderr (journald keeps them): lifecycle at INFO, problems above."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("soc")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


@click.command("listen")
@click.option("--check", is_flag=True,
              help="Validate the listen: settings (and TLS files) and the network captures, "
                   "print them, and exit.")
@click.option("--no-detect", is_flag=True, help="Store events without running the rules.")
@click.option("--web/--no-web", default=None,
              help="Serve the web console too (a supervised 'soc web' child, with the web: "
                   "settings), or not, whatever listen.web says.")
@format_options
@pass_app
def listen_cmd(app: App, check: bool, no_detect: bool, web: bool | None) -> int:
    """Receive syslog over UDP, TCP and TLS, and capture network traffic (network.capture),
    until SIGTERM (run it as a service).

    Every accepted message, and every event the network sensor makes of the captured traffic,
    is written to a durable spool in the data directory, then enriched, matched against the
    rules and stored by the same pipeline as 'soc collect'. SIGTERM or SIGINT stops accepting,
    ends the open flows, spools and drains what was received, and exits 0. SIGHUP reloads the
    rules and the rules: settings; when they have a new problem the running rules stay and one
    error is logged. Rule files that cannot be used are named in one warning at start and after
    each reload; the daemon runs with the others.
    With --web (or listen.web: true) it serves the console as 'soc web' does, restarting it
    if it fails; its URL is logged and kept in listen.json.
    Counters: <data_dir>/listen.json (also in 'soc status'). See docs/listen.md and
    docs/network-sensor.md.
    """
    if check:
        emit_object(check_listen(app.config, web=web))
        return int(ExitCode.OK)
    _logging(app.verbose)
    final = listen(app.config, detect=not no_detect, web=web)
    if current_format() is not Format.TABLE:
        emit_object(final)
    captured = sum(c["events"] for c in final["captures"])
    drops = sum(c["kernel_drops"] for c in final["captures"])
    info(f"soc listen: {final['received']} received, {final['spooled']} spooled, "
         + (f"{captured} captured event(s) ({drops} packet(s) dropped), " if final["captures"]
            else "")
         + f"{final['drain']['events']} stored, {final['drain']['dead_letters']} dead "
         f"letter(s), {final['dropped']} dropped")
    return int(ExitCode.OK)


COMMANDS = [listen_cmd]
