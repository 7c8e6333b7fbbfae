"""The TAXII 2.1 client against a scripted TAXII 2.1 server on loopback over HTTPS under a test
CA (tests/intel_peers.py): discovery, API roots, collections, objects paged with ``limit``,
``next`` and ``more``, ``added_after`` increments from the ``X-TAXII-Date-Added-Last`` cursor,
Basic auth and API keys, and every way a pull fails."""

from __future__ import annotations

import base64
import ssl
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from soc.intel.feeds.taxii import MEDIA_TYPE, pull_collection
from soc.intel.http import FeedError, tls_context
from tests.intel_peers import Peer, Reply, Request, TaxiiServer, ca_file, client_context

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PASSWORD = "taxii-Pa55"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
LIFETIMES = {"ipv4": timedelta(days=7)}


def indicator(n: int, **over: Any) -> dict[str, Any]:
    doc = {"type": "indicator", "spec_version": "2.1",
           "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, str(n))}",
           "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
           "pattern": f"[ipv4-addr:value = '198.51.{n // 256}.{n % 256}']",
           "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z"}
    doc.update(over)
    return doc


def added(minute: int) -> str:
    """A TAXII date_added, ``minute`` minutes into 2026-11-20 (microseconds, as servers write)."""
    return (datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=minute)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def context(ca: trustme.CA) -> ssl.SSLContext:
    return client_context(ca)


@pytest.fixture
def taxii(ca: trustme.CA) -> Iterator[TaxiiServer]:
    with TaxiiServer(ca, password=PASSWORD, max_limit=10) as server:
        server.add_collection(COLLECTION, "High Value Indicator Collection")
        server.add_collection("52892447-4d7e-4f70-b94d-d7f22742ff63", "Malware Samples",
                              alias="malware")
        server.add_collection("0e1c2b5a-1d8b-4a0e-8a7e-5a2b7f2f9c11", "Trust group feed",
                              root="trustgroup")
        for n in range(25):
            server.add_objects(COLLECTION, added(n), indicator(n))
        yield server


def pull(server: TaxiiServer, context: ssl.SSLContext, **over: Any) -> Any:
    options: dict[str, Any] = {"username": "soc", "password": PASSWORD, "context": context,
                               "now": NOW, "lifetimes": LIFETIMES, "source": "cert-feed",
                               "limit": 10, "timeout": 5.0}
    options.update(over)
    url = options.pop("url", server.discovery_url)
    collection = options.pop("collection", COLLECTION)
    return pull_collection(url, collection, **options)


def test_full_pull_across_three_pages(taxii: TaxiiServer, context: ssl.SSLContext) -> None:
    result = pull(taxii, context)
    assert [i.value for i in result.indicators] == [f"198.51.0.{n}" for n in range(25)]
    assert result.skipped == []
    assert result.cursor == added(24)
    assert {i.source for i in result.indicators} == {"cert-feed"}
    assert result.indicators[0].valid_until == "2026-12-01T09:00:00.000Z"
    pages = taxii.object_requests()
    assert [(r.arg("limit"), r.arg("next"), r.arg("added_after")) for r in pages] == [
        ("10", None, None), ("10", "p1", None), ("10", "p2", None)]
    assert [r.path for r in taxii.requests[:2]] == ["/taxii2/", "/api1/collections/"]
    assert pages[0].path == f"/api1/collections/{COLLECTION}/objects/"
    assert all(r.headers["Accept"] == MEDIA_TYPE for r in taxii.requests)


def test_increment_from_the_cursor_reads_only_new_objects(taxii: TaxiiServer,
                                                          context: ssl.SSLContext) -> None:
    first = pull(taxii, context)
    taxii.add_objects(COLLECTION, added(30), indicator(100), indicator(101))
    taxii.add_objects(COLLECTION, added(31), indicator(102))
    taxii.requests.clear()
    second = pull(taxii, context, added_after=first.cursor)
    assert [i.value for i in second.indicators] == ["198.51.0.100", "198.51.0.101",
                                                    "198.51.0.102"]
    assert second.cursor == added(31)
    assert [r.arg("added_after") for r in taxii.object_requests()] == [added(24)]
    taxii.requests.clear()
    third = pull(taxii, context, added_after=second.cursor)
    assert third.indicators == [] and third.cursor == added(31)


def test_a_new_version_of_an_object_comes_in_the_increment(taxii: TaxiiServer,
                                                           context: ssl.SSLContext) -> None:
    first = pull(taxii, context)
    taxii.add_objects(COLLECTION, added(40), indicator(3, modified="2026-11-21T00:00:00.000Z",
                                                       revoked=True))
    second = pull(taxii, context, added_after=first.cursor)
    assert second.indicators == []
    assert second.skipped == [(indicator(3)["id"], "revoked")]


def test_collection_by_title_alias_and_in_another_api_root(taxii: TaxiiServer,
                                                           context: ssl.SSLContext) -> None:
    taxii.add_objects("52892447-4d7e-4f70-b94d-d7f22742ff63", added(1), indicator(500))
    taxii.add_objects("0e1c2b5a-1d8b-4a0e-8a7e-5a2b7f2f9c11", added(1), indicator(600))
    assert pull(taxii, context, collection="high value indicator collection").cursor == added(24)
    assert [i.value for i in pull(taxii, context, collection="malware").indicators] == [
        "198.51.1.244"]
    taxii.requests.clear()
    result = pull(taxii, context, collection="Trust group feed")
    assert [i.value for i in result.indicators] == ["198.51.2.88"]
    assert [r.path for r in taxii.requests[:3]] == [
        "/taxii2/", "/api1/collections/", "/trustgroup/collections/"]


def test_an_api_root_that_refuses_does_not_hide_the_others(ca: trustme.CA,
                                                           context: ssl.SSLContext) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/taxii2/":
            return Reply.json({"default": "/closed/", "api_roots": ["/closed/", "/open/"]})
        if request.path == "/open/collections/":
            return Reply.json({"collections": [{"id": "c1", "title": "One"}]})
        if request.path == "/open/collections/c1/objects/":
            return Reply.json({"objects": [indicator(7)]})
        return Reply(403)

    with Peer(ca, handler) as peer:
        result = pull_collection(f"{peer.base_url}/taxii2/", "One", context=context, now=NOW,
                                 lifetimes=None, source="f")
        assert [i.value for i in result.indicators] == ["198.51.0.7"]
        with pytest.raises(FeedError) as err:
            pull_collection(f"{peer.base_url}/taxii2/", "Two", context=context, now=NOW,
                            lifetimes=None, source="f")
        assert "(collections: One (c1))" in str(err.value)
        peer.handler = lambda r: Reply.json({"api_roots": ["/closed/"]}) \
            if r.path == "/taxii2/" else Reply(403)
        with pytest.raises(FeedError) as err:
            pull_collection(f"{peer.base_url}/taxii2/", "One", context=context, now=NOW,
                            lifetimes=None, source="f")
        assert str(err.value) == f"{peer.base_url}/closed/collections/ answered HTTP 403"


def test_the_url_may_be_an_api_root(taxii: TaxiiServer, context: ssl.SSLContext) -> None:
    result = pull(taxii, context, url=taxii.root_url("api1").rstrip("/"))
    assert len(result.indicators) == 25
    assert taxii.requests[0].path == "/api1/"


def test_wrong_password_is_a_feed_error_with_a_hint(taxii: TaxiiServer,
                                                    context: ssl.SSLContext) -> None:
    with pytest.raises(FeedError) as err:
        pull(taxii, context, password="wrong-Secret-9")
    assert str(err.value) == f"{taxii.discovery_url} answered HTTP 401"
    assert err.value.hint == ("check the feed's credentials (api_key_env / password_env) "
                              "and its permissions")
    assert "wrong-Secret-9" not in f"{err.value} {err.value.hint}"
    assert taxii.object_requests() == []


def test_no_credentials_at_all_is_refused(taxii: TaxiiServer, context: ssl.SSLContext) -> None:
    with pytest.raises(FeedError, match="answered HTTP 401"):
        pull(taxii, context, username=None, password=None)
    assert "Authorization" not in taxii.requests[0].headers


def test_a_username_without_password_is_a_feed_error(taxii: TaxiiServer,
                                                     context: ssl.SSLContext) -> None:
    with pytest.raises(FeedError) as err:
        pull(taxii, context, password=None)
    assert str(err.value) == "the TAXII feed has a username but no password"
    assert taxii.requests == []


def test_api_key_in_its_header(ca: trustme.CA, context: ssl.SSLContext) -> None:
    with TaxiiServer(ca, api_key=("X-Api-Key", "k-123")) as server:
        server.add_collection(COLLECTION, "Indicators")
        server.add_objects(COLLECTION, added(1), indicator(1))
        result = pull(server, context, username=None, password=None, api_key="k-123",
                      api_key_header="X-Api-Key")
        assert [i.value for i in result.indicators] == ["198.51.0.1"]
        with pytest.raises(FeedError, match="answered HTTP 401"):
            pull(server, context, username=None, password=None, api_key="k-123")


def test_default_api_key_header_is_authorization(ca: trustme.CA,
                                                 context: ssl.SSLContext) -> None:
    with TaxiiServer(ca, api_key=("Authorization", "Token k-9")) as server:
        server.add_collection(COLLECTION, "Indicators")
        result = pull(server, context, username=None, password=None, api_key="Token k-9")
        assert result.indicators == [] and result.cursor is None


def test_untrusted_ca_is_a_feed_error(taxii: TaxiiServer, tmp_path: Path) -> None:
    other = ca_file(trustme.CA(), tmp_path)
    with pytest.raises(FeedError) as err:
        pull(taxii, tls_context(other))
    assert str(err.value).startswith(f"{taxii.discovery_url} unreachable: TLS certificate not "
                                     "trusted")
    assert err.value.hint == "check the URL, the network and the feed's ca_file"
    assert taxii.requests == []


def test_the_ca_file_is_trusted(taxii: TaxiiServer, ca: trustme.CA, tmp_path: Path) -> None:
    result = pull(taxii, tls_context(ca_file(ca, tmp_path)))
    assert len(result.indicators) == 25


def test_unknown_collection_names_those_available(taxii: TaxiiServer,
                                                  context: ssl.SSLContext) -> None:
    with pytest.raises(FeedError) as err:
        pull(taxii, context, collection="Indicators 2025")
    assert str(err.value) == (
        f"no TAXII collection 'Indicators 2025' at {taxii.discovery_url} (collections: "
        f"High Value Indicator Collection ({COLLECTION}), "
        "Malware Samples (52892447-4d7e-4f70-b94d-d7f22742ff63), "
        "Trust group feed (0e1c2b5a-1d8b-4a0e-8a7e-5a2b7f2f9c11))")
    assert err.value.hint == "set the feed's collection to one of those ids or titles"


def test_a_collection_that_cannot_be_read(ca: trustme.CA, context: ssl.SSLContext) -> None:
    with TaxiiServer(ca, password=PASSWORD) as server:
        server.add_collection(COLLECTION, "Write only", can_read=False)
        with pytest.raises(FeedError) as err:
            pull(server, context)
        assert str(err.value) == ("the TAXII collection 'Write only' cannot be read with these "
                                  "credentials")


def test_a_server_with_no_collections(ca: trustme.CA, context: ssl.SSLContext) -> None:
    with TaxiiServer(ca, password=PASSWORD) as server, \
            pytest.raises(FeedError, match=r"\(collections: none\)"):
        pull(server, context)


def test_paging_by_added_after_when_the_server_gives_no_next(ca: trustme.CA,
                                                             context: ssl.SSLContext) -> None:
    with TaxiiServer(ca, password=PASSWORD, max_limit=4, next_tokens=False) as server:
        server.add_collection(COLLECTION, "Indicators")
        for n in range(10):
            server.add_objects(COLLECTION, added(n), indicator(n))
        result = pull(server, context, limit=100)
        assert [i.value for i in result.indicators] == [f"198.51.0.{n}" for n in range(10)]
        assert [r.arg("added_after") for r in server.object_requests()] == [
            None, added(3), added(7)]
        assert result.cursor == added(9)


def test_cursor_from_the_manifest_when_the_server_sends_no_date_header(
        ca: trustme.CA, context: ssl.SSLContext) -> None:
    with TaxiiServer(ca, password=PASSWORD, date_header=False) as server:
        server.add_collection(COLLECTION, "Indicators")
        server.add_objects(COLLECTION, added(1), indicator(1))
        server.add_objects(COLLECTION, added(2), indicator(2, modified="2026-11-02T00:00:00Z"))
        result = pull(server, context)
        assert result.cursor == added(2)
        assert server.requests[-1].path == f"/api1/collections/{COLLECTION}/manifest/"
        assert pull(server, context, added_after=result.cursor).indicators == []


def test_the_cursor_stays_when_nothing_tells_where_the_collection_is(
        ca: trustme.CA, context: ssl.SSLContext) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/taxii2/":
            return Reply.json({"api_roots": ["/root/"]})  # a relative URL
        if request.path == "/root/collections/":
            return Reply.json({"collections": [{"id": "c1", "title": "One", "can_read": True}]})
        if request.path == "/root/collections/c1/objects/":
            return Reply.json({"objects": [indicator(7)]})
        return Reply(404)

    with Peer(ca, handler) as peer:
        result = pull_collection(f"{peer.base_url}/taxii2/", "c1", added_after=added(0),
                                 context=context, now=NOW, lifetimes=None, source="f")
        assert [i.value for i in result.indicators] == ["198.51.0.7"]
        assert result.cursor == added(0)


def test_a_server_paging_in_a_loop_is_a_feed_error(ca: trustme.CA,
                                                   context: ssl.SSLContext) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/api/":
            return Reply.json({"title": "root", "versions": [MEDIA_TYPE]})
        if request.path == "/api/collections/":
            return Reply.json({"collections": [{"id": "c1", "title": "One"}]})
        return Reply.json({"more": True, "next": "same", "objects": [indicator(1)]})

    with Peer(ca, handler) as peer:
        with pytest.raises(FeedError) as err:
            pull_collection(f"{peer.base_url}/api/", "c1", context=context, now=NOW,
                            lifetimes=None, source="f")
        assert "pages in a loop" in str(err.value)
        assert len([r for r in peer.requests if r.path.endswith("/objects/")]) == 2


@pytest.mark.parametrize("body", [b"<html>Sign in</html>", b'{"more": false, "objects": 5}',
                                  b"[1, 2]"])
def test_an_answer_that_is_not_taxii_is_a_feed_error(ca: trustme.CA, context: ssl.SSLContext,
                                                     body: bytes) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/api/collections/":
            return Reply.json({"collections": [{"id": "c1", "title": "One"}]})
        if request.path == "/api/":
            return Reply.json({"title": "root"})
        return Reply(200, body, {"Content-Type": MEDIA_TYPE})

    with Peer(ca, handler) as peer:
        with pytest.raises(FeedError) as err:
            pull_collection(f"{peer.base_url}/api/", "c1", context=context, now=NOW,
                            lifetimes=None, source="f")
        assert "is not" in str(err.value) and "TAXII" in str(err.value)
        assert err.value.hint == "check that the feed's URL is a TAXII 2.1 server"


def test_bad_objects_in_a_page_are_skipped_not_fatal(taxii: TaxiiServer,
                                                     context: ssl.SSLContext) -> None:
    taxii.add_objects(COLLECTION, added(50), indicator(900, pattern="[ipv4-addr:value = "),
                      indicator(901, pattern="[process:name = 'x.exe']"))
    result = pull(taxii, context)
    assert len(result.indicators) == 25
    assert [r.split(":")[0] for _, r in result.skipped] == [
        "malformed pattern", "nothing soc matches in the pattern (process"]
    assert result.cursor == added(50)


def test_basic_credentials_sent(taxii: TaxiiServer, context: ssl.SSLContext) -> None:
    pull(taxii, context)
    token = base64.b64encode(f"soc:{PASSWORD}".encode()).decode()
    assert {r.headers["Authorization"] for r in taxii.requests} == {f"Basic {token}"}
