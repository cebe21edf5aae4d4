"""The deliverer: claims due outbox rows, sends each to its route, and records what happened.

Exactly-once notification rests on two things. The outbox row is marked delivered only after the
receiver accepted it, so an outage or a crash loses nothing; and every attempt carries the same
dedupe key, so the one case that sends twice (a crash, or a lost answer, between the receiver
accepting and the row being marked) is recognisable by the receiver: the webhook's
X-Flowsight-Dedupe-Key header, the email's Message-ID, Alertmanager's label set (identical
labels are one alert there). A Teams channel cannot deduplicate: it shows the key on the card.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import tenacity
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.notify.routes import DeliveryFailed, Route
from flowsight.adapters.readmodel.outbox import (
    Claim,
    backlog,
    claim_due,
    mark_delivered,
    mark_failed,
    mark_retry,
)

log = logging.getLogger("flowsight.alerts")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how far apart a delivery is retried before it is marked failed."""

    max_attempts: int = 24  # with the defaults, about 14 hours of receiver outage
    initial_seconds: float = 5.0
    max_seconds: float = 3600.0
    jitter_seconds: float = 5.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure: exponential, capped, plus jitter."""
        wait = tenacity.wait_exponential(
            multiplier=self.initial_seconds, max=self.max_seconds
        ) + tenacity.wait_random(0, self.jitter_seconds)
        # tenacity's wait strategies read the attempt number off a call state; the outbox, not
        # a tenacity loop, holds the attempt count here.
        state = tenacity.RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = max(1, attempts)
        return float(wait(state))


class DeliveryMetrics:
    """Delivery outcomes per route, and the outbox backlog, in the registry given."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.deliveries = Counter(
            "flowsight_alert_deliveries",
            "Alert delivery attempts by route and outcome (delivered, retry, failed)",
            ["route", "outcome"],
            registry=registry,
        )
        self.outbox = Gauge(
            "flowsight_alert_outbox",
            "Alert deliveries not yet delivered, by state (pending, delivering, failed)",
            ["state"],
            registry=registry,
        )


class Deliverer:
    """Delivers due alerts from the outbox to their routes, with retries and back-off."""

    def __init__(
        self,
        engine: AsyncEngine,
        routes: Mapping[str, Route],
        registry: CollectorRegistry,
        *,
        policy: RetryPolicy | None = None,
        batch_size: int = 20,
        lease: timedelta = timedelta(minutes=2),
        clock: Callable[[], datetime] = utcnow,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._engine = engine
        self._routes = dict(routes)
        self._policy = policy or RetryPolicy()
        self._batch_size = batch_size
        # A claim outlives the slowest send (route timeouts are at most 60 s); a deliverer that
        # dies mid-send leaves its rows to be claimed again once the lease lapses.
        self._lease = lease
        self._clock = clock
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._owns_client = client is None
        self.metrics = DeliveryMetrics(registry)

    async def run_once(self, route: str | None = None, *, unconfigured: bool = False) -> int:
        """Claim and deliver one batch of due rows (of one `route`; of routes not configured;
        else of every route); how many were claimed."""
        routes = [route] if route is not None else list(self._routes) if unconfigured else None
        async with self._engine.begin() as connection:
            claims = await claim_due(
                connection,
                self._clock(),
                limit=self._batch_size,
                lease=self._lease,
                routes=routes,
                other_routes=unconfigured,
            )
        outcomes = await asyncio.gather(
            *(self._deliver(claim) for claim in claims), return_exceptions=True
        )
        await self.refresh_backlog()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(claims)

    async def run(self, stop: asyncio.Event, poll_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set, each route on its own, so a slow receiver delays only
        its own alerts (a webhook answering in 30 s held every other route's for as long);
        rows of routes no longer configured are failed apart. A database outage is logged and
        waited out."""
        await asyncio.gather(
            *(self._run_route(stop, poll_seconds, name) for name in self._routes),
            self._run_route(stop, poll_seconds, None),
        )

    async def _run_route(self, stop: asyncio.Event, poll_seconds: float, route: str | None) -> None:
        while not stop.is_set():
            try:
                claimed = await self.run_once(route, unconfigured=route is None)
            except Exception:
                log.exception("alert delivery round failed; trying again")
                claimed = 0
            if claimed < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_seconds)

    async def refresh_backlog(self) -> None:
        """Set the outbox gauge from the database."""
        async with self._engine.connect() as connection:
            counts = await backlog(connection)
        for state, count in counts.items():
            self.metrics.outbox.labels(state=state).set(count)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _deliver(self, claim: Claim) -> None:
        route = self._routes.get(claim.route)
        if route is None:
            missing = DeliveryFailed(f"route {claim.route!r} is not configured", permanent=True)
            await self._record_failure(claim, missing)
            return
        try:
            await route.deliver(claim.alert, claim.dedupe_key, self._client)
        except DeliveryFailed as failure:
            await self._record_failure(claim, failure)
            return
        except Exception as error:
            # A bug rather than the receiver: keep the reason and retry, never lose the alert.
            log.exception("delivering alert %s to %s raised", claim.alert.id, claim.route)
            unexpected = DeliveryFailed(f"unexpected error: {error!r}", permanent=False)
            await self._record_failure(claim, unexpected)
            return
        async with self._engine.begin() as connection:
            marked = await mark_delivered(connection, claim, self._clock())
        self._count(claim, "delivered", marked)

    async def _record_failure(self, claim: Claim, failure: DeliveryFailed) -> None:
        now = self._clock()
        if failure.permanent or claim.attempts >= self._policy.max_attempts:
            reason = failure.reason
            if not failure.permanent:
                reason = f"gave up after {claim.attempts} attempts: {reason}"
            log.warning("alert %s to %s failed: %s", claim.alert.id, claim.route, reason)
            async with self._engine.begin() as connection:
                marked = await mark_failed(connection, claim, reason)
            self._count(claim, "failed", marked)
            return
        delay = self._policy.delay(claim.attempts)
        if failure.retry_after is not None:
            delay = max(delay, min(failure.retry_after, self._policy.max_seconds))
        log.info(
            "alert %s to %s: attempt %d failed (%s); next in %.0fs",
            claim.alert.id,
            claim.route,
            claim.attempts,
            failure.reason,
            delay,
        )
        async with self._engine.begin() as connection:
            marked = await mark_retry(
                connection, claim, failure.reason, now + timedelta(seconds=delay)
            )
        self._count(claim, "retry", marked)

    def _count(self, claim: Claim, outcome: str, marked: bool) -> None:
        if marked:
            self.metrics.deliveries.labels(route=claim.route, outcome=outcome).inc()
        else:
            # Another deliverer took the row over after our lease lapsed; its outcome stands.
            log.info(
                "alert %s to %s: claim lapsed before it was marked", claim.alert.id, claim.route
            )
