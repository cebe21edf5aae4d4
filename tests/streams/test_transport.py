"""A fetched record's hand-over to its streams: in line when it need not wait, as faust did
(a task a suspended flow interrupts) when it must."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from faust.types import TP

from flowsight.streams import transport
from flowsight.streams.transport import InlineConsumer, StoppingProducer, inline_transport, resumed


def _consumer() -> InlineConsumer:
    app = faust.App("transport-test", broker="kafka://localhost:1", autodiscover=False)
    app.transport = inline_transport(app)
    consumer = app.consumer  # made by the transport; nothing connects until it starts
    assert isinstance(consumer, InlineConsumer)
    return consumer


async def test_a_hand_over_that_need_not_wait_runs_in_the_fetchers_own_task() -> None:
    consumer = _consumer()
    handed: list[tuple[str, asyncio.Task[Any] | None]] = []

    async def hand_over(record: str) -> str:
        handed.append((record, asyncio.current_task()))
        return f"{record} queued"

    outcome = await consumer.wait_first(hand_over("r1"), consumer.suspend_flow.wait())

    assert handed == [("r1", asyncio.current_task())]  # no task made for it
    assert (outcome.results, outcome.stopped) == (["r1 queued"], False)


async def test_a_hand_over_that_waits_goes_on_once_its_stream_has_room() -> None:
    consumer = _consumer()
    room = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def hand_over(record: str) -> str:
        steps.append("full")
        await room  # the stream's buffer is full
        steps.append("queued")
        return record

    waiting = asyncio.ensure_future(
        consumer.wait_first(hand_over("r2"), consumer.suspend_flow.wait())
    )
    await asyncio.sleep(0.01)
    assert steps == ["full"] and not waiting.done()
    room.set_result(None)

    outcome = await asyncio.wait_for(waiting, 1)

    assert steps == ["full", "queued"]
    assert outcome.results == ["r2"]


async def test_a_suspended_flow_interrupts_a_waiting_hand_over_which_unwinds() -> None:
    consumer = _consumer()
    unwound: list[type[BaseException]] = []

    async def hand_over() -> None:
        try:
            await asyncio.get_running_loop().create_future()  # never room
        except BaseException as error:
            unwound.append(type(error))
            raise

    waiting = asyncio.ensure_future(consumer.wait_first(hand_over(), consumer.suspend_flow.wait()))
    await asyncio.sleep(0.01)
    consumer.suspend_flow.set()  # a rebalance

    outcome = await asyncio.wait_for(waiting, 1)
    await asyncio.sleep(0)

    assert outcome.results == [True]  # the suspension's wait won, as in faust's own wait_first
    assert unwound == [asyncio.CancelledError]


async def test_a_hand_over_that_fails_at_once_raises_its_error() -> None:
    consumer = _consumer()

    async def hand_over() -> None:
        raise ValueError("undecodable")

    with pytest.raises(ValueError, match="undecodable"):
        await consumer.wait_first(hand_over(), consumer.suspend_flow.wait())


async def test_resumed_passes_an_error_thrown_while_waiting_into_the_coroutine() -> None:
    waited = asyncio.get_running_loop().create_future()

    async def work() -> str:
        try:
            await waited
        except KeyError:
            return "handled"
        return "not thrown"

    coroutine = work()
    awaiting = coroutine.send(None)
    task = asyncio.ensure_future(resumed(coroutine, awaiting))
    await asyncio.sleep(0)
    waited.set_exception(KeyError("x"))

    assert await task == "handled"


async def test_other_waits_of_the_consumer_are_faust_s_own() -> None:
    consumer = _consumer()
    other = asyncio.Event()
    other.set()

    # One waitable with a timeout (mode's `Service.wait`): not a hand-over.
    outcome = await consumer.wait_first(other.wait(), timeout=1)

    assert outcome.results == [True]


class _Thread:
    """Stands in for the consumer's aiokafka thread: offsets as Kafka holds them, seeks noted."""

    def __init__(self, committed: dict[Any, int | None]) -> None:
        self.committed = committed
        self.sought: dict[Any, int] = {}

    async def seek_to_committed(self) -> dict[Any, int | None]:
        return self.committed

    async def earliest_offsets(self, *partitions: Any) -> dict[Any, int]:
        return {tp: 12 for tp in partitions}  # the log's start, after retention

    def assignment(self) -> set[Any]:
        return set(self.committed)

    def seek(self, partition: Any, offset: int) -> None:
        self.sought[partition] = offset


@pytest.mark.parametrize(("reset", "sought"), [("earliest", True), ("latest", False)])
async def test_a_stream_partition_never_committed_on_is_sought_to_its_beginning(
    reset: str, sought: bool
) -> None:
    consumer = _consumer()
    consumer.app.conf.consumer_auto_offset_reset = reset
    consumer.app.Table("journeys", default=list)  # its changelog: transport-test-journeys-…
    never, zero = TP("ingest", 0), TP("ingest", 1)
    committed, changelog = TP("ingest", 2), TP("transport-test-journeys-changelog", 0)
    thread = _Thread({never: None, zero: 0, committed: 41, changelog: None})
    consumer._thread = thread  # type: ignore[assignment]

    await consumer.seek_to_committed()

    # aiokafka seeks the committed one to 41 itself; the changelog is the recovery's to seek.
    # The others go to the log's start as an offset: faust's progress check reads it at once.
    assert thread.sought == ({never: 12, zero: 12} if sought else {})


class _AbsentBroker:
    """aiokafka's producer, whose records wait for a broker that has gone away."""

    def __init__(self) -> None:
        self.never = asyncio.Event()

    async def flush(self) -> None:
        await self.never.wait()


async def test_a_stopping_worker_gives_up_what_the_broker_never_takes_and_commits_nothing_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "STOP_SECONDS", 0.05)
    consumer = _consumer()
    producer = consumer.app.producer
    assert isinstance(producer, StoppingProducer)
    producer._producer = _AbsentBroker()

    # Running, a commit waits for the producer: no event is counted read before what it
    # produced was sent.
    flushing = asyncio.ensure_future(producer.flush())
    await asyncio.sleep(0.2)
    assert not flushing.done()
    flushing.cancel()

    consumer.app._stopped.set()  # asked to stop
    await asyncio.wait_for(producer.flush(), 1)
    assert producer.gave_up
    # The offsets of what was read are not committed (a commit made would need a started consumer).
    assert await consumer._commit({TP("events", 0): 5}) is False
