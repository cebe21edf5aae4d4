"""A worker's state built without the worker, for `bench recovery --state-events`.

A worker folds about 800 events a second, so a million events of state take it twenty minutes
and more. Here the same fold (`services.batch.apply_batch`, in batches of the worker's size) runs
in the benchmark's process over the simulated city's validated events, and what the worker would
have stored goes where the worker would have put it:

- every batch's changed journeys and capacity reports to the tables' changelog topics, as the
  worker's tables write them (the raw key, a JSON value, the producer's partitioner on the key
  bytes, topics made with the tables' own configuration): the changelog is as long as a live
  worker's;
- the final patients' states and every capacity report to the read model, then its daily
  figures computed, as the worker's refresh does.

The events themselves are not on the ingest or events topics: the worker has nothing of them to
read again, as a worker whose group committed them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faust.serializers import codecs

from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.adapters.kafka.security import client_options
from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.schema_lock import upgrade_exclusively
from flowsight.devtools.bench.harness import Advance, Flowsight
from flowsight.schemas.events import organisation_of
from flowsight.services.batch import apply_batch, capacity_row
from flowsight.services.journey import Event, JourneyState, ServiceMap
from flowsight.services.validation import Accepted, ValidationContext, validate_document
from flowsight.streams.app import CHANGELOG_TOPIC_CONFIG
from flowsight.streams.daily import refresh_daily
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.sink import ReadModelSink

#: Changelog records handed to the producer before waiting for their acknowledgements.
IN_FLIGHT = 20_000
#: Patients written to the read model per transaction.
READ_MODEL_CHUNK = 2_000


@dataclass(frozen=True)
class BuiltState:
    """What the state holds and how long it took to build."""

    events: int  # simulated events folded
    patients: int
    changelog_records: int
    changelog_bytes: int
    seconds: float


def changelog_topic(flowsight: Flowsight, table: str) -> str:
    """faust's name for a table's changelog topic."""
    return f"{flowsight.settings.app_id}-{table}-changelog"


async def create_changelogs(flowsight: Flowsight) -> None:
    """The tables' changelog topics, as faust makes them: compacted, with the tables' config."""
    settings = flowsight.settings
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        topics = [
            NewTopic(
                changelog_topic(flowsight, table),
                settings.topic_partitions,
                settings.topic_replication,
                topic_configs={"cleanup.policy": "compact", **CHANGELOG_TOPIC_CONFIG},
            )
            for table in ("journeys", "capacity")
        ]
        try:
            await admin.create_topics(topics)
        except TopicAlreadyExistsError:
            pass
    finally:
        await admin.close()


def validated(flowsight: Flowsight, events: list[dict[str, Any]]) -> list[tuple[str, Event]]:
    """The events as the validator sends them on: (events-topic key, normalised document)."""
    settings = flowsight.settings
    context = ValidationContext(flowsight.catalogue, settings.pseudonym_secret, settings.clock_skew)
    now = datetime.now(UTC)
    accepted = []
    for event in events:
        outcome = validate_document(
            event, organisation=organisation_of(event["source"]), context=context, now=now
        )
        if isinstance(outcome, Accepted):
            accepted.append((outcome.key, outcome.event))
    return accepted


class _Changelog:
    """Sends table writes as faust does, a bounded number in flight."""

    def __init__(self, publisher: EventPublisher, flowsight: Flowsight) -> None:
        self.producer = publisher.producer
        self.journeys = changelog_topic(flowsight, "journeys")
        self.capacity = changelog_topic(flowsight, "capacity")
        self.pending: list[asyncio.Future[Any]] = []
        self.records = 0
        self.bytes = 0

    async def write(self, topic: str, key: str, value: Any) -> None:
        key_bytes = key.encode()  # raw, as the tables' keys (streams/store.py)
        value_bytes = codecs.dumps("json", value)
        self.pending.append(await self.producer.send(topic, value_bytes, key=key_bytes))
        self.records += 1
        self.bytes += len(key_bytes) + len(value_bytes)
        if len(self.pending) >= IN_FLIGHT:
            await self.flush()

    async def flush(self) -> None:
        await asyncio.gather(*self.pending)
        self.pending.clear()


async def build_state(
    flowsight: Flowsight, events: list[dict[str, Any]], advance: Advance | None = None
) -> BuiltState:
    """Fold `events` as the worker would and store the result where the worker would."""
    started = time.perf_counter()
    settings = flowsight.settings
    services = ServiceMap.of(flowsight.catalogue)
    await create_changelogs(flowsight)
    journeys: dict[str, list[Event]] = {}
    capacity: dict[str, Event] = {}
    states: dict[str, JourneyState] = {}
    reports: list[Event] = []
    accepted = validated(flowsight, events)
    async with EventPublisher(settings, batch_bytes=512 * 1024) as publisher:
        changelog = _Changelog(publisher, flowsight)
        size = settings.sink_batch_size
        for start in range(0, len(accepted), size):
            batch = accepted[start : start + size]
            documents = [document for _, document in batch]
            keys = {
                document["service"]: key
                for key, document in batch
                if document["event_type"] == "capacity"
            }
            changes = apply_batch(
                documents,
                journeys.get,
                partial(_latest_capacity, capacity, keys),
                settings.lateness_window,
                services,
            )
            for pseudonym, journey in changes.journeys.items():
                journeys[pseudonym] = journey.to_stored()
                await changelog.write(changelog.journeys, pseudonym, journeys[pseudonym])
            for service, report in changes.capacity.items():
                capacity[keys[service]] = report
                await changelog.write(changelog.capacity, keys[service], report)
            states.update((state.pseudonym, state) for state in changes.states)
            reports.extend(changes.reports)
            if advance:
                advance(len(batch))
        await changelog.flush()
    latest = {id(report) for report in capacity.values()}
    capacity_rows = [{**capacity_row(r), "latest": id(r) in latest} for r in reports]
    await write_read_model(flowsight, list(states.values()), capacity_rows)
    return BuiltState(
        len(events),
        len(journeys),
        changelog.records,
        changelog.bytes,
        time.perf_counter() - started,
    )


def _latest_capacity(
    capacity: dict[str, Event], keys: dict[str, str], service: str
) -> Event | None:
    return capacity.get(keys[service])


async def write_read_model(
    flowsight: Flowsight, states: list[JourneyState], capacity_rows: list[dict[str, Any]]
) -> None:
    """The patients' final states and the capacity history, then the daily figures."""
    url = flowsight.settings.resolved_database_url
    await asyncio.to_thread(upgrade_exclusively, url)
    engine = create_engine(url)
    metrics = WorkerMetrics()
    sink = ReadModelSink(engine, flowsight.catalogue, metrics)
    try:
        for start in range(0, max(len(states), len(capacity_rows)), READ_MODEL_CHUNK):
            await sink.write(
                states[start : start + READ_MODEL_CHUNK],
                capacity_rows[start : start + READ_MODEL_CHUNK],
            )
        whole_history = True
        while (
            await refresh_daily(
                engine, flowsight.catalogue, metrics, datetime.now(UTC), whole_history=whole_history
            )
        ).more:
            whole_history = False
    finally:
        await engine.dispose()
