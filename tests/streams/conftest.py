"""Faust apps for agent tests: in memory, no broker, a fresh app id per test."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

import faust
import pytest
from faust.types import TP, ChannelT

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.kafka.producer import Record
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE, Settings

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
PSEUDONYM_KEY = b"agent-test-pseudonym-key-0123456789"


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None, sink_batch_size=100, sink_batch_seconds=0.05)


@pytest.fixture
def context() -> ValidationContext:
    return ValidationContext(CATALOGUE, PSEUDONYM_KEY, timedelta(minutes=5))


@pytest.fixture
def app() -> faust.App:
    app = faust.App(
        f"flowsight-test-{uuid.uuid4().hex}",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
    )
    # Tables keyed with the events topic's partitioner ask the producer for the partition; with
    # no broker there is one partition.
    app.producer.key_partition = lambda topic, key: TP(topic, 0)  # type: ignore[method-assign]
    return app


def raw_topic(app: faust.App, name: str) -> Any:
    return app.topic(name, key_serializer="raw", value_serializer="raw")


class ChannelOutlet:
    """The validator's outlet onto an in-memory channel, one record at a time."""

    def __init__(self, channel: ChannelT[bytes]) -> None:
        self.channel = channel

    async def send(self, records: Sequence[Record]) -> list[Any]:
        return [(await self._send(record), partial(self._send, record)) for record in records]

    async def _send(self, record: Record) -> Awaitable[Any]:
        key, value, headers = record
        return await self.channel.send(key=key, value=value, headers=list(headers))

    async def stop(self) -> None:
        """Nothing to stop."""
