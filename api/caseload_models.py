"""Response models of a service's caseload and its queue by pathway (OpenAPI-published)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class PathwayQueueOut(BaseModel):
    pathway: str | None = Field(description="P0 to P3, or null for referrals that name none")
    length: int = Field(description="waiting referrals (new or accepted) on this pathway")
    longest_wait_minutes: float = Field(description="since the oldest of them was referred")


class PathwaysOut(BaseModel):
    service: str
    as_of: datetime
    pathways: list[PathwayQueueOut]


class OpenReferralOut(BaseModel):
    to_service: str
    from_service: str
    referred_at: datetime
    status: str = Field(description="new or accepted")
    pathway: str | None
    next_step: str | None


class OpenAssessmentOut(BaseModel):
    service: str
    kind: str
    opened_at: datetime
    next_step: str | None


class CaseloadPatientOut(BaseModel):
    pseudonym: str = Field(description="keyed pseudonym of the patient (HMAC-SHA-256)")
    status: Literal["in_service", "in_department", "waiting"] = Field(
        description="in_service: an open stay; in_department: in the emergency department (a "
        "front door's attendance without a departure); waiting: a waiting referral or an open "
        "assessment"
    )
    since: datetime = Field(
        description="the stay's start, else the arrival in the department, else the earliest wait's"
    )
    length_of_stay_days: int | None = Field(
        description="midnights (Europe/London) since the stay started; null while waiting"
    )
    waiting_minutes: float | None = Field(
        description="since referred, or since arrival in the department; null when in the service"
    )
    delay_days: int | None = Field(
        description="midnights since the Discharge Ready Date of the running delay in this "
        "service; null with none (or one whose date is still to come)"
    )
    delay_reason: str | None
    pathway: str | None = Field(
        description="the delay's pathway, else the waiting referral's, else the stay's"
    )
    open_referrals: list[OpenReferralOut] = Field(description="to any service, oldest first")
    open_assessments: list[OpenAssessmentOut] = Field(description="at any service, oldest first")
    next_step: str | None = Field(
        description="from the patient's latest referral or assessment (a criteria-to-reside "
        "review among them) that names one"
    )
    next_step_from: str | None = Field(
        description="where it was said, e.g. `referral to lcc-reablement`, "
        "`care_act assessment at lth-toc-hub`, `ctr_review assessment at lth-wards`"
    )


class CaseloadOut(BaseModel):
    service: str
    as_of: datetime
    total: int = Field(description="patients in the service or waiting for it")
    patients: list[CaseloadPatientOut] = Field(description="longest in the caseload first")
    limit: int
    offset: int
