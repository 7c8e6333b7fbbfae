"""Summary forms: TT 20 Mẫu 05 (incidents received and handled, by type, for 6 months or a year)
and NĐ 331/2026 Mẫu 08 (annual report on the security of information systems, from the
inventory and the per-system details of ``reports.systems``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from soc.config import Config
from soc.reports import fmt
from soc.reports.forms import Document, Heading, Section, Signature, Table, text
from soc.reports.period import Period
from soc.reports.settings import ReportSettings
from soc.response.playbooks import INCIDENT_TYPES
from soc.response.records import Incident, StepState

VNCERT = "Trung tâm Ứng cứu khẩn cấp máy tính Việt Nam (VNCERT/CC)"
APPROVAL = ("Đang dự thảo", "Đã gửi thẩm định", "Đã thẩm định", "Đã được phê duyệt")
DEPLOYMENT = ("Chưa triển khai", "Đã triển khai một số hạng mục", "Đã triển khai đầy đủ")


def _done(inc: Incident, report: str) -> bool:
    return any(r.spec.report == report and r.state is StepState.DONE for r in inc.steps)


def _heading(settings: ReportSettings, now: datetime, config: Config, number: str,
             agency: str = "") -> Heading:
    return Heading((agency or settings.org("owner_agency")).upper(),
                   settings.org("name").upper(), number,
                   fmt.place_date(settings.place, now, config.tz))


def _signature(settings: ReportSettings, title: str) -> Signature:
    sig = settings.signatory
    return Signature(str(sig.get("authority", "")), str(sig.get("title", "")) or title,
                     str(sig.get("name", "")),
                     "(Ký, ghi rõ họ tên, đóng dấu hoặc ký số)")


def mau05_rows(incidents: Iterable[Incident]) -> list[tuple[str, ...]]:
    """One row per incident type, then the total: total, in-house, with other organisations,
    with foreign organisations, VNCERT support requested, estimated damage."""
    counts = {t: [0, 0, 0, 0, 0] for t in INCIDENT_TYPES}
    for inc in incidents:
        row = counts.setdefault(inc.type if inc.type in counts else "other", [0, 0, 0, 0, 0])
        helped = "beyond_capability" in inc.flags or _done(inc, "de_nghi_ho_tro")
        row[0] += 1
        row[1] += 0 if helped else 1
        row[2] += 1 if helped else 0
        row[4] += 1 if _done(inc, "de_nghi_ho_tro") or _done(inc, "bao_cao_ban_dau") else 0
    rows = [(label.vi, *map(str, counts[t]), "Chưa đánh giá")
            for t, label in INCIDENT_TYPES.items()]
    totals = [str(sum(c[i] for c in counts.values())) for i in range(5)]
    return [*rows, ("Tổng cộng", *totals, "")]


def mau05_document(period: Period, incidents: list[Incident], config: Config,
                   settings: ReportSettings, now: datetime) -> Document:
    """Mẫu 05 - Báo cáo tổng hợp [06 tháng/01 năm] về hoạt động tiếp nhận và xử lý sự cố."""
    span = "06 tháng" if period.kind == "half" else "01 năm"
    s = settings
    sections = (
        Section("Thông tin chung", (
            text("period", "Thời gian báo cáo",
                 f"Từ tháng {period.start:%m/%Y} đến tháng {period.last_day:%m/%Y}", True),
            text("organization", "Tên tổ chức", s.org("name"), True),
            text("address", "Địa chỉ", s.org("address"), True),
            text("member_code", "Mã thành viên mạng lưới", s.org("member_code"), True))),
        Section("1. Thống kê số lượng sự cố và tình hình xử lý sự cố", table=Table(
            ("Loại sự cố/tấn công mạng", "Tổng số", "Tự xử lý",
             "Có sự hỗ trợ của tổ chức khác", "Có sự hỗ trợ của tổ chức nước ngoài",
             "Đề nghị VNCERT/CC hỗ trợ", "Ước tính thiệt hại"), tuple(mau05_rows(incidents)))),
        Section("2. Danh sách tổ chức đã hỗ trợ", (text("helped_by", "Tổ chức đã hỗ trợ"),)),
        Section("3. Danh sách tổ chức nước ngoài đã hỗ trợ",
                (text("helped_by_foreign", "Tổ chức nước ngoài đã hỗ trợ"),)),
        Section("4. Đề xuất, kiến nghị", (text("proposals", "Đề xuất, kiến nghị"),)),
    )
    return Document(
        kind="mau05", form="Mẫu 05", basis="Ban hành kèm theo Thông tư số 20/2017/TT-BTTTT",
        title=f"BÁO CÁO TỔNG HỢP {span.upper()} VỀ HOẠT ĐỘNG TIẾP NHẬN VÀ XỬ LÝ SỰ CỐ",
        subtitle=f"Kỳ báo cáo: {period.label}",
        heading=_heading(settings, now, config, f"Số:        /{s.number_prefix}-UCSC"),
        recipients=(VNCERT,), sections=sections,
        signature=_signature(settings, "NGƯỜI ĐẠI DIỆN THEO PHÁP LUẬT"),
        subject=f"Báo cáo tổng hợp {span} về tiếp nhận và xử lý sự cố - {period.label}",
        zone=fmt.zone_label(config.tz, now), landscape=True)


def _mau08_figures(config: Config, settings: ReportSettings) -> tuple[tuple[str, str], ...]:
    details = [settings.system(s.id) for s in config.systems]
    status = [str(d.get("approval_status", "")) for d in details]
    types: dict[str, int] = {}
    for d in details:
        kind = str(d.get("type") or "chưa phân loại")
        types[kind] = types.get(kind, 0) + 1
    approved = [d for d, st in zip(details, status, strict=True) if st == APPROVAL[3]]
    expected = sorted(str(d.get("expected_approval")) for d in details
                      if d.get("expected_approval"))
    return (
        ("Tổng số hệ thống thông tin", str(len(details))),
        ("Phân loại theo loại hệ thống", "; ".join(f"{k}: {v}" for k, v in types.items())
         or "-"),
        ("Đã xây dựng hồ sơ đề xuất cấp độ", str(sum(1 for st in status if st))),
        ("Hồ sơ đã được thẩm định", str(sum(1 for st in status if st in APPROVAL[2:])) ),
        ("Đã được phê duyệt cấp độ", str(len(approved))),
        ("Đã phê duyệt và được kiểm tra định kỳ", str(sum(
            1 for d in approved if "Định kỳ" in str(d.get("checks", ""))))),
        ("Thời gian dự kiến phê duyệt toàn bộ", expected[-1] if expected else fmt.EMPTY),
    )


def mau08_document(year: int, config: Config, settings: ReportSettings,
                   recipients: tuple[str, ...], now: datetime) -> Document:
    """NĐ 331/2026 Mẫu 08: general figures, owner and dedicated unit, per-system table (1)-(12)."""
    o = settings.owner
    rows = []
    for n, sys in enumerate(config.systems, 1):
        d = settings.system(sys.id)
        unit = config.unit(sys.unit)
        rows.append(tuple(str(x) for x in (
            n, sys.name or sys.id, sys.owner or o.get("name", ""),
            sys.operator or (unit.name if unit else sys.unit), sys.security_level,
            d.get("approval_status", ""), d.get("approval_decision", ""),
            d.get("security_rules", ""), d.get("expected_approval", ""),
            d.get("deployment", ""), d.get("expected_deployment", ""), d.get("checks", ""))))
    rows = [tuple(c or fmt.EMPTY for c in r) for r in rows]
    sections = (
        Section("1. Số liệu chung", kpis=_mau08_figures(config, settings)),
        Section("2. Thông tin về chủ quản hệ thống thông tin và đơn vị chuyên trách về an ninh "
                "mạng", (
                    text("owner_name", "(1) Tên chủ quản hệ thống thông tin", o.get("name"), True),
                    text("owner_decision", "(2) Văn bản quy định chức năng, nhiệm vụ, quyền hạn",
                         o.get("decision")),
                    text("owner_head", "(3) Người đứng đầu, chức vụ", o.get("head"), True),
                    text("owner_address", "(4) Địa chỉ", o.get("address"), True),
                    text("owner_contact", "(5) Điện thoại, thư điện tử",
                         ", ".join(x for x in (o.get("phone"), o.get("email")) if x), True),
                    text("unit_name", "(1) Tên đơn vị chuyên trách về an ninh mạng",
                         o.get("unit_name"), True),
                    text("unit_decision", "(2) Văn bản quy định chức năng, nhiệm vụ",
                         o.get("unit_decision")),
                    text("unit_head", "(3) Người đứng đầu, chức vụ", o.get("unit_head"), True),
                    text("unit_address", "(4) Địa chỉ", o.get("unit_address"), True),
                    text("unit_contact", "(5) Điện thoại, thư điện tử", ", ".join(
                        x for x in (o.get("unit_phone"), o.get("unit_email")) if x), True))),
        Section("3. Danh mục hệ thống thông tin", table=Table(
            ("(1) STT", "(2) Tên hệ thống", "(3) Chủ quản", "(4) Đơn vị vận hành",
             "(5) Cấp độ đề xuất", "(6) Tình trạng phê duyệt", "(7) Quyết định phê duyệt",
             "(8) Quy chế bảo đảm an ninh mạng", "(9) Dự kiến phê duyệt",
             "(10) Triển khai phương án", "(11) Dự kiến triển khai đầy đủ",
             "(12) Kiểm tra, đánh giá"), tuple(rows), "Chưa khai báo hệ thống trong "
                                                       "inventory.systems.")),
    )
    return Document(
        kind="mau08", form="Mẫu 08", basis="Ban hành kèm theo Nghị định số 331/2026/NĐ-CP",
        title="BÁO CÁO", subtitle="V/v kết quả công tác bảo đảm an ninh mạng hệ thống thông "
                                   f"tin năm {year}",
        heading=_heading(settings, now, config, f"Số:        /{settings.number_prefix}-ANM",
                         "CHỦ QUẢN HỆ THỐNG THÔNG TIN"),
        recipients=recipients, sections=sections,
        signature=_signature(settings, "THỦ TRƯỞNG CƠ QUAN, TỔ CHỨC"),
        subject=f"Báo cáo kết quả công tác bảo đảm an ninh mạng năm {year}",
        zone=fmt.zone_label(config.tz, now), landscape=True)
