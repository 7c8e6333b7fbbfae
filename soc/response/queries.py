"""Running a query/hunt step's questions against the store.

A question's query gets the incident's alert values in its ``%field%`` placeholders (:func:`fill`,
also used for action parameters) and runs over the alerts' window widened by the question's
before/after; the results summarise the events found. Recording them on the incident is
:func:`soc.response.incidents.run_step`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from soc.ecs import format_ts, parse_ts
from soc.response.records import Incident, StepRecord
from soc.stores.base import Store

SUMMARY_FIELDS = ("@timestamp", "event.id", "host.name", "user.name", "source.ip",
                  "destination.ip", "event.action", "event.outcome", "url.path")
SHOWN_EVENTS = 20


def fill(template: str, values: Mapping[str, Sequence[str]]) -> tuple[str, list[str]]:
    """Put alert values in ``%field%`` placeholders: a quoted one with several values becomes an
    OR group. Returns the text and the placeholders that had no value."""
    import re

    missing: list[str] = []

    def quoted(m: re.Match[str]) -> str:
        vals = values.get(m.group(1))
        if not vals:
            missing.append(m.group(1))
            return m.group(0)
        parts = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in vals]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def bare(m: re.Match[str]) -> str:
        vals = values.get(m.group(1))
        if not vals:
            missing.append(m.group(1))
            return m.group(0)
        return vals[0]

    text = re.sub(r'"%([A-Za-z0-9_.@-]+)%"', quoted, template)
    return re.sub(r"%([A-Za-z0-9_.@-]+)%", bare, text), list(dict.fromkeys(missing))


def _questions(store: Store, inc: Incident, rec: StepRecord) -> list[dict[str, Any]]:
    first, last = parse_ts(inc.window[0]), parse_ts(inc.window[1])
    results = []
    for q in rec.spec.questions:
        query, missing = fill(q.query, inc.fields)
        since, until = first - q.before, last + q.after
        result: dict[str, Any] = {"question": q.question.vi, "question_en": q.question.en,
                                  "query": query, "since": format_ts(since),
                                  "until": format_ts(until)}
        if missing:
            result.update(count=None, skipped=f"the alerts have no {', '.join(missing)}")
        else:
            events = list(store.search(query, since=since, until=until, limit=q.limit,
                                       order="asc"))
            result.update(count=len(events), limited=len(events) >= q.limit, events=[
                {k: e[k] for k in SUMMARY_FIELDS if k in e} for e in events[:SHOWN_EVENTS]])
        results.append(result)
    return results

