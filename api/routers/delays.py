"""No-criteria-to-reside delays and lost bed days, and journey anomalies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from flowsight.adapters.readmodel import facts
from flowsight.api.auth import Principal
from flowsight.api.deps import ConnectionDep, Offset, StateDep, Viewer, audit_read, require
from flowsight.api.models import (
    AnomalyCount,
    DelayedPatient,
    DelayedPatientsOut,
    DelayGroup,
    DelaysOut,
)
from flowsight.api.problems import Problem
from flowsight.services.delays import is_running
from flowsight.services.facts import delay_band, midnights
from flowsight.services.kpis import DelayRow, delay_rows
from flowsight.services.timestamps import parse_timestamp, utc_timestamp

router = APIRouter(prefix="/v1", tags=["delays"])
Caseload = Annotated[Principal, Depends(require("caseload"))]


def _grouped(rows: Iterable[DelayRow], key: Callable[[DelayRow], str]) -> list[DelayGroup]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        counts[key(row)][0] += 1
        counts[key(row)][1] += row.days
    return [
        DelayGroup(key=name, count=count, lost_bed_days=days)
        for name, (count, days) in sorted(counts.items(), key=lambda item: -item[1][1])
    ]


@router.get("/delays", response_model=DelaysOut, summary="Delayed patients, grouped")
async def delays(connection: ConnectionDep, _: Viewer) -> DelaysOut:
    """Current delays and lost bed days by service, reason, pathway and 7/14/21-day band."""
    now = datetime.now(UTC)
    rows = delay_rows((delay for _p, delay in await facts.current_delays(connection)), now)
    return DelaysOut(
        as_of=now,
        count=len(rows),
        lost_bed_days=sum(row.days for row in rows),
        by_service=_grouped(rows, lambda row: row.service),
        by_reason=_grouped(rows, lambda row: row.reason),
        by_pathway=_grouped(rows, lambda row: row.pathway),
        by_band=_grouped(rows, lambda row: row.band),
    )


@router.get(
    "/delays/patients",
    response_model=DelayedPatientsOut,
    summary="Delayed patients, one by one (caseload; audited)",
)
async def delayed_patients(
    request: Request,
    state: StateDep,
    connection: ConnectionDep,
    principal: Caseload,
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
    await audit_read(connection, request, principal, "read_delayed_patients")
    return DelayedPatientsOut(
        as_of=now, total=len(current), patients=patients, limit=limit, offset=offset
    )


@router.get("/anomalies", response_model=list[AnomalyCount], summary="Events that do not fit")
async def anomalies(connection: ConnectionDep, _: Viewer) -> list[AnomalyCount]:
    """Events not yet reconciled with a journey (e.g. a discharge with no admission), counted."""
    return [AnomalyCount(**row) for row in await facts.anomaly_counts(connection)]
