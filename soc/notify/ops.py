"""What the commands and the passes call: one dispatch against the configured store, a test
message, retrying failed deliveries, the outbox listing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, overload

from soc.config import Config
from soc.ecs import format_ts
from soc.errors import ConfigError, NotFoundError, StoreError
from soc.lock import PassLock
from soc.notify import config as notify_config
from soc.notify.dispatch import DispatchReport, build_channels, run
from soc.notify.model import Message
from soc.stores.base import Store, open_store


def enabled(config: Config) -> bool:
    """Whether soc.yml configures any notification channel."""
    return bool(config.raw.get("notify"))


def keeps_outbox(config: Config) -> bool:
    """Whether the configured store keeps a notification outbox (the embedded and the
    Elasticsearch stores do; a store plugin may not), known without connecting to it."""
    from soc import registry

    return bool(getattr(registry.load("store", config.store.type), "keeps_outbox", False))


def unsupported(config: Config) -> StoreError:
    """The one-line error of notifications configured on a store without an outbox."""
    return StoreError(f"the {config.store.type} store keeps no notification outbox: "
                      "nothing is sent",
                      hint="Use the embedded or the Elasticsearch store to send "
                           "notifications (docs/notifications.md).")


def lock_path(config: Config) -> Path:
    return config.data_dir / "notify.lock"


@overload
def dispatch(config: Config, *, now: datetime) -> DispatchReport: ...
@overload
def dispatch(config: Config, *, now: datetime, wait: bool) -> DispatchReport | None: ...


def dispatch(config: Config, *, now: datetime, wait: bool = True) -> DispatchReport | None:
    """One dispatch on the configured store (``soc notify run``, the end of ``soc collect``,
    the loop of ``soc listen``), under ``notify.lock``: two dispatchers never send the same
    delivery at once. When another holds it: BusyError, or None with ``wait=False`` (that
    one is delivering already). StoreError (:func:`unsupported`) on a store without an
    outbox. Without ``notify.routes`` it only tidies: changes are discarded, old rows
    pruned."""
    if not keeps_outbox(config):
        raise unsupported(config)
    lock = PassLock(lock_path(config), "notify")
    if not wait and lock.acquire() is not None:
        return None
    try:
        if wait:
            lock.__enter__()
        with open_store(config) as store:
            return run(store, config, now=now)
    finally:
        lock.release()


def send_test(config: Config, name: str, *, now: datetime) -> str:
    """Send a "test" message on one channel now, outside the outbox; returns its receipt.
    DeliveryError when the channel refuses it; NotFoundError for an unknown channel."""
    notify = notify_config.load(config)
    if name not in notify.channels:
        known = ", ".join(sorted(notify.channels)) or "none configured"
        raise NotFoundError(f"no notification channel {name!r} (known: {known})",
                            hint="Add it under notify.channels in soc.yml.")
    report = DispatchReport()
    channels = build_channels(replace(notify, channels={name: notify.channels[name]}), report)
    if name not in channels:
        raise ConfigError(report.problems[0], hint="Fix notify.channels in soc.yml.")
    stamp = format_ts(now)
    message = Message(key=f"test:{name}:{stamp}", kind="test", severity="informational",
                      created=stamp, context={"channel": name, "link": "soc notify outbox"})
    return channels[name].send(message)


def retry(store: Store, keys: list[str], *, all_failed: bool, now: datetime) -> list[str]:
    """Queue failed (or waiting) deliveries again, due now with a fresh backoff; returns
    their keys. NotFoundError for a key that names no delivery."""
    stamp = format_ts(now)
    if all_failed:
        keys = [d.key for d in store.list_deliveries(status="failed")]
    for key in keys:
        store.mark_delivery(key, status="queued", attempts=0, next_at=stamp)
    return keys


def outbox_rows(store: Store, *, failed: bool, limit: int | None) -> list[dict[str, Any]]:
    """Deliveries (the failed ones only, with ``failed``), newest change last."""
    return [d.to_dict() for d in store.list_deliveries(
        status="failed" if failed else None, limit=limit)]
