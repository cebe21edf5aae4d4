"""The validator agent: each published event pseudonymised onto the events topic, or refused."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from functools import partial

from faust.types import EventT, StreamT

from flowsight.adapters.kafka.producer import CORRELATION_HEADER, Record
from flowsight.services.validation import UNPROCESSABLE, Rejected
from flowsight.streams.agents import Agent, Backlog
from flowsight.streams.agents.outlet import RESEND_SECONDS, Outlet, Send, Sent, delivered
from flowsight.streams.batches import batches
from flowsight.streams.dead_letters import (
    DeadLetters,
    correlation_id_of,
    event_type_of,
    message_headers,
)
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.validation_process import Checks, Failed, Item, Valid

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
    checks: Checks,
    events: Outlet,
    dead_letters: DeadLetters,
    metrics: WorkerMetrics,
    backlog: Backlog,
) -> Agent:
    """The validator: the organisation comes from the ingest topic `ingest_pattern` matched."""
    organisations: dict[str, str] = {}
    linked: set[tuple[str, bytes]] = set()

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
            checks.start()  # now, not at the first batch: a child's imports take a second
        except OSError:
            log.warning("the validator's process could not start; its first batch starts it")
        try:
            async for batch in batches(stream, BATCH_SIZE, BATCH_SECONDS):
                backlog.batch("validator", batch, BATCH_SIZE)
                while True:
                    counts: Counter[tuple[str, str]] = Counter()
                    fresh: set[tuple[str, bytes]] = set()  # links the batch sends
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
            checks.close()
            await events.stop()

    async def _validated(
        batch: Sequence[EventT[bytes]],
        counts: Counter[tuple[str, str]],
        fresh: set[tuple[str, bytes]],
    ) -> list[Sent]:
        """Check the events of `batch`, hand the valid ones on in one batch and dead-letter
        the others; the deliveries, not yet awaited."""
        debug = log.isEnabledFor(logging.DEBUG)
        correlation_ids: list[str] = []
        items: list[Item] = []
        for event in batch:
            message = event.message
            headers = message_headers(message.headers)
            correlation_ids.append(correlation_id_of(event, headers))
            # A record without a value (a tombstone) is no JSON: refused as such, not a failure.
            value = event.value if event.value is not None else b""
            items.append((value, organisation_of_topic(message.topic), dict(headers)))
        outcomes = await checks(items, datetime.now(UTC))
        records: list[Record] = []
        refusals: list[Send] = []
        for event, correlation_id, outcome in zip(batch, correlation_ids, outcomes, strict=True):
            message = event.message
            if isinstance(outcome, Valid):
                correlation = [(CORRELATION_HEADER, correlation_id.encode())]
                records.append((outcome.key, outcome.value, correlation))
                alias = outcome.alias
                if alias is not None and outcome.link is not None:
                    pair = (alias, outcome.key)
                    if pair not in linked and pair not in fresh:
                        fresh.add(pair)
                        records.append((alias.encode(), outcome.link, correlation))
                counts[outcome.event_type, "valid"] += 1
                if debug:
                    log.debug(
                        "validated %s from %s offset %s",
                        outcome.event_type,
                        message.topic,
                        message.offset,
                        extra={"correlation_id": correlation_id},
                    )
                continue
            if isinstance(outcome, Failed):
                log.error(
                    "validator failed on %s offset %s\n%s",
                    message.topic,
                    message.offset,
                    outcome.trace,
                    extra={"correlation_id": correlation_id},
                )
                outcome = Rejected(UNPROCESSABLE, "", f"the validator failed: {outcome.error}")
            refusals.append(partial(dead_letters.send, event, outcome, correlation_id))
            counts[event_type_of(event.value), "dead_lettered"] += 1
        # The events first: a publisher that cannot start yet fails the batch before any of
        # its dead letters is sent (the batch is validated again, and would send them twice).
        deliveries = await events.send(records)
        deliveries += [(await refuse(), refuse) for refuse in refusals]
        return deliveries

    return validate
