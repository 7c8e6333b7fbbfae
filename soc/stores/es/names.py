"""Names of everything the store creates in the cluster, all under one optional prefix.

Events go to data streams ``<prefix>logs-<dataset>-<unit>`` (Elastic's type-dataset-namespace
scheme, the unit as namespace); alerts, incidents, rule hits, the audit trail, dead letters and
quarantined documents (and the alert-event links, the notification outbox and its deliveries,
the threat-intel indicators) have their own indices ``<prefix>soc-<name>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BAD = re.compile(r"[^a-z0-9._]+")
MAX_PART = 100
DEFAULT_DATASET = "generic"
DEFAULT_UNIT = "default"
STATE_INDICES = ("alerts", "alert-events", "incidents", "audit", "rule-hits", "dead-letters",
                 "quarantine", "notify-outbox", "notify-deliveries", "intel-indicators", "users")
LEVELS = (1, 2, 3, 4, 5)


def name_part(value: object, default: str) -> str:
    """A dataset or unit as a data-stream name part: lowercase, ``[a-z0-9._]``, no dashes."""
    text = _BAD.sub("_", str(value).lower()).strip("._") if value not in (None, "") else ""
    return text[:MAX_PART] or default


@dataclass(frozen=True)
class Names:
    """Every name the store uses, derived from the index prefix."""

    prefix: str = ""

    def stream(self, dataset: object, unit: object) -> str:
        """The data stream of an event: ``logs-linux.auth-so_yte``."""
        return (f"{self.prefix}logs-{name_part(dataset, DEFAULT_DATASET)}-"
                f"{name_part(unit, DEFAULT_UNIT)}")

    @property
    def events(self) -> str:
        """The pattern that reads every event stream."""
        return f"{self.prefix}logs-*-*"

    def index(self, name: str) -> str:
        """One of :data:`STATE_INDICES`: ``soc-alerts``."""
        return f"{self.prefix}soc-{name}"

    @property
    def state_pattern(self) -> str:
        return f"{self.prefix}soc-*"

    def policy(self, level: int | None) -> str:
        """The ILM policy of a security level (None: events of no known system)."""
        return f"{self.prefix}soc-events-{'unknown' if level is None else f'l{level}'}"

    @property
    def mappings_component(self) -> str:
        return f"{self.prefix}soc-ecs@mappings"

    @property
    def settings_component(self) -> str:
        return f"{self.prefix}soc-ecs@settings"

    @property
    def logs_template(self) -> str:
        return f"{self.prefix}soc-logs"

    def unit_template(self, unit: str) -> str:
        return f"{self.prefix}soc-logs-{name_part(unit, DEFAULT_UNIT)}"

    def unit_pattern(self, unit: str) -> str:
        return f"{self.prefix}logs-*-{name_part(unit, DEFAULT_UNIT)}"

    @property
    def state_template(self) -> str:
        return f"{self.prefix}soc-state"
