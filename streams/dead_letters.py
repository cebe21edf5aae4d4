"""The dead-letter topic: refused events, unchanged, with why and where from in their headers."""

from __future__ import annotations

from typing import Any

import orjson
from faust.types import ChannelT, EventT

from flowsight.services.batch import event_type_label
from flowsight.services.validation import Rejected
from flowsight.streams.metrics import WorkerMetrics


class DeadLetters:
    """Sends refused events to the dead-letter topic and counts them by reason."""

    def __init__(self, topic: ChannelT[bytes], metrics: WorkerMetrics) -> None:
        self.topic = topic
        self.metrics = metrics

    async def send(self, event: EventT[bytes], rejected: Rejected) -> None:
        """Dead-letter `event` as it was read, with the reason, field and message as headers."""
        message = event.message
        headers = message_headers(message.headers)
        headers += [
            ("error.reason", rejected.reason.encode()),
            ("error.field", rejected.field.encode()),
            ("error.message", rejected.message.encode()),
            ("error.topic", message.topic.encode()),
            ("error.partition", str(message.partition).encode()),
            ("error.offset", str(message.offset).encode()),
        ]
        await self.topic.send(key=message.key, value=message.value, headers=headers)
        self.metrics.dead_letters.labels(rejected.reason).inc()


def message_headers(headers: Any) -> list[tuple[str, bytes]]:
    """A record's headers as (name, bytes) pairs, whichever form the client gave them in."""
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(key), bytes(value or b"")) for key, value in items]


def event_type_of(raw: bytes) -> str:
    """A bounded metrics label for a refused record: its declared type when readable and known."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "unreadable"
    return event_type_label(document)
