"""Services and their queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from flowsight.adapters.readmodel import caseload, daily_rows, facts, store
from flowsight.api.deps import ApiState, ConnectionDep, Offset, StateDep, Viewer, audit_read, seen
from flowsight.api.models import (
    DailyOut,
    QueueEntryOut,
    QueueOut,
    ServiceDetail,
    ServiceOut,
    ServiceSummary,
)
from flowsight.api.problems import Problem
from flowsight.api.routers.pressure import PressureNow, current
from flowsight.schemas.catalogue import Service
from flowsight.services.facts import LONDON
from flowsight.services.kpis import CURRENT_FIGURES, Period
from flowsight.services.occupancy import capacity_open
from flowsight.services.report import FOLLOWED_UP, figures_of, provisional_from

router = APIRouter(prefix="/v1/services", tags=["services"])


@router.get("/{service_id}/queue", response_model=QueueOut, summary="Who waits for a service")
async def service_queue(
    service_id: str,
    request: Request,
    principal: Viewer,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> Response:
    """Queue length and longest wait; patient-level entries, longest first, for `caseload`.

    The queue as the service's kind has it, as its figures count it: a front door's is the
    patients in the department (since their arrival), a transfer-of-care hub's its open
    assessments (since opened), any other service's the referrals waiting for it."""
    state: ApiState = request.app.state.flowsight
    service = known_service(state, service_id)
    if principal.has("caseload"):
        now = datetime.now(UTC)
        async with state.engine.begin() as connection:  # the read and its audit row
            queue = await caseload.queue_page(connection, service, now, limit=limit, offset=offset)
            shown = seen([row["pseudonym"] for row in queue.entries])
            await audit_read(connection, request, principal, "read_queue_entries", detail=shown)
        oldest = queue.oldest_referred_at
        entries = [
            QueueEntryOut(**row, waiting_minutes=store.minutes_waited(row["referred_at"], now))
            for row in queue.entries
        ]
        answer = QueueOut(
            service=service_id,
            as_of=now,
            length=queue.length,
            longest_wait_minutes=store.minutes_waited(oldest, now) if oldest else None,
            entries=entries,
            limit=limit,
            offset=offset,
        )
        # Built and checked once here: rendered directly rather than validated again.
        return Response(answer.model_dump_json(), media_type="application/json")
    # Without patients, the queue is the one the pressure snapshot read: no query, and the
    # answer rendered once per snapshot build.
    latest = await current(request)
    body = queue_without_patients(latest, service_id, limit, offset)
    return Response(body, media_type="application/json")


def queue_without_patients(latest: PressureNow, service_id: str, limit: int, offset: int) -> bytes:
    """The queue answer without patients as of the snapshot `latest`: rendered once a build."""

    def render() -> bytes:
        summary = latest.queues.get(service_id)
        oldest = summary.oldest_referred_at if summary else None
        answer = QueueOut(
            service=service_id,
            as_of=latest.as_of,
            length=summary.length if summary else 0,
            longest_wait_minutes=store.minutes_waited(oldest, latest.as_of) if oldest else None,
            entries=None,
            limit=limit,
            offset=offset,
        )
        return answer.model_dump_json().encode()

    return latest.rendered(("queue", service_id, limit, offset), render)


def _service_out(service: Service) -> ServiceOut:
    return ServiceOut(
        id=service.id,
        name=service.name,
        organisation=service.organisation,
        kind=service.kind.value,
        capacity_unit=service.capacity_unit.value,
        capacity=service.capacity,
    )


def known_service(state: ApiState, service_id: str) -> Service:
    """The catalogue's service `service_id`; a 404 problem if there is none."""
    service = state.catalogue.service(service_id)
    if service is None:
        raise Problem(404, "Unknown service", f"no service {service_id!r} in the catalogue")
    return service


@router.get("", response_model=list[ServiceSummary], summary="The catalogue, with today's figures")
async def list_services(
    state: StateDep, _: Viewer, connection: ConnectionDep
) -> list[ServiceSummary]:
    """Every service of the system with its figures for today as last computed."""
    today = datetime.now(UTC).astimezone(LONDON).date()
    summaries = []
    for service in state.catalogue.services:
        rows = await daily_rows.daily_figures(connection, service.id, today, today)
        figures = {k: v for k, v in rows[0].items() if k != "day"} if rows else None
        summaries.append(ServiceSummary(**_service_out(service).model_dump(), today=figures))
    return summaries


@router.get("/{service_id}", response_model=ServiceDetail, summary="A service's figures")
async def service_detail(
    service_id: str, state: StateDep, _: Viewer, connection: ConnectionDep
) -> ServiceDetail:
    """Current figures, and today's and this week's, computed from the journey facts now."""
    service = known_service(state, service_id)
    now = datetime.now(UTC)
    today_start, _end = daily_rows.day_bounds(now.astimezone(LONDON).date())
    week_start = today_start - timedelta(days=today_start.weekday())
    service_facts = await facts.service_facts(connection, service_id, since=week_start)
    # The report in force now, as each day's figures take the one made by then.
    open_capacity = (await store.capacities_in_force(connection, now)).get(service_id)
    today = figures_of(service, service_facts, Period(today_start, now), now, open_capacity)
    week = figures_of(service, service_facts, Period(week_start, now), now, open_capacity)
    return ServiceDetail(
        service=_service_out(service),
        as_of=now,
        open_capacity=capacity_open(service, open_capacity),
        open_capacity_reported=open_capacity is not None,
        current={k: v for k, v in today.items() if k in CURRENT_FIGURES},
        today={k: v for k, v in today.items() if k not in CURRENT_FIGURES},
        this_week={k: v for k, v in week.items() if k not in CURRENT_FIGURES},
    )


@router.get("/{service_id}/daily", response_model=DailyOut, summary="A service's daily figures")
async def service_daily(
    service_id: str,
    state: StateDep,
    _: Viewer,
    connection: ConnectionDep,
    days: Annotated[int, Query(ge=1, le=366)] = 28,
) -> DailyOut:
    """One row of figures per day (Europe/London), oldest first, for trends."""
    known_service(state, service_id)
    last = datetime.now(UTC).astimezone(LONDON).date()
    rows = await daily_rows.daily_figures(
        connection, service_id, last - timedelta(days=days - 1), last
    )
    return DailyOut(
        service=service_id,
        days=rows,
        provisional_from=provisional_from(last),
        provisional_figures=sorted(FOLLOWED_UP),
    )
