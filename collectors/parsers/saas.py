"""SaaS audit logs as their vendors export them → events with the native fields kept.

* **Okta** System Log API events (``eventType`` + ``published`` + ``actor``) → ``okta.system``.
* **GitHub** audit log (the REST API, the JSON export and audit log streaming: ``action`` +
  ``actor`` + ``org``/``business``/``_document_id``) → ``github.audit``.
* **Bitbucket** Data Center audit log files (``auditType.category`` + ``auditType.action``) →
  ``bitbucket.audit``; the time is ``timestamp.epochSecond`` and ``.nano``.
* **OneLogin** Events API (``event_type_id`` + ``created_at``) → ``onelogin.events``.
* **Cisco Duo** Admin API authentication logs (``txid`` + ``event_type`` + ``result``) →
  ``cisco_duo.auth``.

Native names stay (see :mod:`collectors.parsers.jsonnative`): GitHub's ``user`` and Bitbucket's
``source`` (the client address) move to ``github.user`` and ``bitbucket.source``, as ECS owns
those names. ECS ``event.action``, ``event.outcome``, ``source.ip``, ``user.name`` are added.
"""

from __future__ import annotations

from contextlib import suppress

from collectors.parsers.jsonl import to_timestamp
from collectors.parsers.jsonnative import (
    NativeFormat,
    first,
    move_ecs_roots,
    outcome,
    put,
    put_ip,
    spread,
)
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext


def _base(ev: Event, prefix: str) -> None:
    spread(ev)
    move_ecs_roots(ev, prefix)
    ev.setdefault("event.kind", "event")


# --- Okta --------------------------------------------------------------------------------------

def detect_okta(ev: Event) -> str | None:
    if "eventType" in ev and "published" in ev and ("actor.id" in ev or "uuid" in ev):
        return "okta.system"
    return None


def refine_okta(ev: Event, ctx: ParseContext) -> None:
    _base(ev, "okta")
    put(ev, "event.action", ev.get("eventType"))
    put_ip(ev, "source.ip", ev.get("client.ipAddress"))
    put(ev, "user.name", first(ev, "actor.alternateId", "actor.displayName"))
    put(ev, "user_agent.original", ev.get("client.userAgent.rawUserAgent"))
    put(ev, "message", ev.get("displayMessage"))
    outcome(ev, ev.get("outcome.result"), {"success", "allow"}, {"failure", "deny"})


OKTA = NativeFormat("okta", detect_okta, ("published",), refine_okta)


# --- GitHub ------------------------------------------------------------------------------------

def detect_github(ev: Event) -> str | None:
    if ("action" in ev and ("actor" in ev or "actor_id" in ev)
            and ("_document_id" in ev or "org" in ev or "business" in ev)
            and ("@timestamp" in ev or "created_at" in ev)):
        return "github.audit"
    return None


def refine_github(ev: Event, ctx: ParseContext) -> None:
    _base(ev, "github")
    put(ev, "event.action", ev.get("action"))
    put(ev, "user.name", ev.get("actor"))
    put_ip(ev, "source.ip", ev.get("actor_ip"))
    put(ev, "user.target.name", ev.get("github.user"))


GITHUB = NativeFormat("github", detect_github, ("@timestamp", "created_at"), refine_github)


# --- Bitbucket ---------------------------------------------------------------------------------

def detect_bitbucket(ev: Event) -> str | None:
    if "auditType.action" in ev and "auditType.category" in ev:
        return "bitbucket.audit"
    return None


def refine_bitbucket(ev: Event, ctx: ParseContext) -> None:
    _base(ev, "bitbucket")
    seconds, nano = ev.get("timestamp.epochSecond"), ev.get("timestamp.nano")
    if isinstance(seconds, int) and isinstance(nano, int) and 0 <= nano < 1_000_000_000:
        with suppress(ParseError):  # out of range: the seconds alone gave the time already
            ev["@timestamp"] = to_timestamp(seconds + nano / 1e9, ctx.tz)
    put(ev, "event.action", ev.get("auditType.action"))
    put(ev, "user.name", ev.get("author.name"))
    put_ip(ev, "source.ip", ev.get("bitbucket.source"))


BITBUCKET = NativeFormat("bitbucket", detect_bitbucket, ("timestamp.epochSecond",),
                         refine_bitbucket)


# --- OneLogin ----------------------------------------------------------------------------------

def detect_onelogin(ev: Event) -> str | None:
    if "event_type_id" in ev and "created_at" in ev and ("account_id" in ev or "user_id" in ev):
        return "onelogin.events"
    return None


def refine_onelogin(ev: Event, ctx: ParseContext) -> None:
    _base(ev, "onelogin")
    code = ev.get("event_type_id")
    if code is not None:
        ev["event.code"] = str(code)
    put_ip(ev, "source.ip", ev.get("ipaddr"))
    put(ev, "user.name", ev.get("user_name"))


ONELOGIN = NativeFormat("onelogin", detect_onelogin, ("created_at",), refine_onelogin)


# --- Cisco Duo ---------------------------------------------------------------------------------

def detect_duo(ev: Event) -> str | None:
    if "txid" in ev and "event_type" in ev and "result" in ev:
        return "cisco_duo.auth"
    return None


def refine_duo(ev: Event, ctx: ParseContext) -> None:
    _base(ev, "cisco_duo")
    put(ev, "event.action", ev.get("event_type"))
    put_ip(ev, "source.ip", ev.get("access_device.ip"))
    outcome(ev, ev.get("result"), {"success"}, {"denied", "failure", "fraud", "error"})


DUO = NativeFormat("cisco_duo", detect_duo, ("isotimestamp", "timestamp"), refine_duo)

FORMATS = (OKTA, GITHUB, BITBUCKET, ONELOGIN, DUO)
