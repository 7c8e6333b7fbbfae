"""``soc report incident|daily|weekly|monthly|half-year|mau05|mau08|due|kinds``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from soc.cli.app import App, pass_app
from soc.cli.output import Format as OutputFormat
from soc.cli.output import current_format, emit_object, emit_rows, format_options, info
from soc.errors import ExitCode, InputError
from soc.reports.forms import Document, parse_sets, to_dict
from soc.reports.render import Format, render, write
from soc.timeutil import parse_duration

F = TypeVar("F", bound=Callable[..., Any])
DUE_COLUMNS = ["deadline", "left", "report", "about", "title", "to", "command"]


def _output_options(func: F) -> F:
    func = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
                        help="Fill or correct a field (repeatable); fields: --json lists them.")(
        func)
    func = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                        help="File to write (default: Markdown on stdout).")(func)
    func = click.option("-f", "--format", "format_", type=click.Choice([f.value for f in Format]),
                        help="html (inline SVG charts), md or docx (default: from -o's suffix).")(
        func)
    return format_options(func)


def _deliver(doc: Document, format_: str | None, output: Path | None, app: App) -> int:
    from soc.reports.settings import load_settings

    if output is None and format_ is None and current_format() is not OutputFormat.TABLE:
        emit_object(to_dict(doc))  # --json / --nl: the document's fields, figures and tables
        return int(ExitCode.OK)
    fmt = Format.of(output, format_)
    if output is None and fmt is Format.DOCX:
        raise InputError("a DOCX report needs a file", hint="Add -o report.docx.")
    data = render(doc, fmt, templates=load_settings(app.config).templates)
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        write(data, output)
        emit_object({"kind": doc.kind, "file": str(output), "format": fmt.value,
                     "subject": doc.subject, "to": list(doc.recipients),
                     "missing": doc.missing()})
    if doc.missing():
        info(f"Warning: {len(doc.missing())} required field(s) are marked "
             f"'(chưa có thông tin)': {'; '.join(doc.missing())}. Fill them with --set FIELD=VALUE "
             "or in soc.yml (reports:).")
    return int(ExitCode.OK)


@click.group("report")
def report_group() -> None:
    """Incident notices and reports, periodic monitoring reports (HTML, Markdown, DOCX).

    Kinds, due dates and recipients come from the active regulatory profile (soc report due).
    """


@report_group.command("incident")
@click.argument("incident_id", metavar="INCIDENT")
@click.argument("kind", required=False)
@_output_options
@pass_app
def incident_cmd(app: App, incident_id: str, kind: str | None, format_: str | None,
                 output: Path | None, sets: tuple[str, ...]) -> int:
    """The document of one report duty for an incident (default: the next one due)."""
    from soc.reports.incident import incident_document
    from soc.stores.base import open_store

    with open_store(app.config, readonly=True) as store:
        doc, duty = incident_document(store, app.config, incident_id, kind,
                                      values=parse_sets(sets))
    info(f"{duty.id}: {duty.title.vi}; e-mail subject: {doc.subject}")
    return _deliver(doc, format_, output, app)


def _periodic(kind: str, help_text: str) -> click.Command:
    @click.command(kind, help=help_text)
    @click.option("--period", "period_text", metavar="PERIOD",
                  help="2026-11-24, 2026-W48, 2026-11, 2026-H1 or 2026 (default: the last "
                       "complete period).")
    @click.option("--unit", metavar="ID", help="Only this unit of the inventory.")
    @click.option("--system", metavar="ID", help="Only this system of the inventory.")
    @_output_options
    @pass_app
    def command(app: App, period_text: str | None, unit: str | None, system: str | None,
                format_: str | None, output: Path | None, sets: tuple[str, ...]) -> int:
        from soc.pipeline.collect import state_path
        from soc.reports.kpis import Scope
        from soc.reports.periodic import period_of, periodic_document
        from soc.state import existing
        from soc.stores.base import open_store

        config = app.config
        year = kind == "mau05" and bool(period_text) and len(period_text or "") == 4
        period = period_of(config, kind, period_text, year=year)
        with existing(state_path(config)) as state, \
                open_store(config) as store:  # writable: aggregations cache per partition
            doc = periodic_document(store, config, kind, period, Scope(unit, system),
                                    state=state, values=parse_sets(sets))
        return _deliver(doc, format_, output, app)

    return command


for _kind, _help in (
        ("daily", "Daily monitoring report (TT 31 Đ5 k3) of a day (default: yesterday)."),
        ("weekly", "Weekly monitoring report (TT 31 Đ5 k3) of an ISO week (default: last week)."),
        ("monthly", "Monthly report to the ministry, due before the 5th (default: last month)."),
        ("half-year", "6-monthly monitoring report (TT 31 Phụ lục 2) of 2026-H1 or 2026-H2."),
        ("mau05", "Mẫu 05: incidents received and handled by type, for a half year (by 20/6) "
                  "or a year (--period 2026, by 15/12)."),
        ("mau08", "Mẫu 08 (NĐ 331/2026): annual report from the inventory (--period YEAR).")):
    report_group.add_command(_periodic(_kind, _help))


@report_group.command("due")
@click.option("--horizon", default="40d", show_default=True, metavar="DURATION",
              help="How far ahead to list periodic reports.")
@format_options
@pass_app
def due_cmd(app: App, horizon: str) -> int:
    """Reports to send, soonest first: incident duties still open and periodic reports, with
    recipients (roles and contacts) and the command that writes each."""
    from soc.reports.calendar import due
    from soc.response.profiles import active_profile
    from soc.stores.base import open_store

    try:
        ahead = parse_duration(horizon)
    except ValueError as exc:
        raise InputError(f"--horizon: {exc}") from None
    with open_store(app.config, readonly=True) as store:
        rows = due(store, app.config, active_profile(app.config), horizon=ahead)
    emit_rows(rows, DUE_COLUMNS)
    return int(ExitCode.OK)


@report_group.command("kinds")
@format_options
@pass_app
def kinds_cmd(app: App) -> int:
    """Report kinds of the active profile: incident duties soc fills, and periodic reports."""
    from soc.reports.calendar import load_calendar
    from soc.reports.incident import incident_kinds
    from soc.reports.incident_forms import template_of
    from soc.response.profiles import active_profile

    profile = active_profile(app.config)
    rows = [{"kind": d.id, "source": "incident", "title": d.title.vi, "form": d.form,
             "template": template_of(d)} for d in incident_kinds(profile)]
    periodic, _ = load_calendar(app.config, profile)
    rows += [{"kind": p.kind, "source": f"period ({p.period})", "title": p.title.vi,
              "form": p.basis, "template": "document"} for p in periodic]
    emit_rows(rows, ["kind", "source", "title", "form", "template"])
    return int(ExitCode.OK)


COMMANDS = [report_group]
