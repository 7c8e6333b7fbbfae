"""ModSecurity's rule messages, wherever they are written, → rule ids, names, severity, verdict.

One message has the same shape in the audit log (v2 ``Message:`` lines of part H and the JSON
``audit_data.messages``, v3 ``ModSecurity:`` lines of part H) and in the web servers' error logs
(``ModSecurity: Warning. ... [id "942100"] [msg "..."] [data "..."] [severity "CRITICAL"]``):
the engine's text, then ``[name "value"]`` tags. :func:`parse_message` splits one; a
:class:`Verdicts` sums several into the fields of an event (``rule.id``, ``rule.name``,
``event.severity``, ``modsecurity.anomaly_score``, ``event.action``, ``event.kind``).

The verdict follows the OWASP Core Rule Set's anomaly scoring: a request is **blocked** when the
engine says ``Access denied`` (or the transaction was intercepted), and it is an **alert**
(``event.kind: alert``, raised as a soc alert by :mod:`soc.detection.passthrough`) when it was
blocked, when the blocking evaluation (rule 949110) fired, or when the inbound anomaly score
reached the threshold (5, CRS's default, unless the messages name another).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from soc.ecs import Event

SEVERITIES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
"""ModSecurity's severity names; v3 writes their index (``[severity "2"]`` is CRITICAL)."""
BLOCKING_RULES = frozenset(("949110", "959100"))
"""CRS's blocking evaluations (inbound, outbound): they fire once the score reaches the
threshold, and deny the request unless the engine runs DetectionOnly."""
DEFAULT_THRESHOLD = 5
"""CRS's default inbound anomaly score threshold."""
MAX_MESSAGES = 200
"""Messages kept per event (a request can match hundreds of rules at paranoia level 4)."""
MAX_DATA_CHARS = 512
"""What ``modsecurity.data`` keeps of each message's matched data."""

_TAG = re.compile(r'\[([a-z_]++) "([^"\\]*+(?:\\.[^"\\]*+)*+)"\]')
_ESCAPE = re.compile(r"\\(.)")
_SCORES = (
    re.compile(r"Total (?:Inbound )?Score: (\d{1,9})"),  # 949110, CRS 3 980130
    re.compile(r"Inbound Scores: blocking=(\d{1,9})"),  # CRS 4 980170
    re.compile(r"(?i)TX:(?:blocking_)?(?:inbound_)?anomaly_score' \(Value: `(\d{1,9})'"),  # v3
)
_THRESHOLDS = (
    re.compile(r"(?i)Operator GE matched (\d{1,9}) at TX:(?:blocking_)?(?:inbound_)?anomaly_score"),
    re.compile(r"Inbound Scores: [^)]*?threshold=(\d{1,9})"),
    re.compile(r"(?i)with parameter `(\d{1,9})' against variable `TX:(?:blocking_)?"
               r"(?:inbound_)?anomaly_score'"),
)


@dataclass(frozen=True, slots=True)
class Message:
    """One rule message: the engine's text and its tags (the first value of each name, and
    every ``[tag ...]``)."""

    engine: str
    values: dict[str, str]
    tags: tuple[str, ...] = ()

    @property
    def rule_id(self) -> str:
        return self.values.get("id", "")

    @property
    def name(self) -> str:
        return self.values.get("msg", "")

    @property
    def severity(self) -> int | None:
        """0 (EMERGENCY) to 7 (DEBUG), from a name or v3's digit; None without one."""
        return severity_rank(self.values.get("severity", ""))

    @property
    def denied(self) -> bool:
        """The engine stopped the transaction (``Access denied with code 403``...)."""
        return self.engine.startswith("Access denied")


def severity_rank(value: Any) -> int | None:
    """A severity name or digit (0-7) → its rank; None for anything else."""
    text = str(value).strip().upper()
    if text in SEVERITIES:
        return SEVERITIES.index(text)
    if len(text) == 1 and text in "01234567":
        return int(text)
    return None


def parse_message(text: str) -> Message:
    """``Warning. Matched ... [id "942100"] [msg "..."] ...`` → :class:`Message`. A leading
    ``ModSecurity:`` or ``Message:`` is dropped; text without tags is all engine text."""
    text = text.strip()
    for prefix in ("Message: ", "ModSecurity: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    first = _TAG.search(text)
    engine = (text if first is None else text[:first.start()]).strip()
    values: dict[str, str] = {}
    tags: list[str] = []
    if first is not None:
        for name, raw in _TAG.findall(text, first.start()):
            value = _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw
            if name == "tag":
                tags.append(value)
            else:
                values.setdefault(name, value)
    return Message(engine, values, tuple(tags))


def message_of_details(message: str, details: dict[str, Any]) -> Message:
    """A v3 JSON message (``{"message": ..., "details": {"ruleId": ..., "severity": ...}}``)."""
    values = {"id": _str(details.get("ruleId")), "msg": message,
              "data": _str(details.get("data")), "severity": _str(details.get("severity")),
              "ver": _str(details.get("ver")), "match": _str(details.get("match"))}
    tags = details.get("tags")
    found = tuple(str(t) for t in tags if isinstance(t, str | int)) if isinstance(
        tags, list) else ()
    return Message(values["match"], {k: v for k, v in values.items() if v}, found)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


@dataclass(slots=True)
class Verdicts:
    """The messages of one transaction (or one error-log line), summed into event fields."""

    messages: list[Message] = field(default_factory=list)
    intercepted: bool = False  # the audit log says so (v2 ``Action: Intercepted``, JSON)

    def add(self, message: Message) -> None:
        if len(self.messages) < MAX_MESSAGES and (message.rule_id or message.engine):
            self.messages.append(message)

    def score(self) -> int | None:
        """The inbound anomaly score the messages report (the highest one), else None."""
        found = [int(m[1]) for msg in self.messages for text in _texts(msg)
                 for pattern in _SCORES if (m := pattern.search(text)) is not None]
        return max(found) if found else None

    def threshold(self) -> int:
        """The inbound threshold the messages name, else CRS's default."""
        for msg in self.messages:
            for text in _texts(msg):
                for pattern in _THRESHOLDS:
                    if (m := pattern.search(text)) is not None:
                        return int(m[1])
        return DEFAULT_THRESHOLD

    def blocked(self, status: int | None = None) -> bool:
        """Denied by the engine, intercepted, or a 403 answered by a blocking evaluation."""
        if self.intercepted or any(m.denied for m in self.messages):
            return True
        return status == 403 and any(m.rule_id in BLOCKING_RULES for m in self.messages)

    def put(self, ev: Event, status: int | None = None) -> None:
        """Add the verdict's fields to ``ev`` (nothing when there is no message)."""
        if not self.messages:
            return
        ranked = sorted(self.messages, key=_rank)  # the most severe first: the alert's title
        ids = _unique(m.rule_id for m in ranked)
        if ids:
            ev["rule.id"] = ids
        names = _unique(m.name for m in ranked)
        if names:
            ev["rule.name"] = names
            ev["message"] = names[0]
        _put_severity(ev, ranked[0].severity)
        _put_more(ev, ranked)
        score = self.score()
        if score is not None:
            ev["modsecurity.anomaly_score"] = score
        blocked = self.blocked(status)
        ev["event.action"] = "blocked" if blocked else "detected"
        over = score is not None and score >= self.threshold()
        if blocked or over or any(m.rule_id in BLOCKING_RULES for m in self.messages):
            ev["event.kind"] = "alert"
        categories = ev.setdefault("event.category", [])
        if "intrusion_detection" not in categories:
            categories.append("intrusion_detection")
        if blocked:
            types = ev.setdefault("event.type", [])
            if "denied" not in types:
                types.append("denied")


def _texts(msg: Message) -> tuple[str, ...]:
    return (msg.engine, msg.name, msg.values.get("match", ""), msg.values.get("data", ""))


def _rank(msg: Message) -> int:
    severity = msg.severity
    return len(SEVERITIES) if severity is None else severity


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _put_severity(ev: Event, severity: int | None) -> None:
    if severity is not None:
        ev["event.severity"] = severity
        ev["modsecurity.severity"] = SEVERITIES[severity]


def _put_more(ev: Event, ranked: list[Message]) -> None:
    tags = _unique(t for m in ranked for t in m.tags)
    if tags:
        ev["modsecurity.tags"] = tags
    data = _unique(m.values.get("data", "")[:MAX_DATA_CHARS] for m in ranked)
    if data:
        ev["modsecurity.data"] = data
    versions = _unique(m.values.get("ver", "") for m in ranked)
    if versions:
        ruleset, _, version = versions[0].partition("/")
        ev["rule.ruleset"] = ruleset
        if version:
            ev["rule.version"] = version


def put_error_line(ev: Event, message: str) -> str:
    """An error-log message that is ModSecurity's (``ModSecurity: Warning. ...``): its verdict,
    ``[hostname]``, ``[uri]`` and ``[unique_id]`` into ``ev``; returns the message to keep (the
    engine's text and the rule's name, without the tags). Other messages are left alone."""
    if message.startswith("[client ") and "] ModSecurity: " in message:  # libmodsecurity's
        message = message[message.find("] ModSecurity: ") + 2:]  # own prefix (Nginx)
    if not message.startswith("ModSecurity: "):
        return message
    msg = parse_message(message)
    verdicts = Verdicts()
    verdicts.add(msg)
    verdicts.put(ev)
    # One alert per request, not one per matched rule: the line that denied it, or (engine in
    # DetectionOnly) the blocking evaluation's; CRS 3's 980130 repeats the score, no alert.
    alert = msg.denied or msg.rule_id in BLOCKING_RULES
    ev["event.kind"] = "alert" if alert else "event"
    host, uri, unique = (msg.values.get(k) for k in ("hostname", "uri", "unique_id"))
    if host:
        ev.setdefault("url.domain", host)
    if uri:
        ev.setdefault("url.path", uri)
    if unique:
        ev["http.request.id"] = unique
    text = f"ModSecurity: {msg.engine}"
    return f"{text} {msg.name}" if msg.name else text
