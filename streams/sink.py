"""Writes the state agents' results to the read model the API serves."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential_jitter,
)

from flowsight.adapters.readmodel import daily_rows, facts, purge, store
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.facts import LONDON
from flowsight.services.journey import JourneyState
from flowsight.services.touched import changed_days
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.sink")


@dataclass(frozen=True, slots=True)
class Reported:
    """A service's newest capacity report as the sink wrote it: the beds (or hours) open, the
    moment it is in force from, and when its batch was committed (`time.monotonic()`)."""

    open: int
    as_of: datetime
    committed: float


class ReadModelSink:
    """One transaction per batch: what changed of the patients' facts and queue entries, the
    services' capacity, and the marks of the figures to compute again."""

    def __init__(
        self,
        engine: AsyncEngine,
        catalogue: Catalogue,
        metrics: WorkerMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.catalogue = catalogue
        self.metrics = metrics
        #: The moment a batch is written at: its queue entries' time, and "today", the last day
        #: its changes mark for computing again (a replay's tests fix it, as the refresh's).
        self.clock = clock
        #: Set after each write, so figures and pressure are refreshed soon after state changes.
        self.changed = asyncio.Event()
        #: Patients this sink wrote. A patient's first batch in this process, or the next one
        #: after the read model refused their rows, replaces their rows whole: what the read
        #: model holds of them may then be another state than the batch found (written before
        #: a crash, ahead of the table's changelog; or never written).
        self.written: set[str] = set()
        #: Patients whose rows the read model refused: their state before is no guide to what
        #: changed either (it may hold the very fact refused).
        self.refused: set[str] = set()
        #: Of each service, the latest day the changes written since the refresh last took it
        #: (`take_touched`) touched.
        self._touched: dict[str, date] = {}
        #: Each service's newest capacity report written, until a refresh has read it back:
        #: pressure lays it over the figures read before it (`streams/tasks/refresh.py`).
        self.capacity: dict[str, Reported] = {}
        #: Set after each write of a capacity report, so pressure is rescored at once.
        self.capacity_written = asyncio.Event()

    async def write(
        self,
        journeys: Sequence[JourneyState],
        capacity: Iterable[dict[str, Any]] = (),
        *,
        before: Sequence[JourneyState] | None = None,
    ) -> None:
        """Write the changes from each patient's state `before` the batch to their new one.

        `before[i]` is `journeys[i]`'s patient as the read model holds them (as the batch
        found them); without `before`, the read model holds nothing of these patients. Only
        the facts and queue entries that differ are written, nothing is read back. The
        figures of each service a changed fact or capacity report touches are marked for
        computing again, from the earliest day touched to today.
        """
        if before is None:
            before = [JourneyState(state.pseudonym) for state in journeys]
        if len(before) != len(journeys):
            raise ValueError("one state before the batch is needed for each patient written")
        pairs = list(zip(before, journeys, strict=True))
        capacity_rows = list(capacity)
        if not pairs and not capacity_rows:
            return
        try:
            await self._retrying(pairs, capacity_rows)
        except SQLAlchemyError as error:
            # Not an outage but rows the database refuses: write patient by patient so that one
            # patient's bad rows cannot stall everyone else's. Their journey stays in the table
            # and is written again with their next event.
            log.error("read-model batch refused (%s); writing patient by patient", error)
            await self._retrying([], capacity_rows)
            for pair in pairs:
                try:
                    await self._retrying([pair], [])
                except SQLAlchemyError as refused:
                    self.written.discard(pair[1].pseudonym)
                    self.refused.add(pair[1].pseudonym)
                    self.metrics.sink_failures.inc()
                    log.error("read model refused patient %s: %s", pair[1].pseudonym, refused)

    async def _retrying(
        self, pairs: list[tuple[JourneyState, JourneyState]], capacity_rows: list[dict[str, Any]]
    ) -> None:
        # A database outage stalls the stream rather than losing writes: offsets are committed
        # only for batches the agent finished, so retry until the database is back.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential_jitter(multiplier=0.5, max=30),
            before_sleep=self._log_retry,
            reraise=True,
        ):
            with attempt:
                await self._write(pairs, capacity_rows)

    async def _write(
        self, pairs: list[tuple[JourneyState, JourneyState]], capacity_rows: list[dict[str, Any]]
    ) -> None:
        started = time.perf_counter()
        now = self.clock()
        states = [state for _, state in pairs]
        rewritten = [state.pseudonym for state in states if state.pseudonym not in self.written]
        before = [
            was if state.pseudonym in self.written else JourneyState(state.pseudonym)
            for was, state in pairs
        ]
        # The days a change touched: from the state the batch found (after a crash, the same
        # batch written again brings the same state; the rows are what may differ).
        found = [
            JourneyState(state.pseudonym) if state.pseudonym in self.refused else was
            for was, state in pairs
        ]
        touched = changed_days(found, states)
        touched |= {
            (row["service_id"], row["as_of"].astimezone(LONDON).date()) for row in capacity_rows
        }
        # Every day from the earliest a change touched to today (or the latest touched): a fact
        # that spans days counts on each, and a capacity report is in force until the next.
        today = now.astimezone(LONDON).date()
        dirty: dict[str, tuple[date, date]] = {}
        for service_id, day in touched:
            first, last = dirty.get(service_id, (day, today))
            dirty[service_id] = (min(first, day), max(last, day))
        async with self.engine.begin() as connection:
            if rewritten:
                await purge.delete_patients(connection, rewritten)
            await store.write_queue_entries(connection, before, states, now)
            await facts.write_facts(connection, before, states)
            await daily_rows.mark_dirty(connection, dirty, uuid.uuid4().hex)
            await store.replace_capacity(connection, capacity_rows)
        self.written.update(rewritten)
        self.refused.difference_update(rewritten)
        committed = time.monotonic()
        for row in capacity_rows:
            if row.get("latest", True):  # the report in force, as `store.replace_capacity`
                self.capacity[row["service_id"]] = Reported(row["open"], row["as_of"], committed)
                self.capacity_written.set()
        for service_id, day in touched:
            self._touched[service_id] = max(day, self._touched.get(service_id, day))
        self.metrics.sink_seconds.observe(time.perf_counter() - started)
        self.changed.set()

    def take_touched(self) -> dict[str, date]:
        """Of each service the batches written since the last call touched, the latest day
        they touched: behind a backlog, the refresh leaves a service's marked days after it, or
        all of them for a service no batch touched since, for later (`streams.daily`)."""
        touched, self._touched = self._touched, {}
        return touched

    def _log_retry(self, state: RetryCallState) -> None:
        self.metrics.sink_retries.inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "read-model write failed (attempt %d), retrying: %s", state.attempt_number, error
        )


def _transient(error: BaseException) -> bool:
    """An outage worth waiting out (connection lost, database locked), not refused data."""
    if isinstance(error, DBAPIError):
        return isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated
    return isinstance(error, OSError | TimeoutError)
