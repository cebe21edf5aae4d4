"""The one way flowsight writes to Kafka: events to their organisation's ingest topic, refused
messages to the dead-letter topic, and dead letters back again, each call returning only once
Kafka has acknowledged the write.

The gateways, `flowsight publish`, the simulator and `flowsight dlq replay` all write through
`EventPublisher`, so they share one producer configuration and one partition-key rule. Each event
record carries a `correlation-id` header: the one the current task was given with `correlate`
(a gateway request's `X-Correlation-ID`), else a new one per record.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from functools import lru_cache
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2

from flowsight.adapters.kafka.security import client_options
from flowsight.schemas.events import organisation_of
from flowsight.services.gateways import GATEWAY_HEADER, seal
from flowsight.services.pseudonym import without_nhs_numbers
from flowsight.settings import Settings

log = logging.getLogger("flowsight.kafka")

#: `error.offset` of a dead letter that never reached an ingest topic (refused at a gateway).
NOT_ON_A_TOPIC = "-1"
#: How long the producer waits for the broker to answer a request before the send fails.
REQUEST_TIMEOUT_MS = 15_000
#: Longest a stopping producer waits for the broker to take what is queued.
STOP_SECONDS = 5.0

Headers = Sequence[tuple[str, bytes]]
#: One record of a batch: its key, value and headers.
Record = tuple[bytes, bytes, Headers]
#: A batch handed to the producer: the future Kafka's acknowledgement sets, and its records.
Handed = tuple["asyncio.Future[Any]", list[Record]]
#: Kafka's own limit of a produce request is 1 MiB: a batch of records stays well below it.
BATCH_BYTES = 512 * 1024

#: The Kafka header that carries an event's correlation id, from its ingest record to its record
#: on the events topic and to its dead letter (docs/operations.md).
CORRELATION_HEADER = "correlation-id"
#: The HTTP headers a publisher may name its correlation id in, the first one present winning.
HTTP_CORRELATION_HEADERS = ("x-correlation-id", "x-request-id")
#: What a caller's correlation id may look like: printable ASCII, no spaces, bounded; anything
#: else is replaced by a new id rather than copied into every log line and header.
CORRELATION_SHAPE = re.compile(r"[\x21-\x7e]{1,128}")
_correlation: ContextVar[str | None] = ContextVar("flowsight_correlation_id", default=None)


#: The most of a refusal's field and message a dead letter's headers carry.
ERROR_TEXT_CHARS = 1000


def error_headers(
    reason: str, field: str, message: str, topic: str, partition: str, offset: str
) -> list[tuple[str, bytes]]:
    """A dead letter's `error.*` headers: why it was refused, and where it was read.

    The message is for a person and may quote what was refused: NHS-number-shaped runs in it
    are blanked, as in the logs (the record's value keeps the bytes as received), and it is cut
    at ERROR_TEXT_CHARS, as the field is: a refusal quoting a 600 kB value made a dead letter
    over the producer's limit, and the validator retried it for ever."""
    return [
        ("error.reason", reason.encode()),
        ("error.field", field[:ERROR_TEXT_CHARS].encode()),
        ("error.message", without_nhs_numbers(message[:ERROR_TEXT_CHARS]).encode()),
        ("error.topic", topic.encode()),
        ("error.partition", partition.encode()),
        ("error.offset", offset.encode()),
    ]


def new_correlation_id() -> str:
    """A fresh correlation id."""
    return correlation_id_from(uuid.uuid4())


def correlation_id_from(value: uuid.UUID) -> str:
    """`value` written as a correlation id: hex in groups of eight, which can never hold the
    ten digits in a row that log redaction blanks as a possible NHS number (a UUID's last
    group of twelve can)."""
    text = value.hex
    return "-".join(text[start : start + 8] for start in range(0, 32, 8))


def usable_correlation_id(candidate: str | bytes | None) -> str | None:
    """`candidate` when it is fit to be carried as a correlation id, else None: printable,
    bounded, and holding nothing shaped like an NHS number (it travels onto the events topic and
    its dead letters, past the validator, where no NHS number may go)."""
    if isinstance(candidate, bytes):
        candidate = candidate.decode("ascii", errors="replace")
    if not candidate or not CORRELATION_SHAPE.fullmatch(candidate):
        return None
    return candidate if without_nhs_numbers(candidate) == candidate else None


def correlate(candidate: str | bytes | None = None) -> str:
    """Make `candidate` (or, when unusable or missing, a new id) the correlation id of what the
    current task publishes next through `EventPublisher`; returns the id."""
    correlation_id = usable_correlation_id(candidate) or new_correlation_id()
    _correlation.set(correlation_id)
    return correlation_id


def correlate_request(headers: Mapping[str, str]) -> str:
    """`correlate` with the id a caller sent in `X-Correlation-ID` or `X-Request-ID`."""
    for name in HTTP_CORRELATION_HEADERS:
        correlation_id = usable_correlation_id(headers.get(name))
        if correlation_id:
            return correlate(correlation_id)
    return correlate()


def _correlation_headers() -> list[tuple[str, bytes]]:
    """The header of the current task's correlation id; a new id per record when none is set."""
    return [(CORRELATION_HEADER, (_correlation.get() or new_correlation_id()).encode())]


def producer_config(settings: Settings) -> dict[str, Any]:
    """Every flowsight producer's options: no write is lost or doubled (acks=all, idempotence),
    over the connection (TLS, SASL) every client shares."""
    return {
        **client_options(settings),
        "acks": "all",
        "enable_idempotence": True,
        "request_timeout_ms": REQUEST_TIMEOUT_MS,
    }


def event_key(event: Mapping[str, Any]) -> bytes:
    """The partition key: the episode, so one patient's episode stays in order; else the service."""
    return str(event.get("episode_id") or event.get("service") or "").encode()


def source_organisation(event: object) -> str:
    """The organisation named by an event's `source`; ValueError if it names none."""
    source = event.get("source") if isinstance(event, Mapping) else None
    if not isinstance(source, str) or "/" not in source:
        raise ValueError(
            f"cannot tell the organisation of an event without a source: {event!r:.80}"
        )
    return organisation_of(source)


class EventPublisher:
    """One idempotent producer (acks=all) shared by everything in a process that writes events."""

    def __init__(self, settings: Settings, *, batch_bytes: int | None = None) -> None:
        """`batch_bytes`: the size of the producer's batches (aiokafka's 16 KiB by default);
        `send_batch` fills one batch a partition up to it."""
        self.settings = settings
        self.batch_bytes = batch_bytes
        self._producer: AIOKafkaProducer | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect to the brokers (raises if none answers)."""
        options = producer_config(self.settings)
        if self.batch_bytes:
            options["max_batch_size"] = self.batch_bytes
        producer = AIOKafkaProducer(**options)
        try:
            await producer.start()
        except BaseException:
            # A producer that could not start still holds a client and its connections.
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        """Send what is queued and disconnect; safe to call when not started.

        Waits at most `STOP_SECONDS`: aiokafka retries a queued record for as long as the
        broker is away, and its stop waited for them, so an API or listener asked to stop in
        an outage never did (until SIGKILL). No such record was acknowledged to anyone: its
        sender got a 503 or no ACK, and sends it again."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), STOP_SECONDS)
        except TimeoutError:
            # Its sending task is left to the end of the event loop, which cancels it.
            log.warning(
                "Kafka took no queued record for %.0f s; the producer stops without them "
                "(their senders were not told they were stored)",
                STOP_SECONDS,
            )

    async def renew(self) -> None:
        """Replace the producer with a new one (a new producer id), dropping the old one.

        An idempotent producer numbers its batches per partition. One whose batch failed (a
        broker that went away, a timeout) keeps that numbering, and Kafka refuses every later
        batch from it as `OutOfOrderSequenceNumber`: records sent again must go through a new
        producer. Raises like `start` when no broker answers; the old one is dropped anyway.
        """
        old, self._producer = self._producer, None
        if old is not None:
            try:
                await old.stop()
            except Exception as error:  # its failures are already the caller's to handle
                log.warning("the old producer did not stop cleanly: %r", error)
        await self.start()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        """The started aiokafka producer."""
        if self._producer is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not called")
        return self._producer

    async def publish(
        self,
        organisation: str,
        events: Sequence[Mapping[str, Any]],
        *,
        sealed_by: str | None = None,
    ) -> None:
        """Write events to `organisation`'s ingest topic, keyed by episode; wait for every ack.

        `sealed_by`: the gateway writing them, which seals each record (`services/gateways.py`).
        """
        topic = self.settings.ingest_topic(organisation)
        await _acknowledged([await self._send(topic, event, sealed_by) for event in events])

    async def publish_by_source(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Write each event to the ingest topic of the organisation its `source` names.

        Waits for every ack; returns how many events were written. ValueError at the first event
        without a source (the ones before it are still written when the publisher stops).
        """
        pending = [
            await self._send(self.settings.ingest_topic(source_organisation(event)), event)
            for event in events
        ]
        await _acknowledged(pending)
        return len(pending)

    async def write(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        """Write one record to `topic` exactly as given; wait for the ack."""
        await self.producer.send_and_wait(
            topic, key=key, value=value, headers=list(headers) or None
        )

    async def send_batch(self, topic: str, records: Sequence[Record]) -> list[Handed]:
        """Hand `records` to the producer, in order, each to the partition of its key (the
        partitioner `send` uses), one batch a partition (more when one fills).

        Returns each batch's delivery, not awaited, with its records: a caller waits for all
        of them once, and sends again only the records of a batch Kafka did not acknowledge.
        """
        producer = self.producer
        partitions = sorted(await producer.partitions_for(topic))
        count = len(partitions)
        by_partition: dict[int, list[Record]] = {}
        for record in records:
            partition = partitions[_key_hash(record[0]) % count]
            by_partition.setdefault(partition, []).append(record)
        handed: list[Handed] = []
        for partition, chunk in by_partition.items():
            builder, held = producer.create_batch(), list[Record]()
            for record in chunk:
                key, value, headers = record
                # A batch takes its first record whatever its size; a full one takes none.
                if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
                    handed.append(
                        (await producer.send_batch(builder, topic, partition=partition), held)
                    )
                    builder, held = producer.create_batch(), list[Record]()
                    builder.append(timestamp=None, key=key, value=value, headers=headers)
                held.append(record)
            builder.close()  # sent at once, not held back for the linger
            handed.append((await producer.send_batch(builder, topic, partition=partition), held))
        return handed

    async def dead_letter(
        self,
        raw: bytes,
        *,
        organisation: str,
        gateway: str,
        reason: str,
        field: str,
        message: str,
        key: bytes | None = None,
    ) -> None:
        """Write a refused message, exactly as received, to the dead-letter topic; wait for the ack."""
        topic = self.settings.ingest_topic(organisation)
        headers = [
            *error_headers(reason, field, message, topic, NOT_ON_A_TOPIC, NOT_ON_A_TOPIC),
            ("error.gateway", gateway.encode()),
            *_correlation_headers(),
        ]
        await self.write(self.settings.dlq_topic, raw, key=key, headers=headers)

    async def _send(
        self, topic: str, event: Mapping[str, Any], sealed_by: str | None = None
    ) -> asyncio.Future[Any]:
        value, headers = orjson.dumps(event), _correlation_headers()
        if sealed_by is not None:
            headers.append((GATEWAY_HEADER, seal(sealed_by, value, self.settings.pseudonym_secret)))
        delivery: asyncio.Future[Any] = await self.producer.send(
            topic, key=event_key(event), value=value, headers=headers
        )
        return delivery


@lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    """The hash aiokafka's default partitioner takes a key's partition from (murmur2, as the
    Java client), remembered: it is pure Python, and a patient's events share their key."""
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partitioner(
    key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
) -> int:
    """Kafka's default partitioner (aiokafka's and the Java client's: murmur2 of the key bytes,
    a random available partition without a key), with the key's hash remembered: the worker's
    tables partition each write twice, ~25 µs each in pure Python (docs/benchmarks.md)."""
    if key is None:
        return int(_ANY_PARTITION(key, list(all_partitions), list(available)))
    return all_partitions[_key_hash(key) % len(all_partitions)]


_ANY_PARTITION = DefaultPartitioner()


async def _acknowledged(pending: Sequence[asyncio.Future[Any]]) -> None:
    """Wait for every delivery; raise the first one's error. Each outcome is taken, so a
    refused batch (a broker outage refuses every record) leaves no error for asyncio to log
    as never retrieved."""
    for outcome in await asyncio.gather(*pending, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


#: The gateways' name for the publisher (the HL7 listener and its tests still use it).
GatewayPublisher = EventPublisher
