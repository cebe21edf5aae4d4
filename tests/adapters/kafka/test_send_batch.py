"""The publisher's batch send, on a real broker: every record arrives once, in order, on the
partition `send` would have chosen for its key, with its headers."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from flowsight.adapters.kafka.admin import ensure_topics
from flowsight.adapters.kafka.producer import EventPublisher, Record
from flowsight.adapters.kafka.security import client_options
from flowsight.settings import Settings


async def fresh_events_topic(kafka_bootstrap: str, partitions: int) -> tuple[Settings, str]:
    """Settings of a namespace of its own, and its events topic, created."""
    settings = Settings(
        _env_file=None,
        kafka_bootstrap=kafka_bootstrap,
        topic_namespace=f"t{uuid.uuid4().hex[:8]}",
        topic_partitions=partitions,
    )
    await ensure_topics(settings, [settings.events_topic])
    return settings, settings.events_topic


async def read_back(settings: Settings, topic: str, count: int) -> list[tuple[int, Record]]:
    consumer = AIOKafkaConsumer(**client_options(settings), auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.subscribe([topic])
        read: list[tuple[int, Record]] = []
        async with asyncio.timeout(30):
            while len(read) < count:
                for partition, messages in (await consumer.getmany(timeout_ms=500)).items():
                    read += [
                        (partition.partition, (m.key, m.value, list(m.headers))) for m in messages
                    ]
        return read
    finally:
        await consumer.stop()


async def partition_send_chooses(settings: Settings, topic: str, key: bytes) -> int:
    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topic, b"probe", key=key)
        return int(metadata.partition)
    finally:
        await producer.stop()


async def test_a_batch_arrives_whole_in_order_on_each_key_s_partition(
    kafka_bootstrap: str,
) -> None:
    settings, topic = await fresh_events_topic(kafka_bootstrap, partitions=3)
    keys = [f"patient-{n % 7}".encode() for n in range(300)]
    records: list[Record] = [
        (key, f"event {n}".encode() * 20, [("correlation-id", f"c-{n}".encode())])
        for n, key in enumerate(keys)
    ]
    # Batches of 2 KiB: each partition's records take several.
    async with EventPublisher(settings, batch_bytes=2048) as publisher:
        handed = await publisher.send_batch(topic, records)
        await asyncio.gather(*(delivery for delivery, _ in handed))

    assert len(handed) > 3
    assert sorted(r for _, held in handed for r in held) == sorted(records)
    read = await read_back(settings, topic, len(records))
    assert sorted(record for _, record in read) == sorted(records)
    chosen = {key: await partition_send_chooses(settings, topic, key) for key in set(keys)}
    for partition in {p for p, _ in read}:
        on_it = [record for p, record in read if p == partition]
        assert on_it == [r for r in records if chosen[r[0]] == partition]


async def test_a_renewed_publisher_sends_under_a_new_producer_id(kafka_bootstrap: str) -> None:
    """Records a failed producer held are sent again through a new one: Kafka would refuse
    the old one's next batches as out of sequence."""
    settings, topic = await fresh_events_topic(kafka_bootstrap, partitions=1)
    async with EventPublisher(settings) as publisher:
        first = publisher.producer
        await asyncio.gather(*(d for d, _ in await publisher.send_batch(topic, [(b"k", b"1", [])])))
        await publisher.renew()
        assert publisher.producer is not first
        assert publisher.producer.client is not first.client
        await asyncio.gather(*(d for d, _ in await publisher.send_batch(topic, [(b"k", b"2", [])])))

    assert [record for _, record in await read_back(settings, topic, 2)] == [
        (b"k", b"1", []),
        (b"k", b"2", []),
    ]
