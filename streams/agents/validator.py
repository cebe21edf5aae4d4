"""The validator agent: each published event pseudonymised onto the events topic, or refused."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import orjson
from faust.types import EventT, StreamT

from flowsight.adapters.kafka.producer import CORRELATION_HEADER, EventPublisher, Record
from flowsight.services.validation import (
    UNPROCESSABLE,
    Accepted,
    Rejected,
    ValidationContext,
    validate_event,
)
from flowsight.streams.agents import Agent, Backlog
from flowsight.streams.dead_letters import (
    DeadLetters,
    correlation_id_of,
    event_type_of,
    message_headers,
)
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.worker")

#: Events validated together: one clock reading, one wait for the producer's acknowledgements
#: and one metrics update a batch rather than an event (docs/benchmarks.md).
BATCH_SIZE = 1000
#: How long a batch waits to fill before it is validated as it is.
BATCH_SECONDS = 0.05


class Outlet(Protocol):
    """Where valid events go: the events topic."""

    async def send(self, records: Sequence[Record]) -> list[Sent]:
        """Hand `records` on, in order; their deliveries, not yet awaited."""
        ...

    async def stop(self) -> None: ...


class EventsTopic:
    """The events topic, written a batch at a time through the worker's own publisher: one
    batch a partition and one acknowledgement to wait for, where faust's `topic.send` made a
    message, a future and a callback of each record (docs/benchmarks.md)."""

    def __init__(self, publisher: EventPublisher, topic: str) -> None:
        self.publisher = publisher
        self.topic = topic
        #: Counts the publisher's producers: records a producer failed are sent again through
        #: a new one, made once however many of its batches failed.
        self.generation = 0

    async def send(self, records: Sequence[Record]) -> list[Sent]:
        if not records:
            return []
        if not self.publisher.started:  # here, so a broker still away is retried, not fatal
            await self.publisher.start()
        generation = self.generation
        handed = await self.publisher.send_batch(self.topic, records)
        return [(delivery, partial(self._again, held, generation)) for delivery, held in handed]

    async def _again(self, records: list[Record], generation: int) -> Awaitable[Any]:
        if generation == self.generation:
            # The idempotent producer that failed them refuses every later batch as out of
            # sequence (it waited forever after a broker outage): a new producer sends them.
            self.generation += 1
            await self.publisher.renew()
        return asyncio.gather(*(delivery for delivery, _ in await self.send(records)))

    async def stop(self) -> None:
        await self.publisher.stop()


def validator(
    ingest_pattern: re.Pattern[str],
    context: ValidationContext,
    events: Outlet,
    dead_letters: DeadLetters,
    metrics: WorkerMetrics,
    backlog: Backlog,
) -> Agent:
    """The validator: the organisation comes from the ingest topic `ingest_pattern` matched."""
    organisations: dict[str, str] = {}

    def organisation_of_topic(topic: str) -> str:
        organisation = organisations.get(topic)
        if organisation is None:
            match = ingest_pattern.match(topic)
            organisation = organisations[topic] = match.group(1) if match else ""
        return organisation

    async def validate(stream: StreamT[bytes]) -> AsyncIterator[None]:
        """Validate each published event: pseudonymised onto the events topic, or dead-lettered.

        The batch's events are acknowledged (their offsets committable) only once Kafka has
        acknowledged every record they produced: nothing is lost if the worker dies mid-batch.
        """
        try:
            async for batch in stream.take_events(  # type: ignore[attr-defined]
                BATCH_SIZE, within=BATCH_SECONDS
            ):
                backlog.batch("validator", batch, BATCH_SIZE)
                while True:
                    counts: Counter[tuple[str, str]] = Counter()
                    try:
                        await delivered(await _validated(batch, counts))
                        break
                    except Exception:
                        # faust would acknowledge the batch's events anyway: never end it here.
                        log.exception(
                            "the validator could not hand on a batch of %d events; again in %.0f s",
                            len(batch),
                            RESEND_SECONDS,
                        )
                        await asyncio.sleep(RESEND_SECONDS)
                for (event_type, outcome), count in counts.items():
                    metrics.validated.labels(event_type, outcome).inc(count)
                yield None
        finally:
            await events.stop()

    async def _validated(
        batch: Sequence[EventT[bytes]], counts: Counter[tuple[str, str]]
    ) -> list[Sent]:
        """Validate each event of `batch`, hand the valid ones on in one batch and dead-letter
        the others; the deliveries, not yet awaited."""
        now = datetime.now(UTC)
        debug = log.isEnabledFor(logging.DEBUG)
        records: list[Record] = []
        refusals: list[Send] = []
        for event in batch:
            message = event.message
            headers = message_headers(message.headers)
            correlation_id = correlation_id_of(event, headers)
            try:
                outcome = validate_event(
                    event.value,
                    organisation=organisation_of_topic(message.topic),
                    context=context,
                    now=now,
                    headers=dict(headers),
                )
                if isinstance(outcome, Accepted):
                    event_type = outcome.event["event_type"]
                    record = (outcome.key.encode(), orjson.dumps(outcome.event))
            except Exception as error:  # a bug must not stop the stream or lose the event
                log.exception(
                    "validator failed on %s offset %s",
                    message.topic,
                    message.offset,
                    extra={"correlation_id": correlation_id},
                )
                outcome = Rejected(UNPROCESSABLE, "", f"the validator failed: {error!r}")
            if isinstance(outcome, Accepted):
                records.append((*record, [(CORRELATION_HEADER, correlation_id.encode())]))
                counts[event_type, "valid"] += 1
                if debug:
                    log.debug(
                        "validated %s from %s offset %s",
                        event_type,
                        message.topic,
                        message.offset,
                        extra={"correlation_id": correlation_id},
                    )
            else:
                refusals.append(partial(dead_letters.send, event, outcome, correlation_id))
                counts[event_type_of(event.value), "dead_lettered"] += 1
        # The events first: a publisher that cannot start yet fails the batch before any of
        # its dead letters is sent (the batch is validated again, and would send them twice).
        deliveries = await events.send(records)
        deliveries += [(await refuse(), refuse) for refuse in refusals]
        return deliveries

    return validate


#: Sends one record; returns its delivery.
Send = Callable[[], Awaitable[Awaitable[Any]]]
#: A record handed to the producer: its delivery, and how to send it again.
Sent = tuple[Awaitable[Any], Send]
#: How long to wait before sending again records Kafka did not acknowledge.
RESEND_SECONDS = 1.0


async def delivered(sent: list[Sent]) -> None:
    """Wait until Kafka has acknowledged every record of `sent`, sending again those it did not.

    faust acknowledges a batch's events even when the agent fails half-way, so a failed send
    must not end the batch: it is sent again until Kafka has it, and the batch's offsets wait.
    """
    while sent:
        results = await asyncio.gather(*(delivery for delivery, _ in sent), return_exceptions=True)
        failed = [
            again
            for (_, again), result in zip(sent, results, strict=True)
            if isinstance(result, BaseException)
        ]
        if not failed:
            return
        errors = [r for r in results if isinstance(r, BaseException)]
        if any(isinstance(error, asyncio.CancelledError) for error in errors):
            raise asyncio.CancelledError  # the producer is stopping: so is the worker
        log.warning(
            "Kafka did not acknowledge %d records (%r); sending them again in %.0f s",
            len(failed),
            errors[0],
            RESEND_SECONDS,
        )
        await asyncio.sleep(RESEND_SECONDS)
        sent = [(await again(), again) for again in failed]
