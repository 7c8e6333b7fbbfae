"""``/rules``: the rules soc runs (id, title, level, enabled or disabled, alerts of the last 7
days) and their tuning; a lead disables or enables a rule, adds or removes an exception.

The same library calls as ``soc rules list|tuning|disable|enable|except|unexcept``:
:func:`soc.detection.rules_test.catalog` over :func:`soc.detection.stage.config_detector`, and
the audited :mod:`soc.tuning_file` changes with the logged-in user as the actor and the
console's clock as their time. Alerts per rule are counted in the store (one grouped count).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.responses import Response

from soc import tuning_file
from soc.detection.rules_test import catalog
from soc.detection.stage import config_detector, rule_sources
from soc.ecs import format_ts
from soc.models import AlertQuery
from soc.stores.base import Store
from soc.web import i18n
from soc.web.context import Ctx, HttpError, Spec, page_url, paging, redirect, safe_next

PER_PAGE = 100
WINDOW = timedelta(days=7)  # alerts per rule are counted over this window
MAX_ID = 200
MAX_WHERE = 20  # conditions of one exception

i18n.add({
    "nav.rules": ("Luật", "Rules"),
    "rules.title": ("Luật phát hiện", "Detection rules"),
    "rules.filter": ("Tìm theo mã hoặc tên", "Find by id or title"),
    "rules.id": ("Mã", "Id"),
    "rules.name": ("Tên", "Title"),
    "rules.level": ("Mức", "Level"),
    "rules.logsource": ("Nguồn log", "Log source"),
    "rules.state": ("Trạng thái", "State"),
    "rules.enabled": ("đang chạy", "enabled"),
    "rules.disabled": ("đã tắt", "disabled"),
    "rules.alerts": ("Cảnh báo (7 ngày)", "Alerts (7 days)"),
    "rules.count": ("{n} luật", "{n} rule(s)"),
    "rules.none": ("Không có luật nào khớp.", "No rules match."),
    "rules.disable": ("Tắt", "Disable"),
    "rules.enable": ("Bật lại", "Enable"),
    "rules.reason": ("Lý do", "Reason"),
    "rules.expires": ("Hết hạn (ngày)", "Expires (date)"),
    "rules.tuning": ("Tinh chỉnh đang dùng", "Tuning in use"),
    "rules.no_tuning": ("Không có tinh chỉnh: mọi luật đều chạy.",
                        "No tuning: every rule runs."),
    "rules.kind": ("Loại", "Kind"),
    "rules.rule": ("Luật", "Rule"),
    "rules.where": ("Điều kiện", "Conditions"),
    "rules.author": ("Người thêm", "Author"),
    "rules.source": ("Lưu ở", "Written in"),
    "rules.except": ("Thêm ngoại lệ", "Add an exception"),
    "rules.except_rule": ("Mã luật (để trống: mọi luật)", "Rule id (empty: every rule)"),
    "rules.except_where": ("Điều kiện, mỗi dòng một FIELD=VALUE",
                           "Conditions, one FIELD=VALUE a line"),
    "rules.unexcept": ("Bỏ ngoại lệ", "Remove"),
    "rules.applies": ("Áp dụng từ lượt thu thập sau; soc listen đọc lại khi được nạp lại.",
                      "Applies from the next collection pass; soc listen reads it when "
                      "reloaded."),
})


def catalog_rows(ctx: Ctx) -> list[dict[str, Any]]:
    """The usable rules and correlations, as ``soc rules list`` gives them."""
    config = ctx.web.config
    return catalog(config_detector(config), rule_sources(config))


def alerts_per_rule(ctx: Ctx, store: Store) -> dict[str, int]:
    """Alerts last seen in the window, per rule id, counted in the store."""
    since = format_ts(ctx.web.clock() - WINDOW)
    return {str(row["rule_id"]): int(row["count"]) for row in
            store.alert_counts(AlertQuery(since=since), group_by=["rule_id"])}


def rule_rows(ctx: Ctx) -> list[dict[str, Any]]:
    """Each rule with ``enabled`` (the tuning in force now) and ``alerts`` (last 7 days)."""
    disabled = tuning_file.effective_tuning(ctx.web.config).disabled_ids(ctx.web.clock())
    with ctx.web.store() as store:
        counts = alerts_per_rule(ctx, store)
    return [{**row, "file": str(row["file"]), "enabled": row["id"] not in disabled,
             "alerts": counts.get(row["id"], 0)} for row in catalog_rows(ctx)]


def tuning_rows(ctx: Ctx) -> list[dict[str, Any]]:
    """The tuning in use (``soc rules tuning``), each entry in force or expired."""
    tuning = tuning_file.effective_tuning(ctx.web.config)
    return tuning_file.rows(tuning, ctx.web.clock())


def _matching(rows: list[dict[str, Any]], text: str | None) -> list[dict[str, Any]]:
    if not text:
        return rows
    folded = text.casefold()
    return [r for r in rows if folded in str(r["id"]).casefold()
            or folded in str(r["title"]).casefold()]


def page(ctx: Ctx) -> Response:
    """The rules, 100 a page (``q`` filters by id or title), and the tuning."""
    found = _matching(rule_rows(ctx), ctx.query("q"))
    number, offset = paging(ctx, PER_PAGE)
    shown = found[offset:offset + PER_PAGE]
    more = max(0, len(found) - offset - PER_PAGE)
    pager = {"page": number, "more": more,
             "prev": page_url(ctx, number - 1) if number > 1 else None,
             "next": page_url(ctx, number + 1) if more else None}
    return ctx.render("rules.html", rules=shown, total=len(found), pager=pager,
                      q=ctx.query("q") or "", tuning=tuning_rows(ctx),
                      removable=removable(ctx), can_tune=_can_tune(ctx), back=_back(ctx))


def removable(ctx: Ctx) -> set[str]:
    """Ids of the exceptions the tuning file holds (those of soc.yml stay: the console, like
    the CLI, never rewrites soc.yml)."""
    return {e.id for e in tuning_file.local_tuning(ctx.web.config).exceptions}


def _can_tune(ctx: Ctx) -> bool:
    return ctx.user is not None and ctx.user.role == "lead" and not ctx.web.read_only


def _back(ctx: Ctx) -> str:
    url = ctx.request.url
    return url.path + (f"?{url.query}" if url.query else "")


# --- changes (lead) ----------------------------------------------------------------------------


def checked_id(value: str, what: str = "rule id") -> str:
    """A rule or exception id from a path or form: non-empty, printable, at most 200 chars."""
    text = value.strip()
    if not text or len(text) > MAX_ID or not text.isprintable():
        raise HttpError(400, f"a {what} of 1 to {MAX_ID} printable characters is needed",
                        hint="Copy it from the rules list (soc rules list).")
    return text


def change(ctx: Ctx) -> tuning_file.Change:
    """Who changes the tuning (the logged-in user), why, until when, and when (the clock)."""
    expires = ctx.field("expires").strip() or None
    return tuning_file.Change(actor=ctx.actor, reason=ctx.field("reason").strip(),
                              expires=expires, now=ctx.web.clock())


def disable(ctx: Ctx) -> dict[str, Any]:
    """``soc rules disable ID --reason R [--expires D]``: the entry written."""
    rule_id = checked_id(ctx.request.path_params["rule_id"])
    with ctx.web.store(write=True) as store:
        entry = tuning_file.disable(ctx.web.config, store, rule_id, change(ctx))
    return entry.to_dict()


def enable(ctx: Ctx) -> dict[str, Any]:
    """``soc rules enable ID [--reason R]``: the entry removed."""
    rule_id = checked_id(ctx.request.path_params["rule_id"])
    with ctx.web.store(write=True) as store:
        entry = tuning_file.enable(ctx.web.config, store, rule_id, change(ctx))
    return entry.to_dict()


def add_exception(ctx: Ctx) -> None:
    """``soc rules except [ID | --global] --where F=V... --reason R [--expires D]``."""
    rule = ctx.field("rule").strip()
    where = [line.strip() for line in ctx.field("where").splitlines() if line.strip()]
    if not where or len(where) > MAX_WHERE:
        raise HttpError(400, f"give 1 to {MAX_WHERE} conditions, one FIELD=VALUE a line",
                        hint="Example: source.ip=10.0.5.0/24")
    with ctx.web.store(write=True) as store:
        tuning_file.add_exception(ctx.web.config, store, checked_id(rule) if rule else None,
                                  where, change(ctx))


def remove_exception(ctx: Ctx) -> None:
    """``soc rules unexcept EXCEPTION_ID [--reason R]``."""
    ident = checked_id(ctx.request.path_params["exception_id"], "exception id")
    with ctx.web.store(write=True) as store:
        tuning_file.remove_exception(ctx.web.config, store, ident, change(ctx))


def _then_back(action: Callable[[Ctx], object]) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        action(ctx)
        return redirect(safe_next(ctx.field("back"), "/rules"))

    handler.__name__ = f"{action.__name__}_page"
    return handler


NAV = [("/rules", "nav.rules")]
ROUTES = [
    Spec("/rules", page, name="rules"),
    Spec("/rules/exceptions", _then_back(add_exception), methods=("POST",), need="lead",
         change=True, name="rules-except"),
    Spec("/rules/exceptions/{exception_id}/remove", _then_back(remove_exception),
         methods=("POST",), need="lead", change=True, name="rules-unexcept"),
    Spec("/rules/{rule_id}/disable", _then_back(disable), methods=("POST",), need="lead",
         change=True, name="rule-disable"),
    Spec("/rules/{rule_id}/enable", _then_back(enable), methods=("POST",), need="lead",
         change=True, name="rule-enable"),
]
