"""docs/cron.md is what a cron operator needs, and its command lines are real soc commands: a
crontab line and a systemd timer, the exit codes to alert on, no flock, log rotation."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from soc.cli.main import cli
from soc.errors import ExitCode

DOC = (Path(__file__).resolve().parent.parent / "docs" / "cron.md").read_text(encoding="utf-8")
SOC = "/opt/soc/venv/bin/soc "


def soc_lines() -> list[str]:
    """Every soc invocation of the page: crontab lines and ExecStart= lines."""
    return [line for line in DOC.splitlines() if SOC in line and not line.startswith(("|", "`"))]


def parse(argv: list[str]) -> click.Context:
    """Resolve ``soc ARGS`` down to the last command, parsing every option (nothing runs)."""
    ctx = cli.make_context("soc", argv)
    command: click.Command = cli
    while isinstance(command, click.Group):
        pending = [*ctx._protected_args, *ctx.args]  # a group keeps its subcommand apart
        name, sub, rest = command.resolve_command(ctx, pending)
        assert sub is not None and name is not None
        ctx, command = sub.make_context(name, rest, parent=ctx), sub
    return ctx


@pytest.mark.parametrize("line", soc_lines())
def test_every_command_line_parses(line: str) -> None:
    words = shlex.split(line.split(SOC, 1)[1])
    argv = [w for w in words if not re.match(r"^\d?>", w)]  # redirections are the shell's
    ctx = parse(argv)
    assert ctx.command.name in {"collect", "status", "retention"}


def test_crontab_line_and_systemd_timer_run_the_same_pass() -> None:
    cron = [line for line in soc_lines() if line.startswith("*/5 ")]
    service = [line for line in soc_lines() if line.startswith("ExecStart=")]
    assert cron and service
    assert cron[0].split(SOC)[1] == service[0].split(SOC)[1] == "-c /etc/soc/soc.yml collect"
    for key in ("[Timer]", "OnCalendar=*:0/5", "Persistent=true", "Type=oneshot",
                "WantedBy=timers.target", "systemctl enable --now soc-collect.timer",
                f"SuccessExitStatus={int(ExitCode.BUSY)}"):
        assert key in DOC, key


@pytest.mark.parametrize("code", [ExitCode.OK, ExitCode.ERROR, ExitCode.CONFIG, ExitCode.STORE,
                                  ExitCode.PARTIAL, ExitCode.BUSY, ExitCode.FINDINGS],
                         ids=lambda c: c.name)
def test_exit_codes_to_alert_on(code: ExitCode) -> None:
    table = DOC.split("## Exit codes to alert on", 1)[1].split("\n## ", 1)[0]
    assert re.search(rf"^\| {int(code)} \| `?\w", table, re.M), code


def test_no_flock_and_log_rotation() -> None:
    assert "no `flock` needed" in DOC and "Do not wrap the command in `flock(1)`" in DOC
    rotate = re.search(r"# /etc/logrotate\.d/soc\n(/var/log/soc/\S+ ?)+ \{\n(.*?)\n\}", DOC,
                       re.S)
    assert rotate is not None
    assert "copytruncate" not in rotate.group(2)  # each pass reopens the file: plain rotation
    assert re.search(r">>/var/log/soc/collect\.jsonl 2>>/var/log/soc/collect\.err$", DOC, re.M)
