"""A service's caseload (patient level, audited) and its queue by pathway."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from flowsight.adapters.readmodel import caseload as caseload_store
from flowsight.adapters.readmodel.caseload import CaseloadEntry
from flowsight.adapters.readmodel.store import minutes_waited
from flowsight.api.auth import Principal
from flowsight.api.caseload_models import (
    CaseloadOut,
    CaseloadPatientOut,
    OpenAssessmentOut,
    OpenReferralOut,
    PathwayQueueOut,
    PathwaysOut,
)
from flowsight.api.deps import (
    ConnectionDep,
    Offset,
    StateDep,
    Viewer,
    audit_read,
    require,
    seen,
)
from flowsight.api.models import PROBLEM_RESPONSES
from flowsight.api.routers.services import known_service
from flowsight.services.delays import is_running
from flowsight.services.facts import Assessment, Referral, Stay, latest_next_step, midnights
from flowsight.services.timestamps import parse_timestamp, utc_timestamp

router = APIRouter(prefix="/v1/services", tags=["services"])
Caseload = Annotated[Principal, Depends(require("caseload"))]
#: What these routes can answer besides 200, as problem documents.
RESPONSES: dict[int | str, dict[str, object]] = {
    **PROBLEM_RESPONSES,
    404: {**PROBLEM_RESPONSES[403], "description": "no such service in the catalogue"},
}


@router.get(
    "/{service_id}/pathways",
    response_model=PathwaysOut,
    summary="Who waits for a service, by discharge pathway",
    responses=RESPONSES,
)
async def service_pathways(
    service_id: str, state: StateDep, _: Viewer, connection: ConnectionDep
) -> PathwaysOut:
    """Waiting referrals by the pathway they name, with the longest wait of each (counts only)."""
    known_service(state, service_id)
    now = datetime.now(UTC)
    queues = await caseload_store.queue_by_pathway(connection, service_id)
    return PathwaysOut(
        service=service_id,
        as_of=now,
        pathways=[
            PathwayQueueOut(
                pathway=queue.pathway,
                length=queue.length,
                longest_wait_minutes=minutes_waited(parse_timestamp(queue.oldest_referred_at), now),
            )
            for queue in queues
        ],
    )


@router.get(
    "/{service_id}/caseload",
    response_model=CaseloadOut,
    summary="Everyone in a service or waiting for it (caseload; audited)",
    responses=RESPONSES,
)
async def service_caseload(
    service_id: str,
    request: Request,
    state: StateDep,
    principal: Caseload,
    connection: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> CaseloadOut:
    """Each patient with an open stay, in the department (a front door), with a waiting
    referral or an open assessment here: length of stay, delay, pathway, open referrals and
    assessments anywhere, and their next step.
    Pseudonyms only; each read is written to the audit log."""
    known_service(state, service_id)
    now = datetime.now(UTC)
    page = await caseload_store.caseload(connection, service_id, now, limit=limit, offset=offset)
    shown = [entry.pseudonym for entry in page.entries]
    await audit_read(connection, request, principal, "read_caseload", detail=seen(shown))
    return CaseloadOut(
        service=service_id,
        as_of=now,
        total=page.total,
        patients=[_patient(entry, now) for entry in page.entries],
        limit=limit,
        offset=offset,
    )


def _patient(entry: CaseloadEntry, now: datetime) -> CaseloadPatientOut:
    # One rule with the counts: a delay whose Discharge Ready Date is still to come is no delay.
    delay = entry.delay if entry.delay and is_running(entry.delay, utc_timestamp(now)) else None
    waiting = entry.referral
    said = latest_next_step(entry.referrals, entry.assessments, entry.reviewed)
    return CaseloadPatientOut(
        pseudonym=entry.pseudonym,
        status=_status(entry),
        since=parse_timestamp(entry.since),
        length_of_stay_days=midnights(entry.stay.started_at, now) if entry.stay else None,
        waiting_minutes=None if entry.stay else minutes_waited(parse_timestamp(entry.since), now),
        delay_days=midnights(delay.started_at, now) if delay else None,
        delay_reason=delay.reason if delay else None,
        pathway=(delay and delay.pathway)
        or (waiting and waiting.pathway)
        or (entry.stay and entry.stay.pathway)
        or None,
        open_referrals=[
            OpenReferralOut(
                to_service=r.to_service,
                from_service=r.from_service,
                referred_at=parse_timestamp(r.referred_at),
                status=r.status,
                pathway=r.pathway,
                next_step=r.next_step,
            )
            for r in entry.referrals
            if r.waiting
        ],
        open_assessments=[
            OpenAssessmentOut(
                service=a.service,
                kind=a.kind,
                opened_at=parse_timestamp(a.opened_at),
                next_step=a.next_step,
            )
            for a in entry.assessments
            if a.completed_at is None
        ],
        next_step=said[0] if said else None,
        next_step_from=_source(said[1]) if said else None,
    )


def _status(entry: CaseloadEntry) -> Literal["in_service", "in_department", "waiting"]:
    if entry.stay is not None:
        return "in_service"
    return "in_department" if entry.attendance is not None else "waiting"


def _source(fact: Referral | Assessment | Stay) -> str:
    if isinstance(fact, Referral):
        return f"referral to {fact.to_service}"
    if isinstance(fact, Stay):  # what its criteria-to-reside reviews said
        return f"ctr_review assessment at {fact.service}"
    return f"{fact.kind} assessment at {fact.service}"
