"""Sightings export (issue #20, point 5): STIX 2.1 checked by the stix2 library, MISP
``/sightings/add`` bodies, the national centre's CSV; TLP:RED never leaves."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stix2
from stix2patterns.validator import run_validator

from soc.errors import ConfigError
from soc.intel.model import Indicator, IndicatorRecord
from soc.intel.sightings import (
    CSV_HEADER,
    NAMESPACE,
    STIX_COUNT_MAX,
    TLP_MARKINGS,
    Sighting,
    exportable,
    stix_pattern,
    to_csv,
    to_misp,
    to_stix,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SHA1 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
MD5 = "098f6bcd4621d373cade4e832627b4f6"
JA3 = "72a589da586844d7f0818ce684948eea"
JA4 = "t13d1516h2_8daaf6152771_b186095e22b6"


def record(kind: str, value: str, *, tlp: str | None = "green", confidence: int | None = 80,
           valid_until: str | None = "2026-12-24T00:00:00.000Z") -> IndicatorRecord:
    item = Indicator(kind, value, "national-csv", first_seen="2026-11-01T00:00:00.000Z",
                     last_seen="2026-11-20T00:00:00.000Z", valid_until=valid_until,
                     confidence=confidence, tlp=tlp)
    return IndicatorRecord.first(item, "2026-11-02T03:04:05.678Z")


def sighting(kind: str, value: str, *, count: int = 3, tlp: str | None = "green",
             systems: tuple[str, ...] = ("cong-dich-vu-cong",), units: tuple[str, ...] = (
                 "Sở TT&TT",), first: str = "2026-11-20T01:02:03.000Z",
             last: str = "2026-11-23T17:30:05.000Z", **kw: object) -> Sighting:
    return Sighting(record(kind, value, tlp=tlp, **kw), first, last, count,  # type: ignore[arg-type]
                    systems=systems, units=units, fields=("destination.ip",))


def every_type() -> list[Sighting]:
    return [
        sighting("ipv4", "203.0.113.7"),
        sighting("ipv4", "198.51.100.0/24", tlp="amber+strict"),
        sighting("ipv6", "2001:db8::/32", tlp="clear"),
        sighting("domain", "evil.example.com", tlp=None),
        sighting("url", "http://evil.example.com/a'b\\c?q='1'", tlp="amber"),
        sighting("md5", MD5), sighting("sha1", SHA1), sighting("sha256", SHA256),
        sighting("email", "o'brien@example.org"),
        sighting("ja3", JA3), sighting("ja4", JA4),
        sighting("user-agent", "Mozilla/5.0 (it's \\ odd)"),
    ]


def by_type(bundle: dict[str, object], kind: str) -> list[dict[str, object]]:
    objects = bundle["objects"]
    assert isinstance(objects, list)
    return [o for o in objects if o["type"] == kind]


# --- STIX ---------------------------------------------------------------------------------


def test_bundle_of_every_type_parses_strictly_with_stix2() -> None:
    bundle = to_stix(every_type(), identity_name="SOC tỉnh X", now=NOW)
    parsed = stix2.parse(bundle, allow_custom=False)
    assert isinstance(parsed, stix2.v21.Bundle)
    for obj in bundle["objects"]:  # type: ignore[attr-defined]
        stix2.parse(obj, allow_custom=False, version="2.1")  # each raises on anything invalid
        assert obj["spec_version"] == "2.1"
        for key in ("created", "modified", "valid_from", "valid_until", "first_seen",
                    "last_seen"):
            if key in obj:
                assert STAMP.fullmatch(obj[key]), (key, obj[key])
    assert "spec_version" not in bundle  # a 2.1 bundle carries none
    assert len(by_type(bundle, "indicator")) == len(by_type(bundle, "sighting")) == 12


def test_identity_is_the_sighter_with_an_id_derived_from_its_name() -> None:
    bundle = to_stix([sighting("ipv4", "203.0.113.7")], identity_name="SOC tỉnh X", now=NOW)
    (ident,) = by_type(bundle, "identity")
    expected = f"identity--{uuid.uuid5(NAMESPACE, chr(0x1F).join(['identity', 'SOC tỉnh X']))}"
    assert ident["id"] == expected and ident["name"] == "SOC tỉnh X"
    assert ident["identity_class"] == "organization"
    (seen,) = by_type(bundle, "sighting")
    (indicator,) = by_type(bundle, "indicator")
    assert seen["where_sighted_refs"] == [expected]
    assert seen["created_by_ref"] == indicator["created_by_ref"] == expected
    assert seen["sighting_of_ref"] == indicator["id"]
    assert uuid.UUID(str(indicator["id"]).split("--")[1]).version == 5


def test_given_identity_id_is_used_and_a_bad_one_refused() -> None:
    given = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    bundle = to_stix([sighting("domain", "evil.example.com")], identity_name="SOC",
                     identity_id=given, now=NOW)
    assert by_type(bundle, "identity")[0]["id"] == given
    assert by_type(bundle, "sighting")[0]["where_sighted_refs"] == [given]
    with pytest.raises(ConfigError, match="not a STIX identity id"):
        to_stix([], identity_name="SOC", identity_id="indicator--8e2e2d2b-17d4-4cbf-938f-"
                "98ee46b3cd3f", now=NOW)


def test_ids_are_stable_across_exports_and_a_grown_sighting_is_a_newer_version() -> None:
    one = to_stix([sighting("url", "http://evil.example.com/x", count=2)], identity_name="SOC",
                  now=NOW)
    later = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    two = to_stix([sighting("url", "http://evil.example.com/x", count=9,
                            last="2026-11-25T08:00:00.000Z")], identity_name="SOC", now=later)
    for kind in ("identity", "indicator", "sighting"):
        assert by_type(one, kind)[0]["id"] == by_type(two, kind)[0]["id"]
    s1, s2 = by_type(one, "sighting")[0], by_type(two, "sighting")[0]
    assert s1["created"] == s2["created"] == "2026-11-20T01:02:03.000Z"
    assert (s1["modified"], s2["modified"]) == ("2026-11-24T09:00:00.000Z",
                                                "2026-11-25T09:00:00.000Z")
    assert (s2["count"], s2["last_seen"]) == (9, "2026-11-25T08:00:00.000Z")
    assert one["id"] != two["id"]


def test_two_sightings_of_one_indicator_share_one_indicator_object() -> None:
    bundle = to_stix([sighting("domain", "evil.example.com"),
                      sighting("domain", "evil.example.com", first="2026-11-21T00:00:00Z")],
                     identity_name="SOC", now=NOW)
    assert len(by_type(bundle, "indicator")) == 1
    assert len({s["id"] for s in by_type(bundle, "sighting")}) == 2
    stix2.parse(bundle, allow_custom=False)


def test_indicator_fields_from_the_record() -> None:
    bundle = to_stix([sighting("ipv4", "203.0.113.7")], identity_name="SOC", now=NOW)
    (ind,) = by_type(bundle, "indicator")
    assert ind["pattern"] == "[ipv4-addr:value = '203.0.113.7']"
    assert ind["pattern_type"] == "stix"
    assert (ind["created"], ind["modified"]) == ("2026-11-02T03:04:05.678Z",
                                                 "2026-11-02T03:04:05.678Z")
    assert (ind["valid_from"], ind["valid_until"]) == ("2026-11-01T00:00:00.000Z",
                                                       "2026-12-24T00:00:00.000Z")
    assert ind["confidence"] == 80
    assert ind["object_marking_refs"] == [TLP_MARKINGS["green"]]


def test_valid_until_before_valid_from_is_left_out_and_no_confidence_none() -> None:
    bundle = to_stix([sighting("ipv4", "203.0.113.7", valid_until="2026-10-01T00:00:00Z",
                               confidence=None, tlp=None)], identity_name="SOC", now=NOW)
    (ind,) = by_type(bundle, "indicator")
    assert "valid_until" not in ind and "confidence" not in ind
    assert "object_marking_refs" not in ind and by_type(bundle, "marking-definition") == []
    stix2.parse(bundle, allow_custom=False)


def test_strictest_tlp_marks_indicator_and_sighting_and_its_definition_travels() -> None:
    rec = record("domain", "evil.example.com", tlp="green")
    rec.merge(Indicator("domain", "evil.example.com", "misp", tlp="amber+strict"),
              "2026-11-03T00:00:00.000Z")
    item = Sighting(rec, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", 1)
    bundle = to_stix([item], identity_name="SOC", now=NOW)
    strict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
    assert by_type(bundle, "indicator")[0]["object_marking_refs"] == [strict]
    assert by_type(bundle, "sighting")[0]["object_marking_refs"] == [strict]
    (marking,) = by_type(bundle, "marking-definition")
    assert marking["id"] == strict and marking["name"] == "TLP:AMBER+STRICT"
    parsed = stix2.parse(marking, allow_custom=False, version="2.1")
    assert parsed.id == strict
    # indicator.modified follows the record's last change
    assert by_type(bundle, "indicator")[0]["modified"] == "2026-11-03T00:00:00.000Z"


def test_description_names_systems_units_fields_and_retro_hunts() -> None:
    rec = record("ipv4", "203.0.113.7")
    item = Sighting(rec, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", 1,
                    systems=("portal", "mail"), units=("so-tttt",), fields=("source.ip",),
                    retrospective=True)
    (seen,) = by_type(to_stix([item], identity_name="SOC", now=NOW), "sighting")
    assert seen["description"] == ("Seen 1 time on systems portal, mail of units so-tttt in "
                                   "fields source.ip (found by a retro-hunt in stored history).")


@pytest.mark.parametrize(("given", "exported"), [
    (0, 0), (1, 1), (STIX_COUNT_MAX, STIX_COUNT_MAX), (STIX_COUNT_MAX + 1, STIX_COUNT_MAX),
    (5_000_000_000, STIX_COUNT_MAX), (-4, 0)])
def test_count_stays_within_stix_bounds(given: int, exported: int) -> None:
    bundle = to_stix([sighting("ipv4", "203.0.113.7", count=given)], identity_name="SOC",
                     now=NOW)
    (seen,) = by_type(bundle, "sighting")
    assert seen["count"] == exported
    stix2.parse(bundle, allow_custom=False)
    assert f"Seen {given} time" in str(seen["description"])  # the true figure stays readable


def test_stix2_itself_refuses_a_count_past_the_bound() -> None:
    bundle = to_stix([sighting("ipv4", "203.0.113.7")], identity_name="SOC", now=NOW)
    (seen,) = by_type(bundle, "sighting")
    with pytest.raises(stix2.exceptions.InvalidValueError, match="count"):
        stix2.parse({**seen, "count": STIX_COUNT_MAX + 1}, allow_custom=False, version="2.1")


def test_first_and_last_seen_given_swapped_are_put_in_order() -> None:
    bundle = to_stix([sighting("ipv4", "203.0.113.7", first="2026-11-23T00:00:00Z",
                               last="2026-11-20T00:00:00Z")], identity_name="SOC", now=NOW)
    (seen,) = by_type(bundle, "sighting")
    assert (seen["first_seen"], seen["last_seen"]) == ("2026-11-20T00:00:00.000Z",
                                                       "2026-11-23T00:00:00.000Z")
    stix2.parse(bundle, allow_custom=False)


# --- patterns --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "value", "pattern"), [
    ("url", "http://evil.example.com/a'b", r"[url:value = 'http://evil.example.com/a\'b']"),
    ("url", "http://evil.example.com/a\\b", r"[url:value = 'http://evil.example.com/a\\b']"),
    ("url", "http://evil.example.com/\\'?q=\\\\'",
     r"[url:value = 'http://evil.example.com/\\\'?q=\\\\\'']"),
    ("user-agent", "it's",
     r"[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'it\'s']"),
    ("email", "o'brien@example.org", r"[email-addr:value = 'o\'brien@example.org']"),
])
def test_pattern_escapes_quotes_and_backslashes(kind: str, value: str, pattern: str) -> None:
    built = stix_pattern(kind, value)
    assert built == pattern
    assert run_validator(built) == []
    naive = built[:built.index(" '") + 2] + value + "']"
    assert run_validator(naive) != []  # unescaped, the pattern breaks


@pytest.mark.parametrize(("kind", "value", "pattern"), [
    ("md5", MD5, f"[file:hashes.MD5 = '{MD5}']"),
    ("sha1", SHA1, f"[file:hashes.'SHA-1' = '{SHA1}']"),
    ("sha256", SHA256, f"[file:hashes.'SHA-256' = '{SHA256}']"),
    ("ipv4", "198.51.100.0/24", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
    ("ipv6", "2001:db8::1", "[ipv6-addr:value = '2001:db8::1']"),
    ("domain", "evil.example.com", "[domain-name:value = 'evil.example.com']"),
    ("ja3", JA3, f"[x-ja3:value = '{JA3}']"),
    ("ja4", JA4, f"[x-ja4:value = '{JA4}']"),
])
def test_pattern_per_type_with_spec_hash_key_names(kind: str, value: str, pattern: str) -> None:
    assert stix_pattern(kind, value) == pattern
    assert run_validator(pattern) == []


def test_stix2_checks_hash_values_under_those_keys() -> None:
    """The hash key names are the ones stix2 knows: it checks the value's length under them."""
    bundle = to_stix([sighting("sha256", SHA256)], identity_name="SOC", now=NOW)
    (ind,) = by_type(bundle, "indicator")
    with pytest.raises(stix2.exceptions.InvalidValueError, match="SHA-256"):
        stix2.parse({**ind, "pattern": "[file:hashes.'SHA-256' = 'abc']"}, allow_custom=False,
                    version="2.1")


# --- TLP:RED ---------------------------------------------------------------------------------


def test_tlp_red_is_held_back_by_every_exporter() -> None:
    secret = "secret.example.org"
    items = [sighting("domain", secret, tlp="red"), sighting("ipv4", "203.0.113.7"),
             sighting("url", "http://secret.example.org/x", tlp="red")]
    kept, held = exportable(items)
    assert held == 2 and [s.record.value for s in kept] == ["203.0.113.7"]
    bundle = to_stix(items, identity_name="SOC", now=NOW)
    text = str(bundle)
    assert secret not in text and TLP_MARKINGS["red"] not in text
    assert len(by_type(bundle, "sighting")) == 1
    assert [m["value"] for m in to_misp(items, source="SOC")] == ["203.0.113.7"]
    rows = list(csv.reader(io.StringIO(to_csv(items).lstrip("\ufeff"))))
    assert len(rows) == 2 and secret not in to_csv(items)


def test_red_from_one_feed_makes_the_whole_indicator_red() -> None:
    rec = record("domain", "evil.example.com", tlp="clear")
    rec.merge(Indicator("domain", "evil.example.com", "partner", tlp="red"),
              "2026-11-03T00:00:00.000Z")
    item = Sighting(rec, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", 1)
    assert exportable([item]) == ([], 1)
    assert by_type(to_stix([item], identity_name="SOC", now=NOW), "indicator") == []


# --- MISP ------------------------------------------------------------------------------------


def test_misp_bodies_by_value_at_the_last_time_seen() -> None:
    items = [sighting("ipv4", "203.0.113.7", last="2026-11-23T17:30:05.000Z"),
             sighting("sha256", SHA256, first="2026-11-22T00:00:00Z",
                      last="2026-11-21T00:00:00Z")]
    assert to_misp(items, source="SOC tỉnh X") == [
        {"value": "203.0.113.7", "type": "0", "source": "SOC tỉnh X", "timestamp": 1795455005},
        {"value": SHA256, "type": "0", "source": "SOC tỉnh X", "timestamp": 1795305600},
    ]
    assert datetime.fromtimestamp(1795455005, UTC) == datetime(2026, 11, 23, 17, 30, 5,
                                                               tzinfo=UTC)


# --- CSV -------------------------------------------------------------------------------------


def read_csv(text: str, tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "sightings.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_csv_vietnamese_header_round_trips_with_bom(tmp_path: Path) -> None:
    rows = read_csv(to_csv([sighting("domain", "evil.example.com")]), tmp_path)
    assert tuple(rows[0]) == CSV_HEADER == (
        "STT", "Chỉ số IoC", "Loại", "Thời điểm phát hiện đầu tiên",
        "Thời điểm phát hiện cuối cùng", "Số lần", "Hệ thống", "Đơn vị")
    assert rows[1] == ["1", "evil.example.com", "Tên miền", "20/11/2026 08:02:03",
                       "24/11/2026 00:30:05", "3", "cong-dich-vu-cong", "Sở TT&TT"]


def test_csv_times_in_the_configured_zone(tmp_path: Path) -> None:
    item = sighting("ipv4", "203.0.113.7", first="2026-11-23T16:59:59.999Z",
                    last="2026-11-23T17:00:00.000Z")
    hcm = read_csv(to_csv([item]), tmp_path)[1]
    assert (hcm[3], hcm[4]) == ("23/11/2026 23:59:59", "24/11/2026 00:00:00")
    utc = read_csv(to_csv([item], timezone="UTC"), tmp_path)[1]
    assert (utc[3], utc[4]) == ("23/11/2026 16:59:59", "23/11/2026 17:00:00")
    with pytest.raises(ConfigError, match="unknown time zone"):
        to_csv([item], timezone="Asia/Nowhere")


def test_csv_defaults_for_system_and_unit_and_rows_in_time_order(tmp_path: Path) -> None:
    late = sighting("ipv4", "203.0.113.9", systems=(), units=(), first="2026-11-22T00:00:00Z")
    early = sighting("md5", MD5, systems=("a", "b"), units=("u1", "u2"),
                     first="2026-11-21T00:00:00Z")
    rows = read_csv(to_csv([late, early], system_default="portal", unit_default="Sở TT&TT"),
                    tmp_path)
    assert [r[:3] for r in rows[1:]] == [["1", MD5, "MD5"], ["2", "203.0.113.9", "IPv4"]]
    assert (rows[1][6], rows[1][7]) == ("a, b", "u1, u2")
    assert (rows[2][6], rows[2][7]) == ("portal", "Sở TT&TT")


@pytest.mark.parametrize("hostile", [
    "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1,1)", "\t=1", "\r=1"])
def test_csv_cells_that_would_run_as_formulas_are_defused(hostile: str,
                                                         tmp_path: Path) -> None:
    item = sighting("user-agent", hostile, systems=(hostile,), units=(hostile,))
    row = read_csv(to_csv([item]), tmp_path)[1]
    assert (row[1], row[6], row[7]) == ("'" + hostile,) * 3


def test_csv_leaves_harmless_cells_alone(tmp_path: Path) -> None:
    item = sighting("email", "a-b=c@example.org", systems=("web-01",), units=("Sở 'A'",))
    row = read_csv(to_csv([item]), tmp_path)[1]
    assert (row[1], row[6], row[7]) == ("a-b=c@example.org", "web-01", "Sở 'A'")
