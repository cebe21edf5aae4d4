"""A frame holding no message (nothing between its blocks, blank lines, text without an MSH
segment) is answered AR as any bytes without an MSH segment are, but keeps no connection open:
each moved the idle deadline on, so a sender writing one every few minutes held a place for
ever."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowsight.adapters.hl7.limits import ConnectionLimits
from tests.adapters.hl7.listening import END, START, closed, framed, listening, msa


@pytest.mark.parametrize(
    "nothing", [b"", b" \r\n", b"KEEPALIVE"], ids=["empty", "blank lines", "text alone"]
)
async def test_frames_holding_no_message_are_answered_and_closed_after_the_idle_timeout(
    tmp_path: Path, nothing: bytes
) -> None:
    async with listening(tmp_path, limits=ConnectionLimits(idle_timeout=1.0)) as (listener, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        answers = []
        try:
            async with asyncio.timeout(10):  # before, it was never closed
                while True:  # a frame every 0.25 s: never 1 s without one
                    writer.write(framed(nothing))
                    await writer.drain()
                    answer = await reader.readuntil(END)
                    answers.append(msa(answer.removeprefix(START).removesuffix(END)))
                    await asyncio.sleep(0.25)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # closed by the listener
        finally:
            writer.close()
        assert closed(listener, "idle") == 1
    assert answers and set(answers) == {("AR", "")}
