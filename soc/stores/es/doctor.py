"""``soc store doctor`` on Elasticsearch: what is wrong, and what to do about it.

Checks: cluster health; template drift (our templates and components, by the digest kept in
their ``_meta``); the mappings of live event streams (a stream created before the templates
has no ``.caseless`` fields: hunts silently miss); ILM delete phases per security level; shards
per data node against ``cluster.max_shards_per_node``; disk use against the watermarks; the spool
and the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import ApiError, Elasticsearch, NotFoundError

from soc.config import Config
from soc.stores.es import templates
from soc.stores.es.capabilities import Capabilities
from soc.stores.es.connection import EsOptions, error_reason
from soc.stores.es.housekeeping import template_meta
from soc.stores.es.names import LEVELS, Names
from soc.stores.es.spool import Spool


class Cluster(Protocol):
    """What the checks read of the store (the Cluster is one)."""

    client: Elasticsearch
    config: Config
    options: EsOptions
    names: Names
    spool: Spool
    caps: Capabilities

Check = tuple[str, str, str]  # (check, status, detail)
SHARDS_WARN, SHARDS_FAIL = 0.8, 0.95
DEFAULT_WATERMARKS = {"low": "85%", "high": "90%", "flood_stage": "95%"}


def run_checks(store: Cluster) -> list[dict[str, str]]:
    """Every check, each as ``{"check", "status" (ok|warn|fail), "detail"}``."""
    checks: list[Callable[[Cluster], list[Check]]] = [
        health, capabilities, template_drift, stream_mappings, ilm_delete_phases, shards, disk,
        spool, quarantine]
    out: list[dict[str, str]] = []
    for check in checks:
        try:
            rows = check(store)
        except TransportConnectionError as exc:
            rows = [(check.__name__, "fail", f"cluster unreachable: {exc.message}")]
        except ApiError as exc:
            rows = [(check.__name__, "fail", f"{exc.meta.status} {error_reason(exc)}")]
        out.extend({"check": c, "status": s, "detail": d} for c, s, d in rows)
    return out


def health(store: Cluster) -> list[Check]:
    h = store.client.cluster.health()
    status = str(h["status"])
    verdict = {"green": "ok", "yellow": "warn"}.get(status, "fail")
    detail = (f"{status}: {h['number_of_data_nodes']} data node(s), "
              f"{h['unassigned_shards']} unassigned shard(s)")
    if verdict == "warn":
        detail += " - replicas unassigned: add a node or set store.replicas: 0 on one node"
    elif verdict == "fail":
        detail += " - primaries missing: GET _cluster/allocation/explain"
    return [("cluster health", verdict, detail)]


def capabilities(store: Cluster) -> list[Check]:
    """What the cluster lacks and what the store does instead (a warning each)."""
    gone = store.caps.missing()
    if not gone:
        return [("cluster modules", "ok", f"Elasticsearch {store.caps.version or '?'}: "
                                          "everything the store uses is there")]
    return [(f"cluster lacks {module}", "warn", f"{what}: {instead}")
            for module, what, instead in gone]


def template_drift(store: Cluster) -> list[Check]:
    rows: list[Check] = []
    for name, body in templates.index_templates(store.config, store.names,
                                                store.caps).items():
        want = templates.with_digest(body)["_meta"]["soc_digest"]
        rows.append(_drift("index template", name, template_meta(store.client, name), want))
    for name, template in templates.components(store.names, store.options,
                                               store.caps).items():
        want = templates.with_digest({"template": template,
                                      "_meta": dict(templates.MANAGED)})["_meta"]["soc_digest"]
        rows.append(_drift("component template", name, _component_meta(store, name), want))
    return rows


def _component_meta(store: Cluster, name: str) -> dict[str, Any]:
    try:
        resp = store.client.cluster.get_component_template(name=name)
    except NotFoundError:
        return {}
    found = resp.get("component_templates") or []
    return dict(found[0]["component_template"].get("_meta") or {}) if found else {}


def _drift(what: str, name: str, meta: dict[str, Any], want: str) -> Check:
    if not meta:
        return (f"{what} {name}", "fail", "missing - run 'soc store init'")
    if meta.get("soc_digest") != want:
        return (f"{what} {name}", "fail",
                "differs from this soc version (changed by hand, or soc was upgraded) - "
                "run 'soc store init'; new backing indices pick it up at the next rollover")
    return (f"{what} {name}", "ok", "as this version installs it")


def write_indices(store: Cluster) -> dict[str, str]:
    """Each event stream's write index (its newest backing index), by stream name: from the
    data-stream API, or from the indices API where the cluster lacks it."""
    if store.caps.data_streams:
        try:
            streams = store.client.indices.get_data_stream(name=store.names.events)
        except NotFoundError:
            return {}
        return {s["name"]: s["indices"][-1]["index_name"]
                for s in streams.get("data_streams", [])}
    found = store.client.indices.get(index=store.names.events, ignore_unavailable=True,
                                     allow_no_indices=True, filter_path="*.data_stream")
    newest: dict[str, str] = {}
    for index, body in sorted(dict(found.body or {}).items()):  # .ds-<stream>-<date>-<gen>
        stream = body.get("data_stream")
        if stream and index > newest.get(stream, ""):
            newest[stream] = index
    return newest


def stream_mappings(store: Cluster) -> list[Check]:
    streams = write_indices(store)
    if not streams:
        return [("event streams", "ok", "no event stream yet")]
    bad = []
    for stream, write_index in sorted(streams.items()):
        mapping = store.client.indices.get_mapping(index=write_index)[write_index]["mappings"]
        if not _ours(mapping):
            bad.append(stream)
    total = len(streams)
    if bad:
        return [("event streams", "fail",
                 f"{len(bad)} of {total} stream(s) lack the soc mapping (.caseless, soc.values): "
                 f"{', '.join(bad[:5])} - run 'soc store init', then POST <stream>/_rollover")]
    return [("event streams", "ok", f"{total} stream(s) with the soc mapping")]


def _ours(mapping: dict[str, Any]) -> bool:
    names = {next(iter(t)) for t in mapping.get("dynamic_templates", [])}
    props = mapping.get("properties", {})
    values = props.get("soc", {}).get("properties", {}).get("values", {})
    return "soc_strings" in names and values.get("normalizer") == templates.NORMALIZER


def ilm_delete_phases(store: Cluster) -> list[Check]:
    if not store.caps.ilm:
        return [("ilm", "warn", "the cluster has no ILM: events are deleted only by "
                                "'soc store retention --apply' - run it daily from cron")]
    rows: list[Check] = []
    for level in (*LEVELS, None):
        name = store.names.policy(level)
        keep = store.config.retention_days(level)
        try:
            policy = store.client.ilm.get_lifecycle(name=name)[name]["policy"]
        except NotFoundError:
            rows.append((f"ilm {name}", "fail", "missing - run 'soc store init'"))
            continue
        delete = policy.get("phases", {}).get("delete")
        if not delete or "delete" not in delete.get("actions", {}):
            rows.append((f"ilm {name}", "fail", "no delete phase: data is never deleted - "
                                                "run 'soc store init'"))
        elif delete.get("min_age") != f"{keep}d":
            rows.append((f"ilm {name}", "fail", f"deletes after {delete.get('min_age')}, "
                         f"retention says {keep}d - run 'soc store init'"))
        else:
            rows.append((f"ilm {name}", "ok", f"delete phase after {keep}d"))
    return rows


def shards(store: Cluster) -> list[Check]:
    h = store.client.cluster.health()
    settings = store.client.cluster.get_settings(include_defaults=True, flat_settings=True).body
    limit = int(_setting(settings, "cluster.max_shards_per_node", "1000"))
    nodes = max(int(h["number_of_data_nodes"]), 1)
    used = int(h["active_shards"]) + int(h["unassigned_shards"])
    share = used / (limit * nodes)
    status = "fail" if share >= SHARDS_FAIL else "warn" if share >= SHARDS_WARN else "ok"
    detail = (f"{used} shard(s) on {nodes} data node(s), limit {limit} per node "
              f"({share:.0%} used)")
    if status != "ok":
        detail += (" - new indices will be refused at the limit: lower store.shards, raise "
                   "rollover_max_size, shorten retention, or add nodes")
    return [("shards per node", status, detail)]


def _setting(settings: dict[str, Any], key: str, default: str) -> str:
    for scope in ("transient", "persistent", "defaults"):
        value = (settings.get(scope) or {}).get(key)
        if value is not None:
            return str(value)
    return default


def disk(store: Cluster) -> list[Check]:
    settings = store.client.cluster.get_settings(include_defaults=True, flat_settings=True).body
    marks = {k: _setting(settings, f"cluster.routing.allocation.disk.watermark.{k}", v)
             for k, v in DEFAULT_WATERMARKS.items()}
    low, high = _percent(marks["low"]), _percent(marks["high"])
    rows: list[Check] = []
    body: Any = store.client.cat.allocation(format="json").body
    nodes: list[dict[str, Any]] = list(body)
    for node in nodes:
        if not node.get("disk.percent"):
            continue
        used = float(node["disk.percent"])
        name = str(node.get("node", "?"))
        rows.append(_disk_row(name, used, low, high, marks))
    return rows or [("disk", "ok", "no data node reports disk use")]


def _disk_row(node: str, used: float, low: float | None, high: float | None,
              marks: dict[str, str]) -> Check:
    if high is not None and used >= high:
        return (f"disk {node}", "fail", f"{used:.0f}% used, past the high watermark "
                f"({marks['high']}): shards move away, writes stop at {marks['flood_stage']}")
    if low is not None and used >= low:
        return (f"disk {node}", "warn", f"{used:.0f}% used, past the low watermark "
                f"({marks['low']}): no new shards here - free space or shorten retention")
    room = f"{low - used:.0f} points before the low watermark" if low is not None else "ok"
    return (f"disk {node}", "ok", f"{used:.0f}% used, {room}")


def _percent(value: str) -> float | None:
    return float(value.rstrip("%")) if value.endswith("%") else None


def spool(store: Cluster) -> list[Check]:
    used, batches = store.spool.size()
    if not batches:
        return [("spool", "ok", f"empty ({store.spool.directory})")]
    share = used / store.spool.max_bytes if store.spool.max_bytes else 1.0
    return [("spool", "warn", f"{batches} batch(es), {used} bytes ({share:.0%} of the bound) "
             "wait for the cluster - they are replayed by the next write")]


def quarantine(store: Cluster) -> list[Check]:
    index = store.names.index("quarantine")
    count = int(store.client.count(index=index, ignore_unavailable=True)["count"])
    if count:
        return [("quarantine", "warn", f"{count} document(s) rejected by the mapping are kept "
                 f"in {index} with the reason - fix the parser or mapping, then re-ingest")]
    return [("quarantine", "ok", "no rejected documents")]
