"""The syslog/auth parser on the loghub samples of a real Linux host and a real OpenSSH server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext

pytestmark = pytest.mark.corpus

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, tzinfo=UTC))

# Measured shares (events / lines); a parser change must not lower them.
EXPECTED_SHARE = {"Linux/Linux_2k.log": 1.0, "OpenSSH/OpenSSH_2k.log": 1.0}
# Measured shares of lines that get an event.action (the auth messages understood).
EXPECTED_ACTION_SHARE = {"Linux/Linux_2k.log": 0.42, "OpenSSH/OpenSSH_2k.log": 0.99}
SSH_FAILURES = {"ssh_failed_password", "ssh_failed_auth", "ssh_invalid_user"}


def _parse_all(path: Path, parser_name: str = "syslog") -> tuple[list[Event], list[str]]:
    parser = get_parser(parser_name)
    events: list[Event] = []
    reasons: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(parser.parse(line, CTX))
        except ParseError as exc:
            assert exc.message, line
            reasons.append(exc.message)
    return events, reasons


@pytest.mark.parametrize("name", sorted(EXPECTED_SHARE))
def test_every_line_is_an_event_or_a_reasoned_error(corpus: Path, name: str) -> None:
    events, reasons = _parse_all(corpus / "loghub" / name)
    total = len(events) + len(reasons)
    share = len(events) / total
    acted = sum(1 for ev in events if "event.action" in ev) / total
    print(f"{name}: {len(events)}/{total} parsed ({share:.1%}), {acted:.1%} with an action")
    for ev in events:
        assert ev["@timestamp"].endswith("Z") and len(ev["@timestamp"]) == 24
        assert ev["event.dataset"] in ("syslog", "linux.auth")
    assert share >= EXPECTED_SHARE[name]
    assert acted >= EXPECTED_ACTION_SHARE[name]


def test_auto_detection_gives_the_same_events(corpus: Path) -> None:
    path = corpus / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    assert _parse_all(path, "auto") == _parse_all(path, "syslog")


def test_ssh_failures_carry_who_and_from_where(corpus: Path) -> None:
    events, _ = _parse_all(corpus / "loghub" / "OpenSSH" / "OpenSSH_2k.log")
    failures = [ev for ev in events if ev.get("event.action") in SSH_FAILURES]
    assert len(failures) > 500
    for ev in failures:
        assert ev["source.ip"] and ev["user.name"], ev["message"]
        assert ev["event.outcome"] == "failure"
        assert ev["event.category"] == ["authentication"]
        assert ev["related.ip"] == [ev["source.ip"]]


def test_old_pam_lines_of_the_linux_host(corpus: Path) -> None:
    events, _ = _parse_all(corpus / "loghub" / "Linux" / "Linux_2k.log")
    pam = [ev for ev in events if ev.get("event.action") == "pam_authentication_failure"]
    assert len(pam) > 400
    assert all(ev["event.outcome"] == "failure" for ev in pam)
    remote = [ev for ev in pam if "rhost= " not in ev["message"] and ev["message"][-6:] != "rhost="]
    assert len(remote) > 400
    assert all("source.ip" in ev or "source.domain" in ev for ev in remote)
    sessions = [ev for ev in events if ev.get("event.action") == "session_opened"]
    assert sessions and all(ev["user.name"] for ev in sessions)
