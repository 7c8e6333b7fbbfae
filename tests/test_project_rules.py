"""The project's own rules (``rules/``) on their samples (``rules/tests/<rule-id>/``).

Each sample file holds raw log lines in a format our parsers read (auth.log, auditd, access logs,
firewall lines, evtx_dump JSON for Windows), parsed by ``auto`` as the pipeline parses a file. A
detection rule must fire on every event of its ``match*`` files (or on the number given in
``PARTIAL_MATCHES`` when a file holds context lines) and on no event of its ``nomatch*`` files.
A correlation's files hold a whole sequence: its base rules fire exactly ``BASE_HITS`` times, and
the correlation stage (in memory, one report per episode, as ``soc rules test`` runs it) raises
it exactly once on a ``match*`` file and never on a ``nomatch*`` file. ``soc rules test`` runs
the same samples with the "at least once / never" reading.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.plugins import InstalledSigmaPlugins
from sigma.rule import SigmaRule
from sigma.validation import SigmaValidator
from sigma.validators.base import SigmaRuleValidator

from soc.detection.correlation import Correlator, MemoryHitLog
from soc.detection.stage import Detector, load_detector
from soc.ecs import Event
from soc.errors import SkipRecord
from soc.pipeline.parsing import get_parser, parse_record
from soc.pipeline.sources import ParseContext, RawRecord

RULES = Path(__file__).resolve().parent.parent / "rules"
SAMPLES = RULES / "tests"
# The detection engineer's folders (rules/network/ is the network sensor's, with its own tests;
# `soc rules test` runs every folder's samples). The engine loads all of rules/ all the same.
OWN = ("linux", "windows", "web", "network-devices")
# Year inference of BSD syslog times is relative to "now": fixed, so the samples are dated alike.
NOW = datetime(2026, 11, 25, tzinfo=UTC)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Match files that also hold lines the rule must not fire on (auditd SYSCALL records that give
# the EXECVE record its process name, shadow-utils' second line): (rule file, sample) -> hits.
PARTIAL_MATCHES = {
    ("lnx_auditd_audit_rules_deleted_or_disabled", "match.log"): 3,
    ("lnx_auditd_history_or_logs_wiped", "match.log"): 4,
    ("lnx_auth_user_added_to_privileged_group", "match.log"): 4,
}

# Correlation samples: (correlation file, sample) -> {base rule file: events it fires on}.
BASE_HITS = {
    ("lnx_auth_ssh_brute_force", "match.log"): {"lnx_auth_ssh_failed_login": 12},
    ("lnx_auth_ssh_brute_force", "nomatch-slow.log"): {"lnx_auth_ssh_failed_login": 12},
    ("lnx_auth_ssh_brute_force", "nomatch-many-sources.log"): {"lnx_auth_ssh_failed_login": 12},
    ("lnx_auth_ssh_brute_force_before_success", "match.log"): {"lnx_auth_ssh_failed_login": 12},
    ("lnx_auth_ssh_brute_force_before_success", "nomatch-slow.log"):
        {"lnx_auth_ssh_failed_login": 12},
    ("lnx_auth_ssh_brute_force_before_success", "nomatch-many-sources.log"):
        {"lnx_auth_ssh_failed_login": 12},
    ("lnx_auth_ssh_success_after_brute_force", "match.log"):
        {"lnx_auth_ssh_failed_login": 12, "lnx_auth_ssh_successful_login": 1},
    ("lnx_auth_ssh_success_after_brute_force", "nomatch-other-source.log"):
        {"lnx_auth_ssh_failed_login": 12, "lnx_auth_ssh_successful_login": 1},
    ("lnx_auth_ssh_success_after_brute_force", "nomatch-success-first.log"):
        {"lnx_auth_ssh_failed_login": 12, "lnx_auth_ssh_successful_login": 1},
    ("lnx_auth_ssh_pam_brute_force_window", "match.log"): {"lnx_auth_ssh_pam_failed_login": 8},
    ("lnx_auth_ssh_pam_brute_force_window", "nomatch-nine-attempts.log"):
        {"lnx_auth_ssh_pam_failed_login": 6},
    ("lnx_auth_ssh_pam_brute_force_window", "nomatch-slow.log"):
        {"lnx_auth_ssh_pam_failed_login": 8},
    ("lnx_auth_ssh_brute_force_pam_only", "match.log"):
        {"lnx_auth_ssh_pam_failed_login": 8, "lnx_auth_ssh_failed_login": 0},
    ("lnx_auth_ssh_brute_force_pam_only", "nomatch-sshd-logs-too.log"):
        {"lnx_auth_ssh_pam_failed_login": 8, "lnx_auth_ssh_failed_login": 12},
    ("win_security_network_logon_brute_force", "match.jsonl"):
        {"win_security_failed_network_logon": 12},
    ("win_security_network_logon_brute_force", "nomatch-slow.jsonl"):
        {"win_security_failed_network_logon": 12},
    ("win_security_network_logon_brute_force", "nomatch-few.jsonl"):
        {"win_security_failed_network_logon": 9},
    ("win_security_network_logon_brute_force_before_success", "match.jsonl"):
        {"win_security_failed_network_logon": 12},
    ("win_security_network_logon_brute_force_before_success", "nomatch-slow.jsonl"):
        {"win_security_failed_network_logon": 12},
    ("win_security_network_logon_brute_force_before_success", "nomatch-few.jsonl"):
        {"win_security_failed_network_logon": 9},
    ("win_security_network_logon_password_spraying", "match.jsonl"):
        {"win_security_failed_network_logon": 6},
    ("win_security_network_logon_password_spraying", "nomatch-one-user.jsonl"):
        {"win_security_failed_network_logon": 6},
    ("win_security_network_logon_password_spraying", "nomatch-many-sources.jsonl"):
        {"win_security_failed_network_logon": 6},
    ("win_security_logon_success_after_brute_force", "match.jsonl"):
        {"win_security_failed_network_logon": 12, "win_security_successful_network_logon": 1},
    ("win_security_logon_success_after_brute_force", "nomatch-other-source.jsonl"):
        {"win_security_failed_network_logon": 12, "win_security_successful_network_logon": 1},
    ("web_admin_login_brute_force", "match.log"): {"web_admin_login_failure": 25},
    ("web_admin_login_brute_force", "nomatch-views.log"): {"web_admin_login_failure": 0},
    ("web_admin_login_brute_force", "nomatch-few.log"): {"web_admin_login_failure": 15},
    ("web_scanner_many_not_found", "match.log"): {"web_http_not_found": 60},
    ("web_scanner_many_not_found", "nomatch-slow.log"): {"web_http_not_found": 60},
    ("web_scanner_many_not_found", "nomatch-many-sources.log"): {"web_http_not_found": 60},
    ("web_attacks_from_one_source", "match.jsonl"): {"web_attack_signal": 5},
    ("web_attacks_from_one_source", "nomatch-slow.jsonl"): {"web_attack_signal": 5},
    ("web_attacks_from_one_source", "nomatch-many-sources.jsonl"): {"web_attack_signal": 5},
    ("web_wordpress_xmlrpc_brute_force", "match.log"): {"web_wordpress_xmlrpc_post": 12},
    ("web_wordpress_xmlrpc_brute_force", "nomatch-slow.log"): {"web_wordpress_xmlrpc_post": 12},
    ("web_wordpress_xmlrpc_brute_force", "nomatch-few.log"): {"web_wordpress_xmlrpc_post": 9},
}

# Validators that download MITRE ATT&CK / D3FEND data: CI's `sigma check` runs them online.
OFFLINE_EXCLUDED = {"attacktag", "d3_fendtag"}


def rule_paths() -> list[Path]:
    """The detection engineer's rule folders and the top-level rule files of ``rules/``."""
    return sorted([*(RULES / d for d in OWN if (RULES / d).is_dir()), *RULES.glob("*.yml")])


def own(path: str) -> bool:
    return any(Path(path).resolve().is_relative_to(p.resolve()) for p in rule_paths())


def collection() -> SigmaCollection:
    rules = SigmaCollection.load_ruleset([str(p) for p in rule_paths()], collect_errors=True)
    rules.resolve_rule_references()
    return rules


RuleObj = SigmaRule | SigmaCorrelationRule
ALL: list[RuleObj] = list(collection().rules)
BY_ID: dict[str, RuleObj] = {str(r.id): r for r in ALL}


def stem(rule: RuleObj) -> str:
    assert rule.source is not None
    return Path(str(rule.source.path)).stem


def samples(kind: str) -> Iterator[tuple[str, str]]:
    """(rule id, sample file name) of every sample of rules of ``kind`` (detection/correlation)."""
    want = SigmaCorrelationRule if kind == "correlation" else SigmaRule
    for rule in ALL:
        if isinstance(rule, want) and (SAMPLES / str(rule.id)).is_dir():
            for f in sorted((SAMPLES / str(rule.id)).iterdir()):
                yield str(rule.id), f.name


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector([RULES], use_cache=False)


def parse_sample(path: Path) -> list[Event]:
    """The events of a sample file, parsed by ``auto`` as the pipeline parses a file."""
    parser = get_parser("auto")
    ctx = ParseContext(tz=TZ, now=NOW, source="rules-test", stream=str(path))
    events = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                events.append(parse_record(parser, RawRecord(line, f"{path.name}:{n}"), ctx))
            except SkipRecord:
                continue
    return events


def hits_by_rule(detector: Detector, events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for hit in detector.match(events):
        out.setdefault(hit.rule_id, []).append(hit.event)
    return out


# --- loading and conventions ----------------------------------------------------------------------

def test_every_rule_loads_in_the_engine(detector: Detector) -> None:
    assert [i for i in detector.issues if own(i.path)] == []
    detections = {str(r.id) for r in ALL if isinstance(r, SigmaRule)}
    correlations = {str(r.id) for r in ALL if isinstance(r, SigmaCorrelationRule)}
    assert {r.ir.id for r in detector.engine.rules if own(r.ir.path)} == detections
    assert {s.id for s in detector.specs if own(s.path)} == correlations
    assert len(ALL) == len(BY_ID)  # ids are unique


def test_rules_pass_sigma_validators() -> None:
    validators = InstalledSigmaPlugins.autodiscover().validators
    classes = [v for name, v in validators.items() if name not in OFFLINE_EXCLUDED]
    validator = SigmaValidator(cast(list[type[SigmaRuleValidator]], classes))
    rules = collection()
    assert [str(e) for e in rules.errors] == []
    issues = validator.validate_rules(cast(Iterator[SigmaRule], iter(rules)))
    assert [f"{i.rules[0].source}: {i}" for i in issues] == []


@pytest.mark.parametrize("rule", ALL, ids=stem)
def test_rule_follows_the_house_conventions(rule: RuleObj) -> None:
    assert isinstance(rule.id, uuid.UUID) and rule.id.version == 4
    assert rule.author == "soc project"
    assert rule.status is not None and rule.level is not None and rule.date is not None
    assert rule.description and rule.references and rule.falsepositives
    assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t.namespace + "." + t.name)
               for t in rule.tags)


def test_every_rule_has_match_and_nomatch_samples() -> None:
    for rule in ALL:
        folder = SAMPLES / str(rule.id)
        names = [f.name for f in folder.iterdir()] if folder.is_dir() else []
        assert any(n.startswith("match") for n in names), stem(rule)
        assert any(n.startswith("nomatch") for n in names), stem(rule)


# --- detection rules ------------------------------------------------------------------------------

@pytest.mark.parametrize(("rule_id", "sample"), list(samples("detection")),
                         ids=lambda v: stem(BY_ID[v]) if v in BY_ID else v)
def test_detection_rule_on_its_sample(detector: Detector, rule_id: str, sample: str) -> None:
    events = parse_sample(SAMPLES / rule_id / sample)
    assert events
    fired = len(hits_by_rule(detector, events).get(rule_id, []))
    if sample.startswith("nomatch"):
        assert fired == 0
    else:
        assert fired == PARTIAL_MATCHES.get((stem(BY_ID[rule_id]), sample), len(events))


# --- correlation rules ----------------------------------------------------------------------------

@pytest.mark.parametrize(("rule_id", "sample"), list(samples("correlation")),
                         ids=lambda v: stem(BY_ID[v]) if v in BY_ID else v)
def test_correlation_rule_on_its_sample(detector: Detector, rule_id: str, sample: str) -> None:
    corr = BY_ID[rule_id]
    events = parse_sample(SAMPLES / rule_id / sample)
    hits = detector.match(events)
    by_rule = hits_by_rule(detector, events)
    expected = BASE_HITS[(stem(corr), sample)]
    assert {name: len(by_rule.get(str(BY_STEM[name].id), [])) for name in expected} == expected
    correlator = Correlator(detector.specs, MemoryHitLog(), episodes=True)
    raised = [m for m in correlator.process(hits) if m.spec.id == rule_id]
    assert len(raised) == (1 if sample.startswith("match") else 0)


BY_STEM = {stem(r): r for r in ALL}
