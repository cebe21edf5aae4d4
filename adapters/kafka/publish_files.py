"""Publish events to ingest topics the way an integration team's code would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track

from flowsight.adapters.kafka.admin import wait_for_broker
from flowsight.adapters.kafka.producer import EventPublisher
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


async def publish_events(
    settings: Settings, events: list[Any], *, console: Console | None = None
) -> int:
    """Send each event to its organisation's ingest topic, keyed by episode; wait for acks."""
    await wait_for_broker(settings, within=settings.kafka_wait_seconds)
    progress = track(
        events,
        description="publishing",
        console=console,
        disable=console is None or len(events) < 100,
    )
    async with EventPublisher(settings) as publisher:
        return await publisher.publish_by_source(progress)
