"""A refused HL7 message is dead-lettered keyed by its control id (MSH-10), which its sender
writes: the key is cut to HL7's longest control id (199 characters, v2.7 on), so that a 512 KiB
message whose MSH-10 is most of it is not a record twice its size, over Kafka's 1 MB limit,
answered AR as if Kafka were down (and logged as such) on every resend, and never dead-lettered."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flowsight.adapters.hl7.handler import DEAD_LETTER_KEY_CHARS
from tests.adapters.hl7.listening import END, START, framed, listening, msa

CONTROL = "C" * 500_000


async def test_a_refused_message_s_dead_letter_key_is_bounded(tmp_path: Path) -> None:
    message = f"MSH|^~\\&|PAS|RR8|||20260101||ADT^A01|{CONTROL}|T|2.5\r".encode()
    async with listening(tmp_path) as (listener, publisher):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port, limit=2**21)
        writer.write(framed(message))
        reply = (await asyncio.wait_for(reader.readuntil(END), 10)).removeprefix(START)
        writer.close()

    assert msa(reply)[0] == "AR"  # processing id T
    [(raw, headers)] = publisher.dead
    assert raw == message
    assert headers["key"] == CONTROL[:DEAD_LETTER_KEY_CHARS].encode()
