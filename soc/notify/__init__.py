"""The notify stage: alerts, incidents and duties reach people.

Changes are written to a durable outbox by the store in the same transaction as the alert or
incident change that causes them (:mod:`soc.outbox`); :mod:`soc.notify.dispatch` routes them to
channels (:mod:`soc.notify.channels`), renders them (:mod:`soc.notify.render`) and delivers them
in order, with retries, quiet hours, throttles, digests, escalations and deadline reminders.
"""
