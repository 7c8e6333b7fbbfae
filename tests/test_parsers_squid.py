"""Squid access logs: the native format, a native-like custom format, the common/combined
emulation and syslog. Lines written here from Squid's logformat documentation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.squid import SquidParser
from collectors.parsers.syslog import SyslogParser
from soc.cli.main import main
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
NATIVE = ("1795482900.123    150 10.0.5.7 TCP_MISS/200 5120 GET "
          "http://files.example.com/dl/setup.exe?v=2 bob HIER_DIRECT/93.184.216.34 "
          "application/octet-stream")


def pick(ev: Event, *keys: str) -> dict[str, Any]:
    return {k: ev.get(k) for k in keys}


def test_squid_native_line() -> None:
    assert SquidParser().parse(NATIVE, CTX) == {
        "@timestamp": "2026-11-24T01:15:00.123Z", "event.dataset": "squid.access",
        "event.module": "squid", "event.kind": "event", "event.category": ["web", "network"],
        "event.type": ["access"], "observer.vendor": "Squid", "observer.product": "Squid",
        "observer.type": "proxy", "source.ip": "10.0.5.7",
        "related.ip": ["10.0.5.7", "93.184.216.34"], "squid.result_code": "TCP_MISS",
        "event.action": "tcp_miss", "http.response.status_code": 200,
        "event.outcome": "success", "http.response.bytes": 5120, "http.request.method": "GET",
        "url.original": "http://files.example.com/dl/setup.exe?v=2", "url.scheme": "http",
        "url.domain": "files.example.com", "url.path": "/dl/setup.exe", "url.query": "v=2",
        "url.extension": "exe", "user.name": "bob", "event.duration": 150_000_000,
        "squid.hierarchy_code": "HIER_DIRECT", "destination.ip": "93.184.216.34",
        "squid.content_type": "application/octet-stream"}


@pytest.mark.parametrize(("line", "fields"), [
    ("1795482900.500      3 10.0.5.8 TCP_DENIED/403 3890 CONNECT evil.example:443 - HIER_NONE/- "
     "text/html",
     {"event.outcome": "failure", "event.type": ["access", "denied"],
      "url.domain": "evil.example", "url.port": 443, "destination.ip": None,
      "user.name": None}),
    ("1795482900.500    220 10.0.5.9 TCP_TUNNEL/200 9000 CONNECT api.example.com:443 carol "
     "FIRSTUP_PARENT/10.0.0.3 -",
     {"destination.ip": "10.0.0.3", "squid.hierarchy_code": "FIRSTUP_PARENT",
      "user.name": "carol"}),
    ("1795482900.500     90 10.0.5.9 40123 TCP_MISS/404 824 134 GET http://example.com/x 1.1 - "
     "HIER_DIRECT/203.0.113.10 80 text/html", {"source.ip": "10.0.5.9",
                                              "http.response.status_code": 404,
                                              "event.outcome": "failure",
                                              "destination.ip": "203.0.113.10"}),
    ('10.0.5.7 - bob [24/Nov/2026:08:15:00 +0700] "GET http://example.com/a.php?id=1 HTTP/1.1" '
     '200 1234 "-" "curl/8.5" TCP_MISS:HIER_DIRECT',
     {"@timestamp": "2026-11-24T01:15:00.000Z", "source.ip": "10.0.5.7", "user.name": "bob",
      "url.extension": "php", "user_agent.original": "curl/8.5",
      "squid.result_code": "TCP_MISS", "squid.hierarchy_code": "HIER_DIRECT"}),
    ('10.0.5.7 - - [24/Nov/2026:08:15:00 +0700] "GET http://example.com/ HTTP/1.1" 407 3900 '
     "TCP_DENIED:HIER_NONE", {"event.outcome": "failure", "squid.result_code": "TCP_DENIED"}),
])
def test_squid_variants(line: str, fields: dict[str, Any]) -> None:
    assert pick(SquidParser().parse(line, CTX), *fields) == fields


def test_squid_in_syslog_keeps_its_own_time() -> None:
    ev = SyslogParser().parse("Nov 24 08:15:05 proxy1 squid[977]: " + NATIVE, CTX)
    assert pick(ev, "event.dataset", "@timestamp", "log.syslog.timestamp", "source.ip",
                "host.name") == {
        "event.dataset": "squid.access", "@timestamp": "2026-11-24T01:15:00.123Z",
        "log.syslog.timestamp": "2026-11-24T01:15:05.000Z", "source.ip": "10.0.5.7",
        "host.name": "proxy1"}
    other = SyslogParser().parse("Nov 24 08:15:05 proxy1 squid[977]: Starting Squid Cache", CTX)
    assert other["event.dataset"] == "syslog"


@pytest.mark.parametrize("line", ["1795482900.123 x", "1795482900.123 150 10.0.0.1 GET x",
                                  "hello world"])
def test_squid_refusals(line: str) -> None:
    with pytest.raises(ParseError):
        SquidParser().parse(line, CTX)


def test_auto_detection_takes_squid_before_apache() -> None:
    auto = get_parser("auto")
    emulated = ('10.0.5.7 - - [24/Nov/2026:08:15:00 +0700] "GET http://example.com/ HTTP/1.1" '
                '200 10 TCP_MISS:HIER_DIRECT')
    assert [auto.parse(line, CTX)["event.dataset"] for line in (NATIVE, emulated)] == [
        "squid.access", "squid.access"]


PROXY_RULE = """\
title: Executable download through the proxy
id: 00000000-0000-4000-8000-0000000aa101
status: test
level: medium
logsource: {category: proxy}
detection:
  sel:
    c-uri-extension: exe
    cs-method: GET
    sc-status: 200
  condition: sel
"""


def test_sigma_proxy_rules_see_squid_lines(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "proxy.yml").write_text(PROXY_RULE, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    (tmp_path / "access.log").write_text(NATIVE + "\n" + NATIVE.replace("setup.exe", "a.png")
                                         + "\n", encoding="utf-8")
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "-r", str(tmp_path / "rules"),
                 "--nl", str(tmp_path / "access.log")])
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 10
    assert [(f["title"], f["event"]["url.path"]) for f in found] == [
        ("Executable download through the proxy", "/dl/setup.exe")]
