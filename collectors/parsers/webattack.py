"""Web attack verdicts on a request: decoded fields and detector signals that Sigma rules select on.

:func:`enrich_web` is called by every parser of HTTP requests (the access-log parsers of
:mod:`collectors.parsers.web`, the ModSecurity audit log...) on an event that has ``url.*``. It
sets, once per event (the contract of docs/formats.md):

* ``web.decoded.path`` / ``web.decoded.query`` / ``web.decoded.values`` / ``web.decoded.names``:
  the request as the server and the application read it (:mod:`collectors.parsers.webdecode`);
* ``web.attack.classes``, ``web.attack.score``, ``web.attack.strong``, ``web.attack.evidence``,
  ``web.attack.sqli.fingerprint``: the verdicts of the detectors of :mod:`.webdetect`, scored as
  the OWASP Core Rule Set scores (critical 5, error 4, warning 3, notice 2, summed). A request
  whose score reaches 5 would be blocked by CRS at its default threshold; ``strong`` says one
  critical signal fired on its own.
"""

from __future__ import annotations

import functools
import re

from ahocorasick_rs import AhoCorasick

from soc.ecs import Event

from .webdecode import MAX_CHARS, decode_path, decode_query, has_nul
from .webdetect import CRITICAL, WARNING, Signal, scan_header, scan_path, scan_value

MAX_EVIDENCE = 8
"""Evidence strings kept per event: enough for the analyst, bounded for the store."""

# Most requests are quiet: ASCII word characters, dots, single hyphens and separators, nothing to
# decode, and none of the words the path and value detectors look for (OS files, dot-files,
# serialized-object markers). They get the contract's fields without the detectors, which would
# find nothing on them (tests/test_webattack.py holds the two paths to the same fields).
_QUIET_TARGET = re.compile(r"[\w./@-]*(?:\?[\w.@=&-]*)?", re.ASCII)
_HINTS = AhoCorasick(["etc", "proc", "win", "boot", "var", "root", "web", "inetpub", "system32",
                      "wp-config", "/.", "..", "//", "--", "ro0ab", "aced0005", "aaeaaad"])


def enrich_web(event: Event) -> Event:
    """Add the decoded request and the attack verdicts to ``event`` (in place; returned too).
    Events without ``url.path``/``url.query``/``url.original`` are left as they are."""
    path = event.get("url.path")
    query = event.get("url.query")
    if path is None and query is None:
        original = event.get("url.original")
        if not isinstance(original, str):
            return event
        path, _, query = original.partition("?")
    if _quiet(event, path, query):
        return event
    fields, found = _target(path, query)
    for key, value in fields:
        event[key] = list(value) if type(value) is tuple else value
    signals = list(found)
    for key in ("user_agent.original", "http.request.referrer"):
        header = event.get(key)
        if isinstance(header, str) and ("${" in header or "() {" in header or "%24%7B" in header):
            scan_header(key, header, signals)
    _verdict(event, signals)
    return event


def _quiet(event: Event, path: object, query: object) -> bool:
    """Whether the request is quiet (see :data:`_QUIET_TARGET`): it gets no ``web.*`` field at
    all (decoding would change nothing: copies of url.path and url.query would cost the
    access-log path several per cent for no rule's benefit). False for the others, which get the
    whole treatment. Every event of an access log comes here: it is kept to a few checks."""
    target = event.get("url.original")
    if type(target) is not str or type(path) is not str or "url.scheme" in event:
        return False  # absolute-form targets: url.original is not path?query
    size = len(target)
    if query is None:
        if len(path) != size:
            return False  # not the parts of url.original
    elif type(query) is not str or len(path) + len(query) + 1 != size:
        return False
    if size > _CACHED_CHARS:
        if size > MAX_CHARS or not _quiet_target.__wrapped__(target):
            return False
    elif not _quiet_target(target):
        return False
    return not (_header_hint(event.get("user_agent.original"))
                or _header_hint(event.get("http.request.referrer")))


_HEADER_HINT = re.compile(r"\$\{|\(\s*\)\s*\{|%24%7B", re.I)
"""What sends a header to the detectors: a lookup (JNDI), a function definition (Shellshock)."""


def _header_hint(header: object) -> bool:
    """Whether a header matches :data:`_HEADER_HINT`. Every hint holds a ``{`` or a ``%``: a
    header with neither (nearly every user agent and referrer) is settled by two ``in`` tests,
    ten times cheaper than the search over a 100-character user agent."""
    return (type(header) is str and ("{" in header or "%" in header)
            and _HEADER_HINT.search(header) is not None)


_CACHED_CHARS = 200
"""Targets up to this long are remembered (8,192 of them: at most 1.6 MB)."""


@functools.lru_cache(maxsize=8192)
def _quiet_target(target: str) -> bool:
    """The request target alone is quiet: cached, since a portal's pages, scripts and images are
    asked for again and again."""
    return (_QUIET_TARGET.fullmatch(target) is not None
            and not _HINTS.find_matches_as_indexes(target.lower()))


def _encoded(text: str) -> bool:
    """Whether decoding could change ``text`` (most paths need no work at all)."""
    return ("%" in text or "\\" in text or "//" in text or "/." in text or "\x00" in text
            or not text.isascii())


Target = tuple[tuple[tuple[str, str | tuple[str, ...]], ...], tuple[Signal, ...]]
"""What a request target gives, headers aside: the ``web.decoded.*`` fields (lists as tuples)
and the detectors' signals."""

_TARGET_CHARS = 512
"""Targets (path and query) up to this long have their :data:`Target` remembered, 4,096 of them
(a few MB at most): scanners and crawlers ask for the same URLs again and again, and a request
that is not quiet costs 10 to 50 µs of decoding and detectors (libinjection, the shapes)."""


def _target(path: object, query: object) -> Target:
    """The :data:`Target` of a request that is not quiet, remembered when it is short."""
    if (type(path) is str and (query is None or type(query) is str)
            and len(path) + (len(query) if query else 0) <= _TARGET_CHARS):
        return _remembered_target(path, query)
    return _analyse(path, query)


@functools.lru_cache(maxsize=4096)
def _remembered_target(path: str, query: str | None) -> Target:
    return _analyse(path, query)


def _analyse(path: object, query: object) -> Target:
    """Decode the path and the query and run the detectors on them (the whole treatment)."""
    fields: list[tuple[str, str | tuple[str, ...]]] = []
    signals: list[Signal] = []
    if isinstance(path, str):
        decoded = decode_path(path) if _encoded(path) else path
        if decoded != path:
            fields.append(("web.decoded.path", decoded))
        scan_path(decoded, signals)
        if has_nul(path):
            signals.append(Signal("", WARNING, "path: NUL byte"))
    if isinstance(query, str) and query:
        _query(fields, query, signals)
    return tuple(fields), tuple(signals)


def _query(fields: list[tuple[str, str | tuple[str, ...]]], query: str,
           signals: list[Signal]) -> None:
    whole, names, values, cut = decode_query(query)
    if whole != query:  # else url.query as it stands is the decoded query
        fields.append(("web.decoded.query", whole))
        fields.append(("web.decoded.names", tuple(names)))
        fields.append(("web.decoded.values", tuple(values)))
    for name, value in zip(names, values, strict=True):
        scan_value(name, value, signals)
    if has_nul(query):
        signals.append(Signal("", WARNING, "query: NUL byte"))
    if cut:
        signals.append(Signal("", WARNING, "query: longer than the decoding cap"))


def _verdict(event: Event, signals: list[Signal]) -> None:
    """The ``web.attack.*`` fields, only when a signal fired: a quiet request carries none, which
    keeps most events three fields smaller (rules select on a class, a score or ``strong``)."""
    if not signals:
        return
    classes: list[str] = []
    score = 0
    evidence: list[str] = []
    for s in signals:
        score += s.severity
        if s.cls and s.cls not in classes:
            classes.append(s.cls)
        if len(evidence) < MAX_EVIDENCE and s.evidence not in evidence:
            evidence.append(s.evidence)
        if s.fingerprint and "web.attack.sqli.fingerprint" not in event:
            event["web.attack.sqli.fingerprint"] = s.fingerprint
    event["web.attack.classes"] = classes
    event["web.attack.score"] = score
    event["web.attack.strong"] = any(s.severity >= CRITICAL for s in signals)
    if evidence:
        event["web.attack.evidence"] = evidence
