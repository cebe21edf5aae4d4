"""An agent's batches: gathered while it works, handed over at once when they waited enough,
never larger than asked, each acknowledged once the agent asks for the next."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import faust
from faust.types import EventT, StreamT

from flowsight.streams.batches import batches
from tests.streams.conftest import raw_topic


class Worked:
    """An agent taking `batches(most, within)`: it records each batch and, on the first, works
    until `release` is set."""

    def __init__(self, app: faust.App, most: int, within: float) -> None:
        self.taken: list[list[EventT[bytes]]] = []
        self.working = asyncio.Event()
        self.release = asyncio.Event()
        self.next_asked = asyncio.Event()
        self.count = asyncio.Condition()

        async def work(stream: StreamT[bytes]) -> AsyncIterator[None]:
            async for batch in batches(stream, most, within):
                if self.taken:
                    self.next_asked.set()
                self.taken.append(batch)
                async with self.count:
                    self.count.notify_all()
                if len(self.taken) == 1:
                    self.working.set()
                    await self.release.wait()
                yield None

        self.agent = app.agent(raw_topic(app, "events"), name="worked")(work)

    @property
    def values(self) -> list[list[bytes]]:
        return [[event.value for event in batch] for batch in self.taken]

    async def until(self, batches_taken: int) -> None:
        async with self.count:
            await asyncio.wait_for(
                self.count.wait_for(lambda: len(self.taken) >= batches_taken), timeout=10
            )


async def put(agent: Any, *values: bytes) -> None:
    for value in values:
        await agent.put(value, key=b"k", wait=False)


async def test_what_came_while_the_agent_worked_is_its_next_batch_at_once(
    app: faust.App,
) -> None:
    """faust's own `take_events` waited `within` again once asked, and took e4 with e2 and e3."""
    subject = Worked(app, most=100, within=1.0)
    async with subject.agent.test_context() as agent:
        await put(agent, b"e1")
        await asyncio.wait_for(subject.working.wait(), timeout=10)
        await put(agent, b"e2", b"e3")
        await asyncio.sleep(1.2)  # e2 has waited longer than `within`
        subject.release.set()
        await asyncio.sleep(0.3)
        await put(agent, b"e4")
        await subject.until(3)
    assert subject.values == [[b"e1"], [b"e2", b"e3"], [b"e4"]]


async def test_a_batch_holds_at_most_what_was_asked_and_loses_nothing(app: faust.App) -> None:
    subject = Worked(app, most=3, within=0.2)
    async with subject.agent.test_context() as agent:
        await put(agent, b"e1")
        await asyncio.wait_for(subject.working.wait(), timeout=10)
        await put(agent, b"e2", b"e3", b"e4", b"e5", b"e6", b"e7", b"e8")
        await asyncio.sleep(0.5)
        subject.release.set()
        await subject.until(4)
    assert subject.values == [[b"e1"], [b"e2", b"e3", b"e4"], [b"e5", b"e6", b"e7"], [b"e8"]]


async def test_a_batch_is_acknowledged_only_once_the_agent_asks_for_the_next(
    app: faust.App,
) -> None:
    """An agent that dies mid-batch must read it again: its offsets stay uncommittable."""
    subject = Worked(app, most=100, within=0.1)
    async with subject.agent.test_context() as agent:
        await put(agent, b"e1")
        await asyncio.wait_for(subject.working.wait(), timeout=10)
        (first,) = subject.taken[0]
        await put(agent, b"e2")
        await asyncio.sleep(0.3)
        acked_while_working = first.message.acked
        subject.release.set()
        await subject.until(2)
        acked_after = first.message.acked
    assert (acked_while_working, acked_after) == (False, True)
