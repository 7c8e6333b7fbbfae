"""The EVTX collector and the winlog parser on the public corpora ($SOC_CORPUS); cut files."""

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
from soc.sources import Batch, ParseContext
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
