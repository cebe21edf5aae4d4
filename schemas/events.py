"""Event contract v1 (SPEC section 3): what integration teams publish, one JSON object an event."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from flowsight.schemas.codes import (
    AdmissionMethod,
    AssessmentKind,
    AssessmentStatus,
    AttendanceOutcome,
    CapacityUnit,
    DelayReason,
    DischargeDestination,
    Pathway,
    ReferralStatus,
)
from flowsight.schemas.nhs_number import nhs_number_problem, normalise_nhs_number
from flowsight.schemas.text import NextStep, Text

SCHEMA_VERSION: Literal["1"] = "1"

#: ODS-style organisation code, a slash, then the publishing system: "RR8/pas".
SOURCE_PATTERN = r"^[A-Za-z0-9]{2,10}/[A-Za-z0-9._-]{1,64}$"
SERVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"

ServiceId = Annotated[str, Field(pattern=SERVICE_ID_PATTERN, description="a service id")]
#: Hours of care a week: a JSON number, finite ("12" or `true` read as 12 or 1 hour changed the
#: care a patient needs; Infinity, which only a lenient JSON reader takes, travelled on as null).
Hours = Annotated[NonNegativeFloat, Field(strict=True, allow_inf_nan=False)]
#: A JSON `true` or `false`: "no", "off", 0 or 0.0 were read as false, "1" as true.
Flag = Annotated[bool, Field(strict=True)]


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PatientIdentity(_Contract):
    """Who the event is about: an NHS number, a source-local identifier, or both."""

    nhs_number: str | None = Field(None, description="10 digits, valid Modulus 11 check digit")
    local_id: Text | None = None
    id_system: Text | None = Field(None, description="the system that issued local_id")

    @field_validator("nhs_number")
    @classmethod
    def _valid_nhs_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalised = normalise_nhs_number(value)
        problem = nhs_number_problem(normalised)
        if problem:
            raise ValueError(f"NHS number {problem}")
        return normalised

    @model_validator(mode="after")
    def _at_least_one_identifier(self) -> PatientIdentity:
        if self.nhs_number is None and self.local_id is None:
            raise ValueError("patient needs nhs_number or local_id")
        if self.local_id is not None and self.id_system is None:
            raise ValueError("local_id needs id_system")
        return self


def organisation_of(source: str) -> str:
    """The organisation code of a `source` ("RR8/pas" → "RR8"), for events not yet validated."""
    return source.split("/", 1)[0]


def _rfc3339(value: object) -> object:
    """Refuse what pydantic would also read as a moment but RFC 3339 is not: a number, or a
    string of one (Unix time), so `occurred_at: 1764580000` is an error naming the field rather
    than an event in December 2025."""
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    ):
        raise ValueError("must be an RFC 3339 date-time with an offset, not a number")
    return value


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: The years a moment of patient flow can fall in. Outside them a time is a sender's error
#: (0001-01-01, 2999-01-01), and one near year 1 cannot even be read as a London day.
PLAUSIBLE_YEARS = range(1900, 2100)


def _plausible(value: datetime) -> datetime:
    try:
        year = value.astimezone(UTC).year
    except OverflowError:  # 0001-01-01T00:30+01:00 is in year 0 in UTC
        year = 0
    if year not in PLAUSIBLE_YEARS:
        first, last = PLAUSIBLE_YEARS[0], PLAUSIBLE_YEARS[-1]
        raise ValueError(f"must fall in the years {first} to {last}")
    return value


#: A moment as the contract has it: RFC 3339, with a UTC offset, in a plausible year.
Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_plausible)]


class Envelope(_Contract):
    """Fields every event carries."""

    event_id: Text = Field(
        description="unique within source: the same event sent again is absorbed, another event "
        "under an id already recorded is dead-lettered event_id_reused"
    )
    schema_version: Literal["1"] = SCHEMA_VERSION
    source: str = Field(pattern=SOURCE_PATTERN, description="organisation/system, e.g. RR8/pas")
    occurred_at: Moment = Field(description="when it happened, RFC 3339 with offset")
    service: ServiceId
    correlation_id: Text | None = None
    recorded_at: Moment | None = Field(
        None,
        description="when the source recorded this sending of the event (HL7 EVN-2, FHIR "
        "meta.lastUpdated), RFC 3339 with offset: sent again under the id of an event a "
        "cancellation retracted, and recorded after that cancellation, the event takes effect "
        "again",
    )

    @property
    def organisation(self) -> str:
        """The organisation code part of `source`."""
        return organisation_of(self.source)


class PatientEvent(Envelope):
    """Fields every event about a patient carries."""

    patient: PatientIdentity
    episode_id: Text = Field(description="the source's encounter, spell or referral id")


class Attendance(PatientEvent):
    event_type: Literal["attendance"]
    arrived_at: Moment
    departed_at: Moment | None = None
    outcome: AttendanceOutcome | None = None

    @field_validator("departed_at")
    @classmethod
    def _departs_after_arrival(
        cls, value: datetime | None, info: ValidationInfo
    ) -> datetime | None:
        arrived = info.data.get("arrived_at")
        if value is not None and arrived is not None and value < arrived:
            raise ValueError("departed_at is before arrived_at")
        return value


class Admission(PatientEvent):
    event_type: Literal["admission"]
    unit: Text | None = None
    admission_method: AdmissionMethod
    care_hours_per_week: Hours | None = None


class Transfer(PatientEvent):
    event_type: Literal["transfer"]
    from_service: ServiceId
    to_service: ServiceId
    to_unit: Text | None = None


class Referral(PatientEvent):
    event_type: Literal["referral"]
    to_service: ServiceId
    pathway: Pathway | None = None
    priority: Text | None = None
    status: ReferralStatus
    next_step: NextStep | None = None


class Assessment(PatientEvent):
    event_type: Literal["assessment"]
    kind: AssessmentKind
    status: AssessmentStatus
    meets_criteria_to_reside: Flag | None = Field(None, validate_default=True)
    discharge_ready_at: Moment | None = None
    delay_reason: DelayReason | None = None
    pathway: Pathway | None = None
    care_need_hours: Hours | None = None
    next_step: NextStep | None = None

    @field_validator("meets_criteria_to_reside")
    @classmethod
    def _ctr_review_says_whether_criteria_met(
        cls, value: bool | None, info: ValidationInfo
    ) -> bool | None:
        if info.data.get("kind") == AssessmentKind.CTR_REVIEW and value is None:
            raise ValueError("a ctr_review needs meets_criteria_to_reside")
        return value


class Discharge(PatientEvent):
    event_type: Literal["discharge"]
    destination: DischargeDestination
    pathway: Pathway | None = None
    care_hours_per_week: Hours | None = None
    independent: Flag | None = None


class Capacity(Envelope):
    # Whole JSON numbers only (`true` or "12" read as one moved pressure), and no more open than
    # in all: 10^9 open beds of 185 masked a ward at OPEL 3 as 0 % occupied.
    event_type: Literal["capacity"]
    open: Annotated[NonNegativeInt, Field(strict=True)]
    total: Annotated[NonNegativeInt, Field(strict=True)] | None = None
    unit: CapacityUnit

    @field_validator("total")
    @classmethod
    def _open_within_total(cls, total: int | None, info: ValidationInfo) -> int | None:
        opened = info.data.get("open")
        if total is not None and opened is not None and opened > total:
            raise ValueError(f"is less than open ({opened}): no more can be open than there are")
        return total


class Cancellation(PatientEvent):
    event_type: Literal["cancellation"]
    cancels_event_id: Text
    if_present: Flag | None = Field(
        None,
        description="true: the event named may never have been sent (a record sent again in a "
        "state that undoes what an earlier version of it may have said: an Encounter back "
        "in-progress after a discharge). It retracts the issues recorded at or before its own "
        "time (recorded_at, else occurred_at), and naming an event that never arrived is no "
        "anomaly. false is the same as absent",
    )

    @field_validator("if_present")
    @classmethod
    def _false_is_absent(cls, value: bool | None) -> bool | None:
        # Stored only when true: a cancellation sent with false is the same sending as one
        # without the field (services/repeats.py compares what was stored).
        return value or None


Event = Annotated[
    Attendance | Admission | Transfer | Referral | Assessment | Discharge | Capacity | Cancellation,
    Field(discriminator="event_type"),
]

EVENT_TYPES: dict[str, type[Envelope]] = {
    "attendance": Attendance,
    "admission": Admission,
    "transfer": Transfer,
    "referral": Referral,
    "assessment": Assessment,
    "discharge": Discharge,
    "capacity": Capacity,
    "cancellation": Cancellation,
}

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
