"""``soc rules list|check|test``: the rules soc runs, those it cannot, and their samples;
``soc rules disable|enable|except|unexcept|tuning|hits``: the tuning, as data, audited."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from soc import tuning_file
from soc.alerts import current_actor
from soc.cli.app import App, pass_app
from soc.cli.output import emit_rows, format_options, info
from soc.cli.search import when
from soc.detection import gate
from soc.detection.rules_test import catalog, check, run_tests
from soc.detection.stage import Detector, config_detector, rule_sources
from soc.ecs import format_ts
from soc.errors import ExitCode, UsageError
from soc.stores.base import open_store

_rules_option = click.option(
    "-r", "--rules", "rules", multiple=True, metavar="PATH",
    help="Rule file or folder (repeatable). Default: the project's rules/ plus rules.paths.")


def _load(app: App, rules: tuple[str, ...]) -> tuple[Detector, list[Path]]:
    paths = rule_sources(app.config, rules)
    return config_detector(app.config, rules), paths


@click.group("rules")
def rules_group() -> None:
    """The Sigma rules: list the usable ones, check for unusable ones, run their samples;
    tune them (disable, enable, except, unexcept, tuning, hits) without editing a rule file.

    Rules come from the project's rules/ and the config's rules.paths (or --rules); the tuning
    from rules.tuning of the config and <data_dir>/tuning.yml, which the tuning commands write.
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


# --- tuning ------------------------------------------------------------------------------------

_actor = click.option("--actor", metavar="NAME", envvar="SOC_ACTOR",
                      help="Who acts, for the audit trail (default: $SOC_ACTOR, else the OS "
                           "user).")
_expires = click.option("--expires", metavar="DATE",
                        help="No longer applies from this date (its start, in the configured "
                             "timezone) or time: 2027-03-01, 2027-03-01T18:00+07:00.")
TUNING_COLUMNS = ["kind", "id", "rule", "where", "state", "reason", "expires", "author",
                  "source"]
APPLIES = ("Applies from the next pass of soc collect / soc ingest; a running soc listen reads it "
           "when reloaded (systemctl reload soc-listen).")


def _change(actor: str | None, reason: str | None,
            expires: str | None = None) -> tuning_file.Change:
    return tuning_file.Change(actor=current_actor(actor), reason=reason or "", expires=expires)


def _warn_unknown(app: App, rule_id: str) -> None:
    """A warning when no loaded rule or correlation has the id (a typo?)."""
    detector = config_detector(app.config)
    known = {r.ir.id for r in detector.engine.rules} | {s.id for s in detector.specs}
    if rule_id not in known:
        info(f"Warning: no loaded rule or correlation has the id {rule_id} (a typo? see "
             "'soc rules list'); the entry is kept for findings that carry it.")


@rules_group.command("disable")
@click.argument("rule_id", metavar="ID")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept in the audit trail).")
@_expires
@_actor
@pass_app
def disable_cmd(app: App, rule_id: str, reason: str, expires: str | None,
                actor: str | None) -> int:
    """Stop running a rule or correlation (again: a new reason or expiry). Audited."""
    with open_store(app.config) as store:
        entry = tuning_file.disable(app.config, store, rule_id,
                                    _change(actor, reason, expires))
    _warn_unknown(app, rule_id)
    until = f" until {entry.expires}" if entry.expires else ""
    info(f"Disabled {rule_id}{until}. {APPLIES}")
    return int(ExitCode.OK)


@rules_group.command("enable")
@click.argument("rule_id", metavar="ID")
@click.option("--reason", metavar="TEXT", help="Why (kept in the audit trail).")
@_actor
@pass_app
def enable_cmd(app: App, rule_id: str, reason: str | None, actor: str | None) -> int:
    """Run a rule that 'soc rules disable' stopped. Audited."""
    with open_store(app.config) as store:
        tuning_file.enable(app.config, store, rule_id, _change(actor, reason))
    info(f"Enabled {rule_id}. {APPLIES}")
    return int(ExitCode.OK)


@rules_group.command("except")
@click.argument("rule_id", metavar="[ID]", required=False)
@click.option("--global", "everywhere", is_flag=True,
              help="For the findings of every rule (instead of ID).")
@click.option("--where", "where", multiple=True, required=True, metavar="FIELD=VALUE",
              help="A condition (repeatable; all must hold; a field given twice takes either "
                   "value). Sigma wildcards * and ?, CIDR for addresses: "
                   "source.ip=10.0.5.0/24.")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept in the audit trail).")
@_expires
@_actor
@pass_app
def except_cmd(app: App, rule_id: str | None, everywhere: bool, where: tuple[str, ...],
               reason: str, expires: str | None, actor: str | None) -> int:
    """Drop the findings of a rule (or, with --global, of every rule) whose event matches the
    conditions: our vulnerability scanner, the backup job. Audited.

    \b
    Examples:
      soc rules except 36ff227e-1995-4b3b-9f2b-bf3e9f807b15 --where source.ip=10.0.5.20 \\
          --reason "our vulnerability scanner" --expires 2027-03-01
      soc rules except --global --where 'user.name=svc_backup' --where host.name=bk01 \\
          --reason "nightly backup job"
    """
    if everywhere == bool(rule_id):
        raise UsageError("give a rule ID or --global (not both)",
                         hint="soc rules except ID --where ... or soc rules except --global "
                              "--where ...")
    with open_store(app.config) as store:
        exc = tuning_file.add_exception(app.config, store, rule_id, where,
                                        _change(actor, reason, expires))
    if rule_id:
        _warn_unknown(app, rule_id)
    info(f"Exception {exc.id} added for {rule_id or 'every rule'}: {exc.condition_text()}. "
         f"{APPLIES}")
    return int(ExitCode.OK)


@rules_group.command("unexcept")
@click.argument("exception_id", metavar="EXCEPTION_ID")
@click.option("--reason", metavar="TEXT", help="Why (kept in the audit trail).")
@_actor
@pass_app
def unexcept_cmd(app: App, exception_id: str, reason: str | None, actor: str | None) -> int:
    """Remove an exception that 'soc rules except' added (its id: 'soc rules tuning'). Audited."""
    with open_store(app.config) as store:
        exc = tuning_file.remove_exception(app.config, store, exception_id,
                                           _change(actor, reason))
    info(f"Exception {exc.id} removed ({exc.rule or 'every rule'}: {exc.condition_text()}). "
         f"{APPLIES}")
    return int(ExitCode.OK)


@rules_group.command("tuning")
@format_options
@pass_app
def tuning_cmd(app: App) -> int:
    """The tuning in use: min_level, disabled rules and exceptions from soc.yml (rules.tuning)
    and from the tuning file, each in force or expired, with where it is written."""
    tuning = tuning_file.effective_tuning(app.config)
    now = datetime.now(UTC)
    if emit_rows(tuning_file.rows(tuning, now), TUNING_COLUMNS) == 0:
        info("No tuning: every rule runs, every finding is an alert.")
    detector = config_detector(app.config)
    for note in gate.tuning_notes(tuning, (r.ir.id for r in detector.engine.rules),
                                  {s.id: s.rules for s in detector.specs}, now):
        info(f"Warning: {note}")
    return int(ExitCode.OK)


@rules_group.command("hits")
@click.argument("rule_id", metavar="[ID]", required=False)
@click.option("--since", metavar="WHEN", default="7d", show_default=True,
              help="From this time (event time): 24h, 30d, or an ISO date.")
@click.option("--until", metavar="WHEN", help="Up to this time.")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="At most this many, newest first (0: all).")
@format_options
@pass_app
def hits_cmd(app: App, rule_id: str | None, since: str, until: str | None, limit: int) -> int:
    """Findings below rules.tuning.min_level: kept as hits, not alerts (of rule ID, if given)."""
    start, end = when(since, "--since"), when(until, "--until")
    with open_store(app.config, readonly=True) as store:
        found = gate.below(store, since=format_ts(start) if start else "",
                           until=format_ts(end) if end else gate.LATEST, rule=rule_id,
                           limit=limit or None)
    if emit_rows([gate.below_row(h) for h in found],
                 ["timestamp", "level", "rule_id", "title", "host", "user", "source_ip",
                  "event_id"]) == 0:
        info("No hits below min_level in that time.")
    return int(ExitCode.OK)


COMMANDS = [rules_group]
