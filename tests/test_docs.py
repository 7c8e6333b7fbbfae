"""The docs tell the truth: every command, exit code and setting is documented; the README's
commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from soc.config import TOP_KEYS
from soc.errors import ExitCode
from tests.test_cli import all_commands

ROOT = Path(__file__).resolve().parent.parent


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [p for p in all_commands() if p],
                         ids=lambda p: " ".join(p))
def test_every_command_is_in_the_cli_docs(path: tuple[str, ...]) -> None:
    assert f"soc {' '.join(path)}" in read("docs/cli.md")


@pytest.mark.parametrize("code", list(ExitCode), ids=lambda c: c.name)
def test_every_exit_code_is_documented(code: ExitCode) -> None:
    assert re.search(rf"^\| {int(code)} \| {code.name} \|", read("docs/exit-codes.md"), re.M)


@pytest.mark.parametrize("key", sorted(TOP_KEYS))
def test_every_config_key_is_documented(key: str) -> None:
    assert f"`{key}`" in read("docs/configuration.md")


def test_readme_commands_are_what_ci_runs() -> None:
    readme = read("README.md")
    for command in ("pip install .", "soc demo", "pip install -e '.[test]'", "pytest"):
        assert f"\n{command}\n" in readme
    ci = read(".ci/run")
    assert "pip install -e '.[test]'" in ci
    assert re.search(r"^pytest\b", ci, re.M)
