"""Pipeline contracts across parsers: skipped records, per-file parser state, specific parsers
winning over generic ones in auto-detection."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from soc.config import load_config
from soc.pipeline.collect import ingest
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import ParseContext
from soc.stores.base import open_store

IIS_A = ("#Software: Microsoft Internet Information Services 10.0\n"
         "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip sc-status\n"
         "2026-11-24 01:02:03 10.10.1.11 GET /dich-vu-cong/tra-cuu q=1 443 203.0.113.7 200\n")
IIS_B = ("#Fields: date time c-ip cs-method cs-uri-stem sc-status\n"
         "2026-11-24 01:02:04 203.0.113.8 POST /vbdh/login.aspx 302\n")


def test_w3c_headers_are_skipped_and_layouts_kept_per_file(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(IIS_A)
    (tmp_path / "b.log").write_text(IIS_B)
    config = load_config(None, data_dir=tmp_path / "data")
    report = ingest(config, [str(tmp_path / "a.log"), str(tmp_path / "b.log")], fmt="iis",
                    detect=False)
    assert (report.events, report.dead_letters) == (2, 0)
    assert [s.skipped for s in report.sources] == [2, 1]
    with open_store(config, readonly=True) as store:
        events = sorted(store.search("*", limit=None, order="asc"), key=lambda e: e["@timestamp"])
    assert [(e["source.ip"], e["url.path"], e["http.response.status_code"]) for e in events] == [
        ("203.0.113.7", "/dich-vu-cong/tra-cuu", 200), ("203.0.113.8", "/vbdh/login.aspx", 302)]


SSHD = ("Nov 24 08:00:01 fw-hq sshd[100]: Accepted password for quantri from 10.0.0.5 "
        "port 40000 ssh2")
ASA = ("Nov 24 08:00:02 fw-hq %ASA-4-106023: Deny tcp src outside:203.0.113.9/4444 dst "
       "inside:10.10.1.11/22 by access-group \"outside_in\" [0x0, 0x0]")


@pytest.fixture
def ctx() -> ParseContext:
    return ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 25, tzinfo=UTC))


def test_a_specific_parser_wins_over_the_last_generic_one(ctx: ParseContext) -> None:
    auto = get_parser("auto")
    assert auto.parse(SSHD, ctx)["event.dataset"] == "linux.auth"
    asa = auto.parse(ASA, ctx)
    assert asa["event.dataset"] == "cisco.asa"
    assert (asa["source.ip"], asa["destination.port"]) == ("203.0.113.9", 22)
    assert auto.parse(SSHD, ctx)["event.dataset"] == "linux.auth"


RULE_PARENT_IMAGE = """\
title: Net user from cmd
id: 5b0f3f4e-3a4c-4d55-9a51-7f7e1f0c2a11
status: test
logsource: {product: windows, category: process_creation}
detection:
  selection:
    ParentImage|endswith: '\\\\cmd.exe'
    Image|endswith: '\\\\net.exe'
  condition: selection
level: low
"""

EVENT_4688 = {"Event": {
    "System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
               "EventID": 4688, "Channel": "Security", "Computer": "dc01.so.example.gov.vn",
               "EventRecordID": 77,
               "TimeCreated": {"#attributes": {"SystemTime": "2026-11-24T01:00:00.000Z"}}},
    "EventData": {"NewProcessName": "C:\\Windows\\System32\\net.exe",
                  "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
                  "CommandLine": "net user /domain"}}}


def test_parent_image_rules_match_security_4688(tmp_path: Path) -> None:
    from collectors.parsers.winlog import winlog_event
    from soc.detection.engine import Engine

    (tmp_path / "rule.yml").write_text(RULE_PARENT_IMAGE)
    engine = Engine.from_paths([tmp_path], use_cache=False)
    hits = engine.match(winlog_event(EVENT_4688))
    assert [h.rule_id for h in hits] == ["5b0f3f4e-3a4c-4d55-9a51-7f7e1f0c2a11"]


def test_ingest_recognises_evtx_files(tmp_path: Path, corpus: Path) -> None:
    sample = next(iter(sorted((corpus / "evtx-attack-samples").rglob("*.evtx"))))
    text = tmp_path / "notes.txt"
    text.write_text("Nov 24 08:00:01 h sshd[1]: Accepted password for a from 10.0.0.1 "
                    "port 2 ssh2\n")
    from soc.pipeline.collect import source_type_for

    assert (source_type_for(sample), source_type_for(text)) == ("evtx", "file")
    config = load_config(None, data_dir=tmp_path / "data")
    report = ingest(config, [str(sample)], detect=False)
    assert report.dead_letters == 0 and report.events > 0
    with open_store(config, readonly=True) as store:
        assert store.count("_exists_:winlog.channel") == report.events


def test_a_bad_prebuilt_event_is_kept_whole_as_a_dead_letter() -> None:
    from soc.pipeline.pipeline import _raw
    from soc.pipeline.sources import RawRecord

    record = RawRecord(text="", id="x", event={"source.ip": "203.0.113.9"})
    assert _raw(record) == b'{"source.ip":"203.0.113.9"}'
    assert _raw(RawRecord(text="a line", id="y")) == b"a line"


def test_collection_pauses_for_a_batch_and_frees_its_cycles_after() -> None:
    import gc
    import weakref

    from soc.pipeline.pipeline import _collection_paused

    class Node:
        other: object = None

    assert gc.isenabled()
    freed: list[bool] = []
    with _collection_paused():
        assert not gc.isenabled()
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: refcounting alone never frees it
        ref = weakref.ref(a, lambda _: freed.append(True))
        del a, b
        events = [[] for _ in range(gc.get_threshold()[0] * 2)]  # a batch, past the threshold
        assert ref() is not None  # nothing collected while paused
    assert gc.isenabled()
    _ = [[]]  # the first allocation after the batch runs the collection it missed
    assert freed == [True]
    del events


def test_collection_stays_as_the_caller_set_it() -> None:
    import gc

    from soc.pipeline.pipeline import _collection_paused

    with pytest.raises(RuntimeError), _collection_paused():
        raise RuntimeError("a batch failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with _collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("original", [None, True, False])
def test_a_source_can_leave_out_event_original(tmp_path: Path, original: bool | None) -> None:
    from soc.pipeline.collect import collect

    log = tmp_path / "auth.log"
    line = ("Nov 24 10:00:01 portal-web01 sshd[4242]: Failed password for root from "
            "203.0.113.7 port 50022 ssh2")
    log.write_text(line + "\n", encoding="utf-8")
    setting = "" if original is None else f", original: {str(original).lower()}"
    cfg = tmp_path / "soc.yml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\n"
                   f"sources:\n  - {{name: auth, type: file, paths: ['{log}']{setting}}}\n",
                   encoding="utf-8")
    config = load_config(cfg)
    assert config.sources[0].to_dict()["original"] is (original is not False)
    report = collect(config, detect=False)
    assert report.events == 1
    with open_store(config, readonly=True) as store:
        (event,) = store.search("*", limit=None)
    assert event["source.ip"] == "203.0.113.7" and event["event.outcome"] == "failure"
    assert event.get("event.original") == (None if original is False else line)
