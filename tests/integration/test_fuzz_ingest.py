"""A thousand malformed events through the real worker: none stops it, none is lost."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from flowsight.adapters.kafka.admin import topic_partitions
from tests.fuzzing import malformed_events
from tests.integration.feeds import (
    NHS_NUMBER,
    event,
    pseudonym_of,
    publish,
    queue_entries,
    read_topic,
)
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_malformed_event_is_accounted_for_and_the_worker_keeps_going(stack: Stack) -> None:
    settings = stack.settings
    inputs = malformed_events(1000)
    asyncio.run(publish(settings.kafka_bootstrap, settings.ingest_topic("RR8"), *inputs))

    # Each input comes out exactly once: normalised on the events topic, or as a dead letter.
    stack.wait_until(
        lambda: (
            _count(stack, settings.dlq_topic) + _count(stack, settings.events_topic) >= len(inputs)
        ),
        timeout=120,
        what="all 1,000 inputs to come out of the validator",
    )
    dead = asyncio.run(
        read_topic(
            settings.kafka_bootstrap, settings.dlq_topic, expected=_count(stack, settings.dlq_topic)
        )
    )
    valid = _count(stack, settings.events_topic)
    # The validator's refusals; the state agent may refuse some valid ones too: too late, or
    # another event under an id a mutated copy already used (event_id_reused).
    ingest = settings.ingest_topic("RR8").encode()
    refused = [r for r in dead if dict(r.headers)["error.topic"] == ingest]
    later = [r for r in dead if dict(r.headers)["error.topic"] != ingest]
    assert len(refused) + valid == len(inputs), "none lost, none doubled"
    assert not Counter(r.value for r in refused) - Counter(inputs), "dead letters keep the bytes"
    assert all(dict(r.headers)["error.reason"] for r in refused)
    assert {dict(r.headers)["error.reason"] for r in later} <= {b"too_late", b"event_id_reused"}

    # The worker is still there and still working.
    follow_up = event("referral", to_service="lcc-care-homes", pathway="P3", status="new")
    asyncio.run(
        publish(
            settings.kafka_bootstrap, settings.ingest_topic("RR8"), json.dumps(follow_up).encode()
        )
    )
    expected = pseudonym_of(NHS_NUMBER)
    stack.wait_until(
        lambda: [e for e in queue_entries(stack, "lcc-care-homes") if e["pseudonym"] == expected],
        timeout=60,
        what="a valid event after the malformed ones",
    )
    assert stack.processes["worker"].process.poll() is None


def _count(stack: Stack, topic: str) -> int:
    """Records on `topic` now (end minus beginning offsets of every partition)."""

    async def count() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.settings.kafka_bootstrap, group_id=None)
        await consumer.start()
        try:
            partitions = await topic_partitions(stack.settings.kafka_bootstrap, topic)
            assigned = [TopicPartition(topic, p) for p in partitions]
            ends = await consumer.end_offsets(assigned)
            starts = await consumer.beginning_offsets(assigned)
            return sum(ends[tp] - starts[tp] for tp in assigned)
        finally:
            await consumer.stop()

    return asyncio.run(count())
