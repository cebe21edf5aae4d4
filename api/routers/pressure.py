"""System and service pressure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.adapters.readmodel import store
from flowsight.api.deps import ConnectionDep, StateDep, Viewer
from flowsight.api.models import CapacityOut, PressureOut, ServicePressure, SystemPressure
from flowsight.schemas.codes import ServiceKind
from flowsight.services.pressure import SYSTEM_SCOPE

router = APIRouter(prefix="/v1", tags=["pressure"])


@router.get(
    "/pressure", response_model=PressureOut, summary="Current pressure, system and services"
)
async def pressure(state: StateDep, connection: ConnectionDep, _: Viewer) -> PressureOut:
    """Queue lengths, longest waits and capacity per service, and the system total."""
    now = datetime.now(UTC)
    summaries = await store.queue_summaries(connection)
    # The transfer-of-care hub's queue is its open assessments, as its pressure is scored.
    assessments = await store.open_assessments(connection, now)
    capacity = await store.capacities(connection)
    scored = await pressure_store.states(connection)
    services = []
    for service in state.catalogue.services:
        if service.kind == ServiceKind.TRANSFERS_OF_CARE:
            summary = assessments.get(service.id)
        else:
            summary = summaries.get(service.id)
        reported = capacity.get(service.id)
        services.append(
            ServicePressure(
                id=service.id,
                name=service.name,
                organisation=service.organisation,
                kind=service.kind.value,
                **_published(scored.get(service.id)),
                queue_length=summary.length if summary else 0,
                longest_wait_minutes=store.minutes_waited(summary.oldest_referred_at, now)
                if summary and summary.oldest_referred_at
                else None,
                capacity=CapacityOut(**{**reported, "as_of": store.as_utc(reported["as_of"])})
                if reported
                else None,
            )
        )
    system_row = scored.get(SYSTEM_SCOPE)
    system = _published(system_row)
    del system["indicators"]
    system["acute_level"] = system_row["evidence"].get("acute_level") if system_row else None
    return PressureOut(
        as_of=now,
        system=SystemPressure(queue_length=sum(s.queue_length for s in services), **system),
        services=services,
    )


def _published(row: dict[str, Any] | None) -> dict[str, Any]:
    """The published level of a scope, and the evidence of its latest score."""
    if row is None:
        return {
            "level": None,
            "scored_level": None,
            "score": None,
            "indicators": [],
            "scored_at": None,
        }
    return {
        "level": row["published_level"],
        "scored_level": row["level"],
        "score": row["score"],
        "indicators": row["evidence"].get("indicators", []),
        "scored_at": store.as_utc(row["as_of"]),
    }
