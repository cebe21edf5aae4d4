"""How far the worker is behind on the topics it reads, as Kafka itself sees it.

Lag is what was published and not yet committed by the worker's consumer group: end offset minus
committed offset (or the log start, for a partition with no commit), summed per topic. It is read
from the broker, not from the worker's own bookkeeping, so a worker that looks healthy but has
stopped consuming (or cannot commit past a lost record) shows a lag that does not come down.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code

from flowsight.adapters.kafka.security import KafkaTarget, client_options
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings


def consumed_topics(settings: Settings, catalogue: Catalogue) -> list[str]:
    """The topics the worker reads: each organisation's ingest topic and the events topic."""
    ingest = [settings.ingest_topic(code) for code in catalogue.organisation_codes]
    return [*ingest, settings.events_topic]


class ConsumerLag:
    """The lag of consumer group `group` on `topics`; connects on first use, `close` after."""

    def __init__(self, target: KafkaTarget, group: str, topics: Sequence[str]) -> None:
        self.group = group
        self.topics = list(topics)
        self._admin = AIOKafkaAdminClient(**client_options(target))
        # No group: this consumer only asks for offsets, it never joins or reads.
        self._offsets = AIOKafkaConsumer(**client_options(target), enable_auto_commit=False)
        self._started: list[AIOKafkaAdminClient | AIOKafkaConsumer] = []

    async def _connect(self) -> None:
        # Each client once; a broker that was away on a first try is tried again next time.
        if self._admin not in self._started:
            await self._admin.start()
            self._started.append(self._admin)
        if self._offsets not in self._started:
            await self._offsets.start()
            self._started.append(self._offsets)

    async def close(self) -> None:
        # Both, started or not: one whose start failed (the broker away) still holds a client,
        # and aiokafka warned of it as unclosed when the worker stopped.
        await self._offsets.stop()
        await self._admin.close()
        self._started.clear()

    async def measure(self) -> dict[str, int]:
        """Records published but not committed, per topic."""
        await self._connect()
        committed = await self._admin.list_consumer_group_offsets(self.group)
        partitions = []
        for topic in await self._admin.describe_topics(self.topics):
            if topic["error_code"]:  # the worker creates its topics: one missing is an error
                raise for_code(topic["error_code"])(f"topic {topic['topic']}")
            partitions += [
                TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]
            ]
        ends = await self._offsets.end_offsets(partitions)
        starts = await self._offsets.beginning_offsets(partitions)
        lag = dict.fromkeys(self.topics, 0)
        for partition in partitions:
            done = committed.get(partition)
            position = max(done.offset if done else -1, starts[partition])
            lag[partition.topic] += max(0, ends[partition] - position)
        return lag
