"""A connection the MLLP listener closes for idling (a slowloris trickling a frame it never ends,
or a client sending bytes outside any frame) still has what it sent counted as framing errors:
those are the bytes an operator looks for when a sender's messages go missing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.limits import ConnectionLimits
from flowsight.adapters.hl7.listener import MllpListener
from flowsight.adapters.kafka.producer import GatewayPublisher
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE, Settings


@pytest.mark.parametrize(
    ("sent", "kind"),
    [(b"\x0bMSH|^~\\&|PAS|RR8|never ended", "incomplete"), (b"GET / HTTP/1.1\r\n\r\n", "garbage")],
)
async def test_what_a_connection_closed_for_idling_sent_is_counted(sent: bytes, kind: str) -> None:
    settings = Settings(_env_file=None, environment="local", kafka_bootstrap="127.0.0.1:1")  # type: ignore[call-arg]
    context = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
    registry = CollectorRegistry()
    listener = MllpListener(
        settings,
        GatewayPublisher(settings),  # never started: nothing here is a message
        context,
        "RR8",
        "127.0.0.1",
        0,
        registry=registry,
        limits=ConnectionLimits(idle_timeout=0.3),
    )
    await listener.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(sent)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b"", "closed for idling"
        writer.close()
        await asyncio.sleep(0.05)
    finally:
        await listener.stop()

    closed = registry.get_sample_value("flowsight_hl7_connections_closed_total", {"why": "idle"})
    errors = registry.get_sample_value("flowsight_hl7_framing_errors_total", {"kind": kind})
    assert (closed, errors) == (1.0, 1.0)
