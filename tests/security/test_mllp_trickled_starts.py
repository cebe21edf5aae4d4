"""A connection that sends no whole message within the idle timeout is closed, however it keeps
sending: a start byte alone (0x0B), or a stray byte before one, breaks off whatever frame was
open and begins another, and is counted as a framing error, never as a message received."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowsight.adapters.hl7.limits import ConnectionLimits
from tests.adapters.hl7.listening import closed_by_peer, listening

IDLE_TIMEOUT = 0.5


@pytest.mark.parametrize("trickled", [b"\x0b", b"x\x0b"], ids=["start byte", "stray then start"])
async def test_start_bytes_trickled_never_keep_a_connection_open(
    tmp_path: Path, trickled: bytes
) -> None:
    limits = ConnectionLimits(idle_timeout=IDLE_TIMEOUT)
    async with listening(tmp_path, limits=limits) as (listener, publisher):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)

        async def trickle() -> None:
            while True:
                writer.write(trickled)
                await writer.drain()
                await asyncio.sleep(IDLE_TIMEOUT / 5)

        trickling = asyncio.create_task(trickle())
        try:
            closed = await closed_by_peer(reader, within=IDLE_TIMEOUT * 6)
        finally:
            trickling.cancel()
            await asyncio.gather(trickling, return_exceptions=True)
            writer.close()

    assert closed
    assert publisher.dead == []
