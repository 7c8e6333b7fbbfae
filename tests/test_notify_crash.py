"""kill -9 between queueing and sending: a dispatcher killed while its channel's peer holds the
first request; the next run delivers everything, re-sending at most one message, with the same
idempotency key. A real HTTP server on loopback, a real process, a real SIGKILL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from soc.ecs import now_ts
from soc.models import Alert, Severity
from soc.stores.sqlite import SQLiteStore
from soc.timeutil import wait_event
from tests.conftest import ROOT


class Peer(ThreadingHTTPServer):
    """Records each request's idempotency key; hangs the first one until released."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.keys: list[str] = []
        self.first = threading.Event()  # the first request arrived
        self.release = threading.Event()


class Handler(BaseHTTPRequestHandler):
    server: Peer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.keys.append(self.headers["Idempotency-Key"])
        if len(self.server.keys) == 1:
            self.server.first.set()
            wait_event(self.server.release, 60)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def child(data_dir: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.notify_child", str(data_dir), url],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_between_queueing_and_sending(tmp_path: Path) -> None:
    now = now_ts()  # the child dispatches on the real clock: the changes happen now
    with SQLiteStore.open_path(tmp_path / "store.db") as store:
        store.upsert_alerts([Alert(id=f"{n:032x}", rule_id="r", rule_title=f"rule {n}",
                                   severity=Severity.HIGH, first_seen=now, last_seen=now,
                                   created=now, updated=now) for n in (1, 2)], {})
    peer = Peer()
    threading.Thread(target=peer.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{peer.server_address[1]}/hook"
    try:
        first = child(tmp_path, url)
        assert wait_event(peer.first, 60), first.communicate(timeout=5)
        first.send_signal(signal.SIGKILL)  # routed and sending: the send was never marked
        assert first.wait(timeout=30) == -signal.SIGKILL
        peer.release.set()
        second = child(tmp_path, url)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()
        assert json.loads(out)["delivered"] == 2
    finally:
        peer.release.set()
        peer.shutdown()
        peer.server_close()
    keys = [f"alert.new:{n:032x}/route:route1/channel:hook" for n in (1, 2)]
    assert peer.keys == [keys[0], keys[0], keys[1]]  # one duplicate, the same key, in order
    with SQLiteStore.open_path(tmp_path / "store.db", readonly=True) as store:
        assert [(d.key, d.status, d.attempts) for d in store.list_deliveries()] == [
            (keys[0], "delivered", 1), (keys[1], "delivered", 1)]
