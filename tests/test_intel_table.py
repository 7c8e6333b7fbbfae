"""CSV tables and plain lists of indicators as national centres send them: Vietnamese headers
(with and without diacritics, NFC or NFD, any case) in UTF-8 with a BOM, UTF-16 (Excel's "Unicode
text"), Windows-1258, ``;`` and tab delimiters, defanged values, day-first dates in Vietnam's
zone, bad rows skipped with their row number, a column map, and one-value-a-line lists.

The tables are written here (no centre's real list is copied)."""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from soc.intel.feeds.table import parse_when, read_list, read_table, refang
from soc.intel.http import FeedError
from soc.intel.model import Indicator

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
LIFETIMES = {"ipv4": timedelta(days=30), "domain": timedelta(days=90),
             "sha256": timedelta(days=365)}

HEADER = ["STT", "Giá trị", "Loại", "Mô tả", "Độ tin cậy", "Ngày phát hiện", "Ngày hết hạn",
          "Nguồn", "TLP", "Nhãn", "Tham chiếu"]
ROWS = [
    ["1", "hxxp://tai-lieu[.]example[.]vn/hoa-don.zip", "Đường dẫn", "Tải mã độc", "Cao",
     "15/02/2026 14:30", "31/12/2026", "NCSC", "TLP:AMBER", "malware; lừa đảo", "CV 123/NCSC"],
    ["2", "203.0.113[.]45", "Địa chỉ IP", "Máy chủ điều khiển", "80%", "2026-02-20", "", "",
     "Đỏ", "c2", ""],
    ["3", "Login-VCB[.]example", "Tên miền", "Giả mạo ngân hàng", "Trung bình", "", "", "",
     "xanh lá", "", "hxxps://canhbao[.]example[.]vn/a"],
    ["4", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "Mã băm SHA256",
     "", "", "", "", "", "", "", ""],
    ["5", "999.1.1.1", "IP", "sai", "", "", "", "", "", "", ""],
    ["6", "ketoan[at]example[.]vn", "Thư điện tử", "", "thấp", "31/02/2026", "", "", "", "", ""],
    ["7", "", "IP", "dòng thiếu giá trị", "", "", "", "", "", "", ""],
    ["8", "bad.example.vn", "Tên miền", "", "", "", "", "", "TLP:PURPLE", "", ""],
    ["9", "0901234567", "Số điện thoại", "", "", "", "", "", "", "", ""],
    ["10", "198.51.100.0/24", "", "dải mạng, loại tự đoán", "150", "", "", "", "", "", ""],
    ["11", "198.51.100.7", "", "", "0,9", "", "", "", "", "", ""],
]
EXPECTED = [
    Indicator("url", "http://tai-lieu.example.vn/hoa-don.zip", "ncsc",
              first_seen="2026-02-15T07:30:00.000Z", valid_until="2026-12-31T17:00:00.000Z",
              confidence=85, tlp="amber", tags=("malware", "lừa đảo"), description="Tải mã độc",
              reference="CV 123/NCSC"),
    Indicator("ipv4", "203.0.113.45", "ncsc", first_seen="2026-02-19T17:00:00.000Z",
              valid_until="2026-04-01T08:00:00.000Z", confidence=80, tlp="red", tags=("c2",),
              description="Máy chủ điều khiển"),
    Indicator("domain", "login-vcb.example", "ncsc", valid_until="2026-05-31T08:00:00.000Z",
              confidence=50, tlp="green", description="Giả mạo ngân hàng",
              reference="https://canhbao.example.vn/a"),
    Indicator("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
              "ncsc", valid_until="2027-03-02T08:00:00.000Z"),
    Indicator("ipv4", "198.51.100.7", "ncsc", valid_until="2026-04-01T08:00:00.000Z",
              confidence=90),
]
SKIPPED = [
    ("row 6", "not an IP address or network: '999.1.1.1'"),
    ("row 7", "first seen: not a date (dd/mm/yyyy or ISO 8601): '31/02/2026'"),
    ("row 8", "no value"),
    ("row 9", "TLP: unknown label 'TLP:PURPLE'"),
    ("row 10", "type 'Số điện thoại' unknown and cannot tell what '0901234567' is"),
    ("row 11", "confidence: not 0-100: '150'"),
]


def csv_text(header: list[str], rows: list[list[str]], sep: str = ";") -> str:
    def cell(text: str) -> str:
        return f'"{text}"' if sep in text or '"' in text else text
    return "\r\n".join(sep.join(cell(c) for c in row) for row in [header, *rows]) + "\r\n"


def cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: base letters (â, ơ, ư, đ…) with the tone
    marks as separate combining characters."""
    out = bytearray()
    tones = "\u0300\u0301\u0303\u0309\u0323"
    for ch in unicodedata.normalize("NFC", text):
        base, *marks = list(unicodedata.normalize("NFD", ch))
        rest = "".join(m for m in marks if m not in tones)
        out += unicodedata.normalize("NFC", base + rest).encode("cp1258")
        out += "".join(m for m in marks if m in tones).encode("cp1258")
    return bytes(out)


def read(data: bytes, **options: object) -> tuple[list[Indicator], list[tuple[str, str]]]:
    result = read_table(data, source="ncsc", now=NOW, lifetimes=LIFETIMES, **options)  # type: ignore[arg-type]
    assert result.cursor is None
    return result.indicators, result.skipped


def test_vietnamese_headers_utf8_bom_semicolons() -> None:
    data = codecs.BOM_UTF8 + csv_text(HEADER, ROWS).encode()
    found, skipped = read(data)
    assert found == EXPECTED
    assert skipped == SKIPPED
    assert found[0].extra == {"origin": "NCSC"} and found[1].extra == {}


@pytest.mark.parametrize(("sep", "encode"), [
    pytest.param("\t", lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
                 id="utf16-le-bom-tabs"),  # Excel's "Unicode text"
    pytest.param(";", lambda t: t.encode("utf-16"), id="utf16-native-bom"),
    pytest.param(",", lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"), id="utf16-be-bom"),
    pytest.param(",", lambda t: t.encode("utf-8"), id="utf8-no-bom"),
    pytest.param(";", cp1258, id="cp1258"),
    pytest.param(";", lambda t: unicodedata.normalize("NFD", t).encode("utf-8"), id="utf8-nfd"),
])
def test_the_same_table_in_every_encoding(sep: str, encode: Callable[[str], bytes]) -> None:
    found, skipped = read(encode(csv_text(HEADER, ROWS, sep)))
    assert found == EXPECTED and skipped == SKIPPED


def test_cp1258_is_the_last_resort_and_reads_tone_marks() -> None:
    data = cp1258(csv_text(HEADER, ROWS))
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert b"\xec" in data  # a combining acute accent, as Windows writes it
    found, _ = read(data)
    assert found[1].description == "Máy chủ điều khiển"
    assert unicodedata.is_normalized("NFC", found[1].description)


def test_headers_match_without_diacritics_in_any_case_and_in_english() -> None:
    folded = ["stt", "GIA TRI", "loai", "MO TA", "do tin cay", "Ngay Phat Hien", "hieu luc den",
              "nguon", "tlp", "nhan", "tham chieu"]
    assert read(csv_text(folded, ROWS, ",").encode())[0] == EXPECTED
    english = ["No", "Indicator", "Type", "Description", "Confidence", "First seen",
               "Valid until", "Source", "TLP", "Tags", "Reference"]
    assert read(csv_text(english, ROWS, "\t").encode())[0] == EXPECTED


def test_a_column_map_names_the_headers() -> None:
    header = ["Cột A", "Phân nhóm", "Ghi chú thêm", "Hạn"]
    rows = [["evil.example.vn", "Domain", "theo CV 9", "01/04/2026 00:00"],
            ["http://x.example.vn/a", "URL", "", ""]]
    columns = {"value": "cột a", "type": "PHÂN NHÓM", "description": "Ghi chu them",
               "valid_until": "Hạn"}
    found, skipped = read(csv_text(header, rows, ",").encode(), columns=columns)
    assert skipped == []
    assert found == [
        Indicator("domain", "evil.example.vn", "ncsc", valid_until="2026-03-31T17:00:00.000Z",
                  description="theo CV 9"),
        Indicator("url", "http://x.example.vn/a", "ncsc"),
    ]
    with pytest.raises(FeedError) as missing:
        read(csv_text(header, rows).encode(), columns={"value": "Giá trị"})
    assert "'Giá trị' (value) is not in the header" in missing.value.message
    with pytest.raises(FeedError) as unknown:
        read(csv_text(header, rows).encode(), columns={"value": "Cột A", "mau": "Hạn"})
    assert "unknown column map keys: mau" in unknown.value.message


@pytest.mark.parametrize(("word", "value", "kind"), [
    ("IP", "203.0.113.9", "ipv4"), ("Địa chỉ IP", "2001:db8::1", "ipv6"),
    ("ipv4", "10.0.0.0/8", "ipv4"), ("Tên miền", "a.example.vn", "domain"),
    ("Domain", "b.example.vn", "domain"), ("Hostname", "c.example.vn", "domain"),
    ("URL", "https://d.example.vn/x", "url"), ("Đường dẫn", "e.example.vn/login", "url"),
    ("Mã băm MD5", "44d88612fea8a8f36de82e1278abb02f", "md5"),
    ("SHA-1", "3395856ce81f2b7382dee72602f798b642f14140", "sha1"),
    ("SHA256", "a" * 64, "sha256"), ("Mã băm", "b" * 40, "sha1"), ("hash", "c" * 32, "md5"),
    ("Email", "x@example.vn", "email"), ("Thư điện tử", "y@example.vn", "email"),
    ("JA3", "e7d705a3286e19ea42f587b344ee6865", "ja3"),
    ("JA4", "t13d1516h2_8daaf6152771_02713d6af862", "ja4"),
    ("User-Agent", "Mozilla/5.0 EvilBot", "user-agent"),
    ("", "f.example.vn", "domain"), ("Không rõ", "203.0.113.10", "ipv4"),
])
def test_type_words_in_both_languages(word: str, value: str, kind: str) -> None:
    found, skipped = read(csv_text(["Giá trị", "Loại"], [[value, word]]).encode())
    assert skipped == [] and [i.type for i in found] == [kind]


def test_a_type_word_contradicting_the_value_skips_the_row() -> None:
    _, skipped = read(csv_text(["Giá trị", "Loại"], [["evil.example.vn", "MD5"],
                                                      ["x", "Mã băm"]]).encode())
    assert skipped == [("row 2", "not a md5: 'evil.example.vn'"),
                       ("row 3", "not an md5, sha1 or sha256: 'x'")]


def test_a_header_naming_a_type_is_the_value_column() -> None:
    found, _ = read("STT,URL,Ghi chú\n1,evil.example.vn/a,x\n".encode())
    assert [(i.type, i.value) for i in found] == [("url", "http://evil.example.vn/a")]
    found, _ = read("Địa chỉ IP\n203.0.113.1\n".encode())
    assert [(i.type, i.value) for i in found] == [("ipv4", "203.0.113.1")]


def test_dates_are_day_first_in_the_configured_zone() -> None:
    assert parse_when("05/03/2026", HCM) == "2026-03-04T17:00:00.000Z"
    assert parse_when("05/03/2026", HCM, end_of_day=True) == "2026-03-05T17:00:00.000Z"
    assert parse_when("5/3/2026 7:05", HCM) == "2026-03-05T00:05:00.000Z"
    assert parse_when("05-03-2026 14h30", HCM) == "2026-03-05T07:30:00.000Z"
    assert parse_when("05.03.2026 23:59:59", HCM) == "2026-03-05T16:59:59.000Z"
    assert parse_when("2026-03-05T10:00:00Z", HCM) == "2026-03-05T10:00:00.000Z"
    assert parse_when("2026-03-05 10:00", HCM) == "2026-03-05T03:00:00.000Z"
    assert parse_when("2026-03-05T10:00:00+09:00", HCM) == "2026-03-05T01:00:00.000Z"
    assert parse_when("2026/03/05", HCM) == "2026-03-04T17:00:00.000Z"
    assert parse_when("  ", HCM) is None
    with pytest.raises(ValueError):
        parse_when("03/13/2026", HCM)  # never month first
    rows = [["a.example.vn", "13/01/2026"]]
    utc, _ = read(csv_text(["Giá trị", "Ngày phát hiện"], rows).encode(), timezone="UTC")
    assert utc[0].first_seen == "2026-01-13T00:00:00.000Z"
    with pytest.raises(FeedError):
        read(csv_text(["Giá trị"], [["a.example.vn"]]).encode(), timezone="Mars/Base")


def test_refang() -> None:
    assert refang("hxxp://evil[.]com/a") == "http://evil.com/a"
    assert refang("hXXps[:]//evil(.)com") == "https://evil.com"
    assert refang("1.2.3[.]4") == "1.2.3.4"
    assert refang("a[at]b[dot]vn") == "a@b.vn"
    assert refang("x(at)y{.}vn") == "x@y.vn"
    assert refang("fxp://files[.]example[.]vn") == "ftp://files.example.vn"
    assert refang("https://ok.example.vn/[x]") == "https://ok.example.vn/[x]"


def test_odd_files() -> None:
    # Excel's sep= line, a cell over the csv module's limit, broken UTF-8 bytes in one cell
    big = "x" * 200_000
    text = f"sep=,\nGiá trị,Mô tả\n203.0.113.1,{big}\n203.0.113.2,ổn\n".encode()
    found, skipped = read(text)
    assert [i.value for i in found] == ["203.0.113.2"]
    assert skipped == [("row 3", "unreadable CSV: field larger than field limit (131072)")]
    broken = "Giá trị;Mô tả\n203.0.113.3;máy chủ\n".encode() + b"203.0.113.\xff;x\n"
    found, skipped = read(broken)
    assert [i.value for i in found] == ["203.0.113.3"]
    assert skipped == [("row 3", "undecodable bytes in the value: '203.0.113.\ufffd'")]
    with pytest.raises(FeedError) as binary:
        read(b"\x81\x8d\x8f\x90\x9d" * 10)
    assert binary.value.hint == "save the spreadsheet as CSV UTF-8"
    assert read(b"") == ([], [])
    found, _ = read(b"Value,Type\n\n,,\n203.0.113.4,ip\n")
    assert [i.value for i in found] == ["203.0.113.4"]


def test_the_feed_defaults_and_forced_kind() -> None:
    found, _ = read(csv_text(["Giá trị", "Loại"], [["a.example.vn", ""],
                                                    ["b.example.vn", "URL"]]).encode(),
                    kind="url", confidence=70, tlp="amber")
    assert [(i.type, i.value, i.confidence, i.tlp) for i in found] == [
        ("url", "http://a.example.vn/", 70, "amber"), ("url", "http://b.example.vn/", 70, "amber")]
    with pytest.raises(FeedError):
        read(b"a.example.vn\n", kind="hostname")


# --- plain lists ----------------------------------------------------------------------------

LIST = """# Danh sách IoC ngày 02/03/2026
; Spamhaus-style comment

203.0.113.9
198.51.100.0/24 ; SBL123456
evil[.]example[.]vn   # tên miền giả mạo
hxxps://phish.example.vn/dang-nhap
44D88612FEA8A8F36DE82E1278ABB02F
not-a-value
"""


def test_plain_list_guesses_each_type() -> None:
    result = read_table(LIST.encode(), source="list", now=NOW, lifetimes=LIFETIMES)
    assert [(i.type, i.value) for i in result.indicators] == [
        ("ipv4", "203.0.113.9"), ("ipv4", "198.51.100.0/24"), ("domain", "evil.example.vn"),
        ("url", "https://phish.example.vn/dang-nhap"),
        ("md5", "44d88612fea8a8f36de82e1278abb02f")]
    assert result.skipped == [("line 9", "cannot tell what 'not-a-value' is")]
    assert result.indicators[0].valid_until == "2026-04-01T08:00:00.000Z"


def test_plain_list_with_a_forced_kind() -> None:
    agents = "# user agents\nMozilla/5.0 (compatible; EvilBot/2.1)\npython-requests/2.31\n"
    result = read_list(agents.encode("utf-16"), source="ua", kind="user-agent", now=NOW)
    assert [i.value for i in result.indicators] == ["Mozilla/5.0 (compatible; EvilBot/2.1)",
                                                    "python-requests/2.31"]
    domains = read_list(b"evil.example.vn\n203.0.113.9\n", source="d", kind="domain", now=NOW)
    assert [i.value for i in domains.indicators] == ["evil.example.vn"]
    assert domains.skipped == [("line 2", "not a domain name: '203.0.113.9'")]


def test_read_list_never_takes_a_line_for_a_header() -> None:
    data = b"Value,Type\n203.0.113.9\n"
    table = read_table(data, source="t", now=NOW)
    assert ([i.value for i in table.indicators], table.skipped) == (["203.0.113.9"], [])
    listed = read_list(data, source="l", now=NOW)
    assert [i.value for i in listed.indicators] == ["203.0.113.9"]
    assert listed.skipped == [("line 1", "cannot tell what 'Value,Type' is")]
