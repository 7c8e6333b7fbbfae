"""Per-client scoring of web attacks (issue #17, item 3): the value_sum correlation over the
enrichment's ``web.attack.score`` raises one alert per source, links the contributing requests,
and the alert layer's suppression keeps one alert per source while the attack goes on."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soc.alerts import AlertSink, Finding
from soc.detection.correlation import Correlator, MemoryHitLog
from soc.detection.stage import Detector, load_detector
from soc.ecs import Event, format_ts
from soc.stores.sqlite import SQLiteStore

RULES = Path(__file__).resolve().parent.parent / "rules"
SCORING = "ed5557f7-648c-4edb-ab0e-56198e70d384"  # web_attacks_from_one_source.yml
SIGNAL = "69f000b2-0b57-40ad-bebf-ad693d73ee21"  # web_attack_signal.yml (feeds it, silent)
T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector([RULES], use_cache=False)


def request(n: int, minute: float, score: int, ip: str = "203.0.113.70") -> Event:
    """An enriched access-log event as the web enrichment leaves it (the contract fields)."""
    return {"@timestamp": format_ts(T0 + timedelta(minutes=minute)), "event.id": f"r{n}",
            "event.dataset": "apache.access", "source.ip": ip, "url.path": "/tra-cuu",
            "url.original": f"/tra-cuu?id={n}", "http.response.status_code": 200,
            "web.attack.score": score, "web.attack.classes": ["sqli"],
            "web.attack.evidence": [f"param id: weak signal {n}"]}


def scoring_matches(detector: Detector, events: list[Event], *, episodes: bool = True) -> list[
        Finding]:
    hits = detector.match(events)
    correlator = Correlator(detector.specs, MemoryHitLog(), episodes=episodes)
    return [f for f in detector.findings(hits, correlator) if f.rule_id in (SCORING, SIGNAL)]


def test_weak_signals_adding_up_to_ten_make_one_alert_with_the_evidence(
        detector: Detector) -> None:
    events = [request(1, 0, 3), request(2, 2, 3), request(3, 4, 2), request(4, 6, 2)]
    (found,) = scoring_matches(detector, events)
    assert found.rule_id == SCORING and found.value == 10
    assert found.group == {"source.ip": "203.0.113.70"}
    assert [e for e, _ in found.contributing] == ["r1", "r2", "r3", "r4"]


def test_below_ten_or_spread_past_the_window_or_over_sources_raises_nothing(
        detector: Detector) -> None:
    assert scoring_matches(detector, [request(1, 0, 3), request(2, 2, 3), request(3, 4, 3)]) == []
    slow = [request(n, n * 11, 4) for n in range(4)]  # 4 each, never three in ten minutes
    assert scoring_matches(detector, slow) == []
    spread = [request(n, n, 4, ip=f"198.51.100.{n}") for n in range(4)]
    assert scoring_matches(detector, spread) == []


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open_path(tmp_path / "store.db") as s:
        yield s


def test_suppression_keeps_one_alert_per_source_while_the_attack_goes_on(
        detector: Detector, store: SQLiteStore) -> None:
    burst = [request(n, n, 4) for n in range(3)]
    later = [request(10 + n, 30 + n, 4) for n in range(3)]  # same source, 30 minutes on
    other = [request(20 + n, n, 4, ip="203.0.113.71") for n in range(3)]
    findings = scoring_matches(detector, burst + later + other, episodes=False)
    assert len(findings) > 2  # every holding window is reported in store mode
    result = AlertSink(store, suppress=timedelta(hours=1)).raise_alerts(findings)
    alerts = [*result.new, *result.updated]
    by_ip = {a.entity["source.ip"] for a in result.new}
    assert by_ip == {"203.0.113.70", "203.0.113.71"} and len(result.new) == 2
    assert all(a.rule_id == SCORING for a in alerts)


def test_soc_detect_reports_the_scoring_alert_on_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "enriched.jsonl"
    events = [request(1, 0, 4), request(2, 1, 3), request(3, 2, 3)]
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "soc", "--data-dir", str(tmp_path / "data"),
                             "detect", str(path), "-r", str(RULES), "--nl"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 10, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    (scoring,) = [r for r in records if r["rule_id"] == SCORING]
    assert scoring["count"] == 10 and scoring["title"] == "Web Attacks From One Source"


def test_strong_requests_feed_no_score_and_alert_once_each(detector: Detector) -> None:
    """A strong request (a critical signal, or a score of 5) raises its class's alert alone:
    the scoring correlation only adds up weak ones, so it never doubles that alert."""
    strong = [{**request(n, n, 5), "web.attack.strong": True} for n in range(3)]
    scored = [request(10 + n, n, 5) for n in range(3)]  # no critical signal, but 5 points
    assert scoring_matches(detector, strong + scored) == []


def test_one_strong_request_raises_exactly_one_alert(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    # two critical signals, 10 points: the class alert, and no per-source alert beside it
    log.write_text('203.0.113.80 - - [24/Nov/2026:10:00:00 +0700] "GET /tra-cuu?id=1%27%20OR'
                   '%20%271%27=%271&loai=2%27%20OR%20%27a%27=%27a HTTP/1.1" 200 512 "-" '
                   '"Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 Safari/537.36"\n',
                   encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "soc", "--data-dir", str(tmp_path / "data"),
                             "detect", str(log), "-r", str(RULES / "web"), "--nl"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 10, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["title"] for r in records] == ["SQL Injection In A Request Parameter (libinjection)"]
