"""The validator agent: each published event pseudonymised onto the events topic, or refused."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson
from faust.types import EventT, StreamT

from flowsight.adapters.kafka.producer import CORRELATION_HEADER, Record
from flowsight.services.identities import link
from flowsight.services.validation import (
    UNPROCESSABLE,
    Accepted,
    Rejected,
    ValidationContext,
    validate_event,
)
from flowsight.streams.agents import Agent, Backlog
from flowsight.streams.agents.outlet import RESEND_SECONDS, Outlet, Send, Sent, delivered
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
#: Links between a local and an NHS pseudonym this process has sent, up to this many (then it
#: starts again): a feed names both on most of a patient's events, one link each is enough.
LINKS_REMEMBERED = 100_000


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
    linked: set[tuple[str | None, str]] = set()

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
                    fresh: set[tuple[str | None, str]] = set()  # links the batch sends
                    try:
                        await delivered(await _validated(batch, counts, fresh))
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
                if len(linked) + len(fresh) > LINKS_REMEMBERED:
                    linked.clear()
                linked.update(fresh)  # only once delivered: a batch sent again sends them again
                yield None
        finally:
            await events.stop()

    async def _validated(
        batch: Sequence[EventT[bytes]],
        counts: Counter[tuple[str, str]],
        fresh: set[tuple[str | None, str]],
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
                pair = (outcome.alias, outcome.key)
                if outcome.alias is not None and pair not in linked and pair not in fresh:
                    fresh.add(pair)
                    records.append(_link_record(outcome.alias, outcome.event, correlation_id))
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


def _link_record(alias: str, event: dict[str, Any], correlation_id: str) -> Record:
    """The link from the local pseudonym `alias` to `event`'s patient, keyed by `alias`: it
    reaches the tracker that holds what was recorded under the local identity."""
    return (
        alias.encode(),
        orjson.dumps(link(alias, event)),
        [(CORRELATION_HEADER, correlation_id.encode())],
    )
