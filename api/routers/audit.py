"""The audit log, for admins: who read which patient-level list, who changed what, and when."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BeforeValidator

from flowsight.adapters.readmodel import audit as audit_lines
from flowsight.api.auth import Principal
from flowsight.api.deps import ConnectionDep, Offset, audit_read, require
from flowsight.api.models import PROBLEM_RESPONSES, AuditEntryOut, AuditOut
from flowsight.api.problems import Problem
from flowsight.schemas.text import ONE_LINE, ONE_LINE_PATTERN

router = APIRouter(prefix="/v1/audit", tags=["audit"])
#: The audit log's action for a read of the audit log itself.
READ_AUDIT_LOG = "read_audit_log"
#: A date and a time of day, as the document's `date-time` says; the UTC offset is checked below.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?"
)


def _iso_8601(value: object) -> object:
    """Refuse what pydantic would also read as a date-time: a bare number (Unix time), a date."""
    if isinstance(value, str) and not _DATE_TIME.fullmatch(value):
        raise ValueError("since must be an ISO 8601 date-time, e.g. 2026-11-16T00:00:00Z")
    return value


Admin = Annotated[Principal, Depends(require("admin"))]


def _refuse_since(message: str) -> None:
    raise Problem(
        422, "Invalid request", message, errors=[{"field": "query.since", "message": message}]
    )


@router.get(
    "",
    response_model=AuditOut,
    summary="The audit log, newest first (admin)",
    responses=PROBLEM_RESPONSES,
)
async def audit_log(
    request: Request,
    principal: Admin,
    connection: ConnectionDep,
    who: Annotated[
        Annotated[str, ONE_LINE] | None,
        Query(
            max_length=128,
            description="the caller, as logged: key:<name>, oidc:<sub>",
            json_schema_extra={"pattern": ONE_LINE_PATTERN},
        ),
    ] = None,
    what: Annotated[
        Annotated[str, ONE_LINE] | None,
        Query(
            max_length=64,
            description="the action, e.g. read_delayed_patients",
            json_schema_extra={"pattern": ONE_LINE_PATTERN},
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        BeforeValidator(_iso_8601),
        Query(description="lines at or after this moment (ISO 8601 with a UTC offset)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> AuditOut:
    """Every patient-level read and admin change, filtered by who, what and since, paged.
    Each read is audited: its lines name the patients other reads showed."""
    if since is not None and since.tzinfo is None:
        _refuse_since("since needs a UTC offset, e.g. 2026-11-16T00:00:00Z")
    if since is not None:
        try:
            since.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:59:59-23:59 is past the last representable moment
            _refuse_since("since is outside the years 1 to 9999 once moved to UTC")
    page = await audit_lines.audit_entries(
        connection, who=who, what=what, since=since, limit=limit, offset=offset
    )
    # The lines shown, by id, rather than the pseudonyms in them: the log is append-only, so
    # the ids say whose records were seen, in a line no longer than the page (a page of reads
    # of 500 patients each would copy 250,000 pseudonyms into one).
    shown = [entry["id"] for entry in page.entries]
    await audit_read(connection, request, principal, READ_AUDIT_LOG, detail={"lines": shown})
    return AuditOut(
        entries=[AuditEntryOut(**entry) for entry in page.entries],
        total=page.total,
        limit=limit,
        offset=offset,
    )
