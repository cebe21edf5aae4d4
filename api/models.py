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
