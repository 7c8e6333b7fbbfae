"""A TAXII 2.1 client: the objects of one collection, read as STIX (:mod:`soc.intel.feeds.stix`).

The feed's URL is the server's discovery endpoint (``https://host/taxii2/``) or one API root.
The collection is found by id, title or alias in the API roots (the default root first), then
its objects are paged with ``limit`` and ``added_after``: following ``next`` while ``more`` is
true, or, where a server gives ``more`` without ``next``, moving ``added_after`` to the page's
``X-TAXII-Date-Added-Last`` (TAXII 2.1, 5.3). The cursor kept for the next increment is the last
``X-TAXII-Date-Added-Last`` seen; a server that sends none is asked its manifest for the newest
``date_added`` of the objects read, and failing that the cursor stays where it was (the next
pull reads the same objects again, which the store takes as no change).

Credentials: Basic with ``username`` and a password, or an API key sent in ``api_key_header``
(``Authorization`` unless told; ``soc.intel.pull`` reads both secrets from the environment
variables the feed names, never from the config file).
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urljoin

from soc.ecs import format_ts, parse_ts
from soc.intel.feeds.result import FeedResult
from soc.intel.feeds.stix import read_bundle
from soc.intel.http import FeedError, Response, fetch, where

MEDIA_TYPE = "application/taxii+json;version=2.1"
PAGE_LIMIT = 1000
MAX_PAGES = 100_000
"""A bound on one pull, against a server whose ``next`` never ends."""


def pull_collection(url: str, collection: str, *, added_after: str | None = None,
                    username: str | None = None, password: str | None = None,
                    api_key: str | None = None, api_key_header: str | None = None,
                    context: ssl.SSLContext | None = None, now: datetime,
                    lifetimes: Mapping[str, timedelta | None] | None, source: str,
                    limit: int = PAGE_LIMIT, timeout: float = 60.0) -> FeedResult:
    """The indicators a collection holds (those added after ``added_after`` when given), with
    the cursor to give as ``added_after`` next time. ``password`` and ``api_key`` are the
    secrets themselves (the caller reads them from the environment); the key goes in
    ``api_key_header`` (default ``Authorization``). Raises :class:`FeedError` when the server,
    the credentials or the collection fail; bad objects are skipped in the result."""
    session = _Session(_headers(username, password, api_key, api_key_header), context, timeout)
    objects_url = _find_collection(session, url, collection)
    objects, cursor = _pages(session, objects_url, added_after, limit)
    result = read_bundle({"objects": objects}, source=source, lifetimes=lifetimes, now=now)
    if cursor is None and objects:
        cursor = _manifest_cursor(session, objects_url, added_after, limit, objects)
    result.cursor = cursor or added_after
    return result


class _Session:
    """The request headers, TLS context and timeout every request of one pull shares."""

    def __init__(self, headers: dict[str, str], context: ssl.SSLContext | None,
                 timeout: float) -> None:
        self.headers = headers
        self.context = context
        self.timeout = timeout

    def get(self, url: str) -> tuple[Response, Any]:
        reply = fetch(url, headers=self.headers, context=self.context, timeout=self.timeout)
        try:
            return reply, json.loads(reply.body)
        except ValueError:
            raise FeedError(f"{where(url)} answered something that is not TAXII JSON",
                            hint="check that the feed's URL is a TAXII 2.1 server") from None


def _headers(username: str | None, password: str | None, api_key: str | None,
             api_key_header: str | None) -> dict[str, str]:
    headers = {"Accept": MEDIA_TYPE}
    if username is not None:
        if password is None:
            raise FeedError("the TAXII feed has a username but no password",
                            hint="set the feed's password_env to the variable holding it")
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    if api_key:
        headers[api_key_header or "Authorization"] = api_key
    return headers


def _find_collection(session: _Session, url: str, collection: str) -> str:
    """The objects URL of ``collection`` (id, title or alias) under the server at ``url``."""
    base = url if url.endswith("/") else url + "/"
    _reply, doc = session.get(base)
    if not isinstance(doc, dict):
        raise FeedError(f"{where(base)} answered something that is not TAXII JSON",
                        hint="check that the feed's URL is a TAXII 2.1 server")
    seen: list[str] = []
    refused: list[FeedError] = []
    for root in _roots(base, doc):
        try:
            found = _collections(session, root)
        except FeedError as exc:  # a root this account may not list: the others may do
            refused.append(exc)
            continue
        for item in found:
            names = {str(item.get(k)) for k in ("id", "title", "alias") if item.get(k)}
            if collection in names or collection.casefold() in {n.casefold() for n in names}:
                return _readable(root, item)
            seen.append(f"{item.get('title') or '?'} ({item.get('id')})")
    if refused and not seen:
        raise refused[0]
    known = ", ".join(seen) if seen else "none"
    raise FeedError(f"no TAXII collection {collection!r} at {where(base)} (collections: {known})",
                    hint="set the feed's collection to one of those ids or titles")


def _roots(base: str, doc: Mapping[str, Any]) -> list[str]:
    """The API roots to look in: a discovery answer lists them (the default first); any other
    answer is taken as an API root itself."""
    if "api_roots" not in doc and "default" not in doc:
        return [base]
    listed = [str(r) for r in doc.get("api_roots") or [] if isinstance(r, str)]
    default = doc.get("default")
    ordered = ([default] if isinstance(default, str) else []) + listed
    roots = [urljoin(base, r if r.endswith("/") else r + "/") for r in ordered]
    if not roots:
        raise FeedError(f"{where(base)} advertises no API root",
                        hint="give the API root's URL as the feed's url")
    return list(dict.fromkeys(roots))


def _collections(session: _Session, root: str) -> list[dict[str, Any]]:
    _reply, doc = session.get(root + "collections/")
    found = doc.get("collections") if isinstance(doc, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _readable(root: str, item: Mapping[str, Any]) -> str:
    if item.get("can_read") is False:
        raise FeedError(f"the TAXII collection {item.get('title') or item.get('id')!r} cannot be "
                        "read with these credentials",
                        hint="ask the feed's operator for read access to the collection")
    return f"{root}collections/{quote(str(item.get('id')), safe='')}/objects/"


def _pages(session: _Session, objects_url: str, added_after: str | None,
           limit: int) -> tuple[list[Any], str | None]:
    """Every object of the collection after ``added_after``, and the last
    ``X-TAXII-Date-Added-Last`` seen."""
    objects: list[Any] = []
    cursor: str | None = None
    for reply, doc in _walk(session, objects_url, added_after, limit):
        objects.extend(doc.get("objects") or [])
        cursor = _later(cursor, reply.headers.get("X-TAXII-Date-Added-Last"))
    return objects, cursor


def _walk(session: _Session, url: str, added_after: str | None,
          limit: int) -> Iterator[tuple[Response, dict[str, Any]]]:
    """The pages of an objects or manifest endpoint, each an envelope."""
    query = _query(limit, added_after)
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        reply, doc = session.get(f"{url}?{urlencode(query)}")
        if not isinstance(doc, dict) or not isinstance(doc.get("objects", []), list):
            raise FeedError(f"{where(url)} answered something that is not a TAXII envelope",
                            hint="check that the feed's URL is a TAXII 2.1 server")
        yield reply, doc
        following = _next_query(doc, limit, added_after,
                                reply.headers.get("X-TAXII-Date-Added-Last"))
        if following is None:
            return
        step = following.get("next") or following.get("added_after") or ""
        if step in seen:
            raise FeedError(f"{where(url)} pages in a loop (the same page asked twice)",
                            hint="report it to the feed's operator; the next pull retries")
        seen.add(step)
        query = following
    raise FeedError(f"{where(url)}: more than {MAX_PAGES} pages",
                    hint="raise the feed's limit or pull more often")


def _query(limit: int, added_after: str | None) -> dict[str, str]:
    query = {"limit": str(limit)}
    if added_after:
        query["added_after"] = added_after
    return query


def _next_query(doc: Mapping[str, Any], limit: int, added_after: str | None,
                last: str | None) -> dict[str, str] | None:
    """The query of the page after ``doc``, None when it was the last."""
    if doc.get("more") is not True or not doc.get("objects"):
        return None
    token = doc.get("next")
    if isinstance(token, str | int) and str(token):
        return {**_query(limit, added_after), "next": str(token)}
    if last:
        return _query(limit, last)  # more without next: TAXII 2.1's added_after paging
    return None  # more, but no way to ask for it: what was read is kept


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two TAXII timestamps, as the server wrote it."""
    if not b:
        return a
    try:
        return b if a is None or parse_ts(b) >= parse_ts(a) else a
    except ValueError:
        return a


def _stamp(value: object) -> str:
    try:
        return format_ts(parse_ts(str(value)))
    except ValueError:
        return str(value)


def _manifest_cursor(session: _Session, objects_url: str, added_after: str | None, limit: int,
                     objects: list[Any]) -> str | None:
    """The newest ``date_added`` of the objects read, from the collection's manifest (for
    servers that send no ``X-TAXII-Date-Added-Last``); None when it cannot be had. Only the
    versions read count: one added since would otherwise be passed over by the next pull."""
    read = {(o.get("id"), _stamp(o.get("modified") or o.get("created"))) for o in objects
            if isinstance(o, dict)}
    manifest_url = objects_url[: -len("objects/")] + "manifest/"
    cursor: str | None = None
    try:
        for _reply, doc in _walk(session, manifest_url, added_after, limit):
            for entry in doc.get("objects") or []:
                if isinstance(entry, dict) and (entry.get("id"), _stamp(entry.get("version"))) \
                        in read:
                    cursor = _later(cursor, str(entry.get("date_added") or ""))
    except FeedError:
        return None
    return cursor
