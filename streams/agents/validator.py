"""The validator agent: each published event pseudonymised onto the events topic, or refused."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson
from faust.types import ChannelT, EventT, StreamT

from flowsight.adapters.kafka.producer import CORRELATION_HEADER
from flowsight.services.validation import (
    UNPROCESSABLE,
    Accepted,
    Rejected,
    ValidationContext,
    validate_event,
)
from flowsight.streams.agents import Agent
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


def validator(
    ingest_pattern: re.Pattern[str],
    context: ValidationContext,
    events: ChannelT[bytes],
    dead_letters: DeadLetters,
    metrics: WorkerMetrics,
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
        async for batch in stream.take_events(  # type: ignore[attr-defined]
            BATCH_SIZE, within=BATCH_SECONDS
        ):
            while True:
                counts: Counter[tuple[str, str]] = Counter()
                try:
                    await delivered(await _validated(batch, counts))
                    break
                except Exception:
                    # faust would acknowledge the batch's events anyway: never let it end here.
                    log.exception(
                        "the validator could not hand on a batch of %d events; again in %.0f s",
                        len(batch),
                        RESEND_SECONDS,
                    )
                    await asyncio.sleep(RESEND_SECONDS)
            for (event_type, outcome), count in counts.items():
                metrics.validated.labels(event_type, outcome).inc(count)
            yield None

    async def _validated(
        batch: Sequence[EventT[bytes]], counts: Counter[tuple[str, str]]
    ) -> list[Sent]:
        """Validate and send each event of `batch`; the sends' deliveries, not yet awaited."""
        now = datetime.now(UTC)
        debug = log.isEnabledFor(logging.DEBUG)
        deliveries: list[Sent] = []
        for event in batch:
            message = event.message
            headers = message_headers(message.headers)
            correlation_id = correlation_id_of(event, headers)
            try:
                send, label = _send_for(event, headers, correlation_id, now)
            except Exception as error:  # a bug must not stop the stream or lose the event
                log.exception(
                    "validator failed on %s offset %s",
                    message.topic,
                    message.offset,
                    extra={"correlation_id": correlation_id},
                )
                rejected = Rejected(UNPROCESSABLE, "", f"the validator failed: {error!r}")
                send = partial(dead_letters.send, event, rejected, correlation_id)
                label = (event_type_of(event.value), "dead_lettered")
            deliveries.append((await send(), send))
            counts[label] += 1
            if debug and label[1] == "valid":
                log.debug(
                    "validated %s from %s offset %s",
                    label[0],
                    message.topic,
                    message.offset,
                    extra={"correlation_id": correlation_id},
                )
        return deliveries

    def _send_for(
        event: EventT[bytes], headers: list[tuple[str, bytes]], correlation_id: str, now: datetime
    ) -> tuple[Send, tuple[str, str]]:
        """How to send `event` on (normalised, or as a dead letter) and its metrics labels."""
        message = event.message
        outcome = validate_event(
            event.value,
            organisation=organisation_of_topic(message.topic),
            context=context,
            now=now,
            headers=dict(headers),
        )
        if isinstance(outcome, Accepted):
            send = partial(
                events.send,
                key=outcome.key.encode(),
                value=orjson.dumps(outcome.event),
                headers=[(CORRELATION_HEADER, correlation_id.encode())],
            )
            return send, (outcome.event["event_type"], "valid")
        label = (event_type_of(event.value), "dead_lettered")
        return partial(dead_letters.send, event, outcome, correlation_id), label

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
