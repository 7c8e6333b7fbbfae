"""Cleartext HTTP/1.x request and response heads, and cleartext logins of FTP, POP3, IMAP and
Telnet, read from the first payload of a TCP segment (no reassembly: a head split over several
segments is read as far as the first one goes)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ",
           b"CONNECT ", b"TRACE ", b"PROPFIND ")
PASSWORD_KEYS = frozenset(("password", "passwd", "pass", "pwd", "pw", "passw", "mat_khau",
                           "matkhau", "j_password", "login_password", "user_password"))
USER_KEYS = ("username", "user", "login", "email", "uname", "j_username", "userid", "ten_dang_nhap")
MAX_HEAD = 16384


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def request(payload: bytes) -> dict[str, Any] | None:
    """ECS fields of an HTTP request head, or None if ``payload`` does not start one."""
    if not payload.startswith(METHODS):
        return None
    head, _, body = payload[:MAX_HEAD].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        return None
    headers = _headers(lines[1:])
    target = _text(parts[1])
    path, _, query = target.partition("?")
    ev: dict[str, Any] = {"http.request.method": _text(parts[0]), "url.original": target,
                          "url.path": path, "http.version": _text(parts[2][5:])}
    if query:
        ev["url.query"] = query
    host = headers.get("host")
    if host:
        ev["url.domain"] = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    for name, key in (("user-agent", "user_agent.original"),
                      ("referer", "http.request.referrer"),
                      ("content-type", "http.request.mime_type")):
        if name in headers:
            ev[key] = headers[name]
    if headers.get("content-length", "").isdigit():
        ev["http.request.body.bytes"] = int(headers["content-length"])
    _credentials(ev, headers, query, body)
    return ev


def response(payload: bytes) -> dict[str, Any] | None:
    """ECS fields of an HTTP response head, or None."""
    if not payload.startswith((b"HTTP/1.", b"HTTP/2 ")):
        return None
    head = payload[:MAX_HEAD].partition(b"\r\n\r\n")[0]
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    ev: dict[str, Any] = {"http.response.status_code": int(parts[1])}
    headers = _headers(lines[1:])
    if "content-type" in headers:
        ev["http.response.mime_type"] = headers["content-type"]
    if headers.get("content-length", "").isdigit():
        ev["http.response.body.bytes"] = int(headers["content-length"])
    return ev


def _headers(lines: list[bytes]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(b":")
        if sep:
            out.setdefault(_text(name.strip()).lower(), _text(value.strip()))
    return out


def _credentials(ev: dict[str, Any], headers: dict[str, str], query: str, body: bytes) -> None:
    """``netsensor.credentials`` (and ``user.name``) when the request carries a login in clear:
    HTTP Basic authentication, or a password field in the query or a form body."""
    auth = headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        ev["netsensor.credentials"] = "http-basic"
        try:
            user = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return
        ev["user.name"] = user.partition(":")[0]
        return
    form = query
    if body and "urlencoded" in headers.get("content-type", ""):
        form = f"{query}&{_text(body)}" if query else _text(body)
    fields = {k.lower(): v for k, v in parse_qsl(form, keep_blank_values=True)} if form else {}
    if PASSWORD_KEYS & fields.keys():
        ev["netsensor.credentials"] = "http-form"
        users = [fields[k] for k in USER_KEYS if fields.get(k)]
        if users:
            ev["user.name"] = users[0]


def login(port: int, payload: bytes, from_client: bool, state: dict[str, Any]) -> None:
    """Follow a cleartext login of FTP (21), POP3 (110), IMAP (143) or Telnet (23); sets
    ``state["credentials"]`` (and ``state["user"]``) once a password went out in clear."""
    if port in (21, 110):
        if from_client and payload[:5].upper() == b"USER ":
            state["user"] = _text(payload[5:].strip())
        elif from_client and payload[:5].upper() == b"PASS ":
            state["credentials"] = "ftp" if port == 21 else "pop3"
    elif port == 143 and from_client:
        parts = payload.split(b" ", 3)
        if len(parts) == 4 and parts[1].upper() == b"LOGIN":
            state["credentials"] = "imap"
            state["user"] = _text(parts[2]).strip('"')
    elif port == 23:
        if not from_client and b"assword" in payload:
            state["telnet_prompt"] = True
        elif from_client and state.get("telnet_prompt") and payload.strip():
            state["credentials"] = "telnet"
