"""Suricata EVE JSON parser. Records made up here (a sensor at a provincial data centre)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from collectors.parsers.suricata import SuricataParser
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=UTC, now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
BASE = {"timestamp": "2026-11-24T08:15:00.123456+0700", "flow_id": 42, "in_iface": "ens1f0",
        "src_ip": "10.20.0.15", "src_port": 51234, "dest_ip": "203.0.113.66",
        "dest_port": 80, "proto": "TCP"}
COMMON = {
    "@timestamp": "2026-11-24T01:15:00.123Z", "event.dataset": "suricata.eve",
    "event.module": "suricata", "observer.vendor": "OISF", "observer.product": "Suricata",
    "observer.type": "ids", "source.ip": "10.20.0.15", "source.port": 51234,
    "destination.ip": "203.0.113.66", "destination.port": 80, "network.transport": "tcp",
    "observer.ingress.interface.name": "ens1f0", "suricata.eve.flow_id": 42,
}


def line(**record: object) -> str:
    return json.dumps({**BASE, **record})


def test_alert_with_http() -> None:
    text = line(event_type="alert", app_proto="http", alert={
        "action": "allowed", "gid": 1, "signature_id": 2031502, "rev": 3,
        "signature": "ET WEB_SERVER JSP Webshell Upload", "category": "Web Application Attack",
        "severity": 1}, http={"hostname": "vbdh.hagiang.gov.vn", "url": "/upload.jsp?f=cmd",
                              "http_method": "POST", "protocol": "HTTP/1.1", "status": 200,
                              "http_user_agent": "python-requests/2.31"})
    assert SuricataParser().parse(text, CTX) == {
        **COMMON, "event.kind": "alert", "event.category": ["network", "intrusion_detection"],
        "event.type": ["allowed"], "network.protocol": "http",
        "suricata.eve.event_type": "alert", "suricata.eve.app_proto": "http",
        "suricata.eve.alert.action": "allowed", "suricata.eve.alert.gid": 1,
        "suricata.eve.alert.signature_id": 2031502, "suricata.eve.alert.rev": 3,
        "suricata.eve.alert.signature": "ET WEB_SERVER JSP Webshell Upload",
        "suricata.eve.alert.category": "Web Application Attack",
        "suricata.eve.alert.severity": 1,
        "suricata.eve.http.hostname": "vbdh.hagiang.gov.vn",
        "suricata.eve.http.url": "/upload.jsp?f=cmd", "suricata.eve.http.http_method": "POST",
        "suricata.eve.http.protocol": "HTTP/1.1", "suricata.eve.http.status": 200,
        "suricata.eve.http.http_user_agent": "python-requests/2.31",
        "rule.id": "2031502", "rule.name": "ET WEB_SERVER JSP Webshell Upload",
        "rule.category": "Web Application Attack", "event.severity": 1,
        "event.action": "allowed", "rule.version": "3", "url.domain": "vbdh.hagiang.gov.vn",
        "http.request.method": "POST", "http.response.status_code": 200,
        "user_agent.original": "python-requests/2.31", "url.original": "/upload.jsp?f=cmd",
        "url.path": "/upload.jsp", "url.query": "f=cmd", "http.version": "1.1",
        "destination.domain": "vbdh.hagiang.gov.vn",
    }


def test_dns_answer_v2() -> None:
    text = line(event_type="dns", proto="UDP", dest_port=53, dns={
        "version": 2, "type": "answer", "id": 8547, "rrname": "update.example-cdn.top",
        "rrtype": "A", "rcode": "NOERROR", "answers": [
            {"rrname": "update.example-cdn.top", "rrtype": "CNAME", "ttl": 60,
             "rdata": "x.example-cdn.top"},
            {"rrname": "x.example-cdn.top", "rrtype": "A", "ttl": 60, "rdata": "198.51.100.7"}]})
    ev = SuricataParser().parse(text, CTX)
    assert {k: v for k, v in ev.items() if k.startswith(("dns.", "network.", "event.type"))} == {
        "network.transport": "udp", "network.protocol": "dns", "event.type": ["protocol"],
        "dns.question.name": "update.example-cdn.top", "dns.question.type": "A",
        "dns.response_code": "NOERROR", "dns.type": "answer", "dns.id": "8547",
        "dns.answers.name": ["update.example-cdn.top", "x.example-cdn.top"],
        "dns.answers.type": ["CNAME", "A"], "dns.answers.ttl": [60, 60],
        "dns.answers.data": ["x.example-cdn.top", "198.51.100.7"],
        "dns.resolved_ip": ["198.51.100.7"],
    }


def test_dns_answer_v1_and_tls_and_flow() -> None:
    parser = SuricataParser()
    v1 = parser.parse(line(event_type="dns", dns={
        "type": "answer", "rrname": "a.gov.vn", "rrtype": "A", "ttl": 5, "rdata": "10.0.0.1"}),
        CTX)
    assert v1["dns.answers.data"] == ["10.0.0.1"]
    tls = parser.parse(line(event_type="tls", dest_port=443, tls={
        "sni": "dichvucong.gov.vn", "version": "TLS 1.3", "fingerprint": "ab:cd",
        "ja3": {"hash": "e7d7", "string": "771,..."}, "notafter": "2027-01-01T00:00:00"}), CTX)
    assert {k: tls[k] for k in ("tls.client.server_name", "tls.version", "tls.version_protocol",
                                "tls.server.hash.sha1", "tls.client.ja3",
                                "tls.server.not_after", "network.protocol")} == {
        "tls.client.server_name": "dichvucong.gov.vn", "tls.version": "1.3",
        "tls.version_protocol": "tls", "tls.server.hash.sha1": "ABCD",
        "tls.client.ja3": "e7d7", "tls.server.not_after": "2027-01-01T00:00:00.000Z",
        "network.protocol": "tls"}
    flow = parser.parse(line(event_type="flow", app_proto="failed", flow={
        "pkts_toserver": 3, "pkts_toclient": 2, "bytes_toserver": 300, "bytes_toclient": 200,
        "start": "2026-11-24T08:14:00.000000+0700", "end": "2026-11-24T08:15:00.000000+0700"}),
        CTX)
    assert {k: flow.get(k) for k in ("network.bytes", "event.start", "event.type",
                                     "network.protocol")} == {
        "network.bytes": 500, "event.start": "2026-11-24T01:14:00.000Z",
        "event.type": ["connection", "end"], "network.protocol": None}


def test_fileinfo() -> None:
    ev = SuricataParser().parse(line(event_type="fileinfo", fileinfo={
        "filename": "/shell.aspx", "size": 2048, "sha256": "ab" * 32, "stored": False}), CTX)
    assert (ev["file.name"], ev["file.size"], ev["file.hash.sha256"], ev["event.category"]) == (
        "/shell.aspx", 2048, "ab" * 32, ["file"])


@pytest.mark.parametrize("text", ["{not json", "[1]", '{"event_type": "dns"}',
                                  '{"timestamp": "2026-11-24T00:00:00Z"}',
                                  '{"timestamp": "yesterday", "event_type": "dns"}'])
def test_garbage(text: str) -> None:
    with pytest.raises(ParseError):
        SuricataParser().parse(text, CTX)


def test_sniff() -> None:
    assert SuricataParser().sniff(line(event_type="flow"))
    assert not SuricataParser().sniff('{"@timestamp": "2026-11-24T00:00:00Z", "x": 1}')
