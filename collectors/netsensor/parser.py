"""The ``netevent`` parser: sensor events travel through the pipeline as compact JSON.

The pcap collector and the live-capture spool hand the pipeline records whose text is the event
the sensor already built; this parser loads it back. It claims only text that starts like a sensor
event, so auto-detection never mistakes other JSON for one.
"""

from __future__ import annotations

import re
from typing import ClassVar

import orjson

from collectors.parsers.jsonl import is_field_name
from soc import jsonutil
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.sources import ParseContext

PREFIX = '{"@timestamp":"'
MARK = '"event.module":"netsensor"'
_CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def dumps(event: Event) -> str:
    """The record text of a sensor event (key order kept: the sniff relies on it)."""
    return orjson.dumps(event).decode("utf-8")


class NetEventParser:
    """Sensor events (``event.module: netsensor``) back from their JSON text."""

    name: ClassVar[str] = "netevent"
    priority: ClassVar[int] = 4  # before the Suricata and generic JSON parsers
    markers: ClassVar[tuple[str, ...]] = (MARK,)  # see Parser.markers

    def sniff(self, text: str) -> bool:
        """JSON that starts with ``@timestamp`` and names the sensor module early on."""
        return text.startswith(PREFIX) and MARK in text[:160]

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """The event; :class:`ParseError` for text that is not a sensor event (the text may
        come from a spool or a file anyone could write: its time and dataset are checked)."""
        try:
            event = jsonutil.loads(text)
        except ValueError:  # not JSON, or nested too deeply (jsonutil.loads)
            raise ParseError("invalid JSON") from None
        if not isinstance(event, dict) or event.get("event.module") != "netsensor":
            raise ParseError("not a network sensor event (event.module is not netsensor)")
        stamp, dataset = event.get("@timestamp"), event.get("event.dataset")
        if not (isinstance(stamp, str) and _CANONICAL.fullmatch(stamp)):
            raise ParseError("not a network sensor event (@timestamp is not a UTC time "
                             "like 2026-11-24T01:15:00.000Z)")
        if not (isinstance(dataset, str) and dataset):
            raise ParseError("not a network sensor event (no event.dataset)")
        bad = next((key for key in event if not is_field_name(key)), None)
        if bad is not None:
            raise ParseError(f"not a network sensor event ({bad[:80]!r} is no field name)")
        return event
