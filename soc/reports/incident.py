"""Incident documents: pick the report kind (a duty of the incident's profile), fill its form
from the incident, and apply the values the team adds by hand (``--set``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from soc.config import Config
from soc.errors import InputError, NotFoundError
from soc.reports.facts import Facts
from soc.reports.forms import Document, apply_overrides
from soc.reports.incident_forms import BUILDERS, template_of
from soc.reports.settings import load_settings
from soc.response import incidents
from soc.response.profiles import Duty, Profile
from soc.response.records import Incident, StepState
from soc.stores.base import Store


def incident_kinds(profile: Profile) -> list[Duty]:
    """The duties of a profile soc can write a document for."""
    return [d for d in profile.duties if template_of(d) in BUILDERS]


def choose_duty(inc: Incident, profile: Profile, kind: str | None) -> Duty:
    """The named duty, else the incident's first report step still open whose duty applies."""
    if kind:
        duty = profile.duty(kind)
        if duty is None:
            known = ", ".join(d.id for d in incident_kinds(profile))
            raise NotFoundError(f"profile {profile.id} has no report kind {kind!r}",
                                hint=f"Kinds under {profile.id}: {known}.")
        return duty
    for rec in inc.steps:
        if rec.spec.report and rec.state in (StepState.PENDING, StepState.IN_PROGRESS):
            duty = profile.duty(rec.spec.report)
            if duty is not None and template_of(duty) in BUILDERS:
                return duty
    applying = [d for d in incident_kinds(profile) if d.applies(inc.classification, inc.flags)]
    if not applying:
        raise InputError(f"no report kind applies to incident {inc.id}",
                         hint="Name one: soc report incident ID KIND (soc report kinds).")
    return applying[0]


def build_incident_document(inc: Incident, config: Config, profile: Profile, duty: Duty, *,
                            now: datetime | None = None,
                            values: Mapping[str, str] | None = None) -> Document:
    """The filled form of one duty for one incident."""
    template = template_of(duty)
    builder = BUILDERS.get(template or "")
    if builder is None:
        raise InputError(f"soc has no template for {duty.id} ({duty.title.vi}, form "
                         f"{duty.form or 'none'})",
                         hint="Write it by hand for now; kinds soc fills: "
                              + ", ".join(d.id for d in incident_kinds(profile)))
    facts = Facts(inc, config, load_settings(config), profile, now or datetime.now(UTC),
                  config.tz)
    return apply_overrides(builder(facts, duty), values or {})


def incident_document(store: Store, config: Config, incident_id: str, kind: str | None = None,
                      *, now: datetime | None = None,
                      values: Mapping[str, str] | None = None) -> tuple[Document, Duty]:
    """Load the incident and fill the form of ``kind`` (default: the next report due)."""
    inc = incidents.get(store, incident_id)
    profile = incidents.profile_of(inc)
    duty = choose_duty(inc, profile, kind)
    return build_incident_document(inc, config, profile, duty, now=now, values=values), duty
