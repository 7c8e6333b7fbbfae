"""Notifications through the real CLI and the real channels: `soc notify test` (a webhook on a
loopback HTTP server, a file channel), kill -9 of `python -m soc notify run` against a real
webhook, `soc listen` delivering to a file, `soc status`, relative paths of soc.yml, the console
link, the outbox's pruning and no flood of old alerts when notifications are first configured,
`soc collect` on Elasticsearch delivering to a file (when ``$SOC_TEST_ES_URL`` is set), and a
store without an outbox (a store plugin)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from soc.cli.main import main
from soc.config import StoreConfig, load_config
from soc.ecs import format_ts, now_ts
from soc.errors import ConfigError, StoreError
from soc.models import Alert, Severity
from soc.notify import config as notify_config
from soc.notify import dispatch
from soc.notify.model import DeliveryError, Message
from soc.pipeline.collect import notify_after
from soc.pipeline.pipeline import PassReport
from soc.stores.sqlite import SQLiteStore
from soc.timeutil import wait_event
from tests.conftest import ROOT
from tests.listen_daemon import ListenProcess

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECRET_PATH = "T0SECRET/B0SECRET/hunter2hunter2"


class Hook(ThreadingHTTPServer):
    """A webhook receiver on loopback: records each request; answers ``status``; with
    ``hang``, holds the first request until ``release`` is set."""

    daemon_threads = True

    def __init__(self, status: int = 200, *, hang: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status, self.hang = status, hang
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.first = threading.Event()
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def keys(self) -> list[str]:
        return [headers["X-Soc-Idempotency-Key"] for _, headers, _ in self.requests]

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Hook

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        if self.server.hang and len(self.server.requests) == 1:
            self.server.first.set()
            wait_event(self.server.release, 60)
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Any:
    server = Hook()
    yield server
    server.close()


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_config(folder: Path, notify: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "soc.yml"
    path.write_text(f"data_dir: data\n{extra}notify:\n{notify}", encoding="utf-8")
    return path


def high_alert(n: int, when: str) -> Alert:
    return Alert(id=f"{n:032x}", rule_id="ssh-brute", rule_title=f"SSH brute force {n}",
                 severity=Severity.HIGH, first_seen=when, last_seen=when, created=when,
                 updated=when)


def raise_alerts(cfg: Path, *numbers: int, when: str | None = None) -> None:
    """Alerts written as detection writes them, through the store soc.yml opens."""
    with SQLiteStore.open(load_config(cfg)) as store:
        store.upsert_alerts([high_alert(n, when or now_ts()) for n in numbers], {})


# --- soc notify test CHANNEL ---------------------------------------------------------------------


def test_notify_test_webhook_and_file_accept(tmp_path: Path, hook: Hook,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path / "etc", f"  channels:\n"
                       f"    hook: {{type: webhook, url: '{hook.url}/soc'}}\n"
                       f"    audit: {{type: file, path: out/sent.jsonl}}\n")
    code, out, err = cli(["-c", str(cfg), "notify", "test", "hook", "--json"], capsys)
    assert (code, json.loads(out)) == (0, {"channel": "hook", "receipt": "HTTP 200"}), err
    ((path, headers, body),) = hook.requests
    assert path == "/soc" and body["kind"] == "test"
    assert headers["X-Soc-Idempotency-Key"] == body["key"]
    code, out, err = cli(["-c", str(cfg), "notify", "test", "audit", "--json"], capsys)
    assert code == 0, err
    # relative to soc.yml's folder, whatever the working directory
    (line,) = (tmp_path / "etc" / "out" / "sent.jsonl").read_text().splitlines()
    assert json.loads(line)["channel"] == "audit" and json.loads(line)["kind"] == "test"


def test_notify_test_refused_says_one_line_and_no_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    refusing = Hook(status=403)
    try:
        monkeypatch.setenv("SOC_TEST_HOOK", f"{refusing.url}/services/{SECRET_PATH}")
        cfg = write_config(tmp_path, "  channels:\n"
                           "    slack: {type: webhook, preset: slack, "
                           "url: {$env: SOC_TEST_HOOK}}\n")
        code, out, err = cli(["-c", str(cfg), "notify", "test", "slack"], capsys)
    finally:
        refusing.close()
    assert len(refusing.requests) == 1  # it was sent, and refused
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: webhook channel slack: ")
    assert "403" in lines[0] and lines[1].startswith("Hint: ")
    assert "hunter2" not in err and "SECRET" not in err


def test_notify_test_unreachable_is_exit_1_with_a_hint(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(tmp_path, f"  channels:\n    hook: {{type: webhook, "
                       f"url: 'http://127.0.0.1:{port}/x?token=hunter2hunter2'}}\n")
    code, out, err = cli(["-c", str(cfg), "notify", "test", "hook"], capsys)
    assert code == 1 and out == ""
    assert err.startswith("Error: webhook channel hook: ") and "\nHint: " in err
    assert "hunter2" not in err


# --- relative paths and the console link ---------------------------------------------------------


def test_dispatch_resolves_channel_paths_against_soc_yml(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "etc" / "bin" / "receive"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\ncat > \"$(dirname \"$0\")/got.json\"\necho taken\n")
    program.chmod(0o700)
    cfg = write_config(tmp_path / "etc", "  channels:\n"
                       "    audit: {type: file, path: out/sent.jsonl}\n"
                       "    prog: {type: command, command: [bin/receive]}\n"
                       "  routes: [{channels: [audit, prog]}]\n")
    raise_alerts(cfg, 1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = cli(["-c", str(cfg), "notify", "run", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["delivered"] == 2
    assert (tmp_path / "etc" / "out" / "sent.jsonl").exists()
    assert json.loads((program.parent / "got.json").read_text())["kind"] == "alert.new"
    assert list(elsewhere.iterdir()) == []


def test_console_url_links_each_message(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, "  channels: {audit: {type: file, path: sent.jsonl}}\n"
                       "  routes: [{channels: [audit]}]\n"
                       "  console_url: https://soc.example.vn/console/\n")
    raise_alerts(cfg, 1)
    code, _, err = cli(["-c", str(cfg), "notify", "run"], capsys)
    assert code == 0, err
    (line,) = (tmp_path / "sent.jsonl").read_text().splitlines()
    sent = json.loads(line)
    url = f"https://soc.example.vn/console/alerts/{1:032x}"
    assert sent["context"]["url"] == url
    assert f"Bảng điều khiển / Console: {url}" in sent["text"]


def test_console_url_placeholders_and_errors(tmp_path: Path) -> None:
    def load(value: str) -> notify_config.NotifyConfig:
        cfg = write_config(tmp_path, f"  console_url: '{value}'\n")
        return notify_config.load(load_config(cfg))

    assert load("https://kb.example.vn/app/soc#/{type}?id={id}").console_url == (
        "https://kb.example.vn/app/soc#/{type}?id={id}")
    link = dispatch.console_link("https://c.example.vn/{type}/{id}",
                                 {"incident": {"id": "SC-2026-0001/x"}})
    assert link == "https://c.example.vn/incidents/SC-2026-0001%2Fx"
    assert dispatch.console_link("https://c.example.vn/{type}/{id}", {"channel": "x"}) is None
    with pytest.raises(ConfigError, match=r"soc.yml:3: notify: console_url must be an http"):
        load("javascript:alert(1)")
    with pytest.raises(ConfigError, match=r"may hold \{type\} and \{id\} only"):
        load("https://c.example.vn/{user}/{id}")


# --- kill -9 of the real CLI against the real webhook channel ------------------------------------


def test_kill_9_of_soc_notify_run_resends_at_most_one(tmp_path: Path) -> None:
    peer = Hook(hang=True)
    try:
        cfg = write_config(tmp_path, f"  channels: {{hook: {{type: webhook, "
                           f"url: '{peer.url}/hook', timeout: 60}}}}\n"
                           f"  routes: [{{channels: [hook]}}]\n")
        raise_alerts(cfg, 1, 2, 3)
        argv = [sys.executable, "-m", "soc", "-c", str(cfg), "notify", "run", "--json"]
        first = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        assert wait_event(peer.first, 60), first.communicate(timeout=5)
        first.send_signal(signal.SIGKILL)  # routed, sending, never marked
        assert first.wait(timeout=30) == -signal.SIGKILL
        peer.release.set()
        second = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["delivered"] == 3
    finally:
        peer.close()
    keys = [f"alert.new:{n:032x}/route:route1/channel:hook" for n in (1, 2, 3)]
    assert peer.keys() == [keys[0], *keys]  # one duplicate, the same key, in order
    assert [body["key"] for _, _, body in peer.requests] == peer.keys()
    with SQLiteStore.open(load_config(cfg), readonly=True) as store:
        assert [(d.key, d.status) for d in store.list_deliveries()] == [
            (k, "delivered") for k in keys]


# --- soc listen delivers -------------------------------------------------------------------------

RULE = """\
title: Notify canary
id: 00000000-0000-4000-8000-0000000c0a18
status: test
level: high
logsource: {product: linux, service: sudo}
detection:
  sel: {event.action: sudo, user.effective.name: root, process.command_line|contains: canary}
  condition: sel
"""
CANARY = ("<38>Nov 24 08:26:01 web01 sudo: quantri : TTY=pts/1 ; PWD=/home/quantri ; "
          "USER=root ; COMMAND=/usr/bin/canary --run")


@pytest.mark.real_clock
def test_soc_listen_delivers_an_alert_to_a_file_channel(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "canary.yml").write_text(RULE, encoding="utf-8")
    cfg = write_config(tmp_path, "  channels: {audit: {type: file, path: sent.jsonl}}\n"
                       "  routes: [{channels: [audit], match: {min_severity: high}}]\n",
                       extra="rules: {paths: [rules]}\nlisten:\n  status_interval: 100ms\n"
                             "  drain_interval: 100ms\n  udp: 127.0.0.1:0\n")
    daemon = ListenProcess(cfg)
    try:
        status = daemon.start()
        port = int(status["listeners"][0].rsplit(":", 1)[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(CANARY.encode(), ("127.0.0.1", port))
        sent = tmp_path / "sent.jsonl"
        deadline = time.monotonic() + 30  # the drain, then one NOTIFY_INTERVAL (5 s)
        while not sent.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        (line,) = sent.read_text(encoding="utf-8").splitlines()
        message = json.loads(line)
        assert message["kind"] == "alert.new"
        assert message["context"]["alert"]["rule_title"] == "Notify canary"
        code, err = daemon.stop()
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.kill()
    assert code == 0, err
    with SQLiteStore.open(load_config(cfg), readonly=True) as store:
        assert [d.status for d in store.list_deliveries()] == ["delivered"]


# --- soc status ----------------------------------------------------------------------------------


def test_status_shows_each_channels_last_success_and_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refusing = Hook(status=403)
    try:
        cfg = write_config(tmp_path, f"  channels:\n"
                           f"    audit: {{type: file, path: sent.jsonl}}\n"
                           f"    hook: {{type: webhook, url: '{refusing.url}/h'}}\n"
                           f"  routes: [{{channels: [audit, hook]}}]\n")
        raise_alerts(cfg, 1)
        code, _, err = cli(["-c", str(cfg), "notify", "run"], capsys)
    finally:
        refusing.close()
    assert code == 5 and "failed for good" in err
    code, out, err = cli(["-c", str(cfg), "status", "--json"], capsys)
    channels = {c["channel"]: c for c in json.loads(out)["channels"]}
    assert channels["audit"]["last_success"] and channels["audit"]["delivered"] == 1
    assert channels["audit"]["last_failure"] is None
    assert channels["hook"]["last_success"] is None and channels["hook"]["failed"] == 1
    assert "403" in channels["hook"]["last_error"]
    code, _, err = cli(["-c", str(cfg), "status"], capsys)
    assert f"Channel audit: last success {channels['audit']['last_success']}" in err
    assert "Channel hook: last success never, last failure" in err and "1 failed" in err


# --- pruning; notifications configured later tell nothing old -----------------------------------


class Recorder:
    type = "file"

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Message] = []

    def send(self, message: Message) -> str:
        self.sent.append(message)
        return "ok"


class Down(Recorder):
    def send(self, message: Message) -> str:
        raise DeliveryError("connection refused")


ROUTED = "  channels: {oncall: {type: file, path: sent.jsonl}}\n  routes: [{channels: [oncall]}]\n"


def test_finished_rows_older_than_keep_are_pruned_a_bounded_number_per_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write_config(tmp_path, ROUTED + "  keep: 10d\n"))
    with SQLiteStore.open(config) as store:
        store.upsert_alerts([high_alert(n, format_ts(T0)) for n in (1, 2, 3)], {})
        report = dispatch.run(store, config, now=T0, channels={"oncall": Recorder("oncall")})
        assert report.delivered == 3 and report.pruned == 0
        later = T0 + timedelta(days=10, minutes=1)
        assert dispatch.run(store, config, now=T0 + timedelta(days=9),
                            channels={}).pruned == 0
        monkeypatch.setattr(dispatch, "PRUNE", 2)
        assert dispatch.run(store, config, now=later, channels={}).pruned == 4
        assert len(store.list_deliveries()) == 1 and len(store.outbox_changes()) == 1
        assert dispatch.run(store, config, now=later, channels={}).pruned == 2
        assert store.list_deliveries() == [] and store.outbox_changes() == []


def test_a_delivery_still_waiting_is_never_pruned(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, ROUTED + "  max_age: 30d\n  keep: 30d\n"))
    with SQLiteStore.open(config) as store:
        store.upsert_alerts([high_alert(1, format_ts(T0))], {})
        dispatch.run(store, config, now=T0, channels={"oncall": Down("oncall")})
        (waiting,) = store.list_deliveries()
        store.mark_delivery(waiting.key, status="queued", next_at=format_ts(T0 + timedelta(
            days=40)))  # its retry is far off: it waits past keep
        assert dispatch.run(store, config, now=T0 + timedelta(days=31),
                            channels={}).pruned == 0
        assert [d.status for d in store.list_deliveries()] == ["queued"]
        assert len(store.outbox_changes()) == 1


def test_keep_must_cover_max_age(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, ROUTED + "  max_age: 7d\n  keep: 2d\n")
    with pytest.raises(ConfigError, match="keep must be at least max_age"):
        notify_config.load(load_config(cfg))
    assert notify_config.load(load_config(write_config(tmp_path, ROUTED))).keep == (
        timedelta(days=30))


def test_notify_configured_later_tells_only_what_happens_from_then_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "soc.yml"
    (tmp_path / "auth.log").write_text("", encoding="utf-8")
    cfg.write_text("data_dir: data\nsources: [{name: auth, paths: [auth.log]}]\n",
                   encoding="utf-8")
    raise_alerts(cfg, 1, 2)  # no notify: the writes queue nothing
    with SQLiteStore.open(load_config(cfg)) as store:
        assert store.outbox_changes() == []
    with SQLiteStore.open_path(tmp_path / "data" / "store.db") as store:  # left by an older
        store.upsert_alerts([high_alert(3, now_ts())], {})                # configuration
        assert len(store.outbox_changes(unrouted=True)) == 1
    code, _, err = cli(["-c", str(cfg), "collect"], capsys)  # no notify: discards, prunes
    assert code == 0, err
    with SQLiteStore.open(load_config(cfg)) as store:
        assert store.outbox_changes(unrouted=True) == [] and store.list_deliveries() == []
    cfg.write_text(cfg.read_text() + "notify:\n" + ROUTED, encoding="utf-8")
    raise_alerts(cfg, 4)
    code, out, err = cli(["-c", str(cfg), "notify", "run", "--json"], capsys)
    assert code == 0 and json.loads(out)["delivered"] == 1, err
    (line,) = (tmp_path / "sent.jsonl").read_text().splitlines()
    assert json.loads(line)["context"]["alert"]["id"] == f"{4:032x}"


def test_changes_older_than_max_age_are_routed_to_nobody(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, ROUTED))
    with SQLiteStore.open(config) as store:
        store.upsert_alerts([high_alert(1, format_ts(T0))], {})
        oncall = Recorder("oncall")
        report = dispatch.run(store, config, now=T0 + timedelta(days=8),
                              channels={"oncall": oncall})
        assert (report.routed, report.deliveries, oncall.sent) == (1, 0, [])


# --- soc collect on Elasticsearch ----------------------------------------------------------------


def test_soc_collect_on_elasticsearch_delivers_to_a_file_channel(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from soc.stores.es.store import ElasticsearchStore
    from tests.test_store_contract import _ES_RUN, _es_options, _es_remove_prefix

    url = os.environ.get("SOC_TEST_ES_URL")
    if not url:
        pytest.skip("SOC_TEST_ES_URL is not set: Elasticsearch notifications not tested")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "canary.yml").write_text(RULE, encoding="utf-8")
    (tmp_path / "auth.log").write_text(CANARY.split(">", 1)[1] + "\n", encoding="utf-8")
    prefix = f"{_ES_RUN}{hashlib.blake2b(str(tmp_path).encode(), digest_size=4).hexdigest()}-"
    store = {"type": "elasticsearch", **_es_options(url), "index_prefix": prefix,
             "refresh": "wait_for", "replicas": 0}
    cfg = write_config(tmp_path, "  channels: {journal: {type: file, path: sent.jsonl}}\n"
                       "  routes: [{name: all, channels: [journal]}]\n",  # as soc demo has it
                       extra=f"store: {json.dumps(store)}\nrules: {{paths: [rules]}}\n"
                             "sources: [{name: auth, paths: [auth.log]}]\n")
    try:
        code, _, err = cli(["-c", str(cfg), "collect"], capsys)
        assert code == 0 and "Warning: notifications" not in err, err
        sent = [json.loads(x) for x in (tmp_path / "sent.jsonl").read_text().splitlines()]
        canary = [m for m in sent if m["context"]["alert"]["rule_title"] == "Notify canary"]
        assert [m["kind"] for m in canary] == ["alert.new"]
        assert canary[0]["key"].endswith("/route:all/channel:journal")
        code, _, err = cli(["-c", str(cfg), "collect"], capsys)  # nothing new: nothing sent
        assert code == 0, err
        assert len((tmp_path / "sent.jsonl").read_text().splitlines()) == len(sent)
        with ElasticsearchStore.open(load_config(cfg), readonly=True) as es:
            assert {d.status for d in es.list_deliveries()} == {"delivered"}
            assert len(es.list_deliveries()) == len(sent)
    finally:
        _es_remove_prefix(url, prefix)


# --- a store without an outbox -------------------------------------------------------------------


class PlainStore(SQLiteStore):
    """A store plugin that keeps no notification outbox."""

    kind = "plain"
    keeps_outbox = False


def test_a_store_without_an_outbox_skips_notifications_with_one_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from soc import registry
    from soc.notify import ops

    monkeypatch.setitem(registry.available("store"), "plain",
                        EntryPoint("plain", f"{__name__}:PlainStore", "soc.stores"))
    config = replace(load_config(write_config(tmp_path, ROUTED)), store=StoreConfig("plain"))
    report = notify_after(config, PassReport())
    assert report.notify_warnings == [
        "notifications: the plain store keeps no notification outbox: nothing is sent"]
    quiet = load_config(write_config(tmp_path / "quiet", "  {}\n"))
    assert notify_after(replace(quiet, store=StoreConfig("plain")),
                        PassReport()).notify_warnings == []
    with pytest.raises(StoreError) as caught:
        ops.dispatch(config, now=T0)
    assert caught.value.exit_code == 4
    assert caught.value.hint == ("Use the embedded or the Elasticsearch store to send "
                                 "notifications (docs/notifications.md).")


def test_run_without_routes_discards_what_nobody_routes(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "  channels: {}\n"))
    with SQLiteStore.open_path(tmp_path / "data" / "store.db") as store:
        store.upsert_alerts([high_alert(1, format_ts(T0))], {})
        report = dispatch.run(store, config, now=T0)
        assert (report.discarded, report.routed) == (1, 0)
        assert store.outbox_changes(unrouted=True) == []
        assert replace(report, discarded=0, pruned=0) == dispatch.DispatchReport()
