"""``/reports``: the reports written so far (everyone lists, previews and downloads them) and,
for a lead, generating one: a periodic monitoring report or an incident's report form.

Generating calls what ``soc report <kind>`` and ``soc report incident`` call
(:func:`soc.reports.periodic.period_of` and :func:`~soc.reports.periodic.periodic_document`,
:func:`soc.reports.incident.incident_document`, :func:`soc.reports.render.render` with the
configured templates) with the console's clock, and writes the HTML and the DOCX into the data
directory's ``reports`` folder. Only files of that folder are ever served: a name is resolved
and must be a file directly inside it (else 404).

The HTML of a report carries its own ``<style>`` (it must print and open alone) but no script.
The console's policy forbids inline styles, so the preview page frames the file in a sandboxed
``<iframe>`` (no scripts, no same-origin rights), and the framed file is served with a policy
of its own: nothing may load but its inline styles and ``data:`` images.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, Response

from soc.config import Config
from soc.reports.forms import Document
from soc.reports.incident import incident_document, incident_kinds
from soc.reports.periodic import PERIODS, period_of, periodic_document
from soc.reports.render import Format, render, write
from soc.reports.settings import load_settings
from soc.response.profiles import active_profile
from soc.web import i18n
from soc.web.context import Ctx, HttpError, Spec, redirect

FOLDER = "reports"
SHOWN = (".html", ".docx", ".md")
MAX_LISTED = 200
PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
               "frame-ancestors 'self'; form-action 'none'; sandbox")
"""The framed report's own policy: its inline styles and data: images, nothing else."""
MEDIA = {".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8",
         ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

i18n.add({
    "nav.reports": ("Báo cáo", "Reports"),
    "reports.title": ("Báo cáo", "Reports"),
    "reports.periodic": ("Báo cáo giám sát định kỳ", "Periodic monitoring report"),
    "reports.incident": ("Báo cáo sự cố", "Incident report"),
    "reports.kind": ("Loại", "Kind"),
    "reports.period": ("Kỳ (2026-11-24, 2026-W48, 2026-11, 2026-H1, 2026)",
                       "Period (2026-11-24, 2026-W48, 2026-11, 2026-H1, 2026)"),
    "reports.unit": ("Đơn vị (tùy chọn)", "Unit (optional)"),
    "reports.system": ("Hệ thống (tùy chọn)", "System (optional)"),
    "reports.incident_id": ("Mã sự cố", "Incident id"),
    "reports.duty": ("Mẫu báo cáo", "Report form"),
    "reports.next_due": ("(báo cáo đến hạn tiếp theo)", "(the next one due)"),
    "reports.generate": ("Tạo báo cáo", "Generate"),
    "reports.files": ("Báo cáo đã tạo", "Reports written"),
    "reports.none": ("Chưa có báo cáo nào.", "No reports yet."),
    "reports.name": ("Tệp", "File"),
    "reports.modified": ("Tạo lúc", "Written"),
    "reports.preview": ("Xem trước", "Preview"),
    "reports.download": ("Tải về", "Download"),
    "reports.sandboxed": ("Báo cáo hiển thị trong khung cách ly: không chạy mã, chỉ dùng kiểu "
                          "trình bày của chính nó.",
                          "The report is shown in a sandboxed frame: no scripts, only its own "
                          "styles."),
    "reports.missing": ("{n} trường bắt buộc đang để '(chưa có thông tin)'; điền chúng trong "
                        "soc.yml (reports:) hoặc bằng 'soc report ... --set TRƯỜNG=GIÁ_TRỊ'.",
                        "{n} required field(s) are marked '(chưa có thông tin)'; fill them in "
                        "soc.yml (reports:) or with 'soc report ... --set FIELD=VALUE'."),
})


def folder_of(config: Config) -> Path:
    """The data directory's reports folder: the only place reports are written and served."""
    return Path(config.data_dir) / FOLDER


def report_file(config: Config, name: str) -> Path:
    """The file ``name`` directly inside the reports folder; 404 for anything else (another
    folder, ``..``, a link leading out, a missing file, a kind of file never written)."""
    folder = folder_of(config).resolve()
    try:
        path = (folder / name).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        path = None
    if path is None or path.parent != folder or not path.is_file() or \
            path.suffix.lower() not in SHOWN:
        raise HttpError(404, f"no report {name!r}", key="error.not_found",
                        hint="See the reports written: GET /reports")
    return path


def listing(config: Config) -> list[dict[str, Any]]:
    """Reports written, newest first: one row per name with its formats."""
    folder = folder_of(config)
    if not folder.is_dir():
        return []
    found: dict[str, dict[str, Any]] = {}
    for path in folder.iterdir():
        if path.suffix.lower() not in SHOWN or not path.is_file() or path.is_symlink():
            continue
        row = found.setdefault(path.stem, {"name": path.stem, "formats": [], "modified": None})
        row["formats"].append(path.suffix.lower().lstrip("."))
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        row["modified"] = max(filter(None, (row["modified"], modified)))
    rows = sorted(found.values(), key=lambda r: (r["modified"], r["name"]), reverse=True)
    return [{**r, "formats": sorted(r["formats"])} for r in rows[:MAX_LISTED]]


def page(ctx: Ctx) -> Response:
    """The reports written, and the forms that generate one (a lead's)."""
    config = ctx.web.config
    return ctx.render("reports.html", files=listing(config), periodic=list(PERIODS),
                      duties=[(d.id, d.title.vi if ctx.lang == "vi" else d.title.en)
                              for d in incident_kinds(active_profile(config))],
                      can_generate=_can_generate(ctx))


def _can_generate(ctx: Ctx) -> bool:
    return ctx.user is not None and ctx.user.role == "lead" and not ctx.web.read_only


# --- generating (lead) --------------------------------------------------------------------------


def safe_name(*parts: str) -> str:
    """A file name of the parts: letters, digits, ``.``, ``_`` and ``-`` only."""
    text = "-".join(p for p in parts if p)
    return _UNSAFE_NAME.sub("_", text).strip("._") or "report"


def periodic(ctx: Ctx) -> tuple[Document, str]:
    """``soc report KIND [--period P] [--unit U] [--system S]``: the document and its name."""
    from soc.pipeline.collect import state_path
    from soc.reports.kpis import Scope
    from soc.state import existing

    config, now = ctx.web.config, ctx.web.clock()
    kind, text = ctx.field("kind"), ctx.field("period").strip() or None
    if kind not in PERIODS:
        raise HttpError(400, f"unknown report kind {kind!r}", hint="One of: " + ", ".join(PERIODS))
    unit, system = ctx.field("unit").strip() or None, ctx.field("system").strip() or None
    year = kind == "mau05" and bool(text) and len(text or "") == 4
    period = period_of(config, kind, text, year=year, now=now)
    with existing(state_path(config)) as state, \
            ctx.web.store(write=True) as store:  # writable: aggregations cache per partition
        doc = periodic_document(store, config, kind, period, Scope(unit, system),
                                state=state, now=now)
    return doc, safe_name(kind, period.code, unit or "", system or "")


def incident(ctx: Ctx) -> tuple[Document, str]:
    """``soc report incident ID [KIND]``: the document and its name."""
    incident_id = ctx.field("incident").strip()
    if not incident_id:
        raise HttpError(400, "which incident?", hint="Give the incident's id (soc incidents list).")
    with ctx.web.store() as store:
        doc, duty = incident_document(store, ctx.web.config, incident_id,
                                      ctx.field("duty").strip() or None, now=ctx.web.clock())
    return doc, safe_name(incident_id, duty.id)


def save(config: Config, doc: Document, name: str) -> Path:
    """The document as HTML and DOCX in the reports folder; the HTML's path."""
    templates = load_settings(config).templates
    folder = folder_of(config)
    for fmt in (Format.DOCX, Format.HTML):
        write(render(doc, fmt, templates=templates), folder / f"{name}.{fmt.value}")
    return folder / f"{name}.html"


def generate(ctx: Ctx) -> Response:
    """Generate a report (periodic or incident, by the form's ``source``); on to its preview."""
    made = incident(ctx) if ctx.field("source") == "incident" else periodic(ctx)
    doc, name = made
    save(ctx.web.config, doc, name)
    missing = len(doc.missing())
    return redirect(f"/reports/view/{name}" + (f"?missing={missing}" if missing else ""))


# --- reading ------------------------------------------------------------------------------------


def view(ctx: Ctx) -> Response:
    """The preview page: the HTML in a sandboxed frame, and the downloads."""
    name = ctx.request.path_params["name"]
    html = report_file(ctx.web.config, f"{name}.html")
    formats = [s.lstrip(".") for s in SHOWN if (html.with_suffix(s)).is_file()]
    missing = ctx.query("missing", "") or ""
    return ctx.render("report.html", name=name, formats=formats,
                      missing=int(missing) if missing.isdigit() and len(missing) < 5 else 0)


def raw(ctx: Ctx) -> Response:
    """The report's HTML for the preview frame, under its own sandboxing policy."""
    path = report_file(ctx.web.config, f"{ctx.request.path_params['name']}.html")
    return FileResponse(path, media_type=MEDIA[".html"], headers={
        "Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN"})


def download(ctx: Ctx) -> Response:
    """One report file as an attachment (DOCX, HTML or Markdown)."""
    path = report_file(ctx.web.config, ctx.request.path_params["file"])
    return FileResponse(path, media_type=MEDIA[path.suffix.lower()], filename=path.name,
                        content_disposition_type="attachment")


NAV = [("/reports", "nav.reports")]
ROUTES = [
    Spec("/reports", page, name="reports"),
    Spec("/reports", generate, methods=("POST",), need="lead", change=True,
         name="reports-generate"),
    Spec("/reports/view/{name}", view, name="report-view"),
    Spec("/reports/raw/{name}", raw, name="report-raw"),
    Spec("/reports/files/{file}", download, name="report-file"),
]
