"""pySigma processing pipelines: Sigma field names and log sources → our ECS events.

Three layers, applied in priority order to every rule:

* placeholders (priority 0): ``%name%`` values (with ``|expand``) from ``rules.placeholders``;
* the store-neutral mapping: the project's YAML pipelines in ``rules/pipelines/`` (Windows
  categories at priority 10; Linux, web, proxy, firewall, DNS at 30), the field references of
  Windows rules (15, :func:`windows_fieldref_pipeline`) and pySigma's ``ecs_windows`` (20).
  These are what the Elasticsearch backend uses too;
* for the in-process matcher only (priority 100): strip the Elasticsearch-only sub-field suffixes
  (``process.executable.caseless`` → ``process.executable``) that flat events do not have.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from sigma.conditions import ConditionAND, ConditionOR
from sigma.pipelines.elasticsearch.windows import ecs_windows
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldFunctionTransformation,
    FieldMappingTransformation,
    ValueListPlaceholderTransformation,
)
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaFieldReference, SigmaString

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


EVENT_DATA = "winlog.event_data."
SHARED_ECS = frozenset({"user.name", "user.domain", "user.id", "winlog.logon.id"})
"""ECS fields the Windows parser (and Winlogbeat) fill from several event data fields of one
event (4624: ``SubjectDomainName`` and ``TargetDomainName`` → ``user.domain``): comparing one
with another says nothing about the two event data fields a field reference names."""


@cache
def ecs_single_fields() -> frozenset[str]:
    """Sigma names that ``ecs_windows`` maps, for every Windows log source, to an ECS field that
    holds one value per event (``Image`` → ``process.executable``): the same field on Sysmon and
    Security events, so a field reference keeps it."""
    for item in ecs_windows().items:
        transformation = item.transformation
        if (item.identifier == "ecs_windows_field_mapping"
                and isinstance(transformation, FieldMappingTransformation)):
            return frozenset(name for name, target in transformation.mapping.items()
                             if name is not None and isinstance(target, str)
                             and target.removesuffix(".caseless") not in SHARED_ECS)
    return frozenset()


@dataclass
class WindowsFieldrefTransformation(DetectionItemTransformation):
    """Both names of a field reference → the fields a Windows event carries for them.

    pySigma's ``ecs_windows`` counts a field reference item as processed by its field mapping
    even when it mapped nothing, so its ``winlog.event_data.`` prefix never reaches either name:
    ``TargetUserName|fieldref: SubjectUserName`` would compare a field no event has with
    ``user.name`` (which Winlogbeat fills from TargetUserName on 4624 and the parser from
    SubjectUserName). Before ``ecs_windows`` runs, each name it does not map to a single-valued
    field (:func:`ecs_single_fields`) becomes ``winlog.event_data.<Name>``."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem
                             ) -> SigmaDetection | SigmaDetectionItem | None:
        values = detection_item.value
        if not any(isinstance(v, SigmaFieldReference) for v in values):
            return None
        detection_item.field = event_data_name(detection_item.field)
        detection_item.value = [
            SigmaFieldReference(str(event_data_name(v.field)), v.starts_with, v.ends_with)
            if isinstance(v, SigmaFieldReference) else v for v in values]
        return detection_item


def event_data_name(name: str | None) -> str | None:
    """A Sigma name of a Windows field reference → the event field compared (see above)."""
    if name is None or "." in name or name in ecs_single_fields():
        return name
    return EVENT_DATA + name


ACCOUNT_FIELDS: Mapping[str, str] = {
    **{name: EVENT_DATA + name for name in (
        "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "TargetDomainName",
        "AccountName", "AccountDomain", "ParentProcessName")},
}
"""Sigma names whose ``ecs_windows`` field the Windows parser fills with another meaning, as
Winlogbeat does: ``user.*`` is the account that logged on (4624 ``TargetUserName``), not
``SubjectUserName``; 4688 ``process.parent.name`` is a file name. Each is compared with its own
event data field, the value it was compared with before, so a rule matches what it matched
before. See docs/windows.md."""

NO_ADDRESS_FIELDS = ("IpAddress", "IpPort")
"""Their ``-`` (no network logon) is no ``source.ip``/``source.port`` (Winlogbeat leaves both
out): a rule that looks for ``-`` is compared with the event data field."""


def _account_mapping() -> dict[str | None, str | list[str]]:
    return {name: target for name, target in ACCOUNT_FIELDS.items()}


@dataclass
class WindowsNoAddressTransformation(DetectionItemTransformation):
    """``IpAddress: '-'`` (and ``|contains: '-'``) → ``winlog.event_data.IpAddress: '-'``."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem
                             ) -> SigmaDetection | SigmaDetectionItem | None:
        if detection_item.field not in NO_ADDRESS_FIELDS or not detection_item.value:
            return None
        dash = [v for v in detection_item.value if _is_dash(v)]
        if not dash:
            return None
        if len(dash) == len(detection_item.value):
            detection_item.field = EVENT_DATA + detection_item.field
            return detection_item
        if detection_item.value_linking is ConditionAND or detection_item.negated:
            return None  # |all over '-' and an address cannot hold anyway; left as written
        # a list such as ['-', '127.0.0.1', '::1']: '-' on the event data, the rest as before
        rest = [v for v in detection_item.value if not _is_dash(v)]
        return SigmaDetection(
            [SigmaDetectionItem(EVENT_DATA + detection_item.field,
                                list(detection_item.modifiers), dash, auto_modifiers=False),
             SigmaDetectionItem(detection_item.field, list(detection_item.modifiers), rest,
                                auto_modifiers=False)],
            item_linking=ConditionOR)


def _is_dash(value: object) -> bool:
    return isinstance(value, SigmaString) and str(value).strip("*") == "-"


def windows_fieldref_pipeline() -> ProcessingPipeline:
    """Field references and the fields of :data:`ACCOUNT_FIELDS` and :data:`NO_ADDRESS_FIELDS`
    of Windows rules, just before ``ecs_windows`` (priority 15)."""
    return ProcessingPipeline(
        name="soc windows field references",
        priority=15,
        items=[ProcessingItem(identifier="soc_windows_fieldref",
                              transformation=WindowsFieldrefTransformation(),
                              rule_conditions=[LogsourceCondition(product="windows")]),
               ProcessingItem(identifier="soc_windows_no_address",
                              transformation=WindowsNoAddressTransformation(),
                              rule_conditions=[LogsourceCondition(product="windows")]),
               ProcessingItem(identifier="soc_windows_account_fields",
                              transformation=FieldMappingTransformation(_account_mapping()),
                              rule_conditions=[LogsourceCondition(product="windows")])],
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
    return [windows_fieldref_pipeline(), ecs_windows(), *yaml_pipelines(directory)]


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
