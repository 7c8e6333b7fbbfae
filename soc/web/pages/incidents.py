"""``/incidents``: the incidents (open, closed or all, a page at a time) with what is due next,
one incident (its playbook steps with deadlines, decisions, notes, linked alerts, evidence) and
the forms that work it.

The same library calls as ``soc incidents open|list|show|add-alerts|step|note|evidence|close|
due`` (:mod:`soc.response.incidents`, :mod:`soc.response.deadlines`), with the logged-in user as
the actor; the ``do_*`` functions are shared with the API (:mod:`soc.web.api.incidents`).
Running a step's questions or its action (``step --run [--allow-actions]``) stays in the CLI:
an action changes another system, and the console offers no policy that would allow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.responses import FileResponse, Response

from soc.alerts import summary_row
from soc.errors import SocError
from soc.response import deadlines, records
from soc.response import incidents as lib
from soc.response.playbooks import StepKind
from soc.response.profiles import Profile, active_profile, resolve
from soc.timeutil import parse_when
from soc.web import evidence, i18n
from soc.web.context import (
    PER_PAGE,
    Ctx,
    Handler,
    HttpError,
    Spec,
    page_url,
    paging,
    redirect,
)

STATUSES = ("open", "closed", "all")
STEP_STATES = ("in_progress", "done", "pending", "skipped", "blocked")
"""What a step can be set to by hand (``--start``, ``--done``, ``--reopen``, ``--skip``,
``--block``); partial and failed come only from running an action."""
DUE_SHOWN = 20
MAX_IDS = 100

i18n.add({
    "nav.incidents": ("Sự cố", "Incidents"),
    "incidents.title": ("Sự cố", "Incidents"),
    "incidents.none": ("Không có sự cố nào.", "No incidents."),
    "incidents.status": ("Trạng thái", "Status"),
    "incidents.open_steps": ("Bước còn mở", "Open steps"),
    "incidents.due": ("Sắp đến hạn", "Due next"),
    "incidents.due_none": ("Không có bước nào có hạn.", "No step has a deadline."),
    "incidents.overdue": ("quá hạn", "overdue"),
    "incidents.left": ("Còn lại", "Left"),
    "incidents.to": ("Gửi tới", "To"),
    "incidents.open": ("Mở sự cố", "Open an incident"),
    "incidents.alert_ids": ("Mã cảnh báo (cách nhau bởi dấu cách)",
                            "Alert ids (separated by spaces)"),
    "incidents.playbook": ("Kịch bản", "Playbook"),
    "incidents.playbook_auto": ("(gợi ý theo cảnh báo)", "(suggested by the alerts)"),
    "incident.title": ("Sự cố", "Incident"),
    "incident.classification": ("Phân loại", "Classification"),
    "incident.type": ("Loại", "Type"),
    "incident.t0": ("Thời điểm phát hiện (T0)", "Detected (T0)"),
    "incident.profile": ("Quy định áp dụng", "Regulatory profile"),
    "incident.systems": ("Hệ thống bị ảnh hưởng", "Affected systems"),
    "incident.level": ("cấp độ", "level"),
    "incident.opened": ("Mở lúc", "Opened"),
    "incident.closed": ("Đóng lúc", "Closed"),
    "incident.outcome": ("Kết quả", "Outcome"),
    "incident.hold": ("Lưu giữ pháp lý", "Legal hold"),
    "incident.steps": ("Các bước xử lý", "Playbook steps"),
    "incident.phase": ("Giai đoạn", "Phase"),
    "incident.step": ("Bước", "Step"),
    "incident.kind": ("Kiểu", "Kind"),
    "incident.state": ("Tình trạng", "State"),
    "incident.role": ("Vai trò / người làm", "Role / assignee"),
    "incident.deadline": ("Hạn", "Deadline"),
    "incident.reason": ("Lý do", "Reason"),
    "incident.answer": ("Trả lời", "Answer"),
    "incident.change": ("Cập nhật", "Change"),
    "incident.state.keep": ("(giữ nguyên)", "(unchanged)"),
    "incident.state.in_progress": ("Bắt đầu", "Start"),
    "incident.state.done": ("Hoàn thành", "Done"),
    "incident.state.pending": ("Mở lại", "Reopen"),
    "incident.state.skipped": ("Bỏ qua (cần lý do)", "Skip (needs a reason)"),
    "incident.state.blocked": ("Bị chặn (cần lý do)", "Blocked (needs a reason)"),
    "incident.assign": ("Giao cho", "Assign to"),
    "incident.note": ("Ghi chú", "Note"),
    "incident.save": ("Lưu", "Save"),
    "incident.no_run": ("Chạy truy vấn hoặc hành động của một bước chỉ làm được bằng dòng lệnh "
                        "(soc incidents step ... --run).",
                        "Running a step's questions or action is done at the command line "
                        "(soc incidents step ... --run)."),
    "incident.timeline": ("Diễn biến và ghi chú", "Timeline and notes"),
    "incident.add_note": ("Thêm ghi chú", "Add a note"),
    "incident.about_step": ("Về bước (tuỳ chọn)", "About the step (optional)"),
    "incident.alerts": ("Cảnh báo liên quan", "Linked alerts"),
    "incident.alerts_gone": ("{n} cảnh báo không còn được lưu.", "{n} alerts are no longer "
                             "stored."),
    "incident.add_alerts": ("Thêm cảnh báo", "Add alerts"),
    "incident.evidence": ("Chứng cứ", "Evidence"),
    "incident.upload": ("Tải lên chứng cứ", "Upload evidence"),
    "incident.file": ("Tệp", "File"),
    "incident.size": ("Kích thước (byte)", "Size (bytes)"),
    "incident.source": ("Nguồn", "Source"),
    "incident.download": ("Tải về", "Download"),
    "incident.evidence_referenced": ("Chỉ lưu mã băm của chứng cứ này (--reference).",
                                     "Only this evidence's hash was recorded (--reference)."),
    "incident.evidence_missing": ("Bản sao của chứng cứ không còn trong thư mục của sự cố.",
                                  "The evidence's copy is no longer in the incident's folder."),
    "incident.close": ("Đóng sự cố", "Close the incident"),
    "incident.close_hint": ("Các bước báo cáo vẫn còn hạn sau khi đóng.",
                            "Report steps stay due after closing."),
})


# --- the library calls, shared with the API --------------------------------------------------


def do_open(ctx: Ctx, alert_ids: list[str], playbook: str | None, **options: Any) -> \
        records.Incident:
    """``soc incidents open -a ID... [--playbook P]``, as the logged-in user."""
    if not alert_ids:
        raise HttpError(400, "no alert to open an incident from",
                        hint="Give the alert ids (alerts), one or more.")
    req = lib.OpenRequest(alert_ids=tuple(alert_ids), actor=ctx.actor, playbook=playbook,
                          **options)
    config = ctx.web.config
    with ctx.web.store(write=True) as store:
        try:
            return lib.open_incident(store, config, lib.load_playbooks(config),
                                     active_profile(config), req)
        except SocError as exc:
            if type(exc) is not SocError:  # no playbook matched: a request to fix, not a fault
                raise
            raise HttpError(400, exc.message, hint=exc.hint) from None


def do_add_alerts(ctx: Ctx, incident_id: str, alert_ids: list[str]) -> records.Incident:
    """``soc incidents add-alerts INCIDENT ALERT...``."""
    who = ctx.actor
    with ctx.web.store(write=True) as store:
        return lib.add_alerts(store, ctx.web.config, incident_id, alert_ids, who)[0]


def step_change(ctx: Ctx) -> lib.StepChange:
    """The :class:`StepChange` of the fields ``state``, ``reason``, ``assignee``, ``answer``,
    ``note`` (empty: unchanged), refused when it changes nothing (as the CLI does)."""
    state = ctx.field("state").strip()
    if state and state not in STEP_STATES:
        raise HttpError(400, f"unknown step state {state!r}",
                        hint="One of: " + ", ".join(STEP_STATES))
    assignee = ctx.field("assignee").strip() or None
    answer = ctx.field("answer").strip() or None
    if not (state or assignee or answer):
        raise HttpError(400, "nothing to change", hint="Give a state, an assignee or an answer.")
    return lib.StepChange(state=records.StepState(state) if state else None,
                          reason=ctx.field("reason").strip() or None, assignee=assignee,
                          answer=answer, note=ctx.field("note").strip() or None)


def do_step(ctx: Ctx, incident_id: str, step_id: str, change: lib.StepChange) -> \
        records.Incident:
    """``soc incidents step INCIDENT STEP --done|--start|--skip R|...`` (never ``--run``)."""
    who = ctx.actor
    with ctx.web.store(write=True) as store:
        return lib.update_step(store, ctx.web.config, incident_id, step_id, change, who)


def do_note(ctx: Ctx, incident_id: str) -> records.Incident:
    """``soc incidents note INCIDENT TEXT [--step ID]``."""
    who, text, step = ctx.actor, ctx.field("text").strip(), ctx.field("step").strip() or None
    if not text:
        raise HttpError(400, "the note is empty", hint="Write the note in the field 'text'.")
    with ctx.web.store(write=True) as store:
        return lib.add_note(store, ctx.web.config, incident_id, text, who, step)


def do_evidence(ctx: Ctx, incident_id: str) -> records.Incident:
    """``soc incidents evidence INCIDENT FILE [--step ID] [--note TEXT]`` of an upload."""
    who, upload = ctx.actor, evidence.upload_of(ctx.form)
    step, note = ctx.field("step").strip() or None, ctx.field("note").strip()
    config = ctx.web.config
    with ctx.web.store(write=True) as store:
        lib.get(store, incident_id)  # a 404 before receiving anything
        with evidence.received(config, upload) as path:
            return lib.add_evidence(
                store, config, incident_id, path, who, step=step, note=note,
                source=f"upload: {evidence.shown_name(upload.filename or '')}")


def do_close(ctx: Ctx, incident_id: str) -> records.Incident:
    """``soc incidents close INCIDENT --outcome TEXT``."""
    who, outcome = ctx.actor, ctx.field("outcome")
    with ctx.web.store(write=True) as store:
        return lib.close_incident(store, ctx.web.config, incident_id, outcome, who)


def at_of(ctx: Ctx, text: str | None) -> datetime:
    """``--at``: a time (ISO, or a duration back) judged on the console's clock; now if none."""
    now = ctx.web.clock()
    if not text:
        return now
    try:
        return parse_when(text, now)
    except ValueError as exc:
        raise HttpError(400, str(exc), hint="Example: 2026-11-24T08:00:00Z") from None


def due_rows(ctx: Ctx, found: list[records.Incident], now: datetime) -> list[dict[str, Any]]:
    """``soc incidents due``: open steps with deadlines across incidents, soonest first."""
    config = ctx.web.config
    items = deadlines.due(found, lib.profiles_of(found, active_profile(config)))
    units = {i.id: i.units for i in found}
    rows = []
    for item in items:
        row = item.to_dict(now)
        row["to"] = [_recipient(r) for r in resolve(config, item.to, units[item.incident])]
        rows.append(row)
    return rows


def _recipient(r: Any) -> str:
    names = "; ".join(c.email or c.name for c in r.contacts)
    return f"{r.role}: {names}" if names else f"{r.role} (no contact configured)"


def header(inc: records.Incident) -> dict[str, Any]:
    """The incident's header as ``soc incidents list --json`` gives it."""
    return {"id": inc.id, "title": inc.title, "status": inc.status,
            "classification": inc.classification, "flags": sorted(inc.flags),
            "type": inc.type, "severity": inc.severity.value, "t0": inc.t0,
            "playbook": inc.playbook, "playbook_version": inc.playbook_version,
            "profile": inc.profile, "systems": [dict(s) for s in inc.systems],
            "alerts": list(inc.alerts), "opened": inc.opened, "closed": inc.closed,
            "outcome": inc.outcome,
            "open_steps": sum(s.state in records.OPEN_STATES for s in inc.steps)}


def ids_of(ctx: Ctx, name: str) -> list[str]:
    """Ids from a JSON list, or from form fields (repeated, or separated by spaces/commas)."""
    if isinstance(ctx.body, dict):
        value = ctx.body.get(name)
        raw = value if isinstance(value, list) else []
        if not all(isinstance(v, str) for v in raw):
            raise HttpError(400, f"{name} must be a list of ids")
    else:
        form = ctx.form
        raw = [str(v) for v in form.getlist(name)] if hasattr(form, "getlist") else []
    found = [i for v in raw for i in v.replace(",", " ").split()]
    if len(found) > MAX_IDS:
        raise HttpError(400, f"at most {MAX_IDS} ids at once")
    return list(dict.fromkeys(found))


# --- pages -----------------------------------------------------------------------------------


def listing(ctx: Ctx) -> Response:
    """The incidents of a status (open by default), oldest opened first, and the due list."""
    status = ctx.query("status", "open") or "open"
    if status not in STATUSES:
        raise HttpError(400, f"unknown status {status!r}", hint="One of: open, closed, all")
    number, offset = paging(ctx)
    now = ctx.web.clock()
    with ctx.web.store() as store:
        every = lib.list_incidents(store, None)
    chosen = [i for i in every if status == "all" or i.status == status]
    shown = chosen[offset:offset + PER_PAGE]
    more = max(0, len(chosen) - offset - len(shown))
    pager = {"page": number, "more": more,
             "prev": page_url(ctx, number - 1) if number > 1 else None,
             "next": page_url(ctx, number + 1) if more else None}
    return ctx.render("incidents.html", incidents=[header(i) for i in shown], chosen=status,
                      statuses=STATUSES, pager=pager, due=due_rows(ctx, every, now)[:DUE_SHOWN],
                      playbooks=_playbooks(ctx))


def _playbooks(ctx: Ctx) -> list[tuple[str, str]]:
    books = lib.load_playbooks(ctx.web.config)
    return [(b.id, b.title.en if ctx.lang == "en" else b.title.vi)
            for b in sorted(books.values(), key=lambda b: b.id)]


def open_page(ctx: Ctx) -> Response:
    inc = do_open(ctx, ids_of(ctx, "alerts"), ctx.field("playbook").strip() or None)
    return redirect(f"/incidents/{inc.id}")


@dataclass(frozen=True)
class StepRow:
    """A step as the incident page shows it."""

    rec: records.StepRecord
    title: str
    deadline: datetime | None
    rule: str
    overdue: bool
    changeable: bool
    choices: list[tuple[str, str]]


def step_rows(ctx: Ctx, inc: records.Incident, profile: Profile,
              now: datetime) -> list[StepRow]:
    rows = []
    for rec in inc.steps:
        when, rule = deadlines.deadline(inc, rec, profile)
        reportable = rec.spec.kind is StepKind.REPORT
        still = inc.status != "closed" or reportable
        title = rec.spec.title.en if ctx.lang == "en" else rec.spec.title.vi
        choices = [(c.answer, c.label.en if ctx.lang == "en" else c.label.vi)
                   for c in rec.spec.choices]
        rows.append(StepRow(rec, title, when, rule, bool(
            still and when and when < now and rec.state in records.OPEN_STATES), still, choices))
    return rows


def show(ctx: Ctx) -> Response:
    """One incident: header, steps, linked alerts, evidence, timeline; the forms to work it."""
    with ctx.web.store() as store:
        inc = lib.get(store, _incident_id(ctx))
        alerts = lib.incident_alerts(store, inc)
    now = ctx.web.clock()
    return ctx.render("incident.html", inc=inc, steps=step_rows(ctx, inc, lib.profile_of(inc),
                                                                now),
                      alerts=[summary_row(a) for a in alerts],
                      gone=len(inc.alerts) - len(alerts), states=STEP_STATES)


def _incident_id(ctx: Ctx) -> str:
    return str(ctx.request.path_params["incident_id"])


def _back(ctx: Ctx, anchor: str = "") -> Response:
    return redirect(f"/incidents/{_incident_id(ctx)}{anchor}")


def alerts_page(ctx: Ctx) -> Response:
    do_add_alerts(ctx, _incident_id(ctx), ids_of(ctx, "alerts"))
    return _back(ctx, "#alerts")


def step_page(ctx: Ctx) -> Response:
    do_step(ctx, _incident_id(ctx), str(ctx.request.path_params["step_id"]), step_change(ctx))
    return _back(ctx, "#steps")


def note_page(ctx: Ctx) -> Response:
    do_note(ctx, _incident_id(ctx))
    return _back(ctx, "#timeline")


def evidence_page(ctx: Ctx) -> Response:
    do_evidence(ctx, _incident_id(ctx))
    return _back(ctx, "#evidence")


def close_page(ctx: Ctx) -> Response:
    do_close(ctx, _incident_id(ctx))
    return _back(ctx)


def download(ctx: Ctx) -> Response:
    """An evidence file, as an attachment, from the incident's evidence folder only."""
    with ctx.web.store() as store:
        inc = lib.get(store, _incident_id(ctx))
    item, path = evidence.stored_file(ctx.web.config, inc, str(ctx.request.path_params["n"]))
    return FileResponse(path, media_type="application/octet-stream", filename=item.name,
                        content_disposition_type="attachment",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "X-Evidence-Sha256": item.sha256})


def _change(path: str, handler: Handler, name: str) -> Spec:
    """A POST that works an incident: analysts and leads, refused when read-only."""
    return Spec(path, handler, methods=("POST",), need="analyst", change=True, name=name)


NAV = [("/incidents", "nav.incidents")]
ROUTES = [
    Spec("/incidents", listing, name="incidents"),
    _change("/incidents", open_page, "incident-open"),
    Spec("/incidents/{incident_id}", show, name="incident"),
    _change("/incidents/{incident_id}/alerts", alerts_page, "incident-alerts"),
    _change("/incidents/{incident_id}/steps/{step_id}", step_page, "incident-step"),
    _change("/incidents/{incident_id}/note", note_page, "incident-note"),
    _change("/incidents/{incident_id}/evidence", evidence_page, "incident-evidence"),
    Spec("/incidents/{incident_id}/evidence/{n}", download, name="incident-download"),
    _change("/incidents/{incident_id}/close", close_page, "incident-close"),
]
