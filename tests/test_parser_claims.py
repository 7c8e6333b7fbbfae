"""Routing in one stream (issue 16, item 2): a generic syslog line is offered to the ~30 more
specific parsers through one multi-pattern scan of their ``markers``, not 30 sniffs.

The markers must never hide a line a parser's sniff accepts: checked on every sample line of
the test suite (the fuzz harness's candidates) and on a mixed stream."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from soc import registry
from soc.pipeline.parsing import AutoParser, Claims
from soc.pipeline.sources import ParseContext
from tests.fuzz.harness import candidates

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, tzinfo=UTC),
                   hostname="relay01")


def marked() -> list[str]:
    return [n for n, p in registry.parsers().items() if getattr(p, "markers", ())]


def test_most_parsers_before_syslog_have_markers() -> None:
    parsers = registry.parsers()
    before = [p for p in parsers.values() if p.priority < parsers["syslog"].priority]
    unmarked = [p.name for p in before if not getattr(p, "markers", ())]
    assert len(unmarked) <= 5, unmarked  # each costs a call on every generic syslog line


@pytest.mark.parametrize("name", marked())
def test_a_line_the_sniff_accepts_holds_a_marker(name: str) -> None:
    parser = registry.parsers()[name]
    markers = parser.markers
    missed = [t for t in candidates() if parser.sniff(t) and not any(m in t for m in markers)]
    assert missed == [], f"{name}'s sniff accepts lines without any of its markers: {missed[:3]}"


def test_claims_agree_with_every_sniff() -> None:
    parsers = list(registry.parsers().values())
    claims = Claims(parsers)
    differ = [t for t in candidates() if claims(t) != any(p.sniff(t) for p in parsers)]
    assert differ == []


def test_claims_without_markers_sniff_everything() -> None:
    class Plain:
        name, priority = "plain", 1

        def sniff(self, text: str) -> bool:
            return text.startswith("x")

    class Marked:
        name, priority, markers = "marked", 2, ("MARK",)

        def sniff(self, text: str) -> bool:
            return "MARK" in text and text.endswith("!")

    claims = Claims([Plain(), Marked()])  # type: ignore[list-item]
    assert claims("x anything") and claims("MARK and !") and not claims("MARK only")
    assert not claims("nothing here")


def test_one_stream_of_many_devices() -> None:
    """A relay forwards everything on one port: generic lines stay syslog, device lines go to
    their parser, whatever the order."""
    lines = {
        "<134>Nov 24 10:00:00 relay01 kernel: usb 1-1: new high-speed USB device": "syslog",
        "<166>Nov 24 10:00:01 asa01 %ASA-6-302013: Built inbound TCP connection 1 for "
        "outside:198.51.100.7/5555 (198.51.100.7/5555) to inside:10.0.0.5/443 "
        "(10.0.0.5/443)": "cisco.asa",
        "<134>Nov 24 10:00:02 relay01 systemd[1]: Started Session 4 of user root.": "syslog",
        "<134>Nov 24 10:00:03 fw01 CEF:0|Trend Micro|Deep Security Agent|20.0|4000000|"
        "Eicar_test_file|6|src=198.51.100.9 suser=an fname=eicar.com": "cef",
        "<134>Nov 24 10:00:04 fw02 filterlog[77]: 5,,,1000000103,igb0,match,block,in,4,0x0,,64,"
        "0,0,DF,6,tcp,60,198.51.100.7,10.0.0.5,5555,22,0,S,1,,64240,,mss": "pfsense.filterlog",
        "<134>Nov 24 10:00:05 relay01 cron[9]: (root) CMD (run-parts /etc/cron.hourly)":
            "syslog",
    }
    auto = AutoParser(list(registry.parsers().values()))
    for _ in range(2):  # the last parser that worked goes first: the order must not matter
        for text, dataset in lines.items():
            assert auto.parse(text, CTX)["event.dataset"] == dataset, text
