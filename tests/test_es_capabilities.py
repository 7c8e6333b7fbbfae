"""What the cluster offers, and the store without it (soc/stores/es/capabilities.py).

The real node of the tests (``.ci/es-node``: Elastic's integration-test build) lacks ILM, the
data-stream APIs, ``delete_by_query``, ``match_only_text``, ``multi_terms`` and ``GET /``: the
tests marked with the node run against it when ``$SOC_TEST_ES_URL`` is set; the others check what
the store asks of a cluster with and without each module.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from soc.config import Config, StoreConfig
from soc.stores.es import aggs, templates
from soc.stores.es.capabilities import (
    ANALYTICS,
    DATA_STREAMS,
    FULL,
    ILM,
    MAPPER_EXTRAS,
    REINDEX,
    REST_ROOT,
    Capabilities,
    probe,
)
from soc.stores.es.connection import EsOptions, connect
from soc.stores.es.housekeeping import delete_matching
from soc.stores.es.names import Names

CORE_ONLY = Capabilities("8.19.21", frozenset({"apm", "transport-netty4", "x-pack-core",
                                               "x-pack-security"}))


def _url() -> str:
    url = os.environ.get("SOC_TEST_ES_URL")
    if not url:
        pytest.skip("SOC_TEST_ES_URL is not set: start a node with .ci/es-node start")
    return url


def _options(url: str, **extra: Any) -> EsOptions:
    return EsOptions.from_mapping({"hosts": [url], **extra}, data_dir=Path("."))


def test_a_complete_cluster_keeps_every_feature() -> None:
    cfg = Config(path=None, data_dir=Path("."))
    body = templates.index_templates(cfg, Names())["soc-logs"]
    assert body["template"]["settings"]["index"]["lifecycle"]["name"]
    assert templates.text_type(FULL) == {"type": "match_only_text"}
    assert FULL.missing() == [] and FULL.summary() == ""


def test_without_ilm_the_streams_name_no_policy_and_install_puts_none() -> None:
    cfg = Config(path=None, data_dir=Path("."))
    body = templates.index_templates(cfg, Names(), CORE_ONLY)["soc-logs"]
    assert "template" not in body  # index.lifecycle.name is an unknown setting without ILM
    assert body["data_stream"] == {}


def test_without_mapper_extras_text_fields_are_plain_text_everywhere() -> None:
    mappings = templates.mappings(CORE_ONLY)
    assert mappings["properties"]["message"]["type"] == "text"
    assert mappings["properties"]["message"]["copy_to"] == templates.VALUES_FIELD
    for name in ("alerts", "dead-letters", "quarantine"):
        found = templates.state_mappings(name, CORE_ONLY)
        assert found is not None
        assert "match_only_text" not in repr(found)
        assert templates.state_mappings(name) is not None
        assert "match_only_text" in repr(templates.state_mappings(name))


def test_the_summary_names_each_missing_module_once() -> None:
    missing = [m for m, _, _ in CORE_ONLY.missing()]
    assert set(missing) == {ILM, DATA_STREAMS, REINDEX, MAPPER_EXTRAS, REST_ROOT, ANALYTICS}
    line = CORE_ONLY.summary()
    assert line.startswith("Elasticsearch 8.19.21 lacks ") and "\n" not in line


def test_composite_pages_give_the_groups_multi_terms_would() -> None:
    pages = [[{"key": {"f0": "b", "f1": 1}, "doc_count": 3},
              {"key": {"f0": "a", "f1": 2}, "doc_count": 5}],
             [{"key": {"f0": "a", "f1": 1}, "doc_count": 3}]]
    answer = aggs.top_groups(pages, 2, 2)
    assert [(b["key"], b["doc_count"]) for b in answer["groups"]["buckets"]] == [
        (["a", 2], 5), (["a", 1], 3)]  # most events first, ties by key, cut at top


# --- on the real node ------------------------------------------------------------------------


def test_probe_reads_the_version_and_modules_of_the_node() -> None:
    client, _ = connect(_options(_url()))
    caps = probe(client)
    assert caps.major in (8, 9)
    assert caps.modules is not None and "x-pack-core" in caps.modules
    client.close()


def test_the_store_warns_once_with_what_the_node_lacks(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from soc.stores.es.store import ElasticsearchStore

    url = _url()
    prefix = f"soccap-{uuid.uuid4().hex[:8]}-"
    config = Config(path=None, data_dir=tmp_path, store=StoreConfig(
        "elasticsearch", {"hosts": [url], "index_prefix": prefix, "replicas": 0}))
    with caplog.at_level(logging.WARNING, logger="soc.stores.es"):
        store = ElasticsearchStore.open(config)
    lines = [r.getMessage() for r in caplog.records if "lacks" in r.getMessage()]
    try:
        if not store.caps.missing():
            pytest.skip("this cluster has every module the store uses")
        assert len(lines) == 1
        rows = {r["check"]: r for r in store.doctor()}
        for module, _, _ in store.caps.missing():
            assert rows[f"cluster lacks {module}"]["status"] == "warn"
        if not store.caps.ilm:
            assert rows["ilm"]["status"] == "warn"
            assert "soc store retention --apply" in rows["ilm"]["detail"]
        assert rows["event streams"]["status"] == "ok"
    finally:
        store.close()


def test_delete_matching_without_delete_by_query_pages_through_every_match() -> None:
    url = _url()
    client, _ = connect(_options(url))
    index = f"soccap-{uuid.uuid4().hex[:8]}-del"
    client.indices.create(index=index, mappings={"properties": {"n": {"type": "long"}}},
                          settings={"number_of_replicas": 0})
    try:
        ops: list[dict[str, Any]] = []
        for n in range(2500):
            ops += [{"index": {"_index": index, "_id": str(n)}}, {"n": n}]
        client.bulk(operations=ops, refresh=True)
        query = {"range": {"n": {"gte": 400}}}
        no_reindex = Capabilities("8.19.21", frozenset({"x-pack-core"}))
        assert delete_matching(client, index, query, refresh=True, caps=no_reindex) == 2100
        assert client.count(index=index)["count"] == 400
        assert delete_matching(client, index, query, refresh=True, caps=no_reindex) == 0
    finally:
        client.indices.delete(index=index)
        client.close()
