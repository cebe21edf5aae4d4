"""Response models: what the API promises its callers, published in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CapacityOut(BaseModel):
    open: int
    total: int | None
    unit: str
    as_of: datetime


class ServicePressure(BaseModel):
    id: str
    name: str
    organisation: str
    kind: str
    queue_length: int = Field(description="patients with an open referral, not yet admitted")
    longest_wait_minutes: float | None
    capacity: CapacityOut | None


class SystemPressure(BaseModel):
    queue_length: int = Field(description="patients waiting across every service")


class PressureOut(BaseModel):
    as_of: datetime
    system: SystemPressure
    services: list[ServicePressure]


class QueueEntryOut(BaseModel):
    pseudonym: str = Field(description="keyed pseudonym of the patient (HMAC-SHA-256)")
    referred_at: datetime
    waiting_minutes: float
    referring_service: str
    pathway: str | None
    priority: str | None


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
    current: Figures = Field(description="figures as of now: queue, occupancy, delays")
    today: Figures = Field(description="since midnight (Europe/London)")
    this_week: Figures = Field(description="since Monday midnight (Europe/London)")


class DailyOut(BaseModel):
    service: str
    days: list[dict[str, float | int | str | None]]


class DelayGroup(BaseModel):
    key: str
    count: int
    lost_bed_days: int


class DelaysOut(BaseModel):
    as_of: datetime
    count: int = Field(description="patients with no criteria to reside still in a bed")
    lost_bed_days: int = Field(description="midnights (Europe/London) since ready to go, summed")
    by_service: list[DelayGroup]
    by_reason: list[DelayGroup]
    by_pathway: list[DelayGroup]
    by_band: list[DelayGroup]


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
