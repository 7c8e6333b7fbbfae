"""Cloud audit logs as their providers export them → events with the native fields kept.

* **AWS CloudTrail** (``aws.cloudtrail``): one record per line, as CloudTrail Lake, CloudWatch
  Logs and ``jq -c '.Records[]'`` over the S3 files give them, or wrapped by EventBridge
  (``detail-type: AWS API Call via CloudTrail``: the ``detail`` moves up). Told by
  ``eventSource`` + ``eventName`` + ``awsRegion``/``eventVersion``. ``requestParameters`` and
  ``responseElements`` are also kept whole, as JSON text, in ``aws.cloudtrail.request_parameters``
  and ``.response_elements`` (for rules that search the whole object).
* **Azure** diagnostic settings records (Event Hub, storage account, Log Analytics export): told
  by ``operationName`` + ``category`` + ``resourceId``/``tenantId``; the category names the
  dataset: ``azure.signinlogs`` (SignInLogs and the other sign-in categories),
  ``azure.auditlogs``, ``azure.identity_protection`` (UserRiskEvents, RiskyUsers...),
  ``azure.activitylogs`` (Administrative, Security, Policy...), else ``azure.platformlogs``. The
  Activity Log as its REST API and ``az monitor activity-log list`` give it
  (``operationName.value``, ``eventTimestamp``) is ``azure.activitylogs`` too. Microsoft Graph's
  records (``directoryAudits``, ``signIns``, ``riskDetections``) are what those records carry in
  ``properties``: they are wrapped the same way (``properties.<name>``), so one mapping serves
  both exports.
* **GCP Cloud Audit Logs** (Cloud Logging ``LogEntry``, from a sink or ``gcloud logging read
  --format=json``; a Pub/Sub ``data`` envelope moves up): told by ``protoPayload.@type``
  ``...google.cloud.audit.AuditLog`` → ``gcp.audit``; Google Workspace's audit logs shared with
  Cloud Logging (``protoPayload.serviceName`` ``admin.googleapis.com``/``login.googleapis.com``)
  → ``google_workspace.admin``/``.login``. The Admin SDK Reports API's activities
  (``kind: admin#reports#activity``) → ``google_workspace.<applicationName>``.
* **Microsoft 365** Management Activity API records (``Workload`` + ``Operation`` +
  ``CreationTime``) → ``o365.audit``.
* **Kubernetes** API server audit events (``apiVersion: audit.k8s.io/v1``, ``kind: Event``) →
  ``kubernetes.audit``.

Native names stay (see :mod:`collectors.parsers.jsonnative`); ECS fields are added beside them:
``cloud.provider``, ``event.action``, ``event.outcome``, ``source.ip``, ``user.*``,
``user_agent.original``. Workspace event parameters (lists of ``name``/``value`` pairs) are also
kept by name under ``google_workspace.parameter.<name>`` (``setting_name``, ``new_value``), which
is how SigmaHQ's Workspace rules name them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors.parsers.jsonnative import (
    NativeFormat,
    as_json_text,
    first,
    lift,
    move_ecs_roots,
    outcome,
    put,
    put_ip,
    spread,
)
from soc.ecs import Event
from soc.pipeline.sources import ParseContext

SUCCESS = frozenset({"success", "succeeded", "true", "partiallysucceeded", "allow", "allowed"})
FAILURE = frozenset({"failure", "failed", "false", "deny", "denied", "forbid"})


def _base(ev: Event, provider: str, prefix: str) -> None:
    spread(ev)
    move_ecs_roots(ev, prefix)
    ev.setdefault("event.kind", "event")
    ev["cloud.provider"] = provider


# --- AWS CloudTrail ------------------------------------------------------------------------------

EVENTBRIDGE = "AWS API Call via CloudTrail"


def detect_cloudtrail(ev: Event) -> str | None:
    if "eventSource" in ev and "eventName" in ev and ("awsRegion" in ev or "eventVersion" in ev):
        return "aws.cloudtrail"
    if ev.get("detail-type") == EVENTBRIDGE and "detail.eventName" in ev:
        return "aws.cloudtrail"
    return None


def refine_cloudtrail(ev: Event, ctx: ParseContext) -> None:
    if "eventName" not in ev and "detail.eventName" in ev:
        lift(ev, "detail.", "aws.eventbridge")
    _base(ev, "aws", "aws.cloudtrail")
    put(ev, "cloud.region", ev.get("awsRegion"))
    put(ev, "cloud.account.id", first(ev, "recipientAccountId", "userIdentity.accountId"))
    put(ev, "event.action", ev.get("eventName"))
    put(ev, "event.provider", ev.get("eventSource"))
    put_ip(ev, "source.ip", ev.get("sourceIPAddress"))
    put(ev, "user_agent.original", ev.get("userAgent"))
    put(ev, "user.name", first(ev, "userIdentity.userName",
                               "userIdentity.sessionContext.sessionIssuer.userName",
                               "userIdentity.principalId"))
    put(ev, "user.id", ev.get("userIdentity.arn"))
    for native, text in (("requestParameters", "aws.cloudtrail.request_parameters"),
                         ("responseElements", "aws.cloudtrail.response_elements")):
        put(ev, text, as_json_text(ev, native))
    failed = ev.get("errorCode") or ev.get("responseElements.ConsoleLogin") == "Failure"
    ev["event.outcome"] = "failure" if failed else "success"


CLOUDTRAIL = NativeFormat("aws.cloudtrail", detect_cloudtrail, ("eventTime", "detail.eventTime"),
                          refine_cloudtrail)


# --- Azure -------------------------------------------------------------------------------------

_AZURE_CATEGORIES: Mapping[str, str] = {
    **dict.fromkeys(("signinlogs", "noninteractiveusersigninlogs",
                     "serviceprincipalsigninlogs", "managedidentitysigninlogs",
                     "adfssigninlogs"), "azure.signinlogs"),
    "auditlogs": "azure.auditlogs",
    **dict.fromkeys(("userriskevents", "riskyusers", "serviceprincipalriskevents",
                     "riskyserviceprincipals"), "azure.identity_protection"),
    **dict.fromkeys(("administrative", "security", "servicehealth", "alert", "recommendation",
                     "policy", "autoscale", "resourcehealth"), "azure.activitylogs"),
}
"""Diagnostic settings categories → dataset (the categories are case-insensitive)."""


def detect_azure(ev: Event) -> str | None:
    if "operationName" in ev and "category" in ev and ("resourceId" in ev or "tenantId" in ev):
        category = ev["category"]
        if isinstance(category, str):
            return _AZURE_CATEGORIES.get(category.casefold(), "azure.platformlogs")
    if "operationName.value" in ev and "eventTimestamp" in ev:
        return "azure.activitylogs"
    for dataset, keys in _GRAPH:
        if all(k in ev for k in keys):
            return dataset
    return None


_GRAPH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("azure.auditlogs", ("activityDisplayName", "activityDateTime", "loggedByService")),
    ("azure.signinlogs", ("createdDateTime", "userPrincipalName", "appDisplayName",
                          "status.errorCode")),
    ("azure.identity_protection", ("riskEventType", "detectedDateTime")),
)
"""Microsoft Graph's own records (``auditLogs/directoryAudits``, ``auditLogs/signIns``,
``identityProtection/riskDetections``): the ``properties`` of the diagnostic settings records."""
_GRAPH_CATEGORY = {"azure.auditlogs": "AuditLogs", "azure.signinlogs": "SignInLogs",
                   "azure.identity_protection": "UserRiskEvents"}


def _from_graph(ev: Event) -> None:
    """A Graph record → the diagnostic settings record that wraps it: its fields move under
    ``properties.`` and the record's own fields are taken from them, as Entra ID writes them."""
    dataset = ev["event.dataset"]
    for key in [k for k in ev if not k.startswith(("event.", "@timestamp"))]:
        ev["properties." + key] = ev.pop(key)
    ev["category"] = _GRAPH_CATEGORY[dataset]
    put(ev, "operationName", "Sign-in activity" if dataset == "azure.signinlogs"
        else first(ev, "properties.activityDisplayName", "properties.riskEventType"))
    put(ev, "resultType", None if ev.get("properties.status.errorCode") is None
        else str(ev["properties.status.errorCode"]))
    put(ev, "resultDescription", ev.get("properties.status.failureReason"))
    put(ev, "callerIpAddress", ev.get("properties.ipAddress"))


def refine_azure(ev: Event, ctx: ParseContext) -> None:
    if "operationName" not in ev and "operationName.value" not in ev:
        _from_graph(ev)
    _base(ev, "azure", "azure")
    put(ev, "event.action", first(ev, "operationName", "operationName.value"))
    put_ip(ev, "source.ip", first(ev, "callerIpAddress", "properties.ipAddress",
                                  "httpRequest.clientIpAddress"))
    identity = ev.get("identity")
    put(ev, "user.name", first(ev, "properties.userPrincipalName", "caller")
        or (identity if isinstance(identity, str) else None))
    put(ev, "user_agent.original", ev.get("properties.userAgent"))
    dataset = ev["event.dataset"]
    if dataset == "azure.signinlogs":
        code = first(ev, "resultType", "properties.status.errorCode")
        if code is not None:
            ev["event.outcome"] = "success" if str(code) == "0" else "failure"
    elif dataset == "azure.auditlogs":
        outcome(ev, ev.get("properties.result"), SUCCESS, FAILURE)
    else:
        outcome(ev, first(ev, "resultType", "status.value"), SUCCESS, FAILURE)


AZURE = NativeFormat("azure", detect_azure, ("time", "timeStamp", "eventTimestamp",
                                           "activityDateTime", "createdDateTime",
                                           "detectedDateTime"), refine_azure)


# --- GCP and Google Workspace ------------------------------------------------------------------

AUDIT_LOG = "type.googleapis.com/google.cloud.audit.AuditLog"
_WORKSPACE_SERVICES = {"admin.googleapis.com": "google_workspace.admin",
                       "login.googleapis.com": "google_workspace.login"}
_PARAMETER_VALUES = ("value", "boolValue", "intValue", "multiStrValue", "multiValue",
                     "multiIntValue")


def detect_gcp(ev: Event) -> str | None:
    if ev.get("protoPayload.@type") == AUDIT_LOG or ev.get("data.protoPayload.@type") == AUDIT_LOG:
        service = ev.get("protoPayload.serviceName") or ev.get("data.protoPayload.serviceName")
        return _WORKSPACE_SERVICES.get(service, "gcp.audit") if isinstance(service, str) \
            else "gcp.audit"
    if ev.get("kind") == "admin#reports#activity":
        app = ev.get("id.applicationName")
        if isinstance(app, str) and app.isidentifier():
            return f"google_workspace.{app.lower()}"
    return None


def refine_gcp(ev: Event, ctx: ParseContext) -> None:
    if "protoPayload.@type" not in ev and "data.protoPayload.@type" in ev:
        lift(ev, "data.", "gcp.pubsub")
    _put_parameters(ev)
    _base(ev, "gcp", "gcp")
    put(ev, "cloud.project.id", ev.get("resource.labels.project_id"))
    service = ev.get("protoPayload.serviceName")
    if ev.get("kind") == "admin#reports#activity":
        service = f"{ev.get('id.applicationName')}.googleapis.com"
    if str(ev["event.dataset"]).startswith("google_workspace."):
        put(ev, "google_workspace.service", service)
    put(ev, "event.provider", service)
    put(ev, "event.action", first(ev, "protoPayload.methodName", "events.name"))
    put_ip(ev, "source.ip", first(ev, "protoPayload.requestMetadata.callerIp", "ipAddress"))
    put(ev, "user.email", first(ev, "protoPayload.authenticationInfo.principalEmail",
                                "actor.email"))
    if "protoPayload.methodName" in ev:
        code = ev.get("protoPayload.status.code")
        ev["event.outcome"] = "failure" if code not in (None, 0, "0") else "success"


def _put_parameters(ev: Event) -> None:
    """Workspace events' ``name``/``value`` parameter lists → ``google_workspace.parameter.*``."""
    found: dict[str, list[Any]] = {}
    for key, inner in (("protoPayload.metadata.event", "parameter"), ("events", "parameters")):
        events = ev.get(key)
        for item in events if isinstance(events, list) else ():
            params = item.get(inner) if isinstance(item, dict) else None
            for param in params if isinstance(params, list) else ():
                if isinstance(param, dict) and isinstance(param.get("name"), str):
                    value = next((param[k] for k in _PARAMETER_VALUES if k in param), None)
                    name = param["name"].lower()
                    if value is not None and name.isidentifier():
                        found.setdefault(name, []).append(value)
    for name, values in found.items():
        ev[f"google_workspace.parameter.{name}"] = values[0] if len(values) == 1 else values


GCP = NativeFormat("gcp", detect_gcp, ("timestamp", "data.timestamp", "receiveTimestamp",
                                       "id.time"), refine_gcp)


# --- Microsoft 365 -----------------------------------------------------------------------------

def detect_m365(ev: Event) -> str | None:
    if "Operation" in ev and "Workload" in ev and "CreationTime" in ev:
        return "o365.audit"
    return None


def refine_m365(ev: Event, ctx: ParseContext) -> None:
    _base(ev, "azure", "o365")
    put(ev, "event.action", ev.get("Operation"))
    put(ev, "event.provider", ev.get("Workload"))
    put(ev, "event.code", None if ev.get("RecordType") is None else str(ev["RecordType"]))
    put_ip(ev, "source.ip", first(ev, "ClientIP", "ClientIPAddress", "ActorIpAddress"))
    put(ev, "user.id", ev.get("UserId"))
    outcome(ev, ev.get("ResultStatus"), SUCCESS, FAILURE)


M365 = NativeFormat("m365", detect_m365, ("CreationTime",), refine_m365)


# --- Kubernetes --------------------------------------------------------------------------------

def detect_k8s(ev: Event) -> str | None:
    api = ev.get("apiVersion")
    if ev.get("kind") == "Event" and isinstance(api, str) and api.startswith("audit.k8s.io/"):
        return "kubernetes.audit"
    if "auditID" in ev and "verb" in ev and "stage" in ev:
        return "kubernetes.audit"
    return None


def refine_k8s(ev: Event, ctx: ParseContext) -> None:
    spread(ev)
    move_ecs_roots(ev, "kubernetes")
    ev.setdefault("event.kind", "event")
    put(ev, "event.action", ev.get("verb"))
    put_ip(ev, "source.ip", first(ev, "sourceIPs"))
    put(ev, "user.name", ev.get("user.username"))
    put(ev, "user_agent.original", ev.get("userAgent"))
    put(ev, "url.original", ev.get("requestURI"))
    code = ev.get("responseStatus.code")
    if isinstance(code, int) and not isinstance(code, bool):
        ev["http.response.status_code"] = code
        ev["event.outcome"] = "success" if code < 400 else "failure"


K8S = NativeFormat("kubernetes", detect_k8s, ("requestReceivedTimestamp", "stageTimestamp"),
                   refine_k8s)

FORMATS = (CLOUDTRAIL, K8S, AZURE, GCP, M365)
