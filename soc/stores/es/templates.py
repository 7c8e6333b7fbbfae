"""Index templates, component templates and ILM policies, built for the client's typed calls.

Field by field (docs/elasticsearch.md has the same table):

* every string becomes a ``keyword`` (exact, sortable, aggregatable) with a ``.caseless``
  sub-field normalised by ``soc_caseless`` (lowercase): pySigma's ``ecs_windows`` pipeline queries
  ``process.executable.caseless``, and ``soc search``/``soc hunt`` send every term to ``.caseless``
  so matching is case-insensitive as on the embedded store;
* numbers, booleans and IP addresses keep their type (ranges, CIDR) and also get ``.caseless``;
* every value is copied to ``soc.values`` (normalised keyword): a bare search term or a Sigma
  keyword detection searches inside all values of an event, as the in-process matcher does;
* ``message``, ``event.original`` and ``error.message`` are ``match_only_text`` (word search);
* values longer than :data:`IGNORE_ABOVE` characters stay in ``_source`` but are not indexed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from soc.stores.es.capabilities import FULL, Capabilities
from soc.stores.es.names import LEVELS, STATE_INDICES, Names, name_part

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from soc.config import Config
    from soc.stores.es.connection import EsOptions

NORMALIZER = "soc_caseless"
CASELESS = "caseless"
VALUES_FIELD = "soc.values"
IGNORE_ABOVE = 8191  # 4 bytes a character at most: stays under Lucene's 32766-byte term limit
TEXT_FIELDS = ("message", "event.original", "error.message")
LOGS_PRIORITY = 200  # above the built-in ``logs`` template (100)
UNIT_PRIORITY = 210
STATE_PRIORITY = 200
MANAGED = {"managed_by": "soc", "description": "soc security-operations toolkit"}

Json = dict[str, Any]


# --- fields ---------------------------------------------------------------------------------------


def caseless() -> Json:
    """The lowercase-normalised keyword sub-field."""
    return {"type": "keyword", "normalizer": NORMALIZER, "ignore_above": IGNORE_ABOVE}


def leaf(kind: str = "keyword") -> Json:
    """A field of ``kind`` with its ``.caseless`` sub-field, copied into ``soc.values``."""
    field: Json = {"type": kind, "copy_to": VALUES_FIELD, "fields": {CASELESS: caseless()}}
    if kind == "keyword":
        field["ignore_above"] = IGNORE_ABOVE
    return field


def text_type(caps: Capabilities = FULL) -> Json:
    """``match_only_text``; plain ``text`` without norms where the cluster lacks the
    mapper-extras module. Positions stay: ``message:"Failed password"`` must find what it finds
    on the embedded store (``match_only_text`` checks phrases against ``_source``; a field
    indexed without positions answers a phrase with nothing)."""
    if caps.match_only_text:
        return {"type": "match_only_text"}
    return {"type": "text", "norms": False}


def text(caps: Capabilities = FULL) -> Json:
    """A text field, with the ``.caseless`` keyword that ``message:fail`` searches inside
    (``soc.stores.es.query``: the embedded store finds terms inside the value, not as words)."""
    return {**text_type(caps), "copy_to": VALUES_FIELD, "fields": {CASELESS: caseless()}}


_IPS = ("source.ip", "destination.ip", "client.ip", "server.ip", "host.ip", "observer.ip",
        "related.ip", "source.nat.ip", "destination.nat.ip")
_LONGS = ("source.port", "destination.port", "client.port", "server.port", "source.bytes",
          "destination.bytes", "network.bytes", "network.packets", "source.packets",
          "destination.packets", "http.response.status_code", "process.pid",
          "process.parent.pid", "labels.security_level", "event.severity", "log.offset")
_KEYWORDS = (
    "event.id", "event.dataset", "event.module", "event.kind", "event.category", "event.type",
    "event.action", "event.outcome", "event.code", "event.provider", "organization.id",
    "labels.system", "host.name", "host.hostname", "observer.name", "observer.vendor",
    "user.name", "user.domain", "user.id", "process.name", "process.executable",
    "process.command_line", "process.parent.name", "process.parent.executable",
    "process.parent.command_line", "file.path", "file.name", "registry.path", "dns.question.name",
    "url.original", "url.path", "http.request.method", "user_agent.original", "winlog.channel",
    "winlog.event_id", "winlog.provider_name", "winlog.computer_name", "rule.id", "rule.name",
    "log.file.path", "log.level", "network.transport", "network.protocol",
)


def ecs_fields(caps: Capabilities = FULL) -> dict[str, Json]:
    """The explicit ECS mappings, by flat dotted name."""
    fields: dict[str, Json] = {"@timestamp": {"type": "date"},
                               "event.ingested": {"type": "date"},
                               "event.created": {"type": "date"},
                               VALUES_FIELD: caseless()}
    fields.update({name: text(caps) for name in TEXT_FIELDS})
    fields.update({name: leaf("ip") for name in _IPS})
    fields.update({name: leaf("long") for name in _LONGS})
    fields.update({name: leaf() for name in _KEYWORDS})
    return fields


def nest(flat: Mapping[str, Json]) -> Json:
    """``{"user.name": m}`` → ``{"user": {"properties": {"name": m}}}``, as the cluster shows."""
    root: Json = {}
    for name, mapping in sorted(flat.items()):
        node = root
        *parents, last = name.split(".")
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[last] = mapping
    return root


def dynamic_templates() -> list[Json]:
    """How fields the explicit list does not name are mapped, by JSON type."""
    return [
        {"soc_strings": {"match_mapping_type": "string", "mapping": leaf()}},
        {"soc_longs": {"match_mapping_type": "long", "mapping": leaf("long")}},
        {"soc_doubles": {"match_mapping_type": "double", "mapping": leaf("double")}},
        {"soc_booleans": {"match_mapping_type": "boolean", "mapping": leaf("boolean")}},
    ]


def mappings(caps: Capabilities = FULL) -> Json:
    """The ECS mappings of events (and of alerts, which carry event fields)."""
    return {"dynamic": True, "date_detection": False, "numeric_detection": False,
            "dynamic_templates": dynamic_templates(), "properties": nest(ecs_fields(caps))}


def analysis() -> Json:
    return {"normalizer": {NORMALIZER: {"type": "custom", "filter": ["lowercase"]}}}


def index_settings(options: EsOptions) -> Json:
    """Shards, replicas, and tolerance: a malformed value is kept in ``_source``, unindexed."""
    return {"number_of_shards": options.shards, "number_of_replicas": options.replicas,
            "mapping": {"ignore_malformed": True, "total_fields": {"limit": 5000}},
            "query": {"default_field": [f"{VALUES_FIELD}"]}}


# --- ILM ------------------------------------------------------------------------------------------


def ilm_policy(keep_days: int, options: EsOptions, level: int | None) -> Json:
    """Hot (rollover by age or size), then **delete** ``keep_days`` after rollover."""
    return {
        "_meta": {**MANAGED, "security_level": level, "keep_days": keep_days},
        "phases": {
            "hot": {"min_age": "0ms", "actions": {
                "rollover": {"max_age": options.rollover_max_age,
                             "max_primary_shard_size": options.rollover_max_size},
                "set_priority": {"priority": 100}}},
            "delete": {"min_age": f"{keep_days}d", "actions": {"delete": {}}},
        },
    }


def policies(config: Config, names: Names, options: EsOptions) -> dict[str, Json]:
    """One policy per security level and one for events of no known system."""
    out = {names.policy(level): ilm_policy(config.retention_days(level), options, level)
           for level in LEVELS}
    out[names.policy(None)] = ilm_policy(config.retention_days(None), options, None)
    return out


def unit_levels(config: Config) -> dict[str, int]:
    """The level whose retention a unit's stream keeps: the highest of its systems' levels
    (keeping longer than a minimum is allowed; deleting earlier is not)."""
    levels: dict[str, int] = {}
    for system in config.systems:
        unit = name_part(system.unit, "default")
        levels[unit] = max(levels.get(unit, 0), system.security_level)
    return levels


# --- templates ------------------------------------------------------------------------------------


def components(names: Names, options: EsOptions,
               caps: Capabilities = FULL) -> dict[str, Json]:
    """Component templates: ``template`` bodies by name."""
    return {
        names.mappings_component: {"mappings": mappings(caps),
                                   "settings": {"analysis": analysis()}},
        names.settings_component: {"settings": index_settings(options)},
    }


def index_templates(config: Config, names: Names,
                    caps: Capabilities = FULL) -> dict[str, Json]:
    """Index templates (keyword arguments of ``put_index_template``) by name; without ILM the
    streams name no lifecycle policy (retention deletes expired days itself)."""
    composed = [names.mappings_component, names.settings_component]
    out: dict[str, Json] = {
        names.logs_template: _stream_template([names.events], composed, LOGS_PRIORITY,
                                              names.policy(None) if caps.ilm else None),
        names.state_template: {"index_patterns": [names.state_pattern], "composed_of": composed,
                               "priority": STATE_PRIORITY, "_meta": dict(MANAGED)},
    }
    for unit, level in sorted(unit_levels(config).items()):
        out[names.unit_template(unit)] = _stream_template(
            [names.unit_pattern(unit)], composed, UNIT_PRIORITY,
            names.policy(level) if caps.ilm else None)
    return out


def _stream_template(patterns: list[str], composed: list[str], priority: int,
                     policy: str | None) -> Json:
    body: Json = {"index_patterns": patterns, "composed_of": composed, "priority": priority,
                  "data_stream": {}, "_meta": dict(MANAGED)}
    if policy:
        body["template"] = {"settings": {"index": {"lifecycle": {"name": policy}}}}
    return body


def _keywords(*names: str) -> dict[str, Json]:
    return {n: {"type": "keyword", "ignore_above": IGNORE_ABOVE} for n in names}


def _dates(*names: str) -> dict[str, Json]:
    return {n: {"type": "date"} for n in names}


def _unindexed(*names: str) -> dict[str, Json]:
    return {n: {"type": "object", "enabled": False} for n in names}


_STATE: dict[str, Json] = {
    # ids, filters and sort keys mapped; the rest stays in _source (dynamic: false), so no
    # value in an alert's group, entity or first event can ever clash with a mapping
    "alerts": {**_keywords("id", "rule_id", "rule_title", "severity", "status", "kind",
                           "dedup", "tags", "event_ids", "contributing", "assignee",
                           "incident"),
               **_dates("@timestamp", "first_seen", "last_seen", "created", "updated"),
               "count": {"type": "long"}, "severity_rank": {"type": "integer"},
               "reason": {"type": "match_only_text"},
               **_unindexed("group", "entity", "first_event", "comments"),
               "rule": {"properties": {"level": {"type": "keyword"}}}},
    "alert-events": {**_keywords("alert_id", "event_id"), **_dates("ts")},
    # ts is a keyword: the contract compares hit times as strings ("" and "\uffff" bounds)
    "rule-hits": {**_keywords("id", "correlation", "rule_id", "group_key", "event_id", "ts",
                              "value"), **_unindexed("entity")},
    "audit": {"seq": {"type": "long"}, **_keywords("actor", "action", "subject"),
              **_dates("ts"), **_unindexed("details")},
    "incidents": {**_keywords("id", "status"), **_dates("opened", "@timestamp"),
                  **_unindexed("doc")},
    # the notification outbox (soc.stores.es.outbox); its seq counter's field stays unmapped
    "notify-outbox": {"seq": {"type": "long"}, **_keywords("key", "kind", "subject", "severity"),
                      **_dates("ts"), "routed": {"type": "boolean"}, **_unindexed("doc")},
    "notify-deliveries": {"seq": {"type": "long"}, "attempts": {"type": "integer"},
                          **_keywords("key", "route", "channel", "status", "receipt"),
                          **_dates("next_at", "failed_at", "delivered_at", "created"),
                          **_unindexed("doc")},
    # threat-intel indicators (soc.stores.es.intel): the record's summary and its feeds' names
    # mapped, each feed's own word (description, reference, extra...) kept in _source only
    "intel-indicators": {**_keywords("id", "type", "value", "tlp", "tags"),
                         **_dates("added", "updated", "expired", "valid_until", "first_seen",
                                  "last_seen"),
                         "confidence": {"type": "integer"},
                         "sources": {"properties": _keywords("source")}},
    # console accounts (soc.stores.es.users): the password hash and token digests unindexed
    "users": {**_keywords("name", "role"), "disabled": {"type": "boolean"},
              **_dates("created", "changed"), **_unindexed("tokens")},
}


def state_mappings(name: str, caps: Capabilities = FULL) -> Json | None:
    """Explicit mappings of the state indices (merged over the ``soc-state`` template's)."""
    if caps.match_only_text:
        return _state_mappings(name)
    found = _state_mappings(name)
    return None if found is None else _plain_text(found, text_type(caps))


def _plain_text(mapping: Json, replacement: Json) -> Json:
    """``mapping`` with every ``match_only_text`` field replaced by ``replacement``."""
    if mapping.get("type") == "match_only_text":
        return {**{k: v for k, v in mapping.items() if k != "type"}, **replacement}
    return {k: _plain_text(v, replacement) if isinstance(v, dict) else v
            for k, v in mapping.items()}


def _state_mappings(name: str) -> Json | None:
    if name in _STATE:
        return {"dynamic": False, "properties": _STATE[name]}
    if name == "dead-letters":
        return {"dynamic": False, "properties": {
            "id": {"type": "keyword"}, "source": {"type": "keyword"},
            "origin": {"type": "keyword"}, "reason": {"type": "match_only_text"},
            "parser": {"type": "keyword"}, "received": {"type": "date"},
            "raw": {"type": "binary"}, "fields": {"type": "keyword", "index": False,
                                                  "doc_values": False}}}
    if name == "quarantine":
        return {"dynamic": False, "properties": {
            "@timestamp": {"type": "date"}, "target": {"type": "keyword"},
            "doc_id": {"type": "keyword"}, "status": {"type": "integer"},
            "error_type": {"type": "keyword"}, "reason": {"type": "match_only_text"},
            "document": {"type": "keyword", "index": False, "doc_values": False}}}
    return None


def digest(body: Mapping[str, Any]) -> str:
    """A stable digest of a template or policy body (kept in its ``_meta`` for drift checks)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def with_digest(body: Json) -> Json:
    """``body`` with ``_meta.soc_digest`` set to the digest of the rest."""
    meta = dict(body.get("_meta") or {})
    meta.pop("soc_digest", None)
    bare = {**body, "_meta": meta}
    return {**bare, "_meta": {**meta, "soc_digest": digest(bare)}}


# --- install --------------------------------------------------------------------------------------


def install(client: Elasticsearch, config: Config, names: Names,
            options: EsOptions, caps: Capabilities = FULL) -> list[str]:
    """Put policies (where the cluster has ILM), component and index templates and create the
    state indices. Idempotent: every call replaces our definitions with this version's.
    Returns what it touched."""
    done: list[str] = []
    for name, policy in (policies(config, names, options) if caps.ilm else {}).items():
        client.ilm.put_lifecycle(name=name, policy=policy)
        done.append(f"ilm policy {name}")
    for name, template in components(names, options, caps).items():
        meta = with_digest({"template": template, "_meta": dict(MANAGED)})["_meta"]
        client.cluster.put_component_template(name=name, template=template, meta=meta)
        done.append(f"component template {name}")
    for name, body in index_templates(config, names, caps).items():
        _put_index_template(client, name, with_digest(body))
        done.append(f"index template {name}")
    done.extend(create_state_indices(client, names, caps=caps))
    return done


def _put_index_template(client: Elasticsearch, name: str, body: Json) -> None:
    client.indices.put_index_template(
        name=name, index_patterns=body["index_patterns"], composed_of=body["composed_of"],
        priority=body["priority"], data_stream=body.get("data_stream"),
        template=body.get("template"), meta=body["_meta"])


def create_state_indices(client: Elasticsearch, names: Names,
                         which: Iterable[str] = STATE_INDICES, *,
                         caps: Capabilities = FULL) -> list[str]:
    """Create the state indices (:data:`STATE_INDICES`) with their explicit mappings."""
    created = []
    for short in which:
        index = names.index(short)
        if client.indices.exists(index=index):
            continue
        client.options(ignore_status=400).indices.create(index=index,
                                                         mappings=state_mappings(short, caps))
        created.append(f"index {index}")
    return created
