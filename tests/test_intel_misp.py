"""MISP feeds and the MISP REST API against real peers on loopback: a feed folder served over
HTTPS under a test CA (and read from the folder itself), increments by the manifest's
timestamps, every attribute type soc matches (composite ones too), ``to_ids``/``deleted``, tags,
TLP and confidence; a scripted restSearch endpoint checking the API key and paging.

The events are written here from the MISP core format (draft-dulaunoy-misp-core-format) and the
MISP OpenAPI's restSearchAttributes answer, not copied from a feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from soc.intel.feeds.misp import read_api, read_event, read_feed
from soc.intel.feeds.result import FeedResult
from soc.intel.http import FeedError
from soc.intel.model import Indicator
from tests.intel_peers import MispServer, Peer, client_context, folder_handler

NOW = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
LIFETIMES = {"ipv4": timedelta(days=30), "domain": timedelta(days=90)}
EA = "5f1c3a2e-8d4b-4c1a-9e3f-0a1b2c3d4e01"
EB = "5f1c3a2e-8d4b-4c1a-9e3f-0a1b2c3d4e02"
EC = "5f1c3a2e-8d4b-4c1a-9e3f-0a1b2c3d4e03"
ED = "5f1c3a2e-8d4b-4c1a-9e3f-0a1b2c3d4e04"
TS_A, TS_B, TS_C, TS_D = 1767225600, 1767312000, 1767398400, 1767484800  # 1, 2, 3, 4 Jan 2026
MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
JA3 = "e7d705a3286e19ea42f587b344ee6865"
JA4 = "t13d1516h2_8daaf6152771_02713d6af862"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) EvilBot/1.0"


def attr(kind: str, value: Any, *, to_ids: bool = True, **more: Any) -> dict[str, Any]:
    doc = {"uuid": f"a-{kind}-{value}"[:60], "type": kind, "category": "Network activity",
           "value": value, "to_ids": to_ids, "deleted": False, "timestamp": str(TS_A),
           "comment": "", "distribution": "5"}
    doc.update(more)
    return doc


def event_a() -> dict[str, Any]:
    attributes = [
        attr("ip-src", "198.51.100.7"), attr("ip-dst", "2001:DB8::10"),
        attr("ip-src|port", "203.0.113.9|4444"), attr("ip-dst|port", "192.0.2.0/24|80"),
        attr("domain", "Secure-Login.Example.VN"), attr("hostname", "mail.secure-login.example.vn"),
        attr("hostname|port", "cdn.example.net|8443"),
        attr("domain|ip", "c2.example.org|198.51.100.20"),
        attr("url", "HTTP://Evil.Example.com:80/gate.php?id=1"),
        attr("uri", "https://evil.example.com/panel/"), attr("uri", "/gate.php"),
        attr("link", "https://blog.example.com/report"),
        attr("md5", MD5.upper()), attr("sha1", SHA1), attr("sha256", SHA256.upper()),
        attr("filename|md5", f"hoa-don.exe|{'1' * 32}"),
        attr("filename|sha1", f"hoa-don.exe|{'2' * 40}"),
        attr("filename|sha256", f"C:\\Users\\a|b.exe|{'3' * 64}"),
        attr("email-src", "Phish@Example.VN"), attr("email-dst", "ketoan@victim.example.vn"),
        attr("email", "support@bank-verify.example.com"),
        attr("ja3-fingerprint-md5", JA3.upper()), attr("user-agent", UA),
        attr("ip-dst", "192.0.2.200", to_ids=False), attr("ip-dst", "192.0.2.201", deleted=True),
        attr("ip-dst", "999.1.1.1", uuid="bad-ip"), attr("comment", "không phải IoC"),
        attr("ip-dst", ["192.0.2.203"], uuid="list-value"),
    ]
    objects = [
        {"name": "ja4-plus", "meta-category": "network", "uuid": "o-ja4", "Attribute": [
            attr("text", JA4, object_relation="ja4-fingerprint"),
            attr("text", "JA4", object_relation="ja4-type", to_ids=False)]},
        {"name": "ja4-plus", "uuid": "o-ja4s", "Attribute": [
            attr("text", "t130200_1301_234ea6891581", object_relation="ja4-fingerprint"),
            attr("text", "JA4S", object_relation="ja4-type", to_ids=False)]},
        {"name": "file", "uuid": "o-file", "Attribute": [
            attr("sha256", "4" * 64, object_relation="sha256"),
            attr("filename", "mã-độc.dll", object_relation="filename")]},
        {"name": "ip-port", "uuid": "o-del", "deleted": True, "Attribute": [
            attr("ip-dst", "192.0.2.202", object_relation="ip")]},
    ]
    return {"Event": {
        "uuid": EA, "info": "Chiến dịch lừa đảo ngân hàng", "date": "2025-12-30",
        "timestamp": str(TS_A), "threat_level_id": "1", "analysis": "2", "published": True,
        "Orgc": {"name": "VNCERT/CC", "uuid": "org-1"},
        "Tag": [{"name": "tlp:amber"}, {"name": 'misp-galaxy:threat-actor="APT32"'}],
        "Galaxy": [{"name": "Attack Pattern", "GalaxyCluster": [
            {"tag_name": 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"'}]}],
        "Attribute": attributes, "Object": objects}}


def event_b() -> dict[str, Any]:
    return {"Event": {
        "uuid": EB, "info": "C2 tracker", "date": "2026-01-02", "timestamp": str(TS_B),
        "threat_level_id": "4", "Orgc": {"name": "CIRCL"},
        "Tag": [{"name": "tlp:green"},
                {"name": 'estimative-language:confidence-in-analytic-judgment="moderate"'}],
        "Attribute": [
            attr("domain", "tracker.example.net", first_seen="2025-12-20T08:00:00.000000+00:00",
                 last_seen="2026-01-01T10:30:00.000000+07:00",
                 Tag=[{"name": "tlp:red"}, {"name": 'misp:confidence-level="usually-confident"'},
                      {"name": "ransomware"}]),
            attr("ip-dst", "203.0.113.50"),
            attr("ip-dst", "203.0.113.51",
                 Tag=[{"name": "TLP:CLEAR"}, {"name": "tlp:amber+strict"}]),
        ]}}


def event_c(ip: str = "198.51.100.99") -> dict[str, Any]:
    return {"Event": {"uuid": EC, "info": "Quét cổng", "date": "2026-01-03",
                      "timestamp": str(TS_C), "threat_level_id": "3",
                      "Attribute": [attr("ip-dst", ip)]}}


def manifest_entry(doc: dict[str, Any]) -> dict[str, Any]:
    e = doc["Event"]
    return {"info": e["info"], "date": e["date"], "timestamp": e["timestamp"],
            "threat_level_id": e["threat_level_id"], "analysis": "2",
            "Orgc": e.get("Orgc", {"name": "X"}), "Tag": e.get("Tag", [])}


def write_feed(folder: Path, *events: dict[str, Any], missing: tuple[str, ...] = ()) -> Path:
    """A MISP feed folder: manifest.json and one <uuid>.json per event (those in ``missing``
    are listed in the manifest but their file is absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for doc in events:
        uuid = doc["Event"]["uuid"]
        manifest[uuid] = manifest_entry(doc)
        if uuid not in missing:
            (folder / f"{uuid}.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    return folder


def by_key(result: FeedResult) -> dict[tuple[str, str], Indicator]:
    return {i.key: i for i in result.indicators}


EVENT_A_KEYS = {
    ("ipv4", "198.51.100.7"), ("ipv6", "2001:db8::10"), ("ipv4", "203.0.113.9"),
    ("ipv4", "192.0.2.0/24"), ("domain", "secure-login.example.vn"),
    ("domain", "mail.secure-login.example.vn"), ("domain", "cdn.example.net"),
    ("domain", "c2.example.org"), ("ipv4", "198.51.100.20"),
    ("url", "http://evil.example.com/gate.php?id=1"), ("url", "https://evil.example.com/panel/"),
    ("md5", MD5), ("sha1", SHA1), ("sha256", SHA256), ("md5", "1" * 32), ("sha1", "2" * 40),
    ("sha256", "3" * 64), ("email", "phish@example.vn"), ("email", "ketoan@victim.example.vn"),
    ("email", "support@bank-verify.example.com"), ("ja3", JA3), ("user-agent", UA),
    ("ja4", JA4), ("sha256", "4" * 64),
}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_feed_over_https_reads_every_attribute_type(ca: trustme.CA, tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "feed", event_a())
    with Peer(ca, folder_handler(folder)) as peer:
        result = read_feed(peer.base_url + "/", source="misp-vn", now=NOW, lifetimes=LIFETIMES,
                           context=client_context(ca))
    found = by_key(result)
    assert set(found) == EVENT_A_KEYS  # to_ids false, deleted, link, comment, JA4S: none
    assert len(result.indicators) == len(EVENT_A_KEYS)
    assert sorted(result.skipped) == sorted([
        (f"attribute a-uri-/gate.php (event {EA})",
         "uri without a host cannot be matched: '/gate.php'"),
        (f"attribute bad-ip (event {EA})", "ip-dst: not an IP address: '999.1.1.1'"),
        (f"attribute list-value (event {EA})", "ip-dst: the value is not a string"),
    ])
    assert result.cursor == str(TS_A)
    assert [r.path for r in peer.requests] == ["/manifest.json", f"/{EA}.json"]
    assert found[("ipv4", "203.0.113.9")].extra["port"] == "4444"
    assert found[("sha256", "3" * 64)].extra["filename"] == "C:\\Users\\a|b.exe"
    assert found[("md5", "1" * 32)].extra["filename"] == "hoa-don.exe"
    assert found[("ipv4", "198.51.100.20")].extra["misp_type"] == "domain|ip"


def test_an_attribute_carries_its_event_context(ca: trustme.CA, tmp_path: Path) -> None:
    result = read_feed(str(write_feed(tmp_path / "feed", event_a())), source="misp-vn", now=NOW,
                       lifetimes=LIFETIMES)
    ip = by_key(result)[("ipv4", "198.51.100.7")]
    assert ip == Indicator(
        "ipv4", "198.51.100.7", "misp-vn", first_seen="2025-12-30T00:00:00.000Z",
        last_seen="2026-01-01T00:00:00.000Z", valid_until="2026-02-09T08:00:00.000Z",
        confidence=85, tlp="amber",
        tags=('misp-galaxy:threat-actor="APT32"',
              'misp-galaxy:mitre-attack-pattern="Phishing - T1566"'),
        description="Chiến dịch lừa đảo ngân hàng", reference=f"misp:event/{EA}")
    assert ip.extra == {"misp_type": "ip-src", "category": "Network activity",
                        "attribute": "a-ip-src-198.51.100.7", "org": "VNCERT/CC"}
    assert by_key(result)[("md5", MD5)].valid_until is None  # no lifetime for md5 given


def test_the_folder_and_https_give_the_same(ca: trustme.CA, tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "feed", event_a(), event_b())
    local = read_feed(str(folder), source="f", now=NOW)
    with Peer(ca, folder_handler(folder)) as peer:
        remote = read_feed(peer.base_url, source="f", now=NOW, context=client_context(ca))
    assert remote.indicators == local.indicators and remote.skipped == local.skipped
    assert remote.cursor == local.cursor == str(TS_B)


def test_tags_tlp_and_confidence(tmp_path: Path) -> None:
    found = by_key(read_feed(str(write_feed(tmp_path / "f", event_b(), event_c())), source="f",
                             now=NOW))
    tracker = found[("domain", "tracker.example.net")]
    assert tracker.tlp == "red"  # the attribute's tag wins over the event's green
    assert tracker.confidence == 75  # misp:confidence-level on the attribute
    assert tracker.first_seen == "2025-12-20T08:00:00.000Z"
    assert tracker.last_seen == "2026-01-01T03:30:00.000Z"
    assert tracker.tags == ('misp:confidence-level="usually-confident"', "ransomware",
                            'estimative-language:confidence-in-analytic-judgment="moderate"')
    plain = found[("ipv4", "203.0.113.50")]
    assert (plain.tlp, plain.confidence) == ("green", 50)  # the event's tag and judgment
    assert plain.first_seen == "2026-01-02T00:00:00.000Z"  # the event's date and timestamp
    assert plain.last_seen == "2026-01-02T00:00:00.000Z"
    assert found[("ipv4", "203.0.113.51")].tlp == "amber+strict"  # the stricter of two
    low = found[("ipv4", "198.51.100.99")]
    assert (low.tlp, low.confidence, low.tags) == (None, 15, ())  # threat level 3, no tags
    assert low.description == "Quét cổng"


def test_all_attributes_takes_those_not_for_detection_but_never_deleted(tmp_path: Path) -> None:
    result = read_feed(str(write_feed(tmp_path / "f", event_a())), source="f", now=NOW,
                       all_attributes=True)
    keys = set(by_key(result))
    assert ("ipv4", "192.0.2.200") in keys
    assert not keys & {("ipv4", "192.0.2.201"), ("ipv4", "192.0.2.202")}


def test_increments_fetch_only_newer_events(ca: trustme.CA, tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "feed", event_a(), event_b())
    with Peer(ca, folder_handler(folder)) as peer:
        first = read_feed(peer.base_url, source="f", now=NOW, context=client_context(ca))
        assert first.cursor == str(TS_B)
        write_feed(folder, event_a(), event_b(), event_c())
        peer.requests.clear()
        second = read_feed(peer.base_url, source="f", since_cursor=first.cursor, now=NOW,
                           context=client_context(ca))
        assert [r.path for r in peer.requests] == ["/manifest.json", f"/{EC}.json"]
        assert [i.value for i in second.indicators] == ["198.51.100.99"]
        assert second.cursor == str(TS_C)
        peer.requests.clear()
        third = read_feed(peer.base_url, source="f", since_cursor=second.cursor, now=NOW,
                          context=client_context(ca))
        assert [r.path for r in peer.requests] == ["/manifest.json"]
        assert (third.indicators, third.skipped, third.cursor) == ([], [], str(TS_C))
        changed = event_a()
        changed["Event"]["timestamp"] = str(TS_D)
        write_feed(folder, changed, event_b(), event_c())
        fourth = read_feed(peer.base_url, source="f", since_cursor=third.cursor, now=NOW,
                           context=client_context(ca))
    assert {i.key for i in fourth.indicators} == EVENT_A_KEYS and fourth.cursor == str(TS_D)


def test_an_event_that_cannot_be_fetched_holds_the_cursor(ca: trustme.CA, tmp_path: Path) -> None:
    d = event_c("192.0.2.77")
    d["Event"].update(uuid=ED, timestamp=str(TS_D))
    folder = write_feed(tmp_path / "feed", event_a(), event_b(), event_c(), d, missing=(EB,))
    with Peer(ca, folder_handler(folder)) as peer:
        first = read_feed(peer.base_url, source="f", now=NOW, context=client_context(ca))
    assert first.cursor == str(TS_A)  # below B, which answered 404: the next pull asks again
    assert (f"event {EB}", f"{peer.base_url}/{EB}.json answered HTTP 404") in first.skipped
    assert {"198.51.100.99", "192.0.2.77"} <= {i.value for i in first.indicators}
    write_feed(folder, event_a(), event_b(), event_c(), d)  # B is there now
    (folder / f"{ED}.json").write_bytes(b"{not json")  # and D unreadable for good: not held
    second = read_feed(str(folder), source="f", since_cursor=first.cursor, now=NOW)
    assert {i.value for i in second.indicators} == {"tracker.example.net", "203.0.113.50",
                                                    "203.0.113.51", "198.51.100.99"}
    assert [w for w, _ in second.skipped] == [f"event {ED}"]
    assert second.skipped[0][1].startswith("not JSON")
    assert second.cursor == str(TS_D)


def test_a_hostile_manifest_entry_is_skipped_not_fetched(tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "feed", event_c())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["../../../etc/passwd"] = {"timestamp": str(TS_D)}
    manifest["5f1c3a2e-8d4b-4c1a-9e3f-0a1b2c3d4eff"] = {"info": "no timestamp"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = read_feed(str(folder), source="f", now=NOW)
    assert [i.value for i in result.indicators] == ["198.51.100.99"]
    assert result.skipped == [
        ("manifest entry '../../../etc/passwd'", "not an event uuid"),
        ("event 5f1c3a2e-8d4b-4c1a-9e3f-0a1b2c3d4eff", "no timestamp in the manifest")]


def test_feed_failures_are_feed_errors_with_a_hint(ca: trustme.CA, tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "feed", event_c())
    with Peer(ca, folder_handler(folder)) as peer, pytest.raises(FeedError) as untrusted:
        read_feed(peer.base_url, source="f", now=NOW)  # the system CAs do not know the test CA
    assert "unreachable" in untrusted.value.message and untrusted.value.hint
    with pytest.raises(FeedError) as missing:
        read_feed(str(tmp_path / "nowhere"), source="f", now=NOW)
    assert "manifest.json" in missing.value.message
    (folder / "manifest.json").write_text("<html>login</html>")
    with pytest.raises(FeedError) as html:
        read_feed(str(folder), source="f", now=NOW)
    assert "is not JSON" in html.value.message and "login page" in str(html.value.hint)
    with pytest.raises(FeedError) as cursor:
        read_feed(str(folder), source="f", since_cursor="2026-01-01", now=NOW)
    assert "not a UNIX time" in cursor.value.message


def test_read_event_takes_an_event_a_list_or_a_restsearch_answer() -> None:
    one = read_event(json.dumps(event_c()).encode(), source="add", now=NOW)
    assert [i.value for i in one.indicators] == ["198.51.100.99"]
    both = read_event(json.dumps({"response": [event_b(), event_c()]}).encode(), source="add",
                      now=NOW)
    assert len(both.indicators) == 4 and both.indicators[0].reference == f"misp:event/{EB}"
    answer = {"response": {"Attribute": api_attributes()[:2]}}
    api = read_event(json.dumps(answer).encode(), source="add", now=NOW)
    assert [i.value for i in api.indicators] == ["203.0.113.1", "203.0.113.2"]
    with pytest.raises(FeedError):
        read_event(b'{"type": "bundle", "objects": []}', source="add", now=NOW)


# --- the REST API -------------------------------------------------------------------------

KEY = "Zm9vYmFyMTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A"


def api_attributes() -> list[dict[str, Any]]:
    """restSearch attributes (MISP OpenAPI's shape): 7 for detection, one not, one with its
    own TLP beside the inherited event tags."""
    event = {"id": "12", "org_id": "1", "distribution": "1", "info": "Botnet C2 list",
             "orgc_id": "1", "uuid": EA, "date": "2026-01-05", "timestamp": str(TS_D),
             "threat_level_id": "2", "published": True}
    inherited = [{"id": "3", "name": "tlp:green", "inherited": 1},
                 {"id": "9", "name": 'misp-galaxy:botnet="Mirai"', "inherited": 1}]
    out = []
    for n in range(1, 8):
        out.append({"id": str(n), "event_id": "12", "object_id": "0", "object_relation": None,
                    "category": "Network activity", "type": "ip-dst", "value": f"203.0.113.{n}",
                    "to_ids": True, "uuid": f"c99506a6-1255-4b71-afa5-7b8ba48c3b{n:02d}",
                    "timestamp": str(TS_A + n), "deleted": False, "comment": "",
                    "first_seen": None, "last_seen": None, "event_uuid": EA, "Event": event,
                    "Tag": list(inherited)})
    out[0]["first_seen"] = "1581984000000000"  # the API's microseconds
    out[1]["Tag"] = [*inherited, {"id": "4", "name": "tlp:red", "inherited": 0}]
    out.insert(3, {**out[2], "uuid": "not-for-ids", "value": "192.0.2.99", "to_ids": False})
    return out


def test_api_pages_with_the_key_until_a_short_page(ca: trustme.CA,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISP_KEY", KEY)
    with MispServer(ca, api_key=KEY, attributes=api_attributes()) as misp:
        result = read_api(misp.base_url, api_key_env="MISP_KEY", source="misp-api", now=NOW,
                           context=client_context(ca), page_size=3, lifetimes=LIFETIMES)
    base = {"returnFormat": "json", "limit": 3, "includeEventTags": True,
            "includeEventUuid": True, "to_ids": True}
    assert misp.searches() == [{**base, "page": 1}, {**base, "page": 2}, {**base, "page": 3}]
    first = misp.requests[0]
    assert first.method == "POST" and first.headers["Accept"] == "application/json"
    assert first.headers["Content-Type"] == "application/json"
    assert [i.value for i in result.indicators] == [f"203.0.113.{n}" for n in range(1, 8)]
    assert result.cursor == str(TS_A + 7) and result.skipped == []
    one, two = result.indicators[:2]
    assert one == Indicator(
        "ipv4", "203.0.113.1", "misp-api", first_seen="2020-02-18T00:00:00.000Z",
        last_seen="2026-01-04T00:00:00.000Z", valid_until="2026-02-09T08:00:00.000Z",
        confidence=50, tlp="green", tags=('misp-galaxy:botnet="Mirai"',),
        description="Botnet C2 list", reference=f"misp:event/{EA}")
    assert two.tlp == "red"  # its own tag wins over the inherited one


def test_api_increment_sends_the_cursor_as_timestamp(ca: trustme.CA) -> None:
    with MispServer(ca, api_key=KEY, attributes=api_attributes()) as misp:
        result = read_api(misp.base_url + "/", api_key=KEY, source="m", now=NOW,
                          since_cursor=str(TS_A + 6), context=client_context(ca))
        assert misp.searches() == [{"returnFormat": "json", "page": 1, "limit": 1000,
                                    "includeEventTags": True, "includeEventUuid": True,
                                    "to_ids": True, "timestamp": str(TS_A + 6)}]
        assert [i.value for i in result.indicators] == ["203.0.113.6", "203.0.113.7"]
        assert result.cursor == str(TS_A + 7)
        nothing = read_api(misp.base_url, api_key=KEY, source="m", now=NOW,
                           since_cursor=str(TS_D), context=client_context(ca))
        assert (nothing.indicators, nothing.cursor) == ([], str(TS_D))
        every = read_api(misp.base_url, api_key=KEY, source="m", now=NOW,
                         all_attributes=True, context=client_context(ca))
        assert "to_ids" not in misp.searches()[-1]
        assert "192.0.2.99" in {i.value for i in every.indicators}


def test_api_refusals(ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> None:
    with MispServer(ca, api_key=KEY, attributes=api_attributes()) as misp:
        with pytest.raises(FeedError) as wrong:
            read_api(misp.base_url, api_key="wrong-key-0123456789", source="m", now=NOW,
                     context=client_context(ca))
        assert wrong.value.message == f"{misp.base_url}/attributes/restSearch answered HTTP 403"
        assert "credentials" in str(wrong.value.hint)
        assert "wrong-key" not in str(wrong.value) + str(wrong.value.hint)
        monkeypatch.delenv("MISP_KEY_UNSET", raising=False)
        with pytest.raises(FeedError) as unset:
            read_api(misp.base_url, api_key_env="MISP_KEY_UNSET", source="m", now=NOW)
        assert "MISP_KEY_UNSET" in unset.value.message and "export" in str(unset.value.hint)
    with MispServer(ca, api_key=KEY, attributes=api_attributes()[:3],
                    ignore_paging=True) as broken, pytest.raises(FeedError) as loop:
        read_api(broken.base_url, api_key=KEY, source="m", now=NOW, page_size=2,
                 context=client_context(ca))
    assert "same attributes on every page" in loop.value.message
    assert len(broken.requests) == 2
