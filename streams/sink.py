"""Writes the state agents' results to the read model the API serves."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential_jitter,
)

from flowsight.adapters.readmodel import facts, store
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.facts import LONDON
from flowsight.services.journey import JourneyState
from flowsight.services.touched import touched_days
from flowsight.streams.daily import days_through
from flowsight.streams.metrics import WorkerMetrics

#: The kinds of fact the daily figures are computed from (anomalies are counted, not figures).
FACT_KINDS = ("stays", "delays", "referrals", "attendances", "assessments")

log = logging.getLogger("flowsight.sink")


class ReadModelSink:
    """One transaction per batch: the changed patients' queue entries and service capacity."""

    def __init__(self, engine: AsyncEngine, catalogue: Catalogue, metrics: WorkerMetrics) -> None:
        self.engine = engine
        self.catalogue = catalogue
        self.metrics = metrics
        #: Set after each write, so figures and pressure are refreshed soon after state changes.
        self.changed = asyncio.Event()

    async def write(
        self,
        journeys: Iterable[JourneyState],
        capacity: Iterable[dict[str, Any]] = (),
        since: str | None = None,
    ) -> None:
        """Replace the read model's rows for these patients and services.

        The daily figures of every day a changed fact or capacity report can change are marked
        for recomputing: from its earliest moment to today (`days_through`). `since`, the
        earliest event time of the batch, is no longer needed for that: comparing the facts as
        stored with the new ones finds every change, also one to a fact that ended before it
        (a stay readmitted by a later admission).
        """
        states = list(journeys)
        capacity_rows = list(capacity)
        if not states and not capacity_rows:
            return
        try:
            await self._retrying(states, capacity_rows, since)
        except SQLAlchemyError as error:
            # Not an outage but rows the database refuses: write patient by patient so that one
            # patient's bad rows cannot stall everyone else's. Their journey stays in the table
            # and is written again with their next event.
            log.error("read-model batch refused (%s); writing patient by patient", error)
            await self._retrying([], capacity_rows, since)
            for state in states:
                try:
                    await self._retrying([state], [], since)
                except SQLAlchemyError as refused:
                    self.metrics.sink_failures.inc()
                    log.error("read model refused patient %s: %s", state.pseudonym, refused)

    async def _retrying(
        self, states: list[JourneyState], capacity_rows: list[dict[str, Any]], since: str | None
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
                await self._write(states, capacity_rows, since)

    async def _write(
        self, states: list[JourneyState], capacity_rows: list[dict[str, Any]], since: str | None
    ) -> None:
        started = time.perf_counter()
        now = datetime.now(UTC)
        patients = [state.pseudonym for state in states]
        async with self.engine.begin() as connection:
            old = await facts.stored_states(connection, patients) if patients else []
            touched = touched_days(changed_facts(old, states), "")
            touched |= {
                (row["service_id"], row["as_of"].astimezone(LONDON).date()) for row in capacity_rows
            }
            await store.replace_queue_entries(
                connection,
                patients,
                (entry for state in states for entry in state.queues.values()),
                now,
            )
            await facts.replace_facts(connection, states)
            today = now.astimezone(LONDON).date()
            await facts.mark_dirty(connection, days_through(touched, today), uuid.uuid4().hex)
            await store.replace_capacity(connection, capacity_rows)
            summaries = await store.queue_summaries(connection)
        self.metrics.sink_seconds.observe(time.perf_counter() - started)
        self.changed.set()
        for service in self.catalogue.services:
            summary = summaries.get(service.id)
            self.metrics.queue_length.labels(service.id).set(summary.length if summary else 0)

    def _log_retry(self, state: RetryCallState) -> None:
        self.metrics.sink_retries.inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "read-model write failed (attempt %d), retrying: %s", state.attempt_number, error
        )


def changed_facts(old: Sequence[JourneyState], new: Sequence[JourneyState]) -> list[JourneyState]:
    """For each patient, the facts that differ between `old` and `new`: gone, new or altered."""
    before = {state.pseudonym: state for state in old}
    changed = []
    for state in new:
        was = before.get(state.pseudonym) or JourneyState(state.pseudonym)
        difference = JourneyState(state.pseudonym)
        for kind in FACT_KINDS:
            remaining = list(getattr(state, kind))
            gone = []
            for fact in getattr(was, kind):
                if fact in remaining:
                    remaining.remove(fact)
                else:
                    gone.append(fact)
            getattr(difference, kind).extend([*gone, *remaining])
        changed.append(difference)
    return changed


def _transient(error: BaseException) -> bool:
    """An outage worth waiting out (connection lost, database locked), not refused data."""
    if isinstance(error, DBAPIError):
        return isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated
    return isinstance(error, OSError | TimeoutError)
