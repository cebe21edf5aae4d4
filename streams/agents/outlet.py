"""The events topic as the agents write it: a batch at a time, each record sent until Kafka
has it. The validator sends what it validated; the tracker, the events it moves on from a local
identity to the NHS one (`services/identities.py`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Protocol

from flowsight.adapters.kafka.producer import EventPublisher, Record

log = logging.getLogger("flowsight.worker")


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
