"""Kibana saved objects: data views for our indices and a dashboard of alerts.

``soc/data/kibana/soc.ndjson`` is :func:`saved_objects` with no index prefix, for a manual import
(Stack Management → Saved objects → Import). :func:`import_saved_objects` posts the same objects,
for the configured prefix, to Kibana's ``/api/saved_objects/_import?overwrite=true``.
Alert documents are expected to carry ``@timestamp``, ``rule.name``, ``rule.level`` (the Sigma
level), ``organization.id`` (the unit) and ``labels.system``.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from soc.config import Secret
from soc.errors import StoreError
from soc.stores.es.connection import EsOptions
from soc.stores.es.names import Names

NDJSON = Path(__file__).resolve().parents[2] / "data" / "kibana" / "soc.ndjson"
ALERT_PANELS = (("severity", "rule.level"), ("rule", "rule.name"), ("unit", "organization.id"),
                ("system", "labels.system"))


def _data_view(view_id: str, title: str, name: str, time_field: str) -> dict[str, Any]:
    return {"type": "index-pattern", "id": view_id, "attributes": {
        "title": title, "name": name, "timeFieldName": time_field}, "references": []}


def _terms_chart(by: str, field: str, view_id: str) -> dict[str, Any]:
    vis = {"title": f"soc alerts by {by}", "type": "pie", "params": {
        "type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right",
        "isDonut": True}, "aggs": [
        {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}},
        {"id": "2", "enabled": True, "type": "terms", "schema": "segment", "params": {
            "field": field, "size": 20, "order": "desc", "orderBy": "1"}}]}
    search = {"query": {"query": "", "language": "kuery"}, "filter": [],
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return {"type": "visualization", "id": f"soc-alerts-by-{by}", "attributes": {
        "title": vis["title"], "visState": json.dumps(vis), "uiStateJSON": "{}",
        "description": "", "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search)}},
        "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index",
                        "type": "index-pattern", "id": view_id}]}


def _dashboard(panel_ids: list[str]) -> dict[str, Any]:
    panels = [{"panelIndex": str(i), "panelRefName": f"panel_{i}", "embeddableConfig": {},
               "gridData": {"x": 24 * (i % 2), "y": 15 * (i // 2), "w": 24, "h": 15,
                            "i": str(i)}} for i in range(len(panel_ids))]
    search = {"query": {"query": "", "language": "kuery"}, "filter": []}
    return {"type": "dashboard", "id": "soc-alerts-overview", "attributes": {
        "title": "soc: alerts by severity, rule, unit and system", "panelsJSON": json.dumps(panels),
        "optionsJSON": json.dumps({"useMargins": True}), "timeRestore": False,
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search)}},
        "references": [{"name": f"panel_{i}", "type": "visualization", "id": pid}
                       for i, pid in enumerate(panel_ids)]}


def saved_objects(names: Names) -> list[dict[str, Any]]:
    """Data views (events, alerts, incidents, dead letters, quarantine) and the dashboard."""
    p = names.prefix
    views = [
        _data_view(f"{p}soc-events", names.events, "soc events", "@timestamp"),
        _data_view(f"{p}soc-alerts", names.index("alerts"), "soc alerts", "@timestamp"),
        _data_view(f"{p}soc-incidents", names.index("incidents"), "soc incidents", "@timestamp"),
        _data_view(f"{p}soc-dead-letters", names.index("dead-letters"), "soc dead letters",
                   "received"),
        _data_view(f"{p}soc-quarantine", names.index("quarantine"), "soc quarantine",
                   "@timestamp"),
    ]
    charts = [_terms_chart(by, field, f"{p}soc-alerts") for by, field in ALERT_PANELS]
    return [*views, *charts, _dashboard([c["id"] for c in charts])]


def ndjson(names: Names) -> str:
    return "".join(json.dumps(o, sort_keys=True) + "\n" for o in saved_objects(names))


def _multipart(payload: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"soc.ndjson\"\r\nContent-Type: application/ndjson\r\n\r\n{payload}\r\n"
            f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _auth_header(options: EsOptions) -> dict[str, str]:
    def reveal(v: Secret | str | None) -> str | None:
        return v.reveal() if isinstance(v, Secret) else v

    api_key = reveal(options.api_key)
    if api_key:
        return {"Authorization": f"ApiKey {api_key}"}
    if options.username:
        token = base64.b64encode(
            f"{options.username}:{reveal(options.password) or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def import_saved_objects(url: str, options: EsOptions, names: Names) -> str:
    """Import the saved objects into Kibana at ``url``; a summary line."""
    body, content_type = _multipart(ndjson(names))
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/saved_objects/_import?overwrite=true", data=body, method="POST",
        headers={"kbn-xsrf": "true", "Content-Type": content_type, **_auth_header(options)})
    context = ssl.create_default_context(cafile=options.ca_certs) if options.ca_certs else None
    try:
        with urllib.request.urlopen(request, timeout=options.request_timeout,
                                    context=context) as resp:
            result = json.loads(resp.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StoreError(f"cannot import the Kibana saved objects into {url}: {exc}",
                         hint="Check the Kibana URL, or import soc/data/kibana/soc.ndjson by "
                              "hand (Stack Management → Saved objects).") from exc
    if not result.get("success", False):
        raise StoreError(f"Kibana refused some saved objects: {result.get('errors')}")
    return f"kibana saved objects: {result.get('successCount', 0)} imported into {url}"
