"""faust's Kafka transport, with each fetched record handed to its streams in line.

faust hands every fetched record to the streams of its topic through
`Service.wait_first(callback(message), suspend_flow.wait())`: four tasks made, a wait, three
tasks cancelled and an event-loop turn for each record, so that a rebalance (the flow
suspended) can interrupt a hand-over blocked on a full stream buffer. Most hand-overs never
block: the record is decoded and put on a queue with room. That machinery was about a sixth of
the worker's CPU (docs/benchmarks.md).

Here the hand-over runs in line up to its first wait. One that finishes without waiting (the
usual case) costs a function call. One that must wait goes on as a task, through faust's own
`wait_first`, so a suspended flow still interrupts it as before.

It also seeks back the stream partitions nothing was ever committed on. faust drops the records
a fetch returns while its flow is stopped (a rebalance, a recovery ending), or for a partition
it is not reading yet, and then seeks each partition back to its committed offset: aiokafka
seeks only where an offset above 0 was committed. A partition whose first records came while
no worker had committed on it was left past them, and they were never read: a new deployment's
first events, or a new feed's, lost without a word (docs/decisions.md). Such a partition is
now sought back to its beginning, where `auto_offset_reset = earliest` starts it anyway.

Every topic of the worker carries bytes: `raw_topic` reads a record's key and value as they
came, where faust's raw codec looked both up in its codec registry and settings (about 2 % of a
replaying worker's loop; docs/benchmarks.md).

And a worker asked to stop while the broker is away stops. faust's stop sends what its producer
holds (table changes, dead letters) and commits what was read, each waiting for as long as the
broker is away. A stopping worker's producer now waits `STOP_SECONDS` for it; what it could not
send is left, and no offset is committed past it, so the next worker reads those events again.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Coroutine, Generator, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka
from faust.types import TP, AppT, Message
from mode.services import WaitArgT, WaitResults

log = logging.getLogger("flowsight.worker")

#: How long a stopping worker waits for the broker to take what its producer holds.
STOP_SECONDS = 5.0
#: What a producer given up still has to close: its stop, up to where it waits for the broker.
CLOSING_SECONDS = 0.5


class ConsumerThread(aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, whose stop finishes while the broker is away.

    aiokafka's fetcher, closing with a fetch retrying against an absent broker, cancels that
    fetch and then awaits it: the cancellation ends the consumer's stop part-way, the thread
    dies before it says it has shut down, and the worker waited faust's whole shutdown timeout
    (60 s) for it. A service manager sends SIGKILL before that (Kubernetes after 30 s). Here the
    stray cancellation is taken for what it is and the consumer's connections closed."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        """faust's consumer, reading committed records only.

        A source publishing in Kafka transactions (Kafka Connect or Debezium with exactly-once
        source support, a Java client with a `transactional.id`) may abort one: what it sent in
        it never happened. faust reads committed records only when the app itself is
        transactional; here it always does (records of an open transaction wait until it ends).
        aiokafka takes the level when the consumer starts, which is after this."""
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"
        return consumer

    async def on_thread_stop(self) -> None:
        try:
            await super().on_thread_stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this stop itself was cancelled
            log.info("the Kafka consumer stopped with a fetch still retrying (broker away)")
            consumer: Any = self._consumer
            if consumer is not None:
                await consumer._client.close()


class InlineConsumer(aiokafka.Consumer):
    """faust's aiokafka consumer; a record's hand-over runs in line until it would wait, and a
    stream partition never committed on is sought back to its beginning with the others."""

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        if getattr(self.app.producer, "gave_up", False):
            return False  # what was read before those offsets may not all have been sent
        return bool(await super()._commit(offsets))

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        never = [
            tp
            for tp, offset in committed.items()
            if (offset is None or offset <= 0) and not self._is_changelog_tp(tp)
        ]  # the changelogs' partitions are sought by the recovery, to offsets of its own
        if never and self.app.conf.consumer_auto_offset_reset == "earliest":
            # Where the reset starts it anyway, as an offset: aiokafka's own seek to the
            # beginning leaves the position unknown until it is looked up, and faust's check of
            # each partition's progress then fails an assertion and crashes the consumer.
            beginnings = await self._thread.earliest_offsets(*never)
            assigned = self._thread.assignment()
            for tp, offset in beginnings.items():
                if tp in assigned:
                    self._thread.seek(tp, offset)
        return committed

    async def wait_first(
        self,
        *coros: WaitArgT,
        timeout: Any = None,  # noqa: ASYNC109 - mode's `Seconds | None`, overridden
    ) -> WaitResults:
        if len(coros) == 2 and timeout is None and _waits_on(coros[1], self.suspend_flow):
            handover, suspended = coros
            if isinstance(handover, Coroutine) and not self.suspend_flow.is_set():
                return await self._hand_over(handover, suspended)
        return await super().wait_first(*coros, timeout=timeout)

    async def _hand_over(self, handover: Coroutine[Any, Any, Any], suspended: Any) -> WaitResults:
        try:
            awaiting = handover.send(None)
        except StopIteration as done:
            suspended.close()  # never started: nothing to wait for
            return WaitResults([handover], [done.value], False)
        except BaseException:
            suspended.close()
            raise
        # It waits (a full buffer, flow control, the producer's buffer): from here as faust does.
        going_on = asyncio.ensure_future(resumed(handover, awaiting))
        return await super().wait_first(going_on, suspended)


@types.coroutine
def resumed(coroutine: Coroutine[Any, Any, Any], awaiting: Any) -> Generator[Any, Any, Any]:
    """Go on with `coroutine`, stopped where it yielded `awaiting` to its task, under a new task.

    The new task waits on what `coroutine` waited on, then resumes it; an error or cancellation
    thrown in while waiting is thrown into `coroutine`, so it unwinds as it would have.
    """
    while True:
        try:
            sent = yield awaiting
        except BaseException as error:  # thrown in by the task: passed on
            try:
                awaiting = coroutine.throw(error)
            except StopIteration as done:
                return done.value
        else:
            try:
                awaiting = coroutine.send(sent)
            except StopIteration as done:
                return done.value


def _waits_on(waitable: WaitArgT, event: Any) -> bool:
    """Whether `waitable` is the not yet started `event.wait()`."""
    frame = getattr(waitable, "cr_frame", None)
    return frame is not None and frame.f_locals.get("self") is event


class StoppingProducer(aiokafka.Producer):
    """faust's producer, which a stopping worker waits for `STOP_SECONDS` at most.

    aiokafka retries a record for as long as the broker is away (faust's request timeout is
    20 min), and faust's stop waited for each: a worker stopped in an outage ran until SIGKILL.
    Once its wait is over, the producer is given up: `gave_up` is set, so that no offset is
    committed past what it did not send."""

    gave_up = False

    async def flush(self) -> None:
        if not self.app.should_stop:
            await super().flush()  # a commit waits for it: no event counted read before it is sent
            return
        if not self.gave_up:
            try:
                await asyncio.wait_for(super().flush(), STOP_SECONDS)
            except TimeoutError:
                self.gave_up = True
                log.warning(
                    "Kafka took nothing for %.0f s; the worker stops without sending what it "
                    "holds, and commits nothing past it (the next worker reads it again)",
                    STOP_SECONDS,
                )

    async def on_stop(self) -> None:
        # aiokafka's stop sends what is queued first: given up, it has a moment to mark itself
        # closed, then its sending task is left to the end of the event loop, which cancels it.
        try:
            await asyncio.wait_for(
                super().on_stop(), CLOSING_SECONDS if self.gave_up else STOP_SECONDS
            )
        except TimeoutError:
            self.gave_up = True


class Transport(aiokafka.Transport):
    """faust's aiokafka transport, with `InlineConsumer` and `StoppingProducer`."""

    Consumer = InlineConsumer
    Producer = StoppingProducer


def inline_transport(app: Any) -> Transport:
    """The transport `app` would make from its broker URL, with `InlineConsumer`."""
    return Transport(app.conf.broker_consumer, app)


class RawSchema(faust.Schema[bytes, bytes]):
    """Bytes in, bytes out: a record's key and value read as they came (sent as faust's raw
    codec sends them)."""

    def __init__(self) -> None:
        super().__init__(key_serializer="raw", value_serializer="raw")

    def loads_key(self, app: AppT, message: Message, **_: Any) -> Any:
        return message.key

    def loads_value(self, app: AppT, message: Message, **_: Any) -> Any:
        return message.value


def raw_topic(app: faust.App, *names: str) -> Any:
    """`app`'s topic `names`, of bytes."""
    return app.topic(*names, schema=RawSchema())
