"""The validator agent: each published event pseudonymised onto the events topic, or refused."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
from faust.types import ChannelT, StreamT

from flowsight.services.validation import (
    UNPROCESSABLE,
    Accepted,
    Rejected,
    ValidationContext,
    validate_event,
)
from flowsight.streams.agents import Agent
from flowsight.streams.dead_letters import DeadLetters, event_type_of, message_headers
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.worker")


def validator(
    ingest_pattern: re.Pattern[str],
    context: ValidationContext,
    events: ChannelT[bytes],
    dead_letters: DeadLetters,
    metrics: WorkerMetrics,
) -> Agent:
    """The validator: the organisation comes from the ingest topic `ingest_pattern` matched."""

    async def validate(stream: StreamT[bytes]) -> AsyncIterator[None]:
        """Validate each published event: pseudonymised onto the events topic, or dead-lettered."""
        async for event in stream.events():
            message = event.message
            match = ingest_pattern.match(message.topic)
            organisation = match.group(1) if match else ""
            try:
                outcome = validate_event(
                    event.value,
                    organisation=organisation,
                    context=context,
                    now=datetime.now(UTC),
                    headers=dict(message_headers(message.headers)),
                )
            except Exception as error:  # a bug must not stop the stream or lose the event
                log.exception("validator failed on %s offset %s", message.topic, message.offset)
                outcome = Rejected(UNPROCESSABLE, "", f"the validator failed: {error!r}")
            if isinstance(outcome, Accepted):
                await events.send(key=outcome.key.encode(), value=orjson.dumps(outcome.event))
                metrics.validated.labels(outcome.event["event_type"], "valid").inc()
            else:
                await dead_letters.send(event, outcome)
                metrics.validated.labels(event_type_of(event.value), "dead_lettered").inc()
                log.warning(
                    "dead-lettered an event from %s offset %s: %s (%s)",
                    message.topic,
                    message.offset,
                    outcome.reason,
                    outcome.message,
                )
            yield None

    return validate
