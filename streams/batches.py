"""An agent's events in batches, gathered while it works on the last batch.

faust's `stream.take_events(most, within)` stops gathering while the agent works on a batch
and, once it asks again, waits `within` for the next one to fill: behind a backlog each batch
cost the agent its work plus a whole `within` of waiting (a replaying tracker spent 38 % of its
time there; docs/benchmarks.md). Here the events that come while the agent works are gathered
at once, up to `most`, and a batch waits at most `within` from its first event's arrival: one
whose first event came while the agent worked is handed over as soon as it is asked for.

Acknowledgements are as faust's: a batch's events are acknowledged (their offsets committable)
only when the agent asks for the next batch, so an agent that dies mid-batch reads it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from faust.types import EventT, StreamT


def batches(
    stream: StreamT[bytes], most: int, within: float
) -> AsyncGenerator[list[EventT[bytes]], None]:
    """`stream`'s events in batches of at most `most`, each handed over when it is full or
    `within` seconds after its first event came, whichever is sooner."""
    gathering = _gathered(stream, most, within)
    # Closed with the stream when the agent stops, as faust's own batching generators are.
    active = getattr(stream, "_active_agens", None)
    if active is not None:
        active.add(gathering)
    return gathering


async def _gathered(
    stream: Any, most: int, within: float
) -> AsyncGenerator[list[EventT[bytes]], None]:
    loop = asyncio.get_running_loop()
    buffer: list[EventT[bytes]] = []
    first = 0.0  # when the buffer's oldest event came
    arrived = asyncio.Event()  # the buffer holds an event
    full = asyncio.Event()  # the buffer holds `most`
    room = asyncio.Event()  # the buffer has room again
    room.set()

    async def gather(value: bytes) -> bytes:
        """faust's processor of each event the stream reads: into the buffer."""
        nonlocal first
        event = stream.current_event
        if event is None:
            raise RuntimeError("an event reached the batch without faust's current event")
        if not buffer:
            first = loop.time()
            arrived.set()
        buffer.append(event)
        if len(buffer) >= most:
            full.set()
            room.clear()
            await stream.wait(room)  # the fetches wait, as for a full stream queue
        return value

    acks = stream.enable_acks
    stream.enable_acks = False  # acknowledged here, once the agent is done with each batch
    stream.add_processor(gather)
    stream._enable_passive(aiter(stream.channel))  # read in the background, as faust's take
    try:
        while not stream.should_stop:
            if not buffer and await stream.wait_for_stopped(arrived):
                break
            left = first + within - loop.time()
            if left > 0 and len(buffer) < most:
                await stream.wait_for_stopped(full, timeout=left)
            if not buffer:
                continue
            batch = list(buffer)
            buffer.clear()
            arrived.clear()
            full.clear()
            room.set()
            try:
                yield batch
            finally:
                for event in batch:
                    await stream.ack(event)
    finally:
        stream.enable_acks = acks
        stream._processors.remove(gather)
