"""The dead-letter topic as an integration engineer uses it: why was it refused, and replay it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from flowsight.adapters.kafka.admin import topic_partitions, wait_for_broker
from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.adapters.kafka.security import client_options
from flowsight.settings import Settings

REPLAYED_FROM = "flowsight.replayed_from"


@dataclass(frozen=True)
class DeadLetter:
    """One refused message: where it sits, why it was refused, and its original bytes."""

    partition: int
    offset: int
    at: datetime
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        return self.headers.get(name, b"").decode(errors="replace")

    @property
    def reason(self) -> str:
        return self.header("error.reason")

    @property
    def origin_topic(self) -> str:
        return self.header("error.topic")


def parse_position(text: str) -> tuple[int, int]:
    """'2:15' → partition 2, offset 15."""
    try:
        partition, offset = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"{text!r} is not PARTITION:OFFSET (e.g. 0:42)") from None
    return partition, offset


@contextlib.asynccontextmanager
async def _reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    await wait_for_broker(settings, within=10)
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def read_dead_letters(settings: Settings) -> list[DeadLetter]:
    """Every dead letter on the topic now, oldest first within each partition."""
    async with _reader(settings) as consumer:
        partitions = await topic_partitions(settings, settings.dlq_topic)
        assigned = [TopicPartition(settings.dlq_topic, p) for p in partitions]
        if not assigned:
            return []
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        letters: list[DeadLetter] = []
        while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*assigned, timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    letters.append(
                        DeadLetter(
                            record.partition,
                            record.offset,
                            datetime.fromtimestamp(record.timestamp / 1000, UTC),
                            record.key,
                            record.value or b"",
                            {name: value for name, value in record.headers},
                        )
                    )
        return sorted(letters, key=lambda letter: (letter.at, letter.partition, letter.offset))


async def replay(settings: Settings, letter: DeadLetter, corrected: bytes | None = None) -> str:
    """Publish a dead letter (or its corrected version) again to the topic it was refused from."""
    topic = letter.origin_topic
    if not topic.startswith(f"{settings.topic_namespace}.ingest."):
        raise ValueError(
            f"dead letter {letter.position} came from {topic or 'an unknown topic'}, "
            "not an ingest topic of this namespace; publish a corrected event instead"
        )
    passthrough = [
        (name, value) for name, value in letter.headers.items() if not name.startswith("error.")
    ]
    async with EventPublisher(settings) as publisher:
        await publisher.write(
            topic,
            corrected if corrected is not None else letter.value,
            key=letter.key,
            headers=[*passthrough, (REPLAYED_FROM, letter.position.encode())],
        )
    return topic
