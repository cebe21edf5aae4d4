"""Reads and writes of the read model. The caller owns the connection and its transaction."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel.tables import (
    assessments,
    attendances,
    capacity_reports,
    queue_entries,
    service_capacity,
)
from flowsight.services.journey import JourneyState
from flowsight.services.timestamps import parse_timestamp, utc_timestamp

#: Services read in one statement, where the refresh reads every service's rows at once:
#: SQLite allows 500 terms in a compound SELECT (three for a service's stays or attendances).
SERVICES_PER_STATEMENT = 50
T = TypeVar("T")

#: Values in one IN list: databases limit the parameters of one statement.
IN_LIST = 400


def in_parts(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive parts of at most `size`: one statement each, bounded."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """How many wait for a service, and since when the longest has waited."""

    service_id: str
    length: int
    oldest_referred_at: datetime | None


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def minutes_waited(since: datetime, now: datetime) -> float:
    """Minutes from `since` (as stored) to `now`, to one decimal place."""
    return round((now - as_utc(since)).total_seconds() / 60, 1)


def dialect_insert(connection: AsyncConnection) -> Callable[[Table], Any]:
    """The database's own INSERT, which has ON CONFLICT (SQLite and PostgreSQL both)."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def _replacing(query: Any, table: Table) -> Any:
    """The INSERT `query` into `table`, replacing the row with the same primary key if there
    is one."""
    keys = [column.name for column in table.primary_key.columns]
    return query.on_conflict_do_update(
        index_elements=keys,
        set_={
            column.name: query.excluded[column.name]
            for column in table.columns
            if column.name not in keys
        },
    )


async def upsert_rows(
    connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert `rows` into `table`, each replacing the row with its primary key; of rows with
    the same key, the last is kept. Every row names the same columns.

    On PostgreSQL in one statement: each column's values as an array, the rows `unnest`ed from
    them. A statement a row (`executemany`) cost the server an execution each, twice the time
    (docs/benchmarks.md, twenty-fifth round). SQLite runs in the worker's process, where a
    statement a row costs no round trip.
    """
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        await connection.execute(_upsert_a_row(table), list(rows))
        return
    # One statement may not change a row twice (ON CONFLICT): the last of a key stands, as
    # it would after a statement a row.
    key = _primary_key(table)
    last = list({key(row): row for row in rows}.values())
    names = tuple(last[0])
    await connection.execute(
        _unnested_upsert(table, names), {name: [row[name] for row in last] for name in names}
    )


@cache
def _primary_key(table: Table) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's primary key in `table`, as a tuple."""
    names = [column.name for column in table.primary_key.columns]
    return lambda row: tuple(row[name] for name in names)


@cache
def _upsert_a_row(table: Table) -> Any:
    """SQLite's INSERT of `table`, replacing: run for each row (`executemany`)."""
    return _replacing(sqlite.insert(table), table)


@cache
def _unnested_upsert(table: Table, names: tuple[str, ...]) -> Any:
    """PostgreSQL's INSERT of `table`'s columns `names` from one array each, replacing."""
    arrays = func.unnest(
        *[bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in names]
    )
    rows = arrays.table_valued(*names).render_derived()
    query = postgresql.insert(table).from_select(list(names), select(*rows.c))
    return _replacing(query, table)


async def write_queue_entries(
    connection: AsyncConnection,
    before: Sequence[JourneyState],
    states: Sequence[JourneyState],
    now: datetime,
) -> None:
    """Write what changed from each patient's queue entries `before` to their `states`: the
    entries gone are deleted, the new and altered ones upserted (idempotent, nothing read)."""
    gone: list[dict[str, str]] = []
    rows: list[dict[str, Any]] = []
    for was, state in zip(before, states, strict=True):
        gone.extend(
            {"service": service, "patient": state.pseudonym}
            for service in was.queues.keys() - state.queues.keys()
        )
        rows.extend(
            {
                "service_id": entry.service,
                "pseudonym": entry.pseudonym,
                "referred_at": parse_timestamp(entry.referred_at),
                "referring_service": entry.referring_service,
                "pathway": entry.pathway,
                "priority": entry.priority,
                "updated_at": now,
            }
            for service, entry in state.queues.items()
            if was.queues.get(service) != entry
        )
    if gone:
        query = delete(queue_entries).where(
            queue_entries.c.service_id == bindparam("service"),
            queue_entries.c.pseudonym == bindparam("patient"),
        )
        await connection.execute(query, gone)
    if rows:
        await upsert_rows(connection, queue_entries, rows)


async def replace_capacity(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Store each service's latest capacity (rows marked `latest`) and keep every report in
    the capacity history, a late one for an earlier day too."""
    if not rows:
        return
    current = [
        {key: value for key, value in row.items() if key != "latest"}
        for row in rows
        if row.get("latest", True)
    ]
    if current:
        services = [row["service_id"] for row in current]
        await connection.execute(
            delete(service_capacity).where(service_capacity.c.service_id.in_(services))
        )
        await connection.execute(insert(service_capacity), current)
    # One report per service and moment: a report delivered twice is history once.
    reports = list(
        {
            (row["service_id"], report["reported_at"]): report
            for row in rows
            for report in [
                {
                    "service_id": row["service_id"],
                    "reported_at": utc_timestamp(as_utc(row["as_of"])),
                    "open": row["open"],
                    "total": row["total"],
                    "unit": row["unit"],
                }
            ]
        }.values()
    )
    # A batch read again after a restart writes the same reports: replace, never duplicate
    # (one upsert by service and moment, where a delete a report took a statement each).
    await upsert_rows(connection, capacity_reports, reports)


async def capacity_histories(
    connection: AsyncConnection, since: Mapping[str, datetime]
) -> dict[str, list[tuple[str, int]]]:
    """Each service's capacity reports made from its moment in `since` on, and the one in force
    then, as (reported at, open capacity), oldest first; one statement for every
    SERVICES_PER_STATEMENT services."""
    histories: dict[str, list[tuple[str, int]]] = {service_id: [] for service_id in since}
    reported_at, service = capacity_reports.c.reported_at, capacity_reports.c.service_id
    for ids in in_parts(sorted(since), SERVICES_PER_STATEMENT):
        parts = []
        for service_id in ids:
            after = utc_timestamp(since[service_id])
            in_force = (
                select(func.max(reported_at))
                .where(service == service_id, reported_at < after)
                .scalar_subquery()
            )
            parts.append(
                select(service, reported_at, capacity_reports.c.open).where(
                    service == service_id, or_(reported_at >= after, reported_at == in_force)
                )
            )
        for row in await connection.execute(union_all(*parts)):
            histories[row.service_id].append((row.reported_at, row.open))
    for history in histories.values():
        history.sort(key=lambda report: report[0])
    return histories


def in_force(history: list[tuple[str, int]], moment: datetime) -> int | None:
    """The open capacity of the latest report made by `moment` (None before the first)."""
    position = bisect_right(history, utc_timestamp(moment), key=lambda report: report[0])
    return history[position - 1][1] if position else None


async def capacities_in_force(connection: AsyncConnection, moment: datetime) -> dict[str, int]:
    """Each service's open capacity as reported by `moment` (services with a report only)."""
    latest = (
        select(
            capacity_reports.c.service_id,
            func.max(capacity_reports.c.reported_at).label("reported_at"),
        )
        .where(capacity_reports.c.reported_at <= utc_timestamp(moment))
        .group_by(capacity_reports.c.service_id)
        .subquery()
    )
    query = select(capacity_reports.c.service_id, capacity_reports.c.open).join(
        latest,
        (capacity_reports.c.service_id == latest.c.service_id)
        & (capacity_reports.c.reported_at == latest.c.reported_at),
    )
    return {row.service_id: row.open for row in await connection.execute(query)}


async def open_assessments(connection: AsyncConnection, now: datetime) -> dict[str, QueueSummary]:
    """Assessments open at `now` by service, and the oldest's opening: the hub's queue."""
    return await _open_by_service(
        connection, assessments.c.opened_at, assessments.c.completed_at, now
    )


async def in_department(connection: AsyncConnection, now: datetime) -> dict[str, QueueSummary]:
    """Attendances not yet departed at `now` by service, and the earliest arrival: a front
    door's queue, as its figures count it."""
    return await _open_by_service(
        connection, attendances.c.arrived_at, attendances.c.departed_at, now
    )


def open_at(began: Any, ended: Any, now: datetime) -> tuple[Any, ...]:
    """The conditions of a fact begun by `now` and not ended (an attendance in the department,
    an open assessment): one rule for the counts and the patient-level lists."""
    return (ended.is_(None), began <= utc_timestamp(now))


async def _open_by_service(
    connection: AsyncConnection, began: Any, ended: Any, now: datetime
) -> dict[str, QueueSummary]:
    """Facts of one table begun by `now` and not ended, counted by service, with the earliest
    beginning."""
    service_id = began.table.c.service_id
    query = (
        select(service_id, func.count().label("length"), func.min(began).label("oldest"))
        .where(*open_at(began, ended, now))
        .group_by(service_id)
    )
    return {
        row.service_id: QueueSummary(row.service_id, row.length, parse_timestamp(row.oldest))
        for row in await connection.execute(query)
    }


async def queue_for(
    connection: AsyncConnection, service_id: str, *, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    """The patients waiting for a service, longest wait first."""
    query = (
        select(queue_entries)
        .where(queue_entries.c.service_id == service_id)
        .order_by(queue_entries.c.referred_at, queue_entries.c.pseudonym)
        .limit(limit)
        .offset(offset)
    )
    result = await connection.execute(query)
    return [dict(row._mapping) for row in result]


async def queue_summaries(connection: AsyncConnection, now: datetime) -> dict[str, QueueSummary]:
    """Queue length and longest wait at `now` of every service with anyone waiting (referred by
    `now`: a referral stamped a little ahead, as the validator allows, waits from its time)."""
    query = (
        select(
            queue_entries.c.service_id,
            func.count().label("length"),
            func.min(queue_entries.c.referred_at).label("oldest"),
        )
        .where(queue_entries.c.referred_at <= now)  # a DateTime column, not a moment's text
        .group_by(queue_entries.c.service_id)
    )
    result = await connection.execute(query)
    return {
        row.service_id: QueueSummary(
            row.service_id, row.length, as_utc(row.oldest) if row.oldest else None
        )
        for row in result
    }


async def capacities(connection: AsyncConnection) -> dict[str, dict[str, Any]]:
    """The latest reported capacity of each service."""
    result = await connection.execute(select(service_capacity))
    return {row.service_id: dict(row._mapping) for row in result}
