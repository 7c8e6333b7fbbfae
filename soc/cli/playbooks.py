"""``soc playbooks list|show|validate|export``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from soc.cli.app import App, pass_app
from soc.cli.output import (
    Format,
    current_format,
    emit_object,
    emit_rows,
    escape,
    format_options,
    info,
)
from soc.errors import ExitCode, NotFoundError
from soc.response import playbooks as lib
from soc.response.incidents import load_playbooks, playbook_dirs
from soc.response.profiles import report_kinds


@click.group("playbooks")
def playbooks_group() -> None:
    """Incident-response playbooks: list, show, validate, export (CACAO v2)."""


def _get(app: App, playbook_id: str) -> lib.Playbook:
    books = load_playbooks(app.config)
    if playbook_id not in books:
        raise NotFoundError(f"no playbook {playbook_id!r} (known: {', '.join(sorted(books))})",
                            hint="List them with 'soc playbooks list'.")
    return books[playbook_id]


@playbooks_group.command("list")
@format_options
@pass_app
def list_cmd(app: App) -> int:
    """The playbooks (shipped, and those of incidents.playbooks in soc.yml)."""
    rows = [{"id": b.id, "version": b.version, "type": b.incident_type, "severity": b.severity,
             "classification": b.classification, "steps": len(b.steps),
             "next_review": b.next_review.isoformat(), "title": b.title.vi,
             "title_en": b.title.en} for b in load_playbooks(app.config).values()]
    emit_rows(rows, ["id", "version", "type", "severity", "steps", "next_review", "title"])
    return int(ExitCode.OK)


@playbooks_group.command("show")
@click.argument("playbook_id")
@format_options
@pass_app
def show_cmd(app: App, playbook_id: str) -> int:
    """One playbook: triggers, phases and steps."""
    book = _get(app, playbook_id)
    if current_format() is not Format.TABLE:
        emit_object(book.to_dict())
        return int(ExitCode.OK)
    emit_object({"id": book.id, "title": str(book.title), "version": book.version,
                 "reviewed": book.reviewed.isoformat(),
                 "next_review": book.next_review.isoformat(), "type": book.incident_type,
                 "severity": book.severity, "classification": book.classification,
                 "triggers": book.triggers.to_dict(), "file": book.path})
    rows = [{"phase": s.phase, "id": s.id, "kind": s.kind.value, "role": s.role,
             "due": s.due.to_dict() if s.due else ("profile" if s.report else ""),
             "when": s.when, "title": s.title.vi} for s in book.steps]
    click.echo()
    emit_rows(rows, ["phase", "id", "kind", "role", "due", "when", "title"])
    return int(ExitCode.OK)


@playbooks_group.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Also check that trigger rule ids exist under these folders (default: the "
                   "project's rules/ and rules.paths).")
@pass_app
def validate_cmd(app: App, files: tuple[Path, ...], rule_dirs: tuple[Path, ...]) -> int:
    """Check playbook files (default: all); every problem as file:line (exit 3 if any)."""
    paths = list(files) or lib.playbook_files(playbook_dirs(app.config))
    known = lib.known_rule_ids(rule_dirs or (lib.RULES_DIR, *app.config.rules.paths))
    issues = lib.validate_files(paths, known_rules=known, report_kinds=report_kinds())
    for issue in issues:
        click.echo(escape(str(issue)), err=True)
    bad = len({i.path for i in issues})
    info(f"{len(paths) - bad} of {len(paths)} playbook(s) valid.")
    return int(ExitCode.CONFIG if issues else ExitCode.OK)


@playbooks_group.command("export")
@click.argument("playbook_id")
@click.option("--format", "fmt", type=click.Choice(["cacao", "json"]), default="cacao",
              show_default=True, help="cacao: OASIS CACAO v2.0; json: this format as JSON.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file (default: stdout).")
@pass_app
def export_cmd(app: App, playbook_id: str, fmt: str, output: Path | None) -> int:
    """Export a playbook (CACAO v2.0 JSON: manual steps with owners, order, branches)."""
    from soc.response.cacao import to_cacao

    book = _get(app, playbook_id)
    doc = to_cacao(book) if fmt == "cacao" else book.to_dict()
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        info(f"Wrote {output}")
    else:
        click.echo(text)
    return int(ExitCode.OK)


COMMANDS = [playbooks_group]
