"""A source that publishes in Kafka transactions (Kafka Connect and Debezium with exactly-once
source support, Kafka Streams, a Java client with a `transactional.id`) may abort one: what it
sent in it never happened. The worker reads committed records only, on real parts; it read the
aborted ones too (faust's consumer reads uncommitted unless the app itself is transactional),
and a rolled-back referral stood in the queue."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.feeds import event, nhs_numbers, pseudonym_of, queue_entries
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


async def publish_in_transactions(bootstrap: str, topic: str, aborted: bytes, kept: bytes) -> None:
    """`aborted` in a transaction the source aborts, then `kept` in one it commits, both on
    one partition (so the worker reads the first before the second)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="rr8-pas-connector")
    await producer.start()
    try:
        await producer.begin_transaction()
        await producer.send_and_wait(topic, key=b"SPELL-tx", value=aborted, partition=0)
        await producer.abort_transaction()  # the source's own failure: rolled back
        async with producer.transaction():
            await producer.send_and_wait(topic, key=b"SPELL-tx", value=kept, partition=0)
    finally:
        await producer.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the consumer's concern
def test_an_event_in_an_aborted_transaction_is_never_applied(stack: Stack) -> None:
    settings = stack.settings
    rolled_back, committed = nhs_numbers(2)
    aborted, kept = (
        event(
            "referral",
            to_service="lcc-reablement",
            status="new",
            patient={"nhs_number": number},
            episode_id=f"SPELL-{n}",
        )
        for n, number in enumerate((rolled_back, committed))
    )
    asyncio.run(
        publish_in_transactions(
            settings.kafka_bootstrap,
            settings.ingest_topic("RR8"),
            json.dumps(aborted).encode(),
            json.dumps(kept).encode(),
        )
    )

    def waiting() -> set[str]:
        return {entry["pseudonym"] for entry in queue_entries(stack, "lcc-reablement")}

    stack.wait_until(
        lambda: pseudonym_of(committed) in waiting(),
        timeout=90,
        what="the committed referral in the reablement queue",
    )
    assert pseudonym_of(rolled_back) not in waiting(), "a referral the source rolled back is queued"
