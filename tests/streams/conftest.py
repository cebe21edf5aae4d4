"""Faust apps for agent tests: in memory, no broker, a fresh app id per test."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import faust
import pytest
from faust.types import TP

from flowsight.adapters.catalogue import load_catalogue
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
