"""Response models: what the API promises its callers, published in the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowsight.schemas.text import LINE_BREAKS_ONLY, LINE_BREAKS_ONLY_PATTERN
from flowsight.services.escalation import CATCHING_UP, NO_FIGURES, NO_THRESHOLDS

NOT_SCORED_REASON = (
    "why `level` is null, the scope not scored (its level unknown, never OPEL 1): "
    f"'{NO_FIGURES}' (nothing to score: a service that has reported no event or capacity, or "
    f"whose figures cannot be scored yet; the system with no service scored), '{NO_THRESHOLDS}' "
    f"(a service with no thresholds in the catalogue is never scored) or '{CATCHING_UP}' (its "
    "first scores came while the worker caught up, when levels are held); null when `level` is "
    "known"
)


class CapacityOut(BaseModel):
    open: int
    total: int | None
    unit: str
    as_of: datetime


class IndicatorOut(BaseModel):
    name: str
    unit: str
    value: float | None
    level: int | None
    weight: float
    higher_is_worse: bool
    thresholds: dict[str, float] = Field(description="the values at which levels 2, 3 and 4 begin")


class ServicePressure(BaseModel):
    id: str
    name: str
    organisation: str
    kind: str
    level: int | None = Field(
        description="published OPEL level: 1 steady to 4 extreme; null when the service has "
        "never been scored with a level (`not_scored_reason` says why)"
    )
    not_scored_reason: str | None = Field(description=NOT_SCORED_REASON)
    scored_level: int | None = Field(
        description="the level the latest score maps to; a lower one is published only after "
        "it has held for the hold period"
    )
    score: float | None = Field(description="weighted mean of the indicator levels, 1 to 4")
    indicators: list[IndicatorOut] = Field(description="why: each indicator's value and thresholds")
    scored_at: datetime | None
    queue_length: int = Field(
        description="patients with an open referral, not yet admitted; for a front door, the "
        "patients in the department; for the transfer-of-care hub, its open assessments"
    )
    longest_wait_minutes: float | None
    capacity: CapacityOut | None


class SystemPressure(BaseModel):
    level: int | None = Field(
        description="published OPEL level of the system, over the services scored with a level "
        "(one not scored is left out, not counted as level 1); null when it has never been "
        "scored with a level (`not_scored_reason` says why)"
    )
    not_scored_reason: str | None = Field(description=NOT_SCORED_REASON)
    scored_level: int | None = Field(description="the level the latest score maps to")
    score: float | None = Field(description="weighted mean of the services' levels")
    acute_level: int | None = Field(
        None,
        description="the acute services' level (front door and inpatients combined): the system "
        "level is never below it (integrated OPEL framework 2024-26)",
    )
    scored_at: datetime | None
    queue_length: int = Field(
        description="entries in every service's queue (the sum of the services' queue_length): "
        "a person in two queues counts in each"
    )


class PressureOut(BaseModel):
    as_of: datetime
    system: SystemPressure
    services: list[ServicePressure]


class QueueEntryOut(BaseModel):
    pseudonym: str = Field(description="keyed pseudonym of the patient (HMAC-SHA-256)")
    referred_at: datetime = Field(
        description="when the patient joined the queue: referred, arrived in the department "
        "(front door) or assessment opened (transfer-of-care hub)"
    )
    joined_by: Literal["referral", "arrival", "assessment"] = Field(
        description="what the entry is: a waiting referral, a patient in the department, an "
        "open assessment"
    )
    waiting_minutes: float
    referring_service: str | None = Field(description="the referral's; null for the others")
    pathway: str | None
    priority: str | None
    assessment_kind: str | None = Field(description="an open assessment's kind; else null")


class QueueOut(BaseModel):
    service: str
    as_of: datetime
    length: int
    longest_wait_minutes: float | None
    entries: list[QueueEntryOut] | None = Field(
        description="patient-level entries, longest wait first; null without the caseload role"
    )
    limit: int
    offset: int


Figures = dict[str, float | int | None]


class ServiceOut(BaseModel):
    id: str
    name: str
    organisation: str
    kind: str
    capacity_unit: str
    capacity: int | None


class ServiceSummary(ServiceOut):
    today: Figures | None = Field(
        description="today's figures as last computed by the worker (every 30 s by default)"
    )


class ServiceDetail(BaseModel):
    service: ServiceOut
    as_of: datetime
    open_capacity: int | None = Field(
        description="beds (slots, hours) open now, what occupancy divides by: the latest "
        "capacity report made by now, else the catalogue's `service.capacity`; null with neither"
    )
    open_capacity_reported: bool = Field(
        description="whether `open_capacity` is a capacity report's (else the catalogue's)"
    )
    current: Figures = Field(description="figures as of now: queue, occupancy, delays")
    today: Figures = Field(description="since midnight (Europe/London)")
    this_week: Figures = Field(description="since Monday midnight (Europe/London)")


class DailyOut(BaseModel):
    service: str
    days: list[dict[str, float | int | str | None]] = Field(
        description="one row per day (Europe/London) from the service's first event, oldest "
        "first: `day`, the day's figures (current ones as of its end) and "
        "`period_lost_bed_days` (every midnight of the day with a delay running); see "
        "docs/metrics.md"
    )
    provisional_from: date = Field(
        description="rows of this day and later carry provisional figures (`provisional_figures`):"
        " the 30-day follow-up of those days has not ended, so their values may still rise"
    )
    provisional_figures: list[str] = Field(
        description="the figures provisional on the rows from `provisional_from`: readmission "
        "rates (`readmitted_30d_pct`)"
    )


LOST_BED_DAYS = (
    "midnights (Europe/London) since the Discharge Ready Date, summed over the delays in "
    "bed-based services only (capacity in beds): a delay at home holds no bed"
)
DELAYED_DAYS_HOME_BASED = (
    "the same midnights summed over the delays in services without beds (reablement, home "
    "care, UCR): people at home ready to move on to the next service (hidden delays); not "
    "bed days, so not in lost_bed_days"
)


class DelayGroup(BaseModel):
    key: str
    count: int = Field(description="delays running now, in beds and at home")
    lost_bed_days: int = Field(description=LOST_BED_DAYS)
    delayed_days_home_based: int = Field(0, description=DELAYED_DAYS_HOME_BASED)


#: The order of the delay groups but the bands.
MOST_DAYS_FIRST = "most days first: lost bed days and days delayed at home together"


class DelaysOut(BaseModel):
    as_of: datetime
    count: int = Field(
        description="patients with no criteria to reside (delays running now), in a bed or, "
        "ready to move on, in a service without beds; each once, where `by_service` counts a "
        "patient delayed in two services in each"
    )
    in_beds: int = Field(
        0,
        description="of them, the patients delayed in a bed (bed-based services), each once: "
        "the acute and community discharge sitreps' count; the rest are ready to move on at home",
    )
    hidden_delays: int = Field(0, description="delays running in services without beds")
    lost_bed_days: int = Field(description=LOST_BED_DAYS)
    delayed_days_home_based: int = Field(0, description=DELAYED_DAYS_HOME_BASED)
    by_service: list[DelayGroup] = Field(description=MOST_DAYS_FIRST)
    by_reason: list[DelayGroup] = Field(description=MOST_DAYS_FIRST)
    by_pathway: list[DelayGroup] = Field(description=MOST_DAYS_FIRST)
    by_band: list[DelayGroup] = Field(
        description="shortest band first, each apart: under 7, 7 to 13, 14 to 20, 21+"
    )


class DelayedPatient(BaseModel):
    pseudonym: str
    service: str
    ready_since: datetime = Field(description="the Discharge Ready Date")
    days: int
    band: str
    reason: str | None
    pathway: str | None


class DelayedPatientsOut(BaseModel):
    as_of: datetime
    total: int
    patients: list[DelayedPatient]
    limit: int
    offset: int


class AnomalyCount(BaseModel):
    service: str
    kind: str
    count: int


class DeliveryOut(BaseModel):
    route: str
    state: str = Field(description="pending, delivering, delivered or failed")
    attempts: int
    last_error: str | None = Field(
        description="the receiver's last refusal or error; shown to on-call and admin only"
    )
    delivered_at: datetime | None


class AlertOut(BaseModel):
    id: str
    scope: str
    level_from: int
    level_to: int
    direction: str = Field(description="escalation or de-escalation")
    at: datetime
    reason: str
    score: float | None
    evidence: dict[str, object] = Field(description="the indicators, values and thresholds")
    state: str = Field(description="open or acknowledged")
    acknowledged_by: str | None = Field(
        description="who acknowledged it, as the audit log names callers: key:<name>, "
        "oidc:<subject> or local:<name> (an acknowledgement recorded before callers were named "
        "so keeps the bare name)"
    )
    acknowledged_at: datetime | None
    acknowledged_note: str | None
    deliveries: list[DeliveryOut]


class AlertsOut(BaseModel):
    alerts: list[AlertOut]
    total: int
    limit: int
    offset: int


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, LINE_BREAKS_ONLY] | None = Field(
        None,
        max_length=2000,
        description="what is being done about it; an NHS number written in it is blanked",
        json_schema_extra={"pattern": LINE_BREAKS_ONLY_PATTERN},
    )


class ThresholdIn(BaseModel):
    # Numbers only, as the document says: not `true` or "25" read as one, nor NaN or Infinity
    # (JSON has neither, Python's reader takes both); no field but these.
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    level2: float
    level3: float
    level4: float
    weight: float = Field(1.0, gt=0)


class ThresholdsOut(BaseModel):
    services: dict[str, dict[str, ThresholdIn]] = Field(
        description="service → indicator → thresholds in force (catalogue, then run-time changes)"
    )


class ProblemOut(BaseModel):
    """An RFC 9457 problem details document, as every error is answered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, str]] | None = Field(
        None, description="for invalid input: each field at fault and what is wrong with it"
    )


def _problem(description: str) -> dict[str, object]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": ProblemOut.model_json_schema()}},
    }


#: The errors every read endpoint behind a role can answer, for `responses=` in OpenAPI.
PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    401: _problem("no credential, or one that is not valid"),
    403: _problem("the caller lacks the role this needs"),
    422: _problem("a query parameter is invalid; `errors` names it"),
    503: _problem("the read model could not answer"),
}


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    principal: str = Field(description="who: key:<name>, oidc:<subject> or local:<name>")
    action: str = Field(
        description="what, e.g. read_delayed_patients, read_audit_log, set_threshold, or refused"
    )
    resource: str = Field(description="the path and query read, or the thing changed")
    client: str | None = Field(description="the caller's address")
    detail: dict[str, object] | None = Field(
        description="for patient-level reads: `patients`, the pseudonyms the answer showed, in "
        "its order; for reads of the audit log: `lines`, the ids of the lines it showed; for "
        "admin changes: before and after; for refusals: the status and the role needed"
    )


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]
    total: int
    limit: int
    offset: int
