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
from flowsight.adapters.readmodel.store import as_utc, open_at
from flowsight.adapters.readmodel.tables import (
    assessments,
    attendances,
    delays,
    queue_entries,
    referrals,
    stays,
)
from flowsight.schemas.catalogue import Service
from flowsight.schemas.codes import ServiceKind
from flowsight.services.facts import Assessment, Attendance, Delay, Referral, Stay
from flowsight.services.timestamps import parse_timestamp, utc_timestamp

WAITING = ("new", "accepted")


@dataclass(slots=True)
class CaseloadEntry:
    """One patient of a service's caseload and the facts shown for them."""

    pseudonym: str
    stay: Stay | None = None  # open in the service
    attendance: Attendance | None = None  # in the department (a front door)
    referral: Referral | None = None  # waiting for the service
    assessments_here: list[Assessment] = field(default_factory=list)  # open in the service
    delay: Delay | None = None  # not ended, in the service
    referrals: list[Referral] = field(default_factory=list)  # every one of the patient's
    assessments: list[Assessment] = field(default_factory=list)  # every one of the patient's
    reviewed: list[Stay] = field(default_factory=list)  # theirs whose reviews named a next step

    @property
    def since(self) -> str:
        """When the patient joined the caseload: the stay's start, else the arrival in the
        department, else the earliest wait."""
        if self.stay is not None:
            return self.stay.started_at
        moments = [a.opened_at for a in self.assessments_here]
        if self.attendance is not None:
            moments.append(self.attendance.arrived_at)
        if self.referral is not None:
            moments.append(self.referral.referred_at)
        return min(moments)


@dataclass(frozen=True, slots=True)
class CaseloadPage:
    """The patients of one page, longest in the caseload first, and how many there are."""

    entries: list[CaseloadEntry]
    total: int


async def caseload(
    connection: AsyncConnection, service_id: str, now: datetime, *, limit: int, offset: int
) -> CaseloadPage:
    """Everyone with an open stay in, an attendance in (a front door), a waiting referral to
    or an open assessment at a service at `now`."""
    entries: dict[str, CaseloadEntry] = {}

    def entry(pseudonym: str) -> CaseloadEntry:
        return entries.setdefault(pseudonym, CaseloadEntry(pseudonym))

    # Begun by `now`, as the figures count them: an event stamped a little ahead (the validator
    # allows five minutes) is not in the caseload before its time.
    in_stay = open_at(stays.c.started_at, stays.c.ended_at, now)
    query = select(stays).where(stays.c.service_id == service_id, *in_stay)
    for row in await connection.execute(query):
        entry(row.pseudonym).stay = fact_of(Stay, row, "service")
    in_department = open_at(attendances.c.arrived_at, attendances.c.departed_at, now)
    query = select(attendances).where(attendances.c.service_id == service_id, *in_department)
    for row in await connection.execute(query):
        entry(row.pseudonym).attendance = fact_of(Attendance, row, "service")
    query = select(referrals).where(
        referrals.c.to_service == service_id,
        referrals.c.status.in_(WAITING),
        referrals.c.referred_at <= utc_timestamp(now),
    )
    for row in await connection.execute(query):
        entry(row.pseudonym).referral = fact_of(Referral, row, "")
    open_here = open_at(assessments.c.opened_at, assessments.c.completed_at, now)
    query = select(assessments).where(assessments.c.service_id == service_id, *open_here)
    for row in await connection.execute(query):
        entry(row.pseudonym).assessments_here.append(fact_of(Assessment, row, "service"))
    ordered = sorted(entries.values(), key=lambda e: (e.since, e.pseudonym))
    page = ordered[offset : offset + limit]
    await _fill(connection, service_id, {e.pseudonym: e for e in page})
    return CaseloadPage(page, len(ordered))


async def _fill(
    connection: AsyncConnection, service_id: str, page: dict[str, CaseloadEntry]
) -> None:
    """The delay in the service, and every referral and assessment, of the page's patients,
    with their stays whose criteria-to-reside reviews named a next step."""
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
    query = select(stays).where(stays.c.pseudonym.in_(patients), stays.c.next_step.is_not(None))
    reviewed: dict[str, list[Stay]] = defaultdict(list)
    for row in await connection.execute(query):
        reviewed[row.pseudonym].append(fact_of(Stay, row, "service"))
    for pseudonym, entry in page.items():
        entry.referrals = sorted(found[pseudonym], key=lambda r: r.referred_at)
        entry.assessments = sorted(assessed[pseudonym], key=lambda a: a.opened_at)
        entry.reviewed = sorted(reviewed[pseudonym], key=lambda s: s.started_at)


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


@dataclass(frozen=True, slots=True)
class _Queue:
    """What a service's queue is made of: the rows of one table, and when each joined it."""

    columns: tuple[Any, ...]
    began: Any
    where: tuple[Any, ...]
    joined_by: str


def _queue_of(service: Service, now: datetime) -> _Queue:
    """A service's queue as its kind has it (SPEC, "queue means"), as its figures count it."""
    if service.kind is ServiceKind.ACUTE_FRONT_DOOR:
        began, ended = attendances.c.arrived_at, attendances.c.departed_at
        where = (attendances.c.service_id == service.id, *open_at(began, ended, now))
        return _Queue((attendances.c.pseudonym, began), began, where, "arrival")
    if service.kind is ServiceKind.TRANSFERS_OF_CARE:
        began, ended = assessments.c.opened_at, assessments.c.completed_at
        where = (assessments.c.service_id == service.id, *open_at(began, ended, now))
        columns = (assessments.c.pseudonym, began, assessments.c.kind)
        return _Queue(columns, began, where, "assessment")
    began = queue_entries.c.referred_at
    where = (queue_entries.c.service_id == service.id, began <= now)  # a DateTime column
    return _Queue(tuple(queue_entries.c), began, where, "referral")


async def queue_page(
    connection: AsyncConnection, service: Service, now: datetime, *, limit: int, offset: int
) -> QueuePage:
    """A service's queue at `now`: its length and longest wait, with a page of its entries
    (`limit` 0: none), in one query unless the page is empty. A front door's entries are the
    patients in the department, a transfer-of-care hub's its open assessments, any other
    service's the referrals waiting for it."""
    queue = _queue_of(service, now)
    length = func.count().over().label("queue_length")
    oldest = func.min(queue.began).over().label("queue_oldest")
    pseudonym = queue.columns[0].table.c.pseudonym
    if limit > 0:
        query = (
            select(*queue.columns, length, oldest)
            .where(*queue.where)
            .order_by(queue.began, pseudonym)
            .limit(limit)
            .offset(offset)
        )
        rows = [dict(row._mapping) for row in await connection.execute(query)]
        if rows:
            first = rows[0]
            entries = [_entry(row, queue.began.name, queue.joined_by) for row in rows]
            return QueuePage(first["queue_length"], _moment(first["queue_oldest"]), entries)
    query = select(func.count().label("length"), func.min(queue.began).label("oldest"))
    found = (await connection.execute(query.where(*queue.where))).one()
    return QueuePage(found.length, _moment(found.oldest) if found.oldest else None, [])


def _entry(row: dict[str, Any], began: str, joined_by: str) -> dict[str, Any]:
    """One queue entry, whatever it is made of: when and how the patient joined the queue."""
    return {
        "pseudonym": row["pseudonym"],
        "referred_at": _moment(row[began]),
        "joined_by": joined_by,
        "referring_service": row.get("referring_service"),
        "pathway": row.get("pathway"),
        "priority": row.get("priority"),
        "assessment_kind": row.get("kind"),
    }


def _moment(value: datetime | str) -> datetime:
    """A moment as a table stores it (the queue table a datetime, the facts a UTC string)."""
    return as_utc(value) if isinstance(value, datetime) else parse_timestamp(value)
