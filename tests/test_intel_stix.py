"""STIX 2.1 bundles → indicators (issue #20, feeds): the patterning language (OASIS STIX 2.1
part 9) read for every comparison soc can match, the indicator's context, TLP markings (TLP 1.0
and 2.0), revoked and versioned objects, lifetimes, and bundles of observables alone.

The bundles are written here from the examples of the STIX 2.1 specification; the patterns the
reader should accept as valid are checked against OASIS's own validator (stix2-patterns) too.
"""

from __future__ import annotations

import codecs
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stix2patterns.validator import run_validator

from soc.intel.feeds.result import FeedResult
from soc.intel.feeds.stix import TLP_MARKINGS, kind_of_path, read_bundle
from soc.intel.feeds.stix_pattern import Comparison, PatternError, Typed, parse_pattern
from soc.intel.http import FeedError
from soc.intel.model import TYPES
from soc.intel.sightings import stix_pattern

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LIFETIMES = {"ipv4": timedelta(days=7), "domain": timedelta(days=30), "sha256": None}
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SHA1 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
MD5 = "098f6bcd4621d373cade4e832627b4f6"
TLP1 = {"white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"}
TLP2 = {"clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}


def indicator(pattern: str, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, pattern)}",
        "created": "2026-11-01T08:00:00.000Z", "modified": "2026-11-01T08:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-11-01T08:00:00Z"}
    doc.update(over)
    return {k: v for k, v in doc.items() if v is not None}


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
            "objects": list(objects)}


def read(*objects: dict[str, Any], lifetimes: Any = LIFETIMES) -> FeedResult:
    return read_bundle(bundle(*objects), source="ncsc", lifetimes=lifetimes, now=NOW)


def keys(result: FeedResult) -> list[tuple[str, str]]:
    return [i.key for i in result.indicators]


# --- the pattern language -----------------------------------------------------------------------

VALID = [
    "[ipv4-addr:value = '198.51.100.1']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[ipv4-addr:value = '203.0.113.1' OR ipv4-addr:value = '203.0.113.2']",
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' "
    "AND file:name = 'foo.dll']",
    "[domain-name:value = 'example.com'] FOLLOWEDBY [url:value = 'https://example.com/x']",
    "([ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'example.com']) "
    "WITHIN 300 SECONDS",
    "[file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] REPEATS 5 TIMES WITHIN 1800 SECONDS",
    "[ipv4-addr:value = '198.51.100.1'] START t'2016-06-01T00:00:00Z' STOP "
    "t'2016-07-01T00:00:00Z'",
    "[email-addr:value = 'jdoe@example.com' AND email-addr:display_name = 'John Doe']",
    "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = "
    "'203.0.113.33/32']",
    "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = "
    "'Mozilla/4.0 (compatible; MSIE 6.0)']",
    "[url:value = 'http://example.com/it\\'s']",
    "[file:name = 'C:\\\\Windows\\\\evil.exe']",
    "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]",
    "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\System\\\\Foo' AND "
    "windows-registry-key:values[*].name = 'Foo']",
    "[file:size > 1024 AND (file:name LIKE '%.exe' OR file:name MATCHES '^[a-z]+\\\\.dll$')]",
    "[ipv6-addr:value NOT = '2001:db8::1']",
    "[x509-certificate:hashes.'SHA-256' = "
    "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    "[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=' OR process:pid = -1 OR x-acme:flag = true]",
]


@pytest.mark.parametrize("pattern", VALID)
def test_valid_patterns_parse_as_oasis_validator_accepts_them(pattern: str) -> None:
    assert run_validator(pattern, stix_version="2.1") == []
    assert parse_pattern(pattern)


def test_comparisons_come_flat_with_path_operator_negation_and_literals() -> None:
    found = parse_pattern(
        "([file:hashes.'SHA-256' = 'ab' AND file:size >= 10] OR [process:pid != 4]) "
        "FOLLOWEDBY [ipv4-addr:value NOT ISSUBSET '10.0.0.0/8' OR x-acme:list[0].on = true "
        "OR artifact:payload_bin = b'AA==' OR x-acme:when = t'2016-01-01T00:00:00Z' "
        "OR x-acme:ratio < 0.5] REPEATS 2 TIMES")
    assert found == [
        Comparison(("file", "hashes", "SHA-256"), "=", ("ab",)),
        Comparison(("file", "size"), ">=", (10,)),
        Comparison(("process", "pid"), "!=", (4,)),
        Comparison(("ipv4-addr", "value"), "ISSUBSET", ("10.0.0.0/8",), negated=True),
        Comparison(("x-acme", "list", "[0]", "on"), "=", (True,)),
        Comparison(("artifact", "payload_bin"), "=", (Typed("b", "AA=="),)),
        Comparison(("x-acme", "when"), "=", (Typed("t", "2016-01-01T00:00:00Z"),)),
        Comparison(("x-acme", "ratio"), "<", (0.5,)),
    ]
    assert found[0].path_text == "file:hashes.'SHA-256'"
    assert found[4].path_text == "x-acme:list[0].on"


def test_escaped_quotes_and_backslashes_are_unescaped() -> None:
    found = parse_pattern(r"[url:value = 'http://e.example/it\'s\\x' OR file:name = 'a\.b']")
    assert [c.values[0] for c in found] == ["http://e.example/it's\\x", "a\\.b"]


def test_keywords_are_read_in_any_case() -> None:
    # the grammar wants upper case (OASIS's validator refuses these), producers write lower
    pattern = ("[ipv4-addr:value = '198.51.100.1' or domain-name:value In ('a.example')] "
               "followedBy [url:value = 'http://b.example/'] within 5 seconds")
    assert run_validator(pattern, stix_version="2.1") != []
    found = parse_pattern(pattern)
    assert [(c.path_text, c.operator) for c in found] == [
        ("ipv4-addr:value", "="), ("domain-name:value", "IN"), ("url:value", "=")]
    assert parse_pattern("[ipv4-addr:value issubset '10.0.0.0/8']")[0].operator == "ISSUBSET"


@pytest.mark.parametrize(("pattern", "message"), [
    ("[ipv4-addr:value = '198.51.100.1'", "expected ']' at 33, found the end"),
    ("[ipv4-addr:value '198.51.100.1']", "expected a comparison operator at 17"),
    ("[ipv4-addr:value = '198.51.100.1] ", "unexpected \"'\" at 19 (a string not closed?)"),
    ("ipv4-addr:value = '198.51.100.1'", "expected '[' or '(' at 0"),
    ("", "expected '[' or '(' at 0, found the end"),
    ("[ipv4-addr:value = '1.2.3.4'] WITHIN 0 SECONDS", "expected a positive number at 37"),
    ("[ipv4-addr:value = '1.2.3.4'] REPEATS 2.5 TIMES", "expected a positive integer"),
    ("[ipv4-addr:value = '1.2.3.4'] START '2016' STOP t'2017'", "expected a timestamp"),
    ("[ipv4-addr:value = '1.2.3.4'] [domain-name:value = 'a.example']",
     "expected AND, OR, FOLLOWEDBY or a qualifier at 30"),
    ("[ipv4-addr:value = '1.2.3.4' AND]", "expected an object path"),
    ("[ipv4-addr:value = ]", "expected a literal at 19"),
    ("[ipv4-addr:value IN '1.2.3.4']", "expected '(' at 20"),
    ("[ipv4-addr:value LIKE 5]", "expected a string"),
    ("[x-acme:list[a] = 1]", "expected a list index or '*' at 13"),
    ("[ipv4-addr:value = '1.2.3.4' ; ]", "unexpected ';' at 29"),
])
def test_malformed_patterns_say_where(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as err:
        parse_pattern(pattern)
    assert message in str(err.value)


@pytest.mark.parametrize(("path", "kind"), [
    (("ipv4-addr", "value"), "ipv4"), (("ipv6-addr", "value"), "ipv6"),
    (("domain-name", "value"), "domain"), (("url", "value"), "url"),
    (("email-addr", "value"), "email"), (("file", "hashes", "MD5"), "md5"),
    (("file", "hashes", "SHA-1"), "sha1"), (("file", "hashes", "SHA-256"), "sha256"),
    (("file", "hashes", "sha256"), "sha256"), (("artifact", "hashes", "SHA-1"), "sha1"),
    (("network-traffic", "extensions", "http-request-ext", "request_header", "User-Agent"),
     "user-agent"),
    (("network-traffic", "extensions", "http-request-ext", "request_header", "user-agent"),
     "user-agent"),
    (("email-message", "from_ref", "value"), "email"),
    (("file", "hashes", "SHA-512"), None), (("file", "name"), None),
    (("x509-certificate", "hashes", "SHA-256"), None), (("process", "name"), None),
    (("network-traffic", "dst_port"), None), (("ipv4-addr", "resolves_to_refs", "[*]"), None),
])
def test_paths_soc_matches(path: tuple[str, ...], kind: str | None) -> None:
    assert kind_of_path(path) == kind


# --- indicators ---------------------------------------------------------------------------------


def test_every_type_from_its_pattern() -> None:
    result = read(
        indicator("[ipv4-addr:value = '198.51.100.1']"),
        indicator("[ipv4-addr:value ISSUBSET '203.0.113.0/24']"),
        indicator("[ipv6-addr:value = '2001:DB8:0:0::1']"),
        indicator("[ipv6-addr:value ISSUBSET '2001:db8:1::/48']"),
        indicator("[domain-name:value = 'Evil.Example.']"),
        indicator("[url:value = 'HTTP://Evil.Example:80/a/B?q=1']"),
        indicator(f"[file:hashes.MD5 = '{MD5.upper()}']"),
        indicator(f"[file:hashes.'SHA-1' = '{SHA1}']"),
        indicator(f"[file:hashes.'SHA-256' = '{SHA256}']"),
        indicator("[email-addr:value = 'Phish@Evil.Example']"),
        indicator("[network-traffic:extensions.'http-request-ext'.request_header."
                  "'User-Agent' = 'Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)']"),
        indicator("[network-traffic:dst_ref.type = 'ipv4-addr' AND "
                  "network-traffic:dst_ref.value = '203.0.113.33/32']"),
        indicator("[network-traffic:src_ref.value = 'c2.evil.example']"),
        indicator("[email-message:from_ref.value = 'ceo@spoof.example']"),
    )
    assert result.skipped == []
    assert keys(result) == [
        ("ipv4", "198.51.100.1"), ("ipv4", "203.0.113.0/24"), ("ipv6", "2001:db8::1"),
        ("ipv6", "2001:db8:1::/48"), ("domain", "evil.example"),
        ("url", "http://evil.example/a/B?q=1"), ("md5", MD5), ("sha1", SHA1),
        ("sha256", SHA256), ("email", "phish@evil.example"),
        ("user-agent", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"),
        ("ipv4", "203.0.113.33"), ("domain", "c2.evil.example"),
        ("email", "ceo@spoof.example")]


def test_every_comparison_of_a_pattern_gives_an_indicator() -> None:
    result = read(indicator(
        "([ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '198.51.100.2'] AND "
        "[domain-name:value IN ('a.example', 'b.example')]) FOLLOWEDBY "
        f"[file:hashes.'SHA-256' = '{SHA256}' AND file:name = 'x.dll'] WITHIN 600 SECONDS"))
    assert keys(result) == [("ipv4", "198.51.100.1"), ("ipv4", "198.51.100.2"),
                            ("domain", "a.example"), ("domain", "b.example"),
                            ("sha256", SHA256)]
    assert len({i.extra["stix_id"] for i in result.indicators}) == 1


def test_escaped_quote_in_a_value() -> None:
    result = read(indicator(r"[url:value = 'http://evil.example/it\'s'] OR "
                            r"[network-traffic:extensions.'http-request-ext'.request_header."
                            r"'User-Agent' = 'Bot \'x\' \\ 1.0']"))
    assert keys(result) == [("url", "http://evil.example/it's"),
                            ("user-agent", "Bot 'x' \\ 1.0")]


def test_mixed_case_operators() -> None:
    result = read(indicator("[ipv4-addr:value = '198.51.100.7' oR domain-name:value = "
                            "'c.example'] FollowedBy [ipv4-addr:value IsSubset '10.0.0.0/8']"))
    assert keys(result) == [("ipv4", "198.51.100.7"), ("domain", "c.example"),
                            ("ipv4", "10.0.0.0/8")]


def test_the_same_value_twice_in_a_pattern_is_one_indicator() -> None:
    result = read(indicator("[ipv4-addr:value = '198.51.100.1'] OR "
                            "[ipv4-addr:value = '198.51.100.1'] OR "
                            "[ipv4-addr:value ISSUBSET '198.51.100.1/32']"))
    assert keys(result) == [("ipv4", "198.51.100.1")]


def test_patterns_with_nothing_to_match_are_skipped_with_their_paths() -> None:
    only = indicator("[process:name = 'evil.exe' AND process:pid > 4]")
    negated = indicator("[ipv4-addr:value != '198.51.100.1' AND "
                        "domain-name:value NOT = 'a.example']")
    fuzzy = indicator("[domain-name:value LIKE '%.evil.example' OR "
                      "domain-name:value ISSUBSET 'evil.example' OR "
                      "file:hashes.'SHA-512' = 'ab' OR x509-certificate:hashes.'SHA-1' = 'ab']")
    result = read(only, negated, fuzzy)
    assert result.indicators == []
    assert result.skipped == [
        (only["id"], "nothing soc matches in the pattern (process:name =, process:pid >)"),
        (negated["id"], "nothing soc matches in the pattern (domain-name:value =, "
                        "ipv4-addr:value !=)"),
        (fuzzy["id"], "nothing soc matches in the pattern (domain-name:value ISSUBSET, "
                      "domain-name:value LIKE, file:hashes.'SHA-512' =, "
                      "x509-certificate:hashes.'SHA-1' =)"),
    ]


def test_a_supported_comparison_beside_unsupported_ones_is_read() -> None:
    result = read(indicator("[process:name = 'evil.exe'] FOLLOWEDBY "
                            "[network-traffic:dst_port = 443 AND ipv4-addr:value = '192.0.2.9']"))
    assert keys(result) == [("ipv4", "192.0.2.9")] and result.skipped == []


def test_malformed_patterns_are_skipped_and_the_rest_read() -> None:
    broken = [indicator("[ipv4-addr:value = '198.51.100.1'"),
              indicator("[ipv4-addr:value = '198.51.100.2] "),
              indicator("ipv4-addr:value = '198.51.100.3'"),
              indicator("[ipv4-addr:value == '198.51.100.4']")]
    good = indicator("[ipv4-addr:value = '198.51.100.5']")
    result = read(*broken, good)
    assert keys(result) == [("ipv4", "198.51.100.5")]
    assert [w for w, _ in result.skipped] == [b["id"] for b in broken]
    assert all(r.startswith("malformed pattern: ") for _, r in result.skipped)
    assert result.skipped[0][1] == "malformed pattern: expected ']' at 33, found the end"


def test_bad_values_are_skipped_one_by_one() -> None:
    mixed = indicator("[ipv4-addr:value = '999.1.1.1' OR ipv4-addr:value = '198.51.100.1' "
                      "OR ipv4-addr:value = '2001:db8::1' OR file:hashes.MD5 = 'abc' "
                      "OR domain-name:value = 'no spaces.example' OR url:value = 'http://']")
    result = read(mixed)
    assert keys(result) == [("ipv4", "198.51.100.1")]
    assert result.skipped == [
        (mixed["id"], "ipv4-addr:value: not an IP address or network: '999.1.1.1'"),
        (mixed["id"], "ipv4-addr:value: not an ipv4 address: '2001:db8::1'"),
        (mixed["id"], "file:hashes.MD5: not a md5: 'abc'"),
        (mixed["id"], "domain-name:value: not a domain name: 'no spaces.example'"),
        (mixed["id"], "url:value: not a URL: 'http://'"),
    ]


def test_context_of_an_indicator() -> None:
    obj = indicator(
        "[domain-name:value = 'evil.example']", valid_from="2026-11-01T08:00:00.5+07:00",
        valid_until="2027-01-01T00:00:00Z", confidence=85,
        labels=["apt-x", "phishing"], indicator_types=["malicious-activity", "phishing"],
        name="Phishing domain", description="Seen in the October campaign.",
        external_references=[{"source_name": "cve", "external_id": "CVE-2026-1"},
                             {"source_name": "ncsc", "url": "https://ncsc.example/a/1"}],
        object_marking_refs=[TLP2["amber"]])
    [item] = read(obj).indicators
    assert item.source == "ncsc"
    assert item.first_seen == "2026-11-01T01:00:00.500Z"
    assert item.last_seen is None
    assert item.valid_until == "2027-01-01T00:00:00.000Z"
    assert item.confidence == 85
    assert item.tlp == "amber"
    assert item.tags == ("apt-x", "phishing", "malicious-activity")
    assert item.description == "Phishing domain: Seen in the October campaign."
    assert item.reference == "https://ncsc.example/a/1"
    assert item.extra == {"stix_id": obj["id"]}


@pytest.mark.parametrize(("value", "expected"), [
    (0, 0), (100, 100), (42.4, 42), (101, None), (-1, None), ("85", None), (True, None),
    (None, None)])
def test_confidence_only_when_it_is_0_to_100(value: object, expected: int | None) -> None:
    [item] = read(indicator("[ipv4-addr:value = '198.51.100.1']", confidence=value)).indicators
    assert item.confidence == expected


def test_description_is_name_or_description_and_is_bounded() -> None:
    named = indicator("[ipv4-addr:value = '198.51.100.1']", name="C2")
    same = indicator("[ipv4-addr:value = '198.51.100.2']", name="C2", description="C2")
    long = indicator("[ipv4-addr:value = '198.51.100.3']", description="x" * 5000)
    result = read(named, same, long)
    assert [i.description for i in result.indicators[:2]] == ["C2", "C2"]
    assert len(result.indicators[2].description) == 2000
    assert result.indicators[2].description.endswith("…")


def test_revoked_is_skipped() -> None:
    obj = indicator("[ipv4-addr:value = '198.51.100.1']", revoked=True)
    result = read(obj)
    assert result.indicators == [] and result.skipped == [(obj["id"], "revoked")]


def test_the_newest_version_of_an_object_counts() -> None:
    pattern = "[ipv4-addr:value = '198.51.100.1']"
    v1 = indicator(pattern, modified="2026-11-01T08:00:00.000Z", confidence=50)
    v2 = indicator(pattern, modified="2026-11-02T08:00:00.000Z", revoked=True)
    v3 = indicator(pattern, modified="2026-11-03T08:00:00.000Z", confidence=90)
    assert read(v1, v2).skipped == [(v1["id"], "revoked")]
    assert read(v2, v1).skipped == [(v1["id"], "revoked")]
    [item] = read(v3, v2, v1).indicators
    assert item.confidence == 90


def test_expired_valid_until_is_kept_for_history() -> None:
    # the store keeps it; IndicatorRecord.live() says it no longer matches
    [item] = read(indicator("[ipv4-addr:value = '198.51.100.1']",
                            valid_from="2025-01-01T00:00:00Z",
                            valid_until="2025-02-01T00:00:00Z")).indicators
    assert item.valid_until == "2025-02-01T00:00:00.000Z"


def test_valid_until_before_valid_from_or_bad_timestamps_are_skipped() -> None:
    backwards = indicator("[ipv4-addr:value = '198.51.100.1']", valid_from="2026-11-02T00:00:00Z",
                          valid_until="2026-11-01T00:00:00Z")
    bad_from = indicator("[ipv4-addr:value = '198.51.100.2']", valid_from="yesterday")
    bad_until = indicator("[ipv4-addr:value = '198.51.100.3']", valid_until="31/12/2026")
    result = read(backwards, bad_from, bad_until)
    assert result.indicators == []
    assert result.skipped == [
        (backwards["id"], "valid_until is not after valid_from"),
        (bad_from["id"], "valid_from is not a timestamp: 'yesterday'"),
        (bad_until["id"], "valid_until is not a timestamp: '31/12/2026'")]


def test_missing_valid_until_takes_the_lifetime_of_the_type() -> None:
    result = read(indicator("[ipv4-addr:value = '198.51.100.1' OR domain-name:value = "
                            f"'evil.example' OR file:hashes.'SHA-256' = '{SHA256}' OR "
                            "url:value = 'http://evil.example/x']"))
    untils = {i.type: i.valid_until for i in result.indicators}
    assert untils == {"ipv4": "2026-12-01T09:00:00.000Z", "domain": "2026-12-24T09:00:00.000Z",
                      "sha256": None, "url": None}  # None lifetime, or none for the type


def test_no_lifetimes_means_no_expiry() -> None:
    [item] = read(indicator("[ipv4-addr:value = '198.51.100.1']"), lifetimes=None).indicators
    assert item.valid_until is None


def test_other_pattern_languages_are_skipped_stix_2_0_is_read() -> None:
    sigma = indicator("title: x", pattern_type="sigma")
    yara = indicator("rule x { condition: true }", pattern_type="yara")
    no_pattern = indicator("[ipv4-addr:value = '198.51.100.9']")
    del no_pattern["pattern"]
    v20 = indicator("[ipv4-addr:value = '198.51.100.1']", pattern_type=None, spec_version=None,
                    labels=["malicious-activity"])
    result = read(sigma, yara, no_pattern, v20)
    assert keys(result) == [("ipv4", "198.51.100.1")]
    assert result.indicators[0].tags == ("malicious-activity",)
    assert result.skipped == [(sigma["id"], "pattern_type 'sigma' is not read (stix only)"),
                              (yara["id"], "pattern_type 'yara' is not read (stix only)"),
                              (no_pattern["id"], "no pattern")]


def test_stix_patterns_soc_writes_for_sightings_read_back() -> None:
    values = {"ipv4": "198.51.100.0/24", "ipv6": "2001:db8::1", "domain": "evil.example",
              "url": "http://evil.example/it's?q=1", "md5": MD5, "sha1": SHA1,
              "sha256": SHA256, "email": "a@evil.example",
              "ja3": "72a589da586844d7f0818ce684948eea",
              "ja4": "t13d1516h2_8daaf6152771_b186095e22b6",
              "user-agent": "Mozilla/5.0 'quoted' \\ back"}
    assert set(values) == set(TYPES)
    result = read(*(indicator(stix_pattern(k, v)) for k, v in values.items()))
    assert result.skipped == []
    assert keys(result) == list(values.items())


# --- TLP --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "tlp"), [
    *((ref, "clear" if name == "white" else name) for name, ref in TLP1.items()),
    *((ref, name) for name, ref in TLP2.items())])
def test_tlp_from_the_standard_marking_ids(ref: str, tlp: str) -> None:
    [item] = read(indicator("[ipv4-addr:value = '198.51.100.1']",
                            object_marking_refs=[ref])).indicators
    assert item.tlp == tlp
    assert TLP_MARKINGS[ref] == tlp


def test_tlp_of_several_markings_is_the_strictest() -> None:
    obj = indicator("[ipv4-addr:value = '198.51.100.1']", object_marking_refs=[
        TLP2["green"], "marking-definition--34d4b7ba-3b2c-4a6e-b2b5-6b0a3e0fd1a1", TLP1["amber"],
        TLP2["clear"]])
    [item] = read(obj).indicators
    assert item.tlp == "amber"


def test_tlp_from_marking_definitions_the_bundle_carries() -> None:
    # STIX 2.0 producers minted their own TLP marking ids; TLP 2.0 ones use OASIS's extension
    own20 = {"type": "marking-definition", "id": "marking-definition--1b1a2c4e-0000-4000-8000-"
             "000000000001", "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
             "definition": {"tlp": "red"}}
    own21 = {"type": "marking-definition", "spec_version": "2.1",
             "id": "marking-definition--1b1a2c4e-0000-4000-8000-000000000002",
             "created": "2022-10-01T00:00:00.000Z", "name": "TLP:AMBER+STRICT",
             "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                 "extension_type": "property-extension", "tlp_2_0": "amber+strict"}}}
    statement = {"type": "marking-definition", "spec_version": "2.1",
                 "id": "marking-definition--1b1a2c4e-0000-4000-8000-000000000003",
                 "created": "2022-10-01T00:00:00.000Z", "definition_type": "statement",
                 "definition": {"statement": "Copyright 2026 ACME"}}
    forged = {**own20, "id": TLP2["clear"], "definition": {"tlp": "red"}}
    result = read(
        own20, own21, statement, forged,
        indicator("[ipv4-addr:value = '198.51.100.1']", object_marking_refs=[own20["id"]]),
        indicator("[ipv4-addr:value = '198.51.100.2']", object_marking_refs=[own21["id"]]),
        indicator("[ipv4-addr:value = '198.51.100.3']", object_marking_refs=[statement["id"]]),
        indicator("[ipv4-addr:value = '198.51.100.4']", object_marking_refs=[TLP2["clear"]]))
    assert [i.tlp for i in result.indicators] == ["red", "amber+strict", None, "clear"]


def test_granular_markings_are_not_read() -> None:
    obj = indicator("[ipv4-addr:value = '198.51.100.1']", granular_markings=[
        {"marking_ref": TLP2["red"], "selectors": ["description"]}])
    [item] = read(obj).indicators
    assert item.tlp is None


# --- observables without indicators ---------------------------------------------------------------


def test_observables_are_read_when_the_bundle_has_no_indicator() -> None:
    observed = {"type": "ipv4-addr", "spec_version": "2.1",
                "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "192.0.2.1"}
    result = read(
        {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.3",
         "object_marking_refs": [TLP2["green"]]},
        {"type": "domain-name", "id": "domain-name--1", "value": "Evil.Example"},
        {"type": "url", "id": "url--1", "value": "https://evil.example/dl"},
        {"type": "email-addr", "id": "email-addr--1", "value": "x@evil.example"},
        {"type": "file", "id": "file--1", "name": "a.exe",
         "hashes": {"MD5": MD5, "SHA-256": SHA256, "SHA-512": "ab"}},
        {"type": "file", "id": "file--2", "name": "b.exe", "hashes": {"SSDEEP": "3:a:b"}},
        {"type": "ipv6-addr", "id": "ipv6-addr--1", "value": 42},
        {"type": "ipv4-addr", "id": "ipv4-addr--2", "value": "not-an-ip"},
        {"type": "observed-data", "id": "observed-data--1", "object_refs": [observed["id"]],
         "first_observed": "2026-11-01T00:00:00Z", "last_observed": "2026-11-01T00:00:00Z",
         "number_observed": 1},
        observed,
        {"type": "identity", "id": "identity--1", "name": "ACME", "identity_class": "system"})
    assert keys(result) == [("ipv4", "198.51.100.3"), ("domain", "evil.example"),
                            ("url", "https://evil.example/dl"), ("email", "x@evil.example"),
                            ("md5", MD5), ("sha256", SHA256)]
    assert result.indicators[0].tlp == "green"
    assert result.indicators[0].valid_until == "2026-12-01T09:00:00.000Z"
    assert result.indicators[0].first_seen is None
    assert result.skipped == [
        ("file--2", "no MD5, SHA-1 or SHA-256 hash"),
        ("ipv6-addr--1", "ipv6-addr:value: not a string"),
        ("ipv4-addr--2", "ipv4-addr:value: not an IP address or network: 'not-an-ip'")]


def test_observables_beside_indicators_are_not_read() -> None:
    result = read({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "192.0.2.1"},
                  indicator("[ipv4-addr:value = '198.51.100.1']"))
    assert keys(result) == [("ipv4", "198.51.100.1")]


# --- the document ---------------------------------------------------------------------------------


def test_bytes_utf8_with_bom_and_utf16() -> None:
    doc = bundle(indicator("[domain-name:value = 'bücher.example']"))
    text = json.dumps(doc, ensure_ascii=False)
    for data in (text.encode(), codecs.BOM_UTF8 + text.encode(), text.encode("utf-16")):
        result = read_bundle(data, source="f", lifetimes=None, now=NOW)
        assert keys(result) == [("domain", "xn--bcher-kva.example")]


def test_taxii_envelope_list_and_single_object_are_read() -> None:
    obj = indicator("[ipv4-addr:value = '198.51.100.1']")
    for doc in ({"more": False, "objects": [obj]}, [obj], obj):
        assert keys(read_bundle(json.dumps(doc).encode(), source="f", lifetimes=None,
                                now=NOW)) == [("ipv4", "198.51.100.1")]
    for empty in ({"more": False}, {}, {"type": "bundle", "id": "bundle--1"}):
        assert read_bundle(empty, source="f", lifetimes=None, now=NOW) == FeedResult()


def test_objects_that_are_not_objects_are_skipped() -> None:
    result = read_bundle({"type": "bundle", "objects": [
        "x", 5, None, indicator("[ipv4-addr:value = '198.51.100.1']")]},
        source="f", lifetimes=None, now=NOW)
    assert keys(result) == [("ipv4", "198.51.100.1")]
    assert result.skipped == [("objects[0]", "not a JSON object"),
                              ("objects[1]", "not a JSON object"),
                              ("objects[2]", "not a JSON object")]


@pytest.mark.parametrize("data", [
    b"", b"<html>login</html>", b'{"type": "bundle", "objects": ', b"\xff\xfe\x00garbage",
    b'"a string"', b"42", b'{"type": "bundle", "objects": {"a": 1}}', b'{"hello": "world"}'])
def test_no_stix_at_all_is_a_feed_error(data: bytes) -> None:
    with pytest.raises(FeedError) as err:
        read_bundle(data, source="f", lifetimes=None, now=NOW)
    assert str(err.value).startswith("not a STIX bundle")
    assert err.value.hint == "check that the feed's URL or file gives a STIX 2.1 bundle"


def test_a_large_bundle() -> None:
    objects = [indicator(f"[ipv4-addr:value = '10.{i // 65536}.{i // 256 % 256}.{i % 256}']")
               for i in range(5_000)]
    result = read_bundle(json.dumps(bundle(*objects)).encode(), source="f", lifetimes=None,
                         now=NOW)
    assert len(result.indicators) == 5_000 and result.skipped == []
