"""``soc rules list|check|test``: the rules soc runs, those it cannot, and their samples."""

from __future__ import annotations

from pathlib import Path

import click

from soc.cli.app import App, pass_app
from soc.cli.output import emit_rows, format_options, info
from soc.detection.rules_test import catalog, check, run_tests
from soc.detection.stage import Detector, config_detector, rule_sources
from soc.errors import ExitCode

_rules_option = click.option(
    "-r", "--rules", "rules", multiple=True, metavar="PATH",
    help="Rule file or folder (repeatable). Default: the project's rules/ plus rules.paths.")


def _load(app: App, rules: tuple[str, ...]) -> tuple[Detector, list[Path]]:
    paths = rule_sources(app.config, rules)
    return config_detector(app.config, rules), paths


@click.group("rules")
def rules_group() -> None:
    """The Sigma rules: list the usable ones, check for unusable ones, run their samples.

    Rules come from the project's rules/ and the config's rules.paths (or --rules).
    """


@rules_group.command("list")
@_rules_option
@format_options
@pass_app
def list_cmd(app: App, rules: tuple[str, ...]) -> int:
    """Usable rules and correlations: id, title, level, logsource, status, file."""
    detector, paths = _load(app, rules)
    emit_rows(catalog(detector, paths), ["id", "title", "level", "logsource", "status", "file"])
    info(f"{len(detector.engine.rules)} rule(s), {len(detector.specs)} correlation(s), "
         f"{len(detector.issues)} unusable (see 'soc rules check').")
    return int(ExitCode.OK)


@rules_group.command("check")
@_rules_option
@format_options
@pass_app
def check_cmd(app: App, rules: tuple[str, ...]) -> int:
    """Every rule that cannot be used, with its file and reason (exit 9 when any)."""
    detector, _ = _load(app, rules)
    issues = check(detector)
    emit_rows([i.to_dict() for i in issues], ["file", "id", "stage", "reason"])
    info(f"{len(detector.engine.rules) + len(detector.specs)} usable, {len(issues)} unusable.")
    return int(ExitCode.RULES if issues else ExitCode.OK)


@rules_group.command("test")
@click.argument("rule_ids", nargs=-1, metavar="[RULE_ID]...")
@_rules_option
@format_options
@pass_app
def test_cmd(app: App, rule_ids: tuple[str, ...], rules: tuple[str, ...]) -> int:
    """Run each rule's samples (<rules>/tests/<rule-id>/match*, nomatch*); exit 9 on failure.

    A match* file must make the rule fire at least once, a nomatch* file must not; each file
    is read whole, in order, through the engine and the correlations.
    """
    detector, paths = _load(app, rules)
    report = run_tests(app.config, detector, paths, rule_ids)
    emit_rows([r.to_dict() for r in report.results],
              ["rule_id", "expect", "ok", "fired", "events", "file"])
    for failed in report.failed:
        info(f"FAIL {failed.rule_id} {failed.file}: {failed.explain()}")
    for folder in report.unknown:
        info(f"FAIL {folder}: samples for a rule that is not loaded (or unusable)")
    passed = len(report.results) - len(report.failed)
    info(f"{passed} passed, {len(report.failed)} failed; {len(report.untested)} rule(s) "
         "without samples.")
    return int(ExitCode.OK if report.ok else ExitCode.RULES)


COMMANDS = [rules_group]
