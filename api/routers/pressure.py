"""System and service pressure."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from api.deps import ConnectionDep, StateDep, Viewer
from api.models import CapacityOut, PressureOut, ServicePressure, SystemPressure
from flowsight.readmodel import store

router = APIRouter(prefix="/v1", tags=["pressure"])


@router.get(
    "/pressure", response_model=PressureOut, summary="Current pressure, system and services"
)
async def pressure(state: StateDep, connection: ConnectionDep, _: Viewer) -> PressureOut:
    """Queue lengths, longest waits and capacity per service, and the system total."""
    now = datetime.now(UTC)
    summaries = await store.queue_summaries(connection)
    capacity = await store.capacities(connection)
    services = []
    for service in state.catalogue.services:
        summary = summaries.get(service.id)
        reported = capacity.get(service.id)
        services.append(
            ServicePressure(
                id=service.id,
                name=service.name,
                organisation=service.organisation,
                kind=service.kind.value,
                queue_length=summary.length if summary else 0,
                longest_wait_minutes=store.minutes_waited(summary.oldest_referred_at, now)
                if summary and summary.oldest_referred_at
                else None,
                capacity=CapacityOut(**{**reported, "as_of": store.as_utc(reported["as_of"])})
                if reported
                else None,
            )
        )
    return PressureOut(
        as_of=now,
        system=SystemPressure(queue_length=sum(s.queue_length for s in services)),
        services=services,
    )
