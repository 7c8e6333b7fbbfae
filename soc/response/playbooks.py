"""Incident-response playbooks, format v1: model, loading with file:line errors, suggestion.

A playbook is a YAML file under ``playbooks/`` (format reference: docs/playbooks.md). The JSON
Schema ``playbooks/schema.json`` is the one description of the format: files are checked against
it with ``jsonschema`` (so the schema and the checker cannot drift apart), then for what a schema
cannot say (unique step ids, forward branches, phase order, known rule ids and report kinds).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from soc.config import load_yaml
from soc.content import content_dir
from soc.errors import ConfigError, NotFoundError
from soc.timeutil import parse_duration

PLAYBOOK_DIR = content_dir("playbooks")
RULES_DIR = content_dir("rules")
SCHEMA_PATH = PLAYBOOK_DIR / "schema.json"


class PlaybookError(ConfigError):
    """A playbook file that cannot be used; carries the file and line."""

    default_hint = "Check it with 'soc playbooks validate FILE' (format: docs/playbooks.md)."


@dataclass(frozen=True)
class Issue:
    """One problem found in a playbook file."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else \
            f"{self.path}: {self.message}"

    def error(self) -> PlaybookError:
        return PlaybookError(self.message, path=self.path, line=self.line)


# --- vocabularies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A text in Vietnamese with English beside it."""

    vi: str
    en: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Text:
        return cls(str(data["vi"]), str(data["en"]))

    def to_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}

    def __str__(self) -> str:
        return f"{self.vi} ({self.en})"


class StepKind(StrEnum):
    MANUAL = "manual"
    QUERY = "query"
    HUNT = "hunt"
    EVIDENCE = "evidence"
    NOTIFY = "notify"
    REPORT = "report"
    DECISION = "decision"


INCIDENT_TYPES: Mapping[str, Text] = MappingProxyType({
    "dos": Text("Từ chối dịch vụ", "Denial of service"),
    "phishing": Text("Tấn công giả mạo", "Phishing, spoofing"),
    "malware": Text("Tấn công sử dụng mã độc", "Malware"),
    "unauthorized_access": Text("Truy cập trái phép, chiếm quyền điều khiển",
                                "Unauthorised access, takeover"),
    "defacement": Text("Thay đổi giao diện", "Defacement"),
    "ransomware": Text("Mã hóa phần mềm, dữ liệu, thiết bị", "Encryption (ransomware)"),
    "destruction": Text("Phá hoại thông tin, dữ liệu, phần mềm", "Destruction of data"),
    "data_theft": Text("Nghe trộm, gián điệp, lấy cắp thông tin, dữ liệu",
                       "Eavesdropping, espionage, data theft"),
    "combined": Text("Tấn công tổng hợp sử dụng kết hợp nhiều hình thức", "Combined attack"),
    "other": Text("Các hình thức tấn công khác", "Other"),
})
"""``incident.type``: the rows of TT 20 Mẫu 05 (REGULATIONS.md, incident classification)."""

PHASES: Mapping[str, tuple[Text, tuple[str, ...]]] = MappingProxyType({
    "chuan_bi": (Text("Chuẩn bị", "Preparation"), ("NIST SP 800-61r3 GV/ID/PR",)),
    "phat_hien": (Text("Phát hiện, xác định sự cố", "Detect and identify"),
                  ("NĐ 333/2026 Đ9.2.a", "NIST SP 800-61r3 DE")),
    "bao_ve_chung_cu": (Text("Bảo vệ hiện trường, thu thập và bảo quản chứng cứ",
                             "Protect the scene, collect and preserve evidence"),
                        ("NĐ 333/2026 Đ9.2.b", "NĐ 333/2026 Đ8.9")),
    "ngan_chan": (Text("Ngăn chặn, cô lập, hạn chế thiệt hại", "Contain and isolate"),
                  ("NĐ 333/2026 Đ9.2.c", "NIST SP 800-61r3 RS.MI")),
    "phan_tich": (Text("Phân tích, đánh giá, phân loại, xác định mức độ",
                       "Analyse, classify, set severity"),
                  ("NĐ 333/2026 Đ9.2.d", "NIST SP 800-61r3 RS.AN")),
    "bao_cao": (Text("Báo cáo, điều phối", "Report and coordinate"),
                ("NĐ 333/2026 Đ9.3.c", "TT 20/2017 Đ9", "QĐ 05/2017 Đ11",
                 "NIST SP 800-61r3 RS.CO")),
    "xu_ly_khoi_phuc": (Text("Ứng phó, khắc phục, khôi phục hoạt động",
                             "Respond, remediate, restore"),
                        ("NĐ 333/2026 Đ9.2.đ", "NIST SP 800-61r3 RC")),
    "truy_nguyen": (Text("Xác minh nguyên nhân, truy tìm nguồn gốc", "Verify cause, trace origin"),
                    ("NĐ 333/2026 Đ9.2.e",)),
    "tong_ket": (Text("Tổng kết, báo cáo kết thúc", "Close, final report, lessons learned"),
                 ("TT 20/2017 Đ9", "NĐ 331/2026 Đ31.2.d", "NĐ 331/2026 Đ10.2.d",
                  "NIST SP 800-61r3 ID.IM")),
})
"""Phase ids: NĐ 333 Đ9.2 activities and NIST SP 800-61r3 functions, in their usual order.

A playbook uses each at most once; preparation and detection come first, ``tong_ket`` last, and
the rest in the order the response needs (a serious incident reports before it contains).
"""


def format_duration(td: timedelta) -> str:
    """The format's duration text: the largest unit that divides evenly (``5d``, ``90m``)."""
    secs = int(td.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if secs and secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s" if secs else "0m"


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A deadline: ``within`` after T0 (``t0``) or after another step was done (``step:ID``)."""

    within: timedelta
    after: str = "t0"

    @property
    def after_step(self) -> str | None:
        return self.after[5:] if self.after.startswith("step:") else None

    def to_dict(self) -> dict[str, str]:
        return {"after": self.after, "within": format_duration(self.within)}


@dataclass(frozen=True)
class Question:
    """An investigation question answered by a query around the alert's time."""

    question: Text
    query: str
    before: timedelta = timedelta(hours=1)
    after: timedelta = timedelta(hours=1)
    limit: int = 100

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Question:
        rng = d.get("range") or {}
        return cls(Text.from_dict(d["question"]), str(d["query"]),
                   parse_duration(rng.get("before", "1h")), parse_duration(rng.get("after", "1h")),
                   int(d.get("limit", 100)))

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question.to_dict(), "query": self.query,
                "range": {"before": format_duration(self.before),
                          "after": format_duration(self.after)}, "limit": self.limit}


@dataclass(frozen=True)
class Choice:
    """One answer of a decision step: the step to go on with, and what the answer sets."""

    answer: str
    label: Text
    next: str
    classification: str | None = None
    flags: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Choice:
        sets = d.get("set") or {}
        return cls(str(d["answer"]), Text.from_dict(d["label"]), str(d["next"]),
                   sets.get("classification"), tuple(sets.get("flags", ())))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"answer": self.answer, "label": self.label.to_dict(),
                               "next": self.next}
        sets: dict[str, Any] = {}
        if self.classification:
            sets["classification"] = self.classification
        if self.flags:
            sets["flags"] = list(self.flags)
        if sets:
            out["set"] = sets
        return out


@dataclass(frozen=True)
class ActionRef:
    """A step that changes another system: the name of a configured action and its parameters."""

    name: str
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}


@dataclass(frozen=True)
class Step:
    id: str
    title: Text
    kind: StepKind
    role: str
    phase: str
    details: Text | None = None
    raci: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    when: str = "always"
    due: Due | None = None
    evidence: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()
    to: tuple[str, ...] = ()
    report: str | None = None
    choices: tuple[Choice, ...] = ()
    action: ActionRef | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], phase: str) -> Step:
        due = d.get("due")
        action = d.get("action")
        return cls(
            id=str(d["id"]), title=Text.from_dict(d["title"]), kind=StepKind(d["kind"]),
            role=str(d["role"]), phase=phase,
            details=Text.from_dict(d["details"]) if d.get("details") else None,
            raci=MappingProxyType(dict(d.get("raci") or {})), when=str(d.get("when", "always")),
            due=Due(parse_duration(due["within"]), str(due.get("after", "t0"))) if due else None,
            evidence=tuple(d.get("evidence", ())),
            questions=tuple(Question.from_dict(q) for q in d.get("questions", ())),
            to=tuple(d.get("to", ())), report=d.get("report"),
            choices=tuple(Choice.from_dict(c) for c in d.get("choices", ())),
            action=ActionRef(str(action["name"]), MappingProxyType(
                {str(k): str(v) for k, v in (action.get("params") or {}).items()}))
            if action else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "title": self.title.to_dict(),
                               "kind": self.kind.value, "role": self.role}
        optional: dict[str, Any] = {
            "details": self.details.to_dict() if self.details else None,
            "raci": dict(self.raci) or None,
            "when": self.when if self.when != "always" else None,
            "due": self.due.to_dict() if self.due else None,
            "evidence": list(self.evidence), "questions": [q.to_dict() for q in self.questions],
            "to": list(self.to), "report": self.report,
            "choices": [c.to_dict() for c in self.choices],
            "action": self.action.to_dict() if self.action else None,
        }
        out.update({k: v for k, v in optional.items() if v})
        return out


@dataclass(frozen=True)
class Phase:
    id: str
    title: Text
    basis: tuple[str, ...]
    steps: tuple[Step, ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Phase:
        pid = str(d["id"])
        title, basis = PHASES[pid]
        return cls(pid, Text.from_dict(d["title"]) if d.get("title") else title,
                   tuple(d.get("basis", basis)),
                   tuple(Step.from_dict(s, pid) for s in d["steps"]))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title.to_dict(), "basis": list(self.basis),
                "steps": [s.to_dict() for s in self.steps]}


@dataclass(frozen=True)
class Triggers:
    """What suggests a playbook: Sigma rule ids, ATT&CK tags, alert field values."""

    rules: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Triggers:
        fields = []
        for f in d.get("fields", ()):
            values = f["equals"] if isinstance(f["equals"], list) else [f["equals"]]
            fields.append((str(f["field"]), tuple(str(v) for v in values)))
        return cls(tuple(d.get("rules", ())), tuple(str(t).lower() for t in d.get("tags", ())),
                   tuple(fields))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rules": list(self.rules), "tags": list(self.tags),
                               "fields": [{"field": f, "equals": list(v)}
                                          for f, v in self.fields]}
        return {k: v for k, v in out.items() if v}

    def score(self, rule_ids: Iterable[str], tags: Iterable[str],
              fields: Mapping[str, Any]) -> int:
        """How well alerts fit: 10 per rule id, 3 per ATT&CK tag, 1 per field value."""
        rules = set(rule_ids)
        low = {t.lower() for t in tags}
        points = 10 * sum(1 for r in self.rules if r in rules)
        points += 3 * sum(1 for t in self.tags if any(a == t or a.startswith(t + ".")
                                                     for a in low))
        for name, values in self.fields:
            have = fields.get(name)
            seen = have if isinstance(have, list) else [have]
            points += any(str(v).lower() in {x.lower() for x in values} for v in seen
                          if v is not None)
        return points


@dataclass(frozen=True)
class Playbook:
    id: str
    version: str
    reviewed: date
    next_review: date
    title: Text
    incident_type: str
    severity: str
    triggers: Triggers
    phases: tuple[Phase, ...]
    classification: str = "ordinary"
    summary: Text | None = None
    applies_to_levels: tuple[int, ...] = ()
    references: tuple[str, ...] = ()
    roles: Mapping[str, Text] = field(default_factory=lambda: MappingProxyType({}))
    path: str | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str | None = None) -> Playbook:
        """Build from data that passed the schema (see :func:`check`)."""
        return cls(
            id=str(d["id"]), version=str(d["version"]),
            reviewed=date.fromisoformat(str(d["reviewed"])),
            next_review=date.fromisoformat(str(d["next_review"])),
            title=Text.from_dict(d["title"]), incident_type=str(d["incident_type"]),
            severity=str(d["severity"]), triggers=Triggers.from_dict(d["triggers"]),
            phases=tuple(Phase.from_dict(p) for p in d["phases"]),
            classification=str(d.get("classification", "ordinary")),
            summary=Text.from_dict(d["summary"]) if d.get("summary") else None,
            applies_to_levels=tuple(d.get("applies_to_levels", ())),
            references=tuple(d.get("references", ())),
            roles=MappingProxyType({k: Text.from_dict(v) for k, v in
                                    (d.get("roles") or {}).items()}),
            path=path,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": 1, "id": self.id, "version": self.version,
            "reviewed": self.reviewed.isoformat(), "next_review": self.next_review.isoformat(),
            "title": self.title.to_dict(), "incident_type": self.incident_type,
            "severity": self.severity, "classification": self.classification,
            "triggers": self.triggers.to_dict(), "phases": [p.to_dict() for p in self.phases],
        }
        if self.summary:
            out["summary"] = self.summary.to_dict()
        if self.applies_to_levels:
            out["applies_to_levels"] = list(self.applies_to_levels)
        if self.references:
            out["references"] = list(self.references)
        if self.roles:
            out["roles"] = {k: v.to_dict() for k, v in self.roles.items()}
        return out

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(s for p in self.phases for s in p.steps)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise NotFoundError(f"playbook {self.id} has no step {step_id!r}",
                            hint=f"List the steps with 'soc playbooks show {self.id}'.")


# --- validation --------------------------------------------------------------------------------


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def _line_at(data: Any, path: Sequence[Any]) -> int | None:
    """The line of the deepest node of ``path`` that the line-aware loader marked."""
    line: int | None = getattr(data, "line", None)
    node = data
    for key in path:
        if isinstance(node, dict):
            line = getattr(node, "key_lines", {}).get(str(key), line)
        elif not isinstance(node, list) or not isinstance(key, int) or key >= len(node):
            break
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "line", None) or line
    return line


def _where(path: Sequence[Any]) -> str:
    text = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")
    return text or "top level"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"


def _schema_issue(err: Any, data: Any, path: str) -> Issue:
    where = list(err.absolute_path)
    kind, sch = err.validator, err.validator_value
    if kind == "additionalProperties" and isinstance(err.instance, dict):
        extra = sorted(k for k in err.instance if k not in err.schema.get("properties", {}))
        key = extra[0] if extra else ""
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        return Issue(path, _line_at(data, [*where, key]),
                     f"{_where([*where, key])}: unknown key (allowed: {allowed})")
    if kind == "enum":
        message = f"must be one of {', '.join(map(str, sch))}, not {_short(err.instance)}"
    elif kind == "not" and isinstance(sch, dict) and "required" in sch:
        message = f"'{sch['required'][0]}' is not allowed here"
        where = [*where, sch["required"][0]]
    elif kind == "pattern":
        message = f"{_short(err.instance)} does not match {sch}"
    else:
        message = str(err.message) if len(str(err.message)) < 160 else \
            f"{_short(err.instance)} is not valid ({kind})"
    return Issue(path, _line_at(data, where), f"{_where(where)}: {message}")


def _semantic_issues(data: Mapping[str, Any], path: str, known_rules: set[str] | None,
                     report_kinds: set[str] | None) -> list[Issue]:
    issues: list[Issue] = []

    def add(where: list[Any], message: str) -> None:
        issues.append(Issue(path, _line_at(data, where), f"{_where(where)}: {message}"))

    if Path(path).suffix in {".yml", ".yaml"} and Path(path).stem != data["id"]:
        add(["id"], f"must equal the file name without extension ({Path(path).stem!r})")
    if str(data["next_review"]) <= str(data["reviewed"]):
        add(["next_review"], "must be after 'reviewed'")
    phase_ids = [p["id"] for p in data["phases"]]
    for i, pid in enumerate(phase_ids):
        if pid in phase_ids[:i]:
            add(["phases", i, "id"], f"phase {pid!r} appears twice")
        elif pid in {"chuan_bi", "phat_hien"} and set(phase_ids[:i]) - {"chuan_bi"}:
            add(["phases", i, "id"], f"phase {pid!r} comes before the response phases")
        elif pid == "tong_ket" and i != len(phase_ids) - 1:
            add(["phases", i, "id"], "phase 'tong_ket' comes last")
    located = [(s, ["phases", pi, "steps", si]) for pi, p in enumerate(data["phases"])
               for si, s in enumerate(p["steps"])]
    index: dict[str, int] = {}
    for n, (step, where) in enumerate(located):
        if step["id"] in index:
            add([*where, "id"], f"step id {step['id']!r} is used twice")
        index.setdefault(step["id"], n)
    roles = set(data.get("roles") or {})
    for n, (step, where) in enumerate(located):
        _check_step(step, where, n, index, roles, report_kinds, add)
    for i, rule in enumerate(data["triggers"].get("rules") or []):
        if known_rules is not None and rule not in known_rules:
            add(["triggers", "rules", i], f"no rule with id {rule} in the rules")
    return issues


def _check_step(step: Mapping[str, Any], where: list[Any], n: int, index: Mapping[str, int],
                roles: set[str], report_kinds: set[str] | None,
                add: Callable[[list[Any], str], None]) -> None:
    for c, choice in enumerate(step.get("choices", ())):
        target = index.get(choice["next"])
        if target is None:
            add([*where, "choices", c, "next"], f"no step {choice['next']!r} in this playbook")
        elif target <= n:
            add([*where, "choices", c, "next"], "branches go forward: name a later step")
    after = (step.get("due") or {}).get("after", "t0")
    if after.startswith("step:") and index.get(after[5:], n) >= n:
        add([*where, "due", "after"], f"{after[5:]!r} must be an earlier step of this playbook")
    named = [step["role"], *(step.get("raci") or {}).get("consulted", ()),
             *(step.get("raci") or {}).get("informed", ())]
    if (step.get("raci") or {}).get("accountable"):
        named.append(step["raci"]["accountable"])
    for role in named:
        if roles and role not in roles:
            add([*where, "role"], f"role {role!r} is not in the playbook's roles")
    if report_kinds is not None and step.get("report") and step["report"] not in report_kinds:
        add([*where, "report"], f"no report kind {step['report']!r} in the regulatory profiles")


def _dates_as_text(node: Any) -> None:
    """YAML reads ``2026-11-20`` as a date; the format (JSON) has text dates."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, date):
            node[key] = value.isoformat()
        else:
            _dates_as_text(value)


def check(data: Any, path: str, *, known_rules: set[str] | None = None,
          report_kinds: set[str] | None = None) -> list[Issue]:
    """Every problem of a loaded playbook document: schema first, then the semantic checks."""
    _dates_as_text(data)
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    issues = [_schema_issue(e, data, path) for e in errors]
    if issues:
        return sorted(issues, key=lambda i: i.line or 0)
    return sorted(_semantic_issues(data, path, known_rules, report_kinds),
                  key=lambda i: i.line or 0)


def known_rule_ids(paths: Iterable[Path] = (RULES_DIR,)) -> set[str]:
    """The ids of the Sigma rules under ``paths`` (pipelines/ and tests/ folders excluded)."""
    ids: set[str] = set()
    for base in paths:
        files = [base] if base.is_file() else sorted(base.rglob("*.y*ml"))
        for file in files:
            if {"pipelines", "tests"} & set(file.relative_to(base).parts[:-1]):
                continue
            try:
                docs = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
            except (OSError, yaml.YAMLError, UnicodeDecodeError):
                continue  # 'soc rules check' reports unreadable rules
            ids.update(str(d["id"]) for d in docs if isinstance(d, dict) and "id" in d)
    return ids


def load_playbook(path: Path, *, known_rules: set[str] | None = None,
                  report_kinds: set[str] | None = None) -> Playbook:
    """Load and check one playbook file; the first problem raises :class:`PlaybookError`."""
    try:
        data = load_yaml(path)
    except ConfigError as exc:
        raise PlaybookError(exc.message, path=exc.path, line=exc.line) from exc
    issues = check(data, str(path), known_rules=known_rules, report_kinds=report_kinds)
    if issues:
        raise issues[0].error()
    return Playbook.from_dict(data, str(path))


def validate_files(paths: Iterable[Path], *, known_rules: set[str] | None = None,
                   report_kinds: set[str] | None = None) -> list[Issue]:
    """Every problem in every file (batch work collects, then summarises)."""
    issues: list[Issue] = []
    for path in paths:
        try:
            data = load_yaml(path)
        except ConfigError as exc:
            issues.append(Issue(str(path), exc.line, exc.message))
            continue
        issues += check(data, str(path), known_rules=known_rules, report_kinds=report_kinds)
    return issues


def playbook_files(dirs: Iterable[Path] = (PLAYBOOK_DIR,)) -> list[Path]:
    """The playbook files of some folders (the profiles/ folder holds no playbooks)."""
    return [f for d in dirs for f in sorted(d.glob("*.yml")) + sorted(d.glob("*.yaml"))]


def load_playbooks(dirs: Iterable[Path] = (PLAYBOOK_DIR,)) -> dict[str, Playbook]:
    """All playbooks of some folders by id; the first invalid one raises."""
    out: dict[str, Playbook] = {}
    for file in playbook_files(dirs):
        book = load_playbook(file)
        if book.id in out:
            raise PlaybookError(f"playbook id {book.id!r} is also used by {out[book.id].path}",
                                path=file)
        out[book.id] = book
    return out


def suggest(playbooks: Iterable[Playbook], *, rule_ids: Iterable[str], tags: Iterable[str],
            fields: Mapping[str, Any]) -> list[tuple[Playbook, int]]:
    """Playbooks whose triggers fit the alerts, best first (ties: by id)."""
    rules, tag_list = list(rule_ids), list(tags)
    scored = [(b, b.triggers.score(rules, tag_list, fields)) for b in playbooks]
    return sorted([(b, s) for b, s in scored if s > 0], key=lambda bs: (-bs[1], bs[0].id))
