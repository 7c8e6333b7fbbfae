"""Bounds on what an input controls, and one source's failure staying that source's (issue #14,
finding 1): real files, real SQLite, the real CLI in a subprocess."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from collectors.file import FileCollector
from collectors.filelines import Bounded
from soc.config import Config, Source, load_config
from soc.ecs import MAX_DEPTH, MAX_FIELDS, MAX_ITEMS, MAX_VALUE_BYTES, TooBig, bound_event
from soc.errors import ConfigError, ExitCode, PartialError
from soc.pipeline.collect import ingest
from soc.pipeline.pipeline import unexpected
from soc.pipeline.sources import Batch
from soc.state import StateStore
from soc.stores.base import open_store

LINE = "Nov 24 08:00:{s:02d} web01 sshd[{pid}]: Failed password for user{n} from 203.0.113.9 " \
       "port 4{n:04d} ssh2\n"


def auth_lines(count: int, first: int = 0) -> str:
    return "".join(LINE.format(s=i % 60, pid=100 + i, n=i) for i in range(first, first + count))


def soc(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soc", "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=300)


def stored(cfg: Path) -> dict[str, list[str]]:
    """The stored events' text (``event.original``) by source ``log.file.path`` directory."""
    with open_store(load_config(cfg), readonly=True) as store:
        events = list(store.search("*", limit=None))
    out: dict[str, list[str]] = {}
    for e in events:
        out.setdefault(Path(e["log.file.path"]).parent.name, []).append(e["event.original"])
    return out


def status(cfg: Path) -> dict[str, dict[str, Any]]:
    done = soc(cfg, "status", "--json")
    return {row["source"]: row for row in json.loads(done.stdout)["sources"]}


# --- finding 1 through the CLI ---------------------------------------------------------------


@pytest.fixture
def finding_1(tmp_path: Path) -> Path:
    """Three sources: a small .gz that expands past its configured bound (five lines, then one
    line of 3 MiB), a file whose name is not UTF-8 holding a binary line (its dead letter cannot
    be written: the driver raises ``UnicodeEncodeError``, no SocError), and a healthy log."""
    for name in ("gz", "odd", "auth"):
        (tmp_path / name).mkdir()
    with gzip.open(tmp_path / "gz" / "app.log.1.gz", "wb", compresslevel=9) as g:
        g.write(auth_lines(5).encode())
        g.write(b"A" * (3 << 20) + b"\n")
        g.write(auth_lines(5, 5).encode())
    name = os.fsencode(tmp_path / "odd") + b"/b\xffd.log"
    with open(name, "wb") as fh:
        fh.write(b"\x00\x01\x02\x03\x04\x05\x06\x07 binary\n")
    (tmp_path / "auth" / "auth.log").write_text(auth_lines(20), encoding="utf-8")
    cfg = tmp_path / "soc.yml"
    cfg.write_text(f"""
data_dir: {tmp_path / "data"}
sources:
  - name: gz
    paths: ["{tmp_path}/gz/*.gz"]
    options: {{max_decompressed_bytes: 1048576}}
  - name: odd
    paths: ["{tmp_path}/odd/*.log"]
  - name: auth
    paths: ["{tmp_path}/auth/*.log"]
""", encoding="utf-8")
    return cfg


def test_finding_1_one_file_no_longer_stops_every_source(finding_1: Path) -> None:
    done = soc(finding_1, "collect")
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: source gz: 1 file(s) not read: {finding_1.parent}/gz/app.log.1.gz: decompressed "
        "data goes past max_decompressed_bytes (1048576): read up to there, the rest not read",
        "Error: source odd: unexpected UnicodeEncodeError: 'utf-8' codec can't encode character "
        f"'\\udcff' in position {len(str(finding_1.parent / 'odd' / 'b'))}: surrogates not "
        "allowed",
    ]
    assert ("Hint: Raise options.max_decompressed_bytes of source gz to read on from where it "
            "stopped, or exclude the file.") in done.stderr
    assert ("Hint: The other sources are not affected; this one stays at its last checkpoint. "
            "Run 'soc --traceback collect -s odd' to see where it fails, and report it."
            ) in done.stderr
    events = stored(finding_1)
    assert sorted(events) == ["auth", "gz"]
    assert len(events["auth"]) == 20  # the healthy source, after both failures
    assert len(events["gz"]) == 5  # what lies before the bound
    rows = status(finding_1)
    assert (rows["gz"]["state"], rows["odd"]["state"], rows["auth"]["state"]) == \
        ("error", "error", "ok")
    assert rows["odd"]["note"].startswith("unexpected UnicodeEncodeError: ")
    assert "max_decompressed_bytes (1048576)" in rows["gz"]["note"]
    assert rows["gz"]["lag"].endswith(" 1 files")  # not read to its end


def test_finding_1_dead_letters_say_where_the_bound_stopped(finding_1: Path) -> None:
    soc(finding_1, "collect")
    with open_store(load_config(finding_1), readonly=True) as store:
        letters = sorted(store.dead_letters(source="gz"),
                         key=lambda d: int(d.origin.rsplit(":", 1)[1]))
    start = len(auth_lines(5))
    origin = f"{finding_1.parent}/gz/app.log.1.gz"
    cut = (1 << 20) - start  # the 3 MiB line up to the bound: shorter than max_line_bytes
    assert [(d.origin, d.reason, d.raw) for d in letters] == [
        (f"{origin}:{start}", f"line cut after {cut} bytes by max_decompressed_bytes (1048576)",
         b"A" * cut),
        (f"{origin}:1048576", "the decompressed data goes on past max_decompressed_bytes "
         "(1048576): nothing after that offset was read", b""),
    ]


def test_finding_1_next_pass_does_not_inflate_again_and_raising_the_bound_reads_on(
        finding_1: Path) -> None:
    soc(finding_1, "collect")
    again = soc(finding_1, "collect", "--json")
    assert again.returncode == ExitCode.PARTIAL
    report = {s["source"]: s for s in json.loads(again.stdout)["sources"]}
    assert (report["gz"]["events"], report["gz"]["dead_letters"]) == (0, 0)
    assert "max_decompressed_bytes (1048576)" in report["gz"]["error"]
    text = finding_1.read_text(encoding="utf-8").replace("1048576", "16777216")
    finding_1.write_text(text, encoding="utf-8")
    raised = soc(finding_1, "collect", "--json", "-s", "gz")
    assert raised.returncode == ExitCode.PARTIAL  # the rest of the cut 3 MiB line: a dead letter
    gz = json.loads(raised.stdout)["sources"][0]
    assert (gz["error"], gz["events"], gz["dead_letters"]) == (None, 5, 1)
    assert sorted(stored(finding_1)["gz"]) == sorted(auth_lines(10).splitlines())
    assert status(finding_1)["gz"]["state"] == "ok"


def test_store_outage_still_stops_the_pass(tmp_path: Path) -> None:
    """A store that cannot be written is no one source's failure: exit 4, as before."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text(auth_lines(3), encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    (data / "store.db").write_bytes(b"this is not a database" * 100)
    cfg = tmp_path / "soc.yml"
    cfg.write_text(f"data_dir: {data}\nsources:\n  - {{name: a, paths: ['{tmp_path}/logs/*']}}\n",
                   encoding="utf-8")
    done = soc(cfg, "collect")
    assert done.returncode == ExitCode.STORE, done.stderr


# --- the decompressed-size bound --------------------------------------------------------------


def gz_reader(data: bytes) -> gzip.GzipFile:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as g:
        g.write(data)
    buf.seek(0)
    return gzip.GzipFile(fileobj=buf, mode="rb")


def test_bounded_reader_stops_at_the_bound_and_tells_whether_data_went_on() -> None:
    over = Bounded(gz_reader(b"x" * 100), 60)  # type: ignore[arg-type]
    assert (over.read(50), over.read(50), over.read(50)) == (b"x" * 50, b"x" * 10, b"")
    assert over.exceeded
    exact = Bounded(gz_reader(b"x" * 60), 60)  # type: ignore[arg-type]
    assert (exact.read(), exact.read(), exact.exceeded) == (b"x" * 60, b"", False)
    exact.seek(10)
    assert exact.read(5) == b"xxxxx"


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(tmp_path / "state" / "state.db")
    yield store
    store.close()


def collector(state: StateStore, path: Path, **options: Any) -> FileCollector:
    source = Source(name="logs", type="file", paths=(str(path),),
                    options=MappingProxyType(options))
    return FileCollector(source, state, Config(path=None, data_dir=state.path.parent))


def passes(c: FileCollector) -> tuple[list[Batch], PartialError | None]:
    out: list[Batch] = []
    try:
        for batch in c.batches(1000):
            out.append(batch)
            c.commit(batch)
    except PartialError as exc:
        return out, exc
    return out, None


def test_gz_within_the_bound_is_read_whole_and_never_again(tmp_path: Path,
                                                           state: StateStore) -> None:
    path = tmp_path / "a.log.1.gz"
    text = auth_lines(10).encode()
    path.write_bytes(gzip.compress(text))
    batches, failure = passes(collector(state, path, max_decompressed_bytes=len(text)))
    assert failure is None
    assert sum(len(b.records) for b in batches) == 10
    assert passes(collector(state, path, max_decompressed_bytes=len(text))) == ([], None)


def test_gz_bound_on_a_line_end_cuts_no_line(tmp_path: Path, state: StateStore) -> None:
    path = tmp_path / "a.log.1.gz"
    path.write_bytes(gzip.compress(auth_lines(10).encode()))
    bound = len(auth_lines(4))
    batches, failure = passes(collector(state, path, max_decompressed_bytes=bound))
    assert failure is not None and "max_decompressed_bytes" in failure.hint  # type: ignore[operator]
    assert [r.text for b in batches for r in b.records] == auth_lines(4).splitlines()
    dead = [d for b in batches for d in b.dead_letters]
    assert [(d.origin, d.raw) for d in dead] == [(f"{path}:{bound}", b"")]
    batches, _ = passes(collector(state, path, max_decompressed_bytes=1 << 20))
    assert [r.text for b in batches for r in b.records] == auth_lines(10).splitlines()[4:]


def test_max_decompressed_bytes_must_be_a_positive_integer(state: StateStore,
                                                           tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_decompressed_bytes must be a positive integer"):
        collector(state, tmp_path, max_decompressed_bytes="1G")


# --- bounds on the parsed structure -----------------------------------------------------------


def test_long_values_are_cut_with_a_marker_and_flagged() -> None:
    long = "é" * MAX_VALUE_BYTES  # two bytes each: the cut must not split one
    event = {"message": long, "tags": ["x" * (MAX_VALUE_BYTES + 1)], "n": 1}
    assert bound_event(event) is True
    head = "é" * (MAX_VALUE_BYTES // 2)
    assert event["message"] == f"{head}…[truncated from {2 * MAX_VALUE_BYTES} bytes]"
    assert event["tags"] == ["x" * MAX_VALUE_BYTES + f"…[truncated from {MAX_VALUE_BYTES + 1} "
                             "bytes]"]
    assert event["log.flags"] == ["truncated"]


def test_arrays_are_cut_and_events_within_bounds_untouched() -> None:
    event: dict[str, Any] = {"ips": list(range(MAX_ITEMS + 5)), "log.flags": "multiline"}
    assert bound_event(event) is True
    assert event == {"ips": list(range(MAX_ITEMS)), "log.flags": ["multiline", "truncated"]}
    fine: dict[str, Any] = {"message": "x" * MAX_VALUE_BYTES, "a": [{"b": [1, "2"]}], "c": None}
    copy = json.loads(json.dumps(fine))
    assert bound_event(fine) is False
    assert fine == copy


@pytest.mark.parametrize(("event", "reason"), [
    ({f"f{i}": i for i in range(MAX_FIELDS + 1)}, f"event has {MAX_FIELDS + 1} fields, more "
     f"than {MAX_FIELDS}"),
    ({"a": [{f"f{i}": i for i in range(MAX_FIELDS)}]}, f"more than {MAX_FIELDS} fields"),
    ({"k" * 1025: 1}, "field name of 1025 characters, more than 1024"),
    ({"a": [[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]}, f"nested deeper than {MAX_DEPTH} levels"),
])
def test_events_past_the_structure_bounds_are_refused(event: dict[str, Any],
                                                      reason: str) -> None:
    with pytest.raises(TooBig, match=reason.replace("(", r"\(")):
        bound_event(event)


def test_json_lines_past_the_bounds_become_dead_letters(tmp_path: Path) -> None:
    """Where JSON becomes events: the reason names the bound; a long value is cut, and the
    whole line stays in event.original."""
    ts = '"@timestamp": "2026-01-01T00:00:00Z"'
    deep = "{" + ts + ', "a": ' + '{"b": ' * 30 + "1" + "}" * 30 + "}"
    wide = "{" + ts + ", " + ", ".join(f'"f{i}": {i}' for i in range(MAX_FIELDS + 1)) + "}"
    long = "{" + ts + ', "message": "' + "m" * (MAX_VALUE_BYTES + 9) + '"}'
    listed = "{" + ts + ', "a": [' + "[" * 25 + "1" + "]" * 25 + "]}"
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join([deep, wide, long, listed]) + "\n", encoding="utf-8")
    config = Config(path=None, data_dir=tmp_path / "data")
    report = ingest(config, [str(path)], fmt="jsonl", detect=False)
    assert (report.events, report.dead_letters) == (1, 3)
    with open_store(config, readonly=True) as store:
        reasons = [d.reason for d in store.dead_letters()]
        [event] = list(store.search("*", limit=None))
    assert sorted(reasons) == sorted([
        f"JSON objects nested deeper than {MAX_DEPTH} levels",
        f"event has {MAX_FIELDS + 4} fields, more than {MAX_FIELDS} "
        "(see the bounds in docs/security.md)",
        f"nested deeper than {MAX_DEPTH} levels (see the bounds in docs/security.md)",
    ])
    assert event["message"] == "m" * MAX_VALUE_BYTES + \
        f"…[truncated from {MAX_VALUE_BYTES + 9} bytes]"
    assert event["log.flags"] == ["truncated"]
    assert orjson.loads(event["event.original"])["message"] == "m" * (MAX_VALUE_BYTES + 9)


# --- the error of one source -----------------------------------------------------------------


def test_unexpected_errors_become_one_line_with_a_hint() -> None:
    error, hint = unexpected(OverflowError("BLOB longer\nthan INT_MAX bytes"), "web")
    assert error == "unexpected OverflowError: BLOB longer than INT_MAX bytes"
    assert "soc --traceback collect -s web" in hint
    error, _ = unexpected(MemoryError(), "web")
    assert error == "unexpected MemoryError"
    error, _ = unexpected(ValueError("x" * 2000), "web")
    assert error == "unexpected ValueError: " + "x" * 500 + "..."
