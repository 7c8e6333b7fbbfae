"""What an incident document says, gathered once from the incident record, the inventory, the
profile and the ``reports:`` settings: the sender, the affected system, the incident itself, its
timeline, the reports already sent, and the heading and signature blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from soc.config import Config, System
from soc.reports import fmt
from soc.reports.forms import Heading, Signature
from soc.reports.settings import ReportSettings
from soc.response.playbooks import INCIDENT_TYPES, StepKind
from soc.response.profiles import Duty, Profile, resolve
from soc.response.records import OPEN_STATES, Incident, StepState

NETWORK_DATASETS = ("suricata", "zeek", "network", "fortigate", "cisco", "pfsense", "iptables",
                    "netflow", "snort")
NOT_MEASURES = (StepKind.REPORT, StepKind.DECISION)
TIMELINE_KINDS = {"opened": "Tiếp nhận, mở hồ sơ sự cố", "classify": "Phân loại, đánh giá",
                  "closed": "Kết thúc ứng phó"}


@dataclass(frozen=True)
class Facts:
    """Everything the incident forms draw from, already formatted for Vietnamese documents."""

    inc: Incident
    config: Config
    settings: ReportSettings
    profile: Profile
    now: datetime
    tz: ZoneInfo

    # --- the affected system ------------------------------------------------------------------

    @property
    def systems(self) -> list[System]:
        found = [self.config.system(str(s["id"])) for s in self.inc.systems]
        return [s for s in found if s is not None]

    @property
    def system(self) -> System | None:
        return self.systems[0] if self.systems else None

    def detail(self, key: str) -> str:
        """A per-system detail from ``reports.systems`` (lists joined), for every system."""
        values: list[str] = []
        for s in self.systems:
            value = self.settings.system(s.id).get(key)
            if isinstance(value, list):
                values.extend(str(v) for v in value)
            elif value:
                values.append(str(value))
        return ", ".join(dict.fromkeys(values))

    def detail_list(self, key: str) -> set[str]:
        return {v.strip() for v in self.detail(key).split(",") if v.strip()}

    @property
    def system_names(self) -> str:
        return "; ".join(s.name or s.id for s in self.systems) or ", ".join(
            str(s.get("name") or s.get("id")) for s in self.inc.systems)

    @property
    def levels(self) -> set[int]:
        return {int(s["security_level"]) for s in self.inc.systems if s.get("security_level")}

    def unit_name(self, unit_id: str) -> str:
        unit = self.config.unit(unit_id)
        return unit.name if unit and unit.name else unit_id

    @property
    def operator(self) -> str:
        s = self.system
        if s is None:
            return ""
        return s.operator or self.unit_name(s.unit)

    @property
    def owner_agency(self) -> str:
        s = self.system
        return (s.owner if s and s.owner else "") or self.settings.org("owner_agency")

    @property
    def addresses(self) -> str:
        """Domain names and public IP addresses of the affected systems."""
        hosts = [h for s in self.systems for h in s.hostnames if "." in h]
        return ", ".join(dict.fromkeys([*self.detail_list("domains"), *hosts,
                                        *self.detail_list("public_ips")]))

    # --- the incident -------------------------------------------------------------------------

    @property
    def type_vi(self) -> str:
        label = INCIDENT_TYPES.get(self.inc.type)
        return label.vi if label else self.inc.type

    def values(self, key: str, limit: int = 8) -> list[str]:
        return list(self.inc.fields.get(key, ()))[:limit]

    @property
    def description(self) -> str:
        """The short description: what, on what, from where, how serious, first assessment."""
        inc = self.inc
        parts = [f"{inc.title}.", f"Loại sự cố: {self.type_vi}.",
                 f"Phân loại: {fmt.CLASSIFICATION_VI.get(inc.classification, inc.classification)}."]
        rules = self.values("rule.name")
        if rules:
            parts.append(f"Phát hiện qua {len(inc.alerts)} cảnh báo của hệ thống giám sát: "
                         f"{'; '.join(rules)}.")
        if self.values("source.ip"):
            parts.append(f"Địa chỉ nguồn tấn công: {', '.join(self.values('source.ip'))}.")
        targets = [*self.values("host.name"), *self.values("destination.ip")]
        if targets:
            parts.append(f"Đối tượng bị tấn công: {', '.join(dict.fromkeys(targets))}.")
        if self.values("user.name"):
            parts.append(f"Tài khoản liên quan: {', '.join(self.values('user.name'))}.")
        if inc.window[0]:
            parts.append(f"Hoạt động từ {fmt.datetime_vn(inc.window[0], self.tz)} đến "
                         f"{fmt.datetime_vn(inc.window[1], self.tz)}.")
        return " ".join(parts)

    @property
    def detected_by_ids(self) -> bool:
        return any(d.startswith(NETWORK_DATASETS) for d in self.values("event.dataset", 50))

    @property
    def detected_in_logs(self) -> bool:
        datasets = self.values("event.dataset", 50)
        return not datasets or any(not d.startswith(NETWORK_DATASETS) for d in datasets)

    def sent(self) -> list[tuple[Duty, str]]:
        """Reports already sent: (duty, when), from the report steps marked done."""
        out = []
        for rec in self.inc.steps:
            if rec.spec.kind is StepKind.REPORT and rec.state is StepState.DONE and rec.spec.report:
                duty = self.profile.duty(rec.spec.report)
                if duty is not None:
                    out.append((duty, rec.done_at or ""))
        return out

    def sent_to(self) -> set[str]:
        return {role for duty, _ in self.sent() for role in duty.to}

    def done_steps(self) -> list[str]:
        """The measures taken: steps done, but neither reports nor decisions (a decision's
        title is a question, and its answer is the classification, not a measure)."""
        return [rec.spec.title.vi for rec in self.inc.steps if rec.state is StepState.DONE
                and rec.spec.kind not in NOT_MEASURES]

    def open_steps(self, *, decisions: bool = False) -> list[tuple[str, str]]:
        """Steps still to do: (title, role), in playbook order (the response plan). Decisions
        only with ``decisions`` (a plan of who does what), as ``Quyết định: <question>``."""
        return [(f"Quyết định: {rec.spec.title.vi}" if rec.spec.kind is StepKind.DECISION
                 else rec.spec.title.vi, rec.assignee or rec.spec.role)
                for rec in self.inc.steps if rec.state in OPEN_STATES
                and rec.spec.kind is not StepKind.REPORT
                and (decisions or rec.spec.kind is not StepKind.DECISION)]

    def timeline(self) -> list[tuple[str, str]]:
        """(time, description) rows: the incident's timeline in local time."""
        rows = []
        for e in self.inc.timeline:
            label = TIMELINE_KINDS.get(e.kind)
            what = f"{label}: {e.text}" if label else e.text
            rows.append((fmt.datetime_vn(e.ts, self.tz), f"{what} ({e.actor})"))
        return rows

    @property
    def evidence(self) -> str:
        return "; ".join(f"{e.name} (SHA-256 {e.sha256[:16]}…, {fmt.number(e.size)} byte)"
                         for e in self.inc.evidence)

    # --- blocks of the document ---------------------------------------------------------------

    def heading(self, duty: Duty | None) -> Heading:
        org = self.settings.org("name") or self.operator
        number = f"Số:        /{self.settings.number_prefix}-{self.inc.id}"
        return Heading(self.settings.org("owner_agency").upper(), org.upper(), number,
                       fmt.place_date(self.settings.place, self.now, self.tz))

    def recipients(self, duty: Duty | None) -> tuple[str, ...]:
        if duty is None:
            return ()
        out = []
        for r in resolve(self.config, duty.to, self.inc.units, self.profile):
            label = r.label.vi if r.label else r.role
            names = ", ".join(dict.fromkeys(c.organization or c.name for c in r.contacts
                                            if c.organization or c.name))
            out.append(f"{label}" + (f" ({names})" if names else ""))
        return tuple(out)

    def signature(self) -> Signature:
        sig = self.settings.signatory
        return Signature(str(sig.get("authority", "")), str(sig.get("title", "")) or
                         "THỦ TRƯỞNG ĐƠN VỊ", str(sig.get("name", "")))
