"""The hash-chained audit trail: who did what, when, with the state before and after.

Each entry carries ``details["chain"] = {"prev": <hash of the entry before>, "hash": <sha256 of
this entry's canonical JSON and prev>}``, so editing, deleting, inserting or reordering any entry
breaks the chain at that point, and :func:`verify` names the first broken entry; the hash covers
every field of the entry (the embedded store's indexed columns are compared with the entry too).
The chain also counts its entries per kind of record (``details["counts"]``), and every entry
about a change of an alert or incident carries the digest of the record's state after the
change (``details["digest"]``, :mod:`soc.audit_checks`): so ``verify`` knows which records exist
and what each must be now, catches a record edited or deleted behind soc's back (any field of an
incident; of an alert, all but what detection widens), and re-hashes the evidence copies
against the sha256 recorded when they were added. Entries of an older soc, without digests and
counts, are reported once as not covered, and checked as before.

:func:`seal` is the one function that chains, and only the store calls it, as it appends
(:meth:`~soc.stores.base.Store.append_audit`: inside its write transaction, against its newest
entry, so concurrent writers never fork the chain). soc's own writers build the entry with
:func:`new_entry` and hand it to the store with the change it describes
(``Store.update_alert_audited``, ``Store.put_incident_audited``: on the embedded store the change
and its entry are one transaction), or append it alone with :func:`record`.
Deleting the newest entries leaves a valid but shorter chain: compare with a head recorded
elsewhere (``soc audit verify --head SEQ:HASH``; each verify prints the current head), and with
the local head file that :func:`write_head` keeps in the data directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from soc import audit_checks as checks
from soc.audit_checks import (
    ALERT,
    ALERT_CHANGES,
    COUNTS,
    DIGEST,
    INCIDENT,
    STATE,
    Problem,
    canonical,
    counts_after,
    kind_of,
    record_digest,
)
from soc.ecs import now_ts
from soc.errors import InputError
from soc.models import AlertQuery, AuditEntry
from soc.stores.base import ColumnDrift, Store

__all__ = ["ALERT_CHANGES", "COUNTS", "DIGEST", "STATE", "Problem", "canonical"]

GENESIS = "0" * 64
CHAIN = "chain"
HEAD_FILE = "audit-head.json"


def state_hash(doc: Mapping[str, Any]) -> str:
    """sha256 of a stored record's document (what the trail says the record is after a change)."""
    return hashlib.sha256(canonical(doc)).hexdigest()


def entry_hash(entry: AuditEntry, prev: str) -> str:
    """The hash of an entry: its fields (without the chain itself) and the previous hash."""
    details = {k: v for k, v in entry.details.items() if k != CHAIN}
    body = {"ts": entry.ts, "actor": entry.actor, "action": entry.action,
            "subject": entry.subject, "details": details, "prev": prev}
    return hashlib.sha256(canonical(body)).hexdigest()


def seal(entry: AuditEntry, prev: AuditEntry | None) -> AuditEntry:
    """The entry chained to ``prev`` (the newest entry of the trail; None for the first), with
    the count of entries per kind of record so far (``details["counts"]``) under its hash."""
    prev_hash = chain_of(prev)[1] if prev is not None else GENESIS
    counted = replace(entry, details={**entry.details, COUNTS: counts_after(entry, prev)})
    chain = {"prev": prev_hash, "hash": entry_hash(counted, prev_hash)}
    return replace(counted, details={**counted.details, CHAIN: chain})


def chain_of(entry: AuditEntry) -> tuple[str, str]:
    """``(prev, hash)`` of a sealed entry; empty strings for an entry written without a chain."""
    chain = entry.details.get(CHAIN)
    if not isinstance(chain, dict):
        return "", ""
    return str(chain.get("prev", "")), str(chain.get("hash", ""))


def plain(value: Any) -> Any:
    """``value`` as plain JSON, keys in their order: what a store gives back, exactly (so a
    state hashed before it is stored is the state ``verify`` hashes)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def new_entry(*, actor: str, action: str, subject: str, before: Any = None, after: Any = None,
              state: Mapping[str, Any] | None = None, **extra: Any) -> AuditEntry:
    """The entry for one change, not sealed yet: who, what, about which record, before/after,
    the hash of the resulting state and its digest (:func:`soc.audit_checks.record_digest`;
    the kind of record is the action's prefix). The store seals it as it writes it."""
    details: dict[str, Any] = {"before": before, "after": after, **extra}
    if state is not None:
        details[STATE] = state_hash(state)
        details[DIGEST] = record_digest(kind_of(action), plain(state))
    details = json.loads(canonical(details))  # what the store will give back, exactly
    return AuditEntry(ts=now_ts(), actor=actor, action=action, subject=subject, details=details)


def record(store: Store, *, actor: str, action: str, subject: str,
           before: Any = None, after: Any = None, state: Mapping[str, Any] | None = None,
           data_dir: Path | None = None, **extra: Any) -> AuditEntry:
    """Append one sealed entry on its own (a change and its entry together:
    :meth:`~soc.stores.base.Store.update_alert_audited`, ``put_incident_audited``)."""
    # the store seals it on its newest entry inside its own write (Store.append_audit): sealing
    # here, on a trail read before, let two processes chain onto one predecessor (a fork)
    written = store.append_audit(new_entry(actor=actor, action=action, subject=subject,
                                           before=before, after=after, state=state, **extra))
    write_head(data_dir, written)
    return written


def write_head(data_dir: Path | None, entry: AuditEntry) -> None:
    """Keep ``entry`` (committed: call it once the store returned it) as the local head."""
    if data_dir is None:
        return
    path = data_dir / HEAD_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"seq": entry.seq, "hash": chain_of(entry)[1]}), encoding="utf-8")
    tmp.replace(path)


@dataclass(frozen=True)
class Head:
    """A point of the trail recorded elsewhere: entry number and hash."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, sep, digest = text.partition(":")
        if not sep or not seq.isdigit() or len(digest) != 64:
            raise InputError(f"not a trail head: {text!r}",
                             hint="Give it as SEQ:SHA256, as 'soc audit verify' prints it.")
        return cls(int(seq), digest.lower())

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def read_head(data_dir: Path) -> Head | None:
    """The head :func:`write_head` left in the data directory, if any."""
    try:
        data = json.loads((data_dir / HEAD_FILE).read_text(encoding="utf-8"))
        return Head(int(data["seq"]), str(data["hash"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Verification:
    entries: int
    head: Head | None
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()  # what is not covered (entries of an older soc): not tampering
    counts: Mapping[str, int] = field(default_factory=dict)  # entries per kind, at the head

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries,
                "head": str(self.head) if self.head else None, "counts": dict(self.counts),
                "problems": [p.to_dict() for p in self.problems], "notes": list(self.notes)}


def _chain_problems(trail: list[AuditEntry]) -> list[Problem]:
    problems: list[Problem] = []
    prev_hash, prev_seq = GENESIS, 0
    for e in trail:
        stored_prev, stored_hash = chain_of(e)
        where = f"entry #{e.seq} ({e.action} {e.subject}, {e.ts})"
        if not stored_hash:
            problems.append(Problem(e.seq, e.subject, f"{where} has no chain: it was written "
                                    "without soc.audit.seal, or its chain was removed"))
        elif stored_prev != prev_hash:
            problems.append(Problem(e.seq, e.subject, f"{where} does not follow the entry before "
                                    "it: an entry was deleted, inserted or reordered"))
        elif entry_hash(e, stored_prev) != stored_hash:
            problems.append(Problem(e.seq, e.subject, f"{where} was edited after it was written"))
        if e.seq is not None and e.seq != prev_seq + 1:
            problems.append(Problem(e.seq, e.subject, f"entries #{prev_seq + 1} to #{e.seq - 1} "
                                    "are missing"))
        prev_hash, prev_seq = stored_hash or prev_hash, e.seq or prev_seq
    return problems


def stored_alerts(store: Store) -> dict[str, dict[str, Any]] | None:
    """Every stored alert's document; None when the store keeps no alerts."""
    if type(store).list_alerts is Store.list_alerts:
        return None
    return {a.id: plain(a.to_dict()) for a in store.list_alerts(AlertQuery(limit=None))}


_NOUNS = {"alerts": "alert", "incidents": "incident"}


def drift_problems(drift: Sequence[ColumnDrift]) -> list[Problem]:
    """One finding per column that disagrees with its document."""
    problems = []
    for d in drift:
        if d.table == "audit":
            problems.append(Problem(int(d.id), "", f"entry #{d.id} has {d.column} {d.stored!r} "
                                    f"in the store's column but {d.document!r} in the sealed "
                                    "entry: it was edited outside soc"))
            continue
        noun = _NOUNS.get(d.table, d.table)
        problems.append(Problem(None, d.id, f"{noun} {d.id} is stored with {d.column} "
                                f"{d.stored!r} but its document says {d.document!r}: it was "
                                "changed outside soc"))
    return problems


def _head_problems(trail: list[AuditEntry], head: Head) -> list[Problem]:
    at = next((e for e in trail if e.seq == head.seq), None)
    if at is None:
        return [Problem(head.seq, "", f"entry #{head.seq} of the recorded head {head} is gone: "
                        "the newest entries were deleted")]
    if chain_of(at)[1] != head.hash:
        return [Problem(head.seq, at.subject, f"entry #{head.seq} differs from the recorded "
                        f"head {head}")]
    return []


def verify(store: Store, *, heads: Sequence[Head] = (),
           records: Mapping[str, Mapping[str, Any]] | None = None,
           alerts: Mapping[str, Mapping[str, Any]] | None = None,
           data_dir: Path | None = None, drift: Sequence[ColumnDrift] = ()) -> Verification:
    """Check the chain and its counts; the stored incidents (``records``) and alerts against
    the state their newest entry recorded, and that every record the trail names still exists;
    the evidence copies under ``data_dir``; the columns that disagree with their documents
    (``drift``); and heads recorded earlier."""
    trail = store.audit_trail()
    problems = _chain_problems(trail) + checks.count_problems(trail)
    latest = checks.latest_states(trail)
    if records is not None:
        problems += checks.record_problems(INCIDENT, latest, records)
    if alerts is not None:
        problems += checks.record_problems(ALERT, latest, alerts)
        problems += checks.unaudited_alert_problems(trail, latest, alerts)
    if data_dir is not None:
        problems += checks.evidence_problems(trail, data_dir)
    problems += drift_problems(drift)
    for head in heads:
        problems += _head_problems(trail, head)
    current = Head(trail[-1].seq or len(trail), chain_of(trail[-1])[1]) if trail else None
    return Verification(len(trail), current, tuple(problems), tuple(checks.uncovered_note(trail)),
                        checks.counts_of(trail))


def verify_store(store: Store, data_dir: Path | None = None,
                 head: Head | None = None) -> Verification:
    """:func:`verify` of everything: the stored incidents and alerts, the evidence copies and
    the local head file under ``data_dir``, the store's columns, and ``head``."""
    records = {str(d["id"]): d for d in store.list_incidents()}
    local = read_head(data_dir) if data_dir is not None else None
    return verify(store, records=records, alerts=stored_alerts(store), data_dir=data_dir,
                  drift=store.column_drift(), heads=[h for h in (head, local) if h is not None])
