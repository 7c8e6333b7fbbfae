"""Web server log parsers: access (Apache, Nginx, Tomcat), error (Apache, Nginx), IIS W3C.
Every line is made up here, in the shape of a provincial portal's logs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers import web
from collectors.parsers.web import (
    ApacheAccessParser,
    ApacheErrorParser,
    IisParser,
    NginxAccessParser,
    NginxErrorParser,
    TomcatAccessParser,
    W3CDirective,
)
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CTX = ParseContext(tz=HCM, now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC), source="portal")
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


def access(dataset: str = "apache.access", **more: Any) -> Event:
    """The fields every access event has, plus ``more`` (dots spelt ``__``)."""
    ev: Event = {
        "event.dataset": dataset, "event.module": dataset.split(".")[0], "event.kind": "event",
        "event.category": ["web"], "event.type": ["access"],
    }
    ev.update({k.replace("__", "."): v for k, v in more.items()})
    return ev


def plain(ev: Event) -> Event:
    """``ev`` without the web enrichment's ``web.*`` fields (tests/test_webattack.py has them)."""
    return {k: v for k, v in ev.items() if not k.startswith("web.")}


def test_combined_line() -> None:
    line = ('113.160.22.5 - - [24/Nov/2026:08:15:00 +0700] "GET /dich-vu-cong/tra-cuu?ma=HS-0042'
            ' HTTP/1.1" 200 5123 "https://dichvucong.hanoi.gov.vn/" "' + UA + '"')
    assert plain(ApacheAccessParser().parse(line, CTX)) == access(
        **{"@timestamp": "2026-11-24T01:15:00.000Z"}, source__ip="113.160.22.5",
        http__request__method="GET", http__version="1.1",
        url__original="/dich-vu-cong/tra-cuu?ma=HS-0042", url__path="/dich-vu-cong/tra-cuu",
        url__query="ma=HS-0042", http__response__status_code=200, event__outcome="success",
        http__response__body__bytes=5123,
        http__request__referrer="https://dichvucong.hanoi.gov.vn/", user_agent__original=UA)


def test_vhost_prefix_gives_url_domain_and_port() -> None:
    line = ('portal.hanoi.gov.vn:443 203.0.113.7 - canbo01 [24/Nov/2026:08:15:00 +0700] '
            '"POST /portal/dang-nhap HTTP/1.1" 302 - "-" "curl/8.5.0"')
    assert plain(NginxAccessParser().parse(line, CTX)) == access(
        "nginx.access", **{"@timestamp": "2026-11-24T01:15:00.000Z"}, source__ip="203.0.113.7",
        user__name="canbo01", http__request__method="POST", http__version="1.1",
        url__original="/portal/dang-nhap", url__path="/portal/dang-nhap",
        url__domain="portal.hanoi.gov.vn", destination__port=443,
        http__response__status_code=302, event__outcome="success",
        user_agent__original="curl/8.5.0")


def test_nginx_main_trailer_and_escaped_quote() -> None:
    line = ('198.51.100.9 - - [24/Nov/2026:01:15:00 +0000] "GET /vbdh/?q=\\"or 1=1-- HTTP/1.1" '
            '403 153 "-" "sqlmap/1.8" "10.1.1.2, 10.1.1.3"')
    ev = NginxAccessParser().parse(line, CTX)
    assert ev["url.query"] == 'q="or 1=1--'  # as sent: the log's escaping undone
    assert ev["nginx.access.x_forwarded_for"] == "10.1.1.2, 10.1.1.3"
    assert ev["event.outcome"] == "failure"
    assert ev["@timestamp"] == "2026-11-24T01:15:00.000Z"


@pytest.mark.parametrize(("logged", "sent"), [
    # Apache's ap_escape_logitem: \" and \\ and \xhh for other bytes
    ('/a.php?id=1\\" or \\"1\\"=\\"1', '/a.php?id=1" or "1"="1'),
    ('/dl?f=..\\\\..\\\\boot.ini', '/dl?f=..\\..\\boot.ini'),
    # Nginx (escape=default): \xHH for ", \ and bytes outside printable ASCII; raw UTF-8 target
    ('/tim?q=\\x22\\x3E\\xE1\\xBB\\x85', '/tim?q=">ễ'),
    ('/x?a=\\xZZ', '/x?a=xZZ'),  # not an escape Apache writes: the backslash dropped, kept text
])
def test_the_servers_log_escaping_is_undone(logged: str, sent: str) -> None:
    line = f'203.0.113.5 - - [24/Nov/2026:01:15:00 +0000] "GET {logged} HTTP/1.1" 200 1 "-" "-"'
    ev = ApacheAccessParser().parse(line, CTX)
    assert ev["url.original"] == sent


def test_common_line_from_tomcat_with_unescaped_quotes() -> None:
    line = ('10.20.0.5 - admin [24/Nov/2026:08:15:00 +0700] "GET /manager/html?x="><script>'
            ' HTTP/1.1" 401 2473')
    assert plain(TomcatAccessParser().parse(line, CTX)) == access(
        "tomcat.access", **{"@timestamp": "2026-11-24T01:15:00.000Z"}, source__ip="10.20.0.5",
        user__name="admin", http__request__method="GET", http__version="1.1",
        url__original='/manager/html?x="><script>', url__path="/manager/html",
        url__query='x="><script>', http__response__status_code=401, event__outcome="failure",
        http__response__body__bytes=2473)


def test_line_wrapped_in_quotes_and_odd_requests() -> None:
    parser = ApacheAccessParser()
    wrapped = '"10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.1" 200 10 "-" "w3af""'
    assert parser.parse(wrapped, CTX)["user_agent.original"] == "w3af"
    junk = '10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "\\x16\\x03\\x01" 400 226 "-" "-"'
    ev = parser.parse(junk, CTX)
    assert "url.original" not in ev and ev["http.response.status_code"] == 400
    proxy = ('10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "GET http://evil.example/x?a=1 HTTP/1.1" '
             '404 0')
    ev = parser.parse(proxy, CTX)
    assert (ev["url.domain"], ev["url.path"], ev["url.query"], ev["url.scheme"]) == (
        "evil.example", "/x", "a=1", "http")


@pytest.mark.parametrize("line", [
    "", "garbage", "10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] GET / 200 1",
    '10.0.0.8 - - [24/Foo/2026:08:15:00 +0700] "GET / HTTP/1.1" 200 1',
    '10.0.0.8 - - [24/Nov/2026:25:15:00 +0700] "GET / HTTP/1.1" 200 1',
])
def test_access_garbage(line: str) -> None:
    with pytest.raises(ParseError):
        ApacheAccessParser().parse(line, CTX)


_BASE = '10.0.0.8 - u1 [24/Nov/2026:08:15:00 +0700] "GET /a?b=c HTTP/1.1" 200 12'


@pytest.mark.parametrize("line", [
    _BASE, _BASE + ' "r" "ag"', _BASE + ' "r" "ag" "10.1.1.1"', _BASE + ' "r" "ag" "x" tail',
    _BASE + " trailing words", _BASE + ' "lone"', _BASE + ' "r"  "double space"',
    _BASE + ' "r" "unterminated', _BASE + ' "r" "ag" "unterminated', _BASE + 'x "r" "ag"',
    '10.0.0.8 - - [24/Nov/2026:08:15:00.5 -0330] "GET / HTTP/1.0" - - "-" "-"',
    '10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "" 400 0',
    '10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.0" 2000 1',
    'portal.gov.vn:443 10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.0" 200 1',
    'a b c d [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.0" 200 1',
    '10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "GET /a"b HTTP/1.1" 200 1 "r" "a"',
    '10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.0" 200 1 "a\\\\" "b"',
    '"10.0.0.8 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.0" 200 1 "r" "a""',
])
def test_access_fast_path_gives_what_the_full_pattern_gives(line: str) -> None:
    """The find-based fast path either declines a line or splits it exactly as the regex of
    the format (which handles escapes, vhosts, wrapped lines) does."""
    fast = web._split_access(line)
    if fast is not None:
        full = web._ACCESS.match(line)
        assert full is not None and fast == full.groups()


def test_access_fast_path_takes_the_usual_lines() -> None:
    assert web._split_access(_BASE + ' "r" "ag" "10.1.1.1"') == (
        None, None, "10.0.0.8", "u1", "24/Nov/2026:08:15:00 +0700", "GET /a?b=c HTTP/1.1",
        "200", "12", "r", "ag", "10.1.1.1")
    assert web._split_access(_BASE) is not None
    assert web._split_access('h:80 ' + _BASE) is None  # a vhost: the full pattern's


def test_access_fast_path_takes_wrapped_lines() -> None:
    wrapped = f'"{_BASE} "-" "w3af.org""'
    full = web._ACCESS.match(wrapped, 1, len(wrapped) - 1)
    assert full is not None and web.split_access(wrapped) == full.groups()
    assert web.split_access(wrapped) == web._split_access(wrapped[1:-1]) is not None


def test_access_time_cache_keeps_fractions_and_offsets_apart() -> None:
    parser = ApacheAccessParser()
    stamps = [parser.parse(f"10.0.0.8 - - [24/Nov/2026:08:15:00{t}] \"GET / HTTP/1.1\" 200 1",
                           CTX)["@timestamp"]
              for t in (" +0700", ".25 +0700", ".123456 +0700", " +0000", " +0700", " -0330")]
    assert stamps == ["2026-11-24T01:15:00.000Z", "2026-11-24T01:15:00.250Z",
                      "2026-11-24T01:15:00.123Z", "2026-11-24T08:15:00.000Z",
                      "2026-11-24T01:15:00.000Z", "2026-11-24T11:45:00.000Z"]


def test_access_time_cache_is_bounded_and_bad_times_are_not_cached() -> None:
    parser = ApacheAccessParser()
    for s in range(web._AccessClock.LIMIT + 10):
        parser._clock.stamp(f"24/Nov/2026:{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d} +0700")
    assert 0 < len(parser._clock.seconds) <= web._AccessClock.LIMIT + 1
    assert parser._clock.stamp("24/Nov/2026:01:08:29 +0700") == "2026-11-23T18:08:29.000Z"
    bad = '10.0.0.8 - - [31/Feb/2026:08:15:00 +0700] "GET / HTTP/1.1" 200 1'
    for _ in range(2):
        with pytest.raises(ParseError, match="bad time"):
            parser.parse(bad, CTX)


def test_access_sniff() -> None:
    parser = ApacheAccessParser()
    assert parser.sniff('1.2.3.4 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.1" 200 1')
    assert parser.sniff('h.gov.vn:80 1.2.3.4 - - [24/Nov/2026:08:15:00 +0700] "GET /"')
    assert not parser.sniff("Nov 24 08:15:00 web01 sshd[1]: hi")
    assert not parser.sniff("2026-11-24 01:15:00 10.0.0.1 GET / - 80 - 1.2.3.4 - - 200 0 0 5")


def test_apache_24_error_line() -> None:
    line = ("[Tue Nov 24 08:15:00.123456 2026] [proxy_fcgi:error] [pid 4120:tid 139872] "
            "[client 203.0.113.5:51234] AH01071: Got error 'Primary script unknown', "
            "referer: https://congdichvu.gov.vn/portal/")
    assert ApacheErrorParser().parse(line, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.123Z", "event.dataset": "apache.error",
        "event.module": "apache", "event.kind": "event", "event.category": ["web"],
        "event.type": ["error"], "log.level": "error", "apache.error.module": "proxy_fcgi",
        "process.pid": 4120, "process.thread.id": 139872, "source.ip": "203.0.113.5",
        "source.port": 51234, "error.code": "AH01071",
        "http.request.referrer": "https://congdichvu.gov.vn/portal/",
        "message": "Got error 'Primary script unknown'",
    }


def test_apache_22_error_line() -> None:
    line = ("[Tue Nov 24 08:15:00 2026] [error] [client 10.1.2.3] File does not exist: "
            "/var/www/html/portal/wp-login.php")
    assert ApacheErrorParser().parse(line, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "apache.error",
        "event.module": "apache", "event.kind": "event", "event.category": ["web"],
        "event.type": ["error"], "log.level": "error", "source.ip": "10.1.2.3",
        "message": "File does not exist: /var/www/html/portal/wp-login.php",
    }


def test_nginx_error_line() -> None:
    line = ('2026/11/24 08:15:00 [error] 1234#1234: *42 open() "/usr/share/nginx/html/.env" '
            'failed (2: No such file or directory), client: 203.0.113.7, server: '
            'portal.hanoi.gov.vn, request: "GET /.env HTTP/1.1", host: "portal.hanoi.gov.vn"')
    assert NginxErrorParser().parse(line, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "nginx.error",
        "event.module": "nginx", "event.kind": "event", "event.category": ["web"],
        "event.type": ["error"], "log.level": "error", "process.pid": 1234,
        "process.thread.id": 1234, "nginx.error.connection_id": 42,
        "message": 'open() "/usr/share/nginx/html/.env" failed (2: No such file or directory)',
        "source.ip": "203.0.113.7", "nginx.error.server": "portal.hanoi.gov.vn",
        "http.request.method": "GET", "http.version": "1.1", "url.original": "/.env",
        "url.path": "/.env", "url.domain": "portal.hanoi.gov.vn",
    }


@pytest.mark.parametrize("parser", [ApacheErrorParser(), NginxErrorParser()])
def test_error_garbage(parser: ApacheErrorParser | NginxErrorParser) -> None:
    with pytest.raises(ParseError):
        parser.parse("[Tue Foo 24 08:15:00 2026] [error] x", CTX)
    with pytest.raises(ParseError):
        parser.parse("not an error line", CTX)


# --------------------------------------------------------------------------- IIS

FIELDS = ("#Fields: date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port "
          "cs-username c-ip cs(User-Agent) cs(Referer) cs-host sc-status sc-substatus "
          "sc-win32-status sc-bytes time-taken")


def test_iis_honours_the_fields_header_per_source() -> None:
    parser = IisParser()
    for directive in ("#Software: Microsoft Internet Information Services 10.0",
                      "#Version: 1.0", "#Date: 2026-11-24 00:00:00", FIELDS):
        with pytest.raises(W3CDirective):
            parser.parse(directive, CTX)
    line = ("2026-11-24 01:15:00 W3SVC2 10.20.0.15 POST /Portal/UploadHandler.ashx "
            "folder=../../wwwroot 443 - 203.0.113.9 Mozilla/5.0+(compatible;+Nuclei) - "
            "egov.hagiang.gov.vn 200 0 0 512 31")
    assert plain(parser.parse(line, CTX)) == {
        "@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "iis.access",
        "event.module": "iis", "event.kind": "event", "event.category": ["web"],
        "event.type": ["access"], "iis.access.site_name": "W3SVC2",
        "destination.ip": "10.20.0.15", "http.request.method": "POST",
        "url.path": "/Portal/UploadHandler.ashx", "url.query": "folder=../../wwwroot",
        "destination.port": 443, "source.ip": "203.0.113.9",
        "user_agent.original": "Mozilla/5.0 (compatible; Nuclei)",
        "url.domain": "egov.hagiang.gov.vn", "http.response.status_code": 200,
        "iis.access.sub_status": 0, "iis.access.win32_status": 0,
        "http.response.bytes": 512, "event.duration": 31_000_000,
        "url.original": "/Portal/UploadHandler.ashx?folder=../../wwwroot",
        "event.outcome": "success",
    }
    other = ParseContext(tz=HCM, now=CTX.now, source="another")
    with pytest.raises(ParseError, match="fit no #Fields"):
        parser.parse(line, other)  # the header belongs to "portal" only


def test_iis_without_header_falls_back_to_the_default_layout() -> None:
    line = ("2026-11-24 01:15:00 10.20.0.15 GET /erp/conn.aspx proxy&port=3389&ip=127.0.0.1 80 "
            "- 203.0.113.9 - - 200 0 0 7")
    ev = IisParser().parse(line, CTX)
    assert (ev["url.original"], ev["source.ip"], ev["http.response.status_code"]) == (
        "/erp/conn.aspx?proxy&port=3389&ip=127.0.0.1", "203.0.113.9", 200)


def test_iis_time_only_fields_take_the_date_directive() -> None:
    parser = IisParser()
    for directive in ("#Date: 2026-11-24 00:00:00", "#Fields: time c-ip cs-method cs-uri-stem"):
        with pytest.raises(W3CDirective):
            parser.parse(directive, CTX)
    ev = parser.parse("01:15:00.250 203.0.113.9 GET /portal/", CTX)
    assert ev["@timestamp"] == "2026-11-24T01:15:00.250Z"


@pytest.mark.parametrize("line", [
    "", "2026-11-24 01:15:00 only four",
    "2026-11-24 01:15:00 10.20.0.15 GET / - 80 - 203.0.113.9 - - OK 0 0 7",
    "2026-13-xx 01:15:00 10.20.0.15 GET / - 80 - 203.0.113.9 - - 200 0 0 7",
])
def test_iis_garbage(line: str) -> None:
    with pytest.raises(ParseError) as info:
        IisParser().parse(line, CTX)
    assert not isinstance(info.value, W3CDirective)


def test_iis_sniff_is_specific() -> None:
    parser = IisParser()
    assert parser.sniff(FIELDS)
    assert parser.sniff("2026-11-24 01:15:00 10.20.0.15 GET / - 80")
    assert not parser.sniff('1.2.3.4 - - [24/Nov/2026:08:15:00 +0700] "GET / HTTP/1.1" 200 1')
    assert not parser.sniff("# just a comment")
