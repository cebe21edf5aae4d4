"""What every gateway shares: write an accepted event to its organisation's ingest topic, or a
refused one to the dead-letter topic, and return only once Kafka has acknowledged the write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from flowsight.settings import Settings

#: `error.offset` of a dead letter that never reached an ingest topic (refused at a gateway).
NOT_ON_A_TOPIC = "-1"


class GatewayPublisher:
    """One idempotent producer (acks=all) shared by a gateway process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=15000,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("GatewayPublisher.start() was not called")
        return self._producer

    async def publish(self, organisation: str, events: Sequence[dict[str, Any]]) -> None:
        """Write events to `organisation`'s ingest topic, keyed by episode; wait for every ack."""
        topic = self.settings.ingest_topic(organisation)
        pending = [
            await self.producer.send(
                topic,
                key=str(event.get("episode_id") or event.get("service") or "").encode(),
                value=orjson.dumps(event),
            )
            for event in events
        ]
        for delivery in pending:
            await delivery

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
        headers = [
            ("error.reason", reason.encode()),
            ("error.field", field.encode()),
            ("error.message", message.encode()),
            ("error.topic", self.settings.ingest_topic(organisation).encode()),
            ("error.partition", NOT_ON_A_TOPIC.encode()),
            ("error.offset", NOT_ON_A_TOPIC.encode()),
            ("error.gateway", gateway.encode()),
        ]
        await self.producer.send_and_wait(
            self.settings.dlq_topic, key=key, value=raw, headers=headers
        )
