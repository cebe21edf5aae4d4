"""Shared helpers of the integration tests: events as a source sends them, publishing them to
the real broker, reading topics back, and reading figures through the running API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from string import ascii_lowercase
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from flowsight.schemas.nhs_number import with_check_digit
from tests.integration.stack import TEST_PSEUDONYM_KEY, Stack

# Valid NHS numbers (Modulus 11): 943 476 5919 is the NHS's own published example.
NHS_NUMBER = "9434765919"


def pseudonym_of(nhs_number: str) -> str:
    """What the validator must turn this NHS number into, computed independently of its code."""
    return hmac.new(
        TEST_PSEUDONYM_KEY.encode(), f"nhs:{nhs_number}".encode(), hashlib.sha256
    ).hexdigest()


def nhs_numbers(count: int) -> list[str]:
    """`count` distinct valid NHS numbers."""
    numbers = (
        with_check_digit(f"{first_nine:09d}") for first_nine in range(400_000_001, 400_001_000)
    )
    return [n for n in numbers if n][:count]


def event(event_type: str, **fields: Any) -> dict[str, Any]:
    """An event of the hospital's PAS two hours ago, with `fields` set or overridden."""
    body = {
        # Letters only: twelve hex characters held ten digits in a row now and then, which a
        # refusal's message blanks as a possible NHS number, and a test looking for the id in it
        # failed (one run in a few dozen).
        "event_id": f"{event_type}-{''.join(secrets.choice(ascii_lowercase) for _ in range(12))}",
        "schema_version": "1",
        "event_type": event_type,
        "source": "RR8/pas",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "service": "lth-wards",
        "patient": {"nhs_number": NHS_NUMBER},
        "episode_id": "SPELL-0001",
    }
    body.update(fields)
    return body


def ucr_referrals(count: int, since: str) -> list[dict[str, Any]]:
    """`count` new two-hour urgent community response referrals, each waiting since `since`."""
    return [
        {
            "event_id": f"ucr-{n}",
            "schema_version": "1",
            "event_type": "referral",
            "source": "RY6/systmone",
            "occurred_at": since,
            "service": "lch-ucr",
            "patient": {"nhs_number": number},
            "episode_id": f"UCR-{n}",
            "to_service": "lch-ucr",
            "status": "new",
            "priority": "2-hour",
        }
        for n, number in enumerate(nhs_numbers(count))
    ]


async def publish(bootstrap: str, topic: str, *values: bytes) -> None:
    """Publish `values` to `topic` as a source would (acks=all, idempotent), one episode key."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, key=b"SPELL-0001", value=value)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, expected: int, within: float = 60) -> list[Any]:
    """Read `topic` from the start until `expected` records arrived (or fail after `within` s)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while len(records) < expected:
                batch = await consumer.getmany(timeout_ms=1000)
                for partition_records in batch.values():
                    records.extend(partition_records)
    except TimeoutError:
        raise AssertionError(f"only {len(records)} of {expected} records on {topic}") from None
    finally:
        await consumer.stop()
    return records


def queue_entries(stack: Stack, service: str) -> list[dict[str, Any]]:
    """The queue entries of `service`, read through the API."""
    response = stack.get(f"/v1/services/{service}/queue")
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def service_figures(stack: Stack, service_id: str) -> dict[str, Any]:
    """`GET /v1/services/{id}` through the API."""
    response = stack.get(f"/v1/services/{service_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def current(stack: Stack, service_id: str, name: str) -> Any:
    """One current figure of a service, read through the API."""
    return service_figures(stack, service_id)["current"][name]
