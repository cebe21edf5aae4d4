"""Bytes that are no message are counted and logged, but a sender does not choose how many log
lines they make: 64 KiB of start bytes alone (0x0B) is 65,535 frames broken off as they begun,
and each was a line of the listener's log (4 MB of them), for bytes that cost nothing to send."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.adapters.hl7.listening import closed_by_peer, listening

SENT = 65_536


@pytest.mark.parametrize(
    ("sent", "kind", "pieces"),
    [
        (b"\x0b" * SENT, "incomplete", SENT - 1),
        (b"\x0bx" * (SENT // 2), "incomplete", SENT // 2 - 1),
    ],
    ids=["start bytes alone", "a byte in each frame"],
)
async def test_bytes_that_are_no_message_make_a_few_log_lines_however_many_pieces(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sent: bytes, kind: str, pieces: int
) -> None:
    caplog.set_level(logging.WARNING, logger="flowsight.hl7")
    registry = CollectorRegistry()
    async with listening(tmp_path, registry) as (listener, publisher):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(sent)
        await writer.drain()
        writer.write_eof()
        assert await closed_by_peer(reader, within=10)
        writer.close()

    lines = [r for r in caplog.records if r.name == "flowsight.hl7" and kind in r.getMessage()]
    assert 1 <= len(lines) <= 20
    counted = registry.get_sample_value("flowsight_hl7_framing_errors_total", {"kind": kind})
    assert counted is not None and counted >= pieces  # the metric still counts every piece
    assert publisher.dead == []
