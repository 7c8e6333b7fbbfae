"""The cron job and file imports: ``soc collect`` and ``soc ingest`` as library calls."""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from soc import registry
from soc.config import Config, Source
from soc.errors import ConfigError, InputError, SocError, UsageError
from soc.lock import PassLock
from soc.pipeline.pipeline import PassReport, Pipeline, SourceReport, Stage
from soc.state import StateStore
from soc.stores.base import Store, open_store

INGEST_PREFIX = "ingest:"


def state_path(config: Config) -> Path:
    return config.data_dir / "state.db"


def lock_path(config: Config) -> Path:
    return config.data_dir / "collect.lock"


def default_stages(config: Config, store: Store) -> list[Stage]:
    """The stages every pass runs after enrichment: threat-intel matching (its threat fields
    are there for the rules), then detection once rules are loaded."""
    try:
        from soc.detection.stage import detection_stage, suppress_window
        from soc.intel import index_cache
        from soc.intel.stage import intel_stage
    except ImportError:
        return []
    detection = detection_stage(config, store)
    intel = intel_stage(store, raise_alerts=detection.raise_alerts if detection else None,
                        suppress=suppress_window(config),
                        cache=config.data_dir / index_cache.FILE_NAME)
    return [s for s in (intel, detection) if s is not None]


def note_rule_errors(config: Config, report: PassReport) -> PassReport:
    """Record on ``report`` the rule files that are broken (not those that merely do not apply):
    a province's rule with a typo must not be silently never evaluated."""
    try:
        from soc.detection.stage import rule_health
    except ImportError:
        return report
    health = rule_health(config)  # the detector the pass loaded: cached in this process
    report.rule_errors = health.error_files
    report.rule_warning = health.warning()
    return report


@contextmanager
def _session(config: Config) -> Iterator[tuple[Store, StateStore]]:
    with open_store(config) as store:
        state = StateStore(state_path(config))
        try:
            yield store, state
        finally:
            state.close()


def selected_sources(config: Config, names: Sequence[str] = ()) -> list[Source]:
    if names:
        return [config.source(n) for n in names]
    sources = [s for s in config.sources if s.enabled]
    if not sources:
        where = config.path or "no config file found"
        raise ConfigError(
            f"no sources are configured ({where})",
            hint="Add a 'sources:' section to soc.yml (see 'soc init'), "
                 "or import files once with 'soc ingest PATH'.",
        )
    return sources


def collect(
    config: Config,
    names: Sequence[str] = (),
    *,
    detect: bool = True,
    progress: Callable[[SourceReport], None] | None = None,
) -> PassReport:
    """One pass over the configured sources (all enabled ones, or those named), under the lock."""
    sources = selected_sources(config, names)
    with PassLock(lock_path(config)), _session(config) as (store, state):
        stages = default_stages(config, store) if detect else []
        report = Pipeline(config, store, state, stages=stages, progress=progress).run(sources)
    report = note_rule_errors(config, report) if detect else report
    return notify_after(config, report)


def notify_after(config: Config, report: PassReport) -> PassReport:
    """Deliver the outbox at the end of a pass (when soc.yml configures notifications).

    A channel that is down never fails the pass and loses nothing (the outbox keeps it): the
    pass's exit code stays what its data made it; a failure that persists (a delivery given
    up, or failing for the third time) becomes a warning on stderr, so cron stays silent
    through a short outage and speaks when something is wrong (docs/notifications.md)."""
    from datetime import UTC, datetime

    from soc.notify import ops

    enabled = ops.enabled(config)
    if not ops.keeps_outbox(config):  # one warning per pass, not an error: the data is in
        if enabled:
            report.notify_warnings.append(f"notifications: {ops.unsupported(config).message}")
        return report
    try:  # without notify: only tidies the outbox (what an older configuration left)
        done = ops.dispatch(config, now=datetime.now(UTC), wait=False)
    except SocError as exc:
        report.notify_warnings.append(f"notifications: {exc}")
        return report
    if done is not None and enabled:
        report.notify = {k: v for k, v in done.to_dict().items() if k != "persistent"}
        report.notify_warnings += [f"notifications: {line}" for line in done.persistent]
    return report


# --- ingest: files imported once ----------------------------------------------------------------


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files named, found by glob, or found under directories (recursively), in a stable order."""
    found: list[Path] = []
    for raw in paths:
        if not raw.strip():
            raise UsageError("an empty path was given", hint=(
                "Name the files or folders to read; a shell variable may be unset "
                "(use '.' for the current folder)."))
        matches = sorted(glob.glob(raw)) if glob.has_magic(raw) else [raw]
        if not matches:
            raise InputError(f"no file matches {raw!r}")
        for item in map(Path, matches):
            if item.is_dir():
                found.extend(p for p in sorted(item.rglob("*")) if p.is_file())
            elif item.exists():
                found.append(item)
            else:
                raise InputError(f"no such file: {item}", hint="Check the path.")
    return found


def source_type_for(path: Path) -> str:
    """The collector for a file: the first registered one whose ``sniff_file`` accepts it,
    else the line-based ``file`` collector."""
    for name in sorted(registry.available("collector")):
        if name == "file":
            continue
        cls: Any = registry.load("collector", name)
        sniff = getattr(cls, "sniff_file", None)
        if sniff is not None and sniff(path):
            return name
    return "file"


def ingest_sources(paths: Sequence[str], fmt: str | None = None) -> list[Source]:
    """One ad-hoc source per file, named ``ingest:<absolute path>`` so its checkpoint is kept
    and importing the same file again adds nothing."""
    sources = []
    for path in expand_paths(paths):
        path = path.resolve()
        kind = source_type_for(path)
        parser = fmt or "auto"
        # files imported once are complete: their last line counts even without a newline
        options = {"complete": True} if kind == "file" else {}
        sources.append(Source(name=f"{INGEST_PREFIX}{path}", type=kind,
                              paths=(glob.escape(str(path)),), parser=parser,
                              options=MappingProxyType(options)))
    return sources


def ingest(
    config: Config,
    paths: Sequence[str],
    *,
    fmt: str | None = None,
    again: bool = False,
    detect: bool = True,
    progress: Callable[[SourceReport], None] | None = None,
) -> PassReport:
    """Import files into the store once (``again`` forgets their checkpoints first)."""
    sources = ingest_sources(paths, fmt)
    if fmt:
        registry_check_parser(fmt)
    with PassLock(lock_path(config), what="ingest"), _session(config) as (store, state):
        if again:
            for source in sources:
                state.reset(source.name)
        stages = default_stages(config, store) if detect else []
        report = Pipeline(config, store, state, stages=stages, progress=progress).run(sources)
    return note_rule_errors(config, report) if detect else report


def registry_check_parser(name: str) -> None:
    if name != "auto" and name not in registry.available("parser"):
        known = ", ".join(sorted(registry.available("parser")))
        raise InputError(f"unknown format {name!r}", hint=f"Use one of: auto, {known}.")
