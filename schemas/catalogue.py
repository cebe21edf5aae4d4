"""The service catalogue (SPEC section 2): which services the system has, as configuration."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

from flowsight.schemas.codes import CapacityUnit, ServiceKind
from flowsight.schemas.events import SERVICE_ID_PATTERN
from flowsight.schemas.text import ONE_LINE

#: An organisation code (ODS-style, `RR8`): what a service belongs to and a publisher publishes for.
ORGANISATION_CODE_PATTERN = r"^[A-Za-z0-9]{2,10}$"


class Threshold(BaseModel):
    """Level 2/3/4 thresholds of one pressure indicator, and its weight.

    Whether they must rise or fall from level 2 to level 4 depends on the indicator (a queue is
    worse as it grows, the share discharged home as it shrinks), so the direction is checked
    where indicators are known: `services.pressure.check_thresholds`, at start-up and on change.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    level2: float = Field(allow_inf_nan=False)
    level3: float = Field(allow_inf_nan=False)
    level4: float = Field(allow_inf_nan=False)
    weight: float = Field(1.0, gt=0)


class Service(BaseModel):
    """One service of the health and care system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SERVICE_ID_PATTERN)
    name: Annotated[str, ONE_LINE] = Field(min_length=1)
    organisation: str = Field(pattern=ORGANISATION_CODE_PATTERN)
    kind: ServiceKind
    capacity_unit: CapacityUnit
    capacity: NonNegativeInt | None = None
    thresholds: dict[str, Threshold] = Field(default_factory=dict)

    @property
    def has_beds(self) -> bool:
        """Whether its capacity is counted in beds: its patients occupy them, and its delays
        lose bed days."""
        return self.capacity_unit == CapacityUnit.BEDS


class Organisation(BaseModel):
    """An organisation that publishes events for its own services."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=ORGANISATION_CODE_PATTERN)
    name: Annotated[str, ONE_LINE] = Field(min_length=1)


class Catalogue(BaseModel):
    """The whole system: its organisations and their services."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field(min_length=1)
    organisations: list[Organisation] = Field(min_length=1)
    services: list[Service] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        codes = [organisation.code for organisation in self.organisations]
        if len(set(codes)) != len(codes):
            raise ValueError("organisation codes must be unique")
        seen: set[str] = set()
        for service in self.services:
            if service.id in seen:
                raise ValueError(f"service {service.id!r} is listed twice")
            seen.add(service.id)
            if service.organisation not in codes:
                raise ValueError(
                    f"service {service.id!r} belongs to organisation "
                    f"{service.organisation!r}, which is not in organisations"
                )
        return self

    def service(self, service_id: str) -> Service | None:
        """The service with this id, or None."""
        return next((s for s in self.services if s.id == service_id), None)

    @property
    def service_ids(self) -> frozenset[str]:
        return frozenset(s.id for s in self.services)

    @property
    def organisation_codes(self) -> list[str]:
        return [organisation.code for organisation in self.organisations]
