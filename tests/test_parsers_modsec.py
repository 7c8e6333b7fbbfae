"""ModSecurity: the audit log (JSON v2 and v3, native serial v2 and v3) and its lines in the Apache
and Nginx error logs. Every record is made up here, in the shapes ModSecurity's reference manual
(v2 "Audit Log" and "Data Formats") and libmodsecurity's JSON output describe."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.modsec import BODY_BYTES, ModSecAuditParser
from collectors.parsers.modsec_messages import parse_message
from collectors.parsers.web import ApacheErrorParser, NginxErrorParser
from soc.detection.passthrough import device_findings
from soc.ecs import Event
from soc.errors import ParseError
from soc.models import Severity
from soc.pipeline.parsing import AutoParser, get_parser
from soc.pipeline.sources import ParseContext

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CTX = ParseContext(tz=HCM, now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC), source="waf")
CRS = "/etc/modsecurity/crs/rules"
SQLI_MSG = (
    f'Warning. detected SQLi using libinjection with fingerprint \'s&sos\' [file "{CRS}/'
    'REQUEST-942-APPLICATION-ATTACK-SQLI.conf"] [line "46"] [id "942100"] [msg "SQL Injection '
    'Attack Detected via libinjection"] [data "Matched Data: s&sos found within ARGS:ma_ho_so: '
    "1' union select ten,mat_khau from nguoi_dung--\"] [severity \"CRITICAL\"] "
    '[ver "OWASP_CRS/3.3.5"] [tag "application-multi"] [tag "attack-sqli"]')
SCANNER_MSG = (
    f'Warning. Matched phrase "sqlmap" at REQUEST_HEADERS:User-Agent. [file "{CRS}/REQUEST-913-'
    'SCANNER-DETECTION.conf"] [line "33"] [id "913100"] [msg "Found User-Agent associated with '
    'security scanner"] [data "Matched Data: sqlmap found within REQUEST_HEADERS:User-Agent: '
    'sqlmap/1.8"] [severity "CRITICAL"] [ver "OWASP_CRS/3.3.5"] [tag "attack-reputation-scanner"]')
DENY_MSG = (
    'Access denied with code 403 (phase 2). Operator GE matched 5 at TX:anomaly_score. '
    f'[file "{CRS}/REQUEST-949-BLOCKING-EVALUATION.conf"] [line "81"] [id "949110"] '
    '[msg "Inbound Anomaly Score Exceeded (Total Score: 10)"] [severity "CRITICAL"] '
    '[ver "OWASP_CRS/3.3.5"] [tag "attack-generic"]')
WARN_949_MSG = DENY_MSG.replace("Access denied with code 403 (phase 2)", "Warning")
BODY = "ma_ho_so=1%27+union+select+ten%2Cmat_khau+from+nguoi_dung--&trang=1"


def serial(*, body: str = BODY, h: bool = True, z: bool = True, ident: str = "5a3c1e0f",
           messages: tuple[str, ...] = (SQLI_MSG, SCANNER_MSG, DENY_MSG),
           length: int | None = None, v3: bool = False) -> str:
    """A serial record: v2 boundaries (``--id-X--``), or v3's (``---id---X--``)."""
    mark = (lambda p: f"---{ident}---{p}--") if v3 else (lambda p: f"--{ident}-{p}--")
    size = len(body.encode()) if length is None else length
    lines = [
        mark("A"), "[24/Nov/2026:08:15:02.317482 +0700] Z0PvNn8AAQEAAB2kQ1sAAAAC "
                   "203.0.113.45 51734 10.20.0.15 443",
        mark("B"), "POST /dichvucong/tra-cuu-ho-so?lang=vi HTTP/1.1",
        "Host: dichvucong.tinh.gov.vn", "User-Agent: sqlmap/1.8.2#stable (https://sqlmap.org)",
        "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {size}", "",
        mark("C"), body, "",
        mark("F"), "HTTP/1.1 403 Forbidden", "Content-Type: text/html; charset=iso-8859-1", "",
    ]
    if h:
        prefix = "ModSecurity: " if v3 else "Message: "
        lines += [mark("H"), *(prefix + m for m in messages)]
        if not v3:
            lines += ["Action: Intercepted (phase 2)", "Apache-Handler: proxy-server",
                      "Producer: ModSecurity for Apache/2.9.7 (http://www.modsecurity.org/); "
                      "OWASP_CRS/3.3.5.", 'Engine-Mode: "ENABLED"']
        lines.append("")
    if z:
        lines.append(mark("Z"))
    return "\n".join(lines)


V2_JSON = {
    "transaction": {"time": "24/Nov/2026:08:20:11 +0700",
                    "transaction_id": "Z0PwW38AAQEAAB2kQ1wAAAAD",
                    "remote_address": "198.51.100.23", "remote_port": 40112,
                    "local_address": "10.20.0.15", "local_port": 80},
    "request": {"request_line": "GET /van-ban/tai-ve?file=../../../../etc/passwd HTTP/1.1",
                "headers": {"Host": "congbao.tinh.gov.vn", "User-Agent": "curl/8.5.0"}},
    "response": {"protocol": "HTTP/1.1", "status": 403, "headers": {}},
    "audit_data": {
        "messages": [
            'Warning. Matched phrase "etc/passwd" at ARGS:file. [file "/crs/REQUEST-930-'
            'APPLICATION-ATTACK-LFI.conf"] [line "97"] [id "930120"] [msg "OS File Access '
            'Attempt"] [data "Matched Data: etc/passwd found within ARGS:file: '
            '../../../../etc/passwd"] [severity "CRITICAL"] [ver "OWASP_CRS/3.3.5"] '
            '[tag "attack-lfi"]',
            'Warning. Matched phrase "../" at ARGS:file. [file "/crs/REQUEST-930-APPLICATION-'
            'ATTACK-LFI.conf"] [line "70"] [id "930110"] [msg "Path Traversal Attack (/../)"] '
            '[severity "WARNING"] [tag "attack-lfi"]',
            'Access denied with code 403 (phase 2). Operator GE matched 5 at '
            'TX:anomaly_score. [file "/crs/REQUEST-949-BLOCKING-EVALUATION.conf"] [line "81"] '
            '[id "949110"] [msg "Inbound Anomaly Score Exceeded (Total Score: 8)"] '
            '[severity "CRITICAL"]'],
        "action": {"intercepted": True, "phase": 2,
                   "message": "Operator GE matched 5 at TX:anomaly_score."},
        "producer": ["ModSecurity for Apache/2.9.7 (http://www.modsecurity.org/)",
                     "OWASP_CRS/3.3.5"]},
}
V3_JSON = {
    "transaction": {
        "client_ip": "192.0.2.77", "time_stamp": "Tue Nov 24 09:05:44 2026", "server_id": "ab12",
        "client_port": 55012, "host_ip": "10.20.0.16", "host_port": 443,
        "unique_id": "176395234412.771033",
        "request": {"method": "POST", "http_version": 1.1, "uri": "/api/gop-y",
                    "headers": {"Host": "gopy.tinh.gov.vn", "User-Agent": "Mozilla/5.0",
                                "Content-Type": "application/json"},
                    "body": '{"noi_dung":"<script>alert(document.cookie)</script>"}'},
        "response": {"http_code": 200, "headers": {}},
        "producer": {"modsecurity": "ModSecurity v3.0.12 (Linux)",
                     "connector": "ModSecurity-nginx v1.0.3",
                     "secrules_engine": "DetectionOnly", "components": ["OWASP_CRS/4.7.0"]},
        "messages": [
            {"message": "XSS Attack Detected via libinjection",
             "details": {"match": "detected XSS using libinjection.",
                         "reference": "v10,45t:utf8toUnicode", "ruleId": "941100",
                         "file": "/crs/REQUEST-941-APPLICATION-ATTACK-XSS.conf",
                         "lineNumber": "55", "data": "Matched Data: XSS data found within "
                         "ARGS:json.noi_dung: <script>alert(document.cookie)</script>",
                         "severity": "2", "ver": "OWASP_CRS/4.7.0", "rev": "",
                         "tags": ["attack-xss", "paranoia-level/1"], "maturity": "0",
                         "accuracy": "0"}},
            {"message": "Inbound Anomaly Score Exceeded (Total Score: 5)",
             "details": {"match": "Matched \"Operator `Ge' with parameter `5' against variable "
                         "`TX:BLOCKING_INBOUND_ANOMALY_SCORE' (Value: `5' )",
                         "ruleId": "949110", "severity": "0", "tags": ["anomaly-evaluation"]}},
        ],
    },
}
V3_CLEAN = {"transaction": {"client_ip": "192.0.2.80", "time_stamp": "Tue Nov 24 09:06:00 2026",
                            "client_port": 50000, "host_ip": "10.20.0.16", "host_port": 80,
                            "unique_id": "176395236000.1",
                            "request": {"method": "GET", "uri": "/tin-tuc?trang=2",
                                        "http_version": 1.1, "headers": {}},
                            "response": {"http_code": 200}, "messages": []}}
V2_JSON_LINE = json.dumps(V2_JSON)
V3_JSON_LINE = json.dumps(V3_JSON)
APACHE_MODSEC = (
    "[Tue Nov 24 08:15:02.318001 2026] [security2:error] [pid 2231:tid 140051] "
    "[client 203.0.113.45:51734] [client 203.0.113.45] ModSecurity: " + DENY_MSG
    + ' [hostname "dichvucong.tinh.gov.vn"] [uri "/dichvucong/tra-cuu-ho-so"] '
    '[unique_id "Z0PvNn8AAQEAAB2kQ1sAAAAC"]')
APACHE_MODSEC_WARN = (
    "[Tue Nov 24 08:15:02.318000 2026] [security2:error] [pid 2231:tid 140051] "
    "[client 203.0.113.45:51734] [client 203.0.113.45] ModSecurity: " + SQLI_MSG
    + ' [hostname "dichvucong.tinh.gov.vn"] [uri "/dichvucong/tra-cuu-ho-so"] '
    '[unique_id "Z0PvNn8AAQEAAB2kQ1sAAAAC"]')
NGINX_MODSEC = (
    "2026/11/24 09:05:44 [error] 812#812: *4411 [client 192.0.2.77] ModSecurity: Access denied "
    "with code 403 (phase 2). Matched \"Operator `Ge' with parameter `5' against variable "
    "`TX:ANOMALY_SCORE' (Value: `8' ) [file \"/crs/REQUEST-949-BLOCKING-EVALUATION.conf\"] "
    '[line "80"] [id "949110"] [rev ""] [msg "Inbound Anomaly Score Exceeded (Total Score: 8)"] '
    '[data ""] [severity "2"] [ver "OWASP_CRS/3.3.5"] [maturity "0"] [accuracy "0"] '
    '[tag "application-multi"] [hostname "10.20.0.16"] [uri "/tim-kiem"] '
    '[unique_id "176395234412.771099"] [ref ""], client: 192.0.2.77, server: portal, '
    'request: "GET /tim-kiem?q=%3Cscript%3E HTTP/1.1", host: "portal.tinh.gov.vn"')


def parse(text: str) -> Event:
    return ModSecAuditParser().parse(text, CTX)


# --- native serial -------------------------------------------------------------------------------


def test_serial_v2_record() -> None:
    ev = parse(serial())
    assert ev["@timestamp"] == "2026-11-24T01:15:02.317Z"
    assert ev["event.dataset"] == "modsecurity.audit" and ev["event.module"] == "modsecurity"
    assert (ev["source.ip"], ev["source.port"]) == ("203.0.113.45", 51734)
    assert (ev["destination.ip"], ev["destination.port"]) == ("10.20.0.15", 443)
    assert ev["http.request.id"] == "Z0PvNn8AAQEAAB2kQ1sAAAAC"
    assert ev["http.request.method"] == "POST" and ev["http.version"] == "1.1"
    assert (ev["url.original"], ev["url.path"], ev["url.query"]) == (
        "/dichvucong/tra-cuu-ho-so?lang=vi", "/dichvucong/tra-cuu-ho-so", "lang=vi")
    assert ev["url.domain"] == "dichvucong.tinh.gov.vn"
    assert ev["user_agent.original"].startswith("sqlmap/1.8.2")
    assert ev["http.request.body.content"] == BODY
    assert ev["http.request.body.bytes"] == len(BODY)
    assert "modsecurity.body_truncated" not in ev
    assert ev["http.response.status_code"] == 403
    assert ev["rule.id"] == ["942100", "913100", "949110"]
    assert ev["rule.name"][0] == "SQL Injection Attack Detected via libinjection"
    assert ev["modsecurity.anomaly_score"] == 10
    assert (ev["event.action"], ev["event.kind"]) == ("blocked", "alert")
    assert ev["event.severity"] == 2 and ev["modsecurity.severity"] == "CRITICAL"
    assert (ev["rule.ruleset"], ev["rule.version"]) == ("OWASP_CRS", "3.3.5")
    assert "attack-sqli" in ev["modsecurity.tags"]
    assert ev["event.type"] == ["access", "denied"]
    assert ev["event.category"] == ["web", "intrusion_detection"]
    assert ev["modsecurity.producer"].startswith("ModSecurity for Apache/2.9.7")
    assert "log.flags" not in ev


def test_serial_v3_record_with_numeric_severity() -> None:
    msg = SQLI_MSG.replace('[severity "CRITICAL"]', '[severity "2"]')
    ev = parse(serial(v3=True, ident="hNMmPtXt", messages=(msg, DENY_MSG)))
    assert ev["rule.id"] == ["942100", "949110"]
    assert ev["event.severity"] == 2 and ev["event.action"] == "blocked"
    assert ev["http.request.body.content"] == BODY


def test_serial_without_h_is_a_request_without_verdict() -> None:
    ev = parse(serial(h=False))
    assert ev["http.request.body.content"] == BODY
    assert ev["event.kind"] == "event"
    assert not {"rule.id", "event.action", "modsecurity.anomaly_score"} & set(ev)


def test_truncated_serial_record_is_read_and_flagged() -> None:
    """The writer died before Z (and before H): what was written is the event."""
    ev = parse(serial(z=False, h=False))
    assert ev["log.flags"] == ["incomplete"]
    assert ev["http.request.body.content"] == BODY
    cut = "\n".join(serial().split("\n")[:9])  # up to the middle of the headers
    ev = parse(cut)
    assert ev["log.flags"] == ["incomplete"] and ev["http.request.method"] == "POST"
    assert "http.request.body.content" not in ev


def test_huge_body_is_capped_and_flagged() -> None:
    body = "noi_dung=" + "Thủ tục hành chính " * 2000
    ev = parse(serial(body=body))
    kept = ev["http.request.body.content"]
    assert len(kept.encode()) <= BODY_BYTES and body.startswith(kept)
    assert ev["http.request.body.bytes"] == len(body.encode())
    assert ev["modsecurity.body_truncated"] is True


def test_body_shorter_than_its_content_length_is_flagged() -> None:
    """ModSecurity logged part of it (request body limit), or the collector's bound cut it."""
    ev = parse(serial(length=900_000))
    assert ev["http.request.body.bytes"] == 900_000
    assert ev["modsecurity.body_truncated"] is True


def test_binary_body_is_kept_as_text() -> None:
    body = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\ufffd\ufffd"
    ev = parse(serial(body=body))
    assert ev["http.request.body.content"] == body.replace("\r\n", "\n")  # as lines are read
    json.dumps(ev)  # a store can hold it


def test_boundary_lines_of_another_record_inside_a_body_are_body() -> None:
    body = "--0badc0de-Z--\n--0badc0de-H--"
    ev = parse(serial(body=body))
    assert ev["http.request.body.content"] == body
    assert ev["rule.id"][0] == "942100"


def test_detection_only_warning_over_threshold_is_an_alert() -> None:
    ev = parse(serial(messages=(SQLI_MSG, WARN_949_MSG)).replace(
        "Action: Intercepted (phase 2)\n", "").replace("HTTP/1.1 403 Forbidden", "HTTP/1.1 200 OK"))
    assert (ev["event.action"], ev["event.kind"]) == ("detected", "alert")
    assert ev["event.type"] == ["access"]


def test_a_notice_under_the_threshold_is_no_alert() -> None:
    notice = ('Warning. Matched phrase "x" [id "920350"] [msg "Host header is a numeric IP '
              'address"] [severity "WARNING"]')
    ev = parse(serial(messages=(notice,)).replace("Action: Intercepted (phase 2)\n", "")
               .replace("HTTP/1.1 403 Forbidden", "HTTP/1.1 200 OK"))
    assert (ev["event.action"], ev["event.kind"]) == ("detected", "event")
    assert ev["event.severity"] == 4


@pytest.mark.parametrize("text", [
    "--5a3c1e0f-A--\n[garbage] x\n--5a3c1e0f-Z--",
    "--5a3c1e0f-A--\n--5a3c1e0f-Z--",
    "--5a3c1e0f-B--\nGET / HTTP/1.1",
    "--5a3c1e0f-A--\n[31/Feb/2026:08:15:02 +0700] id 1.2.3.4 1 5.6.7.8 80",
])
def test_bad_serial_records_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


# --- JSON ----------------------------------------------------------------------------------------


def test_v2_json() -> None:
    ev = parse(V2_JSON_LINE)
    assert ev["@timestamp"] == "2026-11-24T01:20:11.000Z"
    assert (ev["source.ip"], ev["source.port"], ev["destination.port"]) == (
        "198.51.100.23", 40112, 80)
    assert ev["url.path"] == "/van-ban/tai-ve"
    assert ev["url.query"] == "file=../../../../etc/passwd"
    assert ev["rule.id"] == ["930120", "949110", "930110"]  # most severe first
    assert ev["modsecurity.anomaly_score"] == 8
    assert (ev["event.action"], ev["event.kind"]) == ("blocked", "alert")
    assert ev["modsecurity.producer"] == (
        "ModSecurity for Apache/2.9.7 (http://www.modsecurity.org/); OWASP_CRS/3.3.5")


def test_v2_json_body_in_chunks() -> None:
    doc = json.loads(V2_JSON_LINE)
    doc["request"]["body"] = ["ten=Nguy", "ễn Văn A&cmd=;cat /etc/passwd"]
    ev = parse(json.dumps(doc, ensure_ascii=False))
    assert ev["http.request.body.content"] == "ten=Nguyễn Văn A&cmd=;cat /etc/passwd"


def test_v3_json_detection_only() -> None:
    ev = parse(V3_JSON_LINE)
    assert ev["@timestamp"] == "2026-11-24T02:05:44.000Z"  # the server's local time: ctx.tz
    assert (ev["source.ip"], ev["source.port"]) == ("192.0.2.77", 55012)
    assert ev["http.request.method"] == "POST" and ev["url.path"] == "/api/gop-y"
    assert ev["http.version"] == "1.1"
    assert ev["http.request.body.content"].startswith('{"noi_dung":"<script>')
    assert ev["http.request.mime_type"] == "application/json"
    assert ev["rule.id"] == ["949110", "941100"]  # severity 0 before 2
    assert ev["modsecurity.anomaly_score"] == 5
    assert (ev["event.action"], ev["event.kind"]) == ("detected", "alert")  # 200: not blocked
    assert ev["modsecurity.producer"] == "ModSecurity v3.0.12 (Linux); ModSecurity-nginx v1.0.3"


def test_v3_json_403_with_blocking_evaluation_is_blocked() -> None:
    doc = json.loads(V3_JSON_LINE)
    doc["transaction"]["response"]["http_code"] = 403
    assert parse(json.dumps(doc))["event.action"] == "blocked"


def test_v3_json_without_messages_is_a_plain_request() -> None:
    ev = parse(json.dumps(V3_CLEAN))
    assert ev["event.kind"] == "event" and "event.action" not in ev
    assert ev["url.query"] == "trang=2" and ev["http.response.status_code"] == 200


@pytest.mark.parametrize("text", [
    '{"transaction": 5}', '{"transaction": {}}', '{"transaction": {"time_stamp": "yesterday"}}',
    '{"transaction": {"time": "99/Abc/2026:00:00:00 +0000"}}', '{"transaction": [', "[" * 5000,
])
def test_bad_json_records_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


def test_auto_detection_prefers_modsecurity_over_plain_json() -> None:
    auto = get_parser("auto")
    assert isinstance(auto, AutoParser)
    assert auto.parse(V3_JSON_LINE, CTX)["event.dataset"] == "modsecurity.audit"
    assert auto.parse(serial(), CTX)["event.dataset"] == "modsecurity.audit"
    assert auto.parse('{"transactions": 1, "@timestamp": "2026-11-24T01:00:00Z"}',
                      CTX)["event.dataset"] != "modsecurity.audit"


# --- the error logs ------------------------------------------------------------------------------


def test_apache_error_modsecurity_access_denied() -> None:
    ev = ApacheErrorParser().parse(APACHE_MODSEC, CTX)
    assert ev["event.dataset"] == "apache.error"
    assert ev["source.ip"] == "203.0.113.45" and ev["source.port"] == 51734
    assert ev["rule.id"] == ["949110"]
    assert ev["rule.name"] == ["Inbound Anomaly Score Exceeded (Total Score: 10)"]
    assert ev["modsecurity.anomaly_score"] == 10
    assert (ev["event.action"], ev["event.kind"]) == ("blocked", "alert")
    assert ev["url.domain"] == "dichvucong.tinh.gov.vn"
    assert ev["url.path"] == "/dichvucong/tra-cuu-ho-so"
    assert ev["http.request.id"] == "Z0PvNn8AAQEAAB2kQ1sAAAAC"
    assert ev["message"] == ("ModSecurity: Access denied with code 403 (phase 2). Operator GE "
                             "matched 5 at TX:anomaly_score. Inbound Anomaly Score Exceeded "
                             "(Total Score: 10)")


def test_apache_error_modsecurity_warning_is_no_alert_of_its_own() -> None:
    """One alert per request: its Access denied line, not each rule it matched."""
    ev = ApacheErrorParser().parse(APACHE_MODSEC_WARN, CTX)
    assert (ev["event.action"], ev["event.kind"]) == ("detected", "event")
    assert ev["rule.id"] == ["942100"] and ev["event.severity"] == 2
    assert ev["modsecurity.data"] == [
        "Matched Data: s&sos found within ARGS:ma_ho_so: 1' union select ten,mat_khau from "
        "nguoi_dung--"]


def test_nginx_error_modsecurity_v3() -> None:
    ev = NginxErrorParser().parse(NGINX_MODSEC, CTX)
    assert ev["event.dataset"] == "nginx.error" and ev["source.ip"] == "192.0.2.77"
    assert ev["rule.id"] == ["949110"] and ev["event.severity"] == 2
    assert ev["modsecurity.anomaly_score"] == 8
    assert (ev["event.action"], ev["event.kind"]) == ("blocked", "alert")
    assert ev["url.path"] == "/tim-kiem" and ev["url.query"] == "q=%3Cscript%3E"
    assert ev["url.domain"] == "portal.tinh.gov.vn"


def test_error_lines_without_modsecurity_are_unchanged() -> None:
    ev = ApacheErrorParser().parse("[Tue Nov 24 08:15:02 2026] [error] [client 10.0.0.1] File "
                                   "does not exist: /var/www/favicon.ico", CTX)
    assert "rule.id" not in ev and ev["event.kind"] == "event"
    ev = NginxErrorParser().parse("2026/11/24 09:05:44 [error] 812#812: *1 [client 1.2.3.4] "
                                  "open() failed, client: 1.2.3.4, server: portal", CTX)
    assert ev["message"] == "[client 1.2.3.4] open() failed" and "rule.id" not in ev


def test_message_tags_with_escaped_quotes() -> None:
    msg = parse_message('Warning. x [id "1"] [data "a \\"quoted\\" b"] [tag "t1"] [tag "t2"]')
    assert msg.values["data"] == 'a "quoted" b' and msg.tags == ("t1", "t2")


# --- the soc alert -------------------------------------------------------------------------------


def test_blocked_request_becomes_one_device_alert_named_by_the_attack() -> None:
    events = [parse(serial()), parse(json.dumps(V3_CLEAN)),
              ApacheErrorParser().parse(APACHE_MODSEC_WARN, CTX)]
    for ev in events:
        ev["event.id"] = ev["@timestamp"]
    findings = device_findings(events)
    assert [(f.rule_id, f.title, f.level) for f in findings] == [
        ("modsecurity:942100", "SQL Injection Attack Detected via libinjection", Severity.HIGH)]


def test_modsecurity_severities_on_the_soc_scale() -> None:
    from soc.detection.passthrough import syslog_scale
    assert [syslog_scale(n) for n in range(8)] == [
        Severity.CRITICAL, Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW,
        Severity.INFORMATIONAL, Severity.INFORMATIONAL, Severity.INFORMATIONAL]


# --- the web enrichment on the request body ------------------------------------------------------


def test_form_body_gets_the_web_verdicts() -> None:
    ev = parse(serial(h=False))  # no CRS verdict: the body alone says SQL injection
    assert "sqli" in ev["web.attack.classes"] and ev["web.attack.strong"] is True
    assert any(e.startswith("body param ma_ho_so") for e in ev["web.attack.evidence"])
    assert ev["web.decoded.names"] == ["lang", "ma_ho_so", "trang"]  # the query's, the body's
    assert ev["web.decoded.values"][1] == "1' union select ten,mat_khau from nguoi_dung--"


def test_json_body_leaves_get_the_web_verdicts() -> None:
    ev = parse(V3_JSON_LINE)
    assert ev["web.attack.classes"] == ["xss"]
    assert ev["web.decoded.names"] == ["noi_dung"]


def test_benign_vietnamese_body_gets_no_verdict() -> None:
    ev = parse(serial(h=False, body="ho_ten=Nguy%E1%BB%85n+Th%E1%BB%8B+H%C6%B0%C6%A1ng"
                                     "&dia_chi=S%E1%BB%91+12%2C+ph%C6%B0%E1%BB%9Dng+1"))
    assert not [k for k in ev if k.startswith("web.attack.")]
