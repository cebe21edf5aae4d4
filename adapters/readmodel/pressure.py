"""Pressure in the read model: each scope's latest score, its escalation, and threshold changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel.alert_tables import alerts
from flowsight.adapters.readmodel.store import as_utc
from flowsight.adapters.readmodel.tables import pressure_scored, pressure_state, threshold_overrides
from flowsight.schemas.catalogue import Catalogue, Threshold
from flowsight.services.escalation import Escalation, LevelChange
from flowsight.services.indicators import INDICATORS_BY_KIND
from flowsight.services.level_time import ScoredRun, scored_run


async def escalations(connection: AsyncConnection) -> dict[str, Escalation]:
    """Every scope's escalation state, as last saved."""
    rows = await connection.execute(select(pressure_state.c.scope, pressure_state.c.escalation))
    return {row.scope: Escalation.from_dict(row.escalation) for row in rows}


async def save_states(
    connection: AsyncConnection,
    scored: Sequence[tuple[str, Escalation, dict[str, Any]]],
    now: datetime,
) -> None:
    """Replace each scope's latest score, evidence and escalation state: (scope, escalation,
    evidence) each."""
    if not scored:
        return
    scopes = [scope for scope, _, _ in scored]
    await connection.execute(delete(pressure_state).where(pressure_state.c.scope.in_(scopes)))
    await connection.execute(
        insert(pressure_state),
        [
            {
                "scope": scope,
                "level": evidence.get("level"),
                "score": evidence.get("score"),
                "published_level": escalation.level,
                "evidence": evidence,
                "escalation": escalation.to_dict(),
                "as_of": now,
            }
            for scope, escalation, evidence in scored
        ],
    )


async def states(connection: AsyncConnection) -> dict[str, dict[str, Any]]:
    """Every scope's latest score and published level: None for a scope never read
    (`Escalation.published`), though its row holds its escalation's starting level 1 (and so do
    the rows earlier versions stored for such scopes)."""
    rows = await connection.execute(select(pressure_state))
    return {
        row.scope: {
            **row._mapping,
            "published_level": Escalation.from_dict(row.escalation).published,
        }
        for row in rows
    }


async def level_changes(connection: AsyncConnection, until: datetime) -> list[LevelChange]:
    """Every change of a scope's OPEL level (one per alert) before `until`, oldest first."""
    # SQLite keeps the UTC wall time: compare in UTC.
    query = (
        select(alerts).where(alerts.c.at < until.astimezone(UTC)).order_by(alerts.c.at, alerts.c.id)
    )
    return [
        LevelChange(row.scope, row.level_from, row.level_to, as_utc(row.at), row.reason)
        for row in await connection.execute(query)
    ]


async def record_scored(
    connection: AsyncConnection, scopes: Iterable[str], at: datetime, within: timedelta
) -> None:
    """Record that each of `scopes` was scored at `at`: its run carried on, or a new one."""
    scopes, at = sorted(set(scopes)), at.astimezone(UTC)
    if not scopes:
        return
    # SQLite keeps the UTC wall time: compare in UTC. A run not yet run out ends at `at` or later.
    query = select(pressure_scored).where(
        pressure_scored.c.scope.in_(scopes), pressure_scored.c.until >= at
    )
    ids: dict[str, int] = {}
    latest: dict[str, ScoredRun] = {}
    for row in await connection.execute(query.order_by(pressure_scored.c.since)):
        ids[row.scope] = row.id
        latest[row.scope] = ScoredRun(row.scope, as_utc(row.since), as_utc(row.until))
    carried: list[dict[str, Any]] = []
    started: list[dict[str, Any]] = []
    for scope in scopes:
        known = latest.get(scope)
        run = scored_run(known, scope, at, within)
        if known is not None and run.since == known.since:
            carried.append({"run_id": ids[scope], "run_until": run.until})
        else:
            started.append({"scope": scope, "since": run.since, "until": run.until})
    # One statement for the runs carried on and one for those begun, not one a scope.
    if carried:
        await connection.execute(
            update(pressure_scored)
            .where(pressure_scored.c.id == bindparam("run_id"))
            .values(until=bindparam("run_until")),
            carried,
        )
    if started:
        await connection.execute(insert(pressure_scored), started)


async def scored_runs(
    connection: AsyncConnection, start: datetime, stop: datetime
) -> list[ScoredRun]:
    """Every run of scores of any scope that overlaps [start, stop)."""
    query = select(pressure_scored).where(
        pressure_scored.c.until > start.astimezone(UTC),
        pressure_scored.c.since < stop.astimezone(UTC),
    )
    return [
        ScoredRun(row.scope, as_utc(row.since), as_utc(row.until))
        for row in await connection.execute(query.order_by(pressure_scored.c.since))
    ]


async def scored_scopes(connection: AsyncConnection) -> set[str]:
    """The scopes pressure has ever been scored for."""
    return set((await connection.execute(select(pressure_state.c.scope))).scalars())


async def overrides(connection: AsyncConnection) -> dict[tuple[str, str], dict[str, Any]]:
    """Thresholds changed at run time, by (service, indicator)."""
    rows = await connection.execute(select(threshold_overrides))
    return {(row.service_id, row.indicator): dict(row._mapping) for row in rows}


def effective_catalogue(
    catalogue: Catalogue, changed: dict[tuple[str, str], dict[str, Any]]
) -> Catalogue:
    """The catalogue with run-time threshold changes applied over the file's.

    A change stored for an indicator its service can no longer be scored on (an earlier
    flowsight's, such as `readmitted_30d_pct`) is left out, not scored into an error that would
    stop every refresh.
    """
    if not changed:
        return catalogue
    services = []
    for service in catalogue.services:
        thresholds = dict(service.thresholds)
        known = INDICATORS_BY_KIND[service.kind]
        for (service_id, indicator), row in changed.items():
            if service_id == service.id and indicator in known:
                thresholds[indicator] = Threshold(
                    level2=row["level2"],
                    level3=row["level3"],
                    level4=row["level4"],
                    weight=row["weight"],
                )
        services.append(service.model_copy(update={"thresholds": thresholds}))
    return catalogue.model_copy(update={"services": services})


async def set_threshold(
    connection: AsyncConnection,
    service_id: str,
    indicator: str,
    threshold: Threshold,
    by: str,
    now: datetime,
) -> None:
    """Store one run-time threshold change."""
    await connection.execute(
        delete(threshold_overrides).where(
            threshold_overrides.c.service_id == service_id,
            threshold_overrides.c.indicator == indicator,
        )
    )
    await connection.execute(
        insert(threshold_overrides),
        {
            "service_id": service_id,
            "indicator": indicator,
            "level2": threshold.level2,
            "level3": threshold.level3,
            "level4": threshold.level4,
            "weight": threshold.weight,
            "updated_by": by,
            "updated_at": now,
        },
    )
