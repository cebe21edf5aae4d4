"""Builds the Faust app: the validator and the state agents, their topics and tables."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from aiokafka.errors import KafkaError
from faust.types import EventT, StreamT

from flowsight.adapters.kafka.lag import ConsumerLag, consumed_topics
from flowsight.adapters.notify.delivery import Deliverer
from flowsight.adapters.notify.messages import webhook_document
from flowsight.schemas.events import EVENT_TYPES
from flowsight.services.journey import Journey, Recorded, ServiceMap, replay
from flowsight.services.pressure import ServiceScore, SystemScore
from flowsight.services.validation import (
    TOO_LATE,
    UNPROCESSABLE,
    Accepted,
    Rejected,
    ValidationContext,
    validate_event,
)
from flowsight.settings import Settings
from flowsight.streams.daily import refresh_daily
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.pressure import assess_pressure, pressure_policy
from flowsight.streams.recovery import FlowSafeTableManager
from flowsight.streams.sink import ReadModelSink

log = logging.getLogger("flowsight.worker")
REFRESH_DEBOUNCE_SECONDS = 2.0


@dataclass
class BatchChanges:
    """What one batch of events changed: patients' journeys and services' capacity."""

    journeys: dict[str, Journey] = field(default_factory=dict)
    capacity: dict[str, dict[str, Any]] = field(default_factory=dict)
    latest_capacity: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The earliest event time the batch changed: figures from then on may need recomputing.
    since: str | None = None

    def changed_from(self, moment: str) -> None:
        self.since = moment if self.since is None else min(self.since, moment)


@dataclass
class FlowApp:
    """The Faust app and the parts tests reach into."""

    app: faust.App
    validator: Any
    tracker: Any
    journeys: Any
    capacity: Any


def create_app(
    settings: Settings,
    context: ValidationContext,
    sink: ReadModelSink,
    metrics: WorkerMetrics,
) -> FlowApp:
    """A Faust app wired for `settings`: nothing connects until a worker starts it."""
    catalogue = context.catalogue
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.state_store,
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        datadir=str(settings.data_dir / "faust"),
        table_standby_replicas=0,
        TableManager=FlowSafeTableManager,  # a rebalance must not lose fetched records
    )
    ingest_pattern = re.compile(settings.ingest_topic_pattern)
    # Faust's aiokafka driver cannot subscribe by pattern, so the validator subscribes to one
    # topic per catalogue organisation; a new organisation means a catalogue change and restart.
    ingest = app.topic(
        *(settings.ingest_topic(code) for code in catalogue.organisation_codes),
        key_serializer="raw",
        value_serializer="raw",
    )
    events = app.topic(settings.events_topic, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(settings.dlq_topic, key_serializer="raw", value_serializer="raw")
    # Tables are written once per batch, after the batch's events were iterated, so the changelog
    # partition comes from the key (same partitioner and key bytes as the events topic).
    journeys = app.Table("journeys", default=list, key_type=str, use_partitioner=True)
    capacity = app.Table("capacity", default=dict, key_type=str, use_partitioner=True)
    services = ServiceMap.of(catalogue)

    async def dead_letter(event: EventT[bytes], reason: str, field: str, message: str) -> None:
        headers = list(_headers(event.message.headers))
        headers += [
            ("error.reason", reason.encode()),
            ("error.field", field.encode()),
            ("error.message", message.encode()),
            ("error.topic", event.message.topic.encode()),
            ("error.partition", str(event.message.partition).encode()),
            ("error.offset", str(event.message.offset).encode()),
        ]
        await dead_letters.send(key=event.message.key, value=event.message.value, headers=headers)
        metrics.dead_letters.labels(reason).inc()

    async def validate(stream: StreamT[bytes]) -> AsyncIterator[None]:
        """Validate each published event: pseudonymised onto the events topic, or dead-lettered."""
        async for event in stream.events():
            match = ingest_pattern.match(event.message.topic)
            organisation = match.group(1) if match else ""
            try:
                outcome = validate_event(
                    event.value,
                    organisation=organisation,
                    context=context,
                    now=datetime.now(UTC),
                    headers=dict(_headers(event.message.headers)),
                )
            except Exception as error:  # a bug must not stop the stream or lose the event
                log.exception(
                    "validator failed on %s offset %s", event.message.topic, event.message.offset
                )
                outcome = Rejected(UNPROCESSABLE, "", f"the validator failed: {error!r}")
            if isinstance(outcome, Accepted):
                await events.send(key=outcome.key.encode(), value=orjson.dumps(outcome.event))
                metrics.validated.labels(outcome.event["event_type"], "valid").inc()
            else:
                await dead_letter(event, outcome.reason, outcome.field, outcome.message)
                metrics.validated.labels(_event_type_of(event.value), "dead_lettered").inc()
                log.warning(
                    "dead-lettered an event from %s offset %s: %s (%s)",
                    event.message.topic,
                    event.message.offset,
                    outcome.reason,
                    outcome.message,
                )
            yield None

    async def track(stream: StreamT[bytes]) -> AsyncIterator[None]:
        """Keep each patient's journey and each service's capacity; write changes in batches."""
        async for batch in stream.take_events(  # type: ignore[attr-defined]
            settings.sink_batch_size, within=settings.sink_batch_seconds
        ):
            changes = BatchChanges()
            for event in batch:
                try:
                    rejection = apply_event(event, changes)
                except Exception as error:  # one bad record must not stop every patient's flow
                    log.exception("state agent failed on offset %s", event.message.offset)
                    rejection = Rejected(UNPROCESSABLE, "", f"the state agent failed: {error!r}")
                    metrics.applied.labels(_event_type_of(event.value), "failed").inc()
                if rejection is not None:
                    await dead_letter(event, rejection.reason, rejection.field, rejection.message)
            for pseudonym, journey in changes.journeys.items():
                journeys[pseudonym] = journey.to_stored()
            await sink.write(
                [replay(p, journey.events, services) for p, journey in changes.journeys.items()],
                changes.capacity.values(),
                since=changes.since,
            )
            metrics.sink_batch_size.observe(len(batch))
            yield None

    def apply_event(event: EventT[bytes], changes: BatchChanges) -> Rejected | None:
        """Fold one validated event into the batch's changes; return a rejection to dead-letter."""
        body = orjson.loads(event.value)
        event_type = body["event_type"]
        if event_type == "capacity":
            key = bytes(event.key or b"").decode()
            latest = changes.latest_capacity.get(key) or capacity.get(key)
            if latest and latest["occurred_at"] > body["occurred_at"]:
                metrics.applied.labels(event_type, "superseded").inc()
                return None
            capacity[key] = body
            changes.latest_capacity[key] = body
            changes.capacity[body["service"]] = _capacity_row(body)
            metrics.applied.labels(event_type, "applied").inc()
            return None
        pseudonym = body["pseudonym"]
        journey = changes.journeys.get(pseudonym) or Journey.from_stored(journeys.get(pseudonym))
        recorded = journey.record(body, settings.lateness_window)
        metrics.applied.labels(event_type, recorded.value).inc()
        if recorded is Recorded.APPLIED:
            changes.journeys[pseudonym] = journey
            changes.changed_from(journey.earliest_affected(body))
        elif recorded is Recorded.TOO_LATE:
            return Rejected(
                TOO_LATE,
                "occurred_at",
                f"occurred_at {body['occurred_at']} is older than the lateness window "
                f"({settings.lateness_window_days} days) behind this patient's latest event",
            )
        return None

    pressure_topic = app.topic(
        settings.pressure_topic, key_serializer="raw", value_serializer="raw"
    )
    alerts_topic = app.topic(settings.alerts_topic, key_serializer="raw", value_serializer="raw")
    policy = pressure_policy(settings)

    async def refresh_once() -> None:
        """Today's figures, the days late events changed, then pressure and any alerts."""
        now = datetime.now(UTC)
        todays = await refresh_daily(sink.engine, catalogue, metrics, now)
        assessment = await assess_pressure(sink.engine, catalogue, todays, policy, now)
        scores: list[ServiceScore | SystemScore] = [*assessment.services, assessment.system]
        for score in scores:
            body = score.to_dict()
            metrics.publish_pressure(str(body["scope"]), score.level, score.score)
            published = assessment.published.get(str(body["scope"]))
            await pressure_topic.send(
                key=str(body["scope"]).encode(),
                value=orjson.dumps(
                    {**body, "published_level": published, "as_of": now.isoformat()}
                ),
            )
        for alert in assessment.alerts:
            log.warning(
                "OPEL %s: level %s → %s (%s); alert %s",
                alert.scope,
                alert.level_from,
                alert.level_to,
                alert.reason,
                alert.id,
            )
            message = {"kind": "level_change", **webhook_document(alert, alert.id)}
            await alerts_topic.send(key=alert.id.encode(), value=orjson.dumps(message))

    async def refresh() -> None:
        """Refresh when state changed (at most every few seconds) and on a timer regardless."""
        while not app.should_stop:
            try:
                await asyncio.wait_for(sink.changed.wait(), settings.daily_refresh_seconds)
                await asyncio.sleep(REFRESH_DEBOUNCE_SECONDS)  # let a burst of batches land
            except TimeoutError:
                pass  # waits and delays grow with time alone
            sink.changed.clear()
            try:
                await refresh_once()
            except Exception:  # the next round tries again; the dirty marks are still there
                log.exception("figures and pressure could not be refreshed")

    async def deliver() -> None:
        """Send recorded alerts from the outbox to every configured route."""
        deliverer = Deliverer(sink.engine, settings.alert_routes.by_name(), metrics.registry)
        stop = asyncio.Event()
        try:
            await deliverer.run(stop)
        finally:
            await deliverer.aclose()

    async def watch_lag() -> None:
        """Publish how far behind the worker is on the topics it reads, as the broker sees it."""
        lag = ConsumerLag(
            settings.kafka_bootstrap, settings.app_id, consumed_topics(settings, catalogue)
        )
        try:
            while not app.should_stop:
                # First sample after one interval: by then the worker has joined its group.
                await asyncio.sleep(settings.lag_sample_seconds)
                try:
                    for topic, behind in (await lag.measure()).items():
                        metrics.consumer_lag.labels(topic).set(behind)
                except KafkaError as error:  # the broker may be restarting; ask again later
                    log.warning("could not measure the consumer lag: %s", error)
        finally:
            await lag.close()

    app.task(refresh)
    app.task(deliver)
    app.task(watch_lag)
    validator = app.agent(ingest, name="validator", concurrency=1)(validate)
    tracker = app.agent(events, name="tracker", concurrency=1)(track)
    return FlowApp(app, validator, tracker, journeys, capacity)


def _headers(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(key), bytes(value or b"")) for key, value in items]


def _event_type_of(raw: bytes) -> str:
    # A bounded label for a refused event: its declared type when readable and known.
    try:
        declared = orjson.loads(raw).get("event_type")
    except (orjson.JSONDecodeError, AttributeError):
        return "unreadable"
    return declared if declared in EVENT_TYPES else "unknown"


def _capacity_row(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "service_id": body["service"],
        "open": body["open"],
        "total": body.get("total"),
        "unit": body["unit"],
        "as_of": datetime.fromisoformat(body["occurred_at"]),
    }
