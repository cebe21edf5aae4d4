"""A frame holding no message (nothing between its blocks, blank lines, text without an MSH
segment) is answered AR as any bytes without an MSH segment are, but keeps no connection open:
each moved the idle deadline on, so a sender writing one every few minutes held a place for
ever. An empty frame is counted, and is neither dead-lettered nor logged on its own: each was a
dead letter and a log line, thousands for a few kilobytes sent."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from flowsight.adapters.hl7.limits import ConnectionLimits
from tests.adapters.hl7.listening import END, START, adt, closed, err, framed, listening, msa

EMPTY_FRAMES = 5_000


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


async def test_empty_frames_are_answered_and_counted_without_a_dead_letter_or_log_line_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flowsight.hl7")
    registry = CollectorRegistry()
    async with listening(tmp_path, registry) as (listener, publisher):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(framed(b"") * EMPTY_FRAMES + framed(adt("AFTER")))
        async with asyncio.timeout(60):
            answers = [await reader.readuntil(END) for _ in range(EMPTY_FRAMES + 1)]
        writer.close()
    *empty, after = [answer.removeprefix(START).removesuffix(END) for answer in answers]

    # Answered as before: AR, no control id to echo, the reason and its text.
    assert {msa(answer) for answer in empty} == {("AR", "")}
    assert (err(empty[0], 5), err(empty[0], 8)) == (
        "hl7_unparseable",
        "the message does not start with an MSH segment",
    )
    assert msa(after) == ("AA", "AFTER")
    counted = registry.get_sample_value("flowsight_hl7_framing_errors_total", {"kind": "empty"})
    assert counted == EMPTY_FRAMES
    assert publisher.dead == []
    lines = [r.getMessage() for r in caplog.records if r.name == "flowsight.hl7"]
    assert len(lines) <= 5, lines[:10]  # opened, the message published, closed
    assert f"{EMPTY_FRAMES} frame(s) holding no message" in lines[-1]
