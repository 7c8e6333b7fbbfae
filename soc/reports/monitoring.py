"""The monitoring reports: daily and weekly (TT 31/2017 Đ5 k3: period, attacked objects with
IP, service and time, techniques with evidence, attackers, changes), the monthly report of the
pilot to the ministry, and the 6-monthly report (TT 31, Phụ lục 2 - proposed fields)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from soc.config import Config
from soc.reports import charts, fmt, kpis
from soc.reports.forms import Document, Heading, Section, Signature, Table, text
from soc.reports.kpis import Figures
from soc.reports.settings import ReportSettings

TITLES = {
    "daily": ("BÁO CÁO GIÁM SÁT AN TOÀN THÔNG TIN HẰNG NGÀY", "TT 31/2017 Đ5 k3"),
    "weekly": ("BÁO CÁO GIÁM SÁT AN TOÀN THÔNG TIN HẰNG TUẦN", "TT 31/2017 Đ5 k3"),
    "monthly": ("BÁO CÁO TÌNH HÌNH GIÁM SÁT AN TOÀN THÔNG TIN HẰNG THÁNG",
                "Báo cáo thí điểm gửi Bộ (trước ngày 05 hằng tháng)"),
    "half-year": ("BÁO CÁO KẾT QUẢ GIÁM SÁT AN TOÀN THÔNG TIN 06 THÁNG",
                  "TT 31/2017, Phụ lục 2 (trường đề xuất)"),
}
TOP = 10
ALERTS_COUNTED = ("Cảnh báo được tính theo thời điểm phát sinh (hệ thống tạo cảnh báo) trong kỳ, "
                  "kể cả cảnh báo về sự kiện xảy ra trước kỳ (nhật ký thu thập muộn); thời gian "
                  "của sự kiện nêu riêng tại mục 4 và 6.")


def _label(tz: ZoneInfo, ts: str, hourly: bool) -> str:
    moment = fmt.local(ts, tz)
    assert moment is not None
    return f"{moment:%H}h" if hourly else f"{moment:%d/%m}"


def _names(config: Config, pairs: Sequence[tuple[str, int]], kind: str) -> list[tuple[str, int]]:
    def name(key: str) -> str:
        found = config.system(key) if kind == "system" else config.unit(key)
        return found.name if found and found.name else key or "(không xác định)"

    return [(name(k), c) for k, c in pairs]


def _summary(fig: Figures, tz: ZoneInfo) -> Section:
    closed = [i for i in fig.incidents if i.closed]
    figures = (
        ("Sự kiện được thu thập", fmt.number(fig.events_total)),
        ("Cảnh báo phát sinh trong kỳ", fmt.number(len(fig.alerts))),
        ("Trong đó về sự kiện trước kỳ", fmt.number(fig.alerts_about_earlier)),
        ("Cảnh báo mức cao, nghiêm trọng", fmt.number(sum(
            1 for a in fig.alerts if a.severity.value in ("high", "critical")))),
        ("Sự cố (mới / đã kết thúc)", f"{len(fig.incidents)} / {len(closed)}"),
        ("Thời gian phát hiện (trung vị)",
         fmt.duration_vn(kpis.median(kpis.detect_times(fig.incidents))) or "-"),
        ("Thời gian tiếp nhận cảnh báo (trung vị)", fmt.duration_vn(kpis.median(fig.ack_times))
         or "-"),
        ("Thời gian xử lý sự cố (trung vị)",
         fmt.duration_vn(kpis.median(kpis.resolve_times(fig.incidents))) or "-"),
        ("Nguồn dữ liệu mất tín hiệu", fmt.number(len(fig.silent))),
    )
    return Section("1. Tổng quan", kpis=figures,
                   text=f"Kỳ báo cáo: {fig.period.label}, từ 00:00 ngày "
                        f"{fig.period.start:%d/%m/%Y} đến 24:00 ngày "
                        f"{fig.period.last_day:%d/%m/%Y} "
                        f"({fmt.zone_words(fmt.zone_label(tz, fig.period.since))}).")


def _volumes(fig: Figures, config: Config, tz: ZoneInfo) -> Section:
    hourly = fig.period.kind == "day"
    labels = [_label(tz, ts, hourly) for ts, _ in fig.events_trend]
    svg = charts.trend(labels, [("Sự kiện", [c for _, c in fig.events_trend])],
                       title="Số sự kiện theo " + ("giờ" if hourly else "ngày"))
    rows = [(name, fmt.number(c), "Hệ thống") for name, c in
            _names(config, fig.events_by_system, "system")]
    rows += [(d, fmt.number(c), "Loại dữ liệu") for d, c in fig.events_by_dataset]
    return Section("2. Dữ liệu giám sát", chart=svg, table=Table(
        ("Hệ thống / loại dữ liệu", "Số sự kiện", "Nhóm"), tuple(rows)))


def _alerts(fig: Figures, config: Config) -> Section:
    sev = dict(kpis.by(fig.alerts, "severity"))
    mix = [(k, fmt.SEVERITY_VI[k], sev.get(k, 0)) for k in fmt.SEVERITY_ORDER]
    rules = kpis.by(fig.alerts, "rule")[:TOP]
    svg = charts.severity_mix(mix, title="Cảnh báo theo mức độ") + charts.top_bars(
        [(r, float(c)) for r, c in rules], title="Quy tắc phát hiện có nhiều cảnh báo nhất")
    rows = [(name, fmt.number(c)) for name, c in _names(config, kpis.by(fig.alerts, "system"),
                                                           "system")]
    rows += [(f"Đơn vị: {name}", fmt.number(c)) for name, c in
             _names(config, kpis.by(fig.alerts, "unit"), "unit")]
    return Section("3. Cảnh báo", chart=svg, text=ALERTS_COUNTED, table=Table(
        ("Hệ thống / đơn vị", "Số cảnh báo"), tuple(rows)))


def _targets(fig: Figures, config: Config, tz: ZoneInfo) -> Section:
    rows = []
    for target, alerts in list(kpis.group_alerts(fig.alerts, "target").items())[:TOP]:
        system = config.system(alerts[0].system or "")
        first, last = min(a.first_seen for a in alerts), max(a.last_seen for a in alerts)
        rows.append((target, system.name if system else (alerts[0].system or ""),
                     ", ".join(sorted({kpis.service_of(a) for a in alerts} - {""})),
                     f"{fmt.datetime_vn(first, tz)} - {fmt.datetime_vn(last, tz)}",
                     fmt.number(len(alerts))))
    return Section("4. Đối tượng bị tấn công cần quan tâm", table=Table(
        ("Đối tượng (IP/máy chủ)", "Hệ thống", "Dịch vụ", "Thời gian bị tấn công",
         "Số cảnh báo"), tuple(rows), "Không phát hiện đối tượng bị tấn công trong kỳ."),
        chart=charts.top_bars([(r[0], float(r[4].replace(".", ""))) for r in rows],
                              title="Đối tượng bị tấn công nhiều nhất", colour="#d64545"))


def _techniques(fig: Figures) -> Section:
    rows = []
    for tech, alerts in list(kpis.group_alerts(fig.alerts, "technique").items())[:TOP]:
        rules = "; ".join(sorted({a.rule_title for a in alerts}))
        rows.append((tech, rules, fmt.number(sum(a.count or 1 for a in alerts)),
                     fmt.short(kpis.evidence_of(alerts[0]), 200)))
    return Section("5. Kỹ thuật tấn công phát hiện được và bằng chứng", table=Table(
        ("Kỹ thuật (MITRE ATT&CK)", "Quy tắc phát hiện", "Số sự kiện", "Bằng chứng"),
        tuple(rows), "Không phát hiện kỹ thuật tấn công trong kỳ."))


def _attackers(fig: Figures, tz: ZoneInfo) -> Section:
    rows = []
    for ip, alerts in list(kpis.group_alerts(fig.alerts, "source").items())[:TOP]:
        targets = ", ".join(sorted({kpis.target_of(a) for a in alerts} - {""}))
        rows.append((ip, fmt.number(len(alerts)), fmt.number(sum(a.count or 1 for a in alerts)),
                     fmt.datetime_vn(min(a.first_seen for a in alerts), tz), targets))
    svg = charts.top_bars([(r[0], float(r[2].replace(".", ""))) for r in rows],
                          title="Nguồn tấn công nhiều nhất (số sự kiện)", colour="#7b1e1e")
    return Section("6. Đối tượng tấn công", chart=svg, table=Table(
        ("Địa chỉ nguồn", "Số cảnh báo", "Số sự kiện", "Lần đầu", "Mục tiêu"), tuple(rows),
        "Không xác định được nguồn tấn công trong kỳ."))


def _incidents(fig: Figures, tz: ZoneInfo) -> Section:
    from soc.response.playbooks import INCIDENT_TYPES

    rows = [(i.id, INCIDENT_TYPES[i.type].vi if i.type in INCIDENT_TYPES else i.type,
             fmt.CLASSIFICATION_VI.get(i.classification, i.classification),
             fmt.datetime_vn(i.t0, tz), fmt.STATUS_VI.get(i.status, i.status),
             i.outcome or "") for i in fig.incidents]
    return Section("7. Sự cố", table=Table(
        ("Mã sự cố", "Loại", "Mức độ", "Phát hiện (T0)", "Trạng thái", "Kết quả xử lý"),
        tuple(rows), "Không có sự cố trong kỳ."))


def _changes(fig: Figures, config: Config) -> Section:
    rows = [(_names(config, [(str(r["labels.system"]), 0)], "system")[0][0],
             str(r["event.action"]), fmt.number(int(r["count"]))) for r in fig.changes]
    rows += [(f"Hệ thống giám sát: nguồn {s['source']}", f"{s['state']}: {s.get('note', '')}",
              "") for s in fig.silent]
    return Section("8. Thay đổi trong hệ thống được giám sát và hệ thống giám sát", table=Table(
        ("Hệ thống", "Thay đổi", "Số sự kiện"), tuple(rows), "Không ghi nhận thay đổi."))


def monitoring_document(kind: str, fig: Figures, config: Config, settings: ReportSettings,
                        recipients: tuple[str, ...], now: datetime) -> Document:
    """The monitoring report ``kind`` (daily, weekly, monthly, half-year) from its figures."""
    tz = config.tz
    title, basis = TITLES[kind]
    sections = [_summary(fig, tz), _volumes(fig, config, tz), _alerts(fig, config),
                _targets(fig, config, tz), _techniques(fig), _attackers(fig, tz),
                _incidents(fig, tz), _changes(fig, config)]
    if kind in ("monthly", "half-year"):
        sections.append(Section("9. Đề xuất, kiến nghị",
                                (text("proposals", "Đề xuất, kiến nghị"),)))
    scope = fig.scope
    where = (f" - hệ thống {scope.system}" if scope.system else
             f" - đơn vị {scope.unit}" if scope.unit else "")
    sig = settings.signatory
    return Document(
        kind=kind, form=basis, basis="", title=title,
        subtitle=f"Kỳ báo cáo: {fig.period.label}{where}",
        heading=Heading(settings.org("owner_agency").upper(), settings.org("name").upper(),
                        f"Số:        /{settings.number_prefix}-GS",
                        fmt.place_date(settings.place, now, tz)),
        recipients=recipients, sections=tuple(sections),
        signature=Signature(str(sig.get("authority", "")),
                            str(sig.get("title", "")) or "THỦ TRƯỞNG ĐƠN VỊ",
                            str(sig.get("name", ""))),
        subject=f"{title.capitalize()} - {fig.period.label}{where}",
        zone=fmt.zone_label(tz, now))
