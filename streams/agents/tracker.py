"""The tracker agent: keeps each patient's journey and each service's capacity, in batches."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

import orjson
from faust.types import EventT, StreamT

from flowsight.adapters.kafka.producer import CORRELATION_HEADER, Record
from flowsight.services.batch import FAILED, BatchChanges, apply_batch, unprocessable
from flowsight.services.journey import Event, JourneyState, ServiceMap
from flowsight.services.timestamps import utc_timestamp
from flowsight.settings import Settings
from flowsight.streams.agents import Agent, Backlog
from flowsight.streams.agents.outlet import Outlet, delivered
from flowsight.streams.batches import batches
from flowsight.streams.dead_letters import DeadLetters
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.worker")


class StateWriter(Protocol):
    """Where a batch's changes go: the read model's sink."""

    async def write(
        self,
        journeys: Sequence[JourneyState],
        capacity: Iterable[dict[str, Any]] = (),
        *,
        before: Sequence[JourneyState] | None = None,
    ) -> None: ...


def tracker(
    journeys: MutableMapping[str, Any],
    capacity: MutableMapping[str, Any],
    sink: StateWriter,
    events: Outlet,
    dead_letters: DeadLetters,
    metrics: WorkerMetrics,
    settings: Settings,
    services: ServiceMap,
    backlog: Backlog,
) -> Agent:
    """The tracker: folds each batch with `apply_batch`, stores what changed, writes the sink.

    Events recorded under a local identity that a link names an NHS number for are sent on to
    the events topic under the NHS pseudonym (`services/identities.py`) first of all: once Kafka
    has them, the local journey can be replaced by the link.
    """

    patients: set[str] = set()  # the unchanged journeys this process has stored again

    async def track(stream: StreamT[bytes]) -> AsyncIterator[None]:
        """Keep each patient's journey and each service's capacity; write changes in batches."""
        asked = time.monotonic()  # when the tracker last asked for a batch
        async for batch in batches(stream, settings.sink_batch_size, settings.sink_batch_seconds):
            backlog.batch("tracker", batch, settings.sink_batch_size)
            read, documents = await _decoded(batch, dead_letters, metrics)
            backlog.history(_mostly_history(documents, time.time()))
            capacity_keys = _capacity_keys(read, documents)
            changes = apply_batch(
                documents,
                journeys.get,
                partial(_latest_capacity, capacity, capacity_keys),
                settings.lateness_window,
                services,
            )
            await _dead_letter_refusals(changes, read, dead_letters)
            await delivered(await events.send([_moved_record(event) for event in changes.moved]))
            _count(changes, metrics)
            # The read model first, the tables after: a worker killed between the two restarts
            # with tables behind the read model, folds the batch again to the same state and
            # writes it again (idempotent). The other order lost the batch: tables restored
            # from a changelog ahead of the read model took its events for duplicates and
            # wrote nothing. Tables are written after the batch's events were iterated, so
            # their changelog partition comes from the key (the producer's partitioner).
            await sink.write(changes.states, changes.capacity_rows, before=changes.before)
            for pseudonym, journey in changes.journeys.items():
                journeys[pseudonym] = journey.to_stored()
            for service, report in changes.capacity.items():
                capacity[capacity_keys[service]] = report
            # A patient's first batch in this process stores them even if unchanged: a local
            # store can be ahead of its changelog (`_first_touches`).
            _store_again(journeys, _first_touches(_patients(documents), changes.journeys, patients))
            metrics.sink_batch_size.observe(len(batch))
            _observe_latency(batch, metrics)
            yield None
            # Behind a backlog, the next batch waits until this one's span reaches
            # sink_backlog_seconds, unless it was full: the events that come meanwhile wait in
            # the stream's buffer, and the next batch takes them at once (fewer, larger batches).
            span = time.monotonic() - asked
            if backlog.behind and len(batch) < settings.sink_batch_size:
                await asyncio.sleep(max(0.0, settings.sink_backlog_seconds - span))
            asked = time.monotonic()

    return track


async def _decoded(
    batch: Sequence[EventT[bytes]], dead_letters: DeadLetters, metrics: WorkerMetrics
) -> tuple[list[EventT[bytes]], list[Event]]:
    """The batch's readable events and their documents; unreadable ones are dead-lettered."""
    read: list[EventT[bytes]] = []
    documents: list[Event] = []
    for event in batch:
        try:
            document = orjson.loads(event.value)
        except (orjson.JSONDecodeError, TypeError) as error:
            log.error("state agent cannot read offset %s", event.message.offset, exc_info=error)
            metrics.applied.labels("unreadable", FAILED).inc()
            await dead_letters.send(event, unprocessable(error))
            continue
        read.append(event)
        documents.append(document)
    return read, documents


async def _dead_letter_refusals(
    changes: BatchChanges, read: list[EventT[bytes]], dead_letters: DeadLetters
) -> None:
    for refusal in changes.refusals:
        event = read[refusal.position]
        if refusal.error is not None:
            log.error(
                "state agent failed on offset %s", event.message.offset, exc_info=refusal.error
            )
        await dead_letters.send(event, refusal.rejected)


def _moved_record(event: Event) -> Record:
    correlation_id = event.get("correlation_id")
    headers = [(CORRELATION_HEADER, correlation_id.encode())] if correlation_id else []
    return (event["pseudonym"].encode(), orjson.dumps(event), headers)


#: An event this much older than now is history being taken in, not a live change.
HISTORY_AGE = timedelta(hours=1)


def _mostly_history(documents: list[Event], now: float) -> bool:
    """Whether most of a batch's events happened more than `HISTORY_AGE` before `now`."""
    since = utc_timestamp(datetime.fromtimestamp(now, UTC) - HISTORY_AGE)
    old = sum(
        1
        for document in documents
        if isinstance(document, dict)
        and isinstance(moment := document.get("occurred_at"), str)
        and moment < since
    )
    return old * 2 > len(documents)


def _observe_latency(batch: Sequence[EventT[bytes]], metrics: WorkerMetrics) -> None:
    """Seconds from each event's arrival on the events topic (its record's timestamp: when the
    validator sent it) to its state written to the read model."""
    written = time.time()
    for event in batch:
        metrics.processing_latency.observe(max(0.0, written - event.message.timestamp))


def _count(changes: BatchChanges, metrics: WorkerMetrics) -> None:
    for (event_type, outcome), count in changes.outcomes.items():
        metrics.applied.labels(event_type, outcome).inc(count)


def _patients(documents: list[Event]) -> set[str]:
    """The pseudonyms the batch's patient events name."""
    return {
        document["pseudonym"]
        for document in documents
        if isinstance(document, dict)
        and document.get("event_type") != "capacity"
        and isinstance(document.get("pseudonym"), str)
    }


def _first_touches(touched: set[str], changed: Mapping[str, Any], stored: set[str]) -> list[str]:
    """The keys the batch touched without changing them that this process has not stored again.

    With an on-disk store (rocksdb://) a worker killed after a table write landed locally but
    before Kafka acknowledged its changelog record restarts with its store ahead of the
    changelog. The batch was not committed (faust flushes the producer first), so it is read
    again, found already folded in and taken for duplicates: nothing changes and nothing would
    be written, and the changelog, all another host restores from, would miss it for good.
    Storing each such key's current value once per process sends exactly those values again.
    (The capacity table needs none of this: a report read again is applied again, not a
    duplicate, so the fold itself stores it.)
    """
    again = [key for key in touched if key not in changed and key not in stored]
    stored.update(again)  # only these: the set grows with duplicates, not with every patient
    return again


def _store_again(table: MutableMapping[str, Any], keys: Iterable[str]) -> None:
    """Write each key's current value to its table (and so to its changelog) once more."""
    for key in keys:
        value = table.get(key)
        if value:
            table[key] = value


def _capacity_keys(read: list[EventT[bytes]], documents: list[Event]) -> dict[str, str]:
    """The capacity table's key for each service reporting in the batch: its events' key."""
    return {
        document["service"]: bytes(event.key or b"").decode()
        for event, document in zip(read, documents, strict=True)
        if isinstance(document, dict)
        and document.get("event_type") == "capacity"
        and isinstance(document.get("service"), str)
    }


def _latest_capacity(
    capacity: MutableMapping[str, Any], keys: dict[str, str], service: str
) -> Event | None:
    latest: Event | None = capacity.get(keys[service])
    return latest
