"""A service's caseload in the read model: who is in the service or waiting for it, with what
is open for them elsewhere. Patient-level: callers audit every read."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel.facts import fact_of
from flowsight.adapters.readmodel.store import as_utc
from flowsight.adapters.readmodel.tables import (
    assessments,
    delays,
    queue_entries,
    referrals,
    stays,
)
from flowsight.services.facts import Assessment, Delay, Referral, Stay

WAITING = ("new", "accepted")


@dataclass(slots=True)
class CaseloadEntry:
    """One patient of a service's caseload and the facts shown for them."""

    pseudonym: str
    stay: Stay | None = None  # open in the service
    referral: Referral | None = None  # waiting for the service
    assessments_here: list[Assessment] = field(default_factory=list)  # open in the service
    delay: Delay | None = None  # not ended, in the service
    referrals: list[Referral] = field(default_factory=list)  # every one of the patient's
    assessments: list[Assessment] = field(default_factory=list)  # every one of the patient's

    @property
    def since(self) -> str:
        """When the patient joined the caseload: the stay's start, else the earliest wait."""
        if self.stay is not None:
            return self.stay.started_at
        moments = [a.opened_at for a in self.assessments_here]
        if self.referral is not None:
            moments.append(self.referral.referred_at)
        return min(moments)


@dataclass(frozen=True, slots=True)
class CaseloadPage:
    """The patients of one page, longest in the caseload first, and how many there are."""

    entries: list[CaseloadEntry]
    total: int


async def caseload(
    connection: AsyncConnection, service_id: str, *, limit: int, offset: int
) -> CaseloadPage:
    """Everyone with an open stay in, a waiting referral to or an open assessment at a service."""
    entries: dict[str, CaseloadEntry] = {}

    def entry(pseudonym: str) -> CaseloadEntry:
        return entries.setdefault(pseudonym, CaseloadEntry(pseudonym))

    query = select(stays).where(stays.c.service_id == service_id, stays.c.ended_at.is_(None))
    for row in await connection.execute(query):
        entry(row.pseudonym).stay = fact_of(Stay, row, "service")
    query = select(referrals).where(
        referrals.c.to_service == service_id, referrals.c.status.in_(WAITING)
    )
    for row in await connection.execute(query):
        entry(row.pseudonym).referral = fact_of(Referral, row, "")
    query = select(assessments).where(
        assessments.c.service_id == service_id, assessments.c.completed_at.is_(None)
    )
    for row in await connection.execute(query):
        entry(row.pseudonym).assessments_here.append(fact_of(Assessment, row, "service"))
    ordered = sorted(entries.values(), key=lambda e: (e.since, e.pseudonym))
    page = ordered[offset : offset + limit]
    await _fill(connection, service_id, {e.pseudonym: e for e in page})
    return CaseloadPage(page, len(ordered))


async def _fill(
    connection: AsyncConnection, service_id: str, page: dict[str, CaseloadEntry]
) -> None:
    """The delay in the service, and every referral and assessment, of the page's patients."""
    if not page:
        return
    patients = list(page)
    query = select(delays).where(
        delays.c.pseudonym.in_(patients),
        delays.c.service_id == service_id,
        delays.c.ended_at.is_(None),
    )
    for row in await connection.execute(query):
        page[row.pseudonym].delay = fact_of(Delay, row, "service")
    # Open ones are listed; closed ones only matter for the latest next step.
    query = select(referrals).where(
        referrals.c.pseudonym.in_(patients),
        or_(referrals.c.status.in_(WAITING), referrals.c.next_step.is_not(None)),
    )
    found: dict[str, list[Referral]] = defaultdict(list)
    for row in await connection.execute(query):
        found[row.pseudonym].append(fact_of(Referral, row, ""))
    query = select(assessments).where(
        assessments.c.pseudonym.in_(patients),
        or_(assessments.c.completed_at.is_(None), assessments.c.next_step.is_not(None)),
    )
    assessed: dict[str, list[Assessment]] = defaultdict(list)
    for row in await connection.execute(query):
        assessed[row.pseudonym].append(fact_of(Assessment, row, "service"))
    for pseudonym, entry in page.items():
        entry.referrals = sorted(found[pseudonym], key=lambda r: r.referred_at)
        entry.assessments = sorted(assessed[pseudonym], key=lambda a: a.opened_at)


@dataclass(frozen=True, slots=True)
class PathwayQueue:
    """How many wait for a service on one discharge pathway (None: none named), since when."""

    pathway: str | None
    length: int
    oldest_referred_at: str


async def queue_by_pathway(connection: AsyncConnection, service_id: str) -> list[PathwayQueue]:
    """The service's waiting referrals by the pathway they name, as the caseload counts them."""
    query = (
        select(
            referrals.c.pathway,
            func.count().label("length"),
            func.min(referrals.c.referred_at).label("oldest"),
        )
        .where(referrals.c.to_service == service_id, referrals.c.status.in_(WAITING))
        .group_by(referrals.c.pathway)
    )
    rows = await connection.execute(query)
    found = [PathwayQueue(row.pathway, row.length, row.oldest) for row in rows]
    return sorted(found, key=lambda queue: (queue.pathway is None, queue.pathway or ""))


@dataclass(frozen=True, slots=True)
class QueuePage:
    """How many wait for a service and since when the longest has (None: nobody), and one page
    of them, longest wait first."""

    length: int
    oldest_referred_at: datetime | None
    entries: list[dict[str, Any]]


async def queue_page(
    connection: AsyncConnection, service_id: str, *, limit: int, offset: int
) -> QueuePage:
    """A service's queue: its length and longest wait, with a page of its entries (`limit` 0:
    none), in one query unless the page is empty."""
    length = func.count().over().label("queue_length")
    oldest = func.min(queue_entries.c.referred_at).over().label("queue_oldest")
    if limit > 0:
        query = (
            select(queue_entries, length, oldest)
            .where(queue_entries.c.service_id == service_id)
            .order_by(queue_entries.c.referred_at, queue_entries.c.pseudonym)
            .limit(limit)
            .offset(offset)
        )
        rows = [dict(row._mapping) for row in await connection.execute(query)]
        if rows:
            first = rows[0]
            return QueuePage(
                first["queue_length"],
                as_utc(first["queue_oldest"]),
                [{k: v for k, v in row.items() if not k.startswith("queue_")} for row in rows],
            )
    query = select(func.count(), func.min(queue_entries.c.referred_at)).where(
        queue_entries.c.service_id == service_id
    )
    count, earliest = (await connection.execute(query)).one()
    return QueuePage(count, as_utc(earliest) if earliest else None, [])
