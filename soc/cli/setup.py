"""``soc init``, ``soc demo`` and ``soc config show``."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

import click

from soc.cli.app import App, pass_app
from soc.cli.output import (
    Format,
    current_format,
    emit_object,
    emit_rows,
    format_options,
    info,
    local_time,
)
from soc.demo.demo import DemoResult, run_demo
from soc.errors import ExitCode
from soc.init import init_project


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing soc.yml.")
def init_cmd(directory: Path, force: bool) -> int:
    """Write a commented starter soc.yml and the data directory."""
    path = init_project(directory, force=force)
    # -v belongs to soc, before the command; the path is quoted for the shell
    info(f"Wrote {path}. Edit its inventory and sources, then run: "
         f"soc -v -c {shlex.quote(str(path))} collect")
    return int(ExitCode.OK)


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's logs, config and store (default: a new temporary one).")
@format_options
def demo_cmd(directory: Path | None) -> int:
    """Run the main job end to end on a small story, into a fresh embedded store."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="soc-demo-"))
    elif directory.exists() and any(directory.iterdir()):
        from soc.errors import SocError

        raise SocError(f"{directory} is not empty", hint="Give a new or empty folder to --dir.")
    result = run_demo(directory.resolve())
    _show(result)
    return int(ExitCode.OK if result.report.ok else ExitCode.PARTIAL)


STORY = ("the provincial portal is scanned, attacked on the web (SQL injection, a webshell) and "
         "brute-forced over SSH; the intruder adds a sudo user, then reaches the file server")


def _show(r: DemoResult) -> None:
    head = {"story": STORY, "folder": str(r.directory), "config": str(r.config),
            "collected": r.report.summary(), "datasets": r.datasets}
    if current_format() is not Format.TABLE:  # one document for machines
        emit_object({**head, "failures_by_ip": r.failures_by_ip, "alerts": r.alerts,
                     "incident": r.incident, "due": r.due,
                     "reports": [str(p) for p in r.reports],
                     "notifications": r.notifications})
        return
    emit_object(head)
    click.echo("\n== Failed SSH logins by source ==")
    emit_rows(r.failures_by_ip, ["source.ip", "failures", "users"])
    click.echo("\n== Successful logins from a source with many failures ==")
    emit_rows(r.success_after_failures,
              ["@timestamp", "host.name", "user.name", "source.ip", "event.action"])
    click.echo("\n== Privileged changes ==")
    emit_rows(r.privileged, ["@timestamp", "event.action", "user.name", "process.command_line"])
    if r.alerts:
        click.echo("\n== Alerts ==")
        emit_rows(r.alerts, ["severity", "rule_title", "count", "entity"])
    if r.incident:
        click.echo(f"\n== Incident {r.incident['id']} opened with playbook "
                   f"{r.incident['playbook']}, T0 {local_time(r.incident['t0'])}: next steps ==")
        emit_rows([d for d in r.due if d["kind"] != "report"][:5],
                  ["deadline", "left", "step", "title"])
        click.echo(f"\n== Reports due under profile {r.incident['profile']} ==")
        emit_rows([{**d, "deadline": d["deadline"] or d["rule"]} for d in r.due
                   if d["kind"] == "report"], ["deadline", "left", "step", "title", "to"])
    if r.reports:
        click.echo("\n== Reports written (soc report due lists what else is due) ==")
        for path in r.reports:
            click.echo(str(path))
    if r.notifications:
        n = r.notifications
        click.echo(f"\n== Notifications that would have been sent: {n['count']} "
                   f"(the file channel 'journal') ==")
        for subject in n["subjects"]:
            click.echo(f"- {subject}")
        click.echo(f"All of them, one JSON line each: {n['path']}")
    info(f"\nExplore: soc -c {r.config} search 'source.ip:203.0.113.45' --since 1d; "
         f"soc -c {r.config} status; soc -c {r.config} report due")


@click.group("config")
def config_group() -> None:
    """Show and check the configuration."""


@config_group.command("show")
@format_options
@pass_app
def config_show_cmd(app: App) -> int:
    """The effective configuration, with every secret redacted."""
    emit_object(app.config.to_dict())
    return int(ExitCode.OK)


@config_group.command("check")
@pass_app
def config_check_cmd(app: App) -> int:
    """Load the configuration and report the first error with its file and line."""
    config = app.config
    info(f"{config.path or 'defaults (no soc.yml)'}: OK, {len(config.sources)} source(s), "
         f"{len(config.systems)} system(s), {len(config.units)} unit(s).")
    return int(ExitCode.OK)


COMMANDS = [init_cmd, demo_cmd, config_group]
