"""Builds the Faust app: its topics and tables, the validator and tracker agents, the tasks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import faust
from faust.types import TP

from flowsight.adapters.kafka.producer import BATCH_BYTES, EventPublisher, key_partitioner
from flowsight.adapters.kafka.security import faust_credentials
from flowsight.adapters.notify.routes import alert_routes
from flowsight.services.journey import ServiceMap
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings, private_directory
from flowsight.streams.agents import Backlog
from flowsight.streams.agents.outlet import EventsTopic
from flowsight.streams.agents.tracker import tracker
from flowsight.streams.agents.validator import validator
from flowsight.streams.dead_letters import DeadLetters
from flowsight.streams.figures_process import FiguresProcess, separable
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.monitor import QuietMonitor
from flowsight.streams.pressure import pressure_policy
from flowsight.streams.recovery import FlowSafeTableManager
from flowsight.streams.sink import ReadModelSink
from flowsight.streams.store import StateTable
from flowsight.streams.tasks.delivery import alert_delivery
from flowsight.streams.tasks.lag import lag_watch
from flowsight.streams.tasks.purge import PatientPurge
from flowsight.streams.tasks.refresh import Refresh
from flowsight.streams.tasks.sizes import state_sizes
from flowsight.streams.transport import inline_transport, raw_topic
from flowsight.streams.validation_process import checks_for

#: How long the group waits for a silent member (Kafka's own client default), and how often a
#: member says it is alive (a third of that, as Kafka advises).
SESSION_TIMEOUT_SECONDS = 10.0
HEARTBEAT_SECONDS = 3.0
PRODUCER_LINGER_SECONDS = 0.005
#: How often the worker commits its offsets (faust's default is 2.8 s): a restarted worker redoes
#: less, and the lag Kafka reports follows the work within a second.
COMMIT_SECONDS = 1.0
#: The tables' changelog topics (compacted by faust) close a segment every 64 MiB or hour and
#: are cleaned once a quarter of them is superseded: Kafka compacts only closed segments, and
#: each batch rewrites every changed patient's whole journey, so with Kafka's 1 GiB or 7 day
#: segments a new host restored several times the table's size (docs/operations.md).
CHANGELOG_TOPIC_CONFIG = {
    "segment.bytes": str(64 * 1024 * 1024),
    "segment.ms": str(3_600_000),
    "min.cleanable.dirty.ratio": "0.25",
}


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
    # One directory per app id and member: a rebuild (a new app id) or a second worker on the
    # same data directory would otherwise open the same RocksDB files, which lock them. faust
    # makes only the last level of it. Made here, whole, for the owner alone: the tables hold
    # pseudonyms, episodes and dates, and RocksDB writes its files readable by anyone.
    datadir = private_directory(
        settings.data_dir / "faust" / settings.app_id / settings.group_instance_id
    )
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),  # TLS/SASL as every other client
        store=settings.state_store,
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        monitor=QuietMonitor(),  # its per-record bookkeeping only fed the web views
        datadir=str(datadir),
        table_standby_replicas=0,
        TableManager=FlowSafeTableManager,  # a rebalance must not lose fetched records
        Table=StateTable,  # on rocksdb://, each write filed under its changelog partition
        # A worker killed without leaving its group holds its partitions until its session
        # expires: faust's 60 s made a restarted worker wait a minute (docs/benchmarks.md).
        broker_session_timeout=SESSION_TIMEOUT_SECONDS,
        broker_heartbeat_interval=HEARTBEAT_SECONDS,
        # Static membership: a worker restarted under its name (killed or not) gets its
        # partitions back at once instead of waiting out its old session (docs/decisions.md).
        consumer_group_instance_id=settings.group_instance_id,
        broker_commit_interval=COMMIT_SECONDS,
        # The tables' changelogs get one record per changed key: a few milliseconds' linger lets
        # the producer send them in batches rather than one request each (docs/benchmarks.md).
        producer_linger=PRODUCER_LINGER_SECONDS,
        producer_partitioner=key_partitioner,  # Kafka's default, each key's hash remembered
    )
    app.transport = inline_transport(app)  # before any topic: a record's hand-over in line

    # Faust's aiokafka driver cannot subscribe by pattern, so the validator subscribes to one
    # topic per catalogue organisation; a new organisation means a catalogue change and restart.
    ingest = raw_topic(app, *(settings.ingest_topic(code) for code in catalogue.organisation_codes))
    events = raw_topic(app, settings.events_topic)
    # The validator writes the events topic a batch at a time through a publisher of its own.
    events_out = EventsTopic(
        EventPublisher(settings, batch_bytes=BATCH_BYTES), settings.events_topic
    )
    dead_letters = DeadLetters(raw_topic(app, settings.dlq_topic), metrics)

    # Tables are written once per batch, after the batch's events were iterated, so the changelog
    # partition comes from the key (same partitioner and key bytes as the events topic).
    def table(name: str, default: type) -> Any:
        return app.Table(
            name,
            default=default,
            key_type=str,
            use_partitioner=True,
            extra_topic_configs=CHANGELOG_TOPIC_CONFIG,
        )

    journeys = table("journeys", list)
    capacity = table("capacity", dict)

    def highwater(tp: TP) -> int | None:
        try:
            return int(app.consumer.highwater(tp))
        except Exception:  # not fetched yet, or no longer assigned: nothing known
            return None

    # Whether the agents are behind, for the refresh's pace.
    backlog = Backlog(highwater)
    validate = validator(
        re.compile(settings.ingest_topic_pattern),
        checks_for(context),
        events_out,
        dead_letters,
        metrics,
        backlog,
    )
    track = tracker(
        journeys,
        capacity,
        sink,
        events_out,
        dead_letters,
        metrics,
        settings,
        ServiceMap.of(catalogue),
        backlog,
    )
    # Parsed once per worker: the pressure step names the routes, the deliverer sends to them.
    routes = alert_routes(settings.alert_routes).by_name()
    # The figures are computed beside the event loop, in a process of their own.
    url = settings.resolved_database_url
    refresh = Refresh(
        sink,
        catalogue,
        pressure_policy(settings, routes),
        metrics,
        raw_topic(app, settings.pressure_topic),
        raw_topic(app, settings.alerts_topic),
        backlog,
        FiguresProcess(url) if separable(url) else None,
    )

    def should_stop() -> bool:
        return bool(app.should_stop)

    app.task(refresh.task(should_stop, settings.daily_refresh_seconds))
    app.task(alert_delivery(sink.engine, routes, metrics))
    app.task(lag_watch(settings, catalogue, metrics, should_stop))
    # Data lifecycle and state sizes (docs/security.md, docs/operations.md).
    retention = timedelta(days=settings.patient_retention_days)
    purge = PatientPurge(journeys, sink, ServiceMap.of(catalogue), metrics, retention)

    def tables_ready() -> bool:  # a half-restored journey looks older than it is
        return not (app.rebalancing or app.in_recovery)

    app.task(purge.task(tables_ready, should_stop, settings.purge_interval_seconds))
    app.task(
        state_sizes(sink.engine, {"journeys": journeys, "capacity": capacity}, metrics, should_stop)
    )
    return FlowApp(
        app,
        app.agent(ingest, name="validator", concurrency=1)(validate),
        app.agent(events, name="tracker", concurrency=1)(track),
        journeys,
        capacity,
    )
