"""Table recovery that cannot lose a record fetched while a rebalance finishes.

When faust-streaming (0.15) completes a rebalance it resumes the stream partitions, waits for the
seek to their committed offsets, then resumes flow control, which empties every stream queue. When
the fetcher is already running (after a changelog restore, or any rebalance of a running worker),
a record fetched during that wait reaches a stream queue, counts as read, and is then emptied out
of the queue unprocessed: the worker carries on past it and only a later rebalance reads it again
(faust-streaming issue #596). A restarted worker looked idle because of this.

Here the consumer's flow is stopped for the length of that step. While it is stopped the
fetcher delivers nothing and seeks back to the committed offsets; faust resumes the flow itself
once the seek is done and the queues are emptied, so the first record delivered is one that will
be processed.
"""

from __future__ import annotations

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class HeldFlowRecovery(Recovery):
    """Recovery whose final step runs with the consumer's flow stopped, and that makes sure the
    producer knows every changelog topic before the agents write a table."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.app.consumer.stop_flow()
        await self._changelog_metadata()
        await super().on_recovery_completed(generation_id)

    async def _changelog_metadata(self) -> None:
        """Tables made with `use_partitioner` pick a write's changelog partition from the
        producer's metadata without waiting for it (faust's `key_partition`). aiokafka keeps a
        topic's partitions only while the topic is tracked: one it saw in a full metadata fetch
        but never tracked is dropped by the next refresh, and a table write then raised
        TypeError, crashing the agent and losing its batch. Track every changelog topic and
        wait for its partitions before the flow resumes."""
        names = [table.changelog_topic.get_topic_name() for table in self.tables.values()]
        if not names:
            return
        producer = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
        for name in names:
            producer.client.add_topic(name)
        for name in names:
            await producer.partitions_for(name)


class FlowSafeTableManager(TableManager):
    """The table manager, with `HeldFlowRecovery` as its recovery service."""

    async def on_start(self) -> None:
        """faust's start without the second it first sleeps (a pause for tables declared late):
        every table of ours exists before the app starts, and each start of a worker paid it."""
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = HeldFlowRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
