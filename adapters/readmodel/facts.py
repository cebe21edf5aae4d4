"""Journey facts in the read model: replaced per patient, read per service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel.store import as_utc
from flowsight.adapters.readmodel.tables import (
    anomalies,
    assessments,
    attendances,
    capacity_reports,
    delays,
    referrals,
    service_daily,
    service_daily_dirty,
    stays,
)
from flowsight.services.facts import LONDON, Anomaly, Assessment, Attendance, Delay, Referral, Stay
from flowsight.services.journey import JourneyState
from flowsight.services.kpis import ServiceFacts
from flowsight.services.timestamps import utc_timestamp
from flowsight.services.touched import london_day

#: Which table holds which fact, and the fact field stored as `service_id`.
_TABLES: tuple[tuple[Table, type[Any], str, str], ...] = (
    (stays, Stay, "stays", "service"),
    (delays, Delay, "delays", "service"),
    (referrals, Referral, "referrals", ""),
    (attendances, Attendance, "attendances", "service"),
    (assessments, Assessment, "assessments", "service"),
    (anomalies, Anomaly, "anomalies", "service"),
)


def _row(fact: Any, pseudonym: str, seq: int, service_field: str) -> dict[str, Any]:
    row = asdict(fact)
    if service_field:
        row["service_id"] = row.pop(service_field)
    row["pseudonym"], row["seq"] = pseudonym, seq
    return row


def fact_of(kind: type[Any], row: Any, service_field: str) -> Any:
    """The fact of `kind` a stored row holds."""
    values = row._mapping
    names = [f.name for f in fields(kind)]
    return kind(
        **{name: values["service_id"] if name == service_field else values[name] for name in names}
    )


async def replace_facts(connection: AsyncConnection, states: Sequence[JourneyState]) -> None:
    """Make the stored facts of these patients exactly those of their states (idempotent)."""
    patients = [state.pseudonym for state in states]
    if not patients:
        return
    for table, _kind, attribute, service_field in _TABLES:
        await connection.execute(delete(table).where(table.c.pseudonym.in_(patients)))
        rows = [
            _row(fact, state.pseudonym, seq, service_field)
            for state in states
            for seq, fact in enumerate(getattr(state, attribute))
        ]
        if rows:
            await connection.execute(insert(table), rows)


async def stored_states(
    connection: AsyncConnection, pseudonyms: Sequence[str]
) -> list[JourneyState]:
    """The facts stored for these patients, as journey states (what the read model holds)."""
    states = {p: JourneyState(p) for p in pseudonyms}
    if not states:
        return []
    for table, kind, attribute, service_field in _TABLES:
        rows = await connection.execute(select(table).where(table.c.pseudonym.in_(list(states))))
        for row in rows:
            getattr(states[row.pseudonym], attribute).append(fact_of(kind, row, service_field))
    return list(states.values())


async def service_facts(
    connection: AsyncConnection, service_id: str, since: datetime
) -> ServiceFacts:
    """The facts of a service that are current, or that happened on or after `since`."""
    after = utc_timestamp(since)
    facts = ServiceFacts()
    query = select(stays).where(
        stays.c.service_id == service_id,
        or_(stays.c.ended_at.is_(None), stays.c.ended_at >= after, stays.c.started_at >= after),
    )
    facts.stays = [fact_of(Stay, row, "service") for row in await connection.execute(query)]
    query = select(delays).where(
        delays.c.service_id == service_id,
        or_(delays.c.ended_at.is_(None), delays.c.ended_at >= after),
    )
    facts.delays = [fact_of(Delay, row, "service") for row in await connection.execute(query)]
    query = select(referrals).where(
        referrals.c.to_service == service_id,
        or_(
            referrals.c.status.in_(("new", "accepted")),
            referrals.c.referred_at >= after,
            referrals.c.decided_at >= after,
            referrals.c.started_at >= after,
        ),
    )
    facts.referrals = [fact_of(Referral, row, "") for row in await connection.execute(query)]
    query = select(attendances).where(
        attendances.c.service_id == service_id,
        or_(
            attendances.c.departed_at.is_(None),
            attendances.c.departed_at >= after,
            attendances.c.arrived_at >= after,
        ),
    )
    facts.attendances = [
        fact_of(Attendance, row, "service") for row in await connection.execute(query)
    ]
    query = select(assessments).where(
        assessments.c.service_id == service_id,
        or_(assessments.c.completed_at.is_(None), assessments.c.completed_at >= after),
    )
    facts.assessments = [
        fact_of(Assessment, row, "service") for row in await connection.execute(query)
    ]
    return facts


async def current_delays(
    connection: AsyncConnection, service_id: str | None = None
) -> list[tuple[str, Delay]]:
    """Every delay still running (optionally of one service), with its patient's pseudonym."""
    query = select(delays).where(delays.c.ended_at.is_(None))
    if service_id is not None:
        query = query.where(delays.c.service_id == service_id)
    return [
        (row.pseudonym, fact_of(Delay, row, "service")) for row in await connection.execute(query)
    ]


async def anomaly_counts(connection: AsyncConnection) -> list[dict[str, Any]]:
    """Unreconciled anomalies, counted by service and kind."""
    rows = await connection.execute(select(anomalies.c.service_id, anomalies.c.kind))
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[(row.service_id, row.kind)] = counts.get((row.service_id, row.kind), 0) + 1
    return [
        {"service": service, "kind": kind, "count": count}
        for (service, kind), count in sorted(counts.items())
    ]


async def mark_dirty(connection: AsyncConnection, days: set[tuple[str, date]], token: str) -> None:
    """Remember that these days' figures need computing again, under a new `token`."""
    by_service: dict[str, list[date]] = {}
    for service_id, day in days:
        by_service.setdefault(service_id, []).append(day)
    for service_id, marked in by_service.items():
        for chunk in _chunks(sorted(marked)):
            await connection.execute(
                delete(service_daily_dirty).where(
                    service_daily_dirty.c.service_id == service_id,
                    service_daily_dirty.c.day.in_(chunk),
                )
            )
    if days:
        await connection.execute(
            insert(service_daily_dirty),
            [{"service_id": s, "day": d, "token": token} for s, d in sorted(days)],
        )


def _chunks(days: list[date], size: int = 400) -> list[list[date]]:
    # A bounded IN list: databases limit the parameters of one statement.
    return [days[i : i + size] for i in range(0, len(days), size)]


async def dirty_days(connection: AsyncConnection, limit: int = 500) -> list[tuple[str, date, str]]:
    """Days waiting to have their figures computed, oldest first, with their mark's token."""
    query = select(service_daily_dirty).order_by(service_daily_dirty.c.day).limit(limit)
    return [(row.service_id, row.day, row.token) for row in await connection.execute(query)]


async def store_daily(
    connection: AsyncConnection,
    service_id: str,
    day: date,
    figures: dict[str, Any],
    now: datetime,
    token: str | None = None,
) -> None:
    """Replace one day's figures of a service; clear its dirty mark if it is still `token`."""
    key = and_(service_daily.c.service_id == service_id, service_daily.c.day == day)
    await connection.execute(delete(service_daily).where(key))
    await connection.execute(
        insert(service_daily),
        {"service_id": service_id, "day": day, "figures": figures, "updated_at": now},
    )
    if token is not None:
        await clear_mark(connection, service_id, day, token)


async def clear_mark(connection: AsyncConnection, service_id: str, day: date, token: str) -> None:
    """Clear a day's dirty mark unless it was set again (with another token) since read."""
    await connection.execute(
        delete(service_daily_dirty).where(
            service_daily_dirty.c.service_id == service_id,
            service_daily_dirty.c.day == day,
            service_daily_dirty.c.token == token,
        )
    )


async def first_fact_day(connection: AsyncConnection, service_id: str) -> date | None:
    """The day (Europe/London) of the service's earliest fact or capacity report, if any."""
    earliest = [
        select(func.min(column).label("at")).where(key == service_id)
        for column, key in (
            (stays.c.started_at, stays.c.service_id),
            (delays.c.started_at, delays.c.service_id),
            (referrals.c.referred_at, referrals.c.to_service),
            (attendances.c.arrived_at, attendances.c.service_id),
            (assessments.c.opened_at, assessments.c.service_id),
            (capacity_reports.c.reported_at, capacity_reports.c.service_id),
        )
    ]
    moments = [(await connection.execute(query)).scalar_one_or_none() for query in earliest]
    present = [moment for moment in moments if moment]
    return london_day(min(present)) if present else None


async def stored_days(
    connection: AsyncConnection, service_id: str, since: date | None = None
) -> dict[date, datetime]:
    """When each stored day of a service (from `since`, else only the latest) was computed."""
    query = select(service_daily.c.day, service_daily.c.updated_at).where(
        service_daily.c.service_id == service_id
    )
    if since is None:
        query = query.order_by(service_daily.c.day.desc()).limit(1)
    else:
        query = query.where(service_daily.c.day >= since)
    return {row.day: as_utc(row.updated_at) for row in await connection.execute(query)}


async def drop_days_before(
    connection: AsyncConnection, service_id: str, first: date | None
) -> None:
    """Remove a service's rows before its first fact (all of them when it has none)."""
    query = delete(service_daily).where(service_daily.c.service_id == service_id)
    if first is not None:
        query = query.where(service_daily.c.day < first)
    await connection.execute(query)


async def daily_figures(
    connection: AsyncConnection, service_id: str, first: date, last: date
) -> list[dict[str, Any]]:
    """A service's stored daily figures from `first` to `last` inclusive."""
    query = (
        select(service_daily)
        .where(
            service_daily.c.service_id == service_id,
            service_daily.c.day >= first,
            service_daily.c.day <= last,
        )
        .order_by(service_daily.c.day)
    )
    return [{"day": row.day.isoformat(), **row.figures} for row in await connection.execute(query)]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The start and end of a London calendar day, as aware datetimes."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=LONDON)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=LONDON)
    return start, end
