"""Journey facts in the read model: written per patient as they change, read per service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel import store
from flowsight.adapters.readmodel.store import in_parts, upsert_rows
from flowsight.adapters.readmodel.tables import (
    anomalies,
    assessments,
    attendances,
    capacity_reports,
    delays,
    referrals,
    stays,
)
from flowsight.services.facts import (
    Anomaly,
    Assessment,
    Attendance,
    Delay,
    Referral,
    Stay,
    london_day,
)
from flowsight.services.journey import JourneyState
from flowsight.services.kpis import ServiceFacts
from flowsight.services.timestamps import utc_timestamp


@dataclass(frozen=True, slots=True)
class _FactTable:
    """Which table holds one kind of fact: the fact's fields and the column each is stored in
    (the fact's service as `service_id`), worked out once rather than per row."""

    table: Table
    kind: type[Any]
    #: Where the facts of this kind are on a JourneyState.
    attribute: str
    columns: tuple[str, ...]
    values: Callable[[Any], tuple[Any, ...]]

    @classmethod
    def of(cls, table: Table, kind: type[Any], attribute: str, service_field: str) -> _FactTable:
        names = tuple(f.name for f in fields(kind))
        columns = tuple("service_id" if name == service_field else name for name in names)
        return cls(table, kind, attribute, columns, attrgetter(*names))

    def row(self, fact: Any, pseudonym: str, seq: int) -> dict[str, Any]:
        row = dict(zip(self.columns, self.values(fact), strict=True))
        row["pseudonym"], row["seq"] = pseudonym, seq
        return row

    def fact(self, row: Any) -> Any:
        values = row._mapping
        return self.kind(*[values[column] for column in self.columns])


_TABLES = (
    _FactTable.of(stays, Stay, "stays", "service"),
    _FactTable.of(delays, Delay, "delays", "service"),
    _FactTable.of(referrals, Referral, "referrals", ""),
    _FactTable.of(attendances, Attendance, "attendances", "service"),
    _FactTable.of(assessments, Assessment, "assessments", "service"),
    _FactTable.of(anomalies, Anomaly, "anomalies", "service"),
)
_BY_KIND = {spec.kind: spec for spec in _TABLES}


def fact_of(kind: type[Any], row: Any, service_field: str = "") -> Any:
    """The fact of `kind` a stored row holds (`service_field`, the fact field stored as
    `service_id`, is known for each kind: callers may name it or not)."""
    return _BY_KIND[kind].fact(row)


async def write_facts(
    connection: AsyncConnection,
    before: Sequence[JourneyState],
    states: Sequence[JourneyState],
) -> None:
    """Write what changed from each patient's facts `before` to their `states`: the facts gone
    are deleted, the new and altered ones upserted by (patient, number); nothing is read.

    Idempotent: a batch written again after a restart (the read model already holding
    `states`) writes the same rows again, one copy each.
    """
    for spec in _TABLES:
        upserts: list[dict[str, Any]] = []
        gone: list[dict[str, Any]] = []
        for was, now in zip(before, states, strict=True):
            old, new = getattr(was, spec.attribute), getattr(now, spec.attribute)
            upserts.extend(
                spec.row(fact, now.pseudonym, seq)
                for seq, fact in enumerate(new)
                if seq >= len(old) or old[seq] != fact
            )
            if len(old) > len(new):
                gone.append({"patient": now.pseudonym, "kept": len(new)})
        if gone:
            table = spec.table
            query = delete(table).where(
                table.c.pseudonym == bindparam("patient"), table.c.seq >= bindparam("kept")
            )
            await connection.execute(query, gone)
        if upserts:
            await upsert_rows(connection, spec.table, upserts)


async def service_facts(
    connection: AsyncConnection, service_id: str, since: datetime
) -> ServiceFacts:
    """The facts of a service that are current, or that happened on or after `since`."""
    return (await services_facts(connection, {service_id: since}))[service_id]


async def services_facts(
    connection: AsyncConnection, since: Mapping[str, datetime]
) -> dict[str, ServiceFacts]:
    """Each service's facts that are current, or that happened on or after its moment in
    `since`: one statement for each kind of fact and SERVICES_PER_STATEMENT services (under
    load every statement waits for turns of the event loop)."""
    found = {service_id: ServiceFacts() for service_id in since}
    for ids in in_parts(sorted(since), store.SERVICES_PER_STATEMENT):
        after = {service_id: utc_timestamp(since[service_id]) for service_id in ids}
        for spec, owner, recent in _RECENT:
            parts = (
                part for service_id, moment in after.items() for part in recent(service_id, moment)
            )
            for row in await connection.execute(union_all(*parts)):
                getattr(found[row._mapping[owner]], spec.attribute).append(spec.fact(row))
    return found


_Recent = Callable[[str, str], list[Select[Any]]]


def _recent_ranges(table: Table, began: str, ended: str) -> _Recent:
    def recent(service_id: str, after: str) -> list[Select[Any]]:
        return open_or_since_parts(table, table.c.service_id == service_id, began, ended, after)

    return recent


def _recent_delays(service_id: str, after: str) -> list[Select[Any]]:
    ended = delays.c.ended_at
    return [
        select(delays).where(
            delays.c.service_id == service_id, or_(ended.is_(None), ended >= after)
        )
    ]


def _recent_referrals(service_id: str, after: str) -> list[Select[Any]]:
    return [
        select(referrals).where(
            referrals.c.to_service == service_id,
            or_(
                referrals.c.status.in_(("new", "accepted")),
                referrals.c.referred_at >= after,
                referrals.c.decided_at >= after,
                referrals.c.started_at >= after,
            ),
        )
    ]


def _recent_assessments(service_id: str, after: str) -> list[Select[Any]]:
    completed = assessments.c.completed_at
    return [
        select(assessments).where(
            assessments.c.service_id == service_id, or_(completed.is_(None), completed >= after)
        )
    ]


#: Each kind of fact the figures read: where it is, the column naming its service, and the
#: SELECTs of one service's rows current or since a moment.
_RECENT: tuple[tuple[_FactTable, str, _Recent], ...] = (
    (_BY_KIND[Stay], "service_id", _recent_ranges(stays, "started_at", "ended_at")),
    (_BY_KIND[Delay], "service_id", _recent_delays),
    (_BY_KIND[Referral], "to_service", _recent_referrals),
    (_BY_KIND[Attendance], "service_id", _recent_ranges(attendances, "arrived_at", "departed_at")),
    (_BY_KIND[Assessment], "service_id", _recent_assessments),
)


def open_or_since(
    table: Table, of_service: ColumnElement[bool], began: str, ended: str, after: str
) -> CompoundSelect[Any]:
    """A service's rows not yet `ended`, or that `began` or `ended` at or after `after`."""
    return union_all(*open_or_since_parts(table, of_service, began, ended, after))


def open_or_since_parts(
    table: Table, of_service: ColumnElement[bool], began: str, ended: str, after: str
) -> list[Select[Any]]:
    """`open_or_since` as three disjoint index ranges (service and end; service and start)
    rather than one OR, which the planner may answer by reading the service's whole history
    (21 ms against 4 ms for the wards' stays after 90 days, SQLite without statistics)."""
    began_at, ended_at = table.c[began], table.c[ended]
    mine = select(table).where(of_service)
    return [
        mine.where(ended_at.is_(None)),
        mine.where(ended_at >= after),
        mine.where(began_at >= after, ended_at < after),
    ]


async def current_delays(
    connection: AsyncConnection, service_id: str | None = None
) -> list[tuple[str, Delay]]:
    """Every delay still running (optionally of one service), with its patient's pseudonym."""
    query = select(delays).where(delays.c.ended_at.is_(None))
    if service_id is not None:
        query = query.where(delays.c.service_id == service_id)
    return [(row.pseudonym, fact_of(Delay, row)) for row in await connection.execute(query)]


async def anomaly_counts(connection: AsyncConnection) -> list[dict[str, Any]]:
    """Unreconciled anomalies, counted by service and kind."""
    query = (
        select(anomalies.c.service_id, anomalies.c.kind, func.count().label("count"))
        .group_by(anomalies.c.service_id, anomalies.c.kind)
        .order_by(anomalies.c.service_id, anomalies.c.kind)
    )
    return [
        {"service": row.service_id, "kind": row.kind, "count": row.count}
        for row in await connection.execute(query)
    ]


async def first_fact_days(
    connection: AsyncConnection, service_ids: Sequence[str]
) -> dict[str, date | None]:
    """The day (Europe/London) of each service's earliest fact or capacity report (None if it
    has none), in one statement for SERVICES_PER_STATEMENT services."""
    firsts: dict[str, date | None] = {}
    for chunk in in_parts(service_ids, store.SERVICES_PER_STATEMENT):
        earliest = select(
            *[
                select(func.min(column)).where(key == service_id).scalar_subquery()
                for service_id in chunk
                for column, key in _FIRST_MOMENTS
            ]
        )
        moments = list((await connection.execute(earliest)).one())
        for position, service_id in enumerate(chunk):
            mine = moments[position * len(_FIRST_MOMENTS) :][: len(_FIRST_MOMENTS)]
            present = [moment for moment in mine if moment]
            firsts[service_id] = london_day(min(present)) if present else None
    return firsts


#: Where a service's facts and capacity reports begin: (moment, service) columns.
_FIRST_MOMENTS = (
    (stays.c.started_at, stays.c.service_id),
    (delays.c.started_at, delays.c.service_id),
    (referrals.c.referred_at, referrals.c.to_service),
    (attendances.c.arrived_at, attendances.c.service_id),
    (assessments.c.opened_at, assessments.c.service_id),
    (capacity_reports.c.reported_at, capacity_reports.c.service_id),
)
