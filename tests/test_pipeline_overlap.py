"""A store with ``background_writes`` is written on a worker thread while the next batch is
parsed: the durable steps keep their order (write N, checkpoint N, then stages and write of N+1).
The embedded store has it off by default; these tests turn it on."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from soc.config import Config, Source, load_config
from soc.ecs import Event
from soc.errors import StoreError
from soc.pipeline.pipeline import Pipeline
from soc.state import StateStore
from soc.stores.base import Store, WriteResult
from soc.stores.sqlite import SQLiteStore

LINE = ("Nov 24 08:00:{s:02d} web01 sshd[{pid}]: Failed password for root from 203.0.113.{s} "
        "port 22\n")
LINES = 25
BATCH = 5


class RecordingStore(SQLiteStore):
    """The embedded store, noting which thread wrote, and failing on one write when told to."""

    background_writes = True  # off in SQLiteStore by default; the mechanism is tested here
    fail_on: int | None = None

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.writers: list[str] = []

    def write_events(self, events: Sequence[Event]) -> WriteResult:
        self.writers.append(threading.current_thread().name)
        if len(self.writers) == self.fail_on:
            raise StoreError("disk full (injected)")
        return super().write_events(events)


class OrderCheck:
    """A stage that checks, for every batch, that the batch before is written and committed."""

    def __init__(self, state: StateStore, source: str) -> None:
        self.state = state
        self.source = source
        self.batches = 0

    def process(self, events: Sequence[Event], store: Store) -> int:
        if not events:  # the last batch may carry checkpoints only
            return 0
        assert store.count() == self.batches * BATCH  # batch N-1 written
        offsets = [e["offset"] for e in self.state.all(self.source).values() if "offset" in e]
        assert offsets == [events[0]["log.offset"]]  # ... and its checkpoint committed
        self.batches += 1
        return 0


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Config, Source]:
    log = tmp_path / "auth.log"
    log.write_text("".join(LINE.format(s=i, pid=100 + i) for i in range(LINES)), "utf-8")
    config = load_config(None, data_dir=tmp_path / "data")
    source = Source(name="auth", type="file", paths=(str(log),), parser="auto")
    return config, source


def open_recording(config: Config) -> RecordingStore:
    return RecordingStore.open_path(config.data_dir / "store.db")


def test_writes_run_on_a_worker_and_stages_see_the_batch_before_committed(
        setup: tuple[Config, Source]) -> None:
    config, source = setup
    store = open_recording(config)
    state = StateStore(config.data_dir / "state.db")
    stage = OrderCheck(state, source.name)
    try:
        report = Pipeline(config, store, state, stages=[stage], batch_size=BATCH).run_source(source)
    finally:
        state.close()
        store.close()
    assert (report.error, report.events, stage.batches) == (None, LINES, 5)
    assert set(store.writers) == {"soc-store-writer_0"}


def test_a_failed_write_stops_the_pass_with_the_batches_before_committed(
        setup: tuple[Config, Source]) -> None:
    config, source = setup
    store = open_recording(config)
    store.fail_on = 3
    state = StateStore(config.data_dir / "state.db")
    try:
        with pytest.raises(StoreError, match="injected"):
            Pipeline(config, store, state, batch_size=BATCH).run_source(source)
        assert store.count() == 2 * BATCH
        offsets = [e["offset"] for e in state.all(source.name).values() if "offset" in e]
        assert offsets == [sum(len(LINE.format(s=i, pid=100 + i)) for i in range(2 * BATCH))]
        store.fail_on = None
        again = Pipeline(config, store, state, batch_size=BATCH).run_source(source)
    finally:
        state.close()
        store.close()
    assert (again.events, again.duplicates) == (LINES - 2 * BATCH, 0)
