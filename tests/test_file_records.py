"""The file collector on ModSecurity's serial audit log: whole records, resumable, bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.fuzz.harness  # noqa: F401 - registers and loads the hypothesis profile
from collectors.file import FileCollector
from collectors.filerecords import AuditFramer, starts_record
from soc.config import Config, Source
from soc.ecs import event_id
from soc.errors import ParseError
from soc.pipeline.sources import Batch
from soc.state import StateStore
from tests.test_parsers_modsec import CTX, V3_JSON_LINE, parse, serial


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(tmp_path / "state" / "state.db")
    yield store
    store.close()


def collector(state: StateStore, path: Path, parser: str = "auto", **options: Any
              ) -> FileCollector:
    source = Source(name="waf", type="file", paths=(str(path),), parser=parser,
                    options=MappingProxyType(options))
    return FileCollector(source, state, Config(path=None, data_dir=state.path.parent))


def run(c: FileCollector, size: int = 100) -> list[Batch]:
    out = []
    for batch in c.batches(size):
        out.append(batch)
        c.commit(batch)
    return out


def texts(batches: list[Batch]) -> list[str]:
    return [r.text for b in batches for r in b.records]


def record(n: int, **kw: Any) -> str:
    return serial(ident=f"{n:08x}", **kw) + "\n\n"


def test_records_come_whole_with_ids_of_their_a_line(state: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "modsec_audit.log"
    one, two = record(1), record(2)
    log.write_text(one + two)
    batches = run(collector(state, log))
    assert texts(batches) == [one.rstrip("\n"), two.rstrip("\n")]
    recs = [r for b in batches for r in b.records]
    f = next(k for k in state.all("waf") if not k.startswith("_"))
    assert [r.id for r in recs] == [event_id(f, 0), event_id(f, len(one.encode()))]
    assert parse(recs[1].text)["rule.id"][0] == "942100"
    assert texts(run(collector(state, log))) == []  # nothing new: nothing read again


def test_a_record_being_written_waits_for_its_z(state: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "modsec_audit.log"
    one, two = record(1), record(2)
    half = len(two) // 2
    log.write_text(one + two[:half])
    assert texts(run(collector(state, log))) == [one.rstrip("\n")]
    with open(log, "a") as fh:
        fh.write(two[half:])
    assert texts(run(collector(state, log))) == [two.rstrip("\n")]


def test_batches_cut_between_records_resume_without_loss(state: StateStore,
                                                         tmp_path: Path) -> None:
    log = tmp_path / "modsec_audit.log"
    records = [record(n) for n in range(5)]
    log.write_text("".join(records))
    c = collector(state, log)
    first = next(iter(c.batches(2)))  # a crash after the first batch was stored
    c.commit(first)
    assert len(first.records) == 2
    rest = texts(run(collector(state, log)))
    assert [r.text for r in first.records] + rest == [r.rstrip("\n") for r in records]


def test_a_record_without_z_ends_at_the_next_a(state: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "modsec_audit.log"
    cut = record(1, z=False, h=False)
    log.write_text(cut + record(2))
    got = texts(run(collector(state, log)))
    assert len(got) == 2
    assert parse(got[0])["log.flags"] == ["incomplete"]
    assert "log.flags" not in parse(got[1])


def test_an_unfinished_record_is_read_once_the_file_is_complete(state: StateStore,
                                                                tmp_path: Path) -> None:
    log = tmp_path / "modsec_audit.log"
    log.write_text(record(1, z=False))
    assert texts(run(collector(state, log))) == []  # may still grow
    got = texts(run(collector(state, log, complete=True)))
    assert len(got) == 1 and parse(got[0])["log.flags"] == ["incomplete"]


def test_huge_body_is_bounded_and_the_verdict_kept(state: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "modsec_audit.log"
    body = "\n".join("x=" + "A" * 1000 for _ in range(3000))  # 3 MB of body
    log.write_text(record(1, body=body))
    recs = [r for b in run(collector(state, log, max_line_bytes=1 << 20)) for r in b.records]
    assert len(recs) == 1
    assert len(recs[0].text) < 1 << 20
    assert recs[0].fields["modsecurity.cut_bytes"] > 2_000_000
    ev = parse(recs[0].text)
    assert ev["modsecurity.body_truncated"] is True
    assert ev["rule.id"][0] == "942100" and ev["event.action"] == "blocked"  # H still there


def test_binary_body_is_read_not_dead(state: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "modsec_audit.log"
    head, tail = record(1, body="@BODY@").split("@BODY@")
    log.write_bytes(head.encode() + b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" + tail.encode())
    batches = run(collector(state, log))
    assert [b.dead_letters for b in batches] == [[]]
    ev = parse(texts(batches)[0])
    assert ev["http.request.body.content"] == "\ufffdPNG\n\x1a\n\x00\x00\ufffd\ufffd"


def test_json_lines_in_auto_mode_are_lines(state: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "modsec_audit.json"
    log.write_text(V3_JSON_LINE + "\n" + V3_JSON_LINE + "\n")
    assert texts(run(collector(state, log))) == [V3_JSON_LINE, V3_JSON_LINE]


def test_a_named_parser_frames_always(state: StateStore, tmp_path: Path) -> None:
    """Lone lines (JSON records) between serial records still pass one by one."""
    log = tmp_path / "mixed.log"
    log.write_text(V3_JSON_LINE + "\n" + record(3))
    got = texts(run(collector(state, log, parser="modsec_audit")))
    assert got == [V3_JSON_LINE, record(3).rstrip("\n")]


def test_access_logs_stay_lines(state: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    line = '203.0.113.9 - - [24/Nov/2026:08:15:02 +0700] "GET / HTTP/1.1" 200 5'
    log.write_text(f"{line}\n{line}\n")
    assert texts(run(collector(state, log))) == [line, line]


def test_framer_state() -> None:
    assert starts_record(b"\n\n--abcdef12-A--\n[") is True
    assert starts_record(b"\n\r\n") is None
    assert starts_record(b'{"transaction":{}}\n') is False
    framer = AuditFramer(1 << 20)
    assert framer.feed(b"--abcdef12-A--", 10, 25) is None
    assert framer.resume == 10
    done = framer.feed(b"--abcdef12-Z--", 25, 40)
    assert done is not None and (done.offset, done.end, done.multi) == (10, 40, True)
    assert framer.resume is None
    assert CTX.source == "waf"


# --- fuzzing the serial shape (the parser fuzz seeds are one-line texts) -----------------


@given(cut=st.integers(min_value=0, max_value=2000), junk=st.text(max_size=40))
def test_any_cut_or_spliced_serial_record_is_an_event_or_a_parse_error(cut: int, junk: str) -> None:
    text = serial()
    for candidate in (text[:cut], text[:cut] + junk + text[cut:], junk + text):
        try:
            ev: dict[str, Any] = parse(candidate)
        except ParseError:
            continue
        assert ev["event.dataset"] == "modsecurity.audit"
        json.dumps(ev)


# --- end to end: soc detect over an audit log ----------------------------------------------------

BODY_RULE = """title: SQL injection in a web request
id: 6c1f0e2a-5b7d-4c33-9f00-7d2b1a0c9e11
status: test
level: high
logsource: {category: webserver}
detection:
  sel: {web.attack.classes: sqli}
  condition: sel
"""


def test_detect_over_a_serial_audit_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    """The blocked record raises ModSecurity's own alert; the record CRS said nothing about
    (no H part) is caught by a webserver rule on its body's verdict."""
    from soc.cli.main import main

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "sqli.yml").write_text(BODY_RULE, encoding="utf-8")
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    log = tmp_path / "modsec_audit.log"
    log.write_text(record(1) + record(2, h=False).replace("203.0.113.45", "198.51.100.9"))
    code = main(["-c", str(tmp_path / "soc.yml"), "detect", "-r", str(tmp_path / "rules"),
                 "--nl", str(log)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 10
    assert sorted((d["rule_id"], d["kind"], d["entity"]["source.ip"]) for d in lines) == [
        ("6c1f0e2a-5b7d-4c33-9f00-7d2b1a0c9e11", "rule", "198.51.100.9"),
        ("6c1f0e2a-5b7d-4c33-9f00-7d2b1a0c9e11", "rule", "203.0.113.45"),
        ("modsecurity:942100", "device", "203.0.113.45"),
    ]
