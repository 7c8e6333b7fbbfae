"""Loading Sigma rules with pySigma, every failure collected with its file, rule id and reason."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

RULE_SUFFIXES = (".yml", ".yaml")
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class RuleIssue:
    """A rule (or a whole file) that cannot be used, and why. Nothing is skipped silently."""

    path: str
    rule_id: str | None
    title: str | None
    reason: str
    stage: str  # "load" (YAML/Sigma), "pipeline" (mapping), "compile", "logsource" (no mapping)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "id": self.rule_id, "title": self.title,
                "reason": self.reason, "stage": self.stage}


@dataclass
class LoadedRules:
    """What :func:`load_rules` found: usable detection rules, correlation rules and issues."""

    rules: list[SigmaRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    issues: list[RuleIssue] = field(default_factory=list)


SKIPPED_DIRS = ("pipelines", "tests")
"""Folders of a rules directory that hold no rules: processing pipelines and rule samples."""


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every rule file under ``paths`` (files as given, directories recursively), sorted; a
    directory's top-level ``pipelines/`` and ``tests/`` are skipped (pipelines and samples)."""
    found: set[Path] = set()
    for path in map(Path, paths):
        if not path.is_dir():
            found.add(path)
            continue
        skipped = [path / d for d in SKIPPED_DIRS]
        for f in path.rglob("*"):
            if (f.suffix in RULE_SUFFIXES and f.is_file()
                    and not any(f.is_relative_to(s) for s in skipped)):
                found.add(f)
    return sorted(found)


def content_digest(files: Iterable[Path]) -> str:
    """A digest of the files' names and contents (the cache key's rule part)."""
    h = hashlib.blake2b(digest_size=16)
    for f in files:
        h.update(str(f).encode("utf-8", "surrogateescape") + b"\0")
        try:
            h.update(f.read_bytes())
        except OSError as exc:
            h.update(f"unreadable:{exc}".encode())
        h.update(b"\0")
    return h.hexdigest()


def rule_path(rule: SigmaRule | SigmaCorrelationRule) -> str:
    src = rule.source
    return str(src.path) if src is not None and src.path is not None else "<string>"


def issue_for(rule: SigmaRule | SigmaCorrelationRule, reason: str, stage: str) -> RuleIssue:
    """A :class:`RuleIssue` about ``rule``."""
    rid = str(rule.id) if rule.id is not None else None
    return RuleIssue(rule_path(rule), rid, rule.title or None, reason, stage)


def _error_text(errors: Iterable[SigmaError | Exception]) -> str:
    seen: list[str] = []
    for e in errors:
        text = str(e).split("\n")[0]
        if text not in seen:
            seen.append(text)
    return "; ".join(seen)


def _load_file(path: Path) -> SigmaCollection | RuleIssue:
    try:
        text = path.read_text(encoding="utf-8")
        # libyaml's C loader: the pure-Python one is most of a cold load
        docs = list(yaml.load_all(text, Loader=_YamlLoader))
        return SigmaCollection.from_dicts(docs, collect_errors=True,
                                          source=SigmaRuleLocation(path),
                                          collect_filters=True, resolve_references=False)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, SigmaError, ValueError, TypeError,
            AttributeError, KeyError) as exc:  # the file fails, not the run
        return RuleIssue(str(path), None, None, f"cannot load: {_error_text([exc])}", "load")


def _split(collection: SigmaCollection, out: LoadedRules) -> None:
    for rule in collection.rules:
        if rule.errors:
            out.issues.append(issue_for(rule, _error_text(rule.errors), "load"))
        elif isinstance(rule, SigmaCorrelationRule):
            out.correlations.append(rule)
        else:
            out.rules.append(rule)


def load_rules(paths: Iterable[str | Path]) -> LoadedRules:
    """Parse every rule file under ``paths`` with pySigma (errors collected, never raised)."""
    out = LoadedRules()
    collections = []
    for path in rule_files(paths):
        loaded = _load_file(path)
        if isinstance(loaded, RuleIssue):
            out.issues.append(loaded)
        else:
            collections.append(loaded)
    merged = SigmaCollection.merge(collections, resolve_references=False)
    try:
        merged.resolve_rule_references()
    except SigmaError as exc:  # a correlation naming an unknown rule
        out.issues.append(RuleIssue("<collection>", None, None, _error_text([exc]), "load"))
    _split(merged, out)
    out.issues.extend(_file_level_errors(merged))
    return out


def _file_level_errors(collection: SigmaCollection) -> Iterator[RuleIssue]:
    """Errors pySigma recorded on the collection but not on any rule (e.g. bad actions)."""
    per_rule = {id(e) for r in collection.rules for e in r.errors}
    for err in collection.errors:
        if id(err) not in per_rule:
            src = getattr(err, "source", None)
            where = str(src.path) if src is not None and src.path is not None else "<collection>"
            yield RuleIssue(where, None, None, _error_text([err]), "load")
