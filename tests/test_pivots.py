"""Pivots of the analyst's day: CIDR terms, every event of an alert, ``soc search --around``,
paged ``soc alerts list``, tables that fit the screen, and ``soc alerts show``'s event table."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soc.alerts import AlertSink, Finding
from soc.cli.main import main
from soc.cli.output import fit_widths, table
from soc.ecs import format_ts
from soc.errors import ExitCode
from soc.models import MAX_IDS, Severity
from soc.search import QueryError
from soc.stores.es.query import rewrite
from soc.stores.sqlite import SQLiteStore

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RULE = "22222222-2222-4222-8222-222222222222"
ROOT = Path(__file__).resolve().parent.parent


def ts(minutes: float) -> str:
    return format_ts(T0 + timedelta(minutes=minutes))


def event(eid: str, minutes: float, **fields: object) -> dict[str, object]:
    return {"@timestamp": ts(minutes), "event.id": eid, "event.dataset": "linux.auth",
            **fields}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open_path(data / "store.db") as s:
        yield s


def run(data: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def ids(store: SQLiteStore, query: str) -> list[str]:
    return sorted(str(e["event.id"]) for e in store.search(query, limit=None))


# --- CIDR terms ----------------------------------------------------------------------------------

NETWORK_EVENTS = [
    event("in-24", 0, **{"source.ip": "192.168.4.7"}),
    event("next-24", 1, **{"source.ip": "192.168.5.7"}),
    event("v6", 2, **{"source.ip": "2001:db8::1"}),
    event("v6-other", 3, **{"source.ip": "2001:db9::1"}),
    event("list", 4, **{"source.ip": ["10.0.0.1", "192.168.4.200"]}),
    event("mapped", 5, **{"source.ip": "::ffff:192.168.4.9"}),
    event("not-an-ip", 6, **{"source.ip": "unknown"}),
    event("no-ip", 7),
    event("net-text", 8, **{"rule.network": "10.0.0.0/8"}),
]


@pytest.mark.parametrize(("query", "found"), [
    # the issue: this found nothing (the network was compared as a text)
    ("source.ip:192.168.4.0/24", ["in-24", "list", "mapped"]),
    ("source.ip:192.168.4.0\\/24", ["in-24", "list", "mapped"]),
    ('source.ip:"192.168.4.0/24"', ["in-24", "list", "mapped"]),
    ("source.ip:192.168.4.1/24", ["in-24", "list", "mapped"]),  # host bits: as ES, ignored
    ('source.ip:"2001:DB8::/32"', ["v6"]),
    ("source.ip:2001\\:db8\\:\\:\\/32", ["v6"]),
    ("source.ip:(10.0.0.0/8 OR 2001\\:db8\\:\\:/32)", ["list", "v6"]),
    ("source.ip:10.0.0.0/8 OR source.ip:192.168.5.0/24", ["list", "next-24"]),
    ("NOT source.ip:192.168.0.0/16",
     ["net-text", "no-ip", "not-an-ip", "v6", "v6-other"]),
    ("source.ip:0.0.0.0/0", ["in-24", "list", "mapped", "next-24"]),
    ("rule.network:10.0.0.0/8", ["net-text"]),  # a field holding the network's text
])
def test_cidr_terms_on_the_embedded_store(store: SQLiteStore, query: str,
                                          found: list[str]) -> None:
    store.write_events(NETWORK_EVENTS)
    assert ids(store, query) == found


def test_a_cidr_shaped_term_that_is_no_network_is_an_error(store: SQLiteStore) -> None:
    with pytest.raises(QueryError) as caught:
        list(store.search("source.ip:10.0.0.0/33"))
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.message.startswith("bad network '10.0.0.0/33'")
    assert caught.value.hint is not None and "source.ip:192.168.4.0/24" in caught.value.hint


@pytest.mark.parametrize(("query", "sent"), [
    # an unescaped / was sent as is: Lucene reads it as the start of a regular expression
    ("source.ip:192.168.4.0/24", "source.ip:192.168.4.0\\/24"),
    ("source.ip:192.168.4.0\\/24", "source.ip:192.168.4.0\\/24"),
    # phrases, escaped IPv6 and groups went to the keyword sub-field, where no network matches
    ('source.ip:"2001:db8::/32"', 'source.ip:"2001:db8::/32"'),
    ("source.ip:2001\\:db8\\:\\:/32", "source.ip:2001\\:db8\\:\\:\\/32"),
    ("source.ip:(10.0.0.0/8 OR 1.2.3.4)", "source.ip:(10.0.0.0\\/8 OR 1.2.3.4)"),
    ("NOT source.ip:10.0.0.0/8 AND user.name:x",
     "NOT source.ip:10.0.0.0\\/8 AND user.name.caseless:x"),
    ("source.ip:10.0.0.5", "source.ip.caseless:10.0.0.5"),
])
def test_cidr_terms_sent_to_elasticsearch(query: str, sent: str) -> None:
    assert rewrite(query) == sent


# --- soc alerts events ---------------------------------------------------------------------------


def finding(n: int, minutes: float) -> Finding:
    entity = {"host.name": "web01", "source.ip": "203.0.113.45"}
    return Finding(rule_id=RULE, title="SSH brute force", level=Severity.HIGH, tags=(),
                   ts=ts(minutes), anchor=ts(minutes), group=dict(entity), entity=entity,
                   triggers=((f"e{n:03d}", ts(minutes)),), event={"event.id": f"e{n:03d}"})


def test_alert_events_lists_every_linked_event_past_the_document_cap(
        store: SQLiteStore, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    count = MAX_IDS * 2 + 20
    store.write_events([event(f"e{n:03d}", n * 0.25, **{"host.name": "web01"})
                        for n in range(count)])
    (alert,) = AlertSink(store).raise_alerts([finding(n, n * 0.25) for n in range(count)]).new
    assert len(alert.event_ids) == MAX_IDS and alert.count == count  # the document's copy
    store.close()
    code, out, err = run(data, capsys, "alerts", "events", alert.id[:8], "--nl")
    assert (code, err) == (0, "")
    assert [json.loads(line)["event.id"] for line in out.splitlines()] == [
        f"e{n:03d}" for n in range(count)]
    code, out, _ = run(data, capsys, "alerts", "events", alert.id, "--fields",
                       "event.id,@timestamp", "--json")
    assert json.loads(out)[-1] == {"event.id": f"e{count - 1:03d}",
                                   "@timestamp": ts((count - 1) * 0.25)}


def test_alert_events_says_which_are_no_longer_stored(
        store: SQLiteStore, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store.write_events([event("e000", 0), event("e002", 2)])  # e001 was never stored
    (alert,) = AlertSink(store).raise_alerts([finding(n, n) for n in range(3)]).new
    store.close()
    code, out, err = run(data, capsys, "alerts", "events", alert.id, "--nl")
    assert code == ExitCode.PARTIAL
    assert [json.loads(line)["event.id"] for line in out.splitlines()] == ["e000", "e002"]
    assert err == (f"1 of the 3 events of alert {alert.id} are no longer stored (removed by "
                   "retention?), e.g. e001.\n")
    code, _, err = run(data, capsys, "alerts", "events", "nosuchalert")
    assert code == ExitCode.NOT_FOUND and err.startswith("Error: no alert 'nosuchalert'")


# --- soc search --around -------------------------------------------------------------------------

AROUND = [
    event("early", -11, **{"host.name": "web01"}),  # outside ±10m
    event("b-user", -9, **{"host.name": "db02", "user.name": "ROOT"}),
    event("b-host", -2, **{"host.name": "web01", "user.name": "www-data"}),
    event("other", -1, **{"host.name": "mail03", "source.ip": "198.51.100.1"}),
    event("pivot", 0, **{"host.name": "web01", "user.name": "root",
                         "source.ip": "203.0.113.45", "event.outcome": "success"}),
    event("a-ip", 0.5, **{"host.name": "fw", "source.ip": ["10.0.0.1", "203.0.113.45"]}),
    event("a-host", 10, **{"host.name": "WEB01", "event.outcome": "failure"}),  # the edge
    event("late", 10.01, **{"host.name": "web01"}),
]


def test_around_an_event(store: SQLiteStore, data: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    store.write_events(AROUND)
    store.close()
    code, out, err = run(data, capsys, "search", "--around", "pivot", "10m", "--nl")
    assert code == 0
    assert [json.loads(line)["event.id"] for line in out.splitlines()] == [
        "b-user", "b-host", "pivot", "a-ip", "a-host"]
    assert err.startswith("Within ±10m of pivot (2026-11-24 15:00:00 +07), sharing "
                          "host.name=web01, user.name=root, source.ip=203.0.113.45: 5 events.")
    code, out, _ = run(data, capsys, "search", "--around", "pivot", "10m", "--wide")
    rows = [re.split(r"\s{2,}", line) for line in out.splitlines()]
    assert rows[0][:3] == ["DELTA", "@TIMESTAMP", "SHARES"]
    assert [(r[0], r[2]) for r in rows[1:]] == [
        ("-9m00s", "user.name"), ("-2m00s", "host.name"), ("▶ 0s", "host.name,user.name,"
                                                          "source.ip"),
        ("+30s", "source.ip"), ("+10m00s", "host.name")]
    code, out, _ = run(data, capsys, "search", "event.outcome:failure", "--around", "pivot",
                       "10m", "--nl")  # a query narrows them; the pivot stays
    assert [json.loads(line)["event.id"] for line in out.splitlines()] == ["pivot", "a-host"]


def test_around_keeps_the_nearest_when_limited(store: SQLiteStore, data: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    store.write_events(AROUND)
    store.close()
    code, out, err = run(data, capsys, "search", "--around", "pivot", "10m", "-n", "3", "--nl")
    assert code == 0 and [json.loads(line)["event.id"] for line in out.splitlines()] == [
        "b-host", "pivot", "a-ip"]
    assert err.splitlines()[-1] == ("Only the 3 events nearest the pivot are shown: -n 0 "
                                    "shows all, a QUERY narrows them.")


def test_around_errors(store: SQLiteStore, data: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    store.write_events([event("bare", 0)])
    store.close()
    code, _, err = run(data, capsys, "search", "--around", "nosuch", "10m")
    assert code == ExitCode.NOT_FOUND and err.startswith("Error: no event 'nosuch'\nHint: ")
    code, _, err = run(data, capsys, "search", "--around", "bare", "10m")
    assert code == ExitCode.INPUT
    assert err.startswith("Error: the event 'bare' has none of host.name, user.name, source.ip")
    code, _, err = run(data, capsys, "search", "--around", "bare", "ten")
    assert code == ExitCode.USAGE and "not a duration: 'ten'" in err
    code, _, err = run(data, capsys, "search", "--around", "bare", "10m", "--since", "1h")
    assert code == ExitCode.USAGE and "--around sets the window itself" in err


# --- soc alerts list pages -----------------------------------------------------------------------


def test_alerts_list_pages_and_says_how_many_more(
        store: SQLiteStore, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sink = AlertSink(store)
    for n in range(7):  # one alert per host, seen one hour apart
        f = finding(n, n * 120)
        entity = {"host.name": f"h{n}"}
        sink.raise_alerts([Finding(rule_id=RULE, title=f.title, level=f.level, tags=(),
                                   ts=f.ts, anchor=f.ts, group=entity, entity=entity,
                                   triggers=f.triggers)])
    store.close()
    newest = [f"host.name=h{n}" for n in reversed(range(7))]

    def hosts(out: str) -> list[str]:
        return [json.loads(line)["entity"] for line in out.splitlines()]

    code, out, err = run(data, capsys, "alerts", "list", "--limit", "3", "--nl")
    assert (code, err) == (0, "4 more: --offset 3\n")
    assert [f"host.name={e['host.name']}" for e in hosts(out)] == newest[:3]
    code, out, err = run(data, capsys, "alerts", "list", "-n", "3", "--offset", "3", "--nl")
    assert [f"host.name={e['host.name']}" for e in hosts(out)] == newest[3:6]
    assert err == "1 more: --offset 6\n"
    code, out, err = run(data, capsys, "alerts", "list", "-n", "3", "--offset", "6")
    assert (len(out.splitlines()), err) == (2, "")
    code, out, err = run(data, capsys, "alerts", "list", "--offset", "7")
    assert (code, out, err) == (0, "", "No alerts match past --offset 7.\n")
    code, out, err = run(data, capsys, "alerts", "list", "-n", "0", "--offset", "2", "--json")
    assert (len(json.loads(out)), err) == (5, "")


# --- tables that fit the screen ------------------------------------------------------------------


def soc(data: Path, *args: str, columns: str | None,
        ) -> subprocess.CompletedProcess[str]:
    """``soc`` with stdout on a pseudo-terminal (``columns`` wide) or, with None, on a pipe
    while $COLUMNS says 70 (as readline leaves it in a child's environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["COLUMNS"] = columns or "70"
    argv = [sys.executable, "-m", "soc", "--data-dir", str(data), *args]
    if columns is None:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT,
                              check=False, timeout=120)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
        _, err = proc.communicate(timeout=120)
    finally:
        os.close(leader)
    out = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err.decode("utf-8"))


def test_tables_fit_the_screen_width_and_wide_shows_all(store: SQLiteStore,
                                                        data: Path) -> None:
    original = "sshd[811]: Failed password for invalid user " + "x" * 150 + " \x1b[31m"
    store.write_events([event("long", 0, **{"host.name": "web01", "labels.system": "portal",
                                            "event.original": original})])
    store.close()
    fitted = soc(data, "search", "*", columns="70")
    assert fitted.returncode == 0, fitted.stderr
    lines = fitted.stdout.splitlines()
    assert max(len(line) for line in lines) <= 70 and "…" in lines[1]
    assert lines[0].split()[0] == "@TIMESTAMP" and lines[1].startswith("2026-11-24 15")
    piped = soc(data, "search", "*", columns=None)  # a pipe: $COLUMNS=70 does not apply
    assert piped.stdout.splitlines()[1].endswith("x" * 33 + "…")  # the cell's own cap
    assert "…" not in piped.stdout.splitlines()[0] and len(piped.stdout.splitlines()[1]) > 100
    wide = soc(data, "search", "*", "--wide", columns="70")
    assert wide.stdout.splitlines()[1].endswith("x" * 150 + " \\x1b[31m")  # whole, escaped


def test_fit_widths_cuts_the_widest_first() -> None:
    assert fit_widths([16, 25, 8, 40], 100) == [16, 25, 8, 40]
    assert fit_widths([16, 25, 8, 40], 60) == [16, 15, 8, 15]  # 16 whole: one more fits
    assert sum(fit_widths([16, 25, 8, 40], 60)) + 3 * 2 == 60
    assert fit_widths([30] * 20, 80) == [5] * 20  # never narrower than MIN_COLUMN
    line = table([{"a": "\x1b" * 10}], ["a"], width=12).splitlines()[1]
    assert line == "\\x1b\\x1b\\x1…"  # escaped first, then cut: no raw control survives


# --- soc alerts show -----------------------------------------------------------------------------


def test_alerts_show_prints_the_event_as_a_field_table(
        store: SQLiteStore, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shown_event = {"@timestamp": ts(0), "event.id": "e000", "user.name": "root\x1b]0;pwn\x07",
                   "event.category": ["authentication", "session"],
                   "winlog.event_data.Odd\u202eName": "x", "event.original": "a" * 120}
    f = finding(0, 0)
    (alert,) = AlertSink(store).raise_alerts([Finding(
        rule_id=f.rule_id, title=f.title, level=f.level, tags=(), ts=f.ts, anchor=f.ts,
        group=f.group, entity=f.entity, triggers=f.triggers, event=shown_event)]).new
    store.close()
    code, out, _ = run(data, capsys, "alerts", "show", alert.id)
    assert code == 0
    block = out.split("\nevent\n", 1)[1].split("\n\n== Audit trail ==", 1)[0].splitlines()
    odd = "winlog.event_data.Odd\\u202eName"
    assert block == [f"  {name.ljust(len(odd))}  {value}" for name, value in [
        ("@timestamp", "2026-11-24 15:00:00 +07"), ("event.category", "authentication,session"),
        ("event.id", "e000"), ("event.original", "a" * 120),
        ("user.name", "root\\x1b]0;pwn\\x07"), (odd, "x")]]
    code, out, _ = run(data, capsys, "alerts", "show", alert.id, "--json")
    assert code == 0 and json.loads(out)["event"]["user.name"] == "root\x1b]0;pwn\x07"
