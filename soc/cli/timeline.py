"""``soc detect`` for investigators: a sorted timeline in local time, timeline files (CSV, JSON
lines) and a closing summary per level, rule and host, in the manner of Hayabusa and Chainsaw.

Times are shown in the configured ``timezone`` (or ``--tz``) with their offset; files keep the
UTC time too, so a timeline merges with other tools' output. A CSV cell that a spreadsheet
would read as a formula (``=``, ``+``, ``-``, ``@`` first) is prefixed with ``'``: the values
come from log lines an attacker wrote.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import IO, Any

from soc.alerts import Finding
from soc.cli.output import local_time
from soc.ecs import parse_ts
from soc.models import Severity

CSV_COLUMNS = ("timestamp", "timestamp_utc", "level", "title", "rule_id", "host", "user",
               "source_ip", "destination_ip", "event_code", "file", "details", "kind")
DETAIL_FIELDS = ("process.command_line", "process.executable", "process.parent.executable",
                 "url.original", "dns.question.name", "file.path", "registry.path",
                 "winlog.logon.type", "event.action")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TOP = 10


def sort_key(f: Finding) -> tuple[float, int, str]:
    """Oldest first; at one time, the most severe first, then by title."""
    try:
        moment = parse_ts(f.ts).timestamp()
    except (ValueError, TypeError):
        moment = float("inf")  # no readable time: at the end
    return moment, -f.severity.rank, f.title


def shown_time(ts: str, zone: tzinfo) -> str:
    try:
        return local_time(ts, zone)
    except (ValueError, TypeError):
        return ts


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _event(f: Finding) -> dict[str, Any]:
    return f.event or {}


def event_code(f: Finding) -> str:
    e = _event(f)
    return _first(e.get("event.code") or e.get("winlog.event_id") or "")


def details(f: Finding) -> str:
    """What the analyst reads first after the title: command line, URL, query..."""
    e = _event(f)
    parts = [f"{name}={_first(e[name])}" for name in DETAIL_FIELDS if e.get(name) not in
             (None, "", [])]
    if f.value is not None:  # a correlation
        parts.insert(0, f"count={f.value}")
    return " ".join(parts)


def row(f: Finding, zone: tzinfo) -> dict[str, str]:
    """One timeline row (the CSV columns)."""
    ent, e = f.entity, _event(f)
    return {"timestamp": shown_time(f.ts, zone), "timestamp_utc": f.ts,
            "level": f.severity.value, "title": f.title, "rule_id": f.rule_id,
            "host": _first(ent.get("host.name")), "user": _first(ent.get("user.name")),
            "source_ip": _first(ent.get("source.ip")),
            "destination_ip": _first(ent.get("destination.ip")), "event_code": event_code(f),
            "file": _first(e.get("log.file.path")), "details": details(f), "kind": f.kind}


def csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def write_csv(findings: Sequence[Finding], out: IO[str], zone: tzinfo) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for f in findings:
        writer.writerow({k: csv_safe(v) for k, v in row(f, zone).items()})


def write_jsonl(findings: Sequence[Finding], out: IO[str], zone: tzinfo) -> None:
    for f in findings:
        record = f.to_dict()
        record["timestamp_local"] = shown_time(f.ts, zone)
        out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


@dataclass
class Summary:
    """Counts of a scan's findings, printed after the timeline."""

    levels: Counter[str] = field(default_factory=Counter)
    rules: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # level, title, id
    hosts: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> Summary:
        s = cls()
        first = last = None  # (moment, finding) of the earliest and latest dated finding
        for f in findings:
            s.levels[f.severity.value] += 1
            s.rules[(f.severity.value, f.title, f.rule_id)] += 1
            s.hosts[_first(f.entity.get("host.name")) or "-"] += 1
            moment = sort_key(f)[0]
            if moment == float("inf"):
                continue
            if first is None or moment < first[0]:
                first = (moment, f)
            if last is None or moment >= last[0]:
                last = (moment, f)
        if first is not None and last is not None:
            s.first, s.last = first[1].ts, last[1].ts
        return s

    def lines(self, zone: tzinfo) -> list[str]:
        """The summary as text lines (for stderr)."""
        total = sum(self.levels.values())
        if not total:
            return ["Summary: no finding."]
        by_level = ", ".join(f"{level.value} {self.levels[level.value]}"
                             for level in reversed(Severity))
        out = [f"Summary: {total} finding(s): {by_level}."]
        if self.first and self.last:
            out.append(f"  first {shown_time(self.first, zone)}, "
                       f"last {shown_time(self.last, zone)}")
        rules = sorted(self.rules.items(),
                       key=lambda kv: (-Severity(kv[0][0]).rank, -kv[1], kv[0][1]))
        out.append(f"  rules ({len(rules)}):")
        out += [f"    {count:>7}  {level:<13} {title}" for (level, title, _), count
                in rules[:TOP]]
        if len(rules) > TOP:
            out.append(f"    ... and {len(rules) - TOP} more rule(s)")
        hosts = self.hosts.most_common()
        out.append(f"  hosts ({len(hosts)}):")
        out += [f"    {count:>7}  {host}" for host, count in hosts[:TOP]]
        if len(hosts) > TOP:
            out.append(f"    ... and {len(hosts) - TOP} more host(s)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"levels": dict(self.levels), "first": self.first, "last": self.last,
                "rules": [{"level": lv, "title": t, "rule_id": rid, "count": n}
                          for (lv, t, rid), n in self.rules.most_common()],
                "hosts": dict(self.hosts.most_common())}


def table_lines(findings: Sequence[Finding], zone: tzinfo) -> Iterable[str]:
    """The timeline as aligned columns; titles are never cut."""
    rows = [(shown_time(f.ts, zone), f.severity.value, f.title, _entity_text(f))
            for f in findings]
    if not rows:
        return
    widths = [max(len(r[i]) for r in [("TIMESTAMP", "LEVEL", "RULE", ""), *rows])
              for i in range(3)]
    for cells in [("TIMESTAMP", "LEVEL", "RULE", "ENTITY"), *rows]:
        yield "  ".join(c.ljust(w) for c, w in zip(cells, (*widths, 0), strict=True)).rstrip()


def _entity_text(f: Finding) -> str:
    return " ".join(f"{k}={_first(v)}" for k, v in f.entity.items()
                    if k in ("host.name", "user.name", "source.ip", "destination.ip"))


def csv_text(findings: Sequence[Finding], zone: tzinfo) -> str:
    buf = io.StringIO()
    write_csv(findings, buf, zone)
    return buf.getvalue()
