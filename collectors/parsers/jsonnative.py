"""Native JSON exports (cloud audit logs, SaaS, macOS, Zeek, OpenCanary): what they share.

A :class:`NativeFormat` tells the JSON lines parser how to recognise one export by its distinctive
keys, where its time is, and how to add the ECS fields beside the native ones. The native field
names stay as the export writes them, nested keys flattened with dots (``protoPayload.methodName``,
``userIdentity.type``), because SigmaHQ's rules for these sources are written against them; the
helpers here only make them storable:

* :func:`spread`: a list of objects (Okta's ``target``, Azure's ``targetResources``) becomes one
  dotted key per leaf holding the list of its values (``target.displayName: [...]``), which is how
  Elasticsearch indexes an array of objects and how the rules name those values;
* :func:`move_ecs_roots`: a native scalar whose name is an ECS object (GitHub's ``user``,
  Bitbucket's ``source``) moves under the export's own prefix, since ``user`` cannot be both a
  text and the parent of ``user.name``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from collectors.parsers.jsonl import is_field_name
from soc.ecs import Event
from soc.pipeline.sources import ParseContext

Refine = Callable[[Event, ParseContext], None]


@dataclass(frozen=True, slots=True)
class NativeFormat:
    """One native JSON export: ``detect`` gives its dataset for a flattened record (None: not
    this export), ``time_keys`` where its time is (naive times are UTC), ``refine`` adds ECS;
    ``local_time_keys``, tried last, hold the source's local time (naive: ``ctx.tz``)."""

    name: str
    detect: Callable[[Event], str | None]
    time_keys: tuple[str, ...]
    refine: Refine
    local_time_keys: tuple[str, ...] = ()


ECS_ROOTS = frozenset({
    "agent", "as", "client", "cloud", "container", "data_stream", "destination", "device", "dll",
    "dns", "ecs", "email", "error", "event", "faas", "file", "group", "host", "http", "log",
    "network", "observer", "orchestrator", "organization", "package", "process", "registry",
    "related", "rule", "server", "service", "source", "threat", "tls", "trace", "transaction",
    "url", "user", "user_agent", "vulnerability", "x509", "span", "labels",
})
"""ECS field sets: objects in every store, so no native scalar may take their names."""


def move_ecs_roots(ev: Event, prefix: str) -> None:
    """Native scalars named like an ECS object (``user``) → ``<prefix>.<name>``."""
    for key in [k for k in ev if k in ECS_ROOTS]:
        ev[f"{prefix}.{key}"] = ev.pop(key)


def spread(ev: Event) -> None:
    """Every list of objects → one dotted key per leaf with the list of its values, in place."""
    for key in [k for k, v in ev.items() if _has_objects(v)]:
        items = ev.pop(key)
        out: dict[str, list[Any]] = {}
        _spread_into(out, key, items, 1)
        for name, values in out.items():
            if name not in ev:
                ev[name] = values


def _has_objects(value: object) -> bool:
    return isinstance(value, list) and any(isinstance(v, dict | list) for v in value)


def _spread_into(out: dict[str, list[Any]], key: str, value: Any, depth: int) -> None:
    if depth > 20:  # soc.ecs.MAX_DEPTH: deeper input is cut, not followed
        return
    if isinstance(value, dict):
        for name, sub in value.items():
            if is_field_name(name):
                _spread_into(out, f"{key}.{name}", sub, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _spread_into(out, key, item, depth + 1)
    elif value is not None:
        out.setdefault(key, []).append(value)


def as_json_text(ev: Event, key: str) -> str | None:
    """The object flattened under ``key.`` as one JSON text (nested again), or None when there
    is none: for rules that search a whole object (``requestParameters|contains``), as exports
    that keep it as a string (CloudTrail Lake, Elastic's ``aws.cloudtrail.request_parameters``)
    let them."""
    prefix = key + "."
    nested: dict[str, Any] = {}
    for name, value in ev.items():
        if name.startswith(prefix):
            node = nested
            *parents, leaf = name[len(prefix):].split(".")
            for part in parents:
                child = node.setdefault(part, {})
                node = child if isinstance(child, dict) else {}
            node[leaf] = value
    return json.dumps(nested, ensure_ascii=False, separators=(",", ":")) if nested else None


def first(ev: Event, *keys: str) -> Any:
    """The first of ``keys`` with a value (a list gives its first element), or None."""
    for key in keys:
        value = ev.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and value != "":
            return value
    return None


def put(ev: Event, target: str, value: Any) -> None:
    """``ev[target] = value`` unless the value is empty or the target already set."""
    if value is not None and value != "" and value != [] and target not in ev:
        ev[target] = value


def put_ip(ev: Event, target: str, value: Any) -> None:
    """An IP address (``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:5678``) → ``target``; anything else
    (a service name, ``AWS Internal``) → ``target``'s sibling ``address``."""
    if not isinstance(value, str) or not value:
        return
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ev[target] = str(ipaddress.ip_address(text))
    except ValueError:
        ev[target.rsplit(".", 1)[0] + ".address"] = value


def outcome(ev: Event, value: Any, success: Iterable[str], failure: Iterable[str]) -> None:
    """``event.outcome`` from a native status word (case-insensitive)."""
    if value is None:
        return
    word = str(value).casefold()
    if word in success:
        ev["event.outcome"] = "success"
    elif word in failure:
        ev["event.outcome"] = "failure"


def lift(ev: Event, prefix: str, keep: str) -> None:
    """An envelope around the record (EventBridge's ``detail``, Pub/Sub's ``data``): the keys
    under ``prefix`` move up, the envelope's own keys move under ``keep``."""
    inner = [k for k in ev if k.startswith(prefix)]
    for key in [k for k in ev if not k.startswith((prefix, "event.", "@timestamp"))]:
        ev[f"{keep}.{key}"] = ev.pop(key)
    for key in inner:
        ev[key[len(prefix):]] = ev.pop(key)
