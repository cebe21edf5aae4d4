"""Consumer lag as the broker reports it: published minus committed, per topic."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import OffsetAndMetadata
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from streams.lag import ConsumerLag

pytestmark = pytest.mark.integration


async def measured(lag: ConsumerLag) -> dict[str, int]:
    """The lag, once the broker has a coordinator for the group (new on a fresh broker)."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(GroupCoordinatorNotAvailableError),
        wait=wait_fixed(0.5),
        stop=stop_after_delay(30),
        reraise=True,
    ):
        with attempt:
            return await lag.measure()
    raise AssertionError("unreachable")


async def test_lag_is_what_the_group_has_not_committed(kafka_bootstrap: str) -> None:
    topic, idle, group = (f"lag-{uuid.uuid4().hex[:8]}" for _ in range(3))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, value=b"event %d" % n, partition=0)
        await producer.send_and_wait(idle, value=b"only", partition=0)
    finally:
        await producer.stop()

    lag = ConsumerLag(kafka_bootstrap, group, [topic, idle])
    await lag.start()
    try:
        assert await measured(lag) == {topic: 5, idle: 1}, "nothing committed: all of it waits"

        committer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        await committer.start()
        committer.assign([TopicPartition(topic, 0)])
        try:
            await committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, "")})
        finally:
            await committer.stop()
        assert await measured(lag) == {topic: 2, idle: 1}
    finally:
        await lag.close()
