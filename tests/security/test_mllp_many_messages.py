"""A frame is bounded in bytes, not in messages: 512 KiB of ten-byte messages is some 50,000 of
them, each refused and acknowledged on its own. Their ACKs (some 12 MB) are sent as each message
is handled, not gathered until the frame's last one: the listener holds one at a time, and a
sender that does not read them waits for its own (then is closed as a slow reader)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.adapters.hl7.listening import END, START, framed, listening, msa

MESSAGES = 5_000


async def test_a_frame_of_many_messages_is_acknowledged_as_each_is_handled(
    tmp_path: Path,
) -> None:
    frame = framed(b"MSH|^~\\&|\r" * MESSAGES)
    async with listening(tmp_path) as (listener, publisher):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(frame)
        first = (await asyncio.wait_for(reader.readuntil(END), 30)).removeprefix(START)
        handled_by_then = len(publisher.dead)
        acks = 1
        while acks < MESSAGES:
            await asyncio.wait_for(reader.readuntil(END), 30)
            acks += 1
        writer.close()

    assert msa(first)[0] == "AR"
    assert handled_by_then < MESSAGES / 2  # the first ACK did not wait for the last message
    assert len(publisher.dead) == MESSAGES  # and every message was still handled and answered
