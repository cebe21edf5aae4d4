"""The refresh task: pressure scored soon after each change, and the figures of the days that
changed.

Two rounds share the task. Each follows the sink's writes (and runs every `every_seconds`
regardless, since waits and delays grow with time alone), and under a steady flow leaves the
batches `BATCHES_PER_REFRESH` times as long as it took since its last run:

- pressure: the services a write changed, and any not read for `STEADY_SECONDS`, are scored on
  their last 24 hours read afresh (`streams.daily.pressure_figures`), the other services on the
  figures read last; then every scope is escalated or held, and published if its level or score
  changed or it was last published `STEADY_SECONDS` ago. It follows a change at once, at least
  `PRESSURE_SECONDS` after its last run;
- figures: the days the dirty marks name, and today's, stored for the reports; at least
  `STEADY_SECONDS` apart (a change after a quiet spell waits `COALESCE_SECONDS` for the rest of
  its burst). A long history is computed between pressure rounds, not ahead of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import orjson
from faust.types import ChannelT

from flowsight.adapters.notify.messages import webhook_document
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.kpis import Figures
from flowsight.services.pressure import ServiceScore, SystemScore
from flowsight.streams.daily import pressure_figures, refresh_daily
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.pressure import PressurePolicy, assess_pressure
from flowsight.streams.sink import ReadModelSink

log = logging.getLogger("flowsight.worker")
#: How long a change after a quiet spell waits for the batches of the same burst before the
#: days' figures are computed.
COALESCE_SECONDS = 0.05
#: Under a steady flow: the least time between figures rounds (and the oldest a service's
#: pressure figures may be), and the time left to the batches in round durations.
STEADY_SECONDS = 2.0
BATCHES_PER_REFRESH = 3
#: The least time between pressure rounds under a steady flow.
PRESSURE_SECONDS = 0.2

#: One round: given whether it was woken by the timer, it returns the seconds it held the
#: read model.
Round = Callable[[bool], Awaitable[float]]


class Refresh:
    """Recomputes figures and pressure; publishes the scores and the alerts they raise."""

    def __init__(
        self,
        sink: ReadModelSink,
        catalogue: Catalogue,
        policy: PressurePolicy,
        metrics: WorkerMetrics,
        pressure_topic: ChannelT[bytes],
        alerts_topic: ChannelT[bytes],
    ) -> None:
        self.sink = sink
        self.catalogue = catalogue
        self.metrics = metrics
        self.pressure_topic = pressure_topic
        self.alerts_topic = alerts_topic
        self.policy = policy
        #: The first figures round of a worker also fills days missing from the whole history.
        self.history_checked = False
        #: Each service's figures pressure was last scored on, and when they were read.
        self.scored_on: dict[str, Figures] = {}
        self.read_at: dict[str, datetime] = {}
        #: What was last published of each scope (level, score, published level), and when.
        self.published: dict[str, tuple[tuple[object, ...], float]] = {}
        #: Clear while a pressure round runs: the figures round waits for it between days.
        self.pressure_idle = asyncio.Event()
        self.pressure_idle.set()
        #: Set on each write of the sink: one for each round.
        self.figures_changed = asyncio.Event()
        self.pressure_changed = asyncio.Event()

    async def once(self) -> float:
        """A figures round, then a pressure round of every service; returns the seconds spent
        on the read model."""
        took = await self.figures()
        return took + await self.pressure(every_service=True)

    async def figures(self) -> float:
        """Today's figures and the days late events changed; returns the seconds it took."""
        started = time.monotonic()
        daily = await refresh_daily(
            self.sink.engine,
            self.catalogue,
            self.metrics,
            datetime.now(UTC),
            whole_history=not self.history_checked,
            between_days=self._after_pressure,
        )
        self.history_checked = True
        if daily.more:  # a long backlog of days: go on at the next round, not the next timer
            self.figures_changed.set()
        return time.monotonic() - started

    async def pressure(self, *, every_service: bool = False) -> float:
        """Score the services changed since the last round (every one if `every_service`), then
        every scope; publish the scores and any alerts. Returns the seconds spent on the read
        model (the sends to Kafka are not counted).

        Pressure is scored on the last 24 hours (`services.kpis.pressure_period`), not on the
        day so far: a period restarting at midnight made one breach at 00:05 a 100 % rate.
        """
        self.pressure_idle.clear()
        try:
            return await self._pressure(every_service)
        finally:
            self.pressure_idle.set()

    async def _after_pressure(self) -> None:
        """Let the tasks ready run, and a pressure round under way finish: between days, the
        figures round gives way to pressure (each of its reads waited for a day's figures)."""
        await asyncio.sleep(0)
        await self.pressure_idle.wait()

    async def _pressure(self, every_service: bool) -> float:
        started = time.monotonic()
        now = datetime.now(UTC)
        touched, self.sink.touched = self.sink.touched, set()
        stale = now - timedelta(seconds=STEADY_SECONDS)
        due = [
            service
            for service in self.catalogue.services
            if every_service
            or service.id in touched
            or self.read_at.get(service.id, stale) <= stale
        ]
        try:
            self.scored_on.update(await pressure_figures(self.sink.engine, due, now))
        except BaseException:
            self.sink.touched |= touched  # scored at the next round
            raise
        self.read_at.update((service.id, now) for service in due)
        assessment = await assess_pressure(
            self.sink.engine, self.catalogue, self.scored_on, self.policy, now
        )
        took = time.monotonic() - started
        scores: list[ServiceScore | SystemScore] = [*assessment.services, assessment.system]
        for score in scores:
            body = score.to_dict()
            scope = str(body["scope"])
            self.metrics.publish_pressure(scope, score.level, score.score)
            published = assessment.published.get(scope)
            if not self._news(scope, (score.level, score.score, published), every_service):
                continue
            await self.pressure_topic.send(
                key=scope.encode(),
                value=orjson.dumps(
                    {**body, "published_level": published, "as_of": now.isoformat()}
                ),
            )
        for alert in assessment.alerts:
            log.warning(
                "OPEL %s: level %s → %s (%s); alert %s",
                alert.scope,
                alert.level_from,
                alert.level_to,
                alert.reason,
                alert.id,
            )
            message = {"kind": "level_change", **webhook_document(alert, alert.id)}
            await self.alerts_topic.send(key=alert.id.encode(), value=orjson.dumps(message))
        return took

    def _news(self, scope: str, fingerprint: tuple[object, ...], every_service: bool) -> bool:
        """Whether to publish a scope's score: a change of its level, score or published level,
        and every score at a round of every service and `STEADY_SECONDS` after the last one (a
        round every 0.2 s publishing every scope would be ten times the records to keep)."""
        last = self.published.get(scope)
        now = time.monotonic()
        if (
            every_service
            or last is None
            or last[0] != fingerprint
            or now - last[1] >= STEADY_SECONDS
        ):
            self.published[scope] = (fingerprint, now)
            return True
        return False

    def task(
        self, should_stop: Callable[[], bool], every_seconds: float
    ) -> Callable[[], Awaitable[None]]:
        """The worker's task: both rounds soon after state changed and every `every_seconds`
        regardless, until `should_stop()`."""

        async def figures(timed_out: bool) -> float:
            return await self.figures()

        async def pressure(timed_out: bool) -> float:
            # The timer's round reads every service: waits and delays grow with time alone.
            return await self.pressure(every_service=timed_out)

        async def refresh() -> None:
            relay = asyncio.create_task(self._relay(), name="flowsight-refresh-relay")
            try:
                await asyncio.gather(
                    _rounds(
                        "figures",
                        figures,
                        self.figures_changed,
                        STEADY_SECONDS,
                        COALESCE_SECONDS,
                        should_stop,
                        every_seconds,
                    ),
                    _rounds(
                        "pressure",
                        pressure,
                        self.pressure_changed,
                        PRESSURE_SECONDS,
                        0.0,
                        should_stop,
                        every_seconds,
                    ),
                )
            finally:
                relay.cancel()

        return refresh

    async def _relay(self) -> None:
        """Each write of the sink wakes both rounds."""
        while True:
            await self.sink.changed.wait()
            self.sink.changed.clear()
            self.figures_changed.set()
            self.pressure_changed.set()


def wait_before(took: float, idle: float, least: float, coalesce: float) -> float:
    """How long a round woken by a change waits: until `least` seconds, and
    `BATCHES_PER_REFRESH` times the `took` seconds of its last run, have passed since that run
    ended (`idle` seconds ago); at least `coalesce`."""
    return max(coalesce, max(least, BATCHES_PER_REFRESH * took) - idle)


async def _rounds(
    name: str,
    run: Round,
    changed: asyncio.Event,
    least: float,
    coalesce: float,
    should_stop: Callable[[], bool],
    every_seconds: float,
) -> None:
    # How long the last round held the read model: the time its sends waited for Kafka is
    # not counted, or a broker outage that held one send for a minute put the next round three
    # minutes off, and figures and pressure stayed that stale.
    took = 0.0
    ended = time.monotonic()
    while not should_stop():
        timed_out = False
        try:
            await asyncio.wait_for(changed.wait(), every_seconds)
            # Back-to-back rounds held the read model's writer from the batches.
            await asyncio.sleep(wait_before(took, time.monotonic() - ended, least, coalesce))
        except TimeoutError:
            timed_out = True  # waits and delays grow with time alone
        changed.clear()
        took = 0.0  # a round that failed is tried again at the next one
        try:
            took = await run(timed_out)
        except Exception:  # the next round tries again; the dirty marks are still there
            log.exception("%s could not be refreshed", name)
        ended = time.monotonic()
