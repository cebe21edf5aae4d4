"""System and service pressure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.adapters.readmodel import store
from flowsight.api.deps import Viewer
from flowsight.api.models import CapacityOut, PressureOut, ServicePressure, SystemPressure
from flowsight.api.problems import problem
from flowsight.api.snapshot import Snapshot
from flowsight.schemas.catalogue import Catalogue
from flowsight.schemas.codes import ServiceKind
from flowsight.services.escalation import not_scored_reason
from flowsight.services.pressure import SYSTEM_SCOPE

router = APIRouter(prefix="/v1", tags=["pressure"])


#: The oldest a served answer may be when the live feed has seen no change (queues and capacity
#: change with every batch the worker applies, without a pressure record).
MAX_AGE_SECONDS = 0.2

#: The most answers kept per read (`PressureNow.rendered`): every service's first page, and more.
MAX_RENDERED = 256


@router.get(
    "/pressure",
    response_model=PressureOut,
    summary="Current pressure, system and services",
    responses={503: problem("the read model could not answer (problem details)")},
)
async def pressure(request: Request, _: Viewer) -> Response:
    """Queue lengths, longest waits and capacity per service, and the system total.

    Served from a snapshot of the read model shared by the requests of one API process: built
    again when the worker publishes a score or an alert, and at least every 0.2 seconds;
    `as_of` is when it was read."""
    return Response((await current(request)).body, media_type="application/json")


@dataclass(frozen=True, slots=True)
class PressureNow:
    """What one read of the read model gave: the rendered `GET /v1/pressure` answer, and every
    service's queue (`service_queues`) as of the same moment."""

    body: bytes
    queues: dict[str, store.QueueSummary]
    as_of: datetime
    #: Answers rendered from this read, by whoever renders them (`rendered`).
    answers: dict[tuple[Any, ...], bytes] = field(default_factory=dict, compare=False)

    def rendered(self, key: tuple[Any, ...], render: Callable[[], bytes]) -> bytes:
        """The answer `key` rendered from this read: `render()` the first time, then the same
        bytes until the snapshot is rebuilt (each build is a new `PressureNow`)."""
        body = self.answers.get(key)
        if body is None:
            body = render()
            if len(self.answers) < MAX_RENDERED:  # odd pages are rendered, not kept
                self.answers[key] = body
        return body


async def current(request: Request) -> PressureNow:
    """The process's latest read of pressure and queues (at most 0.2 s old, none older than a
    record the live feed has seen)."""
    request.app.state.live.run()  # its records mark the snapshot stale
    snapshot: Snapshot[PressureNow] = request.app.state.pressure
    return await snapshot.get()


def pressure_snapshot(engine: AsyncEngine, catalogue: Catalogue) -> Snapshot[PressureNow]:
    """The process's `GET /v1/pressure` answer and queues, rebuilt when stale."""

    async def build() -> PressureNow:
        now = datetime.now(UTC)
        async with engine.connect() as connection:
            queues = await service_queues(connection, catalogue, now)
            answer = await current_pressure(connection, catalogue, queues, now)
        return PressureNow(answer.model_dump_json().encode(), queues, now)

    return Snapshot(build, MAX_AGE_SECONDS)


async def service_queues(
    connection: AsyncConnection, catalogue: Catalogue, now: datetime
) -> dict[str, store.QueueSummary]:
    """Each service's queue at `now` as its kind has it (SPEC, "queue means"), as its figures
    count it and its pressure is scored: a front door's is the patients in the department, the
    transfer-of-care hub's its open assessments, any other's the referrals waiting for it."""
    by_kind = {
        ServiceKind.ACUTE_FRONT_DOOR: await store.in_department(connection, now),
        ServiceKind.TRANSFERS_OF_CARE: await store.open_assessments(connection, now),
    }
    referrals = await store.queue_summaries(connection, now)
    found = ((s.id, by_kind.get(s.kind, referrals).get(s.id)) for s in catalogue.services)
    return {service: queue for service, queue in found if queue is not None}


async def current_pressure(
    connection: AsyncConnection,
    catalogue: Catalogue,
    queues: dict[str, store.QueueSummary],
    now: datetime,
) -> PressureOut:
    """The pressure answer from the read model as of `now`, with the services' `queues`."""
    capacity = await store.capacities(connection)
    scored = await pressure_store.states(connection)
    services = []
    for service in catalogue.services:
        summary = queues.get(service.id)
        reported = capacity.get(service.id)
        services.append(
            ServicePressure(
                id=service.id,
                name=service.name,
                organisation=service.organisation,
                kind=service.kind.value,
                **_published(scored.get(service.id), bool(service.thresholds)),
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


def _published(row: dict[str, Any] | None, thresholds: bool = True) -> dict[str, Any]:
    """The published level of a scope (a service with or without `thresholds`), why it has
    none, and the evidence of its latest score."""
    if row is None:
        return {
            "level": None,
            "not_scored_reason": not_scored_reason(None, None, thresholds=thresholds),
            "scored_level": None,
            "score": None,
            "indicators": [],
            "scored_at": None,
        }
    return {
        "level": row["published_level"],
        "not_scored_reason": not_scored_reason(
            row["published_level"], row["level"], thresholds=thresholds
        ),
        "scored_level": row["level"],
        "score": row["score"],
        "indicators": row["evidence"].get("indicators", []),
        "scored_at": store.as_utc(row["as_of"]),
    }
