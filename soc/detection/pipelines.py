"""pySigma processing pipelines: Sigma field names and log sources → our ECS events.

Three layers, applied in priority order to every rule:

* placeholders (priority 0): ``%name%`` values (with ``|expand``) from ``rules.placeholders``;
* the store-neutral mapping: the project's YAML pipelines in ``rules/pipelines/`` (Windows
  categories at priority 10; Linux, web, proxy, firewall, DNS at 30) and pySigma's
  ``ecs_windows`` (20). These are what the Elasticsearch backend uses too;
* for the in-process matcher only (priority 100): strip the Elasticsearch-only sub-field suffixes
  (``process.executable.caseless`` → ``process.executable``) that flat events do not have.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from sigma.pipelines.elasticsearch.windows import ecs_windows
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldFunctionTransformation,
    ValueListPlaceholderTransformation,
)

from soc.content import content_dir
from soc.errors import RuleError

PIPELINE_DIR = content_dir("rules") / "pipelines"
"""The project's own pipelines (``rules/pipelines/*.yml``)."""

ES_SUFFIXES = (".caseless", ".keyword", ".text", ".wildcard")
"""Sub-fields an Elasticsearch mapping adds; flat events hold the value under the parent key."""


def strip_es_suffix(field: str | None) -> str:
    """``process.executable.caseless`` → ``process.executable``; other names unchanged."""
    name = field or ""
    for suffix in ES_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def yaml_pipelines(directory: Path = PIPELINE_DIR) -> list[ProcessingPipeline]:
    """The YAML pipelines of ``directory``, in file-name order."""
    pipelines = []
    for path in sorted(directory.glob("*.yml")):
        try:
            pipelines.append(
                ProcessingPipeline.from_yaml(path.read_text(encoding="utf-8"),
                                             source_path=str(path))
            )
        except Exception as exc:  # pySigma raises several unrelated types here
            raise RuleError(f"invalid processing pipeline: {exc}", path=path,
                            hint="Fix the pipeline file; see docs/detection.md.") from exc
    return pipelines


def placeholder_pipeline(placeholders: Mapping[str, Iterable[str]]) -> ProcessingPipeline:
    """Resolve ``%name%`` placeholders from the configuration; unknown names fail the rule."""
    values = {name: [str(v) for v in vals] for name, vals in placeholders.items()}
    return ProcessingPipeline(
        name="soc placeholders",
        priority=0,
        items=[ProcessingItem(identifier="soc_placeholders",
                              transformation=ValueListPlaceholderTransformation())],
        vars=values,
    )


def matcher_pipeline() -> ProcessingPipeline:
    """The in-process matcher's own last step: drop Elasticsearch-only field suffixes."""
    return ProcessingPipeline(
        name="soc matcher: flat ECS keys",
        priority=100,
        items=[ProcessingItem(identifier="soc_strip_es_suffix",
                              transformation=FieldFunctionTransformation(
                                  mapping={}, transform_func=strip_es_suffix))],
    )


def store_pipelines(directory: Path = PIPELINE_DIR) -> list[ProcessingPipeline]:
    """The store-neutral pipelines (ecs_windows + ours), as the Elasticsearch backend needs them."""
    return [ecs_windows(), *yaml_pipelines(directory)]


def build_pipeline(placeholders: Mapping[str, Iterable[str]] | None = None,
                   directory: Path = PIPELINE_DIR) -> ProcessingPipeline:
    """One pipeline for the in-process matcher: placeholders, store-neutral mapping, suffixes."""
    parts = [placeholder_pipeline(placeholders or {}), *store_pipelines(directory),
             matcher_pipeline()]
    parts.sort(key=lambda p: p.priority)
    combined = ProcessingPipeline()
    for part in parts:
        combined = combined + part
    return combined


def fingerprint(placeholders: Mapping[str, Iterable[str]] | None = None,
                directory: Path = PIPELINE_DIR) -> str:
    """A digest of everything that changes the mapping: pipeline files, placeholders, versions."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(directory.glob("*.yml")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in sorted(placeholders or {}):
        h.update(f"{name}={list((placeholders or {})[name])!r}\0".encode())
    for dist in ("pySigma", "pySigma-backend-elasticsearch"):
        try:
            h.update(f"{dist}={metadata.version(dist)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=?\0".encode())
    return h.hexdigest()
