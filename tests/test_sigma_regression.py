"""Ground truth from SigmaHQ's regression data, and the whole SigmaHQ ruleset ($SOC_CORPUS)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.parsers.winlog import winlog_event
from soc.detection.engine import Engine
from soc.ecs import Event

# Counts of SigmaHQ's labels.csv that are lower than the number of events in the file that the
# rule, read as Sigma says, matches (checked by reading the events): every event of these files
# is a genuine match, case-insensitively.
LABEL_UNDERCOUNTS = {
    "45e112d0-7759-4c2a-aa36-9f8fb79d3393": 3,  # three ZoneMap\Domains values set to 2
    "c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e": 2,  # AutoShareServer and AutoShareWks both set to 0
}

# Pinned: SigmaHQ rules that cannot be used here, by stage (see docs/detection.md): the
# placeholder rules, and log sources no native export carries (m365 threat_management,
# threat_detection and exchange: 15; azure pim: 7; windows file_rename: 2; fortios sslvpnd and
# paloalto globalprotect file_event: 2).
UNUSABLE = {"pipeline": 25, "logsource": 26}


def json_records(path: Path) -> Iterator[dict[str, Any]]:
    """The concatenated JSON objects of a regression ``.json`` file (evtx_dump style)."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return
        obj, i = decoder.raw_decode(text, i)
        yield obj


def regression_events(root: Path, test_file: str) -> list[Event]:
    """The events of a regression test file: its JSON twin, else the EVTX via ``evtx``."""
    evtx_path = root / test_file
    twin = evtx_path.with_suffix(".json")
    if twin.exists():
        return [winlog_event(r) for r in json_records(twin)]
    from evtx import PyEvtxParser

    records = PyEvtxParser(str(evtx_path)).records_json()
    return [winlog_event(json.loads(r["data"])) for r in records if r is not None]


def labels(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "sigma-regression" / "labels.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_regression_rule_fires_on_its_file(corpus: Path) -> None:
    root = corpus / "sigma-regression"
    failures = []
    rows = labels(corpus)
    for row in rows:
        rule = root / "rules_under_test" / row["rule_path_in_sigma_repo"]
        engine = Engine.from_paths([rule], use_cache=False)
        assert not engine.errors, engine.errors
        events = regression_events(root, row["test_file"])
        fired = sum(1 for ev in events
                    if any(h.rule_id == row["rule_id"] for h in engine.match(ev)))
        expected = row["expected_match_count"]
        if expected.startswith("("):
            ok = fired >= 1
        else:
            ok = fired == LABEL_UNDERCOUNTS.get(row["rule_id"], int(expected))
        if not ok:
            failures.append((row["rule_id"], row["rule_path_in_sigma_repo"], fired, expected))
    assert len(rows) == 92
    assert failures == []


@pytest.fixture(scope="module")
def sigmahq(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    cache_dir = tmp_path_factory.mktemp("rule-cache")
    return Engine.from_paths(sorted((corpus / "sigmahq").glob("rules*")), cache_dir=cache_dir)


def test_all_sigmahq_rules_load_or_are_listed(sigmahq: Engine) -> None:
    stages = Counter(issue.stage for issue in sigmahq.errors)
    assert dict(stages) == UNUSABLE
    assert sigmahq.stats.files == len(sigmahq.rules) + len(sigmahq.errors)
    assert all(issue.reason and issue.path.endswith(".yml") for issue in sigmahq.errors)
    placeholder = [i for i in sigmahq.errors if i.stage == "pipeline"]
    assert all("rules.placeholders." in i.reason for i in placeholder)


# Independent of the pipelines: which channel / event ids each Windows log source may come from.
SYSMON = "Microsoft-Windows-Sysmon/Operational"
CATEGORY_EVENTS = {
    "process_creation": {(SYSMON, "1"), ("Security", "4688")},
    "file_event": {(SYSMON, "11")}, "registry_set": {(SYSMON, "13")},
    "registry_event": {(SYSMON, "12"), (SYSMON, "13"), (SYSMON, "14")},
    "registry_add": {(SYSMON, "12")}, "registry_delete": {(SYSMON, "12")},
    "image_load": {(SYSMON, "7")}, "process_access": {(SYSMON, "10")},
    "network_connection": {(SYSMON, "3")}, "pipe_created": {(SYSMON, "17"), (SYSMON, "18")},
    "dns_query": {(SYSMON, "22")}, "create_remote_thread": {(SYSMON, "8")},
    "driver_load": {(SYSMON, "6")}, "file_delete": {(SYSMON, "23"), (SYSMON, "26")},
    "create_stream_hash": {(SYSMON, "15")}, "wmi_event": {(SYSMON, c) for c in ["19", "20", "21"]},
    "raw_access_thread": {(SYSMON, "9")},
}
SERVICE_CHANNELS = {"security": "Security", "system": "System", "sysmon": SYSMON,
                    "application": "Application"}


def logsource_allows(logsource: tuple[str | None, str | None, str | None], ev: Event) -> bool:
    category, _, service = logsource
    key = (ev.get("winlog.channel"), str(ev.get("event.code")))
    if category in CATEGORY_EVENTS and key not in CATEGORY_EVENTS[category]:
        return False
    return not (service in SERVICE_CHANNELS and key[0] != SERVICE_CHANNELS[service])


def test_full_ruleset_on_regression_files_has_no_wrong_logsource_hit(
        corpus: Path, sigmahq: Engine) -> None:
    root = corpus / "sigma-regression"
    by_id = {r.ir.id: r.ir for r in sigmahq.rules}
    wrong = []
    for row in labels(corpus):
        for ev in regression_events(root, row["test_file"]):
            for hit in sigmahq.match(ev):
                if not logsource_allows(by_id[hit.rule_id].logsource, ev):
                    wrong.append((hit.rule_id, ev.get("winlog.channel"), ev.get("event.code")))
    assert wrong == []
