"""``soc intel pull`` as a library call against real peers on loopback: a TAXII 2.1 server
(Basic auth from the environment, a private CA from the feed's ``ca_file``) pulled in increments
through the cursor kept in the state file; a MISP feed folder served over HTTPS; a retro-hunt of
what a pull brought; and the schedule ``soc listen`` follows (``interval``, ``--due``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from soc.config import load_config
from soc.ecs import event_id, format_ts
from soc.intel.config import load as load_intel
from soc.intel.pull import due, pull, state_key
from soc.models import AlertQuery
from soc.state import StateStore
from soc.stores.base import open_store
from tests.intel_peers import Peer, TaxiiServer, ca_file, folder_handler

NOW = datetime.now(UTC).replace(microsecond=0)
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def stix_indicator(value: str) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, value)}",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "pattern": f"[ipv4-addr:value = '{value}']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z", "confidence": 75}


def added(minutes: int) -> str:
    return (NOW - timedelta(days=1) + timedelta(minutes=minutes)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def taxii(ca: trustme.CA) -> Iterator[TaxiiServer]:
    with TaxiiServer(ca, password="s3cret-taxii", max_limit=2) as server:
        server.add_collection(COLLECTION, "Chỉ số IoC quốc gia")
        yield server


def misp_folder(root: Path) -> Path:
    uid = "5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    event = {"Event": {"uuid": uid, "info": "Chiến dịch lừa đảo", "date": "2026-11-30",
                       "timestamp": str(int((NOW - timedelta(hours=3)).timestamp())),
                       "threat_level_id": "1", "Tag": [{"name": "tlp:green"}],
                       "Attribute": [{"uuid": str(uuid.uuid4()), "type": "domain",
                                      "category": "Network activity", "to_ids": True,
                                      "value": "dich-vu-cong-gia.example",
                                      "timestamp": str(int(NOW.timestamp()) - 3600)}]}}
    root.mkdir()
    (root / f"{uid}.json").write_text(json.dumps(event), encoding="utf-8")
    (root / "manifest.json").write_text(json.dumps({uid: {
        "info": "Chiến dịch lừa đảo", "timestamp": event["Event"]["timestamp"],
        "Orgc": {"name": "NCSC"}, "threat_level_id": "1"}}), encoding="utf-8")
    return root


def config_file(tmp_path: Path, ca: trustme.CA, taxii_url: str, misp_url: str) -> Path:
    cfg = tmp_path / "soc.yml"
    cfg.write_text(
        "data_dir: data\n"
        "intel:\n"
        "  feeds:\n"
        f"    - {{name: national, type: taxii, url: '{taxii_url}', collection: "
        f"'Chỉ số IoC quốc gia', username: soc, password_env: SOC_TEST_TAXII_PASSWORD, "
        f"ca_file: '{ca_file(ca, tmp_path)}', interval: 2h}}\n"
        f"    - {{name: community, type: misp-feed, url: '{misp_url}', "
        f"ca_file: '{ca_file(ca, tmp_path)}'}}\n", encoding="utf-8")
    return cfg


def test_pull_increments_retro_hunts_and_keeps_its_schedule(
        tmp_path: Path, ca: trustme.CA, taxii: TaxiiServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_TEST_TAXII_PASSWORD", "s3cret-taxii")
    for n, value in enumerate(["198.51.100.1", "198.51.100.2", "198.51.100.3"]):
        taxii.add_objects(COLLECTION, added(n), stix_indicator(value))
    with Peer(ca, folder_handler(misp_folder(tmp_path / "feed"))) as misp:
        config = load_config(config_file(tmp_path, ca, taxii.discovery_url, misp.base_url + "/"))
        with open_store(config) as store:
            store.write_events([{  # seen two days ago, before the indicator was published
                "@timestamp": format_ts(NOW - timedelta(days=2)), "event.id": event_id("e", 1),
                "event.dataset": "fortigate.traffic", "event.module": "fortinet",
                "event.ingested": format_ts(NOW), "source.ip": "10.10.2.20",
                "destination.ip": "198.51.100.2", "host.name": "fgt-ubnd"}])
            state = StateStore(tmp_path / "data" / "state.db")
            first = pull(config, store, state, now=NOW)
            assert [(f.feed, f.error, f.ingest.new) for f in first.feeds] == [
                ("national", None, 3), ("community", None, 1)]
            assert first.retro is not None and first.retro.alerts == 1
            alerts = store.list_alerts(AlertQuery(rule="intel-match", limit=None))
            assert [(a.kind, a.first_seen) for a in alerts] == [
                ("intel-retro", format_ts(NOW - timedelta(days=2)))]

            taxii.add_objects(COLLECTION, added(10), stix_indicator("198.51.100.4"))
            second = pull(config, store, state, now=NOW + timedelta(minutes=5))
            assert [(f.feed, f.ingest.read, f.ingest.new) for f in second.feeds] == [
                ("national", 1, 1), ("community", 0, 0)]
            assert state.get(state_key("national"), "cursor") is not None
            assert second.retro is not None and second.retro.alerts == 0

            feed = load_intel(config).feed("national")
            assert feed is not None
            assert not due(feed, state, NOW + timedelta(hours=1))
            assert due(feed, state, NOW + timedelta(hours=2, minutes=6))
            skipped = pull(config, store, state, now=NOW + timedelta(hours=1, minutes=10),
                           only_due=True)
            assert [f.feed for f in skipped.feeds] == ["community"]  # interval 1h by default
            state.close()
            assert store.count_indicators() == 5


def test_a_secret_that_is_not_set_fails_only_its_feed(tmp_path: Path, ca: trustme.CA,
                                                      taxii: TaxiiServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOC_TEST_TAXII_PASSWORD", raising=False)
    with Peer(ca, folder_handler(misp_folder(tmp_path / "feed"))) as misp:
        config = load_config(config_file(tmp_path, ca, taxii.discovery_url, misp.base_url + "/"))
        with open_store(config) as store:
            state = StateStore(tmp_path / "data" / "state.db")
            report = pull(config, store, state, now=NOW)
            state.close()
    national, community = report.feeds
    assert national.error == "the environment variable SOC_TEST_TAXII_PASSWORD is not set"
    assert national.hint and "export" in national.hint
    assert (community.error, community.ingest.new) == (None, 1)


def test_what_soc_listen_runs_each_minute(tmp_path: Path) -> None:
    from soc.intel.pull import pull_due
    from soc.lock import PassLock

    (tmp_path / "ioc.txt").write_text("198.51.100.44\n", encoding="utf-8")
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\nintel:\n  feeds:\n"
                   "    - {name: list, type: list, path: ioc.txt, interval: 30m}\n",
                   encoding="utf-8")
    config = load_config(cfg)
    held = PassLock(config.data_dir / "intel.lock", what="intel")
    assert held.acquire() is None
    assert pull_due(config, now=NOW) is None  # a soc intel command runs: its turn is skipped
    held.release()
    done = pull_due(config, now=NOW)
    assert done is not None and [f.ingest.new for f in done.feeds] == [1]
    assert pull_due(config, now=NOW + timedelta(minutes=10)) is None  # not due yet
    later = pull_due(config, now=NOW + timedelta(minutes=31))
    assert later is not None and [f.ingest.unchanged for f in later.feeds] == [1]
