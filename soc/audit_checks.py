"""What ``soc audit verify`` checks beyond the chain: the records against their latest digests.

Every audited change records in its entry the digest of its record's state after the change
(``details["digest"]``: the kind of record, the sha256 of its canonical JSON and a short digest
of each top-level field, so a finding can name the field that differs). From the trail alone this
module knows which records exist (every alert and incident with a digest or state hash), what
each must be now, and which evidence copies were added with which sha256; it compares that with
what the store holds and with the files in the data directory. Alerts keep changing as detection
widens them (seen range, count, events, entity), so their digest leaves those fields out
(:data:`WIDENED`); everything else of an alert, and the whole document of an incident, is covered.

Each finding is a :class:`Problem`: one line that names the record and what differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soc.models import AuditEntry

DIGEST = "digest"
STATE = "state"
COUNTS = "counts"
ALERT, INCIDENT = "alert", "incident"
RECORD_KINDS = (ALERT, INCIDENT)
WIDENED = frozenset({"first_seen", "last_seen", "count", "entity", "event_ids", "contributing",
                     "updated", "event"})
"""The fields of an alert that detection changes without an audited change."""
FIELD_DIGEST = 16  # hex digits kept per field: enough to name a field, the sha256 proves it
ALERT_CHANGES = {"alert.ack": "status", "alert.close": "status", "alert.assign": "assignee"}
"""The audited alert actions and the field whose new value each entry's ``after`` holds."""


def canonical(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def kind_of(action: str) -> str:
    """The kind of record an action is about: ``alert.ack`` → ``alert``."""
    return action.partition(".")[0]


def audited_view(kind: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a record its digest covers: an alert without :data:`WIDENED`, else all."""
    if kind == ALERT:
        return {k: v for k, v in doc.items() if k not in WIDENED}
    return dict(doc)


def record_digest(kind: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """``details["digest"]`` of an entry whose change left the record as ``doc``."""
    view = audited_view(kind, doc)
    return {"kind": kind, "sha256": sha256(view),
            "fields": {k: sha256(v)[:FIELD_DIGEST] for k, v in view.items()}}


def counts_after(entry: AuditEntry, prev: AuditEntry | None) -> dict[str, int]:
    """Entries per kind up to and including ``entry``: the previous entry's counts plus one
    (counting starts over after an entry written without counts, by an older soc)."""
    recorded = prev.details.get(COUNTS) if prev is not None else None
    counts = {str(k): int(v) for k, v in recorded.items()} if isinstance(recorded, dict) else {}
    kind = kind_of(entry.action)
    counts[kind] = counts.get(kind, 0) + 1
    return counts


@dataclass(frozen=True)
class Problem:
    """One finding of ``soc audit verify``: the entry and record it is about, and what differs."""

    seq: int | None
    subject: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "subject": self.subject, "problem": self.message}


# --- the trail: counts, coverage, latest states ---------------------------------------------------


def count_problems(trail: Sequence[AuditEntry]) -> list[Problem]:
    """Entries whose counts are not the entry before's plus their own kind."""
    problems: list[Problem] = []
    prev: AuditEntry | None = None
    for e in trail:
        recorded = e.details.get(COUNTS)
        if recorded is not None and recorded != counts_after(e, prev):
            problems.append(Problem(e.seq, e.subject, f"entry #{e.seq} ({e.action} {e.subject}) "
                                    f"counts {recorded} entries by kind but the entry before it "
                                    f"makes {counts_after(e, prev)}: an entry was deleted or "
                                    "inserted and the chain forged"))
        prev = e
    return problems


def uncovered_note(trail: Sequence[AuditEntry]) -> list[str]:
    """One line about the entries written before digests and counts, if any (not tampering)."""
    old = [e for e in trail if COUNTS not in e.details]
    if not old:
        return []
    return [f"{len(old)} entries (#{old[0].seq} to #{old[-1].seq}) were written by an older soc "
            "without record digests and counts: not covered; they chain, and their records are "
            "checked as before (incident documents by their state hash, alerts by status and "
            "assignee)"]


def latest_states(trail: Iterable[AuditEntry]) -> dict[tuple[str, str], AuditEntry]:
    """Per (kind, id) of alert and incident: the newest entry recording the record's state. The
    trail says these records exist."""
    last: dict[tuple[str, str], AuditEntry] = {}
    for e in trail:
        kind = kind_of(e.action)
        digest = e.details.get(DIGEST)
        if isinstance(digest, dict):
            kind = str(digest.get("kind", kind))
        if kind in RECORD_KINDS and (isinstance(digest, dict) or STATE in e.details):
            last[(kind, e.subject)] = e
    return last


def counts_of(trail: Sequence[AuditEntry]) -> dict[str, int]:
    """The newest entry's counts (entries per kind), empty when it has none."""
    recorded = trail[-1].details.get(COUNTS) if trail else None
    return dict(recorded) if isinstance(recorded, dict) else {}


# --- records against their latest state ---------------------------------------------------------


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _differing(entry: AuditEntry, kind: str, doc: Mapping[str, Any]) -> list[str]:
    """The fields of ``doc`` whose digest is not the one ``entry`` recorded, with their value."""
    fields = entry.details[DIGEST].get("fields")
    if not isinstance(fields, dict):
        return []
    view = audited_view(kind, doc)
    out = [f"{k} (now {_shown(v)})" for k, v in view.items()
           if fields.get(k) != sha256(v)[:FIELD_DIGEST]]
    return out + [f"{k} (now absent)" for k in fields if k not in view]


def _mismatch(entry: AuditEntry, kind: str, rid: str, doc: Mapping[str, Any]) -> str | None:
    """How ``doc`` differs from the state ``entry`` recorded, or None when it does not."""
    digest = entry.details.get(DIGEST)
    if isinstance(digest, dict):
        if digest.get("sha256") == sha256(audited_view(kind, doc)):
            return None
        fields = _differing(entry, kind, doc)
        where = f" in {', '.join(fields)}" if fields else ""
    elif entry.details.get(STATE) == sha256(doc):
        return None
    else:
        where = ""
    noun = "record" if kind == INCIDENT else kind
    return (f"{noun} {rid} differs from its state after entry #{entry.seq} ({entry.action})"
            f"{where}: it was changed outside soc")


def record_problems(kind: str, latest: Mapping[tuple[str, str], AuditEntry],
                    stored: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Stored records of ``kind`` that differ from their latest digest, and records the trail
    says exist that the store no longer holds. Incidents without any entry are named too
    (alerts without one: :func:`unaudited_alert_problems`)."""
    problems: list[Problem] = []
    for rid, doc in sorted(stored.items()):
        entry = latest.get((kind, rid))
        if entry is None:
            if kind == INCIDENT:
                problems.append(Problem(None, rid, f"record {rid} has no entry in the trail"))
            continue
        if kind == ALERT and DIGEST not in entry.details:
            continue  # an older entry hashed the whole alert, which detection widens since
        message = _mismatch(entry, kind, rid, doc)
        if message:
            problems.append(Problem(entry.seq, rid, message))
    return problems + gone_problems(kind, latest, stored)


def gone_problems(kind: str, latest: Mapping[tuple[str, str], AuditEntry],
                  stored: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Records of ``kind`` the trail says exist that the store no longer holds (soc deletes
    no alert and no incident)."""
    return [Problem(e.seq, rid, f"{kind} {rid} is gone: entry #{e.seq} ({e.action}) recorded "
                                f"it and the store no longer has it: it was deleted outside soc")
            for (k, rid), e in sorted(latest.items()) if k == kind and rid not in stored]


def _audited_alerts(trail: Iterable[AuditEntry]) -> dict[str, dict[str, tuple[AuditEntry, Any]]]:
    """Per alert and field: the last entry that changed it, and the value it set."""
    last: dict[str, dict[str, tuple[AuditEntry, Any]]] = {}
    for e in trail:
        name = ALERT_CHANGES.get(e.action)
        if name is not None:
            last.setdefault(e.subject, {})[name] = (e, e.details.get("after"))
    return last


def unaudited_alert_problems(trail: Sequence[AuditEntry],
                             latest: Mapping[tuple[str, str], AuditEntry],
                             alerts: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Alerts no digest covers (no audited change, or only older entries): their status and
    assignee must be what the last ``ack``/``close``/``assign`` set, or open and unassigned."""
    audited = _audited_alerts(trail)
    start: dict[str, Any] = {"status": "open", "assignee": None}
    problems = []
    for aid, doc in sorted(alerts.items()):
        entry = latest.get((ALERT, aid))
        if entry is not None and DIGEST in entry.details:
            continue
        changes = audited.get(aid, {})
        for name in ("status", "assignee"):
            last, expected = changes.get(name, (None, start[name]))
            if doc.get(name) == expected:
                continue
            why = (f"its last audited change (entry #{last.seq}, {last.action}) set "
                   f"{expected!r}" if last is not None else
                   "no audited change set it (a new alert is open and unassigned)")
            problems.append(Problem(last.seq if last else None, aid,
                                    f"alert {aid} has {name} {doc.get(name)!r} but {why}: it was "
                                    "changed outside soc"))
    return problems


# --- evidence copies ------------------------------------------------------------------------------


def _copy_path(stored: str, incident: str, data_dir: Path | None) -> Path:
    """Where the copy is: in this data directory (which may have been moved or restored
    elsewhere since), else where it was recorded."""
    recorded = Path(stored)
    if data_dir is None:
        return recorded
    here = data_dir / "evidence" / Path(incident).name / recorded.name
    return here if here.exists() or not recorded.exists() else recorded


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _evidence_problem(e: AuditEntry, data_dir: Path | None) -> Problem | None:
    after = e.details.get("after")
    if not isinstance(after, dict) or not after.get("stored") or not after.get("sha256"):
        return None  # referenced in place, not copied: not soc's to keep
    name, recorded = str(after.get("name", "")), str(after["sha256"])
    path = _copy_path(str(after["stored"]), e.subject, data_dir)
    what = f"evidence {name} of incident {e.subject} (entry #{e.seq})"
    try:
        now = _file_sha256(path)
    except FileNotFoundError:
        return Problem(e.seq, e.subject, f"{what} is gone: no file {path}")
    except OSError as exc:
        return Problem(e.seq, e.subject, f"{what} cannot be read: {exc.strerror} ({path})")
    if now == recorded:
        return None
    return Problem(e.seq, e.subject, f"{what} was overwritten: {path} has sha256 {now}, the "
                                     f"trail recorded {recorded}")


def evidence_problems(trail: Iterable[AuditEntry], data_dir: Path | None) -> list[Problem]:
    """Evidence copies re-hashed against the sha256 their ``incident.evidence`` entry
    recorded: overwritten, deleted or unreadable copies."""
    found = (_evidence_problem(e, data_dir) for e in trail if e.action == "incident.evidence")
    return [p for p in found if p is not None]
