"""The matcher's cheap paths (soc.intel.matcher, soc.intel.index_cache): the watched fields
remembered per shape of event, a table's single position kept as an int (position 0 included),
the records kept in columns, the kept file's format and its end of validity. Each answer is
checked against what the index must find, also on an index read back from its plain form."""

from __future__ import annotations

import marshal
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.ecs import format_ts
from soc.intel import index_cache, matcher
from soc.intel.matcher import IndicatorIndex
from soc.stores.base import Store
from tests.test_intel_index_cache import NOW, Builds, ingest, matched, new_stage
from tests.test_intel_matcher import hits, index, record
from tests.test_intel_store import _embedded


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with _embedded(tmp_path) as opened:
        yield opened


def read_back(ix: IndicatorIndex) -> IndicatorIndex:
    return IndicatorIndex.from_plain(marshal.loads(marshal.dumps(ix.to_plain())))


FIRST = [  # (indicator, an event it matches, the field)
    (("ipv4", "203.0.113.7"), "203.0.113.7", "source.ip"),
    (("ipv4", "198.51.100.0/24"), "198.51.100.9", "destination.ip"),
    (("ipv4", "10.0.0.0/8"), "10.9.8.7", "source.ip"),  # a wide network (not under a /24)
    (("ipv6", "2001:db8::/32"), "2001:db8::5", "source.ip"),
    (("domain", "evil.example"), "a.evil.example", "dns.question.name"),
    (("url", "https://bad.example/kit/drop.php"), "https://bad.example/kit/drop.php?x=1",
     "url.full"),
    (("sha256", "3f" * 32), "3F" * 32, "file.hash.sha256"),
    (("email", "boss@evil.example"), "<Boss@evil.example>", "email.from.address"),
    (("ja3", "e7d705a3286e19ea42f587b344ee6865"), "e7d705a3286e19ea42f587b344ee6865",
     "tls.client.ja3"),
    (("user-agent", "EvilBot/1.0"), "EvilBot/1.0", "user_agent.original"),
]


@pytest.mark.parametrize(("indicator", "text", "field"), FIRST)
def test_the_first_record_matches_in_every_table(
        indicator: tuple[str, str], text: str, field: str) -> None:
    """The only record is at position 0, which its table holds as the int 0 (a false value)."""
    ix = index(record(*indicator))
    for one in (ix, read_back(ix)):
        assert [(m.record.type, m.atomic) for m in one.match({field: text})] == [
            (indicator[0], text)]
        assert one.match({field: "nothing-listed"}) == []


def test_records_that_share_a_key_all_match() -> None:
    """Two records under one key (an IPv4 network and its IPv4-mapped IPv6 form; a URL under
    two schemes) make a tuple of positions, after a single position was an int."""
    ix = index(record("ipv4", "10.0.0.0/8"), record("ipv6", "::ffff:10.0.0.0/104"),
               record("url", "http://bad.example/drop"), record("url", "https://bad.example/drop"),
               record("domain", "evil.example"))
    for one in (ix, read_back(ix)):
        assert [m.record.type for m in one.match({"source.ip": "10.1.2.3"})] == ["ipv4", "ipv6"]
        assert [m.record.type for m in one.match({"source.ip": "::ffff:10.1.2.3"})] == [
            "ipv4", "ipv6"]
        assert sorted(m.record.value for m in one.match(
            {"url.full": "https://bad.example/drop"})) == [
            "http://bad.example/drop", "https://bad.example/drop"]
        assert len(one) == 5


def test_odd_address_texts_answer_as_before() -> None:
    ix = index(record("ipv4", "10.0.0.1"), record("ipv4", "192.0.2.0/24"))
    for one in (ix, read_back(ix)):
        assert hits(one, {"source.ip": " 10.0.0.1"}) == [("10.0.0.1", "source.ip", " 10.0.0.1")]
        assert hits(one, {"source.ip": "::ffff:192.0.2.9"}) == [
            ("192.0.2.0/24", "source.ip", "::ffff:192.0.2.9")]
        assert hits(one, {"source.ip": "010.0.0.1"}) == []  # not an address: no match
        assert hits(one, {"source.ip": "10.0.0.1."}) == [("10.0.0.1", "source.ip", "10.0.0.1.")]


def test_events_of_one_shape_and_of_others_each_get_their_own_fields() -> None:
    ix = index(record("ipv4", "192.0.2.0/24"), record("domain", "evil.example"))
    stream: list[tuple[dict[str, Any], list[tuple[str, str, str]]]] = [
        ({"source.ip": "192.0.2.1", "message": "a"}, [("192.0.2.0/24", "source.ip", "192.0.2.1")]),
        ({"source.ip": "198.51.100.1", "message": "b"}, []),  # same shape, another value
        ({"message": "c", "source.ip": "192.0.2.2"},  # the same keys in another order
         [("192.0.2.0/24", "source.ip", "192.0.2.2")]),
        ({"message": "d", "dns.question.name": "x.evil.example"},  # another watched field
         [("evil.example", "dns.question.name", "x.evil.example")]),
        ({"message": "e", "source.ip": "192.0.2.3"}, [("192.0.2.0/24", "source.ip", "192.0.2.3")]),
        ({"message": "f"}, []),  # no watched field at all
        ({"message": "g", "source.ip": ["198.51.100.1", "192.0.2.4"]},
         [("192.0.2.0/24", "source.ip", "192.0.2.4")]),
        ({"source.ip": "192.0.2.5", "message": "h"}, [("192.0.2.0/24", "source.ip", "192.0.2.5")]),
    ]
    for event, want in stream * 2:
        assert hits(ix, event) == want, event


def test_shapes_are_forgotten_when_too_many_and_answers_stay(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher, "SHAPES", 2)
    ix = index(record("ipv4", "192.0.2.0/24"))
    for n in range(10):
        event = {f"labels.k{n}": n, "destination.ip": f"192.0.2.{n}"}
        assert hits(ix, event) == [("192.0.2.0/24", "destination.ip", f"192.0.2.{n}")]
        assert hits(ix, {f"labels.k{n}": n}) == []
    assert len(ix._shapes) <= 2


def test_plain_data_of_another_layout_is_refused() -> None:
    ix = index(record("ipv4", "192.0.2.0/24"), record("domain", "evil.example"))
    plain = ix.to_plain()
    with pytest.raises(ValueError, match="lengths"):
        IndicatorIndex.from_plain({**plain, "until": plain["until"][:1]})
    with pytest.raises(TypeError):
        IndicatorIndex.from_plain({**plain, "domains": [("evil.example", 1)]})
    old = {k: v for k, v in plain.items() if k not in ("kinds", "values", "until", "expired")}
    with pytest.raises(KeyError):  # format 1 held a list of keys
        IndicatorIndex.from_plain({**old, "keys": [("ipv4", "192.0.2.0/24", None, None)]})


def test_a_kept_file_of_the_previous_format_means_a_build(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store)
    want = matched(new_stage(tmp_path), store)
    path = tmp_path / index_cache.FILE_NAME
    kept = marshal.loads(path.read_bytes())
    columns = [kept["index"].pop(name) for name in ("kinds", "values", "until", "expired")]
    kept["index"]["keys"] = list(zip(*columns, strict=True))  # what format 1 wrote
    for tag in (f"soc-intel-index/1/{sys.implementation.cache_tag}", kept["tag"]):
        path.write_bytes(marshal.dumps({**kept, "tag": tag}))
        assert index_cache.load(path, str(store.indicators_version()), format_ts(NOW)) is None
    builds = Builds(monkeypatch)
    assert matched(new_stage(tmp_path), store) == want
    assert builds.count == 1
    assert index_cache.load(path, str(store.indicators_version()), format_ts(NOW)) is not None


def test_an_index_read_back_still_ends_at_its_next_end(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The end of validity kept with the index is the stage's: a running stage that read the
    index back builds again when an indicator's validity ends."""
    ingest(store, valid_until=NOW + timedelta(hours=1))
    assert len(matched(new_stage(tmp_path), store)) == 5
    builds = Builds(monkeypatch)
    at = [NOW + timedelta(minutes=5)]
    running = index_cache.load(tmp_path / index_cache.FILE_NAME,
                               str(store.indicators_version()), format_ts(at[0]))
    assert running is not None and running.next_end == format_ts(NOW + timedelta(hours=1))
    stage = new_stage(tmp_path)
    stage.clock = lambda: at[0]
    assert len(matched(stage, store)) == 5 and builds.count == 0  # read back
    at[0] = NOW + timedelta(hours=2)
    assert len(matched(stage, store)) == 4 and builds.count == 1  # the /24 ended: built again


def test_a_url_is_looked_at_per_event_whatever_the_shape_said() -> None:
    """The shape tells whether an event has a URL to look at; whether ``url.original`` is
    absolute is the event's own."""
    ix = index(record("url", "https://bad.example/kit/drop.php"))
    stream: list[tuple[dict[str, Any], list[str]]] = [
        ({"url.original": "/kit/drop.php"}, []),  # a request line: no host
        ({"url.original": "https://bad.example/kit/drop.php?a=1"}, ["url.original"]),
        ({"url.original": 7}, []),
        ({"url.original": "/kit/drop.php", "url.domain": "bad.example"}, ["url.original"]),
        ({"url.path": "/kit/drop.php", "url.domain": "bad.example", "url.scheme": "https"},
         ["url.path"]),
        ({"url.full": "https://BAD.example/kit/drop.php"}, ["url.full"]),
        ({"url.path": "/kit/drop.php"}, []),
    ]
    for one in (ix, read_back(ix)):
        for event, want in stream * 2:
            assert [m.field for m in one.match(event)] == want, event


def test_an_exact_address_and_the_networks_around_it_all_match_most_specific_first() -> None:
    """An address's own indicator is found by its text; the networks around it (narrow ones
    through their /24's text, wide ones by number) still are, in the same order as before."""
    ix = index(record("ipv4", "10.1.2.0/28"), record("ipv4", "10.0.0.0/8"),
               record("ipv4", "10.1.2.3"), record("ipv4", "10.1.0.0/20"),
               record("ipv6", "::ffff:10.1.2.4"))
    for one in (ix, read_back(ix)):
        assert [v for v, _, _ in hits(one, {"source.ip": "10.1.2.3"})] == [
            "10.1.2.3", "10.1.2.0/28", "10.1.0.0/20", "10.0.0.0/8"]
        assert [v for v, _, _ in hits(one, {"source.ip": "10.1.2.4"})] == [
            "::ffff:a01:204", "10.1.2.0/28", "10.1.0.0/20", "10.0.0.0/8"]
        assert [v for v, _, _ in hits(one, {"source.ip": "::ffff:10.1.2.3"})] == [
            "10.1.2.3", "10.1.2.0/28", "10.1.0.0/20", "10.0.0.0/8"]
        assert [v for v, _, _ in hits(one, {"source.ip": "10.1.2.20"})] == [
            "10.1.0.0/20", "10.0.0.0/8"]  # its /24 is covered, the /28 does not hold it
        assert [v for v, _, _ in hits(one, {"source.ip": "10.1.15.255"})] == [
            "10.1.0.0/20", "10.0.0.0/8"]  # the /20's last /24
        assert [v for v, _, _ in hits(one, {"source.ip": "10.1.16.0"})] == ["10.0.0.0/8"]
        assert [v for v, _, _ in hits(one, {"url.domain": "10.1.2.3."})] == [
            "10.1.2.3", "10.1.2.0/28", "10.1.0.0/20", "10.0.0.0/8"]
        assert hits(one, {"source.ip": "10.1.2.3.evil.example"}) == []


def test_events_whose_values_were_all_seen_still_match_what_is_new() -> None:
    """Among values cached as matching nothing, one new value, a match (from the cache too), a
    list or a value that is not text is looked at as it should be."""
    ix = index(record("ipv4", "192.0.2.0/24"), record("domain", "evil.example"),
               record("sha256", "3f" * 32))
    quiet = {"source.ip": "198.51.100.1", "dns.question.name": "ok.example", "message": "m"}
    for _ in range(3):
        assert hits(ix, quiet) == []
    assert hits(ix, {**quiet, "dns.question.name": "a.evil.example"}) == [
        ("evil.example", "dns.question.name", "a.evil.example")]
    assert hits(ix, {**quiet, "source.ip": "192.0.2.9"}) == [
        ("192.0.2.0/24", "source.ip", "192.0.2.9")]
    assert hits(ix, {**quiet, "source.ip": "192.0.2.9"}) == [  # now from the cache
        ("192.0.2.0/24", "source.ip", "192.0.2.9")]
    assert hits(ix, {**quiet, "source.ip": ["198.51.100.1", "192.0.2.10"]}) == [
        ("192.0.2.0/24", "source.ip", "192.0.2.10")]
    assert hits(ix, {**quiet, "source.ip": 3232235521}) == []  # not text: skipped
    one = {"file.hash.sha256": "00" * 32}  # a shape with one watched field
    assert hits(ix, one) == [] and hits(ix, one) == []
    assert hits(ix, {"file.hash.sha256": "3F" * 32}) == [
        ("3f" * 32, "file.hash.sha256", "3F" * 32)]
    assert hits(ix, quiet) == []
