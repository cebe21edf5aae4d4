"""Consumer lag as the broker reports it: published minus committed, per topic."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import OffsetAndMetadata
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from flowsight.adapters.kafka.lag import ConsumerLag
from tests.integration.feeds import event, publish
from tests.integration.stack import running_stack, stack_env

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


def test_the_api_is_not_ready_while_the_worker_is_behind(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stack_env(
        kafka_bootstrap,
        f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}",
        tmp_path,
        FLOWSIGHT_READY_MAX_LAG="2",
    )
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        stack.start_api()
        ingest = stack.settings.ingest_topic("RR8")
        stack.wait_until(
            lambda: stack.worker_metric("flowsight_consumer_lag", topic=ingest) == 0,
            timeout=60,
            what="the worker to have its topics and measure its lag",
        )
        assert stack.processes["worker"].stop() == 0
        referrals = [json.dumps(event("referral", to_service="lch-ucr", status="new")).encode()]
        asyncio.run(publish(kafka_bootstrap, stack.settings.ingest_topic("RR8"), *(referrals * 3)))

        ready = httpx.get(f"{stack.api_url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["checks"]["state"].startswith("behind: 3 events not yet processed")
        assert ready.json()["lag"][ingest] == 3

        stack.start_worker()
        stack.wait_until(
            lambda: httpx.get(f"{stack.api_url}/readyz", timeout=30).status_code == 200,
            timeout=90,
            what="the API to be ready once the worker caught up",
        )
