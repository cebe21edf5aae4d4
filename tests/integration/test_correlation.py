"""A correlation id follows an event from the publisher's request to the events topic and into
the worker's log line for it (real `flowsight api` and `flowsight worker`, test broker)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from flowsight.adapters.kafka.producer import CORRELATION_HEADER
from flowsight.api.auth import new_api_key
from tests.integration.stack import Stack, running_stack, stack_env

pytestmark = pytest.mark.integration

RR8_KEY, RR8_ENTRY = new_api_key("rr8-pas", ["publisher:RR8"])


def admission(event_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "schema_version": "1",
        "event_type": "admission",
        "source": "RR8/pas",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "service": "lth-wards",
        "patient": {"local_id": f"P-{event_id}", "id_system": "https://rr8.example/pas"},
        "episode_id": f"SPELL-{event_id}",
        "admission_method": "emergency",
    }


def record_of(stack: Stack, event_id: str) -> ConsumerRecord[bytes, bytes]:
    """The events topic's record of `event_id` (or fail after 60 s)."""

    async def read() -> ConsumerRecord[bytes, bytes]:
        consumer = AIOKafkaConsumer(
            stack.settings.events_topic,
            bootstrap_servers=stack.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        try:
            async with asyncio.timeout(60):
                while True:
                    for batch in (await consumer.getmany(timeout_ms=500)).values():
                        for record in batch:
                            if json.loads(record.value)["event_id"] == event_id:
                                return record
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_the_publisher_s_correlation_id_reaches_the_events_topic_and_the_worker_log(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
    # The validator logs each event it passes at DEBUG (a warning only for a refused one).
    env = stack_env(
        kafka_bootstrap, database_url, tmp_path, api_keys=[RR8_ENTRY], FLOWSIGHT_LOG_LEVEL="DEBUG"
    )
    # Hex in groups of eight, like the ids flowsight makes: sixteen hex digits in one run hold
    # ten decimal digits in a row about once in a hundred, which the log redaction blanks as
    # NHS-number-shaped, and the line would never be found.
    correlation_id = f"it-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}"
    event_id = f"adm-{uuid.uuid4().hex[:12]}"
    with running_stack(env, tmp_path) as stack:
        worker = stack.start_worker()
        stack.start_api()

        response = httpx.post(
            f"{stack.api_url}/v1/events",
            json=admission(event_id),
            headers={"Authorization": f"Bearer {RR8_KEY}", "X-Correlation-ID": correlation_id},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        assert "server" not in response.headers  # no banner naming the HTTP server
        record = record_of(stack, event_id)
        line = stack.wait_until(
            lambda: next(
                (
                    line
                    for line in worker.output().splitlines()
                    if f"correlation_id={correlation_id}" in line
                ),
                None,
            ),
            60,
            "the worker's log line for the event",
        )

    assert dict(record.headers)[CORRELATION_HEADER] == correlation_id.encode()
    assert "validated admission" in line
