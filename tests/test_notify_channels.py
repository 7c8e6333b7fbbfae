"""The notification channels against real peers on loopback: an SMTP server (aiosmtpd) with
STARTTLS and implicit TLS under a test CA (trustme) and AUTH, HTTP servers for webhooks and a
scripted Telegram Bot API, a TCP/TLS syslog collector, a real program, a real file.

Every channel also proves that its secret (password, token, HMAC secret, webhook URL, env value)
appears in no error, hint, receipt or log line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.parsers.cef import extensions
from soc.config import Secret
from soc.errors import ConfigError
from soc.notify.channels import build_channel
from soc.notify.channels.webhook import sign
from soc.notify.model import DeliveryError, Message

CREATED = "2026-11-24T07:03:08.000Z"
UA = "<script>alert(1)</script>"
USER = '<!channel> <@U123> <http://evil.example|bank> <b>x</b> @here [x](http://evil) cs1=forged'
PASSWORD = "s3cret-Pa55word"
TOKEN = "123456:AAE-secret-bot-token"
HMAC_SECRET = "hmac-shared-secret"


def alert(**over: Any) -> dict[str, Any]:
    doc = {"id": "3f2a9c", "rule_id": "web-xss", "rule_title": "XSS attempt | web",
           "severity": "high", "status": "open", "count": 3,
           "first_seen": "2026-11-24T07:03:07.000Z", "last_seen": "2026-11-24T07:05:00.000Z",
           "entity": {"labels.system": "portal", "source.ip": "203.0.113.9", "user.name": USER},
           "event": {"user_agent.original": UA, "url.original": "/search?q=\x1b[31mred"}}
    doc.update(over)
    return doc


def message(kind: str = "alert.new", **context: Any) -> Message:
    ctx = {"alert": alert(), "link": "soc alerts show 3f2a9c", **context}
    return Message(key=f"{kind}:3f2a9c/route:oncall/channel:x", kind=kind, severity="high",
                   created=CREATED, context=ctx)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def no_secret(exc_or_text: Any, *secrets: str, caplog: pytest.LogCaptureFixture) -> None:
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("soc"))
    texts = [str(exc_or_text), getattr(exc_or_text, "hint", "") or "", ours]
    for secret in secrets:
        assert all(secret not in t for t in texts), secret


# --- TLS: one test CA ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    return ctx


# --- e-mail ----------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=default_policy)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), mail))
        return "250 OK queued as 42"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                  data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"soc" and \
        data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture(params=["starttls", "implicit"])
def smtp(request: pytest.FixtureRequest, server_ctx: ssl.SSLContext) -> Iterator[tuple[str, int,
                                                                                     Inbox]]:
    inbox, port = Inbox(), free_port()
    options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if request.param == "starttls":
        options.update(tls_context=server_ctx, require_starttls=True)
    else:
        # aiosmtpd only counts STARTTLS as TLS for AUTH; here the whole session is TLS
        options.update(ssl_context=server_ctx, auth_require_tls=False)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="localhost",
                            **options)
    controller.start()
    yield request.param, port, inbox
    controller.stop()


def email_spec(tls: str, port: int, ca_file: Path, **over: Any) -> dict[str, Any]:
    spec = {"type": "email", "host": "localhost", "port": port, "tls": tls, "user": "soc",
            "password": PASSWORD, "from": "soc@soc.example.vn",
            "to": ["oncall@soc.example.vn", "lead@soc.example.vn"], "ca_file": str(ca_file)}
    spec.update(over)
    return spec


def test_email_delivers_text_and_html_over_tls_with_auth(smtp: Any, ca_file: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    tls, port, inbox = smtp
    channel = build_channel("mail", email_spec(tls, port, ca_file))
    receipt = channel.send(message())
    assert receipt == "250 OK queued as 42"
    (sender, rcpts, mail), = inbox.mails
    assert sender == "soc@soc.example.vn"
    assert rcpts == ["oncall@soc.example.vn", "lead@soc.example.vn"]
    assert mail["Subject"] == "[SOC] [Cao/High] Cảnh báo mới / New alert: XSS attempt | web"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert f"User agent: {UA}" in text and "\x1b" not in text
    assert UA not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "soc alerts show 3f2a9c" in text and "soc alerts show 3f2a9c" in html
    no_secret(receipt, PASSWORD, caplog=caplog)


def test_email_message_id_is_the_same_for_a_resend(smtp: Any, ca_file: Path) -> None:
    tls, port, inbox = smtp
    channel = build_channel("mail", email_spec(tls, port, ca_file))
    channel.send(message())
    channel.send(Message(**{**message().__dict__, "attempt": 2}))
    channel.send(message("alert.closed"))
    ids = [m["Message-ID"] for _, _, m in inbox.mails]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0].startswith("<soc.") and ids[0].endswith("@soc.example.vn>")


def test_email_bad_password_is_permanent_and_never_shown(smtp: Any, ca_file: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    tls, port, inbox = smtp
    wrong = "wrong-Pa55word-xyz"
    channel = build_channel("mail", email_spec(tls, port, ca_file, password=wrong))
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert err.value.retryable is False
    assert "login refused (535)" in str(err.value) and "email channel mail" in str(err.value)
    assert "notify.channels.mail" in (err.value.hint or "")
    no_secret(err.value, wrong, caplog=caplog)
    assert inbox.mails == []


def test_email_untrusted_certificate_is_refused(smtp: Any, tmp_path: Path) -> None:
    tls, port, inbox = smtp
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    channel = build_channel("mail", email_spec(tls, port, other))
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert "TLS certificate not trusted" in str(err.value)
    assert err.value.retryable is True and inbox.mails == []


def test_email_secret_from_env(smtp: Any, ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls, port, _inbox = smtp
    monkeypatch.setenv("SOC_TEST_SMTP_PASSWORD", PASSWORD)
    spec = email_spec(tls, port, ca_file, password=Secret("env", "SOC_TEST_SMTP_PASSWORD"))
    assert build_channel("mail", spec).send(message()).startswith("250")


def test_email_down_is_retryable() -> None:
    channel = build_channel("mail", {"type": "email", "host": "127.0.0.1", "port": free_port(),
                                     "tls": "none", "from": "a@b.vn", "to": "c@d.vn"})
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert err.value.retryable and "127.0.0.1:" in str(err.value)


def test_email_tls_none_only_to_localhost() -> None:
    with pytest.raises(ConfigError, match=r"notify\.channels\.mail: tls: none is allowed only"):
        build_channel("mail", {"type": "email", "host": "mail.example.vn", "tls": "none",
                               "from": "a@b.vn", "to": ["c@d.vn"]})


# --- webhook ----------------------------------------------------------------------------------


class Recorder:
    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status, self.headers = status, headers or {}

    def __call__(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), request.get_data()))
        return Response("nope" if self.status >= 300 else "ok", status=self.status,
                        headers=self.headers)


def test_webhook_posts_signed_json(httpserver: HTTPServer) -> None:
    rec = Recorder()
    httpserver.expect_request("/hook/T0KEN-in-path", method="POST").respond_with_handler(rec)
    channel = build_channel("hook", {"type": "webhook", "url": httpserver.url_for(
        "/hook/T0KEN-in-path"), "secret": HMAC_SECRET, "headers": {"X-Team": "soc"}})
    assert channel.send(message()) == "HTTP 200"
    (headers, body), = rec.requests
    expected = "sha256=" + hmac.new(HMAC_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Soc-Signature"] == expected
    assert headers["X-Soc-Idempotency-Key"] == "alert.new:3f2a9c/route:oncall/channel:x"
    assert headers["X-Team"] == "soc"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    doc = json.loads(body)
    assert set(doc) == {"key", "kind", "severity", "created", "attempt", "subject", "text",
                        "context"}
    assert doc["kind"] == "alert.new" and doc["context"]["alert"]["id"] == "3f2a9c"
    assert doc["subject"] == "[Cao/High] Cảnh báo mới / New alert: XSS attempt | web"
    assert "\x1b" not in doc["text"]


def test_webhook_without_secret_sends_no_signature(httpserver: HTTPServer) -> None:
    rec = Recorder()
    httpserver.expect_request("/h").respond_with_handler(rec)
    build_channel("h", {"type": "webhook", "url": httpserver.url_for("/h")}).send(message())
    assert "X-Soc-Signature" not in rec.requests[0][0]


@pytest.mark.parametrize(("status", "retryable", "after"), [
    (500, True, None), (503, True, 7.0), (429, True, 7.0), (408, True, None),
    (400, False, None), (403, False, None), (404, False, None), (302, False, None)])
def test_webhook_status_decides_retry(httpserver: HTTPServer, caplog: pytest.LogCaptureFixture,
                                      status: int, retryable: bool, after: float | None) -> None:
    headers = {"Retry-After": "7"} if after else {}
    if status == 302:
        headers = {"Location": "http://127.0.0.1:1/elsewhere"}
    httpserver.expect_request("/hook/T0KEN").respond_with_handler(Recorder(status, headers))
    url = httpserver.url_for("/hook/T0KEN")
    channel = build_channel("hook", {"type": "webhook", "url": url, "secret": HMAC_SECRET})
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert err.value.retryable is retryable and err.value.retry_after == after
    assert f"webhook channel hook: HTTP {status} from {httpserver.host}:{httpserver.port}" in str(
        err.value)
    no_secret(err.value, "T0KEN", HMAC_SECRET, caplog=caplog)


def test_webhook_url_secret_never_in_errors(caplog: pytest.LogCaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://user:pw-SECRET@127.0.0.1:{free_port()}/services/T000/B000/XXXXSECRET"
    monkeypatch.setenv("SOC_TEST_HOOK", url)
    channel = build_channel("slack", {"type": "webhook", "preset": "slack",
                                      "url": Secret("env", "SOC_TEST_HOOK")})
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert err.value.retryable
    no_secret(err.value, "XXXXSECRET", "pw-SECRET", "T000", caplog=caplog)


def test_webhook_tls_verified_against_ca_file(ca_file: Path, server_ctx: ssl.SSLContext) -> None:
    server = HTTPServer(host="localhost", port=0, ssl_context=server_ctx)
    server.start()
    try:
        rec = Recorder()
        server.expect_request("/h").respond_with_handler(rec)
        url = f"https://localhost:{server.port}/h"
        ok = build_channel("h", {"type": "webhook", "url": url, "ca_file": str(ca_file)})
        assert ok.send(message()) == "HTTP 200"
        untrusted = build_channel("h", {"type": "webhook", "url": url})
        with pytest.raises(DeliveryError, match="TLS certificate not trusted"):
            untrusted.send(message())
        assert len(rec.requests) == 1
    finally:
        server.clear()
        server.stop()


@pytest.mark.parametrize("preset", ["slack", "mattermost"])
def test_webhook_slack_and_mattermost_presets_escape(httpserver: HTTPServer, preset: str) -> None:
    rec = Recorder()
    httpserver.expect_request("/h").respond_with_handler(rec)
    build_channel("h", {"type": "webhook", "url": httpserver.url_for("/h"),
                        "preset": preset}).send(message())
    doc = json.loads(rec.requests[0][1])
    assert list(doc) == ["text"]
    text = doc["text"]
    for raw in ("<!channel>", "<@U123>", "<http://evil.example|bank>", "<script>", "<b>",
                "@here"):
        assert raw not in text, raw
    assert "XSS attempt" in text and "soc alerts show 3f2a9c" in text
    if preset == "slack":
        assert "&lt;!channel&gt;" in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    else:
        assert "\\<\\!channel\\>" in text and "\\[x\\]\\(http://evil\\)" in text
        assert "[x](http://evil)" not in text  # a Markdown link in Mattermost


def test_webhook_teams_preset_is_an_adaptive_card(httpserver: HTTPServer) -> None:
    rec = Recorder()
    httpserver.expect_request("/h").respond_with_handler(rec)
    build_channel("h", {"type": "webhook", "url": httpserver.url_for("/h"),
                        "preset": "teams"}).send(message())
    doc = json.loads(rec.requests[0][1])
    (attachment,) = doc["attachments"]
    assert doc["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    title, body = attachment["content"]["body"]
    assert title["text"].startswith("\\[Cao/High\\] Cảnh báo mới / New alert")
    assert "[x](http://evil)" not in body["text"] and "\\[x\\]\\(http://evil\\)" in body["text"]


def test_webhook_bad_spec() -> None:
    with pytest.raises(ConfigError, match="must be an http:// or https:// URL"):
        build_channel("h", {"type": "webhook", "url": "ftp://x"})
    with pytest.raises(ConfigError, match="X-Soc-Signature' cannot be set"):
        build_channel("h", {"type": "webhook", "url": "https://x.vn",
                            "headers": {"X-Soc-Signature": "forged"}})
    with pytest.raises(ConfigError, match="preset' must be one of"):
        build_channel("h", {"type": "webhook", "url": "https://x.vn", "preset": "discord"})
    with pytest.raises(ConfigError, match="unknown type 'pager'"):
        build_channel("p", {"type": "pager"})


def test_sign_matches_github_style() -> None:
    assert sign("k", b"{}") == hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


# --- telegram ---------------------------------------------------------------------------------


def telegram(server: HTTPServer, token: str = TOKEN) -> Any:
    return build_channel("tele", {"type": "telegram", "token": token, "chat_id": -1001234,
                                  "base_url": server.url_for("/")})


def test_telegram_sends_escaped_html(httpserver: HTTPServer) -> None:
    rec: list[dict[str, Any]] = []

    def answer(request: Request) -> Response:
        rec.append(request.get_json())
        return Response(json.dumps({"ok": True, "result": {"message_id": 42}}),
                        content_type="application/json")

    httpserver.expect_request(f"/bot{TOKEN}/sendMessage", method="POST") \
        .respond_with_handler(answer)
    assert telegram(httpserver).send(message()) == "telegram message_id=42"
    (sent,) = rec
    assert sent["chat_id"] == "-1001234" and sent["parse_mode"] == "HTML"
    assert sent["disable_web_page_preview"] is True
    text = sent["text"]
    assert text.startswith("<b>[Cao/High] Cảnh báo mới / New alert: XSS attempt | web</b>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
    assert text.count("<") == 2  # only the subject's own <b></b>


def test_telegram_429_waits_as_told(httpserver: HTTPServer,
                                    caplog: pytest.LogCaptureFixture) -> None:
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage").respond_with_json(
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 13",
         "parameters": {"retry_after": 13}}, status=429)
    with pytest.raises(DeliveryError) as err:
        telegram(httpserver).send(message())
    assert err.value.retryable and err.value.retry_after == 13.0
    assert str(err.value) == ("telegram channel tele: Bot API answered 429: Too Many Requests: "
                              "retry after 13")
    no_secret(err.value, TOKEN, "AAE-secret", caplog=caplog)


@pytest.mark.parametrize("status", [400, 401, 403])
def test_telegram_refusals_are_permanent(httpserver: HTTPServer, status: int,
                                         caplog: pytest.LogCaptureFixture) -> None:
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage").respond_with_json(
        {"ok": False, "error_code": status, "description": f"Unauthorized {TOKEN}"},
        status=status)
    with pytest.raises(DeliveryError) as err:
        telegram(httpserver).send(message())
    assert err.value.retryable is False
    assert f"answered {status}: Unauthorized ***" in str(err.value)
    no_secret(err.value, TOKEN, caplog=caplog)


def test_telegram_down_redacts_token(caplog: pytest.LogCaptureFixture) -> None:
    channel = build_channel("tele", {"type": "telegram", "token": TOKEN, "chat_id": "1",
                                     "base_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert err.value.retryable and "127.0.0.1:" in str(err.value)
    no_secret(err.value, TOKEN, caplog=caplog)


# --- syslog / CEF -------------------------------------------------------------------------------


class Collector:
    """A TCP (or TLS) syslog collector that takes one connection and keeps what it read."""

    def __init__(self, ctx: ssl.SSLContext | None = None) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.ctx = ctx
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(10)
        conn, _ = self.sock.accept()
        if self.ctx is not None:
            conn = self.ctx.wrap_socket(conn, server_side=True)
        with conn:
            while chunk := conn.recv(65536):
                self.data += chunk

    def received(self) -> bytes:
        self.thread.join(10)
        self.sock.close()
        return self.data


def octets(data: bytes) -> list[str]:
    out = []
    while data:
        length, _, rest = data.partition(b" ")
        out.append(rest[: int(length)].decode("utf-8"))
        data = rest[int(length):]
    return out


def test_syslog_forwards_cef_over_tcp_with_octet_counting() -> None:
    peer = Collector()
    channel = build_channel("siem", {"type": "syslog", "host": "127.0.0.1", "port": peer.port,
                                     "hostname": "soc01"})
    assert channel.send(message()).startswith("syslog ")
    (line,) = octets(peer.received())
    head, _, cef = line.partition(" CEF:")
    assert head == ('<35>1 2026-11-24T07:03:08.000Z soc01 soc - alert.new '
                    '[soc@32473 key="alert.new:3f2a9c/route:oncall/channel:x"]')
    fields = re.split(r"(?<!\\)\|", cef, maxsplit=7)
    assert fields[:7] == ["0", "soc", "soc", fields[3], "web-xss",
                          "[Cao/High] Cảnh báo mới / New alert: XSS attempt \\| web", "8"]
    ext = extensions(fields[7])
    assert ext["suser"] == USER  # cs1=forged stayed inside the value
    assert ext["cs1"] == "alert.new:3f2a9c/route:oncall/channel:x"
    assert ext["requestClientApplication"] == UA
    assert ext["src"] == "203.0.113.9" and ext["externalId"] == "3f2a9c"
    assert ext["request"] == "/search?q=red"  # the ANSI escape sequence is gone, whole
    assert "\n" not in line and "soc alerts show 3f2a9c" in ext["msg"]


def test_syslog_json_over_tls_with_newline_framing(ca_file: Path,
                                                   server_ctx: ssl.SSLContext) -> None:
    peer = Collector(server_ctx)
    channel = build_channel("siem", {"type": "syslog", "host": "localhost", "port": peer.port,
                                     "tls": True, "ca_file": str(ca_file), "format": "json",
                                     "framing": "newline"})
    channel.send(message())
    data = peer.received().decode("utf-8")
    assert data.endswith("\n") and data.count("\n") == 1
    doc = json.loads(data.split("] ", 1)[1])
    assert doc["key"] == "alert.new:3f2a9c/route:oncall/channel:x"
    assert doc["context"]["alert"]["event"]["user_agent.original"] == UA


def test_syslog_tls_refuses_an_untrusted_collector(server_ctx: ssl.SSLContext) -> None:
    peer = Collector(server_ctx)
    channel = build_channel("siem", {"type": "syslog", "host": "localhost", "port": peer.port,
                                     "tls": True})
    with pytest.raises(DeliveryError, match="TLS certificate not trusted"):
        channel.send(message())
    peer.sock.close()


def test_syslog_down_is_retryable() -> None:
    channel = build_channel("siem", {"type": "syslog", "host": "127.0.0.1", "port": free_port()})
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert err.value.retryable and "Check that the collector listens" in (err.value.hint or "")


# --- command ----------------------------------------------------------------------------------


SCRIPT = """
import json, os, sys
doc = json.load(sys.stdin)
out = {"doc": doc, "env": {k: v for k, v in os.environ.items() if k.startswith("SOC_NOTIFY_")},
       "api": os.environ.get("API_KEY")}
open(sys.argv[1], "a").write(json.dumps(out) + "\\n")
print("ticket #7")
code = int(sys.argv[2])
if code:
    print("refused, key was " + os.environ.get("API_KEY", ""), file=sys.stderr)
sys.exit(code)
"""


def command(tmp_path: Path, code: int, **over: Any) -> Any:
    spec = {"type": "command", "command": [sys.executable, "-c", SCRIPT,
                                           str(tmp_path / "got.jsonl"), str(code)],
            "env": {"API_KEY": "cmd-SECRET-key"}}
    spec.update(over)
    return build_channel("run", spec)


def test_command_gets_json_on_stdin_and_env(tmp_path: Path) -> None:
    assert command(tmp_path, 0).send(message()) == "exit 0: ticket #7"
    got = json.loads((tmp_path / "got.jsonl").read_text())
    assert got["env"] == {"SOC_NOTIFY_KIND": "alert.new", "SOC_NOTIFY_SEVERITY": "high",
                          "SOC_NOTIFY_KEY": "alert.new:3f2a9c/route:oncall/channel:x"}
    assert got["doc"]["context"]["alert"]["id"] == "3f2a9c" and got["api"] == "cmd-SECRET-key"


@pytest.mark.parametrize(("code", "retryable"), [(75, True), (3, False)])
def test_command_exit_codes(tmp_path: Path, code: int, retryable: bool,
                            caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(DeliveryError) as err:
        command(tmp_path, code, env={"API_KEY": Secret("file", str(key_file(tmp_path)))}) \
            .send(message())
    assert err.value.retryable is retryable
    assert f"exited {code}: refused, key was ***" in str(err.value)
    no_secret(err.value, "cmd-SECRET-key", caplog=caplog)


def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_text("cmd-SECRET-key\n")
    return path


def test_command_timeout_is_retryable(tmp_path: Path) -> None:
    channel = build_channel("run", {"type": "command", "timeout": 0.5,
                                    "command": [sys.executable, "-c", "import time; "
                                                "time.sleep(30)"]})
    with pytest.raises(DeliveryError, match=r"did not finish within 0\.5s") as err:
        channel.send(message())
    assert err.value.retryable


def test_command_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match=r"'command' must be a list .* never a shell line"):
        build_channel("run", {"type": "command", "command": "notify-send $(id)"})


def test_command_missing_program_is_permanent(tmp_path: Path) -> None:
    channel = build_channel("run", {"type": "command", "command": ["bin/none"]},
                            base_dir=tmp_path)
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert not err.value.retryable and str(tmp_path / "bin" / "none") in str(err.value)


# --- file -------------------------------------------------------------------------------------


def test_file_appends_json_lines(tmp_path: Path) -> None:
    channel = build_channel("audit", {"type": "file", "path": "out/sent.jsonl"},
                            base_dir=tmp_path)
    assert channel.send(message()) == "appended to sent.jsonl"
    channel.send(message("alert.closed"))
    path = tmp_path / "out" / "sent.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [d["kind"] for d in lines] == ["alert.new", "alert.closed"]
    assert lines[0]["channel"] == "audit" and lines[0]["text"].startswith("Hệ thống giám sát")
    assert path.stat().st_mode & 0o777 == 0o600


def test_file_flavour_keeps_the_markup(tmp_path: Path) -> None:
    channel = build_channel("audit", {"type": "file", "path": str(tmp_path / "t.jsonl"),
                                      "flavour": "telegram"})
    channel.send(message())
    doc = json.loads((tmp_path / "t.jsonl").read_text())
    assert "&lt;script&gt;" in doc["markup"]


def test_file_unwritable_is_a_delivery_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    channel = build_channel("audit", {"type": "file", "path": str(tmp_path / "f" / "x.jsonl")})
    with pytest.raises(DeliveryError, match="file channel audit: cannot write"):
        channel.send(message())


def test_log_lines_carry_no_secret(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    build_channel("audit", {"type": "file", "path": str(tmp_path / "a.jsonl")}).send(message())
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text
