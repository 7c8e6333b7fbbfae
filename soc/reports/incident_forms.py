"""The incident documents, field by field as research/vn-regulations.md §3 lists them:
Thông báo sự cố (TT 20 Đ9.3.a), Mẫu 03, Mẫu 04, the QĐ 05 chain (progress, response plan,
request for support, request for direction), and the quick report of the 2026 rules (immediate,
24 h, 72 h, update, final). Fields marked (*) in the forms are ``required``."""

from __future__ import annotations

from collections.abc import Callable

from soc.reports import fmt
from soc.reports.facts import Facts
from soc.reports.forms import Document, Section, Table, boxes, text
from soc.response.profiles import Duty

TT20 = "Ban hành kèm theo Thông tư số 20/2017/TT-BTTTT ngày 12/9/2017"
LEVELS = [(str(n), f"Cấp {n}") for n in range(1, 6)]
CHAIN = {  # duty id → (template, title) of the QĐ 05 chain, when the profile names no template
    "bao_cao_dien_bien": ("progress-report", "BÁO CÁO DIỄN BIẾN TÌNH HÌNH SỰ CỐ MẠNG"),
    "bao_cao_phuong_an": ("response-plan", "BÁO CÁO PHƯƠNG ÁN ỨNG CỨU SỰ CỐ MẠNG"),
    "de_nghi_ho_tro": ("support-request", "BÁO CÁO ĐỀ NGHỊ HỖ TRỢ, PHỐI HỢP ỨNG CỨU SỰ CỐ"),
    "xin_y_kien_chi_dao": ("direction-request", "BÁO CÁO XIN Ý KIẾN CHỈ ĐẠO, CHỈ HUY"),
}
QUICK_TYPES = [("bao_cao_ngay", "Báo cáo ngay"),
               ("thong_bao_ban_dau", "Thông báo ban đầu (24 giờ)"),
               ("bao_cao_72h", "Báo cáo 72 giờ"), ("bao_cao_cap_nhat", "Báo cáo cập nhật"),
               ("bao_cao_ket_thuc", "Báo cáo kết thúc")]


def _reporter(f: Facts, full: bool = True) -> Section:
    s = f.settings
    fields = [text("reporter", "Tên tổ chức/cá nhân báo cáo", s.org("name") or f.operator, True),
              text("reporter_address", "Địa chỉ", s.org("address"), True),
              text("reporter_phone", "Điện thoại", s.org("phone"), True),
              text("reporter_email", "Thư điện tử", s.org("email"), True)]
    if full:
        c = s.contact
        fields += [text("contact_name", "Người liên hệ - Họ và tên", c.get("name"), True),
                   text("contact_title", "Chức vụ", c.get("title")),
                   text("contact_phone", "Điện thoại người liên hệ", c.get("phone"), True),
                   text("contact_email", "Thư điện tử người liên hệ", c.get("email"), True)]
    return Section("Thông tin về tổ chức, cá nhân báo cáo sự cố", tuple(fields))


def _system(f: Facts, prefix: str = "") -> Section:
    return Section(f"{prefix}Thông tin về hệ thống thông tin bị sự cố", (
        text("operator", "Tên đơn vị vận hành hệ thống thông tin", f.operator, True),
        text("owner_agency", "Cơ quan chủ quản", f.owner_agency),
        text("system_name", "Tên hệ thống thông tin bị sự cố", f.system_names),
        boxes("level", "Cấp độ an toàn hệ thống thông tin (nếu có)", LEVELS,
              {str(n) for n in f.levels}),
        text("security_provider", "Đơn vị cung cấp dịch vụ bảo đảm an toàn thông tin (nếu có)",
             f.detail("security_provider")),
        text("isp", "Tên doanh nghiệp cung cấp kết nối (ISP) (nếu có)", f.detail("isp"))))


def _doc(f: Facts, duty: Duty | None, kind: str, form: str, basis: str, title: str,
         sections: list[Section], notes: tuple[str, ...] = ()) -> Document:
    prefix = duty.subject_prefix + " " if duty and duty.subject_prefix else ""
    subject = f"{prefix}{duty.title.vi if duty else title.capitalize()} - {f.inc.id} - " \
              f"{f.system_names}"
    return Document(kind=kind, form=form, basis=basis, title=title,
                    subtitle=f"Sự cố {f.inc.id}: {f.inc.title}", heading=f.heading(duty),
                    recipients=f.recipients(duty), sections=tuple(sections),
                    signature=f.signature(), subject=subject.strip(), notes=notes,
                    zone=fmt.zone_label(f.tz, f.now))


def notice(f: Facts, duty: Duty | None) -> Document:
    """Thông báo sự cố: the content TT 20 Đ9.3.a asks for (VNCERT portal field list)."""
    s = f.settings
    handling = f.inc.outcome or ("Đã thực hiện: " + "; ".join(f.done_steps()) + "."
                                 if f.done_steps() else "")
    plan = "; ".join(title for title, _ in f.open_steps()[:6])
    sections = [
        Section("Thông tin về tổ chức, cá nhân thông báo sự cố", (
            text("reporter", "Tên tổ chức, cá nhân gửi thông báo", s.org("name") or f.operator,
                 True),
            text("reporter_address", "Địa chỉ", s.org("address"), True),
            text("reporter_phone", "Điện thoại", s.org("phone")),
            text("reporter_email", "Thư điện tử", s.org("email")))),
        Section("Thông tin về sự cố", (
            text("system", "Tên hệ thống thông tin, tên miền hoặc địa chỉ IP bị sự cố",
                 "; ".join(x for x in (f.system_names, f.addresses) if x), True),
            text("operator", "Tên, địa chỉ đơn vị vận hành hệ thống thông tin",
                 f.operator + (f", {s.org('address')}" if s.org("address") else ""), True),
            text("owner_agency", "Cơ quan chủ quản (nếu biết)", f.owner_agency),
            text("description", "Mô tả sơ bộ về sự cố", f.description, True),
            text("detected_date", "Ngày phát hiện sự cố", fmt.date_vn(f.inc.t0, f.tz), True),
            text("detected_time", "Thời gian phát hiện (giờ, phút)", fmt.time_vn(f.inc.t0, f.tz),
                 True),
            text("handling", "Kết quả xử lý ban đầu, đề xuất phương án xử lý",
                 " ".join(x for x in (handling, f"Dự kiến: {plan}." if plan else "") if x),
                 True),
            text("requests", "Các yêu cầu, đề nghị và thông tin khác", ""))),
    ]
    return _doc(f, duty, "thong_bao_su_co", "TT 20/2017 Đ9.3.a", TT20, "THÔNG BÁO SỰ CỐ MẠNG",
                sections, ("Khi gửi bằng thư điện tử, tiêu đề thư bắt đầu bằng \"[TBSC]\".",))


def mau03(f: Facts, duty: Duty | None) -> Document:
    """Mẫu 03 - Báo cáo ban đầu sự cố mạng (TT 20/2017), sections A to G."""
    sent = f.sent_to()
    ev = "; ".join(e.name for e in f.inc.evidence)
    a = _reporter(f)
    sections = [
        Section("A. " + a.title, a.fields), _system(f, "B. "),
        Section("C. Thông tin về sự cố", (
            text("description", "Mô tả tóm tắt sự cố", f.description, True),
            text("detected_date", "Ngày phát hiện sự cố", fmt.date_vn(f.inc.t0, f.tz), True),
            text("detected_time", "Thời gian phát hiện (giờ, phút)", fmt.time_vn(f.inc.t0, f.tz),
                 True),
            boxes("status", "Hiện trạng sự cố", [("handled", "Đã được xử lý"),
                                                 ("not_handled", "Chưa được xử lý")],
                  {"handled" if f.inc.status == "closed" else "not_handled"}, True),
            boxes("detection", "Cách thức phát hiện (đánh dấu những cách thức được sử dụng)", [
                ("ids", "Qua hệ thống phát hiện xâm nhập"),
                ("logs", "Qua kiểm tra định kỳ file nhật ký (log file) của hệ thống"),
                ("notified", "Nhận được thông báo từ"), ("other", "Khác")],
                  {x for x, ok in (("ids", f.detected_by_ids), ("logs", f.detected_in_logs))
                   if ok}, True),
            boxes("notified_to", "Đã gửi thông báo sự cố cho", [
                ("network_member", "Thành viên mạng lưới ứng cứu sự cố chịu trách nhiệm ứng cứu "
                                   "sự cố cho tổ chức"),
                ("isp", "Doanh nghiệp cung cấp dịch vụ viễn thông, Internet đang trực tiếp cung "
                        "cấp dịch vụ"),
                ("coordinator", "Cơ quan điều phối quốc gia (VNCERT/CC)"), ("other", "Khác")],
                  {r for r in ("network_member", "coordinator") if r in sent}
                  | ({"network_member"} if "response_unit" in sent else set()), True))),
        Section("D. Thông tin bổ sung về hệ thống bị sự cố", (
            text("os", "Hệ điều hành, phiên bản", f.detail("os")),
            boxes("services", "Các dịch vụ có trên hệ thống", [
                ("web", "Web server"), ("mail", "Mail server"), ("database", "Database server"),
                ("other", "Khác")], f.detail_list("services")),
            boxes("measures", "Các biện pháp bảo đảm an toàn thông tin đã triển khai", [
                ("antivirus", "Antivirus"), ("firewall", "Firewall"),
                ("ids", "Hệ thống phát hiện xâm nhập"), ("other", "Khác")],
                  f.detail_list("measures")),
            text("public_ips", "Các địa chỉ IP của hệ thống (địa chỉ public, không liệt kê "
                               "địa chỉ IP nội bộ)", f.detail("public_ips")),
            text("domains", "Các tên miền của hệ thống", f.detail("domains")),
            text("purpose", "Mục đích chính sử dụng hệ thống", f.detail("purpose")),
            boxes("attachments", "Thông tin gửi kèm", [
                ("logs", "Nhật ký hệ thống"), ("sample", "Mẫu virus/mã độc"), ("other", "Khác")],
                  {"other"} if ev else set(), details={"other": ev}),
            boxes("confidential", "Yêu cầu giữ bí mật toàn bộ thông tin trong báo cáo này",
                  [("yes", "Có"), ("no", "Không")],
                  {"yes" if f.settings.confidential else "no"}))),
        Section("E. Đề xuất, yêu cầu hỗ trợ ứng cứu sự cố", (
            text("requests", "Tóm tắt các yêu cầu, đề xuất hỗ trợ ứng cứu sự cố (nếu có)", ""),)),
        Section("F. Thời gian thực hiện báo cáo sự cố", (
            text("reported_at", "Thời gian báo cáo (ngày, tháng, năm, giờ, phút)",
                 fmt.datetime_vn(f.now, f.tz), True),)),
    ]
    return _doc(f, duty, "bao_cao_ban_dau", "Mẫu 03", TT20, "BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG",
                sections, ("Các mục đánh dấu (*) là bắt buộc.",
                           "Khi gửi bằng thư điện tử, tiêu đề thư bắt đầu bằng \"[TBSC]\".",
                           "Tham khảo thêm tại trang tin của VNCERT/CC."))


def mau04(f: Facts, duty: Duty | None) -> Document:
    """Mẫu 04 - Báo cáo kết thúc ứng phó sự cố (TT 20/2017)."""
    initial = [(d, when) for d, when in f.sent() if d.id in ("bao_cao_ban_dau",
                                                             "thong_bao_su_co")]
    ref_date = fmt.date_vn(initial[0][1], f.tz) if initial else ""
    attachments = [d.title.vi for d, _ in f.sent()] + [e.name for e in f.inc.evidence]
    system = _system(f)
    sections = [
        _reporter(f, full=False),
        Section("Thông tin về báo cáo ban đầu sự cố", (
            text("initial_number", "Số báo cáo ban đầu sự cố", ""),
            text("initial_date", "Ngày báo cáo", ref_date))),
        Section(system.title, system.fields[:4]),
        Section("Thông tin về sự cố", (
            text("incident_name", "Tên hoặc mô tả sự cố", f"{f.inc.title} ({f.type_vi})"),
            text("detected_date", "Ngày phát hiện sự cố", fmt.date_vn(f.inc.t0, f.tz), True),
            text("detected_time", "Thời gian phát hiện (giờ, phút)", fmt.time_vn(f.inc.t0, f.tz),
                 True),
            text("outcome", "Kết quả xử lý sự cố (tóm tắt sự cố, cách thức xử lý; đề xuất "
                            "biện pháp xử lý nhanh sự cố tương tự, giảm thiểu rủi ro)",
                 f.inc.outcome or ""),
            text("attachments", "Các tài liệu kèm theo (báo cáo diễn biến, phương án ứng cứu, "
                                "file nhật ký...)", "; ".join(attachments)))),
    ]
    return _doc(f, duty, "bao_cao_ket_thuc", "Mẫu 04", TT20,
                "BÁO CÁO KẾT THÚC ỨNG PHÓ SỰ CỐ", sections)


def chain(f: Facts, duty: Duty | None, kind: str) -> Document:
    """The QĐ 05 emergency chain: the reporter block, then a timeline table (time, description):
    what happened (progress), the plan (response plan), the requests (support, direction)."""
    _template, title = CHAIN[kind]
    if kind == "bao_cao_phuong_an":
        rows = tuple((role, step) for step, role in f.open_steps(decisions=True))
        table = Table(("Đơn vị/vai trò thực hiện", "Nội dung công việc"), rows)
    else:
        table = Table(("Thời gian (giờ:phút ngày)", "Mô tả"), tuple(f.timeline()))
    sections = [_reporter(f, full=False),
                Section("Tóm tắt sự cố", (
                    text("description", "Mô tả sự cố", f.description, True),
                    text("detected_at", "Thời điểm phát hiện", fmt.datetime_vn(f.inc.t0, f.tz),
                         True))),
                Section("Diễn biến, nội dung báo cáo", table=table)]
    if kind in ("de_nghi_ho_tro", "xin_y_kien_chi_dao"):
        label = "Nội dung đề nghị hỗ trợ, phối hợp" if kind == "de_nghi_ho_tro" else \
            "Nội dung xin ý kiến chỉ đạo, chỉ huy"
        sections.append(Section("Đề nghị", (text("requests", label, "", True),)))
    return _doc(f, duty, kind, "QĐ 05/2017 Đ11.2", "Quyết định 05/2017/QĐ-TTg", title, sections)


def quick(f: Facts, duty: Duty | None, kind: str) -> Document:
    """The quick report for the 24 h / 72 h duties (research §3.11: no official MPS form yet)."""
    inc = f.inc
    flags = inc.flags
    national = "national_security" in flags
    pd = "personal_data" in flags
    s = f.settings
    c = s.contact
    measures_done = "; ".join(f.done_steps())
    planned = "; ".join(t for t, _ in f.open_steps())
    sections = [
        Section("Loại báo cáo", (boxes("report_type", "Loại báo cáo", QUICK_TYPES, {kind}, True),)),
        Section("Nội dung", (
            text("owner", "1. Chủ quản hệ thống thông tin", f.owner_agency, True),
            text("contact", "Người liên hệ (điện thoại, thư điện tử)",
                 ", ".join(x for x in (c.get("name"), c.get("phone"), c.get("email")) if x),
                 True),
            text("system", "2. Hệ thống bị sự cố, cấp độ, quyết định phê duyệt cấp độ",
                 ", ".join(x for x in (f.system_names,
                                       "cấp độ " + "/".join(map(str, sorted(f.levels)))
                                       if f.levels else "", f.detail("level_decision")) if x),
                 True),
            text("incident_code", "3. Mã sự cố", inc.id, True),
            text("t0", "Thời điểm phát hiện (T0)", fmt.datetime_vn(inc.t0, f.tz), True),
            text("occurred", "Thời điểm xảy ra (nếu biết)", fmt.datetime_vn(inc.window[0], f.tz)),
            text("description", "4. Mô tả: nhóm sự cố, dấu hiệu, cách thức phát hiện",
                 f.description, True),
            text("severity", "5. Mức độ",
                 fmt.CLASSIFICATION_VI.get(inc.classification, inc.classification), True),
            boxes("national_security", "Dấu hiệu xâm phạm an ninh quốc gia, trật tự an toàn xã "
                  "hội hoặc gây gián đoạn nghiêm trọng", [("yes", "Có"), ("no", "Không")],
                  {"yes" if national else "no"}, True),
            text("cause", "6. Nguyên nhân (đã xác định hoặc giả thuyết)", ""),
            text("scope", "7. Phạm vi ảnh hưởng: tài sản, dữ liệu, số người dùng, thời gian "
                          "gián đoạn, tổ chức bên ngoài", f.system_names),
            boxes("personal_data", "8. Có ảnh hưởng dữ liệu cá nhân", [("yes", "Có"),
                                                                         ("no", "Không")],
                  {"yes" if pd else "no"}, True),
            text("personal_data_detail", "Loại dữ liệu, số chủ thể ước tính, đã thông báo vi "
                                         "phạm dữ liệu cá nhân (thời điểm)",
                 f"Từ {fmt.datetime_vn(flags['personal_data'], f.tz)}" if pd else "Không"),
            text("measures", "9. Biện pháp đã thực hiện, đang và sẽ thực hiện; thời gian dự "
                             "kiến khôi phục",
                 " ".join(x for x in (f"Đã thực hiện: {measures_done}." if measures_done else "",
                                      f"Sẽ thực hiện: {planned}." if planned else "",
                                      inc.outcome or "") if x), True),
            text("evidence", "10. Chứng cứ đã thu thập, bảo quản", f.evidence),
            text("requests", "11. Đề nghị hỗ trợ", ""),
            text("next_report", "Thời điểm báo cáo tiếp theo", ""))),
    ]
    return _doc(f, duty, kind, "Báo cáo nhanh", "Nghị định 331/2026/NĐ-CP Đ31.2.d (chưa có mẫu "
                "chính thức)", "BÁO CÁO SỰ CỐ AN NINH MẠNG", sections,
                ("Mẫu đề xuất: Bộ Công an chưa ban hành mẫu chính thức (NĐ 331/2026 Đ28.6).",))


Builder = Callable[[Facts, Duty | None], Document]


def _quick(f: Facts, duty: Duty | None) -> Document:
    return quick(f, duty, duty.id if duty else "bao_cao_cap_nhat")


def _chain(kind: str) -> Builder:
    def build(f: Facts, duty: Duty | None) -> Document:
        return chain(f, duty, kind)

    return build


BUILDERS: dict[str, Builder] = {
    "incident-notice": notice, "initial-report": mau03, "final-report": mau04,
    "quick-report": _quick, **{tpl: _chain(k) for k, (tpl, _) in CHAIN.items()},
}
"""Template name (the profile's ``template``, or the chain's default) → builder."""


def template_of(duty: Duty) -> str | None:
    """The template a duty renders with, or None when soc has none for it."""
    if duty.template:
        return duty.template
    return CHAIN[duty.id][0] if duty.id in CHAIN else None
