"""After the validator a patient is a pseudonym: no raw NHS number on the events topic, in
Faust's state, in the database, in the logs or in the metrics (SPEC section 9)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import select

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.tables import metadata
from tests.integration.feeds import event, pseudonym_of, publish, queue_entries
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

# Valid NHS numbers, one written with spaces as people type them.
PATIENTS = ["9434765919", "943 476 5870", "9434765838"]


def digits(number: str) -> str:
    return number.replace(" ", "")


async def everything_on(bootstrap: str, topics: list[str]) -> list[bytes]:
    """Keys, values and headers of every record on `topics`, read from the beginning."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seen: list[bytes] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=3000)
            if not batch:
                return seen
            for records in batch.values():
                for record in records:
                    seen += [record.key or b"", record.value or b""]
                    seen += [value or b"" for _name, value in record.headers]
    finally:
        await consumer.stop()


async def topics_of(bootstrap: str, prefixes: tuple[str, ...]) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return [t for t in await admin.list_topics() if t.startswith(prefixes)]
    finally:
        await admin.close()


async def database_text(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows: list[Any] = []
            for table in metadata.sorted_tables:
                rows += [tuple(row) for row in await connection.execute(select(table))]
    finally:
        await engine.dispose()
    return json.dumps(rows, default=str)


def test_no_raw_nhs_number_after_the_validator(stack: Stack) -> None:
    settings = stack.settings
    published = []
    for number, to_service in zip(
        PATIENTS, ["lcc-reablement", "lcc-home-care", "lch-community-beds"], strict=True
    ):
        published.append(
            event("referral", to_service=to_service, status="new", patient={"nhs_number": number})
        )
        published.append(
            event(
                "assessment",
                kind="ctr_review",
                status="completed",
                meets_criteria_to_reside=False,
                patient={"nhs_number": number},
            )
        )
    # One that is refused: the dead-letter topic keeps its original bytes, by design.
    published.append(event("discharge", patient={"nhs_number": digits(PATIENTS[0])}))
    asyncio.run(
        publish(
            settings.kafka_bootstrap,
            settings.ingest_topic("RR8"),
            *(json.dumps(e).encode() for e in published),
        )
    )
    last = pseudonym_of(digits(PATIENTS[-1]))
    stack.wait_until(
        lambda: [e for e in queue_entries(stack, "lch-community-beds") if e["pseudonym"] == last],
        timeout=90,
        what="every patient processed",
    )
    numbers = [digits(n).encode() for n in PATIENTS] + [n.encode() for n in PATIENTS]

    # Kafka after the validator: the events topic and every state changelog of this app.
    topics = asyncio.run(
        topics_of(settings.kafka_bootstrap, (settings.events_topic, settings.app_id))
    )
    assert settings.events_topic in topics and any("changelog" in t for t in topics)
    records = asyncio.run(everything_on(settings.kafka_bootstrap, topics))
    assert len(records) > 10
    assert not [r for r in records if any(n in r for n in numbers)]

    # The read model, every table; the logs of the worker and the API; both metrics pages.
    stored = asyncio.run(database_text(settings.resolved_database_url))
    assert pseudonym_of(digits(PATIENTS[0])) in stored, "the check reads the real rows"
    texts = {
        "database": stored,
        "worker log": stack.processes["worker"].output(),
        "api log": stack.processes["api"].output(),
        "worker metrics": httpx.get(stack.worker_metrics_url, timeout=5).text,
        "api metrics": stack.get("/metrics").text,
    }
    for where, text in texts.items():
        for number in PATIENTS:
            assert digits(number) not in text and number not in text, f"raw NHS number in {where}"
