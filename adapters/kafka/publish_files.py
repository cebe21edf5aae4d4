"""Publish events to ingest topics the way an integration team's code would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import track

from flowsight.adapters.kafka.admin import wait_for_broker
from flowsight.settings import Settings


def read_events(path: Path) -> list[Any]:
    """One event, a JSON array of events, or one event per line (JSON lines)."""
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        return []
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return document if isinstance(document, list) else [document]


def ingest_topic_for(settings: Settings, event: Any) -> str:
    """The ingest topic of the organisation named in the event's `source`."""
    source = event.get("source") if isinstance(event, dict) else None
    if not isinstance(source, str) or "/" not in source:
        raise ValueError(
            f"cannot tell the organisation of an event without a source: {event!r:.80}"
        )
    return settings.ingest_topic(source.split("/", 1)[0])


async def publish_events(
    settings: Settings, events: list[Any], *, console: Console | None = None
) -> int:
    """Send each event to its organisation's ingest topic, keyed by episode; wait for acks."""
    await wait_for_broker(settings.kafka_bootstrap, within=10)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        pending = []
        progress = track(
            events,
            description="publishing",
            console=console,
            disable=console is None or len(events) < 100,
        )
        for event in progress:
            key = str(event.get("episode_id") or event.get("service") or "").encode()
            pending.append(
                await producer.send(
                    ingest_topic_for(settings, event), key=key, value=orjson.dumps(event)
                )
            )
        for delivery in pending:
            await delivery
    finally:
        await producer.stop()
    return len(events)
