"""The durable outbox: each alert is stored with one delivery row per route, in one transaction.

A delivery row moves pending -> delivering (claimed, with a lease) -> delivered, or back to
pending for a retry, or to failed. Every transition after a claim is fenced on the attempt
number, so a deliverer whose lease lapsed cannot overwrite the work of the one that took over.
The caller owns the connection and its transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Insert, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel.alert_tables import alert_outbox, alerts
from flowsight.services.pressure import LevelChange, ServiceScore, SystemScore


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Alert:
    """A change of OPEL level and the evidence (indicators, values, thresholds) behind it."""

    id: str
    scope: str
    level_from: int
    level_to: int
    at: datetime
    reason: str
    score: float | None
    evidence: dict[str, Any]

    @property
    def escalation(self) -> bool:
        return self.level_to > self.level_from

    @classmethod
    def from_change(
        cls, change: LevelChange, score: ServiceScore | SystemScore | None = None
    ) -> Alert:
        """The alert for `change`; its id is stable, so a replayed change is the same alert."""
        return cls(
            id=change.alert_id,
            scope=change.scope,
            level_from=change.from_level,
            level_to=change.to_level,
            at=change.at,
            reason=change.reason,
            score=score.score if score else None,
            evidence=score.to_dict() if score else {},
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this deliverer now owns until its lease lapses."""

    id: int
    alert: Alert
    route: str
    dedupe_key: str
    attempts: int  # including this one; the fencing token for marking the outcome


def dedupe_key(alert_id: str, route: str) -> str:
    """The key a receiver sees on every attempt to deliver this alert on this route."""
    return f"{alert_id}/{route}"


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _insert(connection: AsyncConnection) -> Callable[[Table], Insert]:
    # INSERT .. ON CONFLICT DO NOTHING exists in both dialects, but under different imports.
    if connection.dialect.name == "postgresql":
        return lambda table: postgresql.insert(table).on_conflict_do_nothing()
    return lambda table: sqlite.insert(table).on_conflict_do_nothing()


async def record_alert(
    connection: AsyncConnection, alert: Alert, routes: Iterable[str], now: datetime
) -> bool:
    """Store `alert` and a pending delivery per route; False (and nothing written) if known."""
    insert = _insert(connection)
    result = await connection.execute(
        insert(alerts).values(
            id=alert.id,
            scope=alert.scope,
            level_from=alert.level_from,
            level_to=alert.level_to,
            at=as_utc(alert.at),
            reason=alert.reason[:512],
            score=alert.score,
            indicators=alert.evidence,
            state="open",
            created_at=as_utc(now),
        )
    )
    if result.rowcount == 0:
        return False
    rows = [
        {
            "alert_id": alert.id,
            "route": route,
            "dedupe_key": dedupe_key(alert.id, route),
            "state": DeliveryState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": as_utc(now),
            "created_at": as_utc(now),
        }
        for route in sorted(set(routes))
    ]
    if rows:
        await connection.execute(insert(alert_outbox), rows)
    return True


async def claim_due(
    connection: AsyncConnection,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    routes: Collection[str] | None = None,
    other_routes: bool = False,
) -> list[Claim]:
    """Take up to `limit` due deliveries (pending, or delivering with a lapsed lease): of every
    route, of `routes` only, or (`other_routes`) of every route but those."""
    now = as_utc(now)
    is_due = [
        alert_outbox.c.state.in_([DeliveryState.PENDING, DeliveryState.DELIVERING]),
        alert_outbox.c.next_attempt_at <= now,
    ]
    if routes is not None:
        named = alert_outbox.c.route.in_(list(routes))
        is_due.append(~named if other_routes else named)
    # Looked for first: an UPDATE takes SQLite's one write lock even when it changes nothing, and
    # the deliverer asks every second, so the worker's writes would queue behind empty claims.
    peek = select(alert_outbox.c.id).where(*is_due).limit(1)
    if (await connection.execute(peek)).first() is None:
        return []
    due = (
        select(alert_outbox.c.id)
        .where(*is_due)
        .order_by(alert_outbox.c.next_attempt_at, alert_outbox.c.id)
        .limit(limit)
        # PostgreSQL: concurrent deliverers skip each other's rows instead of waiting. SQLite
        # renders no FOR UPDATE; its single writer makes this one UPDATE the claim.
        .with_for_update(skip_locked=True)
    )
    claimed = await connection.execute(
        update(alert_outbox)
        .where(alert_outbox.c.id.in_(due.scalar_subquery()))
        .values(
            state=DeliveryState.DELIVERING.value,
            attempts=alert_outbox.c.attempts + 1,
            next_attempt_at=now + lease,
        )
        .returning(
            alert_outbox.c.id,
            alert_outbox.c.alert_id,
            alert_outbox.c.route,
            alert_outbox.c.dedupe_key,
            alert_outbox.c.attempts,
        )
    )
    rows = claimed.all()
    if not rows:
        return []
    found = await connection.execute(
        select(alerts).where(alerts.c.id.in_({row.alert_id for row in rows}))
    )
    by_id = {row.id: _alert(row._mapping) for row in found}
    return [
        Claim(row.id, by_id[row.alert_id], row.route, row.dedupe_key, row.attempts)
        for row in sorted(rows, key=lambda row: row.id)
    ]


def _alert(row: Any) -> Alert:
    return Alert(
        id=row["id"],
        scope=row["scope"],
        level_from=row["level_from"],
        level_to=row["level_to"],
        at=as_utc(row["at"]),
        reason=row["reason"],
        score=row["score"],
        evidence=row["indicators"],
    )


async def _finish(connection: AsyncConnection, claim: Claim, **values: Any) -> bool:
    result = await connection.execute(
        update(alert_outbox)
        .where(
            alert_outbox.c.id == claim.id,
            alert_outbox.c.state == DeliveryState.DELIVERING.value,
            alert_outbox.c.attempts == claim.attempts,
        )
        .values(**values)
    )
    return result.rowcount == 1


async def mark_delivered(connection: AsyncConnection, claim: Claim, now: datetime) -> bool:
    """Record the delivery; False if the claim was lost to another deliverer meanwhile."""
    return await _finish(
        connection, claim, state=DeliveryState.DELIVERED.value, delivered_at=as_utc(now)
    )


async def mark_retry(
    connection: AsyncConnection, claim: Claim, error: str, next_attempt_at: datetime
) -> bool:
    """Put the delivery back for another attempt at `next_attempt_at`."""
    return await _finish(
        connection,
        claim,
        state=DeliveryState.PENDING.value,
        last_error=error,
        next_attempt_at=as_utc(next_attempt_at),
    )


async def mark_failed(connection: AsyncConnection, claim: Claim, error: str) -> bool:
    """Give the delivery up for good, keeping the reason."""
    return await _finish(connection, claim, state=DeliveryState.FAILED.value, last_error=error)


async def retry_failed(
    connection: AsyncConnection, now: datetime, alert_id: str | None = None
) -> int:
    """Put failed deliveries (of one alert, or all) back in the queue; how many."""
    query = (
        update(alert_outbox)
        .where(alert_outbox.c.state == DeliveryState.FAILED.value)
        .values(state=DeliveryState.PENDING.value, attempts=0, next_attempt_at=as_utc(now))
    )
    if alert_id is not None:
        query = query.where(alert_outbox.c.alert_id == alert_id)
    return (await connection.execute(query)).rowcount


async def acknowledge(
    connection: AsyncConnection, alert_id: str, by: str, note: str | None, now: datetime
) -> bool:
    """Record who acknowledged an open alert, when and why; False if unknown or already done."""
    result = await connection.execute(
        update(alerts)
        .where(alerts.c.id == alert_id, alerts.c.state == "open")
        .values(
            state="acknowledged",
            acknowledged_by=by,
            acknowledged_at=as_utc(now),
            acknowledged_note=note,
        )
    )
    return result.rowcount == 1


async def deliveries(connection: AsyncConnection, alert_id: str) -> list[dict[str, Any]]:
    """Every delivery of one alert, by route."""
    result = await connection.execute(
        select(alert_outbox)
        .where(alert_outbox.c.alert_id == alert_id)
        .order_by(alert_outbox.c.route)
    )
    return [dict(row._mapping) for row in result]


async def backlog(connection: AsyncConnection) -> dict[str, int]:
    """How many deliveries are pending, being delivered or failed."""
    result = await connection.execute(
        select(alert_outbox.c.state, func.count())
        .where(alert_outbox.c.state != DeliveryState.DELIVERED.value)
        .group_by(alert_outbox.c.state)
    )
    counts = {state.value: 0 for state in DeliveryState if state != DeliveryState.DELIVERED}
    counts.update({state: count for state, count in result})
    return counts
