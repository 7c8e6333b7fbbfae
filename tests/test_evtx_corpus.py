"""The EVTX collector and the winlog parser on the public corpora ($SOC_CORPUS); cut files; the
share of the mordor JSON exports that becomes Windows events."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from collectors.evtx import CHUNK, HEADER, EvtxCollector
from collectors.parsers.winlog import WinlogParser, winlog_event
from soc.config import Config, Source
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import get_parser
from soc.pipeline.sources import Batch, ParseContext
from soc.state import StateStore

pytestmark = pytest.mark.corpus
CTX = ParseContext(tz=UTC, now=datetime(2026, 11, 24, tzinfo=UTC))


def _collect(tmp_path: Path, *paths: Path, name: str = "win") -> tuple[EvtxCollector, list[Batch]]:
    source = Source(name=name, type="evtx", paths=tuple(str(p) for p in paths),
                    options=MappingProxyType({}))
    state = StateStore(tmp_path / "state.db")
    collector = EvtxCollector(source, state, Config(path=None, data_dir=tmp_path))
    batches = []
    for batch in collector.batches(500):
        batches.append(batch)
        collector.commit(batch)
    return collector, batches


def _events(batches: list[Batch]) -> list[Event]:
    parser = WinlogParser()
    return [parser.parse(r.text, CTX) for b in batches for r in b.records]


@pytest.mark.parametrize("folder", ["evtx-attack-samples", "sigma-regression"])
def test_every_corpus_evtx_parses(corpus: Path, tmp_path: Path, folder: str) -> None:
    files = sorted(corpus.joinpath(folder).rglob("*.evtx"))
    collector, batches = _collect(tmp_path, corpus / folder)
    dead = [d.to_dict() for b in batches for d in b.dead_letters]
    events = _events(batches)
    assert len(collector.files()) == len(files) > 0
    assert dead == []
    assert len(events) >= len(files)
    for event in events:
        assert event["@timestamp"].endswith("Z") and len(event["@timestamp"]) == 24
        assert event["winlog.channel"] and isinstance(event["winlog.event_id"], int)
        assert event["event.code"] == str(event["winlog.event_id"])
    ids = [r.id for b in batches for r in b.records]
    assert len(set(ids)) == len(ids)
    # a second pass reads nothing again
    _, again = _collect(tmp_path, corpus / folder)
    assert sum(len(b.records) for b in again) == 0


def _json_twin(path: Path) -> list[dict[str, Any]]:
    """The sigma-regression .json files hold pretty-printed JSON objects one after another."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    out, pos = [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        obj, pos = decoder.raw_decode(text, pos)
        out.append(obj)
    return out


def _trimmed(event: Event) -> Event:
    return {k: v.rstrip().casefold() if isinstance(v, str) else v for k, v in event.items()}


def test_json_twins_give_the_same_events(corpus: Path, tmp_path: Path) -> None:
    pairs = sorted(corpus.joinpath("sigma-regression").rglob("*.evtx"))
    compared = 0
    for evtx_path in pairs:
        twin = evtx_path.with_suffix(".json")
        if not twin.exists():
            continue
        _, batches = _collect(tmp_path / evtx_path.stem, evtx_path)
        from_evtx = sorted(_events(batches), key=lambda e: e["winlog.record_id"])
        from_json = sorted((winlog_event(r) for r in _json_twin(twin)),
                           key=lambda e: e["winlog.record_id"])
        # the twins were not rendered from these very files: their values lack trailing blanks
        # and a few differ in case ("Explorer.EXE" / "Explorer.exe"), which Sigma ignores
        assert [_trimmed(e) for e in from_json] == [_trimmed(e) for e in from_evtx], twin
        compared += len(from_evtx)
    assert compared > 0


def test_cut_and_corrupt_files_become_dead_letters(corpus: Path, tmp_path: Path) -> None:
    sample = next(p for p in sorted(corpus.joinpath("evtx-attack-samples").rglob("*.evtx"))
                  if p.stat().st_size == HEADER + CHUNK)
    data = sample.read_bytes()
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "cut.evtx").write_bytes(data[: HEADER + CHUNK // 3])
    broken = bytearray(data)
    broken[HEADER + 600: HEADER + 1200] = b"\xff" * 600  # inside the first records
    (folder / "broken.evtx").write_bytes(bytes(broken))
    (folder / "notevtx.evtx").write_bytes(b"hello, not an event log\n" * 10)
    shutil.copy(sample, folder / "whole.evtx")
    _, batches = _collect(tmp_path, folder)
    dead = [d for b in batches for d in b.dead_letters]
    reasons = {Path(d.origin).name: d.reason for d in dead}
    assert "ends mid-chunk" in reasons["cut.evtx"]
    assert reasons["notevtx.evtx"].startswith("not a readable EVTX file")
    assert any(Path(d.origin).name == "broken.evtx" and d.reason.startswith("EVTX: ")
               for d in dead)
    events = _events(batches)
    whole = sum(1 for b in batches for r in b.records if r.origin.startswith(str(folder / "whole")))
    assert whole == len(_events(_collect(tmp_path / "alone", sample)[1]))
    assert len(events) > whole  # what survives of the broken and cut files comes through


def test_the_collector_builds_each_event_from_the_json_it_decoded(corpus: Path,
                                                                  tmp_path: Path) -> None:
    _, batches = _collect(tmp_path, corpus / "evtx-attack-samples", corpus / "sigma-regression")
    records = [r for b in batches for r in b.records]
    assert len(records) == 2094
    assert all(r.event is not None for r in records)
    assert [r.event for r in records] == _events(batches)  # what parsing the text gives


@pytest.mark.parametrize(("name", "rid", "expected"), [
    ("AutomatedTestingTools/Malware/DE_timestomp_and_dll_sideloading_and_RunPersist.evtx", 1,
     "e3977aaaaccbc38c10043913da979142"),
    ("Execution/exec_sysmon_1_ftp.evtx", 1, "379d3355eb6643a90927f5fc14038770"),
])
def test_record_ids_do_not_change(corpus: Path, tmp_path: Path, name: str, rid: int,
                                  expected: str) -> None:
    # ids are stored: a new way of computing them must give the old ones, or a re-read after
    # an upgrade would store every record twice (these are the ids of the regex-based version)
    _, batches = _collect(tmp_path, corpus / "evtx-attack-samples" / name)
    ids = {r.origin.rsplit("#", 1)[1]: r.id for b in batches for r in b.records}
    assert ids[str(rid)] == expected


# Windows JSON lines per mordor file that the winlog parser turns into events (all the lines of
# the files of Windows events; none of the Sysmon-for-Linux, auditd and VM Insights exports).
MORDOR_SHARE = {
    "compound/Log4Shell/securityauditing_log4shell_cve2021_44228_java_serialized_object_"
    "2022-05-13045400.json": (39, 39),  # Log Analytics SecurityEvent, EventData as XML
    "compound/Log4Shell/sysmon_log4shell_cve2021_44228_java_serialized_object_"
    "2022-05-13045800.json": (487, 487),  # Log Analytics WindowsEvent, EventData as JSON
    "atomic/windows/discovery/host/cmd_discover_iexplorer_version_registry/"
    "cmd_discover_iexplorer_version_registry_2020-10-2123281491.json": (68, 68),  # NXLog-style
    "compound/Log4Shell/syslog_sysmon_log4shell_cve2021_44228_jndi_reference_"
    "2022-05-11181020.json": (0, 93),  # Syslog rows carrying Sysmon for Linux XML
}


def _windows_lines(path: Path) -> tuple[int, int, set[str]]:
    """(lines parsed into Windows events, non-blank lines, their datasets)."""
    parser, auto = WinlogParser(), get_parser("auto")
    parsed, lines, datasets = 0, 0, set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        lines += 1
        try:
            event = parser.parse(line, CTX)
        except ParseError:
            continue
        parsed += 1
        assert event["@timestamp"].endswith("Z") and event["winlog.channel"]
        assert auto.parse(line, CTX) == event  # auto-detection picks the winlog parser
        datasets.add(event["event.dataset"])
    return parsed, lines, datasets


@pytest.mark.parametrize("name", sorted(MORDOR_SHARE))
def test_mordor_share_of_windows_events(corpus: Path, name: str) -> None:
    parsed, lines, _ = _windows_lines(corpus / "mordor" / name)
    assert (parsed, lines) == MORDOR_SHARE[name]


def test_mordor_share_overall(corpus: Path) -> None:
    files = sorted(corpus.joinpath("mordor").rglob("*.json"))
    counts = [_windows_lines(f) for f in files]
    assert (sum(c[0] for c in counts), sum(c[1] for c in counts)) == (2944, 3092)
    assert set().union(*(c[2] for c in counts)) == {
        "windows.security", "windows.sysmon_operational", "windows.system"}


def test_a_file_replaced_by_another_log_is_read_from_its_start(corpus: Path,
                                                               tmp_path: Path) -> None:
    # the log a file holds (computer|channel of its first record) now comes from the decoded
    # JSON: replacing the file by another log must still restart it
    def log_of(path: Path) -> str | None:
        _, batches = _collect(tmp_path / "probe" / path.stem, path)
        event = next((r.event for b in batches for r in b.records), None)
        return f"{event['winlog.computer_name']}|{event['winlog.channel']}" if event else None

    files = sorted(corpus.joinpath("evtx-attack-samples").rglob("*.evtx"))
    first, first_log = files[0], log_of(files[0])
    other, other_log = next((p, log) for p in files[1:]
                            if (log := log_of(p)) not in (None, first_log))
    target = tmp_path / "logs" / "Security.evtx"
    target.parent.mkdir()
    shutil.copy(first, target)
    collector, batches = _collect(tmp_path, target)
    assert sum(len(b.records) for b in batches) > 0
    shutil.copy(other, target)
    _, batches = _collect(tmp_path, target)
    alone = _collect(tmp_path / "alone", other)[1]
    assert [r.id for b in batches for r in b.records] == [r.id for b in alone for r in b.records]
    assert collector.state.all("win")[str(target)]["log"] == other_log
    assert sum(len(b.records) for b in _collect(tmp_path, target)[1]) == 0
