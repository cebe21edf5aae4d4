"""What an ACK sends back of a hostile message: a refusal's text quotes the value refused, and a
sender chooses its length; the ACK carries at most what HL7 gives its fields."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flowsight.adapters.hl7.ack import ERR_TEXT_CHARS
from tests.adapters.hl7.listening import END, START, err, framed, listening, msa


async def test_a_refusal_quoting_a_huge_field_is_a_short_ack(tmp_path: Path) -> None:
    message_type = "Z" * 200_000  # quoted by the refusal's text
    message = f"MSH|^~\\&|PAS|RR8|||20260101||{message_type}|C1|P|2.5\r".encode()
    async with listening(tmp_path) as (listener, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port, limit=2**22)
        writer.write(framed(message))
        reply = (await asyncio.wait_for(reader.readuntil(END), 10)).removeprefix(START)
        writer.close()

    assert msa(reply) == ("AR", "C1")
    assert "Z" * 20 in err(reply, 8)  # still says what was refused
    assert len(err(reply, 8)) <= ERR_TEXT_CHARS
    assert len(reply) < 1_000
