"""Tuning as data: rules that do not run, exceptions that drop findings, the alert queue's floor.

A SOC tunes public rules to its own estate as Elastic's rule exceptions, Wazuh's rule overrides
and Hayabusa's exclude lists do; here the tuning is data kept beside the rules, never an edit of a
rule file:

* ``disabled``: rule ids (correlations too) that do not run, each with a reason and an optional
  expiry;
* ``exceptions``: field conditions (``where``) under which the findings of one rule
  (``rule: ID``), or of every rule (no ``rule``), are dropped: our vulnerability scanner, the
  backup job; each with a reason and an optional expiry;
* ``min_level``: the lowest level that enters the alert queue; lower findings are kept as hits.

A condition is a small mapping, field → value or list of values (any of them); all its fields must
hold. Values compare as the Sigma engine compares them: case-insensitive, Sigma's wildcards ``*``
and ``?`` (``\\*`` is a literal star), numbers and text alike (``4624`` is ``"4624"``); a value
that is an IP address or a CIDR network (``10.0.5.0/24``) matches the addresses inside it. A field
with several values (a list) holds when one of them matches.

The tuning comes from ``rules.tuning`` of soc.yml (:mod:`soc.config`) and from ``tuning.yml`` in
the data directory, which ``soc rules disable|enable|except|unexcept`` write
(:mod:`soc.tuning_file`); :mod:`soc.detection.gate` applies it. An entry past its ``expires`` is
kept, listed as expired, and no longer applies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from sigma.types import SigmaString, SpecialChars

from soc.models import Severity

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ValueTest = Callable[[str], bool]


# --- values -------------------------------------------------------------------------------------


def value_test(value: str) -> ValueTest:
    """The test of one condition value on an event value's text (ValueError: a bad network)."""
    network = _network(value)
    if network is not None:
        return lambda text: _in_network(text, network)
    parts = SigmaString(value).s
    if any(isinstance(p, SpecialChars) for p in parts):
        pattern = re.compile("".join(_regex_part(p) for p in parts), re.DOTALL)
        return lambda text: pattern.fullmatch(text.casefold()) is not None
    folded = "".join(str(p) for p in parts).casefold()  # escapes read: a\*b is a*b
    return lambda text: text.casefold() == folded


def _regex_part(part: object) -> str:
    if part is SpecialChars.WILDCARD_MULTI:
        return ".*"
    if part is SpecialChars.WILDCARD_SINGLE:
        return "."
    return re.escape(str(part).casefold())


_ADDRESS_SHAPE = re.compile(r"^[0-9a-fA-F:.]+(?:/\d{1,3})?$")


def _network(value: str) -> Network | None:
    """The network an address or CIDR value names (``10.0.5.20`` is ``10.0.5.20/32``), else
    None; a value shaped as a network that is none is a ValueError."""
    text = value.strip()
    if not _ADDRESS_SHAPE.match(text) or not ("." in text or ":" in text):
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        if "/" in text:
            raise ValueError(f"not a network: {value!r} (write e.g. 10.0.5.0/24)") from None
        return None  # 1.2 or a time 08:00: compared as text


def _in_network(text: str, network: Network) -> bool:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address in network


def _text(value: Any) -> str | None:
    """An event value as the text Sigma compares (None for None, mappings and the like)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def expiry(value: object, zone: tzinfo) -> tuple[str, datetime]:
    """``expires`` as written and the time it ends: a date ends at the start of that day in
    ``zone`` (the exception no longer applies on that day); a time without an offset is in
    ``zone``. ValueError for anything else."""
    if isinstance(value, str):
        value = _parse_expiry(value.strip())
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return moment.isoformat(), moment.astimezone(UTC)
    if isinstance(value, date):
        return value.isoformat(), datetime.combine(value, time(), zone).astimezone(UTC)
    raise ValueError(f"not a date or time: {value!r} (write e.g. 2027-03-01)")


def _parse_expiry(text: str) -> date | datetime:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date or time: {text!r} (write e.g. 2027-03-01 or "
                         "2027-03-01T18:00+07:00)") from None


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """``field`` holds one of ``values``."""

    field: str
    values: tuple[str, ...]
    tests: tuple[ValueTest, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tests", tuple(value_test(v) for v in self.values))

    def holds(self, fields: Mapping[str, Any]) -> bool:
        found = fields.get(self.field)
        items = found if isinstance(found, list | tuple) else (found,)
        for item in items:
            text = _text(item)
            if text is not None and any(test(text) for test in self.tests):
                return True
        return False

    def shown(self) -> str | list[str]:
        """The value(s) as written (one value alone)."""
        return self.values[0] if len(self.values) == 1 else list(self.values)


def exception_id(rule: str | None, where: Iterable[Condition]) -> str:
    """A short id from the rule and the condition, so that soc.yml and tuning.yml name the same
    exception alike and adding it twice is seen."""
    body = json.dumps([rule or "", sorted((c.field, list(c.values)) for c in where)],
                      ensure_ascii=False)
    return hashlib.blake2b(body.encode(), digest_size=4).hexdigest()


@dataclass(frozen=True)
class Entry:
    """What every tuning entry has: why, until when, who, and where it is written."""

    reason: str = ""
    expires: str | None = None  # as written: a date (ends at its start) or a time
    ends: datetime | None = None  # when it stops applying
    author: str = ""
    added: str = ""  # when the CLI added it
    origin: str = ""  # soc.yml:LINE or the tuning file

    def expired(self, now: datetime) -> bool:
        return self.ends is not None and now >= self.ends

    def common(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason}
        for key in ("expires", "author", "added"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class DisabledRule(Entry):
    """A rule (or correlation) that does not run."""

    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, **self.common()}


@dataclass(frozen=True)
class RuleException(Entry):
    """Findings of ``rule`` (of every rule when None) whose event meets ``where`` are dropped."""

    where: tuple[Condition, ...] = ()
    rule: str | None = None
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", exception_id(self.rule, self.where))

    def matches(self, fields: Mapping[str, Any]) -> bool:
        return all(c.holds(fields) for c in self.where)

    def condition_text(self) -> str:
        """``source.ip=10.0.5.20 user.name=svc_*|backup`` (one line, for tables)."""
        return " ".join(f"{c.field}={'|'.join(c.values)}" for c in self.where)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.rule is not None:
            out["rule"] = self.rule
        out["where"] = {c.field: c.shown() for c in self.where}
        return {**out, **self.common()}


@dataclass(frozen=True)
class Tuning:
    """Disabled rules, exceptions and the queue's minimum level (see the module's docstring)."""

    disabled: tuple[DisabledRule, ...] = ()
    exceptions: tuple[RuleException, ...] = ()
    min_level: Severity | None = None

    @property
    def empty(self) -> bool:
        return not self.disabled and not self.exceptions and self.min_level is None

    def merged(self, local: Tuning) -> Tuning:
        """This tuning (soc.yml) with ``local``'s (the tuning file) after it: a rule disabled in
        both, or an exception both hold (same id), keeps this one's entry; ``min_level`` is
        this one's unless unset."""
        disabled = {d.rule for d in self.disabled}
        ids = {e.id for e in self.exceptions}
        return Tuning(
            disabled=self.disabled + tuple(d for d in local.disabled if d.rule not in disabled),
            exceptions=self.exceptions + tuple(e for e in local.exceptions if e.id not in ids),
            min_level=self.min_level or local.min_level)

    def in_force(self, now: datetime) -> Tuning:
        """The entries that have not expired at ``now``."""
        return replace(self, disabled=tuple(d for d in self.disabled if not d.expired(now)),
                       exceptions=tuple(e for e in self.exceptions if not e.expired(now)))

    def disabled_ids(self, now: datetime) -> frozenset[str]:
        """The rules that do not run at ``now``."""
        return frozenset(d.rule for d in self.disabled if not d.expired(now))

    def next_change(self, now: datetime) -> datetime | None:
        """The next time an entry expires after ``now`` (None: none will)."""
        ends = [e.ends for e in (*self.disabled, *self.exceptions)
                if e.ends is not None and e.ends > now]
        return min(ends, default=None)

    def to_dict(self) -> dict[str, Any]:
        """The tuning as soc.yml's ``rules.tuning`` (and the tuning file) write it."""
        out: dict[str, Any] = {}
        if self.min_level is not None:
            out["min_level"] = self.min_level.value
        out["disabled"] = [d.to_dict() for d in self.disabled]
        out["exceptions"] = [e.to_dict() for e in self.exceptions]
        return out
