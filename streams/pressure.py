"""The pressure step: score each service and the system, escalate or hold, record alerts.

It runs after each refresh of the figures (when state changed, and on a timer, since waits and
delays grow with time alone), on each service's figures over the last 24 hours
(`services.kpis.pressure_period`): rates are not restarted at midnight. Escalation state, the latest scores and any new alert with its
outbox rows are written in one transaction: a worker killed after scoring either recorded the
alert, which the deliverer then sends, or did not, and the next run scores the same change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.adapters.readmodel.outbox import Alert, record_alert
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.escalation import Escalation
from flowsight.services.kpis import Figures
from flowsight.services.level_time import SCORED_WITHIN
from flowsight.services.pressure import (
    SYSTEM_SCOPE,
    Cutoffs,
    ServiceScore,
    SystemScore,
    score_service,
    score_system,
)
from flowsight.settings import Settings

log = logging.getLogger("flowsight.worker")
#: Behind a backlog, the longest OPEL levels are held (`CatchingUp`).
MOST_HELD_SECONDS = 300.0


@dataclass(frozen=True)
class Assessment:
    """One run of the pressure step: every score, and the alerts it raised."""

    services: list[ServiceScore]
    system: SystemScore
    alerts: list[Alert]
    #: Each scope's published level after this run (it falls only after the hold period); None
    #: for a scope never read (`Escalation.published`).
    published: dict[str, int | None]


@dataclass(frozen=True)
class PressurePolicy:
    """How scores become levels and levels become alerts."""

    cutoffs: Cutoffs
    hold: timedelta
    service_weights: Mapping[str, float]
    routes: list[str]
    #: How long a score stands for a scope's level (`services/level_time.py`).
    scored_within: timedelta = SCORED_WITHIN


def pressure_policy(settings: Settings, routes: Iterable[str]) -> PressurePolicy:
    """The pressure policy the settings describe, alerting the named `routes`."""
    return PressurePolicy(
        cutoffs=Cutoffs(*settings.opel_cutoffs),
        hold=timedelta(minutes=settings.escalation_hold_minutes),
        service_weights=settings.system_weights,
        routes=list(routes),
        # Scores come every refresh: a slower refresh than the default is no gap in them.
        scored_within=max(SCORED_WITHIN, timedelta(seconds=3 * settings.daily_refresh_seconds)),
    )


class CatchingUp:
    """Whether a refresh's scores may move the published OPEL levels, and so raise alerts.

    Behind a backlog (`streams.agents.Backlog`: a worker starting on a census or after an
    outage), the figures are of a state still catching up: scored as they come, a service rose
    one level per refresh (1 → 2 → 3 within a minute, an alert each, to every on-call route) or
    overshot and was then held up for the hold period. While behind, scores are still recorded
    and published, but the levels stay where they were; the first refresh caught up moves each
    at once to its level, one alert per scope that changed. Held for `most` seconds at most: a
    worker that stays behind (overloaded) raises its alerts late, never not at all.
    """

    def __init__(
        self, most: float = MOST_HELD_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.most = most
        self.clock = clock
        #: Since when the agents have been behind, at the refreshes; None: caught up.
        self.since: float | None = None

    def holds(self, behind: bool) -> bool:
        """Whether levels are held at a refresh where the agents are (or are not) `behind`."""
        if not behind:
            if self.since is not None:
                log.info("caught up: OPEL levels follow the scores again")
            self.since = None
            return False
        now = self.clock()
        if self.since is None:
            self.since = now
            log.info("behind a backlog: OPEL levels held, no alert, until caught up")
        return now - self.since < self.most


async def assess_pressure(
    engine: AsyncEngine,
    catalogue: Catalogue,
    figures: Mapping[str, Figures],
    policy: PressurePolicy,
    now: datetime,
    *,
    held: bool = False,
) -> Assessment:
    """Score every service with thresholds on `figures` (each service's figures over the
    pressure period), then the system; record any change of level, unless levels are `held`
    (`CatchingUp`): then the scores are recorded and the levels stay."""
    async with engine.begin() as connection:
        effective = pressure_store.effective_catalogue(
            catalogue, await pressure_store.overrides(connection)
        )
        scores = [
            score_service(service, figures.get(service.id, {}), policy.cutoffs)
            for service in effective.services
            if service.thresholds
        ]
        system = score_system(scores, policy.cutoffs, policy.service_weights)
        known = await pressure_store.escalations(connection)
        alerts = []
        published: dict[str, int | None] = {}
        saved: list[tuple[str, Escalation, dict[str, Any]]] = []
        levelled: list[str] = []
        scored: list[tuple[str, int | None, ServiceScore | SystemScore]] = [
            *((s.service_id, s.level, s) for s in scores),
            (SYSTEM_SCOPE, system.level, system),
        ]
        for scope, level, score in scored:
            escalation = known.get(scope) or Escalation(scope)
            # The hold in force is the settings', not the one stored with the scope's state: a
            # changed FLOWSIGHT_ESCALATION_HOLD_MINUTES was never applied to a known scope.
            escalation.hold = policy.hold
            # No figure to score (nothing reported yet) is no reading, not a reading of 1.
            change = escalation.observe(level, now) if level is not None and not held else None
            if change is not None:
                alert = Alert.from_change(change, score)
                if await record_alert(connection, alert, policy.routes, now):
                    alerts.append(alert)
            saved.append((scope, escalation, score.to_dict()))
            published[scope] = escalation.published
            # Its level is known when scored with one, and its published level came from a
            # reading (held before any, it has none): else its run of scores ends, and the time
            # until the next is not scored.
            if level is not None and escalation.published is not None:
                levelled.append(scope)
        await pressure_store.save_states(connection, saved, now)
        await pressure_store.record_scored(connection, levelled, now, policy.scored_within)
    return Assessment(scores, system, alerts, published)
