"""``soc hunt`` on the Elasticsearch store, against the scripted HTTP peer of test_es_store.py:
one search per rule with its own query and the window, the events found confirmed in-process,
the same findings and alert ids as the embedded store for the same events."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from soc.cli.main import main
from soc.config import Config, load_config
from soc.detection.hunt import HuntReport, hunt
from soc.ecs import Event, event_id
from soc.stores.es.store import ElasticsearchStore
from soc.stores.sqlite import SQLiteStore
from tests.test_es_store import API_KEY, Peer, config, reply

RULES = """\
title: Failed logon of an admin account
id: 00000000-0000-4000-8000-00000000e001
level: high
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
    TargetUserName|startswith: adm
  condition: selection
---
title: Sudo as another user
id: 00000000-0000-4000-8000-00000000e002
level: medium
logsource: {product: linux, service: sudo}
detection:
  selection:
    event.action: sudo
  same:
    user.name|fieldref: user.effective.name
  condition: selection and not same
---
title: Logon with a field luqum cannot read
id: 00000000-0000-4000-8000-00000000e003
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
    "Target\\nName": adm
  condition: selection
---
title: Admin logon failures from one address
id: 00000000-0000-4000-8000-00000000e004
level: critical
correlation:
  type: event_count
  rules: [00000000-0000-4000-8000-00000000e001]
  group-by: [IpAddress]
  timespan: 10m
  condition: {gte: 3}
"""
FAILED, OTHER, QUOTE, BRUTE = (f"00000000-0000-4000-8000-00000000e00{n}" for n in range(1, 5))
FAILED_QUERY = ("winlog.channel.caseless:Security AND (event.code.caseless:4625 AND "
                "winlog.event_data.TargetUserName.caseless:adm*)")
OTHER_QUERY = ("event.dataset.caseless:linux.auth AND (event.action.caseless:sudo AND "
               "(NOT (NOT *:*)))")
SINCE, UNTIL = datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)
WINDOW = {"range": {"@timestamp": {"gte": "2026-11-24T00:00:00.000Z",
                                   "lt": "2026-11-25T00:00:00.000Z",
                                   "format": "strict_date_optional_time"}}}


def event(n: int, **fields: Any) -> Event:
    ts = f"2026-11-24T08:00:{n:02d}.000Z"
    return {"@timestamp": ts, "event.id": event_id("hunt", n), "event.ingested": ts,
            "organization.id": "so-a", "labels.system": "portal", **fields}


def logon(n: int, target: str) -> Event:
    return event(n, **{"event.dataset": "windows.security", "event.module": "windows",
                       "host.name": "dc01", "winlog.channel": "Security", "event.code": "4625",
                       "winlog.event_id": 4625, "source.ip": "10.0.0.9",
                       "winlog.event_data.TargetUserName": target})


def sudo(n: int, user: str, to: str) -> Event:
    return event(n, **{"event.dataset": "linux.auth", "event.module": "linux",
                       "host.name": "web01", "event.action": "sudo", "user.name": user,
                       "user.effective.name": to})


EVENTS = [logon(1, "admin"), logon(2, "adm2"), logon(3, "administrator"),
          sudo(4, "bob", "root"), sudo(5, "root", "root")]


class Cluster(Peer):
    """The peer, answering each rule's query with the events the cluster would find
    (``found[query_string]``, sorted as the store asks) and counting the alert-event links
    the bulk requests wrote, as the alert path asks."""

    found: dict[str, list[Event]]

    def default(self, request: Request) -> Response:
        if request.path == "/logs-*-*/_search":
            body = json.loads(request.get_data())
            text = body["query"]["bool"]["filter"][0]["query_string"]["query"]
            events = sorted(self.found.get(text, []),
                            key=lambda e: (e["@timestamp"], e["event.id"]))
            return reply({"hits": {"hits": [{"_source": e, "sort": [e["@timestamp"],
                                                                    e["event.id"]]}
                                            for e in events]}})
        if request.path == "/soc-alert-events/_search":
            counts = Counter(doc["alert_id"] for doc in self.written("soc-alert-events"))
            return reply({"hits": {"hits": []}, "aggregations": {"alerts": {"buckets": [
                {"key": k, "doc_count": n} for k, n in counts.items()]}}})
        return super().default(request)

    def written(self, index: str) -> list[dict[str, Any]]:
        """The documents the bulk requests created in ``index``."""
        return [doc for bulk in self.bulks() for action, doc in zip(bulk[0::2], bulk[1::2],
                                                                    strict=True)
                if action["create"]["_index"] == index]

    def searches(self) -> list[dict[str, Any]]:
        return [json.loads(body) for method, path, _, body in self.requests
                if method == "POST" and path == "/logs-*-*/_search"]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    scripted = Cluster(server)
    # the superset the fieldref rule's query finds includes root's sudo to root
    scripted.found = {FAILED_QUERY: EVENTS[:3], OTHER_QUERY: EVENTS[3:]}
    server.expect_request(re.compile(".*")).respond_with_handler(scripted.handle)
    yield scripted
    server.stop()


@pytest.fixture
def rules(tmp_path: Path) -> str:
    path = tmp_path / "hunt-rules.yml"
    path.write_text(RULES, encoding="utf-8")
    return str(path)


@pytest.fixture
def es_config(tmp_path: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("SOC_TEST_API_KEY", API_KEY)
    return config(tmp_path, cluster)


def es_hunt(es_config: Config, rules: str, *, readonly: bool = False) -> HuntReport:
    with ElasticsearchStore.open(es_config, readonly=readonly) as store:
        return hunt(es_config, store, [rules], since=SINCE, until=UNTIL)


def embedded_alerts(tmp_path: Path, rules: str) -> tuple[HuntReport, dict[str, tuple[str, int]]]:
    """The same hunt over the same events on the embedded store: its alerts by id."""
    embedded = tmp_path / "embedded"
    embedded.mkdir()
    (embedded / "soc.yml").write_text("data_dir: data\n", encoding="utf-8")
    local = load_config(embedded / "soc.yml")
    with SQLiteStore.open(local) as store:
        store.write_events(EVENTS)
        raised = hunt(local, store, [rules], since=SINCE, until=UNTIL)
        return raised, {a.id: (a.rule_id, a.count) for a in store.list_alerts()}


def test_one_search_per_rule_with_its_query_and_the_window(es_config: Config, rules: str,
                                                         cluster: Cluster) -> None:
    report = es_hunt(es_config, rules)
    sort = [{"@timestamp": {"order": "asc", "unmapped_type": "date"}},
            {"event.id": {"order": "asc", "unmapped_type": "keyword"}}]
    expected = [{"query": {"bool": {"filter": [
        {"query_string": {"query": text, "default_operator": "AND", "lenient": True,
                          "allow_leading_wildcard": True, "analyze_wildcard": True,
                          "default_field": "soc.values"}}, WINDOW]}},
        "sort": sort, "size": 1000} for text in (FAILED_QUERY, OTHER_QUERY)]
    assert cluster.searches() == expected  # the correlation has no query: its rule's feeds it
    assert (report.query, report.rule_queries, report.events) == (None, 2, 5)


def test_the_matcher_confirms_and_rejects_the_superset(es_config: Config, rules: str) -> None:
    report = es_hunt(es_config, rules, readonly=True)  # read-only: the findings are listed
    # root's sudo to root is in the fieldref rule's superset; the matcher rejects it
    assert report.rejected == {OTHER: 1}
    assert report.hits == 4
    found = [(f["rule_id"], f["events"]) for f in report.unstored]
    ids = [e["event.id"] for e in EVENTS]
    assert found == [(FAILED, [ids[0]]), (FAILED, [ids[1]]), (FAILED, [ids[2]]),
                     (BRUTE, [ids[2], ids[0], ids[1]]), (OTHER, [ids[3]])]


def test_a_rule_without_a_query_is_listed_with_its_reason(es_config: Config,
                                                          rules: str) -> None:
    report = es_hunt(es_config, rules)
    assert report.skipped == [{
        "rule_id": QUOTE, "title": "Logon with a field luqum cannot read",
        "reason": "cannot parse query 'winlog.channel:Security AND (event.code:4625 AND "
                  "winlog.event_data.Target\\\\\\nName:adm)': Illegal character "
                  "'\\\nName:adm)' at position 73"}]  # luqum reads no escaped newline


def test_findings_are_listed_when_the_store_cannot_keep_alerts(tmp_path: Path,
                                                              es_config: Config,
                                                              rules: str) -> None:
    report = es_hunt(es_config, rules, readonly=True)
    assert report.alerts_error == "cannot write alerts: the store was opened read-only"
    assert (report.new, report.updated, report.findings) == ([], [], 5)
    first = report.unstored[0]
    assert {k: first[k] for k in ("title", "level", "timestamp", "kind")} == {
        "title": "Failed logon of an admin account", "level": "high",
        "timestamp": "2026-11-24T08:00:01.000Z", "kind": "rule"}
    # the three failures are one alert (suppression): every finding names the alert it joins
    _, alerts = embedded_alerts(tmp_path, rules)
    assert {f["alert_id"] for f in report.unstored} == set(alerts)


def test_the_same_alerts_as_the_embedded_store(tmp_path: Path, es_config: Config, rules: str,
                                               cluster: Cluster) -> None:
    report = es_hunt(es_config, rules)
    raised, alerts = embedded_alerts(tmp_path, rules)
    assert (raised.hits, raised.findings) == (report.hits, report.findings) == (4, 5)
    assert sorted(alerts.values()) == sorted([(FAILED, 3), (BRUTE, 3), (OTHER, 1)])
    assert report.alerts_error is None and report.updated == []
    assert {a.id: (a.rule_id, a.count) for a in report.new} == alerts
    assert {d["id"] for d in cluster.written("soc-alerts")} == set(alerts)


def test_the_cli_hunts_on_elasticsearch(es_config: Config, rules: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-c", str(es_config.path), "hunt", rules, "--since", "2026-11-24",
                 "--until", "2026-11-25", "--json"])
    out, err = capsys.readouterr()
    assert code == 10
    data = json.loads(out)
    assert (data["query"], data["findings"], len(data["new_alerts"])) == (None, 5, 3)
    assert (data["alerts_error"], data["unstored"]) == (None, [])
    assert (f"Warning: rule {QUOTE} (Logon with a field luqum cannot read) not hunted: "
            "cannot parse") in err
    assert "5 event(s) read, 4 hit(s), 1 not confirmed by the matcher" in err


def test_show_queries_needs_no_cluster(tmp_path: Path, rules: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "soc.yml").write_text(  # nothing listens on port 9
        "data_dir: data\nstore: {type: elasticsearch, hosts: ['http://127.0.0.1:9']}\n",
        encoding="utf-8")
    base = ["-c", str(tmp_path / "soc.yml"), "hunt", rules, "--show-queries",
            "--since", "2026-11-24", "--until", "2026-11-25"]
    code = main([*base, "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 5  # one rule has no query
    assert [r["rule_id"] for r in rows] == [FAILED, OTHER, QUOTE]
    assert rows[0] == {
        "rule_id": FAILED, "title": "Failed logon of an admin account", "exact": True,
        "lucene": "winlog.channel:Security AND (event.code:4625 AND "
                  "winlog.event_data.TargetUserName:adm*)",
        "query": FAILED_QUERY, "error": None,
        "dsl": {"bool": {"filter": [{"query_string": {
            "query": FAILED_QUERY, "default_operator": "AND", "lenient": True,
            "allow_leading_wildcard": True, "analyze_wildcard": True,
            "default_field": "soc.values"}}, WINDOW]}}}
    assert (rows[1]["exact"], rows[2]["query"]) == (False, None)
    main(base)
    text = capsys.readouterr().out
    assert text.startswith(f"# Failed logon of an admin account ({FAILED})\n"
                           f"lucene: winlog.channel:Security AND (event.code:4625 AND "
                           f"winlog.event_data.TargetUserName:adm*)\nquery:  {FAILED_QUERY}\n"
                           f"dsl:    {{\"bool\": ")
    assert f"# Sudo as another user ({OTHER})  [inexact: re-checked in-process]" in text


def test_cased_values_are_a_superset_rechecked_in_process() -> None:
    from sigma.collection import SigmaCollection

    from soc.stores.es.hunt import hunt_queries

    text = RULES.split("---")[0].replace("TargetUserName|startswith", "TargetUserName|cased")
    (query,) = hunt_queries(SigmaCollection.from_yaml(text).rules)  # type: ignore[arg-type]
    assert (query.query, query.exact, query.error) == (
        "winlog.channel.caseless:Security AND (event.code.caseless:4625 AND "
        "winlog.event_data.TargetUserName.caseless:adm)", False, None)
    negated = text.replace("condition: selection", "condition: not selection")
    (query,) = hunt_queries(SigmaCollection.from_yaml(negated).rules)  # type: ignore[arg-type]
    assert query.query is not None and "(NOT *:*)" in query.query and not query.exact


def test_a_lone_quote_is_escaped() -> None:
    from sigma.collection import SigmaCollection

    from soc.stores.es.hunt import hunt_queries

    text = RULES.split("---")[0].replace("TargetUserName|startswith: adm", "TargetUserName: \"'\"")
    (query,) = hunt_queries(SigmaCollection.from_yaml(text).rules)  # type: ignore[arg-type]
    assert (query.query, query.exact, query.error) == (
        "winlog.channel.caseless:Security AND (event.code.caseless:4625 AND "
        "winlog.event_data.TargetUserName.caseless:\\')", True, None)
    (query,) = hunt_queries(SigmaCollection.from_yaml(  # type: ignore[arg-type]
        text.replace("TargetUserName", "TargetUserName|contains")).rules)
    assert query.query is not None and query.query.endswith("TargetUserName.caseless:*\\'*)")


def test_an_ending_escaped_space_survives_the_parsers() -> None:
    from sigma.collection import SigmaCollection

    from soc.stores.es.hunt import hunt_queries

    text = ("title: Space after a file name\nlogsource: {product: acme-appliance}\n"
            "detection:\n  selection:\n    - CommandLine|endswith: ' '\n"
            "    - Image|endswith: ' '\n  condition: selection\n")
    (query,) = hunt_queries(SigmaCollection.from_yaml(text).rules)  # type: ignore[arg-type]
    assert (query.lucene, query.query) == (
        "(CommandLine:*\\  OR Image:*\\ )",
        "(CommandLine.caseless:*\\  OR Image.caseless:*\\ )")


REGEX_RULE = """\
title: Numbered admin account
id: 00000000-0000-4000-8000-00000000e005
level: high
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
    TargetUserName|re: 'adm(in)?\\d'
  condition: selection
"""
REGEX_QUERY = ("winlog.channel.caseless:Security AND (event.code.caseless:4625 AND "
               "_exists_:winlog.event_data.TargetUserName)")


def test_a_widened_regex_is_confirmed_in_process(tmp_path: Path, es_config: Config,
                                                 cluster: Cluster) -> None:
    path = tmp_path / "regex.yml"
    path.write_text(REGEX_RULE, encoding="utf-8")
    failures = [logon(1, "admin"), logon(2, "adm2"), logon(3, "Admin7"), logon(6, "xadmin12")]
    cluster.found = {REGEX_QUERY: failures}  # what _exists_ finds: every failure with a name
    with ElasticsearchStore.open(es_config, readonly=True) as store:
        report = hunt(es_config, store, [str(path)], since=SINCE, until=UNTIL)
    assert [s["query"]["bool"]["filter"][0]["query_string"]["query"]
            for s in cluster.searches()] == [REGEX_QUERY]
    # |re is case-sensitive and searched inside the value: adm2 and xadmin12, not Admin7
    assert report.rejected == {"00000000-0000-4000-8000-00000000e005": 2}
    assert [f["events"] for f in report.unstored] == [[failures[1]["event.id"]],
                                                      [failures[3]["event.id"]]]
