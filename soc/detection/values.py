"""Event values as the matcher sees them: text, casefolded once per event and field.

A :class:`Folded` view wraps one event. ``view[field]`` is the field's value as casefolded text
(``None`` when absent; a tuple for multi-valued fields), computed on first use and kept for the
other rules that read the same field. ``view.raw[field]`` is the same without casefolding, for
``|cased`` and ``|re``. Numbers and booleans become the text Sigma compares them as: ``4624`` and
``"4624"`` are equal, ``True`` is ``"true"``.
"""

from __future__ import annotations

from typing import Any

from soc.ecs import Event

ALL = "\x00all"
"""Pseudo field of keyword (field-less) detections: every value of the event."""

JOINED = "\x00joined"
"""Pseudo field: every value of the event in one casefolded text (what the prefilter searches
for keyword literals; a value's text is a substring of it)."""

Value = str | tuple[str, ...] | None


def text(value: Any) -> str | None:
    """A scalar event value as text (None for None and for values with no text form)."""
    if value.__class__ is str:
        return value
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return str(value)
    return None


def texts(value: Any) -> Value:
    """An event value as text, or a tuple of texts for a list (None elements dropped)."""
    if isinstance(value, (list, tuple)):
        items: list[str] = []
        for v in value:
            if isinstance(v, (list, tuple)):
                items.extend(t for t in (text(x) for x in v) if t is not None)
            else:
                t = text(v)
                if t is not None:
                    items.append(t)
        return tuple(items)
    return text(value)


def fold(value: Value) -> Value:
    if value is None:
        return None
    if value.__class__ is str:
        return value.casefold()
    return tuple(v.casefold() for v in value)


class Raw(dict[str, Value]):
    """Field → text (not casefolded), computed on first access."""

    __slots__ = ("event",)

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    def __missing__(self, key: str) -> Value:
        value = all_texts(self.event) if key == ALL else texts(self.event.get(key))
        self[key] = value
        return value


class Folded(dict[str, Value]):
    """Field → casefolded text, computed on first access; ``raw`` has the unfolded texts."""

    __slots__ = ("event", "raw")

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
        self.raw = Raw(event)

    def __missing__(self, key: str) -> Value:
        if key == ALL:  # one casefold of the joined text rather than one per value
            value: Value = tuple(SEP.join(self.raw[ALL]).casefold().split(SEP))  # type: ignore[arg-type]
        elif key == JOINED:
            value = joined_text(self.event)
        else:
            raw = self.event.get(key)
            value = raw.casefold() if raw.__class__ is str else fold(self.raw[key])
        self[key] = value
        return value


SEP = "\x1f"  # unit separator: no casefold maps to or from it


def all_texts(event: Event) -> tuple[str, ...]:
    """Every value of the event as text (what a keyword detection searches)."""
    return tuple(v.replace(SEP, " ") if SEP in v else v for v in joined_parts(event))


def joined_text(event: Event) -> str:
    """Every value of the event as text in one casefolded string (keyword literals are searched
    in it by the prefilter), in no particular order."""
    parts = joined_parts(event)
    text = SEP.join(parts)
    if text.isascii():
        return text.casefold()
    # casefold's general path is per character: keep it to the values that need it
    return (SEP.join([p for p in parts if p.isascii()]).casefold() + SEP
            + SEP.join([p for p in parts if not p.isascii()]).casefold())


def joined_parts(event: Event) -> list[str]:
    """Every value of the event as text, in order (list elements one by one)."""
    out: list[str] = []
    for value in event.values():
        if value.__class__ is str:
            out.append(value)
            continue
        if value.__class__ is int:
            out.append(str(value))
            continue
        t = texts(value)
        if t is None:
            continue
        if t.__class__ is str:
            out.append(t)
        else:
            out.extend(t)
    return out
