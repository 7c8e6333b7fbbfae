"""The network sensor and the project's rules on the public captures of ``$SOC_CORPUS/pcaps``.

Figures (pcaps of 2026-11-24): masscan TCP and UDP sweeps (1,001 flows each) and the SYN scan
(1,994 flows) raise the port-scan correlation; the nmap port-80 scans raise the half-open probe
rule and, with scripts or version detection, the scanner user-agent rule; the Hydra capture (61
SSH connections in 20 minutes) raises the brute-force correlation for the label's attacker and
victim; the DNS captures give DNS events.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from soc.config import load_config
from soc.detection.hunt import ScanReport, read_events, scan_files
from soc.detection.stage import load_detector
from tests.test_pcap import register_plugins

pytestmark = pytest.mark.corpus
ROOT = Path(__file__).resolve().parent.parent
PORT_SCAN = "c8ae13b8-0d26-49ca-939d-2becd26bdd64"
SYN_PROBE = "3b4d9a6d-a363-4d0a-93a7-ac2aa5131124"
SCANNER_UA = "acccb761-a0b7-4f33-9d58-d70111cebdaa"
BRUTE_FORCE = "7207ceee-248c-423f-ac68-43a12848d0ee"
STEALTH = "d23ac6a9-ae60-42bd-9860-495755837e83"


@pytest.fixture(scope="module", autouse=True)
def plugins(tmp_path_factory: pytest.TempPathFactory) -> None:
    register_plugins(tmp_path_factory.mktemp("entry-points"))


@pytest.fixture(scope="module")
def pcaps(corpus: Path) -> Path:
    return corpus / "pcaps"


def findings(path: Path, tmp_path: Path) -> Counter[tuple[str, Any, Any]]:
    """(rule id, source.ip, destination.ip) of every finding of the project's rules."""
    config = load_config(None, data_dir=tmp_path)
    detector = load_detector([ROOT / "rules"], use_cache=False)
    report = ScanReport()
    found = Counter((f.rule_id, f.entity.get("source.ip"), f.entity.get("destination.ip"))
                    for f in scan_files(config, [str(path)], detector, report=report))
    assert not report.errors and report.dead_letters == 0
    return found


@pytest.mark.parametrize(("name", "scanner", "target"), [
    ("esnet_curated_scanners/masscan_tcp_0_1000_20190821.pcap", "172.31.15.102",
     "198.51.100.1"),
    ("esnet_curated_scanners/masscan_udp_0_1000_20190821.pcap", "172.31.15.102",
     "198.51.100.1"),
    ("chrissanders_packets/synscan.pcapng", "172.16.0.8", "64.13.134.52"),
])
def test_port_scans_name_the_scanner(pcaps: Path, tmp_path: Path, name: str, scanner: str,
                                     target: str) -> None:
    found = findings(pcaps / name, tmp_path)
    scans = {(src, dst) for rule, src, dst in found if rule == PORT_SCAN}
    assert len(scans) == 1
    src, _ = scans.pop()
    assert src == scanner


@pytest.mark.parametrize(("name", "rules"), [
    ("nmap_nmap_80_vanilla.pcap", {SYN_PROBE}),
    ("nmap_nmap_80_w_service_detection.pcap", {SYN_PROBE, SCANNER_UA}),
    ("nmap_nmap_80_all.pcap", {SYN_PROBE, SCANNER_UA}),
])
def test_nmap_port_80_scans_name_the_scanner(pcaps: Path, tmp_path: Path, name: str,
                                             rules: set[str]) -> None:
    found = findings(pcaps / "esnet_curated_scanners" / name, tmp_path)
    ours = {(rule, src) for rule, src, _ in found if rule in (SYN_PROBE, SCANNER_UA)}
    assert ours == {(rule, "10.87.1.10") for rule in rules}


def test_os_fingerprinting_probes(pcaps: Path, tmp_path: Path) -> None:
    found = findings(pcaps / "chrissanders_packets" / "activeosfingerprinting.pcapng", tmp_path)
    assert {src for rule, src, _ in found if rule == STEALTH} == {"172.16.16.128"}


def test_ssh_brute_force_matches_the_label(pcaps: Path, tmp_path: Path) -> None:
    folder = pcaps / "trace_share_ssh_bruteforce"
    label = json.loads((folder / "hydra-1_tasks.label.json").read_text())
    found = findings(folder / label["file"], tmp_path)
    brute = {(src, dst) for rule, src, dst in found if rule == BRUTE_FORCE}
    assert brute == {(label["source"][0], label["destination"][0])}


@pytest.mark.parametrize(("name", "queries"), [
    ("dns_isp_hijack.pcapng", 2), ("arppoison.pcapng", 27), ("dns_axfr.pcapng", 1),
])
def test_dns_captures_give_dns_events(pcaps: Path, tmp_path: Path, name: str,
                                      queries: int) -> None:
    config = load_config(None, data_dir=tmp_path)
    events = [e for batch in read_events(config, [str(pcaps / "chrissanders_packets" / name)])
              for e in batch if e["event.dataset"] == "network.dns"]
    assert len(events) == queries
    assert all(e["dns.question.name"] and e["source.ip"] for e in events)


def test_every_capture_reads_without_dead_letters(pcaps: Path, tmp_path: Path) -> None:
    config = load_config(None, data_dir=tmp_path)
    report = ScanReport()
    paths = sorted(str(p) for p in pcaps.rglob("*.pcap*"))
    datasets = Counter(e["event.dataset"] for batch in read_events(config, paths, report=report)
                       for e in batch)
    assert (report.files, report.dead_letters, report.errors) == (20, 0, [])
    assert set(datasets) == {"network.flow", "network.dns", "network.http", "network.arp",
                             "network.icmp"}
