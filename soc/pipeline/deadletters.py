"""Dead letters: list them, and replay them through the parsers after a fix.

Replaying gives each record the id it would have had, so an event stored once can never be doubled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from soc.config import Config
from soc.ecs import format_ts
from soc.errors import SkipRecord
from soc.models import DeadLetter
from soc.pipeline.inventory import Inventory
from soc.pipeline.parsing import get_parser, parse_record
from soc.pipeline.sources import ParseContext, RawRecord
from soc.stores.base import Store


@dataclass(frozen=True)
class ReplayResult:
    replayed: int  # now events
    still_dead: int  # still unparseable, kept


def _record(letter: DeadLetter) -> RawRecord:
    return RawRecord(text=letter.text(), id=letter.id, fields=dict(letter.fields),
                     origin=letter.origin)


def replay(config: Config, store: Store, *, source: str | None = None,
           limit: int | None = None) -> ReplayResult:
    """Parse dead letters again; those that now parse become events and leave the dead letters."""
    inventory = Inventory(config)
    now = datetime.now(UTC)
    ingested = format_ts(now)
    fixed, events, still = [], [], 0
    for letter in store.dead_letters(source=source, limit=limit):
        ctx = ParseContext(tz=config.tz, now=now, source=letter.source)
        try:
            parser = get_parser(letter.parser or "auto")
            event = parse_record(parser, _record(letter), ctx, ingested=ingested)
        except SkipRecord:  # understood now, and no event: nothing to keep
            fixed.append(letter.id)
            continue
        except Exception:  # noqa: BLE001 - still unparseable: it stays a dead letter
            still += 1
            continue
        bound = None
        if not letter.source.startswith("ingest:"):
            src = next((s for s in config.sources if s.name == letter.source), None)
            bound = inventory.systems.get(src.system) if src and src.system else None
        inventory.enrich(event, bound)
        events.append(event)
        fixed.append(letter.id)
    if events:
        store.write_events(events)
    if fixed:
        store.remove_dead_letters(fixed)
    return ReplayResult(replayed=len(fixed), still_dead=still)
