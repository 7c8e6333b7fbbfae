"""The model of an official document: heading, title, sections of fields (text or checkboxes)
and tables, signature. One generic template per format renders any :class:`Document`, so each
form is described once, here in data, and its required fields can be checked.

A required field is never left silently blank: it renders its value, a ticked box, or
:data:`soc.reports.fmt.EMPTY`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from soc.errors import InputError
from soc.reports.fmt import EMPTY


@dataclass(frozen=True)
class Choice:
    """One checkbox; ``detail`` is the text after an "other: ___" box."""

    id: str
    label: str
    checked: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    value: str = ""
    required: bool = False
    choices: tuple[Choice, ...] = ()

    @property
    def filled(self) -> bool:
        return bool(self.value.strip()) or any(c.checked for c in self.choices)

    @property
    def shown(self) -> str:
        """The text to print after the label (for checkbox fields: only the empty mark)."""
        if self.choices:
            return "" if self.filled else EMPTY
        return self.value.strip() or EMPTY


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str = "Không có."


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[Field, ...] = ()
    table: Table | None = None
    text: str = ""
    chart: str = ""  # an inline SVG (HTML only; other formats show the table beside it)
    kpis: tuple[tuple[str, str], ...] = ()  # (label, value) figures shown as tiles


@dataclass(frozen=True)
class Heading:
    """The national heading block: the issuer on the left, the nation and date on the right."""

    agency: str  # cơ quan chủ quản (upper line), may be empty
    organization: str
    number: str  # "Số: .../BC-..."
    place_date: str


@dataclass(frozen=True)
class Signature:
    authority: str  # "KT. GIÁM ĐỐC", "TUQ. ..." or empty
    title: str
    name: str
    hint: str = "(Ký, ghi rõ họ tên và đóng dấu)"


@dataclass(frozen=True)
class Document:
    kind: str
    form: str  # "Mẫu 03", "TT 20/2017 Đ9.3.a"
    basis: str  # the line under the form number
    title: str
    subtitle: str
    heading: Heading
    recipients: tuple[str, ...]
    sections: tuple[Section, ...]
    signature: Signature
    subject: str = ""  # e-mail subject
    notes: tuple[str, ...] = ()
    zone: str = "UTC+7"
    landscape: bool = False  # wide tables (Mẫu 05, Mẫu 08)

    def fields(self) -> list[Field]:
        return [f for s in self.sections for f in s.fields]

    def missing(self) -> list[str]:
        """Labels of the required fields shown as empty."""
        return [f.label for f in self.fields() if f.required and not f.filled]


def text(id: str, label: str, value: object = "", required: bool = False) -> Field:
    return Field(id, label, "" if value is None else str(value), required)


def boxes(id: str, label: str, options: Sequence[tuple[str, str]], checked: set[str],
          required: bool = False, details: Mapping[str, str] | None = None) -> Field:
    """A checkbox field from (id, label) options, ticking those in ``checked``."""
    details = details or {}
    return Field(id, label, "", required, tuple(
        Choice(cid, lab, cid in checked, details.get(cid, "")) for cid, lab in options))


def apply_overrides(doc: Document, values: Mapping[str, str]) -> Document:
    """``--set id=value``: a text field takes the value; a checkbox field ticks the listed
    choice ids (``a,b``), and ``id.choice=text`` fills an "other" box's text."""
    known = {f.id: f for f in doc.fields()}
    for key in values:
        base = key.split(".", 1)[0]
        if base not in known:
            raise InputError(f"{doc.kind} has no field {base!r}",
                             hint="Fields: " + ", ".join(sorted(known)))
    sections = tuple(replace(s, fields=tuple(_override(f, values) for f in s.fields))
                     for s in doc.sections)
    return replace(doc, sections=sections)


def _override(f: Field, values: Mapping[str, str]) -> Field:
    if not f.choices:
        return replace(f, value=values[f.id]) if f.id in values else f
    ticked = {c.strip() for c in values[f.id].split(",")} if f.id in values else None
    choices = []
    for c in f.choices:
        detail = values.get(f"{f.id}.{c.id}", c.detail)
        checked = c.id in ticked if ticked is not None else c.checked
        choices.append(replace(c, checked=checked or bool(detail and detail != c.detail),
                               detail=detail))
    return replace(f, choices=tuple(choices))


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``key=value`` pairs of ``--set``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected FIELD=VALUE",
                             hint="For example: --set requests='Đề nghị VNCERT hỗ trợ phân tích'")
        out[key.strip()] = value
    return out


def to_dict(doc: Document) -> dict[str, Any]:
    """A plain view for ``--json`` and tests."""
    return {"kind": doc.kind, "form": doc.form, "title": doc.title, "subject": doc.subject,
            "recipients": list(doc.recipients), "missing": doc.missing(),
            "fields": {f.id: (f.value if not f.choices else
                              [c.id for c in f.choices if c.checked]) for f in doc.fields()},
            "sections": [_section(s) for s in doc.sections]}


def _section(s: Section) -> dict[str, Any]:
    out: dict[str, Any] = {"title": s.title}
    if s.kpis:
        out["kpis"] = dict(s.kpis)
    if s.table is not None:
        out["table"] = {"columns": list(s.table.columns),
                        "rows": [list(r) for r in s.table.rows]}
    if s.text:
        out["text"] = s.text
    return out
