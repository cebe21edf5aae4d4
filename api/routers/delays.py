"""No-criteria-to-reside delays and lost bed days, and journey anomalies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from flowsight.adapters.readmodel import facts
from flowsight.api.auth import Principal
from flowsight.api.deps import (
    ConnectionDep,
    Offset,
    StateDep,
    Viewer,
    audit_read,
    require,
    seen,
)
from flowsight.api.models import (
    AnomalyCount,
    DelayedPatient,
    DelayedPatientsOut,
    DelayGroup,
    DelaysOut,
)
from flowsight.api.problems import Problem
from flowsight.services.delays import (
    DelayDays,
    bed_based,
    delay_days,
    is_running,
    residents_delayed,
)
from flowsight.services.facts import DELAY_BANDS, delay_band, midnights
from flowsight.services.kpis import DelayRow, delay_rows
from flowsight.services.timestamps import parse_timestamp, utc_timestamp

router = APIRouter(prefix="/v1", tags=["delays"])
Caseload = Annotated[Principal, Depends(require("caseload"))]


def _grouped(
    rows: Iterable[DelayRow],
    key: Callable[[DelayRow], str],
    beds: frozenset[str],
    order: Sequence[str] = (),
) -> list[DelayGroup]:
    """The delays grouped by `key`: in the `order` given, else most days lost first."""
    groups: dict[str, list[DelayRow]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    totals = {name: delay_days(members, beds) for name, members in groups.items()}

    def rank(item: tuple[str, DelayDays]) -> tuple[int, int]:
        name, days = item
        place = order.index(name) if name in order else len(order)
        return place, -(days.lost_bed_days + days.delayed_days_home_based)

    return [
        DelayGroup(
            key=name,
            count=len(groups[name]),
            lost_bed_days=days.lost_bed_days,
            delayed_days_home_based=days.delayed_days_home_based,
        )
        for name, days in sorted(totals.items(), key=rank)
    ]


@router.get("/delays", response_model=DelaysOut, summary="Delayed patients, grouped")
async def delays(_: Viewer, connection: ConnectionDep, state: StateDep) -> DelaysOut:
    """Current delays by service, reason, pathway and 7/14/21-day band: lost bed days in
    bed-based services, and apart from them the days delayed at home in services without beds."""
    now = datetime.now(UTC)
    current = [delay for _p, delay in await facts.current_delays(connection)]
    rows = delay_rows(current, now)
    beds = bed_based(state.catalogue.services)
    days = delay_days(rows, beds)
    running = [delay for delay in current if is_running(delay, utc_timestamp(now))]
    return DelaysOut(
        as_of=now,
        count=residents_delayed(running),
        in_beds=residents_delayed(delay for delay in running if delay.service in beds),
        hidden_delays=sum(1 for row in rows if row.service not in beds),
        lost_bed_days=days.lost_bed_days,
        delayed_days_home_based=days.delayed_days_home_based,
        by_service=_grouped(rows, lambda row: row.service, beds),
        by_reason=_grouped(rows, lambda row: row.reason, beds),
        by_pathway=_grouped(rows, lambda row: row.pathway, beds),
        by_band=_grouped(rows, lambda row: row.band, beds, DELAY_BANDS),
    )


@router.get(
    "/delays/patients",
    response_model=DelayedPatientsOut,
    summary="Delayed patients, one by one (caseload; audited)",
)
async def delayed_patients(
    request: Request,
    state: StateDep,
    principal: Caseload,
    connection: ConnectionDep,
    service: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> DelayedPatientsOut:
    """Every current delay with its patient's pseudonym, longest first. Each read is audited."""
    if service is not None and state.catalogue.service(service) is None:
        raise Problem(404, "Unknown service", f"no service {service!r} in the catalogue")
    now = datetime.now(UTC)
    # One rule with the counts: a delay whose Discharge Ready Date is still to come is no delay.
    now_text = utc_timestamp(now)
    current = [
        (pseudonym, delay)
        for pseudonym, delay in await facts.current_delays(connection, service)
        if is_running(delay, now_text)
    ]
    current.sort(key=lambda item: (item[1].started_at, item[0]))
    patients = []
    for pseudonym, delay in current[offset : offset + limit]:
        days = midnights(delay.started_at, now)
        patients.append(
            DelayedPatient(
                pseudonym=pseudonym,
                service=delay.service,
                ready_since=parse_timestamp(delay.started_at),
                days=days,
                band=delay_band(days),
                reason=delay.reason,
                pathway=delay.pathway,
            )
        )
    shown = [patient.pseudonym for patient in patients]
    await audit_read(connection, request, principal, "read_delayed_patients", detail=seen(shown))
    return DelayedPatientsOut(
        as_of=now, total=len(current), patients=patients, limit=limit, offset=offset
    )


@router.get("/anomalies", response_model=list[AnomalyCount], summary="Events that do not fit")
async def anomalies(_: Viewer, connection: ConnectionDep) -> list[AnomalyCount]:
    """Events not yet reconciled with a journey (e.g. a discharge with no admission), counted."""
    return [AnomalyCount(**row) for row in await facts.anomaly_counts(connection)]
