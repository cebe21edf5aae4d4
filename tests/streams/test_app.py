"""create_app wires the agents to their topics and tables; nothing connects until it runs."""

from __future__ import annotations

from flowsight.adapters.kafka.producer import key_partitioner
from flowsight.adapters.readmodel.database import create_engine
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings
from flowsight.streams.app import create_app
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.sink import ReadModelSink
from tests.streams.conftest import CATALOGUE


def test_each_agent_reads_its_topics_one_event_at_a_time(
    settings: Settings, context: ValidationContext
) -> None:
    metrics = WorkerMetrics()
    sink = ReadModelSink(create_engine("sqlite+aiosqlite:///:memory:"), CATALOGUE, metrics)
    flow = create_app(settings, context, sink, metrics)

    assert set(flow.validator.channel.topics) == {
        settings.ingest_topic(code) for code in CATALOGUE.organisation_codes
    }
    assert list(flow.tracker.channel.topics) == [settings.events_topic]
    # One actor per agent: a patient's events are folded in the order they were read.
    assert (flow.validator.concurrency, flow.tracker.concurrency) == (1, 1)
    assert (flow.journeys.name, flow.capacity.name) == ("journeys", "capacity")
    assert flow.journeys.use_partitioner and flow.capacity.use_partitioner
    # The tables' changelogs are partitioned as the events topic, by the same partitioner.
    assert flow.app.conf.producer_partitioner is key_partitioner


def test_the_worker_joins_its_group_as_a_static_member_named_by_its_settings(
    settings: Settings, context: ValidationContext
) -> None:
    metrics = WorkerMetrics()
    sink = ReadModelSink(create_engine("sqlite+aiosqlite:///:memory:"), CATALOGUE, metrics)
    named = settings.model_copy(update={"worker_id": "flowsight-worker-0"})

    flow = create_app(named, context, sink, metrics)

    # A restarted member with the same id takes its partitions back without a rebalance.
    assert flow.app.conf.consumer_group_instance_id == "flowsight-worker-0"
