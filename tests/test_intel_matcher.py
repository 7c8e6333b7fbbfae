"""The indicator index (soc.intel.matcher) and the ECS threat fields (soc.intel.enrich).

Events are the project's parsers' own output where a parser writes the field (Suricata EVE,
Winlogbeat JSON), from records written here after the vendors' documentation; indicators are made
up (documentation ranges, example domains)."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from collectors.parsers.suricata import SuricataParser
from collectors.parsers.winlog import winlog_event
from soc.intel import matcher
from soc.intel.enrich import MATCH_TYPE, annotate, confidence_label
from soc.intel.matcher import FIELDS, IndicatorIndex, Match
from soc.intel.model import Indicator, IndicatorRecord, normalize
from soc.pipeline.sources import ParseContext

NOW = "2026-11-24T03:00:00.000Z"
LATER = "2027-01-01T00:00:00.000Z"
EARLIER = "2026-11-01T00:00:00.000Z"
CTX = ParseContext(tz=UTC, now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
SHA256 = "3f" * 32
MD5 = "9e107d9d372bb6826bd81d3542a419d6"
SHA1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
IMPHASH = "f34d5f2d4577ed6d9ceec516c1f5a744"
JA3 = "e7d705a3286e19ea42f587b344ee6865"
JA4 = "t13d1516h2_8daaf6152771_02713d6af862"


def record(kind: str, value: str, *, source: str = "ncsc", valid_until: str | None = LATER,
           confidence: int | None = 80, tlp: str | None = "amber") -> IndicatorRecord:
    item = Indicator(kind, normalize(kind, value), source, valid_until=valid_until,
                     confidence=confidence, tlp=tlp, first_seen=EARLIER)
    return IndicatorRecord.first(item, EARLIER)


def index(*records: IndicatorRecord) -> IndicatorIndex:
    return IndicatorIndex.build(records, NOW)


def hits(ix: IndicatorIndex, event: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(indicator value, field, atomic) of each match."""
    return [(m.record.value, m.field, m.atomic) for m in ix.match(event)]


# --- addresses -----------------------------------------------------------------------------------


def test_cidrs_of_every_length_and_exact_addresses() -> None:
    ix = index(record("ipv4", "10.0.0.0/8"), record("ipv4", "198.51.100.0/24"),
               record("ipv4", "203.0.113.7/32"), record("ipv6", "2001:db8:aa:1::/64"))
    assert hits(ix, {"source.ip": "10.200.3.4"}) == [("10.0.0.0/8", "source.ip", "10.200.3.4")]
    assert hits(ix, {"destination.ip": "198.51.100.255"}) == [
        ("198.51.100.0/24", "destination.ip", "198.51.100.255")]
    assert hits(ix, {"destination.ip": "198.51.101.0"}) == []
    assert hits(ix, {"client.ip": "203.0.113.7"}) == [("203.0.113.7", "client.ip", "203.0.113.7")]
    assert hits(ix, {"client.ip": "203.0.113.8"}) == []
    assert hits(ix, {"source.ip": "2001:DB8:AA:1:0:0:0:99"}) == [
        ("2001:db8:aa:1::/64", "source.ip", "2001:DB8:AA:1:0:0:0:99")]
    assert hits(ix, {"source.ip": "2001:db8:aa:2::99"}) == []
    assert hits(ix, {"source.ip": "11.0.0.1"}) == []


def test_an_address_in_several_networks_matches_each_most_specific_first() -> None:
    ix = index(record("ipv4", "10.0.0.0/8"), record("ipv4", "10.1.0.0/16"),
               record("ipv4", "10.1.2.3"))
    assert [v for v, _, _ in hits(ix, {"source.ip": "10.1.2.3"})] == [
        "10.1.2.3", "10.1.0.0/16", "10.0.0.0/8"]


@pytest.mark.parametrize("plen", range(8, 33))
def test_networks_of_every_prefix_length_match_from_first_to_last_address(plen: int) -> None:
    ix = index(record("ipv4", f"198.51.100.7/{plen}"), record("ipv4", "192.0.2.0/30"))
    net = int.from_bytes(bytes([198, 51, 100, 7]), "big") >> (32 - plen) << (32 - plen)
    size = 1 << (32 - plen)

    def dotted(n: int) -> str:
        return ".".join(str(b) for b in n.to_bytes(4, "big"))

    for inside in (net, net + size // 2, net + size - 1):
        assert [v for v, _, _ in hits(ix, {"source.ip": dotted(inside)})] == [
            f"{dotted(net)}/{plen}" if plen < 32 else dotted(net)], dotted(inside)
    for outside in (net - 1, net + size):
        assert hits(ix, {"source.ip": dotted(outside)}) == [], dotted(outside)


def test_ipv4_mapped_ipv6_both_ways() -> None:
    ix = index(record("ipv4", "192.0.2.7"), record("ipv6", "::ffff:198.51.100.0/120"))
    assert hits(ix, {"source.ip": "::ffff:192.0.2.7"}) == [
        ("192.0.2.7", "source.ip", "::ffff:192.0.2.7")]
    assert hits(ix, {"source.ip": "198.51.100.9"}) == [
        ("::ffff:c633:6400/120", "source.ip", "198.51.100.9")]
    both = index(record("ipv4", "192.0.2.7"), record("ipv6", "::ffff:192.0.2.7"))
    assert [(m.record.type, m.record.value) for m in both.match({"source.ip": "192.0.2.7"})] == [
        ("ipv4", "192.0.2.7"), ("ipv6", "::ffff:c000:207")]


def test_lists_in_related_ip_and_one_match_per_indicator_in_its_first_field() -> None:
    ix = index(record("ipv4", "203.0.113.0/24"), record("ipv4", "198.51.100.7"))
    event = {"related.ip": ["10.0.0.5", "198.51.100.7", "203.0.113.9"],
             "destination.ip": "203.0.113.9", "source.ip": "10.0.0.5"}
    assert hits(ix, event) == [("203.0.113.0/24", "destination.ip", "203.0.113.9"),
                               ("198.51.100.7", "related.ip", "198.51.100.7")]


def test_the_same_text_twice_gives_the_same_answer_from_the_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher, "CACHE_SIZE", 3)  # emptied over and over
    ix = index(record("ipv4", "192.0.2.0/24"), record("domain", "evil.example"))
    for n in range(20):
        assert hits(ix, {"source.ip": f"192.0.2.{n}", "dns.question.name": "x.evil.example",
                         "destination.ip": f"198.51.100.{n}"}) == [
            ("192.0.2.0/24", "source.ip", f"192.0.2.{n}"),
            ("evil.example", "dns.question.name", "x.evil.example")]


# --- names ---------------------------------------------------------------------------------------


def test_a_listed_domain_covers_its_subdomains_never_its_parents() -> None:
    ix = index(record("domain", "evil.example"), record("domain", "cdn.bad.example"))
    assert hits(ix, {"dns.question.name": "a.b.EVIL.example."}) == [
        ("evil.example", "dns.question.name", "a.b.EVIL.example.")]
    assert hits(ix, {"url.domain": "evil.example"}) == [
        ("evil.example", "url.domain", "evil.example")]
    assert hits(ix, {"dns.question.name": "x.cdn.bad.example"}) == [
        ("cdn.bad.example", "dns.question.name", "x.cdn.bad.example")]
    for other in ("bad.example", "notevil.example", "evil.example.org", "example", "other.cdn"):
        assert hits(ix, {"dns.question.name": other}) == [], other


def test_names_in_every_name_field_and_addresses_written_there() -> None:
    ix = index(record("domain", "evil.example"), record("ipv4", "192.0.2.7"))
    for field in ("destination.domain", "source.domain", "server.domain", "client.domain",
                  "tls.client.server_name", "dns.answers.name"):
        assert hits(ix, {field: "www.evil.example"}) == [
            ("evil.example", field, "www.evil.example")]
    assert hits(ix, {"url.domain": "192.0.2.7"}) == [("192.0.2.7", "url.domain", "192.0.2.7")]
    assert hits(ix, {"destination.domain": "evil.example:8443"}) == [
        ("evil.example", "destination.domain", "evil.example:8443")]


def test_an_internationalised_name_is_matched_in_its_idna_form() -> None:
    ix = index(record("domain", "xn--bcher-kva.example"))
    assert hits(ix, {"dns.question.name": "www.bücher.example"}) == [
        ("xn--bcher-kva.example", "dns.question.name", "www.bücher.example")]


def test_suricata_dns_answers() -> None:
    ix = index(record("domain", "example-cdn.top"), record("ipv4", "198.51.100.7"))
    event = SuricataParser().parse(json.dumps({
        "timestamp": "2026-11-24T08:15:00.000000+0700", "event_type": "dns", "src_ip": "10.0.0.5",
        "src_port": 53000, "dest_ip": "10.0.0.53", "dest_port": 53, "proto": "UDP",
        "dns": {"version": 2, "type": "answer", "id": 1, "rrname": "portal.example",
                "rrtype": "A", "rcode": "NOERROR", "answers": [
                    {"rrname": "portal.example", "rrtype": "CNAME", "ttl": 60,
                     "rdata": "x.example-cdn.top"},
                    {"rrname": "x.example-cdn.top", "rrtype": "A", "ttl": 60,
                     "rdata": "198.51.100.7"}, {"rrname": "x", "rrtype": "A"}]}}), CTX)
    assert hits(ix, event) == [("198.51.100.7", "dns.resolved_ip", "198.51.100.7"),
                               ("example-cdn.top", "dns.answers.name", "x.example-cdn.top")]


def test_sysmon_dns_query_results() -> None:
    ix = index(record("domain", "evil.example"), record("ipv4", "192.0.2.7"))
    event = {"dns.question.name": "portal.example", "winlog.event_data.QueryResults":
             "type:  5 cdn.evil.example;::ffff:192.0.2.7;::ffff:198.51.100.1;"}
    assert hits(ix, event) == [
        ("evil.example", "winlog.event_data.QueryResults", "cdn.evil.example"),
        ("192.0.2.7", "winlog.event_data.QueryResults", "::ffff:192.0.2.7")]


# --- URLs ----------------------------------------------------------------------------------------


def test_a_listed_url_without_query_matches_with_any_query_one_with_a_query_only_that_one() -> None:
    ix = index(record("url", "http://bad.example/gate.php"),
               record("url", "https://bad.example/dl?id=7"))
    assert hits(ix, {"url.full": "http://BAD.example:80/gate.php?u=1#top"}) == [
        ("http://bad.example/gate.php", "url.full", "http://BAD.example:80/gate.php?u=1#top")]
    assert hits(ix, {"url.full": "http://bad.example/gate.php"}) == [
        ("http://bad.example/gate.php", "url.full", "http://bad.example/gate.php")]
    assert hits(ix, {"url.full": "https://bad.example/dl?id=7"}) == [
        ("https://bad.example/dl?id=7", "url.full", "https://bad.example/dl?id=7")]
    assert hits(ix, {"url.full": "https://bad.example/dl?id=8"}) == []
    assert hits(ix, {"url.full": "https://bad.example/dl"}) == []
    assert hits(ix, {"url.full": "http://bad.example/gate.php.bak"}) == []
    assert hits(ix, {"url.full": "http://good.example/gate.php"}) == []


def test_urls_without_url_full() -> None:
    ix = index(record("url", "http://bad.example/gate.php"))
    want = [("http://bad.example/gate.php", "url.original", "/gate.php?u=1")]
    assert hits(ix, {"url.original": "/gate.php?u=1", "url.domain": "bad.example"}) == want
    assert hits(ix, {"url.original": "http://bad.example/gate.php"}) == [
        ("http://bad.example/gate.php", "url.original", "http://bad.example/gate.php")]
    assert hits(ix, {"url.domain": "bad.example", "url.path": "/gate.php",
                     "url.query": "u=1", "url.scheme": "https"}) == [
        ("http://bad.example/gate.php", "url.path", "/gate.php")]
    # a web server's request line has no host: there is nothing to complete it with
    assert hits(ix, {"url.original": "/gate.php?u=1", "url.path": "/gate.php"}) == []
    # url.full wins over url.original when it is absolute
    assert hits(ix, {"url.full": "http://good.example/gate.php",
                     "url.original": "/gate.php", "url.domain": "bad.example"}) == []


def test_suricata_http_record() -> None:
    ix = index(record("url", "http://vbdh.example.gov.vn/upload.jsp"),
               record("user-agent", "python-requests/2.31"))
    event = SuricataParser().parse(json.dumps({
        "timestamp": "2026-11-24T08:15:00.000000+0700", "event_type": "http",
        "src_ip": "10.0.0.5", "src_port": 51000, "dest_ip": "10.0.0.80", "dest_port": 80,
        "proto": "TCP", "http": {"hostname": "vbdh.example.gov.vn", "url": "/upload.jsp?f=cmd",
                                 "http_method": "POST", "http_user_agent":
                                 "python-requests/2.31", "status": 200}}), CTX)
    assert hits(ix, event) == [
        ("http://vbdh.example.gov.vn/upload.jsp", "url.original", "/upload.jsp?f=cmd"),
        ("python-requests/2.31", "user_agent.original", "python-requests/2.31")]


# --- hashes, e-mail, fingerprints, user agents ---------------------------------------------------


def test_hash_in_a_sysmon_process_creation() -> None:
    ix = index(record("sha256", SHA256), record("md5", IMPHASH), record("sha1", "ab" * 20))
    doc = {"@timestamp": "2026-11-24T01:15:30.123Z",
           "agent": {"type": "winlogbeat", "version": "8.15.0"},
           "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational",
                      "provider_name": "Microsoft-Windows-Sysmon", "event_id": "1",
                      "record_id": 5001, "computer_name": "pc-ketoan.example.gov.vn",
                      "event_data": {
                          "Image": "C:\\Users\\an\\AppData\\Local\\Temp\\svc.exe",
                          "CommandLine": "svc.exe -k", "User": "EXAMPLE\\an",
                          "Hashes": f"SHA1={SHA1.upper()},MD5={MD5.upper()},"
                                    f"SHA256={SHA256.upper()},IMPHASH={IMPHASH.upper()}",
                          "ParentImage": "C:\\Windows\\explorer.exe"}}}
    event = winlog_event(doc)
    assert event["winlog.event_data.Hashes"].startswith("SHA1=")
    # the IMPHASH is the digest of an import table, not of the file: a listed md5 never meets it
    assert hits(ix, event) == [(SHA256, "winlog.event_data.Hashes", SHA256.upper())]
    assert hits(ix, {"winlog.event_data.Hash": f"SHA256={SHA256}"}) == [
        (SHA256, "winlog.event_data.Hash", SHA256)]
    assert hits(ix, {"process.hash.sha256": SHA256.upper(),
                     "process.parent.hash.sha1": "AB" * 20}) == [
        (SHA256, "process.hash.sha256", SHA256.upper()),
        ("ab" * 20, "process.parent.hash.sha1", "AB" * 20)]


def test_hash_in_a_suricata_fileinfo_record() -> None:
    ix = index(record("md5", MD5), record("sha256", SHA256))
    event = SuricataParser().parse(json.dumps({
        "timestamp": "2026-11-24T08:15:00.000000+0700", "event_type": "fileinfo",
        "src_ip": "203.0.113.66", "src_port": 80, "dest_ip": "10.0.0.5", "dest_port": 51000,
        "proto": "TCP", "fileinfo": {"filename": "/invoice.zip", "size": 4096, "md5": MD5,
                                     "sha256": SHA256, "stored": False}}), CTX)
    assert event["file.hash.md5"] == MD5
    assert hits(ix, event) == [(MD5, "file.hash.md5", MD5), (SHA256, "file.hash.sha256", SHA256)]


def test_email_ja3_ja4_and_user_agent() -> None:
    ix = index(record("email", "Phisher@Bad.example"), record("ja3", JA3), record("ja4", JA4),
               record("user-agent", "EvilBot/1.0"))
    assert hits(ix, {"email.from.address": ["PHISHER@bad.example"],
                     "email.to.address": ["vanthu@example.gov.vn"]}) == [
        ("phisher@bad.example", "email.from.address", "PHISHER@bad.example")]
    assert hits(ix, {"email.sender.address": "<phisher@bad.example>"}) == [
        ("phisher@bad.example", "email.sender.address", "<phisher@bad.example>")]
    tls = SuricataParser().parse(json.dumps({
        "timestamp": "2026-11-24T08:15:00.000000+0700", "event_type": "tls",
        "src_ip": "10.0.0.5", "src_port": 51000, "dest_ip": "203.0.113.9", "dest_port": 443,
        "proto": "TCP", "tls": {"sni": "portal.example", "version": "TLS 1.3",
                                "ja3": {"hash": JA3, "string": "771,4865-4866,0-23,29,0"}}}),
        CTX)
    assert hits(ix, tls) == [(JA3, "tls.client.ja3", JA3)]
    assert hits(ix, {"tls.client.ja4": JA4.upper()}) == [(JA4, "tls.client.ja4", JA4.upper())]
    assert hits(ix, {"netsensor.tls.ja4": JA4}) == [(JA4, "netsensor.tls.ja4", JA4)]
    assert hits(ix, {"user_agent.original": "EvilBot/1.0"}) == [
        ("EvilBot/1.0", "user_agent.original", "EvilBot/1.0")]
    assert hits(ix, {"user_agent.original": "evilbot/1.0"}) == []  # case-sensitive


def test_each_value_is_matched_by_its_own_type_only() -> None:
    ix = index(record("md5", JA3), record("domain", "evil.example"))
    assert hits(ix, {"tls.client.ja3": JA3}) == []  # an md5 is no JA3 even if the digits agree
    assert hits(ix, {"user_agent.original": "evil.example", "email.from.address":
                     "evil.example"}) == []


# --- validity ------------------------------------------------------------------------------------


def test_expired_indicators_do_not_match_nor_count() -> None:
    stale = record("ipv4", "192.0.2.7", valid_until=EARLIER)
    edge = record("domain", "evil.example", valid_until=NOW)  # ends exactly now
    ended = record("sha256", SHA256)
    ended.expired = EARLIER  # soc intel expire
    forever = record("ipv4", "198.51.100.7", valid_until=None)
    ix = index(stale, edge, ended, forever)
    assert len(ix) == 1 and not ix.empty and list(ix.records) == [forever]
    assert hits(ix, {"source.ip": "192.0.2.7", "dns.question.name": "evil.example",
                     "file.hash.sha256": SHA256}) == []
    assert hits(ix, {"source.ip": "198.51.100.7"}) == [
        ("198.51.100.7", "source.ip", "198.51.100.7")]
    empty = index(stale)
    assert empty.empty and len(empty) == 0
    assert empty.match({"source.ip": "192.0.2.7"}) == []


def test_a_record_that_cannot_be_indexed_is_set_aside_with_its_reason() -> None:
    good = record("ipv4", "192.0.2.7")
    bad = IndicatorRecord.first(Indicator("ipv4", "not-an-address", "hand"), EARLIER)
    odd = IndicatorRecord.first(Indicator("mutex", "Global\\x", "hand"), EARLIER)
    ix = index(good, bad, odd)
    assert len(ix) == 1
    assert [(r.value, "not-an-address" in why or "mutex" in why) for r, why in ix.unusable] == [
        ("not-an-address", True), ("Global\\x", True)]


def test_building_leaves_the_garbage_collector_as_it_was() -> None:
    assert gc.isenabled()
    index(record("ipv4", "192.0.2.7"))
    assert gc.isenabled()
    gc.disable()
    try:
        index(record("ipv4", "192.0.2.7"))
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- odd values ----------------------------------------------------------------------------------

JUNK: list[Any] = [None, 0, 7, -1, 3.5, True, b"192.0.2.7", {"ip": "192.0.2.7"}, [None, 5],
                   [["192.0.2.7"]], [{"a": 1}], "", " ", ".", "..", "[", "[]", ":", "%", "::ffff:",
                   "999.1.1.1", "192.0.2.7.", "x" * 100_000, "a." * 300, "\x00", "é" * 70,
                   "xn--", "-bad-.example", "evil.example:", "http://", "://", "http://[::1",
                   "/" * 5000, "?" * 10, "SHA1=,MD5,=,,", "type:", ";;;"]


@pytest.mark.parametrize("field", [*FIELDS, "url.port", "url.scheme", "url.query"])
def test_junk_in_any_field_never_raises(field: str) -> None:
    ix = index(record("ipv4", "192.0.2.0/24"), record("ipv6", "2001:db8::/32"),
               record("domain", "evil.example"), record("url", "http://bad.example/x.php"),
               record("md5", MD5), record("email", "a@bad.example"), record("ja3", JA3),
               record("ja4", JA4), record("user-agent", "EvilBot/1.0"))
    for value in JUNK:
        found = ix.match({field: value, "url.domain": "bad.example", "url.original": "/x.php",
                          "url.port": value})
        assert all(isinstance(m, Match) for m in found)
    assert hits(ix, {field: "192.0.2.7"}) == (
        [("192.0.2.0/24", field, "192.0.2.7")]
        if FIELDS.get(field) in ("ip", "host", "answers") else [])


# --- the ECS threat fields -----------------------------------------------------------------------


def test_annotate_sets_the_ecs_enrichments_and_the_flat_fields() -> None:
    ip = record("ipv4", "192.0.2.7", confidence=60, tlp="green")
    ip.merge(Indicator("ipv4", "192.0.2.7", "misp-vn", valid_until=LATER, confidence=90,
                       tlp="amber+strict", last_seen=NOW), EARLIER)
    file = record("sha256", SHA256, confidence=None, tlp=None)
    ix = index(ip, file)
    event: dict[str, Any] = {"source.ip": "192.0.2.7", "file.hash.sha256": SHA256.upper(),
                             "threat.enrichments": [{"indicator": {"type": "url"},
                                                     "matched": {"type": "other_tool"}}]}
    annotate(event, ix.match(event))
    assert json.loads(json.dumps(event)) == event
    assert event["threat.indicator.matched"] is True
    assert event["threat.indicator.type"] == ["ipv4", "sha256"]
    assert event["threat.indicator.provider"] == ["misp-vn", "ncsc"]
    assert event["threat.indicator.confidence"] == 90
    assert event["threat.enrichments"] == [
        {"indicator": {"type": "url"}, "matched": {"type": "other_tool"}},
        {"indicator": {"type": "ipv4-addr", "name": "192.0.2.7", "ip": "192.0.2.7",
                       "confidence": "High", "provider": ["misp-vn", "ncsc"],
                       "marking": {"tlp": "AMBER+STRICT"}, "first_seen": EARLIER,
                       "last_seen": NOW},
         "matched": {"atomic": "192.0.2.7", "field": "source.ip", "id": ip.id,
                     "type": MATCH_TYPE}},
        {"indicator": {"type": "file", "name": SHA256, "file": {"hash": {"sha256": SHA256}},
                       "confidence": "Not Specified", "provider": ["ncsc"],
                       "first_seen": EARLIER},
         "matched": {"atomic": SHA256.upper(), "field": "file.hash.sha256", "id": file.id,
                     "type": MATCH_TYPE}}]


def test_annotating_again_replaces_socs_own_enrichments() -> None:
    ix = index(record("domain", "evil.example", confidence=None),
               record("ipv4", "192.0.2.0/24"))
    event: dict[str, Any] = {"dns.question.name": "a.evil.example"}
    annotate(event, ix.match(event))
    annotate(event, ix.match(event))
    assert [e["matched"]["atomic"] for e in event["threat.enrichments"]] == ["a.evil.example"]
    assert event["threat.enrichments"][0]["indicator"]["url"] == {"domain": "evil.example"}
    assert "threat.indicator.confidence" not in event
    event["source.ip"] = "192.0.2.1"
    annotate(event, ix.match(event))
    assert [e["indicator"]["name"] for e in event["threat.enrichments"]] == [
        "192.0.2.0/24", "evil.example"]
    assert "ip" not in event["threat.enrichments"][0]["indicator"]  # a network is no ECS ip
    before = dict(event)
    annotate(event, [])
    assert event == before


@pytest.mark.parametrize(("score", "label"), [(None, "Not Specified"), (0, "None"), (1, "Low"),
                                              (29, "Low"), (30, "Medium"), (69, "Medium"),
                                              (70, "High"), (100, "High")])
def test_confidence_labels_follow_the_stix_scale(score: int | None, label: str) -> None:
    assert confidence_label(score) == label
