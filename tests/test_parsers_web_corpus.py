"""The web, IIS, Apache error and Suricata parsers on the public corpora ($SOC_CORPUS; skipped
when unset). Shares are the figures measured when these parsers were written; known lines are
found by their content, never copied here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.parsers.suricata import SuricataParser
from collectors.parsers.web import (
    ApacheAccessParser,
    ApacheErrorParser,
    IisParser,
    TomcatAccessParser,
    W3CDirective,
)
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext, Parser

CTX = ParseContext(tz=UTC, now=datetime(2026, 11, 24, tzinfo=UTC), source="corpus")


@dataclass
class Tally:
    events: list[Event] = field(default_factory=list)
    failed: int = 0
    skipped: int = 0

    @property
    def share(self) -> float:
        return len(self.events) / (len(self.events) + self.failed)


def lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="surrogateescape") as f:
        for text in f:
            yield text.rstrip("\r\n")


def run(parser: Parser, path: Path) -> Tally:
    tally = Tally()
    for text in lines(path):
        try:
            tally.events.append(parser.parse(text, CTX))
        except W3CDirective:
            tally.skipped += 1
        except ParseError:
            tally.failed += 1
    print(f"{path.name}: {len(tally.events)} parsed, {tally.failed} failed, "
          f"{tally.skipped} directives, share {tally.share:.4f}")
    return tally


@pytest.mark.parametrize(("name", "least"), [("acunetix.txt", 1.0), ("w3af.txt", 1.0)])
def test_scanner_access_logs(corpus: Path, name: str, least: float) -> None:
    tally = run(ApacheAccessParser(), corpus / "web/scanner-access-logs" / name)
    assert tally.share >= least
    assert all(ev["event.dataset"] == "apache.access" and "source.ip" in ev
               for ev in tally.events)
    if name == "acunetix.txt":
        search = next(ev for ev in tally.events if "searchword=" in ev.get("url.query", ""))
        assert search["url.path"].startswith("/index.php/component/search")
        assert search["http.request.method"] == "GET"
        assert search["source.ip"] == "192.168.4.25"
        assert isinstance(search["http.response.status_code"], int)


def test_tomcat_access_log_with_manager_probing_and_webshell(corpus: Path) -> None:
    path = corpus / "web/webshell-access-logs/web_attack_and_isp_webshell_localhost_access_log.txt"
    tally = run(TomcatAccessParser(), path)
    assert tally.share >= 1.0
    denied = [ev for ev in tally.events
              if ev.get("url.path", "").startswith(("/manager/", "/host-manager/"))
              and ev.get("http.response.status_code") == 401]
    assert len(denied) >= 5
    assert all(ev["event.outcome"] == "failure" and ev["event.dataset"] == "tomcat.access"
               for ev in denied)
    shell = [ev for ev in tally.events if ev.get("url.path") == "/error/cmd.jsp"]
    assert {ev["http.request.method"] for ev in shell} == {"GET", "POST"}


def test_iis_w3c_log_of_a_tunnel_webshell(corpus: Path) -> None:
    tally = run(IisParser(), corpus / "web/webshell-access-logs/Tunna_rdp_tunnel_IIS.log")
    assert tally.share >= 0.9997  # one blank line
    assert tally.skipped >= 4  # the #Software, #Version, #Date, #Fields directives
    tunnel = [ev for ev in tally.events if "port=3389" in ev.get("url.query", "")]
    assert tunnel and all(ev["url.path"].endswith(".aspx") for ev in tunnel)
    assert {ev["source.ip"] for ev in tunnel} <= {ev["source.ip"] for ev in tally.events}
    assert all(ev["@timestamp"].endswith("Z") and ev["http.request.method"] in ("GET", "POST")
               for ev in tunnel)


def test_apache_error_log(corpus: Path) -> None:
    tally = run(ApacheErrorParser(), corpus / "loghub/Apache/Apache_2k.log")
    assert tally.share >= 1.0
    levels = {ev["log.level"] for ev in tally.events}
    assert {"notice", "error"} <= levels
    assert all(ev["message"] for ev in tally.events)


@pytest.mark.parametrize("name", ["eve.json", "eve_2023-10-31-IcedID-infection-traffic.json"])
def test_suricata_eve(corpus: Path, name: str) -> None:
    tally = run(SuricataParser(), corpus / "suricata/icedid" / name)
    assert tally.share >= 1.0
    alerts = [ev for ev in tally.events if ev["event.kind"] == "alert"]
    assert any("IcedID" in ev["rule.name"] for ev in alerts)
    assert all(ev["rule.id"].isdigit() and "source.ip" in ev for ev in alerts)
    assert any(ev.get("dns.question.name") for ev in tally.events)
