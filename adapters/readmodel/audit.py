"""The audit log: appended to on every patient-level read and admin change, read by admins
(`GET /v1/audit`), and the API keys in force (`api/keys_in_force.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel.store import as_utc
from flowsight.adapters.readmodel.tables import audit_log


async def audit(
    connection: AsyncConnection,
    *,
    principal: str,
    action: str,
    resource: str,
    client: str | None,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one line to the audit log."""
    await connection.execute(
        insert(audit_log),
        {
            "at": at,
            "principal": principal,
            "action": action,
            "resource": resource,
            "client": client,
            "detail": detail,
        },
    )


async def latest_audit(connection: AsyncConnection, action: str) -> dict[str, Any] | None:
    """The newest audit line of `action`, if any."""
    row = (
        await connection.execute(
            select(audit_log)
            .where(audit_log.c.action == action)
            .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
            .limit(1)
        )
    ).first()
    return dict(row._mapping) if row is not None else None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of the audit log, newest first, and how many lines match in all."""

    entries: list[dict[str, Any]]
    total: int


async def audit_entries(
    connection: AsyncConnection,
    *,
    who: str | None,
    what: str | None,
    since: datetime | None,
    limit: int,
    offset: int,
) -> AuditPage:
    """Audit lines of caller `who` and action `what` made at or after `since`, newest first."""
    query = select(audit_log)
    if who is not None:
        query = query.where(audit_log.c.principal == who)
    if what is not None:
        query = query.where(audit_log.c.action == what)
    if since is not None:
        query = query.where(audit_log.c.at >= since.astimezone(UTC))
    total = (
        await connection.execute(select(func.count()).select_from(query.subquery()))
    ).scalar_one()
    rows = await connection.execute(
        query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit).offset(offset)
    )
    return AuditPage(
        [{**row._mapping, "at": as_utc(row.at)} for row in rows],
        total,
    )
