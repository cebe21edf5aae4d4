"""The refresh task: the figures of the days that changed, then pressure and any alerts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime

import orjson
from faust.types import ChannelT

from flowsight.adapters.notify.messages import webhook_document
from flowsight.schemas.catalogue import Catalogue, Service
from flowsight.services.kpis import Figures
from flowsight.services.occupancy import with_capacity
from flowsight.services.pressure import ServiceScore, SystemScore
from flowsight.streams.agents import Backlog
from flowsight.streams.daily import DailyReader, DailyReading, refresh_daily
from flowsight.streams.figures_process import FiguresProcess
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.pressure import Assessment, CatchingUp, PressurePolicy, assess_pressure
from flowsight.streams.sink import ReadModelSink

log = logging.getLogger("flowsight.worker")
#: How long a change waits for the batches of the same burst before figures are refreshed.
COALESCE_SECONDS = 0.05
#: Behind a backlog (`Backlog.behind`): the least time between refreshes, and the time left to
#: the batches between refreshes, in refresh durations.
BACKLOG_SECONDS = 2.0
BACKLOG_BATCHES_PER_REFRESH = 3
#: Caught up, the least time between the end of a refresh and the next: the tracker's batches
#: close every 0.1 s, and a capacity report is scored at once without a refresh (`rescore`).
CAUGHT_UP_SECONDS = 1.0


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
        backlog: Backlog,
        reader: FiguresProcess | None = None,
    ) -> None:
        self.sink = sink
        #: Reads and computes the figures (`streams.figures_process`); None: on this loop.
        self.reader = reader
        self.backlog = backlog
        self.catalogue = catalogue
        self.metrics = metrics
        self.pressure_topic = pressure_topic
        self.alerts_topic = alerts_topic
        self.policy = policy
        #: The first refresh of a worker also fills days missing from the whole history.
        self.history_checked = False
        #: Of the last refresh, the seconds its figures were computed beside the loop (in the
        #: figures' process), while the loop went on with the batches.
        self.beside = 0.0
        #: The figures the last refresh read: capacity reports written since it began reading
        #: them (`ReadModelSink.capacity`) are laid over them.
        self.figures: dict[str, Figures] | None = None
        #: Scoring is one at a time: a refresh's and a rescore's scores are recorded and sent in
        #: the order they were scored.
        self._scoring = asyncio.Lock()
        #: Behind a backlog, the levels do not move (`streams.pressure.CatchingUp`).
        self.catching_up = CatchingUp()

    def _timed_reader(self) -> DailyReader | None:
        """The figures' process, its time counted in `beside`; None: figures on this loop."""
        reader = self.reader
        if reader is None:
            return None

        async def read(
            services: Sequence[Service],
            now: datetime,
            whole_history: bool,
            marked_until: Mapping[str, date] | None,
        ) -> DailyReading:
            started = time.monotonic()
            try:
                return await reader(services, now, whole_history, marked_until)
            finally:
                self.beside += time.monotonic() - started

        return read

    async def once(self) -> float:
        """Today's figures, the days late events changed, then pressure and any alerts; returns
        the seconds spent on the read model (the scores' sends to Kafka are not counted).

        Pressure is scored on the last 24 hours (`services.kpis.pressure_period`), not on the
        day so far: a period restarting at midnight made one breach at 00:05 a 100 % rate.
        """
        started = time.monotonic()
        self.beside = 0.0
        now = datetime.now(UTC)
        # Behind a backlog, a service's marked days after the latest day the batches since the
        # last refresh touched of it wait: each batch of a replay marks every day from its
        # events' to today, and computing them all at every refresh made a year's replay
        # quadratic in its days.
        touched = self.sink.take_touched()
        daily = await refresh_daily(
            self.sink.engine,
            self.catalogue,
            self.metrics,
            now,
            whole_history=not self.history_checked,
            marked_until=touched if self.backlog.behind else None,
            reader=self._timed_reader(),
        )
        self.history_checked = True
        if daily.more:  # a long backlog of days: go on at the next round, not the next timer
            self.sink.changed.set()
        async with self._scoring:
            self.figures = daily.pressure
            # What the refresh read holds every report written before it began; those since
            # stay, laid over its figures until the next refresh reads them.
            self.sink.capacity = {
                service: report
                for service, report in self.sink.capacity.items()
                if report.committed >= started
            }
            return await self._score_and_publish(started)

    async def rescore(self) -> None:
        """Score pressure at once on the last refresh's figures with the newest capacity
        reports: a ward's report moves its occupancy, and its level, without waiting for the
        next refresh (which computes every figure again, and is paced to leave the loop to the
        batches). Nothing before a first refresh."""
        async with self._scoring:
            if self.figures is not None:
                took = await self._score_and_publish(time.monotonic())
                self.metrics.rescore_seconds.observe(took)

    async def _score_and_publish(self, started: float) -> float:
        """Score pressure on the last refresh's figures, each service's occupancy with the
        newest capacity report written since that refresh began reading (and in force); record
        and publish the scores and alerts. Returns the seconds since `started` until the scores
        were recorded (their sends to Kafka not counted)."""
        now = datetime.now(UTC)
        figures = dict(self.figures or {})
        for service_id, report in self.sink.capacity.items():
            service = self.catalogue.service(service_id)
            # A report sent for a moment still ahead (the contract tolerates minutes) waits.
            if service is not None and service_id in figures and report.as_of <= now:
                figures[service_id] = with_capacity(service, figures[service_id], report.open)
        held = self.catching_up.holds(self.backlog.behind or self.backlog.replaying)
        assessment = await assess_pressure(
            self.sink.engine, self.catalogue, figures, self.policy, now, held=held
        )
        took = time.monotonic() - started
        await self._publish(assessment, now)
        return took

    async def _publish(self, assessment: Assessment, now: datetime) -> None:
        """Every scope's score to the pressure topic and the metrics; each alert raised."""
        scores: list[ServiceScore | SystemScore] = [*assessment.services, assessment.system]
        for score in scores:
            body = score.to_dict()
            scope = str(body["scope"])
            published = assessment.published.get(scope)
            # The level flowsight says (held up for its hold period, none while held behind a
            # backlog): the alerting rules read it so. The score is this round's.
            self.metrics.publish_pressure(scope, published, score.score)
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

    def task(
        self, should_stop: Callable[[], bool], every_seconds: float
    ) -> Callable[[], Awaitable[None]]:
        """The worker's task: refresh soon after state changed and every `every_seconds`
        regardless, and rescore pressure on each capacity report written (not behind a
        backlog), until `should_stop()`; then stop the figures' process."""

        async def refresh() -> None:
            if self.reader is not None:
                try:
                    self.reader.start()
                except Exception:  # the first round's figures start it again
                    log.exception("the figures process could not start; the first refresh retries")
            rescores = asyncio.ensure_future(self._rescores())
            try:
                await self._rounds(should_stop, every_seconds)
            finally:
                rescores.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await rescores
                if self.reader is not None:
                    self.reader.close()

        return refresh

    async def _rescores(self) -> None:
        """Rescore pressure after each batch that wrote a capacity report, while a refresh
        computes figures beside the loop; behind a backlog, the refreshes alone score."""
        written = self.sink.capacity_written
        while True:
            await written.wait()
            written.clear()
            if self.backlog.behind:
                continue
            try:
                await self.rescore()
            except Exception:  # the next refresh scores the same report
                log.exception("pressure could not be rescored on a new capacity report")

    async def _rounds(self, should_stop: Callable[[], bool], every_seconds: float) -> None:
        changed = self.sink.changed
        # How long the last refresh held the read model: the time its sends waited for Kafka is
        # not counted, or a broker outage that held one send for a minute put the next refresh
        # three minutes off, and figures and pressure stayed that stale.
        took = 0.0
        ended = time.monotonic()
        while not should_stop():
            try:
                await asyncio.wait_for(changed.wait(), every_seconds)
                idle = time.monotonic() - ended
                await asyncio.sleep(pause(took, idle, self.backlog.behind, self.beside))
            except TimeoutError:
                pass  # waits and delays grow with time alone
            changed.clear()
            took = 0.0  # a refresh that failed is tried again at the next round
            try:
                took = await self.once()
                self.metrics.refresh_seconds.observe(took)
            except Exception:  # the next round tries again; the dirty marks are still there
                log.exception("figures and pressure could not be refreshed")
            ended = time.monotonic()


def pause(took: float, idle: float, behind: bool, beside: float = 0.0) -> float:
    """Seconds to wait, after a change, before the next refresh; the last one `took` seconds
    and ended `idle` seconds ago, `beside` of them computing figures in the figures' process
    (`streams.figures_process`); `behind`: a full batch waited behind an agent's last one
    (`Backlog`).

    A change waits COALESCE_SECONDS at least, for the rest of its burst. Caught up, the next
    refresh waits as long as the last one held the worker's loop (`took - beside`), and
    CAUGHT_UP_SECONDS at least: figures follow a change within a second and a refresh or two,
    and refreshes take at most half the loop; the figures computed beside it held nothing
    (docs/benchmarks.md, twelfth round). A capacity report does not wait for a refresh: it is
    scored at once (`Refresh.rescore`). The floor keeps the tracker's batches, closed every
    0.1 s when caught up, from calling a refresh each (docs/benchmarks.md, sixteenth round). Behind a
    backlog, refreshes are BACKLOG_SECONDS apart at least and leave the batches
    BACKLOG_BATCHES_PER_REFRESH times as long as they take, beside or not (the figures'
    process shares the machine with the broker and the batches): the figures of a state still
    catching up are stale anyway, and back-to-back refreshes held the read model's writer from
    the batches.
    """
    if behind:
        wanted = max(BACKLOG_SECONDS, BACKLOG_BATCHES_PER_REFRESH * took)
    else:
        wanted = max(CAUGHT_UP_SECONDS, took - beside)
    return max(COALESCE_SECONDS, wanted - idle)
