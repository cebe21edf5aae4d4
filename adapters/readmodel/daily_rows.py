"""Each service's figures per day in the read model (`service_daily`), and the marks of the days
waiting to be computed again (`service_daily_dirty`).

The refresh (streams/daily.py) reads and writes every service's rows in a few statements, not
a few per service: under load each statement waits for turns of the worker's event loop.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from flowsight.adapters.readmodel.store import (
    IN_LIST,
    as_utc,
    dialect_insert,
    in_parts,
    upsert_rows,
)
from flowsight.adapters.readmodel.tables import service_daily, service_daily_dirty
from flowsight.services.facts import LONDON


async def mark_dirty(
    connection: AsyncConnection, dirty: dict[str, tuple[date, date]], token: str
) -> None:
    """Remember that each service's figures need computing again over a span of days (first,
    last), marked by the batch `token` (the same batch written again widens its own mark)."""
    if not dirty:
        return
    table = service_daily_dirty
    query = dialect_insert(connection)(table)
    postgres = connection.dialect.name == "postgresql"
    earlier, later = (func.least, func.greatest) if postgres else (func.min, func.max)
    query = query.on_conflict_do_update(
        index_elements=[table.c.service_id, table.c.token],
        set_={
            "day": earlier(table.c.day, query.excluded.day),
            "through": later(table.c.through, query.excluded.through),
        },
    )
    rows = [
        {"service_id": service_id, "day": first, "through": last, "token": token}
        for service_id, (first, last) in sorted(dirty.items())
    ]
    await connection.execute(query, rows)


@dataclass(frozen=True, slots=True)
class DirtyMark:
    """A service's figures wait to be computed from `day` to `through`: the span of the marks
    of the batches `tokens`."""

    service_id: str
    day: date
    through: date
    tokens: frozenset[str]


async def dirty_marks(connection: AsyncConnection) -> list[DirtyMark]:
    """Every service whose figures wait to be computed, with the days they wait for."""
    spans: dict[str, tuple[date, date, set[str]]] = {}
    for row in await connection.execute(select(service_daily_dirty)):
        day, through, tokens = spans.get(row.service_id, (row.day, row.through, set()))
        tokens.add(row.token)
        spans[row.service_id] = (min(day, row.day), max(through, row.through), tokens)
    return [
        DirtyMark(service_id, day, through, frozenset(tokens))
        for service_id, (day, through, tokens) in sorted(spans.items())
    ]


#: One batch's mark of a service, as read.
_AS_READ = and_(
    service_daily_dirty.c.service_id == bindparam("mark_service"),
    service_daily_dirty.c.token == bindparam("mark_token"),
)


def _as_read(mark: DirtyMark, **values: Any) -> list[dict[str, Any]]:
    return [
        {"mark_service": mark.service_id, "mark_token": token, **values}
        for token in sorted(mark.tokens)
    ]


async def clear_marks(connection: AsyncConnection, marks: Sequence[DirtyMark]) -> None:
    """Clear the batches' marks that were read, their days computed; a batch's mark set since
    stays."""
    rows = [row for mark in marks for row in _as_read(mark)]
    if rows:
        await connection.execute(delete(service_daily_dirty).where(_AS_READ), rows)


async def move_marks(connection: AsyncConnection, moves: Sequence[tuple[DirtyMark, date]]) -> None:
    """Each mark's days before its `day` were computed: the batches' marks read wait from that
    day on (those that end before it are cleared); a batch's mark set since stays."""
    rows = [row for mark, day in moves for row in _as_read(mark, from_day=day)]
    if not rows:
        return
    table = service_daily_dirty
    from_day: BindParameter[date] = bindparam("from_day")
    await connection.execute(delete(table).where(_AS_READ, table.c.through < from_day), rows)
    await connection.execute(
        update(table).where(_AS_READ, table.c.day < from_day).values(day=from_day), rows
    )


async def store_days(
    connection: AsyncConnection, figures: Mapping[str, Mapping[date, dict[str, Any]]], now: datetime
) -> None:
    """Store (insert or replace) each service's figures of these days."""
    rows = [
        {"service_id": service_id, "day": day, "figures": values, "updated_at": now}
        for service_id, days in sorted(figures.items())
        for day, values in sorted(days.items())
    ]
    if rows:
        await upsert_rows(connection, service_daily, rows)


async def stored_days(
    connection: AsyncConnection, since: Mapping[str, date]
) -> dict[str, dict[date, datetime]]:
    """When each stored day of each service from its day in `since` was computed."""
    found: dict[str, dict[date, datetime]] = {service_id: {} for service_id in since}
    if not since:
        return found
    query = select(service_daily.c.service_id, service_daily.c.day, service_daily.c.updated_at)
    query = query.where(service_daily.c.day >= min(since.values()))
    for row in await connection.execute(query):
        first = since.get(row.service_id)
        if first is not None and row.day >= first:
            found[row.service_id][row.day] = as_utc(row.updated_at)
    return found


async def latest_days(connection: AsyncConnection) -> dict[str, tuple[date, datetime]]:
    """Each service's latest stored day, and when it was computed."""
    latest = (
        select(service_daily.c.service_id, func.max(service_daily.c.day).label("day"))
        .group_by(service_daily.c.service_id)
        .subquery()
    )
    query = select(
        service_daily.c.service_id, service_daily.c.day, service_daily.c.updated_at
    ).join(
        latest,
        and_(
            service_daily.c.service_id == latest.c.service_id, service_daily.c.day == latest.c.day
        ),
    )
    return {
        row.service_id: (row.day, as_utc(row.updated_at)) for row in await connection.execute(query)
    }


async def earliest_days(connection: AsyncConnection) -> dict[str, date]:
    """Each service's first stored day."""
    query = select(service_daily.c.service_id, func.min(service_daily.c.day)).group_by(
        service_daily.c.service_id
    )
    return {service_id: day for service_id, day in await connection.execute(query)}


async def days_among(
    connection: AsyncConnection, days: Mapping[str, Collection[date]]
) -> dict[str, set[date]]:
    """Which of its `days` each service has a stored row for."""
    found: dict[str, set[date]] = {service_id: set() for service_id in days}
    wanted = sorted(set().union(*days.values())) if days else []
    for chunk in in_parts(wanted, IN_LIST):
        query = select(service_daily.c.service_id, service_daily.c.day).where(
            service_daily.c.service_id.in_(sorted(days)), service_daily.c.day.in_(list(chunk))
        )
        for row in await connection.execute(query):
            if row.day in days[row.service_id]:
                found[row.service_id].add(row.day)
    return found


async def drop_days_before(connection: AsyncConnection, firsts: Mapping[str, date | None]) -> None:
    """Remove each service's rows before its first fact (all of them when it has none)."""
    factless = sorted(service_id for service_id, first in firsts.items() if first is None)
    if factless:
        await connection.execute(
            delete(service_daily).where(service_daily.c.service_id.in_(factless))
        )
    dated = [
        {"of_service": service_id, "before": first}
        for service_id, first in sorted(firsts.items())
        if first is not None
    ]
    if dated:
        query = delete(service_daily).where(
            service_daily.c.service_id == bindparam("of_service"),
            service_daily.c.day < bindparam("before"),
        )
        await connection.execute(query, dated)


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
