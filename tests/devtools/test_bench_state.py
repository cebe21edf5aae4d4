"""`bench recovery --state-events`: state built by the worker's fold is the worker's own state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from typer.testing import CliRunner

from flowsight.adapters.kafka.security import client_options
from flowsight.cli import app
from flowsight.devtools.bench.city import city_events
from flowsight.devtools.bench.harness import Flowsight, stage
from flowsight.devtools.bench.state import build_state, changelog_topic, validated
from flowsight.services.batch import apply_batch
from flowsight.services.journey import Event, ServiceMap

pytestmark = pytest.mark.integration


async def last_values(flowsight: Flowsight, topic: str) -> dict[str, Any]:
    """Each key's last value on a changelog topic, as faust restores it."""
    consumer = AIOKafkaConsumer(**client_options(flowsight.settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(flowsight.settings.topic_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: dict[str, Any] = {}
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    values[record.key.decode()] = orjson.loads(record.value)
        return values
    finally:
        await consumer.stop()


def folded(flowsight: Flowsight, events: list[dict[str, Any]]) -> dict[str, list[Event]]:
    """Every patient's stored journey after all `events`, folded in one process."""
    journeys: dict[str, list[Event]] = {}
    documents = [document for _, document in validated(flowsight, events)]
    patient_events = [document for document in documents if document["event_type"] != "capacity"]
    services = ServiceMap.of(flowsight.catalogue)
    lateness = flowsight.settings.lateness_window
    for start in range(0, len(patient_events), 500):
        changes = apply_batch(
            patient_events[start : start + 500], journeys.get, lambda _: None, lateness, services
        )
        journeys.update((p, journey.to_stored()) for p, journey in changes.journeys.items())
    return journeys


async def test_a_worker_carries_on_from_the_state_the_fold_built(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with stage(kafka_bootstrap, tmp_path) as flowsight:
        events = city_events(flowsight.catalogue, 1_500, volume=0.1)
        built, later = events[:-300], events[-300:]
        await flowsight.create_topics()
        state = await build_state(flowsight, built)
        assert state.patients > 0 and state.changelog_records >= state.patients

        await flowsight.publish(later)
        flowsight.start("worker")
        await flowsight.wait_caught_up(len(later), 300)
        flowsight.stop("worker")
        stored = await last_values(flowsight, changelog_topic(flowsight, "journeys"))

    expected = folded(flowsight, events)
    # Patients of the later events built on their journeys from the built state: their stored
    # journeys hold the events of both, as if one worker had read everything.
    assert stored.keys() == expected.keys()
    assert stored == expected


def test_recovery_on_built_state_prints_each_store_against_its_clean_restart(
    kafka_bootstrap: str,
) -> None:
    result = CliRunner().invoke(
        app,
        ["bench", "recovery", "--state-events", "400", "--backlog", "30", "--stores",
         "memory://", "--bootstrap", kafka_bootstrap],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "memory:// cold start (nothing local)" in result.output
    assert "memory:// kill -9 (round 2)" in result.output
    assert "ratio memory:// kill -9 / SIGTERM worker CPU" in result.output
