"""The end of a rebalance must not lose a record the fetcher delivers while it finishes.

faust-streaming resumes the stream partitions, seeks them to their committed offsets and then
empties every stream queue. Its fetcher delivers a record only while the consumer's flow is active
(otherwise it seeks back and fetches it again later). This consumer stands in for the Kafka one
so the fetch can be placed exactly inside that step; the recovery, flow control and stream queue
are faust's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.tables import TableManager
from faust.types import TP

from flowsight.streams.recovery import FlowSafeTableManager, HeldFlowRecovery

INGEST = TP("flowsight.ingest.RR8.v1", 0)


class FetchingConsumer:
    """Delivers one record into `queue` while the stream partitions are being sought."""

    def __init__(self, queue: asyncio.Queue[Any]) -> None:
        self.queue = queue
        self.flow_active = True  # the fetcher has been running since the changelog restore
        self.delivered = 0
        self.fetched_again_later = False

    def stop_flow(self) -> None:
        self.flow_active = False

    def resume_flow(self) -> None:
        self.flow_active = True

    def assignment(self) -> set[TP]:
        return {INGEST}

    def resume_partitions(self, tps: Any) -> None:
        pass

    async def perform_seek(self) -> None:
        # The fetcher's turn: the record at the committed offset arrives during the seek.
        if self.flow_active:
            self.queue.put_nowait("referral at offset 1")
            self.delivered += 1
        else:
            self.fetched_again_later = True
        await asyncio.sleep(0)


class IdleFetcher:
    async def maybe_start(self) -> None:
        pass


async def finish_rebalance(table_manager: type[TableManager]) -> tuple[FetchingConsumer, Any]:
    app = faust.App("recovery-test", TableManager=table_manager, autodiscover=False)
    # A stream's queue, as faust makes them: emptied whenever flow control resumes.
    queue = app.FlowControlQueue(maxsize=100, clear_on_resume=True)
    consumer = FetchingConsumer(queue)
    app.consumer = consumer  # type: ignore[assignment]
    app.__dict__["_fetcher"] = IdleFetcher()
    app.rebalancing = True
    await app.tables.recovery.on_recovery_completed(generation_id=app.consumer_generation_id)
    return consumer, queue


async def test_a_record_fetched_while_a_rebalance_finishes_is_not_emptied_away() -> None:
    consumer, _ = await finish_rebalance(FlowSafeTableManager)
    assert (consumer.delivered, consumer.fetched_again_later) == (0, True), (
        "the record was held back, to be fetched again after the seek"
    )
    assert consumer.flow_active, "the flow is running again once the rebalance finished"


async def test_faust_alone_still_loses_that_record() -> None:
    # If this fails, faust-streaming fixed issue #596 and HeldFlowRecovery can go.
    consumer, queue = await finish_rebalance(TableManager)
    assert (consumer.delivered, consumer.fetched_again_later) == (1, False)
    assert queue.empty(), "delivered, counted as read, then emptied out of its queue"


def test_the_worker_app_uses_the_held_flow_recovery() -> None:
    app = faust.App("recovery-test", TableManager=FlowSafeTableManager, autodiscover=False)
    assert isinstance(app.tables.recovery, HeldFlowRecovery)
