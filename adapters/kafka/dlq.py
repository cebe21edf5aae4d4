"""The dead-letter topic as an integration engineer uses it: why was it refused, and replay it.

The worker's delivery is at least once: a worker that crashes after dead-lettering a record but
before committing its offset reads the record again and dead-letters it again. Each dead letter
names the record it came from (`error.topic`, `error.partition`, `error.offset` headers), so the
topic is read as one dead letter per original record, and the raw repeats are counted, not hidden.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
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
    #: How many records on the topic dead-letter the same original (1 unless redelivered).
    copies: int = 1

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

    @property
    def origin(self) -> tuple[str, int, int] | tuple[int, int]:
        """The record it dead-letters (topic, partition, offset); a gateway's refusal, which
        never was a record, is its own position on the dead-letter topic."""
        try:
            partition, offset = (
                int(self.header("error.partition")),
                int(self.header("error.offset")),
            )
        except ValueError:
            return (self.partition, self.offset)
        if not self.origin_topic or offset < 0:  # a gateway's refusal: error.offset -1
            return (self.partition, self.offset)
        return (self.origin_topic, partition, offset)


def one_per_original(letters: list[DeadLetter]) -> list[DeadLetter]:
    """The first dead letter of each original record, in order, with how many copies it has."""
    first: dict[tuple[str, int, int] | tuple[int, int], DeadLetter] = {}
    for letter in letters:
        kept = first.get(letter.origin)
        first[letter.origin] = letter if kept is None else replace(kept, copies=kept.copies + 1)
    return list(first.values())


def parse_position(text: str) -> tuple[int, int]:
    """'2:15' → partition 2, offset 15."""
    try:
        partition, offset = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"{text!r} is not PARTITION:OFFSET (e.g. 0:42)") from None
    return partition, offset


@contextlib.asynccontextmanager
async def _reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    await wait_for_broker(settings, within=settings.kafka_wait_seconds)
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def read_dead_letters(settings: Settings, *, raw: bool = False) -> list[DeadLetter]:
    """The dead letters on the topic now, oldest first: one per original record (its `copies`
    say how many records the topic holds for it), or with `raw` every record as it is."""
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
        letters.sort(key=lambda letter: (letter.at, letter.partition, letter.offset))
        return letters if raw else one_per_original(letters)


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
