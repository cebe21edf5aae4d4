"""Purging patients from the read model (the data-lifecycle rule of services/retention.py).

Every table keyed by pseudonym loses the purged patients' rows: their queue entries and every
kind of fact. What is kept: the per-service daily figures (`service_daily`), capacity reports
and history, pressure and alerts (none name a patient), and the audit log, which information
governance requires to outlive the data it audits (it names principals and lists read, not
patients' facts). No day is marked dirty: a purge changes no figure.

Each purge is recorded in `purges` with its horizon (patients purged had no event since).
Daily rows on or before the latest horizon's day are final from then on: the facts behind
them may be gone, so they are never recomputed or dropped (streams/daily.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel.tables import (
    TIMESTAMP,
    anomalies,
    assessments,
    attendances,
    delays,
    metadata,
    queue_entries,
    referrals,
    stays,
)
from flowsight.services.facts import london_day

#: Every read-model table with patient-level rows (keyed by pseudonym).
PATIENT_TABLES: tuple[Table, ...] = (
    queue_entries,
    stays,
    delays,
    referrals,
    attendances,
    assessments,
    anomalies,
)
#: One row per purge that removed patients (migration 0007).
purges = Table(
    "purges",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("horizon", TIMESTAMP, nullable=False),
    Column("patients", Integer, nullable=False),
)


async def purge_patients(
    connection: AsyncConnection, pseudonyms: Sequence[str], horizon: str, now: datetime
) -> None:
    """Delete every patient-level row of these patients, and record the purge.

    `horizon` is the fixed-width UTC timestamp none of their events is later than.
    """
    if not pseudonyms:
        return
    await delete_patients(connection, pseudonyms)
    await connection.execute(
        insert(purges), {"at": now, "horizon": horizon, "patients": len(pseudonyms)}
    )


async def delete_patients(connection: AsyncConnection, pseudonyms: Sequence[str]) -> None:
    """Delete every patient-level row of these patients: one statement a table, run for each
    patient (`executemany`), compiled once rather than an IN list compiled for each count."""
    if not pseudonyms:
        return
    patients = [{"patient": pseudonym} for pseudonym in pseudonyms]
    for table in PATIENT_TABLES:
        await connection.execute(_DELETE_PATIENT[table.name], patients)


_DELETE_PATIENT = {
    table.name: delete(table).where(table.c.pseudonym == bindparam("patient"))
    for table in PATIENT_TABLES
}


async def final_through(connection: AsyncConnection) -> date | None:
    """The day (Europe/London) up to which daily rows are final, or None if nothing was
    ever purged."""
    horizon = (await connection.execute(select(func.max(purges.c.horizon)))).scalar_one_or_none()
    return london_day(horizon) if horizon else None
