"""Notifications rendered from the jinja2 templates of ``reports/notify/``.

One template per message kind: ``<kind>.txt.j2`` (always; its first line is the subject) and
``<kind>.html.j2`` (the HTML part of an e-mail). A configured folder is searched first, then
the shipped one. Vietnamese first, English beside, as the reports do.

Escaping happens in two places, so that no template can forget it:

- every ``{{ value }}`` goes through :func:`soc.notify.escape.clean` (escape sequences, control
  and bidirectional characters dropped, line breaks made spaces, long values cut), and the HTML
  templates are autoescaped on top;
- the plain text that comes out is then escaped whole for the flavour (Telegram HTML, Slack
  mrkdwn, Markdown, CEF): the text templates hold no markup of their own, so escaping all of
  it can never break a template and never lets a value through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from markupsafe import Markup

from soc.config import DEFAULT_TIMEZONE
from soc.content import content_dir
from soc.ecs import parse_ts
from soc.notify import escape
from soc.notify.model import DeliveryError, Message

FLAVOURS = ("text", "html", "telegram", "slack", "mattermost", "teams", "cef")
MAX_TEXT = 3500
"""A chat message body is cut here (Telegram takes 4096 characters, escapes included)."""

SEVERITY_VI = {"critical": "Nghiêm trọng", "high": "Cao", "medium": "Trung bình",
               "low": "Thấp", "informational": "Thông tin"}
SEVERITY_EN = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low",
               "informational": "Informational"}
CLASSIFICATION_VI = {"ordinary": "Sự cố thông thường", "serious": "Sự cố nghiêm trọng"}
MAX_ITEMS = 30
"""A digest lists this many messages, then says how many more."""
FACTS = (("Hệ thống / System", "labels.system"), ("Đơn vị / Unit", "organization.id"),
         ("Máy / Host", "host.name"), ("Địa chỉ nguồn / Source", "source.ip"),
         ("Địa chỉ đích / Destination", "destination.ip"), ("Người dùng / User", "user.name"),
         ("URL", "url.original"), ("User agent", "user_agent.original"),
         ("Lệnh / Command line", "process.command_line"), ("Tệp / File", "file.path"))
"""What an alert message shows of its first event (ECS field, label), when present."""


@dataclass(frozen=True)
class Rendered:
    """A message ready for one flavour.

    ``subject`` and ``text`` are plain text (always); ``html`` is the e-mail's HTML part
    (flavour ``html``); ``markup`` is the body in the flavour's own markup, ready to send as is
    (``telegram``, ``slack``, ``mattermost``, ``teams``: the escaped text; ``cef``: the record).
    """

    subject: str
    text: str
    html: str | None = None
    markup: str | None = None


def template_dir(extra: Path | None = None) -> list[Path]:
    """Where notification templates are looked for: ``extra``, then ``reports/notify``."""
    shipped = content_dir("reports") / "notify"
    return [p for p in (extra, shipped) if p is not None]


def render(message: Message, *, flavour: str, templates: Path | None = None) -> Rendered:
    """``message`` rendered for ``flavour`` (one of :data:`FLAVOURS`).

    Raises a permanent :class:`DeliveryError` when the kind has no template or a template
    fails: sending it again would fail the same way.
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}")
    dirs = tuple(template_dir(templates))
    subject, text = _plain(message, dirs)
    html = _html(message, dirs) if flavour == "html" else None
    return Rendered(subject, text, html, _markup(message, flavour, subject, text))


def _markup(message: Message, flavour: str, subject: str, text: str) -> str | None:
    body = text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
    if flavour == "telegram":
        return f"<b>{escape.telegram(subject)}</b>\n\n{escape.telegram(body)}"
    if flavour == "slack":
        return f"*{escape.slack(subject)}*\n{escape.slack(body)}"
    if flavour == "mattermost":
        return f"**{escape.markdown(subject)}**\n{escape.markdown(body)}"
    if flavour == "teams":
        return escape.markdown(body)
    if flavour == "cef":
        from soc.notify.cef import record

        return record(message, subject, text)
    return None


def _plain(message: Message, dirs: tuple[Path, ...]) -> tuple[str, str]:
    out = _run(message, dirs, f"{message.kind}.txt.j2", html=False).strip("\n")
    first, _, rest = out.partition("\n")
    return escape.clean(first, limit=250), rest.strip("\n") + "\n"


def _html(message: Message, dirs: tuple[Path, ...]) -> str:
    return _run(message, dirs, f"{message.kind}.html.j2", html=True)


def _run(message: Message, dirs: tuple[Path, ...], name: str, *, html: bool) -> str:
    env = _environment(dirs, html)
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound:
        raise DeliveryError(f"no template {name} for message kind {message.kind!r}",
                            hint=f"Add {name} to {dirs[0]} (see docs/notifications.md).",
                            retryable=False) from None
    try:
        return template.render(_context(message))
    except jinja2.TemplateError as exc:
        raise DeliveryError(f"template {name}: {exc}", retryable=False,
                            hint="Fix the template (see docs/notifications.md).") from exc


def _context(message: Message) -> dict[str, Any]:
    context = {k: v for k, v in message.context.items() if isinstance(k, str)}
    context.update(message=message, kind=message.kind, severity=message.severity,
                   created=message.created, key=message.key)
    context.setdefault("timezone", DEFAULT_TIMEZONE)
    return context


def _finalize(value: Any) -> Any:
    """Every ``{{ }}``: template markup passes, anything else is cleaned."""
    if isinstance(value, Markup):
        return value
    return escape.clean(value)


@cache
def _environment(dirs: tuple[Path, ...], html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]), autoescape=html,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.ChainableUndefined, finalize=_finalize)
    env.filters["when"] = _when
    env.filters["sev_vi"] = lambda s: SEVERITY_VI.get(str(s), str(s) or "—")
    env.filters["sev_en"] = lambda s: SEVERITY_EN.get(str(s), str(s) or "—")
    env.filters["class_vi"] = lambda s: CLASSIFICATION_VI.get(str(s), str(s))
    env.globals.update(alert_rows=_alert_rows, incident_rows=_incident_rows,
                       duty_rows=_duty_rows, limit=MAX_ITEMS)
    return env


Rows = list[tuple[str, Any]]


@jinja2.pass_context
def _alert_rows(ctx: jinja2.runtime.Context, alert: Any) -> Rows:
    """The lines that describe an alert: the rule, severity, times, then what the first event
    says of who and what (values from the log line, escaped by the template)."""
    if not isinstance(alert, Mapping):
        return []
    rows: Rows = [
        ("Quy tắc / Rule", f"{alert.get('rule_title', '')} ({alert.get('rule_id', '')})"),
        ("Mức độ / Severity", _severity(alert.get("severity"))),
        ("Mã cảnh báo / Alert id", alert.get("id")),
        ("Số sự kiện / Events", alert.get("count")),
        ("Lần đầu / First seen", _when(ctx, alert.get("first_seen"))),
        ("Lần cuối / Last seen", _when(ctx, alert.get("last_seen")))]
    values: dict[str, Any] = {}
    for part in (alert.get("event"), alert.get("group"), alert.get("entity")):
        if isinstance(part, Mapping):
            values.update(part)
    rows += [(label, values[f]) for label, f in FACTS if values.get(f) not in (None, "")]
    return rows


@jinja2.pass_context
def _incident_rows(ctx: jinja2.runtime.Context, incident: Any) -> Rows:
    if not isinstance(incident, Mapping):
        return []
    rows: Rows = [("Sự cố / Incident", incident.get("title")),
                  ("Mã sự cố / Incident id", incident.get("id")),
                  ("Mức độ / Severity", _severity(incident.get("severity")))]
    if incident.get("classification"):
        c = str(incident["classification"])
        rows.append(("Phân loại / Classification", f"{CLASSIFICATION_VI.get(c, c)} / {c}"))
    rows.append(("Mở lúc / Opened", _when(ctx, incident.get("opened"))))
    if incident.get("closed"):
        rows.append(("Kết thúc lúc / Closed", _when(ctx, incident.get("closed"))))
    if incident.get("alerts"):
        rows.append(("Số cảnh báo / Alerts", len(incident["alerts"])))
    return rows


@jinja2.pass_context
def _duty_rows(ctx: jinja2.runtime.Context, duty: Any, incident: Any) -> Rows:
    if not isinstance(duty, Mapping):
        return []
    title = duty.get("title") or ""
    if duty.get("title_en"):
        title = f"{title} / {duty['title_en']}"
    inc_title = incident.get("title") if isinstance(incident, Mapping) else None
    rows: Rows = [("Việc cần làm / Duty", title),
                  ("Sự cố / Incident", f"{inc_title or ''} ({duty.get('incident', '')})"),
                  ("Bước / Step", duty.get("step")),
                  ("Hạn chót / Deadline", _when(ctx, duty.get("deadline")))]
    optional = (("Còn lại / Time left", duty.get("left")), ("Quy định / Rule", duty.get("rule")),
                ("Báo cáo / Report", duty.get("report")),
                ("Gửi tới / To", ", ".join(map(str, duty.get("to") or ()))),
                ("Người phụ trách / Owner", duty.get("role")))
    return rows + [(label, v) for label, v in optional if v]


def _severity(value: Any) -> str:
    s = str(value or "")
    return f"{SEVERITY_VI.get(s, s or '—')} / {SEVERITY_EN.get(s, s or '—')}"


@jinja2.pass_context
def _when(ctx: jinja2.runtime.Context, ts: Any) -> str:
    """``14:03 24/11/2026 (UTC+07:00)`` in the configured zone; the text as is if unreadable."""
    if not ts:
        return "—"
    try:
        moment: datetime = parse_ts(str(ts))
        zone = ZoneInfo(str(ctx.get("timezone") or DEFAULT_TIMEZONE))
    except (ValueError, ZoneInfoNotFoundError):
        return escape.clean(ts)
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%H:%M %d/%m/%Y} (UTC{offset[:3]}:{offset[3:]})"

