"""Enrichment: which unit and system an event belongs to, and the system's security level."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from soc.config import Config, System
from soc.ecs import Event

HOST_FIELDS = ("host.name", "host.hostname", "log.syslog.hostname", "observer.hostname")
IP_FIELDS = ("host.ip", "observer.ip", "log.source.address", "destination.ip")


class Inventory:
    """Matches events to systems of the inventory by hostname or address."""

    def __init__(self, config: Config) -> None:
        self.systems = {s.id: s for s in config.systems}
        self._by_name: dict[str, System] = {}
        for system in config.systems:
            for name in system.hostnames:
                self._by_name.setdefault(name, system)
                self._by_name.setdefault(name.split(".", 1)[0], system)
        self._nets = [(net, s) for s in config.systems for net in s.addresses]
        # most specific network first
        self._nets.sort(key=lambda item: item[0].prefixlen, reverse=True)
        self.by_ip = lru_cache(maxsize=65536)(self._by_ip)

    def _by_ip(self, ip: str) -> System | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for net, system in self._nets:
            if addr.version == net.version and addr in net:
                return system
        return None

    def by_host(self, name: str) -> System | None:
        name = name.lower()
        return self._by_name.get(name) or self._by_name.get(name.split(".", 1)[0])

    def find(self, event: Event) -> System | None:
        """The system an event comes from, by its host names, then its addresses."""
        if self._by_name:
            for key in HOST_FIELDS:
                value = event.get(key)
                if isinstance(value, str) and (system := self.by_host(value)):
                    return system
        if self._nets:
            for key in IP_FIELDS:
                value = event.get(key)
                if isinstance(value, list):
                    value = value[0] if value else None
                if isinstance(value, str) and (system := self.by_ip(value)):
                    return system
        return None

    def enrich(self, event: Event, bound: System | None = None) -> None:
        """Add ``organization.id``, ``labels.system`` and ``labels.security_level`` in place.

        A source bound to a system in the config (``bound``) wins over host matching.
        """
        system = bound or self.find(event)
        if system is None:
            return
        event["organization.id"] = system.unit
        event["labels.system"] = system.id
        event["labels.security_level"] = system.security_level
