"""Reports: every form field present and filled or marked empty, overrides, periods, Vietnamese
formatting, charts, DOCX output, the reporting calendar and the CLI, on a real embedded store."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from soc.cli.main import main
from soc.errors import InputError
from soc.reports import charts, fmt
from soc.reports.calendar import periodic_due
from soc.reports.forms import Document, apply_overrides, parse_sets
from soc.reports.period import parse
from soc.reports.render import Format, md_escape, render
from soc.response.profiles import load_profile
from tests.test_reports_golden import NOW, all_documents, build_store

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
FIELDS = {  # the fields of each form, in order (research/vn-regulations.md §3)
    "legacy-mic-2017.thong_bao_su_co": [
        "reporter", "reporter_address", "reporter_phone", "reporter_email", "system", "operator",
        "owner_agency", "description", "detected_date", "detected_time", "handling", "requests"],
    "legacy-mic-2017.bao_cao_ban_dau": [
        "reporter", "reporter_address", "reporter_phone", "reporter_email", "contact_name",
        "contact_title", "contact_phone", "contact_email", "operator", "owner_agency",
        "system_name", "level", "security_provider", "isp", "description", "detected_date",
        "detected_time", "status", "detection", "notified_to", "os", "services", "measures",
        "public_ips", "domains", "purpose", "attachments", "confidential", "requests",
        "reported_at"],
    "legacy-mic-2017.bao_cao_ket_thuc": [
        "reporter", "reporter_address", "reporter_phone", "reporter_email", "initial_number",
        "initial_date", "operator", "owner_agency", "system_name", "level", "incident_name",
        "detected_date", "detected_time", "outcome", "attachments"],
    "legacy-mic-2017.de_nghi_ho_tro": [
        "reporter", "reporter_address", "reporter_phone", "reporter_email", "description",
        "detected_at", "requests"],
    "mps-2026.bao_cao_72h": [
        "report_type", "owner", "contact", "system", "incident_code", "t0", "occurred",
        "description", "severity", "national_security", "cause", "scope", "personal_data",
        "personal_data_detail", "measures", "evidence", "requests", "next_report"],
    "mau05": ["period", "organization", "address", "member_code", "helped_by",
              "helped_by_foreign", "proposals"],
    "mau08": ["owner_name", "owner_decision", "owner_head", "owner_address", "owner_contact",
              "unit_name", "unit_decision", "unit_head", "unit_address", "unit_contact"],
}


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    """Every document from a config without ``reports:`` (so much is left to mark empty)."""
    store, config, incs = build_store(tmp_path_factory.mktemp("sparse"), with_settings=False)
    try:
        return all_documents(store, config, incs)
    finally:
        store.close()


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    store, config, incs = build_store(tmp_path_factory.mktemp("full"))
    try:
        return all_documents(store, config, incs)
    finally:
        store.close()


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_each_form_has_its_fields_in_order(full: dict[str, Document], name: str) -> None:
    assert [f.id for f in full[name].fields()] == FIELDS[name]


def test_every_required_field_is_filled_or_marked_empty(sparse: dict[str, Document]) -> None:
    for name, doc in sparse.items():
        md = render(doc, Format.MD).decode("utf-8")
        for f in doc.fields():
            label = md_escape(f.label)
            line = next((ln for ln in md.splitlines() if f"**{label}" in ln), None)
            assert line is not None, f"{name}: {f.label} is not in the document"
            if f.required:
                assert f.filled or fmt.EMPTY in line, f"{name}: {f.label} left blank"
                if f.value:
                    assert md_escape(f.value.splitlines()[0]) in line


def test_sparse_config_names_what_is_missing(sparse: dict[str, Document]) -> None:
    assert sparse["legacy-mic-2017.bao_cao_ban_dau"].missing() == [
        "Địa chỉ", "Điện thoại", "Thư điện tử",
        "Người liên hệ - Họ và tên", "Điện thoại người liên hệ", "Thư điện tử người liên hệ"]


def test_full_config_fills_every_required_field_soc_can_know(full: dict[str, Document]) -> None:
    missing = {name: doc.missing() for name, doc in full.items() if doc.missing()}
    assert missing == {
        "legacy-mic-2017.de_nghi_ho_tro": ["Nội dung đề nghị hỗ trợ, phối hợp"],
        "legacy-mic-2017.xin_y_kien_chi_dao": ["Nội dung xin ý kiến chỉ đạo, chỉ huy"],
    }


def test_mau03_checkboxes_follow_the_incident(full: dict[str, Document]) -> None:
    doc = full["legacy-mic-2017.bao_cao_ban_dau"]
    ticked = {f.id: [c.id for c in f.choices if c.checked] for f in doc.fields() if f.choices}
    assert ticked == {"level": ["3"], "status": ["handled"], "detection": ["logs"],
                      "notified_to": ["network_member", "coordinator"],
                      "services": ["web", "database"], "measures": ["firewall", "ids"],
                      "attachments": [], "confidential": ["yes"]}
    assert doc.subject == "[TBSC] Báo cáo ban đầu sự cố (Mẫu 03) - SC-2026-0002 - " \
                          "Cổng thông tin điện tử tỉnh"


def test_overrides_fill_text_and_tick_boxes(full: dict[str, Document]) -> None:
    doc = apply_overrides(full["legacy-mic-2017.bao_cao_ban_dau"], parse_sets([
        "requests=Đề nghị VNCERT/CC hỗ trợ phân tích", "detection=ids,notified",
        "detection.notified=Công an tỉnh"]))
    fields = {f.id: f for f in doc.fields()}
    assert fields["requests"].value == "Đề nghị VNCERT/CC hỗ trợ phân tích"
    assert [(c.id, c.detail) for c in fields["detection"].choices if c.checked] == [
        ("ids", ""), ("notified", "Công an tỉnh")]
    with pytest.raises(InputError, match="bao_cao_ban_dau has no field 'nope'"):
        apply_overrides(doc, {"nope": "x"})
    with pytest.raises(InputError, match="expected FIELD=VALUE"):
        parse_sets(["requests"])


def test_periods() -> None:
    now = datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert parse("week", None, HCM, now).label == "tuần 48 năm 2026 (từ 23/11/2026 đến " \
                                                  "29/11/2026)"
    assert parse("month", None, HCM, now).code == "2026-11"
    assert parse("day", None, HCM, now).label == "ngày 30/11/2026"
    half = parse("half", "2026-H1", HCM)
    assert (half.label, half.since.isoformat(), half.until.isoformat()) == (
        "6 tháng đầu năm 2026 (từ 01/01/2026 đến 30/06/2026)", "2026-01-01T00:00:00+07:00",
        "2026-07-01T00:00:00+07:00")
    assert parse("week", "2026-11-25", HCM).code == "2026-W48"
    with pytest.raises(InputError, match="not a month period: '11/2026'"):
        parse("month", "11/2026", HCM)


def test_vietnamese_formatting() -> None:
    ts = "2026-11-24T22:03:00.000Z"
    assert (fmt.date_vn(ts, HCM), fmt.time_vn(ts, HCM), fmt.datetime_vn(ts, HCM)) == (
        "25/11/2026", "05:03", "05:03 ngày 25/11/2026")
    assert fmt.place_date("Hà Giang", NOW, HCM) == "Hà Giang, ngày 01 tháng 12 năm 2026"
    assert (fmt.number(1234567), fmt.number(2.5), fmt.zone_label(HCM, NOW)) == (
        "1.234.567", "2,5", "UTC+7")
    assert fmt.duration_vn(timedelta(days=2, hours=3, minutes=5)) == "2 ngày 3 giờ"
    assert fmt.duration_vn(timedelta(seconds=20)) == "dưới 1 phút"


def test_charts_are_wellformed_svg_with_escaped_labels() -> None:
    svgs = [charts.trend(["23/11", "24/11"], [("Sự kiện", [3, 120])], title="Xu hướng"),
            charts.severity_mix([("high", "Cao", 2), ("low", "Thấp", 0)], title="Mức độ"),
            charts.top_bars([("<script>", 4.0), ("Cổng thông tin điện tử tỉnh", 1.0)],
                            title="Top")]
    for svg in svgs:
        ET.fromstring(svg)  # parses: well-formed
    assert "&lt;script&gt;" in svgs[2] and "<script>" not in svgs[2]
    assert charts.nice_max(120) == 200.0 and charts.nice_max(0) == 1.0


def test_html_is_one_file_with_inline_svg(full: dict[str, Document]) -> None:
    html = render(full["monthly"], Format.HTML).decode("utf-8")
    assert html.count("<svg") == 5 and "<script" not in html and "http://" not in \
        html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in html


def test_docx_has_the_filled_form_and_no_template_tags(full: dict[str, Document],
                                                       tmp_path: Path) -> None:
    from docx import Document as Docx

    path = tmp_path / "mau03.docx"
    path.write_bytes(render(full["legacy-mic-2017.bao_cao_ban_dau"], Format.DOCX))
    xml = zipfile.ZipFile(path).read("word/document.xml").decode("utf-8")
    assert "{%" not in xml and "{{" not in xml
    text = "\n".join(p.text for p in Docx(str(path)).paragraphs)
    assert "BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG" in text
    assert "Hiện trạng sự cố (*): ☒ Đã được xử lý    ☐ Chưa được xử lý" in text
    wide = render(full["mau08"], Format.DOCX)
    (tmp_path / "mau08.docx").write_bytes(wide)
    table = Docx(str(tmp_path / "mau08.docx")).tables[1]
    assert len(table.columns) == 12 and table.cell(1, 1).text == "Cổng thông tin điện tử tỉnh"


def test_calendar_lists_periodic_deadlines() -> None:
    from soc.config import Config

    config = Config(path=None, data_dir=Path("/nonexistent"))
    rows = periodic_due(config, load_profile("legacy-mic-2017"), NOW, timedelta(days=25))
    assert [(r["report"], r["deadline"], r["command"]) for r in rows] == [
        ("daily", "00:00 ngày 02/12/2026", "soc report daily --period 2026-11-30"),
        ("weekly", "00:00 ngày 08/12/2026", "soc report weekly --period 2026-W49"),
        ("weekly", "00:00 ngày 15/12/2026", "soc report weekly --period 2026-W50"),
        ("weekly", "00:00 ngày 22/12/2026", "soc report weekly --period 2026-W51"),
        ("monthly", "00:00 ngày 05/12/2026", "soc report monthly --period 2026-11"),
        ("half-year", "00:00 ngày 16/01/2027", "soc report half-year --period 2026-H2"),
        ("mau05-6-thang", "00:00 ngày 21/06/2027", "soc report mau05 --period 2027-H1"),
        ("mau05-nam", "00:00 ngày 16/12/2026", "soc report mau05 --period 2026"),
    ]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_writes_reports_and_lists_what_is_due(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    store, config, incs = build_store(tmp_path)
    store.close()
    base = ["-c", str(config.path), "report"]
    out = tmp_path / "out" / "notice.docx"
    code, stdout, err = run([*base, "incident", incs[1].id, "thong_bao_su_co", "-o", str(out),
                             "--json"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["subject"].startswith("[TBSC] Thông báo sự cố - ")
    assert zipfile.is_zipfile(out)
    code, stdout, err = run([*base, "weekly", "--period", "2026-W48", "--system", "dvc"], capsys)
    assert code == 0, err
    assert "| 198.51.100.23 | 1 | 1 | 10:00 ngày 26/11/2026 | dvc-web01 |" in stdout
    code, _, err = run([*base, "weekly", "--unit", "nope"], capsys)
    assert (code, err.splitlines()[0]) == (7, "Error: no unit 'nope' in the inventory")
    code, stdout, err = run([*base, "due", "--json"], capsys)
    assert code == 0, err
    due = next(r for r in json.loads(stdout) if r["report"] == "bao_cao_72h")
    assert (due["about"], due["command"]) == (incs[0].id,
                                              f"soc report incident {incs[0].id} bao_cao_72h")
    code, _, err = run([*base, "incident", incs[0].id, "-f", "docx"], capsys)
    assert code == 8 and "Error: a DOCX report needs a file" in err
    code, stdout, _ = run([*base, "kinds", "--json"], capsys)
    assert [r["kind"] for r in json.loads(stdout)][:2] == ["bao_cao_ngay", "thong_bao_ban_dau"]


HOSTILE = ("<img src=x onerror=alert(1)> [bấm vào](http://evil.example) **x** | y |\n"
           "# not a heading\n\x1b]52;c;cm0gLXJm\x07 \u202eexe.pdf")


def test_markdown_reports_escape_what_came_from_logs(full: dict[str, Document]) -> None:
    """A value written by an attacker cannot open HTML, a link, a table cell or a heading, nor
    carry terminal escapes, in a Markdown report (they carried raw HTML before)."""
    doc = apply_overrides(full["legacy-mic-2017.thong_bao_su_co"], {"description": HOSTILE})
    md = render(doc, Format.MD).decode("utf-8")
    (line,) = [ln for ln in md.splitlines() if "onerror" in ln]
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in line
    assert "\\[bấm vào\\](http://evil.example)" in line and "\\*\\*x\\*\\* \\| y \\|" in line
    assert "<br>\\# not a heading<br>" in line
    assert "\x1b" not in md and "\x07" not in md and "\u202e" not in md
    assert "\\\\x1b\\]52;c;cm0gLXJm\\\\x07 \\\\u202eexe.pdf" in line


@pytest.mark.parametrize(("value", "shown"), [
    ("1. one", "1\\. one"), ("- item", "\\- item"), ("+ x", "\\+ x"), ("===", "\\==="),
    ("## h", "\\## h"), ("a_b*c`d~e", "a\\_b\\*c\\`d\\~e"), ("a & b < c", "a &amp; b &lt; c"),
    ("2026 ok", "2026 ok"), ("x\r\ny", "x<br>y"), ("C:\\temp", "C:\\\\temp")])
def test_md_escape(value: str, shown: str) -> None:
    assert md_escape(value) == shown
