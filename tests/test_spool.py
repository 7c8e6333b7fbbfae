"""The durable spool and the syslog-spool collector: records, segments, damage, checkpoints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from collectors.spool import SpoolCollector
from soc.config import Config, Source, load_config, parse_config
from soc.ecs import event_id
from soc.errors import ConfigError
from soc.listen.config import load_listen_config, parse_size, spool_source
from soc.listen.spool import (
    OVERSIZE,
    TRUNCATED,
    Peer,
    SpoolWriter,
    encode,
    list_segments,
    read_meta,
    read_segment,
    spool_dir,
)
from soc.models import DeadLetter
from soc.pipeline.sources import Batch
from soc.state import StateStore

PEER = Peer("tcp", "192.0.2.7", 51514).tail()
T0 = 1_790_000_000.25


def msg(i: int) -> bytes:
    return f"<13>Nov 24 08:00:{i % 60:02d} host app[{i}]: message {i}".encode()


def write(directory: Path, messages: list[bytes], segment_bytes: int = 1 << 20,
          per_batch: int = 10) -> SpoolWriter:
    writer = SpoolWriter(directory, segment_bytes)
    writer.open()
    for i in range(0, len(messages), per_batch):
        writer.write([encode(m, T0, PEER) for m in messages[i:i + per_batch]])
    return writer


def read_all(directory: Path) -> list[Any]:
    segments = list_segments(directory)
    out = []
    for index, (_, path) in enumerate(segments):
        out.extend(read_segment(path, 0, sealed=index < len(segments) - 1))
    return out


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return parse_config({"data_dir": "data"}, None, tmp_path)


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    st = StateStore(tmp_path / "state.db")
    yield st  # type: ignore[misc]
    st.close()


def collector(config: Config, state: StateStore, **options: Any) -> SpoolCollector:
    source = Source(name="syslog", type="syslog-spool", parser="syslog", options=options)
    return SpoolCollector(source, state, config)


def drain(col: SpoolCollector, size: int = 1000) -> list[Batch]:
    batches = []
    for batch in col.batches(size):
        batches.append(batch)
        col.commit(batch)
    return batches


# --- format and writer ---------------------------------------------------------------------------


def test_records_round_trip_with_peer_flags_and_length(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, 1 << 20)
    writer.open()
    writer.write([encode(b"hello", T0, PEER), encode(b"x" * 10, T0, PEER, OVERSIZE, 99),
                  encode(b"\xff\xfe", T0, Peer("udp", "2001:db8::1", 514).tail())])
    writer.close()
    entries = read_all(tmp_path)
    recs = [e.record for e in entries]
    assert [(r.data, r.transport, r.address, r.port, r.flags, r.length) for r in recs] == [
        (b"hello", "tcp", "192.0.2.7", 51514, 0, 5),
        (b"x" * 10, "tcp", "192.0.2.7", 51514, OVERSIZE, 99),
        (b"\xff\xfe", "udp", "2001:db8::1", 514, 0, 2),
    ]
    assert recs[0].received == T0
    assert entries[0].offset == 0 and entries[1].offset == entries[0].end


def test_segments_rotate_and_every_start_opens_a_new_one(tmp_path: Path) -> None:
    write(tmp_path, [msg(i) for i in range(100)], segment_bytes=1000).close()
    first = [n for n, _ in list_segments(tmp_path)]
    assert len(first) > 3 and first == list(range(1, len(first) + 1))
    write(tmp_path, [msg(1)]).close()
    assert [n for n, _ in list_segments(tmp_path)][-1] == first[-1] + 1
    assert len(read_all(tmp_path)) == 101


def test_segment_numbers_are_never_reused_after_all_were_deleted(tmp_path: Path) -> None:
    write(tmp_path, [msg(1)]).close()
    meta = read_meta(tmp_path)
    for _, path in list_segments(tmp_path):
        path.unlink()
    write(tmp_path, [msg(2)]).close()
    assert [n for n, _ in list_segments(tmp_path)] == [2]
    assert read_meta(tmp_path) is not None and read_meta(tmp_path).id == meta.id  # type: ignore


def test_torn_tail_waits_in_the_newest_segment_and_is_damage_in_a_sealed_one(
        tmp_path: Path) -> None:
    write(tmp_path, [msg(i) for i in range(5)]).close()
    (_, path), = list_segments(tmp_path)
    good = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(encode(msg(99), T0, PEER)[:-7])  # a crash in the middle of a write
    assert len(list(read_segment(path, 0, sealed=False))) == 5
    sealed = list(read_segment(path, 0, sealed=True))
    assert [e.record is None for e in sealed] == [False] * 5 + [True]
    assert sealed[-1].offset == good and sealed[-1].end == path.stat().st_size


def test_damage_in_a_sealed_segment_is_skipped_to_the_next_valid_record(tmp_path: Path) -> None:
    write(tmp_path, [msg(i) for i in range(6)], per_batch=1).close()
    (_, path), = list_segments(tmp_path)
    entries = list(read_segment(path, 0, sealed=True))
    data = bytearray(path.read_bytes())
    data[entries[2].offset + 20] ^= 0xFF  # flip a bit inside record 2
    path.write_bytes(bytes(data))
    again = list(read_segment(path, 0, sealed=True))
    assert [e.record.data if e.record else None for e in again] == [
        msg(0), msg(1), None, msg(3), msg(4), msg(5)]
    assert (again[2].offset, again[2].end) == (entries[2].offset, entries[2].end)
    assert list(read_segment(path, 0, sealed=False))[-1].record.data == msg(1)  # type: ignore


def test_a_failed_write_that_cannot_be_undone_moves_to_a_new_segment(tmp_path: Path) -> None:
    writer = write(tmp_path, [msg(1)])
    number = writer.number
    os.close(writer.fd)
    writer.fd = os.open(os.devnull, os.O_RDONLY)  # writes and truncation now fail
    with pytest.raises(OSError):
        writer.write([encode(msg(2), T0, PEER)])
    assert writer.number == number + 1 and writer.size == 0
    writer.write([encode(msg(3), T0, PEER)])
    writer.close()
    assert [e.record.data for e in read_all(tmp_path)] == [msg(1), msg(3)]


# --- the collector -------------------------------------------------------------------------------


def test_collector_reads_all_with_deterministic_ids_and_deletes_drained_segments(
        config: Config, state: StateStore) -> None:
    directory = spool_dir(config.data_dir, "syslog")
    write(directory, [msg(i) for i in range(250)], segment_bytes=4000).close()
    meta = read_meta(directory)
    assert meta is not None
    segments = list_segments(directory)
    first = next(read_segment(segments[0][1], 0, sealed=True))
    batches = drain(collector(config, state), size=100)
    records = [r for b in batches for r in b.records]
    assert [r.text for r in records] == [m.decode() for m in (msg(i) for i in range(250))]
    assert records[0].id == event_id("syslog-spool", meta.id, segments[0][0], first.offset)
    assert len({r.id for r in records}) == 250
    assert records[0].fields == {"log.source.address": "192.0.2.7", "network.transport": "tcp",
                                 "event.created": "2026-09-21T14:13:20.250Z"}
    assert records[0].origin == "tcp 192.0.2.7:51514"
    assert all(b.parser == "syslog" for b in batches)
    assert list_segments(directory) == segments[-1:]  # only the newest (active) one is left
    assert drain(collector(config, state)) == []
    assert collector(config, state).lag() == {"bytes": 0, "segments": 0}


def test_collector_resumes_from_the_checkpoint(config: Config, state: StateStore) -> None:
    directory = spool_dir(config.data_dir, "syslog")
    write(directory, [msg(i) for i in range(30)]).close()
    col = collector(config, state)
    it = col.batches(10)
    col.commit(next(it))
    it.close()  # a pass that dies after its first batch
    assert collector(config, state).lag()["bytes"] > 0
    write(directory, [msg(i) for i in range(30, 40)]).close()
    texts = [r.text for b in drain(collector(config, state)) for r in b.records]
    assert texts == [msg(i).decode() for i in range(10, 40)]


def test_flags_and_invalid_utf8_become_dead_letters(config: Config, state: StateStore) -> None:
    directory = spool_dir(config.data_dir, "syslog")
    writer = SpoolWriter(directory, 1 << 20)
    writer.open()
    writer.write([encode(b"x" * 480, T0, PEER, OVERSIZE, 5000),
                  encode(b"<13>Nov 24 08:00:00 h a: par", T0, PEER, TRUNCATED, 100),
                  encode(b"<13>Nov 24 08:00:00 h a: \xc3\x28", T0, PEER), encode(msg(1), T0, PEER)])
    writer.close()
    (batch,) = drain(collector(config, state))
    assert [r.text for r in batch.records] == [msg(1).decode()]
    reasons = [d.reason for d in batch.dead_letters]
    assert reasons == [
        "message of 5000 bytes exceeds listen.max_message_bytes; its first 480 bytes are kept",
        "truncated frame: the peer closed the connection after 28 of the 100 bytes it announced",
        "invalid UTF-8 at byte 25: invalid continuation byte",
    ]
    dead: DeadLetter = batch.dead_letters[2]
    assert dead.raw == b"<13>Nov 24 08:00:00 h a: \xc3\x28" and dead.origin == "tcp 192.0.2.7:51514"
    assert dict(dead.fields)["log.source.address"] == "192.0.2.7"


def test_invalid_utf8_replace_option(config: Config, state: StateStore) -> None:
    directory = spool_dir(config.data_dir, "syslog")
    write(directory, [b"<13>Nov 24 08:00:00 h a: caf\xe9"]).close()
    (batch,) = drain(collector(config, state, invalid_utf8="replace"))
    assert batch.records[0].text.endswith("caf\ufffd") and not batch.dead_letters
    with pytest.raises(ConfigError, match="invalid_utf8 must be dead_letter or replace"):
        collector(config, state, invalid_utf8="latin1")


def test_a_recreated_spool_is_read_from_its_start(config: Config, state: StateStore) -> None:
    directory = spool_dir(config.data_dir, "syslog")
    write(directory, [msg(i) for i in range(5)]).close()
    drain(collector(config, state))
    for item in directory.iterdir():
        item.unlink()
    write(directory, [msg(7)]).close()
    (batch,) = drain(collector(config, state))
    assert [r.text for r in batch.records] == [msg(7).decode()]


def test_a_second_drainer_reads_nothing_while_the_first_holds_the_lock(
        config: Config, state: StateStore) -> None:
    write(spool_dir(config.data_dir, "syslog"), [msg(1)]).close()
    first = collector(config, state).batches(10)
    next(first)
    other = collector(config, state)
    assert list(other.batches(10)) == []
    assert other.lag()["drained_by"].startswith(f"pid {os.getpid()}")
    first.close()
    assert len(list(collector(config, state).batches(10))) == 1


# --- listen settings -----------------------------------------------------------------------------


def listen_config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "soc.yml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_listen_settings(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    cfg = listen_config(tmp_path, (
        "listen:\n  udp: 0.0.0.0:5514\n  tcp: [{address: '::', port: 5514}, 127.0.0.1:5515]\n"
        "  tls: {port: 6514, cert: c.pem, key: c.pem, ca: c.pem, require_client_cert: true}\n"
        "  max_message_bytes: 64KiB\n  spool: {max_bytes: 1GiB, flush_interval: 5ms}\n"
        "  drain_nice: 0\n"))
    lc = load_listen_config(cfg)
    assert [e.label for e in lc.endpoints] == ["udp 0.0.0.0:5514", "tcp [::]:5514",
                                               "tcp 127.0.0.1:5515", "tls 0.0.0.0:6514"]
    assert lc.endpoints[3].cert == tmp_path / "c.pem" and lc.endpoints[3].require_client_cert
    assert lc.max_message_bytes == 65536 and lc.spool.max_bytes == 1 << 30
    assert lc.spool.flush_interval == pytest.approx(0.005)
    assert lc.drain_nice == 0 and load_listen_config(listen_config(tmp_path, "")).drain_nice == 10
    assert spool_source(cfg, lc) == Source(name="syslog", type="syslog-spool", parser="syslog")
    assert load_listen_config(listen_config(tmp_path, "timezone: UTC\n")).endpoints == ()


@pytest.mark.parametrize(("text", "error"), [
    ("listen:\n  udp: nowhere\n", "soc.yml:2: listen.udp: expected ADDRESS:PORT or a mapping"),
    ("listen:\n  tcp:\n    port: 70000\n", "soc.yml:3: listen.tcp: port must be 0 to 65535"),
    ("listen:\n  tcp: {port: 1, backlog: 5}\n", "soc.yml:2: listen.tcp: unknown key 'backlog'"),
    ("listen:\n  tls: {port: 6514, cert: no.pem, key: no.pem}\n",
     "soc.yml:2: listen.tls: cert file not found"),
    ("listen:\n  spool:\n    max_bytes: lots\n", "soc.yml:3: listen.spool: max_bytes: not a size"),
    ("listen:\n  max_message_bytes: 10\n", "soc.yml:2: listen: max_message_bytes must be 480"),
    ("listen:\n  udp: 5514\n  drain_nice: 20\n", "soc.yml:3: listen: drain_nice must be 0 to 19"),
    ("sources:\n  - {name: syslog, paths: [x.log]}\nlisten:\n  udp: 5514\n",
     "soc.yml:4: listen: source 'syslog' is configured with type 'file'"),
])
def test_listen_settings_errors_name_file_and_line(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_listen_config(listen_config(tmp_path, text))
    assert str(info.value).startswith(str(tmp_path / error.split(":", 1)[0]) + ":"
                                      + error.split(":", 1)[1])


def test_parse_size() -> None:
    assert [parse_size(v) for v in (5, "5", "1KiB", "1 kb", "2MiB", "1GB")] == [
        5, 5, 1024, 1000, 2 << 20, 10**9]
    with pytest.raises(ValueError, match="not a size"):
        parse_size("1.5MiB")
