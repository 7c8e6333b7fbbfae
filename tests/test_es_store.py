"""The Elasticsearch store's client behaviour against a scripted HTTP peer on loopback.

No Elasticsearch server runs here: :class:`Peer` answers as one would (pytest-httpserver, real
sockets, the real ``elasticsearch`` client), scripted per test. What a real cluster does with
the requests is the contract suite's job when ``$SOC_TEST_ES_URL`` is set (docs/elasticsearch.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from soc.config import Config, load_config
from soc.ecs import Event, event_id
from soc.errors import StoreError
from soc.state import StateStore
from soc.stores.base import WriteResult
from soc.stores.es.connection import EsOptions
from soc.stores.es.spool import SpoolFullError
from soc.stores.es.store import ElasticsearchStore

Handler = Callable[[Request], Response]
API_KEY = "c29jOnRlc3Qta2V5"  # what $SOC_TEST_API_KEY holds in these tests


@dataclass
class Peer:
    """A scripted Elasticsearch: records every request, answers by route or from a script."""

    server: HTTPServer
    version: str = "8.15.0"
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    bulk_script: list[Handler] = field(default_factory=list)
    routes: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        self.requests.append((request.method, request.path, dict(request.headers), body))
        if request.path == "/_bulk":
            if self.bulk_script:
                return self.bulk_script.pop(0)(request)
            return created(request)
        key = (request.method, request.path)
        if key in self.routes:
            status, payload = self.routes[key]
            return reply(payload, status)
        return self.default(request)

    def default(self, request: Request) -> Response:
        if request.path == "/":
            return reply({"version": {"number": self.version}, "tagline": "You Know, for Search"})
        if request.path.endswith("/_search"):
            return reply({"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}})
        if request.path.startswith("/_index_template/") and request.method == "GET":
            return reply({"error": {"type": "resource_not_found_exception"}}, 404)
        if request.method == "HEAD":
            return reply({}, 404)
        return reply({"acknowledged": True})

    def bulks(self) -> list[list[dict[str, Any]]]:
        """The NDJSON lines of every bulk request, parsed."""
        return [[json.loads(line) for line in body.splitlines() if line.strip()]
                for method, path, _, body in self.requests if path == "/_bulk"]

    def bodies(self, method: str, prefix: str) -> dict[str, Any]:
        return {path: json.loads(body) for m, path, _, body in self.requests
                if m == method and path.startswith(prefix)}


def reply(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json",
                    headers={"X-Elastic-Product": "Elasticsearch"})


def items(request: Request, statuses: list[int | dict[str, Any]]) -> Response:
    """A bulk response giving each document of the request the next status."""
    lines = [json.loads(x) for x in request.get_data().splitlines() if x.strip()]
    actions = lines[0::2]
    out = []
    for action, status in zip(actions, statuses, strict=True):
        meta = action["create"]
        if isinstance(status, dict):
            out.append({"create": {"_index": meta["_index"], "_id": meta["_id"], **status}})
        else:
            out.append({"create": {"_index": meta["_index"], "_id": meta["_id"],
                                   "status": status}})
    return reply({"errors": any(s != 201 for s in statuses), "items": out})


def created(request: Request) -> Response:
    n = len([x for x in request.get_data().splitlines() if x.strip()]) // 2
    return items(request, [201] * n)


def statuses(*codes: int | dict[str, Any]) -> Handler:
    return lambda request: items(request, list(codes))


def whole(status: int) -> Handler:
    return lambda request: reply({"error": {"type": "x", "reason": "busy"}, "status": status},
                                 status)


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    scripted = Peer(server)
    server.expect_request(re.compile(".*")).respond_with_handler(scripted.handle)
    yield scripted
    if server.is_running():
        server.stop()


def config(tmp_path: Path, peer: Peer, **extra: Any) -> Config:
    text = f"""
data_dir: data
store:
  type: elasticsearch
  hosts: [{peer.url}]
  api_key: {{$env: SOC_TEST_API_KEY}}
  retry_backoff: 0.5
  max_retries: 3
"""
    for key, value in extra.items():
        text += f"  {key}: {json.dumps(value)}\n"
    text += """
inventory:
  units: [{id: so-a, name: Sở A}]
  systems: [{id: portal, name: Cổng, unit: so-a, security_level: 3, hosts: [10.0.0.5]}]
retention: {3: 100}
"""
    (tmp_path / "soc.yml").write_text(text)
    return load_config(tmp_path / "soc.yml")


@dataclass
class Opened:
    store: ElasticsearchStore
    sleeps: list[float]


@pytest.fixture
def opened(tmp_path: Path, peer: Peer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Opened]:
    monkeypatch.setenv("SOC_TEST_API_KEY", API_KEY)
    sleeps: list[float] = []
    cfg = config(tmp_path, peer)
    store = ElasticsearchStore.open_options(cfg, EsOptions.from_config(cfg),
                                            sleep=sleeps.append)
    yield Opened(store, sleeps)
    store.close()


def ev(n: int, **fields: Any) -> Event:
    ts = f"2026-11-24T08:00:{n:02d}.000Z"
    return {"@timestamp": ts, "event.id": event_id("es", n), "event.dataset": "linux.auth",
            "event.module": "linux", "event.ingested": ts, "organization.id": "so-a",
            "labels.security_level": 3, "labels.n": n, **fields}


# --- writes --------------------------------------------------------------------------------------


def test_bulk_body_and_headers(opened: Opened, peer: Peer) -> None:
    events = [ev(1, **{"user.name": "Nguyễn"}), ev(2)]
    assert opened.store.write_events(events) == WriteResult(2, 0)
    (bulk,) = peer.bulks()
    assert bulk == [
        {"create": {"_index": "logs-linux.auth-so_a", "_id": events[0]["event.id"]}}, events[0],
        {"create": {"_index": "logs-linux.auth-so_a", "_id": events[1]["event.id"]}}, events[1]]
    headers = next(h for _, path, h, _ in peer.requests if path == "/_bulk")
    # an 8.x server refuses the 9.x client's "compatible-with=9": the store speaks 8 to it
    assert headers["Content-Type"] == "application/vnd.elasticsearch+x-ndjson; compatible-with=8"
    assert headers["Accept"] == "application/vnd.elasticsearch+json; compatible-with=8"
    assert headers["Authorization"] == f"ApiKey {API_KEY}"


def test_a_9x_server_gets_the_clients_own_headers(tmp_path: Path, peer: Peer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_TEST_API_KEY", API_KEY)
    peer.version = "9.1.2"
    with ElasticsearchStore.open(config(tmp_path, peer)) as store:
        store.write_events([ev(1)])
    headers = next(h for _, path, h, _ in peer.requests if path == "/_bulk")
    assert headers["Accept"] == "application/vnd.elasticsearch+json; compatible-with=9"


def test_429_and_503_are_retried_with_backoff(opened: Opened, peer: Peer) -> None:
    peer.bulk_script = [whole(503), statuses(429, 201, 503), statuses(201, 201)]
    assert opened.store.write_events([ev(1), ev(2), ev(3)]) == WriteResult(3, 0)
    bulks = peer.bulks()
    assert [len(b) // 2 for b in bulks] == [3, 3, 2]
    assert [line["create"]["_id"] for line in bulks[2][0::2]] == [
        event_id("es", 1), event_id("es", 3)]  # only the refused ones, in order
    caps = [0.5, 1.0]  # doubling from retry_backoff, each with up to 50 % jitter off
    assert len(opened.sleeps) == 2
    assert all(cap / 2 <= s <= cap for s, cap in zip(opened.sleeps, caps, strict=True))


def test_retries_exhausted_go_to_the_spool(opened: Opened, peer: Peer) -> None:
    peer.bulk_script = [whole(429)] * 4
    assert opened.store.write_events([ev(1)]) == WriteResult(1, 0)
    assert opened.store.spool.size()[1] == 1
    assert len(opened.sleeps) == 3
    opened.store.write_events([ev(2)])  # the cluster takes writes again: spool first
    assert [[a["create"]["_id"] for a in b[0::2]] for b in peer.bulks()[4:]] == [
        [event_id("es", 1)], [event_id("es", 2)]]
    assert opened.store.spool.size() == (0, 0)


def test_409_is_a_duplicate_not_an_error(opened: Opened, peer: Peer) -> None:
    conflict = {"status": 409, "error": {"type": "version_conflict_engine_exception",
                                         "reason": "document already exists"}}
    peer.bulk_script = [statuses(201, conflict)]
    assert opened.store.write_events([ev(1), ev(2)]) == WriteResult(1, 1)
    assert opened.store.write_events([ev(3), ev(3)]) == WriteResult(1, 1)  # same id twice


def test_ids_in_older_backing_indices_are_duplicates(opened: Opened, peer: Peer) -> None:
    old = ev(1)
    peer.routes[("POST", "/logs-*-*/_search")] = (200, {"hits": {"hits": [
        {"_index": ".ds-logs-linux.auth-so_a-2026.11.01-000001", "_id": old["event.id"]}]}})
    assert opened.store.write_events([old, ev(2)]) == WriteResult(1, 1)
    (bulk,) = peer.bulks()
    assert [a["create"]["_id"] for a in bulk[0::2]] == [event_id("es", 2)]


def test_mapping_error_is_quarantined_with_its_reason(opened: Opened, peer: Peer,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    rejected = {"status": 400, "error": {
        "type": "document_parsing_exception", "reason": "[1:40] failed to parse field [labels.n]",
        "caused_by": {"type": "illegal_argument_exception", "reason": "For input string"}}}
    peer.bulk_script = [statuses(201, rejected), statuses(201)]
    bad = ev(2, **{"labels.n": "two"})
    assert opened.store.write_events([ev(1), bad]) == WriteResult(1, 0)
    quarantine = peer.bulks()[1]
    assert quarantine[0]["create"]["_index"] == "soc-quarantine"
    doc = quarantine[1]
    assert (doc["target"], doc["doc_id"], doc["status"], doc["error_type"]) == (
        "logs-linux.auth-so_a", bad["event.id"], 400, "document_parsing_exception")
    assert doc["reason"] == ("[1:40] failed to parse field [labels.n] (caused by "
                             "illegal_argument_exception: For input string)")
    assert json.loads(doc["document"]) == bad
    assert opened.store.quarantined == 1
    assert "quarantined" in caplog.text
    assert API_KEY not in caplog.text


# --- outage: spool, replay, checkpoint -----------------------------------------------------------


def offsets(state: StateStore) -> list[int]:
    """The read positions of the file collector's checkpoints (its meta entry aside)."""
    return [e.get("offset", 0) for e in state.all("auth").values() if "fp" in e]


SSHD = "Nov 24 08:00:{:02d} web01 sshd[100]: Failed password for root from 10.0.0.9 port 4 ssh2\n"


def test_outage_spools_then_replays_once_in_order(tmp_path: Path, peer: Peer,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SOC_TEST_API_KEY", API_KEY)
    log = tmp_path / "auth.log"
    cfg = config(tmp_path, peer)
    cfg_text = (tmp_path / "soc.yml").read_text() + (
        f"sources: [{{name: auth, type: file, paths: [{log}], parser: syslog}}]\n")
    (tmp_path / "soc.yml").write_text(cfg_text)
    cfg = load_config(tmp_path / "soc.yml")
    peer.server.stop()  # connection refused from here on
    state = StateStore(tmp_path / "state.db")
    store = ElasticsearchStore.open(cfg)
    from soc.pipeline import Pipeline

    pipeline = Pipeline(cfg, store, state, batch_size=2)
    log.write_text("".join(SSHD.format(i) for i in range(5)))
    report = pipeline.run(cfg.sources)
    assert report.events == 5 and not report.errors
    assert store.spool.size()[1] == 3  # batches of 2, 2, 1, each durable before the commit
    assert offsets(state) == [log.stat().st_size]  # the checkpoint moved: the spool has every batch
    assert "spooled" in caplog.text

    with log.open("a") as fh:
        fh.write(SSHD.format(5))
    peer.server.start()
    report = pipeline.run(cfg.sources)
    assert report.events == 1
    delivered = [a["create"]["_id"] for b in peer.bulks() for a in b[0::2]]
    assert len(delivered) == len(set(delivered)) == 6  # each once
    times = [s["@timestamp"] for b in peer.bulks() for s in b[1::2]]
    assert times == sorted(times)  # in the order they were read
    assert store.spool.size() == (0, 0)
    store.close()


def test_a_full_spool_refuses_and_the_checkpoint_stays(tmp_path: Path, peer: Peer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_TEST_API_KEY", API_KEY)
    log = tmp_path / "auth.log"
    log.write_text("".join(SSHD.format(i) for i in range(3)))
    config(tmp_path, peer)
    (tmp_path / "soc.yml").write_text((tmp_path / "soc.yml").read_text() + (
        f"sources: [{{name: auth, type: file, paths: [{log}], parser: syslog}}]\n"))
    cfg = load_config(tmp_path / "soc.yml")
    options = EsOptions.from_config(cfg)
    peer.server.stop()
    state = StateStore(tmp_path / "state.db")
    from dataclasses import replace

    from soc.pipeline import Pipeline

    store = ElasticsearchStore.open_options(cfg, replace(options, spool_max_mb=0))
    with pytest.raises(SpoolFullError):
        Pipeline(cfg, store, state).run(cfg.sources)
    assert offsets(state) == [0]
    assert store.spool.size() == (0, 0)


def test_a_reader_needs_the_cluster(tmp_path: Path, peer: Peer,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_TEST_API_KEY", API_KEY)
    cfg = config(tmp_path, peer)
    peer.server.stop()
    with pytest.raises(StoreError, match="cannot open the Elasticsearch store"):
        ElasticsearchStore.open(cfg, readonly=True)
