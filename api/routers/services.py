"""Services and their queues."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import ConnectionDep, StateDep, Viewer, audit_read
from api.models import QueueEntryOut, QueueOut
from api.problems import Problem
from flowsight.readmodel import store

router = APIRouter(prefix="/v1/services", tags=["services"])


@router.get("/{service_id}/queue", response_model=QueueOut, summary="Who waits for a service")
async def service_queue(
    service_id: str,
    request: Request,
    state: StateDep,
    connection: ConnectionDep,
    principal: Viewer,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> QueueOut:
    """Queue length and longest wait; patient-level entries, longest first, for `caseload`."""
    if state.catalogue.service(service_id) is None:
        raise Problem(404, "Unknown service", f"no service {service_id!r} in the catalogue")
    now = datetime.now(UTC)
    summary = (await store.queue_summaries(connection)).get(service_id)
    entries = None
    if principal.has("caseload"):
        rows = await store.queue_for(connection, service_id, limit=limit, offset=offset)
        entries = [
            QueueEntryOut(
                pseudonym=row["pseudonym"],
                referred_at=store.as_utc(row["referred_at"]),
                waiting_minutes=store.minutes_waited(row["referred_at"], now),
                referring_service=row["referring_service"],
                pathway=row["pathway"],
                priority=row["priority"],
            )
            for row in rows
        ]
        await audit_read(connection, request, principal, "read_queue_entries")
    return QueueOut(
        service=service_id,
        as_of=now,
        length=summary.length if summary else 0,
        longest_wait_minutes=store.minutes_waited(summary.oldest_referred_at, now)
        if summary and summary.oldest_referred_at
        else None,
        entries=entries,
        limit=limit,
        offset=offset,
    )
