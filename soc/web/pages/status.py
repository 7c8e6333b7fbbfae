"""``/status``: the state of collection and delivery at a glance, as ``soc status`` gives it,
plus the latest dead letters (``soc store dead-letters``) and deliveries (``soc notify outbox``).

The same library calls as those commands: :func:`soc.status.source_rows` over the collector's
pass records (silent sources flagged), :func:`soc.intel.pull.feed_rows`,
:func:`soc.listen.daemon.status_summary`, :func:`soc.status.rules_summary`, the store's
``stats``, ``dead_letters`` and :func:`soc.notify.ops.outbox_rows`, and
:func:`soc.status.channel_rows`. Every value from logs (a dead letter's raw text) reaches the
page escaped.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from soc.config import Config
from soc.errors import SocError
from soc.intel.pull import feed_status
from soc.listen.daemon import status_summary
from soc.notify import ops
from soc.pipeline.collect import state_path
from soc.state import existing
from soc.status import channel_rows, gaps, rules_summary, source_rows
from soc.web import i18n
from soc.web.context import Ctx, Spec

LATEST = 10  # dead letters and deliveries shown (the CLI gives more)
RAW_LIMIT = 200  # characters of a dead letter's raw record, as the CLI's table

i18n.add({
    "nav.status": ("Trạng thái", "Status"),
    "status.title": ("Trạng thái thu thập", "Collection status"),
    "status.sources": ("Nguồn nhật ký", "Log sources"),
    "status.no_sources": ("Chưa cấu hình nguồn nào (sources: trong soc.yml).",
                          "No sources configured (sources: in soc.yml)."),
    "status.gaps": ("{n} nguồn cần xem: im lặng, lỗi hoặc thiếu.",
                    "{n} source(s) need a look: silent, failing or missing."),
    "status.source": ("Nguồn", "Source"),
    "status.type": ("Loại", "Type"),
    "status.state": ("Tình trạng", "State"),
    "status.last_pass": ("Lượt cuối", "Last pass"),
    "status.last_data": ("Dữ liệu mới cuối", "Last new data"),
    "status.events": ("Sự kiện", "Events"),
    "status.dead": ("Không phân tích được", "Dead letters"),
    "status.errors": ("Lỗi", "Errors"),
    "status.note": ("Ghi chú", "Note"),
    "status.store": ("Kho dữ liệu", "Store"),
    "status.dead_letters": ("Bản ghi không phân tích được (mới nhất)",
                            "Dead letters (latest)"),
    "status.received": ("Nhận lúc", "Received"),
    "status.reason": ("Lý do", "Reason"),
    "status.raw": ("Bản ghi gốc", "Raw record"),
    "status.channels": ("Kênh thông báo", "Notification channels"),
    "status.channel": ("Kênh", "Channel"),
    "status.last_success": ("Thành công cuối", "Last success"),
    "status.last_failure": ("Thất bại cuối", "Last failure"),
    "status.queued": ("Đang chờ", "Queued"),
    "status.failed": ("Bỏ cuộc", "Failed"),
    "status.outbox": ("Hộp thư đi (mới nhất)", "Outbox (latest)"),
    "status.feeds": ("Nguồn tin tình báo", "Threat-intel feeds"),
    "status.listen": ("Bộ nhận syslog (soc listen)", "Syslog receiver (soc listen)"),
    "status.rules": ("Luật", "Rules"),
    "status.rules_line": ("{active} đang chạy, {errors} lỗi, {na} không áp dụng",
                          "{active} active, {errors} error(s), {na} not applicable"),
})


def state_runs(config: Config) -> dict[str, dict[str, Any]]:
    """The collector's pass records per source ({} before the first pass; nothing created)."""
    with existing(state_path(config)) as state:
        return state.runs() if state is not None else {}


def store_facts(ctx: Ctx) -> dict[str, Any]:
    """Stats, channels, the latest dead letters and deliveries (an error if no store)."""
    try:
        with ctx.web.store() as store:
            return {"store": store.stats(), "channels": channel_rows(ctx.web.config, store),
                    "dead_letters": [d.to_dict(raw_limit=RAW_LIMIT)
                                     for d in store.dead_letters(limit=LATEST)],
                    "outbox": ops.outbox_rows(store, failed=False, limit=LATEST)}
    except SocError as exc:
        return {"store": {"error": exc.message}, "channels": None, "dead_letters": [],
                "outbox": []}


def status_facts(ctx: Ctx) -> dict[str, Any]:
    """Everything the page and ``GET /api/status`` show, as plain JSON values."""
    config, now = ctx.web.config, ctx.web.clock()
    sources = source_rows(config, state_runs(config), now)
    facts = {"sources": sources, "gaps": len(gaps(sources)), **store_facts(ctx),
             "listen": status_summary(config, now), "rules": rules_summary(config),
             "intel": feed_status(config, now)}
    return dict(json.loads(json.dumps(facts, default=str)))


def page(ctx: Ctx) -> Response:
    return ctx.render("status.html", facts=status_facts(ctx))


NAV = [("/status", "nav.status")]
ROUTES = [Spec("/status", page, name="status")]
