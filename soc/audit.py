"""The hash-chained audit trail: who did what, when, with the state before and after.

Each entry carries ``details["chain"] = {"prev": <hash of the entry before>, "hash": <sha256 of
this entry's canonical JSON and prev>}``, so editing, deleting, inserting or reordering any entry
breaks the chain at that point, and :func:`verify` names the first broken entry. Entries about an
incident also carry the sha256 of the incident's stored document after the change
(``details["state"]``), so an incident edited behind soc's back is caught too. Alerts keep
changing after an audited change (new events widen them), so for them the check is narrower: the
status and assignee stored must be what the last ``alert.ack``/``alert.close``/``alert.assign``
entry set (open and unassigned when there is none).

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

from soc.ecs import now_ts
from soc.errors import InputError
from soc.models import AlertQuery, AlertStatus, AuditEntry
from soc.stores.base import Store

GENESIS = "0" * 64
CHAIN = "chain"
STATE = "state"
HEAD_FILE = "audit-head.json"
ALERT_CHANGES = {"alert.ack": "status", "alert.close": "status", "alert.assign": "assignee"}
"""The audited alert actions and the field whose new value each entry's ``after`` holds."""


def canonical(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


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
    """The entry chained to ``prev`` (the newest entry of the trail; None for the first)."""
    prev_hash = chain_of(prev)[1] if prev is not None else GENESIS
    chain = {"prev": prev_hash, "hash": entry_hash(entry, prev_hash)}
    return replace(entry, details={**entry.details, CHAIN: chain})


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
    the hash of the resulting state. The store seals it as it writes it."""
    details: dict[str, Any] = {"before": before, "after": after, **extra}
    if state is not None:
        details[STATE] = state_hash(state)
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
class Problem:
    seq: int | None
    subject: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "subject": self.subject, "problem": self.message}


@dataclass(frozen=True)
class Verification:
    entries: int
    head: Head | None
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries,
                "head": str(self.head) if self.head else None,
                "problems": [p.to_dict() for p in self.problems]}


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


def _state_problems(trail: list[AuditEntry],
                    records: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    last: dict[str, AuditEntry] = {}
    for e in trail:
        if STATE in e.details:
            last[e.subject] = e
    problems = []
    for rid, doc in sorted(records.items()):
        entry = last.get(rid)
        if entry is None:
            problems.append(Problem(None, rid, f"record {rid} has no entry in the trail"))
        elif entry.details[STATE] != state_hash(doc):
            problems.append(Problem(entry.seq, rid, f"record {rid} differs from its state after "
                                    f"entry #{entry.seq}: it was changed outside soc"))
    return problems


@dataclass(frozen=True)
class AlertState:
    """What the store holds of an alert's lifecycle: the document's status and assignee, and the
    status the store lists it under (they differ when one of them was edited by hand)."""

    status: str
    assignee: str | None
    listed: str | None = None

    def fields(self) -> dict[str, str | None]:
        return {"status": self.status, "assignee": self.assignee}


def stored_alerts(store: Store) -> dict[str, AlertState] | None:
    """Every stored alert's :class:`AlertState`; None when the store keeps no alerts."""
    if type(store).list_alerts is Store.list_alerts:
        return None
    out = {a.id: AlertState(a.status.value, a.assignee)
           for a in store.list_alerts(AlertQuery(limit=None))}
    for status in AlertStatus:
        for a in store.list_alerts(AlertQuery(status=status, limit=None)):
            if a.id in out:
                out[a.id] = replace(out[a.id], listed=status.value)
    return out


def _audited_alerts(trail: list[AuditEntry]) -> dict[str, dict[str, tuple[AuditEntry, Any]]]:
    """Per alert and field: the last entry that changed it, and the value it set."""
    last: dict[str, dict[str, tuple[AuditEntry, Any]]] = {}
    for e in trail:
        name = ALERT_CHANGES.get(e.action)
        if name is not None:
            last.setdefault(e.subject, {})[name] = (e, e.details.get("after"))
    return last


def _alert_problems(trail: list[AuditEntry], alerts: Mapping[str, AlertState]) -> list[Problem]:
    audited = _audited_alerts(trail)
    start: dict[str, Any] = {"status": AlertStatus.OPEN.value, "assignee": None}
    problems = []
    for aid, state in sorted(alerts.items()):
        if state.listed is not None and state.listed != state.status:
            problems.append(Problem(None, aid, f"alert {aid} is listed as {state.listed} but its "
                                    f"document says {state.status}: it was changed outside soc"))
        changes = audited.get(aid, {})
        for name, stored in state.fields().items():
            entry, expected = changes.get(name, (None, start[name]))
            if stored == expected:
                continue
            why = (f"its last audited change (entry #{entry.seq}, {entry.action}) set "
                   f"{expected!r}" if entry is not None else
                   "no audited change set it (a new alert is open and unassigned)")
            problems.append(Problem(entry.seq if entry else None, aid,
                                    f"alert {aid} has {name} {stored!r} but {why}: it was "
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
           alerts: Mapping[str, AlertState] | None = None) -> Verification:
    """Check the chain, the records' current states, the alerts' status and assignee, and heads
    recorded earlier."""
    trail = store.audit_trail()
    problems = _chain_problems(trail)
    if records is not None:
        problems += _state_problems(trail, records)
    if alerts is not None:
        problems += _alert_problems(trail, alerts)
    for head in heads:
        problems += _head_problems(trail, head)
    current = Head(trail[-1].seq or len(trail), chain_of(trail[-1])[1]) if trail else None
    return Verification(len(trail), current, tuple(problems))


def verify_store(store: Store, data_dir: Path | None = None,
                 head: Head | None = None) -> Verification:
    """:func:`verify` with the stored incidents and alerts and the local head file as well."""
    records = {str(d["id"]): d for d in store.list_incidents()}
    local = read_head(data_dir) if data_dir is not None else None
    return verify(store, records=records, alerts=stored_alerts(store),
                  heads=[h for h in (head, local) if h is not None])
