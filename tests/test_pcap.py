"""The pcap collector: capture files built with scapy, through the pipeline into the store."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw
from scapy.utils import PcapNgWriter, PcapWriter

from collectors.pcap import PcapCollector
from soc import registry
from soc.config import Config, Source, load_config, parse_config
from soc.errors import ConfigError, PartialError
from soc.pipeline.collect import ingest
from soc.state import StateStore
from soc.stores.base import open_store

T0 = 1795482900.0  # 2026-11-24T01:15:00Z
PLUGINS = {"soc.collectors": {"pcap": "collectors.pcap:PcapCollector",
                              "netcapture": "collectors.pcap:CaptureSpoolCollector"},
           "soc.parsers": {"netevent": "collectors.netsensor.parser:NetEventParser"}}


def register_plugins(where: Path) -> None:
    """Register the sensor's entry points (as setup.cfg will) when they are not installed."""
    if "pcap" in registry.available("collector") and "netevent" in registry.available("parser"):
        return
    info = where / "soc_netsensor_tests-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: soc-netsensor-tests\n"
                                   "Version: 0\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in names.items())
        for group, names in PLUGINS.items()))
    sys.path.insert(0, str(where))
    registry.available.cache_clear()
    registry.parsers.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def plugins(tmp_path_factory: pytest.TempPathFactory) -> None:
    register_plugins(tmp_path_factory.mktemp("entry-points"))


def stamp(packets: list[Packet], start: float = T0, step: float = 0.01) -> list[Packet]:
    for i, pkt in enumerate(packets):
        pkt.time = start + i * step
    return packets


def traffic() -> list[Packet]:
    """A handshake with an HTTP request, a small SYN scan, a DNS query, an ARP change, a
    truncated and a malformed frame."""
    c = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / IP(src="10.20.0.9",
                                                                      dst="10.20.0.15")
    s = Ether(src="02:00:00:00:00:0b", dst="02:00:00:00:00:0a") / IP(src="10.20.0.15",
                                                                      dst="10.20.0.9")
    pkts = [c / TCP(sport=50000, dport=80, flags="S"), s / TCP(sport=80, dport=50000, flags="SA"),
            c / TCP(sport=50000, dport=80, flags="A"),
            c / TCP(sport=50000, dport=80, flags="PA") / Raw(
                b"GET / HTTP/1.1\r\nHost: portal.hagiang.gov.vn\r\n\r\n"),
            s / TCP(sport=80, dport=50000, flags="PA") / Raw(b"HTTP/1.1 200 OK\r\n\r\n"),
            c / TCP(sport=50000, dport=80, flags="FA"), s / TCP(sport=80, dport=50000, flags="FA"),
            c / TCP(sport=50000, dport=80, flags="A")]
    a = Ether() / IP(src="203.0.113.66", dst="10.20.0.15")
    r = Ether() / IP(src="10.20.0.15", dst="203.0.113.66")
    for port in (21, 22, 23):
        pkts += [a / TCP(sport=40000 + port, dport=port, flags="S"),
                 r / TCP(sport=port, dport=40000 + port, flags="RA")]
    pkts += [c / UDP(sport=53001, dport=53) / DNS(id=1, qd=DNSQR(qname="hagiang.gov.vn")),
             s / UDP(sport=53, dport=53001) / DNS(id=1, qr=1, qd=DNSQR(qname="hagiang.gov.vn"),
                                                  an=DNSRR(rrname="hagiang.gov.vn",
                                                           rdata="10.20.0.15"))]
    pkts += [Ether() / ARP(op=2, psrc="10.20.0.1", hwsrc="02:00:00:00:00:01"),
             Ether() / ARP(op=2, psrc="10.20.0.1", hwsrc="02:00:00:00:00:66")]
    cut = Ether(bytes(c / TCP(sport=1, dport=2))[:38])
    cut.wirelen = 60
    bad = Ether(bytes(c / TCP(sport=1, dport=2)))
    bad[IP].ihl = 3
    return stamp([*pkts, cut, Ether(bytes(bad))])


EXPECTED = Counter({"network.flow": 5, "network.http": 1, "network.dns": 1, "network.arp": 2})


def write_pcap(path: Path, packets: list[Packet], ng: bool = False) -> Path:
    writer = PcapNgWriter(str(path)) if ng else PcapWriter(str(path))
    for pkt in packets:
        writer.write(pkt)
    writer.close()
    return path


def stored(config: Config) -> list[dict[str, Any]]:
    with open_store(config, readonly=True) as store:
        return list(store.search("*", limit=None, order="asc"))


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
def test_ingest_into_the_store_once(tmp_path: Path, ng: bool) -> None:
    path = write_pcap(tmp_path / ("cap.pcapng" if ng else "cap.pcap"), traffic(), ng)
    config = load_config(None, data_dir=tmp_path / "data")
    report = ingest(config, [str(path)], detect=False)
    assert (report.events, report.dead_letters, report.sources[0].error) == (9, 0, None)
    events = stored(config)
    assert Counter(e["event.dataset"] for e in events) == EXPECTED
    assert all(e["log.file.path"] == str(path.resolve()) for e in events)
    http = next(e for e in events if e["event.dataset"] == "network.http")
    assert (http["url.domain"], http["http.response.status_code"]) == (
        "portal.hagiang.gov.vn", 200)
    assert not [e for e in events if "event.original" in e]  # the event itself, not its JSON
    lag = report.sources[0].lag
    assert (lag["files"], lag["packets"], lag["truncated"], lag["malformed"]) == (0, 20, 1, 1)
    again = ingest(config, [str(path)], detect=False)
    assert again.events == 0
    copy = shutil.copy(path, tmp_path / "renamed.bin")  # same identity: not read again
    assert ingest(config, [str(copy)], detect=False).events == 0


def collector(tmp_path: Path, *paths: Path, **options: Any) -> tuple[PcapCollector, StateStore]:
    config = load_config(None, data_dir=tmp_path / "data")
    state = StateStore(tmp_path / "data" / "state.db")
    source = Source(name="caps", type="pcap", paths=tuple(str(p) for p in paths),
                    options=options)
    return PcapCollector(source, state, config), state


def ids(batches: Iterator[Any]) -> list[str]:
    return [r.id for b in batches for r in b.records]


def test_resume_inside_a_file_gives_the_uninterrupted_events(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "cap.pcap", traffic())
    whole, _ = collector(tmp_path / "a", path)
    expected = ids(whole.batches(3))
    crashed, state = collector(tmp_path / "b", path)
    batches = crashed.batches(3)
    first = next(batches)
    crashed.commit(first)  # then the process dies
    state.close()
    resumed, _ = collector(tmp_path / "b", path)
    rest = ids(resumed.batches(3))
    assert [r.id for r in first.records] + rest == expected
    assert len(set(expected)) == 9


def test_records_carry_the_sensor_events(tmp_path: Path) -> None:
    coll, _ = collector(tmp_path, write_pcap(tmp_path / "cap.pcap", traffic()))
    records = [r for b in coll.batches(100) for r in b.records]
    assert {(r.text, r.id == r.event["event.id"]) for r in records if r.event} == {("", True)}
    assert len([r for r in records if r.event]) == len(records) == 9


def test_flows_open_at_the_end_come_in_batches_of_the_size(tmp_path: Path) -> None:
    syslog: list[Packet] = [Ether() / IP(src=f"10.20.1.{i}", dst="10.20.0.5")
                            / UDP(sport=514, dport=514) for i in range(50)]
    coll, _ = collector(tmp_path, write_pcap(tmp_path / "cap.pcap", stamp(syslog)))
    batches = list(coll.batches(10))
    assert [len(b.records) for b in batches] == [10, 10, 10, 10, 10]
    assert [b.checkpoint[next(iter(b.checkpoint))]["complete"] for b in batches] == [
        False, False, False, False, True]
    coll.commit(batches[1])  # then the process dies: the next pass ends them all again
    again, _ = collector(tmp_path, tmp_path / "cap.pcap")
    assert len(ids(again.batches(10))) == 50


def test_live_capture_spool_into_the_store(tmp_path: Path) -> None:
    from collectors.netsensor import Sensor
    from soc.listen.capture import CaptureConfig, SpoolSink, capture_source
    from soc.listen.spool import SpoolWriter, encode, spool_dir
    from soc.pipeline.pipeline import Pipeline

    config = load_config(None, data_dir=tmp_path / "data")
    settings = CaptureConfig("eth9")
    source = capture_source(settings)
    sensor = Sensor("live", observer={"observer.ingress.interface.name": "eth9"})
    for i, pkt in enumerate(traffic()[:8]):
        sensor.feed(T0 + i, bytes(pkt), 1)
    sensor.flush()
    taken = sensor.take()
    sink = SpoolSink(config, source.name)
    sink(taken)
    sink.close()
    writer = SpoolWriter(spool_dir(config.data_dir, source.name), 1 << 20)
    writer.open()
    writer.write([encode(b'{"not": "a sensor event"}', T0, (0, 0, b""))])
    writer.close()
    with open_store(config) as store:
        state = StateStore(tmp_path / "state.db")
        report = Pipeline(config, store, state).run_source(source)
        state.close()
        events = list(store.search("*", limit=None))
        dead = store.dead_letters()
    assert (report.events, report.dead_letters, report.error) == (2, 1, None)
    assert sorted(e["event.dataset"] for e in events) == ["network.flow", "network.http"]
    assert {e["event.id"] for e in events} == {e["event.id"] for e in taken}
    assert all(e["event.created"] and "event.original" not in e and "log.source.address" not in e
               and e["observer.ingress.interface.name"] == "eth9" for e in events)
    assert [d.reason for d in dead] == [
        "not a network sensor event (event.module is not netsensor)"]


def test_cut_file_and_non_capture_become_dead_letters(tmp_path: Path) -> None:
    full = write_pcap(tmp_path / "full.pcap", traffic()[:8])
    (tmp_path / "cut.pcap").write_bytes(full.read_bytes()[:-30])
    (tmp_path / "notes.pcap").write_text("not a capture at all\n")
    coll, _ = collector(tmp_path, tmp_path)
    batches = list(coll.batches(100))
    reasons = sorted(d.reason for b in batches for d in b.dead_letters)
    assert reasons == ["capture file ends inside frame 7 (the file was cut short)",
                       "not a pcap/pcapng file (starts with 6e6f7420)"]
    assert len([r for b in batches for r in b.records]) == 4  # both files: HTTP and its flow
    assert PcapCollector.sniff_file(full) and not PcapCollector.sniff_file(tmp_path / "notes.pcap")


def test_sensor_limits_from_the_config_and_the_source(tmp_path: Path) -> None:
    config = parse_config({"network": {"max_flows": 2, "idle_timeout": "2m"}}, None, tmp_path)
    syslog: list[Packet] = [Ether() / IP(src=f"10.20.0.{i}", dst="10.20.0.5")
                            / UDP(sport=514, dport=514) for i in range(5)]
    path = write_pcap(tmp_path / "cap.pcap", stamp(syslog))
    state = StateStore(tmp_path / "state.db")
    coll = PcapCollector(Source("caps", "pcap", (str(path),), options={"max_flows": 3}),
                         state, config)
    assert coll.limits == {"max_flows": 3, "idle_timeout": 120.0}
    batches = list(coll.batches(100))
    for batch in batches:
        coll.commit(batch)
    events = [r.event for b in batches for r in b.records]
    assert sum(e is not None and e["netsensor.flow.end_reason"] == "evicted"
               for e in events) == 2
    assert coll.lag()["evicted"] == 2
    with pytest.raises(ConfigError, match="unknown key 'snaplen'"):
        PcapCollector(Source("caps", "pcap", (str(path),), options={"snaplen": 1}), state, config)


def test_min_age_leaves_files_being_written(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "cap.pcap", traffic())
    coll, _ = collector(tmp_path, tmp_path, min_age="10m")
    just_now = time.time()  # the file's time on the process's clock, whatever the date
    os.utime(path, (just_now, just_now))
    assert coll.files() == []
    an_hour_ago = time.time() - 3600  # older than min_age on any date (a fixed T0 was not)
    os.utime(path, (an_hour_ago, an_hour_ago))
    assert coll.files() == [str(path.resolve())]


# --- the rules of rules/network on their samples, the IoC rule, the demo capture ---------------

RULES = Path(__file__).resolve().parent.parent / "rules"


def network_rule_ids() -> list[str]:
    import yaml

    return sorted(str(yaml.safe_load(p.read_text())["id"])
                  for p in (RULES / "network").glob("*.yml"))


def test_network_rules_pass_their_samples(tmp_path: Path) -> None:
    from soc.detection.rules_test import run_tests
    from soc.detection.stage import load_detector

    config = load_config(None, data_dir=tmp_path)
    detector = load_detector([RULES], use_cache=False)
    wanted = [r for r in network_rule_ids() if r != "3011493d-d3e8-49a2-955b-f0beb4b2d2e0"]
    report = run_tests(config, detector, [RULES], wanted)
    assert [r.explain() for r in report.failed] == []
    assert report.untested == []
    assert len(report.results) == 36


def test_ioc_rule_needs_its_list_and_then_fires(tmp_path: Path) -> None:
    from soc.detection.stage import load_detector

    ioc = "3011493d-d3e8-49a2-955b-f0beb4b2d2e0"
    without = load_detector([RULES / "network"], use_cache=False)
    assert [i.reason for i in without.issues if i.rule_id == ioc] == [
        "placeholder %ioc_ips% has no value: set rules.placeholders.ioc_ips in soc.yml"]
    detector = load_detector([RULES / "network"], use_cache=False,
                             placeholders={"ioc_ips": ["203.0.113.66", "198.51.100.7"]})
    flow = {"@timestamp": "2026-11-24T01:15:00.000Z", "event.dataset": "network.flow",
            "source.ip": "10.20.0.9", "destination.ip": "198.51.100.7",
            "destination.port": 443, "network.transport": "tcp"}
    assert [h.rule_id for h in detector.match([flow])] == [ioc]
    assert detector.match([{**flow, "destination.ip": "198.51.100.8"}]) == []


NETSENSOR_RULE = """title: Any Sensor Event From The Scanner {n}
id: 5e1f0c55-0000-4000-8000-00000000000{n}
status: test
logsource: {{product: netsensor{service}}}
detection:
    selection:
        source.ip: 203.0.113.66
    condition: selection
level: low
"""


def test_product_netsensor_routes_to_the_sensor_datasets(tmp_path: Path) -> None:
    from soc.detection.stage import load_detector

    (tmp_path / "any.yml").write_text(NETSENSOR_RULE.format(n=1, service=""))
    (tmp_path / "arp.yml").write_text(NETSENSOR_RULE.format(n=2, service=", service: arp"))
    detector = load_detector([tmp_path], use_cache=False)
    assert detector.issues == []
    base = {"@timestamp": "2026-11-24T01:15:00.000Z", "source.ip": "203.0.113.66"}
    fired = {ds: sorted(h.rule_id[-1] for h in detector.match([{**base, "event.dataset": ds}]))
             for ds in ("network.tls", "network.arp", "network.icmp", "linux.auth",
                        "suricata.eve")}
    assert fired == {"network.tls": ["1"], "network.arp": ["1", "2"], "network.icmp": ["1"],
                     "linux.auth": [], "suricata.eve": []}


def test_demo_capture_raises_the_port_scan(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from collectors.netsensor.demo import write_demo_pcap
    from soc.detection.hunt import scan_files
    from soc.detection.stage import load_detector

    path = tmp_path / "portal-scan.pcap"
    assert write_demo_pcap(path, "203.0.113.66", "10.20.0.15",
                           datetime(2026, 11, 24, 1, 15, tzinfo=UTC)) == 239
    config = load_config(None, data_dir=tmp_path / "data")
    detector = load_detector([RULES / "network"], use_cache=False)
    found = {(f.title, f.entity.get("source.ip"), f.entity.get("destination.ip"))
             for f in scan_files(config, [str(path)], detector)}
    assert ("Port Scan From One Source", "203.0.113.66", "10.20.0.15") in found


def test_symlinks_fifos_and_a_link_to_root_are_not_followed(tmp_path: Path) -> None:
    """The pcap and evtx collectors expanded folders with rglob and globs with glob.glob: a link
    to / under a recursive folder walked the disk, a link to a capture outside the folder was
    read, a FIFO named like a capture blocked the pass. They walk as the file collector does."""
    outside = write_pcap(tmp_path / "elsewhere.pcap", traffic())
    caps = tmp_path / "caps"
    (caps / "sub").mkdir(parents=True)
    write_pcap(caps / "sub" / "mine.pcap", traffic())
    (caps / "theirs.pcap").symlink_to(outside)
    (caps / "root").symlink_to("/")
    os.mkfifo(caps / "pipe.pcap")
    coll, _ = collector(tmp_path, caps)
    assert coll.files() == [str((caps / "sub" / "mine.pcap").resolve())]
    with pytest.raises(PartialError) as err:
        list(coll.batches(1000))
    assert "2 file(s) not read" in err.value.message
    assert "theirs.pcap: a symlink to" in err.value.message
    assert "pipe.pcap: a FIFO (named pipe), not a regular file" in err.value.message


def test_evtx_collector_walks_the_same_way(tmp_path: Path) -> None:
    from collectors.evtx import EvtxCollector

    logs = tmp_path / "logs"
    logs.mkdir()
    secret = tmp_path / "secret.evtx"
    secret.write_bytes(b"ElfFile\x00" + b"\x00" * 100)
    (logs / "link.evtx").symlink_to(secret)
    (logs / "root").symlink_to("/")
    os.mkfifo(logs / "pipe.evtx")
    config = load_config(None, data_dir=tmp_path / "data")
    state = StateStore(tmp_path / "data" / "state.db")
    coll = EvtxCollector(Source(name="win", type="evtx", paths=(str(logs),)), state, config)
    assert coll.files() == []
    with pytest.raises(PartialError, match="2 file\\(s\\) not read"):
        list(coll.batches(1000))
