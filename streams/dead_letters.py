"""The dead-letter topic: refused events, unchanged, with why and where from in their headers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from typing import Any

import orjson
from faust.types import ChannelT, EventT

from flowsight.adapters.kafka.producer import (
    CORRELATION_HEADER,
    ERROR_TEXT_CHARS,
    correlation_id_from,
    error_headers,
    usable_correlation_id,
)
from flowsight.services.batch import event_type_label
from flowsight.services.quoting import quoted
from flowsight.services.validation import Rejected
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.worker")

#: Names the correlation id of a record that arrived without one, from where it was read, so a
#: record read twice (after a crash) keeps one id.
RECORD_NAMESPACE = uuid.UUID("5f0c5d2e-8a4b-4f43-9a39-3b1f4ad2a0c1")


#: A dead letter must fit under the producer's request limit (1,000,000 bytes) with its
#: headers, or its send fails and the validator retries it for ever, holding every later record
#: of the topic: a record's headers are copied up to HEADER_MAX_BYTES each and HEADERS_MAX_BYTES
#: in all (those left out counted in `error.headers_dropped`), a key over HEADER_MAX_BYTES
#: keeps its first HEADER_MAX_BYTES (`error.key_cut_from`), and a value over VALUE_MAX_BYTES
#: keeps its first VALUE_HEAD_BYTES (`error.value_cut_from`, its size); the ingest topic keeps
#: the record whole. So a dead letter is at most about 975,000 bytes.
HEADER_MAX_BYTES = 4096
HEADERS_MAX_BYTES = 64 * 1024
VALUE_MAX_BYTES = 900_000
VALUE_HEAD_BYTES = 64 * 1024


class DeadLetters:
    """Sends refused events to the dead-letter topic, counts them by reason, and logs each."""

    def __init__(self, topic: ChannelT[bytes], metrics: WorkerMetrics) -> None:
        self.topic = topic
        self.metrics = metrics

    async def send(
        self, event: EventT[bytes], rejected: Rejected, correlation_id: str | None = None
    ) -> Awaitable[Any]:
        """Dead-letter `event` as it was read, with the reason, field and message as headers.

        Returns the delivery, which the caller may await; the consumer does not commit the
        event's offset before the producer has sent what was queued before it.
        """
        message = event.message
        headers = bounded_headers(message_headers(message.headers))
        if correlation_id is None:
            correlation_id = correlation_id_of(event, headers)
        if not any(name == CORRELATION_HEADER for name, _ in headers):
            headers.append((CORRELATION_HEADER, correlation_id.encode()))
        headers += error_headers(
            rejected.reason,
            rejected.field,
            rejected.message,
            message.topic,
            str(message.partition),
            str(message.offset),
        )
        value, key = message.value or b"", message.key
        if len(value) > VALUE_MAX_BYTES:  # the whole record stays on its topic, for its retention
            headers.append(("error.value_cut_from", str(len(value)).encode()))
            value = value[:VALUE_HEAD_BYTES]
        if key is not None and len(key) > HEADER_MAX_BYTES:
            headers.append(("error.key_cut_from", str(len(key)).encode()))
            key = key[:HEADER_MAX_BYTES]
        delivery = await self.topic.send(key=key, value=value, headers=headers)
        self.metrics.dead_letters.labels(rejected.reason).inc()
        log.warning(
            "dead-lettered an event from %s offset %s: %s (%s)",
            message.topic,
            message.offset,
            rejected.reason,
            quoted(rejected.message, ERROR_TEXT_CHARS),
            extra={"correlation_id": correlation_id},
        )
        return delivery


def message_headers(headers: Any) -> list[tuple[str, bytes]]:
    """A record's headers as (name, bytes) pairs, whichever form the client gave them in."""
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(key), bytes(value or b"")) for key, value in items]


def bounded_headers(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """`headers` to copy onto a dead letter: each value up to HEADER_MAX_BYTES, and as many as
    fit in HEADERS_MAX_BYTES, in order; `error.headers_dropped` counts those left out."""
    kept: list[tuple[str, bytes]] = []
    room = HEADERS_MAX_BYTES
    for name, value in headers:
        name, value = name[:HEADER_MAX_BYTES], value[:HEADER_MAX_BYTES]
        size = len(name.encode()) + len(value)
        if size > room:
            break
        kept.append((name, value))
        room -= size
    if len(kept) < len(headers):
        kept.append(("error.headers_dropped", str(len(headers) - len(kept)).encode()))
    return kept


def correlation_id_of(event: EventT[bytes], headers: list[tuple[str, bytes]]) -> str:
    """The record's correlation id: its `correlation-id` header when usable, else one named
    after where the record was read (the same every time it is read)."""
    for name, value in headers:
        if name == CORRELATION_HEADER:
            correlation_id = usable_correlation_id(value)
            if correlation_id:
                return correlation_id
    message = event.message
    place = f"{message.topic}/{message.partition}/{message.offset}"
    return correlation_id_from(uuid.uuid5(RECORD_NAMESPACE, place))


def event_type_of(raw: bytes) -> str:
    """A bounded metrics label for a refused record: its declared type when readable and known."""
    try:
        document = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):  # not JSON, or no value at all
        return "unreadable"
    try:
        return event_type_label(document)
    except TypeError:  # an event_type that is an object or a list
        return "unknown"
