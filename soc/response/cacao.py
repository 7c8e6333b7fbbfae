"""Export a playbook as an OASIS CACAO v2.0 playbook (JSON).

Each step becomes an ``action`` step with a ``manual`` command, its owner (the step's role) as a
``group`` agent, its deadline as ``timeout`` (milliseconds); steps follow each other in the
playbook's order (``on_completion``). A decision step is a manual action that sets
``__<step>_answer__`` followed by a ``switch-condition`` on it, whose cases are the answers'
next steps. A step that applies only to some incidents (``when: serious``) sits behind an
``if-condition`` on ``__classification__`` / ``__flags__``. Reporting steps say which report kind
they send: the deadline and recipients come from the deployment's regulatory profile. Ids are
uuid5 of the playbook and step ids, so an export is the same every time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

from soc.response.playbooks import Playbook, Step, StepKind
from soc.timeutil import format_duration

NAMESPACE = uuid.UUID("6b1f3c2e-4f0a-5d7e-9c1b-2a3d4e5f6a7b")
PLAYBOOK_TYPES = ("investigation", "mitigation", "remediation", "notification")


def _id(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '/'.join(parts))}"


def _ts(day: Any) -> str:
    return datetime.combine(day, time(0, 0), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _command(step: Step) -> list[dict[str, str]]:
    lines = [f"{step.title.vi} / {step.title.en}"]
    if step.details:
        lines.append(f"{step.details.vi} / {step.details.en}")
    lines += [f"Evidence: {e}" for e in step.evidence]
    lines += [f"Question: {q.question.vi} / {q.question.en} -- Lucene: {q.query} "
              f"(from alert time - {format_duration(q.before)} to + {format_duration(q.after)})"
              for q in step.questions]
    if step.report:
        lines.append(f"Send report '{step.report}': deadline and recipients from the "
                     "regulatory profile in force (playbooks/profiles/).")
    if step.to:
        lines.append(f"Notify roles: {', '.join(step.to)}")
    if step.action:
        params = ", ".join(f"{k}={v}" for k, v in step.action.params.items())
        lines.append(f"Changes another system: action '{step.action.name}' ({params}); "
                     "only with an operator-configured command and explicit permission.")
    return [{"type": "manual", "command": "\n".join(lines)}]


def _action(book: Playbook, step: Step, following: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "action", "name": f"{step.id}: {step.title.en}",
        "description": f"{step.title.vi} ({step.kind.value}; phase {step.phase})",
        "commands": _command(step), "agent": _id("group", book.id, "role", step.role),
        "on_completion": following,
    }
    if step.due is not None:
        out["timeout"] = int(step.due.within.total_seconds() * 1000)
    if step.kind is StepKind.DECISION:
        out["out_args"] = [f"__{step.id}_answer__"]
    return out


def to_cacao(book: Playbook) -> dict[str, Any]:
    """The CACAO v2.0 playbook document of a playbook."""
    steps = list(book.steps)
    ids = {s.id: _id("action", book.id, s.id) for s in steps}
    end = _id("end", book.id)
    start = _id("start", book.id)
    workflow: dict[str, dict[str, Any]] = {start: {"type": "start", "on_completion":
                                                   _entry(book, steps[0], ids)},
                                           end: {"type": "end"}}
    for i, step in enumerate(steps):
        following = _entry(book, steps[i + 1], ids) if i + 1 < len(steps) else end
        if step.kind is StepKind.DECISION:
            switch = _id("switch-condition", book.id, step.id)
            workflow[ids[step.id]] = _action(book, step, switch)
            workflow[switch] = {
                "type": "switch-condition", "name": f"{step.id}: answer",
                "switch": f"__{step.id}_answer__:value",
                "cases": {**{c.answer: _entry(book, book.step(c.next), ids)
                             for c in step.choices}, "default": following},
            }
        else:
            workflow[ids[step.id]] = _action(book, step, following)
        if step.when != "always":
            workflow[_id("if-condition", book.id, step.id)] = {
                "type": "if-condition", "name": f"{step.id}: only when {step.when}",
                "condition": _condition(step.when), "on_true": ids[step.id],
                "on_false": following,
            }
    return _document(book, start, workflow)


def _entry(book: Playbook, step: Step, ids: dict[str, str]) -> str:
    """Where the flow enters a step: its condition when it has one."""
    if step.when != "always":
        return _id("if-condition", book.id, step.id)
    return ids[step.id]


def _condition(when: str) -> str:
    if when in ("serious", "ordinary"):
        return f"[__classification__:value = '{when}']"
    return f"[__flags__:value LIKE '%{when}%']"


def _document(book: Playbook, start: str, workflow: dict[str, Any]) -> dict[str, Any]:
    roles = sorted({s.role for s in book.steps})
    return {
        "type": "playbook", "spec_version": "cacao-2.0", "id": _id("playbook", book.id),
        "name": f"{book.title.vi} / {book.title.en}",
        "description": book.summary.en if book.summary else book.title.en,
        "playbook_types": list(PLAYBOOK_TYPES),
        "created_by": _id("identity", "soc"), "created": _ts(book.reviewed),
        "modified": _ts(book.reviewed), "revoked": False, "valid_from": _ts(book.reviewed),
        "valid_until": _ts(book.next_review),
        "labels": [book.id, f"version:{book.version}", f"incident_type:{book.incident_type}",
                   *book.triggers.tags],
        "external_references": [{"name": r} for r in book.references],
        "playbook_variables": {
            "__classification__": {"type": "string", "description": "ordinary or serious",
                                   "value": book.classification, "constant": False},
            "__flags__": {"type": "string", "description": "beyond_capability, "
                          "national_security, personal_data", "value": "", "constant": False},
            **{f"__{s.id}_answer__": {"type": "string", "description": s.title.en,
                                      "value": "", "constant": False}
               for s in book.steps if s.kind is StepKind.DECISION},
        },
        "workflow_start": start,
        "workflow": workflow,
        "agent_definitions": {
            _id("group", book.id, "role", r): {
                "type": "group", "name": str(book.roles[r]) if r in book.roles else r}
            for r in roles},
    }
