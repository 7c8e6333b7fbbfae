"""Native JSON exports of cloud, SaaS, macOS and honeypot sources through the JSON lines parser,
and SigmaHQ's rules for each on them. Records written here from each vendor's documented schema
(CloudTrail record contents, Azure Monitor diagnostic settings schemas, Cloud Audit Logs'
LogEntry, Office 365 Management Activity API schema, Okta System Log, GitHub audit log streaming,
Bitbucket Data Center audit log, Kubernetes audit.k8s.io/v1 Event, OneLogin Events API, Duo Admin
API authentication log, eslogger, OpenCanary)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.jsonl import JsonLinesParser
from soc import registry
from soc.detection.engine import Engine
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import AutoParser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                   source="exports", stream="export.jsonl")

CLOUDTRAIL = {
    "eventVersion": "1.09",
    "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEID", "accountId":
                     "111122223333", "arn": "arn:aws:iam::111122223333:user/ops-nam",
                     "accessKeyId": "AKIAEXAMPLEKEY", "userName": "ops-nam"},
    "eventTime": "2026-11-24T01:15:30Z", "eventSource": "s3.amazonaws.com",
    "eventName": "PutBucketVersioning", "awsRegion": "ap-southeast-1",
    "sourceIPAddress": "203.0.113.24", "userAgent": "aws-cli/2.15.0 Python/3.11",
    "requestParameters": {"bucketName": "sotttt-backups", "Host": "sotttt-backups.s3.amazonaws.com",
                          "VersioningConfiguration": {"Status": "Suspended"}, "versioning": ""},
    "responseElements": None, "requestID": "8K2ZC6RE9EXAMPLE", "eventID": "5c1a4e1f-EXAMPLE",
    "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
    "recipientAccountId": "111122223333", "eventCategory": "Management",
}
CONSOLE_LOGIN_FAILED = {
    "eventVersion": "1.08", "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEID",
                                             "accountId": "111122223333", "userName": "ops-nam"},
    "eventTime": "2026-11-24T01:16:00Z", "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.77",
    "userAgent": "Mozilla/5.0", "errorMessage": "Failed authentication",
    "requestParameters": None, "responseElements": {"ConsoleLogin": "Failure"},
    "additionalEventData": {"MFAUsed": "No", "MobileVersion": "No"},
    "eventID": "0d5c2f1e-EXAMPLE", "eventType": "AwsConsoleSignIn",
    "recipientAccountId": "111122223333",
}
EVENTBRIDGE = {
    "version": "0", "id": "6f2ae1e4-EXAMPLE", "detail-type": "AWS API Call via CloudTrail",
    "source": "aws.iam", "account": "111122223333", "time": "2026-11-24T01:17:00Z",
    "region": "us-east-1", "resources": [],
    "detail": {"eventVersion": "1.08", "eventTime": "2026-11-24T01:17:00Z",
               "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
               "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.24",
               "userIdentity": {"type": "IAMUser", "userName": "ops-nam"}},
}
AZURE_SIGNIN = {
    "time": "2026-11-24T01:15:30.1234567Z",
    "resourceId": "/tenants/9b2f1a6e-0000-4000-8000-000000000001/providers/Microsoft.aadiam",
    "operationName": "Sign-in activity", "operationVersion": "1.0", "category": "SignInLogs",
    "tenantId": "9b2f1a6e-0000-4000-8000-000000000001", "resultType": "50053",
    "resultSignature": "None",
    "resultDescription": "Account is locked because the user tried to sign in too many times.",
    "durationMs": 0, "callerIpAddress": "203.0.113.9", "correlationId": "c0ffee00-EXAMPLE",
    "identity": "Nguyen Van Nam", "Level": 4, "location": "VN",
    "properties": {
        "id": "a1b2c3d4-EXAMPLE", "createdDateTime": "2026-11-24T01:15:30.1234567+00:00",
        "userDisplayName": "Nguyen Van Nam", "userPrincipalName": "nam@sotttt.gov.vn",
        "appDisplayName": "Office 365 Exchange Online", "ipAddress": "203.0.113.9",
        "status": {"errorCode": 50053, "failureReason": "Account is locked."},
        "clientAppUsed": "Browser", "userAgent": "Mozilla/5.0 (Windows NT 10.0)",
        "deviceDetail": {"deviceId": "", "operatingSystem": "Windows10", "browser": "Edge",
                         "trustType": ""},
        "conditionalAccessStatus": "notApplied",
        "authenticationRequirement": "singleFactorAuthentication", "riskState": "none",
        "resourceDisplayName": "Office 365 Exchange Online", "networkLocationDetails": [],
    },
}
AZURE_AUDIT = {
    "time": "2026-11-24T01:18:00.0000000Z",
    "resourceId": "/tenants/9b2f1a6e-0000-4000-8000-000000000001/providers/Microsoft.aadiam",
    "operationName": "Add member to role", "operationVersion": "1.0", "category": "AuditLogs",
    "tenantId": "9b2f1a6e-0000-4000-8000-000000000001", "resultSignature": "None",
    "durationMs": 0, "callerIpAddress": "203.0.113.9", "correlationId": "c0ffee01-EXAMPLE",
    "Level": 4,
    "properties": {
        "id": "Directory_EXAMPLE", "category": "RoleManagement", "result": "success",
        "resultReason": "", "activityDisplayName": "Add member to role",
        "activityDateTime": "2026-11-24T01:18:00.0000000+00:00",
        "loggedByService": "Core Directory", "operationType": "Assign",
        "initiatedBy": {"user": {"id": "u-1", "userPrincipalName": "admin@sotttt.gov.vn",
                                 "ipAddress": "203.0.113.9"}},
        "targetResources": [{
            "id": "u-2", "displayName": None, "type": "User",
            "userPrincipalName": "tuan@sotttt.gov.vn",
            "modifiedProperties": [
                {"displayName": "Role.DisplayName", "oldValue": None,
                 "newValue": "\"Global Administrator\""},
                {"displayName": "Role.TemplateId", "oldValue": None,
                 "newValue": "\"62e90394-69f5-4237-9190-012177145e10\""}]}],
        "additionalDetails": [],
    },
}
GRAPH_DIRECTORY_AUDIT = dict(AZURE_AUDIT["properties"])  # type: ignore[call-overload]
AZURE_ACTIVITY = {
    "time": "2026-11-24T01:19:00.0000000Z",
    "resourceId": "/SUBSCRIPTIONS/0000-EXAMPLE/RESOURCEGROUPS/NET/PROVIDERS/MICROSOFT.NETWORK/"
                  "AZUREFIREWALLS/FW-SOTTTT",
    "operationName": "MICROSOFT.NETWORK/AZUREFIREWALLS/DELETE", "category": "Administrative",
    "resultType": "Success", "resultSignature": "Succeeded.OK", "durationMs": "2100",
    "callerIpAddress": "203.0.113.9", "correlationId": "c0ffee02-EXAMPLE",
    "identity": {"authorization": {"scope": "/subscriptions/0000-EXAMPLE",
                                   "action": "Microsoft.Network/azureFirewalls/delete"},
                 "claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":
                            "admin@sotttt.gov.vn"}},
    "level": "Information", "location": "global",
    "properties": {"statusCode": "OK", "eventCategory": "Administrative",
                   "message": "Microsoft.Network/azureFirewalls/delete"},
}
AZURE_RISK = {
    "time": "2026-11-24T01:20:00.0000000Z",
    "resourceId": "/tenants/9b2f1a6e-0000-4000-8000-000000000001/providers/Microsoft.aadiam",
    "operationName": "User Risk Detection", "category": "UserRiskEvents",
    "tenantId": "9b2f1a6e-0000-4000-8000-000000000001",
    "properties": {"id": "r-1", "riskEventType": "unfamiliarFeatures", "riskLevel": "low",
                   "riskState": "atRisk", "userPrincipalName": "nam@sotttt.gov.vn",
                   "ipAddress": "203.0.113.9",
                   "detectedDateTime": "2026-11-24T01:19:58.0000000Z"},
}
GCP_AUDIT = {
    "protoPayload": {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog", "status": {},
        "authenticationInfo": {"principalEmail": "ops@sotttt.gov.vn"},
        "requestMetadata": {"callerIp": "203.0.113.9",
                            "callerSuppliedUserAgent": "google-cloud-sdk gcloud/460.0.0"},
        "serviceName": "storage.googleapis.com", "methodName": "storage.buckets.delete",
        "authorizationInfo": [{"resource": "projects/_/buckets/sotttt-backups",
                               "permission": "storage.buckets.delete", "granted": True,
                               "resourceAttributes": {}}],
        "resourceName": "projects/_/buckets/sotttt-backups",
    },
    "insertId": "1abc2def", "resource": {"type": "gcs_bucket", "labels": {
        "project_id": "sotttt-prod", "bucket_name": "sotttt-backups"}},
    "timestamp": "2026-11-24T01:21:00.123456789Z", "severity": "NOTICE",
    "logName": "projects/sotttt-prod/logs/cloudaudit.googleapis.com%2Factivity",
    "trace": "projects/sotttt-prod/traces/0af7651916cd43dd8448eb211c80319c",
    "receiveTimestamp": "2026-11-24T01:21:01.000000000Z",
}
WORKSPACE_LOGGING = {
    "protoPayload": {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": "admin@sotttt.gov.vn"},
        "requestMetadata": {"callerIp": "203.0.113.9"}, "serviceName": "admin.googleapis.com",
        "methodName": "google.admin.AdminService.changeApplicationSetting",
        "resourceName": "organizations/123456/applications",
        "metadata": {"@type": "type.googleapis.com/ccc_hosted_reporting.ActivityProto",
                     "event": [{"eventType": "APPLICATION_SETTINGS",
                                "eventName": "CHANGE_APPLICATION_SETTING",
                                "parameter": [
                                    {"type": "TYPE_STRING", "label": "LABEL_OPTIONAL",
                                     "name": "SETTING_NAME",
                                     "value": "ContextAwareAccess Access level"},
                                    {"type": "TYPE_STRING", "label": "LABEL_OPTIONAL",
                                     "name": "NEW_VALUE", "value": "false"}]}]},
    },
    "insertId": "-abc", "resource": {"type": "audited_resource",
                                     "labels": {"service": "admin.googleapis.com"}},
    "timestamp": "2026-11-24T01:22:00.000Z", "severity": "NOTICE",
    "logName": "organizations/123456/logs/cloudaudit.googleapis.com%2Factivity",
}
WORKSPACE_REPORTS = {
    "kind": "admin#reports#activity",
    "id": {"time": "2026-11-24T01:23:00.000Z", "uniqueQualifier": "-4242",
           "applicationName": "login", "customerId": "C01abcd"},
    "etag": "\"x1\"", "actor": {"email": "nam@sotttt.gov.vn", "profileId": "1007"},
    "ipAddress": "203.0.113.9",
    "events": [{"type": "account_warning", "name": "suspicious_login",
                "parameters": [{"name": "affected_email_address",
                                "value": "nam@sotttt.gov.vn"}]}],
}
M365 = {
    "CreationTime": "2026-11-24T01:24:00", "Id": "4d3c2b1a-EXAMPLE", "Operation": "New-InboxRule",
    "OrganizationId": "9b2f1a6e-EXAMPLE", "RecordType": 1, "ResultStatus": "True",
    "UserKey": "100300008EXAMPLE", "UserType": 2, "Version": 1, "Workload": "Exchange",
    "ClientIP": "203.0.113.9:51234", "ObjectId": "nam@sotttt.gov.vn\\RSS",
    "UserId": "nam@sotttt.gov.vn", "ExternalAccess": False,
    "Parameters": [{"Name": "Name", "Value": "RSS"},
                   {"Name": "MoveToFolder", "Value": "RSS Feeds"},
                   {"Name": "SubjectOrBodyContainsWords", "Value": "invoice;payment"},
                   {"Name": "StopProcessingRules", "Value": "True"}],
}
OKTA = {
    "uuid": "5b1c2d3e-EXAMPLE", "published": "2026-11-24T01:25:00.456Z",
    "eventType": "system.api_token.create", "version": "0", "severity": "INFO",
    "legacyEventType": "api.token.create", "displayMessage": "Create API token",
    "actor": {"id": "00u1EXAMPLE", "type": "User", "alternateId": "admin@sotttt.gov.vn",
              "displayName": "Admin", "detailEntry": None},
    "client": {"userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Windows", "browser": "EDGE"},
               "zone": "null", "device": "Computer", "id": None, "ipAddress": "203.0.113.45",
               "geographicalContext": {"city": "Hanoi", "country": "Vietnam"}},
    "outcome": {"result": "SUCCESS", "reason": None},
    "securityContext": {"isProxy": False},
    "debugContext": {"debugData": {"requestUri": "/api/internal/tokens"}},
    "transaction": {"type": "WEB", "id": "Xk1EXAMPLE", "detail": {}},
    "request": {"ipChain": [{"ip": "203.0.113.45", "version": "V4", "source": None}]},
    "target": [{"id": "00T1EXAMPLE", "type": "Token", "alternateId": "unknown",
                "displayName": "ci-token", "detailEntry": None}],
}
GITHUB = {
    "@timestamp": 1795482900000, "_document_id": "Xy12AbCdEXAMPLE", "action": "repo.pages_public",
    "actor": "octocat", "actor_id": 583231, "actor_location": {"country_code": "VN"},
    "business": "sotttt", "created_at": 1795482900000, "org": "sotttt-it",
    "repo": "sotttt-it/portal", "user": "octocat", "visibility": "public",
}
BITBUCKET = {
    "affectedObjects": [{"id": "1", "name": "AUDIT", "type": "GLOBAL"}],
    "author": {"avatarUri": "", "id": "2", "name": "admin", "type": "NORMAL",
               "uri": "http://bitbucket.sotttt.gov.vn/users/admin"},
    "auditType": {"action": "Audit log configuration updated",
                  "actionI18nKey": "atlassian.audit.event.action.audit.config.updated",
                  "area": "AUDIT_LOG", "category": "Auditing",
                  "categoryI18nKey": "atlassian.audit.event.category.audit", "level": "BASE"},
    "changedValues": [{"from": "BASE", "key": "Global configuration", "to": "ADVANCED"}],
    "extraAttributes": [], "method": "Browser", "source": "10.20.0.31",
    "system": "http://bitbucket.sotttt.gov.vn",
    "timestamp": {"epochSecond": 1795482900, "nano": 125000000}, "version": "1.0",
}
K8S = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
    "auditID": "7d2a9c3e-EXAMPLE", "stage": "ResponseComplete",
    "requestURI": "/api/v1/namespaces/default/pods/web-1/exec?command=%2Fbin%2Fsh&stdin=true",
    "verb": "create",
    "user": {"username": "system:serviceaccount:default:ci", "uid": "e1f2",
             "groups": ["system:serviceaccounts", "system:authenticated"]},
    "sourceIPs": ["10.20.0.7"], "userAgent": "kubectl/v1.29.0 (linux/amd64)",
    "objectRef": {"resource": "pods", "namespace": "default", "name": "web-1",
                  "apiVersion": "v1", "subresource": "exec"},
    "responseStatus": {"metadata": {}, "code": 101},
    "requestReceivedTimestamp": "2026-11-24T01:26:00.123456Z",
    "stageTimestamp": "2026-11-24T01:26:00.223456Z",
    "annotations": {"authorization.k8s.io/decision": "allow",
                    "authorization.k8s.io/reason": ""},
}
ONELOGIN = {
    "id": 9999, "created_at": "2026-11-24T01:27:00Z", "account_id": 42, "user_id": 7,
    "event_type_id": 3, "notes": None, "ipaddr": "203.0.113.9", "actor_user_id": 8,
    "actor_user_name": "Admin A", "user_name": "Tran Tuan", "assuming_acting_user_id": 8,
}
DUO = {
    "access_device": {"browser": "Chrome", "ip": "203.0.113.9",
                      "location": {"city": "Hanoi", "country": "Viet Nam"}, "os": "Windows"},
    "application": {"key": "DIAAAAEXAMPLE", "name": "VPN"}, "auth_device": {"name": None},
    "email": "nam@sotttt.gov.vn", "event_type": "authentication", "factor": "bypass_code",
    "isotimestamp": "2026-11-24T01:28:00.456789+00:00", "reason": "bypass_user",
    "result": "success", "timestamp": 1795483680, "txid": "340a23e3-EXAMPLE",
    "user": {"groups": ["VPN users"], "key": "DU3KEXAMPLE", "name": "nam"},
}
ESLOGGER_EXEC = {
    "schema_version": 1, "mach_time": 123456789012, "event_type": 9,
    "thread": {"thread_id": 1111}, "version": 7, "seq_num": 42,
    "process": {"audit_token": {"pid": 501, "euid": 501, "ruid": 501, "pidversion": 3},
                "ppid": 400, "original_ppid": 400, "group_id": 501, "session_id": 400,
                "is_platform_binary": True, "signing_id": "com.apple.zsh", "team_id": None,
                "executable": {"path": "/bin/zsh", "path_truncated": False}, "tty": None},
    "event": {"exec": {"target": {"audit_token": {"pid": 501, "euid": 501},
                                  "executable": {"path": "/usr/bin/osascript",
                                                 "path_truncated": False},
                                  "signing_id": "com.apple.osascript"},
                       "args": ["osascript", "-e", "display dialog \"Password\" default answer "
                                "\"\" with hidden answer"],
                       "cwd": {"path": "/Users/nam", "path_truncated": False},
                       "env": ["HOME=/Users/nam"]}},
    "time": "2026-11-24T01:29:00.123456789Z", "global_seq_num": 9001,
}
ESLOGGER_CREATE = {
    "schema_version": 1, "mach_time": 123456789999, "event_type": 13, "version": 7,
    "process": {"audit_token": {"pid": 777, "euid": 0}, "ppid": 1,
                "executable": {"path": "/usr/bin/curl", "path_truncated": False}},
    "event": {"create": {"destination_type": 0, "destination": {"existing_file": {
        "path": "/Library/LaunchDaemons/com.finder.helper.plist", "path_truncated": False}}}},
    "time": "2026-11-24T01:29:30.000000000Z", "global_seq_num": 9002,
}
ESLOGGER_CREATE_NEW = {
    "schema_version": 1, "mach_time": 123456790000, "event_type": 13, "version": 7,
    "process": {"audit_token": {"pid": 778, "euid": 501}, "ppid": 1,
                "executable": {"path": "/usr/local/bin/node", "path_truncated": False}},
    "event": {"create": {"destination_type": 1, "destination": {"new_path": {
        "dir": {"path": "/tmp/", "path_truncated": False}, "filename": "6202033",
        "mode": 420}}}},
    "time": "2026-11-24T01:29:31.000000000Z",
}
UNIFIED_LOG = {
    "traceID": 123, "eventMessage": "Accepted publickey for nam from 10.20.0.7",
    "eventType": "logEvent", "source": None, "formatString": "%{public}s",
    "activityIdentifier": 0, "subsystem": "com.openssh.sshd", "category": "", "threadID": 55,
    "bootUUID": "", "processImagePath": "/usr/sbin/sshd",
    "timestamp": "2026-11-24 08:30:00.123456+0700", "senderImagePath": "/usr/sbin/sshd",
    "machTimestamp": 99, "messageType": "Default", "processID": 321, "timezoneName": "",
}
OPENCANARY = {
    "dst_host": "10.20.0.50", "dst_port": 21, "local_time": "2026-11-24 08:31:00.123456",
    "local_time_adjusted": "2026-11-24 08:31:00.123456",
    "logdata": {"PASSWORD": "123456", "USERNAME": "admin"}, "logtype": 2000,
    "node_id": "canary-sotttt-01", "src_host": "203.0.113.9", "src_port": 51234,
    "utc_time": "2026-11-24 01:31:00.123456",
}
OPENCANARY_PORTSCAN = {
    "dst_host": "10.20.0.50", "dst_port": 445, "local_time": "2026-11-24 08:32:00.000000",
    "logdata": {"FIN": "", "ID": "1234", "IN": "eth0", "PROTO": "TCP"}, "logtype": 5005,
    "node_id": "canary-sotttt-01", "src_host": "203.0.113.10", "src_port": 40000,
}

OPENCANARY_BOOT = {
    "dst_host": "", "dst_port": -1, "local_time": "2026-11-24 08:00:00.000000",
    "logdata": {"msg": {"logdata": "Canary running!!!"}}, "logtype": 1001,
    "node_id": "canary-sotttt-01", "src_host": "", "src_port": -1,
    "utc_time": "2026-11-24 01:00:00.000000",
}


def parse(record: dict[str, Any] | str) -> Event:
    """One record through auto-detection over every registered parser."""
    text = record if isinstance(record, str) else json.dumps(record)
    return AutoParser(list(registry.parsers().values())).parse(text, CTX)


@pytest.mark.parametrize(("record", "dataset", "fields"), [
    (CLOUDTRAIL, "aws.cloudtrail", {
        "@timestamp": "2026-11-24T01:15:30.000Z", "eventName": "PutBucketVersioning",
        "userIdentity.type": "IAMUser", "requestParameters.VersioningConfiguration.Status":
        "Suspended", "cloud.provider": "aws", "cloud.region": "ap-southeast-1",
        "cloud.account.id": "111122223333", "source.ip": "203.0.113.24",
        "user.name": "ops-nam", "event.action": "PutBucketVersioning",
        "event.provider": "s3.amazonaws.com", "event.outcome": "success"}),
    (CONSOLE_LOGIN_FAILED, "aws.cloudtrail", {
        "event.outcome": "failure", "additionalEventData.MFAUsed": "No",
        "aws.cloudtrail.response_elements": '{"ConsoleLogin":"Failure"}'}),
    (EVENTBRIDGE, "aws.cloudtrail", {
        "eventName": "CreateAccessKey", "eventSource": "iam.amazonaws.com",
        "aws.eventbridge.source": "aws.iam", "source.ip": "203.0.113.24",
        "@timestamp": "2026-11-24T01:17:00.000Z"}),
    (AZURE_SIGNIN, "azure.signinlogs", {
        "@timestamp": "2026-11-24T01:15:30.123Z", "resultType": "50053",
        "properties.deviceDetail.trustType": "", "properties.status.errorCode": 50053,
        "source.ip": "203.0.113.9", "user.name": "nam@sotttt.gov.vn",
        "event.outcome": "failure", "cloud.provider": "azure"}),
    (AZURE_AUDIT, "azure.auditlogs", {
        "properties.targetResources.modifiedProperties.newValue":
        ["\"Global Administrator\"", "\"62e90394-69f5-4237-9190-012177145e10\""],
        "properties.targetResources.userPrincipalName": ["tuan@sotttt.gov.vn"],
        "event.action": "Add member to role", "event.outcome": "success"}),
    (GRAPH_DIRECTORY_AUDIT, "azure.auditlogs", {
        "operationName": "Add member to role", "category": "AuditLogs",
        "properties.category": "RoleManagement", "@timestamp": "2026-11-24T01:18:00.000Z"}),
    (AZURE_ACTIVITY, "azure.activitylogs", {
        "operationName": "MICROSOFT.NETWORK/AZUREFIREWALLS/DELETE", "event.outcome": "success",
        "identity.authorization.action": "Microsoft.Network/azureFirewalls/delete"}),
    (AZURE_RISK, "azure.identity_protection", {"properties.riskEventType": "unfamiliarFeatures"}),
    (GCP_AUDIT, "gcp.audit", {
        "@timestamp": "2026-11-24T01:21:00.123Z", "protoPayload.methodName":
        "storage.buckets.delete", "protoPayload.authorizationInfo.permission":
        ["storage.buckets.delete"], "source.ip": "203.0.113.9",
        "user.email": "ops@sotttt.gov.vn", "cloud.project.id": "sotttt-prod",
        "event.outcome": "success", "gcp.trace":
        "projects/sotttt-prod/traces/0af7651916cd43dd8448eb211c80319c"}),
    ({"message": {"data": "x"}, **{"data": GCP_AUDIT}}, "gcp.audit", {
        "protoPayload.methodName": "storage.buckets.delete", "gcp.pubsub.message.data": "x"}),
    (WORKSPACE_LOGGING, "google_workspace.admin", {
        "google_workspace.parameter.setting_name": "ContextAwareAccess Access level",
        "google_workspace.parameter.new_value": "false",
        "google_workspace.service": "admin.googleapis.com",
        "protoPayload.metadata.event.eventName": ["CHANGE_APPLICATION_SETTING"]}),
    (WORKSPACE_REPORTS, "google_workspace.login", {
        "@timestamp": "2026-11-24T01:23:00.000Z", "events.name": ["suspicious_login"],
        "google_workspace.service": "login.googleapis.com",
        "google_workspace.parameter.affected_email_address": "nam@sotttt.gov.vn",
        "source.ip": "203.0.113.9", "user.email": "nam@sotttt.gov.vn"}),
    (M365, "o365.audit", {
        "@timestamp": "2026-11-24T01:24:00.000Z", "Parameters.Name":
        ["Name", "MoveToFolder", "SubjectOrBodyContainsWords", "StopProcessingRules"],
        "source.ip": "203.0.113.9", "user.id": "nam@sotttt.gov.vn",
        "event.outcome": "success", "event.code": "1"}),
    (OKTA, "okta.system", {
        "@timestamp": "2026-11-24T01:25:00.456Z", "target.displayName": ["ci-token"],
        "request.ipChain.ip": ["203.0.113.45"], "source.ip": "203.0.113.45",
        "user.name": "admin@sotttt.gov.vn", "event.outcome": "success",
        "securityContext.isProxy": False}),
    (GITHUB, "github.audit", {
        "@timestamp": "2026-11-24T01:15:00.000Z", "action": "repo.pages_public",
        "github.user": "octocat", "user.name": "octocat", "event.action": "repo.pages_public"}),
    (BITBUCKET, "bitbucket.audit", {
        "@timestamp": "2026-11-24T01:15:00.125Z", "auditType.category": "Auditing",
        "bitbucket.source": "10.20.0.31", "source.ip": "10.20.0.31", "user.name": "admin",
        "changedValues.to": ["ADVANCED"]}),
    (K8S, "kubernetes.audit", {
        "@timestamp": "2026-11-24T01:26:00.123Z", "objectRef.subresource": "exec",
        "user.username": "system:serviceaccount:default:ci", "source.ip": "10.20.0.7",
        "http.response.status_code": 101, "event.outcome": "success",
        "annotations.authorization.k8s.io/decision": "allow"}),
    (ONELOGIN, "onelogin.events", {"event.code": "3", "source.ip": "203.0.113.9",
                                   "user.name": "Tran Tuan"}),
    (DUO, "cisco_duo.auth", {"@timestamp": "2026-11-24T01:28:00.456Z", "user.name": "nam",
                             "source.ip": "203.0.113.9", "event.outcome": "success"}),
    (ESLOGGER_EXEC, "macos.eslogger", {
        "@timestamp": "2026-11-24T01:29:00.123Z", "event.action": "exec",
        "process.executable": "/usr/bin/osascript", "process.name": "osascript",
        "process.command_line": "osascript -e display dialog \"Password\" default answer \"\" "
                                "with hidden answer",
        "process.parent.executable": "/bin/zsh", "process.parent.pid": 400,
        "process.working_directory": "/Users/nam", "user.id": "501",
        "eslogger.event.exec.cwd.path": "/Users/nam"}),
    (ESLOGGER_CREATE, "macos.eslogger", {
        "event.action": "create", "file.path": "/Library/LaunchDaemons/com.finder.helper.plist",
        "process.executable": "/usr/bin/curl", "event.type": ["creation"]}),
    (ESLOGGER_CREATE_NEW, "macos.eslogger", {"file.path": "/tmp/6202033",
                                             "file.name": "6202033"}),
    (UNIFIED_LOG, "macos.unified_log", {
        "@timestamp": "2026-11-24T01:30:00.123Z", "process.executable": "/usr/sbin/sshd",
        "message": "Accepted publickey for nam from 10.20.0.7", "process.pid": 321}),
    (OPENCANARY, "opencanary.log", {
        "@timestamp": "2026-11-24T01:31:00.123Z", "logtype": 2000, "event.code": "2000",
        "event.action": "ftp_login_attempt", "source.ip": "203.0.113.9", "source.port": 51234,
        "destination.ip": "10.20.0.50", "destination.port": 21, "user.name": "admin",
        "observer.name": "canary-sotttt-01", "event.kind": "alert", "rule.id": "2000",
        "rule.name": "OpenCanary ftp login attempt"}),
    (OPENCANARY_BOOT, "opencanary.log", {  # the honeypot's own life: no alert
        "event.kind": "event", "event.action": "base_msg", "rule.name": None,
        "source.ip": None}),
    (OPENCANARY_PORTSCAN, "opencanary.log", {  # no utc_time: local_time in the zone
        "@timestamp": "2026-11-24T01:32:00.000Z", "event.action": "port_nmapfin"}),
])
def test_native_exports(record: dict[str, Any], dataset: str, fields: dict[str, Any]) -> None:
    ev = parse(record)
    assert ev["event.dataset"] == dataset
    assert {k: ev.get(k) for k in fields} == fields
    assert not [k for k in ev if "." not in k and k in ("user", "source", "trace", "process")]
    # key order means nothing: the same record reversed gives the same event
    assert parse(dict(reversed(list(record.items())))) == ev


def test_a_record_of_another_json_stays_json() -> None:
    ev = parse({"time": "2026-11-24T01:15:00Z", "msg": "hello", "level": "info"})
    assert ev["event.dataset"] not in {"aws.cloudtrail", "okta.system", "github.audit"}


@pytest.mark.parametrize(("text", "reason"), [
    (json.dumps({"Records": [CLOUDTRAIL, CONSOLE_LOGIN_FAILED]}), r"jq -c '\.Records\[\]'"),
    (json.dumps({"records": [AZURE_SIGNIN]}), r"jq -c '\.records\[\]'"),
    (json.dumps(CLOUDTRAIL)[:200], "invalid JSON"),
    (json.dumps({**CLOUDTRAIL, "eventTime": "yesterday"}), "bad timestamp"),
    (json.dumps({k: v for k, v in OKTA.items() if k != "published"} | {"uuid": "u"}),
     "no timestamp"),
])
def test_bad_records_are_dead_letters_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        JsonLinesParser().parse(text, CTX)


def test_odd_values_do_not_break_the_ecs_fields() -> None:
    """A service name for an address, a port in ClientIP, IPv6 in brackets."""
    ev = parse({**CLOUDTRAIL, "sourceIPAddress": "ec2.amazonaws.com"})
    assert "source.ip" not in ev and ev["source.address"] == "ec2.amazonaws.com"
    ev = parse({**M365, "ClientIP": "[2001:db8::7]:443"})
    assert ev["source.ip"] == "2001:db8::7"
    ev = parse({**OPENCANARY, "src_host": "", "logtype": "x" * 5000})
    assert "source.ip" not in ev and "event.action" not in ev


# --- SigmaHQ's rules on these records ($SOC_CORPUS) --------------------------------------------

RULES = [
    ("rules/cloud/aws/cloudtrail/aws_disable_bucket_versioning.yml", CLOUDTRAIL),
    ("rules/cloud/azure/signin_logs/azure_account_lockout.yml", AZURE_SIGNIN),
    ("rules/cloud/azure/audit_logs/azure_ad_user_added_to_admin_role.yml", AZURE_AUDIT),
    ("rules/cloud/azure/audit_logs/azure_ad_user_added_to_admin_role.yml",
     GRAPH_DIRECTORY_AUDIT),
    ("rules/cloud/azure/activity_logs/azure_firewall_modified_or_deleted.yml", AZURE_ACTIVITY),
    ("rules/cloud/azure/identity_protection/azure_identity_protection_unfamilar_sign_in.yml",
     AZURE_RISK),
    ("rules/cloud/gcp/audit/gcp_bucket_modified_or_deleted.yml", GCP_AUDIT),
    ("rules/cloud/gcp/gworkspace/admin/"
     "gcp_gworkspace_application_access_levels_modified.yml",
     WORKSPACE_LOGGING),
    ("rules/cloud/gcp/gworkspace/login/gcp_gworkspace_suspicious_login.yml", WORKSPACE_REPORTS),
    ("rules-threat-hunting/cloud/m365/audit/"
     "microsoft365_susp_inbox_rule_creation_or_update_activity.yml", M365),
    ("rules/identity/okta/okta_api_token_created.yml", OKTA),
    ("rules/application/github/audit/github_pages_site_changed_to_public.yml", GITHUB),
    ("rules/application/bitbucket/audit/bitbucket_audit_log_configuration_update_detected.yml",
     BITBUCKET),
    ("rules/application/kubernetes/audit/kubernetes_audit_exec_into_container.yml", K8S),
    ("rules/identity/onelogin/onelogin_assumed_another_user.yml", ONELOGIN),
    ("rules/identity/cisco_duo/cisco_duo_mfa_bypass_via_bypass_code.yml", DUO),
    ("rules/macos/process_creation/proc_creation_macos_applescript.yml", ESLOGGER_EXEC),
    ("rules-emerging-threats/2025/Malware/Atomic-MacOS-Stealer/"
     "file_event_macos_malware_amos_persistence.yml", ESLOGGER_CREATE),
    ("rules/application/opencanary/opencanary_ftp_login_attempt.yml", OPENCANARY),
    ("rules/application/opencanary/opencanary_portscan_nmap_fin_scan.yml", OPENCANARY_PORTSCAN),
]


def sigmahq_rule(corpus: Path, relative: str) -> Path:
    """A SigmaHQ rule by its path, or by its file name when SigmaHQ moved it."""
    path = corpus / "sigmahq" / relative
    if not path.exists():
        found = sorted((corpus / "sigmahq").rglob(Path(relative).name))
        assert found, relative
        path = found[0]
    return path


@pytest.mark.parametrize(("rule", "record"), RULES, ids=[Path(r).stem for r, _ in RULES])
def test_sigmahq_rule_fires_on_native_record(corpus: Path, rule: str,
                                             record: dict[str, Any]) -> None:
    engine = Engine.from_paths([sigmahq_rule(corpus, rule)], use_cache=False)
    assert engine.errors == []
    event = parse(record)
    assert [h.title for h in engine.match(event)]
    # ...and only on its own source: the rule stays quiet on the records of every other one
    others = [parse(r) for _, r in RULES]
    assert [h.title for other in others if other["event.dataset"] != event["event.dataset"]
            for h in engine.match(other)] == []


@pytest.mark.parametrize("folder", [
    "rules/cloud/aws", "rules/identity/okta", "rules/cloud/gcp", "rules/identity/onelogin",
    "rules/application/github", "rules/application/bitbucket", "rules/application/kubernetes",
    "rules/application/opencanary", "rules/macos", "rules/identity/cisco_duo",
])
def test_every_sigmahq_rule_of_a_native_source_is_usable(corpus: Path, folder: str) -> None:
    engine = Engine.from_paths([corpus / "sigmahq" / folder], use_cache=False)
    assert [(i.path, i.reason) for i in engine.errors] == []
    assert engine.rules
