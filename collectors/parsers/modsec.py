"""ModSecurity audit log → ``modsecurity.audit`` events: the request, its body, and CRS's verdict.

Three shapes of one transaction, v2 (Apache) and v3 (libmodsecurity: Nginx, Apache connector):

* **JSON**, one object per line (``SecAuditLogFormat JSON``). v2 writes ``transaction`` (time,
  ``transaction_id``, ``remote_address``...), ``request`` (``request_line``, ``headers``,
  ``body`` as a list of chunks), ``response`` (``status``) and ``audit_data`` (``messages`` as
  text, ``action.intercepted``); v3 writes one ``transaction`` object holding ``client_ip``,
  ``time_stamp`` (local ``ctime`` form: ``ctx.tz``), ``request`` (``method``, ``uri``,
  ``headers``, ``body``), ``response`` (``http_code``) and ``messages`` with ``details``.
* **Native serial**: parts between ``--<id>-A--`` and ``--<id>-Z--`` (v3: ``---<id>---A--``):
  A the header (time, unique id, client and server address), B the request line and headers,
  C the request body (I its compact form), F the response status line, H the trailer
  (``Message:`` lines, v3 ``ModSecurity:`` lines, ``Action: Intercepted``, ``Producer:``).
  Such a record spans lines: the file collector hands it over whole (see
  :mod:`collectors.filerecords`). A record cut short (no Z part) is still read, flagged
  ``log.flags: incomplete``; a record without H is a request without verdict.

Fields: ``source.ip``/``port``, ``destination.ip``/``port``, ``url.*``, ``http.request.method``,
``http.version``, ``http.request.id`` (the unique id), ``user_agent.original``,
``http.request.referrer``, ``http.request.body.content`` (at most :data:`BODY_BYTES`; the body's
size in ``http.request.body.bytes``; ``modsecurity.body_truncated`` when cut here, by ModSecurity,
or by the collector's record bound), ``http.response.status_code``, and the verdict of
:class:`~collectors.parsers.modsec_messages.Verdicts` (``rule.id``, ``rule.name``,
``modsecurity.anomaly_score``, ``event.action``, ``event.kind``). The web enrichment then runs
on the request (its URL and body).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar
from urllib.parse import quote

from collectors.parsers.modsec_messages import (
    Verdicts,
    message_of_details,
    parse_message,
)
from collectors.parsers.web import MONTHS, put_request, put_url
from collectors.parsers.webattack import MAX_EVIDENCE, enrich_web
from collectors.parsers.webdecode import decode_query
from soc import jsonutil
from soc.ecs import Event, format_ts
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

BODY_BYTES = 8 << 10
"""What ``http.request.body.content`` keeps of a request body (UTF-8 bytes)."""

PART = re.compile(r"-{2,3}([0-9A-Za-z]{6,40})-{1,3}([A-Z])--[ \t\r]*$")
"""A part's boundary line: ``--3b9e0c3c-B--`` (v2), ``---hNMmPtXt---B--`` (v3)."""
_STAMP = re.compile(r"\[?(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))? "
                    r"([+-])(\d\d)(\d\d)\]?")
_CTIME = re.compile(r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$")
_HEADER_A = re.compile(r"(\[[^\]]{20,40}\]) (\S+) (\S+) (\d{1,5}) (\S+) (\d{1,5})")


@dataclass(slots=True)
class Transaction:
    """What one audit record says, in any of its shapes."""

    when: str = ""
    unique_id: str = ""
    client: tuple[str, int | None] = ("", None)
    server: tuple[str, int | None] = ("", None)
    request_line: str = ""  # serial and v2 JSON; v3 JSON gives its parts
    method: str = ""
    uri: str = ""
    version: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: str | None = None
    status: int | None = None
    verdicts: Verdicts = field(default_factory=Verdicts)
    producer: str = ""
    complete: bool = True


class ModSecAuditParser:
    """ModSecurity audit records (JSON lines, or native serial records) → ``modsecurity.audit``."""

    name: ClassVar[str] = "modsec_audit"
    priority: ClassVar[int] = 6  # before jsonl, which would take the JSON shape as plain JSON
    markers: ClassVar[tuple[str, ...]] = ('{"transaction"', "-A--")

    def sniff(self, text: str) -> bool:
        """A JSON object whose first key is ``transaction``, or a serial record's A part."""
        head = text[:64].lstrip()
        if head.startswith("{"):
            return head.startswith('{"transaction"')  # as ModSecurity writes it: compact
        first = head.partition("\n")[0]
        return PART.match(first) is not None and first.rstrip().endswith("-A--")

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One record → event; :class:`ParseError` when it is none."""
        stripped = text.lstrip()
        if stripped.startswith("{"):
            return build_event(_from_json(stripped, ctx))
        return build_event(parse_serial(stripped))


def build_event(tx: Transaction) -> Event:
    """The event of one transaction (see the module's docstring)."""
    if not tx.when:
        raise ParseError("ModSecurity audit record without a time")
    ev: Event = {"@timestamp": tx.when, "event.dataset": "modsecurity.audit",
                 "event.module": "modsecurity", "event.kind": "event",
                 "event.category": ["web"], "event.type": ["access"]}
    _put_peers(ev, tx)
    _put_request(ev, tx)
    _put_headers(ev, tx.headers)
    _put_body(ev, tx)
    if tx.status is not None:
        ev["http.response.status_code"] = tx.status
        ev["event.outcome"] = "success" if tx.status < 400 else "failure"
    if tx.producer:
        ev["modsecurity.producer"] = tx.producer
    if not tx.complete:
        ev["log.flags"] = ["incomplete"]
    tx.verdicts.put(ev, tx.status)
    _enrich(ev)
    return ev


def _put_peers(ev: Event, tx: Transaction) -> None:
    for prefix, (ip, port) in (("source", tx.client), ("destination", tx.server)):
        if ip:
            ev[f"{prefix}.ip"] = ip
        if port is not None:
            ev[f"{prefix}.port"] = port
    if tx.unique_id:
        ev["http.request.id"] = tx.unique_id


def _put_request(ev: Event, tx: Transaction) -> None:
    if tx.request_line:
        put_request(ev, tx.request_line)
        return
    if tx.method:
        ev["http.request.method"] = tx.method
    if tx.uri:
        put_url(ev, tx.uri)
    if tx.version:
        ev["http.version"] = tx.version.removeprefix("HTTP/")


def _put_headers(ev: Event, headers: dict[str, str]) -> None:
    for name, key in (("user-agent", "user_agent.original"),
                      ("referer", "http.request.referrer"), ("host", "url.domain"),
                      ("content-type", "http.request.mime_type")):
        value = headers.get(name)
        if value:
            ev.setdefault(key, value)


def _put_body(ev: Event, tx: Transaction) -> None:
    body = tx.body
    if not body:
        return
    raw = body.encode("utf-8", "surrogatepass")
    size = max(len(raw), _content_length(tx.headers))
    ev["http.request.body.bytes"] = size
    kept = raw[:BODY_BYTES].decode("utf-8", "ignore") if len(raw) > BODY_BYTES else body
    ev["http.request.body.content"] = kept
    if len(raw) > BODY_BYTES or size > len(raw):
        ev["modsecurity.body_truncated"] = True


def _content_length(headers: dict[str, str]) -> int:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdecimal() and len(value) <= 15 else 0


def _enrich(ev: Event) -> None:
    """The web enrichment of the URL (as for access events), then of the body's parameters:
    their verdicts add to the URL's, their names and values follow the query's."""
    enrich_web(ev)
    body = ev.get("http.request.body.content")
    if not isinstance(body, str) or not body:
        return
    params = body_params(body, str(ev.get("http.request.mime_type", "")))
    scratch: Event = {"url.query": params}
    enrich_web(scratch)
    # Names and values of the query and the body, always (the access-log enrichment leaves
    # them out where decoding changes nothing; an audit record is rare and its body is the point)
    names: list[str] = []
    values: list[str] = []
    for query in (ev.get("url.query"), params):
        if isinstance(query, str) and query:
            _, more_names, more_values, _ = decode_query(query)
            names += more_names
            values += more_values
    if names:
        ev["web.decoded.names"], ev["web.decoded.values"] = names, values
    if "web.attack.score" not in scratch:
        return  # a quiet body: no verdict to add (a quiet request carries no web.attack.*)
    for key in ("web.attack.classes",):
        added = scratch.get(key) or []
        if added:
            mine = ev.setdefault(key, [])
            mine.extend(v for v in added if key != "web.attack.classes" or v not in mine)
    ev["web.attack.score"] = int(ev.get("web.attack.score") or 0) + int(
        scratch.get("web.attack.score") or 0)
    ev["web.attack.strong"] = bool(ev.get("web.attack.strong") or scratch.get("web.attack.strong"))
    evidence = [f"body {e}" for e in scratch.get("web.attack.evidence") or []]
    if evidence:
        before = ev.get("web.attack.evidence") or []
        ev["web.attack.evidence"] = [*before, *evidence][:MAX_EVIDENCE]
    if "web.attack.sqli.fingerprint" in scratch:
        ev.setdefault("web.attack.sqli.fingerprint", scratch["web.attack.sqli.fingerprint"])


def body_params(body: str, mime: str) -> str:
    """A request body as a query string the enrichment decodes: a form as it is, the string
    leaves of a JSON document as ``name=value`` pairs, anything else as one ``body`` value."""
    mime = mime.lower()
    if "x-www-form-urlencoded" in mime or (not mime and "=" in body and " " not in body
                                           and "\n" not in body):
        return body
    if "json" in mime or body.lstrip()[:1] in ("{", "["):
        try:
            doc = jsonutil.loads(body)
        except (ValueError, RecursionError):
            doc = None
        if doc is not None:
            pairs = [f"{quote(name, safe='')}={quote(value, safe='')}"
                     for name, value in _leaves(doc, "", [])]
            if pairs:
                return "&".join(pairs)
    return "body=" + quote(body, safe="")


def _leaves(doc: Any, name: str, found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The string and number leaves of a JSON document, by dotted name, at most 200."""
    if len(found) >= 200:
        return found
    if isinstance(doc, dict):
        for key, value in doc.items():
            _leaves(value, f"{name}.{key}" if name else str(key), found)
    elif isinstance(doc, list):
        for value in doc:
            _leaves(value, name, found)
    elif isinstance(doc, str | int | float) and not isinstance(doc, bool):
        found.append((name or "json", str(doc)))
    return found


# --------------------------------------------------------------------------- JSON (v2, v3)


def _from_json(text: str, ctx: ParseContext) -> Transaction:
    try:
        doc = jsonutil.loads(text)
    except (ValueError, RecursionError):
        raise ParseError("invalid JSON in a ModSecurity audit record") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("transaction"), dict):
        raise ParseError("not a ModSecurity audit record (no transaction object)")
    inner: dict[str, Any] = doc["transaction"]
    if "request" in doc or "audit_data" in doc or "time" in inner:
        return _from_v2(doc, inner)
    return _from_v3(inner, ctx)


def _from_v2(doc: dict[str, Any], inner: dict[str, Any]) -> Transaction:
    request, response, audit = (_obj(doc, k) for k in ("request", "response", "audit_data"))
    tx = Transaction(when=access_time(_text(inner.get("time"))),
                     unique_id=_text(inner.get("transaction_id")),
                     client=(_text(inner.get("remote_address")), _port(inner.get("remote_port"))),
                     server=(_text(inner.get("local_address")), _port(inner.get("local_port"))),
                     request_line=_text(request.get("request_line")),
                     headers=_headers(request.get("headers")), body=_body(request.get("body")),
                     status=_status(response.get("status")))
    for message in _list(audit.get("messages")):
        if isinstance(message, str):
            tx.verdicts.add(parse_message(message))
    tx.verdicts.intercepted = _obj(audit, "action").get("intercepted") is True
    producer = audit.get("producer")
    tx.producer = "; ".join(p for p in _list(producer) if isinstance(p, str)) if isinstance(
        producer, list) else _text(producer)
    return tx


def _from_v3(inner: dict[str, Any], ctx: ParseContext) -> Transaction:
    request, response = _obj(inner, "request"), _obj(inner, "response")
    tx = Transaction(when=ctime(_text(inner.get("time_stamp")), ctx),
                     unique_id=_text(inner.get("unique_id")),
                     client=(_text(inner.get("client_ip")), _port(inner.get("client_port"))),
                     server=(_text(inner.get("host_ip")), _port(inner.get("host_port"))),
                     method=_text(request.get("method")), uri=_text(request.get("uri")),
                     version=_text(request.get("http_version")),
                     headers=_headers(request.get("headers")), body=_body(request.get("body")),
                     status=_status(response.get("http_code")))
    for item in _list(inner.get("messages")):
        if isinstance(item, dict):
            tx.verdicts.add(message_of_details(_text(item.get("message")),
                                               _obj(item, "details")))
    producer = _obj(inner, "producer")
    tx.producer = "; ".join(_text(producer.get(k)) for k in ("modsecurity", "connector")
                            if producer.get(k))
    return tx


def _obj(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _port(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text.isdecimal() and len(text) <= 5 and int(text) < 65536 else None


def _status(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text.isdecimal() and len(text) == 3 else None


def _headers(value: Any) -> dict[str, str]:
    """Header names lower-cased; a list of values (Coraza's shape) joined by ``, ``."""
    if not isinstance(value, dict):
        return {}
    found: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, list):
            item = ", ".join(v for v in item if isinstance(v, str))
        if isinstance(item, str | int):
            found[str(name).lower()] = str(item)
    return found


def _body(value: Any) -> str | None:
    """v3 writes a text; v2 a list of chunks."""
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- times


def access_time(text: str) -> str:
    """``[27/Jul/2016:05:46:16 +0200]`` (brackets optional, fraction allowed) → canonical UTC."""
    m = _STAMP.fullmatch(text.strip())
    if m is None or m[2] not in MONTHS:
        raise ParseError(f"bad ModSecurity time {text[:40]!r}")
    day, mon, year, hh, mi, ss, frac, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    micro = int((frac or "0")[:6].ljust(6, "0"))
    return _stamp(lambda: datetime(int(year), MONTHS[mon], int(day), int(hh), int(mi), int(ss),
                                   micro, tzinfo=timezone(offset)))


def ctime(text: str, ctx: ParseContext) -> str:
    """v3's ``Wed Apr 23 22:15:00 2025``, the server's local time (``ctx.tz``) → canonical UTC."""
    m = _CTIME.match(text.strip())
    if m is None or m[1] not in MONTHS:
        raise ParseError(f"bad ModSecurity time {text[:40]!r}")
    mon, day, hh, mi, ss, year = m.groups()
    return _stamp(lambda: datetime(int(year), MONTHS[mon], int(day), int(hh), int(mi), int(ss),
                                   tzinfo=ctx.tz))


def _stamp(make: Callable[[], datetime]) -> str:
    try:
        return format_ts(make())
    except (ValueError, OverflowError):
        raise ParseError("bad date or time in a ModSecurity audit record") from None


def header_a(line: str) -> tuple[str, str, tuple[str, int | None], tuple[str, int | None]]:
    """Part A's line: time, unique id, client address and port, server address and port."""
    m = _HEADER_A.match(line.strip())
    if m is None:
        raise ParseError("ModSecurity audit record with a bad A part")
    stamp, unique, cip, cport, sip, sport = m.groups()
    return access_time(stamp), unique, (cip, _port(cport)), (sip, _port(sport))


# --------------------------------------------------------------------------- native serial


def parse_serial(text: str) -> Transaction:
    """A serial record (parts A to Z, v2 or v3) → :class:`Transaction`."""
    parts, complete = split_parts(text)
    head = next((line for line in parts.get("A", ()) if line.strip()), None)
    if head is None:
        raise ParseError("not a ModSecurity audit record (no A part)")
    when, unique, client, server = header_a(head)
    tx = Transaction(when=when, unique_id=unique, client=client, server=server,
                     complete=complete)
    _part_b(tx, parts.get("B", []))
    body = parts.get("C") or parts.get("I")
    if body:
        tx.body = "\n".join(body[:-1] if body[-1] == "" else body) or None
    status = parts.get("F", [""])[0].split(" ")
    if len(status) > 1 and status[0].startswith("HTTP/"):
        tx.status = _status(status[1])
    _part_h(tx, parts.get("H", []))
    return tx


def split_parts(text: str) -> tuple[dict[str, list[str]], bool]:
    """The lines of each part, by letter, and whether the record reached its Z part. Only
    boundaries with the A part's id count (a body may hold lines that look like one)."""
    parts: dict[str, list[str]] = {}
    lines = text.split("\n")
    first = PART.match(lines[0].rstrip("\r"))
    if first is None or first[2] != "A":
        raise ParseError("not a ModSecurity audit record (it must start with its A part)")
    boundary, current = first[1], parts.setdefault("A", [])
    for line in lines[1:]:
        line = line.removesuffix("\r")
        if line.endswith("--") and line.startswith("--"):
            m = PART.match(line)
            if m is not None and m[1] == boundary:
                if m[2] == "Z":
                    return parts, True
                current = parts.setdefault(m[2], [])
                continue
        current.append(line)
    return parts, False


def _part_b(tx: Transaction, lines: list[str]) -> None:
    """The request line, then headers up to the blank line."""
    if not lines:
        return
    tx.request_line = lines[0]
    for line in lines[1:]:
        if not line:
            break
        name, sep, value = line.partition(":")
        if sep:
            tx.headers.setdefault(name.strip().lower(), value.strip())


def _part_h(tx: Transaction, lines: list[str]) -> None:
    for line in lines:
        name, sep, value = line.partition(": ")
        if not sep:
            continue
        if name in ("Message", "ModSecurity"):
            tx.verdicts.add(parse_message(value))
        elif name == "Action" and value.startswith("Intercepted"):
            tx.verdicts.intercepted = True
        elif name == "Producer":
            tx.producer = value.rstrip(".")
